//! Venue adapters: pure functions from raw message bytes to normalized [`event::MarketEvent`]s,
//! and the order book rebuilt from them. No I/O.
//!
//! - [`Adapter`]: one per venue and connection history; `on_message` parses one raw message
//!   (any key order, numbers straight into fixed point) and appends events, anomalies included.
//! - [`Books`]: every coin's [`OrderBook`], with Binance's snapshot/diff synchronisation.
//! - [`instrument`] / [`Instruments`]: tick and lot rules, and the rounding the quoting needs.

mod binance;
pub mod book;
pub mod event;
mod hyperliquid;
pub mod instrument;
pub mod json;
pub mod ladder;

pub use book::{BookUpdate, Books, OrderBook, MAX_BUFFERED_DIFFS};
pub use event::{parse_rate, AnomalyKind, Level, MarketEvent, ProtocolKind, RATE_SCALE};
pub use instrument::{instrument, Instrument, Instruments};

use crate::types::Timestamp;
use json::JsonError;
use serde::{Deserialize, Serialize};

/// The channel of the synthetic venue's order-level stream (streams `orderLevel:COIN`,
/// `docs/FORMAT.md`): the exact queue, ground truth for `queue-truth`. It is no feed: adapters
/// skip it without an event or an anomaly, so the engine never sees it.
pub const ORDER_LEVEL_CHANNEL: &str = "orderLevel";

/// True for the record streams of the order-level stream (`orderLevel:COIN`).
pub fn is_order_level_stream(stream: &str) -> bool {
    stream.strip_prefix(ORDER_LEVEL_CHANNEL).is_some_and(|rest| rest.starts_with(':'))
}

/// A venue whose wire format we speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Venue {
    Hyperliquid,
    BinanceUsdm,
}

impl Venue {
    /// `hyperliquid` or `binance-usdm` (the names of the CLI and of recording headers).
    pub fn from_name(name: &str) -> Option<Venue> {
        match name {
            "hyperliquid" => Some(Venue::Hyperliquid),
            "binance-usdm" => Some(Venue::BinanceUsdm),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Venue::Hyperliquid => "hyperliquid",
            Venue::BinanceUsdm => "binance-usdm",
        }
    }
}

impl std::fmt::Display for Venue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of a coin's streams an exchange time belongs to: time may only go backwards
/// between streams, never within one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum StreamKind {
    HlBook,
    HlTrades,
    HlBbo,
    BnDepth,
    BnTrade,
    BnAggTrade,
    BnBookTicker,
    BnSnapshot,
    BnMarkPrice,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StreamClock {
    kind: StreamKind,
    coin: String,
    last_ns: Timestamp,
}

/// Why a message was rejected; becomes a [`MarketEvent::Anomaly`].
#[derive(Clone, Debug, PartialEq)]
pub struct Bad {
    kind: AnomalyKind,
    detail: String,
}

impl From<JsonError> for Bad {
    fn from(e: JsonError) -> Self {
        Bad { kind: AnomalyKind::Malformed, detail: e.to_string() }
    }
}

fn malformed(detail: impl Into<String>) -> Bad {
    Bad { kind: AnomalyKind::Malformed, detail: detail.into() }
}

/// Lossy text of raw bytes for details, cut to a readable length.
fn excerpt(raw: &[u8]) -> String {
    const MAX: usize = 120;
    let s = String::from_utf8_lossy(&raw[..raw.len().min(MAX)]);
    if raw.len() > MAX {
        format!("{s}...")
    } else {
        s.into_owned()
    }
}

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// The common case of a venue decimal, without overflow checks: at most 10 integer digits and
/// 1..=8 decimals cannot overflow i64 units of 10^-8. Anything else (signs, no decimals after
/// the dot, long numbers, errors) goes to [`crate::types::parse_fixed`], which defines the
/// semantics; this is only a faster path to the same value (a property test checks it).
#[inline]
pub fn parse_decimal_fast(s: &[u8]) -> Option<i64> {
    const POW10: [i64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
    let mut i = 0;
    let mut int: i64 = 0;
    while let Some(&c) = s.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        int = int * 10 + i64::from(c - b'0');
        i += 1;
        if i > 10 {
            return None;
        }
    }
    if i == 0 {
        return None;
    }
    match s.get(i) {
        None => return Some(int * crate::types::SCALE),
        Some(b'.') => i += 1,
        Some(_) => return None,
    }
    let start = i;
    let mut frac: i64 = 0;
    while let Some(&c) = s.get(i) {
        if !c.is_ascii_digit() || i - start == 8 {
            return None;
        }
        frac = frac * 10 + i64::from(c - b'0');
        i += 1;
    }
    let nd = i - start;
    if nd == 0 {
        return None;
    }
    Some(int * crate::types::SCALE + frac * POW10[8 - nd])
}

/// [`parse_decimal_fast`] of a JSON string's contents, read in the same pass that finds its
/// closing quote: `b` starts after the opening quote; the value and what follows the closing
/// quote, or `None` wherever `parse_decimal_fast` of the contents is `None` or the contents
/// hold anything but digits and one dot (an escape, a control character, no closing quote),
/// where the caller's general path reads the string. The level fast path spent as much
/// finding the quote as parsing the digits (`quoted_fast_path_is_the_two_passes`). Written
/// out beside `parse_decimal_fast` rather than sharing one core with it: a core generic over
/// the terminator cost the read-ahead thread 7.5% more instructions on a 6 h replay.
///
/// Where 16 bytes can be read, the common shape (1-7 integer digits, then the closing quote
/// or a dot and 1-7 decimals and the closing quote) is read eight bytes at a time
/// ([`quoted_decimal_swar`]); the byte loop takes the rest, so both give the same answer.
#[inline]
pub fn quoted_decimal_fast(b: &[u8]) -> Option<(i64, &[u8])> {
    match quoted_decimal_swar(b) {
        Some(answer) => answer,
        None => quoted_decimal_bytes(b),
    }
}

/// Bytes `0x00..=0x09` where `v` holds ASCII digits; the high bit set in each byte that is
/// not a digit. Only the lowest flagged byte is exact (an add may carry out of a flagged byte
/// into the next): the callers read no further than it.
#[inline(always)]
fn non_digits(v: u64) -> (u64, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let t = v ^ (ONES * b'0' as u64);
    (t, (t.wrapping_add(ONES * 0x76) | t) & (ONES * 0x80))
}

/// The value of eight digit values `0..=9`, one per byte, the first (lowest) byte the most
/// significant: the usual three multiplies that pair digits, then pairs, then quads.
#[inline(always)]
fn eight_digits(t: u64) -> i64 {
    let v = (t & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    ((v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32) as i64
}

/// [`quoted_decimal_fast`] of the common shape, eight bytes at a time: `Some(answer)` where
/// it decides (the answer the byte loop gives), `None` where the byte loop must read it
/// (fewer than 16 bytes, 8 or more digits in a part).
#[inline(always)]
#[allow(clippy::option_option)] // "decided, and the answer" against "not decided here".
fn quoted_decimal_swar(b: &[u8]) -> Option<Option<(i64, &[u8])>> {
    let head: &[u8; 16] = b.get(..16)?.try_into().ok()?;
    let lo = u64::from_le_bytes(head[..8].try_into().ok()?);
    let (t, flags) = non_digits(lo);
    // The integer digits: the bytes before the first non-digit.
    let n = (flags.trailing_zeros() / 8) as usize;
    if n == 0 {
        return Some(None);
    }
    if n == 8 {
        return None;
    }
    // Right-aligned as an 8-digit number: the zero bytes shifted in are leading zeros.
    let int = eight_digits((t & ((1u64 << (8 * n)) - 1)) << (8 * (8 - n)));
    match head[n] {
        b'"' => return Some(Some((int * crate::types::SCALE, &b[n + 1..]))),
        b'.' => {}
        _ => return Some(None),
    }
    // n <= 7, so the decimals' eight bytes lie inside the sixteen.
    let f = u64::from_le_bytes(head[n + 1..n + 9].try_into().ok()?);
    let (t, flags) = non_digits(f);
    let nd = (flags.trailing_zeros() / 8) as usize;
    if nd == 8 {
        return None;
    }
    if nd == 0 || head[n + 1 + nd] != b'"' {
        return Some(None);
    }
    // Left-aligned: the zero bytes after the decimals are the trailing zeros of 10^-8 units.
    let frac = eight_digits(t & ((1u64 << (8 * nd)) - 1));
    Some(Some((int * crate::types::SCALE + frac, &b[n + nd + 2..])))
}

/// [`quoted_decimal_fast`] a byte at a time.
#[inline]
fn quoted_decimal_bytes(b: &[u8]) -> Option<(i64, &[u8])> {
    const POW10: [i64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
    let mut i = 0;
    let mut int: i64 = 0;
    let mut c = *b.first()?;
    while c.is_ascii_digit() {
        // An 11th integer digit: `parse_decimal_fast` declines it.
        if i == 10 {
            return None;
        }
        int = int * 10 + i64::from(c - b'0');
        i += 1;
        c = *b.get(i)?;
    }
    if i == 0 {
        return None;
    }
    match c {
        b'"' => return Some((int * crate::types::SCALE, &b[i + 1..])),
        b'.' => i += 1,
        _ => return None,
    }
    let start = i;
    let mut frac: i64 = 0;
    loop {
        let c = *b.get(i)?;
        if c == b'"' {
            break;
        }
        if !c.is_ascii_digit() || i - start == 8 {
            return None;
        }
        frac = frac * 10 + i64::from(c - b'0');
        i += 1;
    }
    let nd = i - start;
    if nd == 0 {
        return None;
    }
    Some((int * crate::types::SCALE + frac * POW10[8 - nd], &b[i + 1..]))
}

/// Parses a decimal string field into fixed point.
#[inline]
fn decimal(raw: &[u8], what: &str) -> Result<i64, Bad> {
    if let Some(v) = parse_decimal_fast(raw) {
        return Ok(v);
    }
    crate::types::parse_fixed(raw).map_err(|e| Bad {
        kind: match e {
            crate::types::DecimalError::TooManyDecimals | crate::types::DecimalError::Overflow => {
                AnomalyKind::BadNumber
            }
            _ => AnomalyKind::Malformed,
        },
        detail: format!("{what} {:?}: {e}", excerpt(raw)),
    })
}

const IMPOSSIBLE: &str = "impossible level";

/// What [`check_level`] finds wrong with a level, if anything.
#[inline]
fn level_problem(inst: &Instrument, l: &Level, zero_size_ok: bool) -> Option<&'static str> {
    if l.px.0 <= 0 || l.sz.0 < 0 || (!zero_size_ok && l.sz.0 == 0) {
        Some(IMPOSSIBLE)
    } else if inst.known && !inst.is_valid_px(l.px) {
        Some("price off the tick grid")
    } else if inst.known && !inst.is_valid_sz(l.sz) {
        Some("size off the lot grid")
    } else {
        None
    }
}

/// False when the level is impossible; an anomaly for it, or for an off-grid one, in `out`.
fn check_level(
    inst: &Instrument,
    coin: &str,
    l: &Level,
    zero_size_ok: bool,
    out: &mut Vec<MarketEvent>,
) -> bool {
    let Some(what) = level_problem(inst, l, zero_size_ok) else { return true };
    let impossible = what == IMPOSSIBLE;
    out.push(MarketEvent::Anomaly {
        coin: Some(coin.to_string()),
        kind: AnomalyKind::BadNumber,
        detail: format!("{what}: px {} sz {}", l.px, l.sz),
    });
    !impossible
}

/// A spare vector from `pool`, emptied, or a new one of `capacity`: the pre-parsers refill
/// the vectors the engine's thread gave back.
fn spare_vec<T>(pool: &mut Vec<Vec<T>>, capacity: usize) -> Vec<T> {
    match pool.pop() {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(capacity),
    }
}

/// The stateless half of an adapter's parse of one message, run ahead of the engine (on a
/// replay's read-ahead thread, so that the JSON scan leaves the engine's thread): a pure
/// function of the venue, the stream name and the bytes ([`preparse`], [`PreParser`]). The
/// adapter's stateful half ([`Adapter::on_parsed`]) turns it into exactly the events
/// `on_message` gives the same bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Parsed {
    /// Not parsed ahead (a driver that feeds bytes, a stream the adapter skips): the adapter
    /// parses the bytes itself.
    #[default]
    Not,
    /// Hyperliquid: the message decoded, or the anomaly it raises.
    Hyperliquid(Result<hyperliquid::Msg, Bad>),
    /// Binance: the message's JSON read (levels decoded, strings as ranges of the bytes), or
    /// the anomaly it raises.
    Binance(Result<Box<binance::Msg>, Bad>),
}

/// The stateless half of [`Adapter::on_message`] for `venue` (see [`Parsed`]).
pub fn preparse(venue: Venue, stream: &str, raw: &[u8]) -> Parsed {
    PreParser::new(venue).parse(stream, raw)
}

/// [`preparse`] with buffers: what it parsed, handed back once the engine is done with it
/// ([`PreParser::recycle`]), is refilled by later parses instead of allocated anew.
#[derive(Debug)]
pub struct PreParser {
    venue: Venue,
    bufs: hyperliquid::Bufs,
    bn_bufs: binance::Bufs,
}

impl PreParser {
    pub fn new(venue: Venue) -> PreParser {
        PreParser { venue, bufs: hyperliquid::Bufs::default(), bn_bufs: binance::Bufs::default() }
    }

    /// The same value as [`preparse`]`(venue, stream, raw)`.
    pub fn parse(&mut self, stream: &str, raw: &[u8]) -> Parsed {
        match self.venue {
            _ if is_order_level_stream(stream) => Parsed::Not,
            Venue::Hyperliquid => Parsed::Hyperliquid(hyperliquid::preparse(raw, &mut self.bufs)),
            Venue::BinanceUsdm => Parsed::Binance(self.bn_bufs.preparse_boxed(raw)),
        }
    }

    pub fn recycle(&mut self, p: Parsed) {
        match p {
            Parsed::Hyperliquid(Ok(m)) => self.bufs.recycle(m),
            Parsed::Binance(Ok(m)) => self.bn_bufs.recycle(m),
            _ => {}
        }
    }
}

/// Turns raw messages of one venue into normalized events. Stateful (which coins' first
/// trade batch was seen, the last exchange time of each stream, the anomaly count) but pure:
/// no I/O, no clock. `Serialize` so that it is part of an engine checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adapter {
    venue: Venue,
    instruments: Instruments,
    /// Hyperliquid: coins whose first `trades` message since the last connect was seen (the
    /// first one is the pre-subscription history batch).
    trades_seen: Vec<String>,
    clocks: Vec<StreamClock>,
    anomalies: u64,
    /// Binance: which of `trade` / `aggTrade` counts, per coin.
    #[serde(default)]
    trade_sources: Vec<TradeSource>,
}

/// Binance's two trade streams of one coin: once a `trade` message was seen, `aggTrade` is
/// ignored; before that `aggTrade` counts, and a later `trade` print that an already counted
/// `aggTrade` covered (trade id <= its last id) is not counted again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct TradeSource {
    coin: String,
    trade_seen: bool,
    /// Highest trade id counted through an `aggTrade`.
    agg_counted_to: u64,
}

impl Adapter {
    pub fn new(venue: Venue) -> Adapter {
        Self::with_instruments(venue, Instruments::new())
    }

    /// An adapter checking prices and sizes against `instruments` (defaults plus overrides).
    pub fn with_instruments(venue: Venue, instruments: Instruments) -> Adapter {
        Adapter {
            venue,
            instruments,
            trades_seen: Vec::new(),
            clocks: Vec::new(),
            anomalies: 0,
            trade_sources: Vec::new(),
        }
    }

    pub fn venue(&self) -> Venue {
        self.venue
    }

    pub fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    /// Parses one raw message. `stream` is the record's stream name (Binance REST snapshots
    /// have stream `<symbol lowercase>@depthSnapshot`, whose prefix names their symbol).
    /// Appends 0..n events; anomalies among them are counted. `seq` and `recv_ns` travel
    /// beside the events (the caller pairs them); they are taken here so that a future check
    /// can use them without changing every caller.
    pub fn on_message(
        &mut self,
        seq: u64,
        recv_ns: Timestamp,
        stream: &str,
        raw: &[u8],
        out: &mut Vec<MarketEvent>,
    ) {
        self.on_parsed(seq, recv_ns, stream, raw, &Parsed::Not, out)
    }

    /// [`Self::on_message`] for a message whose stateless half a driver already ran:
    /// `parsed` must be [`preparse`]`(venue, stream, raw)` (or [`Parsed::Not`], and the
    /// message is parsed here); the events are then exactly those of `on_message`.
    pub fn on_parsed(
        &mut self,
        seq: u64,
        recv_ns: Timestamp,
        stream: &str,
        raw: &[u8],
        parsed: &Parsed,
        out: &mut Vec<MarketEvent>,
    ) {
        let _ = (seq, recv_ns);
        if is_order_level_stream(stream) {
            return;
        }
        let start = out.len();
        let result = match (self.venue, parsed) {
            (Venue::Hyperliquid, Parsed::Hyperliquid(pre)) => match pre {
                Ok(m) => {
                    hyperliquid::apply(self, m, out);
                    Ok(())
                }
                Err(b) => Err(b.clone()),
            },
            (Venue::Hyperliquid, _) => hyperliquid::parse(self, raw, out),
            (Venue::BinanceUsdm, Parsed::Binance(pre)) => match pre {
                Ok(m) => binance::apply(self, stream, raw, m, out),
                Err(b) => Err(b.clone()),
            },
            (Venue::BinanceUsdm, _) => binance::parse(self, stream, raw, out),
        };
        if let Err(b) = result {
            // Events of a message rejected half-way are dropped: none of it can be trusted.
            out.truncate(start);
            out.push(MarketEvent::Anomaly { coin: None, kind: b.kind, detail: b.detail });
        }
        self.anomalies +=
            out[start..].iter().filter(|e| matches!(e, MarketEvent::Anomaly { .. })).count() as u64;
    }

    /// A (re)connect: the next Hyperliquid `trades` message of each coin is history again.
    pub fn on_connect(&mut self) {
        self.trades_seen.clear();
    }

    /// Anomalies the adapter produced so far (book anomalies are counted by the caller).
    pub fn anomaly_count(&self) -> u64 {
        self.anomalies
    }

    fn instrument(&self, coin: &str) -> Instrument {
        self.instruments.get(self.venue, coin)
    }

    /// Whether a Binance trade message counts (see [`TradeSource`]): `agg` for `aggTrade`,
    /// with the trade ids it carries.
    fn trade_source(
        &mut self,
        coin: &str,
        agg: bool,
        trade_id: Option<u64>,
        agg_first: Option<u64>,
        agg_last: Option<u64>,
    ) -> bool {
        let k = match self.trade_sources.iter().position(|t| t.coin == coin) {
            Some(k) => k,
            None => {
                self.trade_sources.push(TradeSource {
                    coin: coin.to_string(),
                    trade_seen: false,
                    agg_counted_to: 0,
                });
                self.trade_sources.len() - 1
            }
        };
        let src = &mut self.trade_sources[k];
        if agg {
            if src.trade_seen {
                return false;
            }
            if let Some(last) = agg_last.or(agg_first) {
                src.agg_counted_to = src.agg_counted_to.max(last);
            }
            return true;
        }
        src.trade_seen = true;
        trade_id.map_or(true, |t| t > src.agg_counted_to)
    }

    /// Records the exchange time of one stream; an anomaly when it went backwards.
    fn check_time(&mut self, kind: StreamKind, coin: &str, t: Timestamp, out: &mut Vec<MarketEvent>) {
        match self.clocks.iter_mut().find(|c| c.kind == kind && c.coin == coin) {
            Some(c) => {
                if t < c.last_ns {
                    out.push(MarketEvent::Anomaly {
                        coin: Some(coin.to_string()),
                        kind: AnomalyKind::TimeBackwards,
                        detail: format!(
                            "{kind:?} time {} ms after {} ms",
                            t.0 / 1_000_000,
                            c.last_ns.0 / 1_000_000
                        ),
                    });
                }
                c.last_ns = c.last_ns.max(t);
            }
            None => self.clocks.push(StreamClock { kind, coin: coin.to_string(), last_ns: t }),
        }
    }

    /// Drops levels that cannot be in a book (price <= 0, size < 0, or 0 where a size 0 does
    /// not mean "delete") and flags off-grid ones, which stay (they are what the venue published).
    fn check_levels(
        &self,
        coin: &str,
        levels: &mut Vec<Level>,
        zero_size_ok: bool,
        out: &mut Vec<MarketEvent>,
    ) {
        let inst = self.instrument(coin);
        levels.retain(|l| check_level(&inst, coin, l, zero_size_ok, out));
    }

    /// Flags a trade price/size that is impossible or off the grid; false when it is unusable.
    fn check_trade(
        &self,
        coin: &str,
        px: crate::types::Price,
        sz: crate::types::Qty,
        out: &mut Vec<MarketEvent>,
    ) -> bool {
        let inst = self.instrument(coin);
        let bad = if px.0 <= 0 || sz.0 <= 0 {
            Some("impossible trade")
        } else if inst.known && !(inst.is_valid_px(px) && inst.is_valid_sz(sz)) {
            Some("trade off the tick/lot grid")
        } else {
            None
        };
        if let Some(what) = bad {
            out.push(MarketEvent::Anomaly {
                coin: Some(coin.to_string()),
                kind: AnomalyKind::BadNumber,
                detail: format!("{what}: px {px} sz {sz}"),
            });
        }
        bad != Some("impossible trade")
    }
}

/// For each case, a venue's level reader (its fast path, then its general walk) gives what
/// the general walk alone gives: the same level and position, or the same error. The number
/// of cases the fast path took.
#[cfg(test)]
fn fast_level_path_agrees(
    cases: &[&str],
    fast: fn(&[u8]) -> Option<(Level, usize)>,
    level: fn(&mut json::Scanner<'_>) -> Result<Level, Bad>,
    general: fn(&mut json::Scanner<'_>) -> Result<Level, Bad>,
) -> usize {
    let mut taken = 0;
    for c in cases {
        let (mut a, mut b) = (json::Scanner::new(c.as_bytes()), json::Scanner::new(c.as_bytes()));
        if fast(c.as_bytes()).is_some() {
            taken += 1;
        }
        let (la, lb) = (level(&mut a), general(&mut b));
        match (&la, &lb) {
            (Ok(x), Ok(y)) => assert_eq!((x, a.pos()), (y, b.pos()), "{c}"),
            (Err(x), Err(y)) => assert_eq!(x, y, "{c}"),
            _ => panic!("{c}: {la:?} vs {lb:?}"),
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_names_round_trip() {
        for v in [Venue::Hyperliquid, Venue::BinanceUsdm] {
            assert_eq!(Venue::from_name(v.name()), Some(v));
        }
        assert_eq!(Venue::from_name("kraken"), None);
    }

    #[test]
    fn fast_decimal_path_takes_the_usual_forms() {
        assert_eq!(parse_decimal_fast(b"105055.0"), Some(10_505_500_000_000));
        assert_eq!(parse_decimal_fast(b"0.00001"), Some(1000));
        assert_eq!(parse_decimal_fast(b"42"), Some(4_200_000_000));
        assert_eq!(parse_decimal_fast(b"61800.20"), Some(6_180_020_000_000));
        assert_eq!(parse_decimal_fast(b"0.12345678"), Some(12_345_678));
        for slow in [&b"-1"[..], b"1.", b".5", b"1.123456789", b"12345678901", b"1e5", b""] {
            assert_eq!(parse_decimal_fast(slow), None, "{}", String::from_utf8_lossy(slow));
        }
    }
}
