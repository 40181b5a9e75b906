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
}

impl RunningStat {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }
    fn standardize(&self, x: f64) -> f64 {
        if self.n < 2.0 {
            return 0.0;
        }
        let sd = libm::sqrt(self.m2 / (self.n - 1.0));
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
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-z))
}

impl PreFillClassifier {
    pub fn new(cfg: &ClassifierConfig) -> Self {
        PreFillClassifier {
            cfg: cfg.clone(),
            weights: [0.0; N_FEATURES],
            stats: [RunningStat::default(); N_FEATURES],
            resolved: 0,
            adverse: 0,
            brier_model: 0.0,
            brier_base: 0.0,
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
        let p0 = self.base_rate();
        let s = libm::log(p0 / (1.0 - p0)) + self.weights.iter().zip(z).map(|(w, zi)| w * zi).sum::<f64>();
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
