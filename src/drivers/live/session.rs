//! `live`: a paper session (PENDING the engine's SessionRunner).

use crate::commands::live_cmds::LiveArgs;
use crate::commands::CmdResult;

pub fn run_command(args: &LiveArgs) -> CmdResult {
    anyhow::bail!("live --out {}: the engine is not merged into this build yet", args.out.display())
}
