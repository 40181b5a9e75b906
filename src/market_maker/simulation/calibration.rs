//! Loop 3: the `CalibrationController`. `cal_progress = (as_progress + kappa_progress) / 2`
//! drives `cal_gamma` from `gamma_start` (fill-hungry, tight spreads) toward `gamma_end`,
//! rate-limited, and frozen while the regime is volatile.

use serde::{Deserialize, Serialize};

/// Settings (section `[calibration]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalibrationConfig {
    pub gamma_start: f64,
    pub gamma_end: f64,
    /// The most `cal_gamma` may move per minute of event time.
    pub max_gamma_rate_per_min: f64,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig { gamma_start: 0.3, gamma_end: 1.0, max_gamma_rate_per_min: 0.05 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CalibrationController {
    cfg: CalibrationConfig,
    cal_progress: f64,
    cal_gamma: f64,
    last_update_ns: Option<u64>,
}

impl CalibrationController {
    pub fn new(cfg: &CalibrationConfig) -> Self {
        CalibrationController {
            cfg: cfg.clone(),
            cal_progress: 0.0,
            cal_gamma: cfg.gamma_start,
            last_update_ns: None,
        }
    }

    /// Feeds the two progress measures at event time `now_ns`.
    pub fn update(&mut self, now_ns: u64, kappa_confidence: f64, as_progress: f64, volatile: bool) {
        let kappa_progress = kappa_confidence;
        self.cal_progress = ((as_progress + kappa_progress) / 2.0).clamp(0.0, 1.0);
        let dt_ns = self.last_update_ns.map_or(0, |t| now_ns.saturating_sub(t));
        self.last_update_ns = Some(now_ns);
        if volatile {
            return;
        }
        let target = self.cfg.gamma_start + (self.cfg.gamma_end - self.cfg.gamma_start) * self.cal_progress;
        let max_step = self.cfg.max_gamma_rate_per_min * dt_ns as f64 / 60e9;
        let step = (target - self.cal_gamma).clamp(-max_step, max_step);
        self.cal_gamma += step;
    }

    pub fn cal_progress(&self) -> f64 {
        self.cal_progress
    }

    pub fn cal_gamma(&self) -> f64 {
        self.cal_gamma
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_rises_rate_limited_and_freezes_when_volatile() {
        let mut c = CalibrationController::new(&CalibrationConfig::default());
        assert_eq!(c.cal_gamma(), 0.3);
        c.update(0, 1.0, 1.0, false);
        c.update(60_000_000_000, 1.0, 1.0, false);
        assert!((c.cal_gamma() - 0.35).abs() < 1e-12);
        assert_eq!(c.cal_progress(), 1.0);
        c.update(120_000_000_000, 1.0, 1.0, true);
        assert!((c.cal_gamma() - 0.35).abs() < 1e-12);
        for m in 3..60 {
            c.update(m * 60_000_000_000, 1.0, 1.0, false);
        }
        assert!((c.cal_gamma() - 1.0).abs() < 1e-12);
    }
}
