//! The websocket feed client: connects to a venue, subscribes, keeps the connection alive,
//! detects dead connections, reconnects with capped exponential backoff and jitter, and hands
//! every message it receives, stamped with the driver's clock, to the next thread, together
//! with the control records (connect, disconnect, subscribe, gap) that let a replay know
//! exactly what the live session knew.
//!
//! The venue-specific part is a [`VenueProtocol`]: subscription frames, keepalive, routing of a
//! raw message to its stream name. Hyperliquid is the first; Binance USD-M (combined streams,
//! a REST snapshot on start and after a gap) fits the same trait as a second adapter.
//!
//! One std thread, blocking reads with a short socket timeout (so pings, deadlines and the stop
//! flag are checked between messages), no async runtime.
#![allow(clippy::disallowed_methods)] // A driver: the receive time is read from the wall clock here.

pub mod binance;
pub mod hyperliquid;

use crate::log::Control;
use crossbeam_channel::{Sender, TrySendError};
use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The shortest read timeout the loop sets for a sink's wake-up (a due wake-up the sink could
/// not serve yet must not turn the read into a busy loop).
const MIN_READ_TIMEOUT: Duration = Duration::from_micros(200);
/// REST snapshots fetched and not yet taken by the socket loop (one fetch per symbol at a time).
const SNAPSHOT_QUEUE_CAPACITY: usize = 64;

/// What a venue's protocol makes of one data message before it is handed on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// A `Gap` control record to hand on *before* the message (a sequence break).
    pub gap: Option<String>,
    /// Symbols whose REST book snapshot should be fetched now.
    pub fetch: Vec<String>,
}

/// What to do with a fetched REST snapshot (`None` body: the fetch failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotVerdict {
    /// Hand the body on as a message of the snapshot's stream.
    Record,
    /// Drop it and fetch again after the delay.
    Refetch(Duration),
    /// Not a symbol of this session.
    Ignore,
}

/// What a venue's websocket protocol needs from the client loop.
pub trait VenueProtocol: Send {
    fn venue(&self) -> &'static str;
    /// `(subscription description, text frame)` to send after each connect.
    fn subscribe_frames(&mut self) -> Vec<(String, String)>;
    /// The least time between two subscribe frames (the venue's rate limit on incoming
    /// messages).
    fn subscribe_interval(&self) -> Duration {
        Duration::ZERO
    }
    /// A connection older than this is closed and reopened on our terms (a venue that cuts
    /// connections at a fixed age).
    fn max_connection_age(&self) -> Option<Duration> {
        None
    }
    /// A new connection: per-connection state starts over.
    fn on_connect(&mut self) {}
    /// Looks at one message (with its stream name) before it is handed on.
    fn observe(&mut self, _stream: &str, _raw: &[u8]) -> Observed {
        Observed::default()
    }
    /// `(url, stream name)` of a symbol's REST book snapshot, for venues that have one.
    fn snapshot_request(&self, _symbol: &str) -> Option<(String, String)> {
        None
    }
    /// A fetched snapshot body (or `None`: the fetch failed).
    fn on_snapshot(&mut self, _symbol: &str, _body: Option<&[u8]>) -> SnapshotVerdict {
        SnapshotVerdict::Ignore
    }
    /// The application-level ping, if the venue has one (Hyperliquid: `{"method":"ping"}`).
    fn ping_frame(&self) -> Option<String>;
    fn is_pong(&self, raw: &[u8]) -> bool;
    /// Subscriptions (by description) that a server message says were refused.
    fn refused_subscriptions(&self, raw: &[u8]) -> Vec<String>;
    /// The frame that retries one subscription (by description).
    fn resubscribe_frame(&mut self, subscription: &str) -> Option<String>;
    /// The stream name a raw message is recorded under.
    fn stream_of(&self, raw: &[u8]) -> String;
}

/// The driver's clock: wall time in ns since the Unix epoch, read as the wall time at start
/// plus a monotonic elapsed time, so that a wall-clock step never sends receive times backwards.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    start_wall_ns: u64,
    start: Instant,
}

impl WallClock {
    pub fn new() -> WallClock {
        let start_wall_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        WallClock { start_wall_ns, start: Instant::now() }
    }
    pub fn now_ns(&self) -> u64 {
        self.start_wall_ns + self.start.elapsed().as_nanos() as u64
    }
    /// The monotonic instant at which this clock reads `ns`.
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.start + Duration::from_nanos(ns.saturating_sub(self.start_wall_ns))
    }
}

impl Default for WallClock {
    fn default() -> Self {
        WallClock::new()
    }
}

/// SplitMix64: the driver's own seeded generator (for backoff jitter). Its algorithm lives here
/// so that a library upgrade never changes a seeded sequence.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Capped exponential backoff with jitter: attempt k waits a uniform draw in
/// `[d/2, d]` with `d = min(cap, base * 2^k)`.
#[derive(Clone, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff { base, cap, attempt: 0, rng: SplitMix64::new(seed) }
    }
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(20));
        let d = exp.min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        d.mul_f64(0.5 + 0.5 * self.rng.next_f64())
    }
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Settings of the client loop. Defaults are the venue's (`VENUES.md`); tests shorten them.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub url: String,
    pub ping_interval: Duration,
    /// A ping not answered within this is a dead connection.
    pub pong_timeout: Duration,
    /// This long without any message is a dead connection.
    pub silence_timeout: Duration,
    pub connect_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A connection that lived this long resets the backoff.
    pub healthy_after: Duration,
    /// Seed of the backoff jitter.
    pub seed: u64,
    /// How often a blocked read wakes up to check pings, deadlines and the stop flag.
    pub poll_interval: Duration,
}

impl ClientOptions {
    pub fn new(url: &str) -> ClientOptions {
        ClientOptions {
            url: url.to_string(),
            ping_interval: Duration::from_secs(50),
            pong_timeout: Duration::from_secs(10),
            silence_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(30),
            healthy_after: Duration::from_secs(30),
            seed: 0,
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// What the client hands to the next thread.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedEvent {
    Message { recv_ns: u64, stream: String, raw: Vec<u8> },
    Control { recv_ns: u64, control: Control },
}

impl FeedEvent {
    pub fn recv_ns(&self) -> u64 {
        match self {
            FeedEvent::Message { recv_ns, .. } | FeedEvent::Control { recv_ns, .. } => *recv_ns,
        }
    }
}

/// What [`FeedSink::offer`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offered {
    Taken,
    /// No room: the client drops the message, counts it, and a `Gap` follows.
    Full,
    /// The consumer is gone (or failed): the client stops.
    Closed,
}

/// Where the client loop hands its events: the bounded queue to an engine thread
/// (`Sender<FeedEvent>`), or the live pipeline itself running on the client's thread (no
/// hand-over: `drivers::live`).
pub trait FeedSink {
    /// A data message (or the gap before one): never waits, may be refused.
    fn offer(&mut self, ev: FeedEvent) -> Offered;
    /// A control record: never dropped (it may wait; controls are rare). `false`: the consumer
    /// is gone, the client stops.
    fn control(&mut self, ev: FeedEvent) -> bool;
    /// Events waiting in the sink's queue (its high-water mark is reported).
    fn depth(&self) -> u64;
    /// Called by the client loop between reads: the consumer's own timed work (ticks, the
    /// stale check, the session's end). Returns the instant by which it wants to be called
    /// again; a blocked read is woken no later (`None`: the poll interval is enough).
    fn poll(&mut self) -> Option<Instant> {
        None
    }
}

impl FeedSink for Sender<FeedEvent> {
    fn offer(&mut self, ev: FeedEvent) -> Offered {
        match self.try_send(ev) {
            Ok(()) => Offered::Taken,
            Err(TrySendError::Full(_)) => Offered::Full,
            Err(TrySendError::Disconnected(_)) => Offered::Closed,
        }
    }
    fn control(&mut self, ev: FeedEvent) -> bool {
        self.send(ev).is_ok()
    }
    fn depth(&self) -> u64 {
        self.len() as u64
    }
}

/// Counters the client keeps while it runs (read from other threads).
#[derive(Debug, Default)]
pub struct ClientStats {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub connects: AtomicU64,
    pub disconnects: AtomicU64,
    /// Messages dropped because the next thread's queue was full (each run of drops is
    /// followed by a `Gap` control record).
    pub dropped: AtomicU64,
    /// The deepest the outgoing queue has been.
    pub queue_high_water: AtomicU64,
}

/// The socket type of a connection (plain TCP for `ws://`, rustls for `wss://`).
type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Opens a websocket: TCP connect with a timeout, then TLS (certificates verified against the
/// webpki roots) for `wss://`, plain for `ws://`.
pub fn connect(url: &str, timeout: Duration) -> Result<Socket, String> {
    let uri: tungstenite::http::Uri = url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("url {url} names no host"))?;
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(format!("url {url} is neither ws:// nor wss://")),
    };
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = (host, port).to_socket_addrs().map_err(|e| format!("resolve {host}: {e}"))?;
    let mut last_err = format!("{host} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                return match tungstenite::client_tls_with_config(url, stream, None, None) {
                    Ok((ws, _resp)) => Ok(ws),
                    Err(e) => Err(format!("websocket handshake with {url}: {e}")),
                };
            }
            Err(e) => last_err = format!("connect {addr}: {e}"),
        }
    }
    Err(last_err)
}

fn set_read_timeout(ws: &Socket, d: Duration) -> std::io::Result<()> {
    match ws.get_ref() {
        MaybeTlsStream::Plain(s) => s.set_read_timeout(Some(d)),
        MaybeTlsStream::Rustls(s) => s.get_ref().set_read_timeout(Some(d)),
        _ => Ok(()),
    }
}

/// The client loop. Runs until `stop` is set; every event goes to `out`. Messages are offered
/// with `try_send` so that a slow consumer never blocks the socket read silently: a full queue
/// drops the message, counts it, and a `Gap` record follows as soon as there is room. Control
/// records are never dropped (they block: they are rare and the connection is down anyway).
pub struct FeedClient<S: FeedSink = Sender<FeedEvent>> {
    protocol: Box<dyn VenueProtocol>,
    opts: ClientOptions,
    clock: WallClock,
    out: S,
    stats: Arc<ClientStats>,
    stop: Arc<AtomicBool>,
    dropped_since_gap: u64,
    /// Connections opened so far (snapshots fetched for an older one are dropped).
    connection: u64,
    snapshots_tx: Sender<SnapshotResult>,
    snapshots_rx: crossbeam_channel::Receiver<SnapshotResult>,
}

enum Ended {
    Stop,
    Dead(String),
}

impl<S: FeedSink> FeedClient<S> {
    pub fn new(
        protocol: Box<dyn VenueProtocol>,
        opts: ClientOptions,
        clock: WallClock,
        out: S,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let (snapshots_tx, snapshots_rx) = crossbeam_channel::bounded(SNAPSHOT_QUEUE_CAPACITY);
        FeedClient {
            connection: 0,
            snapshots_tx,
            snapshots_rx,
            protocol,
            opts,
            clock,
            out,
            stats: Arc::new(ClientStats::default()),
            stop,
            dropped_since_gap: 0,
        }
    }

    pub fn stats(&self) -> Arc<ClientStats> {
        self.stats.clone()
    }

    /// The sink the loop hands its events to.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.out
    }

    /// Connects, streams, reconnects, until the stop flag is set or the receiver is gone;
    /// returns the sink.
    pub fn run(mut self) -> S {
        self.run_loop();
        self.out
    }

    fn run_loop(&mut self) {
        let mut backoff = Backoff::new(self.opts.backoff_base, self.opts.backoff_cap, self.opts.seed);
        let mut was_connected = false;
        while !self.stopped() {
            match connect(&self.opts.url, self.opts.connect_timeout) {
                Ok(mut ws) => {
                    self.stats.connects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(url = %self.opts.url, "connected");
                    let started = Instant::now();
                    self.control(Control::Connect { url: self.opts.url.clone() });
                    if was_connected {
                        // What the venue published while we were away is lost.
                        self.control(Control::Gap { reason: "reconnected: messages may be missing".into() });
                    }
                    was_connected = true;
                    let ended = self.stream(&mut ws);
                    let reason = match &ended {
                        Ended::Stop => "stopped".to_string(),
                        Ended::Dead(r) => r.clone(),
                    };
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    self.stats.disconnects.fetch_add(1, Ordering::Relaxed);
                    self.control(Control::Disconnect { reason: reason.clone() });
                    if matches!(ended, Ended::Stop) {
                        return;
                    }
                    tracing::warn!(%reason, "connection lost");
                    if started.elapsed() >= self.opts.healthy_after {
                        backoff.reset();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "connect failed"),
            }
            let delay = backoff.next_delay();
            tracing::info!(delay_ms = delay.as_millis() as u64, "reconnecting after backoff");
            self.sleep_unless_stopped(delay);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn sleep_unless_stopped(&mut self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            let wake = self.out.poll();
            if self.stopped() {
                return;
            }
            let now = Instant::now();
            if now >= until {
                return;
            }
            let mut nap = (until - now).min(Duration::from_millis(50));
            if let Some(w) = wake {
                nap = nap.min(w.saturating_duration_since(now).max(MIN_READ_TIMEOUT));
            }
            std::thread::sleep(nap);
        }
    }

    fn control(&mut self, control: Control) {
        let ev = FeedEvent::Control { recv_ns: self.clock.now_ns(), control };
        if !self.out.control(ev) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    fn offer(&mut self, recv_ns: u64, stream: String, raw: Vec<u8>) {
        if self.dropped_since_gap > 0 {
            let gap = FeedEvent::Control {
                recv_ns,
                control: Control::Gap {
                    reason: format!(
                        "{} messages dropped: the engine's queue was full",
                        self.dropped_since_gap
                    ),
                },
            };
            match self.out.offer(gap) {
                Offered::Taken => self.dropped_since_gap = 0,
                Offered::Full => {
                    self.drop_one();
                    return;
                }
                Offered::Closed => return self.stop.store(true, Ordering::Relaxed),
            }
        }
        match self.out.offer(FeedEvent::Message { recv_ns, stream, raw }) {
            Offered::Taken => {
                let depth = self.out.depth();
                self.stats.queue_high_water.fetch_max(depth, Ordering::Relaxed);
            }
            Offered::Full => self.drop_one(),
            Offered::Closed => self.stop.store(true, Ordering::Relaxed),
        }
    }

    fn drop_one(&mut self) {
        if self.dropped_since_gap == 0 {
            tracing::warn!("engine queue full: dropping messages (a gap will be recorded)");
        }
        self.dropped_since_gap += 1;
        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Subscribes and reads until the connection dies or the stop flag is set.
    fn stream(&mut self, ws: &mut Socket) -> Ended {
        if let Err(e) = set_read_timeout(ws, self.opts.poll_interval) {
            return Ended::Dead(format!("socket: {e}"));
        }
        self.connection += 1;
        self.protocol.on_connect();
        let opened = Instant::now();
        // Subscribe frames go out one per `subscribe_interval` (the venue's rate limit).
        let mut to_subscribe: std::collections::VecDeque<(String, String)> =
            self.protocol.subscribe_frames().into();
        let mut next_subscribe = opened;
        let mut last_rx = Instant::now();
        let mut last_ping = Instant::now();
        let mut pong_due: Option<Instant> = None;
        let mut retries: Vec<(Instant, String)> = Vec::new();
        let mut fetches: Vec<(Instant, String)> = Vec::new();
        let mut retry_backoff =
            Backoff::new(self.opts.backoff_base, self.opts.backoff_cap, self.opts.seed ^ 0x5EED_5EED);
        let mut read_timeout = self.opts.poll_interval;
        loop {
            // The sink's timed work first (an inline engine's ticks), and the read below wakes
            // in time for its next.
            let wake = self.out.poll();
            if self.stopped() {
                return Ended::Stop;
            }
            let now = Instant::now();
            let wanted = wake.map_or(self.opts.poll_interval, |w| {
                w.saturating_duration_since(now).clamp(MIN_READ_TIMEOUT, self.opts.poll_interval)
            });
            if wanted != read_timeout {
                if let Err(e) = set_read_timeout(ws, wanted) {
                    return Ended::Dead(format!("socket: {e}"));
                }
                read_timeout = wanted;
            }
            if now >= next_subscribe {
                if let Some((subscription, frame)) = to_subscribe.pop_front() {
                    if let Err(e) = ws.send(Message::text(frame)) {
                        return Ended::Dead(format!("send subscribe: {e}"));
                    }
                    self.control(Control::Subscribe { subscription });
                    next_subscribe = now + self.protocol.subscribe_interval();
                    if !to_subscribe.is_empty() && self.protocol.subscribe_interval().is_zero() {
                        continue;
                    }
                }
            }
            if let Some(age) = self.protocol.max_connection_age() {
                if opened.elapsed() >= age {
                    return Ended::Dead(format!(
                        "planned reconnect: the connection is {:?} old (the venue cuts connections at 24 h)",
                        age
                    ));
                }
            }
            match ws.read() {
                Ok(msg) => {
                    last_rx = Instant::now();
                    let raw = match msg {
                        Message::Text(t) => t.into_bytes(),
                        Message::Binary(b) => b,
                        Message::Close(frame) => {
                            return Ended::Dead(match frame {
                                Some(f) => format!("server closed: {} {}", f.code, f.reason),
                                None => "server closed".to_string(),
                            })
                        }
                        // Protocol-level pings are answered by tungstenite; they only prove life.
                        _ => continue,
                    };
                    let recv_ns = self.clock.now_ns();
                    self.stats.messages.fetch_add(1, Ordering::Relaxed);
                    self.stats.bytes.fetch_add(raw.len() as u64, Ordering::Relaxed);
                    if self.protocol.is_pong(&raw) {
                        pong_due = None;
                    }
                    for refused in self.protocol.refused_subscriptions(&raw) {
                        let delay = retry_backoff.next_delay();
                        tracing::warn!(%refused, delay_ms = delay.as_millis() as u64, "subscription refused: retrying");
                        retries.push((Instant::now() + delay, refused));
                    }
                    let stream = self.protocol.stream_of(&raw);
                    let seen = self.protocol.observe(&stream, &raw);
                    if let Some(reason) = seen.gap {
                        tracing::warn!(%reason, "sequence break: the book resyncs from a new snapshot");
                        self.control(Control::Gap { reason });
                    }
                    fetches.extend(seen.fetch.into_iter().map(|s| (Instant::now(), s)));
                    self.offer(recv_ns, stream, raw);
                }
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Ended::Dead(format!("read: {e}")),
            }
            let now = Instant::now();
            if now.duration_since(last_rx) >= self.opts.silence_timeout {
                return Ended::Dead(format!("no message for {:?}", self.opts.silence_timeout));
            }
            if pong_due.is_some_and(|due| now >= due) {
                return Ended::Dead(format!("no pong within {:?}", self.opts.pong_timeout));
            }
            if now.duration_since(last_ping) >= self.opts.ping_interval {
                if let Some(ping) = self.protocol.ping_frame() {
                    if let Err(e) = ws.send(Message::text(ping)) {
                        return Ended::Dead(format!("send ping: {e}"));
                    }
                    pong_due.get_or_insert(now + self.opts.pong_timeout);
                }
                last_ping = now;
            }
            let mut i = 0;
            while i < retries.len() {
                if retries[i].0 <= now {
                    let (_, sub) = retries.swap_remove(i);
                    if let Some(frame) = self.protocol.resubscribe_frame(&sub) {
                        if let Err(e) = ws.send(Message::text(frame)) {
                            return Ended::Dead(format!("send subscribe: {e}"));
                        }
                        self.control(Control::Subscribe { subscription: sub });
                    }
                } else {
                    i += 1;
                }
            }
            self.start_due_fetches(&mut fetches, now);
            self.take_snapshots(&mut fetches);
        }
    }

    /// Starts the REST snapshot fetches that are due, each on its own short-lived thread (the
    /// socket is read meanwhile: a slow REST answer must not stall the stream).
    fn start_due_fetches(&mut self, fetches: &mut Vec<(Instant, String)>, now: Instant) {
        let mut i = 0;
        while i < fetches.len() {
            if fetches[i].0 > now {
                i += 1;
                continue;
            }
            let (_, symbol) = fetches.swap_remove(i);
            let Some((url, stream)) = self.protocol.snapshot_request(&symbol) else { continue };
            let tx = self.snapshots_tx.clone();
            let connection = self.connection;
            let timeout = self.opts.connect_timeout;
            tracing::info!(%url, "fetching the book snapshot");
            let spawned = std::thread::Builder::new().name("rest-snapshot".into()).spawn(move || {
                crate::drivers::affinity::leave_engine_cpu();
                let result = crate::drivers::rest::get(&url, timeout);
                let _ = tx.send(SnapshotResult { connection, symbol, stream, result });
            });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the snapshot fetch");
            }
        }
    }

    /// Hands on the snapshots that arrived (stamped when the socket thread takes them, so the
    /// feed stays in receive order), or schedules a new fetch.
    fn take_snapshots(&mut self, fetches: &mut Vec<(Instant, String)>) {
        while let Ok(snap) = self.snapshots_rx.try_recv() {
            if snap.connection != self.connection {
                continue; // fetched for a connection that is gone: its book restarts anyway
            }
            if let Err(e) = &snap.result {
                tracing::warn!(symbol = %snap.symbol, error = %e, "book snapshot fetch failed");
            }
            let body = snap.result.as_ref().ok().map(|b| b.as_slice());
            match self.protocol.on_snapshot(&snap.symbol, body) {
                SnapshotVerdict::Record => {
                    let recv_ns = self.clock.now_ns();
                    if let Ok(body) = snap.result {
                        self.stats.messages.fetch_add(1, Ordering::Relaxed);
                        self.stats.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                        self.offer(recv_ns, snap.stream, body);
                    }
                }
                SnapshotVerdict::Refetch(delay) => {
                    if snap.result.is_ok() {
                        tracing::info!(symbol = %snap.symbol, "snapshot older than the buffered diffs: fetching again");
                    }
                    fetches.push((Instant::now() + delay, snap.symbol));
                }
                SnapshotVerdict::Ignore => {}
            }
        }
    }
}

/// A REST snapshot fetched on a helper thread.
struct SnapshotResult {
    /// The connection it was fetched for.
    connection: u64,
    symbol: String,
    stream: String,
    result: Result<Vec<u8>, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_exponential_with_seeded_jitter() {
        let mut a = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 7);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 7);
        let da: Vec<Duration> = (0..8).map(|_| a.next_delay()).collect();
        let db: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert_eq!(da, db, "same seed, same delays");
        assert!(da[0] >= Duration::from_millis(50) && da[0] <= Duration::from_millis(100));
        assert!(da[3] >= Duration::from_millis(400) && da[3] <= Duration::from_millis(800));
        assert!(da.iter().all(|d| *d <= Duration::from_secs(1)), "capped: {da:?}");
        a.reset();
        assert!(a.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn rejects_urls_it_cannot_speak() {
        assert!(connect("http://127.0.0.1:1/ws", Duration::from_millis(100))
            .unwrap_err()
            .contains("neither"));
        assert!(connect("not a url", Duration::from_millis(100)).is_err());
    }
}
