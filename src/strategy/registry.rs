//! The kinds of strategy a program knows: the built-ins, plus what a library user registers
//! before the first engine is built (`paper_trader::cli::main_with`). A kind has a name (the
//! value of `strategy.kind`), a version (checkpoints carry both and are refused by another),
//! default settings for its table, and a constructor that validates them.

use super::config::{KeyError, StrategyConfig};
use super::Strategy;
use std::sync::OnceLock;

/// Builds strategies of one kind from the configuration.
pub trait StrategyFactory: Send + Sync {
    /// The value of `strategy.kind` that selects it (and its table's name for a user kind).
    fn kind(&self) -> &'static str;
    /// Bumped whenever the meaning of the saved state changes.
    fn version(&self) -> u32;
    /// A user kind's default `[strategy.<kind>]` table (built-ins have typed sections).
    fn default_table(&self) -> toml::Table {
        toml::Table::new()
    }
    /// A fresh strategy, or the first setting that is not acceptable (its dotted key).
    fn build(&self, cfg: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError>;
    /// Whether the kind's default table belongs in every resolved configuration (false for a
    /// kind with no settings of its own that only some programs register, e.g. the Python
    /// binding's `python` and `touch`: their tables would otherwise change every session's
    /// `session.toml`, and so its digest, against the CLI's).
    fn lists_defaults(&self) -> bool {
        true
    }
}

/// The kinds by name, in registration order (built-ins first).
pub struct Registry {
    kinds: Vec<Box<dyn StrategyFactory>>,
}

impl Registry {
    /// `glft`, `ladder`, `avellaneda_stoikov`.
    pub fn builtin() -> Registry {
        Registry {
            kinds: vec![
                Box::new(super::glft::GlftFactory),
                Box::new(super::ladder::LadderFactory),
                Box::new(super::avellaneda_stoikov::AvellanedaStoikovFactory),
            ],
        }
    }

    /// Adds a kind; refused if its name is taken or is no plain identifier.
    pub fn register(&mut self, factory: Box<dyn StrategyFactory>) -> Result<(), String> {
        let name = factory.kind();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!("strategy kind '{name}': use lowercase letters, digits and _"));
        }
        if self.get(name).is_some() || StrategyConfig::is_shared_key(name) {
            return Err(format!("strategy kind '{name}' is already taken"));
        }
        self.kinds.push(factory);
        Ok(())
    }

    pub fn get(&self, kind: &str) -> Option<&dyn StrategyFactory> {
        self.kinds.iter().find(|k| k.kind() == kind).map(|k| k.as_ref())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.kind()).collect()
    }

    /// The default tables of the user kinds (the built-ins' sections are typed).
    pub fn user_defaults(&self) -> std::collections::BTreeMap<String, toml::Table> {
        self.kinds
            .iter()
            .filter(|k| !super::config::BUILTIN_TABLES.contains(&k.kind()) && k.lists_defaults())
            .map(|k| (k.kind().to_string(), k.default_table()))
            .collect()
    }
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

/// Makes `registry` the program's registry. Call once, before any configuration or engine
/// is made; refused (the registry given back) once one is in use.
pub fn install(registry: Registry) -> Result<(), Registry> {
    GLOBAL.set(registry)
}

/// The program's registry: the installed one, else the built-ins. A table of constructors
/// fixed before the first engine, so reading it keeps the engine a function of its inputs.
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(Registry::builtin)
}
