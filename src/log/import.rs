//! Importers: existing captures into recordings, raw message bytes kept exactly.
//!
//! - `hftbacktest`: the collector's text form, `<recv_ns> <json>` a line, gzip or plain. Lines
//!   that are not in that form are kept verbatim in the stream `unparsed`; a missing final
//!   newline is marked by an empty message in the stream [`NO_FINAL_NEWLINE`], so `cat`
//!   reproduces the input byte for byte.
//! - `hl-archive`: Hyperliquid's archive, lz4 frames of `{"time":..,"ver_num":1,"raw":{..}}`
//!   lines; the record is the `raw` object's bytes as they appear in the line.

use super::{Header, LogError, LogWriter, WriterOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// `import`'s default zstd level (the command's `--level`).
pub const IMPORT_LEVEL: i32 = 1;
/// `import`'s zstd window (log2 bytes): one that holds a whole block (4 MiB), so the
/// compressor never takes its external-dictionary path when the window wraps. The writer
/// thread, import's longest, runs 14.7% fewer instructions on the shared BTCUSDT capture
/// (callgrind: 720.6 M -> 614.7 M), 4,415 -> 4,420 KB; a reader of the file holds that window
/// (replaying that import: peak RSS 29.6 -> 33.1 MiB).
pub const IMPORT_WINDOW_LOG: u32 = 22;

/// Stream of lines that are not `<recv_ns> <message>`.
pub const UNPARSED: &str = "unparsed";
/// Stream whose (empty) message says: the line before had no newline after it.
pub const NO_FINAL_NEWLINE: &str = "import:no-final-newline";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Hftbacktest,
    HlArchive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Venue {
    Hyperliquid,
    BinanceUsdm,
}

impl Venue {
    pub fn parse(s: &str) -> Option<Venue> {
        match s {
            "hyperliquid" => Some(Venue::Hyperliquid),
            "binance-usdm" => Some(Venue::BinanceUsdm),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Hyperliquid => "hyperliquid",
            Venue::BinanceUsdm => "binance-usdm",
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct ImportStats {
    pub lines: u64,
    pub messages: u64,
    pub unparsed: u64,
    pub streams: BTreeMap<String, u64>,
    pub first_ns: Option<u64>,
    pub last_ns: u64,
    /// The venue recorded in the header (named by `--venue`, or detected from the messages).
    pub venue: Option<Venue>,
    /// Lines whose receive time is before the previous line's: kept as they are, in order.
    pub backwards_times: u64,
}

/// The value of `"key":"value"` within the first `within` bytes of a JSON message (a cheap
/// scan for routing; values with escapes are not names and give `None`).
pub fn json_str_field<'a>(msg: &'a [u8], key: &str, within: usize) -> Option<&'a str> {
    let hay = &msg[..msg.len().min(within)];
    let mut buf = [0u8; 32];
    let pat = key_pattern(key, &mut buf);
    let at = find(hay, &pat)? + pat.len();
    str_value(msg, at)
}

/// [`json_str_field`] with the `"key":` searcher built once (building a searcher per call
/// was the top line of the first pass).
fn str_field<'a>(msg: &'a [u8], key: &Key, within: usize) -> Option<&'a str> {
    let at = key.find(&msg[..msg.len().min(within)])? + key.len;
    str_value(msg, at)
}

/// The string value starting at `msg[at..]` (after a key's colon).
fn str_value(msg: &[u8], at: usize) -> Option<&str> {
    let rest = &msg[at..];
    let skip = rest.iter().take_while(|b| **b == b' ').count();
    let rest = rest.get(skip..)?.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

/// `"key":`, in `buf` when it fits (no allocation per message on the hot path).
fn key_pattern<'b>(key: &str, buf: &'b mut [u8; 32]) -> std::borrow::Cow<'b, [u8]> {
    let k = key.as_bytes();
    if k.len() + 3 > buf.len() {
        return std::borrow::Cow::Owned(format!("\"{key}\":").into_bytes());
    }
    buf[0] = b'"';
    buf[1..=k.len()].copy_from_slice(k);
    buf[k.len() + 1] = b'"';
    buf[k.len() + 2] = b':';
    std::borrow::Cow::Borrowed(&buf[..k.len() + 3])
}

/// The first occurrence of `needle` in `hay` (memchr's SIMD substring search: the byte-by-byte
/// window compare was the top line of an import's profile).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// A `"key":` pattern with its searcher, built once for the keys every line is searched for.
struct Key {
    finder: memchr::memmem::Finder<'static>,
    len: usize,
}

impl Key {
    fn new(pattern: &'static [u8]) -> Key {
        Key { finder: memchr::memmem::Finder::new(pattern), len: pattern.len() }
    }
    fn find(&self, hay: &[u8]) -> Option<usize> {
        self.finder.find(hay)
    }
}

/// The keys routing and classification look for.
struct Keys {
    channel: Key,
    stream: Key,
    coin: Key,
    e: Key,
    pair: Key,
    t: Key,
    ps: Key,
    pu: Key,
    m: Key,
    x: Key,
}

static KEYS: std::sync::LazyLock<Keys> = std::sync::LazyLock::new(|| Keys {
    channel: Key::new(b"\"channel\":"),
    stream: Key::new(b"\"stream\":"),
    coin: Key::new(b"\"coin\":"),
    e: Key::new(b"\"e\":"),
    pair: Key::new(b"\"pair\":"),
    t: Key::new(b"\"T\":"),
    ps: Key::new(b"\"ps\":"),
    pu: Key::new(b"\"pu\":"),
    m: Key::new(b"\"M\":"),
    x: Key::new(b"\"X\":"),
});

/// The routing fields of a message, each looked up once per line: the first pass (venue
/// evidence, coins) and the record walk (stream names) read the same two.
#[derive(Clone, Copy)]
struct Fields<'a> {
    /// `"channel"` within the first 64 bytes (Hyperliquid).
    channel: Option<&'a str>,
    /// `"stream"` within the first 64 bytes (Binance combined streams).
    stream: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn of(msg: &'a [u8]) -> Fields<'a> {
        Fields { channel: channel_field(msg), stream: stream_field(msg) }
    }
}

fn channel_field(msg: &[u8]) -> Option<&str> {
    str_field(msg, &KEYS.channel, 64)
}

fn stream_field(msg: &[u8]) -> Option<&str> {
    str_field(msg, &KEYS.stream, 64)
}

/// Hyperliquid stream name: `<channel>:<coin>` for per-coin channels, `allMids`, or `ws`.
pub fn hyperliquid_stream(msg: &[u8]) -> (String, Option<String>) {
    let mut name = String::new();
    let coin = hyperliquid_stream_into(msg, &mut name).map(str::to_owned);
    (name, coin)
}

/// [`hyperliquid_stream`] into a reused buffer: writes the stream name into `name` and
/// returns the coin of a per-coin channel.
fn hyperliquid_stream_into<'a>(msg: &'a [u8], name: &mut String) -> Option<&'a str> {
    hyperliquid_stream_from(msg, channel_field(msg), name)
}

/// [`hyperliquid_stream_into`] given the message's `channel` field.
fn hyperliquid_stream_from<'a>(msg: &'a [u8], channel: Option<&str>, name: &mut String) -> Option<&'a str> {
    name.clear();
    let coin = match channel {
        Some("allMids") => {
            name.push_str("allMids");
            return None;
        }
        Some(channel @ ("l2Book" | "trades" | "bbo" | "activeAssetCtx" | "candle")) => {
            str_field(msg, &KEYS.coin, 512).map(|coin| (channel, coin))
        }
        _ => None,
    };
    match coin {
        Some((channel, coin)) => {
            name.push_str(channel);
            name.push(':');
            name.push_str(coin);
            Some(coin)
        }
        None => {
            name.push_str("ws");
            None
        }
    }
}

/// Binance combined-stream name (`btcusdt@depth@0ms`), `Snapshot` for a REST depth snapshot
/// (named once the symbol is known), or `ws`.
enum BinanceKind<'a> {
    Stream(&'a str),
    Snapshot,
    Other,
}

/// The kind of a Binance message, given its `stream` field.
fn binance_kind_from<'a>(msg: &[u8], stream: Option<&'a str>) -> BinanceKind<'a> {
    if let Some(s) = stream {
        return BinanceKind::Stream(s);
    }
    if msg.starts_with(b"{\"lastUpdateId\"") {
        return BinanceKind::Snapshot;
    }
    BinanceKind::Other
}

/// Splits `<digits> <message>`; the digits must print back identically (no leading zeros).
fn split_line(line: &[u8]) -> Option<(u64, &[u8])> {
    // The space is within the first 21 bytes of a line in this form: no need to look further.
    let sp = memchr::memchr(b' ', &line[..line.len().min(21)])?;
    let digits = &line[..sp];
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    // Digits only, and the value must fit (20 digits may overflow): `str::parse`'s result,
    // without the UTF-8 check and the sign handling.
    let mut ns = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        ns = ns.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    sane_time(ns).then_some((ns, &line[sp + 1..]))
}

/// 2000-01-01 and 2200-01-01 UTC in ns since the epoch: a receive time outside is not a
/// receive time (a corrupted or foreign line), and is kept verbatim as an unparsed line.
pub const SANE_FROM_NS: u64 = 946_684_800_000_000_000;
pub const SANE_UNTIL_NS: u64 = 7_258_118_400_000_000_000;

pub fn sane_time(ns: u64) -> bool {
    (SANE_FROM_NS..SANE_UNTIL_NS).contains(&ns)
}

fn open_input(path: &Path) -> Result<Box<dyn BufRead>, LogError> {
    let io = |source| LogError::Io { path: path.to_path_buf(), source };
    let mut f = BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(io)?);
    let head = f.fill_buf().map_err(io)?;
    // Compressed inputs are decompressed on a thread of their own (`read_ahead`), overlapping
    // the parsing and whatever the caller does with the lines.
    let spawn = |r: Box<dyn Read + Send>| -> Result<Box<dyn BufRead>, LogError> {
        Ok(Box::new(super::read_ahead::ReadAhead::spawn(r).map_err(io)?))
    };
    if head.starts_with(&[0x1f, 0x8b]) {
        spawn(Box::new(flate2::bufread::MultiGzDecoder::new(f)))
    } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        spawn(Box::new(lz4_flex::frame::FrameDecoder::new(f)))
    } else {
        Ok(Box::new(f))
    }
}

/// Calls `f(line, had_newline)` for each line of each input, until it breaks. Lines are
/// handed out of the reader's buffer where they lie (memchr finds the newlines); only a line
/// that spans two buffer fills is copied.
fn for_each_line(
    inputs: &[PathBuf],
    mut f: impl FnMut(&[u8], bool) -> Result<ControlFlow<()>, LogError>,
) -> Result<(), LogError> {
    let mut carry = Vec::new();
    for path in inputs {
        let mut r = open_input(path)?;
        carry.clear();
        loop {
            let chunk = r.fill_buf().map_err(|source| LogError::Io { path: path.clone(), source })?;
            let len = chunk.len();
            if len == 0 {
                break;
            }
            let mut rest = chunk;
            if !carry.is_empty() {
                match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        carry.extend_from_slice(&rest[..i]);
                        if f(&carry, true)?.is_break() {
                            return Ok(());
                        }
                        carry.clear();
                        rest = &rest[i + 1..];
                    }
                    None => {
                        carry.extend_from_slice(rest);
                        r.consume(len);
                        continue;
                    }
                }
            }
            while let Some(i) = memchr::memchr(b'\n', rest) {
                if f(&rest[..i], true)?.is_break() {
                    return Ok(());
                }
                rest = &rest[i + 1..];
            }
            carry.extend_from_slice(rest);
            r.consume(len);
        }
        if !carry.is_empty() && f(&carry, false)?.is_break() {
            return Ok(());
        }
    }
    Ok(())
}

/// What the first pass learned: the coins under each venue's reading, and the evidence of
/// which venue the messages come from.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct FirstPass {
    hyperliquid_coins: BTreeSet<String>,
    binance_symbols: BTreeSet<String>,
    evidence: VenueEvidence,
    /// Lines observed so far (the evidence names lines by number).
    line_no: u64,
    /// Binance symbol of the previous stream message, lowercase (names repeat line after line:
    /// one compare instead of a set lookup).
    last_symbol: String,
    /// Reused buffer for a Hyperliquid stream name.
    stream: String,
}

impl FirstPass {
    /// Observes the next line of the inputs (every line, in order: line numbers count them).
    fn observe_line(&mut self, format: ImportFormat, line: &[u8]) {
        self.line_no += 1;
        if let Some((_, msg)) = parse_line(format, line) {
            self.observe_message(msg, Fields::of(msg));
        }
    }

    /// Observes the message of the current line (counted by the caller), its fields looked
    /// up already.
    fn observe_message(&mut self, msg: &[u8], fields: Fields<'_>) {
        self.evidence.observe_fields(msg, self.line_no, fields);
        // Names are copied only when new (the sets hold a handful; a capture has millions of
        // lines naming them).
        if let Some(c) = hyperliquid_stream_from(msg, fields.channel, &mut self.stream) {
            if !self.hyperliquid_coins.contains(c) {
                self.hyperliquid_coins.insert(c.to_owned());
            }
        }
        if let BinanceKind::Stream(s) = binance_kind_from(msg, fields.stream) {
            if let Some(sym) = s.split('@').next() {
                if self.last_symbol != sym {
                    self.last_symbol.clear();
                    self.last_symbol.push_str(sym);
                    self.binance_symbols.insert(sym.to_ascii_uppercase());
                }
            }
        }
    }

    /// The venue (checked against `claimed`) and the header an import writes.
    pub fn header(&self, claimed: Option<Venue>) -> Result<(Venue, Header), LogError> {
        let venue = self.evidence.decide(claimed).map_err(|reason| LogError::Refused { reason })?;
        let coins: Vec<String> = match venue {
            Venue::Hyperliquid => self.hyperliquid_coins.iter().cloned().collect(),
            Venue::BinanceUsdm => self.binance_symbols.iter().cloned().collect(),
        };
        let header = Header {
            venue: venue.as_str().to_owned(),
            coins,
            program_version: crate::PROGRAM_VERSION.to_owned(),
            created_by: "import".to_owned(),
            ..Header::default()
        };
        Ok((venue, header))
    }
}

/// Collects the coins named in the inputs and the venue evidence (first pass: the header
/// names the coins, and the venue is settled before anything is written).
fn first_pass(format: ImportFormat, inputs: &[PathBuf]) -> Result<FirstPass, LogError> {
    let mut fp = FirstPass::default();
    for_each_line(inputs, |line, _| {
        fp.observe_line(format, line);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(fp)
}

/// How much of a capture [`prefix_header`] reads: enough for every stream of a usual capture
/// to have spoken (a guess only: the full pass checks it).
pub const PREFIX_LINES: u64 = 4096;
pub const PREFIX_BYTES: usize = 4 << 20;

/// The header the first `PREFIX_LINES` lines (at most `PREFIX_BYTES` of text) of the inputs
/// give: a guess at [`capture_header`]'s, to start on before the whole file has been read.
/// `None` when the prefix does not settle the venue (or reading it failed: the full pass
/// will report that).
pub fn prefix_header(
    format: ImportFormat,
    claimed: Option<Venue>,
    inputs: &[PathBuf],
) -> Option<(Venue, Header)> {
    let mut fp = FirstPass::default();
    let mut bytes = 0usize;
    let read = for_each_line(inputs, |line, _| {
        fp.observe_line(format, line);
        bytes += line.len() + 1;
        Ok(if fp.line_no >= PREFIX_LINES || bytes >= PREFIX_BYTES {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    });
    read.ok()?;
    fp.header(claimed).ok()
}

/// The market a message says it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seen {
    Hyperliquid,
    BinanceUsdm,
    /// Binance COIN-M (inverse, contract-sized) futures: `_PERP` or dated symbols, `ps` fields.
    BinanceCoinm,
    /// Binance spot: depth diffs without `pu`, trades with `M`, book tickers without `e`.
    BinanceSpot,
}

impl Seen {
    fn describe(self) -> &'static str {
        match self {
            Seen::Hyperliquid => "Hyperliquid",
            Seen::BinanceUsdm => "Binance USD-M futures",
            Seen::BinanceCoinm => "Binance COIN-M (inverse) futures, whose sizes are contracts, not coins",
            Seen::BinanceSpot => "Binance spot",
        }
    }
}

/// Counts of messages by the market they say they come from, with the first line of each.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct VenueEvidence {
    seen: BTreeMap<Seen, (u64, u64, String)>,
}

impl VenueEvidence {
    /// Classifies one message (a cheap scan of its first bytes; unknown shapes say nothing).
    pub fn observe(&mut self, msg: &[u8], line_no: u64) {
        self.observe_fields(msg, line_no, Fields::of(msg));
    }

    fn observe_fields(&mut self, msg: &[u8], line_no: u64, fields: Fields<'_>) {
        if let Some((seen, why)) = classify(msg, fields) {
            let e = self.seen.entry(seen).or_insert_with(|| (0, line_no, why.describe()));
            e.0 += 1;
        }
    }

    /// The venue the messages show, checked against the one the user named: `Err` names what
    /// was seen when it is not a supported venue, is mixed, or contradicts `claimed`.
    pub fn decide(&self, claimed: Option<Venue>) -> Result<Venue, String> {
        let example = |s: Seen| {
            let (n, line, what) = &self.seen[&s];
            format!("{n} messages, the first at line {line}: {what}")
        };
        for unsupported in [Seen::BinanceCoinm, Seen::BinanceSpot] {
            if self.seen.contains_key(&unsupported) {
                return Err(format!(
                    "the messages are {} ({}); only hyperliquid and binance-usdm are supported",
                    unsupported.describe(),
                    example(unsupported)
                ));
            }
        }
        let venues: Vec<Seen> = self.seen.keys().copied().collect();
        let detected = match venues.as_slice() {
            [] => None,
            [one] => Some(*one),
            _ => {
                let all: Vec<String> =
                    venues.iter().map(|v| format!("{} ({})", v.describe(), example(*v))).collect();
                return Err(format!("the messages come from more than one venue: {}", all.join("; ")));
            }
        };
        let as_venue = |s: Seen| if s == Seen::Hyperliquid { Venue::Hyperliquid } else { Venue::BinanceUsdm };
        match (detected, claimed) {
            (Some(d), Some(c)) if as_venue(d) != c => Err(format!(
                "--venue {} contradicts the messages, which are {} ({})",
                c.as_str(),
                d.describe(),
                example(d)
            )),
            (Some(d), _) => Ok(as_venue(d)),
            (None, Some(c)) => Ok(c),
            (None, None) => Err(
                "no message says which venue it comes from (no Hyperliquid channel, no Binance stream); pass --venue"
                    .to_owned(),
            ),
        }
    }
}

/// Why a message was classified as it was, formatted only for the first message of a kind.
enum Why<'a> {
    Text(&'static str),
    Channel(&'a str),
    Stream(&'a str),
    StreamNote(&'a str, &'static str),
}

impl Why<'_> {
    fn describe(&self) -> String {
        match self {
            Why::Text(t) => (*t).to_owned(),
            Why::Channel(ch) => format!("channel {ch}"),
            Why::Stream(stream) => format!("stream {stream}"),
            Why::StreamNote(stream, note) => format!("stream {stream}: {note}"),
        }
    }
}

/// The market of one message and a short description of the evidence.
fn classify<'a>(msg: &[u8], fields: Fields<'a>) -> Option<(Seen, Why<'a>)> {
    const HL_CHANNELS: [&str; 8] =
        ["l2Book", "trades", "bbo", "allMids", "activeAssetCtx", "candle", "subscriptionResponse", "pong"];
    if let Some(ch) = fields.channel {
        if HL_CHANNELS.contains(&ch) {
            return Some((Seen::Hyperliquid, Why::Channel(ch)));
        }
    }
    let head = &msg[..msg.len().min(512)];
    let has = |k: &Key| k.find(head).is_some();
    let keys = &*KEYS;
    if msg.starts_with(b"{\"lastUpdateId\"") {
        // A REST depth snapshot: futures ones carry event and transaction times (COIN-M's
        // also a pair), spot's only the update id.
        return Some(if has(&keys.pair) {
            (Seen::BinanceCoinm, Why::Text("a depth snapshot with a pair"))
        } else if has(&keys.t) {
            (Seen::BinanceUsdm, Why::Text("a futures depth snapshot"))
        } else {
            (Seen::BinanceSpot, Why::Text("a depth snapshot without transaction time"))
        });
    }
    let stream = fields.stream?;
    let symbol = stream.split('@').next().unwrap_or("");
    let kind = str_field(msg, &keys.e, 96);
    if symbol.contains('_') || has(&keys.ps) {
        return Some((Seen::BinanceCoinm, Why::Stream(stream)));
    }
    let seen = match kind {
        Some("depthUpdate") if has(&keys.pu) => Seen::BinanceUsdm,
        Some("depthUpdate") => {
            return Some((Seen::BinanceSpot, Why::StreamNote(stream, "a depth diff without pu")))
        }
        Some("trade") if has(&keys.m) && !has(&keys.x) => {
            return Some((Seen::BinanceSpot, Why::StreamNote(stream, "a spot trade (field M)")))
        }
        None if stream.ends_with("@bookTicker") => {
            return Some((Seen::BinanceSpot, Why::StreamNote(stream, "a book ticker without event type")))
        }
        _ => Seen::BinanceUsdm,
    };
    Some((seen, Why::Stream(stream)))
}

/// The byte range of the JSON object starting at `b[start]` (`{`), strings and escapes
/// respected.
fn object_end(b: &[u8], start: usize) -> Option<usize> {
    if b.get(start) != Some(&b'{') {
        return None;
    }
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for (i, &c) in b.iter().enumerate().skip(start) {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// `(recv_ns, raw bytes)` of an archive line (`raw` exactly as it appears in the line).
pub fn archive_parts(line: &[u8]) -> Option<(u64, &[u8])> {
    let time = json_str_field(line, "time", 64)?;
    let ns = match crate::commands::args::parse_time(&format!("{time}Z")).ok()? {
        crate::commands::args::TimeArg::Absolute(ns) => ns,
        crate::commands::args::TimeArg::FromStart(_) => return None,
    };
    let key = find(line, b"\"raw\":")? + 6;
    let start = key + line[key..].iter().take_while(|b| **b == b' ').count();
    let end = object_end(line, start)?;
    Some((ns, &line[start..end]))
}

/// The venue the messages of a capture show (checked against `claimed`, the user's
/// `--venue`: see [`VenueEvidence::decide`]) and the header an import of it writes, naming
/// every coin the messages name (a first pass over the inputs).
pub fn capture_header(
    format: ImportFormat,
    claimed: Option<Venue>,
    inputs: &[PathBuf],
) -> Result<(Venue, Header), LogError> {
    first_pass(format, inputs)?.header(claimed)
}

/// Calls `f(recv_ns, stream, raw)` for each record an import of `inputs` writes, in the order
/// it writes them (sequence numbers are the call's index from 0), until `f` breaks. `import` writes exactly these
/// records and `replay --format` feeds exactly these to the engine: one code path, so replaying
/// a capture directly and replaying its import cannot differ.
pub fn for_each_record(
    format: ImportFormat,
    venue: Venue,
    inputs: &[PathBuf],
    header: &Header,
    stats: &mut ImportStats,
    f: impl FnMut(u64, &str, &[u8]) -> Result<ControlFlow<()>, LogError>,
) -> Result<(), LogError> {
    records(format, venue, inputs, header, stats, f)
}

/// [`for_each_record`] with `header` a guess (from [`prefix_header`]), checked by the
/// whole-file first pass (every line, also after `f` breaks), whose result is returned. When
/// `result.header(claimed)` equals `header`, the records `f` saw are exactly those of
/// `for_each_record` with the true header; otherwise they are to be thrown away.
///
/// The first pass observes each line in the same walk, as the import's does
/// ([`import_speculative`]): one decompression of the capture, and the fields a line is
/// searched for looked up once for both. (It ran on a thread of its own, reading the inputs a
/// second time: that second inflate and line split were ~17% of a capture replay's CPU, on a
/// machine with two cores for four busy threads.) The walk runs beside the engine
/// (`drivers::parse_ahead`), so the engine's thread does none of it. After `f` breaks, the
/// rest of the input is only observed. The result is the whole-file first pass's exactly
/// (`observe_line` is what [`first_pass`] runs on every line); a read error comes first, as
/// when the first pass ran before the replay, then an error of `f`.
pub fn for_each_record_checked(
    format: ImportFormat,
    venue: Venue,
    inputs: &[PathBuf],
    header: &Header,
    stats: &mut ImportStats,
    mut f: impl FnMut(u64, &str, &[u8]) -> Result<ControlFlow<()>, LogError>,
) -> Result<FirstPass, LogError> {
    let mut fp = FirstPass::default();
    let mut walker = Walker::new(format, venue, header);
    let mut walking = true;
    let mut failed = None;
    for_each_line(inputs, |line, nl| {
        if !walking {
            fp.observe_line(format, line);
            return Ok(ControlFlow::Continue(()));
        }
        // The line is observed before its records are handed to `f`, also when `f` stops.
        match walker.line(stats, Some(&mut fp), line, nl, &mut f) {
            Ok(ControlFlow::Continue(())) => {}
            Ok(ControlFlow::Break(())) => walking = false,
            Err(e) => {
                failed = Some(e);
                walking = false;
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(fp),
    }
}

/// `(recv_ns, message)` of a line in `format`, or `None` for a line kept as unparsed.
fn parse_line(format: ImportFormat, line: &[u8]) -> Option<(u64, &[u8])> {
    match format {
        ImportFormat::Hftbacktest => split_line(line),
        ImportFormat::HlArchive => archive_parts(line),
    }
}

/// The record walk (see [`for_each_record`]).
fn records(
    format: ImportFormat,
    venue: Venue,
    inputs: &[PathBuf],
    header: &Header,
    stats: &mut ImportStats,
    mut f: impl FnMut(u64, &str, &[u8]) -> Result<ControlFlow<()>, LogError>,
) -> Result<(), LogError> {
    let mut walker = Walker::new(format, venue, header);
    for_each_line(inputs, |line, nl| walker.line(stats, None, line, nl, &mut f))
}

/// The record walk's state from one line to the next: each line becomes its records.
struct Walker {
    format: ImportFormat,
    venue: Venue,
    /// The header's first coin, lowercase: a snapshot's stream before any stream message.
    first_symbol: String,
    /// The symbol of the latest stream message.
    symbol: Option<String>,
    last_ns: u64,
    snapshot_stream: String,
    hl_stream: String,
}

impl Walker {
    fn new(format: ImportFormat, venue: Venue, header: &Header) -> Walker {
        Walker {
            format,
            venue,
            first_symbol: header
                .coins
                .first()
                .map_or_else(|| "unknown".to_owned(), |c| c.to_ascii_lowercase()),
            symbol: None,
            last_ns: 0,
            snapshot_stream: String::new(),
            hl_stream: String::new(),
        }
    }

    /// The records of one line (`nl`: a newline followed it), handed to `f`. With `observe`,
    /// the line is also observed by that first pass (as [`first_pass`] would, the fields
    /// looked up once for both): walking every line so, `observe` ends equal to
    /// `first_pass(format, inputs)`'s result.
    fn line(
        &mut self,
        stats: &mut ImportStats,
        mut observe: Option<&mut FirstPass>,
        line: &[u8],
        nl: bool,
        f: &mut impl FnMut(u64, &str, &[u8]) -> Result<ControlFlow<()>, LogError>,
    ) -> Result<ControlFlow<()>, LogError> {
        let mut put = |stats: &mut ImportStats, ns: u64, stream: &str, raw: &[u8]| {
            match stats.streams.get_mut(stream) {
                Some(n) => *n += 1,
                None => {
                    stats.streams.insert(stream.to_owned(), 1);
                }
            }
            stats.first_ns.get_or_insert(ns);
            stats.last_ns = ns;
            f(ns, stream, raw)
        };
        stats.lines += 1;
        let parsed = parse_line(self.format, line);
        if let Some(fp) = observe.as_deref_mut() {
            fp.line_no += 1;
        }
        match parsed {
            None => {
                stats.unparsed += 1;
                if put(stats, self.last_ns, UNPARSED, line)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Some((ns, msg)) => {
                if ns < self.last_ns {
                    // Kept raw, in input order (the file order follows the record order).
                    stats.backwards_times += 1;
                }
                self.last_ns = ns;
                stats.messages += 1;
                // The walk needs one field, the first pass both.
                let fields = match (&observe, self.venue) {
                    (Some(_), _) => Fields::of(msg),
                    (None, Venue::Hyperliquid) => Fields { channel: channel_field(msg), stream: None },
                    (None, Venue::BinanceUsdm) => Fields { channel: None, stream: stream_field(msg) },
                };
                if let Some(fp) = observe {
                    fp.observe_message(msg, fields);
                }
                let flow = match self.venue {
                    Venue::Hyperliquid => {
                        hyperliquid_stream_from(msg, fields.channel, &mut self.hl_stream);
                        put(stats, ns, &self.hl_stream, msg)?
                    }
                    Venue::BinanceUsdm => match binance_kind_from(msg, fields.stream) {
                        BinanceKind::Stream(s) => {
                            if let Some(sym) = s.split('@').next() {
                                if self.symbol.as_deref() != Some(sym) {
                                    self.symbol = Some(sym.to_owned());
                                }
                            }
                            put(stats, ns, s, msg)?
                        }
                        BinanceKind::Snapshot => {
                            // A snapshot names no symbol: take the latest stream's, else the
                            // first pass's (a snapshot may precede every stream message).
                            self.snapshot_stream.clear();
                            self.snapshot_stream
                                .push_str(self.symbol.as_deref().unwrap_or(&self.first_symbol));
                            self.snapshot_stream.push_str("@depthSnapshot");
                            put(stats, ns, &self.snapshot_stream, msg)?
                        }
                        BinanceKind::Other => put(stats, ns, "ws", msg)?,
                    },
                };
                if flow.is_break() {
                    return Ok(flow);
                }
            }
        }
        if !nl {
            return put(stats, self.last_ns, NO_FINAL_NEWLINE, b"");
        }
        Ok(ControlFlow::Continue(()))
    }
}

/// Imports `inputs` into a new recording directory `out`, refusing messages that contradict
/// `venue` (see [`import_detecting`]).
pub fn import(
    format: ImportFormat,
    venue: Venue,
    inputs: &[PathBuf],
    out: &Path,
    opts: WriterOptions,
) -> Result<ImportStats, LogError> {
    import_detecting(format, Some(venue), inputs, out, opts)
}

/// Imports `inputs` into a new recording directory `out`. The venue comes from the messages
/// (Hyperliquid channels, Binance streams); `venue`, when given, must agree with them. COIN-M
/// and spot captures are refused, naming what they are, until such venues are supported.
///
/// The header (venue, coins) needs the whole input, but writing starts at once with the one
/// the first lines give ([`prefix_header`]), the whole-file first pass made in the same read
/// as the import (one decompression, the fields each line is searched for looked up once for
/// both). When the true header differs, or the first pass refuses the input, or anything
/// fails, what this import created is removed and the import done the plain way
/// ([`import_checked_first`]): its result, errors and recording are those of an import that
/// had made its first pass before writing anything.
pub fn import_detecting(
    format: ImportFormat,
    venue: Option<Venue>,
    inputs: &[PathBuf],
    out: &Path,
    opts: WriterOptions,
) -> Result<ImportStats, LogError> {
    match import_speculative(format, venue, inputs, out, opts.clone())? {
        Some(stats) => Ok(stats),
        None => import_checked_first(format, venue, inputs, out, opts),
    }
}

/// [`import_detecting`] the plain way: the whole first pass, then the import with its header.
pub fn import_checked_first(
    format: ImportFormat,
    venue: Option<Venue>,
    inputs: &[PathBuf],
    out: &Path,
    opts: WriterOptions,
) -> Result<ImportStats, LogError> {
    let (venue, header) = capture_header(format, venue, inputs)?;
    import_with(format, venue, &header, inputs, out, opts)
}

/// The speculative import: `Ok(Some)` when the guessed header was the true one (the
/// recording is complete) or the true one is known and the import redone with it,
/// `Ok(None)` when something failed (nothing of this import is left: the plain import
/// decides, and meets the same failure).
///
/// The first lines are kept in memory until the guess is made from them (what
/// [`prefix_header`] reads, observed by the first pass as they come), then written with the
/// guessed header, and the rest of the input follows in the same read.
fn import_speculative(
    format: ImportFormat,
    claimed: Option<Venue>,
    inputs: &[PathBuf],
    out: &Path,
    opts: WriterOptions,
) -> Result<Option<ImportStats>, LogError> {
    let created = Created::before(out);
    let sync = !opts.fsync;
    let mut fp = FirstPass::default();
    let mut stats = ImportStats::default();
    // The prefix's lines, back to back, with where each ends and whether a newline followed.
    let mut prefix: Vec<u8> = Vec::new();
    let mut ends: Vec<(usize, bool)> = Vec::new();
    let mut writing: Option<Speculation> = None;
    let mut failed = false;
    let walked = for_each_line(inputs, |line, nl| {
        if let Some(s) = writing.as_mut() {
            let w = &mut s.writer;
            return s.walker.line(&mut stats, Some(&mut fp), line, nl, &mut |ns, stream, raw| {
                w.append_message(ns, stream, raw).map(|_| ControlFlow::Continue(()))
            });
        }
        fp.observe_line(format, line);
        prefix.extend_from_slice(line);
        ends.push((prefix.len(), nl));
        if fp.line_no >= PREFIX_LINES || prefix.len() + ends.len() >= PREFIX_BYTES {
            writing = Speculation::start(format, claimed, &fp, out, opts.clone(), &prefix, &ends, &mut stats);
            if writing.is_none() {
                failed = true;
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    });
    if walked.is_err() || failed {
        drop(writing);
        created.discard()?;
        return Ok(None);
    }
    if writing.is_none() {
        // The whole input was the prefix: the first pass is complete, the header true.
        writing = Speculation::start(format, claimed, &fp, out, opts.clone(), &prefix, &ends, &mut stats);
    }
    let Some(s) = writing else {
        created.discard()?;
        return Ok(None);
    };
    match fp.header(claimed) {
        Ok((v, header)) if v == s.venue && header == s.header => {
            finish(out, Some(Finishing { writer: s.writer, sync }))?;
            Ok(Some(stats))
        }
        truth => {
            drop(s);
            created.discard()?;
            // The first pass is complete (the read succeeded): its verdict is the plain
            // import's, and so is the import with the true header.
            let (v, header) = truth?;
            tracing::debug!(
                "the capture's first lines named other coins than the whole {:?}: importing again",
                header.coins
            );
            import_with(format, v, &header, inputs, out, opts).map(Some)
        }
    }
}

/// An import under way with a guessed header.
struct Speculation {
    venue: Venue,
    header: Header,
    walker: Walker,
    writer: super::batch_writer::BatchWriter,
}

impl Speculation {
    /// Opens the recording with the header `fp` gives so far and writes the prefix's lines;
    /// `None` when the prefix does not settle the header, or opening or writing failed.
    #[allow(clippy::too_many_arguments)]
    fn start(
        format: ImportFormat,
        claimed: Option<Venue>,
        fp: &FirstPass,
        out: &Path,
        opts: WriterOptions,
        prefix: &[u8],
        ends: &[(usize, bool)],
        stats: &mut ImportStats,
    ) -> Option<Speculation> {
        let (venue, header) = fp.header(claimed).ok()?;
        let w = LogWriter::create(out, header.clone(), opts).ok()?;
        let mut writer = super::batch_writer::BatchWriter::spawn(w).ok()?;
        let mut walker = Walker::new(format, venue, &header);
        *stats = ImportStats { venue: Some(venue), ..ImportStats::default() };
        let mut from = 0;
        for &(end, nl) in ends {
            let line = &prefix[from..end];
            from = end;
            let flow = walker
                .line(stats, None, line, nl, &mut |ns, stream, raw| {
                    writer.append_message(ns, stream, raw).map(|_| ControlFlow::Continue(()))
                })
                .ok()?;
            if flow.is_break() {
                return None;
            }
        }
        Some(Speculation { venue, header, walker, writer })
    }
}

/// Imports with a known header.
fn import_with(
    format: ImportFormat,
    venue: Venue,
    header: &Header,
    inputs: &[PathBuf],
    out: &Path,
    opts: WriterOptions,
) -> Result<ImportStats, LogError> {
    let sync = !opts.fsync;
    // Compression on a thread of its own (`batch_writer`): the same writer calls, in order.
    let mut w = super::batch_writer::BatchWriter::spawn(LogWriter::create(out, header.clone(), opts)?)?;
    let mut stats = ImportStats { venue: Some(venue), ..ImportStats::default() };
    records(format, venue, inputs, header, &mut stats, |ns, stream, raw| {
        w.append_message(ns, stream, raw).map(|_| ControlFlow::Continue(()))
    })?;
    finish(out, Some(Finishing { writer: w, sync }))?;
    Ok(stats)
}

/// A recording whose records are all queued, to be closed.
struct Finishing {
    writer: super::batch_writer::BatchWriter,
    /// Sync the finished files once (the writer did not sync at each flush).
    sync: bool,
}

fn finish(out: &Path, w: Option<Finishing>) -> Result<(), LogError> {
    let Some(Finishing { writer, sync }) = w else { return Ok(()) };
    writer.close()?;
    if sync {
        // The inputs still exist while importing, so one sync of the finished files suffices.
        for f in super::reader::recording_files(out)? {
            std::fs::File::open(&f)
                .and_then(|f| f.sync_all())
                .map_err(|source| LogError::Io { path: f.clone(), source })?;
        }
        super::writer::sync_dir(out)?;
    }
    Ok(())
}

/// What the recording directory's place held before an import, so that an import thrown
/// away removes exactly what it created: the directory (and any parents it made), or the
/// entries that were not there before (an existing directory must be empty to import into).
struct Created {
    /// The outermost missing directory on the way to `out`, when `out` did not exist.
    root: Option<PathBuf>,
    out: PathBuf,
    had: BTreeSet<std::ffi::OsString>,
}

impl Created {
    fn before(out: &Path) -> Created {
        let mut root = None;
        let mut p = Some(out);
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            root = Some(d.to_path_buf());
            p = d.parent();
        }
        let had = match root {
            Some(_) => BTreeSet::new(),
            None => std::fs::read_dir(out)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
                .unwrap_or_default(),
        };
        Created { root, out: out.to_path_buf(), had }
    }

    fn discard(&self) -> Result<(), LogError> {
        let remove = |p: &Path| {
            let r = if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
            match r {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(LogError::Io { path: p.to_path_buf(), source: e })
                }
                _ => Ok(()),
            }
        };
        if let Some(root) = &self.root {
            return remove(root);
        }
        let Ok(entries) = std::fs::read_dir(&self.out) else { return Ok(()) };
        for e in entries.flatten() {
            if !self.had.contains(&e.file_name()) {
                remove(&e.path())?;
            }
        }
        Ok(())
    }
}

/// Reads a whole input (gzip, lz4 frame or plain), for tests and benchmarks.
pub fn read_input(path: &Path) -> Result<Vec<u8>, LogError> {
    let mut r = open_input(path)?;
    let mut v = Vec::new();
    r.read_to_end(&mut v).map_err(|source| LogError::Io { path: path.to_path_buf(), source })?;
    Ok(v)
}
