//! Commands: Import, Cat, Inspect, Verify, Repair (SKELETON).

use super::CmdResult;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {}

pub fn import(args: &ImportArgs) -> CmdResult {
    anyhow::bail!("'import' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct CatArgs {}

pub fn cat(args: &CatArgs) -> CmdResult {
    anyhow::bail!("'cat' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {}

pub fn inspect(args: &InspectArgs) -> CmdResult {
    anyhow::bail!("'inspect' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {}

pub fn verify(args: &VerifyArgs) -> CmdResult {
    anyhow::bail!("'verify' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct RepairArgs {}

pub fn repair(args: &RepairArgs) -> CmdResult {
    anyhow::bail!("'repair' is not built yet ({args:?})")
}
