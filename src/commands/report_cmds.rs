//! Commands: Validate, Report, Demo (SKELETON).

use super::CmdResult;

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {}

pub fn validate(args: &ValidateArgs) -> CmdResult {
    anyhow::bail!("'validate' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {}

pub fn report(args: &ReportArgs) -> CmdResult {
    anyhow::bail!("'report' is not built yet ({args:?})")
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {}

pub fn demo(args: &DemoArgs) -> CmdResult {
    anyhow::bail!("'demo' is not built yet ({args:?})")
}
