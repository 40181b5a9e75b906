//! The writer's lock on a recording: an advisory `flock` on the recording directory itself
//! (no lock file to leave behind or to race on). A writer holds it exclusively for its whole
//! life; `repair` and any other writer take it without waiting and refuse, naming the holder's
//! pid, while it is held. Readers never take it: they may read a growing recording. The kernel
//! drops the lock when the holder exits, however it exits, so a crash never leaves it stale.

use super::LogError;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// An exclusive lock on a recording directory, released when dropped.
#[derive(Debug)]
pub struct RecordingLock {
    _dir: File,
}

impl RecordingLock {
    /// Takes the lock on `dir` without waiting; [`LogError::Locked`] names the holder when
    /// another process (or another writer in this one) holds it.
    pub fn acquire(dir: &Path) -> Result<RecordingLock, LogError> {
        let io = |source| LogError::Io { path: dir.to_path_buf(), source };
        let f = File::open(dir).map_err(io)?;
        // SAFETY: flock on a descriptor this function owns; no memory is shared with the call.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(RecordingLock { _dir: f });
        }
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::WouldBlock {
            let pid = f.metadata().ok().and_then(|m| holder_pid(m.ino()));
            return Err(LogError::Locked { path: dir.to_path_buf(), pid });
        }
        Err(io(e))
    }
}

/// The pid holding a `flock` on inode `ino`, from `/proc/locks` (Linux); `None` when it
/// cannot be told (another system, or the lock went away meanwhile).
fn holder_pid(ino: u64) -> Option<u32> {
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    parse_proc_locks(&text, ino)
}

/// `1: FLOCK  ADVISORY  WRITE 4242 08:01:131090 0 EOF`: the pid of the FLOCK line whose
/// `major:minor:inode` names `ino`.
fn parse_proc_locks(text: &str, ino: u64) -> Option<u32> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let kind = f.get(1)?;
        let (pid, dev_ino) = (f.get(4)?, f.get(5)?);
        let ours = *kind == "FLOCK" && dev_ino.rsplit(':').next()?.parse::<u64>().ok()? == ino;
        ours.then(|| pid.parse().ok()).flatten()
    })
}

/// The directory whose lock guards `path` (a recording directory, or the directory of a file).
pub fn lock_dir(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines_give_the_holder() {
        let text = "1: POSIX  ADVISORY  WRITE 11 08:01:77 0 EOF\n2: FLOCK  ADVISORY  WRITE 4242 08:01:131090 0 EOF\n";
        assert_eq!(parse_proc_locks(text, 131090), Some(4242));
        assert_eq!(parse_proc_locks(text, 77), None, "a POSIX lock is not ours");
        assert_eq!(parse_proc_locks(text, 5), None);
    }
}
