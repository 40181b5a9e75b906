//! The session's own orders replayed against the exact queue.
//!
//! Each order joins the back of its level's queue when it goes live (`live_at`), at its real
//! size, and leaves when its life in the session ended (its last fill, or when its cancel took
//! effect). The market is not changed by it (no market impact): the venue's stream is applied
//! as recorded, and our order takes the volume that, in price-time priority, would have
//! reached it:
//! - a fill of a venue order at our price that joined after us (a higher venue order id than
//!   any seen when we joined; ids only grow), since the front of the queue fills first;
//! - a fill at a worse price than ours on our side (the aggressor traded through our price);
//! - a venue order added on the other side at our price or beyond (it would have traded with
//!   us on arrival).
//!
//! Each aggressive order (or crossing arrival) is one budget: our orders take from it in
//! price-time priority among themselves, each at most its remaining size. An order that would
//! cross the exact book when it goes live is rejected, as post-only is.

use super::stream::{ExactEvent, OrderLevelMessage};
use crate::types::Side;
use std::collections::BTreeMap;

/// One of the session's orders and its life there.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionOrder {
    pub coin: String,
    pub order_id: u64,
    pub side: Side,
    /// Units of 10^-8.
    pub px: i64,
    pub sz: i64,
    pub live_at: u64,
    /// First instant it was no longer fillable in the session (exclusive).
    pub end_at: u64,
    /// The session's fills: (time, size).
    pub sim_fills: Vec<(u64, i64)>,
}

/// What the exact queue gave one order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrueOutcome {
    /// Joined the queue (false: rejected as post-only, or never live in the recording's span).
    pub joined: bool,
    pub rejected_post_only: bool,
    pub fills: Vec<(u64, i64)>,
}

/// The exact book of one coin.
#[derive(Clone, Debug, Default)]
struct ExactBook {
    orders: BTreeMap<u64, (Side, i64, i64)>,
    /// Size by price, per side (index 0 bids, 1 asks).
    levels: [BTreeMap<i64, i64>; 2],
    max_id: u64,
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl ExactBook {
    fn best_bid(&self) -> Option<i64> {
        self.levels[0].keys().next_back().copied()
    }
    fn best_ask(&self) -> Option<i64> {
        self.levels[1].keys().next().copied()
    }
    fn mid2(&self) -> Option<i64> {
        Some(self.best_bid()? + self.best_ask()?)
    }
    fn change(&mut self, side: Side, px: i64, delta: i64) {
        let level = self.levels[side_index(side)].entry(px).or_insert(0);
        *level += delta;
        if *level <= 0 {
            self.levels[side_index(side)].remove(&px);
        }
    }
    /// Removes `sz` of order `id`; returns its side and price.
    fn reduce(&mut self, id: u64, sz: i64) -> Option<(Side, i64)> {
        let o = self.orders.get_mut(&id)?;
        let (side, px) = (o.0, o.1);
        let take = sz.min(o.2);
        o.2 -= take;
        if o.2 <= 0 {
            self.orders.remove(&id);
        }
        self.change(side, px, -take);
        Some((side, px))
    }
}

/// An order of ours resting in the exact queue.
#[derive(Clone, Debug)]
struct Resting {
    index: usize,
    coin: String,
    side: Side,
    px: i64,
    remaining: i64,
    /// Venue orders with a higher id joined after us.
    join_id: u64,
    end_at: u64,
}

impl Resting {
    /// Price-time priority among our orders of one side: better price first, then the order
    /// that joined first.
    fn priority(&self) -> (i64, usize) {
        match self.side {
            Side::Buy => (-self.px, self.index),
            Side::Sell => (self.px, self.index),
        }
    }
}

/// Anomalies of the stream itself (counted, never fatal).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamIssues {
    pub unknown_order: u64,
    pub duplicate_order: u64,
}

/// One budget within a message: an aggressive order, or an arrival that crosses our price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Budget {
    Taker(u64),
    Arrival(u64),
}

/// The replay. Feed every order-level message in record order with [`Replay::on_message`],
/// then [`Replay::finish`].
pub struct Replay {
    orders: Vec<SessionOrder>,
    /// Indices of `orders` by `live_at`.
    by_live: Vec<usize>,
    next_join: usize,
    resting: Vec<Resting>,
    books: BTreeMap<String, ExactBook>,
    outcomes: Vec<TrueOutcome>,
    /// Mid (twice, in units) of each coin whenever it changed: (receive time, mid2).
    mids: BTreeMap<String, Vec<(u64, i64)>>,
    /// Trades at exactly an order's price that did not trade through it, and how many of them
    /// reached it in the exact queue: the flat model's fill probability fitted to the truth.
    at_price_trades: u64,
    at_price_reached: u64,
    issues: StreamIssues,
    last_ns: u64,
}

impl Replay {
    pub fn new(orders: Vec<SessionOrder>) -> Replay {
        let mut by_live: Vec<usize> = (0..orders.len()).collect();
        by_live.sort_by_key(|&i| (orders[i].live_at, orders[i].order_id));
        Replay {
            outcomes: vec![TrueOutcome::default(); orders.len()],
            orders,
            by_live,
            next_join: 0,
            resting: Vec::new(),
            books: BTreeMap::new(),
            mids: BTreeMap::new(),
            at_price_trades: 0,
            at_price_reached: 0,
            issues: StreamIssues::default(),
            last_ns: 0,
        }
    }

    /// Orders going live at or before `now` join (on the book as it stood), orders whose life
    /// ended leave.
    fn advance(&mut self, now: u64) {
        while self.next_join < self.by_live.len() && self.orders[self.by_live[self.next_join]].live_at <= now
        {
            let i = self.by_live[self.next_join];
            self.next_join += 1;
            let o = &self.orders[i];
            // Never live in the session (cancelled before its entry latency passed).
            if o.end_at <= o.live_at {
                continue;
            }
            let book = self.books.entry(o.coin.clone()).or_default();
            let crosses = match o.side {
                Side::Buy => book.best_ask().is_some_and(|a| o.px >= a),
                Side::Sell => book.best_bid().is_some_and(|b| o.px <= b),
            };
            if crosses {
                self.outcomes[i].rejected_post_only = true;
                continue;
            }
            self.outcomes[i].joined = true;
            self.resting.push(Resting {
                index: i,
                coin: o.coin.clone(),
                side: o.side,
                px: o.px,
                remaining: o.sz,
                join_id: book.max_id,
                end_at: o.end_at,
            });
        }
        self.resting.retain(|r| r.end_at > now && r.remaining > 0);
    }

    /// One order-level message received at `recv_ns`.
    pub fn on_message(&mut self, recv_ns: u64, m: &OrderLevelMessage) {
        self.advance(recv_ns);
        self.last_ns = self.last_ns.max(recv_ns);
        let book = self.books.entry(m.coin.clone()).or_default();
        // Per budget: for each resting order (index into `resting`), the volume that reached it,
        // and whether the budget traded at its price / through it.
        let mut reach: BTreeMap<(Budget, usize), (i64, bool, bool)> = BTreeMap::new();
        let mut budgets: Vec<Budget> = Vec::new();
        for e in &m.events {
            match *e {
                ExactEvent::Add { id, side, px, sz } => {
                    if book.orders.insert(id, (side, px, sz)).is_some() {
                        self.issues.duplicate_order += 1;
                    }
                    book.change(side, px, sz);
                    book.max_id = book.max_id.max(id);
                    for (k, r) in self.resting.iter().enumerate() {
                        let crosses = r.coin == m.coin
                            && r.side != side
                            && match r.side {
                                Side::Buy => px <= r.px,
                                Side::Sell => px >= r.px,
                            };
                        if crosses {
                            let b = Budget::Arrival(id);
                            if !budgets.contains(&b) {
                                budgets.push(b);
                            }
                            reach.entry((b, k)).or_insert((0, false, true)).0 += sz;
                        }
                    }
                }
                ExactEvent::Cancel { id, sz } => {
                    if book.reduce(id, sz).is_none() {
                        self.issues.unknown_order += 1;
                    }
                }
                ExactEvent::Fill { id, sz, taker } => {
                    let Some((side, px)) = book.reduce(id, sz) else {
                        self.issues.unknown_order += 1;
                        continue;
                    };
                    let b = Budget::Taker(taker);
                    for (k, r) in self.resting.iter().enumerate() {
                        if r.coin != m.coin || r.side != side || r.remaining <= 0 {
                            continue;
                        }
                        let through = match side {
                            Side::Buy => px < r.px,
                            Side::Sell => px > r.px,
                        };
                        let at = px == r.px;
                        if !through && !at {
                            continue;
                        }
                        if !budgets.contains(&b) {
                            budgets.push(b);
                        }
                        let entry = reach.entry((b, k)).or_insert((0, false, false));
                        entry.1 |= at;
                        entry.2 |= through;
                        if through || id > r.join_id {
                            entry.0 += sz;
                        }
                    }
                }
            }
        }
        for b in budgets {
            let mut takers: Vec<(usize, i64)> = Vec::new();
            for (&(bb, k), &(vol, at, through)) in reach.range((b, 0)..=(b, usize::MAX)) {
                debug_assert_eq!(bb, b);
                if matches!(b, Budget::Taker(_)) && at && !through {
                    self.at_price_trades += 1;
                    self.at_price_reached += u64::from(vol > 0);
                }
                if vol > 0 {
                    takers.push((k, vol));
                }
            }
            // Price-time priority among our own orders: what one took, the next cannot.
            takers.sort_by_key(|x| self.resting[x.0].priority());
            let mut used = 0i64;
            for (k, vol) in takers {
                let r = &mut self.resting[k];
                let take = r.remaining.min(vol - used);
                if take <= 0 {
                    continue;
                }
                r.remaining -= take;
                used += take;
                self.outcomes[r.index].fills.push((recv_ns, take));
            }
        }
        if let Some(m2) = book.mid2() {
            let series = self.mids.entry(m.coin.clone()).or_default();
            if series.last().map(|x| x.1) != Some(m2) {
                series.push((recv_ns, m2));
            }
        }
    }

    /// The outcomes, in the order of the orders given.
    pub fn finish(self) -> ReplayResult {
        ReplayResult {
            mids: Mids { series: self.mids, end_ns: self.last_ns },
            orders: self.orders,
            outcomes: self.outcomes,
            at_price_trades: self.at_price_trades,
            at_price_reached: self.at_price_reached,
            issues: self.issues,
        }
    }
}

/// What the replay found.
#[derive(Clone, Debug)]
pub struct ReplayResult {
    pub orders: Vec<SessionOrder>,
    pub outcomes: Vec<TrueOutcome>,
    pub mids: Mids,
    pub at_price_trades: u64,
    pub at_price_reached: u64,
    pub issues: StreamIssues,
}

/// Each coin's exact mid over the recording.
#[derive(Clone, Debug, Default)]
pub struct Mids {
    series: BTreeMap<String, Vec<(u64, i64)>>,
    /// Time of the last message: mids after it are unknown.
    pub end_ns: u64,
}

impl Mids {
    /// The mid (units of 10^-8, as f64) of `coin` at `t`, when `t` is inside the recording.
    pub fn at(&self, coin: &str, t: u64) -> Option<f64> {
        if t > self.end_ns {
            return None;
        }
        let s = self.series.get(coin)?;
        let i = s.partition_point(|x| x.0 <= t);
        Some(s.get(i.checked_sub(1)?)?.1 as f64 / 2.0)
    }

    /// The last mid of `coin`.
    pub fn last(&self, coin: &str) -> Option<f64> {
        Some(self.series.get(coin)?.last()?.1 as f64 / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: i64 = 100_000_000;

    fn order(id: u64, side: Side, px: i64, sz: i64, live_at: u64, end_at: u64) -> SessionOrder {
        SessionOrder {
            coin: "BTC".into(),
            order_id: id,
            side,
            px: px * U,
            sz,
            live_at,
            end_at,
            sim_fills: Vec::new(),
        }
    }

    fn msg(events: Vec<ExactEvent>) -> OrderLevelMessage {
        OrderLevelMessage { coin: "BTC".into(), time_ms: 0, events }
    }

    fn add(id: u64, side: Side, px: i64, sz: i64) -> ExactEvent {
        ExactEvent::Add { id, side, px: px * U, sz }
    }

    fn fill(id: u64, sz: i64, taker: u64) -> ExactEvent {
        ExactEvent::Fill { id, sz, taker }
    }

    /// A book: bids 99 (orders 1, 2 of 5 each), asks 101 (order 3 of 5).
    fn book() -> OrderLevelMessage {
        msg(vec![add(1, Side::Buy, 99, 5), add(2, Side::Buy, 99, 5), add(3, Side::Sell, 101, 5)])
    }

    #[test]
    fn an_order_fills_only_from_volume_that_reaches_its_place_in_the_queue() {
        let mut r = Replay::new(vec![order(10, Side::Buy, 99, 4, 100, 10_000)]);
        r.on_message(50, &book());
        // After we join: order 4 behind us. A seller takes order 1 and 3 of order 2: nothing
        // reaches us. Order 2 is cancelled, then a seller takes 6: ours 4, the rest is order 4's.
        r.on_message(200, &msg(vec![add(4, Side::Buy, 99, 5)]));
        r.on_message(300, &msg(vec![fill(1, 5, 1), fill(2, 3, 1)]));
        r.on_message(400, &msg(vec![ExactEvent::Cancel { id: 2, sz: 2 }]));
        r.on_message(500, &msg(vec![fill(4, 5, 2)]));
        let res = r.finish();
        assert_eq!(res.outcomes[0].fills, [(500, 4)]);
        // Taker 1 traded at our price and did not reach us; taker 2 did.
        assert_eq!((res.at_price_trades, res.at_price_reached), (2, 1));
    }

    #[test]
    fn trading_through_the_price_fills_and_so_does_a_crossing_arrival() {
        let orders =
            vec![order(10, Side::Buy, 100, 7, 100, 10_000), order(11, Side::Sell, 101, 3, 100, 10_000)];
        let mut r = Replay::new(orders);
        r.on_message(50, &book());
        // A seller prints at 99, below our bid at 100: through us, 5 of it ours.
        r.on_message(200, &msg(vec![fill(1, 5, 1)]));
        // A new ask at 100 (the book moved down) trades with the rest of our bid on arrival.
        r.on_message(300, &msg(vec![add(5, Side::Sell, 100, 9)]));
        // A buyer takes order 3 at 101 (our ask joined behind it): nothing for us.
        r.on_message(400, &msg(vec![fill(3, 5, 2)]));
        let res = r.finish();
        assert_eq!(res.outcomes[0].fills, [(200, 5), (300, 2)]);
        assert!(res.outcomes[1].fills.is_empty());
    }

    #[test]
    fn our_orders_share_one_aggressor_in_price_time_priority() {
        // Two bids of ours at 99 (the old one first), one at 98 behind them in price.
        let orders = vec![
            order(10, Side::Buy, 99, 3, 100, 10_000),
            order(11, Side::Buy, 99, 3, 150, 10_000),
            order(12, Side::Buy, 98, 3, 150, 10_000),
        ];
        let mut r = Replay::new(orders);
        r.on_message(50, &msg(vec![add(1, Side::Buy, 98, 2)]));
        r.on_message(200, &msg(vec![add(2, Side::Buy, 99, 4)]));
        // One seller: order 2 (behind all of ours at 99) for 4, then order 1 at 98 for 2.
        r.on_message(300, &msg(vec![fill(2, 4, 1), fill(1, 2, 1)]));
        let res = r.finish();
        let got: Vec<i64> = res.outcomes.iter().map(|o| o.fills.iter().map(|f| f.1).sum()).collect();
        // 6 lots reached our 99 bids: 3 + 3; at 98 the seller took only order 1, ahead of our bid.
        assert_eq!(got, [3, 3, 0]);
    }

    #[test]
    fn lives_bound_the_fills_and_crossing_orders_are_rejected() {
        let orders = vec![
            // Ends before the seller comes.
            order(10, Side::Buy, 99, 3, 100, 250),
            // Would cross the ask at 101 when it goes live.
            order(11, Side::Buy, 101, 3, 100, 10_000),
            // Cancelled before it went live.
            order(12, Side::Buy, 99, 3, 100, 100),
        ];
        let mut r = Replay::new(orders);
        r.on_message(50, &book());
        r.on_message(200, &msg(vec![add(4, Side::Buy, 99, 5)]));
        r.on_message(300, &msg(vec![fill(1, 5, 1), fill(2, 5, 1), fill(4, 5, 1)]));
        let res = r.finish();
        assert!(res.outcomes[0].joined && res.outcomes[0].fills.is_empty());
        assert!(res.outcomes[1].rejected_post_only && !res.outcomes[1].joined);
        assert!(!res.outcomes[2].joined);
        assert_eq!(res.mids.at("BTC", 60), Some(100.0 * U as f64));
        assert_eq!(res.mids.at("BTC", 301), None);
    }

    #[test]
    fn unknown_orders_are_counted_not_fatal() {
        let mut r = Replay::new(Vec::new());
        r.on_message(1, &msg(vec![fill(9, 1, 1), ExactEvent::Cancel { id: 8, sz: 1 }]));
        r.on_message(2, &msg(vec![add(1, Side::Buy, 99, 1), add(1, Side::Buy, 99, 1)]));
        let res = r.finish();
        assert_eq!((res.issues.unknown_order, res.issues.duplicate_order), (2, 1));
    }
}
