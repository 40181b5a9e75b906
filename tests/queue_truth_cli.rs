//! `queue-truth` end to end, as processes: an order-level synthetic recording, sessions under
//! two queue models, and the scores against the exact queue.

use std::path::Path;
use std::process::{Command, Output};

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paper_trader")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> Output {
    let o = bin(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn replay(rec: &Path, out: &Path, sets: &[&str]) {
    let mut args = vec!["replay", rec.to_str().unwrap(), "--out", out.to_str().unwrap()];
    for s in sets {
        args.extend(["--set", s]);
    }
    ok(&args);
}

fn truth(session: &Path) -> serde_json::Value {
    let o = ok(&["queue-truth", session.to_str().unwrap(), "--json"]);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn the_flat_model_at_p_1_overstates_the_exact_queue_and_the_fit_says_by_how_much() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("l3");
    ok(&["synth", "--seed", "11", "--duration", "20m", "--order-level", "--out", rec.to_str().unwrap()]);
    let (flat, rig) = (tmp.path().join("flat"), tmp.path().join("rig"));
    replay(
        &rec,
        &flat,
        &["fill_sim.ignore_book_depth=true", "fill_sim.fill_prob_base=1.0", "fill_sim.adverse_fill_ratio=0"],
    );
    replay(
        &rec,
        &rig,
        &["fill_sim.ignore_book_depth=false", "fill_sim.queue_exponent=3", "fill_sim.adverse_fill_ratio=0"],
    );
    let (f, r) = (truth(&flat), truth(&rig));
    for q in [&f, &r] {
        let n = |k: &str| q[k].as_f64().unwrap_or_else(|| panic!("{k} missing in {q}"));
        assert!(n("true_fills") > 100.0 && n("orders") > n("true_fills"));
        let c = &q["confusion"];
        let sum: u64 =
            ["both", "simulated_only", "true_only", "neither"].iter().map(|k| c[k].as_u64().unwrap()).sum();
        assert_eq!(sum as f64, n("orders"));
        assert_eq!(
            c["both"].as_u64().unwrap() + c["simulated_only"].as_u64().unwrap(),
            n("simulated_fills") as u64
        );
        assert_eq!(c["both"].as_u64().unwrap() + c["true_only"].as_u64().unwrap(), n("true_fills") as u64);
        assert!((n("fill_ratio") - n("simulated_fills") / n("true_fills")).abs() < 1e-12);
    }
    // At p = 1 every trade at our price fills us: never fewer fills than the FIFO gives, and
    // more whenever a trade at our price did not reach our place in the queue.
    let fit = &f["fit"];
    let (trades, reached) = (fit["at_price_trades"].as_u64().unwrap(), fit["reached"].as_u64().unwrap());
    assert!(trades > reached, "no trade at an order's price missed it: {fit}");
    assert!(f["fill_ratio"].as_f64().unwrap() > 1.0, "{f}");
    assert!(f["fill_ratio"].as_f64().unwrap() > r["fill_ratio"].as_f64().unwrap());
    assert_eq!(f["scored"]["queue_model"], "flat");
    assert_eq!(r["scored"]["queue_exponent"], 3);
    // The table has one row per session.
    let o = ok(&["queue-truth", flat.to_str().unwrap(), rig.to_str().unwrap(), "--table"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("| uniform |")).count(), 2, "{text}");
}

#[test]
fn a_recording_without_the_order_level_stream_is_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("plain");
    ok(&["synth", "--seed", "3", "--duration", "2m", "--out", rec.to_str().unwrap()]);
    let s = tmp.path().join("s");
    replay(&rec, &s, &[]);
    let o = bin(&["queue-truth", s.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no order-level stream") && err.contains("--order-level"), "{err}");
    assert!(o.stdout.is_empty());
    // Not a session at all: a clear error too.
    let o = bin(&["queue-truth", rec.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a session"));
}
