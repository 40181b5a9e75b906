//! Benchmark: synthetic venue generation speed (simulated hours per second, messages/s, raw
//! MB/s), for one coin and for three, and writing through the recording log writer.
#![allow(clippy::disallowed_methods)] // a benchmark measures wall time

use paper_trader::commands::synth_cmd::write_recording;
use paper_trader::synth::{SynthConfig, SynthVenue};
use std::time::Instant;

const HOURS: u64 = 2;

fn coins(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn generate(names: &[&str]) {
    let mut v = SynthVenue::new(SynthConfig::default(), 42, &coins(names)).unwrap();
    let end = v.config().start_ns + HOURS * 3_600_000_000_000;
    let t0 = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    loop {
        let m = v.next_message();
        if m.exch_ns >= end {
            break;
        }
        n += 1;
        bytes += m.raw.len() as u64;
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "synth generate {:<12} {HOURS} h: {n} messages, {:.1} MB raw in {s:.3} s = {:.2} simulated h/s, {:.0} messages/s, {:.0} MB/s",
        names.join(","),
        bytes as f64 / 1e6,
        HOURS as f64 / s,
        n as f64 / s,
        bytes as f64 / 1e6 / s
    );
}

fn write(names: &[&str]) {
    let dir = std::env::temp_dir().join(format!("pt-synth-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = Instant::now();
    match write_recording(SynthConfig::default(), 42, &coins(names), HOURS * 3_600_000_000_000, &dir) {
        Ok(sum) => {
            let s = t0.elapsed().as_secs_f64();
            let on_disk: u64 = std::fs::read_dir(&dir)
                .map(|it| it.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
                .unwrap_or(0);
            println!(
                "synth write    {:<12} {HOURS} h: {} messages in {s:.3} s = {:.2} simulated h/s, {:.0} messages/s; {:.2} MB on disk ({:.1}x of raw)",
                names.join(","),
                sum.messages,
                HOURS as f64 / s,
                sum.messages as f64 / s,
                on_disk as f64 / 1e6,
                sum.raw_bytes as f64 / on_disk.max(1) as f64
            );
        }
        Err(e) => println!("synth write    {}: {e:#}", names.join(",")),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    generate(&["BTC"]);
    generate(&["BTC", "ETH", "SOL"]);
    write(&["BTC"]);
    write(&["BTC", "ETH", "SOL"]);
}
