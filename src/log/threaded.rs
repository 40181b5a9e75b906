//! The recorder's writer thread: records cross a bounded crossbeam channel to a thread that
//! owns a [`LogWriter`].
//!
//! Disk slower than the feed: the channel holds at most `capacity` records. With
//! [`Backpressure::Block`] (the default, and the only policy a live session may use, since a
//! replay must see every input the engine saw) `append_*` then blocks until the writer catches
//! up; each send that found the channel full is counted in [`WriterStats::stalls`] and the
//! deepest backlog in `max_backlog`. With [`Backpressure::DropWithGap`] (a capture-only
//! recorder that must never slow its socket) a record that finds the channel full is dropped
//! and counted, and the next record that gets through is preceded by a `Control::Gap` saying
//! how many were lost.
//!
//! Besides the writer's own flush each second of receive time, the thread flushes after
//! [`IDLE_FLUSH`] of wall-clock time without records, so a quiet feed still loses at most
//! about a second on a crash.
#![allow(clippy::disallowed_methods)] // The writer thread bounds loss in wall-clock time.

use super::{Control, Header, LogError, LogWriter, WriterOptions};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Default channel capacity in records (about a second of a busy multi-coin feed).
pub const DEFAULT_CAPACITY: usize = 65_536;
/// Wall-clock time after which unflushed records are flushed even if no record arrives.
pub const IDLE_FLUSH: Duration = Duration::from_secs(1);

/// What `append_*` does when the channel is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backpressure {
    /// Wait for the writer (nothing is lost; the feed slows down).
    Block,
    /// Drop the record, count it, and write a `Control::Gap` before the next one.
    DropWithGap,
}

enum Command {
    Message { recv_ns: u64, stream: String, raw: Vec<u8> },
    Control { recv_ns: u64, control: Control },
    Flush(Sender<Result<(), String>>),
}

/// Counters of a [`ThreadedWriter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records waiting in the channel now.
    pub backlog: u64,
    /// Deepest backlog seen.
    pub max_backlog: u64,
    /// Records written by the thread (gap records included).
    pub written: u64,
    /// Records dropped because the channel was full (`DropWithGap` only).
    pub dropped: u64,
    /// Sends that found the channel full and waited (`Block` only).
    pub stalls: u64,
}

#[derive(Default)]
struct Shared {
    written: AtomicU64,
    dropped: AtomicU64,
    stalls: AtomicU64,
    max_backlog: AtomicU64,
    error: Mutex<Option<LogError>>,
}

/// A [`LogWriter`] on its own thread behind a bounded channel.
pub struct ThreadedWriter {
    tx: Option<Sender<Command>>,
    handle: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    policy: Backpressure,
    /// Records dropped since the last gap record was queued.
    undeclared_drops: AtomicU64,
}

impl ThreadedWriter {
    /// Creates the recording (errors such as an existing directory come back here) and starts
    /// the writer thread, blocking when the channel is full.
    pub fn spawn(
        dir: &Path,
        header: Header,
        opts: WriterOptions,
        capacity: usize,
    ) -> Result<ThreadedWriter, LogError> {
        ThreadedWriter::spawn_with(dir, header, opts, capacity, Backpressure::Block, IDLE_FLUSH)
    }

    /// [`ThreadedWriter::spawn`] with a backpressure policy and idle flush period of choice.
    pub fn spawn_with(
        dir: &Path,
        header: Header,
        opts: WriterOptions,
        capacity: usize,
        policy: Backpressure,
        idle_flush: Duration,
    ) -> Result<ThreadedWriter, LogError> {
        let writer = LogWriter::create(dir, header, opts)?;
        let (tx, rx) = bounded(capacity.max(1));
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || run(writer, rx, &thread_shared, idle_flush))
            .map_err(|source| LogError::Io { path: dir.to_path_buf(), source })?;
        Ok(ThreadedWriter {
            tx: Some(tx),
            handle: Some(handle),
            shared,
            policy,
            undeclared_drops: AtomicU64::new(0),
        })
    }

    /// Queues one raw feed message.
    pub fn append_message(&self, recv_ns: u64, stream: &str, raw: Vec<u8>) -> Result<(), LogError> {
        self.send(recv_ns, Command::Message { recv_ns, stream: stream.to_owned(), raw })
    }

    /// Queues a control record.
    pub fn append_control(&self, recv_ns: u64, control: Control) -> Result<(), LogError> {
        self.send(recv_ns, Command::Control { recv_ns, control })
    }

    /// Waits until everything queued so far is written and synced.
    pub fn flush(&self) -> Result<(), LogError> {
        let tx = self.tx.as_ref().ok_or(LogError::WriterGone)?;
        let (ack_tx, ack_rx) = bounded(1);
        tx.send(Command::Flush(ack_tx)).map_err(|_| self.gone())?;
        match ack_rx.recv() {
            Ok(Ok(())) => Ok(()),
            _ => Err(self.gone()),
        }
    }

    pub fn stats(&self) -> WriterStats {
        let backlog = self.tx.as_ref().map_or(0, |t| t.len() as u64);
        WriterStats {
            backlog,
            max_backlog: self.shared.max_backlog.load(Ordering::Relaxed).max(backlog),
            written: self.shared.written.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            stalls: self.shared.stalls.load(Ordering::Relaxed),
        }
    }

    /// Writes what is queued, the end record, index and trailer; joins the thread.
    pub fn close(mut self) -> Result<(), LogError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LogError> {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            if h.join().is_err() {
                return Err(LogError::WriterGone);
            }
        }
        match self.shared.error.lock().ok().and_then(|mut e| e.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn gone(&self) -> LogError {
        match self.shared.error.lock().ok().and_then(|mut e| e.take()) {
            Some(e) => e,
            None => LogError::WriterGone,
        }
    }

    fn send(&self, recv_ns: u64, cmd: Command) -> Result<(), LogError> {
        let tx = self.tx.as_ref().ok_or(LogError::WriterGone)?;
        if self.policy == Backpressure::DropWithGap {
            let n = self.undeclared_drops.load(Ordering::Relaxed);
            if n > 0 {
                let gap = Command::Control {
                    recv_ns,
                    control: Control::Gap { reason: format!("writer backlog: {n} records dropped") },
                };
                match tx.try_send(gap) {
                    Ok(()) => self.undeclared_drops.store(0, Ordering::Relaxed),
                    Err(TrySendError::Full(_)) => return self.drop_one(),
                    Err(TrySendError::Disconnected(_)) => return Err(self.gone()),
                }
            }
        }
        let r = match tx.try_send(cmd) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(self.gone()),
            Err(TrySendError::Full(cmd)) => match self.policy {
                Backpressure::DropWithGap => self.drop_one(),
                Backpressure::Block => {
                    self.shared.stalls.fetch_add(1, Ordering::Relaxed);
                    tx.send(cmd).map_err(|_| self.gone())
                }
            },
        };
        self.shared.max_backlog.fetch_max(tx.len() as u64, Ordering::Relaxed);
        r
    }

    fn drop_one(&self) -> Result<(), LogError> {
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        self.undeclared_drops.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for ThreadedWriter {
    /// Dropped without `close`: the recording is still closed properly.
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn run(mut writer: LogWriter, rx: Receiver<Command>, shared: &Shared, idle_flush: Duration) {
    let mut last_flush = Instant::now();
    let result = (|| -> Result<(), LogError> {
        loop {
            let timeout = idle_flush.saturating_sub(last_flush.elapsed());
            match rx.recv_timeout(timeout) {
                Ok(Command::Message { recv_ns, stream, raw }) => {
                    writer.append_message(recv_ns, &stream, &raw)?;
                    shared.written.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Command::Control { recv_ns, control }) => {
                    writer.append_control(recv_ns, control)?;
                    shared.written.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Command::Flush(ack)) => {
                    let r = writer.flush();
                    last_flush = Instant::now();
                    let _ = ack.send(r.as_ref().map(|_| ()).map_err(ToString::to_string));
                    r?;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return writer.close(),
            }
            if !writer.has_unflushed() {
                last_flush = Instant::now();
            } else if last_flush.elapsed() >= idle_flush {
                writer.flush()?;
                last_flush = Instant::now();
            }
        }
    })();
    if let Err(e) = result {
        tracing::error!("log writer stopped: {e}");
        if let Ok(mut slot) = shared.error.lock() {
            *slot = Some(e);
        }
    }
}
