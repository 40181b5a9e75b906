//! The session runner's journal thread (`src/drivers/journal.rs`): the digest read mid-run,
//! the checkpoints' digests and the journal agree with the chain over the journal's records,
//! and an error of the thread reaches the caller.

use paper_trader::drivers::session::{chain, CheckpointFile, InputDesc, SessionRunner};
use paper_trader::engine::{EngineConfig, Input, Output};
use paper_trader::log::{Body, Control, LogReader};
use paper_trader::types::Timestamp;
use paper_trader::venue::Venue;
use std::path::Path;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/recordings/sample");

fn runner(out: &Path) -> (SessionRunner, LogReader) {
    let reader = LogReader::open(Path::new(SAMPLE)).unwrap();
    let coins = reader.header().coins.clone();
    let mut config = EngineConfig::default();
    // Several checkpoints in the sample's span.
    config.engine.checkpoint_interval_s = 60;
    let input = InputDesc { source: SAMPLE.into(), resumed_from: None };
    (SessionRunner::create(out, config, 0, Venue::Hyperliquid, &coins, input).unwrap(), reader)
}

/// Feeds the whole sample; `after` sees the runner after every input with its outputs.
fn feed_all(
    runner: &mut SessionRunner,
    reader: &mut LogReader,
    mut after: impl FnMut(&mut SessionRunner, &[Output]),
) -> anyhow::Result<()> {
    while let Some(rec) = reader.next_record() {
        let input = match &rec.body {
            Body::Message(raw) => Input::Message { stream: reader.stream_name(rec.stream), raw },
            Body::Control(Control::Tick) => Input::Tick,
            Body::Control(Control::Gap { .. }) => Input::Gap,
            _ => continue,
        };
        let outs = runner.feed(Timestamp(rec.recv_ns), rec.seq, input)?.to_vec();
        after(runner, &outs);
    }
    Ok(())
}

#[test]
fn digest_mid_run_checkpoints_and_journal_agree_with_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let (mut r, mut reader) = runner(&out);
    // The digest summary() reports right after each checkpoint output, by checkpoint index.
    let mut at_checkpoint = Vec::new();
    feed_all(&mut r, &mut reader, |r, outs| {
        if let Some(Output::Checkpoint { index }) =
            outs.iter().find(|o| matches!(o, Output::Checkpoint { .. }))
        {
            at_checkpoint.push((*index, r.summary().output_digest));
        }
    })
    .unwrap();
    let summary = r.finish().unwrap();
    assert!(at_checkpoint.len() >= 2, "the sample made {} checkpoints", at_checkpoint.len());
    for (index, digest) in &at_checkpoint {
        let ck = CheckpointFile::read(&out.join("checkpoints").join(format!("ckpt-{index:06}.bin"))).unwrap();
        assert_eq!(&hex::encode(ck.digest), digest, "checkpoint {index}: file and mid-run digest differ");
    }
    // The chain recomputed over the journal's records is the final digest.
    let mut journal = LogReader::open(&out.join("outputs")).unwrap();
    let mut state = [0u8; 32];
    let mut n = 0;
    while let Some(rec) = journal.next_record() {
        if let Body::Message(bytes) = rec.body {
            state = chain(&state, rec.recv_ns, &bytes);
            n += 1;
        }
    }
    assert_eq!(n, summary.output_records);
    assert_eq!(hex::encode(state), summary.output_digest);
    assert!(summary.terminal.is_some(), "a replay's runner keeps the terminal summary");
}

#[test]
fn an_error_of_the_journal_thread_reaches_the_caller() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let (mut r, mut reader) = runner(&out);
    // The thread cannot write its first checkpoint: the feed after it, or finish, says so.
    std::fs::remove_dir_all(out.join("checkpoints")).unwrap();
    let err = match feed_all(&mut r, &mut reader, |_, _| {}) {
        Err(e) => e,
        Ok(()) => r.finish().expect_err("finish after a failed checkpoint write must fail"),
    };
    let text = format!("{err:#}");
    assert!(text.contains("ckpt-000001"), "{text}");
}
