//! `import`'s writer thread: a [`LogWriter`] fed in batches of records over a bounded channel,
//! so that compressing the recording (zstd level 6, half an import's time) overlaps
//! decompressing and parsing the capture. The writer receives exactly the calls a
//! synchronous import makes, in the same order: the recording is byte for byte the same, flush
//! points (each second of receive time) included. Batches come back to be refilled.

use super::{LogError, LogWriter};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Records per batch (a batch is a few hundred KB of a Binance capture).
const RECORDS: usize = 2048;
/// Batches in flight.
const IN_FLIGHT: usize = 4;

#[derive(Default)]
struct Batch {
    /// Stream names and messages, back to back; `records` holds `(recv_ns, stream end, raw end)`.
    names: String,
    bytes: Vec<u8>,
    records: Vec<(u64, usize, usize)>,
}

pub struct BatchWriter {
    tx: Option<SyncSender<Batch>>,
    back: Receiver<Batch>,
    cur: Batch,
    handle: Option<JoinHandle<Result<LogWriter, LogError>>>,
}

impl BatchWriter {
    pub fn spawn(w: LogWriter) -> Result<BatchWriter, LogError> {
        let (tx, rx) = sync_channel::<Batch>(IN_FLIGHT);
        let (back_tx, back) = sync_channel::<Batch>(IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("import-writer".into())
            .spawn(move || run(w, &rx, &back_tx))
            .map_err(|source| LogError::Io { path: "import writer thread".into(), source })?;
        Ok(BatchWriter { tx: Some(tx), back, cur: Batch::default(), handle: Some(handle) })
    }

    /// Queues one message (written by the thread with `LogWriter::append_message`).
    pub fn append_message(&mut self, recv_ns: u64, stream: &str, raw: &[u8]) -> Result<(), LogError> {
        self.cur.names.push_str(stream);
        self.cur.bytes.extend_from_slice(raw);
        self.cur.records.push((recv_ns, self.cur.names.len(), self.cur.bytes.len()));
        if self.cur.records.len() >= RECORDS {
            self.hand_off()?;
        }
        Ok(())
    }

    fn hand_off(&mut self) -> Result<(), LogError> {
        let next = self.back.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.cur, next);
        let sent = self.tx.as_ref().map(|tx| tx.send(full).is_ok()).unwrap_or(false);
        if !sent {
            // The thread stopped at an error: that error is the one to report.
            return Err(self.join().err().unwrap_or(LogError::WriterGone));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<LogWriter, LogError> {
        drop(self.tx.take());
        match self.handle.take() {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(LogError::Io {
                    path: "import writer thread".into(),
                    source: std::io::Error::other("the import writer thread panicked"),
                })
            }),
            None => Err(LogError::WriterGone),
        }
    }

    /// Writes what is queued and closes the recording; the thread's error, if any.
    pub fn close(mut self) -> Result<(), LogError> {
        if !self.cur.records.is_empty() {
            self.hand_off()?;
        }
        self.join()?.close()
    }
}

impl Drop for BatchWriter {
    fn drop(&mut self) {
        if self.handle.is_some() {
            let _ = self.join();
        }
    }
}

fn run(mut w: LogWriter, rx: &Receiver<Batch>, back: &SyncSender<Batch>) -> Result<LogWriter, LogError> {
    while let Ok(mut b) = rx.recv() {
        let (mut n0, mut b0) = (0, 0);
        for &(ns, n1, b1) in &b.records {
            w.append_message(ns, &b.names[n0..n1], &b.bytes[b0..b1])?;
            (n0, b0) = (n1, b1);
        }
        b.names.clear();
        b.bytes.clear();
        b.records.clear();
        let _ = back.try_send(b);
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{format::MAX_PAYLOAD, Header, WriterOptions};

    fn writer(dir: &std::path::Path) -> BatchWriter {
        let header = Header { venue: "hyperliquid".into(), coins: vec!["BTC".into()], ..Header::default() };
        BatchWriter::spawn(LogWriter::create(&dir.join("rec"), header, WriterOptions::default()).unwrap())
            .unwrap()
    }

    fn is_the_record_limit(e: &LogError) -> bool {
        matches!(e, LogError::Corrupt { detail, .. } if detail.contains("exceeds the record limit"))
    }

    /// A message the writer refuses, queued last: `close` reports the thread's own error.
    #[test]
    fn close_reports_the_writer_threads_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        w.append_message(1, "ws", b"{}").unwrap();
        w.append_message(2, "ws", &vec![b'x'; MAX_PAYLOAD as usize]).unwrap();
        let e = w.close().unwrap_err();
        assert!(is_the_record_limit(&e), "{e}");
    }

    /// After the thread stopped at an error, the next hand-over reports that error (not
    /// `WriterGone`, not a hang): an import fails at once with the cause.
    #[test]
    fn appends_after_the_thread_stopped_report_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        w.append_message(1, "ws", &vec![b'x'; MAX_PAYLOAD as usize]).unwrap();
        let mut first_error = None;
        // The batch holding the refused message goes at the first hand-over; later ones find
        // the thread gone (at most the channel's batches in flight queue before that).
        for i in 0..(RECORDS * (IN_FLIGHT + 4)) as u64 {
            if let Err(e) = w.append_message(2 + i, "ws", b"{}") {
                first_error = Some(e);
                break;
            }
        }
        let e = first_error.expect("an append after the writer thread stopped must fail");
        assert!(is_the_record_limit(&e), "{e}");
    }
}
