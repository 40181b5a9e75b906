//! Commands: `validate`, `report`, `demo`.

use super::{exit, CmdResult};
use crate::report::html;
use crate::report::session::Session;
use crate::report::summary::{self, SessionSummary};
use crate::report::validate::{self, ChecklistItem};
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  paper_trader validate demo-out\n  paper_trader validate demo-out --json | jq '.items[] | select(.pass == false)'"
)]
pub struct ValidateArgs {
    /// The session directory (written by `replay` or `live`).
    pub session: PathBuf,
    /// One JSON object on stdout: {"session", "pass", "items": [{name, pass, value, threshold, detail, diagnosis}]}.
    #[arg(long)]
    pub json: bool,
}

/// The checklist as the JSON object `validate --json` prints.
pub fn checklist_json(session: &Path, items: &[ChecklistItem]) -> serde_json::Value {
    serde_json::json!({
        "session": session.display().to_string(),
        "pass": items.iter().all(|i| i.pass),
        "items": items,
    })
}

pub fn validate(args: &ValidateArgs) -> CmdResult {
    let session = Session::load(&args.session)?;
    let items = session.checklist();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checklist_json(&args.session, &items))?);
    } else {
        println!(
            "validation checklist: {} (first 30 min of event time; regime and checkpoints over the whole session)",
            args.session.display()
        );
        print!("{}", validate::render_text(&items));
    }
    if session.undecodable > 0 {
        eprintln!("warning: {} journal records did not decode as outputs (skipped)", session.undecodable);
    }
    Ok(if items.iter().all(|i| i.pass) { exit::OK } else { exit::FAILURE })
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  paper_trader report demo-out --html demo-out/report.html")]
pub struct ReportArgs {
    /// The session directory (written by `replay` or `live`).
    pub session: PathBuf,
    /// Write the self-contained HTML page with plots to this file.
    #[arg(long, value_name = "F")]
    pub html: Option<PathBuf>,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Writes the HTML report of a loaded session.
pub fn write_html(
    session: &Session,
    items: &[ChecklistItem],
    summary: &SessionSummary,
    path: &Path,
) -> anyhow::Result<()> {
    let page = html::render(session, items, summary)?;
    std::fs::write(path, page).with_context(|| format!("writing the report to {}", path.display()))
}

pub fn report(args: &ReportArgs) -> CmdResult {
    let session = Session::load(&args.session)?;
    let items = session.checklist();
    let summary = SessionSummary::compute(&session);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary::render_text(&summary));
        println!("checklist:");
        print!("{}", validate::render_text(&items));
    }
    if let Some(path) = &args.html {
        write_html(&session, &items, &summary, path)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(exit::OK)
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  paper_trader demo            # replays recordings/sample into demo-out/")]
pub struct DemoArgs {
    /// The recording to replay.
    #[arg(long, default_value = "recordings/sample")]
    pub recording: PathBuf,
    /// The session directory to write (a previous one is removed first).
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
}

pub fn demo(args: &DemoArgs) -> CmdResult {
    if !args.recording.exists() {
        anyhow::bail!(
            "{} is missing: run from the project's root, or regenerate it with `make sample`",
            args.recording.display()
        );
    }
    if args.out.exists() {
        std::fs::remove_dir_all(&args.out)
            .with_context(|| format!("removing the previous {}", args.out.display()))?;
    }
    println!("replaying {} into {} ...", args.recording.display(), args.out.display());
    // The replay goes through the `replay` command of this same binary, so the demo runs
    // exactly what a user would type and the CLI contract is its only dependency.
    let exe = std::env::current_exe().context("locating the paper_trader executable")?;
    let status = std::process::Command::new(exe)
        .arg("replay")
        .arg(&args.recording)
        .arg("--out")
        .arg(&args.out)
        .stdout(std::process::Stdio::null())
        .status()
        .context("starting the replay")?;
    if !status.success() {
        anyhow::bail!("the replay of {} failed ({status}); see the messages above", args.recording.display());
    }
    let session = Session::load(&args.out)?;
    let items = session.checklist();
    let summary = SessionSummary::compute(&session);
    println!("\nvalidation checklist:");
    print!("{}", validate::render_text(&items));
    println!();
    print!("{}", summary::render_text(&summary));
    let html_path = args.out.join("report.html");
    write_html(&session, &items, &summary, &html_path)?;
    let shown = std::fs::canonicalize(&html_path).unwrap_or(html_path);
    println!("\nHTML report: {}", shown.display());
    println!("open it with: xdg-open {}", shown.display());
    Ok(if items.iter().all(|i| i.pass) { exit::OK } else { exit::FAILURE })
}
