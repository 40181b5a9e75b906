//! Kind `example`: quotes leaning on the microprice.

use paper_trader::strategy::{
    KeyError, Quote, Quotes, Strategy, StrategyConfig, StrategyFactory, StrategyRng, StrategyView, Trigger,
};
use paper_trader::types::{Side, Timestamp};
use serde::Deserialize;

/// `[strategy.example]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExampleConfig {
    /// Distance of each quote from the center, bp.
    pub half_spread_bp: f64,
    /// How far the center moves from the mid toward the smoothed microprice (0 = the mid,
    /// 1 = the microprice).
    pub lean: f64,
    /// Half-life of the microprice smoothing.
    pub smoothing_half_life_ms: f64,
    /// Center shift against inventory, bp per order size of position.
    pub skew_bp_per_unit: f64,
    /// Ask to be called at least this often even without market data (0 = never).
    pub refresh_ms: u64,
}

impl Default for ExampleConfig {
    fn default() -> Self {
        ExampleConfig {
            half_spread_bp: 1.5,
            lean: 1.0,
            smoothing_half_life_ms: 500.0,
            skew_bp_per_unit: 0.5,
            refresh_ms: 1_000,
        }
    }
}

pub struct ExampleFactory;

impl StrategyFactory for ExampleFactory {
    fn kind(&self) -> &'static str {
        "example"
    }
    fn version(&self) -> u32 {
        1
    }
    fn default_table(&self) -> toml::Table {
        let d = ExampleConfig::default();
        let mut t = toml::Table::new();
        t.insert("half_spread_bp".into(), d.half_spread_bp.into());
        t.insert("lean".into(), d.lean.into());
        t.insert("smoothing_half_life_ms".into(), d.smoothing_half_life_ms.into());
        t.insert("skew_bp_per_unit".into(), d.skew_bp_per_unit.into());
        t.insert("refresh_ms".into(), (d.refresh_ms as i64).into());
        t
    }
    fn build(&self, cfg: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        let c: ExampleConfig = cfg.parse_user("example")?;
        let range = |key: &str, v: f64, lo: f64, hi: f64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(KeyError::new(
                    format!("strategy.example.{key}"),
                    format!("{v} is out of range; allowed [{lo}, {hi}]"),
                ))
            }
        };
        range("half_spread_bp", c.half_spread_bp, 0.01, 1_000.0)?;
        range("lean", c.lean, 0.0, 2.0)?;
        range("smoothing_half_life_ms", c.smoothing_half_life_ms, 1.0, 3_600_000.0)?;
        range("skew_bp_per_unit", c.skew_bp_per_unit, 0.0, 100.0)?;
        Ok(Box::new(Example { cfg: c, smoothed_bp: 0.0, last: Timestamp::ZERO }))
    }
}

#[derive(Debug)]
pub struct Example {
    cfg: ExampleConfig,
    /// EWMA of (microprice - mid) in bp of the mid, and when it was last updated.
    smoothed_bp: f64,
    last: Timestamp,
}

impl Strategy for Example {
    fn on_event(&mut self, view: &StrategyView<'_>, _rng: &mut StrategyRng) -> Option<Quotes> {
        let mid = view.mid.0 as f64;
        if let Some(micro) = view.microprice {
            let dev_bp = (micro - mid) / mid * 1e4;
            let dt_ms = view.now.since(self.last) as f64 / 1e6;
            let keep = if self.last == Timestamp::ZERO {
                0.0
            } else {
                libm::exp2(-dt_ms / self.cfg.smoothing_half_life_ms)
            };
            self.smoothed_bp = keep * self.smoothed_bp + (1.0 - keep) * dev_bp;
        }
        self.last = view.now;
        if view.trigger == Trigger::Trade {
            // The smoothing saw the moment; the quotes follow at the next book update.
            return None;
        }
        let center_bp = self.cfg.lean * self.smoothed_bp - self.cfg.skew_bp_per_unit * view.inventory();
        let q = |side: Side| {
            let depth = self.cfg.half_spread_bp - side.sign() as f64 * center_bp;
            Quote { px: view.price_at_depth(depth.max(0.0), side), sz: view.order_size }
        };
        Some(Quotes { bids: vec![q(Side::Buy)], asks: vec![q(Side::Sell)] })
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        (self.cfg.refresh_ms > 0 && self.last != Timestamp::ZERO)
            .then(|| self.last.plus_ns(self.cfg.refresh_ms * 1_000_000))
    }

    fn save_state(&self) -> Vec<u8> {
        let mut b = self.smoothed_bp.to_le_bytes().to_vec();
        b.extend_from_slice(&self.last.0.to_le_bytes());
        b
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let (a, b) = match bytes.len() {
            16 => bytes.split_at(8),
            n => return Err(format!("expected 16 bytes of state, found {n}")),
        };
        self.smoothed_bp = f64::from_le_bytes(a.try_into().map_err(|_| "state")?);
        self.last = Timestamp(u64::from_le_bytes(b.try_into().map_err(|_| "state")?));
        Ok(())
    }
}
