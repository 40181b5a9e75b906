//! `record` killed with -9 mid-stream: the recording verifies (torn tail at most), holds an
//! exact prefix of what the local exchange sent on each stream, and lost at most about the
//! last second. The exchange runs in this process; `record` is the real binary.

#![allow(clippy::disallowed_methods)] // The crash bound is about wall time: the test reads the clock.

use paper_trader::commands::args::Speed;
use paper_trader::drivers::serve::{self, MessageSource, PlaybackOptions, SourceItem, VecSource};
use paper_trader::drivers::ws_client::hyperliquid as hl;
use paper_trader::drivers::ws_server::LocalExchange;
use paper_trader::log::{Body, Control, LogReader, Status};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const T0: u64 = 1_737_918_843_000_000_000;

/// Books and trades of two coins, one message every 50 ms of market time.
fn market(n: usize) -> Vec<SourceItem> {
    (0..n)
        .map(|i| {
            let coin = ["BTC", "ETH"][i % 2];
            let ms = (T0 + i as u64 * 50_000_000) / 1_000_000;
            let raw = if i % 4 < 2 {
                format!(r#"{{"channel":"l2Book","data":{{"coin":"{coin}","time":{ms},"levels":[[{{"px":"100.{i}","sz":"1.5","n":2}}],[{{"px":"101","sz":"2","n":1}}]]}}}}"#)
            } else {
                format!(r#"{{"channel":"trades","data":[{{"coin":"{coin}","side":"A","px":"100","sz":"0.{i}","time":{ms},"hash":"0x01","tid":{i},"users":["a","b"]}}]}}"#)
            };
            SourceItem::Message { recv_ns: T0 + i as u64 * 50_000_000, stream: hl::stream_of(raw.as_bytes()), raw: raw.into_bytes() }
        })
        .collect()
}

fn by_stream(items: &[SourceItem]) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for i in items {
        if let SourceItem::Message { stream, raw, .. } = i {
            out.entry(stream.clone()).or_default().push(raw.clone());
        }
    }
    out
}

/// A local exchange playing `source` at 20x, in this process.
fn exchange(
    source: &[SourceItem],
) -> (LocalExchange, std::thread::JoinHandle<Result<serve::PlaybackReport, String>>) {
    let mut exchange = LocalExchange::bind(0, Vec::new()).unwrap();
    let hub = exchange.hub();
    let first = exchange.take_first_connection().unwrap();
    let items = source.to_vec();
    let playback = std::thread::spawn(move || {
        let mut open =
            || -> Result<Box<dyn MessageSource>, String> { Ok(Box::new(VecSource::new(items.clone()))) };
        serve::play(&hub, &first, &mut open, PlaybackOptions { speed: Speed::Factor(20.0), looping: false })
    });
    (exchange, playback)
}

#[test]
fn record_stopped_by_sigterm_closes_the_recording_cleanly() {
    let source = market(20_000);
    let (exchange, playback) = exchange(&source);
    let hub = exchange.hub();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec");
    let mut child = Command::new(env!("CARGO_BIN_EXE_paper_trader"))
        .args(["record", "--url", exchange.url(), "--coins", "BTC", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cap = Instant::now() + Duration::from_secs(30);
    while hub.stats.frames_sent.load(Ordering::Relaxed) < 100 {
        assert!(Instant::now() < cap, "the server never streamed to the recorder");
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    exchange.shutdown();
    playback.join().unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "record exits 0 on SIGTERM");
    let mut reader = LogReader::open(&out).unwrap();
    let mut last_control = None;
    let mut messages = 0;
    while let Some(rec) = reader.next_record() {
        match rec.body {
            Body::Message(_) => messages += 1,
            Body::Control(c) => last_control = Some(c),
        }
    }
    assert_eq!(reader.status(), Status::Intact, "{:?}", reader.issues());
    assert!(messages >= 50);
    assert!(
        matches!(last_control, Some(Control::Disconnect { .. }) | Some(Control::End)),
        "the recording ends with the disconnect: {last_control:?}"
    );
}

#[test]
fn record_killed_with_sigkill_keeps_an_exact_prefix_of_what_was_sent() {
    let source = market(20_000);
    let (exchange, playback) = exchange(&source);
    let hub = exchange.hub();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec");
    let mut child = Command::new(env!("CARGO_BIN_EXE_paper_trader"))
        .args(["record", "--url", exchange.url(), "--coins", "BTC,ETH", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (by polling the server's counters) until it has streamed for a while, note how much
    // it had sent, let 2 more seconds pass, and kill the recorder without warning.
    let cap = Instant::now() + Duration::from_secs(30);
    while hub.stats.frames_sent.load(Ordering::Relaxed) < 200 {
        assert!(Instant::now() < cap, "the server never streamed to the recorder");
        assert!(child.try_wait().unwrap().is_none(), "record exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent_before = hub.stats.frames_sent.load(Ordering::Relaxed);
    let noted = Instant::now();
    while noted.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    exchange.shutdown();
    playback.join().unwrap().unwrap();

    let mut reader = LogReader::open(&out).unwrap();
    let mut got: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    let mut data_messages = 0u64;
    while let Some(rec) = reader.next_record() {
        if let Body::Message(raw) = rec.body {
            let stream = reader.stream_name(rec.stream).to_string();
            if stream != hl::PROTOCOL_STREAM {
                data_messages += 1;
            }
            got.entry(stream).or_default().push(raw);
        }
    }
    // Read to the end: a torn tail at most (the unflushed last second), never corruption.
    assert!(
        matches!(reader.status(), Status::Intact | Status::TornTail),
        "after kill -9 the recording is {:?}: {:?}",
        reader.status(),
        reader.issues()
    );
    let want = by_stream(&source);
    for stream in ["l2Book:BTC", "l2Book:ETH", "trades:BTC", "trades:ETH"] {
        let g = got.get(stream).cloned().unwrap_or_default();
        let w = &want[stream];
        assert!(!g.is_empty(), "{stream}: nothing recorded");
        assert!(g.len() <= w.len());
        // The history batch of a trades subscription is the source's first batch, byte for byte.
        assert_eq!(g, w[..g.len()], "{stream}: not an exact prefix of what was sent");
    }
    // Frames sent more than ~1 s before the kill are on disk (greeting and acks included in
    // the server's count, so compare with a margin of them).
    let protocol_frames = 1 + 4;
    assert!(
        data_messages + protocol_frames >= sent_before,
        "lost more than the last second: {data_messages} data messages on disk, {sent_before} frames sent 2 s before the kill"
    );
}
