//! The perpetual's context of one coin: a funding-rate process and open interest, published
//! as Hyperliquid `activeAssetCtx` messages every `[funding] ctx_interval_ms`.
//!
//! The hourly funding rate is an Ornstein-Uhlenbeck process around `rate_mean_per_h`
//! (mean reversion `rate_reversion_per_h`, volatility `rate_sigma_per_sqrt_h`), stepped
//! exactly at each context time; open interest is a log-OU around `open_interest_usd` at the
//! start price. Both draw from the coin's own context stream and from nothing else, at fixed
//! times (the start plus multiples of the interval), so the path depends only on (seed, coin,
//! configuration): the ground truth replays it without the market, and the other messages of
//! the venue are byte-identical with the context on or off.
//!
//! The mark price is the published mid at the context time (the book does not depend on the
//! context); the oracle price is the mark less the premium `rate - rate_mean_per_h` (a
//! simplified Hyperliquid: funding = premium + the interest baseline).

use super::config::FundingConfig;
use super::rng::Rng;

/// Rates on the wire are rounded to 10^-10 (units of 10^-12: a multiple of 100).
const RATE_QUANTUM: i64 = 100;
/// Mean reversion of the open interest's logarithm, per hour, and its volatility.
const OI_REVERSION_PER_H: f64 = 0.5;
const OI_SIGMA_PER_SQRT_H: f64 = 0.05;
const MS_PER_H: f64 = 3_600_000.0;

/// One coin's context process.
#[derive(Clone, Debug)]
pub struct FundingProcess {
    rng: Rng,
    /// The hourly rate (a fraction) and the log deviation of open interest.
    rate: f64,
    log_oi: f64,
    /// Contracts of open interest at the mean.
    oi_mean_base: f64,
}

/// The context at one time: the rate in units of 10^-12, open interest in base units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContextDraw {
    pub rate_units: i64,
    pub premium_units: i64,
    pub open_interest_base: f64,
}

impl FundingProcess {
    pub fn new(cfg: &FundingConfig, rng: Rng, start_px: f64) -> FundingProcess {
        FundingProcess {
            rng,
            rate: cfg.rate_mean_per_h,
            log_oi: 0.0,
            oi_mean_base: if start_px > 0.0 { cfg.open_interest_usd / start_px } else { 0.0 },
        }
    }

    /// The context now, then one step of `cfg.ctx_interval_ms` (the first context shows the
    /// starting rate, the mean).
    pub fn next(&mut self, cfg: &FundingConfig) -> ContextDraw {
        let draw = ContextDraw {
            rate_units: rate_units(self.rate),
            premium_units: rate_units(self.rate - cfg.rate_mean_per_h),
            open_interest_base: self.oi_mean_base * libm::exp(self.log_oi),
        };
        let dt_h = cfg.ctx_interval_ms as f64 / MS_PER_H;
        // The exact OU transition over dt: mean-reverting by exp(-k dt), with the stationary
        // variance's share that dt adds.
        let decay = libm::exp(-cfg.rate_reversion_per_h * dt_h);
        let sd = if cfg.rate_reversion_per_h > 0.0 {
            cfg.rate_sigma_per_sqrt_h * libm::sqrt((1.0 - decay * decay) / (2.0 * cfg.rate_reversion_per_h))
        } else {
            cfg.rate_sigma_per_sqrt_h * libm::sqrt(dt_h)
        };
        self.rate = cfg.rate_mean_per_h + (self.rate - cfg.rate_mean_per_h) * decay + sd * self.rng.normal();
        let oi_decay = libm::exp(-OI_REVERSION_PER_H * dt_h);
        let oi_sd =
            OI_SIGMA_PER_SQRT_H * libm::sqrt((1.0 - oi_decay * oi_decay) / (2.0 * OI_REVERSION_PER_H));
        self.log_oi = self.log_oi * oi_decay + oi_sd * self.rng.normal();
        draw
    }
}

/// A rate (fraction per hour) in units of 10^-12, rounded to the wire's 10^-10.
fn rate_units(rate: f64) -> i64 {
    (libm::round(rate * 1e12 / RATE_QUANTUM as f64) as i64) * RATE_QUANTUM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_reverts_to_its_mean_with_the_configured_spread() {
        let cfg = FundingConfig::default();
        let mut p = FundingProcess::new(&cfg, Rng::new(3), 93_500.0);
        // 2e6 steps of 3 s: about 1,700 h, some 800 reversion times.
        let n = 2_000_000;
        let (mut sum, mut sum2) = (0.0, 0.0);
        for _ in 0..n {
            let r = p.next(&cfg).rate_units as f64 / 1e12;
            sum += r;
            sum2 += r * r;
        }
        let mean = sum / n as f64;
        let sd = (sum2 / n as f64 - mean * mean).sqrt();
        let want_sd = cfg.rate_sigma_per_sqrt_h / (2.0 * cfg.rate_reversion_per_h).sqrt();
        assert!((mean - cfg.rate_mean_per_h).abs() < 0.15 * want_sd, "mean {mean}");
        assert!((sd / want_sd - 1.0).abs() < 0.1, "sd {sd} vs {want_sd}");
    }

    #[test]
    fn rates_are_on_the_wire_grid() {
        assert_eq!(rate_units(0.0000125), 12_500_000);
        assert_eq!(rate_units(-0.00000123456789), -1_234_600);
    }
}
