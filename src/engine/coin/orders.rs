//! The engine's order management for one coin: asks the strategy which quotes it wants, and
//! turns that into orders honestly. The refresh rule (`strategy.requote_*`) and the
//! throttle, post-only (a wanted price never crosses the touch), the position limit, the
//! order notional limit and margin are the engine's, whatever the strategy; every decision
//! is an output (`OrderPlaced`, `OrderCancelled`, `OrderRejected`, counted blocks).
//!
//! Diff: a resting quote whose price and size are wanted again keeps its place in the queue;
//! every other resting quote is cancelled (through the latency model) and every wanted quote
//! not matched is placed. Several quotes at one price keep price-time order among themselves
//! in the fill simulator (its FIFO of our orders at a price).

use super::{CoinState, Ctx, QuoteState};
use crate::engine::io::{CancelReason, Output, RejectReason};
use crate::market_maker::simulation::fill_sim::{BookView, OrderRole};
use crate::strategy::{Models, OwnOrder, Quote, Quotes, StrategyRng, StrategyView, Trigger, BOOK_LEVELS};
use crate::types::{notional, Price, Qty, Side, SCALE};
use serde::{Deserialize, Serialize};

/// One of our quotes with no cancel sent: the price and size it was placed with.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(super) struct OwnQuote {
    pub id: u64,
    pub px: Price,
    pub sz: Qty,
}

/// Our quotes with no cancel sent, per side, in placement order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct OwnQuotes {
    bids: Vec<OwnQuote>,
    asks: Vec<OwnQuote>,
}

impl OwnQuotes {
    fn side(&self, side: Side) -> &Vec<OwnQuote> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }
    fn side_mut(&mut self, side: Side) -> &mut Vec<OwnQuote> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }
    pub fn forget(&mut self, id: u64) {
        self.bids.retain(|q| q.id != id);
        self.asks.retain(|q| q.id != id);
    }
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }
    fn contains(&self, id: u64) -> bool {
        self.bids.iter().chain(&self.asks).any(|q| q.id == id)
    }
}

/// Buffers `requote` reuses from one call to the next, so that a requote allocates nothing
/// of its own (the strategy's `Quotes` aside). Their contents never outlive one call.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    orders: Vec<OwnOrder>,
    prices: Vec<Price>,
    open: Vec<bool>,
    cancel: Vec<OwnQuote>,
}

/// The best `BOOK_LEVELS` levels of `side` into `out` (cleared first).
pub(super) fn top_levels(book: &dyn BookView, side: Side, out: &mut Vec<(Price, Qty)>) {
    out.clear();
    book.top_levels(side, BOOK_LEVELS, out);
}

impl CoinState {
    /// The best price of our quotes on `side` that the simulator still holds.
    pub(super) fn best_quote(&self, side: Side) -> Option<Price> {
        // The first of `resting_prices`, without building it: the quote view reads this after
        // every input.
        let pxs = self.quotes.side(side).iter().filter_map(|q| self.sim.order(q.id).map(|o| o.px));
        match side {
            Side::Buy => pxs.max(),
            Side::Sell => pxs.min(),
        }
    }

    /// Prices of our quotes on `side` that the simulator still holds, best first, into `pxs`
    /// (cleared first).
    fn resting_prices(&self, side: Side, pxs: &mut Vec<Price>) {
        pxs.clear();
        pxs.extend(self.quotes.side(side).iter().filter_map(|q| self.sim.order(q.id).map(|o| o.px)));
        pxs.sort_by(|a, b| match side {
            Side::Buy => b.cmp(a),
            Side::Sell => a.cmp(b),
        });
    }

    /// `summary.json`'s `max_resting_per_side`: quotes past their entry latency with no
    /// cancel sent, counted after every activation.
    pub(super) fn count_resting(&mut self, ctx: &mut Ctx<'_>) {
        for side in [Side::Buy, Side::Sell] {
            let live = self
                .quotes
                .side(side)
                .iter()
                .filter(|q| self.sim.order(q.id).is_some_and(|o| o.active && o.remaining.0 > 0))
                .count() as u64;
            self.max_resting_per_side = self.max_resting_per_side.max(live);
            ctx.stats.max_resting_per_side = ctx.stats.max_resting_per_side.max(live);
        }
    }

    /// The strategy's read-only view as things stand.
    fn view<'a>(
        &'a self,
        ctx: &Ctx<'_>,
        trigger: Trigger,
        mid: Price,
        (size, max): (Qty, Qty),
        trades: &'a [crate::strategy::TradePrint],
        orders: &'a [OwnOrder],
    ) -> StrategyView<'a> {
        let q = |v: i64| v as f64 / SCALE as f64;
        let tox = |side: Side, touch: Option<Price>| {
            touch.map_or(0.5, |px| self.pre_fill_classifier.toxicity(&self.features(side, px, mid)))
        };
        let [bids, asks] = &self.book_levels;
        let microprice = match (bids.first(), asks.first()) {
            (Some(&(b, bs)), Some(&(a, asz))) if bs.0 + asz.0 > 0 => {
                let (bs, asz) = (bs.0 as f64, asz.0 as f64);
                Some((b.0 as f64 * asz + a.0 as f64 * bs) / (bs + asz))
            }
            _ => None,
        };
        StrategyView {
            now: ctx.now,
            trigger,
            coin: &self.coin,
            instrument: &self.instrument,
            mid,
            best_bid: self.best_bid,
            best_ask: self.best_ask,
            bids,
            asks,
            microprice,
            imbalance: self.imbalance,
            recent_trades: trades,
            models: Models {
                kappa: self.estimator.kappa(),
                a: self.estimator.a(),
                kappa_confidence: self.estimator.kappa_confidence(),
                sigma_bp: self.vol.sigma_bp(),
                toxicity_bid: tox(Side::Buy, self.best_bid),
                toxicity_ask: tox(Side::Sell, self.best_ask),
                toxicity_base_rate: self.pre_fill_classifier.base_rate(),
                cal_gamma: self.calibration.cal_gamma(),
                calibration_progress: self.calibration.cal_progress(),
                regime: self.regime.regime(),
                flow_imbalance: self.flow.value(),
            },
            position: self.position.qty,
            order_size: size,
            max_position: max,
            pnl_realized: q(self.position.realized),
            pnl_unrealized: q(self.position.unrealized_at(self.mark)),
            pnl_fees: q(self.position.fees),
            available_margin: q(ctx.margin.available()),
            orders,
        }
    }

    /// The strategy's view of our orders, into `out` (cleared first).
    fn own_orders(&self, out: &mut Vec<OwnOrder>) {
        let sz_of =
            |id: u64| self.quotes.bids.iter().chain(&self.quotes.asks).find(|q| q.id == id).map(|q| q.sz);
        out.clear();
        out.extend(self.sim.orders().iter().filter(|o| !o.is_probe()).map(|o| OwnOrder {
            id: o.id,
            side: o.side,
            px: o.px,
            sz: sz_of(o.id).unwrap_or(o.remaining),
            remaining: o.remaining,
            live: o.active,
            cancel_sent: o.dead_at.is_some() || !self.quotes.contains(o.id),
        }));
    }

    /// Asks the strategy, then applies the throttle, post-only, the refresh rule and the
    /// diff (`MODELS.md`'s refresh rule, for any number of levels a side).
    pub(super) fn requote(&mut self, ctx: &mut Ctx<'_>, trigger: Trigger) {
        let (Some(mid), Some(size), Some(max)) = (self.mid, self.order_size, self.max_position) else {
            return;
        };
        if !self.book_valid {
            return;
        }
        let Some(mut strategy) = self.strategy.take() else { return };
        let wanted = {
            // The view's trades are the deque as one slice, without a copy: after
            // `make_contiguous` the first slice holds them all, oldest first.
            self.recent_trades.make_contiguous();
            let mut orders = std::mem::take(&mut self.scratch.orders);
            self.own_orders(&mut orders);
            let trades = self.recent_trades.as_slices().0;
            let view = self.view(ctx, trigger, mid, (size, max), trades, &orders);
            let mut rng = StrategyRng::new(ctx.seed, ctx.index, ctx.seq);
            let wanted = strategy.on_event(&view, &mut rng);
            self.scratch.orders = orders;
            wanted
        };
        self.strategy.put_back(strategy);
        let Some(wanted) = wanted else { return };
        let s = &ctx.cfg.strategy;
        if let Some(last) = self.last_quote {
            let interval = s.requote_min_interval_ms * 1_000_000;
            if ctx.now.since(last.at) < interval {
                // Throttled: try again when the interval has passed, even if no input comes.
                self.requote_due = Some(last.at.plus_ns(interval));
                self.strategy.reuse(wanted);
                return;
            }
        }
        self.requote_due = None;
        let Quotes { bids, asks } = self.post_only(wanted);
        let tick = self.instrument.tick_at(mid);
        let moved_mid = self.last_quote.map_or(true, |l| {
            (mid.0 - l.mid.0).unsigned_abs() as f64 / mid.0 as f64 * 1e4 > s.requote_mid_bp
        });
        let step = s.requote_ticks * tick.0.unsigned_abs();
        let moved = |cur: &[Price], want: &[Quote]| {
            cur.len() != want.len()
                || cur.iter().zip(want).any(|(c, w)| (c.0 - w.px.0).unsigned_abs() >= step)
        };
        let mut pxs = std::mem::take(&mut self.scratch.prices);
        self.resting_prices(Side::Buy, &mut pxs);
        let bids_moved = moved(&pxs, &bids);
        self.resting_prices(Side::Sell, &mut pxs);
        let asks_moved = moved(&pxs, &asks);
        self.scratch.prices = pxs;
        if !(moved_mid || bids_moved || asks_moved) {
            self.strategy.reuse(Quotes { bids, asks });
            return;
        }
        self.last_quote = Some(QuoteState {
            at: ctx.now,
            mid,
            bid: bids.first().map(|q| q.px),
            ask: asks.first().map(|q| q.px),
        });
        self.apply_side(ctx, Side::Buy, &bids, max);
        self.apply_side(ctx, Side::Sell, &asks, max);
        self.strategy.reuse(Quotes { bids, asks });
        self.update_margin(ctx);
        debug_assert!(self.quotes_not_crossed());
    }

    /// Post-only: no wanted price crosses the touch (improving it is allowed), and no ask is
    /// at or below the best wanted bid. Zero sizes are dropped; each side is sorted best
    /// first (stable: levels at one price keep the strategy's order).
    fn post_only(&self, wanted: Quotes) -> Quotes {
        let down = |px: Price| crate::strategy::round_away(&self.instrument, px, Side::Buy);
        let up = |px: Price| crate::strategy::round_away(&self.instrument, px, Side::Sell);
        let mut bids: Vec<Quote> = wanted.bids.into_iter().filter(|q| q.sz.0 > 0).collect();
        let mut asks: Vec<Quote> = wanted.asks.into_iter().filter(|q| q.sz.0 > 0).collect();
        for b in &mut bids {
            if let Some(a) = self.best_ask {
                b.px = b.px.min(down(Price(a.0 - 1)));
            }
        }
        for a in &mut asks {
            if let Some(b) = self.best_bid {
                a.px = a.px.max(up(Price(b.0 + 1)));
            }
        }
        bids.sort_by_key(|x| std::cmp::Reverse(x.px));
        if let Some(top_bid) = bids.first().map(|q| q.px) {
            for a in &mut asks {
                if a.px <= top_bid {
                    a.px = up(Price(top_bid.0 + 1));
                }
            }
        }
        asks.sort_by_key(|x| x.px);
        Quotes { bids, asks }
    }

    fn quotes_not_crossed(&self) -> bool {
        match (self.best_quote(Side::Buy), self.best_quote(Side::Sell)) {
            (Some(b), Some(a)) => b < a,
            _ => true,
        }
    }

    /// One side's diff: keep what is wanted again, cancel the rest, place what is missing.
    fn apply_side(&mut self, ctx: &mut Ctx<'_>, side: Side, want: &[Quote], max: Qty) {
        // Kept quotes stay in `current` in their order; the rest move to `cancel` in theirs.
        let mut current = std::mem::take(self.quotes.side_mut(side));
        let mut open = std::mem::take(&mut self.scratch.open);
        open.clear();
        open.resize(want.len(), true);
        let mut cancel = std::mem::take(&mut self.scratch.cancel);
        cancel.clear();
        let sim = &self.sim;
        current.retain(|q| {
            let matched = sim.order(q.id).and_then(|_| {
                want.iter().enumerate().position(|(i, w)| open[i] && w.px == q.px && w.sz == q.sz)
            });
            match matched {
                Some(i) => {
                    open[i] = false;
                    true
                }
                None => {
                    cancel.push(*q);
                    false
                }
            }
        });
        *self.quotes.side_mut(side) = current;
        // The feed does not change while one input is handled: one look-up for every cancel.
        let excess = self.feed_excess_ns();
        for q in cancel.drain(..) {
            let dead_at = self.sim.cancel(q.id, ctx.now, excess).unwrap_or(ctx.now);
            ctx.out.push(Output::OrderCancelled {
                coin: self.coin.clone(),
                order_id: q.id,
                reason: CancelReason::Requote,
                dead_at,
            });
        }
        for (w, _) in want.iter().zip(&open).filter(|(_, o)| **o) {
            self.place(ctx, side, *w, max);
        }
        self.scratch.open = open;
        self.scratch.cancel = cancel;
    }

    /// The feed's excess delay for the latency model, 0 when the model ignores it:
    /// `FeedDelay::excess_ns` scans the trailing window's buckets, which only `feed` needs.
    fn feed_excess_ns(&self) -> u64 {
        if self.sim.uses_feed_delay() {
            self.feed.excess_ns()
        } else {
            0
        }
    }

    /// One new quote through the engine's limits and the latency model.
    fn place(&mut self, ctx: &mut Ctx<'_>, side: Side, q: Quote, max: Qty) {
        let Quote { px, sz } = q;
        // Inventory limit: the position plus everything on this side that could still fill.
        let worst = self.position.qty.0 + side.sign() * (self.sim.outstanding(side).0 + sz.0);
        if worst.abs() > max.0 {
            ctx.stats.max_position_blocks += 1;
            return;
        }
        let limit = (ctx.cfg.strategy.max_order_notional_usd * SCALE as f64) as i128;
        if notional(px, sz) > limit {
            ctx.stats.notional_rejects += 1;
            ctx.out.push(Output::OrderRejected {
                coin: self.coin.clone(),
                side,
                px,
                sz,
                reason: RejectReason::MaxOrderNotional,
            });
            return;
        }
        self.update_margin(ctx);
        if !ctx.margin.check_order(ctx.index, side, sz) {
            self.margin_rejects += 1;
            ctx.out.push(Output::OrderRejected {
                coin: self.coin.clone(),
                side,
                px,
                sz,
                reason: RejectReason::Margin,
            });
            return;
        }
        let id = ctx.ids.order();
        let live_at = ctx.now.plus_ns(self.sim.entry_latency_for(id, self.feed_excess_ns()));
        self.sim.place(id, side, px, sz, OrderRole::Quote, live_at);
        ctx.stats.orders_placed += 1;
        self.quotes.side_mut(side).push(OwnQuote { id, px, sz });
        ctx.out.push(Output::OrderPlaced { coin: self.coin.clone(), order_id: id, side, px, sz, live_at });
    }
}
