//! Issue 11 items 1 and 4: the writer's lock on a recording, and a recorder killed in its
//! first second. `verify` and `repair` run as the real binary.

mod log_support;

use log_support::*;
use paper_trader::log::{LogError, LogWriter};
use std::path::Path;
use std::process::{Command, Output};

const T0: u64 = 1_737_918_000_000_000_000;

fn run(args: &[&str], rec: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paper_trader")).args(args).arg(rec).output().unwrap()
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// Postmortem: `repair` moved the `.part` a recorder was writing into `damaged/`; the
/// recorder kept writing into the moved file and the recording was split.
#[test]
fn repair_refuses_a_recording_whose_writer_holds_the_lock_and_names_its_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let mut w = LogWriter::create(&dir, header(), quiet_opts()).unwrap();
    for s in feed(200, T0, 20_000_000, 3) {
        if let Spec::Msg(t, st, raw) = s {
            w.append_message(t, &st, &raw).unwrap();
        }
    }
    w.flush().unwrap();
    let before = files(&dir);
    match paper_trader::log::repair::repair(&dir) {
        Err(LogError::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("repair of a recording being written: {other:?}"),
    }
    let out = run(&["repair"], &dir);
    assert_eq!(code(&out), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("process {}", std::process::id())), "names the writer: {err}");
    assert_eq!(files(&dir), before, "a refused repair touches nothing");
    assert!(!dir.join("damaged").exists());
    // Readers still read the growing recording.
    assert_eq!(code(&run(&["verify"], &dir)), Some(3));
    w.close().unwrap();
    assert_eq!(code(&run(&["verify"], &dir)), Some(0));
    assert!(paper_trader::log::repair::repair(&dir).unwrap().is_empty(), "the lock goes with the writer");
}

/// Postmortem: the header was written only at the first flush, so a recorder killed in its
/// first second left a 0-byte `.part`: `verify` exited 1 and `repair` left "not a recording".
#[test]
fn a_writer_killed_before_its_first_flush_leaves_a_torn_empty_file_that_repair_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let mut w = LogWriter::create(&dir, header(), quiet_opts()).unwrap();
    w.append_message(T0, "l2Book:BTC", b"{}").unwrap();
    // What kill -9 leaves: nothing of the writer's state reaches the disk after this point.
    std::mem::forget(w);
    let f = files(&dir)[0].clone();
    assert!(std::fs::metadata(&f).unwrap().len() > 0, "the header is on disk at creation");
    // The forgotten writer still holds the lock (its descriptor lives on in this process); a
    // killed one would not: look at what is on disk from another directory.
    let disk = tmp.path().join("after-kill");
    std::fs::create_dir(&disk).unwrap();
    std::fs::copy(&f, disk.join(f.file_name().unwrap())).unwrap();
    early_kill_cycle(&disk);
}

#[test]
fn a_zero_byte_part_file_is_a_torn_empty_recording() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("20250126T19-000001.ptlog.part"), b"").unwrap();
    early_kill_cycle(&dir);
}

/// verify says torn (3), repair succeeds and leaves a valid recording, verify says intact.
fn early_kill_cycle(dir: &Path) {
    let v = run(&["verify"], dir);
    assert_eq!(code(&v), Some(3), "{}", String::from_utf8_lossy(&v.stderr));
    let r = run(&["repair"], dir);
    assert_eq!(code(&r), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    let v = run(&["verify"], dir);
    assert_eq!(code(&v), Some(0), "after repair: {}", String::from_utf8_lossy(&v.stderr));
    assert!(dir.join("damaged").read_dir().unwrap().count() == 1, "the original is kept aside");
}
