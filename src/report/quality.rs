//! Quote quality and markouts at report horizons: what the session runner measures from the
//! engine's outputs and a read-only view of each coin after every input
//! ([`crate::engine::coin::CoinState::quote_view`]), for `summary.json` and the report. It is
//! derived data: nothing here is journaled, so no output digest depends on it.
//!
//! Time-weighted figures give the state after an input the time until the next input. A
//! markout at horizon `h` of a fill at `t` (receive time of the input that filled us) is the
//! move of the coin's mid from the fill's reference mid to the last mid at or before `t + h`,
//! in bp, positive in the fill's favour; it is dropped when the coin's book was invalid then,
//! and still pending when the session ends before `t + h`.
//!
//! Distributions: quantiles interpolate linearly between closest ranks (`q (n - 1)`), the
//! histogram has 20 equal bins over `[min, max]` (one bin when all values are equal), and the
//! toxicity buckets are quintiles of the session's fills ranked by their pre-fill toxicity
//! (ties by fill order): the `k`-th of `n` fills is in quintile `floor(5 k / n) + 1`.

use crate::engine::coin::QuoteView;
use crate::engine::io::{FillKind, Output};
use crate::types::{Side, Timestamp, SCALE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The default `outcome.report_horizons_ms`.
pub const DEFAULT_HORIZONS_MS: [u64; 6] = [100, 500, 1_000, 5_000, 30_000, 60_000];
/// Histogram bins of the per-fill markout distribution.
pub const HISTOGRAM_BINS: usize = 20;
/// The most time bins of the series over time: longer sessions get wider bins.
pub const MAX_TIME_BINS: u64 = 2_000;
/// Bound on the fills remembered for their markouts (a session beyond it keeps the first).
pub const MAX_FILLS: usize = 1 << 22;
const NS_PER_MIN: u64 = 60_000_000_000;

/// Summary statistics of markouts (bp, positive = in the fill's favour).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MarkoutStats {
    pub n: u64,
    pub mean_bp: Option<f64>,
    pub min_bp: Option<f64>,
    pub p10_bp: Option<f64>,
    pub p25_bp: Option<f64>,
    pub median_bp: Option<f64>,
    pub p75_bp: Option<f64>,
    pub p90_bp: Option<f64>,
    pub max_bp: Option<f64>,
    /// Share of markouts below 0 (the mid moved against the fill).
    pub share_against: Option<f64>,
}

impl MarkoutStats {
    pub fn of(values: &[f64]) -> MarkoutStats {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return MarkoutStats::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let q = |p: f64| Some(quantile_sorted(&v, p));
        MarkoutStats {
            n: n as u64,
            mean_bp: Some(v.iter().sum::<f64>() / n as f64),
            min_bp: Some(v[0]),
            p10_bp: q(0.10),
            p25_bp: q(0.25),
            median_bp: q(0.5),
            p75_bp: q(0.75),
            p90_bp: q(0.90),
            max_bp: Some(v[n - 1]),
            share_against: Some(v.iter().filter(|x| **x < 0.0).count() as f64 / n as f64),
        }
    }
}

/// The `p`-quantile of sorted values, linear between closest ranks.
pub fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = p.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// A histogram: `counts[i]` values in `[edges_bp[i], edges_bp[i + 1])` (the last bin closed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub edges_bp: Vec<f64>,
    pub counts: Vec<u64>,
}

impl Histogram {
    pub fn of(values: &[f64]) -> Histogram {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let Some(min) = v.iter().copied().reduce(f64::min) else { return Histogram::default() };
        let max = v.iter().copied().fold(min, f64::max);
        if max <= min {
            return Histogram { edges_bp: vec![min, max], counts: vec![v.len() as u64] };
        }
        let width = (max - min) / HISTOGRAM_BINS as f64;
        let edges_bp = (0..=HISTOGRAM_BINS).map(|i| min + width * i as f64).collect();
        let mut counts = vec![0u64; HISTOGRAM_BINS];
        for x in v {
            let i = (((x - min) / width) as usize).min(HISTOGRAM_BINS - 1);
            counts[i] += 1;
        }
        Histogram { edges_bp, counts }
    }
}

/// One toxicity quintile's markouts at one horizon.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToxicityBucket {
    /// 1 (least toxic fifth of the fills) to 5.
    pub quintile: u8,
    /// The lowest and highest pre-fill toxicity of the bucket's fills.
    pub toxicity_from: f64,
    pub toxicity_to: f64,
    #[serde(flatten)]
    pub stats: MarkoutStats,
}

/// Markouts at one horizon: all fills, by side, by toxicity quintile, and their distribution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HorizonMarkouts {
    pub horizon_ms: u64,
    /// Markouts not measured: the book was invalid at the horizon.
    pub dropped: u64,
    /// Fills younger than the horizon at the session's end.
    pub pending: u64,
    pub all: MarkoutStats,
    pub buy: MarkoutStats,
    pub sell: MarkoutStats,
    pub by_toxicity: Vec<ToxicityBucket>,
    pub histogram: Histogram,
}

/// Fills by how they filled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FillsByKind {
    pub trade_through: u64,
    pub book_cross: u64,
    pub trade_at_price: u64,
}

/// Figures over time, one value per time bin (`bin_minutes` wide, from the session's start);
/// `None` where a bin had no time with a valid book (or no two-sided quote, for the quoted
/// spread).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QualitySeries {
    pub bin_minutes: u64,
    /// Start of each bin, minutes from the session's start.
    pub minute: Vec<f64>,
    pub quoted_spread_bp: Vec<Option<f64>>,
    pub market_spread_bp: Vec<Option<f64>>,
    pub time_at_touch: Vec<Option<f64>>,
    pub quote_uptime: Vec<Option<f64>>,
    /// The most margin used in the bin (share of equity).
    pub margin_use: Vec<Option<f64>>,
    /// Gross position in USD (sum over coins of |position| x mark) at the bin's last input.
    pub position_usd: Vec<f64>,
    /// Net PnL (USD, all coins) at the bin's last input.
    pub net_pnl: Vec<f64>,
}

/// What `summary.json` carries of quote quality (flattened into it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Net PnL (USD) over the session's span in hours; `None` for a zero span.
    #[serde(default)]
    pub pnl_per_hour: Option<f64>,
    /// Mean over standard deviation of the per-minute changes of the net PnL, times sqrt(60):
    /// an hourly Sharpe ratio (no risk-free rate); `None` with fewer than 2 changes or none
    /// varying.
    #[serde(default)]
    pub pnl_hourly_sharpe: Option<f64>,
    /// Signed position in USD at the end (position x mark), per coin.
    #[serde(default)]
    pub position_usd: BTreeMap<String, f64>,
    /// The largest gross position in USD (sum over coins of |position| x mark) after any input.
    #[serde(default)]
    pub max_position_usd: f64,
    /// Initial margin required over equity: time-weighted mean, maximum, and at the end.
    #[serde(default)]
    pub margin_use_mean: Option<f64>,
    #[serde(default)]
    pub margin_use_max: Option<f64>,
    #[serde(default)]
    pub margin_use_end: Option<f64>,
    /// Time-weighted mean of our quoted spread (best ask - best bid over the mid, bp) while
    /// we quoted both sides, and of the market's (touch ask - touch bid) while the book was valid.
    #[serde(default)]
    pub quoted_spread_bp: Option<f64>,
    #[serde(default)]
    pub market_spread_bp: Option<f64>,
    /// Share of the time with a valid book that our best quote stood at the touch price,
    /// averaged over both sides; and by side.
    #[serde(default)]
    pub time_at_touch: Option<f64>,
    #[serde(default)]
    pub time_at_touch_bid: Option<f64>,
    #[serde(default)]
    pub time_at_touch_ask: Option<f64>,
    /// Share of the time with a valid book that we quoted both sides.
    #[serde(default)]
    pub quote_uptime: Option<f64>,
    /// Orders placed per fill (`None` without fills).
    #[serde(default)]
    pub order_to_trade: Option<f64>,
    #[serde(default)]
    pub fills_by_kind: FillsByKind,
    #[serde(default)]
    pub markouts_by_horizon: Vec<HorizonMarkouts>,
    #[serde(default)]
    pub quality_over_time: QualitySeries,
}

/// One fill remembered for its markouts.
#[derive(Clone, Debug)]
struct FillRec {
    coin: usize,
    side: Side,
    mid: f64,
    toxicity: f64,
    /// Per horizon: the markout (bp), or `Err(true)` dropped, `Err(false)` pending.
    markouts: Vec<Result<f64, bool>>,
}

/// Time accumulators (ns, and bp x ns).
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    valid_ns: u128,
    two_sided_ns: u128,
    touch_bid_ns: u128,
    touch_ask_ns: u128,
    quoted_ns: u128,
    quoted_bp_ns: f64,
    market_ns: u128,
    market_bp_ns: f64,
    margin_ns: u128,
    margin_use_ns: f64,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.valid_ns += o.valid_ns;
        self.two_sided_ns += o.two_sided_ns;
        self.touch_bid_ns += o.touch_bid_ns;
        self.touch_ask_ns += o.touch_ask_ns;
        self.quoted_ns += o.quoted_ns;
        self.quoted_bp_ns += o.quoted_bp_ns;
        self.market_ns += o.market_ns;
        self.market_bp_ns += o.market_bp_ns;
        self.margin_ns += o.margin_ns;
        self.margin_use_ns += o.margin_use_ns;
    }
}

/// One time bin: its accumulators, the most margin used, and the state at its last input.
#[derive(Clone, Copy, Debug, Default)]
struct Bin {
    acc: Acc,
    margin_max: Option<f64>,
    gross_usd: f64,
    net: f64,
}

fn ratio(num: u128, den: u128) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn bp(a: i64, b: i64, mid: i64) -> f64 {
    (a - b) as f64 / mid as f64 * 1e4
}

/// Follows a session input by input (see the module's documentation).
#[derive(Clone, Debug)]
pub struct QualityTracker {
    horizons_ms: Vec<u64>,
    coins: Vec<String>,
    index: BTreeMap<String, usize>,
    views: Vec<QuoteView>,
    margin_use: Option<f64>,
    first: Option<Timestamp>,
    last: Timestamp,
    total: Acc,
    margin_max: Option<f64>,
    max_gross_usd: f64,
    bins: BTreeMap<u64, Bin>,
    fills: Vec<FillRec>,
    /// (due ns, fill index, horizon index).
    pending: BTreeSet<(u64, usize, usize)>,
    orders_placed: u64,
    fills_by_kind: FillsByKind,
}

/// Applies `f` to the bin of minute `m` (inserted empty if missing). Minutes only grow, so
/// after every input but the first of a minute it is the last bin: reached without a search.
fn with_bin(bins: &mut BTreeMap<u64, Bin>, m: u64, f: impl FnOnce(&mut Bin)) {
    if bins.last_key_value().is_some_and(|(k, _)| *k == m) {
        if let Some(mut last) = bins.last_entry() {
            f(last.get_mut());
            return;
        }
    }
    f(bins.entry(m).or_default());
}

impl QualityTracker {
    /// A tracker for `coins` (in the order of the views given to [`QualityTracker::observe`]).
    pub fn new(coins: &[String], horizons_ms: &[u64]) -> QualityTracker {
        let mut h: Vec<u64> = horizons_ms.iter().copied().filter(|h| *h > 0).collect();
        h.sort_unstable();
        h.dedup();
        QualityTracker {
            horizons_ms: h,
            coins: coins.to_vec(),
            index: coins.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect(),
            views: vec![QuoteView::default(); coins.len()],
            margin_use: None,
            first: None,
            last: Timestamp::ZERO,
            total: Acc::default(),
            margin_max: None,
            max_gross_usd: 0.0,
            bins: BTreeMap::new(),
            fills: Vec::new(),
            pending: BTreeSet::new(),
            orders_placed: 0,
            fills_by_kind: FillsByKind::default(),
        }
    }

    /// One input at `now`: the outputs it caused and each coin's view after it (aligned with
    /// the coins given to `new`), and the margin used over equity (`None` when equity <= 0).
    pub fn observe(
        &mut self,
        now: Timestamp,
        outputs: &[Output],
        views: &[QuoteView],
        margin_use: Option<f64>,
    ) {
        let first = *self.first.get_or_insert(now);
        let now = now.max(self.last);
        if now > self.last && self.last >= first {
            // The state after the previous input held until now.
            let acc = self.segment(now.0 - self.last.0);
            self.total.add(&acc);
            with_bin(&mut self.bins, (self.last.0 - first.0) / NS_PER_MIN, |bin| bin.acc.add(&acc));
            self.resolve(|due| due < now.0);
        }
        for o in outputs {
            match o {
                Output::OrderPlaced { .. } => self.orders_placed += 1,
                Output::Fill { coin, side, mid, kind, toxicity, .. } => {
                    match kind {
                        FillKind::TradeThrough => self.fills_by_kind.trade_through += 1,
                        FillKind::BookCross => self.fills_by_kind.book_cross += 1,
                        FillKind::TradeAtPrice => self.fills_by_kind.trade_at_price += 1,
                    }
                    let Some(&c) = self.index.get(&**coin) else { continue };
                    if self.fills.len() >= MAX_FILLS || mid.0 <= 0 {
                        continue;
                    }
                    let k = self.fills.len();
                    for (h, ms) in self.horizons_ms.iter().enumerate() {
                        self.pending.insert((now.0.saturating_add(ms.saturating_mul(1_000_000)), k, h));
                    }
                    self.fills.push(FillRec {
                        coin: c,
                        side: *side,
                        mid: mid.0 as f64,
                        toxicity: *toxicity,
                        markouts: vec![Err(false); self.horizons_ms.len()],
                    });
                }
                _ => {}
            }
        }
        for (slot, v) in self.views.iter_mut().zip(views) {
            *slot = *v;
        }
        self.margin_use = margin_use;
        self.last = now;
        self.resolve(|due| due <= now.0);
        let gross: f64 = self.views.iter().map(|v| v.position.to_f64().abs() * v.mark.to_f64()).sum();
        self.max_gross_usd = self.max_gross_usd.max(gross);
        if let Some(m) = margin_use {
            self.margin_max = Some(self.margin_max.map_or(m, |x| x.max(m)));
        }
        let net = self.net_usd();
        with_bin(&mut self.bins, (now.0 - first.0) / NS_PER_MIN, |bin| {
            bin.gross_usd = gross;
            bin.net = net;
            if let Some(m) = margin_use {
                bin.margin_max = Some(bin.margin_max.map_or(m, |x| x.max(m)));
            }
        });
    }

    /// The net PnL of all coins as the views stand (USD).
    pub fn net_usd(&self) -> f64 {
        let units: i64 = self
            .views
            .iter()
            .map(|v| v.pnl.0.saturating_add(v.pnl.1).saturating_add(v.pnl.2).saturating_sub(v.pnl.3))
            .fold(0i64, i64::saturating_add);
        units as f64 / SCALE as f64
    }

    /// The accumulators of `dt` ns in the current state.
    fn segment(&self, dt: u64) -> Acc {
        let dt128 = u128::from(dt);
        let dtf = dt as f64;
        let mut a = Acc::default();
        for v in &self.views {
            let Some(mid) = v.mid.filter(|m| v.book_valid && m.0 > 0) else { continue };
            a.valid_ns += dt128;
            if v.our_bid.is_some() && v.our_ask.is_some() {
                a.two_sided_ns += dt128;
            }
            if v.our_bid.is_some() && v.our_bid == v.touch_bid {
                a.touch_bid_ns += dt128;
            }
            if v.our_ask.is_some() && v.our_ask == v.touch_ask {
                a.touch_ask_ns += dt128;
            }
            if let (Some(b), Some(s)) = (v.our_bid, v.our_ask) {
                a.quoted_ns += dt128;
                a.quoted_bp_ns += bp(s.0, b.0, mid.0) * dtf;
            }
            if let (Some(b), Some(s)) = (v.touch_bid, v.touch_ask) {
                a.market_ns += dt128;
                a.market_bp_ns += bp(s.0, b.0, mid.0) * dtf;
            }
        }
        if let Some(m) = self.margin_use {
            a.margin_ns += dt128;
            a.margin_use_ns += m * dtf;
        }
        a
    }

    /// Resolves the pending markouts whose due time passes `due_ok`, at the views' mids.
    fn resolve(&mut self, due_ok: impl Fn(u64) -> bool) {
        while let Some(&(due, k, h)) = self.pending.first() {
            if !due_ok(due) {
                break;
            }
            self.pending.pop_first();
            let f = &mut self.fills[k];
            let v = &self.views[f.coin];
            f.markouts[h] = match v.mid.filter(|m| v.book_valid && m.0 > 0) {
                Some(m) => Ok(f64::from(f.side.sign() as i8) * (m.0 as f64 - f.mid) / f.mid * 1e4),
                None => Err(true),
            };
        }
    }

    /// The figures as they stand, for `summary.json`.
    pub fn summary(&self) -> Quality {
        let first = self.first.unwrap_or_default();
        let span_ns = self.last.0.saturating_sub(first.0);
        let net = self.net_usd();
        let t = &self.total;
        let fills_n = self.fills_by_kind.trade_through
            + self.fills_by_kind.book_cross
            + self.fills_by_kind.trade_at_price;
        Quality {
            pnl_per_hour: (span_ns > 0).then(|| net / (span_ns as f64 / 3.6e12)),
            pnl_hourly_sharpe: self.hourly_sharpe(),
            position_usd: self
                .coins
                .iter()
                .zip(&self.views)
                .map(|(c, v)| (c.clone(), v.position.to_f64() * v.mark.to_f64()))
                .collect(),
            max_position_usd: self.max_gross_usd,
            margin_use_mean: (t.margin_ns > 0).then(|| t.margin_use_ns / t.margin_ns as f64),
            margin_use_max: self.margin_max,
            margin_use_end: self.margin_use,
            quoted_spread_bp: (t.quoted_ns > 0).then(|| t.quoted_bp_ns / t.quoted_ns as f64),
            market_spread_bp: (t.market_ns > 0).then(|| t.market_bp_ns / t.market_ns as f64),
            time_at_touch: ratio(t.touch_bid_ns + t.touch_ask_ns, 2 * t.valid_ns),
            time_at_touch_bid: ratio(t.touch_bid_ns, t.valid_ns),
            time_at_touch_ask: ratio(t.touch_ask_ns, t.valid_ns),
            quote_uptime: ratio(t.two_sided_ns, t.valid_ns),
            order_to_trade: (fills_n > 0).then(|| self.orders_placed as f64 / fills_n as f64),
            fills_by_kind: self.fills_by_kind.clone(),
            markouts_by_horizon: self.markouts(),
            quality_over_time: self.series(),
        }
    }

    /// Mean / sd of the changes of the net PnL from one minute's last input to the next
    /// minute's (minutes without input skipped; the first change is from 0), times sqrt(60).
    fn hourly_sharpe(&self) -> Option<f64> {
        let mut prev = 0.0;
        let d: Vec<f64> = self
            .bins
            .values()
            .map(|b| {
                let x = b.net - prev;
                prev = b.net;
                x
            })
            .collect();
        if d.len() < 2 {
            return None;
        }
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        let sd = var.sqrt();
        (sd > 0.0).then(|| mean / sd * 60f64.sqrt())
    }

    fn markouts(&self) -> Vec<HorizonMarkouts> {
        // Toxicity quintiles over every fill, ranked by toxicity then fill order.
        let n = self.fills.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| self.fills[*a].toxicity.total_cmp(&self.fills[*b].toxicity).then(a.cmp(b)));
        let mut quintile = vec![0u8; n];
        for (rank, k) in order.iter().enumerate() {
            quintile[*k] = (rank * 5 / n.max(1)) as u8 + 1;
        }
        self.horizons_ms
            .iter()
            .enumerate()
            .map(|(h, ms)| {
                let mut all = Vec::new();
                let mut by_side = [Vec::new(), Vec::new()];
                let mut by_q: [Vec<f64>; 5] = Default::default();
                let (mut dropped, mut pending) = (0, 0);
                for (k, f) in self.fills.iter().enumerate() {
                    match f.markouts[h] {
                        Ok(x) => {
                            all.push(x);
                            by_side[usize::from(f.side == Side::Sell)].push(x);
                            by_q[usize::from(quintile[k] - 1)].push(x);
                        }
                        Err(true) => dropped += 1,
                        Err(false) => pending += 1,
                    }
                }
                let by_toxicity = (1..=5u8)
                    .filter_map(|q| {
                        let tox: Vec<f64> =
                            (0..n).filter(|k| quintile[*k] == q).map(|k| self.fills[k].toxicity).collect();
                        let from = tox.iter().copied().reduce(f64::min)?;
                        Some(ToxicityBucket {
                            quintile: q,
                            toxicity_from: from,
                            toxicity_to: tox.iter().copied().fold(from, f64::max),
                            stats: MarkoutStats::of(&by_q[usize::from(q - 1)]),
                        })
                    })
                    .collect();
                HorizonMarkouts {
                    horizon_ms: *ms,
                    dropped,
                    pending,
                    all: MarkoutStats::of(&all),
                    buy: MarkoutStats::of(&by_side[0]),
                    sell: MarkoutStats::of(&by_side[1]),
                    by_toxicity,
                    histogram: Histogram::of(&all),
                }
            })
            .collect()
    }

    fn series(&self) -> QualitySeries {
        let last_minute = self.bins.keys().next_back().copied().unwrap_or(0);
        let width = (last_minute + 1).div_ceil(MAX_TIME_BINS).max(1);
        let mut merged: BTreeMap<u64, Bin> = BTreeMap::new();
        for (m, b) in &self.bins {
            let e = merged.entry(m / width).or_default();
            e.acc.add(&b.acc);
            e.margin_max = match (e.margin_max, b.margin_max) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            };
            e.gross_usd = b.gross_usd;
            e.net = b.net;
        }
        let mut s = QualitySeries { bin_minutes: width, ..QualitySeries::default() };
        for (k, b) in &merged {
            let a = &b.acc;
            s.minute.push((k * width) as f64);
            s.quoted_spread_bp.push((a.quoted_ns > 0).then(|| a.quoted_bp_ns / a.quoted_ns as f64));
            s.market_spread_bp.push((a.market_ns > 0).then(|| a.market_bp_ns / a.market_ns as f64));
            s.time_at_touch.push(ratio(a.touch_bid_ns + a.touch_ask_ns, 2 * a.valid_ns));
            s.quote_uptime.push(ratio(a.two_sided_ns, a.valid_ns));
            s.margin_use.push(b.margin_max);
            s.position_usd.push(b.gross_usd);
            s.net_pnl.push(b.net);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last-bin shortcut lands on the bin `entry` would, in any order of minutes.
    #[test]
    fn with_bin_equals_entry() {
        let minutes = [0u64, 0, 0, 1, 1, 3, 3, 2, 3, 7, 7, 0, 8, 8, 8, 5, 9];
        let (mut fast, mut slow) = (BTreeMap::new(), BTreeMap::new());
        for (i, &m) in minutes.iter().enumerate() {
            let v = i as f64 + 0.5;
            with_bin(&mut fast, m, |b| {
                b.net += v;
                b.gross_usd = v;
            });
            let b: &mut Bin = slow.entry(m).or_default();
            b.net += v;
            b.gross_usd = v;
        }
        let key =
            |m: &BTreeMap<u64, Bin>| m.iter().map(|(k, b)| (*k, b.net, b.gross_usd)).collect::<Vec<_>>();
        assert_eq!(key(&fast), key(&slow));
    }
}
