//! The writer thread: everything queued is written; a writer slower than the feed either
//! blocks the sender (counted) or drops records behind a gap record (counted); a quiet feed is
//! flushed on wall-clock time.

mod log_support;

use log_support::*;
use paper_trader::log::{Backpressure, Body, Control, LogReader, Status, ThreadedWriter, WriterOptions};
use std::time::Duration;

const T0: u64 = 1_737_918_000_000_000_000;

/// Slow to compress on purpose: level 19 and incompressible-ish large messages make the
/// writer thread slower than a sender that only queues.
fn slow_opts() -> WriterOptions {
    WriterOptions { zstd_level: 19, ..quiet_opts() }
}

fn big(i: u64) -> Vec<u8> {
    let mut rng = Rng(i);
    (0..20_000).map(|_| b'a' + rng.below(26) as u8).collect()
}

#[test]
fn everything_queued_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let specs = feed(2000, T0, 3_000_000, 4);
    let w = ThreadedWriter::spawn(&dir, header(), quiet_opts(), 64).unwrap();
    for s in &specs {
        match s {
            Spec::Msg(t, st, raw) => w.append_message(*t, st, raw.clone()),
            Spec::Ctl(t, c) => w.append_control(*t, c.clone()),
        }
        .unwrap();
    }
    w.flush().unwrap();
    assert_eq!(w.stats().written, specs.len() as u64);
    w.close().unwrap();
    assert_eq!(read(&dir).unwrap(), (expected(&specs), Status::Intact));
}

#[test]
fn a_slow_writer_blocks_the_sender_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let capacity = 2;
    let w = ThreadedWriter::spawn(&dir, header(), slow_opts(), capacity).unwrap();
    for i in 0..100 {
        w.append_message(T0 + i * 1_000_000, "s", big(i)).unwrap();
        assert!(w.stats().backlog <= capacity as u64);
    }
    let stats = w.stats();
    assert!(stats.stalls > 0, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    assert!(stats.max_backlog <= capacity as u64, "{stats:?}");
    w.close().unwrap();
    let (got, status) = read(&dir).unwrap();
    assert_eq!(status, Status::Intact);
    assert_eq!(got.len(), 101);
    assert!(got.iter().take(100).enumerate().all(|(i, g)| g.body == Body::Message(big(i as u64))));
}

#[test]
fn a_slow_writer_with_drop_policy_drops_behind_counted_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let w = ThreadedWriter::spawn_with(
        &dir,
        header(),
        slow_opts(),
        2,
        Backpressure::DropWithGap,
        Duration::from_secs(1),
    )
    .unwrap();
    let sent = 100u64;
    for i in 0..sent {
        w.append_message(T0 + i * 1_000_000, "s", big(i)).unwrap();
    }
    let stats = w.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    w.close().unwrap();
    let (got, status) = read(&dir).unwrap();
    assert_eq!(status, Status::Intact);
    // Messages come back in order, each exactly as sent; the gaps account for every drop.
    let mut next = 0u64;
    let mut declared = 0u64;
    let mut missing = 0u64;
    for g in &got {
        match &g.body {
            Body::Message(raw) => {
                let i = (g.recv_ns - T0) / 1_000_000;
                assert!(i >= next, "out of order");
                assert_eq!(raw, &big(i));
                missing += i - next;
                next = i + 1;
            }
            Body::Control(Control::Gap { reason }) => {
                let n: u64 = reason.split_whitespace().nth(2).unwrap().parse().unwrap();
                declared += n;
                assert!(missing <= declared, "records dropped before any gap said so");
            }
            Body::Control(_) => {}
        }
    }
    missing += sent - next;
    assert_eq!(missing, stats.dropped);
    // Drops after the last record that got through are not declared by a gap: counted only.
    assert!(declared <= missing);
}

#[test]
fn a_quiet_feed_is_flushed_on_wall_clock_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let w = ThreadedWriter::spawn_with(
        &dir,
        header(),
        WriterOptions { fsync: false, ..WriterOptions::default() },
        16,
        Backpressure::Block,
        Duration::from_millis(50),
    )
    .unwrap();
    // Three records within one millisecond of receive time: the writer's own one-second flush
    // never fires, only the thread's idle flush can write them.
    for i in 0..3 {
        w.append_message(T0 + i, "s", format!("m{i}").into_bytes()).unwrap();
    }
    // Wait for the event (records readable), with a generous deadline; no fixed sleep.
    let mut readable = 0;
    for _ in 0..1000 {
        if let Ok(r) = LogReader::open(&dir) {
            readable = r.filter(|r| matches!(r.body, Body::Message(_))).count();
            if readable == 3 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(readable, 3, "the idle flush did not write the records");
    w.close().unwrap();
}
