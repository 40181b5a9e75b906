//! The standing damage campaign of issue 11: real `kill -9`s of a recorder against `serve`,
//! truncations and bit flips at random offsets of a real import, and each command on each
//! damaged file. `make soak` runs it at full size (`SOAK_KILLS`, `SOAK_TRUNCATIONS`,
//! `SOAK_FLIPS`, `SOAK_SEED`; defaults 200, 300, 300, 1) and prints a table of trials and
//! failures; `make test` runs a small fixed-seed slice.
//!
//! What counts as a failure: a panic; an exit code outside the contract; a torn file whose
//! `cat` is not an exact prefix of the intact one; a flip that loses records a truncation at
//! the same offset keeps (beyond the last second before it) or returns a line never written;
//! a silent damaged replay; a `repair` after which `verify` is not 0; a killed recorder whose
//! recording does not verify, repair and verify again.

#![allow(clippy::disallowed_methods)] // Kill timing is wall-clock by nature.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_paper_trader")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run paper_trader")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// SplitMix64: reproducible trials from a seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Trials and failures by (campaign, check), and the first failures' stories.
#[derive(Default)]
struct Table {
    rows: BTreeMap<(String, String), (u64, u64)>,
    stories: Vec<String>,
}

impl Table {
    fn check(&mut self, campaign: &str, what: &str, ok: bool, story: impl FnOnce() -> String) {
        let row = self.rows.entry((campaign.to_string(), what.to_string())).or_default();
        row.0 += 1;
        if !ok {
            row.1 += 1;
            if self.stories.len() < 40 {
                self.stories.push(format!("{campaign}/{what}: {}", story()));
            }
        }
    }
    /// Checks a command's exit code is one of `codes` and that it did not panic.
    fn command(&mut self, campaign: &str, what: &str, out: &Output, codes: &[i32]) -> bool {
        let code = out.status.code();
        let err = String::from_utf8_lossy(&out.stderr);
        let ok = code.is_some_and(|c| codes.contains(&c)) && !err.contains("panicked");
        self.check(campaign, what, ok, || {
            format!("exit {code:?}, want {codes:?}: {}", err.lines().last().unwrap_or(""))
        });
        ok
    }
    fn failures(&self) -> u64 {
        self.rows.values().map(|r| r.1).sum()
    }
    fn print(&self) {
        println!("{:<12} {:<28} {:>8} {:>8}", "campaign", "check", "trials", "failures");
        for ((c, w), (n, f)) in &self.rows {
            println!("{c:<12} {w:<28} {n:>8} {f:>8}");
        }
        println!(
            "{:<12} {:<28} {:>8} {:>8}",
            "total",
            "",
            self.rows.values().map(|r| r.0).sum::<u64>(),
            self.failures()
        );
        for st in &self.stories {
            println!("FAIL {st}");
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A real import to damage: the first lines of the Binance capture when `../shared` is there,
/// else the shipped synthetic sample's first file (our own bytes, still a real recording).
fn source(tmp: &Path, lines: usize) -> (PathBuf, &'static str) {
    let real = root().join("../shared/data/real/binance-usdm_btcusdt_20240808_hftbacktest-collector.gz");
    if real.exists() {
        let text = tmp.join("capture.txt");
        let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(&real).unwrap());
        let mut out = Vec::new();
        for l in std::io::BufReader::new(gz).lines().take(lines) {
            out.extend_from_slice(l.unwrap().as_bytes());
            out.push(b'\n');
        }
        std::fs::write(&text, out).unwrap();
        let rec = tmp.join("import");
        let o = run(&["import", "--format", "hftbacktest", s(&text), "--out", s(&rec)]);
        assert!(o.status.success(), "import: {}", String::from_utf8_lossy(&o.stderr));
        (rec, "BTCUSDT")
    } else {
        eprintln!("notice: ../shared/data/real absent: damaging the shipped sample instead");
        (root().join("recordings/sample"), "BTC")
    }
}

fn the_file(rec: &Path) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".ptlog"))
        .collect();
    v.sort();
    v.remove(0)
}

fn cat_lines(rec: &Path) -> (Vec<Vec<u8>>, Output) {
    let o = run(&["cat", s(rec)]);
    let lines = o.stdout.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect::<Vec<_>>();
    let mut lines = lines;
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    (lines, o)
}

fn recv_ns(line: &[u8]) -> u64 {
    line.split(|&b| b == b' ').next().and_then(|d| std::str::from_utf8(d).ok()?.parse().ok()).unwrap_or(0)
}

/// The read-only commands on a damaged recording: none panics, each exits within the contract.
/// Without a readable file header the venue is unknown: `events` and `book` say so (exit 1).
fn every_command(
    t: &mut Table,
    campaign: &str,
    rec: &Path,
    coin: &str,
    verify_codes: &[i32],
    headerless: bool,
) {
    let venue_codes: &[i32] = if headerless { &[0, 1] } else { &[0] };
    t.command(campaign, "verify", &run(&["verify", s(rec)]), verify_codes);
    t.command(campaign, "inspect", &run(&["inspect", s(rec), "--json"]), verify_codes);
    t.command(campaign, "events", &run(&["events", s(rec), "--json"]), venue_codes);
    t.command(
        campaign,
        "book",
        &run(&["book", s(rec), "--coin", coin, "--at", "+20s", "--json"]),
        venue_codes,
    );
}

fn damage_campaign(t: &mut Table, tmp: &Path, truncations: u64, flips: u64, rng: &mut Rng, lines: usize) {
    let (rec, coin) = source(tmp, lines);
    let file = the_file(&rec);
    let name = file.file_name().unwrap().to_owned();
    let bytes = std::fs::read(&file).unwrap();
    let header_len = 8 + u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let (all, _) = cat_lines(&rec);
    let written: BTreeSet<&[u8]> = all.iter().map(Vec::as_slice).collect();
    let trial_dir = |kind: &str, n: u64| {
        let d = tmp.join(format!("{kind}{n}"));
        std::fs::create_dir(&d).unwrap();
        d
    };
    for n in 0..truncations {
        let cut = rng.below(bytes.len() as u64) as usize;
        let d = trial_dir("cut", n);
        std::fs::write(d.join(&name), &bytes[..cut]).unwrap();
        let c = "truncation";
        let (got, o) = cat_lines(&d);
        if t.command(c, "cat", &o, &[3]) {
            t.check(c, "cat is an exact prefix", all.starts_with(&got), || format!("cut at {cut}"));
        }
        every_command(t, c, &d, coin, &[3], cut < header_len);
        let out = d.join("session");
        let o = run(&["replay", s(&d), "--out", s(&out)]);
        // A torn tail replays with a warning and exit 0 (an empty one has nothing to trade).
        if t.command(c, "replay", &o, &[0, 1]) && o.status.code() == Some(0) {
            t.check(c, "replay warns", !o.stderr.is_empty(), || format!("cut at {cut}: silent"));
        }
        t.command(c, "repair", &run(&["repair", s(&d)]), &[0]);
        t.command(c, "verify after repair", &run(&["verify", s(&d)]), &[0]);
        std::fs::remove_dir_all(&d).unwrap();
    }
    for n in 0..flips {
        let at = rng.below(bytes.len() as u64) as usize;
        let bit = 1u8 << rng.below(8);
        let c = "flip";
        let d = trial_dir("flip", n);
        let mut b = bytes.clone();
        b[at] ^= bit;
        std::fs::write(d.join(&name), &b).unwrap();
        let dt = trial_dir("flipcut", n);
        std::fs::write(dt.join(&name), &bytes[..at]).unwrap();
        let (kept_by_cut, _) = cat_lines(&dt);
        std::fs::remove_dir_all(&dt).unwrap();
        // A flip in the first bytes (magic, header size) makes the file not a recording: exit 1.
        let codes: &[i32] = if at < 8 { &[0, 1, 3, 4] } else { &[0, 3, 4] };
        let (got, o) = cat_lines(&d);
        if t.command(c, "cat", &o, codes) {
            t.check(c, "no foreign record", got.iter().all(|l| written.contains(l.as_slice())), || {
                format!("flip at {at}: a line that was never written")
            });
            let last = kept_by_cut.last().map_or(0, |l| recv_ns(l));
            let window = kept_by_cut.iter().filter(|l| recv_ns(l) + 1_000_000_000 > last).count();
            let kept = got.iter().take_while(|l| recv_ns(l) <= last).count();
            t.check(c, "loses at most 1 s before", kept + window + 1 >= kept_by_cut.len(), || {
                format!(
                    "flip at {at}: {kept} records before it back, a cut there keeps {}",
                    kept_by_cut.len()
                )
            });
            if o.status.code() == Some(0) {
                t.check(c, "undetected is harmless", got == all, || {
                    format!("flip at {at}: records changed, exit 0")
                });
            }
        }
        every_command(t, c, &d, coin, codes, at < header_len);
        let corrupt = run(&["verify", s(&d)]).status.code() == Some(4);
        let o = run(&["replay", s(&d), "--out", s(&d.join("s1"))]);
        if t.command(c, "replay", &o, &[0, 1, 4]) && corrupt {
            t.check(c, "damaged replay is loud", !o.stderr.is_empty() && o.status.code() != Some(0), || {
                format!("flip at {at}: exit {:?}", o.status.code())
            });
        }
        let o = run(&["replay", s(&d), "--accept-damage", "--out", s(&d.join("s2"))]);
        if t.command(c, "replay --accept-damage", &o, &[0, 1]) && corrupt && o.status.code() == Some(0) {
            let summary = std::fs::read_to_string(d.join("s2/summary.json")).unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&summary).unwrap_or_default();
            t.check(
                c,
                "input_damage listed",
                v["input_damage"].as_array().is_some_and(|a| !a.is_empty()),
                || format!("flip at {at}: summary.json has no input_damage"),
            );
        }
        // A file that is not a recording is not ours to rewrite: repair refuses it.
        if at >= 8 {
            t.command(c, "repair", &run(&["repair", s(&d)]), &[0]);
            t.command(c, "verify after repair", &run(&["verify", s(&d)]), &[0]);
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}

/// `serve` on the shipped sample, looping at 20x; returns the child and its URL.
fn serve() -> (std::process::Child, String) {
    let mut child = Command::new(bin())
        .args(["serve", s(&root().join("recordings/sample")), "--port", "0", "--speed", "20x", "--loop"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line.trim().to_string())
}

fn kill_campaign(t: &mut Table, tmp: &Path, kills: u64, rng: &mut Rng) {
    let (mut server, url) = serve();
    for n in 0..kills {
        let out = tmp.join(format!("kill{n}"));
        let mut rec = Command::new(bin())
            .args(["record", "--venue", "hyperliquid", "--url", &url, "--coins", "BTC", "--out", s(&out)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill anywhere from the first milliseconds (before a flush) to a few seconds in.
        let ms = [rng.below(300), 300 + rng.below(2700)][(rng.below(2)) as usize];
        std::thread::sleep(Duration::from_millis(ms));
        let _ = rec.kill();
        let _ = rec.wait();
        let c = "kill";
        let files = out.read_dir().map_or(0, Iterator::count);
        if files == 0 {
            // Killed before the first record (no file yet: files are named by their first
            // record's hour): nothing was recorded, nothing to check.
            t.check(c, "killed before the first record", true, String::new);
            let _ = std::fs::remove_dir_all(&out);
            continue;
        }
        let (before, o) = cat_lines(&out);
        t.command(c, "cat", &o, &[0, 3]);
        t.command(c, "verify", &run(&["verify", s(&out)]), &[0, 3]);
        t.command(c, "repair", &run(&["repair", s(&out)]), &[0]);
        t.command(c, "verify after repair", &run(&["verify", s(&out)]), &[0]);
        let (after, _) = cat_lines(&out);
        t.check(c, "repair keeps every record", after == before, || {
            format!("kill after {ms} ms: {} lines before repair, {} after", before.len(), after.len())
        });
        std::fs::remove_dir_all(&out).unwrap();
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn campaign(kills: u64, truncations: u64, flips: u64, seed: u64, lines: usize) -> Table {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Table::default();
    let mut rng = Rng(seed);
    kill_campaign(&mut t, tmp.path(), kills, &mut rng);
    damage_campaign(&mut t, tmp.path(), truncations, flips, &mut rng, lines);
    t
}

/// `make test`: a small fixed-seed slice of the campaign.
#[test]
fn soak_slice() {
    let t = campaign(3, 6, 6, 20261201, 3_000);
    t.print();
    assert_eq!(t.failures(), 0, "the damage campaign found failures (table above)");
}

/// `make soak`: the full campaign.
#[test]
#[ignore = "the standing campaign: run with make soak"]
fn soak() {
    let t = campaign(
        env_or("SOAK_KILLS", 200),
        env_or("SOAK_TRUNCATIONS", 300),
        env_or("SOAK_FLIPS", 300),
        env_or("SOAK_SEED", 1),
        env_or("SOAK_LINES", 20_000) as usize,
    );
    t.print();
    assert_eq!(t.failures(), 0, "the damage campaign found failures (table above)");
}
