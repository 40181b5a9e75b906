//! `compact`: rewrites each closed file of a recording in compact blocks (format 1.1: zstd
//! level 19 with long-distance matching, large blocks, one CRC-32C per block instead of one
//! per record), verifies the new file record by record against the original, and only then
//! renames it over the original. A file being written (`.part`), a file not closed cleanly, a
//! damaged file (run `repair` first) and a file already compact are left alone.

use super::reader::{recording_files, FileReader, Issue};
use super::writer::{io_err, sync_dir, PART_SUFFIX};
use super::{format, LogError, LogWriter, Record, WriterOptions};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// zstd level of compact blocks (the slow end: a closed file is compacted once).
pub const COMPACT_LEVEL: i32 = 19;
/// Decompressed bytes per compact block: large enough for zstd to find repeats across
/// minutes of messages, small enough that a reader holds one block and a flipped bit costs
/// at most this much.
pub const COMPACT_BLOCK_BYTES: u64 = 8 << 20;
/// Directory where `--keep-original` keeps the originals.
pub const PRECOMPACT_DIR: &str = "precompact";

/// What `compact` did with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Rewritten: sizes before and after.
    Compacted { before: u64, after: u64 },
    /// Left alone, and why.
    Skipped(String),
}

#[derive(Clone, Debug)]
pub struct Compacted {
    pub file: PathBuf,
    pub outcome: Outcome,
}

/// The writer options of a compact file.
pub fn compact_options() -> WriterOptions {
    WriterOptions {
        flush_interval_ns: u64::MAX,
        rotate_bytes: u64::MAX,
        rotate_hourly: false,
        zstd_level: COMPACT_LEVEL,
        fsync: true,
        block_bytes: COMPACT_BLOCK_BYTES,
        compact: true,
        window_log: 0,
    }
}

/// Streams one file's records: the reader, the stream table it builds, and what it found.
struct FileRecords {
    fr: FileReader,
    queue: VecDeque<Record>,
    streams: Vec<String>,
    issues: Vec<Issue>,
    more: bool,
}

impl FileRecords {
    fn open(path: &Path) -> Result<FileRecords, LogError> {
        let mut issues = Vec::new();
        let fr = FileReader::open(path, &mut issues)?;
        let streams = vec![format::CONTROL_STREAM_NAME.to_owned()];
        Ok(FileRecords { fr, queue: VecDeque::new(), streams, issues, more: true })
    }

    fn next(&mut self) -> Option<Record> {
        loop {
            if let Some(r) = self.queue.pop_front() {
                return Some(r);
            }
            if !self.more {
                return None;
            }
            self.more = self.fr.step(&mut self.queue, &mut self.streams, &mut self.issues);
        }
    }

    fn stream(&self, r: &Record) -> &str {
        self.streams.get(usize::from(r.stream)).map_or("", String::as_str)
    }
}

/// Compacts every closed file of the recording at `path` (a directory or one file).
pub fn compact(path: &Path, keep_original: bool) -> Result<Vec<Compacted>, LogError> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let mut done = Vec::new();
    for file in recording_files(path)? {
        let outcome = compact_file(&dir, &file, keep_original)?;
        done.push(Compacted { file, outcome });
    }
    Ok(done)
}

fn skipped(why: &str) -> Result<Outcome, LogError> {
    Ok(Outcome::Skipped(why.to_owned()))
}

fn compact_file(dir: &Path, file: &Path, keep_original: bool) -> Result<Outcome, LogError> {
    if file.to_string_lossy().ends_with(PART_SUFFIX) {
        return skipped("being written (.part)");
    }
    let mut src = FileRecords::open(file)?;
    if src.fr.trailer.is_none() {
        return skipped("not closed cleanly: run `paper_trader repair` first");
    }
    if src.fr.file_header.minor >= format::FORMAT_MINOR_COMPACT {
        return skipped("already compact");
    }
    if !src.issues.is_empty() {
        return skipped("damaged: run `paper_trader repair` first");
    }
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = free_path(dir, ".compact-tmp");
    let result = write_and_verify(&mut src, file, &tmp);
    let new_file = match result {
        Ok(Some(f)) => f,
        Ok(None) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return skipped("damaged: run `paper_trader repair` first");
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let before = std::fs::metadata(file).map_err(io_err(file))?.len();
    let after = std::fs::metadata(&new_file).map_err(io_err(&new_file))?.len();
    if keep_original {
        let aside = dir.join(PRECOMPACT_DIR);
        std::fs::create_dir_all(&aside).map_err(io_err(&aside))?;
        let kept = free_path(&aside, &name);
        // A hard link keeps the original's bytes under precompact/ while the rename below
        // replaces the name atomically: at no moment is the recording missing the file.
        std::fs::hard_link(file, &kept).map_err(io_err(&kept))?;
        sync_dir(&aside)?;
    }
    std::fs::rename(&new_file, file).map_err(io_err(file))?;
    sync_dir(dir)?;
    std::fs::remove_dir(&tmp).map_err(io_err(&tmp))?;
    Ok(Outcome::Compacted { before, after })
}

/// Writes the compact copy of `src` into the new directory `tmp`, then reads it back and
/// compares every record with a second read of the original. `None` when the original turns
/// out to be damaged past its header.
fn write_and_verify(src: &mut FileRecords, file: &Path, tmp: &Path) -> Result<Option<PathBuf>, LogError> {
    let fh = src.fr.file_header.clone();
    let mut w = LogWriter::create(tmp, src.fr.header.clone(), compact_options())?;
    w.continue_numbering(fh.file_index, fh.first_seq, &[]);
    while let Some(r) = src.next() {
        let name = src.stream(&r).to_owned();
        w.append_record_as_is(&r, &name)?;
    }
    if !src.issues.is_empty() {
        return Ok(None);
    }
    let written = w.close_without_end()?;
    let [new_file] = &written[..] else {
        return Err(LogError::Corrupt {
            path: tmp.to_path_buf(),
            offset: 0,
            detail: format!("compacting wrote {} files instead of one", written.len()),
        });
    };
    // Verify: the same records, in the same order, with the same streams, and a clean read.
    let mut a = FileRecords::open(file)?;
    let mut b = FileRecords::open(new_file)?;
    let mismatch = |detail: String| LogError::Corrupt { path: new_file.clone(), offset: 0, detail };
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (Some(x), Some(y)) => {
                // Stream ids are the file's own numbering; the names must match.
                if (x.seq, x.recv_ns, &x.body) != (y.seq, y.recv_ns, &y.body) || a.stream(&x) != b.stream(&y)
                {
                    return Err(mismatch(format!(
                        "verification failed at record {}: not the original's",
                        x.seq
                    )));
                }
            }
            (x, _) => {
                let at = x.map_or_else(|| "the original's end".to_owned(), |r| format!("record {}", r.seq));
                return Err(mismatch(format!("verification failed: the copies differ in length at {at}")));
            }
        }
    }
    if let Some(i) = b.issues.first() {
        return Err(mismatch(format!("verification failed: the compact file reads with an issue: {i}")));
    }
    if b.fr.trailer.is_none() || b.fr.index.as_ref() != Some(&b.fr.blocks_seen) {
        return Err(mismatch("verification failed: the compact file's index or trailer".into()));
    }
    Ok(Some(new_file.clone()))
}

/// A free path `dir/name`, `dir/name.1`, ... (nothing is ever overwritten).
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let mut p = dir.join(name);
    let mut i = 1;
    while p.exists() {
        p = dir.join(format!("{name}.{i}"));
        i += 1;
    }
    p
}
