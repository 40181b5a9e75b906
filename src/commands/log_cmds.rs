//! Commands on recordings: import, cat, inspect, verify, repair.

use super::args::{parse_time, TimeArg};
use super::{exit, CmdResult};
use crate::log::import::{self, ImportFormat, Venue, NO_FINAL_NEWLINE, UNPARSED};
use crate::log::{Body, LogReader, Status, WriterOptions};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// `<recv_ns> <json>` a line, gzip or plain (hftbacktest's collector).
    Hftbacktest,
    /// Hyperliquid's archive: lz4 frames of `{"time":..,"raw":{..}}` lines.
    HlArchive,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  paper_trader import --format hftbacktest --venue binance-usdm capture.gz --out rec/"
)]
pub struct ImportArgs {
    /// Input format.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Venue whose messages the inputs hold: hyperliquid or binance-usdm.
    #[arg(long, default_value = "hyperliquid")]
    pub venue: String,
    /// Input files, imported in the order given.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The recording directory to create (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn import(args: &ImportArgs) -> CmdResult {
    let venue = Venue::parse(&args.venue)
        .ok_or_else(|| anyhow::anyhow!("unknown venue '{}': use hyperliquid or binance-usdm", args.venue))?;
    let format = match args.format {
        FormatArg::Hftbacktest => ImportFormat::Hftbacktest,
        FormatArg::HlArchive => ImportFormat::HlArchive,
    };
    // The inputs still exist while importing: one sync at each file's close is enough.
    let opts = WriterOptions { fsync: false, ..WriterOptions::default() };
    let stats = import::import(format, venue, &args.inputs, &args.out, opts)?;
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
        "imported {} lines ({} messages, {} unparsed) into {}",
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
    while let Some(rec) = reader.next_record() {
        if to.is_some_and(|t| rec.recv_ns > t) {
            break;
        }
        let Body::Message(raw) = &rec.body else { continue };
        let name = reader.stream_name(rec.stream);
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
