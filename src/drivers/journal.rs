//! The output journal's thread: everything the session does with an output after the engine
//! made it, but the ledger and the quote quality (which the live status reads), off the
//! engine's thread.
//!
//! The engine appends its outputs straight into the current [`Batch`] (one `Vec<Output>`,
//! with each input's receive time and end); full batches cross a bounded channel and are
//! recycled back. The thread, in input order: serializes each output (rmp-serde), appends it
//! to the [`LogWriter`] (compression, files), chains it into the output digest, feeds the
//! terminal summary ([`TerminalSummary`]), and after an input that asked for a checkpoint
//! writes the checkpoint file with the digest at that point of the chain (the engine thread
//! serialized the engine state when the input ended and sent it along). The records, their
//! order and the writer's flush decisions (receive times only) are those of the inline
//! runner, so the journal, the digest and the checkpoints are byte-identical to it.
//!
//! Why: on a 6 h Hyperliquid replay serialization, the digest chain, zstd and the second pass
//! of the terminal summary over the journal were a third of the engine thread's time; on a
//! second core they cost it none of it.
//!
//! Errors of the thread (a full disk, a checkpoint that cannot be written) stop it; the next
//! [`JournalThread::poll`] (every `feed`) or [`JournalThread::close`] returns its error.

use super::session::{chain, write_checkpoint, CheckpointFile, CHECKPOINT_VERSION};
use crate::engine::Output;
use crate::log::{LogError, LogWriter};
use crate::report::session::Session;
use crate::report::summary::TerminalSummary;
use crate::types::Timestamp;
use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::path::PathBuf;
use std::thread::JoinHandle;

/// Outputs per batch: large enough that a hand-off costs nothing per output, small enough
/// that a batch is well under a millisecond of the thread's work.
const BATCH_OUTPUTS: usize = 1024;
/// Batches in flight (the channel's capacity; also the number recycled). Memory is bounded by
/// about `BATCHES + 2` batches: when the thread falls behind, the engine waits.
const BATCHES: usize = 4;

/// The engine state of a checkpoint, taken on the engine thread after the input that asked.
pub struct PendingCheckpoint {
    pub index: u64,
    pub input_seq: u64,
    pub input_recv_ns: u64,
    pub engine_state: Vec<u8>,
}

/// Outputs of consecutive inputs.
#[derive(Default)]
struct Batch {
    outputs: Vec<Output>,
    /// Per input: its receive time and the end of its outputs in `outputs`.
    inputs: Vec<(u64, usize)>,
    /// Checkpoints to write after the input of that index in `inputs`.
    checkpoints: Vec<(usize, PendingCheckpoint)>,
    /// The session's first input time, on the first batch: starts the terminal summary.
    first: Option<Timestamp>,
    /// Answer with the digest once this batch is done ([`JournalThread::sync`]).
    sync: bool,
}

impl Batch {
    fn with_capacity() -> Batch {
        Batch {
            outputs: Vec::with_capacity(BATCH_OUTPUTS + 256),
            inputs: Vec::with_capacity(BATCH_OUTPUTS),
            ..Batch::default()
        }
    }

    fn clear(&mut self) {
        self.outputs.clear();
        self.inputs.clear();
        self.checkpoints.clear();
        self.first = None;
        self.sync = false;
    }
}

/// Where the thread writes checkpoints, and what their files name besides the state.
pub struct CheckpointTarget {
    pub dir: PathBuf,
    pub venue: String,
    pub coins: Vec<String>,
}

/// What the thread hands back when it is done.
pub struct JournalEnd {
    /// The output digest after the last output.
    pub digest: [u8; 32],
    /// The terminal summary's accumulators, when it kept them.
    pub terminal: Option<TerminalSummary>,
}

/// The thread's side: the writer and everything computed from the record bytes.
struct Sink {
    writer: LogWriter,
    stream: &'static str,
    digest: [u8; 32],
    record: Vec<u8>,
    checkpoints: CheckpointTarget,
    /// `session.toml`'s settings for the terminal summary (`None`: not kept).
    terminal_head: Option<Session>,
    terminal: Option<TerminalSummary>,
    /// The journal's flush policy (see [`JournalFlush`]).
    flush: JournalFlush,
}

/// When the thread flushes the journal besides what the writer's own interval does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalFlush {
    /// The writer's interval alone (a live session: each second of receive time, so a crash
    /// loses at most about a second of outputs that nothing else holds).
    Interval,
    /// A replay's journal, rebuilt from the inputs at will: flushed when a block is full and
    /// before each checkpoint file is written (so a checkpoint on disk always has every
    /// output up to it in the journal file), and at the end. Each flush ends a zstd block
    /// with tables of its own: at 1 s flushes a 6 h replay built 21600 of them.
    BlocksAndCheckpoints,
}

impl Sink {
    fn take(&mut self, b: &mut Batch) -> Result<()> {
        if let (Some(first), Some(head)) = (b.first, self.terminal_head.take()) {
            self.terminal = Some(TerminalSummary::new(&head, first));
        }
        let mut checkpoints = b.checkpoints.drain(..).peekable();
        let mut start = 0;
        for (k, &(ns, end)) in b.inputs.iter().enumerate() {
            for o in &b.outputs[start..end] {
                self.record.clear();
                rmp_serde::encode::write(&mut self.record, o).context("serializing an output")?;
                self.writer.append_message(ns, self.stream, &self.record)?;
                if self.flush == JournalFlush::BlocksAndCheckpoints {
                    self.writer.flush_if_block_full()?;
                }
                self.digest = chain(&self.digest, ns, &self.record);
                if let Some(t) = &mut self.terminal {
                    t.observe(Timestamp(ns), o);
                }
            }
            start = end;
            while let Some((_, ck)) = checkpoints.next_if(|(at, _)| *at == k) {
                if self.flush == JournalFlush::BlocksAndCheckpoints {
                    // Every output up to the checkpoint is in the file before the checkpoint is.
                    self.writer.flush()?;
                }
                let t = &self.checkpoints;
                let file = CheckpointFile {
                    version: CHECKPOINT_VERSION,
                    index: ck.index,
                    input_seq: ck.input_seq,
                    input_recv_ns: ck.input_recv_ns,
                    digest: self.digest,
                    venue: t.venue.clone(),
                    coins: t.coins.clone(),
                    engine_state: ck.engine_state,
                };
                write_checkpoint(&t.dir, &file)?;
            }
        }
        Ok(())
    }
}

/// The output journal's thread, and the batch being filled on the engine's.
pub struct JournalThread {
    cur: Batch,
    /// Where the current input's outputs start in `cur.outputs`.
    input_start: usize,
    /// The first batch is not yet sent with the session's first input time.
    first_pending: bool,
    tx: Option<Sender<Batch>>,
    back: Receiver<Batch>,
    synced: Receiver<[u8; 32]>,
    handle: Option<JoinHandle<Result<JournalEnd>>>,
}

impl JournalThread {
    /// Moves `writer` to a new thread: outputs are appended to `stream` and chained into the
    /// digest from `digest` (a resumed run's checkpoint); checkpoints go to `checkpoints`;
    /// with `terminal_head` (the session's head before its first output) the thread keeps the
    /// terminal summary.
    pub fn spawn(
        writer: LogWriter,
        stream: &'static str,
        digest: [u8; 32],
        checkpoints: CheckpointTarget,
        terminal_head: Option<Session>,
        flush: JournalFlush,
    ) -> std::io::Result<JournalThread> {
        let (tx, rx) = bounded::<Batch>(BATCHES);
        let (back_tx, back) = bounded::<Batch>(BATCHES + 1);
        let (synced_tx, synced) = bounded::<[u8; 32]>(1);
        for _ in 0..BATCHES {
            let _ = back_tx.try_send(Batch::with_capacity());
        }
        let sink = Sink {
            writer,
            stream,
            digest,
            record: Vec::with_capacity(256),
            checkpoints,
            terminal_head,
            terminal: None,
            flush,
        };
        let handle = std::thread::Builder::new().name("journal-writer".into()).spawn(move || {
            super::affinity::leave_engine_cpu();
            run(sink, &rx, &back_tx, &synced_tx)
        })?;
        Ok(JournalThread {
            cur: Batch::with_capacity(),
            input_start: 0,
            first_pending: true,
            tx: Some(tx),
            back,
            synced,
            handle: Some(handle),
        })
    }

    /// The current batch's outputs: the engine appends an input's outputs here.
    pub fn outputs(&mut self) -> &mut Vec<Output> {
        &mut self.cur.outputs
    }

    /// The outputs of the input that ended last.
    pub fn last_input(&self) -> &[Output] {
        &self.cur.outputs[self.input_start..]
    }

    /// Whether the first input's time still has to be given ([`JournalThread::end_input`]).
    pub fn needs_first(&self) -> bool {
        self.first_pending
    }

    /// Ends an input at `recv_ns` whose outputs the engine appended since the last call;
    /// `checkpoint` is written after them. `first` is the session's first input time (needed
    /// once, see [`JournalThread::needs_first`]). The batch is handed over at the next
    /// [`JournalThread::poll`], so the input's outputs stay readable until then.
    pub fn end_input(
        &mut self,
        recv_ns: u64,
        checkpoint: Option<PendingCheckpoint>,
        first: Option<Timestamp>,
    ) {
        if self.first_pending {
            if let Some(f) = first {
                self.cur.first = Some(f);
                self.first_pending = false;
            }
        }
        if let Some(ck) = checkpoint {
            self.cur.checkpoints.push((self.cur.inputs.len(), ck));
        }
        self.cur.inputs.push((recv_ns, self.cur.outputs.len()));
    }

    /// Before an input: the thread's error if it stopped; hands the batch over when it is
    /// full or holds a checkpoint (written soon, not when the batch fills: a live session's
    /// outputs may take minutes to fill one).
    pub fn poll(&mut self) -> Result<()> {
        if self.handle.as_ref().is_some_and(JoinHandle::is_finished) {
            return Err(self.join_error());
        }
        self.input_start = self.cur.outputs.len();
        if self.cur.outputs.len() >= BATCH_OUTPUTS || !self.cur.checkpoints.is_empty() {
            self.hand_off()?;
        }
        Ok(())
    }

    fn hand_off(&mut self) -> Result<()> {
        let next = self.recycled();
        let full = std::mem::replace(&mut self.cur, next);
        self.input_start = 0;
        let tx = self.tx.as_ref().ok_or(LogError::WriterGone)?;
        if tx.send(full).is_err() {
            // The thread stopped: its error says why.
            return Err(self.join_error());
        }
        Ok(())
    }

    /// The digest after every output ended so far: hands the batch over and waits for the
    /// thread to reach its end. `None` when the thread has stopped (its error comes with the
    /// next [`JournalThread::poll`] or [`JournalThread::close`]).
    pub fn sync(&mut self) -> Option<[u8; 32]> {
        // Leaves the thread's handle alone: its error is for poll or close to return.
        self.cur.sync = true;
        let next = self.recycled();
        let full = std::mem::replace(&mut self.cur, next);
        self.input_start = 0;
        self.tx.as_ref()?.send(full).ok()?;
        self.synced.recv().ok()
    }

    /// A recycled batch, emptied here: the outputs were allocated on this thread, and a free
    /// from another thread is the allocator's slow path (570 k coin names on a 6 h replay).
    /// Or a new one while the thread still holds them all.
    fn recycled(&mut self) -> Batch {
        match self.back.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Batch::with_capacity(),
        }
    }

    fn join_error(&mut self) -> anyhow::Error {
        match self.join() {
            Err(e) => e,
            Ok(_) => LogError::WriterGone.into(),
        }
    }

    fn join(&mut self) -> Result<JournalEnd> {
        drop(self.tx.take());
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| anyhow::anyhow!("the output journal's thread panicked"))?,
            None => Err(LogError::WriterGone.into()),
        }
    }

    /// Writes everything ended so far and closes the journal (index, trailer, rename).
    pub fn close(mut self) -> Result<JournalEnd> {
        if !self.cur.inputs.is_empty() || self.cur.first.is_some() {
            self.hand_off()?;
        }
        self.join()
    }
}

impl Drop for JournalThread {
    /// Dropped without `close` (an error elsewhere): the journal is still closed properly.
    fn drop(&mut self) {
        if self.handle.is_some() {
            if !self.cur.inputs.is_empty() {
                let _ = self.hand_off();
            }
            let _ = self.join();
        }
    }
}

fn run(
    mut sink: Sink,
    rx: &Receiver<Batch>,
    back: &Sender<Batch>,
    synced: &Sender<[u8; 32]>,
) -> Result<JournalEnd> {
    while let Ok(mut b) = rx.recv() {
        sink.take(&mut b)?;
        if b.sync {
            // One sync waits at a time, so the slot is free.
            let _ = synced.try_send(sink.digest);
        }
        // Emptied by the engine's thread when it takes the batch back (see `recycled`).
        let _ = back.try_send(b);
    }
    sink.writer.close()?;
    Ok(JournalEnd { digest: sink.digest, terminal: sink.terminal })
}
