//! The read-ahead thread (`log::ahead`, issue 16) hands out exactly what a synchronous
//! `LogReader` would: the same records in order, each preceded by the issues met up to it and
//! resolved with the stream names of that moment, then the issues met after the last record;
//! on intact, torn, bit-flipped and multi-file recordings.

mod log_support;

use log_support::*;
use paper_trader::log::{Ahead, Body, LogReader, ReadAhead, WriterOptions};
use std::path::Path;

const T0: u64 = 1_737_918_000_000_000_000;

/// One observation of a consumer: an issue's text, or a record with its stream name.
#[derive(Debug, PartialEq)]
enum Seen {
    Issue(String),
    Record(u64, u64, String, Option<Vec<u8>>),
}

fn sync_steps(path: &Path) -> Vec<Seen> {
    let mut r = LogReader::open(path).unwrap();
    let mut out = Vec::new();
    let mut seen = 0;
    loop {
        let rec = r.next_record();
        out.extend(r.issues()[seen..].iter().map(|i| Seen::Issue(i.to_string())));
        seen = r.issues().len();
        let Some(rec) = rec else { return out };
        let raw = match rec.body {
            Body::Message(m) => Some(m),
            Body::Control(_) => None,
        };
        out.push(Seen::Record(rec.seq, rec.recv_ns, r.stream_name(rec.stream).to_owned(), raw));
    }
}

fn ahead_steps(path: &Path) -> Vec<Seen> {
    let mut a = ReadAhead::spawn(LogReader::open(path).unwrap()).unwrap();
    let mut streams = Vec::new();
    let mut out = Vec::new();
    let mut ended = false;
    while let Some(step) = a.next_step().unwrap() {
        match step {
            Ahead::Issue(i) => out.push(Seen::Issue(i.to_string())),
            Ahead::Streams(s) => streams = s,
            Ahead::Record(rec, ()) => {
                let name = streams.get(usize::from(rec.stream)).map_or("unknown", String::as_str);
                let raw = match &rec.body {
                    Body::Message(m) => Some(m.clone()),
                    Body::Control(_) => None,
                };
                out.push(Seen::Record(rec.seq, rec.recv_ns, name.to_owned(), raw));
                // As replay does: the record's buffers are freed on the reader thread.
                a.give_back(rec, ());
            }
            Ahead::End => ended = true,
        }
    }
    assert!(ended, "no End before the stream stopped");
    assert!(a.next_step().unwrap().is_none(), "steps after the end");
    out
}

/// A recording of several files (rotation by size) and many small blocks.
fn recording(dir: &Path, n: usize) {
    let opts = WriterOptions { block_bytes: 1500, rotate_bytes: 6000, ..quiet_opts() };
    write(dir, &feed(n, T0, 200_000_000, 7), opts);
}

#[test]
fn intact_recording_same_steps() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rec");
    recording(&dir, 3000);
    assert!(files(&dir).len() > 1, "want several files");
    let want = sync_steps(&dir);
    assert!(want.len() >= 3000);
    assert_eq!(ahead_steps(&dir), want);
}

#[test]
fn damaged_recordings_same_steps() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rec");
    recording(&dir, 1500);
    let fs = files(&dir);
    let pristine: Vec<Vec<u8>> = fs.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let mut rng = Rng(11);
    let mut issues = 0;
    for trial in 0..40 {
        let k = (rng.next() as usize) % fs.len();
        let mut bytes = pristine[k].clone();
        if trial % 3 == 0 {
            // A torn tail (the last file) or a truncated middle file.
            let cut = (rng.next() as usize) % bytes.len();
            bytes.truncate(cut);
        } else {
            for _ in 0..1 + trial % 3 {
                let at = (rng.next() as usize) % bytes.len();
                bytes[at] ^= 1 << (rng.next() % 8);
            }
        }
        std::fs::write(&fs[k], &bytes).unwrap();
        let want = sync_steps(&dir);
        issues += want.iter().filter(|s| matches!(s, Seen::Issue(_))).count();
        assert_eq!(ahead_steps(&dir), want, "trial {trial}: file {k}");
        std::fs::write(&fs[k], &pristine[k]).unwrap();
    }
    assert!(issues > 20, "the damage was not seen ({issues} issues)");
}

#[test]
fn consumer_stopping_early_ends_the_thread() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rec");
    recording(&dir, 3000);
    let mut a = ReadAhead::spawn(LogReader::open(&dir).unwrap()).unwrap();
    for _ in 0..10 {
        a.next_step().unwrap();
    }
    // Dropping joins the reader thread, which is blocked on a full channel: must not hang.
    drop(a);
}
