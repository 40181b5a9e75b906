//! One library entry point per command: validated settings in, exit code out. The binary
//! (`src/bin/paper_trader.rs`) only parses flags and calls these. Each file owns its commands'
//! clap argument structs, so a command's flags live beside the code that uses them.

pub mod args;
pub mod config_file;
pub mod export_cmd;
pub mod live_cmds;
pub mod log_cmds;
pub mod panel;
pub mod queue_truth_cmd;
pub mod replay_cmd;
pub mod report_cmds;
pub mod synth_cmd;
pub mod venue_cmds;

/// Exit codes of the command-line contract (`CLI.md`).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const TORN_TAIL: u8 = 3;
    pub const CORRUPT: u8 = 4;
}

/// Result of a command: an exit code, or an error printed as one clear line (exit 1).
pub type CmdResult = anyhow::Result<u8>;
