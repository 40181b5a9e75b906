//! The command line of `paper_trader` and of any program built on the library with its own
//! strategies: parse flags, call the library, map errors to exit codes. `src/bin/paper_trader.rs`
//! calls [`main`]; a program with user strategy kinds calls [`main_with`] (see
//! `examples/custom_strategy`).

use crate::commands::{
    self, export_cmd, live_cmds, log_cmds, queue_truth_cmd, replay_cmd, report_cmds, synth_cmd, venue_cmds,
};
use crate::strategy::Registry;
use clap::{CommandFactory, FromArgMatches, Subcommand};
use std::process::ExitCode;

#[derive(clap::Parser)]
#[command(
    name = "paper_trader",
    version,
    about = "Deterministic record/replay paper trader for market making"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between the commands' argument structs costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Turn existing captures into a recording (raw bytes kept exactly).
    Import(log_cmds::ImportArgs),
    /// Print message records as `<recv_ns> <raw message>` lines.
    Cat(log_cmds::CatArgs),
    /// Files, time span, counts per stream, blocks, sizes, compression, integrity.
    Inspect(log_cmds::InspectArgs),
    /// Full integrity check: exit 0 intact, 3 torn tail, 4 corruption.
    Verify(log_cmds::VerifyArgs),
    /// Cut torn tails (keeping the cut bytes aside) and close unfinished files.
    Repair(log_cmds::RepairArgs),
    /// Rewrite closed files smaller (verified, then renamed over the originals).
    Compact(log_cmds::CompactArgs),
    /// Normalized events from the venue adapters, one a line.
    Events(venue_cmds::EventsArgs),
    /// The order book as it stands after every record received at or before a time.
    Book(venue_cmds::BookArgs),
    /// Write a recording of the synthetic venue.
    Synth(synth_cmd::SynthArgs),
    /// Run the engine over a recording and write a session.
    Replay(replay_cmd::ReplayArgs),
    /// Capture the live feed to a recording.
    Record(live_cmds::RecordArgs),
    /// Live paper session.
    Live(live_cmds::LiveArgs),
    /// Local websocket exchange speaking the venue's protocol.
    Serve(live_cmds::ServeArgs),
    /// The validation checklist with diagnoses.
    Validate(report_cmds::ValidateArgs),
    /// Summary to stdout; the HTML page with plots to a file.
    Report(report_cmds::ReportArgs),
    /// Replay the shipped sample, print checklist and summary, write the report.
    Demo(report_cmds::DemoArgs),
    /// Score a session's fills against the exact queue of its order-level recording.
    QueueTruth(queue_truth_cmd::QueueTruthArgs),
    /// A session's fills, orders, markouts or snapshots (or a recording's events) as CSV,
    /// JSON lines or Parquet.
    Export(export_cmd::ExportArgs),
}

/// `paper_trader` with the built-in strategy kinds.
pub fn main() -> ExitCode {
    run()
}

/// Every command of `paper_trader`, with the strategy kinds of `registry` (the built-ins plus
/// the caller's, see [`Registry::register`]): `strategy.kind = "<name>"` selects one and
/// `[strategy.<name>]` configures it, validated like every other key. The program is named
/// after its executable in `--help`.
pub fn main_with(registry: Registry) -> ExitCode {
    if crate::strategy::registry::install(registry).is_err() {
        eprintln!("error: a strategy registry was already in use; call main_with first");
        return ExitCode::from(commands::exit::FAILURE);
    }
    run()
}

fn run() -> ExitCode {
    let name = std::env::args_os()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "paper_trader".to_string());
    // Named once per process, so leaking the string is the simplest 'static name.
    let matches = Cli::command().name(&*Box::leak(name.into_boxed_str())).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    crate::init_logging();
    let result = match &cli.command {
        Command::Import(a) => log_cmds::import(a),
        Command::Cat(a) => log_cmds::cat(a),
        Command::Inspect(a) => log_cmds::inspect(a),
        Command::Verify(a) => log_cmds::verify(a),
        Command::Repair(a) => log_cmds::repair(a),
        Command::Compact(a) => log_cmds::compact(a),
        Command::Events(a) => venue_cmds::events(a),
        Command::Book(a) => venue_cmds::book(a),
        Command::Synth(a) => synth_cmd::synth(a),
        Command::Replay(a) => replay_cmd::replay(a),
        Command::Record(a) => live_cmds::record(a),
        Command::Live(a) => live_cmds::live(a),
        Command::Serve(a) => live_cmds::serve(a),
        Command::Validate(a) => report_cmds::validate(a),
        Command::Report(a) => report_cmds::report(a),
        Command::Demo(a) => report_cmds::demo(a),
        Command::QueueTruth(a) => queue_truth_cmd::queue_truth(a),
        Command::Export(a) => export_cmd::export(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(commands::exit::FAILURE)
        }
    }
}
