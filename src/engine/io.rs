//! The engine's inputs and outputs. Outputs are what the output journal holds (one msgpack
//! record each, via rmp-serde as arrays) and what `validate` and `report` read back.
//! Append new variants and fields only at the end (`#[serde(default)]`), never reorder.

use crate::types::{Price, Qty, Side, Timestamp};
use crate::venue::event::AnomalyKind;
// The models own these types (the models layer imports nothing of the engine); the engine's
// contract re-exports them.
pub use crate::market_maker::regime::Regime;
pub use crate::market_maker::simulation::fill_sim::FillKind;
use serde::{Deserialize, Serialize};

/// One input. Time (`now`) and the record's sequence number travel beside it in
/// `Engine::on_input`. Raw messages are parsed inside the engine by the venue adapter.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A raw feed message as recorded, with the name of the stream it came from.
    Message { stream: &'a str, raw: &'a [u8] },
    /// A raw message whose stateless parse the driver ran ahead (on another thread):
    /// `parsed` is [`crate::venue::preparse`] of the engine's venue, `stream` and `raw`, and
    /// the engine treats the input exactly as [`Input::Message`] with the same bytes.
    Parsed { stream: &'a str, raw: &'a [u8], parsed: &'a crate::venue::Parsed },
    /// The driver (re)connected to the venue: what came before may be stale.
    Connect,
    /// The connection dropped: books are invalid, resting paper orders are cancelled.
    Disconnect,
    /// Messages may be missing here: books are invalid until fresh snapshots.
    Gap,
    /// A clock tick the driver injected at one of the engine's deadlines.
    Tick,
    /// The feed has been silent past the venue's threshold: quotes are pulled (books kept:
    /// silence is not a gap) until the next book update says the market is there again.
    Stale,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    /// The seed's margin tracker: the order's initial margin exceeds available margin.
    Margin,
    MaxPosition,
    BookInvalid,
    PostOnly,
    /// The order's notional exceeds `strategy.max_order_notional_usd`.
    MaxOrderNotional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    Requote,
    BookInvalid,
    Disconnect,
    Gap,
    Risk,
    /// The feed went silent past `live.stale_after_ms`.
    Stale,
}

/// The models' state for one coin at one moment: the trajectories that `report` plots and the
/// snapshot tests pin. Emitted at a fixed event-time interval and at each fill.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelSnapshot {
    pub coin: String,
    pub mid: Option<Price>,
    pub bid_quote: Option<Price>,
    pub ask_quote: Option<Price>,
    /// Signed position in base units.
    pub position: Qty,
    /// Quote-currency amounts as f64 for plotting; the exact integers live in the fills.
    pub pnl_realized: f64,
    pub pnl_unrealized: f64,
    pub pnl_fees: f64,
    pub kappa: f64,
    pub kappa_confidence: f64,
    pub own_fills: u64,
    pub sigma_bp: f64,
    pub toxicity: f64,
    pub as_progress: f64,
    pub as_resolved: u64,
    pub as_adverse: u64,
    pub brier_skill: f64,
    pub calibration_progress: f64,
    pub cal_gamma: f64,
    pub regime: Regime,
    pub vol_ratio: f64,
    pub available_margin: f64,
    pub margin_rejects: u64,
    /// Cumulative count of new market trades of this coin (history batches excluded): the
    /// checklist's "active market" minutes (>= 10 trades) are found from its increments.
    #[serde(default)]
    pub market_trades: u64,
    /// Funding received so far (negative = paid), quote currency, as f64 for plotting.
    #[serde(default)]
    pub pnl_funding: f64,
    /// The price the position is marked at: the venue's mark price when the feed gives one,
    /// else the last valid mid (`None` before either). `pnl_unrealized` is at this price.
    #[serde(default)]
    pub mark: Option<Price>,
    /// Whether `mark` is the venue's mark price (else the mid).
    #[serde(default)]
    pub marked_at_venue: bool,
}

/// A coin's name in an [`Output`]: shared, not copied. The engine emits several outputs per
/// input, each naming its coin; a `String` each was an allocation, a copy and a free (on the
/// journal's hand-back) per output, ~4% of a replay's engine thread. Serialized as the string.
pub type Coin = std::sync::Arc<str>;

/// One output of the engine. The journal stores each with the receive time of the input that
/// caused it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Output {
    OrderPlaced {
        coin: Coin,
        order_id: u64,
        side: Side,
        px: Price,
        sz: Qty,
        live_at: Timestamp,
    },
    OrderCancelled {
        coin: Coin,
        order_id: u64,
        reason: CancelReason,
        /// When the cancel takes effect: the order is fillable until this time (exclusive).
        /// A requote's cancel takes effect `cancel_latency` after it was sent; a gap, a
        /// disconnect or an invalid book removes the order at once (`dead_at` = now).
        #[serde(default)]
        dead_at: Timestamp,
    },
    OrderRejected {
        coin: Coin,
        side: Side,
        px: Price,
        sz: Qty,
        reason: RejectReason,
    },
    Fill {
        coin: Coin,
        fill_id: u64,
        order_id: u64,
        side: Side,
        px: Price,
        sz: Qty,
        /// Fee in units of 10^-8 of the quote currency (negative = rebate).
        fee: i64,
        mid: Price,
        kind: FillKind,
        /// The classifier's toxicity score before this fill, in [0, 1].
        toxicity: f64,
        position_after: Qty,
    },
    /// A resolved markout. Only the 5 s horizon labels a fill adverse (`was_adverse`).
    Markout {
        coin: Coin,
        fill_id: u64,
        horizon_s: u32,
        move_bp: f64,
        was_adverse: Option<bool>,
        /// Labelling horizon only: the adverse probability of a fill with no information at
        /// this fill's volatility, `Phi(-threshold / (sigma_1s sqrt(horizon)))`. Its mean over
        /// the labelled fills is the session's one no-skill baseline (summary, report, validate).
        #[serde(default)]
        no_skill: Option<f64>,
    },
    /// A markout that could not be resolved honestly (it spanned a feed gap).
    MarkoutDropped {
        coin: Coin,
        fill_id: u64,
        horizon_s: u32,
    },
    Model(ModelSnapshot),
    RegimeChange {
        coin: Coin,
        from: Regime,
        to: Regime,
        vol_ratio: f64,
    },
    /// The driver must write a checkpoint of the engine state now (every 5 min of event time).
    Checkpoint {
        index: u64,
    },
    Anomaly {
        coin: Option<String>,
        kind: AnomalyKind,
        detail: String,
        seq: u64,
    },
    /// A coin's book became invalid (gap, disconnect, crossed) or valid again.
    BookValidity {
        coin: Coin,
        valid: bool,
    },
    /// A perpetual's funding time passed: `amount = -position * mark * rate` (10^-8 quote
    /// units, positive = received, rounded down), paid on the position held then. `rate` is
    /// the venue's last rate (units of 10^-12), `mark` its last mark price (or the mid
    /// without one); `time` is the funding time itself, at or before the record's time.
    Funding {
        coin: Coin,
        time: Timestamp,
        rate: i64,
        mark: Price,
        position: Qty,
        amount: i64,
    },
}
