//! Golden files of format v1 under `fixtures/log/v1/`, written by this code when the format was
//! fixed: every later version must read them. Regenerate (only for a new format version, in a
//! new directory) with `PT_BLESS_GOLDEN=1 cargo test --test log_golden`.

mod log_support;

use log_support::*;
use paper_trader::log::{Control, LogReader, Status, WriterOptions};
use std::path::PathBuf;

const T0: u64 = 1_737_917_990_000_000_000; // 2025-01-26T18:59:50Z: the recording crosses an hour

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/log/v1")
}

/// Every kind of record: three streams, every control, an empty and a large message, a
/// receive time that goes backwards, and an hour boundary (two files).
fn golden_specs() -> Vec<Spec> {
    let mut v = vec![
        Spec::Ctl(T0, Control::Connect { url: "wss://api.hyperliquid.xyz/ws".into() }),
        Spec::Ctl(T0, Control::Subscribe { subscription: "{\"type\":\"l2Book\",\"coin\":\"BTC\"}".into() }),
    ];
    v.extend(feed(40, T0 + 1_000_000, 400_000_000, 2024));
    v.push(Spec::Msg(T0 + 17_000_000_000, "allMids".into(), Vec::new()));
    v.push(Spec::Msg(T0 + 16_999_000_000, "allMids".into(), b"{\"backwards\":true}".to_vec()));
    v.push(Spec::Msg(T0 + 18_000_000_000, "ws".into(), "x".repeat(70_000).into_bytes()));
    v.push(Spec::Ctl(T0 + 18_500_000_000, Control::Disconnect { reason: "server closed".into() }));
    v.push(Spec::Ctl(T0 + 18_600_000_000, Control::Gap { reason: "reconnect".into() }));
    v.push(Spec::Ctl(T0 + 19_000_000_000, Control::Tick));
    v
}

fn golden_opts() -> WriterOptions {
    WriterOptions { block_bytes: 2_000, ..quiet_opts() }
}

#[test]
fn golden_v1_files_read_back_exactly() {
    let dir = golden_dir();
    if std::env::var("PT_BLESS_GOLDEN").is_ok() && !dir.join("20250126T18-000001.ptlog").exists() {
        std::fs::remove_dir_all(&dir).ok();
        write(&dir, &golden_specs(), golden_opts());
    }
    let names: Vec<String> =
        files(&dir).iter().map(|p| p.file_name().unwrap().to_string_lossy().into()).collect();
    assert_eq!(names, ["20250126T18-000001.ptlog", "20250126T19-000002.ptlog"]);
    let r = LogReader::open(&dir).unwrap();
    assert_eq!(r.header(), &header());
    let (got, status, _) = read_reader(r);
    assert_eq!(status, Status::Intact);
    assert_eq!(got, expected(&golden_specs()));
}

#[test]
fn this_build_writes_v1_byte_for_byte() {
    // While the format is v1, the writer's output must not drift (the synthetic venue's
    // byte-identical recordings depend on it). A new format version gets a new golden dir.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    write(&dir, &golden_specs(), golden_opts());
    let (a, b) = (files(&dir), files(&golden_dir()));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{} drifted from the golden file",
            y.display()
        );
    }
}
