//! `live`: a paper session. The engine runs on this thread through the same
//! [`SessionRunner`] as `replay`, fed by the live pipeline ([`super::run`]); the inputs are
//! recorded under `SESSION/inputs/` with the full engine configuration and seed in the header,
//! so `replay SESSION/inputs --out S2` reproduces the session with no further flags.

use super::{InputRecorder, LiveEngine, LiveReport};
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

/// Exchange event times running this many times faster than receive time mean an accelerated
/// feed (`serve --speed Nx`): the engine's clock (receive time) is compressed.
pub const ACCELERATED_SPEED: f64 = 1.5;
/// Receive time over which the speed is measured before it is judged.
pub const SPEED_WINDOW_NS: u64 = 5_000_000_000;

/// One coin's exchange event time against receive time, from its quote view's feed delay
/// (receive - exchange time of its last market event).
#[derive(Clone, Debug, Default)]
pub struct SpeedWatch {
    last_delay: Option<i64>,
    /// (receive ns, exchange ns) of the first event since the connection began.
    anchor: Option<(u64, i64)>,
    /// Exchange time elapsed over receive time elapsed since the anchor (after the window).
    pub speed: Option<f64>,
    warned: bool,
}

impl SpeedWatch {
    /// The coin's feed delay after an input at `now` (`None`: no event yet, or reconnected).
    /// Returns the speed when it first crosses [`ACCELERATED_SPEED`].
    pub fn observe(&mut self, now: Timestamp, delay: Option<i64>) -> Option<f64> {
        let Some(d) = delay else {
            self.last_delay = None;
            self.anchor = None;
            return None;
        };
        if self.last_delay == Some(d) {
            return None;
        }
        // A new event of this coin: this input carried it, so its receive time is `now`.
        self.last_delay = Some(d);
        let exch = (now.0 as i64).saturating_sub(d);
        let (r0, e0) = *self.anchor.get_or_insert((now.0, exch));
        let dr = now.0.saturating_sub(r0);
        if dr < SPEED_WINDOW_NS {
            return None;
        }
        let speed = exch.saturating_sub(e0) as f64 / dr as f64;
        self.speed = Some(speed);
        (speed > ACCELERATED_SPEED && !std::mem::replace(&mut self.warned, true)).then_some(speed)
    }
}

/// The session runner as the live driver's engine.
pub struct RunnerEngine {
    runner: SessionRunner,
    /// Checklist items already announced as passing (each is logged once, when it first passes).
    announced: RefCell<BTreeSet<String>>,
    coins: Vec<String>,
    speed: Vec<SpeedWatch>,
    /// The status summary and the input count it was made at: the status line and the panel
    /// are drawn one after the other, from one summary.
    status: RefCell<Option<(u64, Summary)>>,
}

impl RunnerEngine {
    /// The summary as it stands for the status display (made at most once per input count;
    /// never a wait for the journal thread: [`SessionRunner::status_summary`]).
    fn with_status<R>(&self, f: impl FnOnce(&Summary) -> R) -> R {
        let mut cached = self.status.borrow_mut();
        let inputs = self.runner.input_messages();
        if cached.as_ref().map_or(true, |(at, _)| *at != inputs) {
            *cached = Some((inputs, self.runner.status_summary()));
        }
        let (_, summary) = cached.as_ref().expect("just made");
        f(summary)
    }
}

impl LiveEngine for RunnerEngine {
    fn feed(&mut self, now: Timestamp, seq: u64, input: Input<'_>) -> anyhow::Result<()> {
        self.runner.feed(now, seq, input)?;
        for (k, v) in self.runner.views().iter().enumerate() {
            let Some(w) = self.speed.get_mut(k) else { break };
            if let Some(speed) = w.observe(now, v.feed_delay_ns) {
                tracing::warn!(
                    "{}: the exchange's event times run {speed:.1}x faster than receive time (an accelerated `serve --speed`?): the engine's clock is receive time, so the session is compressed: latencies, markout horizons and rates per second are not what the venue would give",
                    self.coins[k]
                );
            }
        }
        Ok(())
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        self.runner.engine().next_tick()
    }
    fn status(&self) -> String {
        self.with_status(|summary| {
            let mut announced = self.announced.borrow_mut();
            for item in summary.engine.checklist.iter().filter(|i| i.pass) {
                if announced.insert(item.name.clone()) {
                    tracing::info!("checklist: {} passes ({})", item.label, item.value);
                }
            }
            status_line(summary)
        })
    }
    fn panel(&self) -> Vec<String> {
        self.with_status(|summary| panel_lines(summary, &self.coins, self.runner.views()))
    }
}

/// A price, or "-".
fn px(p: Option<crate::types::Price>) -> String {
    p.map_or("-".to_string(), |p| p.to_string())
}

/// Our quote against the touch on one side: the price and how far behind the touch it rests (bp).
fn against_touch(
    ours: Option<crate::types::Price>,
    touch: Option<crate::types::Price>,
    mid: Option<crate::types::Price>,
) -> String {
    match (ours, touch, mid) {
        (Some(o), Some(t), Some(m)) if m.0 > 0 => {
            let behind = (o.0 - t.0).abs() as f64 / m.0 as f64 * 1e4;
            if o == t {
                format!("{o} (at the touch)")
            } else {
                format!("{o} ({behind:.1} bp off {t})")
            }
        }
        (Some(o), _, _) => o.to_string(),
        (None, t, _) => format!("- (touch {})", px(t)),
    }
}

/// The status panel: one line per coin (mid, our quotes against the touch, position in USD),
/// then the PnL and fill rate, then the checklist.
pub fn panel_lines(s: &Summary, coins: &[String], views: &[crate::engine::coin::QuoteView]) -> Vec<String> {
    let e = &s.engine;
    let mut lines = Vec::new();
    for (c, v) in coins.iter().zip(views) {
        let usd = v.position.to_f64() * v.mark.to_f64();
        lines.push(format!(
            "{c}: mid {} | bid {} | ask {} | position {} = {usd:+.2} USD",
            px(v.mid),
            against_touch(v.our_bid, v.touch_bid, v.mid),
            against_touch(v.our_ask, v.touch_ask, v.mid),
            v.position
        ));
    }
    let minutes = e.last_ns.saturating_sub(e.first_ns) as f64 / 6e10;
    let per_min = if minutes > 0.0 { e.fills as f64 / minutes } else { 0.0 };
    lines.push(format!(
        "net PnL {:+.4} USD (realized {:+.4}, unrealized {:+.4}, fees {:.4}) | fills {} ({per_min:.1}/min) | kappa {:.3} conf {:.2}",
        e.pnl.net, e.pnl.realized, e.pnl.unrealized, e.pnl.fees, e.fills, e.kappa, e.kappa_confidence
    ));
    let passed = e.checklist.iter().filter(|c| c.pass).count();
    let waiting: Vec<&str> = e.checklist.iter().filter(|c| !c.pass).map(|c| c.name.as_str()).collect();
    lines.push(if waiting.is_empty() {
        format!("checklist {passed}/{}: all pass", e.checklist.len())
    } else {
        format!("checklist {passed}/{}; not yet: {}", e.checklist.len(), waiting.join(", "))
    });
    lines
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
    // Reserved before any thread of the session starts: the journal's and the recorder's
    // threads inherit the mask without the engine's CPU, and the engine's (this) thread
    // pins itself once they run.
    let reservation = opts.engine_cpu.map(crate::drivers::affinity::reserve).transpose()?;
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
    let mut engine = RunnerEngine {
        runner,
        announced: RefCell::new(BTreeSet::new()),
        coins: setup.coins.clone(),
        speed: vec![SpeedWatch::default(); setup.coins.len()],
        status: RefCell::new(None),
    };
    if let Some(r) = &reservation {
        r.pin_engine_thread()?;
        tracing::info!(
            "engine thread pinned to CPU {}; the session's other threads keep off it",
            opts.engine_cpu.unwrap_or(0)
        );
    }
    let report = super::run(protocol, opts, &mut engine, recorder, stop, progress);
    // The session's end (journal, summary) needs no CPU of its own.
    drop(reservation);
    let report = report?;
    let event_time_speed: std::collections::BTreeMap<&str, Option<f64>> =
        engine.coins.iter().map(String::as_str).zip(engine.speed.iter().map(|w| w.speed)).collect();
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
        // Per coin: exchange event time elapsed over receive time elapsed since the last
        // connection began (1 for a live venue; N for `serve --speed Nx`; null before 5 s).
        "event_time_speed": event_time_speed,
    });
    std::fs::write(out.join("live.json"), serde_json::to_string_pretty(&live_json)? + "\n")
        .with_context(|| format!("writing {}/live.json", out.display()))?;
    Ok((summary, report))
}
