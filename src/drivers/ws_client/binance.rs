//! Binance USD-M futures' websocket protocol, both sides of it (see `VENUES.md`): the combined
//! stream (`/stream`, messages `{"stream":..,"data":{..}}`), the `SUBSCRIBE` / `UNSUBSCRIBE` /
//! `LIST_SUBSCRIPTIONS` requests and their `{"result":..,"id":N}` replies, the routing of a raw
//! message to its stream name, and the client's book synchronisation duty: watch each symbol's
//! `depthUpdate` chain (`pu` = previous `u`), ask for a REST depth snapshot after the first diff
//! and after every break, and check that a snapshot can be bridged by the diffs that follow.
//!
//! The engine's book does the synchronisation itself from what is recorded; this side only
//! decides *when* to fetch, so that a live session gets a valid book, and records a `Gap`
//! before a diff that breaks the chain.

use super::hyperliquid::string_value_after;
use super::{Observed, SnapshotVerdict, VenueProtocol};
use crate::venue::json::Scanner;
use std::time::Duration;

/// The stream name of protocol messages (subscription replies, errors, anything unrouted).
pub const PROTOCOL_STREAM: &str = "ws";

/// The streams subscribed per symbol (`<symbol lowercase>@<suffix>`).
pub const PER_SYMBOL_STREAMS: [&str; 4] = ["depth@0ms", "trade", "bookTicker", "markPrice@1s"];

/// The venue accepts 10 incoming messages a second per connection; one `SUBSCRIBE` (a symbol's
/// streams) every 250 ms stays well inside it.
pub const SUBSCRIBE_INTERVAL: Duration = Duration::from_millis(250);

/// The venue cuts every connection after 24 h; we reconnect on our own terms before that.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(23 * 3600 + 30 * 60);

/// The REST depth snapshot asked for (the deepest the venue serves).
pub const SNAPSHOT_LIMIT: u32 = 1000;

/// A snapshot that cannot be bridged (or a failed fetch) is asked again after this.
pub const REFETCH_DELAY: Duration = Duration::from_millis(500);

/// The stream name a symbol's REST snapshot bodies are recorded under.
pub fn snapshot_stream(symbol: &str) -> String {
    format!("{}@depthSnapshot", symbol.to_ascii_lowercase())
}

/// The stream name of a raw message: the combined wrapper's `stream`; for a bare event (the raw
/// `/ws` endpoint) `<symbol>@<kind>` from its `e` and `s`; else [`PROTOCOL_STREAM`].
pub fn stream_of(raw: &[u8]) -> String {
    let head = &raw[..raw.len().min(64)];
    if let Some(s) = string_value_after(head, b"\"stream\"") {
        if let Ok(s) = std::str::from_utf8(s) {
            return s.to_string();
        }
    }
    let kind = match string_value_after(raw, b"\"e\"") {
        Some(b"depthUpdate") => "depth",
        Some(b"trade") => "trade",
        Some(b"aggTrade") => "aggTrade",
        Some(b"bookTicker") => "bookTicker",
        Some(b"markPriceUpdate") => "markPrice",
        _ => return PROTOCOL_STREAM.to_string(),
    };
    match string_value_after(raw, b"\"s\"").and_then(|s| std::str::from_utf8(s).ok()) {
        Some(sym) if !sym.is_empty() => format!("{}@{kind}", sym.to_ascii_lowercase()),
        _ => PROTOCOL_STREAM.to_string(),
    }
}

/// The unsigned integer value of the first occurrence of `key` (with its quotes).
pub fn u64_after(raw: &[u8], key: &[u8]) -> Option<u64> {
    let at = raw.windows(key.len()).position(|w| w == key)? + key.len();
    let mut i = at;
    while raw.get(i).is_some_and(|b| b.is_ascii_whitespace() || *b == b':') {
        i += 1;
    }
    let digits = raw[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    std::str::from_utf8(&raw[i..i + digits]).ok()?.parse().ok()
}

/// `(U, u, pu)` of a `depthUpdate` (bare or wrapped).
pub fn diff_ids(raw: &[u8]) -> Option<(u64, u64, u64)> {
    Some((u64_after(raw, b"\"U\"")?, u64_after(raw, b"\"u\"")?, u64_after(raw, b"\"pu\"")?))
}

/// The raw bytes of the `data` object of a combined-stream message (what the raw `/ws`
/// endpoint sends), or `None` when the message is not a well-formed wrapper.
pub fn data_of(raw: &[u8]) -> Option<&[u8]> {
    let mut s = Scanner::new(raw);
    let mut data = None;
    s.object(|s, k| -> Result<(), crate::venue::json::JsonError> {
        let v = s.skip_value()?;
        if k == b"data" {
            data = Some(v);
        }
        Ok(())
    })
    .ok()?;
    data
}

/// Wraps a bare event as the combined stream sends it.
pub fn wrap(stream: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + stream.len() + 22);
    out.extend_from_slice(b"{\"stream\":");
    out.extend_from_slice(json_str(stream).as_bytes());
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data);
    out.push(b'}');
    out
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A client request as the server reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Subscribe { streams: Vec<String>, id: serde_json::Value },
    Unsubscribe { streams: Vec<String>, id: serde_json::Value },
    List { id: serde_json::Value },
}

/// Parses one client request; the error is `(code, msg, id)` for the venue's error reply.
pub fn parse_request(raw: &str) -> Result<Request, (i64, String, serde_json::Value)> {
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|_| (3, "Invalid JSON".to_string(), serde_json::Value::Null))?;
    let id = v.get("id").cloned().unwrap_or(serde_json::Value::Null);
    if !(id.is_u64() || id.is_string() || id.is_null()) {
        return Err((
            2,
            "Invalid request: request ID must be an unsigned integer".into(),
            serde_json::Value::Null,
        ));
    }
    let method = v.get("method").and_then(|m| m.as_str()).ok_or((
        2,
        "Invalid request: missing method".to_string(),
        id.clone(),
    ))?;
    let streams = || -> Result<Vec<String>, (i64, String, serde_json::Value)> {
        let params = v.get("params").and_then(|p| p.as_array()).ok_or((
            2,
            "Invalid request: params must be an array of stream names".to_string(),
            id.clone(),
        ))?;
        params
            .iter()
            .map(|p| match p.as_str() {
                Some(s) if valid_stream_name(s) => Ok(s.to_string()),
                _ => Err((2, format!("Invalid request: invalid stream name {p}"), id.clone())),
            })
            .collect()
    };
    match method {
        "SUBSCRIBE" => Ok(Request::Subscribe { streams: streams()?, id }),
        "UNSUBSCRIBE" => Ok(Request::Unsubscribe { streams: streams()?, id }),
        "LIST_SUBSCRIPTIONS" => Ok(Request::List { id }),
        other => Err((2, format!("Invalid request: unknown method {other:?}"), id)),
    }
}

/// `<symbol>@<kind>[@<speed>]`, lowercase symbol, no spaces.
pub fn valid_stream_name(s: &str) -> bool {
    let mut parts = s.split('@');
    let sym = parts.next().unwrap_or_default();
    !sym.is_empty()
        && sym.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && parts.next().is_some_and(|k| !k.is_empty())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"@_!".contains(&b))
}

pub fn result_reply(result: &serde_json::Value, id: &serde_json::Value) -> String {
    format!(r#"{{"result":{result},"id":{id}}}"#)
}

pub fn error_reply(code: i64, msg: &str, id: &serde_json::Value) -> String {
    format!(r#"{{"error":{{"code":{code},"msg":{}}},"id":{id}}}"#, json_str(msg))
}

pub fn subscribe_request(streams: &[String], id: u64) -> String {
    let params: Vec<String> = streams.iter().map(|s| json_str(s)).collect();
    format!(r#"{{"method":"SUBSCRIBE","params":[{}],"id":{id}}}"#, params.join(","))
}

/// Where one symbol stands in the book synchronisation, as the client sees it.
#[derive(Clone, Debug, Default)]
struct SymbolSync {
    /// `u` of the last diff seen on this connection.
    last_u: Option<u64>,
    /// `U` of the first diff since the book was last invalidated: a snapshot older than it
    /// cannot be bridged.
    first_u: Option<u64>,
    /// A snapshot is being fetched or is due.
    fetching: bool,
    /// The book is synced (a usable snapshot arrived since the last invalidation).
    synced: bool,
}

/// The Binance USD-M client side: per symbol `depth@0ms`, `trade`, `bookTicker`,
/// `markPrice@1s` over the combined stream, one `SUBSCRIBE` per symbol, REST snapshots on demand.
pub struct BinanceUsdm {
    /// Upper-case symbols, as the REST API and the events name them.
    pub symbols: Vec<String>,
    pub rest_url: String,
    /// Reconnect once a connection is this old ([`MAX_CONNECTION_AGE`]; tests shorten it).
    pub max_connection_age: Duration,
    sync: Vec<SymbolSync>,
    /// Request id -> the streams it subscribed (to retry the ones a server refused).
    requests: Vec<(u64, Vec<String>)>,
    next_id: u64,
}

impl BinanceUsdm {
    pub fn new(symbols: &[String], rest_url: &str) -> BinanceUsdm {
        let symbols: Vec<String> = symbols.iter().map(|s| s.trim().to_ascii_uppercase()).collect();
        BinanceUsdm {
            sync: vec![SymbolSync::default(); symbols.len()],
            symbols,
            rest_url: rest_url.trim_end_matches('/').to_string(),
            max_connection_age: MAX_CONNECTION_AGE,
            requests: Vec::new(),
            next_id: 1,
        }
    }

    fn streams_of(symbol: &str) -> Vec<String> {
        let s = symbol.to_ascii_lowercase();
        PER_SYMBOL_STREAMS.iter().map(|k| format!("{s}@{k}")).collect()
    }

    fn index_of_stream(&self, stream: &str) -> Option<usize> {
        let sym = stream.split('@').next()?;
        self.symbols.iter().position(|s| s.eq_ignore_ascii_case(sym))
    }

    fn request_frame(&mut self, streams: Vec<String>) -> String {
        let id = self.next_id;
        self.next_id += 1;
        let frame = subscribe_request(&streams, id);
        self.requests.push((id, streams));
        frame
    }
}

impl VenueProtocol for BinanceUsdm {
    fn venue(&self) -> &'static str {
        "binance-usdm"
    }

    fn subscribe_frames(&mut self) -> Vec<(String, String)> {
        self.requests.clear();
        let symbols = self.symbols.clone();
        symbols
            .iter()
            .map(|sym| {
                let streams = Self::streams_of(sym);
                let desc = streams.join("/");
                (desc, self.request_frame(streams))
            })
            .collect()
    }

    fn subscribe_interval(&self) -> Duration {
        SUBSCRIBE_INTERVAL
    }

    fn max_connection_age(&self) -> Option<Duration> {
        Some(self.max_connection_age)
    }

    fn ping_frame(&self) -> Option<String> {
        // The server pings (websocket ping frames, answered by the socket layer); the client
        // sends nothing of its own.
        None
    }

    fn is_pong(&self, _raw: &[u8]) -> bool {
        false
    }

    fn refused_subscriptions(&self, raw: &[u8]) -> Vec<String> {
        let head = &raw[..raw.len().min(16)];
        if !head.windows(7).any(|w| w == b"\"error\"") {
            return Vec::new();
        }
        let Some(id) = u64_after(raw, b"\"id\"") else { return Vec::new() };
        self.requests.iter().filter(|(i, _)| *i == id).map(|(_, s)| s.join("/")).collect()
    }

    fn resubscribe_frame(&mut self, subscription: &str) -> Option<String> {
        let streams: Vec<String> = subscription.split('/').map(str::to_string).collect();
        Some(self.request_frame(streams))
    }

    fn stream_of(&self, raw: &[u8]) -> String {
        stream_of(raw)
    }

    fn on_connect(&mut self) {
        for s in &mut self.sync {
            *s = SymbolSync::default();
        }
    }

    fn observe(&mut self, stream: &str, raw: &[u8]) -> Observed {
        let mut seen = Observed::default();
        if !stream.contains("@depth") {
            return seen;
        }
        let (Some(i), Some((first, last, prev))) = (self.index_of_stream(stream), diff_ids(raw)) else {
            return seen;
        };
        if let Some(u) = self.sync[i].last_u {
            if last <= u {
                return seen; // a repeat: the book ignores it too
            }
            if prev != u {
                seen.gap = Some(format!("{}: depthUpdate pu={prev} but the previous u={u}", self.symbols[i]));
                // The gap record invalidates every book: every symbol starts over.
                for s in &mut self.sync {
                    s.first_u = None;
                    s.synced = false;
                }
            }
        }
        let s = &mut self.sync[i];
        s.last_u = Some(last);
        s.first_u.get_or_insert(first);
        for (j, s) in self.sync.iter_mut().enumerate() {
            if !s.synced && !s.fetching && s.first_u.is_some() {
                s.fetching = true;
                seen.fetch.push(self.symbols[j].clone());
            }
        }
        seen
    }

    fn snapshot_request(&self, symbol: &str) -> Option<(String, String)> {
        Some((
            format!("{}/fapi/v1/depth?symbol={symbol}&limit={SNAPSHOT_LIMIT}", self.rest_url),
            snapshot_stream(symbol),
        ))
    }

    fn on_snapshot(&mut self, symbol: &str, body: Option<&[u8]>) -> SnapshotVerdict {
        let Some(i) = self.symbols.iter().position(|s| s == symbol) else {
            return SnapshotVerdict::Ignore;
        };
        let s = &mut self.sync[i];
        let Some(body) = body else {
            return SnapshotVerdict::Refetch(REFETCH_DELAY);
        };
        match (u64_after(body, b"\"lastUpdateId\""), s.first_u) {
            // The diffs buffered since the invalidation reach back to it: the book can sync.
            (Some(id), Some(first)) if id >= first => {
                s.fetching = false;
                s.synced = true;
                SnapshotVerdict::Record
            }
            // Older than the first buffered diff (or nothing buffered yet): the book could not
            // sync on it. It is not handed on (the engine never sees it, so a replay need not
            // either); a newer one is asked for.
            (Some(_), _) => SnapshotVerdict::Refetch(REFETCH_DELAY),
            (None, _) => SnapshotVerdict::Refetch(REFETCH_DELAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(u0: u64, u: u64, pu: u64) -> Vec<u8> {
        format!(r#"{{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":{u0},"u":{u},"pu":{pu},"b":[],"a":[]}}}}"#).into_bytes()
    }

    #[test]
    fn routes_wrapped_and_bare_messages() {
        assert_eq!(stream_of(&diff(1, 2, 0)), "btcusdt@depth@0ms");
        assert_eq!(stream_of(br#"{"e":"trade","E":1,"s":"ETHUSDT","t":1}"#), "ethusdt@trade");
        assert_eq!(stream_of(br#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1"}"#), "btcusdt@markPrice");
        assert_eq!(stream_of(br#"{"result":null,"id":1}"#), PROTOCOL_STREAM);
        assert_eq!(stream_of(b"garbage"), PROTOCOL_STREAM);
        assert_eq!(diff_ids(&diff(10, 12, 9)), Some((10, 12, 9)));
    }

    #[test]
    fn unwraps_and_wraps_byte_for_byte() {
        let raw = diff(1, 2, 0);
        let data = data_of(&raw).unwrap();
        assert!(data.starts_with(b"{\"e\":\"depthUpdate\"") && data.ends_with(b"}"));
        assert_eq!(wrap("btcusdt@depth@0ms", data), raw);
        assert_eq!(data_of(b"{\"stream\":\"x\""), None);
    }

    #[test]
    fn parses_requests_as_the_connector_writes_them() {
        let r = parse_request(
            r#"{"method": "SUBSCRIBE", "params": ["btcusdt@depth@0ms", "btcusdt@trade"], "id": 1}"#,
        );
        assert_eq!(
            r,
            Ok(Request::Subscribe {
                streams: vec!["btcusdt@depth@0ms".into(), "btcusdt@trade".into()],
                id: serde_json::json!(1)
            })
        );
        assert!(matches!(
            parse_request(r#"{"method":"LIST_SUBSCRIPTIONS","id":3}"#),
            Ok(Request::List { .. })
        ));
        assert_eq!(parse_request("nope").unwrap_err().0, 3);
        assert_eq!(parse_request(r#"{"method":"SUBSCRIBE","params":["BTC USDT"],"id":2}"#).unwrap_err().0, 2);
        assert_eq!(
            result_reply(&serde_json::Value::Null, &serde_json::json!(1)),
            r#"{"result":null,"id":1}"#
        );
    }

    #[test]
    fn asks_for_a_snapshot_after_the_first_diff_and_after_a_break() {
        let mut p = BinanceUsdm::new(&["btcusdt".to_string()], "http://h/");
        p.on_connect();
        assert_eq!(p.observe("btcusdt@depth@0ms", &diff(10, 12, 9)).fetch, vec!["BTCUSDT".to_string()]);
        assert_eq!(
            p.snapshot_request("BTCUSDT").unwrap().0,
            "http://h/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
        );
        // While fetching, no second request.
        assert!(p.observe("btcusdt@depth@0ms", &diff(13, 15, 12)).fetch.is_empty());
        // Older than the first buffered diff: not handed on, asked again.
        assert_eq!(
            p.on_snapshot("BTCUSDT", Some(br#"{"lastUpdateId":5,"bids":[],"asks":[]}"#)),
            SnapshotVerdict::Refetch(REFETCH_DELAY)
        );
        assert_eq!(
            p.on_snapshot("BTCUSDT", Some(br#"{"lastUpdateId":11,"bids":[],"asks":[]}"#)),
            SnapshotVerdict::Record
        );
        let ok = p.observe("btcusdt@depth@0ms", &diff(16, 18, 15));
        assert!(ok.gap.is_none() && ok.fetch.is_empty());
        // A break: a gap before the diff, and a new snapshot.
        let broken = p.observe("btcusdt@depth@0ms", &diff(25, 30, 24));
        assert!(broken.gap.unwrap().contains("pu=24 but the previous u=18"));
        assert_eq!(broken.fetch, vec!["BTCUSDT".to_string()]);
        assert_eq!(p.on_snapshot("BTCUSDT", None), SnapshotVerdict::Refetch(REFETCH_DELAY));
    }

    #[test]
    fn recognises_a_refused_subscription_by_its_id() {
        let mut p = BinanceUsdm::new(&["BTCUSDT".to_string()], "http://h");
        let frames = p.subscribe_frames();
        assert_eq!(frames.len(), 1);
        assert!(frames[0].1.contains(r#""params":["btcusdt@depth@0ms","btcusdt@trade","btcusdt@bookTicker","btcusdt@markPrice@1s"],"id":1"#));
        let refused = p.refused_subscriptions(error_reply(2, "refused", &serde_json::json!(1)).as_bytes());
        assert_eq!(refused, vec![frames[0].0.clone()]);
        assert!(p.refused_subscriptions(br#"{"result":null,"id":1}"#).is_empty());
        assert!(p.resubscribe_frame(&refused[0]).unwrap().contains(r#""id":2"#));
    }
}
