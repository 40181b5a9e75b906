//! `--config FILE`: an engine configuration as `--print-config` prints it (or any subset of
//! it), or a session's `session.toml`, whose `[config]` tables and `seed` reproduce that
//! session.

use crate::engine::EngineConfig;
use anyhow::Context;
use std::path::Path;

/// A configuration read from a file, and the seed it names (session.toml only).
#[derive(Clone, Debug)]
pub struct ConfigFile {
    pub config: EngineConfig,
    pub seed: Option<u64>,
}

/// Reads `--config`: a session's `session.toml` is recognised by its `program_version` and
/// `[config]` table; anything else is an engine configuration.
pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading --config {}", path.display()))?;
    parse(&text).with_context(|| format!("in --config {}", path.display()))
}

pub fn parse(text: &str) -> anyhow::Result<ConfigFile> {
    let table: Option<toml::Table> = text.parse().ok();
    let session = table.as_ref().filter(|t| t.contains_key("program_version") && t.contains_key("config"));
    match session {
        Some(t) => {
            let config_table = t
                .get("config")
                .and_then(|v| v.as_table())
                .context("session.toml: [config] is not a table")?;
            let config_text =
                toml::to_string(config_table).context("session.toml: re-serializing [config]")?;
            let config = EngineConfig::from_toml(&config_text)
                .map_err(|e| anyhow::anyhow!("session.toml's [config]: {e}"))?;
            let seed = match t.get("seed") {
                None => None,
                Some(v) => Some(
                    v.as_integer()
                        .and_then(|i| u64::try_from(i).ok())
                        .context("session.toml: seed is not a non-negative integer")?,
                ),
            };
            Ok(ConfigFile { config, seed })
        }
        None => Ok(ConfigFile { config: EngineConfig::from_toml(text)?, seed: None }),
    }
}
