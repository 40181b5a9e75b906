//! The local exchange's playback: reads market messages from a source (a recording, a text
//! capture, the synthetic venue) and publishes them to the connected clients at their original
//! pace or accelerated, raw bytes as recorded, routed by stream (`l2Book:BTC`, ...).
//!
//! Timeline: one market for all clients, as on a real exchange. Its clock starts just after the
//! first client connects (so a client that subscribes at once sees the recording from its
//! first message); a
//! client that connects later joins the market where it is. At the end of the source the
//! playback either stops (clients stay connected, pings are still answered, no more data) or,
//! with `looping`, starts again from the beginning (exchange times then jump back).
//!
//! Hyperliquid's first `trades` message after a subscription is a batch of trades from before
//! it. The playback therefore never re-sends a recording's own after-subscribe batches as new
//! trades (the first `trades` message of each coin, and the first after each connect or
//! subscribe record): it keeps them as history, and the server composes each subscriber's
//! history batch from the most recent trades.
#![allow(clippy::disallowed_methods)] // A driver: pacing reads the monotonic clock.

use crate::drivers::ws_client::hyperliquid::{self as hl, PROTOCOL_STREAM};
use crate::drivers::ws_server::Hub;
use crate::settings::Speed;
use crossbeam_channel::Receiver;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

/// One item of a message source.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceItem {
    Message {
        recv_ns: u64,
        stream: String,
        raw: Vec<u8>,
    },
    /// The recorder (re)connected or (re)subscribed here: the next `trades` message of each
    /// coin is again a history batch.
    Resubscribed,
}

/// Market messages in time order.
pub trait MessageSource: Send {
    fn next_item(&mut self) -> Result<Option<SourceItem>, String>;
}

/// Messages held in memory (tests, benchmarks).
pub struct VecSource {
    items: std::vec::IntoIter<SourceItem>,
}

impl VecSource {
    pub fn new(items: Vec<SourceItem>) -> VecSource {
        VecSource { items: items.into_iter() }
    }
}

impl MessageSource for VecSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, String> {
        Ok(self.items.next())
    }
}

/// A capture in the text collector form, `<recv_ns> <raw json>` a line, gzip or plain. The
/// stream of each line is routed from its content.
pub struct TextCaptureSource {
    lines: Box<dyn BufRead + Send>,
    line_no: u64,
    buf: Vec<u8>,
}

impl TextCaptureSource {
    pub fn open(path: &Path) -> Result<TextCaptureSource, String> {
        let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut magic = [0u8; 2];
        let n = f.read(&mut magic).map_err(|e| format!("{}: {e}", path.display()))?;
        drop(f);
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let lines: Box<dyn BufRead + Send> = if n == 2 && magic == [0x1f, 0x8b] {
            Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))
        } else {
            Box::new(BufReader::new(f))
        };
        Ok(TextCaptureSource { lines, line_no: 0, buf: Vec::new() })
    }

    /// Whether a file looks like a text capture (gzip, or a line starting with digits).
    pub fn looks_like(path: &Path) -> bool {
        let Ok(mut f) = std::fs::File::open(path) else { return false };
        let mut head = [0u8; 20];
        let n = f.read(&mut head).unwrap_or(0);
        (n >= 2 && head[..2] == [0x1f, 0x8b]) || {
            let digits = head[..n].iter().take_while(|b| b.is_ascii_digit()).count();
            digits > 0 && digits < n && head[digits] == b' '
        }
    }
}

impl MessageSource for TextCaptureSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, String> {
        loop {
            self.buf.clear();
            let n = self
                .lines
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| format!("line {}: {e}", self.line_no + 1))?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let sp = line
                .iter()
                .position(|&b| b == b' ')
                .ok_or_else(|| format!("line {}: no '<recv_ns> ' prefix", self.line_no))?;
            let recv_ns = std::str::from_utf8(&line[..sp])
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    format!(
                        "line {}: '{}' is not a receive time in ns",
                        self.line_no,
                        String::from_utf8_lossy(&line[..sp])
                    )
                })?;
            let raw = line[sp + 1..].to_vec();
            return Ok(Some(SourceItem::Message { recv_ns, stream: hl::stream_of(&raw), raw }));
        }
    }
}

/// A recording written by this program (a directory of log files, or one file). Its connect
/// and subscribe records mark where the next `trades` messages are history batches.
pub struct LogSource {
    reader: crate::log::LogReader,
}

impl LogSource {
    pub fn open(path: &Path) -> Result<LogSource, String> {
        crate::log::LogReader::open(path).map(|reader| LogSource { reader }).map_err(|e| e.to_string())
    }
}

impl MessageSource for LogSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, String> {
        use crate::log::{Body, Control};
        while let Some(rec) = self.reader.next_record() {
            match rec.body {
                Body::Message(raw) => {
                    let stream = self.reader.stream_name(rec.stream).to_string();
                    return Ok(Some(SourceItem::Message { recv_ns: rec.recv_ns, stream, raw }));
                }
                Body::Control(Control::Connect { .. } | Control::Subscribe { .. }) => {
                    return Ok(Some(SourceItem::Resubscribed))
                }
                Body::Control(_) => {}
            }
        }
        Ok(None)
    }
}

/// Opens `path` as a text capture when it looks like one, else as a recording.
pub fn open_path(path: &Path) -> Result<Box<dyn MessageSource>, String> {
    if path.is_file() && TextCaptureSource::looks_like(path) {
        Ok(Box::new(TextCaptureSource::open(path)?))
    } else {
        Ok(Box::new(LogSource::open(path)?))
    }
}

/// Opens a fresh message source (the playback opens one for its history read-ahead, one to
/// play, and one per loop).
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn MessageSource>, String> + Send>;

/// The synthetic venue, live: an endless feed in Hyperliquid's wire format.
pub struct SynthSource {
    venue: crate::synth::SynthVenue,
}

impl MessageSource for SynthSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, String> {
        let m = self.venue.next_message();
        Ok(Some(SourceItem::Message { recv_ns: m.recv_ns, stream: m.stream, raw: m.raw }))
    }
}

/// Opens the synthetic venue for `coins` with `config` and `seed` (checked once here, so a bad
/// configuration fails before the server starts).
pub fn synth_opener(
    config: crate::synth::SynthConfig,
    seed: u64,
    coins: &[String],
) -> anyhow::Result<Opener> {
    let coins = coins.to_vec();
    crate::synth::SynthVenue::new(config.clone(), seed, &coins)
        .map_err(|e| anyhow::anyhow!("synthetic venue: {e}"))?;
    Ok(Box::new(move || {
        crate::synth::SynthVenue::new(config.clone(), seed, &coins)
            .map(|venue| Box::new(SynthSource { venue }) as Box<dyn MessageSource>)
            .map_err(|e| e.to_string())
    }))
}

/// How the playback runs.
#[derive(Clone, Copy, Debug)]
pub struct PlaybackOptions {
    pub speed: Speed,
    pub looping: bool,
}

/// What a playback did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlaybackReport {
    pub published: u64,
    /// A recording's own after-subscribe trade batches, kept as history instead of re-sent.
    pub history_batches: u64,
    pub skipped_protocol: u64,
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    pub loops: u64,
}

/// Wall time between the first connection and the start of the market's clock.
pub const SUBSCRIBE_GRACE: Duration = Duration::from_millis(200);

/// Queue depth past which a `--speed max` playback waits for its clients to catch up.
const MAX_SPEED_QUEUE_HIGH_WATER: usize = crate::drivers::ws_server::CONNECTION_QUEUE_CAPACITY / 2;

/// Publishes `open()`'s messages to the hub, paced, until the source ends (or, looping, until
/// the server shuts down). Waits for the first client before it starts the clock.
pub fn play(
    hub: &Hub,
    first_connection: &Receiver<()>,
    open: &mut dyn FnMut() -> Result<Box<dyn MessageSource>, String>,
    opts: PlaybackOptions,
) -> Result<PlaybackReport, String> {
    let mut report = PlaybackReport::default();
    let mut primed = prime_history(hub, open()?)?;
    let mut source = open()?;
    if !hub.wait_first_connection(first_connection) {
        return Ok(report);
    }
    // A live session in this process that connected reserved its engine's CPU by now.
    super::affinity::leave_engine_cpu();
    // The first client sends its subscriptions right after connecting: give them time to
    // arrive so that it sees the recording from its first message.
    std::thread::sleep(SUBSCRIBE_GRACE);
    let mut start = Instant::now();
    let mut base_ns: Option<u64> = None;
    // Coins whose after-subscribe history batch has been seen since the last (re)subscribe.
    let mut history_seen: BTreeSet<String> = BTreeSet::new();
    loop {
        if hub.is_shut_down() {
            return Ok(report);
        }
        let item = match source.next_item()? {
            Some(item) => item,
            None if opts.looping => {
                report.loops += 1;
                tracing::info!(loops = report.loops, "end of the recording: starting again");
                source = open()?;
                start = Instant::now();
                base_ns = None;
                history_seen.clear();
                primed.clear();
                continue;
            }
            None => {
                tracing::info!(published = report.published, "end of the recording: no more data");
                return Ok(report);
            }
        };
        let (recv_ns, stream, raw) = match item {
            SourceItem::Resubscribed => {
                history_seen.clear();
                primed.clear();
                continue;
            }
            SourceItem::Message { recv_ns, stream, raw } => (recv_ns, stream, raw),
        };
        if stream == PROTOCOL_STREAM {
            report.skipped_protocol += 1;
            continue;
        }
        let base = *base_ns.get_or_insert(recv_ns);
        report.first_ns.get_or_insert(recv_ns);
        report.last_ns = Some(recv_ns);
        pace(hub, start, recv_ns.saturating_sub(base), opts.speed);
        if let Some(coin) = stream.strip_prefix("trades:") {
            if history_seen.insert(coin.to_string()) {
                // Batches read ahead by the priming pass are history already.
                if !primed.remove(coin) {
                    hub.remember_history(coin, &raw);
                }
                report.history_batches += 1;
                continue;
            }
        }
        hub.publish(&stream, &raw);
        report.published += 1;
    }
}

/// How far the priming pass reads ahead for each coin's first trade batch.
const PRIME_MAX_ITEMS: u64 = 10_000;
const PRIME_MAX_NS: u64 = 120_000_000_000;

/// Reads ahead to each coin's first trade batch (the recording's own after-subscribe batch)
/// and keeps it as history, so that a client subscribing at the very start already gets a
/// non-empty history batch, as on the real venue. Returns the coins primed.
fn prime_history(hub: &Hub, mut source: Box<dyn MessageSource>) -> Result<BTreeSet<String>, String> {
    let mut primed = BTreeSet::new();
    let mut first_ns = None;
    for _ in 0..PRIME_MAX_ITEMS {
        let Some(SourceItem::Message { recv_ns, stream, raw }) = source.next_item()? else { break };
        if recv_ns.saturating_sub(*first_ns.get_or_insert(recv_ns)) > PRIME_MAX_NS {
            break;
        }
        if let Some(coin) = stream.strip_prefix("trades:") {
            if primed.insert(coin.to_string()) {
                hub.remember_history(coin, &raw);
            }
        }
    }
    Ok(primed)
}

fn pace(hub: &Hub, start: Instant, offset_ns: u64, speed: Speed) {
    match speed {
        Speed::Factor(f) => {
            let target = start + Duration::from_secs_f64(offset_ns as f64 / 1e9 / f);
            // Sleep in slices so that a shutdown is noticed during long quiet stretches.
            loop {
                let now = Instant::now();
                if now >= target || hub.is_shut_down() {
                    return;
                }
                std::thread::sleep((target - now).min(Duration::from_millis(100)));
            }
        }
        Speed::Max => {
            while hub.deepest_queue() > MAX_SPEED_QUEUE_HIGH_WATER && !hub.is_shut_down() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_text_captures_plain_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let text = "1000 {\"channel\":\"l2Book\",\"data\":{\"coin\":\"BTC\"}}\n2000 {\"channel\":\"trades\",\"data\":[{\"coin\":\"BTC\"}]}\n";
        let plain = dir.path().join("a.txt");
        std::fs::write(&plain, text).unwrap();
        let gz = dir.path().join("a.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        for p in [&plain, &gz] {
            assert!(TextCaptureSource::looks_like(p));
            let mut s = TextCaptureSource::open(p).unwrap();
            let a = s.next_item().unwrap().unwrap();
            assert_eq!(
                a,
                SourceItem::Message {
                    recv_ns: 1000,
                    stream: "l2Book:BTC".into(),
                    raw: br#"{"channel":"l2Book","data":{"coin":"BTC"}}"#.to_vec()
                }
            );
            assert!(matches!(s.next_item().unwrap(), Some(SourceItem::Message { recv_ns: 2000, .. })));
            assert_eq!(s.next_item().unwrap(), None);
        }
        std::fs::write(&plain, "x {}\n").unwrap();
        assert!(TextCaptureSource::open(&plain).unwrap().next_item().unwrap_err().contains("line 1"));
    }
}
