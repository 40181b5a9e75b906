//! Determinism of the engine: same input, configuration and seed give byte-identical outputs;
//! resuming from every checkpoint gives the rest of the full run, byte for byte; the seed and
//! `fill_prob_base` change the fills as they should.

mod engine_support;

use engine_support::{bytes, fills, market, run, MarketParams};
use paper_trader::engine::{Engine, EngineConfig, Input, Output};
use paper_trader::types::Timestamp;

#[test]
fn two_runs_in_one_process_are_byte_identical() {
    let msgs = market(&MarketParams { minutes: 12, ..Default::default() });
    let cfg = EngineConfig::default();
    let (a, ea) = run(&cfg, 7, &msgs);
    let (b, eb) = run(&cfg, 7, &msgs);
    assert!(fills(&a) > 0, "no fills at all: the determinism check would be empty");
    assert_eq!(bytes(&a), bytes(&b));
    assert_eq!(ea.checkpoint().unwrap(), eb.checkpoint().unwrap());
}

#[test]
fn resume_from_every_checkpoint_equals_the_full_run() {
    let msgs = market(&MarketParams { minutes: 21, ..Default::default() });
    let cfg = EngineConfig::default();
    let mut e =
        Engine::new(cfg, paper_trader::venue::Venue::Hyperliquid, 3, &engine_support::coins()).unwrap();
    let mut out = Vec::new();
    // (index into msgs after which the checkpoint was taken, outputs so far, state)
    let mut checkpoints = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let before = out.len();
        e.on_input(
            Timestamp(m.recv_ns),
            m.seq,
            Input::Message { stream: "ws", raw: m.raw.as_bytes() },
            &mut out,
        );
        if out.len() > before && matches!(out.last(), Some(Output::Checkpoint { .. })) {
            checkpoints.push((i, out.len(), e.checkpoint().unwrap()));
        }
    }
    assert_eq!(checkpoints.len(), 4, "21 minutes give checkpoints at 5, 10, 15 and 20 minutes");
    let full = bytes(&out);
    for (i, n_out, state) in checkpoints {
        let mut r = Engine::from_checkpoint(&state).unwrap();
        let mut rest = out[..n_out].to_vec();
        for m in &msgs[i + 1..] {
            r.on_input(
                Timestamp(m.recv_ns),
                m.seq,
                Input::Message { stream: "ws", raw: m.raw.as_bytes() },
                &mut rest,
            );
        }
        assert!(bytes(&rest) == full, "resume after input {i} diverged");
        assert_eq!(r.checkpoint().unwrap(), e.checkpoint().unwrap());
    }
}

#[test]
fn a_different_seed_changes_the_fills() {
    let msgs = market(&MarketParams { minutes: 10, ..Default::default() });
    let cfg = EngineConfig::default();
    let fill_ids = |seed| {
        run(&cfg, seed, &msgs)
            .0
            .into_iter()
            .filter_map(|o| match o {
                Output::Fill { order_id, px, sz, .. } => Some((order_id, px, sz)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_ne!(fill_ids(1), fill_ids(2));
}

#[test]
fn fill_prob_base_raises_the_fill_count_monotonically() {
    let msgs = market(&MarketParams { minutes: 10, ..Default::default() });
    let mut last = 0;
    for p in [0.0, 0.3, 0.6, 1.0] {
        let mut cfg = EngineConfig::default();
        cfg.fill_sim.fill_prob_base = p;
        let n = fills(&run(&cfg, 5, &msgs).0);
        assert!(n >= last, "fill_prob_base {p}: {n} fills, fewer than {last} at a lower probability");
        last = n;
    }
    assert!(last > 0);
}

/// The release binary as a child process: the cross-process and pacing checks below must see
/// exactly what a user runs, not the library in this test's address space.
fn cli(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_paper_trader")).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A short synthetic recording (BTC, `minutes` of event time) in `dir`.
fn synth_recording(dir: &std::path::Path, minutes: u64) -> std::path::PathBuf {
    let rec = dir.join("rec");
    let (os, d) = (std::ffi::OsStr::new, format!("{minutes}m"));
    cli(&[
        os("synth"),
        os("--seed"),
        os("5"),
        os("--duration"),
        os(&d),
        os("--coins"),
        os("BTC"),
        os("--out"),
        rec.as_os_str(),
    ]);
    rec
}

/// Replays `rec` into `dir/name` at `speed`; returns the session's output journal files
/// (name, bytes) in name order and the summary's `output_digest`.
fn replay(
    rec: &std::path::Path,
    dir: &std::path::Path,
    name: &str,
    speed: &str,
) -> (Vec<(String, Vec<u8>)>, String) {
    let session = dir.join(name);
    let os = std::ffi::OsStr::new;
    cli(&[os("replay"), rec.as_os_str(), os("--speed"), os(speed), os("--out"), session.as_os_str()]);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(session.join("outputs"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(session.join("summary.json")).unwrap()).unwrap();
    let digest = summary["output_digest"].as_str().unwrap().to_owned();
    (files, digest)
}

#[test]
fn two_replay_processes_write_byte_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = synth_recording(tmp.path(), 6);
    let (a, da) = replay(&rec, tmp.path(), "a", "max");
    let (b, db) = replay(&rec, tmp.path(), "b", "max");
    assert!(!a.is_empty() && a.iter().all(|(_, bytes)| !bytes.is_empty()), "no output journal written");
    assert_eq!(da.len(), 64, "output_digest is a sha-256 hex: {da}");
    assert_eq!(da, db);
    assert!(a == b, "the output journals of two processes differ");
}

#[test]
fn paced_replay_writes_the_same_outputs_as_max_speed() {
    let tmp = tempfile::tempdir().unwrap();
    // 5 minutes of event time at 600x is half a second of wall time.
    let rec = synth_recording(tmp.path(), 5);
    let (fast, df) = replay(&rec, tmp.path(), "max", "max");
    let (paced, dp) = replay(&rec, tmp.path(), "paced", "600x");
    assert!(!fast.is_empty(), "no output journal written");
    assert_eq!(df, dp);
    assert!(fast == paced, "--speed 600x and --speed max wrote different output journals");
}

/// Issue 15: a checkpoint taken before a funding time and resumed across it settles the same
/// funding (schedule, last rate and mark live in the checkpoint), so the rest is byte for byte
/// the full run's.
#[test]
fn resume_across_a_funding_time_equals_the_full_run() {
    use paper_trader::synth::{SynthConfig, SynthVenue};
    let coins = vec!["BTC".to_string()];
    let mut venue = SynthVenue::new(SynthConfig::default(), 5, &coins).unwrap();
    let end = venue.config().start_ns + 66 * 60_000_000_000;
    let msgs: Vec<_> = (1u64..).zip(&mut venue).take_while(|(_, m)| m.recv_ns <= end).collect();
    let cfg = EngineConfig::default();
    let mut e = Engine::new(cfg, paper_trader::venue::Venue::Hyperliquid, 3, &coins).unwrap();
    let mut out = Vec::new();
    let mut checkpoints = Vec::new();
    for (i, (seq, m)) in msgs.iter().enumerate() {
        let before = out.len();
        e.on_input(Timestamp(m.recv_ns), *seq, Input::Message { stream: &m.stream, raw: &m.raw }, &mut out);
        // The checkpoints of the last quarter hour before the funding time at 01:00.
        let minute = (m.recv_ns - msgs[0].1.recv_ns) / 60_000_000_000;
        if out.len() > before && matches!(out.last(), Some(Output::Checkpoint { .. })) && minute >= 45 {
            checkpoints.push((i, out.len(), e.checkpoint().unwrap()));
        }
    }
    let funding = out.iter().filter(|o| matches!(o, Output::Funding { .. })).count();
    assert_eq!(funding, 1, "66 minutes from 00:00 cross one funding time");
    assert!(checkpoints.len() >= 3);
    let full = bytes(&out);
    for (i, n_out, state) in checkpoints {
        let mut r = Engine::from_checkpoint(&state).unwrap();
        let mut rest = out[..n_out].to_vec();
        for (seq, m) in &msgs[i + 1..] {
            r.on_input(
                Timestamp(m.recv_ns),
                *seq,
                Input::Message { stream: &m.stream, raw: &m.raw },
                &mut rest,
            );
        }
        assert!(bytes(&rest) == full, "resume after input {i} diverged");
    }
}
