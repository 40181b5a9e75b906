//! Commands: Record, Live, Serve (SKELETON).

use super::CmdResult;

#[derive(clap::Args, Debug)]
pub struct RecordArgs {}

pub fn record(args: &RecordArgs) -> CmdResult {
    anyhow::bail!("'record' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct LiveArgs {}

pub fn live(args: &LiveArgs) -> CmdResult {
    anyhow::bail!("'live' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {}

pub fn serve(args: &ServeArgs) -> CmdResult {
    anyhow::bail!("'serve' is not built yet ({args:?})")
}
