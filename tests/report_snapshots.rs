//! Snapshot regression suite: the feedback loops' trajectories (fills, markouts, kappa,
//! kappa_confidence, toxicity, calibration progress, cal_gamma, regime) sampled at fixed
//! event-time intervals, pinned as readable insta snapshots under `tests/snapshots/`.
//! A change in a model shows up as a reviewable diff (`INSTA_UPDATE=always cargo test --test
//! report_snapshots`, then read `git diff tests/snapshots`).
//!
//! Fixtures: the shipped sample, small synthetic scenarios (quiet, volatile, trending, toxic
//! flow, gap-ridden) made by `synth` with scenario configurations, and the shared real
//! captures when present. Each is replayed through the real binary; on each, `validate`'s
//! checklist (recomputed from the outputs) must agree item by item with the engine's own
//! checklist in `summary.json`.

mod report_support;

use paper_trader::commands::report_cmds::terminal_summary;
use paper_trader::engine::io::Output;
use paper_trader::log::{Body, Control, LogReader, LogWriter, WriterOptions};
use paper_trader::report::session::Session;
use paper_trader::report::summary::{self, SessionSummary};
use paper_trader::report::trajectory;
use paper_trader::report::validate;
use paper_trader::types::Timestamp;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_paper_trader");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("running paper_trader");
    assert!(out.status.success(), "paper_trader {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Samples `outputs` every `interval_s` of event time and compares with the named snapshot.
fn check_outputs(
    name: &str,
    start: Timestamp,
    end: Timestamp,
    interval_s: u64,
    outputs: &[(Timestamp, Output)],
) {
    let rows = trajectory::sample(start, end, interval_s * 1_000_000_000, outputs);
    assert!(!rows.is_empty(), "{name}: no trajectory rows");
    insta::assert_snapshot!(name, trajectory::render(&rows));
}

/// Replays `recording` with `replay_args`, pins its trajectory, checks that validate agrees
/// with the engine's checklist, and returns the session for further assertions.
fn check(name: &str, recording: &Path, replay_args: &[&str], interval_s: u64) -> Session {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("session");
    let printed = run(&[&["replay", &s(recording), "--out", &s(&out)][..], replay_args].concat());
    let session = Session::load(&out).unwrap();
    assert_eq!(session.undecodable, 0);
    check_outputs(name, session.first, session.last, interval_s, &session.outputs);
    let mine: Vec<(String, bool)> =
        session.checklist().iter().map(|i| (i.name.to_string(), i.pass)).collect();
    let engine: Vec<(String, bool)> = session.summary.as_ref().unwrap()["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_string(), i["pass"].as_bool().unwrap()))
        .collect();
    assert_eq!(mine, engine, "{name}: validate and the engine's checklist disagree");
    // replay's terminal summary streams the journal through the summary and the checklist
    // (holding none of it): the same text as those of the session loaded whole.
    let loaded = format!(
        "{}checklist:\n{}",
        summary::render_text(&SessionSummary::compute(&session)),
        validate::render_text(&session.checklist())
    );
    assert_eq!(terminal_summary(&out).unwrap(), loaded, "{name}: the streamed terminal summary differs");
    // replay prints the summary computed on the journal's thread as the outputs were made
    // (no second pass): the same text again.
    assert_eq!(printed, loaded, "{name}: replay's terminal summary (computed during the run) differs");
    session
}

fn regime_toml(quiet_dwell: f64, normal_dwell: f64, volatile_dwell: f64) -> String {
    format!(
        "[regimes.quiet]\nsigma_bp = 0.35\nmean_dwell_s = {quiet_dwell}\nmin_dwell_s = 30.0\nspread_factor = 0.8\nto_quiet = 0.0\nto_normal = 0.75\nto_volatile = 0.25\n\
         [regimes.normal]\nsigma_bp = 1.0\nmean_dwell_s = {normal_dwell}\nmin_dwell_s = 30.0\nspread_factor = 1.0\nto_quiet = 0.4\nto_normal = 0.0\nto_volatile = 0.6\n\
         [regimes.volatile]\nsigma_bp = 3.0\nmean_dwell_s = {volatile_dwell}\nmin_dwell_s = 30.0\nspread_factor = 2.0\nto_quiet = 0.2\nto_normal = 0.8\nto_volatile = 0.0\n"
    )
}

/// A synthetic recording of `minutes` from a scenario configuration (TOML, merged over the
/// generator's defaults).
fn synth(dir: &Path, name: &str, seed: u64, minutes: u64, config: &str) -> PathBuf {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, config).unwrap();
    let rec = dir.join(name);
    run(&[
        "synth",
        "--seed",
        &seed.to_string(),
        "--duration",
        &format!("{minutes}m"),
        "--coins",
        "BTC",
        "--config",
        &s(&cfg),
        "--out",
        &s(&rec),
    ]);
    rec
}

/// Copies a recording, letting `edit` rewrite or drop each message and add control records.
fn rewrite(
    src: &Path,
    dst: &Path,
    mut edit: impl FnMut(u64, &str, &[u8], &mut LogWriter) -> Option<Vec<u8>>,
) {
    let mut r = LogReader::open(src).unwrap();
    let opts = WriterOptions { fsync: false, ..WriterOptions::default() };
    let mut w = LogWriter::create(dst, r.header().clone(), opts).unwrap();
    while let Some(rec) = r.next_record() {
        let stream = r.stream_name(rec.stream).to_string();
        match rec.body {
            Body::Message(raw) => {
                if let Some(bytes) = edit(rec.recv_ns, &stream, &raw, &mut w) {
                    w.append_message(rec.recv_ns, &stream, &bytes).unwrap();
                }
            }
            Body::Control(c) => {
                w.append_control(rec.recv_ns, c).unwrap();
            }
        }
    }
    w.close().unwrap();
}

/// Adds `ticks` to every price of a Hyperliquid `l2Book` or `trades` message (BTC's tick is 1).
fn shift_prices(raw: &[u8], ticks: i64) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(raw) else { return raw.to_vec() };
    let shift = |px: &mut serde_json::Value| {
        if let Some(p) = px.as_str().and_then(|p| p.parse::<i64>().ok()) {
            *px = serde_json::Value::String((p + ticks).to_string());
        }
    };
    let channel = v["channel"].as_str().unwrap_or("").to_string();
    match channel.as_str() {
        "l2Book" => {
            if let Some(sides) = v["data"]["levels"].as_array_mut() {
                for side in sides {
                    for level in side.as_array_mut().into_iter().flatten() {
                        shift(&mut level["px"]);
                    }
                }
            }
        }
        "trades" => {
            for t in v["data"].as_array_mut().into_iter().flatten() {
                shift(&mut t["px"]);
            }
        }
        _ => return raw.to_vec(),
    }
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn hand_built_session_trajectory() {
    // The report tests' reference session: pins the sampler and the table format themselves.
    let sc = report_support::Scenario::default();
    let outputs = report_support::build(&sc);
    check_outputs("hand_built", report_support::ts(0), report_support::ts(sc.minutes * 60), 300, &outputs);
}

#[test]
fn shipped_sample() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/sample");
    let session = check("sample", &sample, &[], 600);
    assert!(session.checklist().iter().all(|i| i.pass), "the demo's checklist must pass on the sample");
}

#[test]
fn synthetic_scenarios() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Quiet all along (the generator never leaves its quiet regime). Once a finding: the
    // detector entered `volatile` within minutes and stayed, freezing cal_gamma (EWMAs seeded
    // from the first return); fixed with bias-corrected EWMAs, pinned here.
    let quiet =
        synth(d, "quiet", 11, 20, &format!("initial_regime = \"quiet\"\n{}", regime_toml(1e7, 900.0, 300.0)));
    check("scenario_quiet", &quiet, &[], 120);

    let volatile = synth(
        d,
        "volatile",
        12,
        20,
        &format!("initial_regime = \"volatile\"\n{}", regime_toml(900.0, 900.0, 1e7)),
    );
    check("scenario_volatile", &volatile, &[], 120);

    // Regimes switching often: normal <-> volatile every few minutes.
    let switching = synth(d, "switching", 13, 20, &regime_toml(120.0, 180.0, 90.0));
    check("scenario_switching", &switching, &[], 120);

    // Toxic flow: most aggressive orders are informed and move the mid.
    let toxic = synth(d, "toxic", 14, 20, "informed_share = 0.7\ninformed_move_sigmas = 2.0\n");
    check("scenario_toxic", &toxic, &["--set", "fill_sim.adverse_fill_ratio=0.5"], 120);

    // Trending: the default market plus a steady drift of one tick every 2 s (+600 USD, about
    // 64 bp, over the 20 minutes), applied to books and trades alike.
    let base = synth(d, "base", 15, 20, "");
    let trending = d.join("trending");
    let mut t0 = None;
    rewrite(&base, &trending, |t, _, raw, _| {
        let start = *t0.get_or_insert(t);
        Some(shift_prices(raw, ((t - start) / 2_000_000_000) as i64))
    });
    check("scenario_trending", &trending, &[], 120);

    // Gap-ridden: three holes of 45 s with the feed's gap and reconnect records around them.
    let gappy = d.join("gappy");
    let mut t0 = None;
    let mut in_hole = false;
    rewrite(&base, &gappy, |t, _, raw, w| {
        let start = *t0.get_or_insert(t);
        let s_from_start = (t - start) / 1_000_000_000;
        let hole = [240, 600, 960].iter().any(|h| (h..&(h + 45)).contains(&&s_from_start));
        if hole && !in_hole {
            w.append_control(t, Control::Disconnect { reason: "test hole".into() }).unwrap();
            w.append_control(t, Control::Gap { reason: "test hole".into() }).unwrap();
        }
        if !hole && in_hole {
            w.append_control(t, Control::Connect { url: "ws://127.0.0.1/ws".into() }).unwrap();
        }
        in_hole = hole;
        (!hole).then(|| raw.to_vec())
    });
    let session = check("scenario_gappy", &gappy, &[], 120);
    let dropped = session.outputs.iter().filter(|(_, o)| matches!(o, Output::MarkoutDropped { .. })).count();
    let invalid = session
        .outputs
        .iter()
        .filter(|(_, o)| matches!(o, Output::BookValidity { valid: false, .. }))
        .count();
    assert!(invalid >= 3, "each hole invalidates the book ({invalid})");
    eprintln!("gappy: {dropped} markouts dropped over gaps, {invalid} book invalidations");
}

fn real(file: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real").join(file);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} absent", p.display());
        None
    }
}

#[test]
fn real_captures() {
    let tmp = tempfile::tempdir().unwrap();
    if let Some(f) = real("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz") {
        let rec = tmp.path().join("binance");
        run(&["import", "--format", "hftbacktest", "--venue", "binance-usdm", &s(&f), "--out", &s(&rec)]);
        check("real_binance_btcusdt", &rec, &[], 30);
    }
    if let Some(f) = real("hyperliquid_btc_20250126_hftbacktest-collector.gz") {
        let rec = tmp.path().join("hl");
        run(&["import", "--format", "hftbacktest", &s(&f), "--out", &s(&rec)]);
        check("real_hyperliquid_btc", &rec, &[], 5);
    }
    if let Some(f) = real("hyperliquid-archive_l2Book_BTC_20240101_12.lz4") {
        let rec = tmp.path().join("archive");
        run(&["import", "--format", "hl-archive", &s(&f), "--out", &s(&rec)]);
        check("real_hyperliquid_archive_hour", &rec, &[], 600);
    }
}
