//! Sweeps through the real binary: a 2x2 grid on a short synthetic recording, run in parallel,
//! equals its shards run apart and the same settings replayed alone (each run deterministic).

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_paper_trader");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("running paper_trader");
    assert!(out.status.success(), "paper_trader {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn rows(table: &str) -> Vec<String> {
    table.lines().filter(|l| l.starts_with("run-")).map(str::to_string).collect()
}

fn digest(session: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(session.join("summary.json")).unwrap()).unwrap();
    v["output_digest"].as_str().unwrap().to_string()
}

#[test]
fn grid_shards_and_single_runs_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let p = |name: &str| tmp.path().join(name).display().to_string();
    run(&[
        "synth",
        "--seed",
        "7",
        "--duration",
        "12m",
        "--coins",
        "BTC",
        "--out",
        &rec.display().to_string(),
    ]);
    let rec = rec.display().to_string();
    let sets = ["--set", "fill_prob_base=0.3,0.5", "--set", "fill_sim.adverse_fill_ratio=0,0.5"];
    let full = run(&[&["replay", &rec, "--jobs", "2", "--out", &p("all")][..], &sets].concat());
    let all = rows(&full);
    assert_eq!(all.len(), 4, "{full}");
    assert!(full.contains("fill_sim.fill_prob_base"), "bare keys resolve to their section: {full}");
    assert_eq!(std::fs::read_to_string(tmp.path().join("all/sweep.txt")).unwrap(), full);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("all/sweep.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);

    // Shards 1/2 and 2/2 hold runs 0, 2 and 1, 3, with the same figures as the full grid.
    let s1 = rows(&run(&[&["replay", &rec, "--shard", "1/2", "--out", &p("s1")][..], &sets].concat()));
    let s2 = rows(&run(
        &[&["replay", &rec, "--shard", "2/2", "--jobs", "1", "--out", &p("s2")][..], &sets].concat()
    ));
    assert_eq!(s1, vec![all[0].clone(), all[2].clone()]);
    assert_eq!(s2, vec![all[1].clone(), all[3].clone()]);

    // A grid point replayed alone gives the same output journal digest.
    run(&[
        "replay",
        &rec,
        "--set",
        "fill_sim.fill_prob_base=0.5",
        "--set",
        "fill_sim.adverse_fill_ratio=0.5",
        "--out",
        &p("one"),
    ]);
    assert_eq!(digest(&tmp.path().join("one")), digest(&tmp.path().join("all/run-0003")));

    // The knob that makes fills more adverse changes the outcome: runs are not copies.
    assert_ne!(digest(&tmp.path().join("all/run-0000")), digest(&tmp.path().join("all/run-0001")));
}

#[test]
fn a_bad_value_in_the_grid_is_one_clear_error_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec").display().to_string();
    run(&["synth", "--seed", "1", "--duration", "2m", "--coins", "BTC", "--out", &rec]);
    let out_dir = tmp.path().join("bad");
    let out = Command::new(BIN)
        .args(["replay", &rec, "--set", "fill_prob_base=0.3,7", "--out", &out_dir.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fill_sim.fill_prob_base"), "{err}");
    assert!(!out_dir.join("run-0000").exists(), "nothing ran");
}

#[path = "report_support/browser.rs"]
mod browser;

/// Issue 13: the sweep page. One `<tr data-run>` a run, the swept keys in the header, settings
/// as typed values, a small multiple per run; in headless Chromium every chart has data and
/// zooms.
#[test]
fn the_sweep_page_has_a_row_per_run_and_working_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec").display().to_string();
    let p = |name: &str| tmp.path().join(name).display().to_string();
    run(&["synth", "--seed", "3", "--duration", "6m", "--coins", "BTC", "--out", &rec]);
    run(&["replay", &rec, "--jobs", "2", "--set", "fill_prob_base=0.3,0.6", "--out", &p("sw")]);
    let text = run(&["report", &p("sw"), "--html", &p("sw.html")]);
    assert_eq!(rows(&text).len(), 2, "{text}");
    let page = std::fs::read_to_string(p("sw.html")).unwrap();
    assert_eq!(page.matches("<tr data-run=").count(), 2);
    assert!(page.contains("data-key=\"fill_sim.fill_prob_base\""), "the swept key names a column");
    assert!(page.contains("data-value=\"0.3\">0.3</td>") && page.contains("data-value=\"0.6\">0.6</td>"));
    // The page's figures are the runs' own.
    assert!(page.contains(&digest(&tmp.path().join("sw/run-0000"))[..12]));
    let charts = page.matches("data-pt-chart=").count();
    assert_eq!(charts, 2, "one small multiple per run");
    if let Some(dom) = browser::dump_dom(&page, "#selftest") {
        browser::assert_charts_pass(&dom, charts);
    }
}
