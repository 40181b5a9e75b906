//! The synthetic venue: a discrete-event simulation in exchange milliseconds that emits
//! Hyperliquid messages in receive-time order.
//!
//! Events, in the order they are taken when they fall on the same millisecond: regime switch,
//! end of an information window, a 100 ms step of every coin's fair price, uninformed orders,
//! informed orders, start of an information window, a book push (`l2Book` of every coin, then
//! `allMids`). `bbo` follows any event that changed a coin's published top. Receive time is
//! exchange time plus latency with jitter, never earlier than the previous message's: one
//! websocket delivers in order.
//!
//! In the order-level mode (`[order_level] enabled`) each coin also keeps its exact queue
//! (`orders.rs`) and its changes go out as `orderLevel:COIN` messages: the changes that lead
//! to a wire message are written just before it, with the same receive time, so a reader that
//! applies the stream in record order sees, at every `l2Book` and `bbo`, queues that sum to the
//! levels shown (and as many orders as `n`). Changes no message shows (hidden levels) go out
//! at the end of their event, at exchange time plus the base latency. The order-level mode
//! draws from a stream of its own, so the market (prices, sizes, trades, times) is the same
//! with it on or off; only the `n` of the levels then counts the queue's orders.

use super::book::{BookLevel, BookSide};
use super::coin::{CoinSim, Print};
use super::config::{ConfigError, SynthConfig};
use super::funding::FundingProcess;
use super::orders::OrderBook;
use super::regime::RegimePath;
use super::rng::{mix64, name_id, Rng};
use super::truth::GroundTruth;
use super::wire::{self, Grid, WireCtx, WireTrade};
use crate::venue::ORDER_LEVEL_CHANNEL;
use std::collections::VecDeque;

/// One feed message as a client would receive it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthMessage {
    /// Local receive time, ns since the Unix epoch (non-decreasing from message to message).
    pub recv_ns: u64,
    /// The venue's time of the event, ns (ms precision, as on the venue).
    pub exch_ns: u64,
    /// `l2Book:BTC`, `trades:BTC`, `bbo:BTC` or `allMids`, as the importer names streams.
    pub stream: String,
    pub raw: Vec<u8>,
}

/// Counts of what the venue generated so far, per coin in the order of `coins`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoinStats {
    pub aggressive_orders: u64,
    pub informed_orders: u64,
    pub trades: u64,
    pub books: u64,
    pub bbos: u64,
    pub windows: u64,
    /// Order-level records and events written (order-level mode only).
    pub order_records: u64,
    pub order_events: u64,
}

/// Stream identities (mixed with the coin's name) of the independent parts of the market.
const MID_STREAM: u64 = 1;
const BOOK_STREAM: u64 = 2;
const FLOW_STREAM: u64 = 3;
const IDS_STREAM: u64 = 4;
const ORDERS_STREAM: u64 = 5;
const CTX_STREAM: u64 = 6;
const CLOCK_STREAM: u64 = 0x0043_4c4f_434b; // "CLOCK"
const LATENCY_STREAM: u64 = 0x004c_4154_454e_4359; // "LATENCY"
const USERS_STREAM: u64 = 0x0055_5345_5253; // "USERS"

/// The fair price moves in steps of this many ms.
const STEP_MS: u64 = 100;
/// Users trading on the venue; the first `MAKERS` are the market makers that rest in the book.
const USERS: usize = 512;
const MAKERS: usize = 32;
/// Span of the pre-subscription history batch before the start, ms.
const HISTORY_SPAN_MS: u64 = 60_000;
/// Share of aggressive orders printed with an all-zero hash (TWAP slices on the venue).
const TWAP_SHARE: f64 = 0.02;
const NEVER: u64 = u64::MAX;

struct CoinState {
    sim: CoinSim,
    grid: Grid,
    /// `l2Book:C`, `trades:C`, `bbo:C`, `orderLevel:C`.
    streams: [String; 4],
    rng_ids: Rng,
    /// The exact queue, in the order-level mode.
    orders: Option<OrderBook>,
    /// The perpetual's context process and its stream `activeAssetCtx:C` (`[funding]`).
    ctx: Option<FundingProcess>,
    ctx_stream: String,
    /// Traded volume since the start: base units and notional (10^-8), for the context.
    volume_base_units: i64,
    volume_notional_units: i128,
    /// Next uninformed buy and sell order.
    next_order_ms: [u64; 2],
    next_window_ms: u64,
    next_informed_ms: u64,
    last_bbo: Option<(BookLevel, BookLevel)>,
    stats: CoinStats,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    RegimeSwitch,
    WindowClose(usize),
    Step,
    Order(usize, usize),
    InformedOrder(usize),
    WindowOpen(usize),
    Block,
    AssetCtx,
}

impl Event {
    fn priority(self) -> u8 {
        match self {
            Event::RegimeSwitch => 0,
            Event::WindowClose(_) => 1,
            Event::Step => 2,
            Event::Order(..) => 3,
            Event::InformedOrder(_) => 4,
            Event::WindowOpen(_) => 5,
            Event::Block => 6,
            Event::AssetCtx => 7,
        }
    }
}

/// The synthetic venue. An endless iterator of messages in receive-time order.
pub struct SynthVenue {
    cfg: SynthConfig,
    seed: u64,
    names: Vec<String>,
    coins: Vec<CoinState>,
    regime: RegimePath,
    next_step_ms: u64,
    next_block_ms: u64,
    /// The next `activeAssetCtx` push (`NEVER` with `[funding]` off).
    next_ctx_ms: u64,
    rng_clock: Rng,
    rng_latency: Rng,
    users: Vec<[u8; 20]>,
    last_recv_ns: u64,
    queue: VecDeque<SynthMessage>,
    scratch_bids: Vec<BookLevel>,
    scratch_asks: Vec<BookLevel>,
    scratch_target: Vec<BookLevel>,
    /// Diffusion volatility left once the informed moves take their share of the variance.
    diffusion_scale: f64,
}

impl SynthVenue {
    /// A venue for `coins` (names as on Hyperliquid), deterministic from `config` and `seed`.
    pub fn new(config: SynthConfig, seed: u64, coins: &[String]) -> Result<SynthVenue, ConfigError> {
        config.validate()?;
        if coins.is_empty() {
            return Err(ConfigError { key: "coins".into(), message: "name at least one coin".into() });
        }
        for (i, c) in coins.iter().enumerate() {
            if coins[..i].contains(c) {
                return Err(ConfigError { key: "coins".into(), message: format!("'{c}' is named twice") });
            }
        }
        let start_ms = config.start_ns / 1_000_000;
        let mut users_rng = Rng::derive(seed, USERS_STREAM);
        let users = (0..USERS).map(|_| random_bytes::<20>(&mut users_rng)).collect();
        let mut states = Vec::with_capacity(coins.len());
        for name in coins {
            let contract = config.contract(name)?;
            let id = mix64(name_id(name));
            let grid = Grid { tick_units: contract.tick_units, lot_units: contract.lot_units };
            let start_px = (contract.start_ticks * grid.tick_units) as f64 / crate::types::SCALE as f64;
            let sim = CoinSim::new(
                contract,
                &config,
                Rng::derive(seed, id ^ MID_STREAM),
                Rng::derive(seed, id ^ BOOK_STREAM),
                Rng::derive(seed, id ^ FLOW_STREAM),
            );
            states.push(CoinState {
                sim,
                grid,
                streams: [
                    format!("l2Book:{name}"),
                    format!("trades:{name}"),
                    format!("bbo:{name}"),
                    format!("{ORDER_LEVEL_CHANNEL}:{name}"),
                ],
                rng_ids: Rng::derive(seed, id ^ IDS_STREAM),
                orders: config.order_level.enabled.then(|| {
                    OrderBook::new(config.order_level.cancel_profile, Rng::derive(seed, id ^ ORDERS_STREAM))
                }),
                ctx: config.funding.enabled.then(|| context_process(&config, seed, name, start_px)),
                ctx_stream: format!("activeAssetCtx:{name}"),
                volume_base_units: 0,
                volume_notional_units: 0,
                next_order_ms: [start_ms; 2],
                next_window_ms: start_ms,
                next_informed_ms: NEVER,
                last_bbo: None,
                stats: CoinStats::default(),
            });
        }
        let next_ctx_ms = if config.funding.enabled { start_ms } else { NEVER };
        let mut v = SynthVenue {
            regime: RegimePath::new(&config, seed, start_ms),
            diffusion_scale: libm::sqrt((1.0 - config.informed_jump_variance_share()).max(0.0)),
            cfg: config,
            seed,
            names: coins.to_vec(),
            coins: states,
            next_step_ms: start_ms,
            next_block_ms: start_ms,
            next_ctx_ms,
            rng_clock: Rng::derive(seed, CLOCK_STREAM),
            rng_latency: Rng::derive(seed, LATENCY_STREAM),
            users,
            last_recv_ns: 0,
            queue: VecDeque::new(),
            scratch_bids: Vec::new(),
            scratch_asks: Vec::new(),
            scratch_target: Vec::new(),
        };
        for c in 0..v.coins.len() {
            v.schedule_first_flow(c, start_ms);
            v.emit_history(c, start_ms);
        }
        Ok(v)
    }

    pub fn config(&self) -> &SynthConfig {
        &self.cfg
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn coins(&self) -> &[String] {
        &self.names
    }

    /// What was generated so far, per coin (in the order of [`SynthVenue::coins`]).
    pub fn stats(&self) -> Vec<CoinStats> {
        self.coins.iter().map(|c| c.stats.clone()).collect()
    }

    /// The ground truth of a recording that ends at `end_ns` (exchange time).
    pub fn ground_truth(&self, end_ns: u64) -> GroundTruth {
        GroundTruth::compute(&self.cfg, self.seed, &self.names, end_ns)
    }

    /// The ground truth as the TOML that goes into the recording header's `synth` field.
    pub fn ground_truth_toml(&self, end_ns: u64) -> String {
        self.ground_truth(end_ns).to_toml()
    }

    /// The next message in receive-time order (the venue never ends).
    pub fn next_message(&mut self) -> SynthMessage {
        loop {
            if let Some(m) = self.queue.pop_front() {
                return m;
            }
            self.advance();
        }
    }

    fn uninformed_mean_ms(&self) -> f64 {
        1000.0 / (self.cfg.a_per_side * (1.0 - self.cfg.informed_share))
    }

    fn schedule_first_flow(&mut self, c: usize, start_ms: u64) {
        let mean = self.uninformed_mean_ms();
        let gap_mean_ms = self.cfg.informed_cycle_s() * 1000.0 - self.cfg.informed_window_ms;
        let informed = self.cfg.informed_share > 0.0;
        let rng = self.coins[c].sim_rng_flow();
        let first = [draw_ms(rng, mean), draw_ms(rng, mean)];
        let window = if informed { draw_ms(rng, gap_mean_ms) } else { NEVER - start_ms };
        let s = &mut self.coins[c];
        s.next_order_ms = [start_ms + first[0], start_ms + first[1]];
        s.next_window_ms = start_ms.saturating_add(window);
    }

    /// Takes the earliest event and runs it.
    fn advance(&mut self) {
        let mut best = (self.regime.next_switch_ms, Event::RegimeSwitch);
        let mut consider = |t: u64, e: Event| {
            if (t, e.priority(), e) < (best.0, best.1.priority(), best.1) {
                best = (t, e);
            }
        };
        consider(self.next_step_ms, Event::Step);
        consider(self.next_block_ms, Event::Block);
        consider(self.next_ctx_ms, Event::AssetCtx);
        for (i, c) in self.coins.iter().enumerate() {
            if let Some(w) = c.sim.info {
                consider(w.end_ms, Event::WindowClose(i));
            }
            consider(c.next_order_ms[0], Event::Order(i, 0));
            consider(c.next_order_ms[1], Event::Order(i, 1));
            consider(c.next_informed_ms, Event::InformedOrder(i));
            consider(c.next_window_ms, Event::WindowOpen(i));
        }
        let (t, event) = best;
        match event {
            Event::RegimeSwitch => self.regime.switch(&self.cfg),
            Event::WindowClose(c) => {
                self.coins[c].sim.close_window(&self.cfg);
                self.coins[c].next_informed_ms = NEVER;
                self.emit_bbo_if_changed(c, t);
            }
            Event::Step => self.step(t),
            Event::Order(c, side) => {
                let mean = self.uninformed_mean_ms();
                let dt = draw_ms(self.coins[c].sim_rng_flow(), mean);
                self.coins[c].next_order_ms[side] = t + dt;
                self.aggressive(c, t, side == 0, false);
            }
            Event::InformedOrder(c) => {
                let up = self.coins[c].sim.info.is_some_and(|w| w.up);
                let mean = 1000.0 / self.cfg.informed_order_rate;
                let dt = draw_ms(self.coins[c].sim_rng_flow(), mean);
                let end = self.coins[c].sim.info.map_or(0, |w| w.end_ms);
                self.coins[c].next_informed_ms = if t + dt < end { t + dt } else { NEVER };
                self.aggressive(c, t, up, true);
            }
            Event::WindowOpen(c) => self.open_window(c, t),
            Event::Block => self.block(t),
            Event::AssetCtx => self.asset_ctx(t),
        }
        for c in 0..self.coins.len() {
            self.flush_hidden_orders(c, t);
        }
    }

    fn regime_sigma(&self) -> f64 {
        self.cfg.regimes.get(self.regime.current).sigma_bp
    }

    fn step(&mut self, t: u64) {
        let sigma = self.regime_sigma() * self.diffusion_scale;
        for c in 0..self.coins.len() {
            self.coins[c].sim.diffuse(&self.cfg, STEP_MS as f64 / 1000.0, sigma);
            self.emit_bbo_if_changed(c, t);
        }
        self.next_step_ms = t + STEP_MS;
    }

    fn open_window(&mut self, c: usize, t: u64) {
        let window_ms = draw_ms(self.coins[c].sim_rng_flow(), self.cfg.informed_window_ms).max(1);
        let gap_mean_ms = self.cfg.informed_cycle_s() * 1000.0 - self.cfg.informed_window_ms;
        let gap_ms = draw_ms(self.coins[c].sim_rng_flow(), gap_mean_ms);
        let first_ms = draw_ms(self.coins[c].sim_rng_flow(), 1000.0 / self.cfg.informed_order_rate);
        let sigma = self.regime_sigma();
        let s = &mut self.coins[c];
        s.sim.open_window(&self.cfg, t + window_ms, sigma);
        s.next_window_ms = t + window_ms + gap_ms;
        s.next_informed_ms = if first_ms < window_ms { t + first_ms } else { NEVER };
        s.stats.windows += 1;
        self.emit_bbo_if_changed(c, t);
    }

    fn block(&mut self, t: u64) {
        let factor = self.cfg.regimes.get(self.regime.current).spread_factor;
        let mut mids = Vec::with_capacity(self.coins.len());
        for c in 0..self.coins.len() {
            self.coins[c].sim.churn(&self.cfg, factor);
            self.coins[c].sim.published(&self.cfg, BookSide::Bid, &mut self.scratch_bids);
            self.coins[c].sim.published(&self.cfg, BookSide::Ask, &mut self.scratch_asks);
            self.count_queue_orders(c);
            let s = &self.coins[c];
            let mut raw = Vec::with_capacity(64 + 44 * (self.scratch_bids.len() + self.scratch_asks.len()));
            wire::l2_book(&mut raw, &self.names[c], t, s.grid, &self.scratch_bids, &self.scratch_asks);
            let stream = s.streams[0].clone();
            if let Some(m2) = s.sim.mid2_ticks() {
                mids.push((c, m2));
            }
            self.coins[c].stats.books += 1;
            self.emit_for(c, t, stream, raw);
            self.emit_bbo_if_changed(c, t);
        }
        let list: Vec<(&str, i64, Grid)> =
            mids.iter().map(|&(c, m2)| (self.names[c].as_str(), m2, self.coins[c].grid)).collect();
        let mut raw = Vec::with_capacity(48 + 24 * list.len());
        wire::all_mids(&mut raw, &list);
        self.emit(t, "allMids".to_string(), raw);
        let mean = self.cfg.book_interval_ms;
        let jitter = self.cfg.book_interval_jitter_ms;
        let dt = mean - jitter + self.rng_clock.below(2 * jitter + 1);
        self.next_block_ms = t + dt.max(1);
    }

    /// Every coin's `activeAssetCtx`: the context process steps whether or not a message can
    /// go out (a coin without a two-sided book has no mark), so its path depends on time only.
    fn asset_ctx(&mut self, t: u64) {
        self.next_ctx_ms = t.saturating_add(self.cfg.funding.ctx_interval_ms.max(1));
        for c in 0..self.coins.len() {
            let s = &mut self.coins[c];
            let Some(process) = s.ctx.as_mut() else { continue };
            let draw = process.next(&self.cfg.funding);
            let (Some(bid), Some(ask)) = (s.sim.bids.best().copied(), s.sim.asks.best().copied()) else {
                continue;
            };
            let g = s.grid;
            let mid2 = bid.px_ticks + ask.px_ticks;
            // The mark on the tick grid (the mid rounded down), the oracle the mark less the
            // premium, on the grid too.
            let mark_ticks = mid2.div_euclid(2);
            let premium_ticks = libm::round(mark_ticks as f64 * draw.premium_units as f64 / 1e12) as i64;
            let lots_oi =
                libm::round(draw.open_interest_base * 10f64.powi(s.sim.contract.sz_decimals as i32)) as i64;
            let ctx = WireCtx {
                funding: draw.rate_units,
                open_interest: lots_oi * g.lot_units,
                prev_day_px: s.sim.contract.start_ticks * g.tick_units,
                day_ntl_vlm: i64::try_from(s.volume_notional_units).unwrap_or(i64::MAX),
                premium: draw.premium_units,
                oracle_px: (mark_ticks - premium_ticks).max(1) * g.tick_units,
                mark_px: mark_ticks * g.tick_units,
                mid_px: mid2 * g.tick_units / 2,
                impact_bid: bid.px_ticks * g.tick_units,
                impact_ask: ask.px_ticks * g.tick_units,
                day_base_vlm: s.volume_base_units,
            };
            let mut raw = Vec::with_capacity(320);
            wire::active_asset_ctx(&mut raw, &self.names[c], &ctx);
            let stream = s.ctx_stream.clone();
            self.emit_unjittered(t, stream, raw);
        }
    }

    /// A message received after the base latency, without a draw from the latency stream (so
    /// every other message keeps its receive time): never after a later message's, whose
    /// latency is at least the base.
    fn emit_unjittered(&mut self, t_ms: u64, stream: String, raw: Vec<u8>) {
        let exch_ns = t_ms * 1_000_000;
        let recv_ns = (exch_ns + libm::round(self.cfg.latency_ms * 1e6) as u64).max(self.last_recv_ns);
        self.last_recv_ns = recv_ns;
        self.queue.push_back(SynthMessage { recv_ns, exch_ns, stream, raw });
    }

    fn aggressive(&mut self, c: usize, t: u64, buy: bool, informed: bool) {
        let (_, prints) = self.coins[c].sim.aggressive(&self.cfg, buy);
        if prints.is_empty() {
            return;
        }
        let s = &mut self.coins[c];
        for p in &prints {
            let base = p.lots * s.grid.lot_units;
            s.volume_base_units = s.volume_base_units.saturating_add(base);
            s.volume_notional_units += i128::from(p.px_ticks * s.grid.tick_units) * i128::from(base)
                / i128::from(crate::types::SCALE);
        }
        if let Some(orders) = s.orders.as_mut() {
            orders.apply_prints(if buy { BookSide::Ask } else { BookSide::Bid }, &prints);
        }
        s.stats.aggressive_orders += 1;
        s.stats.informed_orders += u64::from(informed);
        s.stats.trades += prints.len() as u64;
        let trades = wire_trades(&mut s.rng_ids, &self.users, &prints, buy, t);
        let mut raw = Vec::with_capacity(64 + 330 * trades.len());
        wire::trades(&mut raw, &self.names[c], s.grid, &trades);
        let stream = s.streams[1].clone();
        self.emit_for(c, t, stream, raw);
        self.emit_bbo_if_changed(c, t);
    }

    /// The first `trades` message of a coin: trades from before the subscription, as the venue
    /// sends on subscribing. Consumers must flag them as history, not new flow.
    fn emit_history(&mut self, c: usize, start_ms: u64) {
        let n = self.cfg.history_trades;
        if n == 0 {
            return;
        }
        let s = &mut self.coins[c];
        let (Some(bid), Some(ask)) = (s.sim.bids.best().copied(), s.sim.asks.best().copied()) else {
            return;
        };
        let mut times: Vec<u64> =
            (0..n).map(|_| start_ms - HISTORY_SPAN_MS + s.rng_ids.below(HISTORY_SPAN_MS)).collect();
        times.sort_unstable();
        let mut trades = Vec::with_capacity(n);
        for t in times {
            let buy = s.rng_ids.chance(0.5);
            let drift = s.rng_ids.below(4) as i64 - 2;
            let px = if buy { ask.px_ticks } else { bid.px_ticks } + drift;
            let lots =
                ((s.rng_ids.exponential(0.02) * 10f64.powi(s.sim.contract.sz_decimals as i32)) as i64).max(1);
            trades.extend(wire_trades(&mut s.rng_ids, &self.users, &[Print { px_ticks: px, lots }], buy, t));
        }
        let mut raw = Vec::new();
        wire::trades(&mut raw, &self.names[c], s.grid, &trades);
        let stream = s.streams[1].clone();
        self.emit_for(c, start_ms, stream, raw);
    }

    fn emit_bbo_if_changed(&mut self, c: usize, t: u64) {
        self.coins[c].sim.published(&self.cfg, BookSide::Bid, &mut self.scratch_bids);
        self.coins[c].sim.published(&self.cfg, BookSide::Ask, &mut self.scratch_asks);
        let (Some(&bid), Some(&ask)) = (self.scratch_bids.first(), self.scratch_asks.first()) else {
            return;
        };
        // Compared before the order counts are applied, so that the order-level mode sends
        // the same bbo messages at the same times as the level mode.
        if self.coins[c].last_bbo == Some((bid, ask)) {
            return;
        }
        self.coins[c].last_bbo = Some((bid, ask));
        self.count_queue_orders(c);
        let (bid, ask) = (self.scratch_bids[0], self.scratch_asks[0]);
        let s = &mut self.coins[c];
        s.stats.bbos += 1;
        let mut raw = Vec::with_capacity(160);
        wire::bbo(&mut raw, &self.names[c], t, s.grid, Some(&bid), Some(&ask));
        let stream = s.streams[2].clone();
        self.emit_for(c, t, stream, raw);
    }

    /// Exchange and receive time of a message sent at `t_ms`.
    fn stamp(&mut self, t_ms: u64) -> (u64, u64) {
        let exch_ns = t_ms * 1_000_000;
        let latency_ms = self.cfg.latency_ms + self.rng_latency.exponential(self.cfg.latency_jitter_ms);
        let recv_ns = (exch_ns + libm::round(latency_ms * 1e6) as u64).max(self.last_recv_ns);
        self.last_recv_ns = recv_ns;
        (exch_ns, recv_ns)
    }

    fn emit(&mut self, t_ms: u64, stream: String, raw: Vec<u8>) {
        let (exch_ns, recv_ns) = self.stamp(t_ms);
        self.queue.push_back(SynthMessage { recv_ns, exch_ns, stream, raw });
    }

    /// A message of coin `c`, preceded (order-level mode) by the queue changes that led to it,
    /// at the same receive time.
    fn emit_for(&mut self, c: usize, t_ms: u64, stream: String, raw: Vec<u8>) {
        let (exch_ns, recv_ns) = self.stamp(t_ms);
        self.push_orders(c, t_ms, exch_ns, recv_ns);
        self.queue.push_back(SynthMessage { recv_ns, exch_ns, stream, raw });
    }

    /// Order-level mode: the queue changes of coin `c` no message showed, at the end of their
    /// event. Their receive time (exchange time plus the base latency, never before the last
    /// message) is never after a later message's, whose latency is at least the base.
    fn flush_hidden_orders(&mut self, c: usize, t_ms: u64) {
        if self.coins[c].orders.is_none() {
            return;
        }
        self.sync_orders(c);
        if !self.coins[c].orders.as_ref().is_some_and(OrderBook::has_events) {
            return;
        }
        let exch_ns = t_ms * 1_000_000;
        let recv_ns = (exch_ns + libm::round(self.cfg.latency_ms * 1e6) as u64).max(self.last_recv_ns);
        self.last_recv_ns = recv_ns;
        self.push_orders(c, t_ms, exch_ns, recv_ns);
    }

    /// Brings coin `c`'s queues up to date and queues its pending changes as one message.
    fn push_orders(&mut self, c: usize, t_ms: u64, exch_ns: u64, recv_ns: u64) {
        if self.coins[c].orders.is_none() {
            return;
        }
        self.sync_orders(c);
        let s = &mut self.coins[c];
        let Some(orders) = s.orders.as_mut() else { return };
        let events = orders.take_events();
        if events.is_empty() {
            return;
        }
        s.stats.order_records += 1;
        s.stats.order_events += events.len() as u64;
        let mut raw = Vec::with_capacity(64 + 32 * events.len());
        wire::order_level(&mut raw, &self.names[c], t_ms, s.grid, &events);
        let stream = s.streams[3].clone();
        self.queue.push_back(SynthMessage { recv_ns, exch_ns, stream, raw });
    }

    /// Reconciles coin `c`'s queues with its levels: the published ones (tilt included, as
    /// the wire shows them) and the hidden ones behind them.
    fn sync_orders(&mut self, c: usize) {
        let s = &mut self.coins[c];
        let Some(orders) = s.orders.as_mut() else { return };
        for side in [BookSide::Bid, BookSide::Ask] {
            s.sim.published(&self.cfg, side, &mut self.scratch_target);
            let book = if side == BookSide::Bid { &s.sim.bids } else { &s.sim.asks };
            self.scratch_target.extend(book.levels.iter().skip(self.cfg.levels).copied());
            orders.reconcile(side, &self.scratch_target);
        }
    }

    /// Order-level mode: the published levels in `scratch_bids`/`scratch_asks` get the number
    /// of orders in their queues as `n` (the queues are synced first).
    fn count_queue_orders(&mut self, c: usize) {
        if self.coins[c].orders.is_none() {
            return;
        }
        self.sync_orders(c);
        let Some(orders) = self.coins[c].orders.as_ref() else { return };
        for l in &mut self.scratch_bids {
            l.n = orders.count_at(BookSide::Bid, l.px_ticks) as u32;
        }
        for l in &mut self.scratch_asks {
            l.n = orders.count_at(BookSide::Ask, l.px_ticks) as u32;
        }
    }
}

impl CoinState {
    /// The coin's flow stream also times its orders, so a coin's flow is one sequence of draws.
    fn sim_rng_flow(&mut self) -> &mut Rng {
        self.sim.rng_flow_mut()
    }
}

impl Iterator for SynthVenue {
    type Item = SynthMessage;
    fn next(&mut self) -> Option<SynthMessage> {
        Some(self.next_message())
    }
}

/// A coin's context process, drawing from its own stream of (seed, coin).
pub(crate) fn context_process(cfg: &SynthConfig, seed: u64, coin: &str, start_px: f64) -> FundingProcess {
    FundingProcess::new(&cfg.funding, Rng::derive(seed, mix64(name_id(coin)) ^ CTX_STREAM), start_px)
}

/// An exponential interval with the given mean, in whole ms.
fn draw_ms(rng: &mut Rng, mean_ms: f64) -> u64 {
    if !mean_ms.is_finite() {
        return NEVER / 2;
    }
    libm::round(rng.exponential(mean_ms.max(0.0))) as u64
}

fn random_bytes<const N: usize>(rng: &mut Rng) -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let v = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    out
}

/// The prints of one aggressive order as the venue publishes them: one transaction hash,
/// one trade id per print, the taker and a resting maker as buyer and seller.
fn wire_trades(rng: &mut Rng, users: &[[u8; 20]], prints: &[Print], buy: bool, t: u64) -> Vec<WireTrade> {
    let hash = if rng.chance(TWAP_SHARE) { [0u8; 32] } else { random_bytes::<32>(rng) };
    let taker = users[MAKERS + rng.below((users.len() - MAKERS) as u64) as usize];
    prints
        .iter()
        .map(|p| {
            let maker = users[rng.below(MAKERS as u64) as usize];
            let (buyer, seller) = if buy { (taker, maker) } else { (maker, taker) };
            WireTrade {
                buy,
                px_ticks: p.px_ticks,
                lots: p.lots,
                time_ms: t,
                hash,
                tid: rng.next_u64() >> 14,
                buyer,
                seller,
            }
        })
        .collect()
}
