//! Commands `events` and `book`: a recording through the venue adapters and order books.

use super::args::{parse_time, TimeArg};
use super::CmdResult;
use crate::log::{Body, Control, LogReader, Record};
use crate::types::{format_fixed, Timestamp};
use crate::venue::{Adapter, AnomalyKind, Books, Level, MarketEvent, OrderBook, ProtocolKind, Venue};
use anyhow::Context;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Example: paper_trader events recordings/sample --from +10s --to +20s --json")]
pub struct EventsArgs {
    /// Recording directory (or one log file).
    pub rec: PathBuf,
    /// First receive time to print (RFC 3339, ns since the epoch, or +offset from the start).
    #[arg(long, value_parser = parse_time)]
    pub from: Option<TimeArg>,
    /// Last receive time to print.
    #[arg(long, value_parser = parse_time)]
    pub to: Option<TimeArg>,
    /// One JSON object a line.
    #[arg(long)]
    pub json: bool,
    /// Override the recording header's venue: hyperliquid or binance-usdm.
    #[arg(long)]
    pub venue: Option<String>,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Example: paper_trader book recordings/sample --coin BTC --at +90s --depth 5 --json")]
pub struct BookArgs {
    /// Recording directory (or one log file).
    pub rec: PathBuf,
    /// Coin as the venue names it (BTC on Hyperliquid, BTCUSDT on Binance).
    #[arg(long)]
    pub coin: String,
    /// The book after every record received at or before this time.
    #[arg(long, value_parser = parse_time)]
    pub at: TimeArg,
    /// Levels per side to print.
    #[arg(long, default_value_t = 20)]
    pub depth: usize,
    #[arg(long)]
    pub json: bool,
    /// Override the recording header's venue: hyperliquid or binance-usdm.
    #[arg(long)]
    pub venue: Option<String>,
}

/// What one record turns into.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Event(MarketEvent),
    /// A control record of the recording (connect, disconnect, gap, ...).
    Control {
        kind: &'static str,
        detail: String,
    },
}

/// A recording's records through an adapter and the books: message records give the
/// adapter's events plus the books' anomalies; control records reset what they must.
pub struct Normalizer {
    pub adapter: Adapter,
    pub books: Books,
    scratch: Vec<MarketEvent>,
    book_anomalies: Vec<MarketEvent>,
}

impl Normalizer {
    pub fn new(venue: Venue) -> Self {
        Normalizer {
            adapter: Adapter::new(venue),
            books: Books::new(venue),
            scratch: vec![],
            book_anomalies: vec![],
        }
    }

    /// Appends what the record turns into to `out`.
    pub fn on_record(&mut self, seq: u64, recv_ns: u64, stream: &str, body: &Body, out: &mut Vec<Item>) {
        match body {
            Body::Message(raw) => {
                self.scratch.clear();
                self.adapter.on_message(seq, Timestamp(recv_ns), stream, raw, &mut self.scratch);
                for e in self.scratch.drain(..) {
                    self.book_anomalies.clear();
                    self.books.apply(&e, &mut self.book_anomalies);
                    out.push(Item::Event(e));
                    out.extend(self.book_anomalies.drain(..).map(Item::Event));
                }
            }
            Body::Control(c) => {
                let (kind, detail) = match c {
                    Control::Connect { url } => {
                        self.adapter.on_connect();
                        self.books.invalidate_all();
                        ("connect", url.clone())
                    }
                    Control::Disconnect { reason } => {
                        self.books.invalidate_all();
                        ("disconnect", reason.clone())
                    }
                    Control::Gap { reason } => {
                        self.books.invalidate_all();
                        ("gap", reason.clone())
                    }
                    Control::Subscribe { subscription } => ("subscribe", subscription.clone()),
                    Control::Tick => ("tick", String::new()),
                    Control::End => ("end", String::new()),
                    // Silence, not loss: the books stay as they are.
                    Control::Stale { reason } => ("stale", reason.clone()),
                };
                out.push(Item::Control { kind, detail });
            }
        }
    }
}

fn open(rec: &Path, venue: Option<&str>) -> anyhow::Result<(LogReader, Venue)> {
    let reader = LogReader::open(rec).with_context(|| format!("cannot read recording {}", rec.display()))?;
    let name = venue.map_or_else(|| reader.header().venue.clone(), str::to_string);
    let venue = Venue::from_name(&name).with_context(|| {
        format!("unknown venue '{name}': pass --venue hyperliquid or --venue binance-usdm")
    })?;
    Ok((reader, venue))
}

/// What `events` says, in recording order: damage where it is met, then each normalized event.
enum Line<'a> {
    Damage(u64, &'a crate::log::Issue),
    Event(&'a crate::log::Record, &'a Item),
}

/// Walks a recording's normalized events between two receive times (absolute, or relative to
/// the first record); `emit` returns false to stop. Returns the reader for its issues.
fn walk_events(
    rec: &Path,
    venue: Option<&str>,
    from: Option<super::args::TimeArg>,
    to: Option<super::args::TimeArg>,
    emit: &mut dyn FnMut(Line<'_>) -> bool,
) -> anyhow::Result<LogReader> {
    let (mut reader, venue) = open(rec, venue)?;
    let mut norm = Normalizer::new(venue);
    let mut items = Vec::new();
    let mut window: Option<(u64, u64)> = None;
    let mut damage_seen = 0;
    let mut last_recv = 0;
    while let Some(rec) = reader.next_record() {
        last_recv = rec.recv_ns;
        // Damage in the recording is said where it is met, in the same stream of lines.
        for i in &reader.issues()[damage_seen..] {
            if !emit(Line::Damage(rec.recv_ns, i)) {
                return Ok(reader);
            }
        }
        damage_seen = reader.issues().len();
        let (from, to) = *window.get_or_insert_with(|| {
            let start = rec.recv_ns;
            (from.map_or(0, |t| t.resolve(start)), to.map_or(u64::MAX, |t| t.resolve(start)))
        });
        if rec.recv_ns > to {
            break;
        }
        items.clear();
        norm.on_record(rec.seq, rec.recv_ns, reader.stream_name(rec.stream), &rec.body, &mut items);
        if rec.recv_ns < from {
            continue; // processed for the state (books, history flags), not printed
        }
        for item in &items {
            if !emit(Line::Event(&rec, item)) {
                return Ok(reader);
            }
        }
    }
    for i in &reader.issues()[damage_seen..] {
        if !emit(Line::Damage(last_recv, i)) {
            break;
        }
    }
    Ok(reader)
}

pub fn events(args: &EventsArgs) -> CmdResult {
    refuse_output_journal(&args.rec)?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let reader = walk_events(&args.rec, args.venue.as_deref(), args.from, args.to, &mut |line| {
        let text = match (line, args.json) {
            (Line::Damage(t, i), true) => damage_json(t, i).to_string(),
            (Line::Damage(t, i), false) => damage_text(t, i),
            (Line::Event(r, item), true) => event_json(r, item).to_string(),
            (Line::Event(r, item), false) => event_text(r, item),
        };
        // stdout closed (e.g. `| head`): nothing more to say.
        writeln!(w, "{text}").is_ok()
    })?;
    let _ = w.flush();
    for i in reader.issues() {
        eprintln!("warning: input damage: {i}");
    }
    Ok(super::exit::OK)
}

/// Every `events --json` line of a recording (`export REC --what events`).
pub fn event_values(rec: &Path) -> anyhow::Result<Vec<Value>> {
    refuse_output_journal(rec)?;
    let mut out = Vec::new();
    let reader = walk_events(rec, None, None, None, &mut |line| {
        out.push(match line {
            Line::Damage(t, i) => damage_json(t, i),
            Line::Event(r, item) => event_json(r, item),
        });
        true
    })?;
    for i in reader.issues() {
        eprintln!("warning: input damage: {i}");
    }
    Ok(out)
}

/// `cat` and `events` read recordings of venue messages. A session directory, or its output
/// journal, holds the engine's records (msgpack): say so, and point to `export`.
pub fn refuse_output_journal(path: &Path) -> anyhow::Result<()> {
    let session = if path.join("outputs").is_dir() {
        Some(path.to_path_buf())
    } else if path.file_name().is_some_and(|n| n == "outputs") && path.with_file_name("summary.json").exists()
        || is_output_journal(path)
    {
        path.parent().map(Path::to_path_buf)
    } else {
        None
    };
    if let Some(s) = session {
        anyhow::bail!(
            "{} is a session's output journal (the engine's records, msgpack), not a recording of venue \
             messages: read its fills, orders, markouts and snapshots with `paper_trader export {} --what all \
             --format csv --out DIR` (docs/SESSION.md), or `paper_trader report {}`",
            path.display(),
            s.display(),
            s.display()
        );
    }
    Ok(())
}

/// A journal whose records are all on the output stream (`drivers::session::OUTPUT_STREAM`).
fn is_output_journal(path: &Path) -> bool {
    let Ok(mut reader) = LogReader::open(path) else { return false };
    match reader.next_record() {
        Some(rec) => reader.stream_name(rec.stream) == crate::drivers::session::OUTPUT_STREAM,
        None => false,
    }
}

/// An `events --json` line for damage in the recording (type `input_damage`), at the receive
/// time of the first record read after it.
fn damage_json(recv_ns: u64, i: &crate::log::Issue) -> Value {
    json!({
        "seq": Value::Null,
        "recv_ns": recv_ns,
        "type": "input_damage",
        "coin": Value::Null,
        "kind": if i.kind == crate::log::IssueKind::Corrupt { "corrupt" } else { "torn_tail" },
        "file": i.path.display().to_string(),
        "byte": i.offset,
        "detail": i.detail,
    })
}

fn damage_text(recv_ns: u64, i: &crate::log::Issue) -> String {
    format!("- {recv_ns} input_damage - {i}")
}

pub fn book(args: &BookArgs) -> CmdResult {
    let (mut reader, venue) = open(&args.rec, args.venue.as_deref())?;
    let mut norm = Normalizer::new(venue);
    let mut items = Vec::new();
    let mut at: Option<u64> = None;
    let mut last_ns = None;
    let mut reached_at = false;
    while let Some(rec) = reader.next_record() {
        let t = *at.get_or_insert_with(|| args.at.resolve(rec.recv_ns));
        if rec.recv_ns > t {
            reached_at = true;
            break;
        }
        last_ns = Some(rec.recv_ns);
        items.clear();
        norm.on_record(rec.seq, rec.recv_ns, reader.stream_name(rec.stream), &rec.body, &mut items);
    }
    let mut coins: std::collections::BTreeSet<String> = reader.header().coins.iter().cloned().collect();
    coins.extend(norm.books.coins().map(str::to_owned));
    if !coins.contains(&args.coin) {
        let list: Vec<&str> = coins.iter().map(String::as_str).collect();
        anyhow::bail!(
            "coin '{}' is not in {}; its coins: {}",
            args.coin,
            args.rec.display(),
            if list.is_empty() { "none".to_string() } else { list.join(", ") }
        );
    }
    let at_ns = at.unwrap_or_else(|| args.at.resolve(0));
    // Past the last record, the book shown is the last one, which says nothing about `at`.
    let after_end = !reached_at && last_ns.is_some_and(|l| at_ns > l);
    if after_end {
        eprintln!(
            "notice: --at is after the recording's end ({}); the book shown is the last one, at its end",
            super::args::format_rfc3339(last_ns.unwrap_or(0))
        );
    }
    let damage = reader.issues().len();
    for i in reader.issues() {
        eprintln!("warning: input damage before --at: {i}");
    }
    let book = norm.books.book(&args.coin);
    let out = if args.json {
        let mut v = book_json(&args.coin, at_ns, book, args.depth);
        v["after_end"] = json!(after_end);
        v["last_ns"] = json!(last_ns);
        v["input_damage"] = json!(damage);
        v.to_string()
    } else {
        let mut t = book_text(&args.coin, at_ns, book, args.depth);
        if after_end {
            t.push_str("\n(after the recording's end: this is its last book)");
        }
        t
    };
    println!("{out}");
    Ok(super::exit::OK)
}

fn pair(l: &Level) -> Value {
    json!([format_fixed(l.px.0), format_fixed(l.sz.0)])
}

fn side_json(levels: &[Level]) -> Value {
    Value::Array(levels.iter().map(pair).collect())
}

/// The `book --json` object of CLI.md.
pub fn book_json(coin: &str, at_ns: u64, book: Option<&OrderBook>, depth: usize) -> Value {
    let side = |it: Vec<Level>| side_json(&it);
    json!({
        "coin": coin,
        "at_ns": at_ns,
        "valid": book.is_some_and(|b| b.is_valid()),
        "bids": side(book.map(|b| b.bids().take(depth).collect()).unwrap_or_default()),
        "asks": side(book.map(|b| b.asks().take(depth).collect()).unwrap_or_default()),
        "exch_ns": book.map(|b| b.exch_ns().0),
    })
}

fn book_text(coin: &str, at_ns: u64, book: Option<&OrderBook>, depth: usize) -> String {
    let Some(b) = book else {
        return format!("{coin} at {at_ns}: no book (invalid)");
    };
    let mut s = format!(
        "{coin} at {at_ns} ({}), exchange time {}\n{:>20} {:>16} | {:<16} {:<20}\n",
        if b.is_valid() { "valid" } else { "INVALID" },
        b.exch_ns(),
        "bid size",
        "bid",
        "ask",
        "ask size"
    );
    let (bids, asks): (Vec<_>, Vec<_>) = (b.bids().take(depth).collect(), b.asks().take(depth).collect());
    for i in 0..bids.len().max(asks.len()) {
        let f = |l: Option<&Level>, px: bool| {
            l.map_or(String::new(), |l| if px { l.px.to_string() } else { l.sz.to_string() })
        };
        s.push_str(&format!(
            "{:>20} {:>16} | {:<16} {:<20}\n",
            f(bids.get(i), false),
            f(bids.get(i), true),
            f(asks.get(i), true),
            f(asks.get(i), false)
        ));
    }
    s.pop();
    s
}

pub fn anomaly_name(k: AnomalyKind) -> &'static str {
    match k {
        AnomalyKind::Malformed => "malformed",
        AnomalyKind::UnknownChannel => "unknown_channel",
        AnomalyKind::BadNumber => "bad_number",
        AnomalyKind::TimeBackwards => "time_backwards",
        AnomalyKind::SequenceGap => "sequence_gap",
        AnomalyKind::CrossedBook => "crossed_book",
        AnomalyKind::EmptyBook => "empty_book",
    }
}

fn protocol_name(k: ProtocolKind) -> &'static str {
    match k {
        ProtocolKind::Greeting => "greeting",
        ProtocolKind::SubscriptionAck => "subscription_ack",
        ProtocolKind::Pong => "pong",
        ProtocolKind::Error => "error",
        ProtocolKind::Other => "other",
    }
}

/// One `events --json` line (CLI.md: `seq`, `recv_ns`, `type`, `coin`, and per type more).
pub fn event_json(rec: &Record, item: &Item) -> Value {
    let mut v = json!({ "seq": rec.seq, "recv_ns": rec.recv_ns });
    let o = v.as_object_mut().expect("a json! object");
    let mut put = |k: &str, x: Value| {
        o.insert(k.to_string(), x);
    };
    match item {
        Item::Control { kind, detail } => {
            put("type", json!("control"));
            put("coin", Value::Null);
            put("kind", json!(kind));
            put("detail", json!(detail));
        }
        Item::Event(e) => {
            put("coin", json!(e.coin()));
            match e {
                MarketEvent::BookSnapshot { exch_ns, update_id, bids, asks, .. } => {
                    put("type", json!("book_snapshot"));
                    put("exch_ns", json!(exch_ns.0));
                    put("update_id", json!(update_id));
                    put("bids", side_json(bids));
                    put("asks", side_json(asks));
                }
                MarketEvent::BookDiff { exch_ns, first_id, last_id, prev_last_id, bids, asks, .. } => {
                    put("type", json!("book_diff"));
                    put("exch_ns", json!(exch_ns.0));
                    put("first_id", json!(first_id));
                    put("last_id", json!(last_id));
                    put("prev_last_id", json!(prev_last_id));
                    put("bids", side_json(bids));
                    put("asks", side_json(asks));
                }
                MarketEvent::Trade { exch_ns, side, px, sz, trade_id, history, .. } => {
                    put("type", json!("trade"));
                    put("exch_ns", json!(exch_ns.0));
                    put("side", json!(side.as_str()));
                    put("px", json!(px.to_string()));
                    put("sz", json!(sz.to_string()));
                    put("history", json!(history));
                    put("trade_id", json!(trade_id));
                }
                MarketEvent::Bbo { exch_ns, update_id, bid, ask, .. } => {
                    put("type", json!("bbo"));
                    put("exch_ns", json!(exch_ns.0));
                    put("update_id", json!(update_id));
                    put("bid", bid.as_ref().map_or(Value::Null, pair));
                    put("ask", ask.as_ref().map_or(Value::Null, pair));
                }
                MarketEvent::AssetCtx {
                    exch_ns,
                    mark_px,
                    oracle_px,
                    funding_rate,
                    open_interest,
                    next_funding_ns,
                    ..
                } => {
                    put("type", json!("asset_ctx"));
                    put("exch_ns", json!(exch_ns.map(|t| t.0)));
                    put("mark_px", json!(mark_px.to_string()));
                    put("oracle_px", json!(oracle_px.map(|p| p.to_string())));
                    put("funding_rate", json!(format_rate(*funding_rate)));
                    put("open_interest", json!(open_interest.map(|q| q.to_string())));
                    put("next_funding_ns", json!(next_funding_ns.map(|t| t.0)));
                }
                MarketEvent::Mids { mids } => {
                    put("type", json!("mids"));
                    let m: serde_json::Map<String, Value> =
                        mids.iter().map(|(c, p)| (c.clone(), json!(p.to_string()))).collect();
                    put("mids", Value::Object(m));
                }
                MarketEvent::Protocol { kind, detail } => {
                    put("type", json!("control"));
                    put("kind", json!(protocol_name(*kind)));
                    put("detail", json!(detail));
                }
                MarketEvent::Anomaly { kind, detail, .. } => {
                    put("type", json!("anomaly"));
                    put("kind", json!(anomaly_name(*kind)));
                    put("detail", json!(detail));
                }
            }
        }
    }
    v
}

/// A funding rate (units of 10^-12) as the exact decimal the venue wrote.
fn format_rate(r: i64) -> String {
    let scale = crate::venue::RATE_SCALE;
    let (sign, a) = if r < 0 { ("-", r.unsigned_abs()) } else { ("", r as u64) };
    let frac = format!("{:012}", a % scale as u64);
    let frac = frac.trim_end_matches('0');
    let int = a / scale as u64;
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

fn top(levels: &[Level]) -> String {
    levels.first().map_or("-".to_string(), |l| format!("{}x{}", l.px, l.sz))
}

/// One `events` text line: `seq recv_ns type coin details`.
pub fn event_text(rec: &Record, item: &Item) -> String {
    let head =
        |ty: &str, coin: Option<&str>| format!("{} {} {ty} {}", rec.seq, rec.recv_ns, coin.unwrap_or("-"));
    match item {
        Item::Control { kind, detail } => format!("{} {kind} {detail}", head("control", None)),
        Item::Event(e) => {
            let coin = e.coin();
            match e {
                MarketEvent::BookSnapshot { bids, asks, update_id, .. } => format!(
                    "{} best {} / {} levels {}/{}{}",
                    head("book_snapshot", coin),
                    top(bids),
                    top(asks),
                    bids.len(),
                    asks.len(),
                    update_id.map_or(String::new(), |u| format!(" id {u}"))
                ),
                MarketEvent::BookDiff { first_id, last_id, prev_last_id, bids, asks, .. } => format!(
                    "{} U {first_id} u {last_id} pu {prev_last_id} levels {}/{}",
                    head("book_diff", coin),
                    bids.len(),
                    asks.len()
                ),
                MarketEvent::Trade { side, px, sz, history, .. } => format!(
                    "{} {} {sz} @ {px}{}",
                    head("trade", coin),
                    side.as_str(),
                    if *history { " (history)" } else { "" }
                ),
                MarketEvent::Bbo { bid, ask, .. } => {
                    format!("{} {} / {}", head("bbo", coin), top(bid.as_slice()), top(ask.as_slice()))
                }
                MarketEvent::Mids { mids } => format!("{} {} coins", head("mids", None), mids.len()),
                MarketEvent::AssetCtx { mark_px, funding_rate, .. } => format!(
                    "{} mark {mark_px} funding {}",
                    head("asset_ctx", coin),
                    format_rate(*funding_rate)
                ),
                MarketEvent::Protocol { kind, detail } => {
                    format!("{} {} {detail}", head("control", None), protocol_name(*kind))
                }
                MarketEvent::Anomaly { kind, detail, .. } => {
                    format!("{} {} {detail}", head("anomaly", coin), anomaly_name(*kind))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, raw: &str) -> Record {
        Record { seq, recv_ns: 1000 + seq, stream: 0, body: Body::Message(raw.as_bytes().to_vec()) }
    }

    #[test]
    fn events_json_lines_and_book_json() {
        let mut n = Normalizer::new(Venue::Hyperliquid);
        let recs = [
            rec(0, "Websocket connection established."),
            rec(
                1,
                r#"{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"105056.0","sz":"0.00219","time":1,"tid":3}]}"#,
            ),
            rec(
                2,
                r#"{"channel":"l2Book","data":{"coin":"BTC","time":2,"levels":[[{"px":"105055.0","sz":"3.03620","n":5}],[{"px":"105056","sz":"6.3","n":1}]]}}"#,
            ),
            rec(3, r#"{"channel":"nope"}"#),
        ];
        let mut lines = vec![];
        for r in &recs {
            let mut items = vec![];
            let Body::Message(raw) = &r.body else { unreachable!() };
            n.on_record(r.seq, r.recv_ns, "BTC", &Body::Message(raw.clone()), &mut items);
            lines.extend(items.iter().map(|i| event_json(r, i)));
            assert!(items.iter().all(|i| !event_text(r, i).is_empty()));
        }
        assert_eq!(lines[0]["type"], "control");
        assert_eq!(lines[0]["kind"], "greeting");
        assert_eq!(
            lines[1],
            json!({"seq":1,"recv_ns":1001,"type":"trade","coin":"BTC","exch_ns":1_000_000,"side":"buy",
                   "px":"105056","sz":"0.00219","history":true,"trade_id":3})
        );
        assert_eq!(lines[2]["type"], "book_snapshot");
        assert_eq!(lines[2]["bids"], json!([["105055", "3.0362"]]));
        assert_eq!(lines[3]["type"], "anomaly");
        assert_eq!(lines[3]["kind"], "unknown_channel");
        let b = book_json("BTC", 5, n.books.book("BTC"), 1);
        assert_eq!(b["valid"], true);
        assert_eq!(b["asks"], json!([["105056", "6.3"]]));
        assert_eq!(book_json("ETH", 5, n.books.book("ETH"), 1)["valid"], false);
        let mut items = vec![];
        n.on_record(4, 1004, "", &Body::Control(Control::Disconnect { reason: "eof".into() }), &mut items);
        assert_eq!(items, vec![Item::Control { kind: "disconnect", detail: "eof".into() }]);
        assert_eq!(book_json("BTC", 5, n.books.book("BTC"), 1)["valid"], false);
        assert!(book_text("BTC", 5, n.books.book("BTC"), 3).contains("INVALID"));
    }
}
