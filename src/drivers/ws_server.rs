//! A loopback websocket server speaking Hyperliquid's protocol: the connections side of the
//! local exchange (`serve`). It accepts clients on `ws://127.0.0.1:PORT/ws`, answers
//! subscribe/unsubscribe with acks, ping with pong, bad requests on the `error` channel, and
//! streams to each connection the messages the playback publishes on the streams it
//! subscribed to. A `trades` subscription first gets a batch of recent trades, as on the real
//! venue. Faults are injected per connection on request (see [`Fault`]).
//!
//! Threads: one accepting, one per connection. A connection's socket is non-blocking: its
//! thread waits on its bounded outgoing queue with a short timeout and reads client frames in
//! between. A client too slow for its queue is disconnected, as a real exchange would.
#![allow(clippy::disallowed_methods)] // A driver: pacing and fault timers read the monotonic clock.

pub mod binance;

use crate::drivers::ws_client::hyperliquid::{self as hl, Request, Subscription};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::collections::{BTreeMap, VecDeque};
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::handshake::server::{ErrorResponse, Request as HttpRequest, Response as HttpResponse};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// Frames queued for one connection before it counts as too slow and is disconnected.
pub const CONNECTION_QUEUE_CAPACITY: usize = 65_536;
/// Bytes tungstenite may buffer for a connection whose socket is not draining.
pub(crate) const MAX_WRITE_BUFFER_BYTES: usize = 64 << 20;
/// How long a connection thread waits for outgoing frames before reading client frames again.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// Trades kept per coin for the history batch a `trades` subscription starts with (the real
/// venue sent 30, oldest first, in the shared capture).
pub const HISTORY_TRADES: usize = 30;

/// A fault to inject, from `--fault` (`drop-after=N`, `stall=T[@N]`, `malformed-every=N`,
/// `refuse=TYPE[:N]`, and on Binance `seq-break=N`).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Cut every connection's TCP stream (no close frame) after it was sent N data messages.
    DropAfter(u64),
    /// Once per server: after a connection was sent N data messages, it goes silent (sends
    /// nothing, reads nothing, discards what it would have sent) for the duration.
    Stall { duration: Duration, after: u64 },
    /// Every Nth data message of each connection is sent truncated (malformed JSON) instead.
    MalformedEvery(u64),
    /// The first N subscriptions (server-wide) to a channel type are refused on `error`.
    Refuse { kind: String, times: u32 },
    /// Binance: the Nth `depthUpdate` of each connection is withheld (a sequence break).
    SeqBreak(u64),
}

impl Fault {
    pub const SYNTAX: &'static str =
        "drop-after=N | stall=DURATION[@N] | malformed-every=N | refuse=TYPE[:N] | seq-break=N (e.g. drop-after=500, stall=5s@200, malformed-every=100, refuse=l2Book:2, seq-break=50)";

    /// The channel types `refuse=` takes on each venue.
    pub const HYPERLIQUID_KINDS: [&'static str; 5] = ["l2Book", "trades", "bbo", "activeAssetCtx", "allMids"];
    pub const BINANCE_KINDS: [&'static str; 4] = ["depth", "trade", "bookTicker", "markPrice"];

    /// Whether this fault applies to a server of `venue` (`refuse` kinds and `seq-break` are
    /// venue-specific); the error says what to write instead.
    pub fn check_venue(&self, venue: crate::venue::Venue) -> Result<(), String> {
        use crate::venue::Venue;
        match (self, venue) {
            (Fault::SeqBreak(_), Venue::Hyperliquid) => {
                Err("--fault seq-break needs a sequenced feed: use it with --venue binance-usdm".into())
            }
            (Fault::Refuse { kind, .. }, Venue::Hyperliquid)
                if !Self::HYPERLIQUID_KINDS.contains(&kind.as_str()) =>
            {
                Err(format!(
                    "--fault refuse={kind}: on hyperliquid TYPE is one of {}",
                    Self::HYPERLIQUID_KINDS.join(", ")
                ))
            }
            (Fault::Refuse { kind, .. }, Venue::BinanceUsdm)
                if !Self::BINANCE_KINDS.contains(&kind.as_str()) =>
            {
                Err(format!(
                    "--fault refuse={kind}: on binance-usdm TYPE is one of {}",
                    Self::BINANCE_KINDS.join(", ")
                ))
            }
            _ => Ok(()),
        }
    }

    pub fn parse(s: &str) -> Result<Fault, String> {
        let bad = |why: &str| format!("bad --fault '{s}': {why}; write {}", Fault::SYNTAX);
        let (name, value) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
        let count = |v: &str| {
            v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| bad("N must be a positive integer"))
        };
        match name {
            "drop-after" => Ok(Fault::DropAfter(count(value)?)),
            "seq-break" => Ok(Fault::SeqBreak(count(value)?)),
            "malformed-every" => Ok(Fault::MalformedEvery(count(value)?)),
            "stall" => {
                let (d, after) = value.split_once('@').unwrap_or((value, "100"));
                let ns = crate::settings::parse_duration(d).map_err(|e| bad(&e.to_string()))?;
                Ok(Fault::Stall { duration: Duration::from_nanos(ns), after: count(after)? })
            }
            "refuse" => {
                let (kind, times) = value.split_once(':').unwrap_or((value, "1"));
                if !(Self::HYPERLIQUID_KINDS.contains(&kind) || Self::BINANCE_KINDS.contains(&kind)) {
                    return Err(bad(
                        "TYPE is one of l2Book, trades, bbo, activeAssetCtx, allMids (hyperliquid) or depth, trade, bookTicker, markPrice (binance-usdm)",
                    ));
                }
                let times = times
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("N must be a positive integer"))?;
                Ok(Fault::Refuse { kind: kind.to_string(), times })
            }
            _ => Err(bad("unknown fault")),
        }
    }
}

/// One frame for a connection: shared bytes, and whether it is market data (faults count data
/// messages only).
#[derive(Clone, Debug)]
struct Frame {
    bytes: Arc<[u8]>,
    data: bool,
}

/// Counters of the server (read by `serve` for its log lines and by tests).
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections: AtomicU64,
    pub published: AtomicU64,
    pub frames_sent: AtomicU64,
    pub slow_disconnects: AtomicU64,
    pub faults_injected: AtomicU64,
}

struct Subscriber {
    conn: u64,
    tx: Sender<Frame>,
    /// A `trades` subscriber that got no history batch (there was no trade yet) and no trade
    /// since: the first history the playback remembers is sent to it as that batch.
    awaiting_history: bool,
}

#[derive(Default)]
struct HubState {
    /// stream name -> subscribed connections.
    subscribers: BTreeMap<String, Vec<Subscriber>>,
    /// coin -> the most recent trades (raw objects), for the history batch.
    recent_trades: BTreeMap<String, VecDeque<Vec<u8>>>,
    refusals_left: BTreeMap<String, u32>,
    stall: Option<(Duration, u64)>,
    first_connection: Option<Sender<()>>,
}

/// The shared state between the playback (publishing) and the connections (subscribing).
pub struct Hub {
    state: Mutex<HubState>,
    faults: Vec<Fault>,
    shutdown: AtomicBool,
    pub stats: ServerStats,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panicking connection thread must not take the exchange down with a poisoned lock.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes one data message to every connection subscribed to `stream`. A `trades`
    /// message also feeds the history kept for new subscribers.
    pub fn publish(&self, stream: &str, raw: &[u8]) {
        let bytes: Arc<[u8]> = Arc::from(raw);
        let mut st = self.lock();
        if let Some(coin) = stream.strip_prefix("trades:") {
            remember_trades(&mut st, coin, raw);
        }
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        if let Some(subs) = st.subscribers.get_mut(stream) {
            subs.retain_mut(|s| match s.tx.try_send(Frame { bytes: bytes.clone(), data: true }) {
                Ok(()) => {
                    // A trade came first: what came before it is no longer its history.
                    s.awaiting_history = false;
                    true
                }
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(conn = s.conn, "client too slow for its queue: disconnecting it");
                    self.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            });
        }
    }

    /// Remembers trades for history batches without publishing them (a recording's own
    /// after-subscribe batch: old trades, not new ones).
    pub fn remember_history(&self, coin: &str, raw: &[u8]) {
        let mut st = self.lock();
        remember_trades(&mut st, coin, raw);
        // Subscribers that came before any history: this is their history batch (sent after
        // their ack, which their connection thread wrote before it drains the queue).
        let stream = format!("trades:{coin}");
        let waiting = st.subscribers.get(&stream).is_some_and(|subs| subs.iter().any(|s| s.awaiting_history));
        // Composed only for a subscriber that waits for it (rarely anyone).
        let Some(batch) = waiting.then(|| history_batch(&st, coin)).flatten() else { return };
        for s in st.subscribers.get_mut(&stream).into_iter().flatten().filter(|s| s.awaiting_history) {
            s.awaiting_history = false;
            let _ = s.tx.try_send(batch.clone());
        }
    }

    /// Blocks until the first client connects (the playback's clock starts then), or returns
    /// false when the server shuts down first.
    pub fn wait_first_connection(&self, rx: &Receiver<()>) -> bool {
        while !self.shutdown.load(Ordering::Relaxed) {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(()) => return true,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
        false
    }

    /// The fullest outgoing queue of any subscriber (for `--speed max` flow control).
    pub fn deepest_queue(&self) -> usize {
        self.lock().subscribers.values().flat_map(|subs| subs.iter().map(|s| s.tx.len())).max().unwrap_or(0)
    }

    pub fn is_shut_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }

    /// Subscribes a connection; returns the frames to send it first (ack, history batch), or
    /// the error text when the subscription is refused.
    fn subscribe(&self, conn: u64, tx: &Sender<Frame>, sub: &Subscription) -> Result<Vec<Frame>, String> {
        let mut st = self.lock();
        if let Some(left) = st.refusals_left.get_mut(&sub.kind) {
            if *left > 0 {
                *left -= 1;
                self.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
                return Err(format!(
                    "Subscription refused (fault injection): {}",
                    hl::subscribe_request(sub)
                ));
            }
        }
        let stream = sub.stream();
        if st.subscribers.get(&stream).is_some_and(|subs| subs.iter().any(|s| s.conn == conn)) {
            return Err(format!("Already subscribed: {}", sub.to_json()));
        }
        let mut first = vec![text_frame(hl::ack("subscribe", sub), false)];
        let mut awaiting_history = false;
        if sub.kind == "trades" {
            // Registered and composed under one lock: no trade is both history and new, none lost.
            let coin = sub.coin.as_deref().unwrap_or_default();
            match history_batch(&st, coin) {
                Some(batch) => first.push(batch),
                // No trade yet, no batch: an empty one names no coin, so a client could not
                // tell which subscription it answers. The playback may not have read the
                // recording's history yet: it comes when it does (`remember_history`).
                None => awaiting_history = true,
            }
        }
        st.subscribers.entry(stream).or_default().push(Subscriber { conn, tx: tx.clone(), awaiting_history });
        Ok(first)
    }

    fn unsubscribe(&self, conn: u64, sub: &Subscription) -> bool {
        let mut st = self.lock();
        let Some(subs) = st.subscribers.get_mut(&sub.stream()) else { return false };
        let before = subs.len();
        subs.retain(|s| s.conn != conn);
        before != subs.len()
    }

    fn forget(&self, conn: u64) {
        let mut st = self.lock();
        for subs in st.subscribers.values_mut() {
            subs.retain(|s| s.conn != conn);
        }
    }

    /// Claims the once-per-server stall, if configured.
    fn take_stall(&self) -> Option<(Duration, u64)> {
        self.lock().stall.take()
    }

    /// Closes every connection and stops accepting.
    pub fn shutdown(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
        self.lock().subscribers.clear();
    }
}

/// The history batch of a `trades` subscription to `coin`: the most recent trades, or `None`
/// before any.
fn history_batch(st: &HubState, coin: &str) -> Option<Frame> {
    let recent: Vec<&[u8]> =
        st.recent_trades.get(coin).map(|q| q.iter().map(|t| t.as_slice()).collect()).unwrap_or_default();
    (!recent.is_empty()).then(|| Frame { bytes: Arc::from(hl::trades_message(&recent)), data: true })
}

fn remember_trades(st: &mut HubState, coin: &str, raw: &[u8]) {
    let Some(elements) = hl::trade_elements(raw) else { return };
    let q = st.recent_trades.entry(coin.to_string()).or_default();
    for e in elements {
        if q.len() == HISTORY_TRADES {
            q.pop_front();
        }
        q.push_back(e.to_vec());
    }
}

fn text_frame(s: String, data: bool) -> Frame {
    Frame { bytes: Arc::from(s.into_bytes()), data }
}

/// The running server.
pub struct LocalExchange {
    url: String,
    addr: SocketAddr,
    hub: Arc<Hub>,
    first_connection: Option<Receiver<()>>,
    accept: Option<JoinHandle<()>>,
}

impl LocalExchange {
    /// Binds 127.0.0.1:`port` (0 picks a free port) and starts accepting.
    pub fn bind(port: u16, faults: Vec<Fault>) -> std::io::Result<LocalExchange> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (first_tx, first_rx) = bounded(1);
        let mut state = HubState { first_connection: Some(first_tx), ..HubState::default() };
        for f in &faults {
            match f {
                Fault::Refuse { kind, times } => {
                    state.refusals_left.insert(kind.clone(), *times);
                }
                Fault::Stall { duration, after } => state.stall = Some((*duration, *after)),
                _ => {}
            }
        }
        let hub = Arc::new(Hub {
            state: Mutex::new(state),
            faults,
            shutdown: AtomicBool::new(false),
            stats: ServerStats::default(),
        });
        let accept_hub = hub.clone();
        let accept = std::thread::Builder::new()
            .name("serve-accept".into())
            .spawn(move || accept_loop(listener, accept_hub))?;
        Ok(LocalExchange {
            url: format!("ws://{addr}/ws"),
            addr,
            hub,
            first_connection: Some(first_rx),
            accept: Some(accept),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// The signal of the first client connection (taken once, by the playback).
    pub fn take_first_connection(&mut self) -> Option<Receiver<()>> {
        self.first_connection.take()
    }

    /// Closes all connections and waits for the accepting thread.
    pub fn shutdown(mut self) {
        self.hub.shutdown();
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for LocalExchange {
    fn drop(&mut self) {
        self.hub.shutdown();
    }
}

fn accept_loop(listener: TcpListener, hub: Arc<Hub>) {
    let mut next_conn = 0u64;
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !hub.is_shut_down() {
        match listener.accept() {
            Ok((stream, peer)) => {
                next_conn += 1;
                let conn = next_conn;
                let hub = hub.clone();
                let spawned =
                    std::thread::Builder::new().name(format!("serve-conn-{conn}")).spawn(move || {
                        super::affinity::leave_engine_cpu();
                        serve_connection(conn, stream, peer, hub)
                    });
                match spawned {
                    Ok(h) => workers.push(h),
                    Err(e) => tracing::warn!(error = %e, "cannot start a connection thread"),
                }
                workers.retain(|h| !h.is_finished());
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    for h in workers {
        let _ = h.join();
    }
}

#[allow(clippy::result_large_err)] // tungstenite's callback signature fixes the error type.
fn handshake(stream: TcpStream) -> Result<WebSocket<TcpStream>, String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let config =
        WebSocketConfig { max_write_buffer_size: MAX_WRITE_BUFFER_BYTES, ..WebSocketConfig::default() };
    let only_ws_path = |req: &HttpRequest, resp: HttpResponse| -> Result<HttpResponse, ErrorResponse> {
        if req.uri().path() == "/ws" {
            Ok(resp)
        } else {
            let mut err = ErrorResponse::new(Some(format!("no websocket at {}: use /ws", req.uri().path())));
            *err.status_mut() = tungstenite::http::StatusCode::NOT_FOUND;
            Err(err)
        }
    };
    let ws =
        tungstenite::accept_hdr_with_config(stream, only_ws_path, Some(config)).map_err(|e| e.to_string())?;
    ws.get_ref().set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Per-connection state of the faults.
struct ConnFaults {
    drop_after: Option<u64>,
    malformed_every: Option<u64>,
    stall: Option<(Duration, u64)>,
    stalled_until: Option<Instant>,
}

fn serve_connection(conn: u64, stream: TcpStream, peer: SocketAddr, hub: Arc<Hub>) {
    let mut ws = match handshake(stream) {
        Ok(ws) => ws,
        Err(e) => return tracing::debug!(%peer, error = %e, "handshake failed"),
    };
    hub.stats.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(conn, %peer, "client connected");
    if let Some(tx) = hub.lock().first_connection.take() {
        let _ = tx.try_send(());
    }
    let (tx, rx) = bounded::<Frame>(CONNECTION_QUEUE_CAPACITY);
    let mut c = Connection {
        conn,
        hub: hub.clone(),
        tx,
        data_sent: 0,
        faults: ConnFaults {
            drop_after: hub
                .faults
                .iter()
                .find_map(|f| if let Fault::DropAfter(n) = f { Some(*n) } else { None }),
            malformed_every: hub.faults.iter().find_map(|f| {
                if let Fault::MalformedEvery(n) = f {
                    Some(*n)
                } else {
                    None
                }
            }),
            // The stall happens once per server: the first connection claims it.
            stall: hub.take_stall(),
            stalled_until: None,
        },
    };
    let reason = c.run(&mut ws, &rx);
    hub.forget(conn);
    tracing::info!(conn, %reason, "client disconnected");
}

struct Connection {
    conn: u64,
    hub: Arc<Hub>,
    tx: Sender<Frame>,
    data_sent: u64,
    faults: ConnFaults,
}

enum Step {
    Continue,
    Close(String),
}

impl Connection {
    fn run(&mut self, ws: &mut WebSocket<TcpStream>, rx: &Receiver<Frame>) -> String {
        if let Step::Close(r) = self.send(ws, text_frame(hl::GREETING.to_string(), false)) {
            return r;
        }
        loop {
            if self.hub.is_shut_down() {
                let _ = ws.close(None);
                let _ = ws.flush();
                return "server shutting down".into();
            }
            if let Some(until) = self.faults.stalled_until {
                // Stalled: silent both ways; what would have been sent is lost.
                if Instant::now() < until {
                    while rx.try_recv().is_ok() {}
                    std::thread::sleep(POLL_INTERVAL);
                    continue;
                }
                self.faults.stalled_until = None;
                tracing::info!(conn = self.conn, "stall over");
            }
            if let Step::Close(r) = self.read_requests(ws) {
                return r;
            }
            match rx.recv_timeout(POLL_INTERVAL) {
                Ok(frame) => {
                    if let Step::Close(r) = self.send(ws, frame) {
                        return r;
                    }
                    // Drain what else is queued before flushing once.
                    for _ in 0..1024 {
                        let Ok(frame) = rx.try_recv() else { break };
                        if let Step::Close(r) = self.send(ws, frame) {
                            return r;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The hub dropped this connection (too slow).
                Err(RecvTimeoutError::Disconnected) => return "too slow for its queue".into(),
            }
            match ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return format!("write: {e}"),
            }
        }
    }

    fn read_requests(&mut self, ws: &mut WebSocket<TcpStream>) -> Step {
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => {
                    if let Step::Close(r) = self.handle_request(ws, &t) {
                        return Step::Close(r);
                    }
                }
                Ok(Message::Close(_)) => return Step::Close("client closed".into()),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => return Step::Continue,
                Err(e) => return Step::Close(format!("read: {e}")),
            }
        }
    }

    fn handle_request(&mut self, ws: &mut WebSocket<TcpStream>, text: &str) -> Step {
        match hl::parse_request(text) {
            Ok(Request::Ping) => self.send(ws, text_frame(hl::PONG.to_string(), false)),
            Ok(Request::Subscribe(sub)) => match self.hub.subscribe(self.conn, &self.tx, &sub) {
                Ok(frames) => {
                    for f in frames {
                        if let Step::Close(r) = self.send(ws, f) {
                            return Step::Close(r);
                        }
                    }
                    Step::Continue
                }
                Err(e) => self.send(ws, text_frame(hl::error_message(&e), false)),
            },
            Ok(Request::Unsubscribe(sub)) => {
                if self.hub.unsubscribe(self.conn, &sub) {
                    self.send(ws, text_frame(hl::ack("unsubscribe", &sub), false))
                } else {
                    self.send(
                        ws,
                        text_frame(hl::error_message(&format!("Not subscribed: {}", sub.to_json())), false),
                    )
                }
            }
            Err(e) => self.send(ws, text_frame(hl::error_message(&e), false)),
        }
    }

    /// Sends one frame, applying the faults to data frames.
    fn send(&mut self, ws: &mut WebSocket<TcpStream>, frame: Frame) -> Step {
        let mut bytes = frame.bytes;
        if frame.data {
            self.data_sent += 1;
            if self.faults.malformed_every.is_some_and(|n| self.data_sent % n == 0) {
                // Truncated mid-message: not JSON any more, but still a text frame.
                bytes = Arc::from(&bytes[..bytes.len() / 2]);
                self.hub.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
            }
        }
        let msg = match std::str::from_utf8(&bytes) {
            Ok(t) => Message::text(t),
            Err(_) => Message::binary(bytes.to_vec()),
        };
        match ws.write(msg) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Step::Close(format!("write: {e}")),
        }
        self.hub.stats.frames_sent.fetch_add(1, Ordering::Relaxed);
        if !frame.data {
            return Step::Continue;
        }
        if self.faults.drop_after.is_some_and(|n| self.data_sent >= n) {
            let _ = ws.flush();
            let _ = ws.get_ref().shutdown(Shutdown::Both);
            self.hub.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
            return Step::Close(format!("fault: dropped after {} data messages", self.data_sent));
        }
        if let Some((duration, after)) = self.faults.stall {
            if self.data_sent >= after {
                let _ = ws.flush();
                self.faults.stall = None;
                self.faults.stalled_until = Some(Instant::now() + duration);
                self.hub.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
                tracing::info!(conn = self.conn, ?duration, "fault: stalling");
            }
        }
        Step::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fault_syntax() {
        assert_eq!(Fault::parse("drop-after=500"), Ok(Fault::DropAfter(500)));
        assert_eq!(
            Fault::parse("stall=5s@200"),
            Ok(Fault::Stall { duration: Duration::from_secs(5), after: 200 })
        );
        assert_eq!(
            Fault::parse("stall=2s"),
            Ok(Fault::Stall { duration: Duration::from_secs(2), after: 100 })
        );
        assert_eq!(Fault::parse("malformed-every=10"), Ok(Fault::MalformedEvery(10)));
        assert_eq!(Fault::parse("seq-break=50"), Ok(Fault::SeqBreak(50)));
        assert!(Fault::SeqBreak(1).check_venue(crate::venue::Venue::Hyperliquid).is_err());
        let depth = Fault::parse("refuse=depth").unwrap();
        assert!(depth.check_venue(crate::venue::Venue::BinanceUsdm).is_ok());
        assert!(depth.check_venue(crate::venue::Venue::Hyperliquid).unwrap_err().contains("l2Book"));
        assert_eq!(Fault::parse("refuse=l2Book"), Ok(Fault::Refuse { kind: "l2Book".into(), times: 1 }));
        assert_eq!(Fault::parse("refuse=trades:3"), Ok(Fault::Refuse { kind: "trades".into(), times: 3 }));
        assert!(Fault::parse("drop-after=0").is_err());
        assert!(Fault::parse("refuse=candle").is_err());
        assert!(Fault::parse("explode").unwrap_err().contains("drop-after=N"));
    }
}
