//! The live pipeline on the socket thread: the feed client's loop calls the engine itself for
//! each message it reads ([`FeedSink`]), so nothing stands between a message's receive stamp
//! and the engine: no queue, no wake-up of another thread (the hand-over was most of the
//! feed-to-decision latency, `docs/PERFORMANCE.md`).
//!
//! Everything else is [`super::run_handoff`]'s, in the same order: ticks at the engine's
//! deadlines (the client's read wakes in time for them), the stale check, the session's end
//! (the client's final `Disconnect` is still consumed), the same records with the same times
//! and numbers. The recorder stays off this thread: its appends only hand a record to its
//! writer thread ([`InputRecorder::queue_capacity`], or [`RecorderFeed`] for one that may
//! block), and a message that would find that queue full is dropped before the engine sees
//! it, counted, and followed by a `Gap`, as the hand-over's full feed queue did: the socket
//! never waits for the disk.

use super::recorder_feed::RecorderFeed;
use super::{InputRecorder, LiveEngine, LiveOptions, LiveReport, Pipeline, StaleWatch, FEED_QUEUE_CAPACITY};
use crate::drivers::ws_client::{
    ClientStats, FeedClient, FeedEvent, FeedSink, Offered, VenueProtocol, WallClock,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Records kept free in the recorder's queue for control records and ticks (which are never
/// dropped) once messages are being dropped.
const CONTROL_RESERVE: u64 = 1024;

/// See the module's documentation.
pub(super) fn run(
    protocol: Box<dyn VenueProtocol>,
    opts: &LiveOptions,
    engine: &mut dyn LiveEngine,
    recorder: Box<dyn InputRecorder>,
    stop: Arc<AtomicBool>,
    progress: &mut dyn FnMut(&LiveReport),
) -> anyhow::Result<LiveReport> {
    let recorder: Box<dyn InputRecorder> = match recorder.queue_capacity() {
        Some(_) => recorder,
        None => Box::new(RecorderFeed::spawn(recorder, FEED_QUEUE_CAPACITY)?),
    };
    let room = recorder
        .queue_capacity()
        .unwrap_or(FEED_QUEUE_CAPACITY as u64)
        .saturating_sub(CONTROL_RESERVE)
        .max(1);
    let clock = WallClock::new();
    let client_stop = Arc::new(AtomicBool::new(false));
    let stale_after_ns = opts.stale_after.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let started = Instant::now();
    let sink = InlineSink {
        pipeline: Pipeline {
            engine,
            recorder,
            clock,
            last_now: 0,
            seq: 0,
            report: LiveReport::default(),
            stale: StaleWatch { after_ns: stale_after_ns, last_data_ns: None, stale: false },
        },
        opts,
        stop,
        client_stop: client_stop.clone(),
        stats: Arc::new(ClientStats::default()),
        started,
        next_progress: started + opts.progress_interval,
        progress,
        room,
        error: None,
    };
    let mut client = FeedClient::new(protocol, opts.client.clone(), clock, sink, client_stop);
    let client_stats = client.stats();
    client.sink_mut().stats = client_stats.clone();
    let InlineSink { mut pipeline, error, .. } = client.run();
    pipeline.refresh_stats(&client_stats, started);
    let Pipeline { recorder, report, .. } = pipeline;
    let closed = recorder.close();
    match (error, closed) {
        // A recorder that failed is the root cause of the pipeline's own error.
        (Some(e), Err(c)) => Err(c.context(format!("{e:#}"))),
        (Some(e), Ok(())) | (None, Err(e)) => Err(e),
        (None, Ok(())) => Ok(report),
    }
}

struct InlineSink<'a> {
    pipeline: Pipeline<'a>,
    opts: &'a LiveOptions,
    /// The session's stop flag (Ctrl-C).
    stop: Arc<AtomicBool>,
    /// The client's: set at the session's end, so that its final `Disconnect` is consumed.
    client_stop: Arc<AtomicBool>,
    stats: Arc<ClientStats>,
    started: Instant,
    next_progress: Instant,
    progress: &'a mut dyn FnMut(&LiveReport),
    /// A message is taken while the recorder's backlog is below this.
    room: u64,
    /// The pipeline's first error: the client stops, [`run`] returns it.
    error: Option<anyhow::Error>,
}

impl InlineSink<'_> {
    fn has_room(&self) -> bool {
        self.pipeline.recorder.backlog() < self.room
    }

    fn fail(&mut self, e: anyhow::Error) {
        self.error.get_or_insert(e);
        self.client_stop.store(true, Ordering::Relaxed);
    }
}

impl FeedSink for InlineSink<'_> {
    fn offer(&mut self, ev: FeedEvent) -> Offered {
        if self.error.is_some() {
            return Offered::Closed;
        }
        if !self.has_room() {
            return Offered::Full;
        }
        match self.pipeline.consume(ev) {
            Ok(()) => Offered::Taken,
            Err(e) => {
                self.fail(e);
                Offered::Closed
            }
        }
    }

    fn control(&mut self, ev: FeedEvent) -> bool {
        if self.error.is_some() {
            return false;
        }
        match self.pipeline.consume(ev) {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    fn depth(&self) -> u64 {
        0 // no queue between the socket and the engine
    }

    fn poll(&mut self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        let ending = self.stop.load(Ordering::Relaxed)
            || self.opts.duration.is_some_and(|d| self.started.elapsed() >= d);
        if ending {
            self.client_stop.store(true, Ordering::Relaxed);
        }
        let mut wake = self.pipeline.wake();
        // The hand-over's engine loop ticked when its wait for the next event timed out; here
        // the read's timeout ends at the same instant. A recorder with no room defers them:
        // ticks are fed at their deadlines' times, so a later tick is the same record.
        if !ending && Instant::now() >= wake && self.has_room() {
            let now = self.pipeline.clock.now_ns();
            if let Err(e) = self.pipeline.tick_until(now).and_then(|()| self.pipeline.check_stale(now)) {
                self.fail(e);
                return None;
            }
            wake = self.pipeline.wake();
        }
        if Instant::now() >= self.next_progress {
            self.next_progress += self.opts.progress_interval;
            self.pipeline.refresh(0, &self.stats, self.started);
            (self.progress)(&self.pipeline.report);
        }
        Some(wake)
    }
}
