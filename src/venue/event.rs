//! Normalized market events: what the venue adapters make of raw feed messages, and what the
//! engine consumes. Venue-independent; prices and sizes are fixed point.

use crate::types::{Price, Qty, Side, Timestamp};
use serde::{Deserialize, Serialize};

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
            | MarketEvent::Bbo { coin, .. } => Some(coin),
            MarketEvent::Anomaly { coin, .. } => coin.as_deref(),
            MarketEvent::Mids { .. } | MarketEvent::Protocol { .. } => None,
        }
    }
}
