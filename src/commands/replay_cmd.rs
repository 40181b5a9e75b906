//! `replay`: run the engine over a recording and write a session (`CLI.md`).

use super::args::{parse_speed, parse_time, Speed, TimeArg};
use super::{exit, CmdResult};
use crate::drivers::replay::{run_replay, ReplayOptions};
use crate::drivers::session::Summary;
use crate::engine::EngineConfig;
use crate::venue::Venue;
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  paper_trader replay recordings/sample --out session/\n  \
paper_trader replay rec/ --coins BTCUSDT --set fill_sim.fill_prob_base=0.3 --speed 20x --out s2/")]
pub struct ReplayArgs {
    /// The recording (a directory of log files, a single log file, or a live session's inputs/).
    pub rec: PathBuf,
    /// Engine configuration (TOML); default: the recording's own (live sessions), else built-in.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one configuration key: `--set fill_sim.fill_prob_base=0.3` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Coins to trade, comma-separated (venue names: BTC, BTCUSDT).
    #[arg(long, value_delimiter = ',')]
    pub coins: Option<Vec<String>>,
    /// Seed of the fill simulator's random draws (default: the recording's, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the venue named by the recording's header (hyperliquid, binance-usdm).
    #[arg(long)]
    pub venue: Option<String>,
    /// Start at this time (RFC 3339, ns since the epoch, or +offset from the start).
    #[arg(long, value_parser = parse_time)]
    pub from: Option<TimeArg>,
    /// Stop after this time.
    #[arg(long, value_parser = parse_time)]
    pub to: Option<TimeArg>,
    /// max (default), 1x, 20x or a bare number.
    #[arg(long, value_parser = parse_speed, default_value = "max")]
    pub speed: Speed,
    /// Resume from a checkpoint file of an earlier run of the same recording.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// The session directory to write (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// Print summary.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn replay(args: &ReplayArgs) -> CmdResult {
    let mut opts = ReplayOptions::new(&args.out);
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading --config {}", path.display()))?;
        let cfg = EngineConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?;
        opts.config = Some(cfg);
    }
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set '{kv}': write KEY=VALUE, e.g. fill_sim.fill_prob_base=0.3"))?;
        opts.overrides.push((k.trim().to_string(), v.trim().to_string()));
    }
    if let Some(v) = &args.venue {
        opts.venue = Some(
            Venue::from_name(v).with_context(|| format!("--venue '{v}': use hyperliquid or binance-usdm"))?,
        );
    }
    opts.seed = args.seed;
    opts.coins = args.coins.clone();
    opts.from = args.from;
    opts.to = args.to;
    opts.speed = args.speed;
    opts.resume = args.resume.clone();
    opts.progress = std::io::stderr().is_terminal();
    let summary = run_replay(&args.rec, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", table(&summary));
    }
    Ok(exit::OK)
}

/// The human summary printed at the end of a replay.
pub fn table(s: &Summary) -> String {
    let e = &s.engine;
    let mut t = String::new();
    let mut row = |k: &str, v: String| t.push_str(&format!("{k:<22} {v}\n"));
    row("output_digest", s.output_digest.clone());
    row("inputs", s.input_messages.to_string());
    row("fills", e.fills.to_string());
    row("markouts (5 s)", format!("{} ({} adverse)", e.markouts, e.adverse_markouts));
    row("pnl realized", format!("{:.4}", e.pnl.realized));
    row("pnl unrealized", format!("{:.4}", e.pnl.unrealized));
    row("fees", format!("{:.4}", e.pnl.fees));
    row("kappa", format!("{:.3} (confidence {:.3})", e.kappa, e.kappa_confidence));
    row("calibration", format!("progress {:.3}, cal_gamma {:.3}", e.calibration_progress, e.cal_gamma));
    row("regime changes", e.regime_changes.to_string());
    row("checkpoints", e.checkpoints.to_string());
    row("margin rejects", e.margin_rejects.to_string());
    for c in &e.checklist {
        let mark = if c.pass { "PASS" } else { "FAIL" };
        row(&format!("[{mark}]"), format!("{}: {}", c.name, c.value));
    }
    t
}
