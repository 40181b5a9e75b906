//! The session runner that both `replay` and `live` drive, so that a live session and the
//! replay of what it recorded go through the same code and produce the same journal.
//!
//! A session directory holds `session.toml` (resolved configuration, seed, program version,
//! input), `outputs/` (the output journal: one log record per [`Output`], rmp-serde, stream
//! `outputs`, receive time = the input's time), `checkpoints/` (engine state, the running
//! output digest and the input position, zstd-compressed, on every [`Output::Checkpoint`]) and
//! `summary.json` (written by [`SessionRunner::finish`]).
//!
//! The output digest is a SHA-256 chain: `state' = SHA-256(state || recv_ns (u64 LE) || len
//! (u32 LE) || record bytes)`, starting from 32 zero bytes. Its 32-byte state is part of every
//! checkpoint, so a resumed run ends with the digest of the full run.

use super::journal::{CheckpointTarget, JournalFlush, JournalThread, PendingCheckpoint};
use crate::engine::{Engine, EngineConfig, EngineSummary, Input, Output};
use crate::log::{Header, LogWriter, WriterOptions};
use crate::report::pnl::{funding_of, PnlBreakdown, PnlLedger};
use crate::report::quality::{Quality, QualityTracker};
use crate::report::session::Session;
use crate::types::Timestamp;
use crate::venue::Venue;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stream name of the output journal's records.
pub const OUTPUT_STREAM: &str = "outputs";
/// Version of the checkpoint file layout.
/// 3: a coin's exposure since the last whole second is kept in integer nanoseconds (the
/// estimator's `pending_ns`), its grid steps second by second.
pub(super) const CHECKPOINT_VERSION: u32 = 3;
/// zstd level for checkpoints: they are written every 5 minutes of event time, so a
/// moderate level costs little and keeps them small.
const CHECKPOINT_ZSTD_LEVEL: i32 = 3;
/// zstd level of the output journal: zstd's fastest regular level is 1; -1 skips ahead
/// faster where nothing matches (see `SessionRunner::new`).
const JOURNAL_LEVEL: i32 = -1;

/// What a checkpoint file holds.
#[derive(Serialize, Deserialize)]
pub struct CheckpointFile {
    pub version: u32,
    pub index: u64,
    /// The input after which the state was taken: resume feeds inputs after it.
    pub input_seq: u64,
    pub input_recv_ns: u64,
    pub digest: [u8; 32],
    pub venue: String,
    pub coins: Vec<String>,
    #[serde(with = "serde_bytes")]
    pub engine_state: Vec<u8>,
}

impl CheckpointFile {
    pub fn read(path: &Path) -> Result<CheckpointFile> {
        let compressed =
            std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
        let bytes = zstd::decode_all(&compressed[..])
            .with_context(|| format!("{}: not a zstd checkpoint file", path.display()))?;
        let ck: CheckpointFile = rmp_serde::from_slice(&bytes)
            .with_context(|| format!("{}: not a paper_trader checkpoint", path.display()))?;
        if ck.version != CHECKPOINT_VERSION {
            bail!(
                "{}: checkpoint version {} is not readable by this build (expects {CHECKPOINT_VERSION})",
                path.display(),
                ck.version
            );
        }
        Ok(ck)
    }
}

/// Where the session's input came from (for `session.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InputDesc {
    /// The recording path, or `live:<url>`.
    pub source: String,
    /// The checkpoint this run resumed from, if any.
    pub resumed_from: Option<String>,
}

/// `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub output_digest: String,
    /// Inputs this run consumed (a resumed run counts only those after its checkpoint).
    pub input_messages: u64,
    pub venue: String,
    pub seed: u64,
    pub program_version: String,
    pub output_records: u64,
    /// Receive times that went backwards and were clamped (driver contract).
    pub clamped_times: u64,
    /// Damage met in the input recording (torn tails, corruption), in reading order. The
    /// engine saw a gap wherever records were lost.
    #[serde(default)]
    pub input_damage: Vec<InputDamage>,
    /// The net PnL in parts (`src/report/pnl.rs`): spread, adverse, inventory, funding, fees.
    #[serde(default)]
    pub pnl_breakdown: PnlBreakdown,
    /// The same per coin.
    #[serde(default)]
    pub pnl_breakdown_by_coin: BTreeMap<String, PnlBreakdown>,
    /// The largest fall of the net PnL from its running peak (USD, >= 0).
    #[serde(default)]
    pub max_drawdown: f64,
    /// Traded coins for which the input never gave a book (no mid all session): such a
    /// session could not trade them, whatever its settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coins_without_book: Vec<String>,
    /// Quote quality and markouts at the report horizons (`src/report/quality.rs`): derived
    /// from the outputs and the coins' quote views, never journaled.
    #[serde(flatten)]
    pub quality: Quality,
    #[serde(flatten)]
    pub engine: EngineSummary,
    /// The terminal summary (`report_cmds::terminal_summary`'s text), computed from the
    /// outputs as they were journaled: set by [`SessionRunner::finish`] of a replay, so
    /// `replay` prints it without reading the journal back. Not part of `summary.json`.
    #[serde(skip)]
    pub terminal: Option<String>,
}

/// One damaged place of a replayed recording (`summary.json`'s `input_damage`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputDamage {
    pub file: String,
    /// Byte offset in `file` where the damage was found.
    pub byte: u64,
    /// Records lost there (the jump in sequence numbers where reading resumed; 0 for a torn
    /// tail, whose lost records were never flushed and cannot be counted).
    pub records_lost: u64,
    /// `torn_tail` (the normal state after a crash) or `corrupt`.
    pub kind: String,
    pub detail: String,
}

#[derive(Serialize)]
struct SessionToml<'a> {
    program_version: &'a str,
    venue: &'a str,
    seed: u64,
    coins: &'a [String],
    input: &'a InputDesc,
    config: &'a EngineConfig,
}

pub struct SessionRunner {
    dir: PathBuf,
    engine: Engine,
    /// The journal's thread (`journal.rs`); in a cell so that [`SessionRunner::summary`],
    /// which reads the digest mid-run, can wait for the thread through `&self`.
    journal: RefCell<Option<JournalThread>>,
    /// The output digest as last known: from the thread at a sync, final after `finish`.
    digest: Cell<[u8; 32]>,
    input_messages: u64,
    output_records: u64,
    clamped_times: u64,
    last_now: Timestamp,
    venue: Venue,
    coins: Vec<String>,
    input_damage: Vec<InputDamage>,
    ledger: PnlLedger,
    /// Coins that had a mid at some model snapshot.
    coins_with_book: BTreeSet<String>,
    quality: QualityTracker,
    /// Reused buffer of the coins' quote views.
    views: Vec<crate::engine::coin::QuoteView>,
}

impl SessionRunner {
    /// Creates `out/` (which must not exist, or be empty) and a fresh engine.
    pub fn create(
        out: &Path,
        config: EngineConfig,
        seed: u64,
        venue: Venue,
        coins: &[String],
        input: InputDesc,
    ) -> Result<SessionRunner> {
        let engine = Engine::new(config, venue, seed, coins)?;
        Self::start(out, engine, [0; 32], venue, coins, input, Timestamp::ZERO)
    }

    /// Resumes from a checkpoint into a new session directory `out/`. Returns the runner and
    /// the input position (sequence number, receive time) after which to continue.
    /// `want_kind` is the strategy kind the run's flags ask for, if they name one: a
    /// checkpoint of another kind is refused.
    pub fn resume(
        checkpoint: &Path,
        out: &Path,
        source: &str,
        want_kind: Option<&str>,
    ) -> Result<(SessionRunner, u64, u64)> {
        let ck = CheckpointFile::read(checkpoint)?;
        let engine = Engine::from_checkpoint(&ck.engine_state)
            .with_context(|| format!("{}: cannot resume from this checkpoint", checkpoint.display()))?;
        let kind = &engine.config().strategy.kind;
        if let Some(want) = want_kind.filter(|w| w != kind) {
            bail!(
                "{}: the checkpoint was written by strategy kind '{kind}', this run asks for strategy.kind = '{want}': resume with the configuration that wrote it",
                checkpoint.display()
            );
        }
        let venue = Venue::from_name(&ck.venue)
            .with_context(|| format!("checkpoint names unknown venue {}", ck.venue))?;
        let input =
            InputDesc { source: source.to_string(), resumed_from: Some(checkpoint.display().to_string()) };
        let runner =
            Self::start(out, engine, ck.digest, venue, &ck.coins, input, Timestamp(ck.input_recv_ns))?;
        Ok((runner, ck.input_seq, ck.input_recv_ns))
    }

    fn start(
        out: &Path,
        engine: Engine,
        digest: [u8; 32],
        venue: Venue,
        coins: &[String],
        input: InputDesc,
        last_now: Timestamp,
    ) -> Result<SessionRunner> {
        // A live session's directory may already hold its inputs/; what a run writes must not exist.
        if let Some(part) = ["outputs", "checkpoints", "summary.json", "session.toml"]
            .into_iter()
            .find(|p| out.join(p).exists())
        {
            bail!(
                "{} already holds a session ({part} exists): sessions are never overwritten; choose another --out",
                out.display()
            );
        }
        std::fs::create_dir_all(out.join("checkpoints"))
            .with_context(|| format!("creating {}", out.display()))?;
        mark_session_dir(out)?;
        let cfg_toml = engine.config().to_toml();
        let horizon_s = engine.config().outcome.markout_horizon_s;
        let quality = QualityTracker::new(coins, &engine.config().outcome.report_horizons_ms);
        let session = SessionToml {
            program_version: crate::PROGRAM_VERSION,
            venue: venue.name(),
            seed: engine.seed(),
            coins,
            input: &input,
            config: engine.config(),
        };
        let text = toml::to_string(&session).context("serializing session.toml")?;
        let text = engine.config().comment_unset(text, "[config.strategy]");
        std::fs::write(out.join("session.toml"), text)
            .with_context(|| format!("writing {}/session.toml", out.display()))?;
        let live = input.source.starts_with("live");
        let header = Header {
            venue: venue.name().to_string(),
            coins: coins.to_vec(),
            program_version: crate::PROGRAM_VERSION.to_string(),
            created_by: if live { "live" } else { "replay" }.to_string(),
            engine_config: Some(cfg_toml),
            seed: Some(engine.seed()),
            synth: None,
        };
        // The journal is rebuilt from the inputs at will, so it is synced once at the end, not
        // at every flush: a long replay would otherwise spend its time in fsync. For the same
        // reason it is compressed at zstd level -1, not the recording's 6: level 6's lazy match
        // search was ~30% of a replay's time (perf) for a journal a few % smaller, level 3's
        // double-fast search still 15% of a 6 h Hyperliquid replay's CPU (level 1: 7%, the
        // journal 11 -> 13 MB), and level 1 compresses the journal's bytes at ~450 MB/s where
        // -1 does ~700 MB/s for a journal 4.5% larger (docs/PERFORMANCE.md, round 16). It is
        // compressed and written on a thread of its own
        // (`journal.rs`), off the engine's path; the digest is over the records before
        // compression, so no level moves it.
        // A live session's journal is flushed each second of receive time (what a crash loses);
        // a replay's only when a block fills and before each checkpoint (`JournalFlush`):
        // each flush ends a zstd block, and 21600 of them were most of a 6 h replay's zstd.
        let (flush_interval_ns, flush) = if live {
            (WriterOptions::default().flush_interval_ns, JournalFlush::Interval)
        } else {
            (u64::MAX, JournalFlush::BlocksAndCheckpoints)
        };
        // A window that holds a whole block (4 MiB): at level 1's own 512 KiB the streaming
        // compressor wrapped around its buffer eight times a block and ran its slower
        // external-dictionary path, ~40% of the journal thread's zstd in a 6 h replay.
        let block_bytes = WriterOptions::default().block_bytes;
        let opts = WriterOptions {
            fsync: false,
            zstd_level: JOURNAL_LEVEL,
            flush_interval_ns,
            window_log: block_bytes.next_power_of_two().trailing_zeros(),
            ..WriterOptions::default()
        };
        let journal = LogWriter::create(&out.join("outputs"), header, opts)
            .with_context(|| format!("creating the output journal in {}", out.display()))?;
        // A replay's terminal summary is computed on the journal's thread as the outputs go by
        // (`replay` prints it); a live session prints none, so its thread keeps none.
        let terminal_head = if live { None } else { Some(Session::head(out)?) };
        let checkpoints = CheckpointTarget {
            dir: out.join("checkpoints"),
            venue: venue.name().to_string(),
            coins: coins.to_vec(),
        };
        let journal = JournalThread::spawn(journal, OUTPUT_STREAM, digest, checkpoints, terminal_head, flush)
            .context("starting the journal writer thread")?;
        Ok(SessionRunner {
            dir: out.to_path_buf(),
            engine,
            journal: RefCell::new(Some(journal)),
            digest: Cell::new(digest),
            input_messages: 0,
            output_records: 0,
            clamped_times: 0,
            last_now,
            venue,
            coins: coins.to_vec(),
            input_damage: Vec::new(),
            ledger: PnlLedger::new(horizon_s),
            coins_with_book: BTreeSet::new(),
            quality,
            views: Vec::new(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Each coin's quote view after the last input (in the engine's coin order).
    pub fn views(&self) -> &[crate::engine::coin::QuoteView] {
        &self.views
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn input_messages(&self) -> u64 {
        self.input_messages
    }

    /// Notes damage met in the input (it goes to `summary.json`).
    pub fn note_input_damage(&mut self, damage: Vec<InputDamage>) {
        self.input_damage = damage;
    }

    /// Feeds one input: runs the engine, hands its outputs to the journal's thread (which
    /// journals and digests them and writes the checkpoint the engine asked for, with the
    /// engine state taken here, after the input). Returns the outputs of this input.
    pub fn feed(&mut self, now: Timestamp, seq: u64, input: Input<'_>) -> Result<&[Output]> {
        // Driver contract: time never goes backwards. A recording whose receive clock stepped
        // back is replayed at the last time seen, and counted.
        let now = if now < self.last_now {
            self.clamped_times += 1;
            self.last_now
        } else {
            now
        };
        self.last_now = now;
        self.input_messages += 1;
        if tracing::enabled!(tracing::Level::TRACE) {
            tracing::trace!(seq, now = now.0, "input {}", describe_input(&input));
        }
        let journal = self.journal.get_mut().as_mut().context("session already finished")?;
        // The thread's error, if it stopped, surfaces here, at the next input.
        journal.poll()?;
        self.engine.on_input(now, seq, input, journal.outputs());
        let out = journal.last_input();
        let mut checkpoint = None;
        let debug = tracing::enabled!(tracing::Level::DEBUG);
        for o in out {
            self.ledger.observe(now, o);
            if let Output::Model(m) = o {
                if m.mid.is_some() && !self.coins_with_book.contains(&m.coin) {
                    self.coins_with_book.insert(m.coin.clone());
                }
            }
            if debug {
                log_output(now, o);
            }
            if let Output::Checkpoint { index } = o {
                checkpoint = Some(*index);
            }
        }
        self.output_records += out.len() as u64;
        self.views.clear();
        self.views.extend(self.engine.coins().map(|c| c.quote_view()));
        let margin = self.engine.margin();
        let equity = margin.equity();
        let margin_use = (equity > 0).then(|| margin.required() as f64 / equity as f64);
        self.quality.observe(now, out, &self.views, margin_use);
        let checkpoint = match checkpoint {
            Some(index) => Some(PendingCheckpoint {
                index,
                input_seq: seq,
                input_recv_ns: now.0,
                engine_state: self.engine.checkpoint().context("serializing the engine state")?,
            }),
            None => None,
        };
        let first = journal.needs_first().then(|| Timestamp(self.engine.summary().first_ns));
        journal.end_input(now.0, checkpoint, first);
        Ok(journal.last_input())
    }

    /// The output digest after every output so far: mid-run, waits for the journal's thread
    /// to chain what it was handed (a live session's status line asks once a second). If the
    /// thread has stopped, the last digest known (its error comes with the next `feed`).
    fn current_digest(&self) -> [u8; 32] {
        let mut journal = self.journal.borrow_mut();
        if let Some(d) = journal.as_mut().and_then(JournalThread::sync) {
            self.digest.set(d);
        }
        self.digest.get()
    }

    /// The summary as it stands (without closing the journal).
    pub fn summary(&self) -> Summary {
        self.summary_with_digest(self.current_digest())
    }

    /// [`Self::summary`] for a status display while inputs are still fed (live's status line
    /// and panel, on the thread that runs the engine): its `output_digest` is the last one the
    /// journal thread reported, not a sync with it, so the engine never waits for the journal.
    pub fn status_summary(&self) -> Summary {
        self.summary_with_digest(self.digest.get())
    }

    fn summary_with_digest(&self, digest: [u8; 32]) -> Summary {
        let engine = self.engine.summary();
        let breakdown = |parts: crate::report::pnl::CoinParts, pnl: &crate::engine::PnlSummary| {
            PnlBreakdown::from_parts(
                parts.spread,
                parts.adverse,
                pnl.realized,
                pnl.unrealized,
                funding_of(pnl),
                pnl.fees,
            )
        };
        let pnl_breakdown_by_coin =
            engine.coins.iter().map(|(c, s)| (c.clone(), breakdown(self.ledger.coin(c), &s.pnl))).collect();
        Summary {
            pnl_breakdown: breakdown(self.ledger.total(), &engine.pnl),
            pnl_breakdown_by_coin,
            max_drawdown: self.ledger.max_drawdown(),
            quality: self.quality.summary(),
            coins_without_book: self
                .coins
                .iter()
                .filter(|c| !self.coins_with_book.contains(*c))
                .cloned()
                .collect(),
            output_digest: hex::encode(digest),
            input_messages: self.input_messages,
            venue: self.venue.name().to_string(),
            seed: self.engine.seed(),
            program_version: crate::PROGRAM_VERSION.to_string(),
            output_records: self.output_records,
            clamped_times: self.clamped_times,
            input_damage: self.input_damage.clone(),
            engine,
            terminal: None,
        }
    }

    /// Closes the journal and writes `summary.json`. The journal ends with a model snapshot of
    /// every coin at the end of the session, so `report` and `validate` read the same kappa,
    /// PnL and model state as `summary.json` (one number per quantity).
    pub fn finish(mut self) -> Result<Summary> {
        let mut terminal = None;
        if let Some(mut j) = self.journal.get_mut().take() {
            j.poll()?;
            let now = self.last_now;
            let finals = self.engine.final_snapshots();
            for o in &finals {
                self.ledger.observe(now, o);
            }
            self.output_records += finals.len() as u64;
            j.outputs().extend(finals);
            let first = j.needs_first().then(|| Timestamp(self.engine.summary().first_ns));
            j.end_input(now.0, None, first);
            let end = j.close()?;
            self.digest.set(end.digest);
            terminal = end.terminal;
        }
        let mut summary = self.summary();
        let json = serde_json::to_string_pretty(&summary).context("serializing summary.json")?;
        std::fs::write(self.dir.join("summary.json"), json + "\n")
            .with_context(|| format!("writing {}/summary.json", self.dir.display()))?;
        if let Some(t) = terminal {
            // The finished session's head, as `report` would read it: its span, digest and
            // quote quality (summary.json), its checkpoint files.
            let head = Session::head(&self.dir)?;
            if head.span("first_ns").is_some() && head.span("last_ns").is_some() {
                summary.terminal = Some(t.finish(&head));
            }
        }
        Ok(summary)
    }
}

/// Writes a checkpoint file into `dir` (`ckpt-INDEX.bin`, zstd-compressed rmp-serde), via a
/// `.part` file and a rename, so a reader never sees half of one.
pub(super) fn write_checkpoint(dir: &Path, ck: &CheckpointFile) -> Result<()> {
    let bytes = rmp_serde::to_vec(ck).context("serializing a checkpoint")?;
    let compressed =
        zstd::encode_all(&bytes[..], CHECKPOINT_ZSTD_LEVEL).context("compressing a checkpoint")?;
    let path = dir.join(format!("ckpt-{:06}.bin", ck.index));
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, compressed).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(())
}

/// One link of the output digest chain.
pub fn chain(state: &[u8; 32], recv_ns: u64, record: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(state);
    h.update(recv_ns.to_le_bytes());
    h.update((record.len() as u32).to_le_bytes());
    h.update(record);
    h.finalize().into()
}

/// The marker file in every session directory this program creates: a directory holding it
/// is ours, so `demo --replace` may replace it; any other non-empty directory is left alone.
pub const SESSION_MARKER: &str = ".paper_trader-session";

/// Writes the marker into a directory this program created for a session or a sweep.
pub fn mark_session_dir(dir: &Path) -> Result<()> {
    let path = dir.join(SESSION_MARKER);
    if path.exists() {
        return Ok(());
    }
    std::fs::write(
        &path,
        "written by paper_trader: a session directory (safe to replace with demo --replace)\n",
    )
    .with_context(|| format!("writing {}", path.display()))
}

/// One input in a trace line: its kind, and for a message its stream and size.
fn describe_input(input: &Input<'_>) -> String {
    match input {
        Input::Message { stream, raw } | Input::Parsed { stream, raw, .. } => {
            format!("message {stream} ({} bytes)", raw.len())
        }
        other => format!("{other:?}"),
    }
}

/// One output as a debug line: orders, fills, markouts, model updates, regime changes.
/// The engine never logs (it is pure); the driver logs what it returned.
fn log_output(now: Timestamp, o: &Output) {
    let t = crate::settings::format_rfc3339(now.0);
    match o {
        Output::OrderPlaced { coin, order_id, side, px, sz, .. } => {
            tracing::debug!("{t} {coin} order {order_id} placed: {side:?} {sz} @ {px}")
        }
        Output::OrderCancelled { coin, order_id, reason, .. } => {
            tracing::debug!("{t} {coin} order {order_id} cancelled ({reason:?})")
        }
        Output::OrderRejected { coin, side, px, sz, reason } => {
            tracing::debug!("{t} {coin} order rejected ({reason:?}): {side:?} {sz} @ {px}")
        }
        Output::Fill { coin, fill_id, order_id, side, px, sz, fee, mid, kind, toxicity, position_after } => {
            tracing::debug!(
                "{t} {coin} fill {fill_id} of order {order_id}: {side:?} {sz} @ {px} (mid {mid}, {kind:?}, fee {:.6}, toxicity {toxicity:.3}) -> position {position_after}",
                *fee as f64 / 1e8
            )
        }
        Output::Markout { coin, fill_id, horizon_s, move_bp, was_adverse, .. } => {
            tracing::debug!("{t} {coin} markout of fill {fill_id} at {horizon_s} s: {move_bp:+.3} bp (adverse {was_adverse:?})")
        }
        Output::Model(m) => tracing::debug!(
            "{t} {} model: mid {} quotes {} / {} position {} kappa {:.4} (conf {:.3}) sigma {:.3} bp toxicity {:.3} cal_gamma {:.3} regime {:?} net {:+.4}",
            m.coin,
            m.mid.map_or("-".to_string(), |p| p.to_string()),
            m.bid_quote.map_or("-".to_string(), |p| p.to_string()),
            m.ask_quote.map_or("-".to_string(), |p| p.to_string()),
            m.position,
            m.kappa,
            m.kappa_confidence,
            m.sigma_bp,
            m.toxicity,
            m.cal_gamma,
            m.regime,
            m.pnl_realized + m.pnl_unrealized - m.pnl_fees
        ),
        Output::RegimeChange { coin, from, to, vol_ratio } => {
            tracing::debug!("{t} {coin} regime {from:?} -> {to:?} (vol ratio {vol_ratio:.3})")
        }
        Output::BookValidity { coin, valid } => tracing::debug!("{t} {coin} book valid: {valid}"),
        Output::Anomaly { coin, kind, detail, seq } => {
            tracing::debug!("{t} anomaly {kind:?} at input {seq} ({}): {detail}", coin.as_deref().unwrap_or("-"))
        }
        other => tracing::trace!("{t} {other:?}"),
    }
}
