//! A coin's strategy in a checkpoint: its kind's name and version beside the state it saves,
//! so that resuming with another kind or version is refused with a clear error instead of
//! quoting from state that means something else.

use crate::strategy::registry::{self, StrategyFactory};
use crate::strategy::{Strategy, StrategyConfig};
use crate::types::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ConfigError;

/// The strategy of one coin, or (just decoded from a checkpoint) its saved state waiting
/// for [`StrategySlot::restore`].
#[derive(Debug)]
pub struct StrategySlot {
    kind: String,
    version: u32,
    strategy: Option<Box<dyn Strategy>>,
    saved: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    kind: String,
    version: u32,
    #[serde(with = "serde_bytes")]
    state: Vec<u8>,
}

fn factory(kind: &str) -> Option<&'static dyn StrategyFactory> {
    registry::global().get(kind)
}

impl StrategySlot {
    /// A fresh strategy of `cfg.kind`.
    pub fn build(cfg: &StrategyConfig) -> Result<StrategySlot, ConfigError> {
        let to_err = |key: String, message: String| ConfigError { key, line: None, message };
        let f = factory(&cfg.kind).ok_or_else(|| {
            to_err(
                "strategy.kind".into(),
                format!(
                    "unknown strategy kind '{}'; the kinds are: {}",
                    cfg.kind,
                    registry::global().names().join(", ")
                ),
            )
        })?;
        let strategy = f.build(cfg).map_err(|e| to_err(e.key, e.message))?;
        Ok(StrategySlot {
            kind: f.kind().to_string(),
            version: f.version(),
            strategy: Some(strategy),
            saved: None,
        })
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// After decoding a checkpoint: rebuilds the strategy `cfg` names and loads its saved
    /// state, refusing a checkpoint written by another kind or version.
    pub fn restore(&mut self, cfg: &StrategyConfig) -> Result<(), String> {
        let saved = self.saved.take().unwrap_or_default();
        let Some(f) = factory(&self.kind) else {
            return Err(format!(
                "the checkpoint's strategy kind '{}' (version {}) is not registered in this program; its kinds are: {}",
                self.kind,
                self.version,
                registry::global().names().join(", ")
            ));
        };
        if f.version() != self.version {
            return Err(format!(
                "the checkpoint holds state of strategy '{}' version {}, this program has version {}: resume with the program that wrote it",
                self.kind,
                self.version,
                f.version()
            ));
        }
        if cfg.kind != self.kind {
            return Err(format!(
                "the checkpoint's strategy is '{}' but its configuration names strategy.kind = '{}'",
                self.kind, cfg.kind
            ));
        }
        let mut strategy =
            f.build(cfg).map_err(|e| format!("configuration key `{}`: {}", e.key, e.message))?;
        strategy
            .load_state(&saved)
            .map_err(|e| format!("the checkpoint's state of strategy '{}' does not load: {e}", self.kind))?;
        self.strategy = Some(strategy);
        Ok(())
    }

    pub(super) fn take(&mut self) -> Option<Box<dyn Strategy>> {
        self.strategy.take()
    }

    pub(super) fn put_back(&mut self, s: Box<dyn Strategy>) {
        self.strategy = Some(s);
    }

    /// Hands quotes the strategy returned back to it ([`Strategy::reuse`]).
    pub(super) fn reuse(&mut self, spent: crate::strategy::Quotes) {
        if let Some(s) = self.strategy.as_mut() {
            s.reuse(spent);
        }
    }

    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.strategy.as_ref().and_then(|s| s.next_deadline())
    }
}

impl Serialize for StrategySlot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let state = match (&self.strategy, &self.saved) {
            (Some(st), _) => st.save_state(),
            (None, Some(b)) => b.clone(),
            (None, None) => Vec::new(),
        };
        Saved { kind: self.kind.clone(), version: self.version, state }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StrategySlot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let saved = Saved::deserialize(d)?;
        Ok(StrategySlot {
            kind: saved.kind,
            version: saved.version,
            strategy: None,
            saved: Some(saved.state),
        })
    }
}
