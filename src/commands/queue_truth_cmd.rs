//! `queue-truth`: score a session's fills against the exact queue of its recording
//! (`docs/QUEUE_TRUTH.md`). The glue: the journal and the recording in, the pure replay
//! (`crate::queue_truth`) between, the report out.

use super::{exit, CmdResult};
use crate::log::{Body, LogReader};
use crate::queue_truth::{self, stream, QueueTruthReport, Replay};
use crate::report::session::Session;
use crate::synth::GroundTruth;
use crate::venue::is_order_level_stream;
use anyhow::{bail, Context};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  paper_trader synth --seed 11 --duration 20m --order-level --out l3\n  \
paper_trader replay l3 --set fill_sim.fill_prob_base=0.3 --out s\n  \
paper_trader queue-truth s\n  \
paper_trader queue-truth s --json | jq .fill_ratio\n  \
paper_trader queue-truth sweep/* --table")]
pub struct QueueTruthArgs {
    /// The session directories (written by `replay` of a recording made with `synth --order-level`).
    #[arg(required = true, num_args = 1..)]
    pub sessions: Vec<PathBuf>,
    /// The recording the session replayed (default: the one its session.toml names).
    #[arg(long)]
    pub recording: Option<PathBuf>,
    /// One JSON object on stdout (an array of them for several sessions): orders,
    /// simulated_fills, true_fills, fill_ratio, fill_ratio_volume, confusion, time_to_fill,
    /// markout_5s, pnl, fit, and what was scored.
    #[arg(long, conflicts_with = "table")]
    pub json: bool,
    /// One Markdown table row per session (the table of `docs/QUEUE_TRUTH.md`).
    #[arg(long)]
    pub table: bool,
}

/// What was scored: the session's model and the recording's queue.
#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    pub session: String,
    pub recording: String,
    /// `flat` (ignore_book_depth) or `rigtorp`.
    pub queue_model: String,
    pub fill_prob_base: Option<f64>,
    pub queue_exponent: Option<i64>,
    pub cancel_latency_ms: u64,
    /// The synthetic venue's cancel profile (uniform, back, front).
    pub cancel_profile: Option<String>,
    pub order_level_messages: u64,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a QueueTruthReport,
    scored: &'a Scored,
}

/// The recording a session replayed: `--recording`, else `input.source` of its session.toml.
fn recording_of(session: &Session, arg: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p.to_path_buf());
    }
    let source = session.config_value("input.source").and_then(|v| v.as_str()).with_context(|| {
        format!("{}/session.toml names no input.source: pass --recording", session.dir.display())
    })?;
    if source.starts_with("live:") {
        bail!("the session ran live ({source}): queue-truth needs a synthetic order-level recording (--recording)");
    }
    Ok(PathBuf::from(source))
}

/// Runs the replay; `(report, scored)`.
pub fn run(session_dir: &Path, recording: Option<&Path>) -> anyhow::Result<(QueueTruthReport, Scored)> {
    let session = Session::load(session_dir)?;
    let rec_path = recording_of(&session, recording)?;
    let mut reader = LogReader::open(&rec_path)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("opening the session's recording {}", rec_path.display()))?;
    let cfg = |k: &str| session.config_value(&format!("config.fill_sim.{k}")).cloned();
    let cancel_latency_ms = cfg("cancel_latency_ms").and_then(|v| v.as_integer()).unwrap_or(0).max(0) as u64;
    let flat = cfg("ignore_book_depth").and_then(|v| v.as_bool()).unwrap_or(true);
    let cancel_profile = reader
        .header()
        .synth
        .as_deref()
        .and_then(|t| GroundTruth::from_toml(t).ok())
        .map(|g| g.config.order_level.cancel_profile.name().to_string());
    let lives = queue_truth::session_orders(&session.outputs, cancel_latency_ms * 1_000_000, session.last.0);
    let fees = lives.fees;
    let excluded = queue_truth::score::Excluded { never_live: lives.never_live };
    let mut coins: Vec<String> = lives.orders.iter().map(|o| o.coin.clone()).collect();
    coins.sort();
    coins.dedup();
    let mut replay = Replay::new(lives.orders);
    let mut messages = 0u64;
    let mut seen: Vec<String> = Vec::new();
    while let Some(rec) = reader.next_record() {
        let Body::Message(raw) = &rec.body else { continue };
        if !is_order_level_stream(reader.stream_name(rec.stream)) {
            continue;
        }
        let m = stream::parse(raw).map_err(|e| {
            anyhow::anyhow!("{}: order-level record {} does not parse: {e}", rec_path.display(), rec.seq)
        })?;
        if !seen.contains(&m.coin) {
            seen.push(m.coin.clone());
        }
        replay.on_message(rec.recv_ns, &m);
        messages += 1;
    }
    if messages == 0 {
        bail!(
            "the recording {} has no order-level stream (orderLevel:COIN): queue-truth needs one; \
             write it with `paper_trader synth --order-level ...` and replay that",
            rec_path.display()
        );
    }
    if let Some(c) = coins.iter().find(|c| !seen.contains(c)) {
        bail!(
            "the recording {} has no order-level stream for {c}, which the session traded",
            rec_path.display()
        );
    }
    let report = queue_truth::score(&replay.finish(), fees, excluded);
    let scored = Scored {
        session: session_dir.display().to_string(),
        recording: rec_path.display().to_string(),
        queue_model: if flat { "flat" } else { "rigtorp" }.to_string(),
        fill_prob_base: cfg("fill_prob_base").and_then(|v| v.as_float()),
        queue_exponent: cfg("queue_exponent").and_then(|v| v.as_integer()),
        cancel_latency_ms,
        cancel_profile,
        order_level_messages: messages,
    };
    Ok((report, scored))
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// The report as text.
pub fn render_text(r: &QueueTruthReport, s: &Scored) -> String {
    let model = match s.queue_model.as_str() {
        "flat" => format!("flat, fill_prob_base {}", opt(s.fill_prob_base, 2)),
        _ => format!("rigtorp, n = {}", s.queue_exponent.map_or("-".into(), |n| n.to_string())),
    };
    let c = &r.confusion;
    let t = &r.time_to_fill;
    let m = &r.markout_5s;
    let mut out = String::new();
    out += &format!("queue truth: {} against the exact queue of {}\n", s.session, s.recording);
    out += &format!(
        "  model: {model}; cancel latency {} ms; venue cancel profile {}\n",
        s.cancel_latency_ms,
        s.cancel_profile.as_deref().unwrap_or("-")
    );
    out += &format!(
        "  orders {}: filled simulated {}, true {}; fill ratio {} (volume {})\n",
        r.orders,
        r.simulated_fills,
        r.true_fills,
        opt(r.fill_ratio, 3),
        opt(r.fill_ratio_volume, 3)
    );
    out += &format!(
        "  confusion: both {}, simulated only {}, true only {}, neither {}; true post-only rejects {}\n",
        c.both, c.simulated_only, c.true_only, c.neither, r.true_post_only_rejects
    );
    out += &format!(
        "  time to fill ({} orders): simulated {} ms, true {} ms; error mean {} ms, median {} ms, mean abs {} ms\n",
        t.orders,
        opt(t.simulated_mean_ms, 0),
        opt(t.true_mean_ms, 0),
        opt(t.mean_error_ms, 0),
        opt(t.median_error_ms, 0),
        opt(t.mean_abs_error_ms, 0)
    );
    out += &format!(
        "  5 s markout: simulated {} bp ({} fills), true {} bp ({} fills), difference {} bp\n",
        opt(m.simulated_bp, 3),
        m.simulated_fills,
        opt(m.true_bp, 3),
        m.true_fills,
        opt(m.difference_bp, 3)
    );
    out += &format!(
        "  PnL at the last mid, net of fees ({:.2} bp): simulated {:.2}, true {:.2}, difference {:.2}\n",
        r.pnl.fee_rate_bp, r.pnl.simulated, r.pnl.truth, r.pnl.difference
    );
    out += &format!(
        "  fitted fill_prob_base: {} +- {} ({} of {} trades at an order's price reached it)\n",
        opt(r.fit.fill_prob_base, 3),
        opt(r.fit.standard_error, 3),
        r.fit.reached,
        r.fit.at_price_trades
    );
    if r.stream_unknown_orders + r.stream_duplicate_orders > 0 {
        out += &format!(
            "  warning: the order-level stream named {} unknown and {} duplicate orders\n",
            r.stream_unknown_orders, r.stream_duplicate_orders
        );
    }
    out
}

/// The header of the Markdown table, then one row per session.
pub const TABLE_HEADER: &str = "| cancel profile | model | orders | simulated fills | true fills | fill ratio | volume ratio | simulated only | true only | TTF error ms | markout diff bp | PnL diff | at-price trades | fitted fill_prob_base |\n\
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

pub fn table_row(r: &QueueTruthReport, s: &Scored) -> String {
    let model = match s.queue_model.as_str() {
        "flat" => format!("flat p = {}", opt(s.fill_prob_base, 2)),
        _ => format!("rigtorp n = {}", s.queue_exponent.map_or("-".into(), |n| n.to_string())),
    };
    format!(
        "| {} | {model} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} +- {} |\n",
        s.cancel_profile.as_deref().unwrap_or("-"),
        r.orders,
        r.simulated_fills,
        r.true_fills,
        opt(r.fill_ratio, 3),
        opt(r.fill_ratio_volume, 3),
        r.confusion.simulated_only,
        r.confusion.true_only,
        opt(r.time_to_fill.mean_error_ms, 1),
        opt(r.markout_5s.difference_bp, 3),
        r.pnl.difference,
        r.fit.at_price_trades,
        opt(r.fit.fill_prob_base, 3),
        opt(r.fit.standard_error, 3),
    )
}

pub fn queue_truth(args: &QueueTruthArgs) -> CmdResult {
    let mut runs = Vec::with_capacity(args.sessions.len());
    for s in &args.sessions {
        runs.push(run(s, args.recording.as_deref()).with_context(|| format!("session {}", s.display()))?);
    }
    if args.json {
        let list: Vec<Output> = runs.iter().map(|(r, s)| Output { report: r, scored: s }).collect();
        if list.len() == 1 {
            println!("{}", serde_json::to_string_pretty(&list[0])?);
        } else {
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
    } else if args.table {
        print!("{TABLE_HEADER}");
        for (r, s) in &runs {
            print!("{}", table_row(r, s));
        }
    } else {
        for (r, s) in &runs {
            print!("{}", render_text(r, s));
        }
    }
    Ok(exit::OK)
}
