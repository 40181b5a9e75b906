//! The `FillSimulator`: which of our paper orders the real market would have filled.
//!
//! Paper orders are not in the real book (`MODELS.md`, "Fill simulation"). An order becomes
//! live `entry_latency` after it is placed and stays fillable until `cancel_latency` after its
//! cancel was sent. Fills come from three events:
//! - **trade-through**: a market trade strictly through our price fills us up to the trade size;
//! - **book crossing**: the opposite best moves to our price or beyond; we fill up to the size
//!   displayed at prices at or better than ours;
//! - **trade at our price**: the queue question, answered by `compute_fill_probability()`:
//!   the flat model (`ignore_book_depth = true`, the seed's fix for "zero fills") fills with
//!   probability `fill_prob_base`; the depth model tracks the queue ahead from the real L2
//!   depth with the probabilistic queue model of Rigtorp (2013).
//!
//! The total simulated fill of our quotes per real trade never exceeds that trade's size.
//! Zero-size probes (the shadow ladder of loop 1) go through the same rules but take no share
//! of the trade.

use crate::engine::io::FillKind;
use crate::market_maker::rng::{uniform, DrawPurpose};
use crate::types::{Price, Qty, Side, Timestamp};
use serde::{Deserialize, Serialize};

/// Settings (section `[fill_sim]`), by the seed's names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FillSimulatorConfig {
    /// Paper orders are not in the real book: use the flat queue model (the seed's default).
    pub ignore_book_depth: bool,
    /// Probability that a trade at exactly our price fills us, in the flat model.
    pub fill_prob_base: f64,
    /// Share of fill opportunities held until the mid moves half the adverse threshold and
    /// dropped when it moved in the order's favour: a causal, seeded knob that makes fills
    /// more adverse (see `CoinState::decide_held`).
    pub adverse_fill_ratio: f64,
    pub entry_latency_ms: u64,
    pub cancel_latency_ms: u64,
    /// n of the queue model's f(x) = x^n (2 or 3).
    pub queue_exponent: u32,
}

impl Default for FillSimulatorConfig {
    fn default() -> Self {
        FillSimulatorConfig {
            ignore_book_depth: true,
            fill_prob_base: 0.4,
            adverse_fill_ratio: 0.0,
            entry_latency_ms: 100,
            cancel_latency_ms: 100,
            queue_exponent: 2,
        }
    }
}

/// The slice of an order book the simulator reads. `size_at(Buy, px)` is the bid size at px;
/// `size_at_or_better(Sell, px)` the ask size at prices <= px.
pub trait BookView {
    fn best_bid(&self) -> Option<Price>;
    fn best_ask(&self) -> Option<Price>;
    fn size_at(&self, side: Side, px: Price) -> Qty;
    fn size_at_or_better(&self, side: Side, px: Price) -> Qty;
}

/// A quote of the strategy or a probe of the shadow ladder (by its rung).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderRole {
    Quote,
    Probe { rung: u8 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimOrder {
    pub id: u64,
    pub side: Side,
    pub px: Price,
    /// Remaining size; 0 for probes.
    pub remaining: Qty,
    pub role: OrderRole,
    pub live_at: Timestamp,
    /// Set when a cancel was sent: the order stops being fillable at this time.
    pub dead_at: Option<Timestamp>,
    /// Became live and passed the post-only check.
    pub active: bool,
    /// A fill opportunity is held (adverse_fill_ratio) and not yet decided.
    pub held: bool,
    /// Depth model: displayed size ahead of us, and the level size at the last book update.
    queue_ahead: i64,
    level_size: i64,
    traded_at_level: i64,
}

impl SimOrder {
    pub fn is_probe(&self) -> bool {
        matches!(self.role, OrderRole::Probe { .. })
    }
    pub fn fillable(&self, now: Timestamp) -> bool {
        self.active
            && !self.held
            && self.dead_at.map_or(true, |d| now < d)
            && (self.is_probe() || self.remaining.0 > 0)
    }
    fn crosses(&self, px: Price) -> bool {
        match self.side {
            Side::Buy => px <= self.px,
            Side::Sell => px >= self.px,
        }
    }
}

/// A fill the simulator found. `held` asks the engine to wait for the next mid change.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FillOpportunity {
    pub order_id: u64,
    pub side: Side,
    pub px: Price,
    pub sz: Qty,
    pub kind: FillKind,
    pub probe: bool,
    pub held: bool,
}

/// An order that became live but would have crossed the book: post-only rejects it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PostOnlyReject {
    pub order_id: u64,
    pub side: Side,
    pub px: Price,
    pub sz: Qty,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FillSimulator {
    pub cfg: FillSimulatorConfig,
    seed: u64,
    orders: Vec<SimOrder>,
}

/// The queue model's decision for one trade at our price.
enum QueueDecision {
    /// Flat model: fill with this probability.
    Probability(f64),
    /// Depth model: the trade exceeded the queue ahead by this much.
    Excess(i64),
}

impl FillSimulator {
    pub fn new(cfg: &FillSimulatorConfig, seed: u64) -> Self {
        FillSimulator { cfg: cfg.clone(), seed, orders: Vec::new() }
    }

    pub fn orders(&self) -> &[SimOrder] {
        &self.orders
    }

    pub fn order(&self, id: u64) -> Option<&SimOrder> {
        self.orders.iter().find(|o| o.id == id)
    }

    /// Places an order that goes live after `entry_latency` (or `latency_ns` for probes).
    pub fn place(&mut self, id: u64, side: Side, px: Price, sz: Qty, role: OrderRole, live_at: Timestamp) {
        self.orders.push(SimOrder {
            id,
            side,
            px,
            remaining: sz,
            role,
            live_at,
            dead_at: None,
            active: false,
            held: false,
            queue_ahead: 0,
            level_size: 0,
            traded_at_level: 0,
        });
    }

    pub fn entry_latency_ns(&self) -> u64 {
        self.cfg.entry_latency_ms * 1_000_000
    }

    /// Sends a cancel: the order stays fillable for `cancel_latency`.
    pub fn cancel(&mut self, id: u64, now: Timestamp) {
        let dead = now.plus_ns(self.cfg.cancel_latency_ms * 1_000_000);
        if let Some(o) = self.orders.iter_mut().find(|o| o.id == id) {
            o.dead_at = Some(o.dead_at.map_or(dead, |d| d.min(dead)));
        }
    }

    /// Removes an order at once (probes are virtual; a gap kills everything at once).
    pub fn remove(&mut self, id: u64) {
        self.orders.retain(|o| o.id != id);
    }

    pub fn remove_all(&mut self) -> Vec<SimOrder> {
        std::mem::take(&mut self.orders)
    }

    /// Drops orders that are dead or fully filled (and not waiting on a held fill).
    pub fn purge(&mut self, now: Timestamp) {
        self.orders.retain(|o| {
            let dead = o.dead_at.is_some_and(|d| now >= d);
            let done = !o.is_probe() && o.remaining.0 == 0;
            o.held || !(dead || done)
        });
    }

    /// Activates orders whose entry latency has passed. An order that would cross the book at
    /// that moment is rejected (post-only) and removed.
    pub fn activate(&mut self, now: Timestamp, book: &dyn BookView, rejects: &mut Vec<PostOnlyReject>) {
        let depth_model = !self.cfg.ignore_book_depth;
        let first_reject = rejects.len();
        for o in self
            .orders
            .iter_mut()
            .filter(|o| !o.active && o.live_at <= now && o.dead_at.map_or(true, |d| now < d))
        {
            let crosses = match o.side {
                Side::Buy => book.best_ask().is_some_and(|a| o.px >= a),
                Side::Sell => book.best_bid().is_some_and(|b| o.px <= b),
            };
            if crosses {
                rejects.push(PostOnlyReject { order_id: o.id, side: o.side, px: o.px, sz: o.remaining });
                continue;
            }
            o.active = true;
            if depth_model {
                let level = book.size_at(o.side, o.px).0;
                o.queue_ahead = level;
                o.level_size = level;
            }
        }
        if rejects.len() > first_reject {
            let rejected = &rejects[first_reject..];
            self.orders.retain(|o| !rejected.iter().any(|r| r.order_id == o.id));
        }
    }

    /// The seed's `compute_fill_probability()` for a trade of `trade_sz` at exactly the order's
    /// price: the flat model's `fill_prob_base`, or in the depth model 1 when the trade
    /// exceeded the queue ahead and 0 otherwise. (The depth model also advances the queue.)
    fn compute_fill_probability(cfg: &FillSimulatorConfig, o: &mut SimOrder, trade_sz: Qty) -> QueueDecision {
        if cfg.ignore_book_depth {
            return QueueDecision::Probability(cfg.fill_prob_base);
        }
        o.traded_at_level += trade_sz.0;
        let excess = trade_sz.0 - o.queue_ahead;
        o.queue_ahead = (o.queue_ahead - trade_sz.0).max(0);
        QueueDecision::Excess(excess.max(0))
    }

    /// A market trade: `aggressor` traded `sz` at `px`. Fill opportunities go to `out`,
    /// best-priced orders first (the order the real queue would serve), then oldest first.
    pub fn on_trade(
        &mut self,
        now: Timestamp,
        seq: u64,
        aggressor: Side,
        px: Price,
        sz: Qty,
        out: &mut Vec<FillOpportunity>,
    ) {
        let resting = aggressor.opposite();
        let mut idx: Vec<usize> = (0..self.orders.len())
            .filter(|&i| {
                let o = &self.orders[i];
                o.side == resting && o.fillable(now) && o.crosses(px)
            })
            .collect();
        idx.sort_by(|&a, &b| {
            let (oa, ob) = (&self.orders[a], &self.orders[b]);
            let by_price = match resting {
                Side::Buy => ob.px.cmp(&oa.px),
                Side::Sell => oa.px.cmp(&ob.px),
            };
            by_price.then(oa.id.cmp(&ob.id))
        });
        let mut budget = sz.0;
        for i in idx {
            let cfg = self.cfg.clone();
            let seed = self.seed;
            let o = &mut self.orders[i];
            let through = o.px != px;
            let (kind, cap) = if through {
                (FillKind::TradeThrough, sz.0)
            } else {
                match Self::compute_fill_probability(&cfg, o, sz) {
                    QueueDecision::Probability(p) => {
                        if uniform(seed, o.id, seq, DrawPurpose::TradeAtPrice) >= p {
                            continue;
                        }
                        (FillKind::TradeAtPrice, sz.0)
                    }
                    QueueDecision::Excess(0) => continue,
                    QueueDecision::Excess(e) => (FillKind::TradeAtPrice, e),
                }
            };
            let fill = if o.is_probe() {
                0
            } else {
                let f = o.remaining.0.min(cap).min(budget);
                if f <= 0 {
                    continue;
                }
                budget -= f;
                f
            };
            out.push(Self::opportunity(&cfg, seed, seq, o, Qty(fill), kind));
        }
    }

    /// A book update: crossing fills, and the depth model's queue advance.
    pub fn on_book(&mut self, now: Timestamp, seq: u64, book: &dyn BookView, out: &mut Vec<FillOpportunity>) {
        let cfg = self.cfg.clone();
        let seed = self.seed;
        let (best_bid, best_ask) = (book.best_bid(), book.best_ask());
        for o in self.orders.iter_mut() {
            if !o.fillable(now) {
                continue;
            }
            let crossed = match o.side {
                Side::Buy => best_ask.is_some_and(|a| a <= o.px),
                Side::Sell => best_bid.is_some_and(|b| b >= o.px),
            };
            if crossed {
                let available = book.size_at_or_better(o.side.opposite(), o.px).0;
                let fill = if o.is_probe() { 0 } else { o.remaining.0.min(available) };
                if o.is_probe() || fill > 0 {
                    out.push(Self::opportunity(&cfg, seed, seq, o, Qty(fill), FillKind::BookCross));
                }
                continue;
            }
            if !cfg.ignore_book_depth {
                let level = book.size_at(o.side, o.px).0;
                o.queue_ahead =
                    rigtorp_front(o.queue_ahead, o.level_size, level, o.traded_at_level, cfg.queue_exponent);
                o.level_size = level;
                o.traded_at_level = 0;
            }
        }
    }

    fn opportunity(
        cfg: &FillSimulatorConfig,
        seed: u64,
        seq: u64,
        o: &mut SimOrder,
        sz: Qty,
        kind: FillKind,
    ) -> FillOpportunity {
        let held = !o.is_probe()
            && cfg.adverse_fill_ratio > 0.0
            && uniform(seed, o.id, seq, DrawPurpose::AdverseHold) < cfg.adverse_fill_ratio;
        if held {
            o.held = true;
        } else {
            o.remaining.0 -= sz.0;
        }
        FillOpportunity { order_id: o.id, side: o.side, px: o.px, sz, kind, probe: o.is_probe(), held }
    }

    /// Decides a held fill: `executed` reduces the order by `sz`; either way it is fillable again.
    pub fn release_hold(&mut self, order_id: u64, sz: Qty, executed: bool) {
        if let Some(o) = self.orders.iter_mut().find(|o| o.id == order_id) {
            o.held = false;
            if executed {
                o.remaining.0 = (o.remaining.0 - sz.0).max(0);
            }
        }
    }

    /// Size of our quotes on `side` that could still fill (live, pending or cancelling).
    pub fn outstanding(&self, side: Side) -> Qty {
        Qty(self.orders.iter().filter(|o| o.side == side && !o.is_probe()).map(|o| o.remaining.0).sum())
    }
}

/// The probabilistic queue model (Rigtorp 2013): a level shrank by more than the trades at it
/// explain; the unexplained decrease `chg` is cancels, split between the front (ahead of us)
/// and the back with `p_back = f(back) / (f(back) + f(front))`, `f(x) = x^n`, in integers.
pub fn rigtorp_front(front: i64, old_level: i64, new_level: i64, traded: i64, n: u32) -> i64 {
    let chg = old_level - new_level - traded;
    if chg <= 0 {
        return front.min(new_level).max(0);
    }
    let back = (old_level - front).max(0);
    let (fb, ff) = (i128::from(back).pow(n), i128::from(front).pow(n));
    if fb + ff == 0 {
        return 0;
    }
    // p_back * chg rounded to the nearest unit, in i128; the front takes the rest.
    let back_share = ((2 * fb * i128::from(chg) + fb + ff) / (2 * (fb + ff))) as i64;
    let front_share = chg - back_share;
    let next = front - front_share + (back - back_share).min(0);
    next.min(new_level).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-level-a-side test book: enough for the simulator's rules.
    struct TopBook {
        bid: (Price, Qty),
        ask: (Price, Qty),
    }
    impl BookView for TopBook {
        fn best_bid(&self) -> Option<Price> {
            Some(self.bid.0)
        }
        fn best_ask(&self) -> Option<Price> {
            Some(self.ask.0)
        }
        fn size_at(&self, side: Side, px: Price) -> Qty {
            let (p, s) = if side == Side::Buy { self.bid } else { self.ask };
            if p == px {
                s
            } else {
                Qty(0)
            }
        }
        fn size_at_or_better(&self, side: Side, px: Price) -> Qty {
            let (p, s) = if side == Side::Buy { self.bid } else { self.ask };
            let ok = if side == Side::Buy { p >= px } else { p <= px };
            if ok {
                s
            } else {
                Qty(0)
            }
        }
    }

    fn book(bid: i64, ask: i64) -> TopBook {
        TopBook { bid: (Price(bid), Qty(500)), ask: (Price(ask), Qty(500)) }
    }

    fn sim(cfg: FillSimulatorConfig) -> FillSimulator {
        let mut s = FillSimulator::new(&cfg, 1);
        s.place(1, Side::Buy, Price(100), Qty(300), OrderRole::Quote, Timestamp(100));
        s.activate(Timestamp(100), &book(99, 101), &mut vec![]);
        s
    }

    #[test]
    fn not_live_before_entry_latency() {
        let mut s = FillSimulator::new(&FillSimulatorConfig::default(), 1);
        s.place(1, Side::Buy, Price(100), Qty(300), OrderRole::Quote, Timestamp(100));
        s.activate(Timestamp(99), &book(99, 101), &mut vec![]);
        let mut out = vec![];
        s.on_trade(Timestamp(99), 1, Side::Sell, Price(98), Qty(1000), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn trade_through_fills_capped_by_trade_size() {
        let mut s = sim(FillSimulatorConfig::default());
        let mut out = vec![];
        s.on_trade(Timestamp(200), 1, Side::Sell, Price(99), Qty(120), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].sz, out[0].kind), (Qty(120), FillKind::TradeThrough));
        assert_eq!(s.order(1).unwrap().remaining, Qty(180));
    }

    #[test]
    fn book_crossing_fills_up_to_displayed_size() {
        let mut s = sim(FillSimulatorConfig::default());
        let mut out = vec![];
        s.on_book(
            Timestamp(200),
            1,
            &TopBook { bid: (Price(98), Qty(5)), ask: (Price(100), Qty(50)) },
            &mut out,
        );
        assert_eq!((out[0].sz, out[0].kind), (Qty(50), FillKind::BookCross));
    }

    #[test]
    fn cancelled_order_fills_until_cancel_latency_passes() {
        let mut s = sim(FillSimulatorConfig::default());
        s.cancel(1, Timestamp(1_000));
        let mut out = vec![];
        s.on_trade(Timestamp(1_000 + 99_999_999), 1, Side::Sell, Price(99), Qty(1), &mut out);
        assert_eq!(out.len(), 1);
        s.on_trade(Timestamp(1_000 + 100_000_000), 2, Side::Sell, Price(99), Qty(1), &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn flat_model_fills_at_price_with_fill_prob_base() {
        let mut fills = 0;
        for seq in 0..2000 {
            let mut s = sim(FillSimulatorConfig { fill_prob_base: 0.3, ..Default::default() });
            let mut out = vec![];
            s.on_trade(Timestamp(200), seq, Side::Sell, Price(100), Qty(1), &mut out);
            fills += out.len();
        }
        assert!((540..660).contains(&fills), "{fills}");
    }

    #[test]
    fn depth_model_waits_for_the_queue_ahead() {
        let cfg = FillSimulatorConfig { ignore_book_depth: false, ..Default::default() };
        let mut s = FillSimulator::new(&cfg, 1);
        s.place(1, Side::Buy, Price(99), Qty(300), OrderRole::Quote, Timestamp(0));
        s.activate(Timestamp(0), &book(99, 101), &mut vec![]); // 500 ahead
        let mut out = vec![];
        s.on_trade(Timestamp(1), 1, Side::Sell, Price(99), Qty(400), &mut out);
        assert!(out.is_empty());
        s.on_trade(Timestamp(2), 2, Side::Sell, Price(99), Qty(250), &mut out);
        assert_eq!(out[0].sz, Qty(150));
    }

    #[test]
    fn rigtorp_splits_cancels_between_front_and_back() {
        // All cancels at the back when the back is much larger.
        assert_eq!(rigtorp_front(10, 1000, 900, 0, 2), 10);
        // Front only: everything cancelled ahead of us.
        assert_eq!(rigtorp_front(100, 100, 40, 0, 2), 40);
        // Decreases explained by trades move nothing.
        assert_eq!(rigtorp_front(50, 100, 80, 20, 2), 50);
        // Equal front and back: half the cancels are ahead of us.
        assert_eq!(rigtorp_front(50, 100, 60, 0, 2), 30);
    }

    #[test]
    fn fills_per_trade_never_exceed_its_size() {
        let mut s = FillSimulator::new(&FillSimulatorConfig::default(), 1);
        s.place(1, Side::Buy, Price(100), Qty(300), OrderRole::Quote, Timestamp(0));
        s.place(2, Side::Buy, Price(99), Qty(300), OrderRole::Quote, Timestamp(0));
        s.place(3, Side::Buy, Price(99), Qty(0), OrderRole::Probe { rung: 0 }, Timestamp(0));
        s.activate(Timestamp(0), &book(98, 101), &mut vec![]);
        let mut out = vec![];
        s.on_trade(Timestamp(1), 1, Side::Sell, Price(97), Qty(400), &mut out);
        let total: i64 = out.iter().map(|o| o.sz.0).sum();
        assert_eq!(total, 400);
        assert_eq!(out[0].order_id, 1);
        assert!(out.iter().any(|o| o.probe));
    }
}
