//! The local exchange speaking Binance USD-M's protocol (`serve --venue binance-usdm`), on one
//! port for both sides of the venue:
//! - websocket: the combined stream at `/stream` (streams from `?streams=a/b` and from
//!   `SUBSCRIBE`/`UNSUBSCRIBE`/`LIST_SUBSCRIPTIONS`, answered `{"result":..,"id":N}`), messages
//!   `{"stream":..,"data":{..}}`; the raw stream at `/ws` (or `/ws/<stream>`), bare events.
//!   The server pings every connection (websocket ping frames, as the venue does every 3 min)
//!   and closes one that has not answered within the pong timeout.
//! - REST: `GET /fapi/v1/depth?symbol=..&limit=..` answers the server's own book: the recording's
//!   first snapshot plus every diff published since, `lastUpdateId` = the `u` of the last diff
//!   published, so a client following the venue's sync rule gets a valid book. The book is
//!   updated and the diff queued to subscribers under one lock: no diff is both in a snapshot
//!   and missing from the stream after it. `GET /fapi/v1/ping` answers `{}`.
//!
//! The playback ([`play`]) starts the market at the recording's first REST snapshot (diffs
//! before it are kept only if a client needs them to bridge it), so a snapshot is always
//! available. Snapshots recorded later (a recorder's resyncs) rebase the server's book, as they
//! rebased the recorder's; they are not streamed.
//!
//! Faults as on Hyperliquid (`drop-after`, `stall`, `malformed-every`, `refuse=TYPE` with TYPE a
//! stream kind: depth, trade, bookTicker, markPrice) plus `seq-break=N`: the Nth `depthUpdate`
//! of each connection is never sent, so the client sees `pu` != previous `u`.
#![allow(clippy::disallowed_methods)] // A driver: pacing and ping timers read the monotonic clock.

use super::{Fault, ServerStats, CONNECTION_QUEUE_CAPACITY, MAX_WRITE_BUFFER_BYTES, POLL_INTERVAL};
use crate::drivers::serve::{MessageSource, PlaybackOptions, PlaybackReport, SourceItem, SUBSCRIBE_GRACE};
use crate::drivers::ws_client::binance::{self as bn, Request};
use crate::settings::Speed;
use crate::types::Timestamp;
use crate::venue::{Adapter, Books, MarketEvent, Venue};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::handshake::server::{ErrorResponse, Request as HttpRequest, Response as HttpResponse};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// The venue pings every 3 minutes and drops a connection that has not answered in 10.
pub const PING_INTERVAL: Duration = Duration::from_secs(180);
pub const PONG_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest HTTP request head read (REST requests and websocket handshakes).
const MAX_REQUEST_HEAD: usize = 16 << 10;
/// Diffs kept from before the recording's first snapshot (one of them may bridge it).
const MAX_PRE_SNAPSHOT_DIFFS: usize = crate::venue::MAX_BUFFERED_DIFFS;
/// The depth limits the venue accepts.
const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];

/// Settings of the server's keepalive (tests shorten them).
#[derive(Clone, Copy, Debug)]
pub struct Keepalive {
    pub ping_interval: Duration,
    pub pong_timeout: Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive { ping_interval: PING_INTERVAL, pong_timeout: PONG_TIMEOUT }
    }
}

/// One market-data frame for a connection (replies are written directly, not queued).
#[derive(Clone, Debug)]
struct Frame {
    bytes: Arc<[u8]>,
    /// A `depthUpdate` (the sequence-break fault skips one).
    depth: bool,
}

struct Subscriber {
    conn: u64,
    tx: Sender<Frame>,
    /// Combined-stream connection (wrapped messages) or raw (bare events).
    combined: bool,
}

struct HubState {
    subscribers: BTreeMap<String, Vec<Subscriber>>,
    adapter: Adapter,
    books: Books,
    refusals_left: BTreeMap<String, u32>,
    stall: Option<(Duration, u64)>,
    first_connection: Option<Sender<()>>,
    events: Vec<MarketEvent>,
}

/// The shared state of the playback (publishing, keeping the book) and the connections.
pub struct BinanceHub {
    state: Mutex<HubState>,
    faults: Vec<Fault>,
    keepalive: Keepalive,
    shutdown: AtomicBool,
    pub stats: ServerStats,
}

impl BinanceHub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_shut_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }

    pub fn shutdown(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
        self.lock().subscribers.clear();
    }

    /// A fresh book (the playback starts again from the beginning of the recording).
    fn reset_books(&self) {
        let mut st = self.lock();
        st.adapter = Adapter::new(Venue::BinanceUsdm);
        st.books = Books::new(Venue::BinanceUsdm);
    }

    /// Feeds a book message (diff or snapshot) to the server's book; returns the `lastUpdateId`
    /// of a snapshot.
    fn apply(st: &mut HubState, recv_ns: u64, stream: &str, raw: &[u8]) -> Option<u64> {
        let HubState { adapter, books, events, .. } = st;
        events.clear();
        adapter.on_message(0, Timestamp(recv_ns), stream, raw, events);
        let mut snapshot_id = None;
        let mut sink = Vec::new();
        for ev in events.iter() {
            if let MarketEvent::BookSnapshot { update_id: Some(id), .. } = ev {
                snapshot_id = Some(*id);
            }
            books.apply(ev, &mut sink);
        }
        snapshot_id
    }

    /// A recorded REST snapshot: rebases the server's book (never streamed).
    pub fn snapshot(&self, recv_ns: u64, stream: &str, raw: &[u8]) -> Option<u64> {
        Self::apply(&mut self.lock(), recv_ns, stream, raw)
    }

    /// Publishes one stream message: a diff updates the book first, under the same lock.
    pub fn publish(&self, recv_ns: u64, stream: &str, raw: &[u8]) {
        let depth = stream.contains("@depth");
        let mut st = self.lock();
        if depth {
            Self::apply(&mut st, recv_ns, stream, raw);
        }
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        let Some(subs) = st.subscribers.get_mut(stream) else { return };
        // Both forms from the one recorded message: wrapped for /stream, bare for /ws.
        let (combined, bare): (Arc<[u8]>, Arc<[u8]>) = match bn::data_of(raw) {
            Some(data) => (Arc::from(raw), Arc::from(data)),
            None => (Arc::from(bn::wrap(stream, raw)), Arc::from(raw)),
        };
        subs.retain(|s| {
            let bytes = if s.combined { combined.clone() } else { bare.clone() };
            match s.tx.try_send(Frame { bytes, depth }) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(conn = s.conn, "client too slow for its queue: disconnecting it");
                    self.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
    }

    /// The REST depth answer for `symbol`: `(HTTP status, body)`.
    pub fn depth(&self, symbol: &str, limit: usize) -> (u16, String) {
        let st = self.lock();
        let Some(book) = st.books.book(symbol) else {
            return (400, r#"{"code":-1121,"msg":"Invalid symbol."}"#.to_string());
        };
        if !book.is_valid() {
            return (
                503,
                r#"{"code":-1000,"msg":"The book is resynchronising (a sequence break in the recording); try again."}"#
                    .to_string(),
            );
        }
        let side = |levels: &mut dyn Iterator<Item = crate::venue::Level>| -> String {
            let v: Vec<String> = levels.take(limit).map(|l| format!(r#"["{}","{}"]"#, l.px, l.sz)).collect();
            format!("[{}]", v.join(","))
        };
        let ms = book.exch_ns().0 / 1_000_000;
        let body = format!(
            r#"{{"lastUpdateId":{},"E":{ms},"T":{ms},"bids":{},"asks":{}}}"#,
            book.update_id().unwrap_or(0),
            side(&mut book.bids()),
            side(&mut book.asks()),
        );
        (200, body)
    }

    /// The fullest outgoing queue of any subscriber (for `--speed max` flow control).
    pub fn deepest_queue(&self) -> usize {
        self.lock().subscribers.values().flat_map(|s| s.iter().map(|s| s.tx.len())).max().unwrap_or(0)
    }

    fn wait_first_connection(&self, rx: &Receiver<()>) -> bool {
        while !self.is_shut_down() {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(()) => return true,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
        false
    }

    /// Subscribes a connection to streams; `Err` is the refusal text (fault injection).
    fn subscribe(
        &self,
        conn: u64,
        tx: &Sender<Frame>,
        combined: bool,
        streams: &[String],
    ) -> Result<(), String> {
        let mut st = self.lock();
        for s in streams {
            let kind = s.split('@').nth(1).unwrap_or_default().to_string();
            if let Some(left) = st.refusals_left.get_mut(&kind) {
                if *left > 0 {
                    *left -= 1;
                    self.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
                    return Err(format!("Subscription refused (fault injection): {s}"));
                }
            }
        }
        for s in streams {
            let subs = st.subscribers.entry(s.clone()).or_default();
            if !subs.iter().any(|x| x.conn == conn) {
                subs.push(Subscriber { conn, tx: tx.clone(), combined });
            }
        }
        Ok(())
    }

    fn unsubscribe(&self, conn: u64, streams: &[String]) {
        let mut st = self.lock();
        for s in streams {
            if let Some(subs) = st.subscribers.get_mut(s) {
                subs.retain(|x| x.conn != conn);
            }
        }
    }

    fn subscriptions_of(&self, conn: u64) -> Vec<String> {
        let st = self.lock();
        st.subscribers
            .iter()
            .filter(|(_, v)| v.iter().any(|s| s.conn == conn))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn forget(&self, conn: u64) {
        for subs in self.lock().subscribers.values_mut() {
            subs.retain(|s| s.conn != conn);
        }
    }
}

/// The running server.
pub struct BinanceExchange {
    addr: SocketAddr,
    hub: Arc<BinanceHub>,
    first_connection: Option<Receiver<()>>,
    accept: Option<JoinHandle<()>>,
}

impl BinanceExchange {
    /// Binds 127.0.0.1:`port` (0 picks a free port) and starts accepting.
    pub fn bind(port: u16, faults: Vec<Fault>, keepalive: Keepalive) -> std::io::Result<BinanceExchange> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (first_tx, first_rx) = bounded(1);
        let mut state = HubState {
            subscribers: BTreeMap::new(),
            adapter: Adapter::new(Venue::BinanceUsdm),
            books: Books::new(Venue::BinanceUsdm),
            refusals_left: BTreeMap::new(),
            stall: None,
            first_connection: Some(first_tx),
            events: Vec::new(),
        };
        for f in &faults {
            match f {
                Fault::Refuse { kind, times } => {
                    state.refusals_left.insert(kind.clone(), *times);
                }
                Fault::Stall { duration, after } => state.stall = Some((*duration, *after)),
                _ => {}
            }
        }
        let hub = Arc::new(BinanceHub {
            state: Mutex::new(state),
            faults,
            keepalive,
            shutdown: AtomicBool::new(false),
            stats: ServerStats::default(),
        });
        let accept_hub = hub.clone();
        let accept = std::thread::Builder::new()
            .name("serve-accept".into())
            .spawn(move || accept_loop(listener, accept_hub))?;
        Ok(BinanceExchange { addr, hub, first_connection: Some(first_rx), accept: Some(accept) })
    }

    /// The combined stream's URL (`ws://127.0.0.1:P/stream`).
    pub fn url(&self) -> String {
        format!("ws://{}/stream", self.addr)
    }

    /// The REST base (`http://127.0.0.1:P`).
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hub(&self) -> Arc<BinanceHub> {
        self.hub.clone()
    }

    pub fn take_first_connection(&mut self) -> Option<Receiver<()>> {
        self.first_connection.take()
    }

    pub fn shutdown(mut self) {
        self.hub.shutdown();
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for BinanceExchange {
    fn drop(&mut self) {
        self.hub.shutdown();
    }
}

fn accept_loop(listener: TcpListener, hub: Arc<BinanceHub>) {
    let mut next_conn = 0u64;
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !hub.is_shut_down() {
        match listener.accept() {
            Ok((stream, peer)) => {
                next_conn += 1;
                let conn = next_conn;
                let hub = hub.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("serve-conn-{conn}"))
                    .spawn(move || serve_connection(conn, stream, peer, hub));
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

/// Peeks at the request head without consuming it: the websocket handshake reads it again.
fn peek_head(stream: &TcpStream) -> Result<Vec<u8>, String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; MAX_REQUEST_HEAD];
    let started = Instant::now();
    loop {
        let n = stream.peek(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before a request".into());
        }
        if let Some(end) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(buf[..end + 4].to_vec());
        }
        if n == buf.len() || started.elapsed() > Duration::from_secs(5) {
            return Err("request head too long or too slow".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn serve_connection(conn: u64, stream: TcpStream, peer: SocketAddr, hub: Arc<BinanceHub>) {
    let head = match peek_head(&stream) {
        Ok(h) => h,
        Err(e) => return tracing::debug!(%peer, error = %e, "no request"),
    };
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if text.contains("\r\nupgrade: websocket") {
        serve_websocket(conn, stream, peer, hub);
    } else {
        serve_rest(stream, &head, &hub);
    }
}

/// Answers one REST request and closes (`Connection: close`).
fn serve_rest(mut stream: TcpStream, head: &[u8], hub: &BinanceHub) {
    let mut consumed = vec![0u8; head.len()];
    if stream.read_exact(&mut consumed).is_err() {
        return;
    }
    let line = String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or_default()).to_string();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    };
    let (status, body) = match (method, path) {
        ("GET", "/fapi/v1/depth") => match param("symbol") {
            None => (400, r#"{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent."}"#.to_string()),
            Some(sym) => {
                let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(500);
                if !DEPTH_LIMITS.contains(&limit) {
                    (400, r#"{"code":-1130,"msg":"Invalid limit: valid limits are 5, 10, 20, 50, 100, 500, 1000."}"#.to_string())
                } else {
                    hub.depth(&sym.to_ascii_uppercase(), limit)
                }
            }
        },
        ("GET", "/fapi/v1/ping") => (200, "{}".to_string()),
        _ => (404, format!(r#"{{"code":-5000,"msg":"Path {path} not served by this local exchange."}}"#)),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

/// Where a websocket client connected: combined or raw, and the streams its URL names.
#[derive(Clone, Debug, Default)]
struct Target {
    combined: bool,
    streams: Vec<String>,
}

fn parse_target(path: &str, query: Option<&str>) -> Result<Target, String> {
    let streams_of =
        |s: &str| -> Vec<String> { s.split('/').filter(|x| !x.is_empty()).map(str::to_string).collect() };
    let t = if path == "/stream" {
        let streams = query
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("streams=")))
            .map(streams_of)
            .unwrap_or_default();
        Target { combined: true, streams }
    } else if path == "/ws" {
        Target { combined: false, streams: Vec::new() }
    } else if let Some(rest) = path.strip_prefix("/ws/") {
        Target { combined: false, streams: streams_of(rest) }
    } else {
        return Err(format!("no websocket at {path}: use /stream or /ws"));
    };
    if let Some(bad) = t.streams.iter().find(|s| !bn::valid_stream_name(s)) {
        return Err(format!("invalid stream name {bad:?}"));
    }
    Ok(t)
}

#[allow(clippy::result_large_err)] // tungstenite's callback signature fixes the error type.
fn serve_websocket(conn: u64, stream: TcpStream, peer: SocketAddr, hub: Arc<BinanceHub>) {
    let _ = stream.set_nodelay(true);
    let config =
        WebSocketConfig { max_write_buffer_size: MAX_WRITE_BUFFER_BYTES, ..WebSocketConfig::default() };
    let mut target = Target::default();
    let check = |req: &HttpRequest, resp: HttpResponse| -> Result<HttpResponse, ErrorResponse> {
        match parse_target(req.uri().path(), req.uri().query()) {
            Ok(t) => {
                target = t;
                Ok(resp)
            }
            Err(e) => {
                let mut err = ErrorResponse::new(Some(e));
                *err.status_mut() = tungstenite::http::StatusCode::NOT_FOUND;
                Err(err)
            }
        }
    };
    let mut ws = match tungstenite::accept_hdr_with_config(stream, check, Some(config)) {
        Ok(ws) => ws,
        Err(e) => return tracing::debug!(%peer, error = %e, "handshake failed"),
    };
    if ws.get_ref().set_nonblocking(true).is_err() {
        return;
    }
    hub.stats.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(conn, %peer, combined = target.combined, "client connected");
    if let Some(tx) = hub.lock().first_connection.take() {
        let _ = tx.try_send(());
    }
    let (tx, rx) = bounded::<Frame>(CONNECTION_QUEUE_CAPACITY);
    let fault = |pick: fn(&Fault) -> Option<u64>| hub.faults.iter().find_map(pick);
    let mut c = Connection {
        conn,
        hub: hub.clone(),
        tx,
        combined: target.combined,
        data_sent: 0,
        depth_seen: 0,
        drop_after: fault(|f| if let Fault::DropAfter(n) = f { Some(*n) } else { None }),
        malformed_every: fault(|f| if let Fault::MalformedEvery(n) = f { Some(*n) } else { None }),
        seq_break: fault(|f| if let Fault::SeqBreak(n) = f { Some(*n) } else { None }),
        stall: hub.lock().stall.take(),
        stalled_until: None,
        last_ping: Instant::now(),
        pong_due: None,
    };
    if !target.streams.is_empty() {
        if let Err(e) = hub.subscribe(conn, &c.tx, target.combined, &target.streams) {
            let _ = ws.send(Message::text(bn::error_reply(2, &e, &serde_json::Value::Null)));
        }
    }
    let reason = c.run(&mut ws, &rx);
    hub.forget(conn);
    tracing::info!(conn, %reason, "client disconnected");
}

struct Connection {
    conn: u64,
    hub: Arc<BinanceHub>,
    tx: Sender<Frame>,
    combined: bool,
    data_sent: u64,
    depth_seen: u64,
    drop_after: Option<u64>,
    malformed_every: Option<u64>,
    seq_break: Option<u64>,
    stall: Option<(Duration, u64)>,
    stalled_until: Option<Instant>,
    last_ping: Instant,
    pong_due: Option<Instant>,
}

type Ws = WebSocket<TcpStream>;

impl Connection {
    fn run(&mut self, ws: &mut Ws, rx: &Receiver<Frame>) -> String {
        loop {
            if self.hub.is_shut_down() {
                let _ = ws.close(None);
                let _ = ws.flush();
                return "server shutting down".into();
            }
            if let Some(until) = self.stalled_until {
                if Instant::now() < until {
                    while rx.try_recv().is_ok() {}
                    std::thread::sleep(POLL_INTERVAL);
                    continue;
                }
                self.stalled_until = None;
            }
            if let Err(r) = self.read_requests(ws) {
                return r;
            }
            if let Err(r) = self.keepalive(ws) {
                return r;
            }
            match rx.recv_timeout(POLL_INTERVAL) {
                Ok(frame) => {
                    if let Err(r) = self.send(ws, frame) {
                        return r;
                    }
                    for _ in 0..1024 {
                        let Ok(frame) = rx.try_recv() else { break };
                        if let Err(r) = self.send(ws, frame) {
                            return r;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return "too slow for its queue".into(),
            }
            match ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return format!("write: {e}"),
            }
        }
    }

    /// Pings on schedule; a connection that does not answer in time is closed.
    fn keepalive(&mut self, ws: &mut Ws) -> Result<(), String> {
        let now = Instant::now();
        if self.pong_due.is_some_and(|d| now >= d) {
            let _ = ws.close(None);
            let _ = ws.flush();
            return Err(format!("no pong within {:?}", self.hub.keepalive.pong_timeout));
        }
        if now.duration_since(self.last_ping) >= self.hub.keepalive.ping_interval {
            self.last_ping = now;
            self.pong_due.get_or_insert(now + self.hub.keepalive.pong_timeout);
            self.write(ws, Message::Ping(b"keepalive".to_vec()))?;
        }
        Ok(())
    }

    fn read_requests(&mut self, ws: &mut Ws) -> Result<(), String> {
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => self.handle_request(ws, &t)?,
                Ok(Message::Pong(_)) => self.pong_due = None,
                Ok(Message::Close(_)) => return Err("client closed".into()),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    fn handle_request(&mut self, ws: &mut Ws, text: &str) -> Result<(), String> {
        let reply = match bn::parse_request(text) {
            Ok(Request::Subscribe { streams, id }) => {
                match self.hub.subscribe(self.conn, &self.tx, self.combined, &streams) {
                    Ok(()) => bn::result_reply(&serde_json::Value::Null, &id),
                    Err(e) => bn::error_reply(2, &e, &id),
                }
            }
            Ok(Request::Unsubscribe { streams, id }) => {
                self.hub.unsubscribe(self.conn, &streams);
                bn::result_reply(&serde_json::Value::Null, &id)
            }
            Ok(Request::List { id }) => {
                bn::result_reply(&serde_json::json!(self.hub.subscriptions_of(self.conn)), &id)
            }
            Err((code, msg, id)) => bn::error_reply(code, &msg, &id),
        };
        self.write(ws, Message::text(reply))
    }

    fn write(&mut self, ws: &mut Ws, msg: Message) -> Result<(), String> {
        match ws.write(msg) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("write: {e}")),
        }
        self.hub.stats.frames_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Sends one data frame, applying the faults.
    fn send(&mut self, ws: &mut Ws, frame: Frame) -> Result<(), String> {
        if frame.depth {
            self.depth_seen += 1;
            if self.seq_break == Some(self.depth_seen) {
                self.hub.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
                tracing::info!(conn = self.conn, "fault: a depthUpdate withheld (sequence break)");
                return Ok(());
            }
        }
        let mut bytes = frame.bytes;
        self.data_sent += 1;
        if self.malformed_every.is_some_and(|n| self.data_sent % n == 0) {
            bytes = Arc::from(&bytes[..bytes.len() / 2]);
            self.hub.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
        }
        let msg = match std::str::from_utf8(&bytes) {
            Ok(t) => Message::text(t),
            Err(_) => Message::binary(bytes.to_vec()),
        };
        self.write(ws, msg)?;
        if self.drop_after.is_some_and(|n| self.data_sent >= n) {
            let _ = ws.flush();
            let _ = ws.get_ref().shutdown(Shutdown::Both);
            self.hub.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
            return Err(format!("fault: dropped after {} data messages", self.data_sent));
        }
        if let Some((duration, after)) = self.stall {
            if self.data_sent >= after {
                let _ = ws.flush();
                self.stall = None;
                self.stalled_until = Some(Instant::now() + duration);
                self.hub.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

fn is_snapshot(stream: &str, raw: &[u8]) -> bool {
    stream.ends_with("@depthSnapshot") || raw.starts_with(b"{\"lastUpdateId\"")
}

/// A recorded message: receive time, stream, raw bytes.
type RecordedMessage = (u64, String, Vec<u8>);

/// Reads the source to its first REST snapshot: feeds the diffs before it and the snapshot to
/// the server's book, and returns the snapshot's receive time (the market's start) and the
/// diffs a client needs to bridge it (`u >= lastUpdateId`), to stream first.
fn start_at_first_snapshot(
    hub: &BinanceHub,
    source: &mut dyn MessageSource,
) -> Result<(u64, Vec<RecordedMessage>), String> {
    let mut pre: std::collections::VecDeque<RecordedMessage> = Default::default();
    loop {
        match source.next_item()? {
            None => {
                return Err("the recording holds no REST depth snapshot (`<symbol>@depthSnapshot`): \
                            a Binance book cannot be served without one"
                    .into())
            }
            Some(SourceItem::Resubscribed) => {}
            Some(SourceItem::Message { recv_ns, stream, raw }) => {
                if is_snapshot(&stream, &raw) {
                    let mut st = hub.lock();
                    for (ns, s, r) in &pre {
                        BinanceHub::apply(&mut st, *ns, s, r);
                    }
                    let id = BinanceHub::apply(&mut st, recv_ns, &stream, &raw)
                        .ok_or_else(|| format!("the first REST snapshot (stream {stream}) does not parse"))?;
                    drop(st);
                    let bridge = pre
                        .into_iter()
                        .filter(|(_, _, r)| bn::diff_ids(r).is_some_and(|(_, u, _)| u >= id))
                        .collect();
                    return Ok((recv_ns, bridge));
                }
                if stream.contains("@depth") {
                    if pre.len() == MAX_PRE_SNAPSHOT_DIFFS {
                        pre.pop_front();
                    }
                    pre.push_back((recv_ns, stream, raw));
                }
            }
        }
    }
}

/// The Binance playback: one market for all clients, starting at the recording's first
/// snapshot when the first client connects.
pub fn play(
    hub: &BinanceHub,
    first_connection: &Receiver<()>,
    open: &mut dyn FnMut() -> Result<Box<dyn MessageSource>, String>,
    opts: PlaybackOptions,
) -> Result<PlaybackReport, String> {
    let mut report = PlaybackReport::default();
    let mut source = open()?;
    let (mut base, mut bridge) = start_at_first_snapshot(hub, source.as_mut())?;
    if !hub.wait_first_connection(first_connection) {
        return Ok(report);
    }
    std::thread::sleep(SUBSCRIBE_GRACE);
    let mut start = Instant::now();
    loop {
        for (ns, stream, raw) in bridge.drain(..) {
            hub.publish(ns, &stream, &raw);
            report.published += 1;
        }
        if hub.is_shut_down() {
            return Ok(report);
        }
        let (recv_ns, stream, raw) = match source.next_item()? {
            Some(SourceItem::Message { recv_ns, stream, raw }) => (recv_ns, stream, raw),
            Some(SourceItem::Resubscribed) => continue,
            None if opts.looping => {
                report.loops += 1;
                hub.reset_books();
                source = open()?;
                (base, bridge) = start_at_first_snapshot(hub, source.as_mut())?;
                start = Instant::now();
                continue;
            }
            None => {
                tracing::info!(published = report.published, "end of the recording: no more data");
                return Ok(report);
            }
        };
        if stream == bn::PROTOCOL_STREAM {
            report.skipped_protocol += 1;
            continue;
        }
        report.first_ns.get_or_insert(recv_ns);
        report.last_ns = Some(recv_ns);
        pace(hub, start, recv_ns.saturating_sub(base), opts.speed);
        if is_snapshot(&stream, &raw) {
            hub.snapshot(recv_ns, &stream, &raw);
            continue;
        }
        hub.publish(recv_ns, &stream, &raw);
        report.published += 1;
    }
}

fn pace(hub: &BinanceHub, start: Instant, offset_ns: u64, speed: Speed) {
    match speed {
        Speed::Factor(f) => {
            let target = start + Duration::from_secs_f64(offset_ns as f64 / 1e9 / f);
            loop {
                let now = Instant::now();
                if now >= target || hub.is_shut_down() {
                    return;
                }
                std::thread::sleep((target - now).min(Duration::from_millis(100)));
            }
        }
        Speed::Max => {
            while hub.deepest_queue() > CONNECTION_QUEUE_CAPACITY / 2 && !hub.is_shut_down() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_targets() {
        let t = parse_target("/stream", Some("streams=btcusdt@depth@0ms/btcusdt@trade")).unwrap();
        assert!(t.combined && t.streams == ["btcusdt@depth@0ms", "btcusdt@trade"]);
        assert!(parse_target("/stream", None).unwrap().streams.is_empty());
        let t = parse_target("/ws/btcusdt@trade", None).unwrap();
        assert!(!t.combined && t.streams == ["btcusdt@trade"]);
        assert!(parse_target("/other", None).is_err());
        assert!(parse_target("/stream", Some("streams=BTC USDT")).is_err());
    }
}
