//! Issue 13, "never surprise": each CLI fix through the real binary, with a one-line postmortem.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_paper_trader");

fn pt(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("RUST_LOG").output().expect("running paper_trader")
}

fn ok(args: &[&str]) -> String {
    let out = pt(args);
    assert!(out.status.success(), "paper_trader {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn summary(session: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(session.join("summary.json")).unwrap()).unwrap()
}

/// A short synthetic recording (one per test: tests run in parallel).
fn recording(dir: &Path) -> String {
    let rec = dir.join("rec").display().to_string();
    ok(&["synth", "--seed", "11", "--duration", "6m", "--coins", "BTC", "--out", &rec]);
    rec
}

/// Postmortem: `demo --out DIR` removed DIR with whatever it held, and exited 0.
#[test]
fn demo_never_deletes_what_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("important.txt"), "keep").unwrap();
    let f = foreign.display().to_string();
    let out = pt(&["demo", "--recording", &rec, "--out", &f, "--replace"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a paper_trader session"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(foreign.join("important.txt")).unwrap(), "keep");

    // One of ours: refused without --replace, replaced with it.
    let ours = tmp.path().join("ours").display().to_string();
    let _ = pt(&["demo", "--recording", &rec, "--out", &ours]);
    assert!(Path::new(&ours).join(".paper_trader-session").exists(), "the session carries the marker");
    let again = pt(&["demo", "--recording", &rec, "--out", &ours]);
    assert!(!again.status.success() && stderr(&again).contains("--replace"), "{}", stderr(&again));
    let replaced = pt(&["demo", "--recording", &rec, "--out", &ours, "--replace"]);
    assert!(Path::new(&ours).join("report.html").exists(), "{}", stderr(&replaced));
    // A session someone put their own file into is not removed either.
    std::fs::write(Path::new(&ours).join("notes.txt"), "mine").unwrap();
    let refused = pt(&["demo", "--recording", &rec, "--out", &ours, "--replace"]);
    assert!(!refused.status.success() && stderr(&refused).contains("notes.txt"), "{}", stderr(&refused));
    assert!(Path::new(&ours).join("notes.txt").exists());
}

/// Postmortem: `replay --from` past the end wrote an empty session (digest 000...0), exit 0;
/// a coin the recording has no book for gave 0 fills, exit 0.
#[test]
fn a_replay_that_cannot_trade_says_why_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let p = |n: &str| tmp.path().join(n).display().to_string();
    let out = pt(&["replay", &rec, "--from", "+10h", "--out", &p("late")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nothing was replayed"), "{}", stderr(&out));
    let out = pt(&["replay", &rec, "--coins", "ETH", "--out", &p("eth")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no order book for ETH"), "{}", stderr(&out));
    // Good data is a result however few fills it makes: 20 s of it still exits 0.
    ok(&["replay", &rec, "--to", "+20s", "--out", &p("short")]);
}

/// Postmortem: logs carried ANSI colour codes into files; RUST_LOG=debug printed nothing.
#[test]
fn logs_are_plain_off_a_terminal_and_debug_shows_the_trading() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let out = Command::new(BIN)
        .args(["replay", &rec, "--to", "+2m", "--out", &tmp.path().join("d").display().to_string()])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(!log.contains('\x1b'), "ANSI escapes in a log written to a pipe");
    for what in [" placed: ", " fill ", " model: "] {
        assert!(log.contains(what), "RUST_LOG=debug shows no '{what}' line");
    }
}

/// Postmortem: there was no way to see the configuration a run would use, nor to replay a
/// session's own `session.toml`.
#[test]
fn the_configuration_is_printed_with_comments_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let p = |n: &str| tmp.path().join(n).display().to_string();
    let printed = ok(&["replay", &rec, "--set", "fill_sim.fill_prob_base=0.3", "--print-config"]);
    assert!(printed.contains("fill_prob_base = 0.3"), "{printed}");
    assert!(printed.lines().filter(|l| l.starts_with("# ")).count() > 40, "a comment per key");
    std::fs::write(p("cfg.toml"), &printed).unwrap();
    for cmd in [&["demo", "--print-config"][..], &["live", "--coins", "BTC", "--print-config"][..]] {
        let text = ok(cmd);
        assert!(text.contains("[fill_sim]") && text.contains("# "), "{cmd:?}: {text}");
    }
    ok(&[
        "replay",
        &rec,
        "--to",
        "+3m",
        "--set",
        "fill_sim.fill_prob_base=0.3",
        "--seed",
        "9",
        "--out",
        &p("a"),
    ]);
    ok(&["replay", &rec, "--to", "+3m", "--config", &p("cfg.toml"), "--seed", "9", "--out", &p("b")]);
    // session.toml brings its configuration and its seed.
    ok(&["replay", &rec, "--to", "+3m", "--config", &p("a/session.toml"), "--out", &p("c")]);
    let d = |s: &str| summary(Path::new(&p(s)))["output_digest"].as_str().unwrap().to_string();
    assert_eq!(d("a"), d("b"));
    assert_eq!(d("a"), d("c"));
    assert_eq!(summary(Path::new(&p("c")))["seed"], 9);
}

/// Postmortem: `live` against a URL that never answers wrote an empty session, exit 0.
#[test]
fn live_without_market_data_fails_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let out = tmp.path().join("live").display().to_string();
    let o = pt(&["live", "--url", &url, "--coins", "BTC", "--duration", "2s", "--out", &out]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no market data arrived"), "{}", stderr(&o));
}

/// The PnL breakdown in summary.json adds up to the net, and the report and summary agree.
#[test]
fn the_pnl_breakdown_adds_up_to_the_net() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let s = tmp.path().join("s");
    ok(&["replay", &rec, "--out", &s.display().to_string()]);
    let v = summary(&s);
    let b = &v["pnl_breakdown"];
    let f = |x: &serde_json::Value| x.as_f64().unwrap();
    let p = &v["pnl"];
    let net = f(&p["realized"]) + f(&p["unrealized"]) + p.get("funding").map_or(0.0, f) - f(&p["fees"]);
    assert!((f(&b["net"]) - net).abs() < 1e-9, "{b}");
    assert!((f(&b["fees"]) - f(&p["fees"])).abs() < 1e-12);
    let parts = f(&b["spread"]) + f(&b["adverse"]) + f(&b["inventory"]) + f(&b["funding"]) - f(&b["fees"]);
    assert!((parts - f(&b["net"])).abs() < 1e-9, "{b}");
    assert!(v["fills"].as_u64().unwrap() > 0 && f(&b["spread"]) != 0.0, "{b}");
    assert!(f(&v["max_drawdown"]) >= 0.0);
    let html = tmp.path().join("r.html");
    let text = ok(&["report", &s.display().to_string(), "--html", &html.display().to_string()]);
    assert!(text.contains(&format!("= net {:+.4} USD", f(&b["net"]))), "{text}");
    let page = std::fs::read_to_string(html).unwrap();
    assert!(page.contains(v["output_digest"].as_str().unwrap()) && page.contains("Provenance"));
}

/// The pnl_tracking item of `validate --json` on a session directory.
fn pnl_tracking(session: &Path) -> serde_json::Value {
    let out = pt(&["validate", &session.display().to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("validate --json prints JSON");
    let items = v["items"].as_array().or_else(|| v.as_array()).cloned().unwrap_or_default();
    items
        .into_iter()
        .find(|i| i["name"] == "pnl_tracking")
        .unwrap_or_else(|| panic!("no pnl_tracking item: {v}"))
}

/// Postmortem: `validate` recomputed every fill's fee from a path session.toml does not have
/// (`account.maker_fee_bp` instead of `config.account.maker_fee_bp`), so the fees were never
/// checked against the session's own `maker_fee_bp`: a session whose fees disagree with its
/// session.toml passed.
#[test]
fn validate_checks_fees_against_the_session_toml_maker_fee() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let good = tmp.path().join("good");
    ok(&["replay", &rec, "--set", "account.maker_fee_bp=-0.5", "--out", &good.display().to_string()]);
    assert!(summary(&good)["fills"].as_u64().unwrap() > 0, "the session has fills to check");
    let item = pnl_tracking(&good);
    assert!(
        item["detail"].as_str().unwrap().contains(" 0 fee"),
        "the rebate of -0.5 bp is the session's: {item}"
    );
    assert_eq!(item["pass"], true, "{item}");

    // The same journal, but session.toml says another maker fee: every fill's fee disagrees.
    let bad = tmp.path().join("bad");
    copy_dir(&good, &bad);
    let toml_path = bad.join("session.toml");
    let text = std::fs::read_to_string(&toml_path).unwrap();
    assert!(text.contains("maker_fee_bp = -0.5"), "{text}");
    std::fs::write(&toml_path, text.replace("maker_fee_bp = -0.5", "maker_fee_bp = 2.5")).unwrap();
    let item = pnl_tracking(&bad);
    assert_eq!(item["pass"], false, "fees of -0.5 bp accepted against a session.toml of 2.5 bp: {item}");
    assert!(item["detail"].as_str().unwrap().contains(" fee,"), "{item}");
    assert!(!item["detail"].as_str().unwrap().contains(" 0 fee,"), "{item}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
