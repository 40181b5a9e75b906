//! The output journal's writer thread: compression and file writes off the engine's thread.
//!
//! The engine thread serializes each output and chains it into the digest (the digest is over
//! the record bytes, so it cannot depend on how, where or when they are compressed), then
//! appends the bytes to a batch; full batches cross a bounded channel to a thread that owns
//! the [`LogWriter`] and are recycled back. The writer sees exactly the appends it saw when it
//! ran inline, in the same order, and its flush and block decisions depend on receive times
//! only, so the journal's files are byte-identical to the inline writer's.
//!
//! Why a thread rather than a lower level: zstd was 11% of a Hyperliquid replay at level 3, and
//! level 1 still costs the engine thread most of that; on a second core it costs none of it.

use crate::log::{LogError, LogWriter};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::thread::JoinHandle;

/// Bytes of serialized outputs per batch: large enough that a hand-off costs nothing per
/// record, small enough that a batch is a few hundred microseconds of compression.
const BATCH_BYTES: usize = 64 << 10;
/// Batches in flight (the channel's capacity; also the number recycled). Memory is bounded by
/// `(BATCHES + 2) * BATCH_BYTES`: when the writer falls behind, the engine waits.
const BATCHES: usize = 4;

/// Serialized outputs: `(recv_ns, end offset in bytes)` per record.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    records: Vec<(u64, usize)>,
}

impl Batch {
    fn with_capacity() -> Batch {
        Batch { bytes: Vec::with_capacity(BATCH_BYTES + 4096), records: Vec::with_capacity(1024) }
    }
}

/// A [`LogWriter`] of one stream on its own thread.
pub struct JournalThread {
    cur: Batch,
    tx: Option<Sender<Batch>>,
    back: Receiver<Batch>,
    handle: Option<JoinHandle<Result<(), LogError>>>,
}

impl JournalThread {
    /// Moves `writer` to a new thread; records are appended to `stream`.
    pub fn spawn(writer: LogWriter, stream: &'static str) -> std::io::Result<JournalThread> {
        let (tx, rx) = bounded::<Batch>(BATCHES);
        let (back_tx, back) = bounded::<Batch>(BATCHES + 1);
        for _ in 0..BATCHES {
            let _ = back_tx.try_send(Batch::with_capacity());
        }
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || run(writer, stream, &rx, &back_tx))?;
        Ok(JournalThread { cur: Batch::with_capacity(), tx: Some(tx), back, handle: Some(handle) })
    }

    /// Queues one record; hands the batch over when it is full.
    pub fn append(&mut self, recv_ns: u64, record: &[u8]) -> Result<(), LogError> {
        self.cur.bytes.extend_from_slice(record);
        self.cur.records.push((recv_ns, self.cur.bytes.len()));
        if self.cur.bytes.len() >= BATCH_BYTES {
            self.hand_off()?;
        }
        Ok(())
    }

    fn hand_off(&mut self) -> Result<(), LogError> {
        // A recycled batch, or a new one while the writer still holds them all.
        let next = self.back.try_recv().unwrap_or_else(|_| Batch::with_capacity());
        let full = std::mem::replace(&mut self.cur, next);
        let tx = self.tx.as_ref().ok_or(LogError::WriterGone)?;
        if tx.send(full).is_err() {
            // The thread stopped: its error says why.
            return Err(self.join().err().unwrap_or(LogError::WriterGone));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<(), LogError> {
        drop(self.tx.take());
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| LogError::WriterGone)?,
            None => Ok(()),
        }
    }

    /// Writes everything queued and closes the journal (index, trailer, rename).
    pub fn close(mut self) -> Result<(), LogError> {
        if !self.cur.records.is_empty() {
            self.hand_off()?;
        }
        self.join()
    }
}

impl Drop for JournalThread {
    /// Dropped without `close` (an error elsewhere): the journal is still closed properly.
    fn drop(&mut self) {
        if self.handle.is_some() {
            if !self.cur.records.is_empty() {
                let _ = self.hand_off();
            }
            let _ = self.join();
        }
    }
}

fn run(mut w: LogWriter, stream: &str, rx: &Receiver<Batch>, back: &Sender<Batch>) -> Result<(), LogError> {
    while let Ok(mut b) = rx.recv() {
        let mut start = 0;
        for &(ns, end) in &b.records {
            w.append_message(ns, stream, &b.bytes[start..end])?;
            start = end;
        }
        b.bytes.clear();
        b.records.clear();
        let _ = back.try_send(b);
    }
    w.close()
}
