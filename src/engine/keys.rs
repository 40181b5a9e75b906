//! The documented configuration keys: one table (key, meaning, unit) that `--print-config`,
//! `docs/CONFIG.md` and the configuration errors read. Defaults come from
//! [`EngineConfig::default`] and allowed ranges from the validation table in `config.rs`
//! ([`super::config::range_of`]), so each fact is written once. A key of the configuration
//! that is missing here fails `tests/config_docs.rs`; `docs/CONFIG.md` is generated from this
//! module and the same test fails when it is stale.

use super::config::{range_of, EngineConfig, OPTIONAL_KEYS};
use std::fmt::Write as _;

/// One documented key.
pub struct KeyDoc {
    /// Dotted name (`fill_sim.fill_prob_base`).
    pub key: &'static str,
    pub meaning: &'static str,
    /// Unit, or the kind of value when it has none.
    pub unit: &'static str,
    /// What is allowed when it is not a numeric range of the validation table.
    pub allowed: Option<&'static str>,
}

const fn k(key: &'static str, unit: &'static str, meaning: &'static str) -> KeyDoc {
    KeyDoc { key, meaning, unit, allowed: None }
}
const fn ka(key: &'static str, unit: &'static str, allowed: &'static str, meaning: &'static str) -> KeyDoc {
    KeyDoc { key, meaning, unit, allowed: Some(allowed) }
}

/// Sections in the order they are shown, with what each is for.
pub const SECTIONS: &[(&str, &str)] = &[
    ("engine", "What the engine trades and how often it reports."),
    ("account", "One account for all coins: equity, leverage, fees."),
    ("strategy", "The keys every strategy kind shares: order sizes, position limits and the refresh rule."),
    ("strategy.glft", "The glft kind (the default): GLFT quotes, widened by pre-fill toxicity."),
    ("strategy.ladder", "The ladder kind: a grid of levels from the touch."),
    (
        "strategy.avellaneda_stoikov",
        "The avellaneda_stoikov kind: Avellaneda-Stoikov 2008 around its reservation price.",
    ),
    ("fill_sim", "The fill simulator: queue model, latencies (docs/FILLS.md)."),
    ("estimator", "Loop 1: kappa and the fill intensity from own fills and the shadow ladder."),
    ("outcome", "Loop 2: markouts and the adverse-selection label."),
    ("classifier", "Loop 2: the online toxicity classifier."),
    ("calibration", "Loop 3: gamma moved from fill-hungry to risk-aware as the models learn."),
    ("regime", "Regime detection from fast and slow volatility."),
    ("live", "What the live drivers watch (replay ignores it)."),
    (
        "instruments",
        "Tick and lot overrides per coin: [instruments.BTCUSDT] tick = \"0.1\", lot = \"0.001\".",
    ),
];

/// Every key of the configuration.
pub const KEYS: &[KeyDoc] = &[
    ka("engine.coins", "list of coin names", "venue names (BTC, BTCUSDT)", "Coins to trade; empty = the coins the recording names."),
    k("engine.checkpoint_interval_s", "s of event time", "Event time between checkpoints of the engine state."),
    k("engine.snapshot_interval_s", "s of event time", "Event time between model snapshots of each traded coin."),
    ka("engine.shadow_ladder", "boolean", "true, false", "Run the shadow ladder of zero-size probes that identifies kappa (loop 1)."),
    k("account.starting_equity_usd", "USD", "Starting equity of the account."),
    k("account.leverage", "x", "Leverage: initial margin = notional / leverage."),
    k("account.maker_fee_bp", "bp of notional", "Maker fee; negative = a rebate. Absent = the venue's base tier (Hyperliquid 1.5, Binance USD-M 2)."),
    k("account.taker_fee_bp", "bp of notional", "Taker fee; negative = a rebate. Absent = the venue's base tier (Hyperliquid 4.5, Binance USD-M 5)."),
    k("strategy.order_notional_usd", "USD", "Order size as quote notional, rounded to the lot (at least one lot)."),
    k("strategy.max_position_usd", "USD", "Largest absolute position per coin, as notional at the mid."),
    k("strategy.max_order_notional_usd", "USD", "Largest notional of one order."),
    k("strategy.requote_mid_bp", "bp", "Requote when the mid moved this far since the last quote."),
    k("strategy.requote_ticks", "ticks", "...or when the model's quote moved by at least this many ticks."),
    k("strategy.requote_min_interval_ms", "ms", "...but never more often than this."),
    k("strategy.sigma_half_life_s", "s", "Half-life of the volatility estimator (1 s mid log returns)."),
    k("strategy.sigma_prior_bp", "bp per sqrt(s)", "Volatility assumed before enough returns were seen."),
    k("strategy.flow_half_life_s", "s", "Half-life of the trade-flow imbalance feature."),
    ka("strategy.kind", "name", "glft, ladder, avellaneda_stoikov, or a kind the program registers", "The strategy that quotes (docs/STRATEGY.md); its own table is [strategy.<kind>]."),
    k("strategy.order_size", "base units", "Order size in base units; overrides order_notional_usd. Absent = from order_notional_usd."),
    k("strategy.max_position", "base units", "Largest absolute position per coin in base units; overrides max_position_usd. Absent = from max_position_usd."),
    k("strategy.glft.toxicity_widen_bp", "bp per unit of toxicity", "Widening of a side per unit of its pre-fill toxicity above the classifier's base rate (loop 2 moves the quotes); 0 = plain GLFT."),
    k("strategy.glft.toxicity_pull", "toxicity in [0, 1]", "Pull a side while its toxicity is at or above this; 0 = never pull."),
    k("strategy.ladder.levels", "orders per side", "Levels of the grid on each side."),
    k("strategy.ladder.offset_ticks", "ticks", "The first bid at best bid - offset_ticks (the first ask at best ask + offset_ticks)."),
    k("strategy.ladder.spacing_ticks", "ticks", "Ticks between the levels of one side."),
    k("strategy.ladder.skew_ticks_per_unit", "ticks per order size of position", "Both sides move away from the inventory by this per order size held; 0 = no skew."),
    k("strategy.ladder.max_inventory_units", "order sizes", "Withdraw a side while |position| is at least this many order sizes on that side; 0 = only the position limit."),
    k("strategy.avellaneda_stoikov.gamma", "per (order size x bp)", "Risk aversion of the reservation price; 0 = the calibration's cal_gamma."),
    k("strategy.avellaneda_stoikov.horizon_s", "s", "T - t of the model, held constant (a rolling horizon)."),
    ka("fill_sim.ignore_book_depth", "boolean", "true, false", "Paper orders are not in the real book: use the flat queue model (the seed's default); false = the Rigtorp queue model."),
    k("fill_sim.fill_prob_base", "probability", "Flat model: probability that a trade at exactly our price fills us."),
    k("fill_sim.adverse_fill_ratio", "share", "Share of fill opportunities held until the mid moved half the adverse threshold, dropped when it moved in the order's favour: makes fills more adverse."),
    k("fill_sim.entry_latency_ms", "ms", "Time from sending an order to its being live at the venue."),
    k("fill_sim.cancel_latency_ms", "ms", "Time from sending a cancel to its taking effect."),
    k("fill_sim.queue_exponent", "n of f(x) = x^n", "Queue model: how fast our place in the queue advances."),
    ka("fill_sim.consume_liquidity", "boolean", "true, false", "Liquidity is used once: one budget per real trade and displayed level, shared by our orders in price-time order."),
    ka("fill_sim.latency_model", "name", "constant, jitter, feed", "How latencies are drawn: constant, log-normal jitter around the mean, or from the feed's own receive - exchange time."),
    k("fill_sim.jitter_sigma", "log-normal sigma", "jitter: spread of the factor around the mean latency."),
    k("fill_sim.feed_window_s", "s", "feed: trailing window of the minimum receive - exchange time difference."),
    k("estimator.kappa_prior", "per bp", "Prior kappa used until enough fills arrived."),
    k("estimator.a_prior", "fills per s", "Prior fill intensity at the mid."),
    k("estimator.bin_width_bp", "bp", "Width of a depth bin of the fill histogram."),
    k("estimator.max_depth_bp", "bp", "Depths beyond this are not binned."),
    k("estimator.forgetting_horizon_s", "s", "Exposure and fills decay with this e-folding horizon."),
    k("estimator.min_fills", "fills", "Below this many fills (quotes and probes) kappa_confidence is 0 and kappa the prior."),
    ka("estimator.shadow_ladder_bp", "list of bp", "each in (0, estimator.max_depth_bp), at most 32", "Depths of the zero-size probes that feed the estimator beside the real quotes."),
    k("outcome.markout_horizon_s", "s", "The markout horizon that labels a fill adverse (the seed's 5 s), and the adverse part of the PnL breakdown."),
    k("outcome.adverse_threshold_bp", "bp", "A fill is adverse when the mid moved against it by more than this at the horizon."),
    ka("outcome.report_horizons_s", "list of s", "each in [1, 3600]", "Further markout horizons computed for reporting only."),
    ka("outcome.report_horizons_ms", "list of ms", "each in [1, 3600000], at most 32", "Horizons of the report's markout distributions (summary.json markouts_by_horizon: by side, by toxicity quintile, quantiles and histogram); measured by the session runner, so they change no output."),
    k("outcome.max_pending", "fills", "Bound of the pending markouts; the oldest are dropped (and reported dropped) beyond it."),
    k("classifier.learning_rate", "SGD step", "Step size of the logistic regression."),
    k("classifier.l2", "per step", "L2 penalty of the logistic regression."),
    k("classifier.as_progress_outcomes", "outcomes", "Resolved outcomes at which as_progress reaches 1."),
    k("calibration.gamma_start", "risk aversion", "Gamma while nothing is learnt yet (fill-hungry); at most calibration.gamma_end."),
    k("calibration.gamma_end", "risk aversion", "Gamma once the models are calibrated."),
    k("calibration.max_gamma_rate_per_min", "per min of event time", "The most cal_gamma may move per minute."),
    k("regime.fast_half_life_s", "s", "Half-life of the fast volatility average; below regime.slow_half_life_s."),
    k("regime.slow_half_life_s", "s", "Half-life of the slow volatility average."),
    k("regime.enter_volatile", "fast/slow volatility ratio", "Switch to volatile above this ratio."),
    k("regime.leave_volatile", "fast/slow volatility ratio", "Leave volatile below this ratio (at most enter_volatile)."),
    k("regime.enter_quiet", "fast/slow volatility ratio", "Switch to quiet below this ratio."),
    k("regime.leave_quiet", "fast/slow volatility ratio", "Leave quiet above this ratio (at least enter_quiet)."),
    k("regime.min_dwell_s", "s", "Least time in a regime before it may change."),
    k("regime.jump_sigmas", "slow sigmas", "A single 1 s return beyond this switches to volatile at once."),
    k("regime.warmup_s", "s", "Returns seen before the slow estimate is trusted and regimes may change."),
    k("live.stale_after_ms", "ms", "A connected feed silent this long is stale: quotes pulled until data returns; 0 = the venue's default (Hyperliquid 3000, Binance USD-M 2000)."),
];

/// The documentation of a key, if it has one.
pub fn doc(key: &str) -> Option<&'static KeyDoc> {
    KEYS.iter().find(|d| d.key == key)
}

/// What a key allows, as text: its numeric range, or the documented set of values.
pub fn allowed(key: &str) -> String {
    match (range_of(key), doc(key).and_then(|d| d.allowed)) {
        (Some(r), _) => r.describe(),
        (None, Some(a)) => a.to_string(),
        (None, None) => "any".to_string(),
    }
}

/// Every dotted key of a configuration with its value, section by section in [`SECTIONS`]
/// order (then any other section), optional keys included as `None` when absent.
pub fn flatten(config: &EngineConfig) -> Vec<(String, Option<toml::Value>)> {
    let mut out = Vec::new();
    for (section, table) in sections(config) {
        let mut part = Vec::new();
        walk(&section, &table, &mut part);
        // Unset optional keys print among their section's own keys, before its sub-tables.
        let direct = part.iter().take_while(|(k, _)| section_of(k).0 == section).count();
        let unset: Vec<(String, Option<toml::Value>)> = OPTIONAL_KEYS
            .iter()
            .filter(|k| section_of(k).0 == section && !part.iter().any(|(p, _)| p == *k))
            .map(|k| (k.to_string(), None))
            .collect();
        part.splice(direct..direct, unset);
        out.extend(part);
    }
    out
}

fn sections(config: &EngineConfig) -> Vec<(String, toml::Table)> {
    let root = toml::Value::try_from(config).ok().and_then(|v| v.as_table().cloned()).unwrap_or_default();
    let mut names: Vec<String> = SECTIONS.iter().map(|(s, _)| s.to_string()).collect();
    names.extend(root.keys().filter(|k| !SECTIONS.iter().any(|(s, _)| s == k)).cloned());
    names
        .into_iter()
        .filter_map(|n| root.get(&n).and_then(|v| v.as_table()).map(|t| (n.clone(), t.clone())))
        .collect()
}

fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<(String, Option<toml::Value>)>) {
    for (k, v) in table.iter().filter(|(_, v)| !v.is_table()) {
        out.push((format!("{prefix}.{k}"), Some(v.clone())));
    }
    for (k, v) in table.iter() {
        if let Some(t) = v.as_table() {
            walk(&format!("{prefix}.{k}"), t, out);
        }
    }
}

/// A value as TOML text (`0.4`, `"BTC"`, `[1, 30, 60]`).
fn show(v: &toml::Value) -> String {
    v.to_string()
}

/// The default of a key, as TOML text, or what an absent optional key means.
pub fn default_text(key: &str) -> String {
    let defaults = flatten(&EngineConfig::default());
    match defaults.iter().find(|(k, _)| k == key) {
        Some((_, Some(v))) => show(v),
        _ => "absent".to_string(),
    }
}

fn section_of(key: &str) -> (&str, &str) {
    key.rsplit_once('.').unwrap_or(("", key))
}

/// The configuration as TOML with a comment per key (meaning, unit, default, allowed range),
/// which `--config` reads back to the same configuration. `command` names who printed it.
pub fn annotated_toml(config: &EngineConfig, command: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# paper_trader engine configuration, resolved by `paper_trader {command}` (program {}).",
        crate::PROGRAM_VERSION
    );
    let _ = writeln!(
        o,
        "# Every key with its value; a file needs only the keys it changes. Read back with --config FILE."
    );
    let _ = writeln!(o, "# Reference: docs/CONFIG.md.");
    let mut current = String::new();
    for (key, value) in flatten(config) {
        let (section, name) = section_of(&key);
        if section != current {
            let _ = writeln!(o, "\n[{section}]");
            if let Some((_, about)) = SECTIONS.iter().find(|(s, _)| *s == section) {
                let _ = writeln!(o, "# {about}");
            }
            current = section.to_string();
        }
        let _ = writeln!(o, "{}", comment(&key));
        match value {
            Some(v) => {
                let _ = writeln!(o, "{name} = {}", show(&v));
            }
            None => {
                let _ = writeln!(o, "# {name} = (absent: see above)");
            }
        }
    }
    if !o.contains("\n[instruments") {
        let _ = writeln!(
            o,
            "\n[instruments]\n# {}",
            SECTIONS.iter().find(|s| s.0 == "instruments").map_or("", |s| s.1)
        );
    }
    o
}

fn comment(key: &str) -> String {
    match doc(key) {
        Some(d) => format!(
            "# {} Unit: {}. Default: {}. Allowed: {}.",
            d.meaning,
            d.unit,
            default_text(key),
            allowed(key)
        ),
        None if key.starts_with("strategy.") && key.matches('.').count() >= 2 => {
            "# A key of a registered strategy kind's own table (documented by the program that registers it)."
                .to_string()
        }
        None if key.starts_with("instruments.") => {
            "# Tick or lot of this coin (a positive decimal, at most 8 decimals).".to_string()
        }
        None => format!("# (undocumented key: add it to src/engine/keys.rs) Default: {}.", default_text(key)),
    }
}

/// `docs/CONFIG.md`, generated from this table (`tests/config_docs.rs` keeps it current).
pub fn config_markdown() -> String {
    let mut o = String::new();
    o.push_str("# Configuration reference\n\n");
    o.push_str("<!-- Generated from src/engine/keys.rs by `PT_UPDATE_DOCS=1 cargo test --release --test config_docs`; do not edit by hand. -->\n\n");
    o.push_str(
        "The engine's configuration is TOML with one section per model. Every key has a default; a file\n",
    );
    o.push_str(
        "names only what it changes, and unknown keys or values out of range are refused with the key,\n",
    );
    o.push_str(
        "its line and the allowed range. `paper_trader replay REC --print-config` (also `live` and `demo`)\n",
    );
    o.push_str(
        "prints the resolved configuration with a comment per key; `--config FILE` reads it back, as it\n",
    );
    o.push_str(
        "reads a session's `session.toml` (its configuration and seed). `--set KEY=VALUE` overrides one\n",
    );
    o.push_str("key (a bare key names the one section holding it); several values make a sweep.\n");
    let defaults = flatten(&EngineConfig::default());
    for (section, about) in SECTIONS {
        let _ = writeln!(o, "\n## [{section}]\n\n{about}\n");
        let keys: Vec<&KeyDoc> = KEYS.iter().filter(|d| section_of(d.key).0 == *section).collect();
        if keys.is_empty() {
            continue;
        }
        o.push_str("| key | meaning | unit | default | allowed |\n|---|---|---|---|---|\n");
        for d in keys {
            let default = match defaults.iter().find(|(k, _)| k == d.key) {
                Some((_, Some(v))) => format!("`{}`", show(v)),
                _ => "absent".to_string(),
            };
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | {} |",
                section_of(d.key).1,
                d.meaning.replace('|', "\\|"),
                d.unit,
                default,
                allowed(d.key).replace('|', "\\|")
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annotated_configuration_reads_back_to_itself() {
        let mut c = EngineConfig::default();
        c.set("fill_sim.fill_prob_base", "0.25").unwrap();
        c.set("account.maker_fee_bp", "-0.5").unwrap();
        let text = annotated_toml(&c, "replay");
        assert_eq!(EngineConfig::from_toml(&text).unwrap(), c);
        assert!(text.contains("# Flat model: probability"), "{text}");
        let d = annotated_toml(&EngineConfig::default(), "replay");
        assert_eq!(EngineConfig::from_toml(&d).unwrap(), EngineConfig::default());
    }

    #[test]
    fn every_key_is_documented() {
        for (key, _) in flatten(&EngineConfig::default()) {
            assert!(doc(&key).is_some(), "configuration key {key} has no entry in src/engine/keys.rs");
        }
        for d in KEYS {
            assert!(
                flatten(&EngineConfig::default()).iter().any(|(k, _)| k == d.key),
                "{} is documented but not a key",
                d.key
            );
        }
    }
}
