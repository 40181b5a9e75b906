//! Commands: Replay (SKELETON).

use super::CmdResult;

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {}

pub fn replay(args: &ReplayArgs) -> CmdResult {
    anyhow::bail!("'replay' is not built yet ({args:?})")
}
