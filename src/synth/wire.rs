//! Hyperliquid's wire format, written byte by byte so that key order and number formats are
//! exactly the venue's: prices and sizes are decimal strings with trailing zeros dropped but
//! at least one decimal (`"93500.0"`, `"0.1428"`, `"10.0"`), times are integer milliseconds.

use super::book::{BookLevel, BookSide};
use super::orders::OrderEvent;
use crate::types::SCALE;

/// Appends an unsigned integer in decimal.
pub fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends a fixed-point value (units of 10^-8) as the venue writes decimals.
pub fn push_decimal(buf: &mut Vec<u8>, units: i64) {
    push_scaled(buf, units, SCALE as u64, 8);
}

/// Appends a value in units of 10^-12 (funding rates) as the venue writes decimals.
pub fn push_rate(buf: &mut Vec<u8>, units: i64) {
    push_scaled(buf, units, 1_000_000_000_000, 12);
}

/// A fixed-point value of `decimals` decimals (`scale` = 10^decimals): trailing zeros dropped,
/// at least one decimal.
fn push_scaled(buf: &mut Vec<u8>, units: i64, scale: u64, decimals: usize) {
    let a = units.unsigned_abs();
    if units < 0 {
        buf.push(b'-');
    }
    push_u64(buf, a / scale);
    buf.push(b'.');
    let mut frac = a % scale;
    if frac == 0 {
        buf.push(b'0');
        return;
    }
    let mut width = decimals;
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    let start = buf.len();
    push_u64(buf, frac);
    let digits = buf.len() - start;
    // Leading zeros of the fraction (0.00219 -> "00219").
    for _ in digits..width {
        buf.insert(start, b'0');
    }
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    buf.extend_from_slice(s.as_bytes());
    buf.push(b'"');
}

/// Prices and sizes of one coin on the wire.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    pub tick_units: i64,
    pub lot_units: i64,
}

fn push_level(buf: &mut Vec<u8>, grid: Grid, l: &BookLevel) {
    buf.extend_from_slice(b"{\"px\":\"");
    push_decimal(buf, l.px_ticks * grid.tick_units);
    buf.extend_from_slice(b"\",\"sz\":\"");
    push_decimal(buf, l.lots * grid.lot_units);
    buf.extend_from_slice(b"\",\"n\":");
    push_u64(buf, u64::from(l.n));
    buf.push(b'}');
}

fn push_levels(buf: &mut Vec<u8>, grid: Grid, levels: &[BookLevel]) {
    buf.push(b'[');
    for (i, l) in levels.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_level(buf, grid, l);
    }
    buf.push(b']');
}

/// `{"channel":"l2Book","data":{"coin":..,"time":..,"levels":[[bids..],[asks..]]}}`
pub fn l2_book(
    buf: &mut Vec<u8>,
    coin: &str,
    time_ms: u64,
    grid: Grid,
    bids: &[BookLevel],
    asks: &[BookLevel],
) {
    buf.extend_from_slice(b"{\"channel\":\"l2Book\",\"data\":{\"coin\":");
    push_str(buf, coin);
    buf.extend_from_slice(b",\"time\":");
    push_u64(buf, time_ms);
    buf.extend_from_slice(b",\"levels\":[");
    push_levels(buf, grid, bids);
    buf.push(b',');
    push_levels(buf, grid, asks);
    buf.extend_from_slice(b"]}}");
}

/// `{"channel":"bbo","data":{"coin":..,"time":..,"bbo":[bid|null,ask|null]}}`
pub fn bbo(
    buf: &mut Vec<u8>,
    coin: &str,
    time_ms: u64,
    grid: Grid,
    bid: Option<&BookLevel>,
    ask: Option<&BookLevel>,
) {
    buf.extend_from_slice(b"{\"channel\":\"bbo\",\"data\":{\"coin\":");
    push_str(buf, coin);
    buf.extend_from_slice(b",\"time\":");
    push_u64(buf, time_ms);
    buf.extend_from_slice(b",\"bbo\":[");
    for (i, l) in [bid, ask].into_iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        match l {
            Some(l) => push_level(buf, grid, l),
            None => buf.extend_from_slice(b"null"),
        }
    }
    buf.extend_from_slice(b"]}}");
}

/// A perpetual's context as `activeAssetCtx` carries it (prices in units of 10^-8, rates
/// in 10^-12, sizes in 10^-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireCtx {
    pub funding: i64,
    pub open_interest: i64,
    pub prev_day_px: i64,
    pub day_ntl_vlm: i64,
    pub premium: i64,
    pub oracle_px: i64,
    pub mark_px: i64,
    pub mid_px: i64,
    pub impact_bid: i64,
    pub impact_ask: i64,
    pub day_base_vlm: i64,
}

/// `{"channel":"activeAssetCtx","data":{"coin":..,"ctx":{"funding":..,"openInterest":..,
/// "prevDayPx":..,"dayNtlVlm":..,"premium":..,"oraclePx":..,"markPx":..,"midPx":..,
/// "impactPxs":[..,..],"dayBaseVlm":..}}}`: the venue's key order.
pub fn active_asset_ctx(buf: &mut Vec<u8>, coin: &str, c: &WireCtx) {
    buf.extend_from_slice(b"{\"channel\":\"activeAssetCtx\",\"data\":{\"coin\":");
    push_str(buf, coin);
    buf.extend_from_slice(b",\"ctx\":{\"funding\":\"");
    push_rate(buf, c.funding);
    let fields: [(&[u8], i64, bool); 5] = [
        (b"openInterest", c.open_interest, false),
        (b"prevDayPx", c.prev_day_px, false),
        (b"dayNtlVlm", c.day_ntl_vlm, false),
        (b"premium", c.premium, true),
        (b"oraclePx", c.oracle_px, false),
    ];
    for (key, v, is_rate) in fields {
        buf.extend_from_slice(b"\",\"");
        buf.extend_from_slice(key);
        buf.extend_from_slice(b"\":\"");
        if is_rate {
            push_rate(buf, v);
        } else {
            push_decimal(buf, v);
        }
    }
    buf.extend_from_slice(b"\",\"markPx\":\"");
    push_decimal(buf, c.mark_px);
    buf.extend_from_slice(b"\",\"midPx\":\"");
    push_decimal(buf, c.mid_px);
    buf.extend_from_slice(b"\",\"impactPxs\":[\"");
    push_decimal(buf, c.impact_bid);
    buf.extend_from_slice(b"\",\"");
    push_decimal(buf, c.impact_ask);
    buf.extend_from_slice(b"\"],\"dayBaseVlm\":\"");
    push_decimal(buf, c.day_base_vlm);
    buf.extend_from_slice(b"\"}}}");
}

/// One trade as the venue prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireTrade {
    pub buy: bool,
    pub px_ticks: i64,
    pub lots: i64,
    pub time_ms: u64,
    /// The transaction hash (all zeros for a TWAP fill).
    pub hash: [u8; 32],
    pub tid: u64,
    pub buyer: [u8; 20],
    pub seller: [u8; 20],
}

fn push_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.extend_from_slice(b"\"0x");
    for b in bytes {
        buf.push(HEX[usize::from(b >> 4)]);
        buf.push(HEX[usize::from(b & 15)]);
    }
    buf.push(b'"');
}

/// `{"channel":"trades","data":[{"coin","side","px","sz","time","hash","tid","users"},..]}`
pub fn trades(buf: &mut Vec<u8>, coin: &str, grid: Grid, trades: &[WireTrade]) {
    buf.extend_from_slice(b"{\"channel\":\"trades\",\"data\":[");
    for (i, t) in trades.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"coin\":");
        push_str(buf, coin);
        buf.extend_from_slice(if t.buy {
            b",\"side\":\"B\",\"px\":\""
        } else {
            b",\"side\":\"A\",\"px\":\""
        });
        push_decimal(buf, t.px_ticks * grid.tick_units);
        buf.extend_from_slice(b"\",\"sz\":\"");
        push_decimal(buf, t.lots * grid.lot_units);
        buf.extend_from_slice(b"\",\"time\":");
        push_u64(buf, t.time_ms);
        buf.extend_from_slice(b",\"hash\":");
        push_hex(buf, &t.hash);
        buf.extend_from_slice(b",\"tid\":");
        push_u64(buf, t.tid);
        buf.extend_from_slice(b",\"users\":[");
        push_hex(buf, &t.buyer);
        buf.push(b',');
        push_hex(buf, &t.seller);
        buf.extend_from_slice(b"]}");
    }
    buf.extend_from_slice(b"]}");
}

/// `{"channel":"allMids","data":{"mids":{"BTC":"93500.5",..}}}`; `mid2_ticks` is twice the mid.
pub fn all_mids(buf: &mut Vec<u8>, mids: &[(&str, i64, Grid)]) {
    buf.extend_from_slice(b"{\"channel\":\"allMids\",\"data\":{\"mids\":{");
    for (i, (coin, mid2, grid)) in mids.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_str(buf, coin);
        buf.extend_from_slice(b":\"");
        // Half ticks are exact: a tick is an even number of 10^-8 units for every tick >= 2e-8.
        push_decimal(buf, mid2 * grid.tick_units / 2);
        buf.push(b'"');
    }
    buf.extend_from_slice(b"}}}");
}

/// The order-level stream (`docs/FORMAT.md`, "Order-level stream"):
/// `{"channel":"orderLevel","data":{"coin":..,"time":..,"events":[..]}}` with each event an
/// array: `["a",oid,"B"|"A",px,sz]` (an order joins the back of its level), `["c",oid,sz]`
/// (sz of it cancelled) and `["f",oid,sz,taker]` (sz of it filled by aggressive order `taker`).
pub fn order_level(buf: &mut Vec<u8>, coin: &str, time_ms: u64, grid: Grid, events: &[OrderEvent]) {
    buf.extend_from_slice(b"{\"channel\":\"orderLevel\",\"data\":{\"coin\":");
    push_str(buf, coin);
    buf.extend_from_slice(b",\"time\":");
    push_u64(buf, time_ms);
    buf.extend_from_slice(b",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let sz = |buf: &mut Vec<u8>, lots: i64| {
            buf.push(b'"');
            push_decimal(buf, lots * grid.lot_units);
            buf.push(b'"');
        };
        match *e {
            OrderEvent::Add { id, side, px_ticks, lots } => {
                buf.extend_from_slice(b"[\"a\",");
                push_u64(buf, id);
                buf.extend_from_slice(if side == BookSide::Bid { b",\"B\",\"" } else { b",\"A\",\"" });
                push_decimal(buf, px_ticks * grid.tick_units);
                buf.extend_from_slice(b"\",");
                sz(buf, lots);
            }
            OrderEvent::Cancel { id, lots } => {
                buf.extend_from_slice(b"[\"c\",");
                push_u64(buf, id);
                buf.push(b',');
                sz(buf, lots);
            }
            OrderEvent::Fill { id, lots, taker } => {
                buf.extend_from_slice(b"[\"f\",");
                push_u64(buf, id);
                buf.push(b',');
                sz(buf, lots);
                buf.push(b',');
                push_u64(buf, taker);
            }
        }
        buf.push(b']');
    }
    buf.extend_from_slice(b"]}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn decimals_look_like_the_venue_s() {
        assert_eq!(s(|b| push_decimal(b, 105_055 * SCALE)), "105055.0");
        assert_eq!(s(|b| push_decimal(b, 303_622_000)), "3.03622");
        assert_eq!(s(|b| push_decimal(b, 219_000)), "0.00219");
        assert_eq!(s(|b| push_decimal(b, 14_280_000)), "0.1428");
        assert_eq!(s(|b| push_decimal(b, 10 * SCALE)), "10.0");
        assert_eq!(s(|b| push_decimal(b, 1)), "0.00000001");
        assert_eq!(s(|b| push_u64(b, 0)), "0");
        assert_eq!(s(|b| push_u64(b, u64::MAX)), u64::MAX.to_string());
    }

    #[test]
    fn messages_have_the_venue_s_shape() {
        let g = Grid { tick_units: SCALE, lot_units: 1_000 };
        let l = BookLevel { px_ticks: 93_500, lots: 303_622, n: 5 };
        assert_eq!(
            s(|b| l2_book(b, "BTC", 1_735_689_600_000, g, &[l], &[])),
            r#"{"channel":"l2Book","data":{"coin":"BTC","time":1735689600000,"levels":[[{"px":"93500.0","sz":"3.03622","n":5}],[]]}}"#
        );
        assert_eq!(
            s(|b| bbo(b, "BTC", 7, g, Some(&l), None)),
            r#"{"channel":"bbo","data":{"coin":"BTC","time":7,"bbo":[{"px":"93500.0","sz":"3.03622","n":5},null]}}"#
        );
        assert_eq!(
            s(|b| all_mids(b, &[("BTC", 187_001, g)])),
            r#"{"channel":"allMids","data":{"mids":{"BTC":"93500.5"}}}"#
        );
        let t = WireTrade {
            buy: false,
            px_ticks: 93_500,
            lots: 219,
            time_ms: 9,
            hash: [0; 32],
            tid: 42,
            buyer: [0xab; 20],
            seller: [1; 20],
        };
        let text = s(|b| trades(b, "BTC", g, &[t]));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["data"][0]["side"], "A");
        assert_eq!(v["data"][0]["sz"], "0.00219");
        assert_eq!(v["data"][0]["hash"].as_str().unwrap().len(), 66);
        assert_eq!(v["data"][0]["users"][0].as_str().unwrap().len(), 42);
        assert!(text.starts_with(r#"{"channel":"trades","data":[{"coin":"BTC","side":"A","px":"93500.0","sz":"0.00219","time":9,"hash":"0x00"#));
        let ev = [
            OrderEvent::Add { id: 7, side: BookSide::Ask, px_ticks: 93_501, lots: 1_500 },
            OrderEvent::Cancel { id: 7, lots: 500 },
            OrderEvent::Fill { id: 7, lots: 1_000, taker: 3 },
        ];
        assert_eq!(
            s(|b| order_level(b, "BTC", 11, g, &ev)),
            r#"{"channel":"orderLevel","data":{"coin":"BTC","time":11,"events":[["a",7,"A","93501.0","0.015"],["c",7,"0.005"],["f",7,"0.01",3]]}}"#
        );
    }
}
