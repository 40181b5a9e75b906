//! The seed's validation checklist with `MODELS.md`'s exact thresholds. The engine gathers
//! [`ChecklistInputs`] as it runs (so a resumed run reports the same), and [`evaluate`] turns
//! them into one [`ChecklistItem`] per item with a diagnosis naming the seed's likely root
//! cause. `validate` (the report side) reuses `evaluate`.

use serde::{Deserialize, Serialize};

/// The window the checklist looks at: the first 30 minutes of event time.
pub const WINDOW_NS: u64 = 30 * 60 * 1_000_000_000;
/// A minute counts toward the fill rate when it saw at least this many market trades.
pub const ACTIVE_MINUTE_TRADES: u64 = 10;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChecklistInputs {
    /// Per minute of the window: market trades of the traded coins, and our fills.
    pub trades_per_minute: Vec<u64>,
    pub fills_per_minute: Vec<u64>,
    /// `kappa_confidence` of the first traded coin at its first and last snapshot in the window.
    pub kappa_confidence_first: Option<f64>,
    pub kappa_confidence_last: Option<f64>,
    /// Largest `calibration_progress` seen in the window.
    pub calibration_progress: f64,
    /// realized + unrealized at the end (units of 10^-8 quote), and whether the PnL identity
    /// held at every check.
    pub pnl_total: i64,
    pub pnl_identity_held: bool,
    /// Fills in the window and how many of them got a resolved 5 s outcome.
    pub window_fills: u64,
    pub window_resolved: u64,
    pub regime_changes: u64,
    /// Range of sigma_fast / sigma_slow seen, for the calm-market diagnosis.
    pub vol_ratio_range: Option<(f64, f64)>,
    pub checkpoints: u64,
    pub checkpoint_interval_ns: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// Stable item names, shared by `summary.json`'s `checklist` and `validate`.
pub const FILLS_OCCURRING: &str = "fills_occurring";
pub const KAPPA_CONFIDENCE_INCREASING: &str = "kappa_confidence_increasing";
pub const CALIBRATION_PROGRESS: &str = "calibration_progress_positive";
pub const PNL_TRACKING: &str = "pnl_tracking";
pub const AS_OUTCOMES_RECORDED: &str = "as_outcomes_recorded";
pub const REGIME_UPDATING: &str = "regime_detection_updating";
pub const CHECKPOINTS: &str = "checkpoints_every_5_min";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// A stable identifier (one of the constants above).
    pub name: String,
    /// The seed's wording of the item.
    pub label: String,
    pub pass: bool,
    pub value: String,
    pub diagnosis: String,
}

fn item((name, label): (&str, &str), pass: bool, value: String, diagnosis: &str) -> ChecklistItem {
    ChecklistItem {
        name: name.to_string(),
        label: label.to_string(),
        pass,
        value,
        diagnosis: if pass { String::new() } else { diagnosis.to_string() },
    }
}

/// One item per line of the seed's checklist.
pub fn evaluate(c: &ChecklistInputs) -> Vec<ChecklistItem> {
    let mut items = Vec::with_capacity(7);

    let active: Vec<usize> =
        (0..c.trades_per_minute.len()).filter(|&m| c.trades_per_minute[m] >= ACTIVE_MINUTE_TRADES).collect();
    let active_fills: u64 = active.iter().map(|&m| c.fills_per_minute.get(m).copied().unwrap_or(0)).sum();
    let rate = if active.is_empty() { 0.0 } else { active_fills as f64 / active.len() as f64 };
    items.push(item(
        (FILLS_OCCURRING, "fills occurring"),
        !active.is_empty() && rate >= 1.0,
        format!("{rate:.2} fills/min over {} active minutes", active.len()),
        if active.is_empty() {
            "no minute had 10 market trades: the market was inactive, so fills cannot be judged"
        } else {
            "zero or few fills: compute_fill_probability() likely uses the real L2 depth for queue \
             position; set fill_sim.ignore_book_depth = true (flat queue model), or raise fill_prob_base"
        },
    ));

    let (first, last) = (c.kappa_confidence_first.unwrap_or(0.0), c.kappa_confidence_last.unwrap_or(0.0));
    items.push(item(
        (KAPPA_CONFIDENCE_INCREASING, "kappa_confidence increasing from 0"),
        last > 0.0 && last > first,
        format!("{first:.3} -> {last:.3}"),
        "kappa stuck at the prior: estimator.on_own_fill() is not called from on_simulated_fill(), \
         or too few fills (fewer than estimator.min_fills) reached the estimator",
    ));

    items.push(item(
        (CALIBRATION_PROGRESS, "calibration_progress > 0"),
        c.calibration_progress > 0.0,
        format!("{:.3}", c.calibration_progress),
        "CalibrationController not instantiated or not fed kappa_confidence and as_progress",
    ));

    items.push(item(
        (PNL_TRACKING, "PnL tracking working"),
        c.pnl_total != 0 && c.pnl_identity_held,
        format!(
            "realized + unrealized = {}, identity {}",
            crate::types::format_fixed(c.pnl_total),
            if c.pnl_identity_held { "holds" } else { "BROKEN" }
        ),
        if c.pnl_identity_held {
            "realized + unrealized is exactly 0: no fills reached the position"
        } else {
            "cash + position value != starting equity + realized + unrealized - fees: position accounting is wrong"
        },
    ));

    let need = c.window_fills.div_ceil(2);
    items.push(item(
        (AS_OUTCOMES_RECORDED, "adverse selection outcomes recorded"),
        c.window_fills > 0 && c.window_resolved >= need,
        format!("{} resolved of {} fills", c.window_resolved, c.window_fills),
        if c.window_fills == 0 {
            "no fills, so no outcomes"
        } else {
            "PendingFillOutcome deque not checked in update_mid(), or feed gaps dropped the outcomes: \
             pre_fill_classifier.record_outcome() gets no data and toxicity stays 0.5"
        },
    ));

    let range =
        c.vol_ratio_range.map_or("no returns".to_string(), |(lo, hi)| format!("ratio {lo:.2}..{hi:.2}"));
    items.push(item(
        (REGIME_UPDATING, "regime detection updating"),
        c.regime_changes >= 1,
        format!("{} changes, {range}", c.regime_changes),
        &format!(
            "no regime change: the market was calm (volatility ratio sigma_fast/sigma_slow stayed in {range}, \
             inside the hysteresis bands 0.6..2.0), or the detector is not fed mid returns"
        ),
    ));

    let span = c.last_ns.saturating_sub(c.first_ns);
    let expected = span.checked_div(c.checkpoint_interval_ns).unwrap_or(0);
    items.push(item(
        (CHECKPOINTS, "checkpoint saves occurring"),
        c.checkpoints >= expected && (expected > 0 || span < c.checkpoint_interval_ns),
        format!("{} of {expected} expected", c.checkpoints),
        "checkpoints missing: the session is shorter than the checkpoint interval, or a feed gap skipped intervals",
    ));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> ChecklistInputs {
        ChecklistInputs {
            trades_per_minute: vec![20; 30],
            fills_per_minute: vec![2; 30],
            kappa_confidence_first: Some(0.0),
            kappa_confidence_last: Some(0.4),
            calibration_progress: 0.3,
            pnl_total: 5,
            pnl_identity_held: true,
            window_fills: 60,
            window_resolved: 58,
            regime_changes: 2,
            vol_ratio_range: Some((0.5, 2.5)),
            checkpoints: 6,
            checkpoint_interval_ns: 300_000_000_000,
            first_ns: 0,
            last_ns: 1_800_000_000_000,
        }
    }

    #[test]
    fn all_items_pass_on_a_healthy_session() {
        let items = evaluate(&good());
        assert_eq!(items.len(), 7);
        assert!(items.iter().all(|i| i.pass), "{items:?}");
    }

    #[test]
    fn each_failure_has_a_diagnosis() {
        let mut c = good();
        c.fills_per_minute = vec![0; 30];
        c.kappa_confidence_last = Some(0.0);
        c.calibration_progress = 0.0;
        c.pnl_total = 0;
        c.window_resolved = 10;
        c.regime_changes = 0;
        c.checkpoints = 4;
        let items = evaluate(&c);
        assert!(items.iter().all(|i| !i.pass && !i.diagnosis.is_empty()), "{items:?}");
        assert!(items[5].diagnosis.contains("calm"));
    }
}
