//! Regime detection: the ratio R = sigma_fast / sigma_slow of EWMA volatilities of 1 s log mid
//! returns, with hysteresis bands, a minimum dwell and a jump override (`MODELS.md`).

use serde::{Deserialize, Serialize};

/// The volatility regime the detector reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Regime {
    Quiet,
    #[default]
    Normal,
    Volatile,
}

/// Settings (section `[regime]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegimeConfig {
    pub fast_half_life_s: f64,
    pub slow_half_life_s: f64,
    pub enter_volatile: f64,
    pub leave_volatile: f64,
    pub enter_quiet: f64,
    pub leave_quiet: f64,
    pub min_dwell_s: f64,
    /// A single 1 s return beyond this many slow sigmas switches to volatile at once.
    pub jump_sigmas: f64,
    /// Seconds of returns before the slow estimate is trusted and regimes may change.
    pub warmup_s: f64,
}

impl Default for RegimeConfig {
    fn default() -> Self {
        RegimeConfig {
            fast_half_life_s: 45.0,
            slow_half_life_s: 2700.0,
            enter_volatile: 2.0,
            leave_volatile: 1.4,
            enter_quiet: 0.6,
            leave_quiet: 0.8,
            min_dwell_s: 60.0,
            jump_sigmas: 8.0,
            warmup_s: 120.0,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegimeDetector {
    cfg: RegimeConfig,
    fast_decay: f64,
    slow_decay: f64,
    /// Unnormalised EWMA sums; `w_*` is the weight they have accumulated (1 - decay^seconds),
    /// so `var_* / w_*` is an unbiased average from the first second on rather than one pulled
    /// towards the start value.
    var_fast: f64,
    var_slow: f64,
    w_fast: f64,
    w_slow: f64,
    seconds: u64,
    regime: Regime,
    /// Seconds of returns seen when the regime last changed.
    changed_at_s: u64,
    pub changes: u64,
    ratio_min: f64,
    ratio_max: f64,
}

impl RegimeDetector {
    pub fn new(cfg: &RegimeConfig) -> Self {
        RegimeDetector {
            cfg: cfg.clone(),
            fast_decay: libm::exp2(-1.0 / cfg.fast_half_life_s),
            slow_decay: libm::exp2(-1.0 / cfg.slow_half_life_s),
            var_fast: 0.0,
            var_slow: 0.0,
            w_fast: 0.0,
            w_slow: 0.0,
            seconds: 0,
            regime: Regime::Normal,
            changed_at_s: 0,
            changes: 0,
            ratio_min: f64::INFINITY,
            ratio_max: 0.0,
        }
    }

    pub fn regime(&self) -> Regime {
        self.regime
    }

    /// Bias-corrected fast and slow variances (bp^2 per second); 0 before any return.
    fn variances(&self) -> (f64, f64) {
        let norm = |v: f64, w: f64| if w > 0.0 { v / w } else { 0.0 };
        (norm(self.var_fast, self.w_fast), norm(self.var_slow, self.w_slow))
    }

    /// sigma_fast / sigma_slow (1 before any variance).
    pub fn ratio(&self) -> f64 {
        let (fast, slow) = self.variances();
        if slow > 0.0 {
            libm::sqrt(fast / slow)
        } else {
            1.0
        }
    }

    /// The range of the ratio seen after warm-up, for the checklist's diagnosis.
    pub fn ratio_range(&self) -> Option<(f64, f64)> {
        (self.ratio_max > 0.0).then_some((self.ratio_min, self.ratio_max))
    }

    /// One return of `r_bp` spanning `k` seconds. Returns the new regime when it changed.
    pub fn on_return(&mut self, r_bp: f64, k: u64) -> Option<(Regime, Regime)> {
        let k = k.max(1);
        let per_s = r_bp * r_bp / k as f64;
        let slow = self.variances().1;
        let jump = self.seconds as f64 >= self.cfg.warmup_s
            && slow > 0.0
            && r_bp * r_bp > self.cfg.jump_sigmas * self.cfg.jump_sigmas * slow * k as f64;
        let (df, ds) = (libm::pow(self.fast_decay, k as f64), libm::pow(self.slow_decay, k as f64));
        // Seeding both EWMAs with the first return (often 0 in a calm, tick-quantised market)
        // left the slow one near 0 for most of its 45 min half-life, so R read ~5 after
        // warm-up and a calm market sat in volatile: normalise by the weight instead.
        self.var_fast = self.var_fast * df + (1.0 - df) * per_s;
        self.var_slow = self.var_slow * ds + (1.0 - ds) * per_s;
        self.w_fast = self.w_fast * df + (1.0 - df);
        self.w_slow = self.w_slow * ds + (1.0 - ds);
        self.seconds += k;
        if (self.seconds as f64) < self.cfg.warmup_s {
            return None;
        }
        let r = self.ratio();
        self.ratio_min = self.ratio_min.min(r);
        self.ratio_max = self.ratio_max.max(r);
        let dwell_ok = (self.seconds - self.changed_at_s) as f64 >= self.cfg.min_dwell_s;
        let c = &self.cfg;
        let next = match self.regime {
            _ if jump && self.regime != Regime::Volatile => Regime::Volatile,
            Regime::Normal if r > c.enter_volatile => Regime::Volatile,
            Regime::Normal if r < c.enter_quiet => Regime::Quiet,
            Regime::Volatile if r < c.leave_volatile => Regime::Normal,
            Regime::Quiet if r > c.enter_volatile => Regime::Volatile,
            Regime::Quiet if r > c.leave_quiet => Regime::Normal,
            other => other,
        };
        if next != self.regime && (dwell_ok || jump) {
            let from = self.regime;
            self.regime = next;
            self.changed_at_s = self.seconds;
            self.changes += 1;
            return Some((from, next));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatility_burst_enters_and_leaves_volatile_with_hysteresis() {
        let mut d = RegimeDetector::new(&RegimeConfig::default());
        let mut seen = vec![];
        let mut feed = |d: &mut RegimeDetector, sigma: f64, n: u64| {
            for i in 0..n {
                let r = if i % 2 == 0 { sigma } else { -sigma };
                if let Some((_, to)) = d.on_return(r, 1) {
                    seen.push(to);
                }
            }
        };
        feed(&mut d, 1.0, 900);
        feed(&mut d, 4.0, 300);
        feed(&mut d, 1.0, 900);
        feed(&mut d, 0.2, 900);
        assert_eq!(seen.first(), Some(&Regime::Volatile), "{seen:?}");
        assert!(seen.contains(&Regime::Normal), "{seen:?}");
        assert!(seen.contains(&Regime::Quiet), "{seen:?}");
        assert_eq!(d.changes as usize, seen.len());
    }

    #[test]
    fn calm_tick_quantised_market_does_not_stay_volatile() {
        // Postmortem: EWMAs seeded from a first return of 0 kept sigma_slow tiny for ~45 min,
        // so a calm market entered volatile after warm-up and stayed there (cal_gamma froze).
        let mut d = RegimeDetector::new(&RegimeConfig::default());
        let mut volatile_s = 0;
        for i in 0u64..1800 {
            // Mostly flat seconds, a one-tick move (0.25 bp) every few seconds.
            let r = match i % 7 {
                3 => 0.25,
                5 => -0.25,
                _ => 0.0,
            };
            d.on_return(r, 1);
            if d.regime() == Regime::Volatile {
                volatile_s += 1;
            }
        }
        assert_eq!(volatile_s, 0, "a calm market entered volatile (ratio {})", d.ratio());
        assert_ne!(d.regime(), Regime::Volatile);
    }

    #[test]
    fn a_steady_market_stays_normal() {
        let mut d = RegimeDetector::new(&RegimeConfig::default());
        for i in 0..3600 {
            assert!(d.on_return(if i % 2 == 0 { 1.0 } else { -1.0 }, 1).is_none());
        }
        assert_eq!(d.regime(), Regime::Normal);
    }
}
