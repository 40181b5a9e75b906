//! Hyperliquid's websocket protocol, both sides of it: what a client sends (subscriptions,
//! pings), what a server answers (acks, pongs, errors), and how a raw data message is routed to
//! its stream name (`l2Book:BTC`, `trades:BTC`, `bbo:BTC`, `allMids`, `ws` for protocol
//! messages). See `VENUES.md`. Routing reads only the first `"channel"` and `"coin"` keys of a
//! message with a byte scanner: it runs on every message of the live hot path, and the full
//! parse belongs to the venue adapter inside the engine.

use super::VenueProtocol;

/// The stream name of protocol messages (greeting, acks, pongs, errors) and of anything that
/// does not name a data channel.
pub const PROTOCOL_STREAM: &str = "ws";

/// The greeting the real server may send first, as plain text.
pub const GREETING: &str = "Websocket connection established.";

/// The channels this program subscribes to per coin (`activeAssetCtx`: mark price, oracle
/// price and funding of the perpetual).
pub const PER_COIN_CHANNELS: [&str; 4] = ["l2Book", "trades", "bbo", "activeAssetCtx"];

/// One Hyperliquid subscription: a channel type and, for per-coin channels, the coin.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subscription {
    pub kind: String,
    pub coin: Option<String>,
}

impl Subscription {
    pub fn per_coin(kind: &str, coin: &str) -> Subscription {
        Subscription { kind: kind.to_string(), coin: Some(coin.to_string()) }
    }

    pub fn all_mids() -> Subscription {
        Subscription { kind: "allMids".to_string(), coin: None }
    }

    /// The stream name its data messages are recorded under.
    pub fn stream(&self) -> String {
        match &self.coin {
            Some(c) => format!("{}:{c}", self.kind),
            None => self.kind.clone(),
        }
    }

    /// The subscription object as a client sends it: `{"type":"l2Book","coin":"BTC"}`.
    pub fn to_json(&self) -> String {
        match &self.coin {
            Some(c) => format!(r#"{{"type":{},"coin":{}}}"#, json_str(&self.kind), json_str(c)),
            None => format!(r#"{{"type":{}}}"#, json_str(&self.kind)),
        }
    }

    /// The subscription object as the server echoes it in an ack, with the defaults the real
    /// server fills in for `l2Book`.
    pub fn to_ack_json(&self) -> String {
        match (&self.coin, self.kind.as_str()) {
            (Some(c), "l2Book") => {
                format!(r#"{{"type":"l2Book","coin":{},"nSigFigs":null,"mantissa":null}}"#, json_str(c))
            }
            _ => self.to_json(),
        }
    }

    /// Reads a subscription object (`{"type":..,"coin":..}`); extra keys such as `nSigFigs`
    /// are accepted and ignored (the local exchange serves what it recorded).
    pub fn from_value(v: &serde_json::Value) -> Result<Subscription, String> {
        let kind = v.get("type").and_then(|t| t.as_str()).ok_or("subscription without a \"type\"")?;
        match kind {
            "allMids" => Ok(Subscription::all_mids()),
            "l2Book" | "trades" | "bbo" | "activeAssetCtx" => {
                let coin = v.get("coin").and_then(|c| c.as_str()).ok_or("subscription without a \"coin\"")?;
                if coin.is_empty() {
                    return Err("empty \"coin\"".to_string());
                }
                Ok(Subscription::per_coin(kind, coin))
            }
            other => Err(format!("unsupported subscription type {other:?}")),
        }
    }
}

/// A client request as the server reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Subscribe(Subscription),
    Unsubscribe(Subscription),
    Ping,
}

/// Parses one client request; the error is the text of the `error` channel's reply.
pub fn parse_request(raw: &str) -> Result<Request, String> {
    let bad = || format!("Error parsing JSON into valid websocket request: {raw}");
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad())?;
    let method = v.get("method").and_then(|m| m.as_str()).ok_or_else(bad)?;
    match method {
        "ping" => Ok(Request::Ping),
        "subscribe" | "unsubscribe" => {
            let sub = v.get("subscription").ok_or_else(bad)?;
            let sub =
                Subscription::from_value(sub).map_err(|e| format!("Invalid subscription {sub}: {e}"))?;
            Ok(if method == "subscribe" { Request::Subscribe(sub) } else { Request::Unsubscribe(sub) })
        }
        _ => Err(bad()),
    }
}

pub fn subscribe_request(sub: &Subscription) -> String {
    format!(r#"{{"method":"subscribe","subscription":{}}}"#, sub.to_json())
}

pub fn ack(method: &str, sub: &Subscription) -> String {
    format!(
        r#"{{"channel":"subscriptionResponse","data":{{"method":{},"subscription":{}}}}}"#,
        json_str(method),
        sub.to_ack_json()
    )
}

pub const PING: &str = r#"{"method":"ping"}"#;
pub const PONG: &str = r#"{"channel":"pong"}"#;

pub fn error_message(text: &str) -> String {
    format!(r#"{{"channel":"error","data":{}}}"#, json_str(text))
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The stream name of a raw message: `<channel>:<coin>` for per-coin data channels, `allMids`,
/// and [`PROTOCOL_STREAM`] for everything else (greeting, acks, pongs, errors, garbage).
pub fn stream_of(raw: &[u8]) -> String {
    let Some(channel) = string_value_after(raw, b"\"channel\"") else {
        return PROTOCOL_STREAM.to_string();
    };
    match channel {
        b"l2Book" | b"trades" | b"bbo" | b"activeAssetCtx" => {
            let channel = std::str::from_utf8(channel).unwrap_or("?");
            match string_value_after(raw, b"\"coin\"").and_then(|c| std::str::from_utf8(c).ok()) {
                Some(coin) if !coin.is_empty() => format!("{channel}:{coin}"),
                // An empty trades batch names no coin.
                _ => channel.to_string(),
            }
        }
        b"allMids" => "allMids".to_string(),
        _ => PROTOCOL_STREAM.to_string(),
    }
}

/// Whether a raw message is the server's pong.
pub fn is_pong(raw: &[u8]) -> bool {
    string_value_after(raw, b"\"channel\"") == Some(b"pong")
}

/// Whether a raw message is on the `error` channel.
pub fn is_error(raw: &[u8]) -> bool {
    string_value_after(raw, b"\"channel\"") == Some(b"error")
}

/// The bytes of the string value of the first occurrence of `key` (which includes its quotes),
/// tolerating whitespace around the colon. Values with escapes are returned raw; channel and
/// coin names never contain any.
pub(crate) fn string_value_after<'a>(raw: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = find(raw, key)?;
    let mut i = at + key.len();
    while raw.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    if raw.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while raw.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    if raw.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let len = raw[start..].iter().position(|&b| b == b'"')?;
    Some(&raw[start..start + len])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits the `data` array of a `trades` message into the raw bytes of its elements, exactly as
/// they appear (the local exchange builds its after-subscribe history batch from them). `None`
/// when the message is not a well-formed array of objects.
pub fn trade_elements(raw: &[u8]) -> Option<Vec<&[u8]>> {
    let at = find(raw, b"\"data\"")? + b"\"data\"".len();
    let mut i = at;
    while raw.get(i).is_some_and(|b| b.is_ascii_whitespace() || *b == b':') {
        i += 1;
    }
    if raw.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut start = None;
    while i < raw.len() {
        let b = raw[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    if depth == 0 {
                        start = Some(i);
                    }
                    depth += 1;
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(&raw[start?..=i]);
                    }
                }
                b']' => return Some(out),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Builds a `trades` message from raw trade objects.
pub fn trades_message(elements: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + elements.iter().map(|e| e.len() + 1).sum::<usize>());
    out.extend_from_slice(br#"{"channel":"trades","data":["#);
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.extend_from_slice(b"]}");
    out
}

/// The Hyperliquid client side: per-coin `l2Book`, `trades`, `bbo`, and `allMids` when asked.
pub struct Hyperliquid {
    pub subscriptions: Vec<Subscription>,
}

impl Hyperliquid {
    pub fn new(coins: &[String], all_mids: bool) -> Hyperliquid {
        let mut subscriptions: Vec<Subscription> = coins
            .iter()
            .flat_map(|c| PER_COIN_CHANNELS.iter().map(move |k| Subscription::per_coin(k, c)))
            .collect();
        if all_mids {
            subscriptions.push(Subscription::all_mids());
        }
        Hyperliquid { subscriptions }
    }
}

impl VenueProtocol for Hyperliquid {
    fn venue(&self) -> &'static str {
        "hyperliquid"
    }

    fn subscribe_frames(&mut self) -> Vec<(String, String)> {
        self.subscriptions.iter().map(|s| (s.to_json(), subscribe_request(s))).collect()
    }

    fn ping_frame(&self) -> Option<String> {
        Some(PING.to_string())
    }

    fn is_pong(&self, raw: &[u8]) -> bool {
        is_pong(raw)
    }

    fn refused_subscriptions(&self, raw: &[u8]) -> Vec<String> {
        if !is_error(raw) {
            return Vec::new();
        }
        // The error's text quotes the request; a subscription is refused when its type and coin
        // both appear in it.
        let text = String::from_utf8_lossy(raw);
        self.subscriptions
            .iter()
            .filter(|s| {
                text.contains(&format!("\\\"type\\\":\\\"{}\\\"", s.kind))
                    && s.coin.as_ref().map_or(true, |c| text.contains(&format!("\\\"coin\\\":\\\"{c}\\\"")))
            })
            .map(|s| s.to_json())
            .collect()
    }

    fn resubscribe_frame(&mut self, subscription: &str) -> Option<String> {
        self.subscriptions.iter().find(|s| s.to_json() == subscription).map(subscribe_request)
    }

    fn stream_of(&self, raw: &[u8]) -> String {
        stream_of(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_data_messages_by_channel_and_coin() {
        assert_eq!(
            stream_of(br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[],[]]}}"#),
            "l2Book:BTC"
        );
        // Alphabetical keys, as the collector re-serialized them, and whitespace.
        assert_eq!(
            stream_of(br#"{"channel": "trades", "data": [{"coin": "ETH", "px": "1"}]}"#),
            "trades:ETH"
        );
        assert_eq!(stream_of(br#"{"channel":"bbo","data":{"coin":"@107","time":1}}"#), "bbo:@107");
        assert_eq!(stream_of(br#"{"channel":"allMids","data":{"mids":{"BTC":"1"}}}"#), "allMids");
        assert_eq!(stream_of(br#"{"channel":"trades","data":[]}"#), "trades");
        assert_eq!(stream_of(br#"{"channel":"pong"}"#), PROTOCOL_STREAM);
        assert_eq!(stream_of(GREETING.as_bytes()), PROTOCOL_STREAM);
        assert_eq!(stream_of(b"{\"channel\":\"l2Bo"), PROTOCOL_STREAM);
        assert!(is_pong(PONG.as_bytes()));
    }

    #[test]
    fn parses_requests_as_the_sdk_writes_them() {
        // The official Python SDK writes json.dumps output: spaces after separators.
        let r =
            parse_request(r#"{"method": "subscribe", "subscription": {"type": "l2Book", "coin": "BTC"}}"#);
        assert_eq!(r, Ok(Request::Subscribe(Subscription::per_coin("l2Book", "BTC"))));
        assert_eq!(parse_request(PING), Ok(Request::Ping));
        assert!(parse_request("nonsense").unwrap_err().starts_with("Error parsing JSON"));
        assert!(parse_request(r#"{"method":"subscribe","subscription":{"type":"candle"}}"#).is_err());
        assert_eq!(
            ack("subscribe", &Subscription::per_coin("l2Book", "BTC")),
            r#"{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC","nSigFigs":null,"mantissa":null}}}"#
        );
    }

    #[test]
    fn splits_and_rebuilds_trade_batches_byte_for_byte() {
        let raw = br#"{"channel":"trades","data":[{"coin":"BTC","px":"1","users":["a","b]"]},{"coin":"BTC","px":"2"}]}"#;
        let el = trade_elements(raw).unwrap();
        assert_eq!(
            el,
            vec![&br#"{"coin":"BTC","px":"1","users":["a","b]"]}"#[..], &br#"{"coin":"BTC","px":"2"}"#[..]]
        );
        assert_eq!(trades_message(&el), raw.to_vec());
        assert_eq!(trade_elements(br#"{"channel":"trades","data":[{"coin""#), None);
    }

    #[test]
    fn recognises_refused_subscriptions() {
        let hl = Hyperliquid::new(&["BTC".to_string()], false);
        let sub = Subscription::per_coin("l2Book", "BTC");
        let err = error_message(&format!("Subscription refused: {}", subscribe_request(&sub)));
        assert_eq!(hl.refused_subscriptions(err.as_bytes()), vec![sub.to_json()]);
        assert!(hl.refused_subscriptions(PONG.as_bytes()).is_empty());
    }
}
