//! Normalized market events: what the venue adapters make of raw feed messages, and what the
//! engine consumes. Venue-independent; prices and sizes are fixed point.

use crate::types::{Price, Qty, Side, Timestamp};
use serde::{Deserialize, Serialize};

/// Funding rates are integers in units of 10^-12 (Hyperliquid publishes rates like
/// `0.0000125`, finer than the 10^-8 of prices).
pub const RATE_SCALE: i64 = 1_000_000_000_000;

/// Parses a decimal rate string (`"-0.00003829"`) into units of [`RATE_SCALE`], never via f64;
/// `None` when it is not a decimal or has more than 12 decimals.
pub fn parse_rate(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (digits, &b""[..]),
    };
    if int.is_empty() || int.len() > 6 || frac.len() > 12 || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &b in int {
        v = v * 10 + i64::from(b - b'0');
    }
    let mut f: i64 = 0;
    for &b in frac {
        f = f * 10 + i64::from(b - b'0');
    }
    f *= 10i64.pow(12 - frac.len() as u32);
    let v = v * RATE_SCALE + f;
    Some(if neg { -v } else { v })
}

/// One price level: price, total size, and the venue's order count when it publishes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub px: Price,
    pub sz: Qty,
    /// Number of orders at the level (Hyperliquid `n`); 0 when the venue does not say.
    pub n: u32,
}

/// A normalized market event. `exch_ns` is the venue's own timestamp (ms precision on both
/// venues, scaled to ns); the local receive time travels beside the event, not inside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MarketEvent {
    /// A full book (Hyperliquid `l2Book`, Binance REST depth snapshot). Levels best first.
    /// `update_id` is Binance's `lastUpdateId`; `None` on Hyperliquid.
    BookSnapshot {
        coin: String,
        exch_ns: Timestamp,
        update_id: Option<u64>,
        bids: Vec<Level>,
        asks: Vec<Level>,
    },
    /// An incremental update (Binance `depthUpdate`): absolute sizes, size 0 deletes.
    /// `first_id` = `U`, `last_id` = `u`, `prev_last_id` = `pu`.
    BookDiff {
        coin: String,
        exch_ns: Timestamp,
        first_id: u64,
        last_id: u64,
        prev_last_id: u64,
        bids: Vec<Level>,
        asks: Vec<Level>,
    },
    /// A market trade. `side` is the aggressor's. `history` marks trades that happened before
    /// the subscription (Hyperliquid's first `trades` batch): they are not new flow.
    Trade { coin: String, exch_ns: Timestamp, side: Side, px: Price, sz: Qty, trade_id: u64, history: bool },
    /// Best bid and offer (Hyperliquid `bbo`, Binance `bookTicker`). `update_id` is Binance's `u`.
    Bbo { coin: String, exch_ns: Timestamp, update_id: Option<u64>, bid: Option<Level>, ask: Option<Level> },
    /// Mid prices of many coins (Hyperliquid `allMids`), in the order the message lists them.
    Mids { mids: Vec<(String, Price)> },
    /// A perpetual's context: the venue's mark price and funding (Hyperliquid `activeAssetCtx`,
    /// Binance `markPriceUpdate`). `exch_ns` is `None` where the venue stamps no time
    /// (Hyperliquid). `funding_rate` is the venue's current rate per funding interval (1 h on
    /// Hyperliquid, Binance's `r` per its interval) in units of [`RATE_SCALE`]; positive means
    /// longs pay shorts. `oracle_px` is Hyperliquid's oracle or Binance's index price;
    /// `next_funding_ns` is Binance's `T`.
    AssetCtx {
        coin: String,
        exch_ns: Option<Timestamp>,
        mark_px: Price,
        oracle_px: Option<Price>,
        funding_rate: i64,
        open_interest: Option<Qty>,
        next_funding_ns: Option<Timestamp>,
    },
    /// A protocol message that carries no market data (greeting, subscription ack, pong, error).
    Protocol { kind: ProtocolKind, detail: String },
    /// Something malformed or unexpected; counted, surfaced, never fatal.
    Anomaly { coin: Option<String>, kind: AnomalyKind, detail: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProtocolKind {
    Greeting,
    SubscriptionAck,
    Pong,
    Error,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AnomalyKind {
    /// Not JSON, or not the shape the venue documents.
    Malformed,
    /// A channel or event type the adapter does not know.
    UnknownChannel,
    /// A price or size that is negative, zero where not allowed, or off the tick/lot grid.
    BadNumber,
    /// Exchange time went backwards within one stream (repeated times are normal).
    TimeBackwards,
    /// A sequence gap (Binance `pu` != previous `u`): the book is invalid until a snapshot.
    SequenceGap,
    /// Best bid >= best ask after an update.
    CrossedBook,
    /// A side of the book is empty.
    EmptyBook,
}

impl MarketEvent {
    /// The coin the event is about, when it is about one.
    pub fn coin(&self) -> Option<&str> {
        match self {
            MarketEvent::BookSnapshot { coin, .. }
            | MarketEvent::BookDiff { coin, .. }
            | MarketEvent::Trade { coin, .. }
            | MarketEvent::Bbo { coin, .. }
            | MarketEvent::AssetCtx { coin, .. } => Some(coin),
            MarketEvent::Anomaly { coin, .. } => coin.as_deref(),
            MarketEvent::Mids { .. } | MarketEvent::Protocol { .. } => None,
        }
    }
}
