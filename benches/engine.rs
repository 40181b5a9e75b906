//! Benchmark: replay throughput end to end from the compressed recording (inputs/s and MB/s of
//! raw JSON), beside the adapter-only figure measured in the same run on the same records,
//! on the shipped sample (or a 1 h synthetic recording when it is absent) and the Binance
//! capture and the Hyperliquid archive hour when `../shared` is present; then peak RSS of a
//! replay of a 1 h and a 24 h synthetic recording, each in its own child process (the bench
//! re-executes itself and the child reports its own `VmHWM`), which should be flat in length.
//! On the sample and the Binance capture it also prints fills, PnL and kappa under each
//! `fill_sim.latency_model` (`docs/FILLS.md`), with constant latency as the reference.
#![allow(clippy::disallowed_methods)] // a benchmark reads the wall clock

use paper_trader::drivers::replay::{run_replay, ReplayOptions};
use paper_trader::log::{Body, LogReader};
use paper_trader::types::Timestamp;
use paper_trader::venue::{Adapter, Venue};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn adapter_only(rec: &Path) -> (u64, u64, f64) {
    let mut reader = LogReader::open(rec).expect("open");
    let venue = Venue::from_name(&reader.header().venue).expect("venue");
    let mut adapter = Adapter::new(venue);
    let mut events = Vec::new();
    let (mut n, mut bytes) = (0u64, 0u64);
    let t = Instant::now();
    while let Some(r) = reader.next_record() {
        if let Body::Message(raw) = &r.body {
            events.clear();
            adapter.on_message(r.seq, Timestamp(r.recv_ns), reader.stream_name(r.stream), raw, &mut events);
            n += 1;
            bytes += raw.len() as u64;
        }
    }
    (n, bytes, t.elapsed().as_secs_f64())
}

fn bench(name: &str, rec: &Path, coins: Option<Vec<String>>, tmp: &Path) {
    let (n, bytes, secs_adapter) = adapter_only(rec);
    let mut opts = ReplayOptions::new(&tmp.join(name));
    opts.coins = coins;
    let t = Instant::now();
    let s = run_replay(rec, &opts).expect("replay");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{name}: end to end {:.0} inputs/s, {:.1} MB/s of raw JSON ({} inputs, {} fills); adapter only {:.0} msgs/s, {:.1} MB/s",
        s.input_messages as f64 / secs,
        bytes as f64 / 1e6 / secs,
        s.input_messages,
        s.engine.fills,
        n as f64 / secs_adapter,
        bytes as f64 / 1e6 / secs_adapter
    );
}

/// Fills and PnL of one recording under each latency model (`fill_sim.latency_model`).
fn latency_models(name: &str, rec: &Path, coins: Option<Vec<String>>, tmp: &Path) {
    let mut base: Option<(u64, f64)> = None;
    for model in ["constant", "jitter", "feed"] {
        let mut opts = ReplayOptions::new(&tmp.join(format!("{name}-latency-{model}").replace(' ', "_")));
        opts.coins = coins.clone();
        opts.overrides = vec![("fill_sim.latency_model".into(), model.into())];
        let s = match run_replay(rec, &opts) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{name}: latency_model={model} failed: {e:#}");
                continue;
            }
        };
        let p = &s.engine.pnl;
        let net = p.realized + p.unrealized - p.fees;
        let (f0, n0) = *base.get_or_insert((s.engine.fills, net));
        println!(
            "{name}: latency_model={model:<8} fills {:>6} ({:+.1}% vs constant)  PnL net {net:+.4} USD ({:+.4} vs constant; realized {:+.4}, unrealized {:+.4}, fees {:.4})  kappa {:.4}",
            s.engine.fills,
            if f0 > 0 { (s.engine.fills as f64 / f0 as f64 - 1.0) * 100.0 } else { 0.0 },
            net - n0,
            p.realized,
            p.unrealized,
            p.fees,
            s.engine.kappa
        );
    }
}

/// Env var that turns this bench binary into a child that replays one recording and prints
/// `<inputs> <seconds> <VmHWM kB>`.
const CHILD: &str = "PT_ENGINE_BENCH_REPLAY";

fn child(rec: &Path) {
    let out = rec.with_extension("session");
    let t = Instant::now();
    let s = run_replay(rec, &ReplayOptions::new(&out)).expect("replay");
    let secs = t.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{} {secs} {hwm}", s.input_messages);
}

/// Replays `rec` in a child process: (inputs, seconds, peak RSS in kB).
fn replay_in_child(rec: &Path) -> Option<(u64, f64, u64)> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe).env(CHILD, rec).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let n = it.next()?.parse().ok()?;
    let secs = it.next()?.parse().ok()?;
    let hwm = it.next()?.parse().ok()?;
    (out.status.success() && hwm > 0).then_some((n, secs, hwm))
}

fn synth(tmp: &Path, name: &str, duration: &str) -> Option<PathBuf> {
    let out = tmp.join(name);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_paper_trader"))
        .args(["synth", "--seed", "42", "--duration", duration, "--coins", "BTC", "--out"])
        .arg(&out)
        .output();
    status.is_ok_and(|o| o.status.success()).then_some(out)
}

fn peak_rss(tmp: &Path) {
    let mut peaks = Vec::new();
    for (name, duration) in [("rss_1h", "1h"), ("rss_24h", "24h")] {
        let Some(rec) = synth(tmp, name, duration) else {
            eprintln!("skipping peak RSS: could not write a {duration} synthetic recording");
            return;
        };
        let Some((n, secs, hwm)) = replay_in_child(&rec) else {
            eprintln!("skipping peak RSS: the replay child failed or /proc is absent");
            return;
        };
        println!(
            "peak RSS {duration} synthetic: {:.1} MB ({n} inputs, {:.0} inputs/s)",
            hwm as f64 / 1024.0,
            n as f64 / secs
        );
        peaks.push(hwm);
        let _ = std::fs::remove_dir_all(&rec);
        let _ = std::fs::remove_dir_all(rec.with_extension("session"));
    }
    if let [one, day] = peaks[..] {
        println!("peak RSS 24 h / 1 h: {:.2}", day as f64 / one as f64);
    }
}

fn main() {
    if let Some(rec) = std::env::var_os(CHILD) {
        child(Path::new(&rec));
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("pt_engine_bench_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("tmp");
    let sample = root.join("recordings/sample");
    let sample: PathBuf = if sample.exists() {
        sample
    } else {
        let out = tmp.join("synth");
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_paper_trader"))
            .args(["synth", "--seed", "42", "--duration", "1h", "--coins", "BTC", "--out"])
            .arg(&out)
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipping: could not write a synthetic recording");
            return;
        }
        out
    };
    bench("sample", &sample, None, &tmp);
    latency_models("sample", &sample, None, &tmp);
    let capture = root.join("../shared/data/real/binance-usdm_btcusdt_20240808_hftbacktest-collector.gz");
    if capture.exists() {
        let rec = tmp.join("binance");
        let ok = std::process::Command::new(env!("CARGO_BIN_EXE_paper_trader"))
            .args(["import", "--format", "hftbacktest", "--venue", "binance-usdm"])
            .arg(&capture)
            .arg("--out")
            .arg(&rec)
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            bench("binance BTCUSDT", &rec, Some(vec!["BTCUSDT".into()]), &tmp);
            latency_models("binance BTCUSDT", &rec, Some(vec!["BTCUSDT".into()]), &tmp);
        }
    } else {
        eprintln!("skipping: ../shared/data/real absent");
    }
    let archive = root.join("../shared/data/real/hyperliquid-archive_l2Book_BTC_20240101_12.lz4");
    if archive.exists() {
        use paper_trader::log::import::{import, ImportFormat, Venue as ImportVenue};
        let rec = tmp.join("hl_archive");
        let opts = paper_trader::log::WriterOptions::default();
        match import(ImportFormat::HlArchive, ImportVenue::Hyperliquid, &[archive], &rec, opts) {
            Ok(_) => bench("hyperliquid archive BTC hour", &rec, None, &tmp),
            Err(e) => eprintln!("skipping: hyperliquid archive import failed: {e}"),
        }
    } else {
        eprintln!("skipping: ../shared/data/real/hyperliquid-archive_l2Book_BTC_20240101_12.lz4 absent");
    }
    peak_rss(&tmp);
    let _ = std::fs::remove_dir_all(&tmp);
}
