//! The log commands as a user runs them: `verify` exit codes, `inspect --json` shape,
//! `repair` then `verify`, `cat --from/--to/--stream`.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], rec: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paper_trader")).args(args).arg(rec).output().unwrap()
}

fn golden_copy(tmp: &Path) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/log/v1");
    let dst = tmp.join("rec");
    std::fs::create_dir(&dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
    dst
}

fn last_file(rec: &Path) -> std::path::PathBuf {
    let mut v: Vec<_> =
        std::fs::read_dir(rec).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v.pop().unwrap()
}

#[test]
fn verify_says_intact_torn_or_corrupt_by_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = golden_copy(tmp.path());
    assert_eq!(run(&["verify"], &rec).status.code(), Some(0));
    let f = last_file(&rec);
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let out = run(&["verify"], &rec);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&*f.to_string_lossy()), "names the file");
    let mut b = bytes.clone();
    b[bytes.len() / 3] ^= 0x40;
    std::fs::write(&f, &b).unwrap();
    assert_eq!(run(&["verify"], &rec).status.code(), Some(4));
    // repair rewrites what is readable; the recording then verifies intact.
    assert_eq!(run(&["repair"], &rec).status.code(), Some(0));
    assert_eq!(run(&["verify"], &rec).status.code(), Some(0));
    assert!(rec.join("damaged").is_dir());
}

#[test]
fn inspect_json_has_the_documented_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = golden_copy(tmp.path());
    let out = run(&["inspect", "--json"], &rec);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["files", "records", "messages", "first_ns", "last_ns", "compressed_bytes", "raw_bytes"] {
        assert!(v[key].is_u64(), "{key}: {v}");
    }
    assert_eq!(v["files"], 2);
    assert_eq!(v["status"], "intact");
    assert_eq!(v["records"], 49);
    let streams = v["streams"].as_object().unwrap();
    assert_eq!(streams.values().map(|n| n.as_u64().unwrap()).sum::<u64>(), v["messages"].as_u64().unwrap());
    assert!(streams.contains_key("l2Book:BTC"));
}

#[test]
fn cat_filters_by_time_and_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = golden_copy(tmp.path());
    let all = String::from_utf8(run(&["cat"], &rec).stdout).unwrap();
    let trades = String::from_utf8(run(&["cat", "--stream", "trades:BTC"], &rec).stdout).unwrap();
    assert!(!trades.is_empty());
    assert!(trades.lines().all(|l| l.contains("\"trades\"")));
    let window = String::from_utf8(run(&["cat", "--from", "+5s", "--to", "+10s"], &rec).stdout).unwrap();
    // Offsets count from the first record: the golden recording's connect control at T0.
    let t0: u64 = 1_737_917_990_000_000_000;
    let in_window: Vec<&str> = all
        .lines()
        .filter(|l| {
            let t: u64 = l.split(' ').next().unwrap().parse().unwrap_or(0);
            t >= t0 + 5_000_000_000 && t <= t0 + 10_000_000_000
        })
        .collect();
    assert_eq!(window.lines().collect::<Vec<_>>(), in_window);
}
