//! `replay`: run the engine over a recording and write a session (`CLI.md`).

use super::args::{parse_speed, parse_time, Speed, TimeArg};
use super::{exit, CmdResult};
use crate::drivers::replay::{run_replay, run_replay_capture, Capture, ReplayOptions};
use crate::venue::Venue;
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  paper_trader replay recordings/sample --out session/\n  \
paper_trader replay rec/ --coins BTCUSDT --set fill_sim.fill_prob_base=0.3 --speed 20x --out s2/\n  \
paper_trader replay recordings/sample --set fill_prob_base=0.3,0.4,0.5 --set adverse_fill_ratio=0,0.2 --out sweep/")]
pub struct ReplayArgs {
    /// The recording (a directory of log files, a single log file, or a live session's inputs/),
    /// or with --format a capture file.
    pub rec: PathBuf,
    /// Replay a capture in this format directly, streaming, without importing it: the same
    /// records and digest as `import` + `replay` (hftbacktest, hl-archive).
    #[arg(long, value_enum)]
    pub format: Option<super::log_cmds::FormatArg>,
    /// Engine configuration (TOML, as `--print-config` prints it), or a session's
    /// `session.toml` (its configuration and seed); default: the recording's own (live
    /// sessions), else built-in.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the resolved configuration (recording's, --config, --set applied) as TOML with a
    /// comment per key, and exit; --out is not needed.
    #[arg(long)]
    pub print_config: bool,
    /// Override one configuration key: `--set fill_sim.fill_prob_base=0.3` (repeatable; a bare
    /// key names the one section holding it). Several comma-separated values make a sweep:
    /// one run per value, several `--set` = their cartesian product, run in parallel.
    #[arg(long = "set", value_name = "KEY=VALUE[,VALUE..]")]
    pub set: Vec<String>,
    /// Sweeps: run only part `i` of `n` of the grid (1 <= i <= n), for a batch scheduler.
    #[arg(long, value_name = "i/n", value_parser = crate::drivers::sweep::parse_shard)]
    pub shard: Option<crate::drivers::sweep::Shard>,
    /// Sweeps: parallel runs (default: every core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Coins to trade, comma-separated (venue names: BTC, BTCUSDT).
    #[arg(long, value_delimiter = ',')]
    pub coins: Option<Vec<String>>,
    /// Seed of the fill simulator's random draws (default: the recording's, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the venue named by the recording's header (hyperliquid, binance-usdm); with
    /// --format, the capture's venue (default: detected from its messages).
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
    #[arg(long, required_unless_present = "print_config")]
    pub out: Option<PathBuf>,
    /// Print summary.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Replay around corruption in the recording (the engine sees a gap where records were
    /// lost; summary.json lists it under input_damage) instead of stopping there with exit 4.
    #[arg(long)]
    pub accept_damage: bool,
}

pub fn replay(args: &ReplayArgs) -> CmdResult {
    let out = args.out.clone().unwrap_or_default();
    let mut opts = ReplayOptions::new(&out);
    let mut config_seed = None;
    if let Some(path) = &args.config {
        let file = super::config_file::load(path)?;
        opts.config = Some(file.config);
        config_seed = file.seed;
    }
    // A key with several values, or a shard, makes this a sweep (src/drivers/sweep.rs).
    let axes = crate::drivers::sweep::axes_of_sets(&args.set).map_err(anyhow::Error::msg)?;
    let is_sweep = args.shard.is_some() || axes.iter().any(|a| a.values.len() > 1);
    for kv in args.set.iter().filter(|_| !is_sweep) {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set '{kv}': write KEY=VALUE, e.g. fill_sim.fill_prob_base=0.3"))?;
        let key = crate::drivers::sweep::resolve_key(k.trim()).map_err(anyhow::Error::msg)?;
        opts.overrides.push((key, v.trim().to_string()));
    }
    if let Some(v) = &args.venue {
        opts.venue = Some(
            Venue::from_name(v).with_context(|| format!("--venue '{v}': use hyperliquid or binance-usdm"))?,
        );
    }
    opts.seed = args.seed.or(config_seed);
    opts.coins = args.coins.clone();
    opts.from = args.from;
    opts.to = args.to;
    opts.speed = args.speed;
    opts.resume = args.resume.clone();
    opts.progress = std::io::stderr().is_terminal();
    opts.accept_damage = args.accept_damage;
    if args.print_config {
        let config = match args.format {
            Some(_) => crate::drivers::replay::resolve_config(None, &opts)?,
            None => {
                let header = crate::log::LogReader::open(&args.rec)?.header().clone();
                crate::drivers::replay::resolve_config(Some(&header), &opts)?
            }
        };
        print!("{}", crate::engine::keys::annotated_toml(&config, "replay"));
        return Ok(exit::OK);
    }
    if is_sweep && args.format.is_some() {
        anyhow::bail!("a sweep reads a recording: import the capture first (paper_trader import)");
    }
    if is_sweep {
        let workers = args.jobs.unwrap_or_else(crate::drivers::sweep::default_workers);
        let (table, all_ok) =
            crate::drivers::sweep::replay_sweep(&args.rec, &opts, &axes, args.shard, workers)?;
        print!("{table}");
        eprintln!("sweep table written to {}/sweep.txt and sweep.json", out.display());
        return Ok(if all_ok { exit::OK } else { exit::FAILURE });
    }
    let summary = match args.format {
        Some(format) => {
            if opts.resume.is_some() {
                anyhow::bail!("--resume needs a recording: import the capture first (paper_trader import)");
            }
            let format = super::log_cmds::import_format(format);
            let inputs = vec![args.rec.clone()];
            // The venue is detected from the messages; a --venue they contradict is refused.
            let venue = match opts.venue {
                Some(v) => Some(crate::log::import::Venue::parse(v.name()).context("venue")?),
                None => None,
            };
            run_replay_capture(&Capture { format, venue, inputs }, &opts)?
        }
        None => run_replay(&args.rec, &opts)?,
    };
    if summary.input_messages > 0 {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            // The one terminal layout `demo`, `replay` and `report` share: computed while the
            // session ran (no second pass over the journal), else read back from it.
            match &summary.terminal {
                Some(text) => print!("{text}"),
                None => print!("{}", super::report_cmds::terminal_summary(&out)?),
            }
        }
    }
    match failure(&summary, &args.rec, &out, args.from, args.to, args.accept_damage) {
        Some((code, message)) => {
            eprintln!("error: {message}");
            Ok(code)
        }
        None => Ok(exit::OK),
    }
}

/// What a finished replay that did not do its job says, and its exit code (`None`: it did):
/// the one wording of the CLI and of the Python binding's `replay`.
pub fn failure(
    summary: &crate::drivers::session::Summary,
    rec: &std::path::Path,
    out: &std::path::Path,
    from: Option<TimeArg>,
    to: Option<TimeArg>,
    accept_damage: bool,
) -> Option<(u8, String)> {
    // Damage first: when the recording is corrupt, that is why the replay stopped.
    if let Some(d) = summary.input_damage.iter().find(|d| d.kind == "corrupt").filter(|_| !accept_damage) {
        return Some((
            exit::CORRUPT,
            format!(
                "the recording is corrupt ({} at byte {}: {}); the replay went no further than the damage (summary.json lists it under input_damage). Pass --accept-damage to replay around it",
                d.file, d.byte, d.detail
            ),
        ));
    }
    // A replay that could not trade because of the data says so; zero fills on good data is a
    // result, not an error.
    if summary.input_messages == 0 {
        return Some((
            exit::FAILURE,
            format!(
                "nothing was replayed: the recording holds no input in the chosen window{} (see `paper_trader inspect {}` for its span); the session in {} is empty",
                window(from, to),
                rec.display(),
                out.display()
            ),
        ));
    }
    if !summary.coins_without_book.is_empty() {
        return Some((
            exit::FAILURE,
            format!(
                "the input has no order book for {} ({} inputs replayed, no mid all session): nothing could trade. Check --coins and --venue against `paper_trader inspect {}` (its streams and venue)",
                summary.coins_without_book.join(", "),
                summary.input_messages,
                rec.display()
            ),
        ));
    }
    None
}

/// The `--from`/`--to` window as the user wrote it, for messages.
fn window(from: Option<TimeArg>, to: Option<TimeArg>) -> String {
    match (&from, &to) {
        (None, None) => String::new(),
        (f, t) => {
            let show = |t: &TimeArg| match *t {
                TimeArg::Absolute(ns) => super::args::format_rfc3339(ns),
                TimeArg::FromStart(ns) => format!("+{}s", ns as f64 / 1e9),
            };
            format!(
                " (--from {} --to {})",
                f.as_ref().map_or("start".to_string(), show),
                t.as_ref().map_or("end".to_string(), show)
            )
        }
    }
}
