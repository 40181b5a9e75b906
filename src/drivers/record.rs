//! The recorder thread and the `record` driver.
//!
//! [`RecorderThread`] owns a [`LogWriter`] on its own thread behind a bounded queue: the engine
//! thread hands records over and never waits on the disk unless the queue is full. When the
//! feed goes quiet the thread still flushes (and syncs) at least every second, so a kill -9
//! loses at most about the last second of messages.
//!
//! `record` is the live pipeline without an engine ([`NoEngine`]): socket thread -> recorder.
#![allow(clippy::disallowed_methods)] // A driver: the idle flush is timed on the monotonic clock.

use crate::drivers::live::{self, InputRecorder, LiveOptions, LiveReport, NoEngine};
use crate::drivers::ws_client::VenueProtocol;
use crate::log::{Control, Header, LogWriter, WriterOptions};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Records the engine thread may hand over before it waits for the disk.
pub const RECORDER_QUEUE_CAPACITY: usize = 65_536;
/// The longest a handed-over record stays unflushed when the feed goes quiet.
const IDLE_FLUSH: Duration = Duration::from_secs(1);

enum Item {
    Message { seq: u64, recv_ns: u64, stream: String, raw: Vec<u8> },
    Control { seq: u64, recv_ns: u64, control: Control },
}

/// Counters of the recorder thread.
#[derive(Debug, Default)]
pub struct RecorderStats {
    pub written: AtomicU64,
    pub flushes: AtomicU64,
    /// Time spent inside the writer (compression, writes, syncs), in ns.
    pub busy_ns: AtomicU64,
    /// CPU time of the recorder thread, in ns, read when it ends (Linux; 0 elsewhere): the
    /// recorder's CPU share is this over the wall time.
    pub thread_cpu_ns: AtomicU64,
}

/// This thread's CPU time so far (Linux): `/proc/thread-self/schedstat` in ns where the kernel
/// keeps scheduler statistics, else user + system ticks of `/proc/thread-self/stat` (assumed
/// 100 Hz, the Linux default).
fn thread_cpu_ns() -> Option<u64> {
    let sched = std::fs::read_to_string("/proc/thread-self/schedstat").ok();
    if let Some(ns) =
        sched.and_then(|t| t.split_whitespace().next()?.parse::<u64>().ok()).filter(|ns| *ns > 0)
    {
        return Some(ns);
    }
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start with the state (field 3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000_000)
}

/// A [`LogWriter`] on its own thread.
pub struct RecorderThread {
    tx: Option<Sender<Item>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    stats: Arc<RecorderStats>,
}

impl RecorderThread {
    /// Creates the recording directory (which must not exist or be empty) and starts the thread.
    pub fn spawn(dir: &Path, header: Header, opts: WriterOptions) -> anyhow::Result<RecorderThread> {
        let writer = LogWriter::create(dir, header, opts).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (tx, rx) = bounded::<Item>(RECORDER_QUEUE_CAPACITY);
        let stats = Arc::new(RecorderStats::default());
        let thread_stats = stats.clone();
        let handle = std::thread::Builder::new().name("recorder".into()).spawn(move || {
            super::affinity::leave_engine_cpu();
            write_loop(writer, rx, &thread_stats)
        })?;
        Ok(RecorderThread { tx: Some(tx), handle: Some(handle), stats })
    }

    pub fn stats(&self) -> Arc<RecorderStats> {
        self.stats.clone()
    }

    fn send(&self, item: Item) -> anyhow::Result<()> {
        let tx = self.tx.as_ref().ok_or_else(|| anyhow::anyhow!("the recorder is closed"))?;
        if tx.send(item).is_ok() {
            return Ok(());
        }
        // The thread ended early: its error says why.
        Err(anyhow::anyhow!("the recorder thread stopped"))
    }
}

fn write_loop(mut writer: LogWriter, rx: Receiver<Item>, stats: &RecorderStats) -> anyhow::Result<()> {
    let mut dirty = false;
    let mut last_flush = Instant::now();
    loop {
        let item = match rx.recv_timeout(IDLE_FLUSH) {
            Ok(item) => Some(item),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let t0 = Instant::now();
        if item.is_some() {
            stats.written.fetch_add(1, Ordering::Relaxed);
        }
        let numbered = match item {
            Some(Item::Message { seq, recv_ns, stream, raw }) => Some((
                seq,
                writer.append_message(recv_ns, &stream, &raw).map_err(|e| anyhow::anyhow!("{e}"))?,
            )),
            Some(Item::Control { seq, recv_ns, control }) => {
                Some((seq, writer.append_control(recv_ns, control).map_err(|e| anyhow::anyhow!("{e}"))?))
            }
            None => None,
        };
        if let Some((fed, written)) = numbered {
            // The engine was given `fed`; a replay will give it `written`.
            anyhow::ensure!(
                fed == written,
                "the recording numbered record {fed} as {written}: live and replay would differ"
            );
            dirty = true;
        }
        // The writer flushes by receive time as records arrive; a quiet feed is flushed here.
        if dirty && last_flush.elapsed() >= IDLE_FLUSH && rx.is_empty() {
            writer.flush().map_err(|e| anyhow::anyhow!("{e}"))?;
            stats.flushes.fetch_add(1, Ordering::Relaxed);
            dirty = false;
            last_flush = Instant::now();
        }
        stats.busy_ns.fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
    let closed = writer.close().map_err(|e| anyhow::anyhow!("{e}"));
    stats.thread_cpu_ns.store(thread_cpu_ns().unwrap_or(0), Ordering::Relaxed);
    closed
}

impl InputRecorder for RecorderThread {
    fn message(&mut self, seq: u64, recv_ns: u64, stream: &str, raw: Vec<u8>) -> anyhow::Result<()> {
        self.send(Item::Message { seq, recv_ns, stream: stream.to_string(), raw })
    }
    fn control(&mut self, seq: u64, recv_ns: u64, control: Control) -> anyhow::Result<()> {
        self.send(Item::Control { seq, recv_ns, control })
    }
    fn backlog(&self) -> u64 {
        self.tx.as_ref().map_or(0, |t| t.len() as u64)
    }
    // An append only hands the record to the writer thread: the live socket thread may append.
    fn queue_capacity(&self) -> Option<u64> {
        Some(RECORDER_QUEUE_CAPACITY as u64)
    }
    fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        drop(self.tx.take());
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(anyhow::anyhow!("the recorder thread panicked")),
            None => Ok(()),
        }
    }
}

/// Captures a venue's feed to `out` until the duration ends or `stop` is set; the recording is
/// closed cleanly either way.
pub fn run_record(
    protocol: Box<dyn VenueProtocol>,
    opts: &LiveOptions,
    out: &Path,
    header: Header,
    writer_opts: WriterOptions,
    stop: Arc<AtomicBool>,
    progress: &mut dyn FnMut(&LiveReport),
) -> anyhow::Result<LiveReport> {
    let recorder = RecorderThread::spawn(out, header, writer_opts)?;
    live::run(protocol, opts, &mut NoEngine, Box::new(recorder), stop, progress)
}
