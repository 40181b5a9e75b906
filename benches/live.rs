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

#[path = "support/live_latency.rs"]
mod live_latency;

use live_latency::{engine_baseline, live_options, live_session, synth_feed, with_exchange, SPEED};
use paper_trader::drivers::live::LiveReport;
use paper_trader::drivers::record::{RecorderThread, RECORDER_QUEUE_CAPACITY};
use paper_trader::drivers::ws_client::hyperliquid::Hyperliquid;
use paper_trader::log::{Header, WriterOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

fn main() {
    let wall_s: u64 = std::env::var("BENCH_LIVE_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let market_s = wall_s * SPEED as u64;

    // 1. Decision latency, one coin (the latency of a message does not depend on other coins).
    let coins = vec!["BTC".to_string()];
    let items = synth_feed(&coins, market_s);
    let base = engine_baseline(&items, &coins);
    let n = items.len();
    let report: LiveReport = live_session(items, &coins, wall_s, SPEED);
    println!(
        "live decision latency ({} messages of {n} served at {SPEED}x, 1 coin), receive stamp -> decision: p50 {:.1} us, p99 {:.1} us, max {:.1} us (target p99 < 50 us); of which in the engine thread (dequeue -> decision): p50 {:.1} us, p99 {:.1} us, max {:.1} us; baseline, engine alone on the same messages: p50 {:.1} us, p99 {:.1} us, max {:.1} us",
        report.latency.count(),
        us(report.latency.quantile_ns(0.5)),
        us(report.latency.quantile_ns(0.99)),
        us(report.latency.max_ns()),
        us(report.engine_latency.quantile_ns(0.5)),
        us(report.engine_latency.quantile_ns(0.99)),
        us(report.engine_latency.max_ns()),
        us(base.p50),
        us(base.p99),
        us(base.max),
    );

    // 2. The recorder at 20 coins.
    let coins: Vec<String> = (0..20).map(|i| format!("C{i:02}")).collect();
    let items = synth_feed(&coins, market_s);
    let n = items.len();
    let dir = tempfile::tempdir().expect("tempdir");
    let (report, busy_ns, cpu_ns, wall) = with_exchange(items, SPEED, |url| {
        let header = Header {
            venue: "hyperliquid".into(),
            coins: coins.clone(),
            program_version: paper_trader::PROGRAM_VERSION.into(),
            created_by: "record".into(),
            ..Header::default()
        };
        let recorder = RecorderThread::spawn(&dir.path().join("rec"), header, WriterOptions::default())
            .expect("recorder");
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
