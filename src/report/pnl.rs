//! Where the PnL came from: the net PnL of a session split into spread captured, adverse
//! selection, inventory, funding and fees, so that a market maker sees which part ate the edge.
//!
//! For one fill of signed size `q` (positive bought) at price `px`, with the mid `m0` when it
//! filled, `mh` at the labelling markout horizon (`outcome.markout_horizon_s`) and `mT` at the
//! end, its mark-to-market PnL splits exactly:
//!
//! ```text
//! q (mT - px) = q (m0 - px)      spread captured: the fill against the mid at the fill
//!             + q (mh - m0)      adverse selection: the markout at the horizon
//!             + q (mT - mh)      inventory: the mid's moves on the position held after that
//! ```
//!
//! Spread and adverse are summed from the journal's fills and markouts; inventory is the rest
//! of the engine's own mark-to-market PnL (`realized + unrealized`), so the parts add up to the
//! net by construction: `net = spread + adverse + inventory + funding - fees`. A fill whose
//! markout was dropped (a feed gap) or was still pending at the end has no adverse part: its
//! whole mid move counts as inventory. `funding` is the engine's `pnl.funding` (0 before perps
//! funding exists); `fees` is signed as `pnl.fees` (negative = rebates).
//!
//! The ledger also follows the session's net PnL over time (the sum over coins of each coin's
//! latest model snapshot) for the maximum drawdown: the largest fall from a running peak,
//! starting from 0 at the start of the session.

use crate::engine::io::Output;
use crate::types::{Side, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Fills remembered while their labelling markout is pending. The engine bounds its pending
/// outcomes by `outcome.max_pending`; this bound only keeps a journal that never resolves them
/// from growing the map without end (the oldest is forgotten: its move counts as inventory).
pub const MAX_OPEN_FILLS: usize = 1 << 20;

/// The net PnL in parts (quote currency, USD). `net = spread + adverse + inventory + funding -
/// fees`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PnlBreakdown {
    /// Fills against the mid at the fill: what quoting away from the mid earned.
    pub spread: f64,
    /// The mid's move from the fill to the markout horizon on the filled size (negative: the
    /// fills were adversely selected).
    pub adverse: f64,
    /// The mid's moves on the position held after the horizon (the rest of mark-to-market).
    pub inventory: f64,
    /// Funding received (positive) or paid; 0 until the engine accounts perps funding.
    pub funding: f64,
    /// Fees paid (negative = rebates received), as `pnl.fees`.
    pub fees: f64,
    /// `realized + unrealized + funding - fees`.
    pub net: f64,
}

impl PnlBreakdown {
    /// Completes the spread and adverse parts measured from the fills with the engine's PnL:
    /// inventory is the rest of the mark-to-market PnL.
    pub fn from_parts(
        spread: f64,
        adverse: f64,
        realized: f64,
        unrealized: f64,
        funding: f64,
        fees: f64,
    ) -> Self {
        let net = realized + unrealized + funding - fees;
        let inventory = (realized + unrealized) - spread - adverse;
        PnlBreakdown { spread, adverse, inventory, funding, fees, net }
    }

    /// The gross capture after fees: what the quotes earned against the mid, net of fees.
    pub fn spread_after_fees(&self) -> f64 {
        self.spread - self.fees
    }
}

/// Spread and adverse parts of one coin, accumulated from the journal.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CoinParts {
    pub spread: f64,
    pub adverse: f64,
    pub fills: u64,
}

/// Follows a session's outputs; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct PnlLedger {
    horizon_s: u32,
    /// fill_id -> (coin, |q| * mid at the fill, USD): what a markout's bp move applies to.
    open_fills: BTreeMap<u64, (String, f64)>,
    coins: BTreeMap<String, CoinParts>,
    last_net: BTreeMap<String, f64>,
    peak: f64,
    max_drawdown: f64,
    /// (time, net) at each model snapshot, when asked to keep the curve (the report plots it).
    curve: Option<Vec<(Timestamp, f64)>>,
}

impl PnlLedger {
    /// A ledger whose adverse part is the markout at `horizon_s` (`outcome.markout_horizon_s`).
    pub fn new(horizon_s: u32) -> PnlLedger {
        PnlLedger { horizon_s, ..PnlLedger::default() }
    }

    /// Keeps the net PnL curve (time, net) for plotting.
    pub fn keeping_curve(mut self) -> PnlLedger {
        self.curve = Some(Vec::new());
        self
    }

    pub fn observe(&mut self, now: Timestamp, output: &Output) {
        match output {
            Output::Fill { coin, fill_id, side, px, sz, mid, .. } if sz.0 != 0 => {
                let q = match side {
                    Side::Buy => sz.0 as f64,
                    Side::Sell => -(sz.0 as f64),
                };
                let parts = self.coins.entry(coin.to_string()).or_default();
                parts.spread += q * (mid.0 - px.0) as f64 / 1e16;
                parts.fills += 1;
                if self.open_fills.len() >= MAX_OPEN_FILLS {
                    self.open_fills.pop_first();
                }
                self.open_fills
                    .insert(*fill_id, (coin.to_string(), (sz.0 as f64).abs() * mid.0 as f64 / 1e16));
            }
            Output::Markout { fill_id, horizon_s, move_bp, .. } if *horizon_s == self.horizon_s => {
                if let Some((coin, notional)) = self.open_fills.remove(fill_id) {
                    if move_bp.is_finite() {
                        self.coins.entry(coin).or_default().adverse += notional * move_bp / 1e4;
                    }
                }
            }
            Output::MarkoutDropped { fill_id, horizon_s, .. } if *horizon_s == self.horizon_s => {
                self.open_fills.remove(fill_id);
            }
            Output::Model(s) => {
                self.last_net.insert(s.coin.clone(), s.pnl_realized + s.pnl_unrealized - s.pnl_fees);
                let net: f64 = self.last_net.values().sum();
                self.peak = self.peak.max(net);
                self.max_drawdown = self.max_drawdown.max(self.peak - net);
                if let Some(c) = &mut self.curve {
                    c.push((now, net));
                }
            }
            _ => {}
        }
    }

    /// Spread and adverse parts of one coin (zero when it never filled).
    pub fn coin(&self, coin: &str) -> CoinParts {
        self.coins.get(coin).copied().unwrap_or_default()
    }

    /// Spread and adverse parts over every coin.
    pub fn total(&self) -> CoinParts {
        self.coins.values().fold(CoinParts::default(), |a, c| CoinParts {
            spread: a.spread + c.spread,
            adverse: a.adverse + c.adverse,
            fills: a.fills + c.fills,
        })
    }

    /// The largest fall of the net PnL from its running peak (USD, >= 0).
    pub fn max_drawdown(&self) -> f64 {
        self.max_drawdown
    }

    /// The net PnL at each model snapshot, if kept.
    pub fn curve(&self) -> &[(Timestamp, f64)] {
        self.curve.as_deref().unwrap_or(&[])
    }
}

/// `pnl.funding` of a serialized PnL summary if the build accounts funding, else 0: read by
/// name so that this module does not depend on whether that field exists yet.
pub fn funding_of<T: Serialize>(pnl: &T) -> f64 {
    serde_json::to_value(pnl).ok().and_then(|v| v.get("funding").and_then(|f| f.as_f64())).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Price, Qty};

    fn fill(id: u64, side: Side, px: f64, mid: f64) -> Output {
        Output::Fill {
            coin: "BTC".into(),
            fill_id: id,
            order_id: id,
            side,
            px: Price((px * 1e8) as i64),
            sz: Qty(100_000_000),
            fee: 0,
            mid: Price((mid * 1e8) as i64),
            kind: crate::engine::io::FillKind::TradeThrough,
            toxicity: 0.5,
            position_after: Qty(0),
        }
    }

    #[test]
    fn spread_and_adverse_follow_the_fills_and_the_horizon_markout() {
        let mut l = PnlLedger::new(5);
        l.observe(Timestamp(1), &fill(1, Side::Buy, 99.0, 100.0));
        l.observe(Timestamp(2), &fill(2, Side::Sell, 101.0, 100.0));
        let mk = |id, h, bp| Output::Markout {
            coin: "BTC".into(),
            fill_id: id,
            horizon_s: h,
            move_bp: bp,
            was_adverse: None,
            no_skill: None,
        };
        // Another horizon does not count; the 5 s one does, once.
        l.observe(Timestamp(3), &mk(1, 1, -50.0));
        l.observe(Timestamp(4), &mk(1, 5, -100.0));
        l.observe(Timestamp(5), &mk(1, 5, -100.0));
        l.observe(Timestamp(6), &Output::MarkoutDropped { coin: "BTC".into(), fill_id: 2, horizon_s: 5 });
        let t = l.total();
        assert!((t.spread - 2.0).abs() < 1e-12, "{t:?}");
        assert!((t.adverse + 1.0).abs() < 1e-12, "{t:?}");
        let b = PnlBreakdown::from_parts(t.spread, t.adverse, 0.5, 0.25, 0.1, 0.3);
        assert!((b.net - 0.55).abs() < 1e-12);
        assert!((b.spread + b.adverse + b.inventory + b.funding - b.fees - b.net).abs() < 1e-12);
    }
}
