//! Benchmark of the recording log on the shared real captures (skipped when `../shared` is
//! absent; `PT_SHARED` overrides its location). Prints, per capture: size as a ratio to
//! gzip -6 of the same `<recv_ns> <json>` text, the recompaction figure, write and read
//! throughput, and the peak memory of a full read (measured in a fresh child process).
#![allow(clippy::disallowed_methods)] // A benchmark measures wall-clock time.

use paper_trader::log::import::{archive_parts, read_input};
use paper_trader::log::{Body, Header, LogReader, LogWriter, WriterOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn shared() -> PathBuf {
    std::env::var_os("PT_SHARED")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"), PathBuf::from)
}

/// `(recv_ns, stream, raw)` of each message of a text-form capture.
fn parse_text(text: &[u8], venue_hl: bool) -> Vec<(u64, String, Vec<u8>)> {
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let sp = l.iter().position(|&b| b == b' ')?;
            let ns: u64 = std::str::from_utf8(&l[..sp]).ok()?.parse().ok()?;
            let msg = &l[sp + 1..];
            let stream = if venue_hl {
                paper_trader::log::import::hyperliquid_stream(msg).0
            } else {
                paper_trader::log::import::json_str_field(msg, "stream", 64).unwrap_or("snapshot").to_owned()
            };
            Some((ns, stream, msg.to_vec()))
        })
        .collect()
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

fn write(dir: &Path, msgs: &[(u64, String, Vec<u8>)], opts: WriterOptions) -> f64 {
    let t = Instant::now();
    let mut w = LogWriter::create(dir, Header { venue: "bench".into(), ..Header::default() }, opts).unwrap();
    for (ns, s, raw) in msgs {
        w.append_message(*ns, s, raw).unwrap();
    }
    w.close().unwrap();
    t.elapsed().as_secs_f64()
}

fn peak_rss_of_read(dir: &Path) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--read-rss")
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn bench(name: &str, text: &[u8], hl: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let msgs = parse_text(text, hl);
    let raw_bytes: usize = msgs.iter().map(|m| m.2.len()).sum();
    let t = Instant::now();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(text).unwrap();
    let gz_len = gz.finish().unwrap().len() as f64;
    let gz_s = t.elapsed().as_secs_f64();
    println!(
        "{name}: {} messages, {:.1} MB text, gzip -6 {:.0} KB ({:.2} s)",
        msgs.len(),
        text.len() as f64 / 1e6,
        gz_len / 1e3,
        gz_s
    );

    for level in [3, 6, 9] {
        let dir = tmp.path().join(format!("l{level}"));
        let secs =
            write(&dir, &msgs, WriterOptions { zstd_level: level, fsync: false, ..WriterOptions::default() });
        let size = dir_bytes(&dir) as f64;
        println!(
            "  level {level}, flushed each 1 s of receive time: {:.0} KB = {:.3}x gzip -6; write {:.0} msg/s, {:.1} MB/s (no fsync)",
            size / 1e3,
            size / gz_len,
            msgs.len() as f64 / secs,
            raw_bytes as f64 / 1e6 / secs
        );
    }
    let dir = tmp.path().join("fsync");
    let secs = write(&dir, &msgs, WriterOptions::default());
    println!(
        "  default options with fdatasync at each flush: write {:.0} msg/s, {:.1} MB/s",
        msgs.len() as f64 / secs,
        raw_bytes as f64 / 1e6 / secs
    );
    // Recompaction of a closed file: no flush points, level 19, large blocks.
    let dir = tmp.path().join("recompacted");
    write(
        &dir,
        &msgs,
        WriterOptions {
            zstd_level: 19,
            flush_interval_ns: u64::MAX,
            block_bytes: 64 << 20,
            fsync: false,
            ..WriterOptions::default()
        },
    );
    let size = dir_bytes(&dir) as f64;
    println!(
        "  recompacted (level 19, no flush points): {:.0} KB = {:.3}x gzip -6",
        size / 1e3,
        size / gz_len
    );

    let dir = tmp.path().join("l6");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut r = LogReader::open(&dir).unwrap();
        let mut n = 0usize;
        while let Some(rec) = r.next_record() {
            if let Body::Message(raw) = rec.body {
                n += raw.len();
            }
        }
        assert_eq!(n, raw_bytes);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "  read: {:.0} MB/s of decompressed messages (one core, best of 3)",
        raw_bytes as f64 / 1e6 / best
    );
    println!("  peak memory of a full read: {}", peak_rss_of_read(&dir));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--read-rss") {
        let mut r = LogReader::open(Path::new(&args[i + 1])).unwrap();
        while r.next_record().is_some() {}
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let hwm = status
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap_or("VmHWM: ?")
            .split_whitespace()
            .nth(1)
            .unwrap_or("?")
            .to_owned();
        println!("VmHWM {hwm} kB");
        return;
    }
    let real = shared().join("data/real");
    if !real.exists() {
        eprintln!("skipping: {} absent", real.display());
        return;
    }
    let binance = read_input(&real.join("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz")).unwrap();
    bench("Binance USD-M BTCUSDT capture", &binance, false);
    let archive = read_input(&real.join("hyperliquid-archive_l2Book_BTC_20240101_12.lz4")).unwrap();
    let mut text = Vec::new();
    for line in archive.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Some((ns, raw)) = archive_parts(line) {
            text.extend_from_slice(format!("{ns} ").as_bytes());
            text.extend_from_slice(raw);
            text.push(b'\n');
        }
    }
    bench("Hyperliquid archive hour, BTC l2Book", &text, true);
}
