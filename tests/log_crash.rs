//! kill -9 of a real recorder process at random moments, many times: what is read back is an
//! exact prefix of what was sent, missing at most about one second of receive time.
//!
//! The recorder is this test binary re-run as a child in the ignored test `crash_child`: it
//! writes record i at receive time T0 + i ms (1000 records per second of receive time) through
//! a `ThreadedWriter` and prints `sent i` every 100 records. The parent kills it with SIGKILL
//! after a random number of those lines; no one sleeps.

mod log_support;

use log_support::*;
use paper_trader::log::{Backpressure, Body, LogReader, Status, ThreadedWriter, WriterOptions};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const T0: u64 = 1_737_918_000_000_000_000;
const STEP_NS: u64 = 1_000_000;
const CAPACITY: usize = 256;
const ENV_DIR: &str = "PT_LOG_CRASH_CHILD_DIR";

fn payload(i: u64) -> Vec<u8> {
    format!(
        "{{\"channel\":\"l2Book\",\"data\":{{\"coin\":\"BTC\",\"i\":{i},\"px\":\"{}\"}}}}",
        42_000 + i % 97
    )
    .into_bytes()
}

#[test]
#[ignore = "the recorder child process of kill_9_loses_at_most_about_a_second"]
fn crash_child() {
    let dir = std::env::var(ENV_DIR).expect("run by kill_9_loses_at_most_about_a_second only");
    // fsync off: kill -9 loses what the process holds, not the page cache (power loss is what
    // fsync guards against, and no test can cut the power).
    let opts = WriterOptions { fsync: false, ..WriterOptions::default() };
    let w = ThreadedWriter::spawn_with(
        std::path::Path::new(&dir),
        header(),
        opts,
        CAPACITY,
        Backpressure::Block,
        Duration::from_secs(1),
    )
    .expect("spawn");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for i in 0..10_000_000u64 {
        w.append_message(T0 + i * STEP_NS, "l2Book:BTC", payload(i)).expect("append");
        if i % 100 == 99 {
            writeln!(out, "sent {i}").and_then(|()| out.flush()).expect("stdout");
        }
    }
    w.close().expect("close");
}

#[test]
fn kill_9_loses_at_most_about_a_second() {
    let exe = std::env::current_exe().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed);
    let runs = 30;
    let mut runs_with_records = 0;
    for run in 0..runs {
        let dir = tmp.path().join(format!("rec{run}"));
        let kill_after = 1 + rng.below(40);
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", "crash_child", "--nocapture", "--test-threads", "1"])
            .env(ENV_DIR, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut last_sent = None;
        let mut seen = 0;
        while seen < kill_after {
            let Some(line) = lines.next() else { break };
            if let Some(i) = line.unwrap().strip_prefix("sent ").and_then(|s| s.parse::<u64>().ok()) {
                last_sent = Some(i);
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let last_sent = last_sent.expect("the child reported progress");
        let sent_ns = last_sent * STEP_NS;
        let what = format!("run {run} (seed 0x5eed): killed after record {last_sent}");
        let Ok(mut r) = LogReader::open(&dir) else {
            // Killed before the first flush: allowed only within the first second.
            assert!(sent_ns < 1_000_000_000 + CAPACITY as u64 * STEP_NS, "{what}: nothing readable");
            continue;
        };
        let mut n = 0u64;
        while let Some(rec) = r.next_record() {
            assert_eq!(rec.seq, n, "{what}");
            assert_eq!(rec.recv_ns, T0 + n * STEP_NS, "{what}");
            assert_eq!(rec.body, Body::Message(payload(n)), "{what}: record {n} differs");
            n += 1;
        }
        assert_ne!(r.status(), Status::Corrupt, "{what}: {:?}", r.issues());
        runs_with_records += usize::from(n > 0);
        // Lost: at most the unflushed second plus the channel's backlog, with half a second
        // of slack for a loaded machine.
        let recovered_ns = n * STEP_NS;
        let bound_ns = 1_000_000_000 + CAPACITY as u64 * STEP_NS + 500_000_000;
        assert!(
            recovered_ns + bound_ns >= sent_ns,
            "{what}: recovered {n} records ({} ms), sent up to {} ms",
            recovered_ns / 1_000_000,
            sent_ns / 1_000_000
        );
    }
    // Most runs outlive the first flush: the check above is not vacuous.
    assert!(runs_with_records * 2 > runs, "only {runs_with_records} of {runs} runs left records");
}
