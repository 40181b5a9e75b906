//! Issue 16, live latency: `live --engine-cpu N` gives the engine a CPU of its own. Real
//! `serve` and `live` processes over loopback; the threads' CPU masks are read from
//! `/proc/PID/task/*/status` while the session runs (Linux).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod serve_support;

use serve_support::Serve;

const BIN: &str = env!("CARGO_BIN_EXE_paper_trader");

/// "0-2,5" -> [0, 1, 2, 5].
fn cpu_list(s: &str) -> Vec<usize> {
    s.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .flat_map(|p| match p.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().unwrap()..=b.parse().unwrap()).collect::<Vec<_>>(),
            None => vec![p.parse().unwrap()],
        })
        .collect()
}

fn field(status: &str, key: &str) -> Option<String> {
    status.lines().find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
}

/// Each thread of `pid`: (thread id, name, CPUs it may run on).
fn threads(pid: u32) -> Vec<(u32, String, Vec<usize>)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid: u32 = e.file_name().to_str()?.parse().ok()?;
        let status = std::fs::read_to_string(e.path().join("status")).ok()?;
        Some((tid, field(&status, "Name:")?, cpu_list(&field(&status, "Cpus_allowed_list:")?)))
    })
    .collect()
}

fn allowed_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    cpu_list(&field(&status, "Cpus_allowed_list:").unwrap())
}

fn recording(dir: &Path) -> String {
    let rec = dir.join("rec").display().to_string();
    let o = Command::new(BIN)
        .args(["synth", "--seed", "5", "--duration", "3m", "--coins", "BTC,ETH", "--out", &rec])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    rec
}

#[test]
fn the_engine_thread_runs_alone_on_its_cpu() {
    let cpus = allowed_cpus();
    if cpus.len() < 2 {
        eprintln!("skipped: this process may use one CPU only ({cpus:?})");
        return;
    }
    let cpu = *cpus.last().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(BIN, &recording(tmp.path()), "1x");
    let out = tmp.path().join("session");
    let live = Command::new(BIN)
        .args(["live", "--url", &serve.1, "--coins", "BTC,ETH", "--duration", "5s", "--heartbeat", "0"])
        .args(["--engine-cpu", &cpu.to_string(), "--out", &out.display().to_string()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = live.id();
    // Once the session's messages flow (its inputs are being recorded), read every thread's mask.
    let mut seen = Vec::new();
    for _ in 0..80 {
        let t = threads(pid);
        let has = |n: &str| t.iter().any(|(_, name, _)| name == n);
        if has("journal-writer") && has("recorder") && out.join("inputs").exists() {
            std::thread::sleep(Duration::from_millis(1500));
            seen = threads(pid);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = live.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    assert!(!seen.is_empty(), "the session's threads never showed up: {err}");
    // Inline, the engine runs on the main thread (its id is the process's).
    let main = seen.iter().find(|(tid, _, _)| *tid == pid).expect("main thread");
    assert_eq!(main.2, vec![cpu], "engine thread: {seen:?}");
    for name in ["journal-writer", "recorder"] {
        let (_, _, mask) = seen.iter().find(|(_, n, _)| n == name).unwrap();
        assert!(
            !mask.contains(&cpu) && !mask.is_empty(),
            "{name} may run on {mask:?}, the engine's CPU is {cpu}"
        );
    }
    // The session ended whole.
    assert!(out.join("summary.json").exists());
}

#[test]
fn a_cpu_this_process_may_not_use_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("session");
    let o = Command::new(BIN)
        .args(["live", "--url", "ws://127.0.0.1:9/ws", "--coins", "BTC", "--duration", "2s"])
        .args(["--engine-cpu", "100000", "--out", &out.display().to_string()])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success());
    assert!(err.contains("--engine-cpu 100000") && err.contains("may run on CPUs"), "{err}");
    assert!(!out.exists(), "a refused session left {}", out.display());
}
