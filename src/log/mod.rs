//! The recording log: an append-only, compressed, checksummed, rotated journal of raw feed
//! messages and control records. See `docs/FORMAT.md` for the byte layout.
//!
//! This module is the public API used by every other part (importers, synth, recorder,
//! replay's output journal): [`LogWriter`] (synchronous), [`ThreadedWriter`] (a writer thread
//! behind a bounded channel, for live capture) and [`LogReader`].

pub mod ahead;
pub mod batch_writer;
pub mod compact;
pub mod format;
pub mod import;
pub mod lock;
pub mod read_ahead;
pub mod reader;
pub mod record;
pub mod repair;
pub mod threaded;
pub mod writer;

pub use ahead::{Ahead, ReadAhead, RecordWork};
pub use reader::{Issue, IssueKind};
pub use record::{Body, BodyRef, Control, Header, Record, RecordRef};
pub use threaded::{Backpressure, ThreadedWriter, WriterStats};
pub use writer::LogWriter;

use reader::FileReader;
use std::collections::VecDeque;

use std::path::{Path, PathBuf};

/// Errors of the log layer. Every variant names the file (and byte offset where it applies).
#[derive(Debug)]
pub enum LogError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file exists already: recordings are never overwritten.
    Exists {
        path: PathBuf,
    },
    /// A format major version this build cannot read.
    UnsupportedVersion {
        path: PathBuf,
        major: u16,
        minor: u16,
    },
    /// Not a recording at all (bad magic).
    NotARecording {
        path: PathBuf,
    },
    /// Corruption found in strict mode.
    Corrupt {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    /// The writer thread has stopped (after an I/O error, reported separately).
    WriterGone,
    /// An input refused before anything was written (e.g. a capture of an unsupported venue).
    Refused {
        reason: String,
    },
    /// Another writer holds the recording's lock (a recorder is writing it).
    Locked {
        path: PathBuf,
        pid: Option<u32>,
    },
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LogError::Exists { path } => write!(
                f,
                "{} exists already: recordings are never overwritten; choose another --out",
                path.display()
            ),
            LogError::UnsupportedVersion { path, major, minor } => write!(
                f,
                "{}: format version {major}.{minor} is newer than this build reads; upgrade paper_trader",
                path.display()
            ),
            LogError::NotARecording { path } => {
                write!(f, "{}: not a paper_trader recording (bad magic)", path.display())
            }
            LogError::Corrupt { path, offset, detail } => {
                write!(f, "{} at byte {offset}: {detail}", path.display())
            }
            LogError::WriterGone => write!(f, "the log writer thread has stopped"),
            LogError::Refused { reason } => write!(f, "{reason}"),
            LogError::Locked { path, pid } => {
                let who = pid.map_or_else(|| "another process".to_owned(), |p| format!("process {p}"));
                write!(
                    f,
                    "{} is being written by {who}, which holds its lock; wait for it to finish (or stop it) first",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for LogError {}

/// Options of a [`LogWriter`].
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Flush (and fsync) when the receive time has advanced this far since the last flush.
    pub flush_interval_ns: u64,
    /// Start a new file past this many compressed bytes.
    pub rotate_bytes: u64,
    /// Start a new file at each UTC hour boundary of receive time.
    pub rotate_hourly: bool,
    pub zstd_level: i32,
    /// fdatasync at each flush (off only for tests and benchmarks that say so).
    pub fsync: bool,
    /// End the current zstd frame (block) at the first flush past this many uncompressed
    /// bytes. Larger blocks compress better; a block is the unit of seeking and the most a
    /// single corrupted byte can make unreadable.
    pub block_bytes: u64,
    /// Compact blocks (format 1.1, for `compact`): one CRC-32C per block instead of one per
    /// record, every flush ends the block, and zstd uses long-distance matching over a 16 MiB
    /// window. Blocks end past `block_bytes`, which must not exceed
    /// [`format::MAX_COMPACT_BLOCK`].
    pub compact: bool,
    /// zstd's window (log2 bytes) for ordinary blocks; 0 keeps the level's own (19 at level
    /// 1). A window that holds a whole block keeps the streaming compressor out of its
    /// external-dictionary path (the window wrapping around its buffer), at the cost of that
    /// much memory in the writer and in a reader of the file. Compact blocks set their own.
    pub window_log: u32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            flush_interval_ns: 1_000_000_000,
            rotate_bytes: 256 << 20,
            rotate_hourly: true,
            zstd_level: 6,
            fsync: true,
            block_bytes: 4 << 20,
            compact: false,
            window_log: 0,
        }
    }
}

/// Overall integrity of what was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Intact,
    TornTail,
    Corrupt,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Intact => "intact",
            Status::TornTail => "torn_tail",
            Status::Corrupt => "corrupt",
        }
    }
}

/// Reads a recording (a directory of log files, or one file) in order, tolerating a torn tail
/// and skipping past corruption; what it skipped is in [`LogReader::issues`]. In strict mode
/// ([`LogReader::open_strict`]) it stops at the first issue instead.
pub struct LogReader {
    path: PathBuf,
    files: Vec<PathBuf>,
    header: Header,
    streams: Vec<String>,
    /// Stream definitions decoded into `streams` so far ([`LogReader::stream_defs`]).
    stream_defs: u64,
    next_file: usize,
    cur: Option<FileReader>,
    /// Whether the current file is read from its start (so its index can be checked).
    cur_from_start: bool,
    /// Records decoded and not yet handed out (their message bytes in the arena).
    queue: Decoded,
    /// The record [`LogReader::next_ref`] handed out last (its control, when one, lives here).
    current: Option<Slot>,
    issues: Vec<Issue>,
    strict: bool,
    stopped: bool,
    /// After a seek: records before this time are skipped.
    min_ns: Option<u64>,
    /// Per-file facts gathered while reading (for `inspect`).
    file_stats: Vec<FileStats>,
}

/// A decoded record waiting in the reader: a message's bytes are a range of the arena.
#[derive(Debug)]
struct Slot {
    seq: u64,
    recv_ns: u64,
    stream: u16,
    body: SlotBody,
}

#[derive(Debug)]
enum SlotBody {
    /// Bytes in the arena (decoded for [`LogReader::next_ref`]).
    Message {
        start: usize,
        end: usize,
    },
    /// Bytes of their own (decoded for [`LogReader::next_record`], which hands them over
    /// without a second copy).
    Owned(Vec<u8>),
    Control(Control),
}

/// The reader's queue of decoded records. For borrowed reading, one arena holds the message
/// bytes of everything decoded by one step (cleared once all of it is handed out), so reading
/// allocates nothing per record; for owned reading each message gets its own vector at once.
/// Which one a step decodes into follows the call that asked for it; each slot says which it
/// holds, so the two calls may be mixed.
#[derive(Debug, Default)]
struct Decoded {
    slots: VecDeque<Slot>,
    arena: Vec<u8>,
    owned: bool,
}

impl Decoded {
    fn clear(&mut self) {
        self.slots.clear();
        self.arena.clear();
    }
}

impl reader::RecordSink for Decoded {
    fn message(&mut self, seq: u64, recv_ns: u64, stream: u16, raw: &[u8]) {
        let body = if self.owned {
            SlotBody::Owned(raw.to_vec())
        } else {
            let start = self.arena.len();
            self.arena.extend_from_slice(raw);
            SlotBody::Message { start, end: self.arena.len() }
        };
        self.slots.push_back(Slot { seq, recv_ns, stream, body });
    }
    fn control(&mut self, seq: u64, recv_ns: u64, control: Control) {
        let stream = format::CONTROL_STREAM;
        self.slots.push_back(Slot { seq, recv_ns, stream, body: SlotBody::Control(control) });
    }
}

/// A stream id's name in `streams` (`unknown` for an id the table lacks).
pub(crate) fn stream_name_in(streams: &[String], stream: u16) -> &str {
    streams.get(usize::from(stream)).map_or("unknown", String::as_str)
}

/// What the reader learned about one file.
#[derive(Clone, Debug, Default)]
pub struct FileStats {
    pub path: PathBuf,
    pub compressed_bytes: u64,
    pub blocks: u64,
    pub closed: bool,
}

impl LogReader {
    pub fn open(path: &Path) -> Result<LogReader, LogError> {
        let files = reader::recording_files(path)?;
        let mut issues = Vec::new();
        // The header comes from the first file whose own header is intact; a file before it
        // whose header is damaged is read with it, and a first file torn at creation is
        // reported and skipped.
        let recording_header = reader::recording_header(&files);
        let mut first = None;
        let mut first_err = None;
        for (i, f) in files.iter().enumerate() {
            match FileReader::open_with(f, &mut issues, recording_header.as_ref()) {
                Ok(r) => {
                    first = Some((i, r));
                    break;
                }
                Err(
                    e @ (LogError::UnsupportedVersion { .. }
                    | LogError::NotARecording { .. }
                    | LogError::Io { .. }),
                ) => return Err(e),
                Err(e) => {
                    issues.push(open_issue(f, &e, i + 1 == files.len()));
                    first_err.get_or_insert(e);
                }
            }
        }
        let (next_file, header, cur) = match first {
            Some((i, r)) => (i + 1, r.header.clone(), Some(r)),
            // No file's header is readable (a recorder killed right after creating its only
            // file, or damaged headers): a torn or corrupt recording with no records, which
            // `verify` reports as such and `repair` turns into a valid empty one.
            None if !issues.is_empty() => (files.len(), Header::default(), None),
            None => return Err(first_err.unwrap_or(LogError::NotARecording { path: path.to_path_buf() })),
        };
        Ok(LogReader {
            path: path.to_path_buf(),
            header,
            files,
            streams: vec![format::CONTROL_STREAM_NAME.to_owned()],
            stream_defs: 0,
            next_file,
            cur,
            cur_from_start: true,
            queue: Decoded::default(),
            current: None,
            issues,
            strict: false,
            stopped: false,
            min_ns: None,
            file_stats: Vec::new(),
        })
    }

    /// Like [`LogReader::open`], but iteration stops at the first torn tail or corruption
    /// (see [`LogReader::try_next`] for the error).
    pub fn open_strict(path: &Path) -> Result<LogReader, LogError> {
        let mut r = LogReader::open(path)?;
        r.strict = true;
        if !r.issues.is_empty() {
            r.stopped = true;
        }
        Ok(r)
    }

    /// The header of the first file.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The recording's files in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Positions the reader at the first record with `recv_ns >= t` (via the block index).
    pub fn seek_time(&mut self, t: u64) -> Result<(), LogError> {
        self.queue.clear();
        self.current = None;
        self.stopped = false;
        // Last block (across files, in order) starting strictly before t: every record of
        // the blocks before it is older than t.
        let mut target: Option<(usize, u64)> = None;
        'files: for (i, path) in self.files.iter().enumerate() {
            let mut scratch = Vec::new();
            let Ok(mut fr) = FileReader::open_with(path, &mut scratch, Some(&self.header)) else { continue };
            for (off, first_ns) in fr.block_table()? {
                if first_ns >= t {
                    break 'files;
                }
                target = Some((i, off));
            }
        }
        let (i, off) = target.unwrap_or((0, 0));
        let mut scratch = Vec::new();
        let mut fr = FileReader::open_with(&self.files[i], &mut scratch, Some(&self.header))?;
        if off > 0 {
            fr.seek_block(off)?;
        }
        self.cur = Some(fr);
        self.cur_from_start = off == 0;
        self.next_file = i + 1;
        self.min_ns = Some(t);
        Ok(())
    }

    /// The next record (message or control), `None` at the end of the recording.
    pub fn next_record(&mut self) -> Option<Record> {
        self.queue.owned = true;
        let slot = self.next_slot()?;
        let body = match slot.body {
            SlotBody::Message { start, end } => Body::Message(self.queue.arena[start..end].to_vec()),
            SlotBody::Owned(raw) => Body::Message(raw),
            SlotBody::Control(c) => Body::Control(c),
        };
        Some(Record { seq: slot.seq, recv_ns: slot.recv_ns, stream: slot.stream, body })
    }

    /// [`LogReader::next_record`] without allocating: the record borrows the reader's buffers
    /// until the next call. The same records in the same order, with the same issues met.
    pub fn next_ref(&mut self) -> Option<RecordRef<'_>> {
        self.queue.owned = false;
        let slot = self.next_slot()?;
        let slot = self.current.insert(slot);
        let body = match &slot.body {
            SlotBody::Message { start, end } => BodyRef::Message(&self.queue.arena[*start..*end]),
            SlotBody::Owned(raw) => BodyRef::Message(raw),
            SlotBody::Control(c) => BodyRef::Control(c),
        };
        let stream_name = stream_name_in(&self.streams, slot.stream);
        Some(RecordRef { seq: slot.seq, recv_ns: slot.recv_ns, stream: slot.stream, stream_name, body })
    }

    fn next_slot(&mut self) -> Option<Slot> {
        loop {
            if let Some(r) = self.queue.slots.pop_front() {
                if let Some(t) = self.min_ns {
                    if r.recv_ns < t {
                        continue;
                    }
                    self.min_ns = None;
                }
                return Some(r);
            }
            // In strict mode, records decoded before an issue are handed out, then nothing.
            if self.stopped || (self.strict && !self.issues.is_empty()) {
                self.stopped = true;
                return None;
            }
            // Every record decoded so far is handed out: their bytes may go.
            self.queue.arena.clear();
            if !self.advance() {
                self.stopped = true;
            }
        }
    }

    /// Strict iteration: the next record, `Ok(None)` at the end, or the first issue as an error.
    pub fn try_next(&mut self) -> Result<Option<Record>, LogError> {
        let r = self.next_record();
        if r.is_none() {
            if let Some(i) = self.issues.first() {
                return Err(LogError::Corrupt {
                    path: i.path.clone(),
                    offset: i.offset,
                    detail: i.detail.clone(),
                });
            }
        }
        Ok(r)
    }

    /// The name of a record's stream.
    pub fn stream_name(&self, stream: u16) -> &str {
        stream_name_in(&self.streams, stream)
    }

    /// Every stream name defined so far, by id (id 0 is `control`).
    pub fn stream_names(&self) -> &[String] {
        &self.streams
    }

    /// How many stream definitions were decoded so far: [`LogReader::stream_names`] can
    /// differ from what it was only when this number moved, so a consumer that follows the
    /// table compares a number after every record instead of the table.
    pub fn stream_defs(&self) -> u64 {
        self.stream_defs
    }

    /// Torn tails and corruption met so far, with file and byte offset.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The worst of the issues met so far.
    pub fn status(&self) -> Status {
        self.issues.iter().fold(Status::Intact, |s, i| {
            s.max(match i.kind {
                IssueKind::TornTail => Status::TornTail,
                IssueKind::Corrupt => Status::Corrupt,
            })
        })
    }

    /// Facts about each file read to its end so far.
    pub fn file_stats(&self) -> &[FileStats] {
        &self.file_stats
    }

    /// The recording's path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Decodes more; false when the recording is exhausted.
    fn advance(&mut self) -> bool {
        let more = match self.cur.as_mut() {
            Some(fr) => {
                let more = fr.step(&mut self.queue, &mut self.streams, &mut self.issues);
                self.stream_defs += std::mem::take(&mut fr.stream_defs);
                more
            }
            None => false,
        };
        if more {
            return true;
        }
        self.finish_file();
        self.open_next_file()
    }

    /// Checks a file read from its start against its index and records its facts.
    fn finish_file(&mut self) {
        let Some(fr) = self.cur.take() else { return };
        if self.cur_from_start {
            if let Some(ix) = &fr.index {
                if ix != &fr.blocks_seen && !self.issues.iter().any(|i| i.path == fr.path) {
                    let detail = format!(
                        "index lists {} blocks of {} records, the data holds {} blocks of {} records",
                        ix.len(),
                        ix.iter().map(|e| e.records).sum::<u64>(),
                        fr.blocks_seen.len(),
                        fr.blocks_seen.iter().map(|e| e.records).sum::<u64>()
                    );
                    let offset = fr.trailer.map_or(0, |t| t.index_offset);
                    self.issues.push(Issue {
                        path: fr.path.clone(),
                        offset,
                        kind: IssueKind::Corrupt,
                        detail,
                    });
                }
            }
            self.file_stats.push(FileStats {
                path: fr.path.clone(),
                compressed_bytes: fr.compressed_bytes,
                blocks: fr.blocks_seen.len() as u64,
                closed: fr.trailer.is_some(),
            });
        }
    }

    fn open_next_file(&mut self) -> bool {
        while self.next_file < self.files.len() {
            let i = self.next_file;
            self.next_file += 1;
            let path = self.files[i].clone();
            match FileReader::open_with(&path, &mut self.issues, Some(&self.header)) {
                Ok(fr) => {
                    self.cur = Some(fr);
                    self.cur_from_start = true;
                    return true;
                }
                Err(e) => {
                    let last = i + 1 == self.files.len();
                    self.issues.push(open_issue(&path, &e, last));
                }
            }
        }
        false
    }
}

/// A file that cannot be opened, as an issue: a last file cut inside its header is a torn
/// tail (a crash right after creation); anything else is corruption.
fn open_issue(path: &Path, e: &LogError, last: bool) -> Issue {
    let torn = last && matches!(e, LogError::Corrupt { detail, .. } if detail.contains("torn at creation"));
    let offset = match e {
        LogError::Corrupt { offset, .. } => *offset,
        _ => 0,
    };
    Issue {
        path: path.to_path_buf(),
        offset,
        kind: if torn { IssueKind::TornTail } else { IssueKind::Corrupt },
        detail: e.to_string(),
    }
}

impl Iterator for LogReader {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        self.next_record()
    }
}
