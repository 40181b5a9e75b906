//! paper_trader: a deterministic event-sourced record/replay paper trader for market making.
//!
//! The pure core (`types`, `venue`, `engine`, `market_maker`, `strategy`, `synth`, `queue_truth`) never
//! touches a clock, a socket, a file or a thread; `log`, `drivers`, `report` and `commands` do.
//! See `ARCHITECTURE.md`.

pub mod cli;
pub mod commands;
pub mod drivers;
pub mod engine;
pub mod log;
pub mod market_maker;
pub mod queue_truth;
pub mod report;
pub mod settings;
pub mod strategy;
pub mod synth;
pub mod types;
pub mod venue;

/// The program version written into every recording and session.
pub const PROGRAM_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default `info`). Colours only
/// when stderr is a terminal: a log file or a pipe gets plain text, never ANSI escapes.
/// `RUST_LOG=debug` adds the engine's orders, fills and model updates as a session runs
/// (collected from its outputs by the session runner); `trace` adds every input. Log lines
/// go above `live`'s status panel (`commands/panel.rs`), never through it.
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(commands::panel::PanelMakeWriter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
