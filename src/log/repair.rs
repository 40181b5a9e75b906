//! `repair`: rewrites each unfinished, torn or corrupt file of a recording as a closed, intact
//! file holding every record that could be read (same receive times, streams and sequence
//! numbers), and moves the original aside into `damaged/`, so no byte is ever lost.

use super::reader::{recording_files, FileReader, Issue};
use super::writer::{io_err, write_empty_file, PART_SUFFIX};
use super::{Header, LogError, LogWriter, Record, WriterOptions};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// What `repair` did to one file.
#[derive(Clone, Debug)]
pub struct Repaired {
    pub original: PathBuf,
    /// Where the original now lies.
    pub moved_to: PathBuf,
    /// The rewritten file (none when nothing in it was readable).
    pub rewritten: Option<PathBuf>,
    pub records: u64,
    pub issues: Vec<Issue>,
}

/// One file read to its end: its reader (none if even its header is unreadable), records and
/// issues.
type FileContents = (Option<FileReader>, Vec<Record>, Vec<Issue>);

/// Reads one file to its end, updating the stream table.
fn read_file(
    path: &Path,
    streams: &mut Vec<String>,
    header: Option<&Header>,
) -> Result<FileContents, LogError> {
    let mut issues = Vec::new();
    let mut fr = match FileReader::open_with(path, &mut issues, header) {
        Ok(fr) => fr,
        Err(
            e @ (LogError::Io { .. } | LogError::UnsupportedVersion { .. } | LogError::NotARecording { .. }),
        ) => return Err(e),
        Err(e) => {
            let offset = match &e {
                LogError::Corrupt { offset, .. } => *offset,
                _ => 0,
            };
            let kind = super::IssueKind::TornTail;
            issues.push(Issue { path: path.to_path_buf(), offset, kind, detail: e.to_string() });
            return Ok((None, Vec::new(), issues));
        }
    };
    let mut q = VecDeque::new();
    while fr.step(&mut q, streams, &mut issues) {}
    if let Some(ix) = &fr.index {
        if ix != &fr.blocks_seen && issues.is_empty() {
            issues.push(Issue {
                path: path.to_path_buf(),
                offset: fr.trailer.map_or(0, |t| t.index_offset),
                kind: super::IssueKind::Corrupt,
                detail: "index does not match the blocks".into(),
            });
        }
    }
    Ok((Some(fr), q.into_iter().collect(), issues))
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

/// Repairs the recording at `path` (a directory or one file); returns what it changed.
pub fn repair(path: &Path) -> Result<Vec<Repaired>, LogError> {
    // Moving a file a recorder is still writing would split the recording: refuse while the
    // writer's lock is held, and hold it ourselves so no writer starts meanwhile.
    let _lock = super::lock::RecordingLock::acquire(&super::lock::lock_dir(path))?;
    let files = recording_files(path)?;
    let only_file = files.len() == 1;
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let mut streams = vec![super::format::CONTROL_STREAM_NAME.to_owned()];
    // A file whose own header is damaged is rewritten with the recording's header.
    let recording_header = super::reader::recording_header(&files);
    let mut done = Vec::new();
    for file in files {
        let streams_before = streams.clone();
        let (fr, records, issues) = read_file(&file, &mut streams, recording_header.as_ref())?;
        let unfinished =
            file.to_string_lossy().ends_with(PART_SUFFIX) || fr.as_ref().is_some_and(|f| f.trailer.is_none());
        if issues.is_empty() && !unfinished {
            continue;
        }
        let aside_dir = dir.join("damaged");
        std::fs::create_dir_all(&aside_dir).map_err(io_err(&aside_dir))?;
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let moved_to = free_path(&aside_dir, &name);
        let rewritten = match &fr {
            Some(fr) if !records.is_empty() => {
                let tmp = free_path(&dir, ".repair-tmp");
                let opts = WriterOptions {
                    rotate_hourly: false,
                    rotate_bytes: u64::MAX,
                    fsync: true,
                    ..WriterOptions::default()
                };
                let mut w = LogWriter::create(&tmp, fr.header.clone(), opts)?;
                w.continue_numbering(fr.file_header.file_index, fr.file_header.first_seq, &streams_before);
                for r in &records {
                    let name = streams.get(usize::from(r.stream)).cloned().unwrap_or_default();
                    w.append_record_as_is(r, &name)?;
                }
                let out = w.close_without_end()?;
                std::fs::rename(&file, &moved_to).map_err(io_err(&file))?;
                let mut finals = Vec::new();
                for f in out {
                    let fname = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let target = free_path(&dir, &fname);
                    std::fs::rename(&f, &target).map_err(io_err(&f))?;
                    finals.push(target);
                }
                std::fs::remove_dir(&tmp).map_err(io_err(&tmp))?;
                finals.into_iter().next()
            }
            _ => {
                std::fs::rename(&file, &moved_to).map_err(io_err(&file))?;
                // A file created but holding no readable record (a recorder killed in its first
                // second) stays in place as a closed, empty file, so the recording remains one.
                let numbering = fr
                    .as_ref()
                    .map(|f| (f.header.clone(), f.file_header.file_index, f.file_header.first_seq));
                let numbering = numbering.or_else(|| {
                    only_file.then(|| {
                        let h = Header { created_by: "repair".into(), ..Header::default() };
                        (h, 1, 0)
                    })
                });
                match numbering {
                    Some((header, file_index, first_seq)) => {
                        let closed = name.strip_suffix(PART_SUFFIX).unwrap_or(&name);
                        let target = free_path(&dir, closed);
                        write_empty_file(&target, &header, file_index, first_seq)?;
                        Some(target)
                    }
                    None => None,
                }
            }
        };
        super::writer::sync_dir(&dir)?;
        done.push(Repaired { original: file, moved_to, rewritten, records: records.len() as u64, issues });
    }
    Ok(done)
}
