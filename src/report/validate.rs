//! The seed's "Validation Checklist", made exact (`MODELS.md`, "Checklist thresholds"), computed
//! from a session's outputs alone, with the seed's "Common Issues" as the diagnosis of each
//! failure.
//!
//! [`ChecklistTracker`] is incremental: feed it every output with its event time
//! ([`ChecklistTracker::on_output`]) and ask for [`ChecklistTracker::items`] at any moment, so
//! `live` can show items as they pass and `validate` runs the same code over a finished
//! session's journal.
//!
//! Windows: every item but two looks at the first 30 minutes of event time (or the whole
//! session if shorter), as the seed says; regime detection and checkpoints look at the whole
//! session, as `MODELS.md` words them.

use crate::engine::io::{Output, RejectReason};
use crate::types::{notional, Qty, Timestamp, SCALE};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const NS_PER_S: u64 = 1_000_000_000;
/// The seed's "within the first 30 minutes".
pub const WINDOW_NS: u64 = 30 * 60 * NS_PER_S;
/// The unit of the fill-rate item.
pub const MINUTE_NS: u64 = 60 * NS_PER_S;
/// A minute counts as "active market" with at least this many market trades of the coin.
pub const ACTIVE_MINUTE_TRADES: u64 = 10;
/// Fills wanted per active minute, on average.
pub const MIN_FILLS_PER_ACTIVE_MINUTE: f64 = 1.0;
/// The markout horizon that labels a fill adverse (loop 2).
pub const AS_HORIZON_S: u32 = 5;
/// Checkpoints are due every 5 minutes of event time.
pub const CHECKPOINT_INTERVAL_NS: u64 = 5 * 60 * NS_PER_S;
/// The engine reports PnL in its model snapshots as f64 USD; the exact figure from the fills
/// must agree with it to this many USD (1e-6 = 100 units of 10^-8, far below a cent, far above
/// f64's rounding of amounts under 10^7 USD).
pub const PNL_TOLERANCE_USD: f64 = 1e-6;
/// Regime thresholds of `MODELS.md`, quoted in the diagnosis of a calm session.
const VOLATILE_ENTER_RATIO: f64 = 2.0;
const QUIET_ENTER_RATIO: f64 = 0.6;

/// Stable item names, shared with `summary.json`'s `checklist` (defined beside the engine's checklist).
pub use crate::engine::checklist::{
    AS_OUTCOMES_RECORDED, CALIBRATION_PROGRESS, CHECKPOINTS, FILLS_OCCURRING, KAPPA_CONFIDENCE_INCREASING,
    PNL_TRACKING, REGIME_UPDATING,
};

/// One checklist item, evaluated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChecklistItem {
    pub name: &'static str,
    /// The seed's wording of the item.
    pub label: &'static str,
    pub pass: bool,
    /// The measured figure the threshold applies to.
    pub value: f64,
    /// What `value` must be, in words.
    pub threshold: String,
    /// How the value was found (counts, ranges), one line.
    pub detail: String,
    /// For a failure: the likely root cause and the fix, in the seed's words.
    pub diagnosis: Option<String>,
}

/// Orders' limit prices by id, in id order: a map as a sorted deque. The engine's ids only
/// grow, so an insert is a push at the back (a `BTreeMap` insert per placed order was about 5%
/// of the journal thread); ids in any other order are inserted in place, as a map would.
#[derive(Clone, Debug, Default)]
struct OrderPrices(VecDeque<(u64, crate::types::Price)>);

impl OrderPrices {
    fn insert(&mut self, id: u64, px: crate::types::Price) {
        match self.0.back() {
            Some(&(last, _)) if last >= id => match self.0.binary_search_by_key(&id, |e| e.0) {
                Ok(i) => self.0[i].1 = px,
                Err(i) => self.0.insert(i, (id, px)),
            },
            _ => self.0.push_back((id, px)),
        }
    }

    fn get(&self, id: u64) -> Option<crate::types::Price> {
        self.0.binary_search_by_key(&id, |e| e.0).ok().map(|i| self.0[i].1)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// Forgets the orders below `id`.
    fn keep_from(&mut self, id: u64) {
        while self.0.front().is_some_and(|e| e.0 < id) {
            self.0.pop_front();
        }
    }
}

/// Per-coin state of the tracker.
#[derive(Clone, Debug, Default)]
struct CoinTrack {
    /// Exact accounting from the fills: position in 10^-8 base units, the cash flow of trades
    /// and the fees in 10^-8 quote units.
    position: i64,
    trade_cash: i128,
    fees: i128,
    /// Funding recomputed from the journal's funding records (`-position * mark * rate` on
    /// this ledger's position), and the records whose position or amount disagree with it.
    funding: i128,
    funding_events: u64,
    funding_mismatches: u64,
    /// kappa_confidence at the first and last snapshot inside the window.
    first_kappa_confidence: Option<f64>,
    last_kappa_confidence: Option<f64>,
    own_fills: u64,
    last_calibration_progress: Option<f64>,
    last_cal_gamma: Option<f64>,
    /// The engine's realized + unrealized at the last snapshot inside the window.
    last_pnl_total: Option<f64>,
    pnl_checks: u64,
    pnl_worst_gap_usd: f64,
    position_mismatches: u64,
    /// The last cumulative market-trade count seen in a snapshot.
    market_trades_seen: u64,
    /// The independent average-cost ledger of the fills (10^-8 USD): the open position's cost
    /// basis, and realized PnL. Compared component-wise with the engine's snapshot figures, so a
    /// wrong fee, fill price or mark shows even when the engine is consistent with itself.
    cost_basis: i128,
    realized: i128,
    /// Open orders' limit prices (a maker fill is booked at its order's price).
    order_px: OrderPrices,
    /// Fills whose price is not their order's, or whose fee is not the session's maker rate.
    price_mismatches: u64,
    fee_mismatches: u64,
    /// Snapshots whose realized, unrealized or fees disagree with the ledger.
    ledger_mismatches: u64,
    ledger_worst_gap_usd: f64,
    /// Toxicity range over the snapshots (loop 2's symptom: always ~0.5).
    toxicity_range: Option<(f64, f64)>,
    vol_ratio_range: Option<(f64, f64)>,
}

impl CoinTrack {
    /// One fill of `signed_sign` (+1 buy, -1 sell), `flow` = |notional|, on the average-cost
    /// ledger: opening adds to the basis, closing realizes against the average cost.
    fn apply_to_ledger(&mut self, sign: i64, flow: i128, sz: i64) {
        let q = i128::from(self.position);
        let signed = i128::from(sign) * i128::from(sz);
        if q == 0 || q.signum() == signed.signum() {
            self.cost_basis += i128::from(sign) * flow;
            return;
        }
        let closing = i128::from(sz).min(q.abs());
        let released = self.cost_basis * closing / q.abs();
        let closing_flow = flow * closing / i128::from(sz);
        self.realized += if q > 0 { closing_flow - released } else { -released - closing_flow };
        self.cost_basis += i128::from(sign) * (flow - closing_flow) - released;
        if q + signed == 0 {
            self.realized -= self.cost_basis;
            self.cost_basis = 0;
        }
    }
}

fn widen(range: &mut Option<(f64, f64)>, x: f64) {
    if !x.is_finite() {
        return;
    }
    *range = Some(match *range {
        None => (x, x),
        Some((lo, hi)) => (lo.min(x), hi.max(x)),
    });
}

/// The checklist, computed incrementally from outputs.
#[derive(Clone, Debug)]
pub struct ChecklistTracker {
    start: Timestamp,
    now: Timestamp,
    coins: BTreeMap<String, CoinTrack>,
    /// Fills and market trades per (coin, minute of the window).
    fills_per_minute: BTreeMap<(String, u64), u64>,
    trades_per_minute: BTreeMap<(String, u64), u64>,
    any_market_trades: bool,
    /// `fill_sim.ignore_book_depth` of the session, when known: advice never suggests a
    /// setting that is already on.
    ignore_book_depth: Option<bool>,
    fills_total: u64,
    fills_in_window: u64,
    orders_placed: u64,
    margin_rejects: u64,
    other_rejects: u64,
    /// Fills inside the window, by (coin, fill_id), with their time; and which got a resolved
    /// 5 s outcome (at any time) or were dropped over a gap.
    window_fills: BTreeMap<(crate::engine::io::Coin, u64), Timestamp>,
    resolved: BTreeSet<(crate::engine::io::Coin, u64)>,
    adverse: u64,
    dropped: u64,
    regime_changes: u64,
    /// Event times of the checkpoint outputs.
    checkpoints: Vec<Timestamp>,
    /// In session mode: how many checkpoint files the session directory holds.
    checkpoint_files: Option<usize>,
    /// The session's maker fee in thousandths of a bp, when known: every fill's fee is
    /// recomputed from it.
    maker_fee_milli_bp: Option<i64>,
    /// Items already reported as passed by [`ChecklistTracker::newly_passed`].
    announced: BTreeSet<&'static str>,
}

impl ChecklistTracker {
    /// A tracker for a session whose first input has event time `start`.
    pub fn new(start: Timestamp) -> ChecklistTracker {
        ChecklistTracker {
            start,
            now: start,
            coins: BTreeMap::new(),
            fills_per_minute: BTreeMap::new(),
            trades_per_minute: BTreeMap::new(),
            any_market_trades: false,
            ignore_book_depth: None,
            fills_total: 0,
            fills_in_window: 0,
            orders_placed: 0,
            margin_rejects: 0,
            other_rejects: 0,
            window_fills: BTreeMap::new(),
            resolved: BTreeSet::new(),
            adverse: 0,
            dropped: 0,
            regime_changes: 0,
            checkpoints: Vec::new(),
            checkpoint_files: None,
            maker_fee_milli_bp: None,
            announced: BTreeSet::new(),
        }
    }

    /// The items that pass now and had not passed at an earlier call: what `live` prints as
    /// the session goes ("[PASS] fills_occurring ..."). An item that later fails again (a
    /// missed checkpoint) shows up in [`ChecklistTracker::items`], not here.
    /// The session's maker fee (bp, negative = rebate): fills' fees are checked against it.
    pub fn set_maker_fee_bp(&mut self, bp: f64) {
        self.maker_fee_milli_bp = Some((bp * 1000.0).round() as i64);
    }

    /// The session's `fill_sim.ignore_book_depth`, so that the advice fits the configuration.
    pub fn set_ignore_book_depth(&mut self, on: bool) {
        self.ignore_book_depth = Some(on);
    }

    pub fn newly_passed(&mut self) -> Vec<ChecklistItem> {
        let fresh: Vec<ChecklistItem> =
            self.items().into_iter().filter(|i| i.pass && !self.announced.contains(i.name)).collect();
        self.announced.extend(fresh.iter().map(|i| i.name));
        fresh
    }

    /// Tells the tracker how many checkpoint files were saved (validating a session directory):
    /// a checkpoint output without its file is a missing save.
    pub fn set_checkpoint_files(&mut self, n: usize) {
        self.checkpoint_files = Some(n);
    }

    /// Moves the tracker's clock (event time) without an output, e.g. at the end of a session.
    pub fn advance(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
    }

    fn window_end(&self) -> Timestamp {
        self.start.plus_ns(WINDOW_NS)
    }

    fn in_window(&self, t: Timestamp) -> bool {
        t >= self.start && t < self.window_end()
    }

    fn minute_of(&self, t: Timestamp) -> u64 {
        t.since(self.start) / MINUTE_NS
    }

    /// Feeds one output with the event time it was journaled at.
    pub fn on_output(&mut self, now: Timestamp, out: &Output) {
        self.advance(now);
        let in_window = self.in_window(now);
        match out {
            Output::OrderPlaced { coin, order_id, px, .. } => {
                self.orders_placed += 1;
                super::coin_entry(&mut self.coins, coin).order_px.insert(*order_id, *px);
            }
            Output::OrderCancelled { coin, order_id, .. } => {
                // Fills may follow inside the cancel latency; forget the order once the coin
                // has many more (bounded memory on long sessions).
                let c = super::coin_entry(&mut self.coins, coin);
                if c.order_px.len() > 4096 {
                    let keep_from = order_id.saturating_sub(1024);
                    c.order_px.keep_from(keep_from);
                }
            }
            Output::OrderRejected { reason, .. } => match reason {
                RejectReason::Margin => self.margin_rejects += 1,
                _ => self.other_rejects += 1,
            },
            Output::Fill { coin, fill_id, order_id, side, px, sz, fee, .. } => {
                // Zero-size fills would be the shadow ladder's probes: they are not trades.
                if sz.0 == 0 {
                    return;
                }
                self.fills_total += 1;
                let fee_rate = self.maker_fee_milli_bp;
                let c = super::coin_entry(&mut self.coins, coin);
                if c.order_px.get(*order_id).is_some_and(|p| p != *px) {
                    c.price_mismatches += 1;
                }
                if fee_rate.is_some_and(|r| (notional(*px, *sz) * i128::from(r) / 10_000_000) as i64 != *fee)
                {
                    c.fee_mismatches += 1;
                }
                c.apply_to_ledger(side.sign(), notional(*px, *sz), sz.0);
                c.position += side.sign() * sz.0;
                c.trade_cash -= i128::from(side.sign()) * notional(*px, *sz);
                c.fees += i128::from(*fee);
                if in_window {
                    self.fills_in_window += 1;
                    let m = self.minute_of(now);
                    *self.fills_per_minute.entry((coin.to_string(), m)).or_default() += 1;
                    self.window_fills.insert((coin.clone(), *fill_id), now);
                }
            }
            Output::Markout { coin, fill_id, horizon_s, was_adverse: Some(adv), .. }
                if *horizon_s == AS_HORIZON_S =>
            {
                let key = (coin.clone(), *fill_id);
                if self.window_fills.contains_key(&key) && self.resolved.insert(key) && *adv {
                    self.adverse += 1;
                }
            }
            Output::MarkoutDropped { coin, fill_id, horizon_s }
                if *horizon_s == AS_HORIZON_S
                    && self.window_fills.contains_key(&(coin.clone(), *fill_id)) =>
            {
                self.dropped += 1;
            }
            Output::Funding { coin, time, rate, mark, position, amount } => {
                let c = super::coin_entry(&mut self.coins, coin);
                // The independent ledger pays on its own position (the fills'), at the record's
                // mark and rate; a record that books another amount, or claims another
                // position, is a mismatch whenever it falls (funding times are hours apart,
                // mostly outside the window).
                let own = crate::market_maker::funding::funding_payment(Qty(c.position), *mark, *rate);
                if own != *amount || position.0 != c.position || *time > now {
                    c.funding_mismatches += 1;
                }
                c.funding += i128::from(own);
                c.funding_events += 1;
            }
            Output::Model(s) => self.on_snapshot(now, in_window, s),
            Output::RegimeChange { .. } => self.regime_changes += 1,
            Output::Checkpoint { .. } => self.checkpoints.push(now),
            _ => {}
        }
    }

    fn on_snapshot(&mut self, now: Timestamp, in_window: bool, s: &crate::engine::io::ModelSnapshot) {
        let minute = self.minute_of(now);
        let c = self.coins.entry(s.coin.clone()).or_default();
        widen(&mut c.vol_ratio_range, s.vol_ratio);
        let new_trades = s.market_trades.saturating_sub(c.market_trades_seen);
        c.market_trades_seen = c.market_trades_seen.max(s.market_trades);
        if !in_window {
            return;
        }
        widen(&mut c.toxicity_range, s.toxicity);
        if new_trades > 0 {
            self.any_market_trades = true;
            *self.trades_per_minute.entry((s.coin.clone(), minute)).or_default() += new_trades;
        }
        if c.first_kappa_confidence.is_none() {
            c.first_kappa_confidence = Some(s.kappa_confidence);
        }
        c.last_kappa_confidence = Some(s.kappa_confidence);
        c.own_fills = s.own_fills;
        c.last_calibration_progress = Some(s.calibration_progress);
        c.last_cal_gamma = Some(s.cal_gamma);
        c.last_pnl_total = Some(s.pnl_realized + s.pnl_unrealized + s.pnl_funding);
        if s.position.0 != c.position {
            c.position_mismatches += 1;
        }
        // The PnL identity: cash + position value = starting equity + realized + unrealized
        // + funding - fees. Starting equity cancels, so the exact side is the fills' cash flow
        // plus the funding ledger plus the position at the snapshot's mark (the venue's mark
        // price; the mid in journals written before the mark was recorded), minus fees, in
        // 10^-8 USD with the project's one fixed-point notional (`types::notional`, per fill
        // and for the position's value).
        if let Some(mid) = s.mid {
            let mark = s.mark.unwrap_or(mid);
            let value = notional(mark, Qty(c.position.abs())) * i128::from(c.position.signum());
            let exact_units = c.trade_cash + value + c.funding - c.fees;
            let exact_usd = exact_units as f64 / SCALE as f64;
            let reported = s.pnl_realized + s.pnl_unrealized + s.pnl_funding - s.pnl_fees;
            let gap = (exact_usd - reported).abs();
            c.pnl_checks += 1;
            if gap > c.pnl_worst_gap_usd || gap.is_nan() {
                c.pnl_worst_gap_usd = if gap.is_nan() { f64::INFINITY } else { gap };
            }
            // Component by component against the average-cost ledger: realized, unrealized at
            // the snapshot's mark, funding, fees.
            let usd = |u: i128| u as f64 / SCALE as f64;
            let gaps = [
                (usd(c.realized) - s.pnl_realized).abs(),
                (usd(value - c.cost_basis) - s.pnl_unrealized).abs(),
                (usd(c.funding) - s.pnl_funding).abs(),
                (usd(c.fees) - s.pnl_fees).abs(),
            ];
            let worst = gaps.iter().fold(0.0f64, |m, g| if g.is_nan() { f64::INFINITY } else { m.max(*g) });
            if worst > PNL_TOLERANCE_USD {
                c.ledger_mismatches += 1;
            }
            c.ledger_worst_gap_usd = c.ledger_worst_gap_usd.max(worst);
        }
    }

    /// The checklist as it stands now.
    pub fn items(&self) -> Vec<ChecklistItem> {
        vec![
            self.fills_item(),
            self.kappa_item(),
            self.calibration_item(),
            self.pnl_item(),
            self.as_item(),
            self.regime_item(),
            self.checkpoints_item(),
        ]
    }

    /// Whether every item passes now.
    pub fn all_pass(&self) -> bool {
        self.items().iter().all(|i| i.pass)
    }

    /// The end of the evaluated window so far: 30 minutes after the start, or now.
    fn window_cutoff(&self) -> Timestamp {
        self.now.min(self.window_end())
    }

    fn fills_item(&self) -> ChecklistItem {
        // Only minutes that have fully elapsed inside the window are judged (a live session's
        // current minute is not over yet), unless no minute has: then the partial one counts.
        let elapsed_minutes = self.window_cutoff().since(self.start) / MINUTE_NS;
        let judged = |m: u64| m < elapsed_minutes.max(1);
        let (active, basis): (Vec<(String, u64)>, &str) = if self.any_market_trades {
            let a = self
                .trades_per_minute
                .iter()
                .filter(|((_, m), n)| judged(*m) && **n >= ACTIVE_MINUTE_TRADES)
                .map(|(k, _)| k.clone())
                .collect();
            (a, "minutes with >= 10 market trades")
        } else {
            // A session whose snapshots carry no market-trade counts: every elapsed minute of
            // every traded coin counts as active, the stricter reading.
            let a = self
                .coins
                .keys()
                .flat_map(|c| (0..elapsed_minutes.max(1)).map(move |m| (c.clone(), m)))
                .collect();
            (a, "all minutes (the session records no market-trade counts)")
        };
        let fills: u64 = active.iter().map(|k| self.fills_per_minute.get(k).copied().unwrap_or(0)).sum();
        let rate = if active.is_empty() { 0.0 } else { fills as f64 / active.len() as f64 };
        let pass = !active.is_empty() && rate >= MIN_FILLS_PER_ACTIVE_MINUTE;
        let diagnosis = (!pass).then(|| {
            if active.is_empty() {
                "No minute of the first 30 had >= 10 market trades: the market was inactive, so \
                 the fill rate cannot be judged. Validate a session over an active market."
                    .to_string()
            } else if self.orders_placed == 0 && self.margin_rejects > 0 {
                format!(
                    "No orders were placed and {} were rejected for margin: the seed's margin bug. \
                     Root cause: update_state() never called, so margin tracking thinks there's \
                     no available margin. Fix: ensure update_state() is called on position \
                     changes to keep margin tracker in sync.",
                    self.margin_rejects
                )
            } else if self.orders_placed == 0 {
                format!(
                    "No orders were placed ({} rejected): the strategy never quoted. Check the \
                     rejections (max position, post-only, invalid book) and the margin tracker \
                     (update_state() on position changes).",
                    self.other_rejects
                )
            } else if self.fills_in_window == 0 && !self.any_market_trades {
                "Zero fills, and the input holds no market trades at all: the recording has no \
                 trades stream (or one the adapter did not read), so no trade can reach a paper \
                 order; only the book crossing our price could fill it. Record or import the \
                 venue's trades stream (Hyperliquid `trades`, Binance USD-M `trade`) and replay \
                 again; no fill-model setting can help here."
                    .to_string()
            } else if self.fills_in_window == 0 && self.ignore_book_depth == Some(true) {
                "Zero fills although the flat queue model is already on (ignore_book_depth = \
                 true) and the market traded: trades did not reach our quotes. Check how far \
                 the quotes sit from the mid (cal_gamma, kappa, strategy.requote_*) and \
                 fill_sim.fill_prob_base (0 never fills at our price)."
                    .to_string()
            } else if self.fills_in_window == 0 {
                "Zero fills. Root cause: compute_fill_probability() uses real L2 book depth for \
                 queue position, but paper trader orders don't exist in the real book. Fix: set \
                 ignore_book_depth: true on FillSimulatorConfig (a flat queue model). Verify: \
                 fills within 1-2 minutes of starting."
                    .to_string()
            } else {
                "Low fill rate: kappa estimate may be too low, or spreads too wide (cal_gamma, \
                 fill_prob_base); with ignore_book_depth: false the queue model also starves \
                 fills (set ignore_book_depth: true)."
                    .to_string()
            }
        });
        ChecklistItem {
            name: FILLS_OCCURRING,
            label: "Fills occurring (at least a few per minute in active market)",
            pass,
            value: rate,
            threshold: format!(">= {MIN_FILLS_PER_ACTIVE_MINUTE} fill/min on average over the {basis}"),
            detail: format!(
                "{fills} fills in {} active coin-minutes ({} fills, {} orders placed, {} margin rejects in the session)",
                active.len(),
                self.fills_total,
                self.orders_placed,
                self.margin_rejects
            ),
            diagnosis,
        }
    }

    fn kappa_item(&self) -> ChecklistItem {
        // Every traded coin must pass; the value shown is the weakest coin's last confidence.
        let mut worst: Option<(&String, &CoinTrack)> = None;
        let mut pass = !self.coins.is_empty();
        for (coin, c) in &self.coins {
            let ok = matches!((c.first_kappa_confidence, c.last_kappa_confidence),
                (Some(f), Some(l)) if l > 0.0 && l > f);
            pass &= ok;
            let weaker = match worst {
                None => true,
                Some((_, w)) => c.last_kappa_confidence < w.last_kappa_confidence,
            };
            if weaker {
                worst = Some((coin, c));
            }
        }
        let (value, detail) = match worst {
            Some((coin, c)) => (
                c.last_kappa_confidence.unwrap_or(0.0),
                format!(
                    "{coin}: kappa_confidence {} -> {} over the window, own_fills {}",
                    fmt_opt(c.first_kappa_confidence),
                    fmt_opt(c.last_kappa_confidence),
                    c.own_fills
                ),
            ),
            None => (0.0, "no model snapshots".to_string()),
        };
        let diagnosis = (!pass).then(|| {
            let own_fills = worst.map_or(0, |(_, c)| c.own_fills);
            if self.fills_in_window == 0 {
                "Kappa stuck at prior because there were no fills at all: fix the fill rate first \
                 (see fills_occurring)."
                    .to_string()
            } else if own_fills == 0 {
                "Kappa stuck at prior: kappa_confidence stays at 0 and own_fills = 0 although \
                 fills occurred. Root cause: estimator.on_own_fill() not being called when \
                 simulated fills occur. Fix: wire the on_own_fill() call in the \
                 on_simulated_fill() handler."
                    .to_string()
            } else {
                format!(
                    "kappa_confidence did not rise although the estimator saw {own_fills} own \
                     fills: it is forced to 0 below ~20 fills, and quotes in a narrow band of \
                     depths cannot pin kappa down (enable the shadow ladder). If own_fills \
                     does not grow with the fills, on_own_fill() is not wired in \
                     on_simulated_fill()."
                )
            }
        });
        ChecklistItem {
            name: KAPPA_CONFIDENCE_INCREASING,
            label: "kappa_confidence increasing from 0",
            pass,
            value,
            threshold: "last value in the window > 0 and > its first value".to_string(),
            detail,
            diagnosis,
        }
    }

    fn calibration_item(&self) -> ChecklistItem {
        let values: Vec<(&String, f64, Option<f64>)> = self
            .coins
            .iter()
            .map(|(k, c)| (k, c.last_calibration_progress.unwrap_or(0.0), c.last_cal_gamma))
            .collect();
        let worst = values.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let value = worst.map_or(0.0, |w| w.1);
        let pass = !values.is_empty() && values.iter().all(|v| v.1 > 0.0);
        let detail = match worst {
            Some((coin, p, g)) => format!("{coin}: calibration_progress {p:.4}, cal_gamma {}", fmt_opt(*g)),
            None => "no model snapshots".to_string(),
        };
        ChecklistItem {
            name: CALIBRATION_PROGRESS,
            label: "calibration_progress > 0",
            pass,
            value,
            threshold: "> 0 at the end of the window".to_string(),
            detail,
            diagnosis: (!pass).then(|| {
                "Cal progress stuck at 0: calibration_progress always 0.0, cal_gamma at its initial \
                 value. Root cause: CalibrationController not instantiated or not being updated. \
                 Fix: import and instantiate CalibrationController, feed it kappa_confidence and \
                 as_progress."
                    .to_string()
            }),
        }
    }

    fn pnl_item(&self) -> ChecklistItem {
        let total: f64 = self.coins.values().filter_map(|c| c.last_pnl_total).sum();
        let checks: u64 = self.coins.values().map(|c| c.pnl_checks).sum();
        let worst_gap = self.coins.values().map(|c| c.pnl_worst_gap_usd).fold(0.0, f64::max);
        let mismatches: u64 = self.coins.values().map(|c| c.position_mismatches).sum();
        let price_bad: u64 = self.coins.values().map(|c| c.price_mismatches).sum();
        let fee_bad: u64 = self.coins.values().map(|c| c.fee_mismatches).sum();
        let ledger_bad: u64 = self.coins.values().map(|c| c.ledger_mismatches).sum();
        let ledger_gap = self.coins.values().map(|c| c.ledger_worst_gap_usd).fold(0.0, f64::max);
        let funding_bad: u64 = self.coins.values().map(|c| c.funding_mismatches).sum();
        let funding_events: u64 = self.coins.values().map(|c| c.funding_events).sum();
        let ledger_ok = price_bad == 0 && fee_bad == 0 && ledger_bad == 0 && funding_bad == 0;
        let identity_ok = checks > 0 && worst_gap <= PNL_TOLERANCE_USD && mismatches == 0 && ledger_ok;
        let nonzero = total != 0.0;
        let pass = nonzero && identity_ok;
        let diagnosis = (!pass).then(|| {
            if self.fills_in_window == 0 {
                "PnL is zero because nothing filled: fix the fill rate first (see fills_occurring)."
                    .to_string()
            } else if !ledger_ok && checks > 0 {
                format!(
                    "The fills do not account for the reported PnL: {price_bad} fills at a price \
                     other than their order's, {fee_bad} fees that are not the session's maker \
                     rate, {funding_bad} funding records whose amount is not -position * mark * \
                     rate on the fills' position, {ledger_bad} snapshots whose realized, \
                     unrealized (at the snapshot's mark), funding or fees differ from an \
                     average-cost ledger of the fills (worst {ledger_gap:.8} USD). Root cause: a \
                     wrong fee, fill price, funding payment or mark in the position accounting."
                )
            } else if !identity_ok && checks > 0 {
                format!(
                    "The PnL identity fails: the engine's realized + unrealized + funding - fees differs from \
                     the cash and position implied by its fills by up to {worst_gap:.8} USD \
                     ({mismatches} snapshots with a position that disagrees with the fills). Root \
                     cause: position/PnL not updated on every fill, or fees counted twice; check \
                     that update_state() runs on every position change."
                )
            } else if checks == 0 {
                "No model snapshot with a mid inside the window: PnL cannot be checked.".to_string()
            } else {
                "Realized + unrealized PnL is exactly 0 although fills occurred: position and PnL \
                 are not being updated from the fills."
                    .to_string()
            }
        });
        ChecklistItem {
            name: PNL_TRACKING,
            label: "PnL tracking working (non-zero realized + unrealized)",
            pass,
            value: total,
            threshold: format!(
                "realized + unrealized + funding != 0, and cash + position value = starting equity \
                 + realized + unrealized + funding - fees within {PNL_TOLERANCE_USD} USD at every \
                 snapshot"
            ),
            detail: format!(
                "realized + unrealized + funding {total:.6} USD; identity checked at {checks} \
                 snapshots, worst gap {worst_gap:.2e} USD, {mismatches} position mismatches; \
                 ledger: {price_bad} price, {fee_bad} fee, {funding_bad} funding (of \
                 {funding_events} records), {ledger_bad} PnL-component mismatches"
            ),
            diagnosis,
        }
    }

    fn as_item(&self) -> ChecklistItem {
        // A fill can only be resolved 5 s after it happened: fills younger than that at the
        // end of the window are not counted against the engine.
        let cutoff = self.window_cutoff().0.saturating_sub(u64::from(AS_HORIZON_S) * NS_PER_S);
        let eligible: Vec<&(crate::engine::io::Coin, u64)> =
            self.window_fills.iter().filter(|(_, t)| t.0 <= cutoff).map(|(k, _)| k).collect();
        let resolved = eligible.iter().filter(|k| self.resolved.contains(**k)).count() as u64;
        let n = eligible.len() as u64;
        let ratio = if n == 0 { 0.0 } else { resolved as f64 / n as f64 };
        let pass = n > 0 && 2 * resolved >= n;
        let tox =
            self.coins.values().filter_map(|c| c.toxicity_range).fold(None, |acc, (lo, hi)| match acc {
                None => Some((lo, hi)),
                Some((a, b)) => Some((lo.min(a), hi.max(b))),
            });
        let tox_text = tox.map_or("n/a".to_string(), |(lo, hi)| format!("{lo:.3}..{hi:.3}"));
        ChecklistItem {
            name: AS_OUTCOMES_RECORDED,
            label: "Adverse selection outcomes being recorded",
            pass,
            value: ratio,
            threshold: ">= 1 resolved 5 s outcome per 2 fills (ratio >= 0.5)".to_string(),
            detail: format!(
                "{resolved} of {n} fills resolved at 5 s ({} adverse, {} dropped over gaps); toxicity range {tox_text}",
                self.adverse, self.dropped
            ),
            diagnosis: (!pass).then(|| {
                if n == 0 {
                    "No fills old enough to have a 5 s outcome: fix the fill rate first (see \
                     fills_occurring)."
                        .to_string()
                } else {
                    format!(
                        "Toxicity always 0.5 (seen: {tox_text}). Root cause: \
                         pre_fill_classifier.record_outcome() never called, so the classifier \
                         has no training data. Fix: implement the PendingFillOutcome deque with a \
                         5 s markout check in update_mid()."
                    )
                }
            }),
        }
    }

    fn regime_item(&self) -> ChecklistItem {
        let range =
            self.coins.values().filter_map(|c| c.vol_ratio_range).fold(None, |acc, (lo, hi)| match acc {
                None => Some((lo, hi)),
                Some((a, b)) => Some((lo.min(a), hi.max(b))),
            });
        let range_text = range.map_or("n/a".to_string(), |(lo, hi)| format!("{lo:.2}..{hi:.2}"));
        let pass = self.regime_changes >= 1;
        let diagnosis = (!pass).then(|| match range {
            Some((lo, hi)) if lo >= QUIET_ENTER_RATIO && hi <= VOLATILE_ENTER_RATIO => format!(
                "The market was calm: the volatility ratio sigma_fast/sigma_slow stayed within \
                 {range_text}, never above {VOLATILE_ENTER_RATIO} (enter volatile) nor below \
                 {QUIET_ENTER_RATIO} (enter quiet), so no regime change was due. Not an engine \
                 fault: validate over a session with a volatility change."
            ),
            Some(_) => format!(
                "Regime detection stuck on one regime although the volatility ratio reached \
                 {range_text}, beyond the thresholds ({QUIET_ENTER_RATIO} / {VOLATILE_ENTER_RATIO}): \
                 the detector is not fed 1 s returns, or its hysteresis/dwell is misconfigured."
            ),
            None => "No model snapshots carried a volatility ratio: regime detection is not \
                     running."
                .to_string(),
        });
        ChecklistItem {
            name: REGIME_UPDATING,
            label: "Regime detection updating (not stuck on one regime)",
            pass,
            value: self.regime_changes as f64,
            threshold: ">= 1 regime change in the session".to_string(),
            detail: format!("{} regime changes; volatility ratio range {range_text}", self.regime_changes),
            diagnosis,
        }
    }

    fn checkpoints_item(&self) -> ChecklistItem {
        // Slot k = [start + k*5min, start + (k+1)*5min). Slots that ended by now are due; each
        // needs a checkpoint in it. This accepts checkpoints aligned to the session's start or
        // to the clock's 5-minute marks alike.
        let elapsed = self.now.since(self.start);
        let due_slots = (elapsed / CHECKPOINT_INTERVAL_NS).saturating_sub(1);
        let present: BTreeSet<u64> =
            self.checkpoints.iter().map(|t| t.since(self.start) / CHECKPOINT_INTERVAL_NS).collect();
        let missing: Vec<u64> = (1..=due_slots).filter(|k| !present.contains(k)).collect();
        let count = self.checkpoints.len();
        let files_short = self.checkpoint_files.is_some_and(|f| f < count);
        let pass = missing.is_empty() && !files_short;
        let missing_text: Vec<String> =
            missing.iter().take(5).map(|k| format!("+{}m", k * CHECKPOINT_INTERVAL_NS / MINUTE_NS)).collect();
        let diagnosis = (!pass).then(|| {
            if files_short {
                format!(
                    "{count} checkpoints were due and announced but only {} files were saved: the \
                     driver does not write the engine state it is handed (check the checkpoints/ \
                     directory and disk space).",
                    self.checkpoint_files.unwrap_or(0)
                )
            } else {
                format!(
                    "Checkpoint saves missing in {} of {due_slots} 5-minute slots (first: {}): \
                     the engine must emit a checkpoint every 5 minutes of event time \
                     (engine.checkpoint_interval_s = 300), and the driver must inject clock ticks \
                     at the engine's deadlines so quiet stretches still get theirs.",
                    missing.len(),
                    missing_text.join(", ")
                )
            }
        });
        ChecklistItem {
            name: CHECKPOINTS,
            label: "Checkpoint saves occurring (every 5 minutes)",
            pass,
            value: count as f64,
            threshold: "one in every elapsed 5-minute slot of event time, none missing".to_string(),
            detail: format!(
                "{count} checkpoints over {:.1} min, {due_slots} slots due, {} missing{}",
                elapsed as f64 / MINUTE_NS as f64,
                missing.len(),
                self.checkpoint_files.map_or(String::new(), |f| format!(", {f} files saved"))
            ),
            diagnosis,
        }
    }
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}

/// Runs the checklist over a whole sequence of outputs (event time, output).
pub fn checklist(start: Timestamp, end: Timestamp, outputs: &[(Timestamp, Output)]) -> Vec<ChecklistItem> {
    let mut t = ChecklistTracker::new(start);
    for (now, o) in outputs {
        t.on_output(*now, o);
    }
    t.advance(end);
    t.items()
}

/// The checklist as text, one item a line, diagnoses indented below failures.
pub fn render_text(items: &[ChecklistItem]) -> String {
    let mut s = String::new();
    for i in items {
        s.push_str(&format!(
            "  {}  {:<30} {:>12}  ({})\n        {}\n",
            if i.pass { "PASS" } else { "FAIL" },
            i.name,
            format_value(i.value),
            i.threshold,
            i.detail
        ));
        if let Some(d) = &i.diagnosis {
            s.push_str(&format!("        diagnosis: {d}\n"));
        }
    }
    let passed = items.iter().filter(|i| i.pass).count();
    s.push_str(&format!("{} items: {passed} pass, {} fail\n", items.len(), items.len() - passed));
    s
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::OrderPrices;
    use crate::types::Price;
    use std::collections::BTreeMap;

    proptest::proptest! {
        /// The sorted deque answers as the map it replaced: growing ids (the engine's),
        /// repeated and older ids (another journal's), and forgetting below an id.
        #[test]
        fn order_prices_answer_as_a_map(
            ops in proptest::collection::vec((0u8..4, 0u64..64, 1i64..1000), 1..300),
        ) {
            let (mut deque, mut map) = (OrderPrices::default(), BTreeMap::new());
            let mut next = 0u64;
            for (op, x, px) in ops {
                match op {
                    // The common case: the next id.
                    0 | 1 => {
                        next += 1 + x % 3;
                        deque.insert(next, Price(px));
                        map.insert(next, Price(px));
                    }
                    // Any id, older ones and repeats included.
                    2 => {
                        deque.insert(x, Price(px));
                        map.insert(x, Price(px));
                    }
                    _ => {
                        let from = next.saturating_sub(x);
                        deque.keep_from(from);
                        map.retain(|id, _| *id >= from);
                    }
                }
                proptest::prop_assert_eq!(deque.len(), map.len());
                for id in 0..next + 2 {
                    proptest::prop_assert_eq!(deque.get(id), map.get(&id).copied(), "id {}", id);
                }
            }
        }
    }
}
