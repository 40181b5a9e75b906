//! The pre-fill classifier of loop 2: a toxicity score in [0, 1] before each fill, from an
//! online logistic regression on standardized features, trained only on resolved 5 s
//! outcomes (`pre_fill_classifier.record_outcome(was_adverse)`).

use serde::{Deserialize, Serialize};

/// Number of features.
pub const N_FEATURES: usize = 5;

/// What the market looked like when a fill happened, oriented so that a positive value means
/// "against the side that was filled" where the feature has a direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FillFeatures {
    /// Book imbalance (bid - ask)/(bid + ask) over the top levels, times -side sign.
    pub book_imbalance: f64,
    /// Recent signed trade flow (buy - sell)/(buy + sell), times -side sign.
    pub flow_imbalance: f64,
    pub spread_bp: f64,
    /// Short-term volatility (bp per sqrt(s)).
    pub sigma_bp: f64,
    /// Distance of the filled quote from mid (bp).
    pub quote_depth_bp: f64,
}

impl FillFeatures {
    pub fn as_array(&self) -> [f64; N_FEATURES] {
        [self.book_imbalance, self.flow_imbalance, self.spread_bp, self.sigma_bp, self.quote_depth_bp]
    }
}

/// Settings (section `[classifier]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// SGD step size of the logistic regression.
    pub learning_rate: f64,
    /// L2 penalty per step.
    pub l2: f64,
    /// Resolved outcomes at which `as_progress` reaches 1.
    pub as_progress_outcomes: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig { learning_rate: 0.01, l2: 1e-4, as_progress_outcomes: 150 }
    }
}

/// Welford running mean and variance of one feature.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
struct RunningStat {
    n: f64,
    mean: f64,
    m2: f64,
    /// `sd()` as of the last `push`: every toxicity score standardizes each feature, but the
    /// statistics change only once per resolved outcome. Not state (never saved, so the
    /// checkpoint bytes stay the same); `None` after a checkpoint is loaded, and then
    /// computed on each use until the next `push`.
    #[serde(skip)]
    sd_cache: Option<f64>,
}

impl RunningStat {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
        self.sd_cache = Some(self.sd());
    }
    /// The sample standard deviation (meaningful from n = 2 on).
    fn sd(&self) -> f64 {
        libm::sqrt(self.m2 / (self.n - 1.0))
    }
    fn standardize(&self, x: f64) -> f64 {
        if self.n < 2.0 {
            return 0.0;
        }
        let sd = self.sd_cache.unwrap_or_else(|| self.sd());
        if sd > 1e-12 {
            ((x - self.mean) / sd).clamp(-5.0, 5.0)
        } else {
            0.0
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PreFillClassifier {
    cfg: ClassifierConfig,
    weights: [f64; N_FEATURES],
    stats: [RunningStat; N_FEATURES],
    pub resolved: u64,
    pub adverse: u64,
    /// Prequential Brier sums: the model's, and the running base rate's, each scored on an
    /// outcome before learning from it.
    brier_model: f64,
    brier_base: f64,
    /// `(adverse, resolved, log(p0 / (1 - p0)))` for the base rate p0 of those counts: the
    /// intercept of every toxicity score, which changes only when an outcome is recorded.
    /// Keyed on the counts (they are public), so a stale value is never used. Not state
    /// (never saved, so the checkpoint bytes stay the same); recomputed when absent.
    #[serde(skip)]
    log_odds_cache: Option<(u64, u64, f64)>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-z))
}

impl PreFillClassifier {
    pub fn new(cfg: &ClassifierConfig) -> Self {
        let mut c = PreFillClassifier {
            cfg: cfg.clone(),
            weights: [0.0; N_FEATURES],
            stats: [RunningStat::default(); N_FEATURES],
            resolved: 0,
            adverse: 0,
            brier_model: 0.0,
            brier_base: 0.0,
            log_odds_cache: None,
        };
        c.refresh_log_odds();
        c
    }

    /// The intercept: the log-odds of the base rate, by the formula.
    fn log_odds_uncached(&self) -> f64 {
        let p0 = self.base_rate();
        libm::log(p0 / (1.0 - p0))
    }

    fn refresh_log_odds(&mut self) {
        self.log_odds_cache = Some((self.adverse, self.resolved, self.log_odds_uncached()));
    }

    /// The intercept, from the cache when the counts are the ones it was computed for.
    fn log_odds(&self) -> f64 {
        match self.log_odds_cache {
            Some((a, r, v)) if a == self.adverse && r == self.resolved => v,
            _ => self.log_odds_uncached(),
        }
    }

    fn standardized(&self, f: &FillFeatures) -> [f64; N_FEATURES] {
        let x = f.as_array();
        let mut z = [0.0; N_FEATURES];
        for ((zi, s), xi) in z.iter_mut().zip(&self.stats).zip(x) {
            *zi = s.standardize(xi);
        }
        z
    }

    /// The toxicity score: probability that a fill with these features turns out adverse.
    /// Exactly 0.5 until the first outcome is recorded. The intercept is the log-odds of the
    /// (smoothed) base rate, counted exactly; SGD learns only how features move a fill away
    /// from it, so the score starts at the base rate's skill and improves from there.
    pub fn toxicity(&self, f: &FillFeatures) -> f64 {
        let z = self.standardized(f);
        let s = self.log_odds() + self.weights.iter().zip(z).map(|(w, zi)| w * zi).sum::<f64>();
        sigmoid(s)
    }

    /// The (Laplace-smoothed) share of adverse outcomes: the score of a fill the features say
    /// nothing about.
    pub fn base_rate(&self) -> f64 {
        // Laplace-smoothed, so the first prediction is 0.5.
        (self.adverse as f64 + 1.0) / (self.resolved as f64 + 2.0)
    }

    /// The seed's `record_outcome(was_adverse)`, with the features seen at fill time.
    pub fn record_outcome(&mut self, was_adverse: bool, features: &FillFeatures) {
        let y = if was_adverse { 1.0 } else { 0.0 };
        let p = self.toxicity(features);
        let p0 = self.base_rate();
        self.brier_model += (p - y) * (p - y);
        self.brier_base += (p0 - y) * (p0 - y);
        self.resolved += 1;
        self.adverse += was_adverse as u64;
        self.refresh_log_odds();
        for (s, x) in self.stats.iter_mut().zip(features.as_array()) {
            s.push(x);
        }
        let z = self.standardized(features);
        let g = y - self.toxicity(features);
        let lr = self.cfg.learning_rate;
        for (w, zi) in self.weights.iter_mut().zip(z) {
            *w += lr * (g * zi - self.cfg.l2 * *w);
        }
    }

    /// `min(1, resolved / as_progress_outcomes)`.
    pub fn as_progress(&self) -> f64 {
        (self.resolved as f64 / self.cfg.as_progress_outcomes as f64).min(1.0)
    }

    /// Brier skill score against the running base rate (0 = no skill, 1 = perfect), scored
    /// prequentially; 0 before any outcome.
    pub fn brier_skill(&self) -> f64 {
        if self.resolved == 0 || self.brier_base <= 0.0 {
            return 0.0;
        }
        1.0 - self.brier_model / self.brier_base
    }

    pub fn weights(&self) -> [f64; N_FEATURES] {
        self.weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `toxicity` as it was before the caches: every square root and the log-odds computed
    /// from the counts and sums on each call.
    fn toxicity_by_formula(c: &PreFillClassifier, f: &FillFeatures) -> f64 {
        let mut z = [0.0; N_FEATURES];
        for ((zi, s), xi) in z.iter_mut().zip(&c.stats).zip(f.as_array()) {
            *zi = if s.n < 2.0 {
                0.0
            } else {
                let sd = libm::sqrt(s.m2 / (s.n - 1.0));
                if sd > 1e-12 {
                    ((xi - s.mean) / sd).clamp(-5.0, 5.0)
                } else {
                    0.0
                }
            };
        }
        let p0 = (c.adverse as f64 + 1.0) / (c.resolved as f64 + 2.0);
        let s = libm::log(p0 / (1.0 - p0)) + c.weights.iter().zip(z).map(|(w, zi)| w * zi).sum::<f64>();
        1.0 / (1.0 + libm::exp(-s))
    }

    #[test]
    fn cached_toxicity_is_bit_identical_to_the_formula() {
        let mut c = PreFillClassifier::new(&ClassifierConfig::default());
        let f = |i: u64| FillFeatures {
            book_imbalance: ((i * 31) % 17) as f64 / 8.0 - 1.0,
            flow_imbalance: ((i * 7919) % 200) as f64 / 100.0 - 1.0,
            spread_bp: 0.5 + (i % 5) as f64 * 0.1,
            sigma_bp: 1.0 + ((i * 13) % 11) as f64 * 0.3,
            quote_depth_bp: (i % 9) as f64 * 0.25,
        };
        let probes = [f(1), f(2), f(3), FillFeatures::default()];
        for i in 0..500u64 {
            for p in &probes {
                assert_eq!(c.toxicity(p).to_bits(), toxicity_by_formula(&c, p).to_bits(), "step {i}");
            }
            c.record_outcome(f(i).flow_imbalance > 0.3 || i % 7 == 0, &f(i));
        }
        // Counts changed from outside: the keyed log-odds is not used.
        c.adverse += 3;
        c.resolved += 5;
        assert_eq!(c.toxicity(&probes[0]).to_bits(), toxicity_by_formula(&c, &probes[0]).to_bits());
        // A loaded checkpoint has no caches (they are not saved) and scores the same.
        let bytes = rmp_serde::to_vec(&c).unwrap();
        let loaded: PreFillClassifier = rmp_serde::from_slice(&bytes).unwrap();
        assert!(loaded.log_odds_cache.is_none() && loaded.stats.iter().all(|s| s.sd_cache.is_none()));
        assert_eq!(rmp_serde::to_vec(&loaded).unwrap(), bytes);
        for p in &probes {
            assert_eq!(loaded.toxicity(p).to_bits(), c.toxicity(p).to_bits());
        }
    }

    #[test]
    fn untrained_classifier_says_half_and_learns_a_signal() {
        let mut c = PreFillClassifier::new(&ClassifierConfig::default());
        let f = |x: f64| FillFeatures { flow_imbalance: x, spread_bp: 1.0, ..Default::default() };
        assert_eq!(c.toxicity(&f(0.7)), 0.5);
        // Outcome adverse exactly when flow was against us: a learnable signal.
        for i in 0..2000u64 {
            let x = ((i * 7919) % 200) as f64 / 100.0 - 1.0;
            c.record_outcome(x > 0.2, &f(x));
        }
        assert!(c.toxicity(&f(0.9)) > 0.7, "{}", c.toxicity(&f(0.9)));
        assert!(c.toxicity(&f(-0.9)) < 0.3);
        assert!(c.brier_skill() > 0.3, "skill {}", c.brier_skill());
        assert_eq!(c.as_progress(), 1.0);
    }
}
