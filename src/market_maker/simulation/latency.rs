//! Entry and cancel latency of paper orders (`fill_sim.latency_model`).
//!
//! - `constant`: exactly `entry_latency_ms` / `cancel_latency_ms`.
//! - `jitter`: the mean times a log-normal factor `exp(sigma Z - sigma^2 / 2)` (Z standard
//!   normal, `sigma = fill_sim.jitter_sigma`), so the mean stays the configured one and the
//!   right tail is the long one real order round trips have; capped at [`JITTER_CAP`] times
//!   the mean. Each draw is keyed by (seed, order id, purpose): entry and cancel latency of one
//!   order are independent, and one more order never changes another's.
//! - `feed`: the mean plus the feed's own excess delay: receive time minus the exchange's event
//!   time, minus the minimum of that difference over the trailing `feed_window_s`, never below
//!   0. Local and exchange clocks are offset (on the shared Binance capture the difference is
//!   about -1.27 s); the trailing minimum removes the offset, and what remains is the queueing
//!   the feed saw recently: latency rises when the market bursts. Causal: only messages
//!   already seen enter it.

use crate::market_maker::rng::{uniform, DrawPurpose};
use crate::types::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Which latency model the fill simulator uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencyModel {
    #[default]
    Constant,
    Jitter,
    Feed,
}

/// A jittered latency is at most this many times its mean.
pub const JITTER_CAP: f64 = 10.0;

/// `mean_ns` times the keyed log-normal factor of the `jitter` model.
pub fn jittered(mean_ns: u64, sigma: f64, seed: u64, order_id: u64, purpose: DrawPurpose) -> u64 {
    if mean_ns == 0 || sigma <= 0.0 {
        return mean_ns;
    }
    // Box-Muller from two keyed uniforms; u1 in (0, 1] so the log is finite.
    let u1 = 1.0 - uniform(seed, order_id, 0, purpose);
    let u2 = uniform(seed, order_id, 1, purpose);
    let z = libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2);
    let factor = libm::exp(sigma * z - sigma * sigma / 2.0).min(JITTER_CAP);
    (mean_ns as f64 * factor) as u64
}

/// The trailing minimum of (receive - exchange time) per 1 s bucket of receive time, and the
/// latest difference: what the `feed` model adds to the configured mean.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FeedDelay {
    /// (second of receive time, minimum difference in that second), oldest first.
    buckets: VecDeque<(u64, i64)>,
    last: Option<i64>,
}

impl FeedDelay {
    /// One market event of this coin received at `recv` with exchange time `exch`.
    pub fn observe(&mut self, recv: Timestamp, exch: Timestamp, window_s: u64) {
        if exch.0 == 0 {
            return;
        }
        let d = recv.0 as i64 - exch.0 as i64;
        let second = recv.0 / 1_000_000_000;
        match self.buckets.back_mut() {
            Some((s, m)) if *s == second => *m = (*m).min(d),
            _ => self.buckets.push_back((second, d)),
        }
        while self.buckets.front().is_some_and(|(s, _)| *s + window_s < second) {
            self.buckets.pop_front();
        }
        self.last = Some(d);
    }

    /// The latest difference above its trailing minimum, in ns (0 before any message).
    pub fn excess_ns(&self) -> u64 {
        let Some(last) = self.last else { return 0 };
        let min = self.buckets.iter().map(|(_, m)| *m).min().unwrap_or(last);
        (last - min).max(0) as u64
    }

    /// The last message's receive - exchange time, ns (`None` before any message).
    pub fn last_ns(&self) -> Option<i64> {
        self.last
    }

    /// Forgets what was seen (a reconnect: the new connection has its own delays).
    pub fn reset(&mut self) {
        self.buckets.clear();
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_keeps_the_mean_and_is_keyed() {
        let n = 20_000u64;
        let mean: f64 =
            (0..n).map(|i| jittered(100_000_000, 0.5, 3, i, DrawPurpose::EntryLatency) as f64).sum::<f64>()
                / n as f64;
        assert!((mean / 1e8 - 1.0).abs() < 0.02, "mean {mean}");
        assert_eq!(
            jittered(100, 0.5, 3, 7, DrawPurpose::EntryLatency),
            jittered(100, 0.5, 3, 7, DrawPurpose::EntryLatency)
        );
        assert_ne!(
            jittered(100_000_000, 0.5, 3, 7, DrawPurpose::EntryLatency),
            jittered(100_000_000, 0.5, 3, 7, DrawPurpose::CancelLatency)
        );
        assert_eq!(jittered(100, 0.0, 3, 7, DrawPurpose::EntryLatency), 100);
    }

    #[test]
    fn feed_delay_is_the_excess_over_the_trailing_minimum_and_forgets_old_minima() {
        let mut f = FeedDelay::default();
        assert_eq!(f.excess_ns(), 0);
        // Exchange clock 1.27 s ahead of ours: differences are negative, the excess is not.
        let s = 1_000_000_000u64;
        let at = |t: u64, d: i64| (Timestamp(t), Timestamp((t as i64 - d) as u64));
        let (r, e) = at(100 * s, -1_270_000_000);
        f.observe(r, e, 60);
        assert_eq!(f.excess_ns(), 0);
        let (r, e) = at(101 * s, -1_170_000_000);
        f.observe(r, e, 60);
        assert_eq!(f.excess_ns(), 100_000_000);
        // 61 s later the old minimum left the window: the excess is measured from newer data.
        let (r, e) = at(130 * s, -1_230_000_000);
        f.observe(r, e, 60);
        let (r, e) = at(162 * s, -1_200_000_000);
        f.observe(r, e, 60);
        assert_eq!(f.excess_ns(), 30_000_000);
        f.reset();
        assert_eq!(f.excess_ns(), 0);
    }
}
