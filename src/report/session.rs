//! A session directory read back for validation and reporting (`CLI.md`: `session.toml`,
//! `outputs/`, `checkpoints/`, `summary.json`). Everything the report shows is computed from the
//! output journal; `summary.json` only supplies the session's time span when present.

use crate::engine::io::Output;
use crate::log::{Body, LogReader};
use crate::types::Timestamp;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// A session's outputs in journal order, with their event times.
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub dir: PathBuf,
    /// `session.toml`, when present and readable.
    pub config: Option<toml::Table>,
    /// `summary.json`, when present and readable.
    pub summary: Option<serde_json::Value>,
    pub outputs: Vec<(Timestamp, Output)>,
    /// Event time of the session's first and last input (from `summary.json`), else of its
    /// first and last output.
    pub first: Timestamp,
    pub last: Timestamp,
    /// Files in `checkpoints/`, when the directory exists.
    pub checkpoint_files: Option<usize>,
    /// Journal records that did not decode as an `Output` (counted, never fatal).
    pub undecodable: u64,
}

impl Session {
    /// A session built in memory (tests, or a caller that holds the outputs already).
    pub fn from_outputs(
        outputs: Vec<(Timestamp, Output)>,
        first: Option<Timestamp>,
        last: Option<Timestamp>,
    ) -> Session {
        let first = first.or_else(|| outputs.first().map(|o| o.0)).unwrap_or_default();
        let last = last.or_else(|| outputs.last().map(|o| o.0)).unwrap_or(first);
        Session { first, last: last.max(first), outputs, ..Session::default() }
    }

    /// Reads a session directory.
    pub fn load(dir: &Path) -> anyhow::Result<Session> {
        let mut outputs = Vec::new();
        let meta = Session::stream(dir, |t, o| outputs.push((t, o)))?;
        let mut s = Session::from_outputs(outputs, meta.span("first_ns"), meta.span("last_ns"));
        s.dir = meta.dir;
        s.config = meta.config;
        s.summary = meta.summary;
        s.checkpoint_files = meta.checkpoint_files;
        s.undecodable = meta.undecodable;
        Ok(s)
    }

    /// Reads a session directory's files and hands each output of its journal to `f` in
    /// order, holding none of them: the session returned has no `outputs`, and its `first` and
    /// `last` are `summary.json`'s (see [`Session::span`]).
    pub fn stream(dir: &Path, mut f: impl FnMut(Timestamp, Output)) -> anyhow::Result<Session> {
        let mut s = Session::head(dir)?;
        let mut reader = LogReader::open(&dir.join("outputs"))
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("reading the output journal of {}", dir.display()))?;
        while let Some(rec) = reader.next_record() {
            if let Body::Message(bytes) = rec.body {
                match rmp_serde::from_slice::<Output>(&bytes) {
                    Ok(o) => f(Timestamp(rec.recv_ns), o),
                    Err(_) => s.undecodable += 1,
                }
            }
        }
        Ok(s)
    }

    /// A session directory's files but its journal: `session.toml`, `summary.json` (`first`
    /// and `last` are its span, else 0), the checkpoint count. Fails on a directory without
    /// an `outputs/` journal.
    pub fn head(dir: &Path) -> anyhow::Result<Session> {
        if !dir.join("outputs").exists() {
            anyhow::bail!(
                "{} is not a session: it has no outputs/ journal; write one with `paper_trader replay REC --out {}`",
                dir.display(),
                dir.display()
            );
        }
        let config = std::fs::read_to_string(dir.join("session.toml"))
            .ok()
            .and_then(|s| s.parse::<toml::Table>().ok());
        let summary = std::fs::read_to_string(dir.join("summary.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
        let checkpoint_files = std::fs::read_dir(dir.join("checkpoints"))
            .ok()
            .map(|rd| rd.filter_map(Result::ok).filter(|e| e.path().is_file()).count());
        let mut s =
            Session { dir: dir.to_path_buf(), config, summary, checkpoint_files, ..Session::default() };
        s.first = s.span("first_ns").unwrap_or_default();
        s.last = s.span("last_ns").unwrap_or(s.first).max(s.first);
        Ok(s)
    }

    /// A time of `summary.json` (`first_ns`, `last_ns`), when it has one.
    pub fn span(&self, key: &str) -> Option<Timestamp> {
        self.summary.as_ref().and_then(|v| v.get(key)).and_then(|v| v.as_u64()).map(Timestamp)
    }

    /// `summary.json`'s `output_digest`, when the session has one.
    pub fn output_digest(&self) -> Option<String> {
        self.summary
            .as_ref()
            .and_then(|v| v.get("output_digest"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }

    /// A configuration value of `session.toml` by dotted path (`config.fill_sim.fill_prob_base`).
    pub fn config_value(&self, dotted: &str) -> Option<&toml::Value> {
        let mut parts = dotted.split('.');
        let mut v = self.config.as_ref()?.get(parts.next()?)?;
        for p in parts {
            v = v.as_table()?.get(p)?;
        }
        Some(v)
    }

    /// The checklist over this session, including the saved-checkpoint count.
    pub fn checklist(&self) -> Vec<super::validate::ChecklistItem> {
        let mut t = self.checklist_tracker();
        for (now, o) in &self.outputs {
            t.on_output(*now, o);
        }
        t.advance(self.last);
        t.items()
    }

    /// The checklist's tracker set up for this session (first input, checkpoint files, fee
    /// and depth settings), before any output: feed it the outputs, then `advance(last)`.
    pub fn checklist_tracker(&self) -> super::validate::ChecklistTracker {
        let mut t = super::validate::ChecklistTracker::new(self.first);
        if let Some(n) = self.checkpoint_files {
            t.set_checkpoint_files(n);
        }
        // session.toml holds the engine configuration under [config] (its account table is
        // `[config.account]`); a fee written by hand may be an integer.
        let number = |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
        if let Some(bp) = self.config_value("config.account.maker_fee_bp").and_then(number) {
            t.set_maker_fee_bp(bp);
        }
        if let Some(on) = self.config_value("config.fill_sim.ignore_book_depth").and_then(|v| v.as_bool()) {
            t.set_ignore_book_depth(on);
        }
        t
    }

    /// The coins with model snapshots or fills, in name order.
    pub fn coins(&self) -> Vec<String> {
        let mut set = std::collections::BTreeSet::new();
        for (_, o) in &self.outputs {
            match o {
                Output::Model(s) => {
                    set.insert(s.coin.clone());
                }
                Output::Fill { coin, .. } => {
                    set.insert(coin.to_string());
                }
                _ => {}
            }
        }
        set.into_iter().collect()
    }

    /// Seconds from the session's start, for plots and tables.
    pub fn secs(&self, t: Timestamp) -> f64 {
        t.since(self.first) as f64 / 1e9
    }
}
