//! Issue 13, live at the terminal: the heartbeat line off a terminal, the status panel on one
//! (log lines go above it, never through it), and the warning when the exchange's event times
//! run faster than receive time (`serve --speed Nx`). Real `serve` and `live` processes over
//! loopback.

use std::path::Path;
use std::process::Command;

mod serve_support;

use serve_support::Serve;

const BIN: &str = env!("CARGO_BIN_EXE_paper_trader");

fn run(args: &[&str]) {
    let out = Command::new(BIN).args(args).env_remove("RUST_LOG").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn recording(dir: &Path) -> String {
    let rec = dir.join("rec").display().to_string();
    run(&["synth", "--seed", "21", "--duration", "4m", "--coins", "BTC", "--out", &rec]);
    rec
}

fn live_json(session: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(session.join("live.json")).unwrap()).unwrap()
}

/// Postmortem: a live session against `serve --speed 10x` ran the engine on compressed time
/// and said nothing; off a terminal, a live session printed one progress line a minute.
#[test]
fn an_accelerated_feed_is_warned_about_and_the_heartbeat_beats() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let serve = Serve::start(BIN, &rec, "10x");
    let out = tmp.path().join("fast");
    let o = Command::new(BIN)
        .args(["live", "--url", &serve.1, "--coins", "BTC", "--duration", "8s", "--heartbeat", "1"])
        .args(["--out", &out.display().to_string()])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    assert!(err.contains("faster than receive time"), "no accelerated-feed warning: {err}");
    assert_eq!(err.matches("faster than receive time").count(), 1, "warned once per coin: {err}");
    let speed = live_json(&out)["event_time_speed"]["BTC"].as_f64().unwrap();
    assert!((7.0..13.0).contains(&speed), "event_time_speed {speed} for --speed 10x");
    let beats: Vec<&str> = err.lines().filter(|l| l.contains("heartbeat ")).collect();
    assert!(beats.len() >= 5, "{} heartbeat lines in 8 s at --heartbeat 1: {err}", beats.len());
    let last = beats.last().unwrap();
    for what in ["messages", "BTC: mid ", "bid ", "ask ", "USD", "net PnL", "/min)", "checklist "] {
        assert!(last.contains(what), "the heartbeat has no '{what}': {last}");
    }
    assert!(!err.contains('\x1b'), "escape sequences in a log written to a pipe");
}

/// At the venue's own pace there is no warning, the speed is about 1, and `--heartbeat 0`
/// turns the heartbeat off.
#[test]
fn a_feed_at_its_own_pace_is_not_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let serve = Serve::start(BIN, &rec, "1x");
    let out = tmp.path().join("slow");
    let o = Command::new(BIN)
        .args(["live", "--url", &serve.1, "--coins", "BTC", "--duration", "7s", "--heartbeat", "0"])
        .args(["--out", &out.display().to_string()])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("faster than receive time"), "{err}");
    assert!(!err.contains("heartbeat "), "--heartbeat 0 still beats: {err}");
    let speed = live_json(&out)["event_time_speed"]["BTC"].as_f64().unwrap();
    assert!((0.8..1.25).contains(&speed), "event_time_speed {speed} at 1x");
}

/// On a terminal (a pseudo-terminal from `script`), the status panel is redrawn in place and
/// every log line is written above it: the panel is erased (`ESC [ n F ESC [ J`; a redraw
/// only overwrites its lines), the line
/// written whole, and the panel drawn again right after it.
#[test]
fn on_a_terminal_log_lines_go_above_the_status_panel() {
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("skipping: no /usr/bin/script to give live a terminal");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(tmp.path());
    let serve = Serve::start(BIN, &rec, "10x");
    let out = tmp.path().join("tty").display().to_string();
    let cmd = format!("{BIN} live --url {} --coins BTC --duration 6s --out {out} 2>&1", serve.1);
    let o = Command::new("/usr/bin/script")
        .args(["-qfec", &cmd, "/dev/null"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{text}");
    assert!(text.contains("\x1b[2KBTC: mid "), "no panel line for BTC: {text:?}");
    assert!(text.contains("\x1b[2Knet PnL "), "no PnL line in the panel: {text:?}");
    // Log lines while the panel shows: each is preceded by the erase and followed by the panel.
    let logged: Vec<&str> = text.split("F\x1b[J").skip(1).collect();
    assert!(!logged.is_empty(), "no log line written over the panel: {text:?}");
    for chunk in &logged {
        let (line, after) = chunk.split_once('\n').unwrap_or((chunk, ""));
        let after = after.trim_start_matches('\r');
        assert!(!line.contains("\x1b[2K"), "a log line broken by the panel: {line:?}");
        assert!(
            after.is_empty() || after.starts_with("\x1b[2K"),
            "the panel is not redrawn after {line:?}: {after:?}"
        );
    }
    assert!(
        logged.iter().any(|c| c.contains("faster than receive time")),
        "the warning went above the panel: {text:?}"
    );
}
