//! The state of one traded coin: its models, its paper orders and its position, and what the
//! engine does to them on each event. The account-wide parts (margin, ids, outputs) come in
//! through [`Ctx`].

use super::config::{ConfigError, EngineConfig};
use super::io::{CancelReason, FillKind, ModelSnapshot, Output, Regime, RejectReason};
use crate::market_maker::classifier::{FillFeatures, PreFillClassifier};
use crate::market_maker::estimator::{depth_bp, ParameterEstimator, VolatilityEstimator};
use crate::market_maker::funding::FundingClock;
use crate::market_maker::margin::{CoinExposure, MarginTracker};
use crate::market_maker::position::Position;
use crate::market_maker::regime::RegimeDetector;
use crate::market_maker::simulation::fill_sim::{
    BookView, FillOpportunity, OrderRole, PostOnlyReject, SimOrder,
};
use crate::market_maker::simulation::latency::FeedDelay;
use crate::market_maker::simulation::outcome::{FillAt, OutcomeEvent};
use crate::market_maker::simulation::{CalibrationController, FillSimulator, OutcomeTracker};
use crate::strategy::{TradePrint, Trigger, RECENT_TRADES};
use crate::types::{notional, Price, Qty, Side, Timestamp, SCALE};
use crate::venue::Instrument;
use serde::{Deserialize, Serialize};

mod orders;
mod slot;

use orders::{OwnQuotes, Scratch};
pub use slot::StrategySlot;

const NS_PER_S: u64 = 1_000_000_000;
/// The whole seconds a coin's grid steps through one by one ([`CoinState::advance`]); a longer
/// silence is crossed in one step up to its last day.
const MAX_STEPPED_SECONDS: u64 = 86_400;

/// What every per-coin step needs from the account and the engine.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a EngineConfig,
    /// The session's seed (the strategy's draws are keyed by it).
    pub seed: u64,
    pub now: Timestamp,
    pub seq: u64,
    pub index: usize,
    pub ids: &'a mut Ids,
    pub margin: &'a mut MarginTracker,
    pub stats: &'a mut Stats,
    pub out: &'a mut Vec<Output>,
    /// Maker fee in thousandths of a bp (our paper orders are post-only: always maker).
    pub maker_fee_milli_bp: i64,
    /// Inside the checklist's window (the first 30 minutes of event time).
    pub window_open: bool,
}

/// Order and fill ids: one sequence each for the whole account.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ids {
    pub next_order: u64,
    pub next_fill: u64,
}

impl Ids {
    fn order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
    }
    fn fill(&mut self) -> u64 {
        self.next_fill += 1;
        self.next_fill
    }
}

/// Account-wide counters for the summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    pub fills: u64,
    /// Fills of quotes whose cancel had been sent (stale quotes picked off in the cancel tail).
    #[serde(default)]
    pub cancel_tail_fills: u64,
    pub markouts: u64,
    pub adverse_markouts: u64,
    pub markouts_dropped: u64,
    pub regime_changes: u64,
    pub orders_placed: u64,
    pub post_only_rejects: u64,
    pub max_position_blocks: u64,
    pub anomalies: u64,
    pub gaps: u64,
    /// Orders refused for exceeding `strategy.max_order_notional_usd`.
    #[serde(default)]
    pub notional_rejects: u64,
    /// The most quotes of one side live at one time (past their entry latency, no cancel
    /// sent), over every coin.
    #[serde(default)]
    pub max_resting_per_side: u64,
    /// Whether `cash + position value = starting equity + realized + unrealized - fees` held at
    /// every check.
    pub pnl_identity_held: bool,
    /// Fill id of the last fill in the checklist window, and resolved 5 s outcomes of fills up
    /// to it.
    pub window_last_fill_id: u64,
    pub window_fills: u64,
    pub window_resolved: u64,
}

/// A fill opportunity held by `adverse_fill_ratio` until the next mid change.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct HeldFill {
    opp: FillOpportunity,
    at: Timestamp,
    mid: Price,
    features: FillFeatures,
    toxicity: f64,
}

/// The last quote the strategy sent, for the refresh rule.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct QuoteState {
    at: Timestamp,
    mid: Price,
    bid: Option<Price>,
    ask: Option<Price>,
}

/// EWMA of buy and sell market volume: the trade-flow imbalance feature.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct FlowImbalance {
    buy: f64,
    sell: f64,
    last: Timestamp,
}

impl FlowImbalance {
    fn decay_to(&mut self, now: Timestamp, half_life_s: f64) {
        let dt = now.since(self.last) as f64 / 1e9;
        if dt > 0.0 {
            let f = libm::exp2(-dt / half_life_s);
            self.buy *= f;
            self.sell *= f;
            self.last = now;
        }
    }
    fn on_trade(&mut self, side: Side, sz: Qty) {
        match side {
            Side::Buy => self.buy += sz.to_f64(),
            Side::Sell => self.sell += sz.to_f64(),
        }
    }
    /// (buy - sell) / (buy + sell), 0 with no flow.
    fn value(&self) -> f64 {
        let t = self.buy + self.sell;
        if t > 0.0 {
            (self.buy - self.sell) / t
        } else {
            0.0
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CoinState {
    pub coin: crate::engine::io::Coin,
    /// Price and size grid: quotes are rounded onto it (Hyperliquid's grid depends on price).
    pub instrument: Instrument,
    /// Order size and inventory limit in base units, fixed from the first valid mid so that
    /// inventory in units of the order size means the same all session.
    order_size: Option<Qty>,
    max_position: Option<Qty>,
    pub mid: Option<Price>,
    best_bid: Option<Price>,
    best_ask: Option<Price>,
    imbalance: f64,
    pub book_valid: bool,
    pub vol: VolatilityEstimator,
    pub regime: RegimeDetector,
    pub estimator: ParameterEstimator,
    pub pre_fill_classifier: PreFillClassifier,
    pub outcomes: OutcomeTracker,
    pub calibration: CalibrationController,
    pub position: Position,
    pub sim: FillSimulator,
    /// Our quotes with no cancel sent, by side, best first.
    quotes: OwnQuotes,
    last_quote: Option<QuoteState>,
    /// The strategy that says which quotes should rest (state tagged with kind and version).
    pub strategy: StrategySlot,
    /// The top of the book and the last market trades, as the strategy's view shows them.
    book_levels: [Vec<(Price, Qty)>; 2],
    recent_trades: std::collections::VecDeque<TradePrint>,
    /// The most quotes of one side live at one time.
    pub max_resting_per_side: u64,
    /// Probe order ids of the shadow ladder: rung-major, bid then ask.
    probes: Vec<Option<u64>>,
    ladder_bp: Vec<f64>,
    probe_seq: u64,
    /// The last valid mid: positions are marked at it while the book is invalid.
    pub mark: Price,
    /// A best bid and offer newer than the book (see `market::TopView`).
    pub(crate) top: Option<super::market::Top>,
    flow: FlowImbalance,
    held: Vec<HeldFill>,
    exposure_from: Option<Timestamp>,
    last_second: u64,
    pub fills: u64,
    /// Fills of quotes whose cancel had been sent (stale quotes picked off in the cancel tail).
    #[serde(default)]
    pub cancel_tail_fills: u64,
    pub markouts: u64,
    pub adverse_markouts: u64,
    pub margin_rejects: u64,
    /// New market trades of this coin (history batches excluded), for the checklist's active
    /// minutes as `validate` recomputes them from the snapshots.
    #[serde(default)]
    pub market_trades: u64,
    /// The feed's receive - exchange time delay (the `feed` latency model).
    #[serde(default)]
    feed: FeedDelay,
    /// The mids in effect since the oldest held fill, `(from, mid)`: a held fill booked later
    /// resolves its already-due markouts with the mid of their due time, not a later one.
    #[serde(default)]
    held_mids: std::collections::VecDeque<(Timestamp, Price)>,
    /// A requote the minimum interval throttled: retried at this deadline.
    #[serde(default)]
    requote_due: Option<Timestamp>,
    /// Sum of the labelled markouts' no-skill probabilities (their count is `markouts`).
    #[serde(default)]
    pub no_skill_sum: f64,
    /// The perpetual's funding schedule and the venue's last mark price and rate
    /// (`market_maker::funding`); the engine sets the venue's interval.
    #[serde(default)]
    pub funding: FundingClock,
    /// `requote`'s reused buffers: not state (empty in meaning between inputs), never saved.
    #[serde(skip)]
    scratch: Scratch,
    /// `rearm_probes`' reused buffers, likewise.
    #[serde(skip)]
    probe_moves: Vec<ProbeMove>,
    #[serde(skip)]
    probe_ids: Vec<u64>,
}

/// A probe `rearm_probes` re-anchors: the one it replaces, if the simulator still has it.
#[derive(Clone, Copy, Debug)]
struct ProbeMove {
    old: Option<u64>,
    slot: usize,
    side: Side,
    target: Price,
    live_at: Timestamp,
}

/// A read-only view of one coin's quoting state ([`CoinState::quote_view`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuoteView {
    pub mid: Option<Price>,
    /// The market's best bid and ask (a `bbo` newer than the book overlaid).
    pub touch_bid: Option<Price>,
    pub touch_ask: Option<Price>,
    /// Our best quote on each side with no cancel sent (the model snapshots' `bid_quote`).
    pub our_bid: Option<Price>,
    pub our_ask: Option<Price>,
    pub book_valid: bool,
    pub position: Qty,
    /// What the position is marked at (the last valid mid, or the venue's mark price).
    pub mark: Price,
    /// (realized, unrealized at the mark, funding, fees), 10^-8 quote units.
    pub pnl: (i64, i64, i64, i64),
    /// The last market event's receive - exchange time, ns (`None` before any, or after a
    /// reconnect).
    pub feed_delay_ns: Option<i64>,
}

/// Bound on the mid path kept for held fills (they wait at most one markout horizon).
const MAX_HELD_MIDS: usize = 100_000;

/// The last mid at or before `t` on a path of `(from, mid)`.
fn mid_at(path: &std::collections::VecDeque<(Timestamp, Price)>, t: Timestamp) -> Option<Price> {
    let k = path.partition_point(|(from, _)| *from <= t);
    (k > 0).then(|| path[k - 1].1)
}

/// Bound on held fills per coin (`adverse_fill_ratio`): at most one per order, and a coin has
/// two quotes and their cancelling predecessors.
const MAX_HELD: usize = 64;

impl CoinState {
    pub fn new(
        coin: &str,
        instrument: Instrument,
        cfg: &EngineConfig,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        let rungs = if cfg.engine.shadow_ladder { cfg.estimator.shadow_ladder_bp.len() } else { 0 };
        let strategy = StrategySlot::build(&cfg.strategy)?;
        Ok(CoinState {
            coin: coin.into(),
            instrument,
            order_size: None,
            max_position: None,
            mid: None,
            best_bid: None,
            best_ask: None,
            imbalance: 0.0,
            book_valid: false,
            vol: VolatilityEstimator::new(cfg.strategy.sigma_half_life_s, cfg.strategy.sigma_prior_bp),
            regime: RegimeDetector::new(&cfg.regime),
            estimator: ParameterEstimator::new(&cfg.estimator),
            pre_fill_classifier: PreFillClassifier::new(&cfg.classifier),
            outcomes: OutcomeTracker::new(&cfg.outcome),
            calibration: CalibrationController::new(&cfg.calibration),
            position: Position::default(),
            sim: FillSimulator::new(&cfg.fill_sim, seed),
            quotes: OwnQuotes::default(),
            last_quote: None,
            strategy,
            book_levels: [Vec::new(), Vec::new()],
            recent_trades: Default::default(),
            max_resting_per_side: 0,
            probes: vec![None; rungs * 2],
            ladder_bp: if cfg.engine.shadow_ladder { cfg.estimator.shadow_ladder_bp.clone() } else { vec![] },
            probe_seq: 0,
            mark: Price(0),
            top: None,
            flow: FlowImbalance::default(),
            held: Vec::new(),
            exposure_from: None,
            last_second: 0,
            fills: 0,
            cancel_tail_fills: 0,
            markouts: 0,
            adverse_markouts: 0,
            margin_rejects: 0,
            market_trades: 0,
            feed: FeedDelay::default(),
            held_mids: Default::default(),
            requote_due: None,
            no_skill_sum: 0.0,
            scratch: Scratch::default(),
            probe_moves: Vec::new(),
            probe_ids: Vec::new(),
            funding: FundingClock::default(),
        })
    }

    /// Time passed up to `now` (before the input at `now` is applied): exposure, the 1 s
    /// volatility grid, regime, calibration, due outcomes, order activation.
    pub(crate) fn advance(&mut self, ctx: &mut Ctx<'_>, book: Option<&dyn BookView>) {
        let now = ctx.now;
        // Orders whose entry latency passed since the last input went live then, on the book
        // as it stood (it has not changed since): activate first, so their exposure counts
        // from `live_at` (a probe re-anchored at the last input is live from that input on).
        if let Some(book) = book.filter(|_| self.book_valid && self.sim.activation_due(now)) {
            self.activate(ctx, book);
        }
        // The coin's 1 s grid of event time, on its own clock: each whole second passed since
        // the last call, in order, with the markouts due before it, the exposure up to it,
        // then the second's decay, volatility sample and calibration step. What these compute
        // depends on the coin's state and the second only, never on when the engine was
        // called (at every input of any coin): another coin's messages change nothing here.
        let second = now.0 / NS_PER_S;
        if self.last_second == 0 {
            // The grid starts at the second of the first call.
            self.last_second = second;
            self.on_second(ctx, second);
        }
        while self.last_second < second {
            // One second at a time; a silence of more than a day (a clock jump, a venue down)
            // is crossed in one step up to its last day, so that a bad timestamp cannot loop
            // for years (the exposure and fills have long decayed by then: the forgetting
            // horizon is 30 min).
            let s = (self.last_second + 1).max(second.saturating_sub(MAX_STEPPED_SECONDS));
            let at = Timestamp(s * NS_PER_S);
            self.resolve_markouts(ctx, at);
            self.catch_up(at);
            self.estimator.decay((s - self.last_second) as f64);
            self.last_second = s;
            self.on_second(ctx, s);
        }
        // No exposure is added up to `now` here: summed in integers, it is the same whenever it
        // is added, so it waits until something of this coin's changes (`catch_up`: its own
        // input, a fill, a cancel), and most inputs are other coins'. Orders dying or filled
        // meanwhile rest no more: `catch_up` leaves them out.
        self.sim.purge(now);
        // Markout horizons that passed: on most inputs (every coin's, for each coin) none.
        self.resolve_markouts(ctx, now);
        if let Some(mid) = self.mid.filter(|_| !self.held.is_empty()) {
            self.catch_up(now);
            self.decide_held(ctx, mid);
        }
        let strategy_due = self.strategy.next_deadline().is_some_and(|d| d <= now);
        if strategy_due || self.requote_due.is_some_and(|d| d <= now) {
            self.catch_up(now);
            self.requote_due = None;
            self.requote(ctx, Trigger::Deadline);
        }
    }

    /// Exposure up to `until` of the quotes the strategy stands by, added before an input (or
    /// deadline) changes anything of this coin's that exposure depends on (its mid, touch,
    /// orders or fit) and at each whole second: from going live until its cancel is sent, in
    /// integer nanoseconds (split anywhere, the sum is the same). A cancel
    /// is only ever sent while an input (or deadline) at `exposure_from` or earlier is
    /// handled, so an order with a cancel in flight has no exposure left in `[from, until)`;
    /// the fills of its cancel tail stay out of the fit too
    /// (`ParameterEstimator::on_unfitted_fill`), so kappa does not depend on the latency.
    pub(crate) fn catch_up(&mut self, until: Timestamp) {
        if self.exposure_from == Some(until) {
            // Added up to `until` already (an input's second event of this coin).
            return;
        }
        if let (Some(mid), Some(from)) = (self.mid, self.exposure_from) {
            // A quote filled completely rests no more: its exposure ended at the input that
            // filled it (accrued just before), not at its purge, which waits for the next call.
            let resting = |o: &&SimOrder| {
                o.active && !o.held && o.dead_at.is_none() && (o.is_probe() || o.remaining.0 > 0)
            };
            for o in self.sim.orders().iter().filter(resting) {
                let start = from.max(o.live_at);
                if until > start && self.estimator.behind_touch(o.side, o.px) {
                    self.estimator.on_exposure_ns(depth_bp(o.px, mid), until.since(start), o.is_probe());
                }
            }
        }
        self.exposure_from = self.mid.map(|_| until);
    }

    /// The markouts whose horizon passed before `at`, resolved at the mid in effect then.
    fn resolve_markouts(&mut self, ctx: &mut Ctx<'_>, at: Timestamp) {
        if self.outcomes.next_due().is_some_and(|due| due < at) {
            let mut events = Vec::new();
            self.outcomes.update_mid(at, None, &mut events);
            self.apply_outcomes(ctx, events);
        }
    }

    /// The work of whole second `second` of the coin's grid (after its decay): the volatility
    /// sample of the mid in effect at its start, the regime, the calibration step.
    fn on_second(&mut self, ctx: &mut Ctx<'_>, second: u64) {
        if let Some(mid) = self.mid {
            if let Some((r, k)) = self.vol.on_mid(second, mid) {
                if let Some((from, to)) = self.regime.on_return(r, k) {
                    ctx.stats.regime_changes += 1;
                    ctx.out.push(Output::RegimeChange {
                        coin: self.coin.clone(),
                        from,
                        to,
                        vol_ratio: self.regime.ratio(),
                    });
                }
            }
        }
        self.calibration.update(
            second * NS_PER_S,
            self.estimator.kappa_confidence(),
            self.pre_fill_classifier.as_progress(),
            self.regime.regime() == Regime::Volatile,
        );
    }

    fn activate(&mut self, ctx: &mut Ctx<'_>, book: &dyn BookView) {
        let mut rejects: Vec<PostOnlyReject> = Vec::new();
        // The resting count only grows when an order goes live (fills and cancels shrink it),
        // so its maximum is only worth recounting then.
        if self.sim.activate(ctx.now, book, &mut rejects) > 0 {
            self.count_resting(ctx);
        }
        for r in rejects {
            if let Some(rung) = self.probe_slot(r.order_id) {
                self.probes[rung] = None;
                continue;
            }
            ctx.stats.post_only_rejects += 1;
            self.forget_quote(r.order_id);
            ctx.out.push(Output::OrderRejected {
                coin: self.coin.clone(),
                side: r.side,
                px: r.px,
                sz: r.sz,
                reason: RejectReason::PostOnly,
            });
        }
    }

    fn probe_slot(&self, id: u64) -> Option<usize> {
        self.probes.iter().position(|p| *p == Some(id))
    }

    fn forget_quote(&mut self, id: u64) {
        self.quotes.forget(id);
    }

    /// A book event was applied for this coin: validity, crossing fills, mid, requote.
    pub(crate) fn on_book(
        &mut self,
        ctx: &mut Ctx<'_>,
        book: &dyn BookView,
        valid: bool,
        mid: Option<Price>,
        imbalance: f64,
    ) {
        if valid != self.book_valid {
            ctx.out.push(Output::BookValidity { coin: self.coin.clone(), valid });
            if !valid {
                self.invalidate(ctx, CancelReason::BookInvalid);
                return;
            }
            self.book_valid = true;
        }
        if !valid {
            return;
        }
        let Some(mid) = mid else { return };
        if self.best_bid.is_none() {
            self.estimator.set_touch(book.best_bid(), book.best_ask());
        }
        self.activate(ctx, book);
        let mut opps = Vec::new();
        self.sim.on_book(ctx.now, ctx.seq, book, &mut opps);
        let old_mid = self.mid;
        // A crossing fill's reference mid and features are the last ones before the event that
        // filled it: the post-update mid has already moved through our price, which would make
        // its markout look favourable.
        let pre_mid = old_mid.unwrap_or(mid);
        for opp in opps {
            self.on_opportunity(ctx, opp, pre_mid);
        }
        self.best_bid = book.best_bid();
        self.best_ask = book.best_ask();
        self.imbalance = imbalance;
        for (k, side) in [(0, Side::Buy), (1, Side::Sell)] {
            orders::top_levels(book, side, &mut self.book_levels[k]);
        }
        self.set_mid(ctx, mid);
        self.estimator.set_touch(self.best_bid, self.best_ask);
        if old_mid != Some(mid) {
            self.decide_held(ctx, mid);
            self.rearm_probes(ctx.now, mid);
        }
        self.requote(ctx, Trigger::Book);
    }

    fn set_mid(&mut self, ctx: &mut Ctx<'_>, mid: Price) {
        if self.order_size.is_none() {
            self.fix_sizes(ctx.cfg, mid);
        }
        let mut events = Vec::new();
        self.outcomes.update_mid(ctx.now, Some(mid), &mut events);
        self.apply_outcomes(ctx, events);
        if self.mid.is_none() {
            self.exposure_from = Some(ctx.now);
        }
        if !self.held.is_empty() && self.mid != Some(mid) {
            if self.held_mids.len() >= MAX_HELD_MIDS {
                self.held_mids.pop_front();
            }
            self.held_mids.push_back((ctx.now, mid));
        }
        self.mid = Some(mid);
        // The venue's mark price, when the feed gives one, marks the position (as the venue
        // does for margin); the mid otherwise.
        self.mark = self.funding.mark.unwrap_or(mid);
        self.update_margin(ctx);
    }

    /// The venue's context for this perpetual (mark price, funding rate, announced next
    /// funding time): the position is marked at the venue's mark from now on.
    pub(crate) fn on_asset_ctx(&mut self, ctx: &mut Ctx<'_>, mark: Price, rate: i64, next_ns: Option<u64>) {
        self.funding.on_context(ctx.now.0, mark, rate, next_ns);
        self.mark = mark;
        self.update_margin(ctx);
        self.check_invariants(ctx);
    }

    /// Funding times passed since the last input: paid or received on the position held
    /// then (no input came in between, so it is the position now), at the last mark.
    pub(crate) fn settle_funding(&mut self, ctx: &mut Ctx<'_>) {
        let mut due = Vec::new();
        self.funding.take_due(ctx.now.0, self.position.qty, self.mark, &mut due);
        if due.is_empty() {
            return;
        }
        for e in due {
            self.position.apply_funding(e.amount);
            ctx.out.push(Output::Funding {
                coin: self.coin.clone(),
                time: Timestamp(e.time_ns),
                rate: e.rate,
                mark: e.mark,
                position: e.position,
                amount: e.amount,
            });
        }
        self.update_margin(ctx);
        self.check_invariants(ctx);
    }

    fn fix_sizes(&mut self, cfg: &EngineConfig, mid: Price) {
        let lots = |usd: f64| -> Qty {
            let base_units = usd * SCALE as f64 / mid.to_f64();
            let lot = self.instrument.lot.0.max(1);
            Qty(((base_units as i64) / lot).max(1) * lot)
        };
        // Base units (`strategy.order_size`, `strategy.max_position`) override the notionals.
        let base = |units: f64| -> Qty {
            let lot = self.instrument.lot.0.max(1);
            Qty((((units * SCALE as f64).round() as i64) / lot).max(1) * lot)
        };
        let st = &cfg.strategy;
        let size = match st.order_size {
            Some(units) => base(units),
            None => lots(st.order_notional_usd.min(st.max_order_notional_usd)),
        };
        let max = match st.max_position {
            Some(units) => base(units),
            None => lots(st.max_position_usd),
        };
        self.order_size = Some(size);
        self.max_position = Some(Qty(max.0.max(size.0)));
    }

    /// A market trade of this coin (not history), the `index`-th print of its input.
    pub(crate) fn on_trade(&mut self, ctx: &mut Ctx<'_>, index: u32, side: Side, px: Price, sz: Qty) {
        self.market_trades += 1;
        self.flow.decay_to(ctx.now, ctx.cfg.strategy.flow_half_life_s);
        if let Some(mid) = self.mid.filter(|_| self.book_valid) {
            let mut opps = Vec::new();
            self.sim.on_trade(ctx.now, ctx.seq, index, side, px, sz, &mut opps);
            let had_fill = !opps.is_empty();
            // The pre-fill features see the flow before this trade: the print that fills us is
            // not information we had when it arrived.
            for opp in opps {
                self.on_opportunity(ctx, opp, mid);
            }
            self.flow.on_trade(side, sz);
            self.remember_trade(ctx.now, side, px, sz);
            self.requote(ctx, if had_fill { Trigger::Fill } else { Trigger::Trade });
        } else {
            self.flow.on_trade(side, sz);
            self.remember_trade(ctx.now, side, px, sz);
        }
    }

    fn remember_trade(&mut self, at: Timestamp, side: Side, px: Price, sz: Qty) {
        if self.recent_trades.len() >= RECENT_TRADES {
            self.recent_trades.pop_front();
        }
        self.recent_trades.push_back(TradePrint { at, side, px, sz });
    }

    /// A market event of this coin received at `now` with the exchange's time `exch`: the
    /// feed delay of the `feed` latency model.
    pub(crate) fn observe_feed(&mut self, now: Timestamp, exch: Timestamp, window_s: u64) {
        self.feed.observe(now, exch, window_s);
    }

    /// The classifier's features for an order of `side` at `px` as things stand (the flow
    /// ratio needs no decay to now: decay scales both sides alike).
    fn features(&self, side: Side, px: Price, mid: Price) -> FillFeatures {
        let against = -(side.sign() as f64);
        let spread_bp = match (self.best_bid, self.best_ask) {
            (Some(b), Some(a)) if mid.0 > 0 => (a.0 - b.0) as f64 / mid.0 as f64 * 1e4,
            _ => 0.0,
        };
        FillFeatures {
            book_imbalance: against * self.imbalance,
            flow_imbalance: against * self.flow.value(),
            spread_bp,
            sigma_bp: self.vol.sigma_bp(),
            quote_depth_bp: depth_bp(px, mid),
        }
    }

    fn on_opportunity(&mut self, ctx: &mut Ctx<'_>, opp: FillOpportunity, mid: Price) {
        if opp.probe {
            // Loop 1's shadow ladder: a zero-size fill, then the probe is re-armed after the
            // entry latency so one sweep of the book counts once.
            self.estimator.set_event(ctx.seq);
            if opp.kind == FillKind::BookCross {
                self.estimator.on_unfitted_fill(opp.side, Qty(0));
            } else {
                self.estimator.on_own_fill(opp.side, opp.px, Qty(0), mid);
            }
            if let Some(slot) = self.probe_slot(opp.order_id) {
                self.sim.remove(opp.order_id);
                self.probes[slot] = None;
            }
            return;
        }
        let features = self.features(opp.side, opp.px, mid);
        let toxicity = self.pre_fill_classifier.toxicity(&features);
        if opp.held {
            if self.held.len() >= MAX_HELD {
                self.sim.release_hold(opp.order_id, opp.sz, false);
                return;
            }
            if self.held.is_empty() {
                self.held_mids.clear();
                if let Some(m) = self.mid {
                    self.held_mids.push_back((ctx.now, m));
                }
            }
            self.held.push(HeldFill { opp, at: ctx.now, mid, features, toxicity });
            return;
        }
        self.on_simulated_fill(ctx, &opp, ctx.now, mid, features, toxicity);
    }

    /// `adverse_fill_ratio`: a held opportunity waits until the mid leaves a band of half the
    /// adverse threshold around its mid, deciding only from data already seen: it is dropped
    /// if the mid left on the order's favourable side, filled (at its own time and mid) if it
    /// left on the adverse side or stayed inside the band for the markout horizon. Holding
    /// only until the next tick of the mid would not work: the aggressor that filled us has
    /// usually moved the top against us already, so nearly every hold would be kept.
    fn decide_held(&mut self, ctx: &mut Ctx<'_>, mid: Price) {
        if self.held.is_empty() {
            return;
        }
        let band_bp = ctx.cfg.outcome.adverse_threshold_bp / 2.0;
        let horizon_ns = u64::from(ctx.cfg.outcome.markout_horizon_s) * NS_PER_S;
        for h in std::mem::take(&mut self.held) {
            let move_bp = h.opp.side.sign() as f64 * (mid.0 - h.mid.0) as f64 / h.mid.0 as f64 * 1e4;
            let timed_out = ctx.now.since(h.at) >= horizon_ns;
            if move_bp >= band_bp {
                self.sim.release_hold(h.opp.order_id, h.opp.sz, false);
            } else if move_bp <= -band_bp || timed_out {
                self.sim.release_hold(h.opp.order_id, h.opp.sz, true);
                self.on_simulated_fill(ctx, &h.opp, h.at, h.mid, h.features, h.toxicity);
            } else {
                self.held.push(h);
            }
        }
        if self.held.is_empty() {
            self.held_mids.clear();
        }
    }

    /// The seed's `on_simulated_fill()`: position, fees, margin, loop 1 (kappa) and loop 2
    /// (the pending outcome) for one fill of a quote.
    fn on_simulated_fill(
        &mut self,
        ctx: &mut Ctx<'_>,
        opp: &FillOpportunity,
        at: Timestamp,
        mid: Price,
        features: FillFeatures,
        toxicity: f64,
    ) {
        let fee = (notional(opp.px, opp.sz) * i128::from(ctx.maker_fee_milli_bp) / 10_000_000) as i64;
        self.position.apply_fill(opp.side, opp.px, opp.sz, fee);
        // Loop 1: every fill reaches the estimator (crossings are counted, not fitted); fills of
        // one input are one event of the fit's variance.
        self.estimator.set_event(ctx.seq);
        if opp.cancelling {
            self.cancel_tail_fills += 1;
            ctx.stats.cancel_tail_fills += 1;
        }
        if opp.kind == FillKind::BookCross || opp.cancelling {
            self.estimator.on_unfitted_fill(opp.side, opp.sz);
        } else {
            self.estimator.on_own_fill(opp.side, opp.px, opp.sz, mid);
        }
        let fill_id = ctx.ids.fill();
        let mut events = Vec::new();
        let fill = FillAt { fill_id, side: opp.side, price: opp.px, mid_at_fill: mid, at, features };
        if at < ctx.now {
            // A held fill decided now: horizons already due resolve with the mids of their time.
            let path = &self.held_mids;
            self.outcomes.on_late_fill(&fill, ctx.now, |due| mid_at(path, due), &mut events);
        } else {
            self.outcomes.on_fill(&fill, &mut events);
        }
        self.apply_outcomes(ctx, events);
        self.fills += 1;
        ctx.stats.fills += 1;
        if ctx.window_open {
            ctx.stats.window_fills += 1;
            ctx.stats.window_last_fill_id = fill_id;
        }
        if self.sim.order(opp.order_id).is_some_and(|o| o.remaining.0 == 0) {
            self.forget_quote(opp.order_id);
        }
        self.update_margin(ctx);
        self.check_invariants(ctx);
        ctx.out.push(Output::Fill {
            coin: self.coin.clone(),
            fill_id,
            order_id: opp.order_id,
            side: opp.side,
            px: opp.px,
            sz: opp.sz,
            fee,
            mid,
            kind: opp.kind,
            toxicity,
            position_after: self.position.qty,
        });
        let snap = self.snapshot(ctx.margin);
        ctx.out.push(Output::Model(snap));
    }

    fn check_invariants(&self, ctx: &mut Ctx<'_>) {
        assert_eq!(
            self.position.qty.0, self.position.fills_qty_sum,
            "{}: position != sum of fills",
            self.coin
        );
        if let Some(max) = self.max_position {
            assert!(self.position.qty.0.abs() <= max.0, "{}: inventory beyond its limit", self.coin);
        }
        if !self.position.identity_holds(self.mark) {
            ctx.stats.pnl_identity_held = false;
        }
    }

    fn apply_outcomes(&mut self, ctx: &mut Ctx<'_>, events: Vec<OutcomeEvent>) {
        for e in events {
            match e {
                OutcomeEvent::Resolved { fill_id, horizon_s, move_bp, was_adverse, features } => {
                    let no_skill = was_adverse.map(|_| {
                        let o = &ctx.cfg.outcome;
                        super::no_skill_as_rate(
                            features.sigma_bp,
                            o.adverse_threshold_bp,
                            o.markout_horizon_s,
                        )
                    });
                    if let Some(p) = no_skill {
                        self.no_skill_sum += p;
                    }
                    if let Some(adverse) = was_adverse {
                        // Loop 2: the classifier learns from the features seen at fill time.
                        self.pre_fill_classifier.record_outcome(adverse, &features);
                        self.markouts += 1;
                        ctx.stats.markouts += 1;
                        if adverse {
                            self.adverse_markouts += 1;
                            ctx.stats.adverse_markouts += 1;
                        }
                        if fill_id <= ctx.stats.window_last_fill_id {
                            ctx.stats.window_resolved += 1;
                        }
                    }
                    ctx.out.push(Output::Markout {
                        coin: self.coin.clone(),
                        fill_id,
                        horizon_s,
                        move_bp,
                        was_adverse,
                        no_skill,
                    });
                }
                OutcomeEvent::Dropped { fill_id, horizon_s } => {
                    ctx.stats.markouts_dropped += 1;
                    ctx.out.push(Output::MarkoutDropped { coin: self.coin.clone(), fill_id, horizon_s });
                }
            }
        }
    }

    /// The margin tracker's `update_state()`: on every position change and mark update.
    fn update_margin(&mut self, ctx: &mut Ctx<'_>) {
        let mark = self.mark;
        let pnl = self.position.net_at(mark);
        let (open_bids, open_asks) = self.sim.outstanding_both();
        ctx.margin.update_state(
            ctx.index,
            CoinExposure { position: self.position.qty, mark, open_bids, open_asks, pnl },
        );
    }

    /// A gap, disconnect or invalid book: cancel everything at once (the venue would cancel
    /// nothing, but we can no longer tell what filled), drop what is pending.
    pub(crate) fn invalidate(&mut self, ctx: &mut Ctx<'_>, reason: CancelReason) {
        self.catch_up(ctx.now);
        self.book_valid = false;
        self.top = None;
        for o in self.sim.remove_all() {
            if !o.is_probe() {
                ctx.out.push(Output::OrderCancelled {
                    coin: self.coin.clone(),
                    order_id: o.id,
                    reason,
                    dead_at: ctx.now,
                });
            }
        }
        self.held.clear();
        self.held_mids.clear();
        self.probes.iter_mut().for_each(|p| *p = None);
        self.quotes.clear();
        self.last_quote = None;
        self.requote_due = None;
        let mut events = Vec::new();
        self.outcomes.on_gap(&mut events);
        self.apply_outcomes(ctx, events);
        self.vol.reset_anchor();
        self.mid = None;
        self.exposure_from = None;
        self.best_bid = None;
        self.best_ask = None;
        if reason == CancelReason::Disconnect {
            // A new connection has delays of its own.
            self.feed.reset();
        }
        self.update_margin(ctx);
    }

    /// Keeps a probe at each rung of the shadow ladder, re-anchored to the mid. A moved probe
    /// is live at once (probes are virtual: the estimator measures the market's intensity at a
    /// depth, not our latency); a filled one comes back after the entry latency.
    fn rearm_probes(&mut self, now: Timestamp, mid: Price) {
        let rungs = self.probes.len() / 2;
        let entry = self.sim.entry_latency_ns();
        // Most mid changes move most probes. Removing each moved probe from the simulator's
        // order list at once shifted the list's tail once per probe; the moved ones are
        // removed together in one pass instead and the new ones appended after it, in slot
        // order: the same list as removing and appending one slot at a time (the new probes
        // are never among those removed), with the same ids.
        let mut moves = std::mem::take(&mut self.probe_moves);
        moves.clear();
        for r in 0..rungs {
            let Some(&d) = self.probes_depths().get(r) else { break };
            for (k, side) in [(0usize, Side::Buy), (1, Side::Sell)] {
                let slot = r * 2 + k;
                let target = self.price_at_depth(mid, d, side);
                let (old, live_at) = match self.probes[slot] {
                    Some(id) => match self.sim.order(id) {
                        Some(o) if o.px == target => continue,
                        Some(o) => (Some(id), if o.active { now } else { o.live_at }),
                        None => (None, now.plus_ns(entry)),
                    },
                    None => (None, now.plus_ns(entry)),
                };
                moves.push(ProbeMove { old, slot, side, target, live_at });
            }
        }
        if !moves.is_empty() {
            let mut gone = std::mem::take(&mut self.probe_ids);
            gone.clear();
            gone.extend(moves.iter().filter_map(|m| m.old));
            self.sim.remove_ids(&gone);
            self.probe_ids = gone;
            for m in &moves {
                let id = self.next_probe_id();
                let rung = (m.slot / 2) as u8;
                self.sim.place(id, m.side, m.target, Qty(0), OrderRole::Probe { rung }, m.live_at);
                self.probes[m.slot] = Some(id);
            }
        }
        self.probe_moves = moves;
    }

    fn probes_depths(&self) -> &[f64] {
        &self.ladder_bp
    }

    /// Probes take ids from their own space (high bit set) so they never consume the
    /// account's order ids, which appear in the output journal.
    fn next_probe_id(&mut self) -> u64 {
        self.probe_seq += 1;
        (1u64 << 63) | self.probe_seq
    }

    /// The price `depth_bp` from the mid on `side`, rounded away from the mid onto the grid.
    fn price_at_depth(&self, mid: Price, depth_bp: f64, side: Side) -> Price {
        crate::strategy::price_at_depth(&self.instrument, mid, depth_bp, side)
    }

    pub fn snapshot(&self, margin: &MarginTracker) -> ModelSnapshot {
        let mark = self.mark;
        let q = |v: i64| v as f64 / SCALE as f64;
        let bid_quote = self.best_quote(Side::Buy);
        let ask_quote = self.best_quote(Side::Sell);
        // Toxicity at the real features of our live quotes (or of the touch when a side has
        // none), averaged over both sides: what a fill on either side would be scored now.
        let toxicity = self.mid.map_or(0.0, |mid| {
            let side_tox = |side: Side, quote: Option<Price>, touch: Option<Price>| {
                quote.or(touch).map(|px| self.pre_fill_classifier.toxicity(&self.features(side, px, mid)))
            };
            let sides = [
                side_tox(Side::Buy, bid_quote, self.best_bid),
                side_tox(Side::Sell, ask_quote, self.best_ask),
            ];
            let known: Vec<f64> = sides.into_iter().flatten().collect();
            if known.is_empty() {
                0.0
            } else {
                known.iter().sum::<f64>() / known.len() as f64
            }
        });
        ModelSnapshot {
            coin: self.coin.to_string(),
            mid: self.mid,
            bid_quote,
            ask_quote,
            position: self.position.qty,
            pnl_realized: q(self.position.realized),
            pnl_unrealized: q(self.position.unrealized_at(mark)),
            pnl_fees: q(self.position.fees),
            kappa: self.estimator.kappa(),
            kappa_confidence: self.estimator.kappa_confidence(),
            own_fills: self.estimator.own_fills,
            sigma_bp: self.vol.sigma_bp(),
            toxicity,
            as_progress: self.pre_fill_classifier.as_progress(),
            as_resolved: self.pre_fill_classifier.resolved,
            as_adverse: self.pre_fill_classifier.adverse,
            brier_skill: self.pre_fill_classifier.brier_skill(),
            calibration_progress: self.calibration.cal_progress(),
            cal_gamma: self.calibration.cal_gamma(),
            regime: self.regime.regime(),
            vol_ratio: self.regime.ratio(),
            available_margin: q(margin.available()),
            margin_rejects: self.margin_rejects,
            market_trades: self.market_trades,
            pnl_funding: q(self.position.funding),
            mark: (mark.0 > 0).then_some(mark),
            marked_at_venue: self.marked_at_venue(),
        }
    }

    /// Earliest time after `after` at which something happens without a new input. Each time
    /// is compared with `after` on its own: one at or before it (a markout horizon falling due
    /// at the last input, resolved at the next) must not hide the later ones.
    pub fn next_deadline(&self, after: Timestamp) -> Option<Timestamp> {
        let orders = self.sim.orders().iter().flat_map(|o| {
            let pending = (!o.active).then_some(o.live_at);
            [pending, o.dead_at]
        });
        let funding = self.funding.next_deadline().map(Timestamp);
        orders
            .flatten()
            .chain(self.outcomes.next_due())
            .chain(self.requote_due)
            .chain(self.strategy.next_deadline())
            .chain(funding)
            .filter(|t| *t > after)
            .min()
    }

    /// Earliest time at which this coin acts without a new input: a strategy timer or a paced
    /// requote (orders placed and cancelled then), or a funding time (settled on time). The
    /// rest of [`Self::next_deadline`] (orders going live or dying, markout horizons) changes
    /// nothing before the next input, which does it first, on the same book and mid: it needs
    /// no tick of its own (the exposure sums are the same however the time is split).
    pub fn next_tick(&self, after: Timestamp) -> Option<Timestamp> {
        let funding = self.funding.next_deadline().map(Timestamp);
        self.requote_due
            .into_iter()
            .chain(self.strategy.next_deadline())
            .chain(funding)
            .filter(|t| *t > after)
            .min()
    }

    /// What a driver may read of this coin between inputs (the report's quote quality, the
    /// live panel): a copy, computed on request, that changes nothing.
    pub fn quote_view(&self) -> QuoteView {
        QuoteView {
            mid: self.mid,
            touch_bid: self.best_bid,
            touch_ask: self.best_ask,
            our_bid: self.best_quote(Side::Buy),
            our_ask: self.best_quote(Side::Sell),
            book_valid: self.book_valid,
            position: self.position.qty,
            mark: self.mark,
            pnl: self.pnl(),
            feed_delay_ns: self.feed.last_ns(),
        }
    }

    /// (realized, unrealized at the mark, funding, fees), 10^-8 quote units.
    pub fn pnl(&self) -> (i64, i64, i64, i64) {
        let mark = self.mark;
        (self.position.realized, self.position.unrealized_at(mark), self.position.funding, self.position.fees)
    }

    /// Whether the position is marked at the venue's mark price (else at the mid).
    pub fn marked_at_venue(&self) -> bool {
        self.funding.mark.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market_maker::simulation::fill_sim::BookView;

    /// A book with one level a side.
    struct Touch(Price, Price);
    impl BookView for Touch {
        fn best_bid(&self) -> Option<Price> {
            Some(self.0)
        }
        fn best_ask(&self) -> Option<Price> {
            Some(self.1)
        }
        fn size_at(&self, _: Side, _: Price) -> Qty {
            Qty(100)
        }
        fn size_at_or_better(&self, _: Side, _: Price) -> Qty {
            Qty(100)
        }
        fn levels_at_or_better(&self, _: Side, _: Price, _: &mut Vec<(Price, Qty)>) {}
    }

    impl CoinState {
        /// `rearm_probes` as it was: each moved probe removed and its successor placed before
        /// the next slot is looked at.
        fn rearm_probes_one_by_one(&mut self, now: Timestamp, mid: Price) {
            let rungs = self.probes.len() / 2;
            let entry = self.sim.entry_latency_ns();
            for r in 0..rungs {
                let Some(&d) = self.probes_depths().get(r) else { break };
                for (k, side) in [(0usize, Side::Buy), (1, Side::Sell)] {
                    let slot = r * 2 + k;
                    let target = self.price_at_depth(mid, d, side);
                    let live_at = match self.probes[slot] {
                        Some(id) => match self.sim.order(id) {
                            Some(o) if o.px == target => continue,
                            Some(o) => {
                                let at = if o.active { now } else { o.live_at };
                                self.sim.remove(id);
                                at
                            }
                            None => now.plus_ns(entry),
                        },
                        None => now.plus_ns(entry),
                    };
                    let id = self.next_probe_id();
                    self.sim.place(id, side, target, Qty(0), OrderRole::Probe { rung: r as u8 }, live_at);
                    self.probes[slot] = Some(id);
                }
            }
        }
    }

    #[test]
    fn batched_rearm_equals_rearming_one_slot_at_a_time() {
        let cfg = EngineConfig::default();
        let inst = crate::venue::instrument(crate::venue::Venue::Hyperliquid, "BTC");
        let mut a = CoinState::new("BTC", inst.clone(), &cfg, 3).unwrap();
        let mut b = CoinState::new("BTC", inst, &cfg, 3).unwrap();
        let state = |c: &CoinState| {
            let orders: Vec<_> =
                c.sim.orders().iter().map(|o| (o.id, o.side, o.px, o.live_at, o.active)).collect();
            (orders, c.probes.clone(), c.probe_seq)
        };
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut mid = 60_000 * SCALE;
        for step in 0..2000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let now = Timestamp(1_000_000_000 + step * 50_000_000);
            // Mid steps of a fraction of a tick to several ticks: some probes stay, some move.
            mid += (x % 9) as i64 * (SCALE / 2) - 2 * SCALE;
            let m = Price(mid);
            for c in [&mut a, &mut b] {
                // Activation (a probe that went live), and now and then a probe filled away.
                let touch = Touch(Price(mid - SCALE), Price(mid + SCALE));
                c.sim.activate(now, &touch, &mut Vec::new());
                if x % 5 == 0 {
                    let slot = (x >> 8) as usize % c.probes.len();
                    if let Some(id) = c.probes[slot].take() {
                        c.sim.remove(id);
                    }
                }
                if x % 7 == 0 {
                    // A quote among the probes (ids below every probe's): it stays.
                    c.sim.place(step + 1, Side::Buy, Price(mid - 3 * SCALE), Qty(1), OrderRole::Quote, now);
                }
                if x % 11 == 0 {
                    // A probe the simulator dropped while the slot still names it.
                    if let Some(id) = c.probes[(x >> 16) as usize % c.probes.len()] {
                        c.sim.remove(id);
                    }
                }
            }
            a.rearm_probes(now, m);
            b.rearm_probes_one_by_one(now, m);
            assert_eq!(state(&a), state(&b), "step {step}");
        }
        let quotes = a.sim.orders().iter().filter(|o| !o.is_probe()).count();
        assert!(quotes > 100, "{quotes} quotes kept among the probes");
        // Probes moved (and some stayed) along the way.
        assert!(a.probe_seq > 4000 && a.probe_seq < 2000 * 12, "{} probes placed", a.probe_seq);
    }
}
