//! Section `[strategy]`: the keys every kind shares, and one sub-table per kind
//! (`[strategy.glft]`, `[strategy.ladder]`, `[strategy.avellaneda_stoikov]`, and a table for
//! each user kind registered, named by its kind). Every sub-table is always present in the
//! resolved configuration; which one is used is `strategy.kind`.

use super::registry;
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A refused strategy setting: the dotted key and what is wrong (the engine's configuration
/// adds the line).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyError {
    pub key: String,
    pub message: String,
}

impl KeyError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> KeyError {
        KeyError { key: key.into(), message: message.into() }
    }
}

/// `[strategy.glft]`: the loop-2 response of the GLFT quotes to the pre-fill classifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlftConfig {
    /// Widening of a side (bp) per unit of its toxicity above the classifier's base rate;
    /// 0 = today's plain GLFT quotes.
    pub toxicity_widen_bp: f64,
    /// Pull a side while its toxicity is at or above this (0 = never pull).
    pub toxicity_pull: f64,
}

impl Default for GlftConfig {
    fn default() -> Self {
        GlftConfig { toxicity_widen_bp: 4.0, toxicity_pull: 0.0 }
    }
}

/// `[strategy.ladder]`: a grid of `levels` orders a side from the touch of its own side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LadderConfig {
    pub levels: u32,
    /// The first bid at best bid - offset_ticks ticks (the first ask at best ask + offset).
    pub offset_ticks: u32,
    /// Ticks between the levels of one side.
    pub spacing_ticks: u32,
    /// Ticks both sides move away from the inventory per order size of position (a long
    /// position lowers bids and asks), 0 = no skew.
    pub skew_ticks_per_unit: f64,
    /// Withdraw a side while |position| is at least this many order sizes on that side
    /// (0 = only the engine's position limit applies).
    pub max_inventory_units: f64,
}

impl Default for LadderConfig {
    fn default() -> Self {
        LadderConfig {
            levels: 3,
            offset_ticks: 1,
            spacing_ticks: 1,
            skew_ticks_per_unit: 0.0,
            max_inventory_units: 0.0,
        }
    }
}

/// `[strategy.avellaneda_stoikov]`: Avellaneda and Stoikov (2008) with a rolling horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AvellanedaStoikovConfig {
    /// Risk aversion per (order size x bp); 0 = use the calibration's `cal_gamma`.
    pub gamma: f64,
    /// T - t of the model, held constant (a rolling horizon).
    pub horizon_s: f64,
}

impl Default for AvellanedaStoikovConfig {
    fn default() -> Self {
        AvellanedaStoikovConfig { gamma: 0.0, horizon_s: 60.0 }
    }
}

/// Section `[strategy]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategyConfig {
    /// Which strategy quotes: a registered kind (`glft`, `ladder`, `avellaneda_stoikov`, or a
    /// user kind).
    pub kind: String,
    /// Order size as quote notional, rounded to the lot (at least one lot).
    pub order_notional_usd: f64,
    /// Order size in base units; overrides `order_notional_usd` (unset by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_size: Option<f64>,
    /// Largest absolute position per coin, as quote notional at the mid.
    pub max_position_usd: f64,
    /// Largest absolute position in base units; overrides `max_position_usd` (unset by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_position: Option<f64>,
    /// Largest notional of one order.
    pub max_order_notional_usd: f64,
    /// Requote when the mid moved this far since the last quote...
    pub requote_mid_bp: f64,
    /// ...or a wanted quote moved by at least this many ticks...
    pub requote_ticks: u64,
    /// ...but never more often than this.
    pub requote_min_interval_ms: u64,
    /// Half-life of the volatility estimator (1 s mid log returns).
    pub sigma_half_life_s: f64,
    /// Volatility assumed before enough returns were seen (bp per sqrt(s)).
    pub sigma_prior_bp: f64,
    /// Half-life of the trade-flow imbalance feature.
    pub flow_half_life_s: f64,
    pub glft: GlftConfig,
    pub ladder: LadderConfig,
    pub avellaneda_stoikov: AvellanedaStoikovConfig,
    /// The tables of user kinds, by kind name (`[strategy.example]`).
    #[serde(flatten)]
    pub user: BTreeMap<String, toml::Table>,
}

/// The built-in sub-tables (every other table under `[strategy]` is a user kind's).
pub const BUILTIN_TABLES: &[&str] = &["glft", "ladder", "avellaneda_stoikov"];

const FIELDS: &[&str] = &[
    "kind",
    "order_notional_usd",
    "order_size",
    "max_position_usd",
    "max_position",
    "max_order_notional_usd",
    "requote_mid_bp",
    "requote_ticks",
    "requote_min_interval_ms",
    "sigma_half_life_s",
    "sigma_prior_bp",
    "flow_half_life_s",
    "glft",
    "ladder",
    "avellaneda_stoikov",
];

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            kind: "glft".into(),
            order_notional_usd: 100.0,
            order_size: None,
            max_position_usd: 1_000.0,
            max_position: None,
            max_order_notional_usd: 1_000.0,
            requote_mid_bp: 0.5,
            requote_ticks: 1,
            requote_min_interval_ms: 100,
            sigma_half_life_s: 60.0,
            sigma_prior_bp: 1.0,
            flow_half_life_s: 2.0,
            glft: GlftConfig::default(),
            ladder: LadderConfig::default(),
            avellaneda_stoikov: AvellanedaStoikovConfig::default(),
            user: registry::global().user_defaults(),
        }
    }
}

// Hand-written so that each known key is read straight from the TOML deserializer (its
// errors keep the value's line) while any other table is kept as a user kind's.
impl<'de> Deserialize<'de> for StrategyConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrategyConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the [strategy] table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<StrategyConfig, A::Error> {
                let mut c = StrategyConfig::default();
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "kind" => c.kind = m.next_value()?,
                        "order_notional_usd" => c.order_notional_usd = m.next_value()?,
                        "order_size" => c.order_size = Some(m.next_value()?),
                        "max_position_usd" => c.max_position_usd = m.next_value()?,
                        "max_position" => c.max_position = Some(m.next_value()?),
                        "max_order_notional_usd" => c.max_order_notional_usd = m.next_value()?,
                        "requote_mid_bp" => c.requote_mid_bp = m.next_value()?,
                        "requote_ticks" => c.requote_ticks = m.next_value()?,
                        "requote_min_interval_ms" => c.requote_min_interval_ms = m.next_value()?,
                        "sigma_half_life_s" => c.sigma_half_life_s = m.next_value()?,
                        "sigma_prior_bp" => c.sigma_prior_bp = m.next_value()?,
                        "flow_half_life_s" => c.flow_half_life_s = m.next_value()?,
                        "glft" => c.glft = m.next_value()?,
                        "ladder" => c.ladder = m.next_value()?,
                        "avellaneda_stoikov" => c.avellaneda_stoikov = m.next_value()?,
                        other => match m.next_value::<toml::Value>()? {
                            toml::Value::Table(t) => {
                                c.user.insert(other.to_string(), t);
                            }
                            _ => return Err(A::Error::unknown_field(other, FIELDS)),
                        },
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_map(V)
    }
}

impl StrategyConfig {
    /// A key of `[strategy]` itself (not a kind's table).
    pub fn is_shared_key(name: &str) -> bool {
        FIELDS.contains(&name)
    }

    /// The table of user kind `kind` (its defaults when the configuration names none).
    pub fn user_table(&self, kind: &str) -> Option<&toml::Table> {
        self.user.get(kind)
    }

    /// Reads a user kind's table into its settings type; errors name `strategy.<kind>.<key>`.
    pub fn parse_user<T: serde::de::DeserializeOwned>(&self, kind: &str) -> Result<T, KeyError> {
        let table = self.user.get(kind).cloned().unwrap_or_default();
        toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
            let msg = e.message().trim().to_string();
            let key = msg
                .split("unknown field `")
                .nth(1)
                .and_then(|r| r.split('`').next())
                .map_or_else(|| format!("strategy.{kind}"), |f| format!("strategy.{kind}.{f}"));
            KeyError::new(key, msg)
        })
    }

    /// The kind is registered, every user table belongs to a registered kind, and the kind's
    /// own settings build.
    pub fn validate(&self) -> Result<(), KeyError> {
        let reg = registry::global();
        let Some(factory) = reg.get(&self.kind) else {
            return Err(KeyError::new(
                "strategy.kind",
                format!("unknown strategy kind '{}'; the kinds are: {}", self.kind, reg.names().join(", ")),
            ));
        };
        for name in self.user.keys() {
            if reg.get(name).is_none() || BUILTIN_TABLES.contains(&name.as_str()) {
                return Err(KeyError::new(
                    format!("strategy.{name}"),
                    format!(
                        "unknown key: [strategy.{name}] is no registered strategy kind's table; the kinds are: {}",
                        reg.names().join(", ")
                    ),
                ));
            }
        }
        factory.build(self).map(drop)
    }
}
