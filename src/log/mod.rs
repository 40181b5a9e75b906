//! The recording log: an append-only, compressed, checksummed, rotated journal of raw feed
//! messages and control records. See `docs/FORMAT.md` for the byte layout.
//!
//! This module is the public API used by every other part (importers, synth, recorder,
//! replay's output journal). SKELETON: signatures fixed, bodies being written.

pub mod record;

pub use record::{Body, Control, Header, Record};

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
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            flush_interval_ns: 1_000_000_000,
            rotate_bytes: 256 << 20,
            rotate_hourly: true,
            zstd_level: 6,
            fsync: true,
        }
    }
}

/// Writes a recording directory. Synchronous; see `ThreadedWriter` for the recorder thread.
pub struct LogWriter {
    _dir: PathBuf,
}

impl LogWriter {
    /// Creates the directory (which must not exist or be empty) and its first file lazily.
    pub fn create(dir: &Path, header: Header, opts: WriterOptions) -> Result<LogWriter, LogError> {
        let _ = (header, opts);
        todo!("log: create {}", dir.display())
    }
    /// Appends one raw feed message; returns its sequence number.
    pub fn append_message(&mut self, recv_ns: u64, stream: &str, raw: &[u8]) -> Result<u64, LogError> {
        let _ = (recv_ns, stream, raw);
        todo!()
    }
    /// Appends a control record; returns its sequence number.
    pub fn append_control(&mut self, recv_ns: u64, control: Control) -> Result<u64, LogError> {
        let _ = (recv_ns, control);
        todo!()
    }
    /// Flushes the compressed stream and syncs it to disk now.
    pub fn flush(&mut self) -> Result<(), LogError> {
        todo!()
    }
    /// Writes the end record, index and trailer, renames the file from `.part`, syncs.
    pub fn close(self) -> Result<(), LogError> {
        todo!()
    }
}

/// Reads a recording (a directory of log files, or one file) in order, tolerating a torn tail
/// and skipping past corruption; what it skipped is in [`LogReader::issues`].
pub struct LogReader {
    _path: PathBuf,
}

impl LogReader {
    pub fn open(path: &Path) -> Result<LogReader, LogError> {
        todo!("log: open {}", path.display())
    }
    /// The header of the first file.
    pub fn header(&self) -> &Header {
        todo!()
    }
    /// Positions the reader at the first record with `recv_ns >= t` (via the block index).
    pub fn seek_time(&mut self, t: u64) -> Result<(), LogError> {
        let _ = t;
        todo!()
    }
    /// The next record (message or control), `None` at the end of the recording.
    pub fn next_record(&mut self) -> Option<Record> {
        todo!()
    }
    /// The name of a record's stream.
    pub fn stream_name(&self, stream: u16) -> &str {
        let _ = stream;
        todo!()
    }
}
