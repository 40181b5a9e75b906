//! Commands: `record`, `live`, `serve`: the flags of `CLI.md` and the glue to the drivers.

use super::args::{parse_duration, parse_speed, Speed};
use super::{exit, CmdResult};
use crate::drivers::live::session::{run_session, SessionSetup};
use crate::drivers::live::{LiveOptions, LiveReport};
use crate::drivers::serve::{self, PlaybackOptions};
use crate::drivers::ws_client::binance::BinanceUsdm;
use crate::drivers::ws_client::hyperliquid::Hyperliquid;
use crate::drivers::ws_client::{ClientOptions, VenueProtocol};
use crate::drivers::ws_server::binance::{BinanceExchange, Keepalive};
use crate::drivers::ws_server::{Fault, LocalExchange};
use crate::engine::EngineConfig;
use crate::log::WriterOptions;
use crate::venue::Venue;
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_HL_URL: &str = "wss://api.hyperliquid.xyz/ws";
/// Binance USD-M's combined stream endpoint and REST base.
pub const DEFAULT_BINANCE_URL: &str = "wss://fstream.binance.com/stream";
pub const DEFAULT_BINANCE_REST_URL: &str = "https://fapi.binance.com";

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map(Duration::from_nanos).map_err(|e| e.to_string())
}

fn speed_arg(s: &str) -> Result<Speed, String> {
    parse_speed(s).map_err(|e| e.to_string())
}

fn fault_arg(s: &str) -> Result<Fault, String> {
    Fault::parse(s)
}

fn venue_arg(s: &str) -> Result<Venue, String> {
    Venue::from_name(s).ok_or_else(|| format!("unknown venue '{s}': use hyperliquid or binance-usdm"))
}

/// Connection flags shared by `record` and `live`.
#[derive(clap::Args, Debug, Clone)]
pub struct FeedArgs {
    /// The venue: hyperliquid or binance-usdm.
    #[arg(long, default_value = "hyperliquid", value_parser = venue_arg)]
    pub venue: Venue,
    /// Websocket URL of the venue (or of a local `serve`); default wss://api.hyperliquid.xyz/ws,
    /// or wss://fstream.binance.com/stream for binance-usdm.
    #[arg(long)]
    pub url: Option<String>,
    /// Binance: the REST base for depth snapshots (default https://fapi.binance.com).
    #[arg(long)]
    pub rest_url: Option<String>,
    /// Coins to subscribe to, comma-separated: Hyperliquid coins (BTC: l2Book, trades, bbo,
    /// activeAssetCtx) or Binance symbols (BTCUSDT: depth@0ms, trade, bookTicker, markPrice@1s).
    #[arg(long, value_delimiter = ',', required = true)]
    pub coins: Vec<String>,
    /// Also subscribe to allMids.
    #[arg(long)]
    pub all_mids: bool,
    /// Wall-clock time to run (90s, 5m, 2h); default: until Ctrl-C or SIGTERM.
    #[arg(long, value_parser = duration_arg)]
    pub duration: Option<Duration>,
    /// Interval of the application-level ping.
    #[arg(long, default_value = "50s", value_parser = duration_arg, hide = true)]
    pub ping_interval: Duration,
    /// Silence after which the connection counts as dead.
    #[arg(long, default_value = "60s", value_parser = duration_arg, hide = true)]
    pub silence_timeout: Duration,
    /// Binance: reconnect on our terms once a connection is this old (the venue cuts at 24 h).
    #[arg(long, value_parser = duration_arg, hide = true)]
    pub max_connection_age: Option<Duration>,
    /// First reconnect backoff (doubling, capped at --backoff-cap, jittered).
    #[arg(long, default_value = "250ms", value_parser = duration_arg, hide = true)]
    pub backoff_base: Duration,
    #[arg(long, default_value = "30s", value_parser = duration_arg, hide = true)]
    pub backoff_cap: Duration,
    /// Log a heartbeat line (feed, mid, quotes, position, PnL, fills, checklist) every SECS
    /// seconds; 0 = never. Default: 60 when stderr is not a terminal, else none (a terminal
    /// shows the status panel instead).
    #[arg(long, value_name = "SECS")]
    pub heartbeat: Option<u64>,
}

impl FeedArgs {
    /// The heartbeat interval: `--heartbeat`, else 60 s off a terminal (none on one).
    pub fn heartbeat(&self) -> Option<Duration> {
        let secs = self.heartbeat.unwrap_or(if std::io::stderr().is_terminal() { 0 } else { 60 });
        (secs > 0).then(|| Duration::from_secs(secs))
    }

    pub fn options(&self, seed: u64) -> anyhow::Result<LiveOptions> {
        anyhow::ensure!(
            self.coins.iter().all(|c| !c.trim().is_empty()),
            "--coins has an empty name: write e.g. --coins BTC,ETH"
        );
        anyhow::ensure!(
            self.venue == Venue::BinanceUsdm || self.rest_url.is_none(),
            "--rest-url is for --venue binance-usdm (Hyperliquid books come whole on the websocket)"
        );
        let mut client = ClientOptions::new(&self.url());
        client.ping_interval = self.ping_interval;
        client.silence_timeout = self.silence_timeout;
        client.pong_timeout = client.pong_timeout.min(self.silence_timeout);
        client.backoff_base = self.backoff_base;
        client.backoff_cap = self.backoff_cap;
        client.seed = seed;
        let venue = self.venue;
        Ok(LiveOptions {
            client,
            duration: self.duration,
            progress_interval: Duration::from_secs(1),
            stale_after: Some(crate::drivers::live::default_stale_after(venue)),
            engine_cpu: None,
        })
    }

    /// The websocket URL: `--url`, or the venue's own endpoint.
    pub fn url(&self) -> String {
        self.url.clone().unwrap_or_else(|| match self.venue {
            Venue::Hyperliquid => DEFAULT_HL_URL.to_string(),
            Venue::BinanceUsdm => DEFAULT_BINANCE_URL.to_string(),
        })
    }

    /// The coins as the venue names them (Binance symbols upper case).
    pub fn coin_names(&self) -> Vec<String> {
        self.coins
            .iter()
            .map(|c| match self.venue {
                Venue::Hyperliquid => c.trim().to_string(),
                Venue::BinanceUsdm => c.trim().to_ascii_uppercase(),
            })
            .collect()
    }

    pub fn protocol(&self) -> anyhow::Result<Box<dyn VenueProtocol>> {
        let coins = self.coin_names();
        Ok(match self.venue {
            Venue::Hyperliquid => Box::new(Hyperliquid::new(&coins, self.all_mids)),
            Venue::BinanceUsdm => {
                anyhow::ensure!(!self.all_mids, "--all-mids is a Hyperliquid channel");
                let rest = self.rest_url.as_deref().unwrap_or(DEFAULT_BINANCE_REST_URL);
                let mut p = BinanceUsdm::new(&coins, rest);
                if let Some(age) = self.max_connection_age {
                    p.max_connection_age = age;
                }
                Box::new(p)
            }
        })
    }
}

/// A stop flag set by Ctrl-C or SIGTERM (installed once per process).
pub fn stop_on_signal() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        tracing::warn!(error = %e, "cannot install the Ctrl-C/SIGTERM handler");
    }
    stop
}

/// The feed's state in one short line.
fn feed_line(r: &LiveReport) -> String {
    format!(
        "{:.0}s: {} messages, {} reconnects, {} gaps, {} dropped, queue max {}, latency p50 {:.1}us p99 {:.1}us",
        r.elapsed.as_secs_f64(),
        r.messages,
        r.connects.saturating_sub(1),
        r.gaps,
        r.dropped,
        r.feed_queue_high_water,
        r.latency.quantile_ns(0.5) as f64 / 1e3,
        r.latency.quantile_ns(0.99) as f64 / 1e3,
    )
}

/// Progress, called every second: on a terminal the status panel (`panel.rs`: the feed, then
/// per coin the mid, our quotes against the touch and the position in USD, the PnL and fill
/// rate, the checklist), redrawn in place with the log lines above it; and a heartbeat log
/// line every `heartbeat` (the default off a terminal).
pub fn progress_printer(heartbeat: Option<Duration>) -> impl FnMut(&LiveReport) {
    let tty = std::io::stderr().is_terminal();
    let mut next_beat = heartbeat;
    move |r: &LiveReport| {
        if tty {
            let mut lines = vec![feed_line(r)];
            lines.extend(r.engine_panel.iter().cloned());
            super::panel::show(lines.into_iter().map(|l| l.chars().take(160).collect()).collect());
        }
        if let (Some(every), Some(due)) = (heartbeat, next_beat) {
            if r.elapsed >= due {
                next_beat = Some(due + every);
                let mut parts = vec![feed_line(r)];
                parts.extend(r.engine_panel.iter().cloned());
                tracing::info!("heartbeat {}", parts.join(" | "));
            }
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  paper_trader record --coins BTC,ETH --out recordings/hl-$(date +%F) --duration 2h"
)]
pub struct RecordArgs {
    #[command(flatten)]
    pub feed: FeedArgs,
    /// The recording directory to create (never overwritten).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn record(args: &RecordArgs) -> CmdResult {
    let opts = args.feed.options(0)?;
    let header = crate::log::Header {
        venue: args.feed.venue.name().to_string(),
        coins: args.feed.coin_names(),
        program_version: crate::PROGRAM_VERSION.to_string(),
        created_by: "record".to_string(),
        engine_config: None,
        seed: None,
        synth: None,
    };
    let stop = stop_on_signal();
    let mut progress = progress_printer(args.feed.heartbeat());
    let report = crate::drivers::record::run_record(
        args.feed.protocol()?,
        &opts,
        &args.out,
        header,
        crate::log::WriterOptions::default(),
        stop,
        &mut progress,
    )?;
    super::panel::release();
    tracing::info!("recorded to {}: {}", args.out.display(), report.line());
    Ok(exit::OK)
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  paper_trader live --coins BTC --config my.toml --out sessions/live-1 --duration 1h\n  paper_trader live --url ws://127.0.0.1:8080/ws --coins BTC --out /tmp/s --duration 30s"
)]
pub struct LiveArgs {
    #[command(flatten)]
    pub feed: FeedArgs,
    /// Engine configuration (TOML, as `--print-config` prints it), or a session's
    /// `session.toml` (its configuration; its seed unless --seed); default: built-in.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one configuration key (repeatable; all are applied, then validated once):
    /// `--set strategy.kind=ladder`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Seed of the engine (and of the reconnect jitter); default: --config's session seed, else 0.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the resolved configuration as TOML with a comment per key, and exit (no
    /// connection is made; --out is not needed).
    #[arg(long)]
    pub print_config: bool,
    /// The session directory to create.
    #[arg(long, required_unless_present = "print_config")]
    pub out: Option<PathBuf>,
    /// Run the engine on this CPU, alone: its thread is pinned there and the recorder's,
    /// journal's and REST snapshots' threads keep off it (Linux; for the lowest feed ->
    /// decision latency, with the CPU kept free of other work, e.g. `isolcpus`).
    #[arg(long, value_name = "N")]
    pub engine_cpu: Option<usize>,
}

/// The live session's settings from the flags: `--config`, then every `--set` (validated
/// once, in any order), the traded coins named in the configuration the recording holds.
pub fn session_setup(args: &LiveArgs) -> anyhow::Result<SessionSetup> {
    let (mut config, config_seed) = match &args.config {
        Some(p) => {
            let file = super::config_file::load(p)?;
            (file.config, file.seed)
        }
        None => (EngineConfig::default(), None),
    };
    let mut overrides = Vec::new();
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set '{kv}': write KEY=VALUE, e.g. strategy.kind=ladder"))?;
        let key = crate::drivers::sweep::resolve_key(k.trim()).map_err(anyhow::Error::msg)?;
        overrides.push((key, v.trim().to_string()));
    }
    config.apply_overrides(&overrides)?;
    let coins: Vec<String> = args.feed.coin_names();
    // The recorded configuration names the traded coins, so that a replay trades the same.
    config.engine.coins = coins.clone();
    let venue = args.feed.venue;
    let seed = args.seed.or(config_seed).unwrap_or(0);
    Ok(SessionSetup { config, seed, venue, coins, url: args.feed.url() })
}

pub fn live(args: &LiveArgs) -> CmdResult {
    let setup = session_setup(args)?;
    if args.print_config {
        print!("{}", crate::engine::keys::annotated_toml(&setup.config, "live"));
        return Ok(exit::OK);
    }
    let out = args.out.clone().context("--out is required")?;
    let mut opts = args.feed.options(setup.seed)?;
    opts.engine_cpu = args.engine_cpu;
    if setup.config.live.stale_after_ms > 0 {
        opts.stale_after = Some(Duration::from_millis(setup.config.live.stale_after_ms));
    }
    let stop = stop_on_signal();
    let mut progress = progress_printer(args.feed.heartbeat());
    let (summary, report) = run_session(
        setup,
        &out,
        args.feed.protocol()?,
        &opts,
        WriterOptions::default(),
        stop,
        &mut progress,
    )?;
    super::panel::release();
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

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  paper_trader serve recordings/sample --port 0 --speed 20x\n  paper_trader serve --synth 7 --coins BTC,ETH --port 8080 --fault drop-after=500 --fault refuse=l2Book:2\n  paper_trader serve rec/binance --venue binance-usdm --port 0 --speed 10x --fault seq-break=200\n\nThe first line on stdout is the URL (ws://127.0.0.1:PORT/ws; binance-usdm: ws://127.0.0.1:PORT/stream, and the REST base http://127.0.0.1:PORT on the second line). The market's clock starts when the first client connects. At the end of the recording the server keeps its connections (pings answered, no more data) until Ctrl-C/SIGTERM, unless --loop (start again) or --exit-at-end."
)]
pub struct ServeArgs {
    /// A recording (directory or log file) or a text capture (`<recv_ns> <json>` lines, gzip or plain).
    #[arg(required_unless_present = "synth", conflicts_with = "synth")]
    pub rec: Option<PathBuf>,
    /// Serve the synthetic venue with this seed instead of a recording.
    #[arg(long)]
    pub synth: Option<u64>,
    /// The protocol to speak: hyperliquid (`/ws`) or binance-usdm (`/stream`, `/ws` and the
    /// REST depth endpoint on the same port; stdout line 2 is the REST base).
    #[arg(long, default_value = "hyperliquid", value_parser = venue_arg)]
    pub venue: Venue,
    /// Configuration of the synthetic venue (TOML); default: the built-in one.
    #[arg(long, requires = "synth")]
    pub synth_config: Option<PathBuf>,
    /// Coins of the synthetic venue.
    #[arg(long, value_delimiter = ',', default_value = "BTC")]
    pub coins: Vec<String>,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Pace: 1x (original), 20x, or max.
    #[arg(long, default_value = "1x", value_parser = speed_arg)]
    pub speed: Speed,
    /// Fault to inject (repeatable): drop-after=N | stall=DURATION[@N] | malformed-every=N | refuse=TYPE[:N] | seq-break=N (binance-usdm).
    #[arg(long, value_parser = fault_arg)]
    pub fault: Vec<Fault>,
    /// Start again from the beginning at the end of the recording.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Close all connections and exit at the end of the recording.
    #[arg(long, conflicts_with = "looping")]
    pub exit_at_end: bool,
}

pub fn serve(args: &ServeArgs) -> CmdResult {
    for f in &args.fault {
        f.check_venue(args.venue).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    anyhow::ensure!(
        args.venue == Venue::Hyperliquid || args.synth.is_none(),
        "the synthetic venue speaks Hyperliquid's protocol: serve a binance-usdm recording instead of --synth"
    );
    let mut open: Box<dyn FnMut() -> Result<Box<dyn serve::MessageSource>, String> + Send> =
        match (&args.rec, args.synth) {
            (Some(rec), _) => {
                let rec = rec.clone();
                // Fail before printing the URL when the recording cannot be read.
                serve::open_path(&rec).map_err(|e| anyhow::anyhow!("{e}"))?;
                Box::new(move || serve::open_path(&rec))
            }
            (None, Some(seed)) => {
                let config = match &args.synth_config {
                    Some(p) => {
                        let text = std::fs::read_to_string(p)
                            .map_err(|e| anyhow::anyhow!("reading --synth-config {}: {e}", p.display()))?;
                        crate::synth::SynthConfig::from_toml(&text)
                            .map_err(|e| anyhow::anyhow!("--synth-config {}: {e}", p.display()))?
                    }
                    None => crate::synth::SynthConfig::default(),
                };
                serve::synth_opener(config, seed, &args.coins)?
            }
            (None, None) => anyhow::bail!("give a recording or --synth SEED"),
        };
    let stop = stop_on_signal();
    if args.venue == Venue::BinanceUsdm {
        return serve_binance(args, open, stop);
    }
    let mut exchange = LocalExchange::bind(args.port, args.fault.clone())
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", exchange.url())?;
        out.flush()?;
    }
    tracing::info!(url = exchange.url(), speed = ?args.speed, faults = ?args.fault, "serving");
    let hub = exchange.hub();
    let first =
        exchange.take_first_connection().ok_or_else(|| anyhow::anyhow!("no first-connection signal"))?;
    let opts = PlaybackOptions { speed: args.speed, looping: args.looping };
    let play_hub = hub.clone();
    let playback = std::thread::Builder::new()
        .name("serve-playback".into())
        .spawn(move || serve::play(&play_hub, &first, &mut open, opts))?;
    let exit_at_end = args.exit_at_end;
    while !(stop.load(Ordering::Relaxed) || exit_at_end && playback.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    hub.shutdown();
    let report = playback.join().map_err(|_| anyhow::anyhow!("the playback thread panicked"))?;
    exchange.shutdown();
    let report = report.map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::info!(
        published = report.published,
        history_batches = report.history_batches,
        connections = hub.stats.connections.load(Ordering::Relaxed),
        faults = hub.stats.faults_injected.load(Ordering::Relaxed),
        "serve stopped"
    );
    Ok(exit::OK)
}

/// `serve --venue binance-usdm`: the combined and raw streams and the REST depth on one port.
fn serve_binance(
    args: &ServeArgs,
    mut open: Box<dyn FnMut() -> Result<Box<dyn serve::MessageSource>, String> + Send>,
    stop: Arc<AtomicBool>,
) -> CmdResult {
    let mut exchange = BinanceExchange::bind(args.port, args.fault.clone(), Keepalive::default())
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", exchange.url())?;
        writeln!(out, "{}", exchange.rest_url())?;
        out.flush()?;
    }
    tracing::info!(url = %exchange.url(), rest = %exchange.rest_url(), speed = ?args.speed, faults = ?args.fault, "serving binance-usdm");
    let hub = exchange.hub();
    let first =
        exchange.take_first_connection().ok_or_else(|| anyhow::anyhow!("no first-connection signal"))?;
    let opts = PlaybackOptions { speed: args.speed, looping: args.looping };
    let play_hub = hub.clone();
    // A playback that fails (no snapshot in the recording, a read error) ends the server.
    let failed = Arc::new(AtomicBool::new(false));
    let play_failed = failed.clone();
    let playback = std::thread::Builder::new().name("serve-playback".into()).spawn(move || {
        let r = crate::drivers::ws_server::binance::play(&play_hub, &first, &mut open, opts);
        play_failed.store(r.is_err(), Ordering::Relaxed);
        r
    })?;
    let exit_at_end = args.exit_at_end;
    while !(stop.load(Ordering::Relaxed)
        || playback.is_finished() && (exit_at_end || failed.load(Ordering::Relaxed)))
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    hub.shutdown();
    let report = playback.join().map_err(|_| anyhow::anyhow!("the playback thread panicked"))?;
    exchange.shutdown();
    let report = report.map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::info!(
        published = report.published,
        connections = hub.stats.connections.load(Ordering::Relaxed),
        faults = hub.stats.faults_injected.load(Ordering::Relaxed),
        "serve stopped"
    );
    Ok(exit::OK)
}
