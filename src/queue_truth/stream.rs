//! The order-level stream read back: `orderLevel:COIN` messages to [`ExactEvent`]s
//! (`docs/FORMAT.md`, "Order-level stream").

use crate::types::{parse_fixed, Side};
use serde_json::Value;

/// One change of the exact queue. Prices and sizes are in units of 10^-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExactEvent {
    /// A resting order joins the back of its level (`Buy` = a bid).
    Add { id: u64, side: Side, px: i64, sz: i64 },
    /// `sz` of a resting order is cancelled.
    Cancel { id: u64, sz: i64 },
    /// `sz` of a resting order is filled by aggressive order `taker`.
    Fill { id: u64, sz: i64, taker: u64 },
}

/// One order-level message: the coin, its exchange time (ms) and the changes in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLevelMessage {
    pub coin: String,
    pub time_ms: u64,
    pub events: Vec<ExactEvent>,
}

fn decimal(v: &Value, what: &str) -> Result<i64, String> {
    let s = v.as_str().ok_or_else(|| format!("{what} is not a decimal string"))?;
    parse_fixed(s.as_bytes()).map_err(|e| format!("{what} '{s}': {e}"))
}

fn uint(v: &Value, what: &str) -> Result<u64, String> {
    v.as_u64().ok_or_else(|| format!("{what} is not an unsigned integer"))
}

/// Parses one message; the error says what is wrong and where.
pub fn parse(raw: &[u8]) -> Result<OrderLevelMessage, String> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("channel").and_then(Value::as_str) != Some("orderLevel") {
        return Err("not an orderLevel message".into());
    }
    let data = v.get("data").ok_or("no data")?;
    let coin = data.get("coin").and_then(Value::as_str).ok_or("no coin")?.to_string();
    let time_ms = uint(data.get("time").ok_or("no time")?, "time")?;
    let list = data.get("events").and_then(Value::as_array).ok_or("no events array")?;
    let mut events = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let a = e.as_array().ok_or_else(|| format!("event {i} is not an array"))?;
        let field = |k: usize| a.get(k).ok_or_else(|| format!("event {i} has no field {k}"));
        let id = uint(field(1)?, "order id")?;
        let ev = match field(0)?.as_str() {
            Some("a") => {
                let side = match field(2)?.as_str() {
                    Some("B") => Side::Buy,
                    Some("A") => Side::Sell,
                    _ => return Err(format!("event {i}: side is neither \"B\" nor \"A\"")),
                };
                ExactEvent::Add { id, side, px: decimal(field(3)?, "px")?, sz: decimal(field(4)?, "sz")? }
            }
            Some("c") => ExactEvent::Cancel { id, sz: decimal(field(2)?, "sz")? },
            Some("f") => {
                ExactEvent::Fill { id, sz: decimal(field(2)?, "sz")?, taker: uint(field(3)?, "taker")? }
            }
            _ => return Err(format!("event {i}: unknown kind (a, c or f)")),
        };
        events.push(ev);
    }
    Ok(OrderLevelMessage { coin, time_ms, events })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_synthetic_venue_writes() {
        let raw = br#"{"channel":"orderLevel","data":{"coin":"BTC","time":11,"events":[["a",7,"A","93501.0","0.015"],["c",7,"0.005"],["f",7,"0.01",3]]}}"#;
        let m = parse(raw).unwrap();
        assert_eq!((m.coin.as_str(), m.time_ms), ("BTC", 11));
        assert_eq!(
            m.events,
            [
                ExactEvent::Add { id: 7, side: Side::Sell, px: 93_501 * 100_000_000, sz: 1_500_000 },
                ExactEvent::Cancel { id: 7, sz: 500_000 },
                ExactEvent::Fill { id: 7, sz: 1_000_000, taker: 3 },
            ]
        );
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        for (raw, want) in [
            (&br#"{"channel":"trades","data":[]}"#[..], "not an orderLevel"),
            (
                br#"{"channel":"orderLevel","data":{"coin":"BTC","time":1,"events":[["x",1]]}}"#,
                "unknown kind",
            ),
            (
                br#"{"channel":"orderLevel","data":{"coin":"BTC","time":1,"events":[["c",1,"1e3"]]}}"#,
                "sz '1e3'",
            ),
            (b"{", "not JSON"),
        ] {
            let e = parse(raw).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
