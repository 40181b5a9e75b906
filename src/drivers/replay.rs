//! The replay driver: a recording through the engine via the [`SessionRunner`], streaming
//! (one record in memory at a time), as fast as possible or paced.

use super::clock::{Pacer, Stopwatch};
use super::parse_ahead::{walk_parsed_ahead, WalkFn};
use super::session::{InputDamage, InputDesc, SessionRunner, Summary};
use crate::engine::{EngineConfig, Input};
use crate::log::import::{self, ImportFormat};
use crate::log::{Ahead, Body, Control, Header, Issue, IssueKind, LogReader, ReadAhead, Record, RecordWork};
use crate::settings::{Speed, TimeArg};
use crate::types::Timestamp;
use crate::venue::{Parsed, PreParser, Venue};
use anyhow::{Context, Result};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// Stop before the next input once this is set (a caller's Ctrl-C, e.g. the Python
    /// binding's signal watcher): the session is finished where it stopped.
    pub stop: Option<Arc<AtomicBool>>,
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
            stop: None,
        }
    }
}

/// The configuration, seed and coins a replay runs with: flags first, then what a live
/// session's recording holds, then the defaults (`CLI.md`).
pub fn resolve(header: &Header, opts: &ReplayOptions) -> Result<(EngineConfig, u64, Vec<String>, Venue)> {
    let venue = match opts.venue {
        Some(v) => v,
        None if header.venue.is_empty() => anyhow::bail!(
            "the recording names no venue (its header is damaged: see `paper_trader verify`); pass --venue"
        ),
        None => Venue::from_name(&header.venue).with_context(|| {
            format!("the recording names venue '{}', which this build does not know", header.venue)
        })?,
    };
    let recorded = header.engine_config.as_deref();
    let config = resolve_config(Some(header), opts)?;
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

/// The configuration a replay runs with: `--config`, else the recording's own (a live
/// session's inputs), else the defaults; then the `--set` overrides.
pub fn resolve_config(header: Option<&Header>, opts: &ReplayOptions) -> Result<EngineConfig> {
    let recorded = header.and_then(|h| h.engine_config.as_deref());
    let mut config = match (&opts.config, recorded) {
        (Some(c), _) => c.clone(),
        (None, Some(text)) => EngineConfig::from_toml(text)
            .context("the recording's own engine configuration does not parse")?,
        (None, None) => EngineConfig::default(),
    };
    // Every --set is applied, then the whole is validated once (their order never matters).
    config.apply_overrides(&opts.overrides)?;
    Ok(config)
}

/// Replays `rec` into a new session; returns the summary (also written to summary.json).
pub fn run_replay(rec: &Path, opts: &ReplayOptions) -> Result<Summary> {
    let mut reader = LogReader::open(rec)?;
    let header = reader.header().clone();
    let (mut runner, resume_after) = start(&header, &rec.display().to_string(), opts)?;
    if let Some((_, recv_ns)) = resume_after {
        reader.seek_time(recv_ns)?;
    }
    let mut feeder = Feeder::new(opts, resume_after.map(|r| r.0));
    if resume_after.is_some() {
        // `--from`/`--to +offset` count from the recording's start, in a resumed run too (not
        // from the checkpoint's position): the first record the full run fed.
        let mut head = LogReader::open(rec)?;
        feeder.first_ns = std::iter::from_fn(|| head.next_record())
            .find(|r| !matches!(r.body, Body::Control(Control::Subscribe { .. } | Control::End)))
            .map(|r| r.recv_ns);
    }
    // Reading, decompression, checksums and record decoding run on the read-ahead thread;
    // this (the engine's) thread sees the same records, issues and stream names in the same
    // order as from `reader.next_record()` (see `log::ahead`).
    //
    // The stateless half of the venue's parse of each message runs there too
    // (`venue::preparse`, a pure function of the bytes: the engine makes of it exactly what it
    // makes of the bytes), so the JSON scan is off the engine's thread.
    let work = PreParse { parser: PreParser::new(runner.engine().venue()), boxes: Vec::new() };
    let mut ahead = ReadAhead::spawn_with(reader, work).context("starting the log read-ahead thread")?;
    let mut streams: Vec<String> = Vec::new();
    let mut damage = DamageTracker::default();
    while let Some(step) = ahead.next_step().context("reading the recording")? {
        let rec = match step {
            Ahead::Issue(i) => {
                damage.note(i);
                continue;
            }
            Ahead::Streams(s) => {
                streams = s;
                continue;
            }
            Ahead::Record(r, p) => (r, p),
            Ahead::End => break,
        };
        let (rec, parsed) = rec;
        let lost = damage.check(rec.seq);
        if lost > 0 && damage.stop_here(opts.accept_damage) {
            break;
        }
        let input = match &rec.body {
            Body::Message(raw) => {
                let stream = streams.get(usize::from(rec.stream)).map_or("unknown", String::as_str);
                Input::Parsed { stream, raw, parsed: &parsed }
            }
            Body::Control(Control::Connect { .. }) => Input::Connect,
            Body::Control(Control::Disconnect { .. }) => Input::Disconnect,
            Body::Control(Control::Gap { .. }) => Input::Gap,
            Body::Control(Control::Tick) => Input::Tick,
            Body::Control(Control::Stale { .. }) => Input::Stale,
            Body::Control(Control::Subscribe { .. } | Control::End) => continue,
        };
        if lost > 0 {
            // Records are missing here: the engine sees a gap (books invalid, quotes pulled),
            // numbered with the first lost sequence number, which no record will use.
            if feeder.feed(&mut runner, rec.seq - lost, rec.recv_ns, Input::Gap)?.is_break() {
                break;
            }
        }
        if feeder.feed(&mut runner, rec.seq, rec.recv_ns, input)?.is_break() {
            break;
        }
        ahead.give_back(rec, parsed);
    }
    // Stopped early, the issues read ahead are dropped with the thread: a synchronous reader
    // would not have met them.
    drop(ahead);
    feeder.progress.finish();
    runner.note_input_damage(damage.damage);
    runner.finish()
}

/// The stateless half of the venue's parse of each message, on the read-ahead thread. Each
/// result is in a box of its own, recycled with the buffers inside it: a record's result is
/// then written once and moved as a pointer (a decoded message is ~100 bytes).
struct PreParse {
    parser: PreParser,
    #[allow(clippy::vec_box)] // the boxes themselves are what is recycled
    boxes: Vec<Box<Parsed>>,
}

impl RecordWork for PreParse {
    type Out = Box<Parsed>;
    fn on_record(&mut self, stream: &str, rec: &Record) -> Box<Parsed> {
        let mut b = self.boxes.pop().unwrap_or_default();
        *b = match &rec.body {
            Body::Message(raw) => self.parser.parse(stream, raw),
            Body::Control(_) => Parsed::Not,
        };
        b
    }
    fn recycle(&mut self, mut out: Box<Parsed>) {
        self.parser.recycle(std::mem::take(&mut *out));
        // About the records in flight between the threads.
        if self.boxes.len() < 8192 {
            self.boxes.push(out);
        }
    }
}

/// A capture in a foreign format, replayed without importing it first.
#[derive(Clone, Debug)]
pub struct Capture {
    pub format: ImportFormat,
    /// The venue the user named (`--venue`); `None` detects it from the messages.
    pub venue: Option<import::Venue>,
    pub inputs: Vec<PathBuf>,
}

/// Replays a capture straight from its file(s), streaming: the engine sees exactly the
/// records `import` would write (the same code produces them, [`import::for_each_record`]),
/// with the sequence numbers the recording would give them, so the session and its
/// `output_digest` are those of `import` + `replay`, without writing the recording.
///
/// The header (venue, coins) needs the whole file, but is guessed from its first lines
/// ([`import::prefix_header`]) and checked by the whole-file first pass, made in the same
/// walk beside the engine ([`import::for_each_record_checked`]). Before
/// `finish` writes summary.json the check is settled: the true header equal to the guess,
/// the session is the one import + replay gives; otherwise (or on an error of the first
/// pass, which an import would have hit before writing anything) what this run created is
/// removed and the capture replayed with the true header, or the error returned.
pub fn run_replay_capture(capture: &Capture, opts: &ReplayOptions) -> Result<Summary> {
    let Some((venue, guess)) = import::prefix_header(capture.format, capture.venue, &capture.inputs) else {
        return replay_capture_checked_first(capture, opts);
    };
    let created = Created::before(&opts.out);
    let source = capture_source(capture);
    let (mut runner, resume_after) = match start(&guess, &source, opts) {
        Ok(r) => r,
        Err(_) => {
            // Refused with the guessed header: whatever the true one gives, it decides.
            created.discard()?;
            return replay_capture_checked_first(capture, opts);
        }
    };
    let mut feeder = Feeder::new(opts, resume_after.map(|r| r.0));
    let mut failed = None;
    let engine_venue = runner.engine().venue();
    let walk = |f: &mut WalkFn<'_>| {
        let mut stats = import::ImportStats::default();
        import::for_each_record_checked(capture.format, venue, &capture.inputs, &guess, &mut stats, f)
    };
    let (pass, _) = walk_parsed_ahead(engine_venue, walk, feed_each(&mut feeder, &mut runner, &mut failed))
        .context("starting the capture-parse thread")?;
    feeder.progress.finish();
    let truth = pass.and_then(|fp| fp.header(capture.venue));
    match truth {
        Ok((v, header)) if v == venue && header == guess => {
            if let Some(e) = failed {
                return Err(e);
            }
            runner.finish()
        }
        Ok((v, header)) => {
            tracing::debug!(
                "the capture's first lines named {:?}, the whole {:?}: replaying again",
                guess.coins,
                header.coins
            );
            drop(runner);
            created.discard()?;
            replay_capture_with(capture, opts, v, &header)
        }
        Err(e) => {
            drop(runner);
            created.discard()?;
            Err(e.into())
        }
    }
}

/// The consumer of `import`'s record walk, parsed ahead ([`walk_parsed_ahead`]): feeds each
/// record to the session, numbered from 0 as the recording would number it; a feed that
/// fails stops the walk, its error kept in `failed`.
fn feed_each<'a>(
    feeder: &'a mut Feeder,
    runner: &'a mut SessionRunner,
    failed: &'a mut Option<anyhow::Error>,
) -> impl FnMut(u64, &str, &[u8], &Parsed) -> ControlFlow<()> + 'a {
    let mut seq = 0u64;
    move |ns, stream, raw, parsed| {
        let flow = feeder.feed(runner, seq, ns, Input::Parsed { stream, raw, parsed });
        seq += 1;
        flow.unwrap_or_else(|e| {
            *failed = Some(e);
            ControlFlow::Break(())
        })
    }
}

/// The capture's name in session.toml: its inputs, comma-separated.
fn capture_source(capture: &Capture) -> String {
    capture.inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(",")
}

/// [`run_replay_capture`] the plain way: a whole first pass for the header, then the replay.
pub fn replay_capture_checked_first(capture: &Capture, opts: &ReplayOptions) -> Result<Summary> {
    let (venue, header) = import::capture_header(capture.format, capture.venue, &capture.inputs)?;
    replay_capture_with(capture, opts, venue, &header)
}

/// Replays a capture whose true header is known.
fn replay_capture_with(
    capture: &Capture,
    opts: &ReplayOptions,
    venue: import::Venue,
    header: &Header,
) -> Result<Summary> {
    let (mut runner, resume_after) = start(header, &capture_source(capture), opts)?;
    let mut feeder = Feeder::new(opts, resume_after.map(|r| r.0));
    let mut failed = None;
    let engine_venue = runner.engine().venue();
    let walk = |f: &mut WalkFn<'_>| {
        let mut stats = import::ImportStats::default();
        import::for_each_record(capture.format, venue, &capture.inputs, header, &mut stats, f)
    };
    let (walked, broke) =
        walk_parsed_ahead(engine_venue, walk, feed_each(&mut feeder, &mut runner, &mut failed))
            .context("starting the capture-parse thread")?;
    if let Some(e) = failed {
        return Err(e);
    }
    // Stopped early (`--to`, the stop flag), the walk may have read ahead into an error that
    // a walk stopped at the same record never met.
    if !broke {
        walked?;
    }
    feeder.progress.finish();
    runner.finish()
}

/// What a session's directory held before a run, so that a run whose result is thrown away
/// removes exactly what it created: the directory itself (and any parents it made), or the
/// entries that were not there (a live session's directory may hold its inputs/).
struct Created {
    /// The outermost missing directory on the way to `out`, when `out` did not exist.
    root: Option<PathBuf>,
    out: PathBuf,
    had: std::collections::BTreeSet<std::ffi::OsString>,
}

impl Created {
    fn before(out: &Path) -> Created {
        let mut root = None;
        let mut p = Some(out);
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            root = Some(d.to_path_buf());
            p = d.parent();
        }
        let had = match root {
            Some(_) => Default::default(),
            None => std::fs::read_dir(out)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
                .unwrap_or_default(),
        };
        Created { root, out: out.to_path_buf(), had }
    }

    fn discard(&self) -> Result<()> {
        let remove = |p: &Path| {
            let r = if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
            match r {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {} (a replay thrown away)", p.display()))
                }
                _ => Ok(()),
            }
        };
        if let Some(root) = &self.root {
            return remove(root);
        }
        let Ok(rd) = std::fs::read_dir(&self.out) else { return Ok(()) };
        for e in rd.flatten() {
            if !self.had.contains(&e.file_name()) {
                remove(&e.path())?;
            }
        }
        Ok(())
    }
}

/// The session runner for a recording with `header` (fresh, or resumed from a checkpoint:
/// then also the input position to continue after).
fn start(header: &Header, source: &str, opts: &ReplayOptions) -> Result<(SessionRunner, Option<(u64, u64)>)> {
    Ok(match &opts.resume {
        Some(ck) => {
            // The flags' configuration, if they give one, must name the checkpoint's strategy.
            let want = if opts.config.is_some() || !opts.overrides.is_empty() {
                Some(resolve(header, opts)?.0.strategy.kind)
            } else {
                None
            };
            let (runner, seq, recv_ns) = SessionRunner::resume(ck, &opts.out, source, want.as_deref())?;
            (runner, Some((seq, recv_ns)))
        }
        None => {
            let (config, seed, coins, venue) = resolve(header, opts)?;
            let input = InputDesc { source: source.to_string(), resumed_from: None };
            (SessionRunner::create(&opts.out, config, seed, venue, &coins, input)?, None)
        }
    })
}

/// What a replay does with each record, whatever it is read from: resume position, the
/// `--from`/`--to` window, pacing, progress.
struct Feeder {
    resume_after: Option<u64>,
    first_ns: Option<u64>,
    from_ns: Option<Option<u64>>,
    to_ns: Option<Option<u64>>,
    from: Option<TimeArg>,
    to: Option<TimeArg>,
    pacer: Pacer,
    progress: Progress,
    watch: Stopwatch,
    n: u64,
    stop: Option<Arc<AtomicBool>>,
}

impl Feeder {
    fn new(opts: &ReplayOptions, resume_after: Option<u64>) -> Feeder {
        Feeder {
            resume_after,
            first_ns: None,
            from_ns: None,
            to_ns: None,
            from: opts.from,
            to: opts.to,
            pacer: Pacer::new(opts.speed),
            progress: Progress::new(opts.progress),
            watch: Stopwatch::start(),
            n: 0,
            stop: opts.stop.clone(),
        }
    }

    /// Feeds one record; breaks past `--to` and once the stop flag is set.
    fn feed(
        &mut self,
        runner: &mut SessionRunner,
        seq: u64,
        recv_ns: u64,
        input: Input<'_>,
    ) -> Result<ControlFlow<()>> {
        if self.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            return Ok(ControlFlow::Break(()));
        }
        if self.resume_after.is_some_and(|after| seq <= after) {
            return Ok(ControlFlow::Continue(()));
        }
        let start = *self.first_ns.get_or_insert(recv_ns);
        let from = *self.from_ns.get_or_insert_with(|| self.from.map(|t| t.resolve(start)));
        let to = *self.to_ns.get_or_insert_with(|| self.to.map(|t| t.resolve(start)));
        if from.is_some_and(|f| recv_ns < f) {
            return Ok(ControlFlow::Continue(()));
        }
        if to.is_some_and(|t| recv_ns > t) {
            return Ok(ControlFlow::Break(()));
        }
        self.pacer.wait_until(recv_ns);
        runner.feed(Timestamp(recv_ns), seq, input)?;
        self.n += 1;
        if self.n % 8192 == 0 {
            self.progress.update(self.n, recv_ns, self.watch.secs());
        }
        Ok(ControlFlow::Continue(()))
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
                crate::settings::format_rfc3339(recv_ns)
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

/// Follows the reader's issues and the records' sequence numbers: each issue becomes an
/// `input_damage` entry (and a warning naming file and byte); a jump in sequence numbers is
/// where records were lost, charged to the corruption reported before it.
#[derive(Default)]
struct DamageTracker {
    damage: Vec<InputDamage>,
    /// The latest corruption not yet matched with the records it lost.
    unmatched: Option<usize>,
    expected: Option<u64>,
}

impl DamageTracker {
    /// One issue of the reader, in the order met (before the records decoded after it).
    fn note(&mut self, i: Issue) {
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
            detail: i.detail,
        });
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
