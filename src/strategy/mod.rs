//! Strategies as plug-ins: the [`Strategy`] trait, the read-only [`StrategyView`] the engine
//! hands it, the [`Quotes`] it answers with, and the [`registry`] of kinds (`glft`, `ladder`,
//! `avellaneda_stoikov`, and whatever a library user registers). `docs/STRATEGY.md` is the
//! contract.
//!
//! A strategy only says which quotes it wants. The engine (`engine/coin/orders.rs`) keeps
//! everything that makes fills honest: it diffs wanted against resting orders, sends places
//! and cancels through the latency model, enforces post-only, the position limit, the order
//! notional limit and margin, and journals every decision.
//!
//! Pure like the rest of the core: no I/O, no clock, no entropy; a strategy that wants
//! randomness draws from the [`StrategyRng`] the engine hands it, keyed by (seed, coin, input).

pub mod avellaneda_stoikov;
pub mod config;
pub mod glft;
pub mod ladder;
pub mod registry;

pub use config::{KeyError, StrategyConfig};
pub use registry::{Registry, StrategyFactory};

use crate::market_maker::regime::Regime;
use crate::market_maker::rng::splitmix64;
use crate::types::{Price, Qty, Side, Timestamp};
use crate::venue::Instrument;

/// One wanted order: a limit price on the grid and a size in base units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub px: Price,
    pub sz: Qty,
}

/// The quotes a strategy wants resting, any number of levels a side (empty = none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quotes {
    pub bids: Vec<Quote>,
    pub asks: Vec<Quote>,
}

/// Why the strategy is being asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The coin's book changed (a snapshot, a diff, a newer best bid and offer).
    Book,
    /// A market trade that did not fill us (it is the last of `recent_trades`).
    Trade,
    /// One of our orders filled (position, PnL and the models have moved).
    Fill,
    /// A deadline: the one the strategy asked for ([`Strategy::next_deadline`]) or the end
    /// of a requote throttle.
    Deadline,
}

/// A market trade of the coin (history batches excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TradePrint {
    pub at: Timestamp,
    /// The aggressor's side.
    pub side: Side,
    pub px: Price,
    pub sz: Qty,
}

/// One of our own orders as the engine knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnOrder {
    pub id: u64,
    pub side: Side,
    pub px: Price,
    /// The size it was placed with, and what is left of it.
    pub sz: Qty,
    pub remaining: Qty,
    /// Past its entry latency (and the post-only check): on the venue's book.
    pub live: bool,
    /// A cancel was sent (it may still fill until the cancel latency has passed).
    pub cancel_sent: bool,
}

/// The models by the seed's names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Models {
    /// Fill intensity decay per bp of depth, and the intensity at the touch per second.
    pub kappa: f64,
    pub a: f64,
    pub kappa_confidence: f64,
    /// Volatility, bp per sqrt(s).
    pub sigma_bp: f64,
    /// `pre_fill_classifier`: the probability that a fill of a bid (ask) at the touch now
    /// turns out adverse, and the classifier's base rate (the score of a fill it knows
    /// nothing about; 0.5 before the first outcome).
    pub toxicity_bid: f64,
    pub toxicity_ask: f64,
    pub toxicity_base_rate: f64,
    pub cal_gamma: f64,
    pub calibration_progress: f64,
    pub regime: Regime,
    /// Trade-flow imbalance, (buy - sell) / (buy + sell) volume, in [-1, 1].
    pub flow_imbalance: f64,
}

/// Everything a strategy may read, as plain data. Built by the engine for each call.
#[derive(Clone, Debug)]
pub struct StrategyView<'a> {
    pub now: Timestamp,
    pub trigger: Trigger,
    pub coin: &'a str,
    /// The price and size grid (Hyperliquid's tick depends on the price).
    pub instrument: &'a Instrument,
    pub mid: Price,
    pub best_bid: Option<Price>,
    pub best_ask: Option<Price>,
    /// The top levels of the book, best first (price, size), at most [`BOOK_LEVELS`] a side.
    pub bids: &'a [(Price, Qty)],
    pub asks: &'a [(Price, Qty)],
    /// Size-weighted mid of the touch: `(bid * ask_size + ask * bid_size) / (bid_size +
    /// ask_size)`, in price units.
    pub microprice: Option<f64>,
    /// Book imbalance over the top levels, (bid - ask) / (bid + ask) size, in [-1, 1].
    pub imbalance: f64,
    /// The last market trades, oldest first, at most [`RECENT_TRADES`].
    pub recent_trades: &'a [TradePrint],
    pub models: Models,
    /// Signed position in base units, and the account's order size and position limit for
    /// this coin (base units; fixed at the first valid mid).
    pub position: Qty,
    pub order_size: Qty,
    pub max_position: Qty,
    /// Quote currency (USD): realized, unrealized at the mid, fees paid.
    pub pnl_realized: f64,
    pub pnl_unrealized: f64,
    pub pnl_fees: f64,
    pub available_margin: f64,
    /// Our resting and in-flight orders (quotes only, not the shadow ladder's probes).
    pub orders: &'a [OwnOrder],
}

/// Levels a side the view carries.
pub const BOOK_LEVELS: usize = 10;
/// Market trades the view carries.
pub const RECENT_TRADES: usize = 32;

impl StrategyView<'_> {
    /// Position in units of the order size (GLFT's q).
    pub fn inventory(&self) -> f64 {
        self.position.0 as f64 / self.order_size.0.max(1) as f64
    }

    /// The tick at the mid.
    pub fn tick(&self) -> Price {
        self.instrument.tick_at(self.mid)
    }

    /// The price `depth_bp` from the mid on `side`, rounded away from the mid onto the grid.
    pub fn price_at_depth(&self, depth_bp: f64, side: Side) -> Price {
        price_at_depth(self.instrument, self.mid, depth_bp, side)
    }

    /// `px` rounded onto the grid, down (for bids) or up (for asks): away from the mid.
    pub fn round_away(&self, px: Price, side: Side) -> Price {
        round_away(self.instrument, px, side)
    }
}

/// The price `depth_bp` from `mid` on `side`, rounded away from the mid onto the grid.
pub fn price_at_depth(instrument: &Instrument, mid: Price, depth_bp: f64, side: Side) -> Price {
    let offset = (mid.0 as f64 * depth_bp * 1e-4) as i64;
    match side {
        Side::Buy => round_away(instrument, Price(mid.0 - offset), side),
        Side::Sell => round_away(instrument, Price(mid.0 + offset), side),
    }
}

/// `px` rounded onto the grid: down for a bid, up for an ask.
pub fn round_away(instrument: &Instrument, px: Price, side: Side) -> Price {
    match side {
        Side::Buy => instrument.round_px_down(px).unwrap_or(Price(1)),
        Side::Sell => instrument.round_px_up(px).unwrap_or(px),
    }
}

/// Uniform draws for a strategy, keyed by (session seed, coin, input sequence, draw index):
/// one more draw in one call never shifts another call's draws, and a resumed run needs no
/// generator state.
#[derive(Clone, Debug)]
pub struct StrategyRng {
    key: u64,
    index: u64,
}

/// Distinguishes strategy draws from the fill simulator's purposes.
const STRATEGY_PURPOSE: u64 = 0x5354_5241_5445_4759;

impl StrategyRng {
    pub fn new(seed: u64, coin_index: usize, seq: u64) -> StrategyRng {
        let mut h = splitmix64(seed ^ STRATEGY_PURPOSE);
        h = splitmix64(h ^ coin_index as u64);
        h = splitmix64(h ^ seq);
        StrategyRng { key: h, index: 0 }
    }

    /// The next uniform draw in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.index += 1;
        let h = splitmix64(self.key ^ splitmix64(self.index));
        (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// A quoting strategy: pure and deterministic (no I/O, clock or entropy of its own).
///
/// The engine calls [`Strategy::on_event`] after the book, a trade, a fill or the models
/// changed, and at [`Strategy::next_deadline`]. `None` keeps the quotes as they are; `Some`
/// says which quotes should rest (the engine applies its refresh rule, `strategy.requote_*`,
/// and its limits before anything is sent).
///
/// State that must survive a checkpoint goes through [`Strategy::save_state`] /
/// [`Strategy::load_state`]; the engine tags it with the kind's name and version and refuses
/// a checkpoint of another kind or version.
pub trait Strategy: Send + std::fmt::Debug {
    fn on_event(&mut self, view: &StrategyView<'_>, rng: &mut StrategyRng) -> Option<Quotes>;

    /// Quotes this strategy returned, handed back once the engine is done with them: a
    /// strategy may keep their vectors for its next answer instead of allocating new ones (the
    /// built-in GLFT does). Nothing else may depend on it; by default they are dropped.
    fn reuse(&mut self, _spent: Quotes) {}

    /// When to be called next without an input (`Trigger::Deadline`), if ever.
    fn next_deadline(&self) -> Option<Timestamp> {
        None
    }

    /// The strategy's state, for checkpoints (empty for a stateless strategy).
    fn save_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores what [`Strategy::save_state`] wrote.
    fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(format!("this strategy keeps no state, but the checkpoint holds {} bytes of it", bytes.len()))
        }
    }
}
