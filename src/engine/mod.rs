//! The engine: one pure state machine, `inputs (with their timestamps) -> outputs`.
//!
//! # Driver contract
//!
//! 1. Build with [`Engine::new`] (or deserialize a checkpoint's state with
//!    [`Engine::from_checkpoint`]).
//! 2. Feed every input of the recording, in recording order, with
//!    [`Engine::on_input`]`(now, seq, input, &mut out)`: `now` is the input's receive time and
//!    never goes backwards (asserted, in release builds too: a driver clamps a backwards
//!    receive time and reports it); `seq` is its sequence number, which breaks ties and keys
//!    the random draws. The engine appends its outputs to `out`; the driver drains them.
//! 3. When `out` ends with [`Output::Checkpoint`], the driver saves [`Engine::checkpoint`]
//!    right then (after this input, before the next): resuming from it and feeding the inputs
//!    after `seq` gives exactly the outputs of the full run.
//! 4. A live driver that wants time-driven work done without market data injects
//!    [`Input::Tick`] at [`Engine::next_tick`] (the times the engine acts: strategy timers,
//!    paced requotes, funding, snapshots, checkpoints) and records the tick, so a replay sees it.
//!    Time-driven work is also done lazily at the next input, so replays without ticks and live
//!    runs with them resolve the same outcomes with the same mids.
//!
//! No I/O, no clock, no threads, no entropy: randomness is keyed by (seed, order id, seq).

pub mod checklist;
pub mod coin;
pub mod config;
pub mod io;
pub mod keys;
pub mod market;

pub use config::{ConfigError, EngineConfig};
pub use io::{Input, ModelSnapshot, Output};

use crate::market_maker::funding::{FundingClock, EIGHT_HOURLY_NS, HOURLY_NS};
use crate::market_maker::margin::MarginTracker;
use crate::types::{Price, Qty, Timestamp, SCALE};
use crate::venue::event::MarketEvent;
use crate::venue::{Adapter, Books, Instrument, Parsed, Venue};
use checklist::{ChecklistInputs, ChecklistItem};
use coin::{CoinState, Ctx, Ids, Stats};
use io::CancelReason;
use serde::{Deserialize, Serialize};

const MINUTE_NS: u64 = 60_000_000_000;

/// A checkpoint that cannot be resumed.
#[derive(Debug)]
pub enum CheckpointError {
    /// The bytes do not decode as this build's engine state.
    Decode(rmp_serde::decode::Error),
    /// A coin's strategy is of a kind or version this program does not have.
    Strategy(String),
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::Decode(e) => write!(f, "engine state does not decode: {e}"),
            CheckpointError::Strategy(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CheckpointError {}
/// Levels per side of the book-imbalance feature: the top of the book is where informed
/// traders lean (deeper levels mostly add resting noise).
const IMBALANCE_LEVELS: usize = 3;

/// The whole engine state; `Serialize` is the checkpoint.
#[derive(Serialize, Deserialize)]
pub struct Engine {
    config: EngineConfig,
    venue_name: String,
    seed: u64,
    adapter: Adapter,
    books: Books,
    coins: Vec<CoinState>,
    margin: MarginTracker,
    ids: Ids,
    stats: Stats,
    maker_fee_milli_bp: i64,
    last_now: Timestamp,
    first_ns: Option<Timestamp>,
    inputs: u64,
    next_checkpoint_ns: u64,
    checkpoints: u64,
    next_snapshot_ns: u64,
    checklist: ChecklistInputs,
    /// Scratch buffers reused across inputs (not state).
    #[serde(skip)]
    events: Vec<MarketEvent>,
    #[serde(skip)]
    anomalies: Vec<MarketEvent>,
    /// Each coin's index in `books` (a cache, not state): rebuilt when `books` grows, so the
    /// per-input loop over every coin does not search the books by name.
    #[serde(skip)]
    book_index: BookIndex,
}

/// `Books::index_of` for each engine coin, as of `books.len() == for_len`.
#[derive(Default)]
struct BookIndex {
    for_len: Option<usize>,
    index: Vec<Option<usize>>,
}

impl BookIndex {
    fn refresh(&mut self, books: &Books, coins: &[CoinState]) {
        if self.for_len != Some(books.len()) || self.index.len() != coins.len() {
            self.index.clear();
            self.index.extend(coins.iter().map(|c| books.index_of(&c.coin)));
            self.for_len = Some(books.len());
        }
    }
}

/// What `summary.json` reports from the engine (the session adds digest and input counts).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineSummary {
    pub first_ns: u64,
    pub last_ns: u64,
    pub fills: u64,
    /// Fills of quotes whose cancel had been sent: stale quotes picked off in the cancel
    /// latency (kept out of the kappa fit; docs/FILLS.md).
    #[serde(default)]
    pub cancel_tail_fills: u64,
    pub markouts: u64,
    pub adverse_markouts: u64,
    pub markouts_dropped: u64,
    pub pnl: PnlSummary,
    pub kappa: f64,
    pub kappa_confidence: f64,
    pub calibration_progress: f64,
    pub cal_gamma: f64,
    pub regime_changes: u64,
    pub checkpoints: u64,
    pub margin_rejects: u64,
    pub orders_placed: u64,
    pub anomalies: u64,
    pub gaps: u64,
    /// The strategy kind that quoted (`strategy.kind`).
    #[serde(default)]
    pub strategy: String,
    /// The most of our quotes on one side live at one time: past their entry latency, no
    /// cancel sent (a 3-level ladder shows 3).
    #[serde(default)]
    pub max_resting_per_side: u64,
    /// Orders refused for exceeding `strategy.max_order_notional_usd`.
    #[serde(default)]
    pub notional_rejects: u64,
    /// Funding times settled with a known rate, summed over the coins (`pnl.funding` is
    /// their payments).
    pub funding_events: u64,
    /// What unrealized PnL and margin are marked at: `venue` (every coin at the venue's mark
    /// price), `mid` (no mark price in the feed), or `venue+mid` (some coins each way).
    pub mark_source: String,
    pub coins: std::collections::BTreeMap<String, CoinSummary>,
    pub checklist: Vec<ChecklistItem>,
}

/// Quote-currency amounts (decimal units, for JSON): `net = realized + unrealized + funding
/// - fees` (computed in integers, then converted).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PnlSummary {
    pub realized: f64,
    pub unrealized: f64,
    pub fees: f64,
    /// Funding received (negative = paid).
    #[serde(default)]
    pub funding: f64,
    #[serde(default)]
    pub net: f64,
}

impl PnlSummary {
    /// From (realized, unrealized, funding, fees) in 10^-8 quote units.
    fn from_units((r, u, f, fees): (i64, i64, i64, i64)) -> PnlSummary {
        let usd = |v: i64| v as f64 / SCALE as f64;
        PnlSummary {
            realized: usd(r),
            unrealized: usd(u),
            fees: usd(fees),
            funding: usd(f),
            net: usd(r.saturating_add(u).saturating_add(f).saturating_sub(fees)),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CoinSummary {
    pub fills: u64,
    /// Fills of quotes whose cancel had been sent (kept out of the kappa fit).
    #[serde(default)]
    pub cancel_tail_fills: u64,
    /// Fills (own and probes) that entered the kappa fit.
    #[serde(default)]
    pub fitted_fills: u64,
    pub own_fills: u64,
    pub probe_fills: u64,
    pub markouts: u64,
    pub adverse_markouts: u64,
    pub pnl: PnlSummary,
    pub position: f64,
    pub kappa: f64,
    pub a: f64,
    pub kappa_confidence: f64,
    pub sigma_bp: f64,
    pub as_progress: f64,
    pub brier_skill: f64,
    /// Share of 5 s markouts that were adverse, its 95% Wilson interval, and the rate fills
    /// with no information would see from volatility alone: the mean over the labelled fills of
    /// Phi(-threshold / (sigma_1s at the fill * sqrt(horizon))), the same figure `report` shows
    /// (0 before any labelled markout).
    pub as_rate: f64,
    pub as_rate_wilson_low: f64,
    pub as_rate_wilson_high: f64,
    pub as_no_skill_baseline: f64,
    pub calibration_progress: f64,
    pub cal_gamma: f64,
    pub regime: io::Regime,
    pub regime_changes: u64,
    pub margin_rejects: u64,
    #[serde(default)]
    pub max_resting_per_side: u64,
    #[serde(default)]
    pub funding_events: u64,
    /// `venue` (marked at the venue's mark price) or `mid`.
    #[serde(default)]
    pub mark_source: String,
}

/// The venue's funding interval: Hyperliquid hourly, Binance USD-M every 8 h (its mark price
/// stream may announce other times, which replace the grid's).
fn funding_interval_ns(venue: Venue) -> u64 {
    match venue {
        Venue::Hyperliquid => HOURLY_NS,
        Venue::BinanceUsdm => EIGHT_HOURLY_NS,
    }
}

impl Engine {
    /// An engine trading `coins` on `venue` with `config`, its random draws keyed by `seed`.
    pub fn new(
        mut config: EngineConfig,
        venue: Venue,
        seed: u64,
        coins: &[String],
    ) -> Result<Engine, ConfigError> {
        config.validate()?;
        if coins.is_empty() {
            return Err(ConfigError {
                key: "engine.coins".into(),
                line: None,
                message: "no coin to trade: name one with --coins or engine.coins".into(),
            });
        }
        let venue_name = venue.name().to_string();
        let mut states = Vec::with_capacity(coins.len());
        for c in coins {
            let instrument = instrument_of(&config, venue, c)?;
            let mut state = CoinState::new(c, instrument, &config, seed)?;
            state.funding = FundingClock::new(funding_interval_ns(venue));
            states.push(state);
        }
        // The configuration kept (and written to session.toml) is the resolved one: the venue's
        // fees filled in and the traded coins named, so a replay of it needs nothing else.
        let (maker_bp, taker_bp) = config.fees_bp(&venue_name);
        config.account.maker_fee_bp = Some(maker_bp);
        config.account.taker_fee_bp = Some(taker_bp);
        config.engine.coins = coins.to_vec();
        let equity = (config.account.starting_equity_usd * SCALE as f64) as i64;
        let margin = MarginTracker::new(config.account.leverage, equity, coins.len());
        Ok(Engine {
            maker_fee_milli_bp: (maker_bp * 1000.0).round() as i64,
            venue_name,
            seed,
            adapter: Adapter::new(venue),
            books: Books::new(venue),
            coins: states,
            margin,
            ids: Ids::default(),
            stats: Stats { pnl_identity_held: true, ..Stats::default() },
            last_now: Timestamp::ZERO,
            first_ns: None,
            inputs: 0,
            next_checkpoint_ns: 0,
            checkpoints: 0,
            next_snapshot_ns: 0,
            checklist: ChecklistInputs {
                checkpoint_interval_ns: config.engine.checkpoint_interval_s * 1_000_000_000,
                ..Default::default()
            },
            config,
            events: Vec::new(),
            anomalies: Vec::new(),
            book_index: BookIndex::default(),
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn coins(&self) -> impl Iterator<Item = &CoinState> {
        self.coins.iter()
    }

    /// Inputs consumed since the engine was created (checkpoints carry it).
    pub fn inputs(&self) -> u64 {
        self.inputs
    }

    /// The engine state, serialized (rmp-serde; the driver compresses it).
    pub fn checkpoint(&self) -> Result<Vec<u8>, rmp_serde::encode::Error> {
        rmp_serde::to_vec(self)
    }

    /// The engine state of a checkpoint, its strategies rebuilt from the program's registry
    /// (refused if a coin's strategy kind or version is not this program's).
    pub fn from_checkpoint(bytes: &[u8]) -> Result<Engine, CheckpointError> {
        let mut e: Engine = rmp_serde::from_slice(bytes).map_err(CheckpointError::Decode)?;
        for c in &mut e.coins {
            c.strategy.restore(&e.config.strategy).map_err(CheckpointError::Strategy)?;
        }
        Ok(e)
    }

    /// The venue whose messages the engine parses (what [`Input::Parsed`] must be parsed for).
    pub fn venue(&self) -> Venue {
        self.adapter.venue()
    }

    /// The single entry point: one input at time `now` with sequence number `seq`.
    pub fn on_input(&mut self, now: Timestamp, seq: u64, input: Input<'_>, out: &mut Vec<Output>) {
        assert!(now >= self.last_now, "time went backwards: {now} after {} (driver contract)", self.last_now);
        self.last_now = now;
        self.inputs += 1;
        if self.first_ns.is_none() {
            self.start(now);
        }
        self.advance(now, seq, out);
        match input {
            Input::Message { stream, raw } => self.on_message(now, seq, stream, raw, &Parsed::Not, out),
            Input::Parsed { stream, raw, parsed } => self.on_message(now, seq, stream, raw, parsed, out),
            Input::Connect => {
                self.adapter.on_connect();
                self.invalidate(now, seq, CancelReason::Disconnect, out);
            }
            Input::Disconnect => self.invalidate(now, seq, CancelReason::Disconnect, out),
            Input::Gap => self.invalidate(now, seq, CancelReason::Gap, out),
            // Time passed and nothing else: every coin's exposure is brought up to now (what
            // a tick's caller reads of the models covers all the time it names).
            Input::Tick => self.coins.iter_mut().for_each(|c| c.catch_up(now)),
            Input::Stale => self.pull_quotes(now, seq, CancelReason::Stale, out),
        }
        self.record_checklist(now);
        if now.0 >= self.next_checkpoint_ns {
            let interval = self.config.engine.checkpoint_interval_s.saturating_mul(1_000_000_000);
            self.next_checkpoint_ns = next_period_after(self.next_checkpoint_ns, now.0, interval);
            self.checkpoints += 1;
            // Last output of this input: the state saved now is the state after it.
            out.push(Output::Checkpoint { index: self.checkpoints });
        }
    }

    fn start(&mut self, now: Timestamp) {
        self.first_ns = Some(now);
        self.checklist.first_ns = now.0;
        let e = &self.config.engine;
        self.next_checkpoint_ns = now.plus_ns(e.checkpoint_interval_s.saturating_mul(1_000_000_000)).0;
        self.next_snapshot_ns = now.plus_ns(e.snapshot_interval_s.saturating_mul(1_000_000_000)).0;
        for c in &mut self.coins {
            c.funding.start(now.0);
        }
    }

    fn window_open(&self, now: Timestamp) -> bool {
        self.first_ns.is_some_and(|f| now.since(f) < checklist::WINDOW_NS)
    }

    fn ctx<'a>(
        config: &'a EngineConfig,
        ids: &'a mut Ids,
        margin: &'a mut MarginTracker,
        stats: &'a mut Stats,
        out: &'a mut Vec<Output>,
        (now, seq, index, fee, window_open, seed): (Timestamp, u64, usize, i64, bool, u64),
    ) -> Ctx<'a> {
        Ctx {
            cfg: config,
            seed,
            now,
            seq,
            index,
            ids,
            margin,
            stats,
            out,
            maker_fee_milli_bp: fee,
            window_open,
        }
    }

    /// Time-driven work up to `now`, for every coin, then the periodic model snapshots.
    fn advance(&mut self, now: Timestamp, seq: u64, out: &mut Vec<Output>) {
        let window = self.window_open(now);
        self.book_index.refresh(&self.books, &self.coins);
        for (i, c) in self.coins.iter_mut().enumerate() {
            let top = c.top;
            let view = self.book_index.index[i]
                .map(|b| market::TopView { book: self.books.book_at(b), top: top.as_ref() });
            let book = view.as_ref().map(|v| v as &dyn crate::market_maker::simulation::fill_sim::BookView);
            let mut ctx = Self::ctx(
                &self.config,
                &mut self.ids,
                &mut self.margin,
                &mut self.stats,
                out,
                (now, seq, i, self.maker_fee_milli_bp, window, self.seed),
            );
            // Funding times passed since the last input come first: they fell before anything
            // this input's time-driven work does.
            c.settle_funding(&mut ctx);
            c.advance(&mut ctx, book);
        }
        if now.0 >= self.next_snapshot_ns {
            let interval = self.config.engine.snapshot_interval_s.saturating_mul(1_000_000_000);
            self.next_snapshot_ns = next_period_after(self.next_snapshot_ns, now.0, interval);
            for c in &self.coins {
                out.push(Output::Model(c.snapshot(&self.margin)));
            }
            if window {
                if let Some(c) = self.coins.first() {
                    let k = c.estimator.kappa_confidence();
                    self.checklist.kappa_confidence_first.get_or_insert(k);
                    self.checklist.kappa_confidence_last = Some(k);
                }
            }
        }
    }

    fn coin_index(&self, coin: &str) -> Option<usize> {
        self.coins.iter().position(|c| *c.coin == *coin)
    }

    fn on_message(
        &mut self,
        now: Timestamp,
        seq: u64,
        stream: &str,
        raw: &[u8],
        parsed: &Parsed,
        out: &mut Vec<Output>,
    ) {
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        self.adapter.on_parsed(seq, now, stream, raw, parsed, &mut events);
        // Prints of one message are told apart by their index (the flat model's draws).
        let mut print = 0u32;
        for e in &events {
            self.on_event(now, seq, print, e, out);
            print += u32::from(matches!(e, MarketEvent::Trade { .. }));
        }
        self.events = events;
    }

    fn on_event(&mut self, now: Timestamp, seq: u64, print: u32, event: &MarketEvent, out: &mut Vec<Output>) {
        let window = self.window_open(now);
        // The coin this event is for (looked up once: every branch below means this coin)
        // adds its exposure up to now first (`CoinState::advance` leaves it to the coin's own
        // inputs).
        let coin_index = event.coin().and_then(|c| self.coin_index(c));
        if let Some(i) = coin_index {
            self.coins[i].catch_up(now);
        }
        if let (Some(i), Some(exch)) = (coin_index, event_time(event)) {
            self.coins[i].observe_feed(now, exch, self.config.fill_sim.feed_window_s);
        }
        match event {
            MarketEvent::Anomaly { coin, kind, detail } => {
                self.stats.anomalies += 1;
                out.push(Output::Anomaly { coin: coin.clone(), kind: *kind, detail: detail.clone(), seq });
            }
            MarketEvent::Protocol { .. } | MarketEvent::Mids { .. } => {}
            MarketEvent::AssetCtx { mark_px, funding_rate, next_funding_ns, .. } => {
                let Some(i) = coin_index else { return };
                let mut ctx = Self::ctx(
                    &self.config,
                    &mut self.ids,
                    &mut self.margin,
                    &mut self.stats,
                    out,
                    (now, seq, i, self.maker_fee_milli_bp, window, self.seed),
                );
                self.coins[i].on_asset_ctx(&mut ctx, *mark_px, *funding_rate, next_funding_ns.map(|t| t.0));
            }
            MarketEvent::Trade { side, px, sz, history, .. } => {
                if *history {
                    return;
                }
                let Some(i) = coin_index else { return };
                if window {
                    let minute = (now.since(self.first_ns.unwrap_or(now)) / MINUTE_NS) as usize;
                    bump(&mut self.checklist.trades_per_minute, minute);
                }
                let fills_before = self.stats.fills;
                let mut ctx = Self::ctx(
                    &self.config,
                    &mut self.ids,
                    &mut self.margin,
                    &mut self.stats,
                    out,
                    (now, seq, i, self.maker_fee_milli_bp, window, self.seed),
                );
                self.coins[i].on_trade(&mut ctx, print, *side, *px, *sz);
                self.count_window_fills(now, fills_before);
            }
            MarketEvent::BookSnapshot { coin, .. }
            | MarketEvent::BookDiff { coin, .. }
            | MarketEvent::Bbo { coin, .. } => {
                let mut anomalies = std::mem::take(&mut self.anomalies);
                anomalies.clear();
                self.books.apply(event, &mut anomalies);
                for a in &anomalies {
                    if let MarketEvent::Anomaly { coin, kind, detail } = a {
                        self.stats.anomalies += 1;
                        out.push(Output::Anomaly {
                            coin: coin.clone(),
                            kind: *kind,
                            detail: detail.clone(),
                            seq,
                        });
                    }
                }
                self.anomalies = anomalies;
                let Some(i) = coin_index else { return };
                let fills_before = self.stats.fills;
                let book = self.books.book(coin);
                let valid = book.is_some_and(|b| b.is_valid());
                // A newer best bid and offer overlays the book until the next book update.
                self.coins[i].top = match (event, book) {
                    (MarketEvent::Bbo { bid, ask, exch_ns, update_id, .. }, Some(b)) if valid => {
                        market::Top::newer_than(b, *bid, *ask, *exch_ns, *update_id).or(self.coins[i].top)
                    }
                    (MarketEvent::Bbo { .. }, _) => self.coins[i].top,
                    _ => None,
                };
                let imbalance = book.map_or(0.0, |b| market::imbalance(b, IMBALANCE_LEVELS));
                let mut ctx = Self::ctx(
                    &self.config,
                    &mut self.ids,
                    &mut self.margin,
                    &mut self.stats,
                    out,
                    (now, seq, i, self.maker_fee_milli_bp, window, self.seed),
                );
                match book {
                    Some(b) => {
                        let top = self.coins[i].top;
                        let view = market::TopView { book: b, top: top.as_ref() };
                        let mid = view.mid();
                        self.coins[i].on_book(&mut ctx, &view, valid, mid, imbalance)
                    }
                    None => {
                        if self.coins[i].book_valid {
                            ctx.out.push(Output::BookValidity { coin: coin.as_str().into(), valid: false });
                            self.coins[i].invalidate(&mut ctx, CancelReason::BookInvalid);
                        }
                    }
                }
                self.count_window_fills(now, fills_before);
            }
        }
    }

    fn count_window_fills(&mut self, now: Timestamp, fills_before: u64) {
        let new = self.stats.fills - fills_before;
        if new > 0 && self.window_open(now) {
            let minute = (now.since(self.first_ns.unwrap_or(now)) / MINUTE_NS) as usize;
            for _ in 0..new {
                bump(&mut self.checklist.fills_per_minute, minute);
            }
        }
    }

    /// A gap, connect or disconnect: every book is invalid, every paper order cancelled, every
    /// pending outcome dropped.
    fn invalidate(&mut self, now: Timestamp, seq: u64, reason: CancelReason, out: &mut Vec<Output>) {
        self.stats.gaps += 1;
        self.books.invalidate_all();
        let window = self.window_open(now);
        for (i, c) in self.coins.iter_mut().enumerate() {
            let was_valid = c.book_valid;
            let mut ctx = Self::ctx(
                &self.config,
                &mut self.ids,
                &mut self.margin,
                &mut self.stats,
                out,
                (now, seq, i, self.maker_fee_milli_bp, window, self.seed),
            );
            if was_valid {
                ctx.out.push(Output::BookValidity { coin: c.coin.clone(), valid: false });
            }
            c.invalidate(&mut ctx, reason);
        }
    }

    /// A silent feed: every coin's quotes are pulled and its pending markouts dropped (nothing
    /// is known of the market meanwhile), but the books stay as they are (no message was
    /// lost), so the next book update makes the coin valid again and it quotes.
    fn pull_quotes(&mut self, now: Timestamp, seq: u64, reason: CancelReason, out: &mut Vec<Output>) {
        let window = self.window_open(now);
        for (i, c) in self.coins.iter_mut().enumerate() {
            let was_valid = c.book_valid;
            let mut ctx = Self::ctx(
                &self.config,
                &mut self.ids,
                &mut self.margin,
                &mut self.stats,
                out,
                (now, seq, i, self.maker_fee_milli_bp, window, self.seed),
            );
            if was_valid {
                ctx.out.push(Output::BookValidity { coin: c.coin.clone(), valid: false });
            }
            c.invalidate(&mut ctx, reason);
        }
    }

    fn record_checklist(&mut self, now: Timestamp) {
        self.checklist.last_ns = now.0;
        if self.window_open(now) {
            if let Some(c) = self.coins.first() {
                let p = c.calibration.cal_progress();
                if p > self.checklist.calibration_progress {
                    self.checklist.calibration_progress = p;
                }
            }
        }
    }

    /// The earliest time at which the engine has time-driven work (an order going live or
    /// dying, an outcome falling due, a snapshot or a checkpoint); `None` before the first input.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.first_ns?;
        let own = [Timestamp(self.next_checkpoint_ns), Timestamp(self.next_snapshot_ns)];
        let after = self.last_now;
        self.coins.iter().filter_map(|c| c.next_deadline(after)).chain(own).filter(|t| *t > after).min()
    }

    /// The earliest time at which the engine acts without a new input, for a live driver's
    /// `Input::Tick`: a strategy timer, a paced requote, a funding time, a model snapshot or a
    /// checkpoint ([`CoinState::next_tick`]); `None` before the first input. The other
    /// time-driven work of [`Self::next_deadline`] is done at the next input, before anything
    /// else it does, on the same book and mid, so the fills and markouts are the same (the
    /// exposure sums, in integer nanoseconds between whole seconds, do not depend on where the
    /// time is split): a tick for each order going live (most of them) would only make the
    /// input that follows wait.
    pub fn next_tick(&self) -> Option<Timestamp> {
        self.first_ns?;
        let own = [Timestamp(self.next_checkpoint_ns), Timestamp(self.next_snapshot_ns)];
        let after = self.last_now;
        self.coins.iter().filter_map(|c| c.next_tick(after)).chain(own).filter(|t| *t > after).min()
    }

    /// The figures of `summary.json` (first traded coin at the top level, per coin below).
    pub fn summary(&self) -> EngineSummary {
        let mut coins = std::collections::BTreeMap::new();
        let mut total = (0i64, 0i64, 0i64, 0i64);
        for c in &self.coins {
            let pnl = c.pnl();
            total = (total.0 + pnl.0, total.1 + pnl.1, total.2 + pnl.2, total.3 + pnl.3);
            coins.insert(
                c.coin.to_string(),
                CoinSummary {
                    fills: c.fills,
                    cancel_tail_fills: c.cancel_tail_fills,
                    fitted_fills: c.estimator.fit_fills(),
                    own_fills: c.estimator.own_fills,
                    probe_fills: c.estimator.probe_fills,
                    markouts: c.markouts,
                    adverse_markouts: c.adverse_markouts,
                    pnl: PnlSummary::from_units(pnl),
                    position: Qty(c.position.qty.0).to_f64(),
                    kappa: c.estimator.kappa(),
                    a: c.estimator.a(),
                    kappa_confidence: c.estimator.kappa_confidence(),
                    sigma_bp: c.vol.sigma_bp(),
                    as_progress: c.pre_fill_classifier.as_progress(),
                    brier_skill: c.pre_fill_classifier.brier_skill(),
                    as_rate: wilson(c.adverse_markouts, c.markouts).0,
                    as_rate_wilson_low: wilson(c.adverse_markouts, c.markouts).1,
                    as_rate_wilson_high: wilson(c.adverse_markouts, c.markouts).2,
                    as_no_skill_baseline: if c.markouts > 0 {
                        c.no_skill_sum / c.markouts as f64
                    } else {
                        0.0
                    },
                    calibration_progress: c.calibration.cal_progress(),
                    cal_gamma: c.calibration.cal_gamma(),
                    regime: c.regime.regime(),
                    regime_changes: c.regime.changes,
                    margin_rejects: c.margin_rejects,
                    max_resting_per_side: c.max_resting_per_side,
                    funding_events: c.funding.events,
                    mark_source: if c.marked_at_venue() { "venue" } else { "mid" }.to_string(),
                },
            );
        }
        let at_venue = self.coins.iter().filter(|c| c.marked_at_venue()).count();
        let mark_source = match at_venue {
            0 => "mid",
            n if n == self.coins.len() => "venue",
            _ => "venue+mid",
        };
        let first = &self.coins[0];
        let mut inputs = self.checklist.clone();
        inputs.checkpoints = self.checkpoints;
        inputs.pnl_total = total.0 + total.1 + total.2;
        inputs.pnl_identity_held =
            self.stats.pnl_identity_held && self.coins.iter().all(|c| c.position.identity_holds(c.mark));
        inputs.window_fills = self.stats.window_fills;
        inputs.window_resolved = self.stats.window_resolved;
        inputs.regime_changes = self.stats.regime_changes;
        inputs.vol_ratio_range = first.regime.ratio_range();
        EngineSummary {
            first_ns: self.first_ns.map_or(0, |t| t.0),
            last_ns: self.last_now.0,
            fills: self.stats.fills,
            cancel_tail_fills: self.stats.cancel_tail_fills,
            markouts: self.stats.markouts,
            adverse_markouts: self.stats.adverse_markouts,
            markouts_dropped: self.stats.markouts_dropped,
            pnl: PnlSummary::from_units(total),
            kappa: first.estimator.kappa(),
            kappa_confidence: first.estimator.kappa_confidence(),
            calibration_progress: first.calibration.cal_progress(),
            cal_gamma: first.calibration.cal_gamma(),
            regime_changes: self.stats.regime_changes,
            checkpoints: self.checkpoints,
            margin_rejects: self.margin.margin_rejects,
            orders_placed: self.stats.orders_placed,
            anomalies: self.stats.anomalies,
            gaps: self.stats.gaps,
            strategy: self.config.strategy.kind.clone(),
            max_resting_per_side: self.stats.max_resting_per_side,
            notional_rejects: self.stats.notional_rejects,
            funding_events: self.coins.iter().map(|c| c.funding.events).sum(),
            mark_source: mark_source.to_string(),
            coins,
            checklist: checklist::evaluate(&inputs),
        }
    }

    /// A model snapshot of every coin as it stands: what a driver journals when the session
    /// ends, so the journal's last state is the summary's. Empty before the first input.
    pub fn final_snapshots(&self) -> Vec<Output> {
        if self.first_ns.is_none() {
            return vec![];
        }
        self.coins.iter().map(|c| Output::Model(c.snapshot(&self.margin))).collect()
    }

    /// The inputs of the checklist as they stand (for `validate` and tests).
    pub fn margin(&self) -> &MarginTracker {
        &self.margin
    }
}

/// Rate k/n with its 95% Wilson score interval (0, 0, 1 when n = 0).
pub fn wilson(k: u64, n: u64) -> (f64, f64, f64) {
    if n == 0 {
        return (0.0, 0.0, 1.0);
    }
    let (n, p, z) = (n as f64, k as f64 / n as f64, 1.96f64);
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z * libm::sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom;
    (p, (center - half).max(0.0), (center + half).min(1.0))
}

/// The adverse rate of a fill that carries no information: the chance that a driftless mid
/// with volatility `sigma_1s_bp` moves more than `threshold_bp` against it over the horizon,
/// `Phi(-threshold / (sigma sqrt(horizon)))`.
pub fn no_skill_as_rate(sigma_1s_bp: f64, threshold_bp: f64, horizon_s: u32) -> f64 {
    let s = sigma_1s_bp * libm::sqrt(f64::from(horizon_s));
    if s <= 0.0 {
        return 0.0;
    }
    0.5 * libm::erfc(threshold_bp / s / core::f64::consts::SQRT_2)
}

/// The exchange time of an event that carries one (its coin is [`MarketEvent::coin`]).
fn event_time(event: &MarketEvent) -> Option<Timestamp> {
    match event {
        MarketEvent::Trade { exch_ns, history: false, .. }
        | MarketEvent::BookSnapshot { exch_ns, .. }
        | MarketEvent::BookDiff { exch_ns, .. }
        | MarketEvent::Bbo { exch_ns, .. } => Some(*exch_ns),
        _ => None,
    }
}

fn bump(v: &mut Vec<u64>, i: usize) {
    if i < (checklist::WINDOW_NS / MINUTE_NS) as usize {
        if v.len() <= i {
            v.resize(i + 1, 0);
        }
        v[i] += 1;
    }
}

/// Tick and lot of a coin: the configuration's override, else the venue's table.
fn instrument_of(config: &EngineConfig, venue: Venue, coin: &str) -> Result<Instrument, ConfigError> {
    if let Some(o) = config.instruments.get(coin) {
        let tick = Price::parse(&o.tick).map_err(|e| ConfigError {
            key: format!("instruments.{coin}.tick"),
            line: None,
            message: e.to_string(),
        })?;
        let lot = Qty::parse(&o.lot).map_err(|e| ConfigError {
            key: format!("instruments.{coin}.lot"),
            line: None,
            message: e.to_string(),
        })?;
        return Ok(Instrument::fixed(venue, tick, lot));
    }
    Ok(crate::venue::instrument(venue, coin))
}

/// The first `due + k * interval` (k >= 1) after `now`, saturating at the end of time: one
/// division, never a loop, so a receive time near `u64::MAX` cannot spin the engine (issue 11).
fn next_period_after(due: u64, now: u64, interval: u64) -> u64 {
    let interval = interval.max(1);
    let periods = (now.saturating_sub(due) / interval).saturating_add(1);
    due.saturating_add(periods.saturating_mul(interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_skill_baseline_matches_models_md() {
        // "about 37% at sigma = 1.4 bp/sqrt(s)"
        let p = no_skill_as_rate(1.4, 1.0, 5);
        assert!((p - 0.37).abs() < 0.01, "{p}");
    }

    #[test]
    fn wilson_interval_brackets_the_rate() {
        let (p, lo, hi) = wilson(40, 100);
        assert_eq!(p, 0.4);
        assert!((lo - 0.309).abs() < 0.002 && (hi - 0.498).abs() < 0.002, "{lo} {hi}");
    }
}
