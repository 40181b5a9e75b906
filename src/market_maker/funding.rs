//! Perpetual funding: the pure arithmetic of a payment and the schedule of funding times.
//!
//! A perpetual pays funding at the venue's funding times (Hyperliquid every hour on the hour,
//! Binance USD-M every 8 h at 00:00, 08:00 and 16:00 UTC, or at the `nextFundingTime` its mark
//! price stream announces) on the position held then:
//! `payment = -position * mark * rate`, so a long pays when the rate is positive and a short
//! receives. Amounts are integers in units of 10^-8 of the quote currency, like fees; the
//! rate is in units of 10^-12 ([`RATE_SCALE`]).
//!
//! No clock: the caller says what time it is ([`FundingClock::take_due`]), and a funding time
//! counts once however many inputs fall on either side of it.

use crate::types::{notional, Price, Qty};
use serde::{Deserialize, Serialize};

/// Rates are integers in units of 10^-12 (the venue layer's `RATE_SCALE`, repeated here so
/// that the models do not depend on the venue layer).
pub const RATE_SCALE: i64 = 1_000_000_000_000;

/// Hyperliquid: funding every hour on the hour.
pub const HOURLY_NS: u64 = 3_600_000_000_000;
/// Binance USD-M: funding every 8 h at 00:00, 08:00 and 16:00 UTC.
pub const EIGHT_HOURLY_NS: u64 = 8 * HOURLY_NS;
/// Funding times settled for one input at most: a receive time that jumps years ahead (a
/// damaged recording) must not make the engine loop over every hour in between. The times
/// beyond are skipped, and counted (`FundingClock::skipped`).
pub const MAX_FUNDING_PER_INPUT: u64 = 1_000;

/// The funding payment of `position` at `mark` and `rate` (units of [`RATE_SCALE`]),
/// `-position * mark * rate` in 10^-8 quote units, positive when received. Rounded down
/// (toward negative infinity): a fraction of a unit is always against the trader, so the
/// paper account never books funding it would not have got.
pub fn funding_payment(position: Qty, mark: Price, rate: i64) -> i64 {
    let value = notional(mark, Qty(position.0.abs())) * i128::from(position.0.signum());
    let exact = -value * i128::from(rate);
    let amount = exact.div_euclid(i128::from(RATE_SCALE));
    amount.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The first multiple of `interval_ns` strictly after `t_ns` (funding times are aligned to
/// the Unix epoch, so to midnight UTC), saturating at the end of time.
pub fn next_funding_after(t_ns: u64, interval_ns: u64) -> u64 {
    let interval = interval_ns.max(1);
    (t_ns / interval).saturating_add(1).saturating_mul(interval)
}

/// One coin's funding schedule and the venue's latest context (mark price, rate).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FundingClock {
    /// The venue's funding interval (grid aligned to the epoch).
    pub interval_ns: u64,
    /// The next funding time to settle; `None` before the session's first input.
    pub next_ns: Option<u64>,
    /// The last funding time settled (a venue's announced time at or before it is stale).
    pub last_settled_ns: Option<u64>,
    /// The venue's latest mark price and funding rate (units of [`RATE_SCALE`]).
    pub mark: Option<Price>,
    pub rate: Option<i64>,
    /// Funding times settled (with a known rate) and the sum of their payments.
    pub events: u64,
    pub total: i64,
    /// Funding times skipped by [`MAX_FUNDING_PER_INPUT`].
    pub skipped: u64,
}

/// One funding time settled on a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundingEvent {
    pub time_ns: u64,
    pub rate: i64,
    pub mark: Price,
    pub position: Qty,
    pub amount: i64,
}

impl FundingClock {
    pub fn new(interval_ns: u64) -> FundingClock {
        FundingClock { interval_ns: interval_ns.max(1), ..FundingClock::default() }
    }

    /// The session starts at `t_ns`: the first funding time is the next one strictly after
    /// it (a session starting mid-hour first pays at the top of the next hour).
    pub fn start(&mut self, t_ns: u64) {
        if self.next_ns.is_none() {
            self.next_ns = Some(next_funding_after(t_ns, self.interval_ns));
        }
    }

    /// The venue's context received at `now_ns`: its mark price and current rate, and
    /// (Binance) the next funding time it announces, which replaces the grid's when it is
    /// ahead of now, within one interval, and later than the last time settled. A late message
    /// announcing a time already passed, or a damaged one announcing a time far away, leaves
    /// the schedule alone.
    pub fn on_context(&mut self, now_ns: u64, mark: Price, rate: i64, next_funding_ns: Option<u64>) {
        self.mark = Some(mark);
        self.rate = Some(rate);
        if let (Some(t), Some(_)) = (next_funding_ns, self.next_ns) {
            let ahead = t > now_ns && t - now_ns <= self.interval_ns;
            if ahead && self.last_settled_ns.map_or(true, |last| t > last) {
                self.next_ns = Some(t);
            }
        }
    }

    /// The earliest funding time still to settle.
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_ns
    }

    /// Settles every funding time at or before `now_ns` on `position` marked at `mark`, in
    /// time order, and returns them. A time with no rate known yet passes unpaid (and
    /// uncounted): there is nothing to pay it with.
    pub fn take_due(&mut self, now_ns: u64, position: Qty, mark: Price, out: &mut Vec<FundingEvent>) {
        let Some(next) = self.next_ns else { return };
        if now_ns < next {
            return;
        }
        let interval = self.interval_ns.max(1);
        let due = (now_ns - next) / interval + 1;
        let settled = due.min(MAX_FUNDING_PER_INPUT);
        self.skipped += due - settled;
        for k in 0..settled {
            let time_ns = next.saturating_add(k.saturating_mul(interval));
            self.last_settled_ns = Some(time_ns);
            let Some(rate) = self.rate else { continue };
            let amount = funding_payment(position, mark, rate);
            self.events += 1;
            self.total = self.total.saturating_add(amount);
            out.push(FundingEvent { time_ns, rate, mark, position, amount });
        }
        // The next time on the grid after now (an announced time replaces it on the next
        // context message).
        self.next_ns = Some(next_funding_after(now_ns, interval));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn sz(s: &str) -> Qty {
        Qty::parse(s).unwrap()
    }
    /// 0.01% in units of RATE_SCALE.
    const BP: i64 = RATE_SCALE / 10_000;

    #[test]
    fn a_long_pays_a_positive_rate_and_a_short_receives_it() {
        // 0.5 BTC at 100000 = 50000 USD; 1 bp of it = 5 USD.
        assert_eq!(funding_payment(sz("0.5"), px("100000"), BP), -5 * 100_000_000);
        assert_eq!(funding_payment(sz("-0.5"), px("100000"), BP), 5 * 100_000_000);
    }

    #[test]
    fn a_negative_rate_pays_longs() {
        assert_eq!(funding_payment(sz("0.5"), px("100000"), -BP), 5 * 100_000_000);
        assert_eq!(funding_payment(sz("-0.5"), px("100000"), -BP), -5 * 100_000_000);
    }

    #[test]
    fn no_position_no_payment() {
        assert_eq!(funding_payment(Qty(0), px("100000"), BP), 0);
        assert_eq!(funding_payment(sz("1"), px("100000"), 0), 0);
    }

    #[test]
    fn fractions_of_a_unit_round_against_the_trader() {
        // 1e-8 BTC at 1 USD at 1e-12: far below a unit either way.
        assert_eq!(funding_payment(Qty(1), px("1"), 1), -1);
        assert_eq!(funding_payment(Qty(-1), px("1"), 1), 0);
        // Hyperliquid's baseline 0.00125% an hour on 0.00107 BTC at 93512.5.
        // 100.058375 USD * 0.0000125 = 125072.97 units of 10^-8 USD: the long pays 125073.
        let rate = 12_500_000; // "0.0000125"
        assert_eq!(funding_payment(sz("0.00107"), px("93512.5"), rate), -125_073);
        assert_eq!(funding_payment(sz("-0.00107"), px("93512.5"), rate), 125_072);
    }

    #[test]
    fn hourly_times_are_on_the_hour() {
        assert_eq!(next_funding_after(0, HOURLY_NS), HOURLY_NS);
        assert_eq!(next_funding_after(HOURLY_NS - 1, HOURLY_NS), HOURLY_NS);
        // Exactly on the hour: that time is not after it.
        assert_eq!(next_funding_after(HOURLY_NS, HOURLY_NS), 2 * HOURLY_NS);
    }

    #[test]
    fn binance_times_are_00_08_16_utc() {
        // 2024-08-08T05:30:00Z -> 08:00; 15:59:59 -> 16:00; 23:00 -> next day 00:00.
        let day = 1_723_075_200_000_000_000u64; // 2024-08-08T00:00:00Z
        let h = HOURLY_NS;
        assert_eq!(next_funding_after(day + 5 * h + h / 2, EIGHT_HOURLY_NS), day + 8 * h);
        assert_eq!(next_funding_after(day + 16 * h - 1, EIGHT_HOURLY_NS), day + 16 * h);
        assert_eq!(next_funding_after(day + 23 * h, EIGHT_HOURLY_NS), day + 24 * h);
    }

    #[test]
    fn a_session_starting_mid_hour_first_pays_at_the_next_hour() {
        let mut c = FundingClock::new(HOURLY_NS);
        let start = 10 * HOURLY_NS + HOURLY_NS / 2;
        c.start(start);
        assert_eq!(c.next_deadline(), Some(11 * HOURLY_NS));
        c.on_context(0, px("100"), BP, None);
        let mut out = Vec::new();
        c.take_due(11 * HOURLY_NS - 1, sz("1"), px("100"), &mut out);
        assert!(out.is_empty());
        c.take_due(11 * HOURLY_NS, sz("1"), px("100"), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].time_ns, 11 * HOURLY_NS);
        assert_eq!(out[0].amount, -1_000_000); // 100 USD * 1 bp = 0.01 USD
    }

    #[test]
    fn a_boundary_between_two_inputs_counts_once() {
        let mut c = FundingClock::new(HOURLY_NS);
        c.start(HOURLY_NS / 2);
        c.on_context(0, px("100"), BP, None);
        let mut out = Vec::new();
        for t in [HOURLY_NS - 5, HOURLY_NS + 3, HOURLY_NS + 7, 2 * HOURLY_NS - 1] {
            c.take_due(t, sz("1"), px("100"), &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!((c.events, c.total), (1, -1_000_000));
        // An input three hours later settles the three times it crossed, each once.
        c.take_due(4 * HOURLY_NS + 10, sz("-2"), px("100"), &mut out);
        let times: Vec<u64> = out.iter().map(|e| e.time_ns / HOURLY_NS).collect();
        assert_eq!(times, [1, 2, 3, 4]);
        assert_eq!(c.total, -1_000_000 + 3 * 2_000_000);
    }

    #[test]
    fn no_rate_known_no_payment_and_no_event() {
        let mut c = FundingClock::new(HOURLY_NS);
        c.start(0);
        let mut out = Vec::new();
        c.take_due(HOURLY_NS, sz("1"), px("100"), &mut out);
        assert!(out.is_empty());
        assert_eq!(c.events, 0);
        assert_eq!(c.next_deadline(), Some(2 * HOURLY_NS));
    }

    #[test]
    fn binance_announced_time_replaces_the_grid_once() {
        let mut c = FundingClock::new(EIGHT_HOURLY_NS);
        c.start(HOURLY_NS);
        assert_eq!(c.next_deadline(), Some(EIGHT_HOURLY_NS));
        // A 4-hourly symbol announces 04:00.
        c.on_context(HOURLY_NS, px("100"), BP, Some(4 * HOURLY_NS));
        assert_eq!(c.next_deadline(), Some(4 * HOURLY_NS));
        let mut out = Vec::new();
        c.take_due(4 * HOURLY_NS, sz("1"), px("100"), &mut out);
        assert_eq!(out.len(), 1);
        // A late message still announcing 04:00 does not make it due again.
        c.on_context(4 * HOURLY_NS + 1, px("100"), BP, Some(4 * HOURLY_NS));
        assert_eq!(c.next_deadline(), Some(EIGHT_HOURLY_NS));
        // Nor does a damaged one announcing a time years away.
        c.on_context(5 * HOURLY_NS, px("100"), BP, Some(u64::MAX));
        assert_eq!(c.next_deadline(), Some(EIGHT_HOURLY_NS));
        c.take_due(5 * HOURLY_NS, sz("1"), px("100"), &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn a_jump_to_the_end_of_time_does_not_loop() {
        let mut c = FundingClock::new(HOURLY_NS);
        c.start(0);
        c.on_context(0, px("100"), BP, None);
        let mut out = Vec::new();
        c.take_due(u64::MAX, sz("1"), px("100"), &mut out);
        assert_eq!(out.len() as u64, MAX_FUNDING_PER_INPUT);
        assert!(c.skipped > 0);
    }
}
