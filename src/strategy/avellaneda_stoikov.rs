//! `avellaneda_stoikov`: Avellaneda and Stoikov (2008), "High-frequency trading in a limit
//! order book", with a rolling horizon. In bp of the mid, inventory q in order sizes:
//! reservation price r = mid - q gamma sigma^2 (T - t), total spread
//! gamma sigma^2 (T - t) + (2 / gamma) ln(1 + gamma / kappa), quoted symmetrically around r.
//! kappa is the estimator's (per bp), sigma the volatility estimator's (bp per sqrt(s)).

use super::config::{AvellanedaStoikovConfig, KeyError, StrategyConfig};
use super::registry::StrategyFactory;
use super::{Quote, Quotes, Strategy, StrategyRng, StrategyView, Trigger};
use crate::types::Side;

pub struct AvellanedaStoikovFactory;

impl StrategyFactory for AvellanedaStoikovFactory {
    fn kind(&self) -> &'static str {
        "avellaneda_stoikov"
    }
    fn version(&self) -> u32 {
        1
    }
    fn build(&self, cfg: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        Ok(Box::new(AvellanedaStoikov { cfg: cfg.avellaneda_stoikov.clone() }))
    }
}

#[derive(Debug)]
pub struct AvellanedaStoikov {
    cfg: AvellanedaStoikovConfig,
}

/// Half-spreads (bp) of bid and ask from the mid.
pub fn as_deltas(gamma: f64, kappa: f64, sigma_bp: f64, horizon_s: f64, q: f64) -> (f64, f64) {
    let var_t = sigma_bp * sigma_bp * horizon_s;
    let reservation_bp = -q * gamma * var_t;
    let half = (gamma * var_t + 2.0 / gamma * libm::log1p(gamma / kappa)) / 2.0;
    // bid = r - half, ask = r + half, as distances from the mid.
    (half - reservation_bp, half + reservation_bp)
}

impl Strategy for AvellanedaStoikov {
    fn on_event(&mut self, view: &StrategyView<'_>, _rng: &mut StrategyRng) -> Option<Quotes> {
        if view.trigger == Trigger::Trade {
            return None;
        }
        let m = &view.models;
        let gamma = if self.cfg.gamma > 0.0 { self.cfg.gamma } else { m.cal_gamma };
        let (db, da) = as_deltas(gamma, m.kappa, m.sigma_bp, self.cfg.horizon_s, view.inventory());
        let q = |d: f64, side| Quote { px: view.price_at_depth(d, side), sz: view.order_size };
        Some(Quotes { bids: vec![q(db, Side::Buy)], asks: vec![q(da, Side::Sell)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_price_leans_against_inventory() {
        let (b0, a0) = as_deltas(0.5, 1.0, 1.0, 60.0, 0.0);
        assert!((b0 - a0).abs() < 1e-12);
        // (2/gamma) ln(1 + gamma/kappa) / 2 + gamma sigma^2 T / 2 = 2 ln 1.5 + 15.
        assert!((b0 - (2.0 * libm::log(1.5) + 15.0)).abs() < 1e-9, "{b0}");
        let (b, a) = as_deltas(0.5, 1.0, 1.0, 60.0, 1.0);
        assert!(b > b0 && a < a0, "long: bid further, ask closer");
    }
}
