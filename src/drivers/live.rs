//! The live driver: socket thread -> engine thread -> recorder thread.
//!
//! The socket thread ([`FeedClient`]) stamps each message with the driver's clock and offers it
//! on a bounded queue. The engine thread (the caller of [`run`]) takes the events in order,
//! keeps time monotonic (an event stamped before the last input is fed at the last input's
//! time), injects `Input::Tick` at each time the engine acts without market data
//! ([`crate::engine::Engine::next_tick`]: strategy timers, paced requotes, funding, snapshots,
//! checkpoints; orders going live or dying and markout horizons are done at the next input,
//! first, on the same book and mid), numbers every input, feeds
//! the engine, and hands the same input to the recorder. So the recording holds exactly the
//! sequence the engine consumed, with the same times and sequence numbers, and a replay of it
//! reproduces the live outputs. Ticks are recorded as `Control::Tick` records.
//!
//! Back-pressure: the recorder's queue is bounded; when it is full the engine thread waits, the
//! socket queue fills, and the socket thread drops messages (never blocking its read loop),
//! counts them and records a `Gap` before the next message. Depths and drops are reported.
#![allow(clippy::disallowed_methods)] // A driver: it waits on the wall clock for deadlines.

mod inline;
mod recorder_feed;
pub mod session;

use crate::drivers::ws_client::{ClientOptions, FeedClient, FeedEvent, VenueProtocol, WallClock};
use crate::engine::io::Input;
use crate::log::Control;
use crate::types::Timestamp;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events the socket thread may queue ahead of the engine thread before it drops messages.
pub const FEED_QUEUE_CAPACITY: usize = 16_384;
/// How often the engine thread wakes when idle (stop flag, progress) with no deadline sooner.
const IDLE_WAKE: Duration = Duration::from_millis(200);
/// Environment variable: microseconds the engine thread spins on the feed queue before it
/// parks (0, the default: it parks at once). Waking a parked thread costs a futex wake-up and
/// a reschedule, which dominates the feed-to-decision latency; spinning keeps a core busy
/// instead, so it is for a machine with a core free for the engine thread (`docs/PERFORMANCE.md`).
pub const SPIN_ENV: &str = "PT_LIVE_SPIN_US";
/// Environment variable: `1` runs the engine on a thread of its own behind the feed queue (the
/// hand-over this driver used before; [`SPIN_ENV`] applies to it). By default the engine runs
/// on the socket thread itself ([`inline`]): no hand-over, no wake-up between a message's
/// receive stamp and the engine.
pub const HANDOFF_ENV: &str = "PT_LIVE_HANDOFF";
/// Ticks injected at one point of time before the driver concludes the engine's deadline
/// does not advance (a defect it reports instead of spinning).
const MAX_TICKS_AT_ONCE: u32 = 10_000;

/// The engine as the live driver sees it.
pub trait LiveEngine {
    /// Feeds one input at `now` with its sequence number.
    fn feed(&mut self, now: Timestamp, seq: u64, input: Input<'_>) -> anyhow::Result<()>;
    /// When the engine next needs a tick, if ever.
    fn next_deadline(&self) -> Option<Timestamp>;
    /// One line of the models' state for the progress display.
    fn status(&self) -> String {
        String::new()
    }
    /// The lines of the live status panel (and of the heartbeat), as things stand.
    fn panel(&self) -> Vec<String> {
        Vec::new()
    }
}

/// An engine that consumes nothing and never asks for ticks: `record` is the live pipeline with
/// this engine.
pub struct NoEngine;

impl LiveEngine for NoEngine {
    fn feed(&mut self, _now: Timestamp, _seq: u64, _input: Input<'_>) -> anyhow::Result<()> {
        Ok(())
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        None
    }
}

/// The recorder thread as the engine thread sees it: appends are handed over, not written.
/// `seq` is the sequence number the engine was given: the recording must number its records
/// the same way (from 0, one per record), and a recorder checks it.
pub trait InputRecorder: Send {
    fn message(&mut self, seq: u64, recv_ns: u64, stream: &str, raw: Vec<u8>) -> anyhow::Result<()>;
    fn control(&mut self, seq: u64, recv_ns: u64, control: Control) -> anyhow::Result<()>;
    /// Records handed over and not yet written.
    fn backlog(&self) -> u64;
    /// `Some(capacity)` when an append only hands the record to a writer thread of the
    /// recorder's own and waits only once `backlog()` reaches `capacity`: the socket thread may
    /// then append itself, dropping messages (with a gap) before the queue is full. `None` (the
    /// default): an append may take as long as it likes, so the driver appends from a thread of
    /// its own (`recorder_feed`) and the socket thread never waits for it.
    fn queue_capacity(&self) -> Option<u64> {
        None
    }
    /// Writes what is queued and closes the recording cleanly.
    fn close(self: Box<Self>) -> anyhow::Result<()>;
}

/// The engine input a control record stands for (`Subscribe` and `End` are not engine inputs:
/// they are recorded, numbered, and skipped, in live as in replay).
pub fn control_input(control: &Control) -> Option<Input<'static>> {
    match control {
        Control::Connect { .. } => Some(Input::Connect),
        Control::Disconnect { .. } => Some(Input::Disconnect),
        Control::Gap { .. } => Some(Input::Gap),
        Control::Tick => Some(Input::Tick),
        Control::Stale { .. } => Some(Input::Stale),
        Control::Subscribe { .. } | Control::End => None,
    }
}

/// A log-linear latency histogram (16 sub-buckets per power of two, about 6% resolution),
/// fixed size whatever the session's length.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    max_ns: u64,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram { counts: vec![0; 64 * 16], max_ns: 0, total: 0 }
    }
}

impl LatencyHistogram {
    fn bucket(ns: u64) -> usize {
        if ns < 16 {
            return ns as usize;
        }
        let exp = 63 - ns.leading_zeros() as usize; // >= 4
        let mantissa = ((ns >> (exp - 4)) & 15) as usize;
        (exp - 3) * 16 + mantissa
    }
    fn bucket_upper(b: usize) -> u64 {
        if b < 16 {
            return b as u64;
        }
        let exp = b / 16 + 3;
        let mantissa = (b % 16) as u64;
        ((16 + mantissa + 1) << (exp - 4)) - 1
    }
    pub fn record(&mut self, ns: u64) {
        let last = self.counts.len() - 1;
        self.counts[Self::bucket(ns).min(last)] += 1;
        self.max_ns = self.max_ns.max(ns);
        self.total += 1;
    }
    pub fn count(&self) -> u64 {
        self.total
    }
    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }
    /// The upper bound of the bucket holding quantile `q` (0..=1).
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (b, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::bucket_upper(b).min(self.max_ns);
            }
        }
        self.max_ns
    }
}

/// Settings of a live run.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub client: ClientOptions,
    /// Wall-clock duration; `None` runs until the stop flag is set.
    pub duration: Option<Duration>,
    pub progress_interval: Duration,
    /// A connected feed silent this long is stale: a `stale` control record, quotes pulled
    /// (`None`: never). Default per venue: [`default_stale_after`].
    pub stale_after: Option<Duration>,
    /// Pin the engine's thread to this CPU and keep the session's other threads off it
    /// (`live --engine-cpu`; [`super::affinity`]).
    pub engine_cpu: Option<usize>,
}

/// How long a connected feed may be silent before it counts as stale (`live.stale_after_ms`
/// = 0): Hyperliquid pushes `l2Book` about every 0.5 s, Binance's depth stream every 0.1-0.25 s.
pub fn default_stale_after(venue: crate::venue::Venue) -> Duration {
    match venue {
        crate::venue::Venue::Hyperliquid => Duration::from_millis(3_000),
        crate::venue::Venue::BinanceUsdm => Duration::from_millis(2_000),
    }
}

/// What the driver saw and measured; the progress callback gets it too.
#[derive(Clone, Debug, Default)]
pub struct LiveReport {
    /// Inputs numbered and recorded (messages, controls, ticks).
    pub records: u64,
    pub messages: u64,
    pub ticks: u64,
    pub connects: u64,
    pub disconnects: u64,
    pub gaps: u64,
    /// Times the feed went silent past the stale threshold.
    pub stale: u64,
    /// Messages the socket thread dropped because the engine's queue was full.
    pub dropped: u64,
    pub feed_queue_depth: u64,
    pub feed_queue_high_water: u64,
    pub recorder_backlog: u64,
    pub recorder_backlog_high_water: u64,
    /// Receive stamp (socket thread) to the engine's return, per message.
    pub latency: LatencyHistogram,
    /// The part of it inside the engine thread: taken off the queue to the engine's return
    /// (the rest is the hand-over between threads, a wake-up of the engine thread).
    pub engine_latency: LatencyHistogram,
    pub elapsed: Duration,
    pub engine_status: String,
    /// The engine's status panel lines ([`LiveEngine::panel`]).
    pub engine_panel: Vec<String>,
}

impl LiveReport {
    pub fn line(&self) -> String {
        format!(
            "{:.0}s: {} messages, {} ticks, {} reconnects, {} gaps, {} dropped, queue {} (max {}), recorder backlog {} (max {}), latency p50 {:.1}us p99 {:.1}us{}{}",
            self.elapsed.as_secs_f64(),
            self.messages,
            self.ticks,
            self.connects.saturating_sub(1),
            self.gaps,
            self.dropped,
            self.feed_queue_depth,
            self.feed_queue_high_water,
            self.recorder_backlog,
            self.recorder_backlog_high_water,
            self.latency.quantile_ns(0.5) as f64 / 1e3,
            self.latency.quantile_ns(0.99) as f64 / 1e3,
            if self.engine_status.is_empty() { "" } else { " | " },
            self.engine_status,
        )
    }
}

/// Runs a live session: starts the socket thread, runs the engine loop on this thread until
/// the duration ends or `stop` is set, then stops the client, consumes everything it had
/// received, and closes the recorder.
pub fn run(
    protocol: Box<dyn VenueProtocol>,
    opts: &LiveOptions,
    engine: &mut dyn LiveEngine,
    recorder: Box<dyn InputRecorder>,
    stop: Arc<AtomicBool>,
    progress: &mut dyn FnMut(&LiveReport),
) -> anyhow::Result<LiveReport> {
    if std::env::var(HANDOFF_ENV).is_ok_and(|v| v == "1") {
        run_handoff(protocol, opts, engine, recorder, stop, progress)
    } else {
        inline::run(protocol, opts, engine, recorder, stop, progress)
    }
}

/// [`run`] with the engine on this thread behind the feed queue, the client on a socket
/// thread of its own ([`HANDOFF_ENV`]).
pub fn run_handoff(
    protocol: Box<dyn VenueProtocol>,
    opts: &LiveOptions,
    engine: &mut dyn LiveEngine,
    recorder: Box<dyn InputRecorder>,
    stop: Arc<AtomicBool>,
    progress: &mut dyn FnMut(&LiveReport),
) -> anyhow::Result<LiveReport> {
    let clock = WallClock::new();
    let (tx, rx) = bounded::<FeedEvent>(FEED_QUEUE_CAPACITY);
    // The client has its own stop flag: the engine thread sets it after the session's end, so
    // that the client's final Disconnect is still consumed and recorded.
    let client_stop = Arc::new(AtomicBool::new(false));
    let client = FeedClient::new(protocol, opts.client.clone(), clock, tx, client_stop.clone());
    let client_stats = client.stats();
    // The sender is dropped with the thread's end: the engine loop below ends on that.
    let socket = std::thread::Builder::new().name("feed-socket".into()).spawn(move || {
        super::affinity::leave_engine_cpu();
        drop(client.run());
    })?;
    let stale_after_ns = opts.stale_after.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut pipeline = Pipeline {
        engine,
        recorder,
        clock,
        last_now: 0,
        seq: 0,
        report: LiveReport::default(),
        stale: StaleWatch { after_ns: stale_after_ns, last_data_ns: None, stale: false },
    };
    let spin = std::env::var(SPIN_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_micros);
    let started = Instant::now();
    let mut next_progress = started + opts.progress_interval;
    let result = (|| -> anyhow::Result<()> {
        let rx = &rx;
        loop {
            let ending =
                stop.load(Ordering::Relaxed) || opts.duration.is_some_and(|d| started.elapsed() >= d);
            if ending {
                client_stop.store(true, Ordering::Relaxed);
            }
            let wake = pipeline.wake();
            match recv_spinning(rx, wake, spin) {
                Ok(ev) => pipeline.consume(ev)?,
                Err(RecvTimeoutError::Timeout) => {
                    if !ending {
                        let now = clock.now_ns();
                        pipeline.tick_until(now)?;
                        pipeline.check_stale(now)?;
                    }
                }
                // The client has stopped and everything it sent has been consumed.
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if Instant::now() >= next_progress {
                next_progress += opts.progress_interval;
                pipeline.refresh(rx.len() as u64, &client_stats, started);
                progress(&pipeline.report);
            }
        }
    })();
    client_stop.store(true, Ordering::Relaxed);
    drop(rx);
    let _ = socket.join();
    pipeline.refresh_stats(&client_stats, started);
    let Pipeline { recorder, report, .. } = pipeline;
    let closed = recorder.close();
    match (result, closed) {
        // A recorder that failed is the root cause of the pipeline's own error.
        (Err(e), Err(c)) => Err(c.context(format!("{e:#}"))),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(report),
    }
}

/// `recv_deadline`, after polling the queue for up to `spin` (never past `deadline`).
fn recv_spinning<T>(rx: &Receiver<T>, deadline: Instant, spin: Duration) -> Result<T, RecvTimeoutError> {
    if !spin.is_zero() {
        let until = deadline.min(Instant::now() + spin);
        loop {
            match rx.try_recv() {
                Ok(v) => return Ok(v),
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    return Err(RecvTimeoutError::Disconnected)
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {}
            }
            if Instant::now() >= until {
                break;
            }
            std::hint::spin_loop();
        }
    }
    rx.recv_deadline(deadline)
}

struct Pipeline<'a> {
    engine: &'a mut dyn LiveEngine,
    recorder: Box<dyn InputRecorder>,
    clock: WallClock,
    last_now: u64,
    seq: u64,
    report: LiveReport,
    stale: StaleWatch,
}

/// Watches a connected feed for silence. Shared by every venue's live driver: it sits in the
/// pipeline, after the venue's protocol, and sees only receive times.
struct StaleWatch {
    after_ns: Option<u64>,
    /// Receive time of the last message (or of the connect) while connected.
    last_data_ns: Option<u64>,
    /// A `stale` record was written and no message has come since.
    stale: bool,
}

impl StaleWatch {
    /// When the feed turns stale if nothing arrives.
    fn due_ns(&self) -> Option<u64> {
        if self.stale {
            return None;
        }
        Some(self.last_data_ns?.saturating_add(self.after_ns?))
    }
}

impl Pipeline<'_> {
    /// When the engine loop must wake with no event: the engine's next deadline, the stale
    /// check's, or [`IDLE_WAKE`] from now.
    fn wake(&self) -> Instant {
        let mut wake = match self.engine.next_deadline() {
            Some(d) => self.clock.instant_at(d.0).min(Instant::now() + IDLE_WAKE),
            None => Instant::now() + IDLE_WAKE,
        };
        if let Some(due) = self.stale.due_ns() {
            wake = wake.min(self.clock.instant_at(due));
        }
        wake
    }

    /// Feeds one event from the socket thread (after any ticks due before it).
    fn consume(&mut self, ev: FeedEvent) -> anyhow::Result<()> {
        let now = ev.recv_ns().max(self.last_now);
        // Silence past the threshold comes before whatever ends it.
        self.check_stale(now)?;
        self.tick_until(now)?;
        self.last_now = now;
        let seq = self.next_seq();
        match ev {
            FeedEvent::Message { recv_ns, stream, raw } => {
                if std::mem::take(&mut self.stale.stale) {
                    let silent = now.saturating_sub(self.stale.last_data_ns.unwrap_or(now));
                    tracing::info!("feed resumed after {:.1} s of silence", silent as f64 / 1e9);
                }
                self.stale.last_data_ns = Some(now);
                let dequeued_ns = self.clock.now_ns();
                self.engine.feed(Timestamp(now), seq, Input::Message { stream: &stream, raw: &raw })?;
                // Receive stamp to decision, measured on the driver's clock.
                let decided_ns = self.clock.now_ns();
                self.report.latency.record(decided_ns.saturating_sub(recv_ns));
                self.report.engine_latency.record(decided_ns.saturating_sub(dequeued_ns));
                self.report.messages += 1;
                self.recorder.message(seq, now, &stream, raw)?;
            }
            FeedEvent::Control { control, .. } => {
                match &control {
                    Control::Connect { .. } => {
                        self.report.connects += 1;
                        // A connection that never delivers data turns stale too.
                        self.stale.last_data_ns = Some(now);
                        self.stale.stale = false;
                    }
                    Control::Disconnect { .. } => {
                        self.report.disconnects += 1;
                        // The disconnect pulled the quotes already; silence now is expected.
                        self.stale.last_data_ns = None;
                    }
                    Control::Gap { .. } => self.report.gaps += 1,
                    _ => {}
                }
                if let Some(input) = control_input(&control) {
                    self.engine.feed(Timestamp(now), seq, input)?;
                }
                self.recorder.control(seq, now, control)?;
            }
        }
        self.note_backlog();
        Ok(())
    }

    /// Writes a `stale` record (and feeds it) once the connected feed has been silent past the
    /// threshold; the engine pulls its quotes, and the next message ends the silence.
    fn check_stale(&mut self, now: u64) -> anyhow::Result<()> {
        let (Some(due), Some(after)) = (self.stale.due_ns(), self.stale.after_ns) else { return Ok(()) };
        if now < due {
            return Ok(());
        }
        let now = now.max(self.last_now);
        self.last_now = now;
        self.stale.stale = true;
        self.report.stale += 1;
        let reason = format!("no message for {} ms (live.stale_after_ms)", after / 1_000_000);
        tracing::warn!("feed stale: {reason}; quotes pulled until data returns");
        let seq = self.next_seq();
        let control = Control::Stale { reason };
        if let Some(input) = control_input(&control) {
            self.engine.feed(Timestamp(now), seq, input)?;
        }
        self.recorder.control(seq, now, control)?;
        self.note_backlog();
        Ok(())
    }

    /// Injects a tick at each engine deadline at or before `t`, each at its deadline's time.
    fn tick_until(&mut self, t: u64) -> anyhow::Result<()> {
        let mut ticks = 0;
        while let Some(d) = self.engine.next_deadline() {
            if d.0 > t {
                break;
            }
            ticks += 1;
            anyhow::ensure!(
                ticks <= MAX_TICKS_AT_ONCE,
                "the engine's deadline stays at {} after {MAX_TICKS_AT_ONCE} ticks",
                d.0
            );
            let now = d.0.max(self.last_now);
            self.last_now = now;
            let seq = self.next_seq();
            self.engine.feed(Timestamp(now), seq, Input::Tick)?;
            self.recorder.control(seq, now, Control::Tick)?;
            self.report.ticks += 1;
        }
        Ok(())
    }

    fn next_seq(&mut self) -> u64 {
        let s = self.seq;
        self.seq += 1;
        self.report.records += 1;
        s
    }

    fn note_backlog(&mut self) {
        let b = self.recorder.backlog();
        self.report.recorder_backlog = b;
        self.report.recorder_backlog_high_water = self.report.recorder_backlog_high_water.max(b);
    }

    fn refresh(
        &mut self,
        queue_depth: u64,
        stats: &crate::drivers::ws_client::ClientStats,
        started: Instant,
    ) {
        self.report.feed_queue_depth = queue_depth;
        self.refresh_stats(stats, started);
    }

    fn refresh_stats(&mut self, stats: &crate::drivers::ws_client::ClientStats, started: Instant) {
        self.report.dropped = stats.dropped.load(Ordering::Relaxed);
        self.report.feed_queue_high_water = stats.queue_high_water.load(Ordering::Relaxed);
        self.report.elapsed = started.elapsed();
        self.report.engine_status = self.engine.status();
        self.report.engine_panel = self.engine.panel();
        self.note_backlog();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_a_bucket() {
        let mut h = LatencyHistogram::default();
        for ns in 1..=10_000u64 {
            h.record(ns * 10);
        }
        let p50 = h.quantile_ns(0.5) as f64;
        let p99 = h.quantile_ns(0.99) as f64;
        assert!((p50 / 50_000.0 - 1.0).abs() < 0.07, "p50 {p50}");
        assert!((p99 / 99_000.0 - 1.0).abs() < 0.07, "p99 {p99}");
        assert_eq!(h.max_ns(), 100_000);
        assert_eq!(h.quantile_ns(1.0), 100_000);
        assert_eq!(LatencyHistogram::default().quantile_ns(0.5), 0);
        for ns in [0u64, 1, 15, 16, 17, 1000, 123_456_789, u64::MAX / 2] {
            let b = LatencyHistogram::bucket(ns);
            assert!(LatencyHistogram::bucket_upper(b) >= ns, "{ns}");
        }
    }

    #[test]
    fn control_records_map_to_engine_inputs() {
        assert!(matches!(control_input(&Control::Tick), Some(Input::Tick)));
        assert!(matches!(control_input(&Control::Gap { reason: String::new() }), Some(Input::Gap)));
        assert!(control_input(&Control::Subscribe { subscription: String::new() }).is_none());
    }
}
