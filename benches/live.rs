//! Benchmark: the live pipeline against the local exchange, over loopback.
//!
//! 1. Feed message -> engine decision latency (socket receive stamp to the engine's return,
//!    network excluded) p50/p99/max in a live session against `serve` with a synthetic feed,
//!    beside a baseline in the same run: the engine's own time per message fed directly.
//! 2. The recorder at 20 coins of synthetic feed: its CPU share (time inside the writer over
//!    wall time) and its backlog, for `record` (no engine) paced at 20x the venue's rate; the
//!    share at the real rate is that over 20.
//!
//! Run: `cargo bench --bench live` (BENCH_LIVE_SECONDS sets the wall time of each run).
#![allow(clippy::disallowed_methods)] // A benchmark: it reads the clock.

use paper_trader::commands::args::Speed;
use paper_trader::drivers::live::session::{run_session, SessionSetup};
use paper_trader::drivers::live::{LiveOptions, LiveReport};
use paper_trader::drivers::record::{RecorderThread, RECORDER_QUEUE_CAPACITY};
use paper_trader::drivers::serve::{self, MessageSource, PlaybackOptions, SourceItem, VecSource};
use paper_trader::drivers::session::{InputDesc, SessionRunner};
use paper_trader::drivers::ws_client::hyperliquid::Hyperliquid;
use paper_trader::drivers::ws_client::ClientOptions;
use paper_trader::drivers::ws_server::LocalExchange;
use paper_trader::engine::{EngineConfig, Input};
use paper_trader::log::{Header, WriterOptions};
use paper_trader::synth::{SynthConfig, SynthVenue};
use paper_trader::types::Timestamp;
use paper_trader::venue::Venue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPEED: f64 = 20.0;

fn synth_feed(coins: &[String], market_s: u64) -> Vec<SourceItem> {
    let mut venue = SynthVenue::new(SynthConfig::default(), 42, coins).expect("synthetic venue");
    let mut items = Vec::new();
    let mut first = None;
    loop {
        let m = venue.next_message();
        let start = *first.get_or_insert(m.recv_ns);
        if m.recv_ns - start > market_s * 1_000_000_000 {
            return items;
        }
        items.push(SourceItem::Message { recv_ns: m.recv_ns, stream: m.stream, raw: m.raw });
    }
}

/// Serves `items` at `SPEED` on a fresh local exchange and runs `f` against its URL.
fn with_exchange<T>(items: Vec<SourceItem>, f: impl FnOnce(&str) -> T) -> T {
    let mut exchange = LocalExchange::bind(0, Vec::new()).expect("bind");
    let hub = exchange.hub();
    let first = exchange.take_first_connection().expect("signal");
    let play_hub = hub.clone();
    let playback = std::thread::spawn(move || {
        let mut open =
            || -> Result<Box<dyn MessageSource>, String> { Ok(Box::new(VecSource::new(items.clone()))) };
        serve::play(
            &play_hub,
            &first,
            &mut open,
            PlaybackOptions { speed: Speed::Factor(SPEED), looping: false },
        )
    });
    let out = f(exchange.url());
    exchange.shutdown();
    let _ = playback.join();
    out
}

fn live_options(url: &str, wall: Duration) -> LiveOptions {
    LiveOptions {
        client: ClientOptions::new(url),
        duration: Some(wall),
        progress_interval: Duration::from_secs(3600),
        stale_after: None,
    }
}

fn quick_writer() -> WriterOptions {
    WriterOptions::default()
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

/// The engine alone on the same messages: the baseline of the decision latency.
fn engine_baseline(items: &[SourceItem], coins: &[String]) -> (u64, u64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut runner = SessionRunner::create(
        &dir.path().join("s"),
        EngineConfig::default(),
        0,
        Venue::Hyperliquid,
        coins,
        InputDesc { source: "bench".into(), resumed_from: None },
    )
    .expect("session");
    let mut h = paper_trader::drivers::live::LatencyHistogram::default();
    for (seq, item) in items.iter().enumerate() {
        if let SourceItem::Message { recv_ns, stream, raw } = item {
            let t = Instant::now();
            runner.feed(Timestamp(*recv_ns), seq as u64, Input::Message { stream, raw }).expect("feed");
            h.record(t.elapsed().as_nanos() as u64);
        }
    }
    (h.quantile_ns(0.5), h.quantile_ns(0.99), h.max_ns())
}

fn main() {
    let wall_s: u64 = std::env::var("BENCH_LIVE_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let market_s = wall_s * SPEED as u64;

    // 1. Decision latency, one coin (the latency of a message does not depend on other coins).
    let coins = vec!["BTC".to_string()];
    let items = synth_feed(&coins, market_s);
    let (b50, b99, bmax) = engine_baseline(&items, &coins);
    let n = items.len();
    let dir = tempfile::tempdir().expect("tempdir");
    let report: LiveReport = with_exchange(items, |url| {
        let setup = SessionSetup {
            config: EngineConfig::default(),
            seed: 0,
            venue: Venue::Hyperliquid,
            coins: coins.clone(),
            url: url.to_string(),
        };
        let (_summary, report) = run_session(
            setup,
            &dir.path().join("session"),
            Box::new(Hyperliquid::new(&coins, false)),
            &live_options(url, Duration::from_secs(wall_s + 1)),
            quick_writer(),
            Arc::new(AtomicBool::new(false)),
            &mut |_| {},
        )
        .expect("live session");
        report
    });
    println!(
        "live decision latency ({} messages of {n} served at {SPEED}x, 1 coin), receive stamp -> decision: p50 {:.1} us, p99 {:.1} us, max {:.1} us (target p99 < 50 us); of which in the engine thread (dequeue -> decision): p50 {:.1} us, p99 {:.1} us, max {:.1} us; baseline, engine alone on the same messages: p50 {:.1} us, p99 {:.1} us, max {:.1} us",
        report.latency.count(),
        us(report.latency.quantile_ns(0.5)),
        us(report.latency.quantile_ns(0.99)),
        us(report.latency.max_ns()),
        us(report.engine_latency.quantile_ns(0.5)),
        us(report.engine_latency.quantile_ns(0.99)),
        us(report.engine_latency.max_ns()),
        us(b50),
        us(b99),
        us(bmax),
    );

    // 2. The recorder at 20 coins.
    let coins: Vec<String> = (0..20).map(|i| format!("C{i:02}")).collect();
    let items = synth_feed(&coins, market_s);
    let n = items.len();
    let dir = tempfile::tempdir().expect("tempdir");
    let (report, busy_ns, cpu_ns, wall) = with_exchange(items, |url| {
        let header = Header {
            venue: "hyperliquid".into(),
            coins: coins.clone(),
            program_version: paper_trader::PROGRAM_VERSION.into(),
            created_by: "record".into(),
            ..Header::default()
        };
        let recorder =
            RecorderThread::spawn(&dir.path().join("rec"), header, quick_writer()).expect("recorder");
        let stats = recorder.stats();
        let started = Instant::now();
        let report = paper_trader::drivers::live::run(
            Box::new(Hyperliquid::new(&coins, false)),
            &live_options(url, Duration::from_secs(wall_s + 1)),
            &mut paper_trader::drivers::live::NoEngine,
            Box::new(recorder),
            Arc::new(AtomicBool::new(false)),
            &mut |_| {},
        )
        .expect("record");
        let wall = started.elapsed();
        (report, stats.busy_ns.load(Ordering::Relaxed), stats.thread_cpu_ns.load(Ordering::Relaxed), wall)
    });
    let share = cpu_ns as f64 / wall.as_nanos() as f64;
    let busy = busy_ns as f64 / wall.as_nanos() as f64;
    println!(
        "recorder at 20 coins ({} of {n} messages at {SPEED}x = {:.0} msg/s): recorder thread CPU {:.2}% of a core (inside the writer {:.2}%), so {:.3}% at the venue's own rate (target < 2%); backlog max {} of {RECORDER_QUEUE_CAPACITY}, socket queue max {}, dropped {}",
        report.messages,
        report.messages as f64 / wall.as_secs_f64(),
        share * 100.0,
        busy * 100.0,
        share * 100.0 / SPEED,
        report.recorder_backlog_high_water,
        report.feed_queue_high_water,
        report.dropped,
    );
}
