//! Loop 2: fill outcomes. Every fill pushes a `PendingFillOutcome` per markout horizon; the
//! deque is checked in `update_mid()`, which resolves every outcome whose due time has passed
//! with the last mid at or before its due time. Only the 5 s horizon labels a fill adverse
//! (`move_bp < -1`); 1, 30 and 60 s are for reporting. A feed gap drops what is pending.

use crate::market_maker::classifier::FillFeatures;
use crate::types::{Price, Side, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Settings (section `[outcome]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutcomeConfig {
    /// The horizon that labels a fill adverse (the seed's 5 s).
    pub markout_horizon_s: u32,
    /// Adverse when the mid moved against the fill by more than this (the seed's 1 bp).
    pub adverse_threshold_bp: f64,
    /// Further horizons computed for reporting only.
    pub report_horizons_s: Vec<u32>,
    /// Horizons (ms) of the report's markout distributions (`summary.json`'s
    /// `markouts_by_horizon`): measured by the session runner, never by the engine, so they
    /// change no output.
    pub report_horizons_ms: Vec<u64>,
    /// Bound of the pending deque; the oldest are dropped (and reported dropped) beyond it.
    pub max_pending: usize,
}

impl Default for OutcomeConfig {
    fn default() -> Self {
        OutcomeConfig {
            markout_horizon_s: 5,
            adverse_threshold_bp: 1.0,
            report_horizons_s: vec![1, 30, 60],
            report_horizons_ms: vec![100, 500, 1_000, 5_000, 30_000, 60_000],
            max_pending: 4096,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingFillOutcome {
    pub fill_id: u64,
    pub side: Side,
    pub price: Price,
    pub mid_at_fill: Price,
    pub due_ns: Timestamp,
    pub horizon_s: u32,
    /// What the classifier saw at fill time: it learns from these, not from later features.
    pub features: FillFeatures,
}

/// A fill as the outcome tracker needs it: when, at what price, against which mid, and what
/// the classifier saw.
#[derive(Clone, Copy, Debug)]
pub struct FillAt {
    pub fill_id: u64,
    pub side: Side,
    pub price: Price,
    pub mid_at_fill: Price,
    pub at: Timestamp,
    pub features: FillFeatures,
}

/// What `update_mid()` found.
#[derive(Clone, Debug, PartialEq)]
pub enum OutcomeEvent {
    Resolved {
        fill_id: u64,
        horizon_s: u32,
        move_bp: f64,
        /// `Some` only for the labelling horizon.
        was_adverse: Option<bool>,
        features: FillFeatures,
    },
    Dropped {
        fill_id: u64,
        horizon_s: u32,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutcomeTracker {
    cfg: OutcomeConfig,
    /// Sorted by (due time, fill id, horizon).
    pending: VecDeque<PendingFillOutcome>,
    mid: Option<Price>,
}

impl OutcomeTracker {
    pub fn new(cfg: &OutcomeConfig) -> Self {
        OutcomeTracker { cfg: cfg.clone(), pending: VecDeque::new(), mid: None }
    }

    fn horizons(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.cfg.markout_horizon_s).chain(self.cfg.report_horizons_s.iter().copied())
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// A fill; pushes one pending outcome per horizon.
    pub fn on_fill(&mut self, fill: &FillAt, out: &mut Vec<OutcomeEvent>) {
        self.on_late_fill(fill, Timestamp::ZERO, |_| None, out);
    }

    /// A fill booked at `now` that happened at `fill.at` (a held fill decided later): the
    /// horizons already due before `now` resolve at once with the mid in effect at their due
    /// time, `mid_at(due)` (the last mid at or before it), as they would have had the fill been
    /// booked when it happened; the others wait as usual. Never with a later mid.
    pub fn on_late_fill(
        &mut self,
        fill: &FillAt,
        now: Timestamp,
        mid_at: impl Fn(Timestamp) -> Option<Price>,
        out: &mut Vec<OutcomeEvent>,
    ) {
        let horizons: Vec<u32> = self.horizons().collect();
        for horizon_s in horizons {
            let due_ns = fill.at.plus_ns(u64::from(horizon_s) * 1_000_000_000);
            if due_ns < now {
                let p = PendingFillOutcome {
                    fill_id: fill.fill_id,
                    side: fill.side,
                    price: fill.price,
                    mid_at_fill: fill.mid_at_fill,
                    due_ns,
                    horizon_s,
                    features: fill.features,
                };
                out.push(self.resolve_with(&p, mid_at(due_ns)));
                continue;
            }
            let p = PendingFillOutcome {
                fill_id: fill.fill_id,
                side: fill.side,
                price: fill.price,
                mid_at_fill: fill.mid_at_fill,
                due_ns: fill.at.plus_ns(u64::from(horizon_s) * 1_000_000_000),
                horizon_s,
                features: fill.features,
            };
            let key = (p.due_ns, p.fill_id, p.horizon_s);
            let at = self.pending.partition_point(|q| (q.due_ns, q.fill_id, q.horizon_s) <= key);
            self.pending.insert(at, p);
        }
        while self.pending.len() > self.cfg.max_pending {
            if let Some(p) = self.pending.pop_front() {
                out.push(OutcomeEvent::Dropped { fill_id: p.fill_id, horizon_s: p.horizon_s });
            }
        }
    }

    /// The seed's `update_mid()`: resolves every outcome due strictly before `now` with the mid
    /// held until now (the last mid at or before its due time), then takes the new mid.
    /// `new_mid = None` only advances time.
    pub fn update_mid(&mut self, now: Timestamp, new_mid: Option<Price>, out: &mut Vec<OutcomeEvent>) {
        while self.pending.front().is_some_and(|p| p.due_ns < now) {
            let Some(p) = self.pending.pop_front() else { break };
            out.push(self.resolve(&p));
        }
        if new_mid.is_some() {
            self.mid = new_mid;
        }
    }

    fn resolve(&self, p: &PendingFillOutcome) -> OutcomeEvent {
        self.resolve_with(p, self.mid)
    }

    fn resolve_with(&self, p: &PendingFillOutcome, mid: Option<Price>) -> OutcomeEvent {
        let Some(mid) = mid.filter(|_| p.mid_at_fill.0 > 0) else {
            return OutcomeEvent::Dropped { fill_id: p.fill_id, horizon_s: p.horizon_s };
        };
        let s = p.side.sign() as f64;
        let move_bp = s * (mid.0 - p.mid_at_fill.0) as f64 / p.mid_at_fill.0 as f64 * 1e4;
        let was_adverse =
            (p.horizon_s == self.cfg.markout_horizon_s).then_some(move_bp < -self.cfg.adverse_threshold_bp);
        OutcomeEvent::Resolved {
            fill_id: p.fill_id,
            horizon_s: p.horizon_s,
            move_bp,
            was_adverse,
            features: p.features,
        }
    }

    /// A feed gap: nothing pending can be resolved honestly, and the mid is unknown.
    pub fn on_gap(&mut self, out: &mut Vec<OutcomeEvent>) {
        for p in self.pending.drain(..) {
            out.push(OutcomeEvent::Dropped { fill_id: p.fill_id, horizon_s: p.horizon_s });
        }
        self.mid = None;
    }

    /// The earliest due time, for `Engine::next_deadline`.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.pending.front().map(|p| p.due_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn fill(side: Side, mid: Price) -> FillAt {
        FillAt {
            fill_id: 1,
            side,
            price: mid,
            mid_at_fill: mid,
            at: Timestamp(S),
            features: FillFeatures::default(),
        }
    }

    #[test]
    fn resolves_at_five_seconds_with_the_mid_in_effect_at_due_time() {
        let mut t = OutcomeTracker::new(&OutcomeConfig { report_horizons_s: vec![], ..Default::default() });
        let mut out = vec![];
        let mid = Price(100_000_000_000);
        t.update_mid(Timestamp(0), Some(mid), &mut out);
        t.on_fill(&fill(Side::Buy, mid), &mut out);
        // Down 2 bp at 4 s (before due), up again at 7 s (after due): adverse, -2 bp.
        t.update_mid(Timestamp(4 * S), Some(Price(99_980_000_000)), &mut out);
        assert!(out.is_empty());
        t.update_mid(Timestamp(7 * S), Some(mid), &mut out);
        match &out[0] {
            OutcomeEvent::Resolved { move_bp, was_adverse, .. } => {
                assert!((move_bp + 2.0).abs() < 1e-9);
                assert_eq!(*was_adverse, Some(true));
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_late_fill_resolves_past_horizons_with_the_mid_at_their_due_time() {
        let mut t =
            OutcomeTracker::new(&OutcomeConfig { report_horizons_s: vec![1, 30], ..Default::default() });
        let mut out = vec![];
        let mid = Price(100_000_000_000);
        t.update_mid(Timestamp(0), Some(mid), &mut out);
        // Booked at 6 s: 1 s and 5 s are due already; the mid path says 2 bp down from 3 s on.
        let path = |due: Timestamp| Some(if due.0 >= 3 * S { Price(99_980_000_000) } else { mid });
        t.on_late_fill(&fill(Side::Buy, mid), Timestamp(7 * S), path, &mut out);
        assert_eq!(out.len(), 2);
        let moves: Vec<(u32, f64)> = out
            .iter()
            .map(|e| match e {
                OutcomeEvent::Resolved { horizon_s, move_bp, .. } => (*horizon_s, *move_bp),
                e => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(moves[0].0, 5);
        assert!((moves[0].1 + 2.0).abs() < 1e-9);
        assert_eq!(moves[1], (1, 0.0));
        assert_eq!(t.pending_len(), 1);
    }

    #[test]
    fn a_gap_drops_pending_outcomes() {
        let mut t = OutcomeTracker::new(&OutcomeConfig::default());
        let mut out = vec![];
        let mid = Price(100_000_000_000);
        t.update_mid(Timestamp(0), Some(mid), &mut out);
        t.on_fill(&fill(Side::Sell, mid), &mut out);
        t.on_gap(&mut out);
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|e| matches!(e, OutcomeEvent::Dropped { .. })));
        t.update_mid(Timestamp(100 * S), Some(mid), &mut out);
        assert_eq!(out.len(), 4);
    }
}
