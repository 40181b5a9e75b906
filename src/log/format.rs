//! The byte layout of a log file (format v1; `docs/FORMAT.md` is the prose version).
//!
//! A file is a sequence of frames, each either a zstd skippable frame (magic `0x184D2A5?`,
//! u32 LE size, content) or a zstd data frame:
//!
//! ```text
//! file header (skippable 0x184D2A50)
//! { block header (skippable 0x184D2A51), zstd frame of records }*
//! index (skippable 0x184D2A52), trailer (skippable 0x184D2A53)   -- on clean close only
//! ```
//!
//! Every skippable frame of ours ends with a CRC-32C of its content; every record inside a
//! zstd frame is `[len u32][crc32c u32][msgpack payload]`, so corruption is caught per record.

use super::record::Control;

pub const FORMAT_MAJOR: u16 = 1;
pub const FORMAT_MINOR: u16 = 0;
/// Minor version of a file holding compact blocks (written by `compact`): 1.0 readers stop at
/// its first compact block, readers of 1.1 and later read both kinds.
pub const FORMAT_MINOR_COMPACT: u16 = 1;

pub const MAGIC_FILE_HEADER: u32 = 0x184D_2A50;
pub const MAGIC_BLOCK_HEADER: u32 = 0x184D_2A51;
pub const MAGIC_INDEX: u32 = 0x184D_2A52;
pub const MAGIC_TRAILER: u32 = 0x184D_2A53;
/// Header of a compact block: one CRC-32C over the whole decompressed block instead of one per
/// record (format 1.1).
pub const MAGIC_COMPACT_BLOCK: u32 = 0x184D_2A54;
pub const ZSTD_MAGIC: u32 = 0xFD2F_B528;

pub const TAG_FILE: &[u8; 4] = b"PTLG";
pub const TAG_BLOCK: &[u8; 4] = b"PTBK";
pub const TAG_INDEX: &[u8; 4] = b"PTIX";
pub const TAG_TRAILER: &[u8; 4] = b"PTTR";
pub const TAG_COMPACT_BLOCK: &[u8; 4] = b"PTBC";
pub const END_MAGIC: &[u8; 8] = b"PTLGEND1";

/// Largest file-header content accepted (the header holds configurations as TOML text).
pub const MAX_HEADER_CONTENT: u32 = 4 << 20;
/// Largest index content accepted: 40 bytes per block.
pub const MAX_INDEX_CONTENT: u32 = 64 << 20;
/// Largest record payload accepted before allocating (a raw feed message is far smaller).
pub const MAX_PAYLOAD: u32 = 64 << 20;
/// zstd window the decoder accepts: bounds its memory on hostile input.
pub const DECODER_WINDOW_LOG_MAX: u32 = 24;

pub const BLOCK_HEADER_CONTENT: usize = 4 + 4 + 8 + 8 + 4;
pub const COMPACT_BLOCK_HEADER_CONTENT: usize = 4 + 4 + 8 + 8 + 4 + 4 + 4 + 4;
/// Largest decompressed compact block accepted: a reader holds one whole block to check its
/// CRC before it returns any record of it.
pub const MAX_COMPACT_BLOCK: u32 = 16 << 20;
pub const INDEX_ENTRY: usize = 40;
pub const TRAILER_CONTENT: usize = 4 + 8 * 5 + 4 + 8;
pub const TRAILER_FRAME: usize = 8 + TRAILER_CONTENT;

/// Stream id of control records: message streams are numbered from 1.
pub const CONTROL_STREAM: u16 = 0;
pub const CONTROL_STREAM_NAME: &str = "control";

pub const KIND_MESSAGE: u64 = 0;
pub const KIND_CONTROL: u64 = 1;
pub const KIND_STREAM_DEF: u64 = 2;

pub fn crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Wraps `content` into a skippable frame, appending the CRC-32C of the content.
pub fn skippable(magic: u32, content: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&((content.len() + 4) as u32).to_le_bytes());
    out.extend_from_slice(content);
    out.extend_from_slice(&crc(content).to_le_bytes());
}

/// Splits a skippable frame's content into its body and checks the trailing CRC.
pub fn check_crc(content: &[u8]) -> Option<&[u8]> {
    if content.len() < 4 {
        return None;
    }
    let (body, c) = content.split_at(content.len() - 4);
    (crc(body) == u32::from_le_bytes([c[0], c[1], c[2], c[3]])).then_some(body)
}

pub fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The fixed part of a file header.
#[derive(Clone, Debug, PartialEq)]
pub struct FileHeader {
    pub major: u16,
    pub minor: u16,
    pub file_index: u32,
    pub first_seq: u64,
    /// rmp-serde map encoding of [`super::Header`] (a map, so later fields are ignorable).
    pub header_msgpack: Vec<u8>,
}

pub fn encode_file_header(h: &FileHeader, out: &mut Vec<u8>) {
    let mut c = Vec::with_capacity(24 + h.header_msgpack.len());
    c.extend_from_slice(TAG_FILE);
    c.extend_from_slice(&h.major.to_le_bytes());
    c.extend_from_slice(&h.minor.to_le_bytes());
    c.extend_from_slice(&h.file_index.to_le_bytes());
    c.extend_from_slice(&h.first_seq.to_le_bytes());
    c.extend_from_slice(&(h.header_msgpack.len() as u32).to_le_bytes());
    c.extend_from_slice(&h.header_msgpack);
    skippable(MAGIC_FILE_HEADER, &c, out);
}

pub enum FileHeaderError {
    NotARecording,
    Version(u16, u16),
    Corrupt(&'static str),
}

/// Parses a file header's content (after the 8-byte frame prefix). The version is checked
/// before the CRC: a newer major version may lay out the rest differently.
pub fn decode_file_header(content: &[u8]) -> Result<FileHeader, FileHeaderError> {
    if content.len() < 8 || &content[0..4] != TAG_FILE {
        return Err(FileHeaderError::NotARecording);
    }
    let (major, minor) = (le_u16(content, 4), le_u16(content, 6));
    if major != FORMAT_MAJOR {
        return Err(FileHeaderError::Version(major, minor));
    }
    let body = check_crc(content).ok_or(FileHeaderError::Corrupt("file header checksum mismatch"))?;
    if body.len() < 24 {
        return Err(FileHeaderError::Corrupt("file header too short"));
    }
    let n = le_u32(body, 20) as usize;
    if body.len() < 24 + n {
        return Err(FileHeaderError::Corrupt("file header length field out of range"));
    }
    Ok(FileHeader {
        major,
        minor,
        file_index: le_u32(body, 8),
        first_seq: le_u64(body, 12),
        header_msgpack: body[24..24 + n].to_vec(),
    })
}

/// Written before each zstd frame of records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    pub block_index: u32,
    pub first_seq: u64,
    pub first_ns: u64,
}

pub fn encode_block_header(b: &BlockHeader, out: &mut Vec<u8>) {
    let mut c = [0u8; BLOCK_HEADER_CONTENT - 4];
    c[0..4].copy_from_slice(TAG_BLOCK);
    c[4..8].copy_from_slice(&b.block_index.to_le_bytes());
    c[8..16].copy_from_slice(&b.first_seq.to_le_bytes());
    c[16..24].copy_from_slice(&b.first_ns.to_le_bytes());
    skippable(MAGIC_BLOCK_HEADER, &c, out);
}

pub fn decode_block_header(content: &[u8]) -> Option<BlockHeader> {
    if content.len() != BLOCK_HEADER_CONTENT {
        return None;
    }
    let body = check_crc(content)?;
    if &body[0..4] != TAG_BLOCK {
        return None;
    }
    Some(BlockHeader { block_index: le_u32(body, 4), first_seq: le_u64(body, 8), first_ns: le_u64(body, 16) })
}

/// Written before each zstd frame of a compact block (format 1.1): records inside are
/// `len u32 | payload`; the zstd frame that follows is `frame_len` bytes and decompresses to
/// `raw_len` bytes whose CRC-32C is `data_crc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactBlockHeader {
    pub block: BlockHeader,
    pub raw_len: u32,
    pub frame_len: u32,
    pub data_crc: u32,
}

pub fn encode_compact_block_header(b: &CompactBlockHeader, out: &mut Vec<u8>) {
    let mut c = [0u8; COMPACT_BLOCK_HEADER_CONTENT - 4];
    c[0..4].copy_from_slice(TAG_COMPACT_BLOCK);
    c[4..8].copy_from_slice(&b.block.block_index.to_le_bytes());
    c[8..16].copy_from_slice(&b.block.first_seq.to_le_bytes());
    c[16..24].copy_from_slice(&b.block.first_ns.to_le_bytes());
    c[24..28].copy_from_slice(&b.raw_len.to_le_bytes());
    c[28..32].copy_from_slice(&b.frame_len.to_le_bytes());
    c[32..36].copy_from_slice(&b.data_crc.to_le_bytes());
    skippable(MAGIC_COMPACT_BLOCK, &c, out);
}

pub fn decode_compact_block_header(content: &[u8]) -> Option<CompactBlockHeader> {
    if content.len() != COMPACT_BLOCK_HEADER_CONTENT {
        return None;
    }
    let body = check_crc(content)?;
    if &body[0..4] != TAG_COMPACT_BLOCK {
        return None;
    }
    Some(CompactBlockHeader {
        block: BlockHeader {
            block_index: le_u32(body, 4),
            first_seq: le_u64(body, 8),
            first_ns: le_u64(body, 16),
        },
        raw_len: le_u32(body, 24),
        frame_len: le_u32(body, 28),
        data_crc: le_u32(body, 32),
    })
}

/// A record inside a compact block: no CRC of its own (the block's covers it).
pub fn frame_record_compact(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
}

/// One entry of the index frame: where a block starts and what it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexEntry {
    /// File offset of the block header frame.
    pub offset: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    /// Records (messages and controls; stream definitions are not records).
    pub records: u64,
    pub first_seq: u64,
}

pub fn encode_index(entries: &[IndexEntry], out: &mut Vec<u8>) {
    let mut c = Vec::with_capacity(8 + entries.len() * INDEX_ENTRY);
    c.extend_from_slice(TAG_INDEX);
    c.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        for v in [e.offset, e.first_ns, e.last_ns, e.records, e.first_seq] {
            c.extend_from_slice(&v.to_le_bytes());
        }
    }
    skippable(MAGIC_INDEX, &c, out);
}

pub fn decode_index(content: &[u8]) -> Option<Vec<IndexEntry>> {
    let body = check_crc(content)?;
    if body.len() < 8 || &body[0..4] != TAG_INDEX {
        return None;
    }
    let n = le_u32(body, 4) as usize;
    if body.len() != 8 + n.checked_mul(INDEX_ENTRY)? {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let at = 8 + i * INDEX_ENTRY;
                IndexEntry {
                    offset: le_u64(body, at),
                    first_ns: le_u64(body, at + 8),
                    last_ns: le_u64(body, at + 16),
                    records: le_u64(body, at + 24),
                    first_seq: le_u64(body, at + 32),
                }
            })
            .collect(),
    )
}

/// The fixed-size last frame of a cleanly closed file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trailer {
    pub index_offset: u64,
    pub records: u64,
    pub messages: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

pub fn encode_trailer(t: &Trailer, out: &mut Vec<u8>) {
    let mut c = Vec::with_capacity(TRAILER_CONTENT);
    c.extend_from_slice(TAG_TRAILER);
    for v in [t.index_offset, t.records, t.messages, t.first_ns, t.last_ns] {
        c.extend_from_slice(&v.to_le_bytes());
    }
    let crc_value = crc(&c);
    c.extend_from_slice(&crc_value.to_le_bytes());
    c.extend_from_slice(END_MAGIC);
    out.extend_from_slice(&MAGIC_TRAILER.to_le_bytes());
    out.extend_from_slice(&(c.len() as u32).to_le_bytes());
    out.extend_from_slice(&c);
}

/// Parses the last `TRAILER_FRAME` bytes of a file.
pub fn decode_trailer(frame: &[u8]) -> Option<Trailer> {
    if frame.len() != TRAILER_FRAME
        || le_u32(frame, 0) != MAGIC_TRAILER
        || le_u32(frame, 4) as usize != TRAILER_CONTENT
        || &frame[TRAILER_FRAME - 8..] != END_MAGIC
    {
        return None;
    }
    let c = &frame[8..];
    let body = &c[..TRAILER_CONTENT - 12];
    if &body[0..4] != TAG_TRAILER || crc(body) != le_u32(c, TRAILER_CONTENT - 12) {
        return None;
    }
    Some(Trailer {
        index_offset: le_u64(body, 4),
        records: le_u64(body, 12),
        messages: le_u64(body, 20),
        first_ns: le_u64(body, 28),
        last_ns: le_u64(body, 36),
    })
}

// ---- msgpack subset used by record payloads (hand-written: a handful of forms, exact bytes) ----

pub fn mp_array(out: &mut Vec<u8>, n: u8) {
    debug_assert!(n < 16);
    out.push(0x90 | n);
}

pub fn mp_uint(out: &mut Vec<u8>, v: u64) {
    if v < 128 {
        out.push(v as u8);
    } else if v <= u64::from(u8::MAX) {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u64::from(u16::MAX) {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn mp_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        mp_uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn mp_bin(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n <= 0xff {
        out.extend_from_slice(&[0xc4, n as u8]);
    } else if n <= 0xffff {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

pub fn mp_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over a msgpack payload; every read is bounds-checked.
pub struct Mp<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Mp<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Mp { b, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn be(&mut self, n: usize) -> Option<u64> {
        Some(self.take(n)?.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }
    pub fn array(&mut self) -> Option<usize> {
        match self.byte()? {
            b @ 0x90..=0x9f => Some(usize::from(b & 0x0f)),
            0xdc => self.be(2).map(|n| n as usize),
            0xdd => self.be(4).map(|n| n as usize),
            _ => None,
        }
    }
    pub fn int(&mut self) -> Option<i128> {
        let b = self.byte()?;
        Some(match b {
            0x00..=0x7f => i128::from(b),
            0xe0..=0xff => i128::from(b as i8),
            0xcc => i128::from(self.be(1)?),
            0xcd => i128::from(self.be(2)?),
            0xce => i128::from(self.be(4)?),
            0xcf => i128::from(self.be(8)?),
            0xd0 => i128::from(self.be(1)? as u8 as i8),
            0xd1 => i128::from(self.be(2)? as u16 as i16),
            0xd2 => i128::from(self.be(4)? as u32 as i32),
            0xd3 => i128::from(self.be(8)? as i64),
            _ => return None,
        })
    }
    /// A bin or str value's bytes.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xc4 | 0xd9 => self.be(1)? as usize,
            0xc5 | 0xda => self.be(2)? as usize,
            0xc6 | 0xdb => self.be(4)? as usize,
            _ => return None,
        };
        self.take(n)
    }
    pub fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_owned)
    }
}

/// A record payload as stored.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload<'a> {
    Message {
        delta_ns: i64,
        stream: u16,
        raw: &'a [u8],
    },
    Control {
        delta_ns: i64,
        control: Control,
    },
    StreamDef {
        id: u16,
        name: String,
    },
    /// A kind a later minor version added: skipped by this reader.
    Unknown,
}

fn control_parts(c: &Control) -> (&'static str, &str) {
    match c {
        Control::Connect { url } => ("connect", url),
        Control::Disconnect { reason } => ("disconnect", reason),
        Control::Subscribe { subscription } => ("subscribe", subscription),
        Control::Gap { reason } => ("gap", reason),
        Control::Tick => ("tick", ""),
        Control::End => ("end", ""),
        Control::Stale { reason } => ("stale", reason),
    }
}

fn control_from_parts(kind: &str, text: String) -> Option<Control> {
    Some(match kind {
        "connect" => Control::Connect { url: text },
        "disconnect" => Control::Disconnect { reason: text },
        "subscribe" => Control::Subscribe { subscription: text },
        "gap" => Control::Gap { reason: text },
        "tick" => Control::Tick,
        "end" => Control::End,
        "stale" => Control::Stale { reason: text },
        _ => return None,
    })
}

/// A framed record's CRC-32C: of its length's four bytes, then its payload.
pub fn record_crc(len: u32, payload: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if payload.len() <= SHORT_RECORD && std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU has SSE 4.2 (checked just above).
        return unsafe { short_record_crc(len, payload) };
    }
    crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), payload)
}

/// Payloads up to this long are checked by one serial pass of the CRC instruction: most
/// records are (an output journal's average ~100 bytes), and on them the crate's path (two
/// calls, each aligning its buffer first) was three times the instructions (the journal's
/// record CRCs 26.8 M -> 9.0 M an hour, callgrind). Longer ones keep the crate's three-way
/// parallel path.
#[cfg(target_arch = "x86_64")]
const SHORT_RECORD: usize = 256;

/// [`record_crc`] by the CRC-32C instruction, eight bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn short_record_crc(len: u32, payload: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u32, _mm_crc32_u64, _mm_crc32_u8};
    // The instruction takes a word's bytes in little-endian order: the length's four bytes
    // as framed.
    let mut c = u64::from(_mm_crc32_u32(!0, len));
    let mut words = payload.chunks_exact(8);
    for w in &mut words {
        c = _mm_crc32_u64(c, u64::from_le_bytes(w.try_into().expect("eight bytes")));
    }
    let mut c = c as u32;
    for &b in words.remainder() {
        c = _mm_crc32_u8(c, b);
    }
    !c
}

/// Appends a framed record `[len u32][crc32c u32][payload]` to `out`.
pub fn frame_record(out: &mut Vec<u8>, payload: &[u8]) {
    let c = record_crc(payload.len() as u32, payload);
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&c.to_le_bytes());
    out.extend_from_slice(payload);
}

pub fn encode_message(buf: &mut Vec<u8>, delta_ns: i64, stream: u16, raw: &[u8]) {
    mp_array(buf, 4);
    mp_uint(buf, KIND_MESSAGE);
    mp_int(buf, delta_ns);
    mp_uint(buf, u64::from(stream));
    mp_bin(buf, raw);
}

pub fn encode_control(buf: &mut Vec<u8>, delta_ns: i64, control: &Control) {
    let (kind, text) = control_parts(control);
    mp_array(buf, 5);
    mp_uint(buf, KIND_CONTROL);
    mp_int(buf, delta_ns);
    mp_uint(buf, u64::from(CONTROL_STREAM));
    mp_str(buf, kind);
    mp_str(buf, text);
}

pub fn encode_stream_def(buf: &mut Vec<u8>, id: u16, name: &str) {
    mp_array(buf, 4);
    mp_uint(buf, KIND_STREAM_DEF);
    mp_uint(buf, 0);
    mp_uint(buf, u64::from(id));
    mp_str(buf, name);
}

/// Decodes a payload whose CRC matched. Extra trailing array elements (a later minor version)
/// are ignored; `None` means the payload is malformed.
pub fn decode_payload(p: &[u8]) -> Option<Payload<'_>> {
    let mut m = Mp::new(p);
    let n = m.array()?;
    if n < 4 {
        return None;
    }
    let kind = m.int()?;
    let delta = i64::try_from(m.int()?).ok()?;
    let stream = u16::try_from(m.int()?).ok()?;
    match u64::try_from(kind).ok()? {
        KIND_MESSAGE => Some(Payload::Message { delta_ns: delta, stream, raw: m.bytes()? }),
        KIND_CONTROL => {
            if n < 5 {
                return None;
            }
            let kind = m.string()?;
            let text = m.string()?;
            match control_from_parts(&kind, text) {
                Some(control) => Some(Payload::Control { delta_ns: delta, control }),
                None => Some(Payload::Unknown),
            }
        }
        KIND_STREAM_DEF => Some(Payload::StreamDef { id: stream, name: m.string()? }),
        _ => Some(Payload::Unknown),
    }
}

/// Walks a zstd frame's block headers without decompressing: returns the frame's compressed
/// length, or `None` if `b` (starting at the frame magic) holds no complete valid frame.
pub fn zstd_frame_len(b: &[u8]) -> Option<usize> {
    if b.len() < 6 || le_u32(b, 0) != ZSTD_MAGIC {
        return None;
    }
    let fhd = b[4];
    let fcs_flag = fhd >> 6;
    let single = (fhd >> 5) & 1 == 1;
    let checksum = (fhd >> 2) & 1 == 1;
    if (fhd >> 3) & 1 == 1 {
        return None; // reserved bit
    }
    let dict_len = [0usize, 1, 2, 4][usize::from(fhd & 3)];
    let fcs_len = match fcs_flag {
        0 => usize::from(single),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let mut pos = 5 + usize::from(!single) + dict_len + fcs_len;
    loop {
        let h = b.get(pos..pos + 3)?;
        let h = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
        let last = h & 1 == 1;
        let btype = (h >> 1) & 3;
        let size = (h >> 3) as usize;
        if btype == 3 || size > 128 << 10 {
            return None;
        }
        pos += 3 + if btype == 1 { 1 } else { size };
        if pos > b.len() {
            return None;
        }
        if last {
            break;
        }
    }
    if checksum {
        pos += 4;
    }
    (pos <= b.len()).then_some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short records' one pass of the CRC instruction is the crate's CRC-32C of the
    /// length's bytes then the payload, at every length around the threshold and its word
    /// boundaries, and a flipped bit anywhere changes it.
    #[test]
    fn record_crc_is_the_crc_of_length_then_payload() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let bytes: Vec<u8> = (0..700)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for n in 0..=600 {
            for start in [0, 1, 3, 7] {
                let payload = &bytes[start..start + n];
                let len = n as u32;
                let want = crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), payload);
                assert_eq!(record_crc(len, payload), want, "length {n} at offset {start}");
                assert_ne!(record_crc(len ^ 1 << 9, payload), want, "length {n}: the length counts");
                if n > 0 {
                    let mut flipped = payload.to_vec();
                    flipped[n / 2] ^= 0x10;
                    assert_ne!(record_crc(len, &flipped), want, "length {n}: a flipped bit");
                }
            }
        }
    }

    #[test]
    fn payloads_round_trip() {
        for delta in [0i64, 1, 127, 128, 70_000, 5_000_000_000, -1, -33, -40_000, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            encode_message(&mut b, delta, 3, b"{\"a\":1}");
            assert_eq!(
                decode_payload(&b),
                Some(Payload::Message { delta_ns: delta, stream: 3, raw: b"{\"a\":1}" })
            );
        }
        let big = vec![7u8; 70_000];
        let mut b = Vec::new();
        encode_message(&mut b, 9, 65535, &big);
        assert_eq!(decode_payload(&b), Some(Payload::Message { delta_ns: 9, stream: 65535, raw: &big }));
        let mut b = Vec::new();
        encode_control(&mut b, 5, &Control::Gap { reason: "x".repeat(40) });
        assert_eq!(
            decode_payload(&b),
            Some(Payload::Control { delta_ns: 5, control: Control::Gap { reason: "x".repeat(40) } })
        );
        let mut b = Vec::new();
        encode_stream_def(&mut b, 2, "l2Book:BTC");
        assert_eq!(decode_payload(&b), Some(Payload::StreamDef { id: 2, name: "l2Book:BTC".into() }));
    }

    #[test]
    fn frames_round_trip() {
        let mut out = Vec::new();
        let t = Trailer { index_offset: 1, records: 2, messages: 3, first_ns: 4, last_ns: 5 };
        encode_trailer(&t, &mut out);
        assert_eq!(out.len(), TRAILER_FRAME);
        assert_eq!(decode_trailer(&out), Some(t));
        let e = vec![IndexEntry { offset: 1, first_ns: 2, last_ns: 3, records: 4, first_seq: 5 }];
        let mut out = Vec::new();
        encode_index(&e, &mut out);
        assert_eq!(decode_index(&out[8..]), Some(e));
        let bh = BlockHeader { block_index: 3, first_seq: 4, first_ns: 5 };
        let mut out = Vec::new();
        encode_block_header(&bh, &mut out);
        assert_eq!(decode_block_header(&out[8..]), Some(bh));
    }

    #[test]
    fn frame_walker_measures_zstd_frames() {
        let data: Vec<u8> = (0..300_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let c = zstd::bulk::compress(&data, 3).unwrap();
        assert_eq!(zstd_frame_len(&c), Some(c.len()));
        assert_eq!(zstd_frame_len(&c[..c.len() - 1]), None);
    }
}
