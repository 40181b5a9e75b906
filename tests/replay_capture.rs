//! `replay --format FORMAT CAPTURE`: a capture replayed straight from its file gives the same
//! session digest as `import` + `replay` (same records, streams, sequence numbers), on odd
//! inputs always and on the real Binance capture when `../shared` is present.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_paper_trader")).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn digest(session: &Path) -> (String, u64) {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(session.join("summary.json")).unwrap()).unwrap();
    (v["output_digest"].as_str().unwrap().to_owned(), v["input_messages"].as_u64().unwrap())
}

/// Digests of import + replay and of replay straight from the capture.
fn both(capture: &Path, venue: Option<&str>, tmp: &Path) -> ((String, u64), (String, u64)) {
    let (rec, s1, s2) = (tmp.join("rec"), tmp.join("s1"), tmp.join("s2"));
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let mut import = vec!["import".to_owned(), "--format".into(), "hftbacktest".into()];
    let mut direct = vec!["replay".to_owned(), "--format".into(), "hftbacktest".into()];
    if let Some(v) = venue {
        import.extend(["--venue".into(), v.into()]);
        direct.extend(["--venue".into(), v.into()]);
    }
    import.extend([s(capture), "--out".into(), s(&rec)]);
    direct.extend([s(capture), "--out".into(), s(&s2)]);
    run(&import.iter().map(String::as_str).collect::<Vec<_>>());
    run(&["replay", &s(&rec), "--out", &s(&s1)]);
    run(&direct.iter().map(String::as_str).collect::<Vec<_>>());
    (digest(&s1), digest(&s2))
}

#[test]
fn odd_capture_replayed_directly_equals_import_then_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("odd.txt");
    // Unparsed lines, an unknown channel and no final newline: every record import keeps.
    let book = |t: u64, px: u32| {
        format!("{t} {{\"channel\":\"l2Book\",\"data\":{{\"coin\":\"BTC\",\"time\":{},\"levels\":[[{{\"px\":\"{px}\",\"sz\":\"1.5\",\"n\":2}}],[{{\"px\":\"{}\",\"sz\":\"2.0\",\"n\":1}}]]}}}}\n", t / 1_000_000, px + 1)
    };
    let mut text = String::new();
    for i in 0..200u64 {
        text.push_str(&book(1_737_918_843_000_000_000 + i * 500_000_000, 42_000 + (i % 7) as u32));
        if i % 50 == 3 {
            text.push_str("not a message\n");
        }
    }
    text.push_str("1737918943893903002 {\"channel\":\"pong\"}");
    std::fs::write(&input, &text).unwrap();
    let (a, b) = both(&input, Some("hyperliquid"), tmp.path());
    assert_eq!(a, b);
    assert_eq!(a.1, 200 + 4 + 1 + 1, "every record, the unparsed and no-final-newline ones included");
}

#[test]
fn real_binance_capture_replayed_directly_equals_import_then_replay() {
    let shared = std::env::var_os("PT_SHARED")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"), PathBuf::from);
    let capture = shared.join("data/real/binance-usdm_btcusdt_20240808_hftbacktest-collector.gz");
    if !capture.exists() {
        eprintln!("skipping: {} absent", capture.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = both(&capture, Some("binance-usdm"), tmp.path());
    assert_eq!(a, b);
}

/// `ReplayOptions::stop` (the Python binding's Ctrl-C and strategy errors): once set, the
/// replay feeds no further input and finishes the session where it stopped.
#[test]
fn a_replay_stops_before_the_next_input_once_its_stop_flag_is_set() {
    use paper_trader::drivers::replay::{run_replay, ReplayOptions};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/sample");
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = ReplayOptions::new(&tmp.path().join("s"));
    opts.to = Some(paper_trader::settings::TimeArg::FromStart(60_000_000_000));
    let full = run_replay(&sample, &opts).unwrap();
    assert!(full.input_messages > 100);
    let mut stopped = ReplayOptions::new(&tmp.path().join("t"));
    stopped.stop = Some(Arc::new(AtomicBool::new(true)));
    let s = run_replay(&sample, &stopped).unwrap();
    assert_eq!(s.input_messages, 0, "a replay whose stop flag is set fed inputs");
    assert!(tmp.path().join("t/summary.json").exists(), "the stopped session was not finished");
}

/// `--to +offset` with `--resume` counts from the recording's start, like the full run it
/// resumes: it counted from the checkpoint's position, so the resumed run went on past the
/// full run's end (another digest, a `last_ns` 600 s later on the sample).
#[test]
fn a_resumed_replay_counts_a_relative_window_from_the_recordings_start() {
    use paper_trader::drivers::replay::{run_replay, ReplayOptions};
    use paper_trader::settings::TimeArg;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/sample");
    let tmp = tempfile::tempdir().unwrap();
    let opts = |out: &str| {
        let mut o = ReplayOptions::new(&tmp.path().join(out));
        o.to = Some(TimeArg::FromStart(900_000_000_000));
        o.overrides.push(("engine.checkpoint_interval_s".into(), "300".into()));
        o
    };
    let full = run_replay(&sample, &opts("full")).unwrap();
    let mut cks: Vec<PathBuf> =
        std::fs::read_dir(tmp.path().join("full/checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
    cks.sort();
    assert!(cks.len() >= 2, "{cks:?}");
    let mut resumed = opts("r");
    resumed.resume = Some(cks[1].clone());
    let r = run_replay(&sample, &resumed).unwrap();
    assert_eq!(r.engine.last_ns, full.engine.last_ns, "the resumed run ends elsewhere");
    assert_eq!(r.output_digest, full.output_digest);
}
