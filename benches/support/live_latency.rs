//! The live decision latency measurement `benches/live.rs` and `benches/targets.rs` share: a
//! synthetic Hyperliquid feed served by the local exchange over loopback into a live session.
#![allow(dead_code)] // each bench uses a part

use paper_trader::commands::args::Speed;
use paper_trader::drivers::live::session::{run_session, SessionSetup};
use paper_trader::drivers::live::{LiveOptions, LiveReport};
use paper_trader::drivers::serve::{self, MessageSource, PlaybackOptions, SourceItem, VecSource};
use paper_trader::drivers::session::{InputDesc, SessionRunner};
use paper_trader::drivers::ws_client::hyperliquid::Hyperliquid;
use paper_trader::drivers::ws_client::ClientOptions;
use paper_trader::drivers::ws_server::LocalExchange;
use paper_trader::engine::{EngineConfig, Input};
use paper_trader::log::WriterOptions;
use paper_trader::synth::{SynthConfig, SynthVenue};
use paper_trader::types::Timestamp;
use paper_trader::venue::Venue;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The feed is served at this multiple of the venue's own rate.
pub const SPEED: f64 = 20.0;

pub fn synth_feed(coins: &[String], market_s: u64) -> Vec<SourceItem> {
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

/// Serves `items` at `speed` on a fresh local exchange and runs `f` against its URL.
pub fn with_exchange<T>(items: Vec<SourceItem>, speed: f64, f: impl FnOnce(&str) -> T) -> T {
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
            PlaybackOptions { speed: Speed::Factor(speed), looping: false },
        )
    });
    let out = f(exchange.url());
    exchange.shutdown();
    let _ = playback.join();
    out
}

/// The CPU the bench gives the engine (`live --engine-cpu`): the last this process may use,
/// when it may use two or more (`BENCH_LIVE_CPU=off`: none, for comparison).
pub fn engine_cpu() -> Option<usize> {
    if std::env::var("BENCH_LIVE_CPU").as_deref() == Ok("off") {
        return None;
    }
    let cpus = paper_trader::drivers::affinity::current().ok()?;
    cpus.last().copied().filter(|_| cpus.len() >= 2)
}

pub fn live_options(url: &str, wall: Duration) -> LiveOptions {
    LiveOptions {
        client: ClientOptions::new(url),
        duration: Some(wall),
        // As `live` does: the status line and panel every second (their summary runs on the
        // engine's thread, between messages).
        progress_interval: Duration::from_secs(1),
        stale_after: None,
        engine_cpu: engine_cpu(),
    }
}

/// Latency quantiles in nanoseconds: p50, p99, max.
#[derive(Clone, Copy, Debug)]
pub struct Quantiles {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// The engine alone on the same messages (the session runner fed directly): the floor of the
/// decision latency.
pub fn engine_baseline(items: &[SourceItem], coins: &[String]) -> Quantiles {
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
    Quantiles { p50: h.quantile_ns(0.5), p99: h.quantile_ns(0.99), max: h.max_ns() }
}

/// One live session of `wall_s` seconds against the local exchange serving `items` for
/// `coins` at `speed` times the venue's rate; returns the session's report.
pub fn live_session(items: Vec<SourceItem>, coins: &[String], wall_s: u64, speed: f64) -> LiveReport {
    let dir = tempfile::tempdir().expect("tempdir");
    with_exchange(items, speed, |url| {
        let setup = SessionSetup {
            config: EngineConfig::default(),
            seed: 0,
            venue: Venue::Hyperliquid,
            coins: coins.to_vec(),
            url: url.to_string(),
        };
        let (_summary, report) = run_session(
            setup,
            &dir.path().join("session"),
            Box::new(Hyperliquid::new(coins, false)),
            &live_options(url, Duration::from_secs(wall_s + 1)),
            WriterOptions::default(),
            Arc::new(AtomicBool::new(false)),
            &mut |_| {},
        )
        .expect("live session");
        report
    })
}

pub fn quantiles(h: &paper_trader::drivers::live::LatencyHistogram) -> Quantiles {
    Quantiles { p50: h.quantile_ns(0.5), p99: h.quantile_ns(0.99), max: h.max_ns() }
}
