//! Benchmark: normalization throughput per core on the shared real captures, each beside a
//! baseline measured in the same run (a plain `serde_json::Value` parse of the same bytes),
//! plus serde_json into borrowed structs for `l2Book` (the alternative parser design).
//!
//! Run: `cargo bench --bench venue`. Targets (PRODUCT.md): Hyperliquid `l2Book` >= 250,000
//! messages/s (~500 MB/s), Binance >= 2,000,000 messages/s.
#![allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time

use paper_trader::types::{Price, Qty, Timestamp};
use paper_trader::venue::{Adapter, MarketEvent, Venue};
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Each measurement repeats the corpus until at least this much time has passed.
const MIN_SECONDS: f64 = 1.0;

fn real(name: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/data/real", "../../shared/data/real"]
        .iter()
        .map(|d| root.join(d).join(name))
        .find(|p| p.exists())
}

fn text_capture(p: &Path) -> Vec<Vec<u8>> {
    let r = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(p).expect("open capture")));
    r.split(b'\n')
        .map_while(Result::ok)
        .filter_map(|l| l.iter().position(|&c| c == b' ').map(|sp| l[sp + 1..].to_vec()))
        .collect()
}

/// The `l2Book` messages of the archive hour, without the archive's line wrapper (what a
/// websocket delivers).
fn archive_messages(p: &Path) -> Vec<Vec<u8>> {
    let mut bytes = vec![];
    lz4_flex::frame::FrameDecoder::new(std::fs::File::open(p).expect("open archive"))
        .read_to_end(&mut bytes)
        .expect("lz4 frame");
    bytes
        .split(|&c| c == b'\n')
        .filter_map(|l| {
            let at = l.windows(6).position(|w| w == b"\"raw\":")?;
            Some(l.get(at + 6..l.len() - 1)?.to_vec())
        })
        .collect()
}

/// CPU time of this thread in seconds (Linux `/proc/thread-self/schedstat`, first field, ns):
/// on a shared, loaded machine wall time measures the neighbours, CPU time measures us.
fn thread_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}

/// Runs `f` over every message until MIN_SECONDS of this thread's CPU time (wall time where
/// that is not available) passed; returns messages and bytes per CPU second.
fn measure(msgs: &[Vec<u8>], mut f: impl FnMut(&[u8])) -> (f64, f64) {
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let (mut n, mut b) = (0u64, 0u64);
    let (t0, c0) = (Instant::now(), thread_cpu_s());
    loop {
        for m in msgs {
            f(m);
        }
        n += msgs.len() as u64;
        b += bytes as u64;
        let dt = match (c0, thread_cpu_s()) {
            (Some(a), Some(z)) => z - a,
            _ => t0.elapsed().as_secs_f64(),
        };
        if dt >= MIN_SECONDS {
            return (n as f64 / dt, b as f64 / dt);
        }
    }
}

fn report(name: &str, ours: (f64, f64), base: (f64, f64), target: f64) {
    println!(
        "{name:<34} {:>12.0} msg/s {:>8.0} MB/s | serde_json::Value {:>10.0} msg/s {:>7.0} MB/s | ratio {:>5.2}x | target {:.0} msg/s: {}",
        ours.0,
        ours.1 / 1e6,
        base.0,
        base.1 / 1e6,
        ours.0 / base.0,
        target,
        if ours.0 >= target { "met" } else { "NOT met" }
    );
}

fn adapter_run(venue: Venue, stream: &'static str) -> impl FnMut(&[u8]) {
    let mut ad = Adapter::new(venue);
    let mut out: Vec<MarketEvent> = Vec::with_capacity(64);
    move |m: &[u8]| {
        out.clear();
        ad.on_message(0, Timestamp(0), stream, m, &mut out);
        black_box(&out);
    }
}

fn value_parse(m: &[u8]) {
    black_box(serde_json::from_slice::<serde_json::Value>(m).ok());
}

/// The alternative: serde_json into borrowed structs, then the decimal strings into fixed point.
mod typed {
    use super::*;
    #[derive(serde::Deserialize)]
    pub struct Msg<'a> {
        #[serde(borrow)]
        pub channel: &'a str,
        #[serde(borrow)]
        pub data: Data<'a>,
    }
    #[derive(serde::Deserialize)]
    pub struct Data<'a> {
        #[serde(borrow)]
        pub coin: &'a str,
        pub time: u64,
        #[serde(borrow)]
        pub levels: [Vec<Lvl<'a>>; 2],
    }
    #[derive(serde::Deserialize)]
    pub struct Lvl<'a> {
        pub px: &'a str,
        pub sz: &'a str,
        pub n: u32,
    }
    pub fn parse(m: &[u8]) {
        if let Ok(msg) = serde_json::from_slice::<Msg>(m) {
            let mut sum = 0i64;
            for side in &msg.data.levels {
                for l in side {
                    sum ^= Price::parse(l.px).map_or(0, |p| p.0)
                        ^ Qty::parse(l.sz).map_or(0, |q| q.0)
                        ^ i64::from(l.n);
                }
            }
            black_box((msg.channel, msg.data.coin, msg.data.time, sum));
        }
    }
}

fn main() {
    let (Some(hl), Some(archive), Some(bn)) = (
        real("hyperliquid_btc_20250126_hftbacktest-collector.gz"),
        real("hyperliquid-archive_l2Book_BTC_20240101_12.lz4"),
        real("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz"),
    ) else {
        eprintln!("skipping venue benchmark: ../shared/data/real absent");
        return;
    };
    println!(
        "venue normalization per CPU second of one core (thread CPU time), each beside a serde_json::Value parse of the same bytes"
    );

    let archive = archive_messages(&archive);
    let avg = archive.iter().map(Vec::len).sum::<usize>() / archive.len().max(1);
    let ours = measure(&archive, adapter_run(Venue::Hyperliquid, "BTC"));
    let base = measure(&archive, value_parse);
    report(&format!("hyperliquid l2Book (archive, {avg} B)"), ours, base, 250_000.0);
    let typed = measure(&archive, typed::parse);
    println!(
        "{:<34} {:>12.0} msg/s {:>8.0} MB/s | our scanner is {:.2}x of it",
        "  serde_json borrowed structs",
        typed.0,
        typed.1 / 1e6,
        ours.0 / typed.0
    );

    let hl: Vec<Vec<u8>> =
        text_capture(&hl).into_iter().filter(|m| m.starts_with(b"{\"channel\":\"l2Book\"")).collect();
    let avg = hl.iter().map(Vec::len).sum::<usize>() / hl.len().max(1);
    let ours = measure(&hl, adapter_run(Venue::Hyperliquid, "BTC"));
    let base = measure(&hl, value_parse);
    report(&format!("hyperliquid l2Book (capture, {avg} B)"), ours, base, 250_000.0);

    let bn = text_capture(&bn);
    let small: Vec<Vec<u8>> = bn.iter().filter(|m| !m.starts_with(b"{\"lastUpdateId\"")).cloned().collect();
    let avg = small.iter().map(Vec::len).sum::<usize>() / small.len().max(1);
    let ours = measure(&small, adapter_run(Venue::BinanceUsdm, "btcusdt@depthSnapshot"));
    let base = measure(&small, value_parse);
    report(&format!("binance all streams ({avg} B avg)"), ours, base, 2_000_000.0);
    for (name, prefix) in [
        ("  binance bookTicker", &b"{\"stream\":\"btcusdt@bookTicker\""[..]),
        ("  binance trade", b"{\"stream\":\"btcusdt@trade\""),
        ("  binance depthUpdate", b"{\"stream\":\"btcusdt@depth"),
    ] {
        let sub: Vec<Vec<u8>> = small.iter().filter(|m| m.starts_with(prefix)).cloned().collect();
        let ours = measure(&sub, adapter_run(Venue::BinanceUsdm, "btcusdt@depthSnapshot"));
        let base = measure(&sub, value_parse);
        let avg = sub.iter().map(Vec::len).sum::<usize>() / sub.len().max(1);
        report(&format!("{name} ({avg} B)"), ours, base, 2_000_000.0);
    }
}
