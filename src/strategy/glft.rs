//! `glft` (the default): the GLFT quotes of `market_maker::strategy` (one order a side at the
//! model's half-spreads around the mid, skewed by inventory), plus loop 2's answer: the
//! pre-fill toxicity of a side above the classifier's base rate widens that side by
//! `strategy.glft.toxicity_widen_bp` per unit, and at `strategy.glft.toxicity_pull` or above
//! pulls it. With `toxicity_widen_bp = 0` and no pull these are the engine's quotes before
//! strategies were plug-ins, exactly.

use super::config::{GlftConfig, KeyError, StrategyConfig};
use super::registry::StrategyFactory;
use super::{Quote, Quotes, Strategy, StrategyRng, StrategyView, Trigger};
use crate::market_maker::strategy::{glft_quote, GlftInputs};
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
        Ok(Box::new(Glft { cfg: cfg.glft.clone() }))
    }
}

#[derive(Debug)]
pub struct Glft {
    cfg: GlftConfig,
}

impl Glft {
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
        let q = glft_quote(&GlftInputs {
            gamma: m.cal_gamma,
            kappa: m.kappa,
            a: m.a,
            sigma_bp: m.sigma_bp,
            q: view.inventory(),
        });
        let side = |delta: Option<f64>, side: Side| {
            delta
                .map(|d| Quote { px: view.price_at_depth(d, side), sz: view.order_size })
                .into_iter()
                .collect()
        };
        Some(Quotes {
            bids: side(self.adjust(q.delta_bid_bp, m.toxicity_bid, m.toxicity_base_rate), Side::Buy),
            asks: side(self.adjust(q.delta_ask_bp, m.toxicity_ask, m.toxicity_base_rate), Side::Sell),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toxicity_widens_only_above_the_base_rate_and_pulls_at_the_threshold() {
        let g = Glft { cfg: GlftConfig { toxicity_widen_bp: 4.0, toxicity_pull: 0.8 } };
        assert_eq!(g.adjust(2.0, 0.3, 0.4), Some(2.0));
        assert_eq!(g.adjust(2.0, 0.65, 0.4), Some(3.0));
        assert_eq!(g.adjust(2.0, 0.8, 0.4), None);
        let off = Glft { cfg: GlftConfig { toxicity_widen_bp: 0.0, toxicity_pull: 0.0 } };
        assert_eq!(off.adjust(2.0, 0.99, 0.1), Some(2.0));
    }
}
