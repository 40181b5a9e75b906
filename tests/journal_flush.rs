//! A replay's output journal is flushed only when a block fills and before each checkpoint
//! (`JournalFlush::BlocksAndCheckpoints`, `src/drivers/journal.rs`), a live session's each
//! second: the records are the same either way, blocks stay bounded, resuming from every
//! checkpoint still ends with the full run's digest, and a replay killed mid-run leaves a
//! journal the reader accepts, holding every output up to each checkpoint file on disk.

use paper_trader::drivers::replay::{run_replay, ReplayOptions};
use paper_trader::drivers::session::{chain, CheckpointFile, InputDesc, SessionRunner};
use paper_trader::engine::{EngineConfig, Input};
use paper_trader::log::{Body, Control, Header, LogReader, LogWriter, Status, WriterOptions};
use paper_trader::types::Timestamp;
use paper_trader::venue::Venue;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/recordings/sample");
const BIN: &str = env!("CARGO_BIN_EXE_paper_trader");

/// Every record of a recording: (seq, receive time, body).
fn records(dir: &Path) -> (Vec<(u64, u64, Body)>, Status) {
    let mut r = LogReader::open(dir).unwrap();
    let mut v = Vec::new();
    while let Some(rec) = r.next_record() {
        v.push((rec.seq, rec.recv_ns, rec.body));
    }
    (v, r.status())
}

/// The sample fed through a session runner whose input source is `source` (a `live:` source
/// gets the live flush policy); checkpoints every minute.
fn run_sample(out: &Path, source: &str) {
    let mut reader = LogReader::open(Path::new(SAMPLE)).unwrap();
    let coins = reader.header().coins.clone();
    let mut config = EngineConfig::default();
    config.engine.checkpoint_interval_s = 60;
    let input = InputDesc { source: source.into(), resumed_from: None };
    let mut r = SessionRunner::create(out, config, 0, Venue::Hyperliquid, &coins, input).unwrap();
    while let Some(rec) = reader.next_record() {
        let input = match &rec.body {
            Body::Message(raw) => Input::Message { stream: reader.stream_name(rec.stream), raw },
            Body::Control(Control::Tick) => Input::Tick,
            Body::Control(Control::Gap { .. }) => Input::Gap,
            _ => continue,
        };
        r.feed(Timestamp(rec.recv_ns), rec.seq, input).unwrap();
    }
    r.finish().unwrap();
}

#[test]
fn the_replay_policy_journals_the_records_of_the_live_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let (replay, live) = (tmp.path().join("replay"), tmp.path().join("live"));
    run_sample(&replay, SAMPLE);
    run_sample(&live, "live:test");
    let (a, sa) = records(&replay.join("outputs"));
    let (b, sb) = records(&live.join("outputs"));
    assert_eq!((sa, sb), (Status::Intact, Status::Intact));
    assert!(a.len() > 10_000, "{} records", a.len());
    assert!(a == b, "the replay journal's records differ from the live-policy journal's");
    // Same records, fewer zstd blocks: the replay journal is smaller.
    let size = |d: &Path| -> u64 {
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
    };
    let (za, zb) = (size(&replay.join("outputs")), size(&live.join("outputs")));
    assert!(za < zb, "replay journal {za} bytes, live-policy journal {zb} bytes");
}

#[test]
fn a_writer_flushed_only_when_blocks_fill_keeps_blocks_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let header = Header { venue: "hyperliquid".into(), created_by: "test".into(), ..Header::default() };
    let opts = WriterOptions {
        flush_interval_ns: u64::MAX,
        block_bytes: 4_000,
        fsync: false,
        rotate_hourly: false,
        ..WriterOptions::default()
    };
    let mut w = LogWriter::create(&dir, header, opts).unwrap();
    let mut want = Vec::new();
    let mut flushes = 0;
    for i in 0..1000u64 {
        let raw = format!("message {i} {}", "x".repeat((i % 70) as usize)).into_bytes();
        let seq = w.append_message(1_000 + i * 1_000_000_000, "outputs", &raw).unwrap();
        want.push((seq, 1_000 + i * 1_000_000_000, Body::Message(raw)));
        if w.flush_if_block_full().unwrap() {
            flushes += 1;
        } else {
            // Nothing else flushes: the interval never comes.
            assert!(w.has_unflushed(), "record {i} was flushed by something else");
        }
    }
    w.close().unwrap();
    let mut r = LogReader::open(&dir).unwrap();
    let mut got = Vec::new();
    while let Some(rec) = r.next_record() {
        if let Body::Message(_) = rec.body {
            got.push((rec.seq, rec.recv_ns, rec.body));
        }
    }
    assert_eq!(r.status(), Status::Intact);
    assert!(got == want, "records differ");
    let blocks: u64 = r.file_stats().iter().map(|f| f.blocks).sum();
    // ~60 KB of framed records in 4 KB blocks: one block per flush, plus the last one.
    assert!(flushes >= 10, "{flushes} flushes");
    assert_eq!(blocks, flushes as u64 + 1, "one block per flush and the last");
}

/// The checkpoint files of a session, in index order.
fn checkpoints(session: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(session.join("checkpoints"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "bin"));
    v.sort();
    v
}

#[test]
fn resume_from_every_checkpoint_of_a_replay_gives_the_full_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let full_dir = tmp.path().join("full");
    let full = run_replay(Path::new(SAMPLE), &ReplayOptions::new(&full_dir)).unwrap();
    let cks = checkpoints(&full_dir);
    assert!(cks.len() >= 10, "the sample made {} checkpoints", cks.len());
    let (full_records, _) = records(&full_dir.join("outputs"));
    for (i, ck) in cks.iter().enumerate() {
        let out = tmp.path().join(format!("resumed-{i}"));
        let mut opts = ReplayOptions::new(&out);
        opts.resume = Some(ck.clone());
        let resumed = run_replay(Path::new(SAMPLE), &opts).unwrap();
        assert_eq!(resumed.output_digest, full.output_digest, "resumed from {}", ck.display());
        // Its journal is the full journal's tail after the checkpoint.
        let (rest, status) = records(&out.join("outputs"));
        assert_eq!(status, Status::Intact);
        let tail: Vec<_> = full_records[full_records.len() - rest.len()..]
            .iter()
            .map(|(_, ns, b)| (*ns, b.clone()))
            .collect();
        let rest: Vec<_> = rest.into_iter().map(|(_, ns, b)| (ns, b)).collect();
        assert!(rest == tail, "resumed from {}: the journal is not the full run's tail", ck.display());
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// The output digest after each journal record (messages only), from the zero state.
fn chain_states(recs: &[(u64, u64, Body)]) -> Vec<[u8; 32]> {
    let mut state = [0u8; 32];
    let mut v = vec![state];
    for (_, ns, body) in recs {
        if let Body::Message(bytes) = body {
            state = chain(&state, *ns, bytes);
            v.push(state);
        }
    }
    v
}

#[test]
fn a_replay_killed_mid_run_leaves_a_readable_journal_up_to_its_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let st = Command::new(BIN)
        .args(["synth", "--seed", "7", "--duration", "40m", "--coins", "BTC", "--out"])
        .arg(&rec)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    // Paced, so that it is still running when killed: 40 min at 200x is 12 s of wall time.
    let killed = tmp.path().join("killed");
    let mut child = Command::new(BIN)
        .args(["replay", "--speed", "200x", "--out"])
        .arg(&killed)
        .arg(&rec)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Polled every 20 ms, at most 3000 times (60 s).
    let mut polls = 0;
    while checkpoints(&killed).len() < 2 {
        polls += 1;
        assert!(polls < 3000, "no checkpoints after 60 s");
        assert!(child.try_wait().unwrap().is_none(), "the replay ended before it was killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join("summary.json").exists(), "the replay was killed before its end");

    // The reader accepts the journal: a torn tail, no corruption.
    let (got, status) = records(&killed.join("outputs"));
    assert_eq!(status, Status::TornTail, "a killed replay's journal has a torn tail");
    let verify = Command::new(BIN).arg("verify").arg(killed.join("outputs")).output().unwrap();
    assert_eq!(verify.status.code(), Some(3), "verify: torn tail");

    // Every checkpoint file on disk is matched by the journal: the chain over its records
    // passes through the checkpoint's digest.
    let states = chain_states(&got);
    let cks = checkpoints(&killed);
    assert!(cks.len() >= 2);
    for ck in &cks {
        let c = CheckpointFile::read(ck).unwrap();
        assert!(
            states.contains(&c.digest),
            "{}: the journal does not hold every output up to the checkpoint",
            ck.display()
        );
    }

    // A replay of the same recording into a new directory works, and what the killed run
    // journaled is a prefix of it.
    let again = tmp.path().join("again");
    let full = run_replay(&rec, &ReplayOptions::new(&again)).unwrap();
    let (all, status) = records(&again.join("outputs"));
    assert_eq!(status, Status::Intact);
    assert!(
        got.len() <= all.len() && got[..] == all[..got.len()],
        "the killed run's journal is not a prefix"
    );
    assert_eq!(hex::encode(chain_states(&all).last().unwrap()), full.output_digest);
}
