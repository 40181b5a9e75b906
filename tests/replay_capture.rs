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

/// Hyperliquid l2Book lines of `coin` from line `from` (receive times 10 ms apart).
fn book_lines(coin: &str, from: u64, n: u64) -> String {
    let mut text = String::new();
    for i in from..from + n {
        let t = 1_737_918_843_000_000_000 + i * 10_000_000;
        let px = 42_000 + (i % 7);
        text.push_str(&format!(
            "{t} {{\"channel\":\"l2Book\",\"data\":{{\"coin\":\"{coin}\",\"time\":{},\"levels\":[[{{\"px\":\"{px}\",\"sz\":\"1.5\",\"n\":2}}],[{{\"px\":\"{}\",\"sz\":\"2.0\",\"n\":1}}]]}}}}\n",
            t / 1_000_000,
            px + 1
        ));
    }
    text
}

fn gzip(text: &str, path: &Path) {
    use std::io::Write;
    let mut e =
        flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap();
}

/// The header is guessed from the capture's first lines and checked by the whole pass: a
/// symbol first named past the guessed prefix must give import + replay's session (the guess
/// is thrown away and the capture replayed again), and nothing of the thrown-away run remains.
#[test]
fn a_symbol_first_seen_after_the_prefix_still_gives_import_then_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("late.gz");
    let mut text = book_lines("BTC", 0, 6000);
    text.push_str(&book_lines("ETH", 6000, 500));
    text.push_str(&book_lines("BTC", 6500, 100));
    gzip(&text, &input);
    let (a, b) = both(&input, None, tmp.path());
    assert_eq!(a, b);
    assert_eq!(a.1, 6600);
    let toml = std::fs::read_to_string(tmp.path().join("s2/session.toml")).unwrap();
    assert!(toml.contains("\"ETH\"") && toml.contains("\"BTC\""), "{toml}");
}

/// An error in the middle of the file (a truncated gzip) is the error an import gives, and the
/// replay leaves no session behind (an import would have refused before writing anything).
#[test]
fn an_error_in_the_middle_of_the_capture_is_reported_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole.gz");
    gzip(&book_lines("BTC", 0, 20_000), &whole);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = tmp.path().join("cut.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let bin = env!("CARGO_BIN_EXE_paper_trader");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let out = tmp.path().join("nested/s");
    let direct = Command::new(bin)
        .args(["replay", "--format", "hftbacktest", "--venue", "hyperliquid", &s(&cut), "--out", &s(&out)])
        .output()
        .unwrap();
    assert!(!direct.status.success());
    let import = Command::new(bin)
        .args(["import", "--format", "hftbacktest", "--venue", "hyperliquid", &s(&cut), "--out"])
        .arg(tmp.path().join("rec"))
        .output()
        .unwrap();
    assert!(!import.status.success());
    let last = |o: &std::process::Output| {
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(e.contains("cut.gz"), "the error names the file: {e}");
        e.lines().rev().find(|l| l.contains("cut.gz")).unwrap().split("cut.gz").last().unwrap().to_owned()
    };
    assert_eq!(last(&direct), last(&import), "the same error as import's");
    assert!(!tmp.path().join("nested").exists(), "the thrown-away session's directories are removed");

    // Into an existing directory holding something else: only what the run created goes.
    let keep = tmp.path().join("keep");
    std::fs::create_dir_all(keep.join("inputs")).unwrap();
    let again = Command::new(bin)
        .args(["replay", "--format", "hftbacktest", "--venue", "hyperliquid", &s(&cut), "--out", &s(&keep)])
        .output()
        .unwrap();
    assert!(!again.status.success());
    let left: Vec<_> = std::fs::read_dir(&keep).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("inputs")]);
}

/// The whole-file first pass is made in the walk that feeds the replay: when the consumer stops
/// at the first record (a stopped or failed replay), the rest of the capture is still observed,
/// so the header it returns is the whole file's (`capture_header`), a coin named only at the
/// end included, exactly as when the first pass read the file on its own.
#[test]
fn the_first_pass_in_the_walk_sees_every_line_also_after_the_consumer_stops() {
    use paper_trader::log::import::{self, ImportFormat, ImportStats};
    use std::ops::ControlFlow;
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("late.gz");
    let mut text = book_lines("BTC", 0, 5000);
    text.push_str(&book_lines("ETH", 5000, 10));
    gzip(&text, &input);
    let inputs = vec![input];
    let (venue, guess) = import::prefix_header(ImportFormat::Hftbacktest, None, &inputs).unwrap();
    assert_eq!(guess.coins, vec!["BTC".to_string()], "ETH is past the prefix");
    let mut seen = 0;
    let mut stats = ImportStats::default();
    let fp = import::for_each_record_checked(
        ImportFormat::Hftbacktest,
        venue,
        &inputs,
        &guess,
        &mut stats,
        |_, _, _| {
            seen += 1;
            Ok(ControlFlow::Break(()))
        },
    )
    .unwrap();
    assert_eq!(seen, 1, "the consumer saw one record");
    let whole = import::capture_header(ImportFormat::Hftbacktest, None, &inputs).unwrap();
    assert_eq!(fp.header(None).unwrap(), whole);
    assert!(whole.1.coins.contains(&"ETH".to_string()), "{:?}", whole.1.coins);
}
