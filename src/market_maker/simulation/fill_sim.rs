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
//! Liquidity is used once (`consume_liquidity`, default true): the total simulated fill of our
//! quotes per real trade never exceeds that trade's size; among our own orders at one price the
//! trade serves them in price-time order (one FIFO position each, the later behind the earlier,
//! not independent copies of the queue); a book crossing consumes the displayed size of each
//! level it fills against until that level's displayed size changes. Zero-size probes (the
//! shadow ladder of loop 1) go through the same rules, take no share of anything and are
//! scored against the full displayed size. With `consume_liquidity = false` every order sees
//! the whole trade and the whole displayed size (an optimistic upper bound).
//!
//! Entry and cancel latency follow `latency_model` (see [`super::latency`]).

use super::latency::{jittered, LatencyModel};
use crate::market_maker::rng::{uniform_at, DrawPurpose};
use crate::types::{Price, Qty, Side, Timestamp};
use serde::{Deserialize, Serialize};

/// How a fill happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FillKind {
    /// A market trade printed strictly through our price.
    TradeThrough,
    /// The opposite side of the book moved to our price or beyond.
    BookCross,
    /// A market trade at exactly our price (the queue question).
    TradeAtPrice,
}

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
    /// n of the queue model's f(x) = x^n (1 to 4).
    pub queue_exponent: u32,
    /// Liquidity is used once: one budget per real trade and per displayed level, shared by
    /// our orders in price-time order (see the module documentation).
    pub consume_liquidity: bool,
    /// `constant`, `jitter` or `feed` (see `latency.rs`).
    pub latency_model: LatencyModel,
    /// `jitter`: sigma of the log-normal factor around the mean latency.
    pub jitter_sigma: f64,
    /// `feed`: trailing window (s) of the minimum receive - exchange time difference.
    pub feed_window_s: u64,
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
            consume_liquidity: true,
            latency_model: LatencyModel::Constant,
            jitter_sigma: 0.5,
            feed_window_s: 60,
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
    /// The levels of `side` at `px` or better, best first, appended to `out`.
    fn levels_at_or_better(&self, side: Side, px: Price, out: &mut Vec<(Price, Qty)>);
    /// The best `n` levels of `side`, best first, appended to `out`.
    fn top_levels(&self, side: Side, n: usize, out: &mut Vec<(Price, Qty)>) {
        let far = match side {
            Side::Buy => Price(i64::MIN),
            Side::Sell => Price(i64::MAX),
        };
        let start = out.len();
        self.levels_at_or_better(side, far, out);
        out.truncate(start + n);
    }
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
    /// The order's cancel had been sent: a stale quote filled in its cancel tail.
    #[serde(default)]
    pub cancelling: bool,
}

/// An order that became live but would have crossed the book: post-only rejects it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PostOnlyReject {
    pub order_id: u64,
    pub side: Side,
    pub px: Price,
    pub sz: Qty,
}

/// Displayed size a book crossing of ours already took at one level: valid while the level
/// still shows `displayed`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct ConsumedLevel {
    side: Side,
    px: Price,
    displayed: i64,
    used: i64,
}

/// Bound on remembered consumed levels (a crossing touches a few levels per order).
const MAX_CONSUMED_LEVELS: usize = 256;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FillSimulator {
    pub cfg: FillSimulatorConfig,
    seed: u64,
    orders: Vec<SimOrder>,
    #[serde(default)]
    consumed: Vec<ConsumedLevel>,
    /// No order goes live before this: a lower bound on the `live_at` of the orders not yet
    /// active (0, as after a restore, means unknown), so that `activation_due` answers without
    /// a scan on the many inputs at which nothing activates (a cache, not state).
    #[serde(skip)]
    next_live_at: Timestamp,
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
        FillSimulator {
            cfg: cfg.clone(),
            seed,
            orders: Vec::new(),
            consumed: Vec::new(),
            next_live_at: Timestamp(0),
        }
    }

    pub fn orders(&self) -> &[SimOrder] {
        &self.orders
    }

    pub fn order(&self, id: u64) -> Option<&SimOrder> {
        self.orders.iter().find(|o| o.id == id)
    }

    /// Places an order that goes live after `entry_latency` (or `latency_ns` for probes).
    pub fn place(&mut self, id: u64, side: Side, px: Price, sz: Qty, role: OrderRole, live_at: Timestamp) {
        self.next_live_at = self.next_live_at.min(live_at);
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

    /// The configured mean entry latency (the shadow ladder's probes always use it).
    pub fn entry_latency_ns(&self) -> u64 {
        self.cfg.entry_latency_ms * 1_000_000
    }

    /// Entry latency of order `id` under the latency model; `feed_excess_ns` is the feed's
    /// current delay above its trailing minimum (used by `feed` only).
    pub fn entry_latency_for(&self, id: u64, feed_excess_ns: u64) -> u64 {
        self.latency(self.cfg.entry_latency_ms * 1_000_000, id, DrawPurpose::EntryLatency, feed_excess_ns)
    }

    /// Whether the latency model reads `feed_excess_ns` (only `feed` does): the other models
    /// ignore it, so callers need not compute it.
    pub fn uses_feed_delay(&self) -> bool {
        self.cfg.latency_model == LatencyModel::Feed
    }

    fn latency(&self, mean_ns: u64, id: u64, purpose: DrawPurpose, feed_excess_ns: u64) -> u64 {
        match self.cfg.latency_model {
            LatencyModel::Constant => mean_ns,
            LatencyModel::Jitter => jittered(mean_ns, self.cfg.jitter_sigma, self.seed, id, purpose),
            LatencyModel::Feed => mean_ns.saturating_add(feed_excess_ns),
        }
    }

    /// Sends a cancel: the order stays fillable for the cancel latency. Returns when the
    /// cancel takes effect (`None` for an unknown order).
    pub fn cancel(&mut self, id: u64, now: Timestamp, feed_excess_ns: u64) -> Option<Timestamp> {
        let latency = self.latency(
            self.cfg.cancel_latency_ms * 1_000_000,
            id,
            DrawPurpose::CancelLatency,
            feed_excess_ns,
        );
        let dead = now.plus_ns(latency);
        let o = self.orders.iter_mut().find(|o| o.id == id)?;
        let d = o.dead_at.map_or(dead, |d| d.min(dead));
        o.dead_at = Some(d);
        Some(d)
    }

    /// Removes an order at once (probes are virtual; a gap kills everything at once).
    pub fn remove(&mut self, id: u64) {
        self.orders.retain(|o| o.id != id);
    }

    /// Removes every order whose id is in `ids`, in one pass: the others keep their order,
    /// as after one `remove` per id.
    pub fn remove_ids(&mut self, ids: &[u64]) {
        if !ids.is_empty() {
            self.orders.retain(|o| !ids.contains(&o.id));
        }
    }

    pub fn remove_all(&mut self) -> Vec<SimOrder> {
        std::mem::take(&mut self.orders)
    }

    /// Drops orders that are dead or fully filled (and not waiting on a held fill).
    pub fn purge(&mut self, now: Timestamp) {
        let keep = |o: &SimOrder| {
            let dead = o.dead_at.is_some_and(|d| now >= d);
            let done = !o.is_probe() && o.remaining.0 == 0;
            o.held || !(dead || done)
        };
        // Most inputs drop nothing: a read-only scan is cheaper than `retain`'s.
        if !self.orders.iter().all(keep) {
            self.orders.retain(keep);
        }
    }

    /// Whether `activate` at `now` may activate or reject an order: false only when no order
    /// can (every order not yet live goes live after `now`).
    pub fn activation_due(&self, now: Timestamp) -> bool {
        self.next_live_at <= now
    }

    /// Activates orders whose entry latency has passed. An order that would cross the book at
    /// that moment is rejected (post-only) and removed. Returns how many went live: this is
    /// the only place an order does.
    pub fn activate(
        &mut self,
        now: Timestamp,
        book: &dyn BookView,
        rejects: &mut Vec<PostOnlyReject>,
    ) -> usize {
        let depth_model = !self.cfg.ignore_book_depth;
        let first_reject = rejects.len();
        // An order that went live since the last input activates even if its cancel has taken
        // effect since: it was fillable over [live_at, dead_at), on the book as it stood (the
        // book has not changed since the last input), and that stretch is exposure.
        let mut activated = 0;
        for o in self
            .orders
            .iter_mut()
            .filter(|o| !o.active && o.live_at <= now && o.dead_at.map_or(true, |d| o.live_at < d))
        {
            let crosses = match o.side {
                Side::Buy => book.best_ask().is_some_and(|a| o.px >= a),
                Side::Sell => book.best_bid().is_some_and(|b| o.px <= b),
            };
            if crosses {
                // Rejected at `live_at`, before its cancel (if one was sent) took effect: the
                // venue rejects it then, whenever this call comes. (Dropping the reject of an
                // order whose cancel had taken effect by the call made the journal depend on
                // when the engine was called: at another coin's input, or at this coin's next.)
                rejects.push(PostOnlyReject { order_id: o.id, side: o.side, px: o.px, sz: o.remaining });
                continue;
            }
            o.active = true;
            activated += 1;
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
        // What is still not live goes live later (or never: cancelled before its entry
        // latency passed, waiting to be purged).
        self.next_live_at = self
            .orders
            .iter()
            .filter(|o| !o.active && o.live_at > now)
            .map(|o| o.live_at)
            .min()
            .unwrap_or(Timestamp(u64::MAX));
        activated
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

    /// A market trade: `aggressor` traded `sz` at `px`, the `index`-th print of input `seq`.
    /// Fill opportunities go to `out`, best-priced orders first (the order the real queue would
    /// serve), then by the time they joined the queue.
    #[allow(clippy::too_many_arguments)]
    pub fn on_trade(
        &mut self,
        now: Timestamp,
        seq: u64,
        index: u32,
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
        self.price_time_order(resting, &mut idx);
        let consume = self.cfg.consume_liquidity;
        let mut budget = sz.0;
        // Size our earlier orders at the trade's price took from it: a later order of ours at
        // that price stands behind them in the queue.
        let mut ours_at_price = 0i64;
        for i in idx {
            let cfg = &self.cfg;
            let seed = self.seed;
            let o = &mut self.orders[i];
            let through = o.px != px;
            let (kind, cap) = if through {
                (FillKind::TradeThrough, sz.0)
            } else {
                match Self::compute_fill_probability(cfg, o, sz) {
                    QueueDecision::Probability(p) => {
                        if uniform_at(seed, o.id, seq, index, DrawPurpose::TradeAtPrice) >= p {
                            continue;
                        }
                        (FillKind::TradeAtPrice, sz.0)
                    }
                    QueueDecision::Excess(e) => {
                        let behind_ours = if consume && !o.is_probe() { ours_at_price } else { 0 };
                        let e = e - behind_ours;
                        if e <= 0 {
                            continue;
                        }
                        (FillKind::TradeAtPrice, e)
                    }
                }
            };
            let fill = if o.is_probe() {
                0
            } else {
                let mut f = o.remaining.0.min(cap);
                if consume {
                    f = f.min(budget);
                }
                if f <= 0 {
                    continue;
                }
                budget -= f;
                if !through {
                    ours_at_price += f;
                }
                f
            };
            out.push(Self::opportunity(cfg, seed, (seq, index), o, Qty(fill), kind));
        }
    }

    /// Sorts order indices into the order a real queue serves them on `side`: best price
    /// first, then the time they went live, then the order id.
    fn price_time_order(&self, side: Side, idx: &mut [usize]) {
        idx.sort_by(|&a, &b| {
            let (oa, ob) = (&self.orders[a], &self.orders[b]);
            let by_price = match side {
                Side::Buy => ob.px.cmp(&oa.px),
                Side::Sell => oa.px.cmp(&ob.px),
            };
            by_price.then(oa.live_at.cmp(&ob.live_at)).then(oa.id.cmp(&ob.id))
        });
    }

    /// A book update: crossing fills, and the depth model's queue advance.
    pub fn on_book(&mut self, now: Timestamp, seq: u64, book: &dyn BookView, out: &mut Vec<FillOpportunity>) {
        let (best_bid, best_ask) = (book.best_bid(), book.best_ask());
        // What our crossings took stays taken while the level shows the same size.
        self.consumed.retain(|c| book.size_at(c.side, c.px).0 == c.displayed);
        let mut crossed = Vec::new();
        for (i, o) in self.orders.iter_mut().enumerate() {
            if !o.fillable(now) {
                continue;
            }
            let is_crossed = match o.side {
                Side::Buy => best_ask.is_some_and(|a| a <= o.px),
                Side::Sell => best_bid.is_some_and(|b| b >= o.px),
            };
            if is_crossed {
                crossed.push(i);
                continue;
            }
            if !self.cfg.ignore_book_depth {
                let level = book.size_at(o.side, o.px).0;
                o.queue_ahead = rigtorp_front(
                    o.queue_ahead,
                    o.level_size,
                    level,
                    o.traded_at_level,
                    self.cfg.queue_exponent,
                );
                o.level_size = level;
                o.traded_at_level = 0;
            }
        }
        for side in [Side::Buy, Side::Sell] {
            let mut idx: Vec<usize> =
                crossed.iter().copied().filter(|&i| self.orders[i].side == side).collect();
            self.price_time_order(side, &mut idx);
            for i in idx {
                let o = &self.orders[i];
                let fill = if o.is_probe() {
                    0
                } else if self.cfg.consume_liquidity {
                    let (opp_side, px, want) = (o.side.opposite(), o.px, o.remaining.0);
                    self.take_displayed(book, opp_side, px, want)
                } else {
                    o.remaining.0.min(book.size_at_or_better(o.side.opposite(), o.px).0)
                };
                let o = &mut self.orders[i];
                if o.is_probe() || fill > 0 {
                    out.push(Self::opportunity(
                        &self.cfg,
                        self.seed,
                        (seq, 0),
                        o,
                        Qty(fill),
                        FillKind::BookCross,
                    ));
                }
            }
        }
    }

    /// Takes up to `want` of the displayed size of `side` at `px` or better, best level first,
    /// net of what earlier crossings of ours took there; records what it took.
    fn take_displayed(&mut self, book: &dyn BookView, side: Side, px: Price, want: i64) -> i64 {
        let mut levels = Vec::new();
        book.levels_at_or_better(side, px, &mut levels);
        let mut taken = 0i64;
        for (lpx, lsz) in levels {
            if taken >= want {
                break;
            }
            let slot = self.consumed.iter().position(|c| c.side == side && c.px == lpx);
            let used = slot.map_or(0, |k| self.consumed[k].used);
            let take = (lsz.0 - used).max(0).min(want - taken);
            if take == 0 {
                continue;
            }
            taken += take;
            match slot {
                Some(k) => self.consumed[k].used += take,
                None => {
                    if self.consumed.len() >= MAX_CONSUMED_LEVELS {
                        self.consumed.remove(0);
                    }
                    self.consumed.push(ConsumedLevel { side, px: lpx, displayed: lsz.0, used: take });
                }
            }
        }
        taken
    }

    fn opportunity(
        cfg: &FillSimulatorConfig,
        seed: u64,
        (seq, index): (u64, u32),
        o: &mut SimOrder,
        sz: Qty,
        kind: FillKind,
    ) -> FillOpportunity {
        let held = !o.is_probe()
            && cfg.adverse_fill_ratio > 0.0
            && uniform_at(seed, o.id, seq, index, DrawPurpose::AdverseHold) < cfg.adverse_fill_ratio;
        if held {
            o.held = true;
        } else {
            o.remaining.0 -= sz.0;
        }
        FillOpportunity {
            order_id: o.id,
            side: o.side,
            px: o.px,
            sz,
            kind,
            probe: o.is_probe(),
            held,
            cancelling: o.dead_at.is_some(),
        }
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

    /// `(outstanding(Buy), outstanding(Sell))` in one pass over the orders (the margin update
    /// after every requote and placement wants both).
    pub fn outstanding_both(&self) -> (Qty, Qty) {
        let (mut bids, mut asks) = (0i64, 0i64);
        for o in self.orders.iter().filter(|o| !o.is_probe()) {
            match o.side {
                Side::Buy => bids += o.remaining.0,
                Side::Sell => asks += o.remaining.0,
            }
        }
        (Qty(bids), Qty(asks))
    }
}

/// The probabilistic queue model (Rigtorp 2013): a level shrank by more than the trades at it
/// explain; the unexplained decrease `chg` is cancels, split between the front (ahead of us)
/// and the back with `p_back = f(back) / (f(back) + f(front))`, `f(x) = x^n`.
///
/// The share is computed from the ratio of the smaller of front and back to the larger, in
/// f64 (IEEE basic operations: the same on every platform), so no power of a level size is
/// ever formed: `back^n` in 10^-8 units overflows even i128 for DOGE-size levels at n = 2.
/// Any sizes a venue can print (the whole `Qty` range) and any n give a result in
/// `[0, new_level]`.
pub fn rigtorp_front(front: i64, old_level: i64, new_level: i64, traded: i64, n: u32) -> i64 {
    let new_level = new_level.max(0);
    let front = front.max(0);
    let chg = old_level.saturating_sub(new_level).saturating_sub(traded.max(0));
    if chg <= 0 {
        return front.min(new_level);
    }
    let back = old_level.saturating_sub(front).max(0);
    if back == 0 && front == 0 {
        return 0;
    }
    let pow = |x: f64| (0..n).fold(1.0f64, |acc, _| acc * x);
    // p_back = 1 / (1 + (front/back)^n) = r^n / (1 + r^n) with r = back/front.
    let p_back = if front <= back {
        1.0 / (1.0 + pow(front as f64 / back as f64))
    } else {
        let r = pow(back as f64 / front as f64);
        r / (1.0 + r)
    };
    let back_share = libm::round(p_back * chg as f64).clamp(0.0, chg as f64) as i64;
    let front_share = chg - back_share;
    // Cancels beyond the back's size come out of the front as well.
    let overflow = back.saturating_sub(back_share).min(0);
    let next = front.saturating_sub(front_share).saturating_add(overflow);
    next.clamp(0, new_level)
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
        fn levels_at_or_better(&self, side: Side, px: Price, out: &mut Vec<(Price, Qty)>) {
            let (p, s) = if side == Side::Buy { self.bid } else { self.ask };
            if (side == Side::Buy && p >= px) || (side == Side::Sell && p <= px) {
                out.push((p, s));
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
    fn outstanding_both_equals_outstanding_per_side() {
        let mut s = FillSimulator::new(&FillSimulatorConfig::default(), 1);
        assert_eq!(s.outstanding_both(), (Qty(0), Qty(0)));
        s.place(1, Side::Buy, Price(100), Qty(300), OrderRole::Quote, Timestamp(100));
        s.place(2, Side::Sell, Price(102), Qty(70), OrderRole::Quote, Timestamp(100));
        s.place(3, Side::Buy, Price(99), Qty(5), OrderRole::Quote, Timestamp(100));
        s.place(4, Side::Sell, Price(103), Qty(0), OrderRole::Probe { rung: 0 }, Timestamp(100));
        s.place(5, Side::Buy, Price(98), Qty(0), OrderRole::Probe { rung: 0 }, Timestamp(100));
        let want = (s.outstanding(Side::Buy), s.outstanding(Side::Sell));
        assert_eq!(want, (Qty(305), Qty(70)));
        assert_eq!(s.outstanding_both(), want);
        let mut out = vec![];
        s.activate(Timestamp(100), &book(99, 101), &mut vec![]);
        s.on_trade(Timestamp(200), 1, 0, Side::Sell, Price(99), Qty(120), &mut out);
        assert_eq!(s.outstanding_both(), (s.outstanding(Side::Buy), s.outstanding(Side::Sell)));
    }

    /// The engine passes 0 for the feed's excess delay unless `uses_feed_delay`: the other
    /// models' latencies must not depend on it.
    #[test]
    fn only_the_feed_model_reads_the_feed_excess() {
        for model in [LatencyModel::Constant, LatencyModel::Jitter, LatencyModel::Feed] {
            let cfg = FillSimulatorConfig { latency_model: model, jitter_sigma: 0.5, ..Default::default() };
            let mut s = FillSimulator::new(&cfg, 7);
            assert_eq!(s.uses_feed_delay(), model == LatencyModel::Feed);
            for id in 1..50u64 {
                s.place(id, Side::Buy, Price(100), Qty(1), OrderRole::Quote, Timestamp(0));
                let excess = 12_345_678 * id;
                let (e0, e1) = (s.entry_latency_for(id, 0), s.entry_latency_for(id, excess));
                let mut t = s.clone();
                let (c0, c1) = (s.cancel(id, Timestamp(1), 0), t.cancel(id, Timestamp(1), excess));
                if s.uses_feed_delay() {
                    assert_eq!(e1, e0 + excess);
                    assert_ne!(c0, c1);
                } else {
                    assert_eq!((e0, c0), (e1, c1));
                }
            }
        }
    }

    #[test]
    fn not_live_before_entry_latency() {
        let mut s = FillSimulator::new(&FillSimulatorConfig::default(), 1);
        s.place(1, Side::Buy, Price(100), Qty(300), OrderRole::Quote, Timestamp(100));
        s.activate(Timestamp(99), &book(99, 101), &mut vec![]);
        let mut out = vec![];
        s.on_trade(Timestamp(99), 1, 0, Side::Sell, Price(98), Qty(1000), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn trade_through_fills_capped_by_trade_size() {
        let mut s = sim(FillSimulatorConfig::default());
        let mut out = vec![];
        s.on_trade(Timestamp(200), 1, 0, Side::Sell, Price(99), Qty(120), &mut out);
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
        s.cancel(1, Timestamp(1_000), 0);
        let mut out = vec![];
        s.on_trade(Timestamp(1_000 + 99_999_999), 1, 0, Side::Sell, Price(99), Qty(1), &mut out);
        assert_eq!(out.len(), 1);
        s.on_trade(Timestamp(1_000 + 100_000_000), 2, 0, Side::Sell, Price(99), Qty(1), &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn flat_model_fills_at_price_with_fill_prob_base() {
        let mut fills = 0;
        for seq in 0..2000 {
            let mut s = sim(FillSimulatorConfig { fill_prob_base: 0.3, ..Default::default() });
            let mut out = vec![];
            s.on_trade(Timestamp(200), seq, 0, Side::Sell, Price(100), Qty(1), &mut out);
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
        s.on_trade(Timestamp(1), 1, 0, Side::Sell, Price(99), Qty(400), &mut out);
        assert!(out.is_empty());
        s.on_trade(Timestamp(2), 2, 0, Side::Sell, Price(99), Qty(250), &mut out);
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

    /// Issue 10 item 4. Postmortem: `2 * back^n * chg` in i128 overflowed for DOGE-size levels
    /// at n = 2 (and ~5,000 SOL at n = 3): silent garbage in release builds.
    #[test]
    fn rigtorp_front_is_range_safe_for_doge_size_levels() {
        let doge = |x: i64| x * 100_000_000; // whole coins in 10^-8 units
                                             // 30 M DOGE at the level, 10 M of it ahead of us, 6 M cancelled: at n = 2 the back
                                             // (20 M) takes 4/5 of the cancels, the front 1/5.
        assert_eq!(
            rigtorp_front(doge(10_000_000), doge(30_000_000), doge(24_000_000), 0, 2),
            doge(8_800_000)
        );
        // 20,000 SOL, half ahead, 2,000 cancelled at n = 3: equal halves split evenly.
        assert_eq!(rigtorp_front(doge(10_000), doge(20_000), doge(18_000), 0, 3), doge(9_000));
        // The extremes of the Qty range.
        assert_eq!(rigtorp_front(i64::MAX / 2, i64::MAX, 0, 0, 4), 0);
        let f = rigtorp_front(i64::MAX / 4, i64::MAX, i64::MAX / 2, 0, 4);
        assert!((0..=i64::MAX / 4).contains(&f), "{f}");
    }

    proptest::proptest! {
        /// One pass removes what one `remove` per id removes, and keeps the rest in order:
        /// absent ids, repeats, ids near the top of the range and probe-like ids.
        #[test]
        fn removing_ids_at_once_is_removing_them_one_by_one(
            placed in proptest::collection::vec(0u64..200, 0..40),
            gone in proptest::collection::vec(0u64..200, 0..20),
            base in proptest::prop_oneof![proptest::strategy::Just(0u64), proptest::strategy::Just(1u64 << 63), 0u64..u64::MAX - 400],
        ) {
            let mut at_once = FillSimulator::new(&FillSimulatorConfig::default(), 1);
            for (k, &id) in placed.iter().enumerate() {
                let px = Price(100 + k as i64);
                at_once.place(base + id, Side::Buy, px, Qty(1), OrderRole::Quote, Timestamp(1));
            }
            let mut one_by_one = at_once.clone();
            let gone: Vec<u64> = gone.iter().map(|&g| base + g).collect();
            at_once.remove_ids(&gone);
            for &id in &gone {
                one_by_one.remove(id);
            }
            let ids = |s: &FillSimulator| s.orders().iter().map(|o| (o.id, o.px)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(ids(&at_once), ids(&one_by_one));
        }
    }

    proptest::proptest! {
        /// Issue 10 item 4: for any sizes a venue can print and n in 1..=4 the queue ahead
        /// stays within [0, new level], never grows through cancels, and matches the exact
        /// rational split where that is computable.
        #[test]
        fn rigtorp_front_stays_in_range(
            front in 0i64..=i64::MAX,
            old in 0i64..=i64::MAX,
            new in 0i64..=i64::MAX,
            traded in 0i64..=i64::MAX,
            n in 1u32..=4,
        ) {
            let f = rigtorp_front(front, old, new, traded, n);
            proptest::prop_assert!(f >= 0 && f <= new, "front {f} outside [0, {new}]");
            proptest::prop_assert!(f <= front.max(0), "cancels moved us back: {f} > {front}");
        }

        #[test]
        fn rigtorp_front_matches_the_exact_split_on_small_levels(
            front in 0i64..=1_000_000,
            back in 0i64..=1_000_000,
            cancelled in 1i64..=1_000_000,
            n in 1u32..=4,
        ) {
            let old = front + back;
            let new = (old - cancelled).max(0);
            let chg = old - new;
            proptest::prop_assume!(chg > 0 && old > 0);
            let f = rigtorp_front(front, old, new, 0, n);
            // Exact: back share = back^n / (back^n + front^n) * chg, in big rationals via f64
            // of small integers (exact to well below one unit here).
            let (b, fr) = ((back as f64).powi(n as i32), (front as f64).powi(n as i32));
            let back_share = (b / (b + fr) * chg as f64).round() as i64;
            let expect = (front - (chg - back_share) + (back - back_share).min(0)).clamp(0, new);
            proptest::prop_assert!((f - expect).abs() <= 1, "{f} vs {expect}");
        }
    }

    fn two_bids_at(px: i64, cfg: FillSimulatorConfig, bid: i64, ask: i64) -> FillSimulator {
        let mut s = FillSimulator::new(&cfg, 1);
        s.place(1, Side::Buy, Price(px), Qty(300), OrderRole::Quote, Timestamp(0));
        s.place(2, Side::Buy, Price(px), Qty(300), OrderRole::Quote, Timestamp(0));
        s.place(3, Side::Buy, Price(px), Qty(0), OrderRole::Probe { rung: 0 }, Timestamp(0));
        s.activate(Timestamp(0), &book(bid, ask), &mut vec![]);
        s
    }

    fn filled(out: &[FillOpportunity], id: u64) -> i64 {
        out.iter().filter(|o| o.order_id == id).map(|o| o.sz.0).sum()
    }

    #[test]
    fn our_orders_at_one_price_queue_behind_each_other() {
        let cfg = FillSimulatorConfig { ignore_book_depth: false, ..Default::default() };
        let mut s = two_bids_at(99, cfg.clone(), 99, 101); // 500 displayed ahead of both
        let mut out = vec![];
        s.on_trade(Timestamp(1), 1, 0, Side::Sell, Price(99), Qty(600), &mut out);
        // 100 beyond the displayed queue: the first of ours takes it, the second is behind it.
        assert_eq!((filled(&out, 1), filled(&out, 2)), (100, 0));
        assert!(out.iter().any(|o| o.order_id == 3), "the probe is scored against the displayed queue");
        out.clear();
        s.on_trade(Timestamp(2), 2, 0, Side::Sell, Price(99), Qty(400), &mut out);
        assert_eq!((filled(&out, 1), filled(&out, 2)), (200, 200));
        // Without consumption each order is an independent copy of the queue.
        let mut s = two_bids_at(99, FillSimulatorConfig { consume_liquidity: false, ..cfg }, 99, 101);
        out.clear();
        s.on_trade(Timestamp(1), 1, 0, Side::Sell, Price(99), Qty(600), &mut out);
        assert_eq!((filled(&out, 1), filled(&out, 2)), (100, 100));
    }

    #[test]
    fn book_crossing_consumes_the_displayed_size_until_the_level_changes() {
        let mut s = two_bids_at(100, FillSimulatorConfig::default(), 99, 101);
        let crossed = |ask_sz: i64| TopBook { bid: (Price(98), Qty(5)), ask: (Price(100), Qty(ask_sz)) };
        let mut out = vec![];
        s.on_book(Timestamp(1), 1, &crossed(400), &mut out);
        assert_eq!((filled(&out, 1), filled(&out, 2)), (300, 100));
        assert!(out.iter().any(|o| o.order_id == 3 && o.probe), "probes fill against the full size");
        out.clear();
        // The same displayed size again: it was used.
        s.on_book(Timestamp(2), 2, &crossed(400), &mut out);
        assert_eq!(filled(&out, 2), 0);
        out.clear();
        // The level changed: what it shows now is fresh liquidity.
        s.on_book(Timestamp(3), 3, &crossed(450), &mut out);
        assert_eq!(filled(&out, 2), 200);
        // Without consumption every order sees the whole level.
        let mut s =
            two_bids_at(100, FillSimulatorConfig { consume_liquidity: false, ..Default::default() }, 99, 101);
        out.clear();
        s.on_book(Timestamp(1), 1, &crossed(400), &mut out);
        assert_eq!((filled(&out, 1), filled(&out, 2)), (300, 300));
    }

    #[test]
    fn a_later_order_joins_the_queue_by_the_time_it_went_live() {
        let cfg = FillSimulatorConfig { ignore_book_depth: false, ..Default::default() };
        let mut s = FillSimulator::new(&cfg, 1);
        // Order 2 was placed later but went live first (jittered entry latency).
        s.place(1, Side::Buy, Price(99), Qty(300), OrderRole::Quote, Timestamp(50));
        s.place(2, Side::Buy, Price(99), Qty(300), OrderRole::Quote, Timestamp(10));
        s.activate(Timestamp(50), &book(99, 101), &mut vec![]);
        let mut out = vec![];
        s.on_trade(Timestamp(60), 1, 0, Side::Sell, Price(99), Qty(700), &mut out);
        assert_eq!((filled(&out, 2), filled(&out, 1)), (200, 0));
    }

    #[test]
    fn fills_per_trade_never_exceed_its_size() {
        let mut s = FillSimulator::new(&FillSimulatorConfig::default(), 1);
        s.place(1, Side::Buy, Price(100), Qty(300), OrderRole::Quote, Timestamp(0));
        s.place(2, Side::Buy, Price(99), Qty(300), OrderRole::Quote, Timestamp(0));
        s.place(3, Side::Buy, Price(99), Qty(0), OrderRole::Probe { rung: 0 }, Timestamp(0));
        s.activate(Timestamp(0), &book(98, 101), &mut vec![]);
        let mut out = vec![];
        s.on_trade(Timestamp(1), 1, 0, Side::Sell, Price(97), Qty(400), &mut out);
        let total: i64 = out.iter().map(|o| o.sz.0).sum();
        assert_eq!(total, 400);
        assert_eq!(out[0].order_id, 1);
        assert!(out.iter().any(|o| o.probe));
    }

    /// `activation_due` gates `activate` on most inputs: whenever it says no, `activate` would
    /// have activated, rejected and removed nothing. Random places (some crossing, some
    /// cancelled before or after going live), cancels, trades, purges and times.
    mod activation_gate {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Op {
            Place { side: bool, px: i64, latency: u64 },
            Cancel { nth: usize },
            Trade { px: i64 },
            Wait { dt: u64 },
            Purge,
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (any::<bool>(), 96i64..105, 0u64..40).prop_map(|(side, px, latency)| Op::Place {
                    side,
                    px,
                    latency
                }),
                (0usize..8).prop_map(|nth| Op::Cancel { nth }),
                (97i64..104).prop_map(|px| Op::Trade { px }),
                (0u64..30).prop_map(|dt| Op::Wait { dt }),
                Just(Op::Purge),
            ]
        }

        fn snapshot(s: &FillSimulator) -> Vec<(u64, bool, Option<Timestamp>)> {
            s.orders().iter().map(|o| (o.id, o.active, o.dead_at)).collect()
        }

        proptest! {
            #[test]
            fn a_skipped_activation_changes_nothing(ops in proptest::collection::vec(op(), 1..60)) {
                let mut s = FillSimulator::new(&FillSimulatorConfig::default(), 7);
                let (mut now, mut id) = (Timestamp(1_000), 0u64);
                let b = book(99, 101);
                for op in ops {
                    match op {
                        Op::Place { side, px, latency } => {
                            id += 1;
                            let side = if side { Side::Buy } else { Side::Sell };
                            s.place(id, side, Price(px), Qty(10), OrderRole::Quote, now.plus_ns(latency));
                        }
                        Op::Cancel { nth } => {
                            if let Some(o) = s.orders().get(nth).map(|o| o.id) {
                                s.cancel(o, now, 0);
                            }
                        }
                        Op::Trade { px } => s.on_trade(now, id, 0, Side::Sell, Price(px), Qty(5), &mut vec![]),
                        Op::Wait { dt } => now = now.plus_ns(dt),
                        Op::Purge => s.purge(now),
                    }
                    let due = s.activation_due(now);
                    let before = snapshot(&s);
                    let mut rejects = vec![];
                    let activated = s.activate(now, &b, &mut rejects);
                    if !due {
                        prop_assert_eq!(activated, 0);
                        prop_assert!(rejects.is_empty());
                        prop_assert_eq!(snapshot(&s), before);
                    }
                    // After an activation nothing more is due until a later entry latency passes.
                    prop_assert!(!s.activation_due(now));
                }
            }
        }
    }
}
