//! Commands on recordings: import, cat, inspect, verify, repair.

use super::args::{parse_time, TimeArg};
use super::{exit, CmdResult};
use crate::log::import::{self, ImportFormat, Venue, NO_FINAL_NEWLINE, UNPARSED};
use crate::log::{Body, BodyRef, LogReader, Status, WriterOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// `<recv_ns> <json>` a line, gzip or plain (hftbacktest's collector).
    Hftbacktest,
    /// Hyperliquid's archive: lz4 frames of `{"time":..,"raw":{..}}` lines.
    HlArchive,
}

pub fn import_format(f: FormatArg) -> ImportFormat {
    match f {
        FormatArg::Hftbacktest => ImportFormat::Hftbacktest,
        FormatArg::HlArchive => ImportFormat::HlArchive,
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  paper_trader import --format hftbacktest --venue binance-usdm capture.gz --out rec/"
)]
pub struct ImportArgs {
    /// Input format.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Venue whose messages the inputs hold: hyperliquid or binance-usdm. Default: detected
    /// from the messages; when given, the messages must agree (COIN-M and spot are refused).
    #[arg(long)]
    pub venue: Option<String>,
    /// Input files, imported in the order given.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The recording directory to create (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// zstd level of the recording's blocks. The default is fast (the capture it comes from
    /// is still there); `paper_trader compact REC` rewrites a closed recording small for
    /// archival.
    #[arg(long, default_value_t = import::IMPORT_LEVEL, value_parser = clap::value_parser!(i32).range(-7..=19))]
    pub level: i32,
}

pub fn import(args: &ImportArgs) -> CmdResult {
    let venue = match &args.venue {
        Some(v) => Some(
            Venue::parse(v)
                .ok_or_else(|| anyhow::anyhow!("unknown venue '{v}': use hyperliquid or binance-usdm"))?,
        ),
        None => None,
    };
    let format = import_format(args.format);
    // The inputs still exist while importing: one sync at each file's close is enough.
    let opts = WriterOptions {
        fsync: false,
        zstd_level: args.level,
        window_log: import::IMPORT_WINDOW_LOG,
        ..WriterOptions::default()
    };
    let stats =
        import::import_detecting(format, venue, &args.inputs, &args.out, opts).map_err(|e| match e {
            crate::log::LogError::Refused { .. } => anyhow::anyhow!("import refused: {e}"),
            e => e.into(),
        })?;
    let venue = stats.venue.map_or("unknown", Venue::as_str);
    if args.venue.is_none() {
        tracing::info!("venue {venue}, detected from the messages");
    }
    if stats.backwards_times > 0 {
        tracing::warn!(
            "{} lines have a receive time before the previous line's: kept as recorded, in input order (replay clamps them and counts them as clamped_times)",
            stats.backwards_times
        );
    }
    tracing::info!(
        lines = stats.lines,
        messages = stats.messages,
        unparsed = stats.unparsed,
        streams = stats.streams.len(),
        "imported into {}",
        args.out.display()
    );
    if stats.unparsed > 0 {
        tracing::warn!(
            "{} lines were not `<recv_ns> <message>`: kept verbatim in stream '{UNPARSED}'",
            stats.unparsed
        );
    }
    println!(
        "imported {} lines ({} messages, {} unparsed) of {venue} into {}",
        stats.lines,
        stats.messages,
        stats.unparsed,
        args.out.display()
    );
    Ok(exit::OK)
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  paper_trader cat rec/ --from +30s --to +90s --stream btcusdt@trade")]
pub struct CatArgs {
    /// Recording directory or log file.
    pub rec: PathBuf,
    /// First receive time to print (RFC 3339, ns since the epoch, or +offset from the start).
    #[arg(long, value_parser = parse_time)]
    pub from: Option<TimeArg>,
    /// Last receive time to print (inclusive).
    #[arg(long, value_parser = parse_time)]
    pub to: Option<TimeArg>,
    /// Print only this stream's messages (e.g. `l2Book:BTC`, `btcusdt@trade`).
    #[arg(long)]
    pub stream: Option<String>,
}

/// Prints the reader's issues to stderr and maps its status to an exit code.
fn report_issues(reader: &LogReader) -> u8 {
    for i in reader.issues() {
        eprintln!("{i}");
    }
    status_code(reader.status())
}

fn status_code(s: Status) -> u8 {
    match s {
        Status::Intact => exit::OK,
        Status::TornTail => exit::TORN_TAIL,
        Status::Corrupt => exit::CORRUPT,
    }
}

/// Receive time of the recording's first record (for `+offset` times).
fn first_ns(rec: &std::path::Path) -> anyhow::Result<u64> {
    let mut r = LogReader::open(rec)?;
    Ok(r.next_record().map_or(0, |r| r.recv_ns))
}

pub fn cat(args: &CatArgs) -> CmdResult {
    super::venue_cmds::refuse_output_journal(&args.rec)?;
    let mut reader = LogReader::open(&args.rec)?;
    let start = if matches!(args.from, Some(TimeArg::FromStart(_)))
        || matches!(args.to, Some(TimeArg::FromStart(_)))
    {
        first_ns(&args.rec)?
    } else {
        0
    };
    if let Some(from) = args.from {
        reader.seek_time(from.resolve(start))?;
    }
    let to = args.to.map(|t| t.resolve(start));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    match write_messages(&mut reader, &mut out, to, args.stream.as_deref()).and_then(|()| out.flush()) {
        // A closed pipe (`cat rec | head`) is the reader saying it has enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(exit::OK),
        r => r?,
    }
    Ok(report_issues(&reader))
}

/// Writes message records as `<recv_ns> <raw>` lines (unparsed lines verbatim).
fn write_messages(
    reader: &mut LogReader,
    out: &mut impl Write,
    to: Option<u64>,
    stream: Option<&str>,
) -> std::io::Result<()> {
    // A newline is owed after each printed line unless the import marked it absent.
    let mut owe_newline = false;
    let mut buf = [0u8; 20];
    while let Some(rec) = reader.next_ref() {
        if to.is_some_and(|t| rec.recv_ns > t) {
            break;
        }
        let BodyRef::Message(raw) = rec.body else { continue };
        let name = rec.stream_name;
        if name == NO_FINAL_NEWLINE {
            owe_newline = false;
            continue;
        }
        if stream.is_some_and(|s| s != name) {
            continue;
        }
        if owe_newline {
            out.write_all(b"\n")?;
        }
        if name != UNPARSED {
            out.write_all(fmt_u64(&mut buf, rec.recv_ns))?;
            out.write_all(b" ")?;
        }
        out.write_all(raw)?;
        owe_newline = true;
    }
    if owe_newline {
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn fmt_u64(buf: &mut [u8; 20], mut v: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  paper_trader inspect rec/ --json")]
pub struct InspectArgs {
    /// Recording directory or log file.
    pub rec: PathBuf,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything `inspect` reports, gathered by one full read.
#[derive(serde::Serialize)]
struct Inspection {
    files: u64,
    records: u64,
    messages: u64,
    first_ns: u64,
    last_ns: u64,
    streams: BTreeMap<String, u64>,
    compressed_bytes: u64,
    raw_bytes: u64,
    status: &'static str,
    blocks: u64,
    closed_files: u64,
    controls: BTreeMap<String, u64>,
    header: crate::log::Header,
    file_list: Vec<String>,
    issues: Vec<String>,
}

fn gather(rec: &std::path::Path) -> anyhow::Result<Inspection> {
    let mut reader = LogReader::open(rec)?;
    let mut streams = BTreeMap::new();
    let mut controls = BTreeMap::new();
    let (mut records, mut messages, mut raw_bytes) = (0u64, 0u64, 0u64);
    let (mut first_ns, mut last_ns) = (None, 0u64);
    while let Some(r) = reader.next_record() {
        records += 1;
        first_ns.get_or_insert(r.recv_ns);
        last_ns = last_ns.max(r.recv_ns);
        match &r.body {
            Body::Message(raw) => {
                messages += 1;
                raw_bytes += raw.len() as u64;
                *streams.entry(reader.stream_name(r.stream).to_owned()).or_insert(0u64) += 1;
            }
            Body::Control(c) => {
                let name = format!("{c:?}");
                let kind = name.split([' ', '{']).next().unwrap_or("").to_owned();
                *controls.entry(kind).or_insert(0u64) += 1;
            }
        }
    }
    let files = reader.files();
    let compressed_bytes = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
    Ok(Inspection {
        files: files.len() as u64,
        records,
        messages,
        first_ns: first_ns.unwrap_or(0),
        last_ns,
        streams,
        compressed_bytes,
        raw_bytes,
        status: reader.status().as_str(),
        blocks: reader.file_stats().iter().map(|f| f.blocks).sum(),
        closed_files: reader.file_stats().iter().filter(|f| f.closed).count() as u64,
        controls,
        header: reader.header().clone(),
        file_list: files.iter().map(|f| f.display().to_string()).collect(),
        issues: reader.issues().iter().map(ToString::to_string).collect(),
    })
}

fn status_from_str(s: &str) -> u8 {
    match s {
        "intact" => exit::OK,
        "torn_tail" => exit::TORN_TAIL,
        _ => exit::CORRUPT,
    }
}

pub fn inspect(args: &InspectArgs) -> CmdResult {
    let i = gather(&args.rec)?;
    if args.json {
        println!("{}", serde_json::to_string(&i)?);
    } else {
        let h = &i.header;
        println!("recording  {}", args.rec.display());
        println!(
            "venue      {} (coins {}; written by {} {})",
            h.venue,
            h.coins.join(","),
            h.created_by,
            h.program_version
        );
        println!("files      {} ({} closed), {} blocks", i.files, i.closed_files, i.blocks);
        for f in &i.file_list {
            println!("           {f}");
        }
        if i.records > 0 {
            println!(
                "span       {} .. {} ({:.3} s)",
                super::args::format_rfc3339(i.first_ns),
                super::args::format_rfc3339(i.last_ns),
                (i.last_ns - i.first_ns) as f64 / 1e9
            );
        }
        println!("records    {} ({} messages)", i.records, i.messages);
        for (s, n) in &i.streams {
            println!("  {n:>10}  {s}");
        }
        for (c, n) in &i.controls {
            println!("  {n:>10}  control {c}");
        }
        let ratio = if i.compressed_bytes > 0 { i.raw_bytes as f64 / i.compressed_bytes as f64 } else { 0.0 };
        println!(
            "size       {} bytes on disk, {} bytes of messages ({ratio:.1}x)",
            i.compressed_bytes, i.raw_bytes
        );
        println!("integrity  {}", i.status);
        for issue in &i.issues {
            println!("  {issue}");
        }
    }
    Ok(status_from_str(i.status))
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  paper_trader verify rec/ && echo intact")]
pub struct VerifyArgs {
    /// Recording directory or log file.
    pub rec: PathBuf,
}

pub fn verify(args: &VerifyArgs) -> CmdResult {
    let mut reader = LogReader::open(&args.rec)?;
    let mut records = 0u64;
    while reader.next_record().is_some() {
        records += 1;
    }
    let code = report_issues(&reader);
    let status = reader.status();
    match status {
        Status::Intact => println!("intact: {records} records in {} files", reader.files().len()),
        Status::TornTail => println!(
            "torn tail: {records} records readable before it; `paper_trader repair {}` closes the file",
            args.rec.display()
        ),
        Status::Corrupt => println!(
            "corrupt: {records} records readable; the damaged parts are listed above; `paper_trader repair {}` rewrites what is readable",
            args.rec.display()
        ),
    }
    Ok(code)
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  paper_trader repair rec/   # originals kept in rec/damaged/")]
pub struct RepairArgs {
    /// Recording directory or log file.
    pub rec: PathBuf,
}

pub fn repair(args: &RepairArgs) -> CmdResult {
    let done = crate::log::repair::repair(&args.rec)?;
    if done.is_empty() {
        println!("nothing to repair: every file is closed and intact");
    }
    for r in &done {
        for i in &r.issues {
            println!("found: {i}");
        }
        match &r.rewritten {
            Some(p) => println!(
                "rewrote {} as {} ({} records); original kept as {}",
                r.original.display(),
                p.display(),
                r.records,
                r.moved_to.display()
            ),
            None => {
                println!("nothing readable in {}; moved to {}", r.original.display(), r.moved_to.display())
            }
        }
    }
    Ok(exit::OK)
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  paper_trader compact rec/ --keep-original   # originals kept in rec/precompact/"
)]
pub struct CompactArgs {
    /// Recording directory or log file.
    pub rec: PathBuf,
    /// Keep each original file in REC/precompact/ (default: the compact file replaces it).
    #[arg(long)]
    pub keep_original: bool,
}

pub fn compact(args: &CompactArgs) -> CmdResult {
    let done = crate::log::compact::compact(&args.rec, args.keep_original)?;
    let (mut before, mut after) = (0u64, 0u64);
    for c in &done {
        match &c.outcome {
            crate::log::compact::Outcome::Compacted { before: b, after: a } => {
                before += b;
                after += a;
                println!(
                    "compacted {}: {} -> {} bytes ({:.3}x), verified",
                    c.file.display(),
                    b,
                    a,
                    *a as f64 / (*b).max(1) as f64
                );
            }
            crate::log::compact::Outcome::Skipped(why) => println!("left {} alone: {why}", c.file.display()),
        }
    }
    if before > 0 {
        println!("total {before} -> {after} bytes ({:.3}x)", after as f64 / before as f64);
        if args.keep_original {
            println!("originals kept in {}", args.rec.join(crate::log::compact::PRECOMPACT_DIR).display());
        }
    }
    Ok(exit::OK)
}
