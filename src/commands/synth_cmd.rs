//! `synth`: write a recording of the synthetic venue through the recording log writer, at
//! full speed. The recording holds no wall-clock time: the same seed and configuration give
//! byte-identical files.

use super::args::parse_duration;
use super::{exit, CmdResult};
use crate::log::{Control, Header, LogWriter, WriterOptions};
use crate::synth::{CancelProfile, SynthConfig, SynthVenue};
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  paper_trader synth --seed 42 --duration 2h --coins BTC,ETH --out recordings/synth-42\n  \
paper_trader synth --seed 11 --duration 20m --order-level --cancel-profile back --out recordings/l3-11"
)]
pub struct SynthArgs {
    /// Seed of the generator: the same seed and configuration give the same recording, byte for byte.
    #[arg(long, required_unless_present = "print_config")]
    pub seed: Option<u64>,
    /// Exchange time to generate (90s, 5m, 2h, ...).
    #[arg(long, value_parser = parse_duration, required_unless_present = "print_config")]
    pub duration: Option<u64>,
    /// Coins, Hyperliquid names (built-in contracts for BTC, ETH, SOL; others get a generic one
    /// unless the configuration's [coins.NAME] sets it).
    #[arg(long, value_delimiter = ',', default_value = "BTC")]
    pub coins: Vec<String>,
    /// The generator's configuration (TOML); missing keys take their documented defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The recording directory to create (must not exist, or be empty).
    #[arg(long, required_unless_present = "print_config")]
    pub out: Option<PathBuf>,
    /// Also write the exact queue (every level a FIFO of orders) as the `orderLevel:COIN`
    /// streams, for `queue-truth` (configuration: `[order_level] enabled = true`).
    #[arg(long)]
    pub order_level: bool,
    /// Where cancels fall in a level's queue in the order-level mode: uniform, back or front
    /// (configuration: `[order_level] cancel_profile`).
    #[arg(long, value_parser = parse_cancel_profile)]
    pub cancel_profile: Option<CancelProfile>,
    /// Print the resolved configuration (every key, defaults included) as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
}

fn parse_cancel_profile(s: &str) -> Result<CancelProfile, String> {
    match s {
        "uniform" => Ok(CancelProfile::Uniform),
        "back" => Ok(CancelProfile::Back),
        "front" => Ok(CancelProfile::Front),
        _ => Err(format!("'{s}' is not a cancel profile: uniform, back or front")),
    }
}

/// Loads and validates a configuration file, or the defaults.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<SynthConfig> {
    match path {
        None => Ok(SynthConfig::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            SynthConfig::from_toml(&text).with_context(|| format!("in {}", p.display()))
        }
    }
}

/// What `write_recording` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthSummary {
    pub messages: u64,
    pub raw_bytes: u64,
    pub first_recv_ns: u64,
    pub last_recv_ns: u64,
}

/// The recording header of a synthetic recording: venue, coins, seed and the ground truth.
pub fn header_for(venue: &SynthVenue, end_ns: u64) -> Header {
    Header {
        venue: "hyperliquid".to_string(),
        coins: venue.coins().to_vec(),
        program_version: crate::PROGRAM_VERSION.to_string(),
        created_by: "synth".to_string(),
        engine_config: None,
        seed: Some(venue.seed()),
        synth: Some(venue.ground_truth_toml(end_ns)),
    }
}

/// Generates `duration_ns` of exchange time into a new recording at `out`.
pub fn write_recording(
    cfg: SynthConfig,
    seed: u64,
    coins: &[String],
    duration_ns: u64,
    out: &Path,
) -> anyhow::Result<SynthSummary> {
    let mut venue = SynthVenue::new(cfg, seed, coins)?;
    let start_ns = venue.config().start_ns;
    let end_ns = start_ns.saturating_add(duration_ns);
    // No fsync per flush: a synthetic recording is regenerated, not rescued, after a crash.
    let opts = WriterOptions { fsync: false, ..WriterOptions::default() };
    let mut writer = LogWriter::create(out, header_for(&venue, end_ns), opts)?;
    let channels: &[&str] = if venue.config().funding.enabled {
        &["l2Book", "trades", "bbo", "activeAssetCtx"]
    } else {
        &["l2Book", "trades", "bbo"]
    };
    for c in coins {
        for &channel in channels {
            let subscription = format!("{{\"type\":\"{channel}\",\"coin\":\"{c}\"}}");
            writer.append_control(start_ns, Control::Subscribe { subscription })?;
        }
    }
    writer.append_control(start_ns, Control::Subscribe { subscription: "{\"type\":\"allMids\"}".into() })?;
    let mut summary = SynthSummary { messages: 0, raw_bytes: 0, first_recv_ns: 0, last_recv_ns: 0 };
    loop {
        let m = venue.next_message();
        if m.exch_ns >= end_ns {
            break;
        }
        writer.append_message(m.recv_ns, &m.stream, &m.raw)?;
        if summary.messages == 0 {
            summary.first_recv_ns = m.recv_ns;
        }
        summary.messages += 1;
        summary.raw_bytes += m.raw.len() as u64;
        summary.last_recv_ns = m.recv_ns;
    }
    writer.close()?;
    Ok(summary)
}

pub fn synth(args: &SynthArgs) -> CmdResult {
    let mut cfg = load_config(args.config.as_deref())?;
    if args.order_level {
        cfg.order_level.enabled = true;
    }
    if let Some(p) = args.cancel_profile {
        cfg.order_level.cancel_profile = p;
    }
    if args.print_config {
        print!("{}", cfg.to_toml());
        return Ok(exit::OK);
    }
    let (Some(seed), Some(duration), Some(out)) = (args.seed, args.duration, args.out.as_deref()) else {
        anyhow::bail!("--seed, --duration and --out are needed to write a recording");
    };
    if duration == 0 {
        anyhow::bail!("--duration must be positive (e.g. 10m)");
    }
    let s = write_recording(cfg, seed, &args.coins, duration, out)?;
    tracing::info!(messages = s.messages, raw_bytes = s.raw_bytes, out = %out.display(), "synthetic recording written");
    println!("{} messages, {} bytes of raw JSON -> {}", s.messages, s.raw_bytes, out.display());
    Ok(exit::OK)
}
