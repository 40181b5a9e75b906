//! The engine's configuration: TOML with one section per model, the seed's key names, and
//! documented defaults (`MODELS.md`). Unknown keys and out-of-range values are rejected with
//! the key's dotted name, its line in the file and the allowed range, before anything runs.
//! [`EngineConfig::set`] overrides one key by its dotted name (`fill_sim.fill_prob_base`),
//! the basis of `replay --set` sweeps.

use crate::market_maker::classifier::ClassifierConfig;
use crate::market_maker::estimator::EstimatorConfig;
use crate::market_maker::regime::RegimeConfig;
use crate::market_maker::simulation::{CalibrationConfig, FillSimulatorConfig, OutcomeConfig};
pub use crate::strategy::config::{AvellanedaStoikovConfig, GlftConfig, LadderConfig, StrategyConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Section `[engine]`: what the engine trades and how often it reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Coins to trade (venue names: `BTC`, `BTCUSDT`); empty = every coin of the recording.
    pub coins: Vec<String>,
    /// Event time between checkpoints.
    pub checkpoint_interval_s: u64,
    /// Event time between model snapshots of each traded coin.
    pub snapshot_interval_s: u64,
    /// Run the shadow ladder of zero-size probes (loop 1's identifiability fix).
    pub shadow_ladder: bool,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            coins: vec![],
            checkpoint_interval_s: 300,
            snapshot_interval_s: 10,
            shadow_ladder: true,
        }
    }
}

/// Section `[account]`: one account for all coins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountConfig {
    pub starting_equity_usd: f64,
    pub leverage: f64,
    /// Maker and taker fees in bp of notional; absent = the venue's base tier (Hyperliquid
    /// 1.5 / 4.5 bp, Binance USD-M 2 / 5 bp). Negative = a rebate (Binance's market-maker
    /// tiers, Hyperliquid's maker rebate tiers): it shows as negative fees in the PnL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maker_fee_bp: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taker_fee_bp: Option<f64>,
}

/// Keys that may be absent (their default depends on something else): `set` may add them.
pub const OPTIONAL_KEYS: &[&str] =
    &["account.maker_fee_bp", "account.taker_fee_bp", "strategy.order_size", "strategy.max_position"];

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            starting_equity_usd: 10_000.0,
            leverage: 10.0,
            maker_fee_bp: None,
            taker_fee_bp: None,
        }
    }
}

/// Section `[live]`: what the live drivers watch (ignored by replay, which replays what the
/// live driver recorded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// A connected feed silent this long is stale: a `stale` control record is written and the
    /// quotes are pulled until data returns. 0 = the venue's default (Hyperliquid 3000, which
    /// pushes `l2Book` about every 0.5 s; Binance USD-M 2000).
    pub stale_after_ms: u64,
}

/// Tick and lot override of one coin (`[instruments.BTCUSDT] tick = "0.1"`), as decimal strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentOverride {
    pub tick: String,
    pub lot: String,
}

/// The whole configuration. Every key has a default; a file names only what it changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub engine: EngineSection,
    pub account: AccountConfig,
    pub strategy: StrategyConfig,
    pub fill_sim: FillSimulatorConfig,
    pub estimator: EstimatorConfig,
    pub outcome: OutcomeConfig,
    pub classifier: ClassifierConfig,
    pub calibration: CalibrationConfig,
    pub regime: RegimeConfig,
    pub instruments: BTreeMap<String, InstrumentOverride>,
    pub live: LiveConfig,
}

/// A configuration that was not accepted: which key, where, and what is allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub key: String,
    /// 1-based line in the TOML text, when the key came from one.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "configuration key `{}` (line {l}): {}", self.key, self.message),
            None => write!(f, "configuration key `{}`: {}", self.key, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The allowed range of a numeric key, checked by [`EngineConfig::validate`] and shown by
/// `--print-config` and `docs/CONFIG.md` (`keys.rs`).
pub struct Range {
    pub key: &'static str,
    pub min: f64,
    pub max: f64,
    /// Whether the minimum itself is allowed.
    pub min_inclusive: bool,
}

impl Range {
    /// `[min, max]`, or `(min, max]` when the minimum is excluded.
    pub fn describe(&self) -> String {
        let open = if self.min_inclusive { "[" } else { "(" };
        format!("{open}{}, {}]", self.min, self.max)
    }
}

pub fn range_of(key: &str) -> Option<&'static Range> {
    RANGES.iter().find(|r| r.key == key)
}

const fn r(key: &'static str, min: f64, max: f64) -> Range {
    Range { key, min, max, min_inclusive: true }
}
const fn rx(key: &'static str, min: f64, max: f64) -> Range {
    Range { key, min, max, min_inclusive: false }
}

/// Every numeric key with its allowed range. Keys not listed are booleans, lists or strings.
const RANGES: &[Range] = &[
    r("engine.checkpoint_interval_s", 1.0, 86_400.0),
    r("engine.snapshot_interval_s", 1.0, 3_600.0),
    rx("account.starting_equity_usd", 0.0, 1e12),
    r("account.leverage", 1.0, 100.0),
    r("account.maker_fee_bp", -10.0, 100.0),
    r("account.taker_fee_bp", -10.0, 100.0),
    rx("strategy.order_notional_usd", 0.0, 1e9),
    rx("strategy.max_position_usd", 0.0, 1e12),
    rx("strategy.max_order_notional_usd", 0.0, 1e12),
    r("strategy.requote_mid_bp", 0.0, 1_000.0),
    r("strategy.requote_ticks", 1.0, 1e6),
    r("strategy.requote_min_interval_ms", 0.0, 3_600_000.0),
    rx("strategy.sigma_half_life_s", 0.0, 86_400.0),
    rx("strategy.sigma_prior_bp", 0.0, 1_000.0),
    rx("strategy.flow_half_life_s", 0.0, 86_400.0),
    rx("strategy.order_size", 0.0, 1e12),
    rx("strategy.max_position", 0.0, 1e15),
    r("strategy.glft.toxicity_widen_bp", 0.0, 1_000.0),
    r("strategy.glft.toxicity_pull", 0.0, 1.0),
    r("strategy.ladder.levels", 1.0, 100.0),
    r("strategy.ladder.offset_ticks", 0.0, 1e6),
    r("strategy.ladder.spacing_ticks", 0.0, 1e6),
    r("strategy.ladder.skew_ticks_per_unit", -1e6, 1e6),
    r("strategy.ladder.max_inventory_units", 0.0, 1e9),
    r("strategy.avellaneda_stoikov.gamma", 0.0, 100.0),
    rx("strategy.avellaneda_stoikov.horizon_s", 0.0, 86_400.0),
    r("fill_sim.fill_prob_base", 0.0, 1.0),
    r("fill_sim.adverse_fill_ratio", 0.0, 1.0),
    r("fill_sim.entry_latency_ms", 0.0, 60_000.0),
    r("fill_sim.cancel_latency_ms", 0.0, 60_000.0),
    r("fill_sim.queue_exponent", 1.0, 4.0),
    r("fill_sim.jitter_sigma", 0.0, 3.0),
    r("fill_sim.feed_window_s", 1.0, 86_400.0),
    rx("estimator.kappa_prior", 0.0, 100.0),
    rx("estimator.a_prior", 0.0, 1e6),
    r("estimator.bin_width_bp", 0.05, 5.0),
    r("estimator.max_depth_bp", 1.0, 200.0),
    r("estimator.forgetting_horizon_s", 60.0, 1e9),
    r("estimator.min_fills", 2.0, 1e6),
    r("outcome.markout_horizon_s", 1.0, 3_600.0),
    r("outcome.adverse_threshold_bp", 0.0, 1_000.0),
    r("outcome.max_pending", 16.0, 1e7),
    rx("classifier.learning_rate", 0.0, 1.0),
    r("classifier.l2", 0.0, 1.0),
    r("classifier.as_progress_outcomes", 1.0, 1e9),
    rx("calibration.gamma_start", 0.0, 100.0),
    rx("calibration.gamma_end", 0.0, 100.0),
    rx("calibration.max_gamma_rate_per_min", 0.0, 100.0),
    rx("regime.fast_half_life_s", 0.0, 86_400.0),
    rx("regime.slow_half_life_s", 0.0, 1e7),
    rx("regime.enter_volatile", 0.0, 100.0),
    rx("regime.leave_volatile", 0.0, 100.0),
    rx("regime.enter_quiet", 0.0, 100.0),
    rx("regime.leave_quiet", 0.0, 100.0),
    r("regime.min_dwell_s", 0.0, 86_400.0),
    rx("regime.jump_sigmas", 0.0, 1_000.0),
    r("regime.warmup_s", 0.0, 86_400.0),
    r("live.stale_after_ms", 0.0, 3_600_000.0),
];

impl EngineConfig {
    /// Parses a TOML text; every key is checked, unknown ones rejected.
    pub fn from_toml(text: &str) -> Result<EngineConfig, ConfigError> {
        let cfg: EngineConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let msg = e.message().trim().to_string();
            match unknown_field(&msg) {
                Some(f) => ConfigError { key: dotted_key_at(text, line, &f), line, message: msg },
                // A value of the wrong type or sign: the error's span is the value, so the key
                // is the one written on that line; its range says what would do.
                None => {
                    let key = line.and_then(|l| key_on_line(text, l)).unwrap_or_else(|| "(file)".to_string());
                    let message = match range_of(&key) {
                        Some(r) => format!("{msg}; allowed {}", r.describe()),
                        None => msg,
                    };
                    ConfigError { key, line, message }
                }
            }
        })?;
        cfg.validate().map_err(|mut e| {
            e.line = find_key_line(text, &e.key);
            e
        })?;
        Ok(cfg)
    }

    /// The resolved configuration as TOML (every key, defaults included; an unset optional
    /// key of `[strategy]` as a commented line saying what applies instead).
    pub fn to_toml(&self) -> String {
        self.comment_unset(toml::to_string(self).unwrap_or_default(), "[strategy]")
    }

    /// `text` (a serialization holding this configuration) with a commented line for each
    /// unset optional key of `[strategy]`, right under `strategy_header` (`[strategy]`, or
    /// `[config.strategy]` in `session.toml`).
    pub fn comment_unset(&self, text: String, strategy_header: &str) -> String {
        let st = &self.strategy;
        let mut unset = String::new();
        if st.order_size.is_none() {
            unset.push_str("# order_size = (unset: strategy.order_notional_usd applies; base units)\n");
        }
        if st.max_position.is_none() {
            unset.push_str("# max_position = (unset: strategy.max_position_usd applies; base units)\n");
        }
        let header = format!("{strategy_header}\n");
        let at = if text.starts_with(&header) {
            Some(0)
        } else {
            text.find(&format!("\n{header}")).map(|i| i + 1)
        };
        match at {
            Some(at) if !unset.is_empty() => {
                let at = at + header.len();
                format!("{}{unset}{}", &text[..at], &text[at..])
            }
            _ => text,
        }
    }

    /// Checks every range and the cross-key rules; the error names the key and the range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let value = toml::Value::try_from(self).map_err(|e| ConfigError {
            key: "(config)".into(),
            line: None,
            message: e.to_string(),
        })?;
        for range in RANGES {
            let Some(v) = lookup(&value, range.key) else { continue };
            let x = match v {
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Float(f) => *f,
                _ => continue,
            };
            let low_ok = if range.min_inclusive { x >= range.min } else { x > range.min };
            if !(low_ok && x <= range.max) {
                return Err(ConfigError {
                    key: range.key.into(),
                    line: None,
                    message: format!("{x} is out of range; allowed {}", range.describe()),
                });
            }
        }
        let err = |key: &str, message: String| Err(ConfigError { key: key.into(), line: None, message });
        // Relations between keys.
        let cal = &self.calibration;
        if cal.gamma_start > cal.gamma_end {
            return err(
                "calibration.gamma_start",
                format!(
                    "{} exceeds calibration.gamma_end = {}: calibration moves gamma from the fill-hungry start up to the end; allowed (0, calibration.gamma_end]",
                    cal.gamma_start, cal.gamma_end
                ),
            );
        }
        if self.engine.shadow_ladder && self.estimator.shadow_ladder_bp.is_empty() {
            return err(
                "estimator.shadow_ladder_bp",
                "is empty while engine.shadow_ladder = true: give at least one depth in bp, or set engine.shadow_ladder = false".into(),
            );
        }
        let st = &self.strategy;
        st.validate().map_err(|e| ConfigError { key: e.key, line: None, message: e.message })?;
        if st.order_notional_usd > st.max_order_notional_usd {
            return err(
                "strategy.order_notional_usd",
                format!(
                    "{} exceeds strategy.max_order_notional_usd = {}; allowed (0, strategy.max_order_notional_usd]",
                    st.order_notional_usd, st.max_order_notional_usd
                ),
            );
        }
        if st.order_notional_usd > st.max_position_usd {
            return err(
                "strategy.order_notional_usd",
                format!(
                    "{} exceeds strategy.max_position_usd = {}: one fill would pass the position limit; allowed (0, strategy.max_position_usd]",
                    st.order_notional_usd, st.max_position_usd
                ),
            );
        }
        if self.estimator.bin_width_bp >= self.estimator.max_depth_bp {
            return err(
                "estimator.bin_width_bp",
                format!(
                    "{} is not below estimator.max_depth_bp = {}: the depth histogram needs more than one bin",
                    self.estimator.bin_width_bp, self.estimator.max_depth_bp
                ),
            );
        }
        if self.regime.fast_half_life_s >= self.regime.slow_half_life_s {
            return err(
                "regime.fast_half_life_s",
                format!(
                    "{} is not below regime.slow_half_life_s = {}: the fast volatility average must be the faster one",
                    self.regime.fast_half_life_s, self.regime.slow_half_life_s
                ),
            );
        }
        if self.regime.leave_volatile > self.regime.enter_volatile {
            return err("regime.leave_volatile", "must not exceed regime.enter_volatile (hysteresis)".into());
        }
        if self.regime.leave_quiet < self.regime.enter_quiet {
            return err("regime.leave_quiet", "must not be below regime.enter_quiet (hysteresis)".into());
        }
        for (i, d) in self.estimator.shadow_ladder_bp.iter().enumerate() {
            if !(*d > 0.0 && *d < self.estimator.max_depth_bp) {
                return err(
                    "estimator.shadow_ladder_bp",
                    format!("entry {i} = {d} is out of range; allowed (0, estimator.max_depth_bp)"),
                );
            }
        }
        if self.estimator.shadow_ladder_bp.len() > 32 {
            return err("estimator.shadow_ladder_bp", "at most 32 rungs".into());
        }
        for h in &self.outcome.report_horizons_s {
            if !(1..=3_600).contains(h) {
                return err("outcome.report_horizons_s", format!("{h} is out of range; allowed [1, 3600]"));
            }
        }
        for h in &self.outcome.report_horizons_ms {
            if !(1..=3_600_000).contains(h) {
                return err(
                    "outcome.report_horizons_ms",
                    format!("{h} is out of range; allowed [1, 3600000]"),
                );
            }
        }
        if self.outcome.report_horizons_ms.len() > 32 {
            return err("outcome.report_horizons_ms", "at most 32 horizons".into());
        }
        for (coin, inst) in &self.instruments {
            for (name, v) in [("tick", &inst.tick), ("lot", &inst.lot)] {
                match crate::types::parse_fixed(v.as_bytes()) {
                    Ok(u) if u > 0 => {}
                    _ => {
                        return err(
                            &format!("instruments.{coin}.{name}"),
                            format!("'{v}' is not a positive decimal with at most 8 decimals"),
                        )
                    }
                }
            }
        }
        Ok(())
    }

    /// Overrides one key by its dotted name with a TOML value written as text
    /// (`set("fill_sim.fill_prob_base", "0.5")`, `set("engine.coins", "[\"BTC\"]")`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let mut next = self.clone();
        next.set_unchecked(key, value)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Applies every `(key, value)` override first, then validates once: the order of the
    /// overrides never matters (`--set strategy.ladder.levels=3 --set strategy.kind=ladder`).
    /// Nothing changes if any is refused.
    pub fn apply_overrides(&mut self, overrides: &[(String, String)]) -> Result<(), ConfigError> {
        let mut next = self.clone();
        for (k, v) in overrides {
            next.set_unchecked(k, v)?;
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// One override, its type checked but not its range or relations.
    fn set_unchecked(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |message: String| ConfigError { key: key.to_string(), line: None, message };
        let mut root = toml::Value::try_from(&*self).map_err(|e| bad(e.to_string()))?;
        let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            // A bare word is taken as a string, so `--set engine.coins=BTC` style values work.
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        let parts: Vec<&str> = key.split('.').collect();
        let (last, path) = parts.split_last().ok_or_else(|| bad("empty key".into()))?;
        let mut node = &mut root;
        for p in path {
            node = node
                .get_mut(*p)
                .ok_or_else(|| bad("unknown key: no such section (see the documented defaults)".into()))?;
        }
        let table = node.as_table_mut().ok_or_else(|| bad("not a section".into()))?;
        let old = match table.get(*last) {
            Some(v) => v.clone(),
            // An optional key that is absent takes a float.
            None if OPTIONAL_KEYS.contains(&key) => toml::Value::Float(0.0),
            None => return Err(bad("unknown key (see the documented defaults)".into())),
        };
        // Integers are accepted where floats are expected (`fill_prob_base = 1`).
        let parsed = match (&old, parsed) {
            (toml::Value::Float(_), toml::Value::Integer(i)) => toml::Value::Float(i as f64),
            (toml::Value::Array(_), v @ toml::Value::String(_)) => toml::Value::Array(vec![v]),
            (_, v) => v,
        };
        table.insert(last.to_string(), parsed);
        let next: EngineConfig =
            root.try_into().map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
        *self = next;
        Ok(())
    }

    /// Maker and taker fees (bp) with the venue's base tier filled in.
    pub fn fees_bp(&self, venue_name: &str) -> (f64, f64) {
        let (maker, taker) = match venue_name {
            "binance-usdm" => (2.0, 5.0),
            _ => (1.5, 4.5),
        };
        (self.account.maker_fee_bp.unwrap_or(maker), self.account.taker_fee_bp.unwrap_or(taker))
    }
}

fn lookup<'a>(v: &'a toml::Value, dotted: &str) -> Option<&'a toml::Value> {
    dotted.split('.').try_fold(v, |node, k| node.get(k))
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The field name out of serde's "unknown field `x`, expected ..." message.
fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

/// `section.key` for an unknown key at `line`: the section is the last header above it.
fn dotted_key_at(text: &str, line: Option<usize>, field: &str) -> String {
    let Some(line) = line else { return field.to_string() };
    let section = text
        .lines()
        .take(line)
        .filter_map(|l| {
            let t = l.trim();
            (t.starts_with('[') && t.ends_with(']'))
                .then(|| t.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        })
        .last();
    match section {
        Some(s) if !text.lines().nth(line - 1).is_some_and(|l| l.trim_start().starts_with('[')) => {
            format!("{s}.{field}")
        }
        _ => field.to_string(),
    }
}

/// The dotted key written on `line` (`key = value` under a `[section]`, or `section.key =`).
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (k, _) = l.split_once('=')?;
    let k = k.trim().trim_matches('"');
    if k.is_empty() || k.starts_with('[') {
        return None;
    }
    let dotted = dotted_key_at(text, Some(line), k);
    Some(dotted)
}

/// The line where a dotted key is written (`[section]` then `key = ...`, or `section.key =`).
fn find_key_line(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') && t.ends_with(']') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        let Some((k, _)) = t.split_once('=') else { continue };
        let k = k.trim();
        if (current == section && k == key) || (current.is_empty() && k == dotted) {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = EngineConfig::default();
        assert!(c.fill_sim.ignore_book_depth);
        assert_eq!(c.fill_sim.fill_prob_base, 0.4);
        assert_eq!(c.fill_sim.adverse_fill_ratio, 0.0);
        assert_eq!(c.outcome.markout_horizon_s, 5);
        assert_eq!(c.outcome.adverse_threshold_bp, 1.0);
        assert_eq!((c.calibration.gamma_start, c.calibration.gamma_end), (0.3, 1.0));
        assert_eq!(c.engine.checkpoint_interval_s, 300);
        assert_eq!(c.fees_bp("hyperliquid"), (1.5, 4.5));
        assert_eq!(c.fees_bp("binance-usdm"), (2.0, 5.0));
        c.validate().unwrap();
        // The resolved TOML reads back to the same configuration.
        assert_eq!(EngineConfig::from_toml(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let e =
            EngineConfig::from_toml("[fill_sim]\nfill_prob_base = 0.5\nfill_prob_bsae = 0.3\n").unwrap_err();
        assert_eq!(e.key, "fill_sim.fill_prob_bsae");
        assert_eq!(e.line, Some(3));
        let e = EngineConfig::from_toml("[fil_sim]\nx = 1\n").unwrap_err();
        assert_eq!(e.key, "fil_sim");
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn out_of_range_values_name_key_line_and_range() {
        let e = EngineConfig::from_toml("# sweep\n[fill_sim]\nfill_prob_base = 1.5\n").unwrap_err();
        assert_eq!(e.key, "fill_sim.fill_prob_base");
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().contains("[0, 1]"), "{e}");
    }

    /// Issue 11 item 9. Postmortem: a value of the wrong type or sign was reported against
    /// `(file)`, not its key, and no range was given.
    #[test]
    fn a_wrong_type_or_sign_names_the_key_and_its_range() {
        let e = EngineConfig::from_toml("[fill_sim]\nentry_latency_ms = -5\n").unwrap_err();
        assert_eq!(e.key, "fill_sim.entry_latency_ms");
        assert_eq!(e.line, Some(2));
        assert!(e.to_string().contains("[0, 60000]"), "{e}");
        let e = EngineConfig::from_toml("[strategy]\nrequote_mid_bp = \"wide\"\n").unwrap_err();
        assert_eq!(e.key, "strategy.requote_mid_bp", "{e}");
        let e = EngineConfig::from_toml("outcome.markout_horizon_s = 2.5\n").unwrap_err();
        assert_eq!(e.key, "outcome.markout_horizon_s", "{e}");
    }

    /// Issue 11 item 9. Postmortem: `gamma_start > gamma_end` and an empty shadow ladder
    /// with the ladder on were accepted: relations between keys were not checked.
    #[test]
    fn relations_between_keys_are_checked() {
        let mut c = EngineConfig::default();
        let e = c.set("calibration.gamma_start", "2.0").unwrap_err();
        assert_eq!(e.key, "calibration.gamma_start", "{e}");
        assert!(e.message.contains("gamma_end"), "{e}");
        let e = EngineConfig::from_toml("[estimator]\nshadow_ladder_bp = []\n").unwrap_err();
        assert_eq!(e.key, "estimator.shadow_ladder_bp", "{e}");
        assert_eq!(e.line, Some(2));
        EngineConfig::from_toml("[engine]\nshadow_ladder = false\n[estimator]\nshadow_ladder_bp = []\n")
            .unwrap();
        let e = c.set("strategy.order_notional_usd", "5000").unwrap_err();
        assert_eq!(e.key, "strategy.order_notional_usd", "{e}");
        let e = c.set("regime.fast_half_life_s", "3000").unwrap_err();
        assert_eq!(e.key, "regime.fast_half_life_s", "{e}");
        assert_eq!(c, EngineConfig::default(), "a refused --set changes nothing");
    }

    #[test]
    fn set_overrides_by_dotted_key() {
        let mut c = EngineConfig::default();
        c.set("fill_sim.fill_prob_base", "1").unwrap();
        assert_eq!(c.fill_sim.fill_prob_base, 1.0);
        c.set("fill_sim.ignore_book_depth", "false").unwrap();
        assert!(!c.fill_sim.ignore_book_depth);
        c.set("engine.coins", "BTC").unwrap();
        assert_eq!(c.engine.coins, vec!["BTC".to_string()]);
        assert_eq!(c.set("fill_sim.nope", "1").unwrap_err().key, "fill_sim.nope");
        assert!(c.set("fill_sim.fill_prob_base", "2").is_err());
        assert_eq!(c.fill_sim.fill_prob_base, 1.0);
    }
}
