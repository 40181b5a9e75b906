//! The order-level (exact) queue of one coin: every price level a FIFO of individual orders.
//!
//! The level book of `coin.rs` stays the market's source of truth (its draws, and so every
//! existing recording, are untouched); this layer follows it order by order. After every
//! change the queues are reconciled with the levels as published (the information-window tilt
//! included, so the wire and the queues show the same sizes) and, beyond the published depth,
//! with the hidden levels:
//! - a new level arrives as `n` orders (its order count), splitting its size;
//! - a level that grew gets one new order at the back of its queue;
//! - a level that shrank without a trade loses orders (or part of one, which keeps its place)
//!   at positions drawn from the configured [`CancelProfile`];
//! - a level that vanished cancels all its orders.
//!
//! Trades are applied before reconciling: each print consumes the front of its level's queue
//! (`fill` events); a print at a price without resting orders (liquidity that arrived since
//! the last snapshot, see `CoinSim::aggressive`) is an order that arrives and fills at once.
//! So at every moment the queues sum to what the wire shows, and every fill is at the front.
//!
//! Events come out as [`OrderEvent`]s for the venue to write (`wire::order_level`).

use super::book::{BookLevel, BookSide};
use super::coin::Print;
use super::config::CancelProfile;
use super::rng::Rng;
use std::collections::VecDeque;

/// One resting order: the venue's id and its remaining size in lots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    pub id: u64,
    pub lots: i64,
}

/// A change of the exact queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    /// A new order at the back of the queue at `px_ticks`.
    Add { id: u64, side: BookSide, px_ticks: i64, lots: i64 },
    /// `lots` of an order cancelled; the order leaves the queue when nothing is left.
    Cancel { id: u64, lots: i64 },
    /// `lots` of an order filled by aggressive order number `taker` (per coin, from 1).
    Fill { id: u64, lots: i64, taker: u64 },
}

#[derive(Clone, Debug)]
struct QueueLevel {
    px_ticks: i64,
    orders: VecDeque<RestingOrder>,
}

impl QueueLevel {
    fn lots(&self) -> i64 {
        self.orders.iter().map(|o| o.lots).sum()
    }
}

/// The exact queues of both sides of one coin.
#[derive(Clone, Debug)]
pub struct OrderBook {
    /// Best first, as in [`super::book::SideBook`]: bids descending, asks ascending.
    bids: Vec<QueueLevel>,
    asks: Vec<QueueLevel>,
    next_id: u64,
    takers: u64,
    profile: CancelProfile,
    rng: Rng,
    events: Vec<OrderEvent>,
}

impl OrderBook {
    pub fn new(profile: CancelProfile, rng: Rng) -> OrderBook {
        OrderBook {
            bids: Vec::new(),
            asks: Vec::new(),
            next_id: 1,
            takers: 0,
            profile,
            rng,
            events: Vec::new(),
        }
    }

    fn side_mut(&mut self, side: BookSide) -> &mut Vec<QueueLevel> {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    fn side(&self, side: BookSide) -> &[QueueLevel] {
        match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        }
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The prints of one aggressive order against `side` (asks for a buy), touch first: each
    /// consumes the front of its level.
    pub fn apply_prints(&mut self, side: BookSide, prints: &[Print]) {
        self.takers += 1;
        let taker = self.takers;
        for p in prints {
            let mut left = p.lots;
            let levels = match side {
                BookSide::Bid => &mut self.bids,
                BookSide::Ask => &mut self.asks,
            };
            if let Some(level) = levels.iter_mut().find(|l| l.px_ticks == p.px_ticks) {
                while left > 0 {
                    let Some(front) = level.orders.front_mut() else { break };
                    let take = left.min(front.lots);
                    front.lots -= take;
                    left -= take;
                    self.events.push(OrderEvent::Fill { id: front.id, lots: take, taker });
                    if front.lots == 0 {
                        level.orders.pop_front();
                    }
                }
            }
            levels.retain(|l| !l.orders.is_empty());
            if left > 0 {
                // Liquidity that arrived since the last snapshot: it rests for no time at all.
                let id = self.new_id();
                self.events.push(OrderEvent::Add { id, side, px_ticks: p.px_ticks, lots: left });
                self.events.push(OrderEvent::Fill { id, lots: left, taker });
            }
        }
    }

    /// Makes `side`'s queues sum to `target` (best first, strictly ordered, as published
    /// followed by the hidden levels).
    pub fn reconcile(&mut self, side: BookSide, target: &[BookLevel]) {
        let mut old = std::mem::take(self.side_mut(side));
        let away = match side {
            BookSide::Bid => -1,
            BookSide::Ask => 1,
        };
        let mut next = Vec::with_capacity(target.len());
        let mut i = 0;
        for t in target {
            // Levels of the queue better than this target level are gone.
            while i < old.len() && old[i].px_ticks * away < t.px_ticks * away {
                self.cancel_all(&old[i]);
                i += 1;
            }
            if i < old.len() && old[i].px_ticks == t.px_ticks {
                let mut level =
                    std::mem::replace(&mut old[i], QueueLevel { px_ticks: 0, orders: VecDeque::new() });
                i += 1;
                let have = level.lots();
                if t.lots > have {
                    let id = self.new_id();
                    let lots = t.lots - have;
                    self.events.push(OrderEvent::Add { id, side, px_ticks: t.px_ticks, lots });
                    level.orders.push_back(RestingOrder { id, lots });
                } else if t.lots < have {
                    self.cancel_lots(&mut level, have - t.lots);
                }
                next.push(level);
            } else if t.lots > 0 {
                next.push(self.new_level(side, t));
            }
        }
        for level in &old[i..] {
            self.cancel_all(level);
        }
        *self.side_mut(side) = next;
    }

    /// A fresh level: `n` orders (at most one a lot) sharing its size, the first taking the
    /// remainder.
    fn new_level(&mut self, side: BookSide, t: &BookLevel) -> QueueLevel {
        let k = i64::from(t.n.max(1)).min(t.lots);
        let each = t.lots / k;
        let mut orders = VecDeque::with_capacity(k as usize);
        for j in 0..k {
            let lots = if j == 0 { t.lots - each * (k - 1) } else { each };
            let id = self.new_id();
            self.events.push(OrderEvent::Add { id, side, px_ticks: t.px_ticks, lots });
            orders.push_back(RestingOrder { id, lots });
        }
        QueueLevel { px_ticks: t.px_ticks, orders }
    }

    fn cancel_all(&mut self, level: &QueueLevel) {
        for o in &level.orders {
            self.events.push(OrderEvent::Cancel { id: o.id, lots: o.lots });
        }
    }

    /// Cancels `lots` of the level at positions drawn from the profile. An order larger than
    /// what is left to cancel is reduced and keeps its place.
    fn cancel_lots(&mut self, level: &mut QueueLevel, mut lots: i64) {
        while lots > 0 && !level.orders.is_empty() {
            let m = level.orders.len();
            let u = self.rng.uniform();
            let pos = match self.profile {
                CancelProfile::Uniform => u,
                CancelProfile::Back => libm::sqrt(u),
                CancelProfile::Front => 1.0 - libm::sqrt(u),
            };
            let i = ((pos * m as f64) as usize).min(m - 1);
            let o = &mut level.orders[i];
            let take = lots.min(o.lots);
            o.lots -= take;
            lots -= take;
            self.events.push(OrderEvent::Cancel { id: o.id, lots: take });
            if o.lots == 0 {
                level.orders.remove(i);
            }
        }
    }

    /// Number of orders resting at `px_ticks` on `side` (0 when none).
    pub fn count_at(&self, side: BookSide, px_ticks: i64) -> usize {
        self.side(side).iter().find(|l| l.px_ticks == px_ticks).map_or(0, |l| l.orders.len())
    }

    /// Size in lots resting at `px_ticks` on `side`.
    pub fn lots_at(&self, side: BookSide, px_ticks: i64) -> i64 {
        self.side(side).iter().find(|l| l.px_ticks == px_ticks).map_or(0, QueueLevel::lots)
    }

    /// The queue at `px_ticks`, front first.
    pub fn queue_at(&self, side: BookSide, px_ticks: i64) -> Vec<RestingOrder> {
        self.side(side)
            .iter()
            .find(|l| l.px_ticks == px_ticks)
            .map_or_else(Vec::new, |l| l.orders.iter().copied().collect())
    }

    /// The events since the last call.
    pub fn take_events(&mut self) -> Vec<OrderEvent> {
        std::mem::take(&mut self.events)
    }

    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lvl(px: i64, lots: i64, n: u32) -> BookLevel {
        BookLevel { px_ticks: px, lots, n }
    }

    fn book(profile: CancelProfile) -> OrderBook {
        OrderBook::new(profile, Rng::new(7))
    }

    #[test]
    fn new_levels_split_into_their_order_count_and_growth_joins_the_back() {
        let mut b = book(CancelProfile::Uniform);
        b.reconcile(BookSide::Bid, &[lvl(100, 10, 3), lvl(99, 2, 5)]);
        assert_eq!(b.queue_at(BookSide::Bid, 100).iter().map(|o| o.lots).collect::<Vec<_>>(), [4, 3, 3]);
        // More orders than lots: one order a lot.
        assert_eq!(b.count_at(BookSide::Bid, 99), 2);
        b.take_events();
        b.reconcile(BookSide::Bid, &[lvl(100, 15, 3), lvl(99, 2, 5)]);
        let q = b.queue_at(BookSide::Bid, 100);
        assert_eq!((q.len(), q[3].lots), (4, 5));
        assert_eq!(
            b.take_events(),
            [OrderEvent::Add { id: q[3].id, side: BookSide::Bid, px_ticks: 100, lots: 5 }]
        );
    }

    #[test]
    fn prints_consume_the_front_and_unknown_prices_arrive_and_fill() {
        let mut b = book(CancelProfile::Uniform);
        b.reconcile(BookSide::Ask, &[lvl(101, 10, 2), lvl(102, 4, 1)]);
        let front = b.queue_at(BookSide::Ask, 101);
        b.take_events();
        b.apply_prints(BookSide::Ask, &[Print { px_ticks: 101, lots: 7 }, Print { px_ticks: 103, lots: 2 }]);
        let ev = b.take_events();
        assert_eq!(ev[0], OrderEvent::Fill { id: front[0].id, lots: 5, taker: 1 });
        assert_eq!(ev[1], OrderEvent::Fill { id: front[1].id, lots: 2, taker: 1 });
        assert!(matches!(ev[2], OrderEvent::Add { px_ticks: 103, lots: 2, .. }));
        assert!(matches!(ev[3], OrderEvent::Fill { lots: 2, taker: 1, .. }));
        assert_eq!(b.lots_at(BookSide::Ask, 101), 3);
        assert_eq!(b.lots_at(BookSide::Ask, 103), 0);
    }

    #[test]
    fn vanished_levels_cancel_everything_and_sizes_always_match() {
        let mut b = book(CancelProfile::Front);
        b.reconcile(BookSide::Ask, &[lvl(101, 10, 2), lvl(102, 4, 1), lvl(104, 9, 3)]);
        b.reconcile(BookSide::Ask, &[lvl(102, 1, 1), lvl(103, 6, 2)]);
        assert_eq!(b.lots_at(BookSide::Ask, 101), 0);
        assert_eq!(b.lots_at(BookSide::Ask, 102), 1);
        assert_eq!(b.lots_at(BookSide::Ask, 103), 6);
        assert_eq!(b.lots_at(BookSide::Ask, 104), 0);
        let cancelled: i64 = b
            .take_events()
            .iter()
            .map(|e| match e {
                OrderEvent::Cancel { lots, .. } => *lots,
                _ => 0,
            })
            .sum();
        assert_eq!(cancelled, 10 + 3 + 9);
    }

    /// Where cancels fall: with 10 equal orders, the mean position of the first cancelled
    /// order is near 0.5 (uniform), 2/3 (back) and 1/3 (front) of the queue.
    #[test]
    fn cancel_profiles_pull_from_where_they_say() {
        for (profile, want) in
            [(CancelProfile::Uniform, 0.45), (CancelProfile::Back, 0.6), (CancelProfile::Front, 0.3)]
        {
            let mut b = book(profile);
            let mut sum = 0.0;
            let n = 4000;
            for _ in 0..n {
                b.reconcile(BookSide::Bid, &[]);
                b.reconcile(BookSide::Bid, &[lvl(100, 10, 10)]);
                let ids: Vec<u64> = b.queue_at(BookSide::Bid, 100).iter().map(|o| o.id).collect();
                b.take_events();
                b.reconcile(BookSide::Bid, &[lvl(100, 9, 10)]);
                let Some(OrderEvent::Cancel { id, .. }) = b.take_events().first().copied() else {
                    panic!("no cancel")
                };
                sum += ids.iter().position(|&i| i == id).unwrap() as f64;
            }
            let mean = sum / n as f64;
            assert!((mean - want * 10.0).abs() < 0.4, "{profile:?}: mean position {mean}");
        }
    }
}
