//! Commands: Synth (SKELETON).

use super::CmdResult;

#[derive(clap::Args, Debug)]
pub struct SynthArgs {}

pub fn synth(args: &SynthArgs) -> CmdResult {
    anyhow::bail!("'synth' is not built yet ({args:?})")
}
