//! The session's fills scored against the exact queue's: counts, volumes, the per-order
//! confusion, time to fill, 5 s markouts and PnL, and the flat model's fill probability
//! fitted to the truth.

use super::replay::ReplayResult;
use crate::types::{Side, SCALE};
use serde::Serialize;

/// Markout horizon, s.
pub const MARKOUT_S: u64 = 5;

/// Orders by (simulated fill?, true fill?).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Filled in the session and in the exact queue.
    pub both: u64,
    /// Filled in the session only: the model's false fills.
    pub simulated_only: u64,
    /// Filled in the exact queue only: fills the model missed.
    pub true_only: u64,
    pub neither: u64,
}

/// Time from going live to the first fill, for orders filled both ways (ms).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TimeToFill {
    pub orders: u64,
    pub simulated_mean_ms: Option<f64>,
    pub true_mean_ms: Option<f64>,
    /// Simulated minus true: negative when the model fills too early.
    pub mean_error_ms: Option<f64>,
    pub median_error_ms: Option<f64>,
    pub mean_abs_error_ms: Option<f64>,
}

/// Mean 5 s markout of the fills, bp of the fill price, positive in our favour; each side
/// uses the exact queue's mid. Fills within 5 s of the recording's end are left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Markouts {
    pub simulated_bp: Option<f64>,
    pub true_bp: Option<f64>,
    /// Simulated minus true.
    pub difference_bp: Option<f64>,
    pub simulated_fills: u64,
    pub true_fills: u64,
}

/// PnL of the fills marked at the exact queue's last mid, net of fees at the session's
/// own fee rate, quote currency.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Pnl {
    pub simulated: f64,
    #[serde(rename = "true")]
    pub truth: f64,
    /// Simulated minus true.
    pub difference: f64,
    /// The session's fees over its filled notional, bp (negative: a rebate).
    pub fee_rate_bp: f64,
}

/// The flat model's `fill_prob_base` that matches the exact queue: of the trades at exactly
/// an order's price (not through it) while it was live, the share that reached it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FillProbFit {
    pub at_price_trades: u64,
    pub reached: u64,
    pub fill_prob_base: Option<f64>,
    /// Binomial standard error.
    pub standard_error: Option<f64>,
}

/// Orders left out of the scoring, by why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Excluded {
    /// Cancelled before going live, or rejected post-only in the session.
    pub never_live: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QueueTruthReport {
    /// Orders scored: live for some time in the session.
    pub orders: u64,
    /// Orders with any fill in the session.
    pub simulated_fills: u64,
    /// Orders with any fill in the exact queue.
    pub true_fills: u64,
    /// simulated_fills / true_fills (null when the queue filled nothing).
    pub fill_ratio: Option<f64>,
    /// Filled size, base units.
    pub simulated_volume: f64,
    pub true_volume: f64,
    /// simulated_volume / true_volume.
    pub fill_ratio_volume: Option<f64>,
    pub confusion: Confusion,
    /// Orders the exact queue rejected as post-only when they went live (the session did not).
    pub true_post_only_rejects: u64,
    pub time_to_fill: TimeToFill,
    pub markout_5s: Markouts,
    pub pnl: Pnl,
    pub fit: FillProbFit,
    pub excluded: Excluded,
    /// Order-level events naming an order the stream never added (0 for a sound stream).
    pub stream_unknown_orders: u64,
    pub stream_duplicate_orders: u64,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// Scores a finished replay. `sim_fees` is the session's total fee (units of 10^-8 of quote,
/// negative = rebate) over the fills of `result.orders`, for the fee rate.
pub fn score(result: &ReplayResult, sim_fees: i64, excluded: Excluded) -> QueueTruthReport {
    let mut r = QueueTruthReport { excluded, ..QueueTruthReport::default() };
    let (mut sim_vol, mut true_vol) = (0i64, 0i64);
    let mut errors = Vec::new();
    let (mut sim_ttf, mut true_ttf) = (Vec::new(), Vec::new());
    let (mut sim_mo, mut true_mo) = (Vec::new(), Vec::new());
    let (mut sim_notional, mut sim_pnl, mut true_pnl, mut true_notional) = (0.0, 0.0, 0.0, 0.0);
    for (o, t) in result.orders.iter().zip(&result.outcomes) {
        if o.end_at <= o.live_at {
            continue;
        }
        r.orders += 1;
        r.true_post_only_rejects += u64::from(t.rejected_post_only);
        let sim_filled = !o.sim_fills.is_empty();
        let true_filled = !t.fills.is_empty();
        r.simulated_fills += u64::from(sim_filled);
        r.true_fills += u64::from(true_filled);
        match (sim_filled, true_filled) {
            (true, true) => r.confusion.both += 1,
            (true, false) => r.confusion.simulated_only += 1,
            (false, true) => r.confusion.true_only += 1,
            (false, false) => r.confusion.neither += 1,
        }
        if let (Some(s), Some(q)) = (o.sim_fills.first(), t.fills.first()) {
            let s_ms = s.0.saturating_sub(o.live_at) as f64 / 1e6;
            let q_ms = q.0.saturating_sub(o.live_at) as f64 / 1e6;
            sim_ttf.push(s_ms);
            true_ttf.push(q_ms);
            errors.push(s_ms - q_ms);
        }
        let last = result.mids.last(&o.coin);
        let px = o.px as f64;
        let sign = match o.side {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        };
        let book =
            |fills: &[(u64, i64)], vol: &mut i64, mo: &mut Vec<f64>, pnl: &mut f64, notional: &mut f64| {
                for &(t, sz) in fills {
                    *vol += sz;
                    let q = sz as f64 / SCALE as f64;
                    *notional += q * px / SCALE as f64;
                    if let Some(m5) = result.mids.at(&o.coin, t + MARKOUT_S * 1_000_000_000) {
                        mo.push(sign * (m5 - px) / px * 1e4);
                    }
                    if let Some(m) = last {
                        *pnl += sign * q * (m - px) / SCALE as f64;
                    }
                }
            };
        book(&o.sim_fills, &mut sim_vol, &mut sim_mo, &mut sim_pnl, &mut sim_notional);
        book(&t.fills, &mut true_vol, &mut true_mo, &mut true_pnl, &mut true_notional);
    }
    r.fill_ratio = ratio(r.simulated_fills as f64, r.true_fills as f64);
    r.simulated_volume = sim_vol as f64 / SCALE as f64;
    r.true_volume = true_vol as f64 / SCALE as f64;
    r.fill_ratio_volume = ratio(sim_vol as f64, true_vol as f64);
    r.time_to_fill = TimeToFill {
        orders: errors.len() as u64,
        simulated_mean_ms: mean(&sim_ttf),
        true_mean_ms: mean(&true_ttf),
        mean_error_ms: mean(&errors),
        mean_abs_error_ms: mean(&errors.iter().map(|e| e.abs()).collect::<Vec<_>>()),
        median_error_ms: median(&mut errors),
    };
    let (s, q) = (mean(&sim_mo), mean(&true_mo));
    r.markout_5s = Markouts {
        simulated_bp: s,
        true_bp: q,
        difference_bp: s.zip(q).map(|(a, b)| a - b),
        simulated_fills: sim_mo.len() as u64,
        true_fills: true_mo.len() as u64,
    };
    let fee_rate = if sim_notional > 0.0 { sim_fees as f64 / SCALE as f64 / sim_notional } else { 0.0 };
    let sim_net = sim_pnl - fee_rate * sim_notional;
    let true_net = true_pnl - fee_rate * true_notional;
    r.pnl = Pnl {
        simulated: sim_net,
        truth: true_net,
        difference: sim_net - true_net,
        fee_rate_bp: fee_rate * 1e4,
    };
    let n = result.at_price_trades;
    let p = ratio(result.at_price_reached as f64, n as f64);
    r.fit = FillProbFit {
        at_price_trades: n,
        reached: result.at_price_reached,
        fill_prob_base: p,
        standard_error: p.map(|p| libm::sqrt(p * (1.0 - p) / n as f64)),
    };
    r.stream_unknown_orders = result.issues.unknown_order;
    r.stream_duplicate_orders = result.issues.duplicate_order;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
    }
}
