//! Commands: Events, Book (SKELETON).

use super::CmdResult;

#[derive(clap::Args, Debug)]
pub struct EventsArgs {}

pub fn events(args: &EventsArgs) -> CmdResult {
    anyhow::bail!("'events' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct BookArgs {}

pub fn book(args: &BookArgs) -> CmdResult {
    anyhow::bail!("'book' is not built yet ({args:?})")
}
