//! The replay driver: a recording through the engine via the [`SessionRunner`], streaming
//! (one record in memory at a time), as fast as possible or paced.

use super::clock::{Pacer, Stopwatch};
use super::session::{InputDamage, InputDesc, SessionRunner, Summary};
use crate::commands::args::{Speed, TimeArg};
use crate::engine::{EngineConfig, Input};
use crate::log::{Body, Control, Header, IssueKind, LogReader};
use crate::types::Timestamp;
use crate::venue::Venue;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Settings of one replay, validated by the command.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub config: Option<EngineConfig>,
    /// `key=value` overrides applied on top of the configuration.
    pub overrides: Vec<(String, String)>,
    pub seed: Option<u64>,
    pub coins: Option<Vec<String>>,
    pub venue: Option<Venue>,
    pub from: Option<TimeArg>,
    pub to: Option<TimeArg>,
    pub speed: Speed,
    pub resume: Option<PathBuf>,
    pub out: PathBuf,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Replay around corruption in the recording (the engine sees a gap there) instead of
    /// stopping at it.
    pub accept_damage: bool,
}

impl ReplayOptions {
    pub fn new(out: &Path) -> ReplayOptions {
        ReplayOptions {
            config: None,
            overrides: vec![],
            seed: None,
            coins: None,
            venue: None,
            from: None,
            to: None,
            speed: Speed::Max,
            resume: None,
            out: out.to_path_buf(),
            progress: false,
            accept_damage: false,
        }
    }
}

/// The configuration, seed and coins a replay runs with: flags first, then what a live
/// session's recording holds, then the defaults (`CLI.md`).
pub fn resolve(header: &Header, opts: &ReplayOptions) -> Result<(EngineConfig, u64, Vec<String>, Venue)> {
    let venue = match opts.venue {
        Some(v) => v,
        None => Venue::from_name(&header.venue).with_context(|| {
            format!("the recording names venue '{}', which this build does not know", header.venue)
        })?,
    };
    let recorded = header.engine_config.as_deref();
    let mut config = match (&opts.config, recorded) {
        (Some(c), _) => c.clone(),
        (None, Some(text)) => EngineConfig::from_toml(text)
            .context("the recording's own engine configuration does not parse")?,
        (None, None) => EngineConfig::default(),
    };
    for (k, v) in &opts.overrides {
        config.set(k, v)?;
    }
    // A synthetic recording's header seed is the generator's, not an engine seed: only a
    // recording that carries an engine configuration (a live session's inputs) supplies one.
    let seed = opts.seed.or(if recorded.is_some() { header.seed } else { None }).unwrap_or(0);
    let coins = match &opts.coins {
        Some(c) => c.clone(),
        None if !config.engine.coins.is_empty() => config.engine.coins.clone(),
        None => header.coins.clone(),
    };
    Ok((config, seed, coins, venue))
}

/// Replays `rec` into a new session; returns the summary (also written to summary.json).
pub fn run_replay(rec: &Path, opts: &ReplayOptions) -> Result<Summary> {
    let mut reader = LogReader::open(rec)?;
    let header = reader.header().clone();
    let source = rec.display().to_string();
    let (mut runner, resume_after) = match &opts.resume {
        Some(ck) => {
            let (runner, seq, recv_ns) = SessionRunner::resume(ck, &opts.out, &source)?;
            reader.seek_time(recv_ns)?;
            (runner, Some(seq))
        }
        None => {
            let (config, seed, coins, venue) = resolve(&header, opts)?;
            let input = InputDesc { source, resumed_from: None };
            (SessionRunner::create(&opts.out, config, seed, venue, &coins, input)?, None)
        }
    };
    let mut first_ns = None;
    let mut from_ns = None;
    let mut to_ns = None;
    let mut pacer = Pacer::new(opts.speed);
    let progress = Progress::new(opts.progress);
    let watch = Stopwatch::start();
    let mut n = 0u64;
    let mut damage = DamageTracker::default();
    while let Some(rec) = reader.next_record() {
        damage.poll(&reader);
        let lost = damage.check(rec.seq);
        if lost > 0 && damage.stop_here(opts.accept_damage) {
            break;
        }
        if let Some(after) = resume_after {
            if rec.seq <= after {
                continue;
            }
        }
        let start = *first_ns.get_or_insert(rec.recv_ns);
        let from = *from_ns.get_or_insert_with(|| opts.from.map(|t| t.resolve(start)));
        let to = *to_ns.get_or_insert_with(|| opts.to.map(|t| t.resolve(start)));
        if from.is_some_and(|f| rec.recv_ns < f) {
            continue;
        }
        if to.is_some_and(|t| rec.recv_ns > t) {
            break;
        }
        let input = match &rec.body {
            Body::Message(raw) => Input::Message { stream: reader.stream_name(rec.stream), raw },
            Body::Control(Control::Connect { .. }) => Input::Connect,
            Body::Control(Control::Disconnect { .. }) => Input::Disconnect,
            Body::Control(Control::Gap { .. }) => Input::Gap,
            Body::Control(Control::Tick) => Input::Tick,
            Body::Control(Control::Stale { .. }) => Input::Stale,
            Body::Control(Control::Subscribe { .. } | Control::End) => continue,
        };
        pacer.wait_until(rec.recv_ns);
        if lost > 0 {
            // Records are missing here: the engine sees a gap (books invalid, quotes pulled),
            // numbered with the first lost sequence number, which no record will use.
            runner.feed(Timestamp(rec.recv_ns), rec.seq - lost, Input::Gap)?;
        }
        runner.feed(Timestamp(rec.recv_ns), rec.seq, input)?;
        n += 1;
        if n % 8192 == 0 {
            progress.update(n, rec.recv_ns, watch.secs());
        }
    }
    progress.finish();
    damage.poll(&reader);
    runner.note_input_damage(damage.damage);
    runner.finish()
}

/// Follows the reader's issues and the records' sequence numbers: each issue becomes an
/// `input_damage` entry (and a warning naming file and byte); a jump in sequence numbers is
/// where records were lost, charged to the corruption reported before it.
#[derive(Default)]
struct DamageTracker {
    seen: usize,
    damage: Vec<InputDamage>,
    /// The latest corruption not yet matched with the records it lost.
    unmatched: Option<usize>,
    expected: Option<u64>,
}

impl DamageTracker {
    fn poll(&mut self, reader: &LogReader) {
        for i in &reader.issues()[self.seen..] {
            let corrupt = i.kind == IssueKind::Corrupt;
            tracing::warn!("input damage: {i}");
            if corrupt {
                self.unmatched = Some(self.damage.len());
            }
            self.damage.push(InputDamage {
                file: i.path.display().to_string(),
                byte: i.offset,
                records_lost: 0,
                kind: if corrupt { "corrupt" } else { "torn_tail" }.to_string(),
                detail: i.detail.clone(),
            });
        }
        self.seen = reader.issues().len();
    }

    /// Records missing before the record numbered `seq`.
    fn check(&mut self, seq: u64) -> u64 {
        let lost = match self.expected {
            Some(e) if seq > e => seq - e,
            _ => 0,
        };
        self.expected = Some(seq.saturating_add(1));
        if lost > 0 {
            match self.unmatched.take() {
                Some(i) => self.damage[i].records_lost += lost,
                None => tracing::warn!(
                    "input damage: {lost} records missing before record {seq} (lost to damage before the recording was repaired)"
                ),
            }
        }
        lost
    }

    /// Whether to stop where corruption lost records: unless the user accepted the damage.
    fn stop_here(&self, accept_damage: bool) -> bool {
        !accept_damage && self.damage.iter().any(|d| d.kind == "corrupt")
    }
}

/// A progress line on stderr when it is a terminal (indicatif hides itself otherwise).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(show: bool) -> Progress {
        if !show {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} replay {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        Progress(Some(bar))
    }
    fn update(&self, inputs: u64, recv_ns: u64, secs: f64) {
        if let Some(b) = &self.0 {
            let rate = if secs > 0.0 { inputs as f64 / secs } else { 0.0 };
            b.set_message(format!(
                "{inputs} inputs, at {}, {rate:.0} inputs/s",
                crate::commands::args::format_rfc3339(recv_ns)
            ));
            b.tick();
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
