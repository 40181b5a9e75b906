//! `ladder`: a grid (hftbacktest's grid example, Hummingbot's pure market making). `levels`
//! orders a side, the first `offset_ticks` from the touch of its own side (the first bid at
//! best bid - offset_ticks ticks), then every `spacing_ticks`; optionally skewed by inventory
//! and withdrawn past an inventory bound.

use super::config::{KeyError, LadderConfig, StrategyConfig};
use super::registry::StrategyFactory;
use super::{Quote, Quotes, Strategy, StrategyRng, StrategyView, Trigger};
use crate::types::{Price, Side};

pub struct LadderFactory;

impl StrategyFactory for LadderFactory {
    fn kind(&self) -> &'static str {
        "ladder"
    }
    fn version(&self) -> u32 {
        1
    }
    fn build(&self, cfg: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        if cfg.ladder.levels == 0 {
            return Err(KeyError::new("strategy.ladder.levels", "0 is out of range; allowed [1, 100]"));
        }
        Ok(Box::new(Ladder { cfg: cfg.ladder.clone() }))
    }
}

#[derive(Debug)]
pub struct Ladder {
    cfg: LadderConfig,
}

impl Strategy for Ladder {
    fn on_event(&mut self, view: &StrategyView<'_>, _rng: &mut StrategyRng) -> Option<Quotes> {
        if view.trigger == Trigger::Trade {
            return None;
        }
        let c = &self.cfg;
        let q = view.inventory();
        let skew = (q * c.skew_ticks_per_unit).round() as i64;
        let bound = c.max_inventory_units;
        let mut quotes = Quotes::default();
        for (side, touch, out) in
            [(Side::Buy, view.best_bid, &mut quotes.bids), (Side::Sell, view.best_ask, &mut quotes.asks)]
        {
            let Some(touch) = touch else { continue };
            if bound > 0.0 && side.sign() as f64 * q >= bound {
                continue;
            }
            let tick = view.instrument.tick_at(touch).0.max(1);
            for level in 0..c.levels {
                let ticks = i64::from(c.offset_ticks) + i64::from(level) * i64::from(c.spacing_ticks);
                // Away from the touch on its own side; a long position (skew > 0) lowers both.
                let px = Price(touch.0 - side.sign() * ticks * tick - skew * tick);
                if px.0 <= 0 {
                    break;
                }
                out.push(Quote { px: view.round_away(px, side), sz: view.order_size });
            }
        }
        Some(quotes)
    }
}
