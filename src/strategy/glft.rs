//! `glft` (the default): the GLFT quotes of `market_maker::strategy` (one order a side at the
//! model's half-spreads around the mid, skewed by inventory), plus loop 2's answer: the
//! pre-fill toxicity of a side above the classifier's base rate widens that side by
//! `strategy.glft.toxicity_widen_bp` per unit, and at `strategy.glft.toxicity_pull` or above
//! pulls it. With `toxicity_widen_bp = 0` and no pull these are the engine's quotes before
//! strategies were plug-ins, exactly.

use super::config::{GlftConfig, KeyError, StrategyConfig};
use super::registry::StrategyFactory;
use super::{Quote, Quotes, Strategy, StrategyRng, StrategyView, Trigger};
use crate::market_maker::strategy::GlftCurve;
use crate::types::Side;

pub struct GlftFactory;

impl StrategyFactory for GlftFactory {
    fn kind(&self) -> &'static str {
        "glft"
    }
    fn version(&self) -> u32 {
        1
    }
    fn build(&self, cfg: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        Ok(Box::new(Glft::new(cfg.glft.clone())))
    }
}

#[derive(Debug)]
pub struct Glft {
    cfg: GlftConfig,
    /// The curve of the last (gamma, kappa, A), by their bits: they move with fills and
    /// calibration, far less often than the strategy is asked, and the curve's `log1p`,
    /// `exp` and `sqrt` were a third of its time. A cache only: the quote is the same, bit for
    /// bit, so it is not part of the strategy's state.
    curve: Option<([u64; 3], GlftCurve)>,
    /// The vectors of the last quotes the engine handed back ([`Strategy::reuse`]), refilled
    /// for the next answer: two allocations a requote less. Not state: they are emptied first.
    spare: Quotes,
}

impl Glft {
    fn new(cfg: GlftConfig) -> Glft {
        Glft { cfg, curve: None, spare: Quotes::default() }
    }

    /// A side's half-spread widened by its toxicity, or `None` if the side is pulled.
    fn adjust(&self, delta_bp: f64, toxicity: f64, base_rate: f64) -> Option<f64> {
        if self.cfg.toxicity_pull > 0.0 && toxicity >= self.cfg.toxicity_pull {
            return None;
        }
        let excess = (toxicity - base_rate).max(0.0);
        Some(if self.cfg.toxicity_widen_bp > 0.0 {
            delta_bp + self.cfg.toxicity_widen_bp * excess
        } else {
            delta_bp
        })
    }
}

impl Strategy for Glft {
    fn on_event(&mut self, view: &StrategyView<'_>, _rng: &mut StrategyRng) -> Option<Quotes> {
        // A trade that did not fill us changes nothing the quotes depend on until the next
        // book update or second of volatility.
        if view.trigger == Trigger::Trade {
            return None;
        }
        let m = &view.models;
        let key = [m.cal_gamma.to_bits(), m.kappa.to_bits(), m.a.to_bits()];
        let curve = match self.curve {
            Some((k, c)) if k == key => c,
            _ => {
                let c = GlftCurve::new(m.cal_gamma, m.kappa, m.a);
                self.curve = Some((key, c));
                c
            }
        };
        let q = curve.quote(m.sigma_bp, view.inventory());
        let quote = |delta: Option<f64>, side: Side| {
            delta.map(|d| Quote { px: view.price_at_depth(d, side), sz: view.order_size })
        };
        let bid = quote(self.adjust(q.delta_bid_bp, m.toxicity_bid, m.toxicity_base_rate), Side::Buy);
        let ask = quote(self.adjust(q.delta_ask_bp, m.toxicity_ask, m.toxicity_base_rate), Side::Sell);
        let mut quotes = std::mem::take(&mut self.spare);
        quotes.bids.clear();
        quotes.bids.extend(bid);
        quotes.asks.clear();
        quotes.asks.extend(ask);
        Some(quotes)
    }

    fn reuse(&mut self, spent: Quotes) {
        self.spare = spent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toxicity_widens_only_above_the_base_rate_and_pulls_at_the_threshold() {
        let g = Glft::new(GlftConfig { toxicity_widen_bp: 4.0, toxicity_pull: 0.8 });
        assert_eq!(g.adjust(2.0, 0.3, 0.4), Some(2.0));
        assert_eq!(g.adjust(2.0, 0.65, 0.4), Some(3.0));
        assert_eq!(g.adjust(2.0, 0.8, 0.4), None);
        let off = Glft::new(GlftConfig { toxicity_widen_bp: 0.0, toxicity_pull: 0.0 });
        assert_eq!(off.adjust(2.0, 0.99, 0.1), Some(2.0));
    }

    /// The kept curve changes no quote: a sequence of views whose gamma, kappa, A, sigma
    /// and inventory move (some repeating, some changing in the last bit only) gets the
    /// quotes a strategy built afresh for each view gets; so do the vectors handed back after
    /// each answer and refilled (a side pulled by its toxicity is empty, not the last quote).
    #[test]
    fn the_kept_curve_quotes_as_a_fresh_strategy() {
        use crate::market_maker::regime::Regime;
        use crate::strategy::Models;
        use crate::types::{Price, Qty, Timestamp};
        let instrument = crate::venue::instrument(crate::venue::Venue::Hyperliquid, "BTC");
        let cfg = GlftConfig { toxicity_widen_bp: 0.0, toxicity_pull: 0.8 };
        let mut kept = Glft::new(cfg.clone());
        let next_up = |x: f64| f64::from_bits(x.to_bits() + 1);
        let steps = [
            (0.1, 0.5, 2.0, 3.0, 0),
            (0.1, 0.5, 2.0, 3.5, 1),
            (0.1, next_up(0.5), 2.0, 3.5, 1),
            (next_up(0.1), next_up(0.5), 2.0, 3.5, -2),
            (next_up(0.1), next_up(0.5), next_up(2.0), 3.5, -2),
            (0.1, 0.5, 2.0, 3.0, 0),
            (0.3, 0.8, 1.5, 9.0, 4),
            // Each of the three alone.
            (0.3, 2.0, 1.5, 9.0, 4),
            (0.3, 2.0, 6.0, 9.0, 4),
            (0.05, 2.0, 6.0, 9.0, 4),
        ];
        let mut distinct = std::collections::BTreeSet::new();
        let mut pulled = 0;
        for (i, (gamma, kappa, a, sigma_bp, q)) in steps.into_iter().enumerate() {
            let (toxicity_bid, toxicity_ask) = match i % 4 {
                1 => (0.9, 0.5),
                3 => (0.5, 0.9),
                _ => (0.5, 0.5),
            };
            let view = StrategyView {
                now: Timestamp(1),
                trigger: Trigger::Book,
                coin: "BTC",
                instrument: &instrument,
                mid: Price(9_000_000_000_000),
                best_bid: None,
                best_ask: None,
                bids: &[],
                asks: &[],
                microprice: None,
                imbalance: 0.0,
                recent_trades: &[],
                models: Models {
                    kappa,
                    a,
                    kappa_confidence: 1.0,
                    sigma_bp,
                    toxicity_bid,
                    toxicity_ask,
                    toxicity_base_rate: 0.5,
                    cal_gamma: gamma,
                    calibration_progress: 1.0,
                    regime: Regime::Normal,
                    flow_imbalance: 0.0,
                },
                position: Qty(q * 1_000_000),
                order_size: Qty(1_000_000),
                max_position: Qty(10_000_000),
                pnl_realized: 0.0,
                pnl_unrealized: 0.0,
                pnl_fees: 0.0,
                available_margin: 1e6,
                orders: &[],
            };
            let mut rng = StrategyRng::new(1, 0, 1);
            let got = kept.on_event(&view, &mut rng).expect("glft quotes on a book event");
            let fresh = Glft::new(cfg.clone()).on_event(&view, &mut rng);
            assert_eq!(Some(got.clone()), fresh, "gamma {gamma} kappa {kappa} a {a}");
            distinct.insert(format!("{got:?}"));
            pulled += usize::from(got.bids.is_empty()) + usize::from(got.asks.is_empty());
            kept.reuse(got);
        }
        assert_eq!(pulled, 5, "steps 1, 3, 5, 7 and 9 pull one side each");
        // The steps move the quotes: a cache that answered the first curve throughout fails.
        assert!(distinct.len() >= 4, "{distinct:?}");
    }
}
