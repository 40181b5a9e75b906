//! Reading log files: one file at a time, tolerant of torn tails and corruption, never
//! allocating more than a capped, checked length.

use super::format::{self, BlockHeader, IndexEntry, Payload, Trailer};
use super::{Body, Header, LogError, Record};
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};

const CHUNK: usize = 256 << 10;

/// Where a [`FileReader`] puts the records it decodes, in order. Owned records
/// (`VecDeque<Record>`, one allocation per message) for `compact` and `repair`; the
/// [`super::LogReader`] copies messages into one reused arena instead, so that reading hands out
/// borrowed records without allocating ([`super::LogReader::next_ref`]).
pub trait RecordSink {
    fn message(&mut self, seq: u64, recv_ns: u64, stream: u16, raw: &[u8]);
    /// A control record (its stream is [`format::CONTROL_STREAM`]).
    fn control(&mut self, seq: u64, recv_ns: u64, control: super::Control);
}

impl RecordSink for VecDeque<Record> {
    fn message(&mut self, seq: u64, recv_ns: u64, stream: u16, raw: &[u8]) {
        self.push_back(Record { seq, recv_ns, stream, body: Body::Message(raw.to_vec()) });
    }
    fn control(&mut self, seq: u64, recv_ns: u64, control: super::Control) {
        self.push_back(Record { seq, recv_ns, stream: format::CONTROL_STREAM, body: Body::Control(control) });
    }
}

/// What went wrong where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueKind {
    /// The file ends in the middle of something: a crash while writing. What precedes it is
    /// intact.
    TornTail,
    /// Bytes that fail their checksum or do not parse.
    Corrupt,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub path: PathBuf,
    pub offset: u64,
    pub kind: IssueKind,
    pub detail: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            IssueKind::TornTail => "torn tail",
            IssueKind::Corrupt => "corruption",
        };
        write!(f, "{} at byte {}: {what}: {}", self.path.display(), self.offset, self.detail)
    }
}

/// A buffered window over a file with absolute offsets.
struct Input {
    file: File,
    buf: Vec<u8>,
    start: usize,
    base: u64,
    len: u64,
}

impl Input {
    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }
    fn avail(&self) -> &[u8] {
        &self.buf[self.start..]
    }
    /// Makes at least `want` bytes available if the file has them; returns what is available.
    fn fill(&mut self, want: usize) -> std::io::Result<usize> {
        if self.avail().len() >= want {
            return Ok(self.avail().len());
        }
        let remaining_in_file = self.len.saturating_sub(self.base + self.buf.len() as u64);
        if remaining_in_file == 0 {
            // Nothing left to read: moving the rest down would gain nothing. In a file's last
            // CHUNK every step asks for more than is left, and a recording flushed each second
            // has blocks of a few hundred bytes: the move ran at every block there (7.5% of the
            // read-ahead thread of a 6 h Hyperliquid replay, callgrind).
            return Ok(self.avail().len());
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        // A CHUNK more than asked: the frame reader asks for CHUNK at each step and consumes
        // a fraction of it, so refilling to exactly CHUNK moved most of the buffer down at
        // every step (memmove was 12% of a Hyperliquid replay); with the slack, the bytes left
        // are moved once per CHUNK consumed.
        let target = (want.max(CHUNK) + CHUNK) as u64;
        let to_read = remaining_in_file.min(target.saturating_sub(self.buf.len() as u64)) as usize;
        if to_read > 0 {
            let old = self.buf.len();
            self.buf.resize(old + to_read, 0);
            let mut got = 0;
            let at = self.base + old as u64;
            while got < to_read {
                match self.file.read_at(&mut self.buf[old + got..], at + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.buf.truncate(old + got);
                        return Err(e);
                    }
                }
            }
            self.buf.truncate(old + got);
        }
        Ok(self.avail().len())
    }
    fn consume(&mut self, n: usize) {
        self.start += n;
    }
    fn seek(&mut self, offset: u64) -> std::io::Result<()> {
        self.buf.clear();
        self.start = 0;
        self.base = offset;
        Ok(())
    }
    fn at_eof(&self) -> bool {
        self.offset() >= self.len
    }
}

struct FrameState {
    pending: Vec<u8>,
    pending_start: usize,
    block: BlockHeader,
    block_offset: u64,
    next_seq: u64,
    prev_ns: u64,
    records: u64,
    /// The decoder is fed one zstd block at a time: zstd drops the output of a call that ends
    /// in an error, so feeding more would lose records decoded before the damaged block.
    feed: ZstdFeed,
}

/// Where the zstd frame's blocks lie, found by walking their 3-byte headers as input arrives.
struct ZstdFeed {
    /// Input may be given to the decoder up to this file offset.
    limit: u64,
    /// File offset of the zstd block being fed (the damaged range starts here).
    block_start: u64,
    /// The last block's header has been met (then only its checksum follows).
    last: bool,
    checksum: bool,
    /// The decoder's last call filled the output buffer: drain it before feeding more.
    drain: bool,
    /// The block headers stopped making sense: let the decoder report what it sees.
    unbounded: bool,
}

/// Reads the blocks of one file in order.
pub(crate) struct FileReader {
    pub path: PathBuf,
    input: Input,
    pub header: Header,
    pub file_header: format::FileHeader,
    /// Valid trailer and index at the end: the file was closed cleanly.
    pub trailer: Option<Trailer>,
    pub index: Option<Vec<IndexEntry>>,
    /// Where the data region ends (the index offset of a closed file, else the file length).
    data_end: u64,
    pending_block: Option<(BlockHeader, u64)>,
    /// A compact block header just read (format 1.1), with its offset: its frame is next.
    pending_compact: Option<(format::CompactBlockHeader, u64)>,
    /// Decompressed content of the current compact block (reused).
    compact_buf: Vec<u8>,
    frame: Option<FrameState>,
    /// The pending bytes' buffer of the last frame, emptied, for the next one: a recording
    /// flushed each second has a frame every few hundred bytes, and a new buffer of a CHUNK
    /// each was a fresh allocation (and its pages faulted in) at every one.
    spare_pending: Vec<u8>,
    decoder: Option<Decoder<'static>>,
    pub done: bool,
    /// An issue already explains the end of this file.
    reported_end: bool,
    pub blocks_seen: Vec<IndexEntry>,
    pub compressed_bytes: u64,
    /// The file's own header frame was damaged: `header` stands in for it (see
    /// [`FileReader::open_with`]).
    pub salvaged_header: bool,
    /// Stream definitions decoded so far: the stream table can have changed only when this
    /// moved (a consumer checks a number, not the table, after every record).
    pub stream_defs: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io { path: path.to_path_buf(), source }
}

impl FileReader {
    /// Opens a file and reads its header; issues with its trailer or index are pushed to
    /// `issues` (the data is still readable by scanning).
    pub fn open(path: &Path, issues: &mut Vec<Issue>) -> Result<FileReader, LogError> {
        let file = File::open(path).map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        let mut input = Input { file, buf: Vec::new(), start: 0, base: 0, len };
        let n = input.fill(8).map_err(io(path))?;
        let a = input.avail();
        if n < 8 || format::le_u32(a, 0) != format::MAGIC_FILE_HEADER {
            let magic = format::MAGIC_FILE_HEADER.to_le_bytes();
            if n < 8 && a[..n.min(4)] == magic[..n.min(4)] {
                // An empty or barely started file: a crash right after it was created.
                return Err(LogError::Corrupt {
                    path: path.to_path_buf(),
                    offset: 0,
                    detail: "file ends before its header (torn at creation)".into(),
                });
            }
            return Err(LogError::NotARecording { path: path.to_path_buf() });
        }
        let size = format::le_u32(a, 4);
        if size > format::MAX_HEADER_CONTENT {
            return Err(LogError::Corrupt {
                path: path.to_path_buf(),
                offset: 4,
                detail: "header size out of range".into(),
            });
        }
        let size = size as usize;
        if input.fill(8 + size).map_err(io(path))? < 8 + size {
            return Err(LogError::Corrupt {
                path: path.to_path_buf(),
                offset: len,
                detail: "file ends inside its header (torn at creation)".into(),
            });
        }
        let fh = match format::decode_file_header(&input.avail()[8..8 + size]) {
            Ok(fh) => fh,
            Err(format::FileHeaderError::NotARecording) => {
                return Err(LogError::NotARecording { path: path.to_path_buf() })
            }
            Err(format::FileHeaderError::Version(major, minor)) => {
                return Err(LogError::UnsupportedVersion { path: path.to_path_buf(), major, minor })
            }
            Err(format::FileHeaderError::Corrupt(d)) => {
                return Err(LogError::Corrupt { path: path.to_path_buf(), offset: 0, detail: d.into() })
            }
        };
        let header: Header = rmp_serde::from_slice(&fh.header_msgpack).map_err(|e| LogError::Corrupt {
            path: path.to_path_buf(),
            offset: 8,
            detail: format!("header does not decode: {e}"),
        })?;
        input.consume(8 + size);
        let mut r = FileReader::new(path, input, header, fh);
        r.read_trailer(issues)?;
        Ok(r)
    }

    fn new(path: &Path, input: Input, header: Header, file_header: format::FileHeader) -> FileReader {
        let len = input.len;
        FileReader {
            path: path.to_path_buf(),
            input,
            header,
            file_header,
            trailer: None,
            index: None,
            data_end: len,
            pending_block: None,
            pending_compact: None,
            compact_buf: Vec::new(),
            frame: None,
            spare_pending: Vec::new(),
            decoder: None,
            done: false,
            reported_end: false,
            blocks_seen: Vec::new(),
            compressed_bytes: len,
            salvaged_header: false,
            stream_defs: 0,
        }
    }

    /// Opens a file whose own header may be damaged (issue 11): when the header frame fails
    /// its checks but blocks follow it, the file is read anyway. `fallback` (the recording's
    /// header, from another file) stands in for the lost header; without one, the damaged
    /// header's content is used if it still decodes, else a default. The damage is pushed to
    /// `issues` as corruption at the header, and reading resumes at the first block.
    pub fn open_with(
        path: &Path,
        issues: &mut Vec<Issue>,
        fallback: Option<&Header>,
    ) -> Result<FileReader, LogError> {
        match FileReader::open(path, issues) {
            Ok(r) => Ok(r),
            Err(e) => match FileReader::salvage(path, &e, fallback, issues)? {
                Some(r) => Ok(r),
                None => Err(e),
            },
        }
    }

    /// A reader past a damaged header, or `None` when the error is not damage to an otherwise
    /// readable file (a file torn inside its header, a foreign file, a genuinely newer version).
    fn salvage(
        path: &Path,
        err: &LogError,
        fallback: Option<&Header>,
        issues: &mut Vec<Issue>,
    ) -> Result<Option<FileReader>, LogError> {
        let (damaged_at, what) = match err {
            // A file that ends inside its header holds no block unless its size field is what
            // is damaged: the scan below tells.
            LogError::Corrupt { detail, .. } if detail.contains("torn at creation") => (4, detail.clone()),
            LogError::Corrupt { offset, detail, .. } => (*offset, detail.clone()),
            // Only a file named as ours is searched for blocks: anything else is foreign.
            LogError::NotARecording { .. } if !named_as_log_file(path) => return Ok(None),
            LogError::NotARecording { .. } => (0, "no file header magic".to_owned()),
            LogError::UnsupportedVersion { major, minor, .. } => (12, format!("version {major}.{minor}")),
            _ => return Ok(None),
        };
        let file = File::open(path).map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        let mut input = Input { file, buf: Vec::new(), start: 0, base: 0, len };
        let n = input.fill(8).map_err(io(path))?;
        let a = input.avail();
        let size = if n >= 8 { format::le_u32(a, 4) as usize } else { 0 };
        let own = if n >= 8 && size <= format::MAX_HEADER_CONTENT as usize {
            let got = input.fill(8 + size).map_err(io(path))?;
            let a = input.avail();
            if got >= 8 + size
                && format::le_u32(a, 0) == format::MAGIC_FILE_HEADER
                && format::check_crc(&a[8..8 + size]).is_some()
                && !matches!(err, LogError::Corrupt { .. })
            {
                // An intact header frame of a foreign kind or a newer version: not damage.
                return Ok(None);
            }
            (got >= 8 + size).then(|| lenient_header(&a[8..8 + size])).flatten()
        } else {
            None
        };
        let (header, source) = match (fallback, own) {
            (Some(h), _) => (h.clone(), "the recording's header from another file stands in"),
            (None, Some(h)) => (h, "its own content, which still decodes, is used"),
            (None, None) => (Header::default(), "no header could be read (venue unknown)"),
        };
        let file_header = format::FileHeader {
            major: format::FORMAT_MAJOR,
            minor: format::FORMAT_MINOR,
            file_index: file_index_from_name(path).unwrap_or(0),
            first_seq: 0,
            header_msgpack: Vec::new(),
        };
        let mut r = FileReader::new(path, input, header, file_header);
        r.salvaged_header = true;
        let mut scratch = Vec::new();
        r.resync(8, &mut scratch).map_err(io(path))?;
        if r.done {
            // Nothing but the damaged header: nothing to read.
            return Ok(None);
        }
        let at = r.input.offset();
        r.input.fill(8 + format::COMPACT_BLOCK_HEADER_CONTENT).map_err(io(path))?;
        let a = r.input.avail();
        let first = format::decode_block_header(&a[8..(8 + format::BLOCK_HEADER_CONTENT).min(a.len())])
            .or_else(|| {
                let end = (8 + format::COMPACT_BLOCK_HEADER_CONTENT).min(a.len());
                format::decode_compact_block_header(&a[8..end]).map(|c| c.block)
            });
        r.file_header.first_seq = first.map_or(0, |b| b.first_seq);
        issues.push(r.issue(
            damaged_at,
            IssueKind::Corrupt,
            format!("file header damaged ({what}); {source}; reading resumes at the first block, byte {at}"),
        ));
        r.read_trailer(issues)?;
        Ok(Some(r))
    }

    fn read_trailer(&mut self, issues: &mut Vec<Issue>) -> Result<(), LogError> {
        let len = self.input.len;
        let header_end = self.input.offset();
        if len < header_end + format::TRAILER_FRAME as u64 {
            return Ok(());
        }
        let f = &self.input.file;
        let mut tail = [0u8; format::TRAILER_FRAME];
        f.read_exact_at(&mut tail, len - format::TRAILER_FRAME as u64).map_err(io(&self.path))?;
        let Some(t) = format::decode_trailer(&tail) else { return Ok(()) };
        let trailer_off = len - tail.len() as u64;
        if t.index_offset < header_end || t.index_offset + 8 > trailer_off {
            issues.push(self.issue(
                trailer_off,
                IssueKind::Corrupt,
                "trailer points outside the file".into(),
            ));
            return Ok(());
        }
        let mut idx = vec![0u8; 8];
        f.read_exact_at(&mut idx, t.index_offset).map_err(io(&self.path))?;
        let size = format::le_u32(&idx, 4) as u64;
        let ok_frame = format::le_u32(&idx, 0) == format::MAGIC_INDEX
            && size <= u64::from(format::MAX_INDEX_CONTENT)
            && t.index_offset + 8 + size == trailer_off;
        self.trailer = Some(t);
        self.data_end = t.index_offset;
        if !ok_frame {
            issues.push(self.issue(
                t.index_offset,
                IssueKind::Corrupt,
                "index frame damaged; scanning blocks instead".into(),
            ));
            return Ok(());
        }
        let mut content = vec![0u8; size as usize];
        f.read_exact_at(&mut content, t.index_offset + 8).map_err(io(&self.path))?;
        match format::decode_index(&content) {
            Some(ix) => self.index = Some(ix),
            None => issues.push(self.issue(
                t.index_offset,
                IssueKind::Corrupt,
                "index checksum mismatch; scanning blocks instead".into(),
            )),
        }
        Ok(())
    }

    fn issue(&self, offset: u64, kind: IssueKind, detail: String) -> Issue {
        Issue { path: self.path.clone(), offset, kind, detail }
    }

    /// Whether an early end of data is a torn tail (unfinished file) or corruption (a closed
    /// file cannot be torn).
    fn end_kind(&self) -> IssueKind {
        if self.trailer.is_some() {
            IssueKind::Corrupt
        } else {
            IssueKind::TornTail
        }
    }

    /// Positions at a block header offset (from an index or a scan).
    pub fn seek_block(&mut self, offset: u64) -> Result<(), LogError> {
        self.end_frame();
        self.pending_block = None;
        self.pending_compact = None;
        self.done = false;
        self.input.seek(offset).map_err(io(&self.path))
    }

    /// Decodes more records into `out`; returns false when the file is exhausted.
    pub fn step(
        &mut self,
        out: &mut impl RecordSink,
        streams: &mut Vec<String>,
        issues: &mut Vec<Issue>,
    ) -> bool {
        if self.done {
            return false;
        }
        let r = if self.frame.is_some() {
            self.step_frame(out, streams, issues)
        } else if self.pending_compact.is_some() {
            self.read_compact_block(out, streams, issues)
        } else {
            self.step_top(issues)
        };
        if let Err(e) = r {
            issues.push(self.issue(self.input.offset(), IssueKind::Corrupt, format!("read error: {e}")));
            self.done = true;
        }
        let torn_reported = issues.iter().any(|i| i.path == self.path && i.kind == IssueKind::TornTail);
        if self.done && self.trailer.is_none() && !self.reported_end && !torn_reported {
            // Every byte read fine, but the file was never closed: a crash between flushes.
            issues.push(self.issue(
                self.input.len,
                IssueKind::TornTail,
                "file was not closed (no index and trailer)".into(),
            ));
        }
        !self.done
    }

    fn step_top(&mut self, issues: &mut Vec<Issue>) -> std::io::Result<()> {
        let off = self.input.offset();
        if off >= self.data_end {
            // A closed file's data ends at its index; beyond it lie the index and trailer,
            // already checked at open.
            if let Some((_, bo)) = self.pending_block.take() {
                issues.push(self.issue(bo, self.end_kind(), "block header without a block".into()));
                self.reported_end = true;
            }
            self.done = true;
            return Ok(());
        }
        let n = self.input.fill(8)?;
        if n < 8 {
            let kind = if self.trailer.is_some() { IssueKind::Corrupt } else { IssueKind::TornTail };
            if n > 0 || self.pending_block.is_some() {
                issues.push(self.issue(off, kind, "file ends inside a frame header".into()));
            }
            self.done = true;
            return Ok(());
        }
        let a = self.input.avail();
        let magic = format::le_u32(a, 0);
        if magic == format::ZSTD_MAGIC {
            let Some((block, block_offset)) = self.pending_block.take() else {
                issues.push(self.issue(off, IssueKind::Corrupt, "zstd frame without a block header".into()));
                return self.resync(off + 1, issues);
            };
            // One decoder per file, reset per frame: creating one costs more than a small block.
            match &mut self.decoder {
                Some(d) => d.reinit()?,
                None => {
                    let mut d = Decoder::new()?;
                    d.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(
                        format::DECODER_WINDOW_LOG_MAX,
                    ))?;
                    self.decoder = Some(d);
                }
            }
            self.input.fill(18)?;
            let a = self.input.avail();
            let feed = match zstd_frame_header_len(a) {
                Some(h) => ZstdFeed {
                    limit: off + h as u64,
                    block_start: off,
                    last: false,
                    checksum: a[4] & 4 != 0,
                    drain: false,
                    unbounded: false,
                },
                None => ZstdFeed {
                    limit: u64::MAX,
                    block_start: off,
                    last: true,
                    checksum: false,
                    drain: false,
                    unbounded: true,
                },
            };
            self.frame = Some(FrameState {
                pending: std::mem::take(&mut self.spare_pending),
                pending_start: 0,
                block,
                block_offset,
                next_seq: block.first_seq,
                prev_ns: block.first_ns,
                records: 0,
                feed,
            });
            return Ok(());
        }
        if magic & 0xFFFF_FFF0 != format::MAGIC_FILE_HEADER {
            issues.push(self.issue(
                off,
                IssueKind::Corrupt,
                format!("unexpected bytes (0x{magic:08x}) where a frame should start"),
            ));
            return self.resync(off + 1, issues);
        }
        let size = format::le_u32(a, 4) as u64;
        let ours = magic <= format::MAGIC_TRAILER;
        let cap = if ours { u64::from(format::MAX_INDEX_CONTENT) } else { u64::from(u32::MAX) };
        if size > cap || off + 8 + size > self.input.len {
            // A later valid block means this frame's size is damaged; none means the file
            // was cut inside the frame.
            self.resync(off + 1, issues)?;
            if !self.done || size > cap {
                issues.push(self.issue(off, IssueKind::Corrupt, "frame size out of range".into()));
            } else {
                issues.push(self.issue(off, self.end_kind(), "file ends inside a frame".into()));
                self.reported_end = true;
            }
            return Ok(());
        }
        if magic == format::MAGIC_COMPACT_BLOCK {
            self.input.fill(8 + size as usize)?;
            let h = format::decode_compact_block_header(&self.input.avail()[8..8 + size as usize]);
            match h {
                Some(h)
                    if h.raw_len <= format::MAX_COMPACT_BLOCK && h.frame_len <= format::MAX_COMPACT_BLOCK =>
                {
                    if let Some((_, bo)) = self.pending_block.take() {
                        issues.push(self.issue(
                            bo,
                            IssueKind::Corrupt,
                            "block header without a block".into(),
                        ));
                    }
                    self.pending_compact = Some((h, off));
                    self.input.consume(8 + size as usize);
                    Ok(())
                }
                _ => {
                    issues.push(self.issue(off, IssueKind::Corrupt, "compact block header damaged".into()));
                    self.resync(off + 1, issues)
                }
            }
        } else if magic == format::MAGIC_BLOCK_HEADER {
            self.input.fill(8 + size as usize)?;
            match format::decode_block_header(&self.input.avail()[8..8 + size as usize]) {
                Some(bh) => {
                    if let Some((_, bo)) = self.pending_block {
                        issues.push(self.issue(
                            bo,
                            IssueKind::Corrupt,
                            "block header without a block".into(),
                        ));
                    }
                    self.pending_block = Some((bh, off));
                    self.input.consume(8 + size as usize);
                    Ok(())
                }
                None => {
                    issues.push(self.issue(off, IssueKind::Corrupt, "block header checksum mismatch".into()));
                    self.resync(off + 1, issues)
                }
            }
        } else if ours {
            // A header, index or trailer frame in the data region: only a scan of an unclosed
            // file meets the index and trailer (of a file whose trailer was damaged).
            if magic == format::MAGIC_FILE_HEADER {
                issues.push(self.issue(off, IssueKind::Corrupt, "second file header inside the file".into()));
            } else if magic == format::MAGIC_TRAILER {
                // Had it been the file's last bytes and intact, `open` would have taken it.
                issues.push(self.issue(
                    off,
                    IssueKind::Corrupt,
                    "trailer damaged, or bytes appended after it".into(),
                ));
                self.reported_end = true;
            }
            // An index met while scanning an unclosed file is what a crash during close leaves:
            // the torn-tail report at the end covers it.
            self.skip(off + 8 + size)
        } else {
            // A skippable frame of a later minor version: ignorable by design.
            self.skip(off + 8 + size)
        }
    }

    fn skip(&mut self, to: u64) -> std::io::Result<()> {
        let have = self.input.avail().len() as u64;
        let off = self.input.offset();
        if to - off <= have {
            self.input.consume((to - off) as usize);
            Ok(())
        } else {
            self.input.seek(to)
        }
    }

    /// Leaves the current frame, if any, keeping its pending buffer for the next.
    fn end_frame(&mut self) {
        if let Some(mut fs) = self.frame.take() {
            fs.pending.clear();
            self.spare_pending = fs.pending;
        }
    }

    /// After corruption at `from`: finds the next valid block header and continues there.
    fn resync(&mut self, from: u64, issues: &mut Vec<Issue>) -> std::io::Result<()> {
        let _ = issues;
        self.end_frame();
        self.pending_block = None;
        self.input.seek(from)?;
        let magic = format::MAGIC_BLOCK_HEADER.to_le_bytes();
        let need = 8 + format::BLOCK_HEADER_CONTENT;
        loop {
            if self.input.offset() >= self.data_end {
                self.done = true;
                return Ok(());
            }
            let n = self.input.fill(CHUNK)?;
            if n < need {
                self.done = true;
                return Ok(());
            }
            let a = self.input.avail();
            let limit = n - need + 1;
            let mut found = None;
            let mut i = 0;
            while i < limit {
                if a[i..i + 4] == magic
                    && format::le_u32(a, i + 4) as usize == format::BLOCK_HEADER_CONTENT
                    && format::decode_block_header(&a[i + 8..i + need]).is_some()
                {
                    found = Some(i);
                    break;
                }
                if is_compact_block_header(&a[i..]) {
                    found = Some(i);
                    break;
                }
                i += 1;
            }
            match found {
                Some(i) => {
                    self.input.consume(i);
                    return Ok(());
                }
                // Keep the last bytes that could start a (longer) compact block header.
                None => self.input.consume(
                    limit.min(n.saturating_sub(8 + format::COMPACT_BLOCK_HEADER_CONTENT - 1)).max(1),
                ),
            }
        }
    }

    fn step_frame(
        &mut self,
        out: &mut impl RecordSink,
        streams: &mut Vec<String>,
        issues: &mut Vec<Issue>,
    ) -> std::io::Result<()> {
        let limit = self.data_end.saturating_sub(self.input.offset()) as usize;
        let feed_limit = self.next_feed_limit()?;
        let limit = limit.min(feed_limit.saturating_sub(self.input.offset()).min(usize::MAX as u64) as usize);
        let n = self.input.fill(CHUNK)?.min(limit);
        let fs = self.frame.as_mut().expect("in a frame");
        let decoder = self.decoder.as_mut().expect("a decoder exists while in a frame");
        let avail = &self.input.avail()[..n];
        let mut inb = InBuffer::around(avail);
        // Decoded straight into the pending bytes, behind what is there (no copy from an
        // output buffer). The room is at least a CHUNK, more than a zstd block decodes to
        // (128 KiB), so a call decodes the whole block it is fed, as with a CHUNK buffer.
        fs.pending.reserve(CHUNK);
        let before = fs.pending.len();
        let room = fs.pending.capacity() - before;
        let mut outb = OutBuffer::around_pos(&mut fs.pending, before);
        let res = decoder.run(&mut inb, &mut outb);
        let consumed = inb.pos();
        let produced = outb.pos() - before;
        let was_drain = fs.feed.drain;
        fs.feed.drain = produced == room;
        let zblock = fs.feed.block_start;
        let block_offset = fs.block_offset;
        self.input.consume(consumed);
        let bad = self.parse_records(out, streams);
        let fs = self.frame.as_mut().expect("in a frame");
        if let Some((detail, rec_no)) = bad {
            issues.push(self.issue(
                zblock,
                IssueKind::Corrupt,
                format!(
                    "{detail} (record {rec_no} of the block at byte {block_offset}, decoded from the compressed bytes from {zblock})"
                ),
            ));
            return self.resync(block_offset + 1, issues);
        }
        match res {
            Err(e) => {
                issues.push(self.issue(
                    zblock,
                    IssueKind::Corrupt,
                    format!(
                        "zstd: {e} (block at byte {block_offset}, in the compressed bytes from {zblock})"
                    ),
                ));
                self.resync(block_offset + 1, issues)
            }
            Ok(0) if produced < room => {
                // The frame is complete.
                let leftover = fs.pending.len() - fs.pending_start;
                let entry = IndexEntry {
                    offset: block_offset,
                    first_ns: fs.block.first_ns,
                    last_ns: fs.prev_ns,
                    records: fs.records,
                    first_seq: fs.block.first_seq,
                };
                self.end_frame();
                if leftover > 0 {
                    issues.push(self.issue(
                        self.input.offset(),
                        IssueKind::Corrupt,
                        "block ends inside a record".into(),
                    ));
                }
                self.blocks_seen.push(entry);
                Ok(())
            }
            Ok(_) if consumed == 0 && produced == 0 && n > 0 && !self.input.at_eof() => {
                // The decoder neither takes input nor gives output: never spin on it.
                let off = self.input.offset();
                issues.push(self.issue(
                    off,
                    IssueKind::Corrupt,
                    format!("zstd stalled (block at byte {block_offset})"),
                ));
                self.resync(block_offset + 1, issues)
            }
            Ok(_) => {
                if consumed == 0 && produced == 0 && !was_drain && (n == 0 || self.input.at_eof()) {
                    let off = self.input.offset();
                    // A later block means this one is damaged (its frame ran on); none means
                    // the file simply ends here.
                    self.resync(block_offset + 1, issues)?;
                    if !self.done {
                        let detail = format!(
                            "block at byte {block_offset} is damaged: its frame runs past the next block"
                        );
                        issues.push(self.issue(block_offset, IssueKind::Corrupt, detail));
                        return Ok(());
                    }
                    let kind = self.end_kind();
                    let detail = if kind == IssueKind::TornTail {
                        format!("file ends inside the block at byte {block_offset}; records up to its last flush were kept")
                    } else {
                        format!("block at byte {block_offset} is cut short")
                    };
                    issues.push(self.issue(off, kind, detail));
                    self.reported_end = true;
                }
                Ok(())
            }
        }
    }

    /// Reads the compact block whose header was just consumed (format 1.1): the whole frame is
    /// decompressed and its one CRC checked before any record of it is returned, so a flipped
    /// bit costs exactly this block; the reader then resumes at the next block header.
    fn read_compact_block(
        &mut self,
        out: &mut impl RecordSink,
        streams: &mut Vec<String>,
        issues: &mut Vec<Issue>,
    ) -> std::io::Result<()> {
        let Some((h, block_offset)) = self.pending_compact.take() else { return Ok(()) };
        let frame_len = h.frame_len as usize;
        let start = self.input.offset();
        if start + frame_len as u64 > self.data_end {
            let kind = self.end_kind();
            self.resync(block_offset + 1, issues)?;
            let detail = format!("compact block at byte {block_offset} runs past the end of the data");
            issues.push(self.issue(block_offset, if self.done { kind } else { IssueKind::Corrupt }, detail));
            self.reported_end = self.done;
            return Ok(());
        }
        if self.input.fill(frame_len)? < frame_len {
            self.done = true;
            issues.push(self.issue(start, self.end_kind(), "file ends inside a compact block".into()));
            self.reported_end = true;
            return Ok(());
        }
        let raw_len = h.raw_len as usize;
        self.compact_buf.clear();
        self.compact_buf.reserve(raw_len);
        let mut d = zstd::bulk::Decompressor::new()?;
        d.window_log_max(format::DECODER_WINDOW_LOG_MAX)?;
        let decoded = d.decompress_to_buffer(&self.input.avail()[..frame_len], &mut self.compact_buf);
        let intact =
            matches!(decoded, Ok(n) if n == raw_len) && crc32c::crc32c(&self.compact_buf) == h.data_crc;
        if !intact {
            issues.push(self.issue(
                block_offset,
                IssueKind::Corrupt,
                format!("compact block at byte {block_offset} fails its checksum: its records are lost"),
            ));
            return self.resync(block_offset + 1, issues);
        }
        self.input.consume(frame_len);
        let (mut seq, mut ns, mut records) = (h.block.first_seq, h.block.first_ns, 0u64);
        let buf = &self.compact_buf;
        let mut p = 0;
        while p < buf.len() {
            let len = if buf.len() - p >= 4 { format::le_u32(buf, p) as usize } else { usize::MAX };
            // The CRC matched, so a bad record here is a writer bug, not damage: still never panic.
            let Some(payload) = buf.get(p + 4..(p + 4).saturating_add(len)) else {
                issues.push(self.issue(
                    block_offset,
                    IssueKind::Corrupt,
                    "compact block ends inside a record".into(),
                ));
                break;
            };
            p += 4 + len;
            match format::decode_payload(payload) {
                None => {
                    issues.push(self.issue(
                        block_offset,
                        IssueKind::Corrupt,
                        "record does not decode".into(),
                    ));
                    break;
                }
                Some(Payload::StreamDef { id, name }) => {
                    let i = usize::from(id);
                    if streams.len() <= i {
                        streams.resize(i + 1, String::new());
                    }
                    streams[i] = name;
                    self.stream_defs += 1;
                }
                Some(Payload::Message { delta_ns, stream, raw }) => {
                    ns = ns.wrapping_add(delta_ns as u64);
                    out.message(seq, ns, stream, raw);
                    seq += 1;
                    records += 1;
                }
                Some(Payload::Control { delta_ns, control }) => {
                    ns = ns.wrapping_add(delta_ns as u64);
                    out.control(seq, ns, control);
                    seq += 1;
                    records += 1;
                }
                Some(Payload::Unknown) => {}
            }
        }
        self.blocks_seen.push(IndexEntry {
            offset: block_offset,
            first_ns: h.block.first_ns,
            last_ns: ns,
            records,
            first_seq: h.block.first_seq,
        });
        Ok(())
    }

    /// How far the decoder may be fed now: to the end of the current zstd block, or nothing
    /// while it still holds output of an earlier one (so that an error in the next block
    /// cannot take that output with it).
    fn next_feed_limit(&mut self) -> std::io::Result<u64> {
        let at = self.input.offset();
        let fs = self.frame.as_ref().expect("in a frame");
        let f = &fs.feed;
        if f.unbounded {
            return Ok(u64::MAX);
        }
        if f.drain {
            return Ok(at);
        }
        if at < f.limit || f.last {
            return Ok(f.limit);
        }
        // At a zstd block boundary: read the next block's header.
        if self.input.fill(3)? < 3 {
            return Ok(at + self.input.avail().len() as u64);
        }
        let a = self.input.avail();
        let h = u32::from(a[0]) | u32::from(a[1]) << 8 | u32::from(a[2]) << 16;
        let (last, btype, size) = (h & 1 == 1, (h >> 1) & 3, u64::from(h >> 3));
        let fs = self.frame.as_mut().expect("in a frame");
        let f = &mut fs.feed;
        f.block_start = at;
        if btype == 3 || size > 128 << 10 {
            f.unbounded = true;
            return Ok(u64::MAX);
        }
        f.limit = at + 3 + if btype == 1 { 1 } else { size };
        if last {
            f.last = true;
            f.limit += if f.checksum { 4 } else { 0 };
        }
        Ok(f.limit)
    }

    /// Parses complete records out of the decompressed bytes; `Some((why, record number))` on
    /// the first bad one.
    fn parse_records(
        &mut self,
        out: &mut impl RecordSink,
        streams: &mut Vec<String>,
    ) -> Option<(String, u64)> {
        let fs = self.frame.as_mut().expect("in a frame");
        let mut p = fs.pending_start;
        let buf = &fs.pending;
        let mut bad = None;
        let mut count = 0u64;
        while buf.len() - p >= 8 {
            let len = format::le_u32(buf, p);
            if len > format::MAX_PAYLOAD {
                bad = Some(("record length out of range".to_string(), count));
                break;
            }
            let len = len as usize;
            if buf.len() - p - 8 < len {
                break;
            }
            let want = format::le_u32(buf, p + 4);
            let payload = &buf[p + 8..p + 8 + len];
            let got = format::record_crc(len as u32, payload);
            if got != want {
                bad = Some(("record checksum mismatch".to_string(), fs.records));
                break;
            }
            match format::decode_payload(payload) {
                None => {
                    bad = Some(("record does not decode".to_string(), fs.records));
                    break;
                }
                Some(Payload::StreamDef { id, name }) => {
                    let i = usize::from(id);
                    if streams.len() <= i {
                        streams.resize(i + 1, String::new());
                    }
                    streams[i] = name;
                    self.stream_defs += 1;
                }
                Some(Payload::Message { delta_ns, stream, raw }) => {
                    fs.prev_ns = fs.prev_ns.wrapping_add(delta_ns as u64);
                    out.message(fs.next_seq, fs.prev_ns, stream, raw);
                    fs.next_seq += 1;
                    fs.records += 1;
                }
                Some(Payload::Control { delta_ns, control }) => {
                    fs.prev_ns = fs.prev_ns.wrapping_add(delta_ns as u64);
                    out.control(fs.next_seq, fs.prev_ns, control);
                    fs.next_seq += 1;
                    fs.records += 1;
                }
                Some(Payload::Unknown) => {}
            }
            p += 8 + len;
            count += 1;
        }
        fs.pending_start = p;
        // Keep the buffer small: drop consumed bytes once they dominate.
        if fs.pending_start > CHUNK && fs.pending_start * 2 > fs.pending.len() {
            fs.pending.drain(..fs.pending_start);
            fs.pending_start = 0;
        }
        bad
    }

    /// Block table for seeking: the index when valid, else a scan of block headers that skips
    /// each zstd frame by walking its block headers (no decompression).
    pub fn block_table(&mut self) -> Result<Vec<(u64, u64)>, LogError> {
        if let Some(ix) = &self.index {
            return Ok(ix.iter().map(|e| (e.offset, e.first_ns)).collect());
        }
        let mut table = Vec::new();
        let f = &self.input.file;
        let len = self.input.len;
        let mut off = 8 + self.file_header_size();
        let mut head = [0u8; 8 + format::BLOCK_HEADER_CONTENT];
        let mut chead = [0u8; 8 + format::COMPACT_BLOCK_HEADER_CONTENT];
        while off + head.len() as u64 <= len {
            f.read_exact_at(&mut head, off).map_err(io(&self.path))?;
            if format::le_u32(&head, 0) == format::MAGIC_COMPACT_BLOCK {
                // A compact block states its frame's length: no walk needed.
                if read_at_most(f, off, &mut chead).map_err(io(&self.path))? < chead.len() {
                    break;
                }
                let Some(h) = format::decode_compact_block_header(&chead[8..]) else { break };
                table.push((off, h.block.first_ns));
                off += chead.len() as u64 + u64::from(h.frame_len);
                continue;
            }
            if format::le_u32(&head, 0) != format::MAGIC_BLOCK_HEADER {
                break;
            }
            let Some(bh) = format::decode_block_header(&head[8..]) else { break };
            table.push((off, bh.first_ns));
            // Walk the zstd frame block by block.
            let mut pos = off + head.len() as u64;
            let mut fh = [0u8; 18];
            let got = read_at_most(f, pos, &mut fh).map_err(io(&self.path))?;
            let Some(hdr_len) = zstd_frame_header_len(&fh[..got]) else { break };
            let checksum = fh[4] & 4 != 0;
            pos += hdr_len as u64;
            loop {
                let mut bhd = [0u8; 3];
                if read_at_most(f, pos, &mut bhd).map_err(io(&self.path))? < 3 {
                    return Ok(table);
                }
                let h = u32::from(bhd[0]) | u32::from(bhd[1]) << 8 | u32::from(bhd[2]) << 16;
                let size = if (h >> 1) & 3 == 1 { 1 } else { u64::from(h >> 3) };
                pos += 3 + size;
                if h & 1 == 1 {
                    break;
                }
            }
            off = pos + if checksum { 4 } else { 0 };
        }
        Ok(table)
    }

    fn file_header_size(&self) -> u64 {
        // content = 24 fixed bytes + header msgpack + crc
        24 + self.file_header.header_msgpack.len() as u64 + 4
    }
}

/// A valid compact block header frame starts `a` (for resynchronising after damage).
fn is_compact_block_header(a: &[u8]) -> bool {
    let need = 8 + format::COMPACT_BLOCK_HEADER_CONTENT;
    a.len() >= need
        && format::le_u32(a, 0) == format::MAGIC_COMPACT_BLOCK
        && format::le_u32(a, 4) as usize == format::COMPACT_BLOCK_HEADER_CONTENT
        && format::decode_compact_block_header(&a[8..need]).is_some()
}

fn read_at_most(f: &File, at: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], at + got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Length of a zstd frame header (magic through frame content size).
fn zstd_frame_header_len(b: &[u8]) -> Option<usize> {
    if b.len() < 5 || format::le_u32(b, 0) != format::ZSTD_MAGIC {
        return None;
    }
    let fhd = b[4];
    let single = (fhd >> 5) & 1 == 1;
    let dict_len = [0usize, 1, 2, 4][usize::from(fhd & 3)];
    let fcs_len = match fhd >> 6 {
        0 => usize::from(single),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    Some(5 + usize::from(!single) + dict_len + fcs_len)
}

/// The log files of a recording in time order: a directory's `*.ptlog` and `*.ptlog.part`
/// files sorted by name, or a single file.
/// The recording header inside a damaged header frame's content, if its fields still decode.
/// The CRC is not checked: the caller reports the damage.
fn lenient_header(content: &[u8]) -> Option<Header> {
    if content.len() < 28 {
        return None;
    }
    let body = &content[..content.len() - 4];
    let n = format::le_u32(body, 20) as usize;
    let by_length = body.get(24..24usize.saturating_add(n)).and_then(|h| rmp_serde::from_slice(h).ok());
    // The length field itself may be what is damaged: the map then fills the rest of the frame.
    by_length.or_else(|| rmp_serde::from_slice(&body[24..]).ok())
}

fn named_as_log_file(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".ptlog") || name.ends_with(".ptlog.part")
}

/// A file's index from its name (`YYYYMMDDTHH-NNNNNN.ptlog[.part]`, see `writer::file_name`).
pub(crate) fn file_index_from_name(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".part").unwrap_or(name).strip_suffix(".ptlog")?;
    stem.rsplit('-').next()?.parse().ok()
}

/// The recording's header: that of the first file whose own header is intact (a damaged
/// header is then read with it, see [`FileReader::open_with`]).
pub(crate) fn recording_header(files: &[PathBuf]) -> Option<Header> {
    files.iter().find_map(|f| FileReader::open(f, &mut Vec::new()).ok().map(|r| r.header))
}

pub fn recording_files(path: &Path) -> Result<Vec<PathBuf>, LogError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for e in std::fs::read_dir(path).map_err(io(path))? {
        let e = e.map_err(io(path))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if (name.ends_with(".ptlog") || name.ends_with(".ptlog.part")) && e.path().is_file() {
            files.push(e.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(LogError::NotARecording { path: path.to_path_buf() });
    }
    Ok(files)
}
