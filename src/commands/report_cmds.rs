//! Commands: `validate`, `report`, `demo`.

use super::{exit, CmdResult};
use crate::report::html;
use crate::report::session::Session;
use crate::report::summary::{self, SessionSummary, TerminalSummary};
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
    /// The session directory (written by `replay` or `live`), or a sweep directory (written by
    /// `replay --set KEY=A,B`: then the sweep page, one row per run).
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

/// The terminal summary of a session directory: the layout `demo`, `replay` and `report`
/// share (figures, PnL breakdown, interpretation, then the checklist).
pub fn terminal_summary(dir: &Path) -> anyhow::Result<String> {
    // The journal is streamed through the summary and the checklist, never held whole: a
    // long session's outputs are hundreds of MB decoded. That needs the span and settings
    // before the first output, from summary.json and session.toml; without a span (a session
    // that did not finish) the whole session is loaded as `report` does.
    let head = Session::head(dir)?;
    if head.span("first_ns").is_none() || head.span("last_ns").is_none() {
        let session = Session::load(dir)?;
        return Ok(summary_text(&SessionSummary::compute(&session), &session.checklist()));
    }
    let mut acc = TerminalSummary::new(&head, head.first);
    let session = Session::stream(dir, |t, o| acc.observe(t, &o))?;
    Ok(acc.finish(&session))
}

fn summary_text(summary: &SessionSummary, items: &[ChecklistItem]) -> String {
    summary::terminal_text(summary, items)
}

pub fn report(args: &ReportArgs) -> CmdResult {
    if crate::report::sweep_page::is_sweep(&args.session) {
        return report_sweep(args);
    }
    let session = Session::load(&args.session)?;
    let items = session.checklist();
    let summary = SessionSummary::compute(&session);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary_text(&summary, &items));
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
    /// The session directory to write: it must not exist or be empty, unless --replace.
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
    /// Replace --out if it holds a session this program wrote (it carries the marker file
    /// `.paper_trader-session`); a directory holding anything else is never touched.
    #[arg(long)]
    pub replace: bool,
    /// Print the configuration the demo replays with (TOML, a comment per key) and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// What a session directory may hold when `--replace` removes it: what `replay`, `live`
/// and `demo` write there. Anything else in it means someone else's files are there too.
const SESSION_ENTRIES: &[&str] = &[
    crate::drivers::session::SESSION_MARKER,
    "outputs",
    "checkpoints",
    "inputs",
    "session.toml",
    "summary.json",
    "live.json",
    "report.html",
];

/// Makes `out` ready for a new session: absent or empty is fine; one of our sessions is
/// removed with `--replace`; anything else is refused, and nothing is deleted.
pub fn clear_session_dir(out: &Path, replace: bool) -> anyhow::Result<()> {
    if !out.exists() {
        return Ok(());
    }
    anyhow::ensure!(
        out.is_dir(),
        "--out {} exists and is not a directory: choose another --out",
        out.display()
    );
    let entries: Vec<String> = std::fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    if !entries.iter().any(|e| e == crate::drivers::session::SESSION_MARKER) {
        anyhow::bail!(
            "--out {} is not empty and is not a paper_trader session (no {} marker): nothing was deleted; choose another --out",
            out.display(),
            crate::drivers::session::SESSION_MARKER
        );
    }
    if !replace {
        anyhow::bail!(
            "--out {} already holds a session: pass --replace to replace it, or choose another --out",
            out.display()
        );
    }
    if let Some(foreign) = entries.iter().find(|e| !SESSION_ENTRIES.contains(&e.as_str())) {
        anyhow::bail!(
            "--out {} holds {foreign}, which a session does not write: nothing was deleted; move it away or choose another --out",
            out.display()
        );
    }
    std::fs::remove_dir_all(out).with_context(|| format!("removing the previous session {}", out.display()))
}

pub fn demo(args: &DemoArgs) -> CmdResult {
    if args.print_config {
        print!("{}", crate::engine::keys::annotated_toml(&crate::engine::EngineConfig::default(), "demo"));
        return Ok(exit::OK);
    }
    if !args.recording.exists() {
        anyhow::bail!(
            "{} is missing: run from the project's root, or regenerate it with `make sample`",
            args.recording.display()
        );
    }
    clear_session_dir(&args.out, args.replace)?;
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
    println!();
    print!("{}", summary_text(&summary, &items));
    let html_path = args.out.join("report.html");
    write_html(&session, &items, &summary, &html_path)?;
    let shown = std::fs::canonicalize(&html_path).unwrap_or(html_path);
    println!("\nHTML report: {}", shown.display());
    println!("open it with: xdg-open {}", shown.display());
    Ok(if items.iter().all(|i| i.pass) { exit::OK } else { exit::FAILURE })
}

/// `report SWEEPDIR`: the runs of a sweep side by side (text, or the sweep page with --html).
fn report_sweep(args: &ReportArgs) -> CmdResult {
    let page = crate::report::sweep_page::SweepPage::load(&args.session)?;
    if args.json {
        anyhow::bail!("--json on a sweep: read {}/sweep.json", args.session.display());
    }
    print!("{}", page.render_text());
    if let Some(path) = &args.html {
        std::fs::write(path, page.render_html())
            .with_context(|| format!("writing the sweep page to {}", path.display()))?;
        eprintln!("sweep page written to {}", path.display());
    }
    Ok(exit::OK)
}
