//! `live`: a paper session. The engine runs on this thread through the same
//! [`SessionRunner`] as `replay`, fed by the live pipeline ([`super::run`]); the inputs are
//! recorded under `SESSION/inputs/` with the full engine configuration and seed in the header,
//! so `replay SESSION/inputs --out S2` reproduces the session with no further flags.

use super::{InputRecorder, LiveEngine, LiveReport};
use crate::commands::live_cmds::LiveArgs;
use crate::commands::{exit, CmdResult};
use crate::drivers::record::RecorderThread;
use crate::drivers::session::{InputDesc, SessionRunner, Summary};
use crate::engine::{EngineConfig, Input};
use crate::log::{Header, WriterOptions};
use crate::types::Timestamp;
use crate::venue::Venue;
use anyhow::Context;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The session runner as the live driver's engine.
pub struct RunnerEngine {
    runner: SessionRunner,
    /// Checklist items already announced as passing (each is logged once, when it first passes).
    announced: RefCell<BTreeSet<String>>,
}

impl LiveEngine for RunnerEngine {
    fn feed(&mut self, now: Timestamp, seq: u64, input: Input<'_>) -> anyhow::Result<()> {
        self.runner.feed(now, seq, input).map(|_| ())
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        self.runner.engine().next_deadline()
    }
    fn status(&self) -> String {
        let summary = self.runner.summary();
        let mut announced = self.announced.borrow_mut();
        for item in summary.engine.checklist.iter().filter(|i| i.pass) {
            if announced.insert(item.name.clone()) {
                tracing::info!("checklist: {} passes ({})", item.label, item.value);
            }
        }
        status_line(&summary)
    }
}

/// The seed's validation items as they stand: fills, PnL, kappa and its confidence, toxicity,
/// calibration progress, cal_gamma, regime, and the checklist items passed so far.
pub fn status_line(s: &Summary) -> String {
    let e = &s.engine;
    let coin = e.coins.values().next();
    let passed = e.checklist.iter().filter(|c| c.pass).count();
    format!(
        "fills {} | pnl {:.2} (unreal {:.2}, fees {:.2}) | kappa {:.3} conf {:.2} | AS {}/{} | cal {:.2} gamma {:.2} | regime {} | checklist {passed}/{}",
        e.fills,
        e.pnl.realized,
        e.pnl.unrealized,
        e.pnl.fees,
        e.kappa,
        e.kappa_confidence,
        e.adverse_markouts,
        e.markouts,
        e.calibration_progress,
        e.cal_gamma,
        coin.map_or("-".to_string(), |c| format!("{:?}", c.regime)),
        e.checklist.len(),
    )
}

/// Everything a live session needs, resolved from the flags.
pub struct SessionSetup {
    pub config: EngineConfig,
    pub seed: u64,
    pub venue: Venue,
    pub coins: Vec<String>,
    pub url: String,
}

impl SessionSetup {
    pub fn from_args(args: &LiveArgs) -> anyhow::Result<SessionSetup> {
        let (mut config, config_seed) = match &args.config {
            Some(p) => {
                let file = crate::commands::config_file::load(p)?;
                (file.config, file.seed)
            }
            None => (EngineConfig::default(), None),
        };
        let coins: Vec<String> = args.feed.coin_names();
        // The recorded configuration names the traded coins, so that a replay trades the same.
        config.engine.coins = coins.clone();
        let venue = args.feed.venue;
        let seed = args.seed.or(config_seed).unwrap_or(0);
        Ok(SessionSetup { config, seed, venue, coins, url: args.feed.url() })
    }
}

/// Creates the session directory and runs the live pipeline into it; returns the summary and
/// the driver's report (also written to `SESSION/live.json`).
pub fn run_session(
    setup: SessionSetup,
    out: &Path,
    protocol: Box<dyn crate::drivers::ws_client::VenueProtocol>,
    opts: &super::LiveOptions,
    writer_opts: WriterOptions,
    stop: Arc<AtomicBool>,
    progress: &mut dyn FnMut(&LiveReport),
) -> anyhow::Result<(Summary, LiveReport)> {
    // The engine runs with the configuration exactly as the recording will hold it.
    let config_toml = setup.config.to_toml();
    let config = EngineConfig::from_toml(&config_toml).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let input = InputDesc { source: format!("live:{}", setup.url), resumed_from: None };
    let runner = SessionRunner::create(out, config, setup.seed, setup.venue, &setup.coins, input)?;
    let header = Header {
        venue: setup.venue.name().to_string(),
        coins: setup.coins.clone(),
        program_version: crate::PROGRAM_VERSION.to_string(),
        created_by: "live".to_string(),
        engine_config: Some(config_toml),
        seed: Some(setup.seed),
        synth: None,
    };
    let recorder: Box<dyn InputRecorder> =
        Box::new(RecorderThread::spawn(&out.join("inputs"), header, writer_opts)?);
    let mut engine = RunnerEngine { runner, announced: RefCell::new(BTreeSet::new()) };
    let report = super::run(protocol, opts, &mut engine, recorder, stop, progress)?;
    let summary = engine.runner.finish()?;
    let live_json = serde_json::json!({
        "url": setup.url,
        "records": report.records,
        "messages": report.messages,
        "ticks": report.ticks,
        "connects": report.connects,
        "disconnects": report.disconnects,
        "gaps": report.gaps,
        "dropped": report.dropped,
        "feed_queue_high_water": report.feed_queue_high_water,
        "recorder_backlog_high_water": report.recorder_backlog_high_water,
        "latency_ns": {
            "p50": report.latency.quantile_ns(0.5),
            "p99": report.latency.quantile_ns(0.99),
            "max": report.latency.max_ns(),
            "count": report.latency.count(),
        },
        "engine_latency_ns": {
            "p50": report.engine_latency.quantile_ns(0.5),
            "p99": report.engine_latency.quantile_ns(0.99),
            "max": report.engine_latency.max_ns(),
        },
        "elapsed_s": report.elapsed.as_secs_f64(),
    });
    std::fs::write(out.join("live.json"), serde_json::to_string_pretty(&live_json)? + "\n")
        .with_context(|| format!("writing {}/live.json", out.display()))?;
    Ok((summary, report))
}

pub fn run_command(args: &LiveArgs) -> CmdResult {
    let setup = SessionSetup::from_args(args)?;
    if args.print_config {
        print!("{}", crate::engine::keys::annotated_toml(&setup.config, "live"));
        return Ok(exit::OK);
    }
    let out = args.out.clone().context("--out is required")?;
    let mut opts = args.feed.options(setup.seed)?;
    if setup.config.live.stale_after_ms > 0 {
        opts.stale_after = Some(std::time::Duration::from_millis(setup.config.live.stale_after_ms));
    }
    let stop = crate::commands::live_cmds::stop_on_signal();
    let mut progress = crate::commands::live_cmds::progress_printer();
    let (summary, report) = run_session(
        setup,
        &out,
        args.feed.protocol()?,
        &opts,
        WriterOptions::default(),
        stop,
        &mut progress,
    )?;
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }
    tracing::info!("session {} done: {}", out.display(), report.line());
    println!(
        "{}: {} inputs, {} fills, output_digest {}",
        out.display(),
        summary.input_messages,
        summary.engine.fills,
        summary.output_digest
    );
    if report.messages == 0 {
        eprintln!(
            "error: no market data arrived from {} in {:.1} s ({} connections made): the session in {} is empty. Check --url and --venue, and that the venue is reachable",
            args.feed.url(),
            report.elapsed.as_secs_f64(),
            report.connects,
            out.display()
        );
        return Ok(exit::FAILURE);
    }
    Ok(exit::OK)
}
