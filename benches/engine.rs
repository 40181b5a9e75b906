//! Benchmark: replay throughput end to end from the compressed recording (inputs/s and MB/s of
//! raw JSON), beside the adapter-only figure measured in the same run on the same records,
//! on the shipped sample (or a 1 h synthetic recording when it is absent) and the Binance
//! capture when `../shared` is present.
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

fn main() {
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
        }
    } else {
        eprintln!("skipping: ../shared/data/real absent");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
