//! The market-wide volatility regime: a continuous-time Markov chain over quiet, normal and
//! volatile, with exponential dwell times. It draws from its own stream, so its path is a
//! function of (seed, configuration) alone and can be summarized before a recording is written.

use super::config::{Regime, SynthConfig};
use super::rng::Rng;

/// Stream identity of the regime path.
pub const REGIME_STREAM: u64 = 0x5245_4749_4d45; // "REGIME"

#[derive(Clone, Debug)]
pub struct RegimePath {
    rng: Rng,
    pub current: Regime,
    /// Exchange time (ms) at which the current regime ends.
    pub next_switch_ms: u64,
}

impl RegimePath {
    pub fn new(cfg: &SynthConfig, seed: u64, start_ms: u64) -> RegimePath {
        let mut p = RegimePath {
            rng: Rng::derive(seed, REGIME_STREAM),
            current: cfg.initial_regime,
            next_switch_ms: 0,
        };
        p.next_switch_ms = start_ms + p.dwell_ms(cfg);
        p
    }

    fn dwell_ms(&mut self, cfg: &SynthConfig) -> u64 {
        let c = cfg.regimes.get(self.current);
        let extra_ms = self.rng.exponential((c.mean_dwell_s - c.min_dwell_s) * 1000.0);
        (libm::round(c.min_dwell_s * 1000.0 + extra_ms) as u64).max(1)
    }

    /// Leaves the current regime at `next_switch_ms` for the next one.
    pub fn switch(&mut self, cfg: &SynthConfig) {
        let c = cfg.regimes.get(self.current);
        let u = self.rng.uniform();
        let next = if u < c.to_quiet {
            Regime::Quiet
        } else if u < c.to_quiet + c.to_normal {
            Regime::Normal
        } else {
            Regime::Volatile
        };
        // Rounding can leave a sliver of probability on the own regime: go to the likelier other.
        self.current = if next == self.current { self.likeliest_other(cfg) } else { next };
        self.next_switch_ms += self.dwell_ms(cfg);
    }

    fn likeliest_other(&self, cfg: &SynthConfig) -> Regime {
        let c = cfg.regimes.get(self.current);
        let p = [c.to_quiet, c.to_normal, c.to_volatile];
        let mut best = Regime::Normal;
        let mut best_p = -1.0;
        for r in Regime::ALL {
            if r != self.current && p[r.index()] > best_p {
                best = r;
                best_p = p[r.index()];
            }
        }
        best
    }
}
