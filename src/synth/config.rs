//! The synthetic venue's configuration (TOML), with documented defaults and validation.
//!
//! Every key has a default, so an empty file is the default market. Unknown keys are refused
//! (`deny_unknown_fields`), and every value is checked against an allowed range by
//! [`SynthConfig::validate`], whose error names the key. Units are in the names: `_bp` basis
//! points of mid, `_s` seconds, `_ms` milliseconds, `_usd` notional in the quote currency.
//!
//! The defaults follow the statistics of the real captures (`data/README.md`): Hyperliquid BTC
//! with a 1 USD tick, a spread of about 0.47 bp, 20 levels a side whose distances from mid
//! follow the archive hour's medians, mid volatility 0.35 bp/sqrt(s) when quiet.

use crate::types::{format_fixed, parse_fixed, SCALE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A configuration error: the key and what is allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "synth configuration: `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(key: &str, message: String) -> ConfigError {
    ConfigError { key: key.to_string(), message }
}

/// Checks `lo <= v <= hi` (and that `v` is a number).
fn check_range(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(err(key, format!("{v} is out of range: allowed {lo} ..= {hi}")))
    }
}

fn check_range_u64(key: &str, v: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if v >= lo && v <= hi {
        Ok(())
    } else {
        Err(err(key, format!("{v} is out of range: allowed {lo} ..= {hi}")))
    }
}

/// The three volatility regimes of the mid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    Quiet,
    Normal,
    Volatile,
}

impl Regime {
    pub const ALL: [Regime; 3] = [Regime::Quiet, Regime::Normal, Regime::Volatile];
    pub fn index(self) -> usize {
        match self {
            Regime::Quiet => 0,
            Regime::Normal => 1,
            Regime::Volatile => 2,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Regime::Quiet => "quiet",
            Regime::Normal => "normal",
            Regime::Volatile => "volatile",
        }
    }
}

/// One volatility regime: how the mid moves in it, how long it lasts, where it goes next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeConfig {
    /// Volatility of the mid, bp per sqrt(second), informed moves included.
    pub sigma_bp: f64,
    /// Mean time spent in the regime once entered, seconds: the minimum plus an exponential.
    pub mean_dwell_s: f64,
    /// Shortest stay in the regime, seconds (a volatile spell a detector can see).
    pub min_dwell_s: f64,
    /// Multiplier of the median spread while in the regime.
    pub spread_factor: f64,
    /// Probabilities of the next regime when leaving this one (the own one must be 0; the
    /// three sum to 1).
    pub to_quiet: f64,
    pub to_normal: f64,
    pub to_volatile: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegimesConfig {
    pub quiet: RegimeConfig,
    pub normal: RegimeConfig,
    pub volatile: RegimeConfig,
}

impl Default for RegimesConfig {
    fn default() -> Self {
        RegimesConfig {
            // The archive's quiet hour measured 0.34 bp/sqrt(s).
            quiet: RegimeConfig {
                sigma_bp: 0.35,
                mean_dwell_s: 900.0,
                min_dwell_s: 60.0,
                spread_factor: 0.8,
                to_quiet: 0.0,
                to_normal: 0.75,
                to_volatile: 0.25,
            },
            normal: RegimeConfig {
                sigma_bp: 1.0,
                mean_dwell_s: 900.0,
                min_dwell_s: 60.0,
                spread_factor: 1.0,
                to_quiet: 0.4,
                to_normal: 0.0,
                to_volatile: 0.6,
            },
            // Three times normal, so a detector with `enter volatile at R > 2` sees it.
            volatile: RegimeConfig {
                sigma_bp: 3.0,
                mean_dwell_s: 360.0,
                min_dwell_s: 180.0,
                spread_factor: 2.0,
                to_quiet: 0.2,
                to_normal: 0.8,
                to_volatile: 0.0,
            },
        }
    }
}

impl RegimesConfig {
    pub fn get(&self, r: Regime) -> &RegimeConfig {
        match r {
            Regime::Quiet => &self.quiet,
            Regime::Normal => &self.normal,
            Regime::Volatile => &self.volatile,
        }
    }
}

/// A coin's contract: price grid, size grid, where the price starts, book notional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoinConfig {
    /// Starting price, a decimal string on the tick grid.
    pub start_px: String,
    /// Price tick, a decimal string (Hyperliquid: 5 significant figures, integers always allowed).
    pub tick: String,
    /// Size decimals (Hyperliquid `szDecimals`: BTC 5, ETH 4).
    pub sz_decimals: u32,
}

impl CoinConfig {
    fn new(start_px: &str, tick: &str, sz_decimals: u32) -> CoinConfig {
        CoinConfig { start_px: start_px.to_string(), tick: tick.to_string(), sz_decimals }
    }
}

/// The built-in contracts: Hyperliquid's majors around the default start date, and a generic
/// small-priced coin for any other name.
pub fn builtin_coin(name: &str) -> CoinConfig {
    match name {
        "BTC" => CoinConfig::new("93500", "1", 5),
        "ETH" => CoinConfig::new("3350", "0.1", 4),
        "SOL" => CoinConfig::new("190", "0.01", 2),
        _ => CoinConfig::new("10", "0.001", 1),
    }
}

/// The whole configuration of the synthetic venue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthConfig {
    /// Exchange time of the first message, ns since the Unix epoch (default
    /// 2025-01-01T00:00:00Z): fixed, so no wall-clock time enters a recording.
    pub start_ns: u64,
    /// Mean interval between `l2Book` pushes (Hyperliquid: about every 0.5 s), ms.
    pub book_interval_ms: u64,
    /// The push interval is uniform in mean +- this, ms.
    pub book_interval_jitter_ms: u64,
    /// Levels a side in each `l2Book` (Hyperliquid: 20).
    pub levels: usize,
    /// Median distance of level 1, 2, .. from mid, bp (one value per level). The default is
    /// the archive hour's medians, interpolated between the odd levels it measured.
    pub depth_profile_bp: Vec<f64>,
    /// Median notional of a level near the touch and at the last level, USD; sizes are
    /// log-normal around a line between them.
    pub level_size_usd_top: f64,
    pub level_size_usd_deep: f64,
    /// Dispersion (std of the log) of level sizes.
    pub level_size_dispersion: f64,
    /// Median spread, bp (scaled by the regime's `spread_factor`), and its log dispersion.
    pub spread_bp_median: f64,
    pub spread_dispersion: f64,
    /// Probability per book push that a level (beyond the touch) is cancelled / resized, and
    /// the mean number of new levels a side.
    pub level_cancel_prob: f64,
    pub level_resize_prob: f64,
    pub level_insert_mean: f64,
    /// Decay of aggressive-order reach: orders reach depth delta (bp from mid) or beyond with
    /// intensity `a_per_side * exp(-kappa_true * delta)`, per bp.
    pub kappa_true: f64,
    /// Aggressive orders a second a side (reaching at least the mid), `A` of the intensity law.
    pub a_per_side: f64,
    /// Median notional of an aggressive order that stays at the touch, USD, and its dispersion.
    pub trade_size_usd_median: f64,
    pub trade_size_dispersion: f64,
    /// Share of aggressive orders that are informed: they arrive in information windows, all
    /// in the direction of the mid move that ends the window.
    pub informed_share: f64,
    /// Mean length of an information window (exponential), ms.
    pub informed_window_ms: f64,
    /// Informed orders a second inside a window.
    pub informed_order_rate: f64,
    /// Size of the mid move ending a window, in the regime's 1-second sigmas (at least a tick).
    pub informed_move_sigmas: f64,
    /// During a window the top `imbalance_levels` of the side the mid will move toward show
    /// `1 + imbalance_tilt` times their size: book imbalance leads the move.
    pub imbalance_tilt: f64,
    pub imbalance_levels: usize,
    /// Latency from exchange time to local receive time: base plus exponential jitter, ms.
    pub latency_ms: f64,
    pub latency_jitter_ms: f64,
    /// Trades in the first `trades` message of each coin: the pre-subscription history batch.
    pub history_trades: usize,
    /// Regime at the start.
    pub initial_regime: Regime,
    pub regimes: RegimesConfig,
    /// Contract overrides by coin name (see [`builtin_coin`] for the defaults).
    pub coins: BTreeMap<String, CoinConfig>,
    /// The exact queue (`[order_level]`): each level a FIFO of individual orders, written into
    /// the recording as an extra stream. Left out of the serialized configuration while it is
    /// the default, so recordings without it stay byte-identical to those written before it.
    #[serde(skip_serializing_if = "OrderLevelConfig::is_default")]
    pub order_level: OrderLevelConfig,
    /// The perpetual's context (`[funding]`): `activeAssetCtx` messages with a funding-rate
    /// process (`synth/funding.rs`).
    pub funding: FundingConfig,
}

/// `[funding]`: the perpetual's context the venue publishes (`activeAssetCtx`: mark and
/// oracle price, funding rate, open interest) and the funding-rate process behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FundingConfig {
    /// Publish `activeAssetCtx:COIN` (off: the recording has no context, positions are marked
    /// at the mid and pay no funding).
    pub enabled: bool,
    /// A context every this many ms of exchange time, from the start (Hyperliquid pushes one
    /// every few seconds). It should divide the hour so that a context falls on each funding
    /// time's eve alike.
    pub ctx_interval_ms: u64,
    /// Long-run mean of the hourly funding rate (Hyperliquid's interest baseline: 0.01% per
    /// 8 h = 0.00125% an hour).
    pub rate_mean_per_h: f64,
    /// Mean reversion of the rate, per hour (Ornstein-Uhlenbeck).
    pub rate_reversion_per_h: f64,
    /// Volatility of the rate, per sqrt(hour); the stationary spread is
    /// `rate_sigma_per_sqrt_h / sqrt(2 rate_reversion_per_h)`.
    pub rate_sigma_per_sqrt_h: f64,
    /// Open interest at the mean, USD at the start price.
    pub open_interest_usd: f64,
}

impl Default for FundingConfig {
    fn default() -> Self {
        FundingConfig {
            enabled: true,
            ctx_interval_ms: 3_000,
            rate_mean_per_h: 0.0000125,
            rate_reversion_per_h: 1.0,
            rate_sigma_per_sqrt_h: 0.00002,
            open_interest_usd: 2.0e9,
        }
    }
}

/// Where in a level's FIFO a cancel (or a size reduction) falls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CancelProfile {
    /// Every resting order equally likely.
    #[default]
    Uniform,
    /// The back of the queue more likely (density 2u over the position u in [0, 1), front 0):
    /// recent orders are pulled first, so a joined order moves up mostly by trades.
    Back,
    /// The front more likely (density 2(1 - u)): old orders are pulled first, which moves a
    /// joined order up fastest.
    Front,
}

impl CancelProfile {
    pub fn name(self) -> &'static str {
        match self {
            CancelProfile::Uniform => "uniform",
            CancelProfile::Back => "back",
            CancelProfile::Front => "front",
        }
    }
}

/// `[order_level]`: the synthetic venue's exact queue (`docs/FORMAT.md`, "Order-level stream").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderLevelConfig {
    /// Write the order-level stream (`orderLevel:COIN`); `synth --order-level` sets it.
    pub enabled: bool,
    /// Position profile of cancels within a level.
    pub cancel_profile: CancelProfile,
}

impl OrderLevelConfig {
    pub fn is_default(&self) -> bool {
        *self == OrderLevelConfig::default()
    }
}

/// Median distance of levels 1..20 from mid (bp): the archive hour's medians for the odd
/// levels (README: 0.23, 1.4, 2.5, 4.6, 9.3, 12.5, 16.7, 21.8, 27.0, 34.1), the even ones
/// interpolated, level 20 extrapolated by half the last gap.
const DEFAULT_DEPTH_PROFILE_BP: [f64; 20] = [
    0.23, 0.815, 1.4, 1.95, 2.5, 3.55, 4.6, 6.95, 9.3, 10.9, 12.5, 14.6, 16.7, 19.25, 21.8, 24.4, 27.0,
    30.55, 34.1, 37.65,
];

fn default_depth_profile() -> Vec<f64> {
    DEFAULT_DEPTH_PROFILE_BP.to_vec()
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            start_ns: 1_735_689_600_000_000_000,
            book_interval_ms: 550,
            book_interval_jitter_ms: 150,
            levels: 20,
            depth_profile_bp: default_depth_profile(),
            level_size_usd_top: 8_000.0,
            level_size_usd_deep: 150_000.0,
            level_size_dispersion: 1.0,
            spread_bp_median: 0.47,
            spread_dispersion: 0.7,
            level_cancel_prob: 0.01,
            level_resize_prob: 0.03,
            level_insert_mean: 1.0,
            kappa_true: 1.0,
            a_per_side: 0.5,
            trade_size_usd_median: 1_500.0,
            trade_size_dispersion: 1.5,
            informed_share: 0.3,
            informed_window_ms: 3_000.0,
            informed_order_rate: 2.0,
            informed_move_sigmas: 1.5,
            imbalance_tilt: 4.0,
            imbalance_levels: 3,
            latency_ms: 20.0,
            latency_jitter_ms: 5.0,
            history_trades: 10,
            initial_regime: Regime::Normal,
            regimes: RegimesConfig::default(),
            coins: BTreeMap::new(),
            order_level: OrderLevelConfig::default(),
            funding: FundingConfig::default(),
        }
    }
}

/// A coin's contract as integers: ticks and lots.
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    pub name: String,
    /// Tick in units of 10^-8.
    pub tick_units: i64,
    /// Start price in ticks.
    pub start_ticks: i64,
    pub sz_decimals: u32,
    /// Units of 10^-8 per lot (10^(8 - sz_decimals)).
    pub lot_units: i64,
}

impl SynthConfig {
    /// Parses a TOML configuration (missing keys take their defaults) and validates it.
    pub fn from_toml(text: &str) -> Result<SynthConfig, ConfigError> {
        let cfg: SynthConfig = toml::from_str(text).map_err(|e| err("(file)", e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The configuration as TOML (every key, defaults included: the `[order_level]` table,
    /// which serialization leaves out while it is the default, is appended then).
    pub fn to_toml(&self) -> String {
        let mut text = toml::to_string(self).unwrap_or_else(|e| format!("# not serializable: {e}\n"));
        if self.order_level.is_default() {
            text.push_str("\n[order_level]\nenabled = false\ncancel_profile = \"uniform\"\n");
        }
        text
    }

    /// Checks every value against its allowed range; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range_u64("book_interval_ms", self.book_interval_ms, 50, 60_000)?;
        if self.book_interval_jitter_ms >= self.book_interval_ms {
            return Err(err(
                "book_interval_jitter_ms",
                format!(
                    "{} must be below book_interval_ms ({})",
                    self.book_interval_jitter_ms, self.book_interval_ms
                ),
            ));
        }
        check_range_u64("levels", self.levels as u64, 1, 20)?;
        if self.depth_profile_bp.len() != self.levels {
            return Err(err(
                "depth_profile_bp",
                format!(
                    "has {} values: one per level is needed ({})",
                    self.depth_profile_bp.len(),
                    self.levels
                ),
            ));
        }
        let mut prev = 0.0;
        for (i, &d) in self.depth_profile_bp.iter().enumerate() {
            check_range(&format!("depth_profile_bp[{i}]"), d, 0.0, 10_000.0)?;
            if d <= prev && i > 0 {
                return Err(err(
                    "depth_profile_bp",
                    format!("must increase: value {i} ({d}) <= value {} ({prev})", i - 1),
                ));
            }
            prev = d;
        }
        check_range("level_size_usd_top", self.level_size_usd_top, 1.0, 1e9)?;
        check_range("level_size_usd_deep", self.level_size_usd_deep, 1.0, 1e9)?;
        check_range("level_size_dispersion", self.level_size_dispersion, 0.0, 3.0)?;
        check_range("spread_bp_median", self.spread_bp_median, 0.0, 1000.0)?;
        check_range("spread_dispersion", self.spread_dispersion, 0.0, 3.0)?;
        check_range("level_cancel_prob", self.level_cancel_prob, 0.0, 1.0)?;
        check_range("level_resize_prob", self.level_resize_prob, 0.0, 1.0)?;
        check_range("level_insert_mean", self.level_insert_mean, 0.0, 20.0)?;
        check_range("kappa_true", self.kappa_true, 0.01, 100.0)?;
        check_range("a_per_side", self.a_per_side, 0.001, 1000.0)?;
        check_range("trade_size_usd_median", self.trade_size_usd_median, 0.01, 1e9)?;
        check_range("trade_size_dispersion", self.trade_size_dispersion, 0.0, 3.0)?;
        check_range("informed_share", self.informed_share, 0.0, 0.95)?;
        check_range("informed_window_ms", self.informed_window_ms, 10.0, 600_000.0)?;
        check_range("informed_order_rate", self.informed_order_rate, 0.01, 1000.0)?;
        check_range("informed_move_sigmas", self.informed_move_sigmas, 0.0, 20.0)?;
        check_range("imbalance_tilt", self.imbalance_tilt, 0.0, 100.0)?;
        check_range_u64("imbalance_levels", self.imbalance_levels as u64, 0, self.levels as u64)?;
        check_range("latency_ms", self.latency_ms, 0.0, 10_000.0)?;
        check_range("latency_jitter_ms", self.latency_jitter_ms, 0.0, 10_000.0)?;
        check_range_u64("history_trades", self.history_trades as u64, 0, 1000)?;
        let cycle_s = self.informed_cycle_s();
        if self.informed_share > 0.0 && cycle_s * 1000.0 <= self.informed_window_ms {
            return Err(err(
                "informed_share",
                format!(
                    "{} needs informed windows back to back or overlapping (at most {:.3} with these rates): lower it, \
                     or raise informed_order_rate or informed_window_ms",
                    self.informed_share,
                    self.informed_order_rate / (2.0 * self.a_per_side)
                ),
            ));
        }
        let jump_var_share = self.informed_jump_variance_share();
        if jump_var_share >= 1.0 {
            return Err(err(
                "informed_move_sigmas",
                format!(
                    "{}: informed moves alone would exceed the regimes' volatility ({:.2} of it); lower it or informed_share",
                    self.informed_move_sigmas, jump_var_share
                ),
            ));
        }
        for r in Regime::ALL {
            self.validate_regime(r)?;
        }
        let f = &self.funding;
        check_range_u64("funding.ctx_interval_ms", f.ctx_interval_ms, 100, 3_600_000)?;
        check_range("funding.rate_mean_per_h", f.rate_mean_per_h, -0.01, 0.01)?;
        check_range("funding.rate_reversion_per_h", f.rate_reversion_per_h, 0.0, 1000.0)?;
        check_range("funding.rate_sigma_per_sqrt_h", f.rate_sigma_per_sqrt_h, 0.0, 0.01)?;
        check_range("funding.open_interest_usd", f.open_interest_usd, 0.0, 1e12)?;
        for (name, c) in &self.coins {
            contract(name, c)?;
        }
        Ok(())
    }

    fn validate_regime(&self, r: Regime) -> Result<(), ConfigError> {
        let c = self.regimes.get(r);
        let key = |k: &str| format!("regimes.{}.{k}", r.name());
        check_range(&key("sigma_bp"), c.sigma_bp, 0.0, 1000.0)?;
        check_range(&key("mean_dwell_s"), c.mean_dwell_s, 1.0, 1e7)?;
        check_range(&key("min_dwell_s"), c.min_dwell_s, 0.0, c.mean_dwell_s)?;
        check_range(&key("spread_factor"), c.spread_factor, 0.01, 100.0)?;
        let to = [c.to_quiet, c.to_normal, c.to_volatile];
        for (t, v) in Regime::ALL.iter().zip(to) {
            check_range(&key(&format!("to_{}", t.name())), v, 0.0, 1.0)?;
        }
        if to[r.index()] != 0.0 {
            return Err(err(
                &key(&format!("to_{}", r.name())),
                "must be 0: leaving a regime goes to another one".into(),
            ));
        }
        let sum: f64 = to.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(err(
                &key("to_quiet"),
                format!("to_quiet + to_normal + to_volatile = {sum}: must be 1"),
            ));
        }
        Ok(())
    }

    /// Mean time from the start of one information window to the start of the next, seconds,
    /// chosen so that informed orders are `informed_share` of all aggressive orders:
    /// informed rate = window share x order rate in a window = informed_share x 2A.
    pub fn informed_cycle_s(&self) -> f64 {
        if self.informed_share <= 0.0 {
            return f64::INFINITY;
        }
        let window_s = self.informed_window_ms / 1000.0;
        window_s * self.informed_order_rate / (2.0 * self.a_per_side * self.informed_share)
    }

    /// Share of the mid's variance that the informed moves carry (independent of the regime,
    /// because moves scale with the regime's sigma).
    pub fn informed_jump_variance_share(&self) -> f64 {
        let cycle_s = self.informed_cycle_s();
        if !cycle_s.is_finite() {
            return 0.0;
        }
        self.informed_move_sigmas * self.informed_move_sigmas / cycle_s
    }

    /// The contract of a coin: the configured one, else the built-in one.
    pub fn contract(&self, name: &str) -> Result<Contract, ConfigError> {
        match self.coins.get(name) {
            Some(c) => contract(name, c),
            None => contract(name, &builtin_coin(name)),
        }
    }
}

fn contract(name: &str, c: &CoinConfig) -> Result<Contract, ConfigError> {
    let key = |k: &str| format!("coins.{name}.{k}");
    if name.is_empty() || name.len() > 32 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'@') {
        return Err(err(
            "coins",
            format!("'{name}' is not a coin name: letters, digits and @, 1 to 32 of them"),
        ));
    }
    check_range_u64(&key("sz_decimals"), u64::from(c.sz_decimals), 0, 8)?;
    let tick_units = parse_fixed(c.tick.as_bytes())
        .map_err(|e| err(&key("tick"), format!("'{}' is not a decimal: {e}", c.tick)))?;
    if tick_units <= 0 {
        return Err(err(&key("tick"), format!("'{}' must be positive", c.tick)));
    }
    let tick_decimals = decimals_of(tick_units);
    let max_decimals = 6u32.saturating_sub(c.sz_decimals);
    if tick_decimals > max_decimals {
        return Err(err(
            &key("tick"),
            format!(
                "'{}' has {tick_decimals} decimals: at most 6 - sz_decimals = {max_decimals} allowed",
                c.tick
            ),
        ));
    }
    let px_units = parse_fixed(c.start_px.as_bytes())
        .map_err(|e| err(&key("start_px"), format!("'{}' is not a decimal: {e}", c.start_px)))?;
    if px_units <= 0 || px_units % tick_units != 0 {
        return Err(err(
            &key("start_px"),
            format!("'{}' must be positive and on the tick grid ({})", c.start_px, c.tick),
        ));
    }
    let start_ticks = px_units / tick_units;
    // Hyperliquid allows at most 5 significant figures unless the price is an integer.
    if start_ticks >= 100_000 && tick_units % SCALE != 0 {
        return Err(err(
            &key("tick"),
            format!(
                "'{}' gives {} significant figures at {}: at most 5 (use a tick of {})",
                c.tick,
                digits(start_ticks),
                c.start_px,
                format_fixed(tick_units * 10)
            ),
        ));
    }
    if start_ticks < 1_000 {
        return Err(err(
            &key("tick"),
            format!(
                "'{}' is too coarse for {}: the start price must be at least 1000 ticks",
                c.tick, c.start_px
            ),
        ));
    }
    Ok(Contract {
        name: name.to_string(),
        tick_units,
        start_ticks,
        sz_decimals: c.sz_decimals,
        lot_units: 10i64.pow(8 - c.sz_decimals),
    })
}

fn decimals_of(units: i64) -> u32 {
    let mut d = 8;
    let mut u = units;
    while d > 0 && u % 10 == 0 {
        u /= 10;
        d -= 1;
    }
    d
}

fn digits(mut v: i64) -> u32 {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_toml() {
        let d = SynthConfig::default();
        d.validate().unwrap();
        assert_eq!(d.depth_profile_bp.len(), 20);
        assert_eq!(SynthConfig::from_toml(&d.to_toml()).unwrap(), d);
        assert_eq!(SynthConfig::from_toml("").unwrap(), d);
    }

    #[test]
    fn errors_name_the_key_and_the_range() {
        let e = SynthConfig::from_toml("kappa_true = -1.0").unwrap_err();
        assert_eq!(e.key, "kappa_true");
        assert!(e.message.contains("0.01 ..= 100"), "{e}");
        let e = SynthConfig::from_toml("kapa_true = 1.0").unwrap_err();
        assert!(e.message.contains("kapa_true"), "{e}");
        let e = SynthConfig::from_toml("[regimes.quiet]\nsigma_bp = 1.0").unwrap_err();
        assert!(e.message.contains("missing field"), "{e}");
        let e = SynthConfig::from_toml("levels = 10").unwrap_err();
        assert_eq!(e.key, "depth_profile_bp");
        let e = SynthConfig::from_toml("informed_share = 0.3\ninformed_order_rate = 0.2").unwrap_err();
        assert_eq!(e.key, "informed_share");
    }

    #[test]
    fn order_level_keys_parse_and_stay_out_of_default_recordings() {
        let c = SynthConfig::from_toml("[order_level]\nenabled = true\ncancel_profile = \"back\"").unwrap();
        assert_eq!(c.order_level, OrderLevelConfig { enabled: true, cancel_profile: CancelProfile::Back });
        assert!(toml::to_string(&c).unwrap().contains("cancel_profile = \"back\""));
        let e = SynthConfig::from_toml("[order_level]\ncancel_profile = \"middle\"").unwrap_err();
        assert!(e.message.contains("middle"), "{e}");
        // The default is left out of what goes into a recording's header, so recordings made
        // before the order-level mode existed are unchanged; `to_toml` still shows every key.
        let d = SynthConfig::default();
        assert!(!toml::to_string(&d).unwrap().contains("order_level"));
        assert!(d.to_toml().contains("[order_level]\nenabled = false"));
        assert_eq!(SynthConfig::from_toml(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn contracts_follow_the_venue_rules() {
        let d = SynthConfig::default();
        let btc = d.contract("BTC").unwrap();
        assert_eq!((btc.tick_units, btc.start_ticks, btc.lot_units), (100_000_000, 93_500, 1_000));
        let bad =
            SynthConfig::from_toml("[coins.XYZ]\nstart_px = \"123456.5\"\ntick = \"0.5\"\nsz_decimals = 2")
                .unwrap_err();
        assert_eq!(bad.key, "coins.XYZ.tick");
        let bad =
            SynthConfig::from_toml("[coins.XYZ]\nstart_px = \"1.5\"\ntick = \"0.0001\"\nsz_decimals = 4")
                .unwrap_err();
        assert!(bad.message.contains("at most 6 - sz_decimals"), "{bad}");
        assert!(d.contract("DOGE").is_ok());
    }
}
