//! The synchronous writer: records in, compressed checksummed blocks out.
//!
//! Everything written is a function of the records and the options alone (no wall-clock time,
//! no randomness), so the same records give byte-identical files.

use super::format::{self, BlockHeader, FileHeader, IndexEntry, Trailer};
use super::{Control, Header, LogError, WriterOptions};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const NS_PER_HOUR: u64 = 3_600_000_000_000;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io { path: path.to_path_buf(), source }
}

/// `20250126T19-000001.ptlog`: UTC date and hour of the file's first record, then the file's
/// number in the recording, so `ls` sorts files in time order.
pub fn file_name(first_ns: u64, file_index: u32) -> String {
    let t = crate::settings::format_rfc3339(first_ns);
    // t = YYYY-MM-DDTHH:...
    format!("{}{}{}T{}-{:06}.ptlog", &t[0..4], &t[5..7], &t[8..10], &t[11..13], file_index)
}

pub const PART_SUFFIX: &str = ".part";

/// Syncs a directory so that a created or renamed entry survives power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// Framed records staged before they go to the block's compressor ([`LogWriter`]'s `staged`).
const STAGED: usize = 32 << 10;

/// Hands the staged records to the open block's compressor.
fn hand_over(staged: &mut Vec<u8>, b: &mut OpenBlock, path: &Path) -> Result<(), LogError> {
    if !staged.is_empty() {
        b.encoder.write_all(staged).map_err(io_err(path))?;
        staged.clear();
    }
    Ok(())
}

struct OpenBlock {
    encoder: zstd::stream::write::Encoder<'static, Vec<u8>>,
    entry: IndexEntry,
    raw_bytes: u64,
    prev_ns: u64,
    /// Compact blocks: where the header sits in `LogWriter::out` (patched when the block
    /// ends, with the length and CRC-32C of everything written into it).
    compact: Option<(usize, BlockHeader, u32)>,
}

struct OpenFile {
    file: File,
    part_path: PathBuf,
    final_path: PathBuf,
    hour: u64,
    /// Bytes already written to the file.
    written: u64,
    index: Vec<IndexEntry>,
    block: Option<OpenBlock>,
    trailer: Trailer,
}

/// Writes a recording directory. Synchronous; see [`super::ThreadedWriter`] for the recorder
/// thread.
pub struct LogWriter {
    dir: PathBuf,
    opts: WriterOptions,
    header_msgpack: Vec<u8>,
    /// Stream names by id; id 0 is the control stream.
    streams: Vec<String>,
    stream_ids: BTreeMap<String, u16>,
    next_seq: u64,
    next_file_index: u32,
    last_ns: u64,
    file: Option<OpenFile>,
    /// Bytes produced but not yet written: one `write_all` per flush.
    out: Vec<u8>,
    /// Receive time of the oldest record not yet flushed.
    unflushed_since: Option<u64>,
    payload: Vec<u8>,
    /// Framed records of the open block not yet handed to its compressor: they go in
    /// `STAGED` bytes at a time, and before every flush and block end. zstd's streaming
    /// output depends on the bytes and the flush points, not on how the input is cut; a call
    /// per record was ~1% of a replay's CPU in the output journal (~100 bytes a record).
    staged: Vec<u8>,
    closed: bool,
    files_written: Vec<PathBuf>,
    /// The UTC hour (since the epoch) of the latest file's name.
    last_file_hour: u64,
    /// Held for the writer's life: `repair` and other writers refuse while it is.
    _lock: super::lock::RecordingLock,
}

impl LogWriter {
    /// Creates the directory (which must not exist or be empty) and its first file lazily.
    pub fn create(dir: &Path, header: Header, opts: WriterOptions) -> Result<LogWriter, LogError> {
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(io_err(dir))?;
            if entries.next().is_some() {
                return Err(LogError::Exists { path: dir.to_path_buf() });
            }
        } else {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let lock = super::lock::RecordingLock::acquire(dir)?;
        let header_msgpack = rmp_serde::to_vec_named(&header).map_err(|e| LogError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        Ok(LogWriter {
            dir: dir.to_path_buf(),
            opts,
            header_msgpack,
            streams: vec![format::CONTROL_STREAM_NAME.to_owned()],
            stream_ids: BTreeMap::new(),
            next_seq: 0,
            next_file_index: 1,
            last_ns: 0,
            file: None,
            out: Vec::new(),
            unflushed_since: None,
            payload: Vec::new(),
            staged: Vec::new(),
            closed: false,
            files_written: Vec::new(),
            last_file_hour: 0,
            _lock: lock,
        })
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Continues a recording's numbering (for `repair`): the next file gets `file_index`, the
    /// next record `next_seq`, and stream ids are those of `streams` (id = position; id 0 is
    /// the control stream).
    pub(crate) fn continue_numbering(&mut self, file_index: u32, next_seq: u64, streams: &[String]) {
        self.next_file_index = file_index;
        self.next_seq = next_seq;
        self.streams = streams.to_vec();
        if self.streams.is_empty() {
            self.streams.push(format::CONTROL_STREAM_NAME.to_owned());
        }
        self.stream_ids =
            self.streams.iter().enumerate().skip(1).map(|(i, n)| (n.clone(), i as u16)).collect();
    }

    /// Appends a record keeping its sequence number (for `repair`): a jump in sequence numbers
    /// (records lost to corruption) starts a new block, whose header states its first seq.
    pub(crate) fn append_record_as_is(
        &mut self,
        rec: &super::Record,
        stream_name: &str,
    ) -> Result<(), LogError> {
        if rec.seq != self.next_seq {
            if self.file.as_ref().is_some_and(|f| f.block.is_some()) {
                self.flush_and_end_block()?;
            }
            self.next_seq = rec.seq;
        }
        match &rec.body {
            super::Body::Message(raw) => self.append_message(rec.recv_ns, stream_name, raw).map(|_| ()),
            super::Body::Control(c) => self.append_control(rec.recv_ns, c.clone()).map(|_| ()),
        }
    }

    fn flush_and_end_block(&mut self) -> Result<(), LogError> {
        let Some(f) = self.file.as_mut() else { return Ok(()) };
        if let Some(b) = f.block.as_mut() {
            let path = f.part_path.clone();
            hand_over(&mut self.staged, b, &path)?;
            b.encoder.flush().map_err(io_err(&path))?;
            self.out.append(b.encoder.get_mut());
        }
        self.end_block()?;
        self.write_out()?;
        self.unflushed_since = None;
        Ok(())
    }

    /// Closes the current file (index, trailer, rename) without an end record: for `repair`,
    /// which closes files of a recording that did not end cleanly.
    pub(crate) fn close_without_end(mut self) -> Result<Vec<PathBuf>, LogError> {
        self.close_file()?;
        self.closed = true;
        Ok(std::mem::take(&mut self.files_written))
    }

    /// Whether records were appended since the last flush.
    pub fn has_unflushed(&self) -> bool {
        self.unflushed_since.is_some()
    }

    /// Files closed so far (final names).
    pub fn files(&self) -> &[PathBuf] {
        &self.files_written
    }

    /// Appends one raw feed message; returns its sequence number.
    pub fn append_message(&mut self, recv_ns: u64, stream: &str, raw: &[u8]) -> Result<u64, LogError> {
        if raw.len() as u64 > u64::from(format::MAX_PAYLOAD) - 64 {
            return Err(LogError::Corrupt {
                path: self.dir.clone(),
                offset: 0,
                detail: format!("message of {} bytes exceeds the record limit", raw.len()),
            });
        }
        self.before_record(recv_ns)?;
        let id = self.stream_id(stream)?;
        let delta = self.delta(recv_ns);
        self.payload.clear();
        format::encode_message(&mut self.payload, delta, id, raw);
        self.after_record(recv_ns, true)
    }

    /// Appends a control record; returns its sequence number.
    pub fn append_control(&mut self, recv_ns: u64, control: Control) -> Result<u64, LogError> {
        self.before_record(recv_ns)?;
        let delta = self.delta(recv_ns);
        self.payload.clear();
        format::encode_control(&mut self.payload, delta, &control);
        self.after_record(recv_ns, false)
    }

    /// Flushes the compressed stream and syncs it to disk now.
    pub fn flush(&mut self) -> Result<(), LogError> {
        let Some(f) = self.file.as_mut() else { return Ok(()) };
        let path = f.part_path.clone();
        if let Some(b) = f.block.as_mut() {
            if b.compact.is_some() {
                // A compact block's header is only complete when the block ends.
                self.end_block()?;
            } else {
                hand_over(&mut self.staged, b, &path)?;
                b.encoder.flush().map_err(io_err(&path))?;
                self.out.append(b.encoder.get_mut());
                if b.raw_bytes >= self.opts.block_bytes {
                    self.end_block()?;
                }
            }
        }
        self.write_out()?;
        self.unflushed_since = None;
        Ok(())
    }

    /// Flushes (which ends the block) once the open block holds `block_bytes` of records:
    /// for a writer whose `flush_interval_ns` never comes (a replay's output journal), this
    /// is what keeps blocks, the unit of seeking and of damage, bounded. Whether it flushes
    /// depends on the records alone, so the files stay a function of the records.
    pub fn flush_if_block_full(&mut self) -> Result<bool, LogError> {
        let full = self
            .file
            .as_ref()
            .and_then(|f| f.block.as_ref())
            .is_some_and(|b| b.raw_bytes >= self.opts.block_bytes);
        if full {
            self.flush()?;
        }
        Ok(full)
    }

    /// Writes the end record, index and trailer, renames the file from `.part`, syncs.
    pub fn close(mut self) -> Result<(), LogError> {
        self.append_control(self.last_ns, Control::End)?;
        self.close_file()?;
        self.closed = true;
        Ok(())
    }

    fn before_record(&mut self, recv_ns: u64) -> Result<(), LogError> {
        if let Some(f) = &self.file {
            // Only a later hour starts a new file: a receive time stepping back across an hour
            // stays in the current file, so file order always follows record order.
            let new_hour = self.opts.rotate_hourly && recv_ns / NS_PER_HOUR > f.hour;
            let too_big = f.written + self.out.len() as u64 >= self.opts.rotate_bytes;
            if new_hour || too_big {
                self.close_file()?;
            }
        }
        if self.file.is_none() {
            self.open_file(recv_ns)?;
        }
        if self.file.as_ref().is_some_and(|f| f.block.is_none()) {
            self.start_block(recv_ns)?;
        }
        Ok(())
    }

    fn delta(&mut self, recv_ns: u64) -> i64 {
        let b = self.file.as_mut().and_then(|f| f.block.as_mut());
        match b {
            Some(b) => {
                let d = recv_ns.wrapping_sub(b.prev_ns) as i64;
                b.prev_ns = recv_ns;
                d
            }
            None => 0,
        }
    }

    fn stream_id(&mut self, name: &str) -> Result<u16, LogError> {
        if let Some(&id) = self.stream_ids.get(name) {
            return Ok(id);
        }
        let id = u16::try_from(self.streams.len()).map_err(|_| LogError::Corrupt {
            path: self.dir.clone(),
            offset: 0,
            detail: "more than 65535 streams in one recording".into(),
        })?;
        self.streams.push(name.to_owned());
        self.stream_ids.insert(name.to_owned(), id);
        self.payload.clear();
        format::encode_stream_def(&mut self.payload, id, name);
        self.write_payload()?;
        Ok(id)
    }

    fn write_payload(&mut self) -> Result<(), LogError> {
        let f = self.file.as_mut().expect("file open before a record");
        let b = f.block.as_mut().expect("block open before a record");
        let at = self.staged.len();
        match b.compact.as_mut() {
            None => format::frame_record(&mut self.staged, &self.payload),
            Some((_, _, crc)) => {
                format::frame_record_compact(&mut self.staged, &self.payload);
                *crc = crc32c::crc32c_append(*crc, &self.staged[at..]);
            }
        }
        b.raw_bytes += (self.staged.len() - at) as u64;
        if self.staged.len() >= STAGED {
            hand_over(&mut self.staged, b, &f.part_path)?;
        }
        Ok(())
    }

    fn after_record(&mut self, recv_ns: u64, is_message: bool) -> Result<u64, LogError> {
        self.write_payload()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.last_ns = recv_ns;
        let f = self.file.as_mut().expect("file open");
        let b = f.block.as_mut().expect("block open");
        b.entry.records += 1;
        b.entry.last_ns = recv_ns;
        if f.trailer.records == 0 {
            f.trailer.first_ns = recv_ns;
        }
        f.trailer.records += 1;
        f.trailer.messages += u64::from(is_message);
        f.trailer.last_ns = recv_ns;
        let since = *self.unflushed_since.get_or_insert(recv_ns);
        let compact_full = self.opts.compact && b.raw_bytes >= self.opts.block_bytes;
        if compact_full || recv_ns.saturating_sub(since) >= self.opts.flush_interval_ns {
            self.flush()?;
        }
        Ok(seq)
    }

    fn open_file(&mut self, first_ns: u64) -> Result<(), LogError> {
        let file_index = self.next_file_index;
        self.next_file_index += 1;
        // Named by its first record's hour, but never before the previous file's: names sort
        // in record order whatever the receive times do.
        let first_ns = first_ns.max(self.last_file_hour.saturating_mul(NS_PER_HOUR));
        self.last_file_hour = first_ns / NS_PER_HOUR;
        let name = file_name(first_ns, file_index);
        let final_path = self.dir.join(&name);
        let part_path = self.dir.join(format!("{name}{PART_SUFFIX}"));
        if final_path.exists() {
            return Err(LogError::Exists { path: final_path });
        }
        let file = OpenOptions::new().write(true).create_new(true).open(&part_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                LogError::Exists { path: part_path.clone() }
            } else {
                LogError::Io { path: part_path.clone(), source: e }
            }
        })?;
        if self.opts.fsync {
            sync_dir(&self.dir)?;
        }
        let fh = FileHeader {
            major: format::FORMAT_MAJOR,
            minor: if self.opts.compact { format::FORMAT_MINOR_COMPACT } else { format::FORMAT_MINOR },
            file_index,
            first_seq: self.next_seq,
            header_msgpack: self.header_msgpack.clone(),
        };
        format::encode_file_header(&fh, &mut self.out);
        self.file = Some(OpenFile {
            file,
            part_path,
            final_path,
            hour: first_ns / NS_PER_HOUR,
            written: 0,
            index: Vec::new(),
            block: None,
            trailer: Trailer::default(),
        });
        // The header goes to disk (synced) at creation: a recorder killed before its first
        // flush leaves a readable, empty file, never a 0-byte one.
        self.write_out()
    }

    fn start_block(&mut self, first_ns: u64) -> Result<(), LogError> {
        let f = self.file.as_mut().expect("file open");
        let offset = f.written + self.out.len() as u64;
        let bh = BlockHeader { block_index: f.index.len() as u32, first_seq: self.next_seq, first_ns };
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), self.opts.zstd_level)
            .map_err(io_err(&f.part_path))?;
        let compact = if self.opts.compact {
            let at = self.out.len();
            let h = format::CompactBlockHeader { block: bh, raw_len: 0, frame_len: 0, data_crc: 0 };
            format::encode_compact_block_header(&h, &mut self.out);
            // Long-distance matching over the decoder's largest window: feed messages repeat
            // whole key sequences and price ladders far apart. The source size lets zstd size
            // its tables and states it in the frame header.
            let window_log = format::DECODER_WINDOW_LOG_MAX;
            encoder.long_distance_matching(true).map_err(io_err(&f.part_path))?;
            encoder.window_log(window_log).map_err(io_err(&f.part_path))?;
            Some((at, bh, 0u32))
        } else {
            if self.opts.window_log != 0 {
                let log = self.opts.window_log.min(format::DECODER_WINDOW_LOG_MAX);
                encoder.window_log(log).map_err(io_err(&f.part_path))?;
            }
            format::encode_block_header(&bh, &mut self.out);
            None
        };
        f.block = Some(OpenBlock {
            encoder,
            entry: IndexEntry { offset, first_ns, last_ns: first_ns, records: 0, first_seq: self.next_seq },
            raw_bytes: 0,
            prev_ns: first_ns,
            compact,
        });
        // Each block is self-contained: it restates every stream name defined so far, so a
        // reader seeking to it (or resuming after corruption) knows every stream.
        for id in 1..self.streams.len() {
            self.payload.clear();
            format::encode_stream_def(&mut self.payload, id as u16, &self.streams[id]);
            self.write_payload()?;
        }
        Ok(())
    }

    fn end_block(&mut self) -> Result<(), LogError> {
        let Some(f) = self.file.as_mut() else { return Ok(()) };
        if let Some(mut b) = f.block.take() {
            hand_over(&mut self.staged, &mut b, &f.part_path)?;
            let bytes = b.encoder.finish().map_err(io_err(&f.part_path))?;
            if let Some((at, block, data_crc)) = b.compact {
                let hlen = 8 + format::COMPACT_BLOCK_HEADER_CONTENT;
                // Bytes of the frame already flushed into `out` after the header, plus the rest.
                let frame_len = self.out.len() - at - hlen + bytes.len();
                let too_big = |what: &str| LogError::Corrupt {
                    path: f.part_path.clone(),
                    offset: offset_of(f.written, at),
                    detail: format!("compact block {what} larger than 4 GiB"),
                };
                let raw_len = u32::try_from(b.raw_bytes).map_err(|_| too_big("content"))?;
                let frame_len = u32::try_from(frame_len).map_err(|_| too_big("frame"))?;
                let mut h = Vec::with_capacity(hlen);
                let header = format::CompactBlockHeader { block, raw_len, frame_len, data_crc };
                format::encode_compact_block_header(&header, &mut h);
                self.out[at..at + h.len()].copy_from_slice(&h);
            }
            self.out.extend_from_slice(&bytes);
            f.index.push(b.entry);
        }
        Ok(())
    }

    fn write_out(&mut self) -> Result<(), LogError> {
        let Some(f) = self.file.as_mut() else { return Ok(()) };
        if !self.out.is_empty() {
            f.file.write_all(&self.out).map_err(io_err(&f.part_path))?;
            f.written += self.out.len() as u64;
            self.out.clear();
            if self.opts.fsync {
                f.file.sync_data().map_err(io_err(&f.part_path))?;
            }
        }
        Ok(())
    }

    fn close_file(&mut self) -> Result<(), LogError> {
        if self.file.is_none() {
            return Ok(());
        }
        self.end_block()?;
        let f = self.file.as_mut().expect("file open");
        f.trailer.index_offset = f.written + self.out.len() as u64;
        format::encode_index(&f.index, &mut self.out);
        format::encode_trailer(&f.trailer, &mut self.out);
        self.write_out()?;
        let f = self.file.take().expect("file open");
        if self.opts.fsync {
            f.file.sync_all().map_err(io_err(&f.part_path))?;
        }
        drop(f.file);
        std::fs::rename(&f.part_path, &f.final_path).map_err(io_err(&f.final_path))?;
        if self.opts.fsync {
            sync_dir(&self.dir)?;
        }
        self.files_written.push(f.final_path);
        self.unflushed_since = None;
        Ok(())
    }
}

fn offset_of(written: u64, at: usize) -> u64 {
    written + at as u64
}

/// Writes a closed file holding no records (header, empty index, trailer) at `path`, which must
/// not exist: what `repair` leaves of a file that was created but never got a record.
pub(crate) fn write_empty_file(
    path: &Path,
    header: &super::Header,
    file_index: u32,
    first_seq: u64,
) -> Result<(), LogError> {
    let header_msgpack = rmp_serde::to_vec_named(header).map_err(|e| LogError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let fh = FileHeader {
        major: format::FORMAT_MAJOR,
        minor: format::FORMAT_MINOR,
        file_index,
        first_seq,
        header_msgpack,
    };
    let mut out = Vec::new();
    format::encode_file_header(&fh, &mut out);
    let trailer = Trailer { index_offset: out.len() as u64, ..Trailer::default() };
    format::encode_index(&[], &mut out);
    format::encode_trailer(&trailer, &mut out);
    let mut f = OpenOptions::new().write(true).create_new(true).open(path).map_err(io_err(path))?;
    f.write_all(&out).and_then(|()| f.sync_all()).map_err(io_err(path))?;
    Ok(())
}

impl Drop for LogWriter {
    /// A writer dropped without `close` flushes what it has (the file stays `.part`, readable
    /// and repairable) rather than losing up to a second of records.
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.flush();
        }
    }
}
