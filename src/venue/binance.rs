//! Binance USD-M futures messages to events, in one pass over the bytes: the combined-stream
//! wrapper `{"stream":..,"data":{..}}`, bare stream events, and inline REST depth snapshots
//! (`{"lastUpdateId",..}`, which name no symbol: it comes from the record's stream name).
//!
//! One reader fills every field any documented event has; the event type `e` then picks the
//! event. The one key whose type differs between events is `a` (ask levels in `depthUpdate`,
//! ask price in `bookTicker`, aggregate trade id in `aggTrade`): the value's first byte says
//! which.

use super::event::{AnomalyKind, Level, MarketEvent, ProtocolKind};
use super::json::Scanner;
use super::{decimal, excerpt, malformed, text, Adapter, Bad, StreamKind};
use crate::types::{Price, Qty, Side, Timestamp};

/// A string of the message, as the range of its bytes: what the parse ahead keeps of it
/// instead of a copy (the stateful half, given the same bytes, reads it out of them).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Fields {
    e: Option<Span>,
    event_ms: Option<u64>,
    trade_ms: Option<u64>,
    symbol: Option<Span>,
    first_id: Option<u64>,
    last_id: Option<u64>,
    prev_last_id: Option<u64>,
    bid_levels: Option<Vec<Level>>,
    ask_levels: Option<Vec<Level>>,
    bid_px: Option<Span>,
    bid_sz: Option<Span>,
    ask_px: Option<Span>,
    ask_sz: Option<Span>,
    px: Option<Span>,
    qty: Option<Span>,
    order_type: Option<Span>,
    buyer_is_maker: Option<bool>,
    trade_id: Option<u64>,
    agg_id: Option<u64>,
    /// `aggTrade`: first and last trade id it aggregates.
    agg_first: Option<u64>,
    agg_last: Option<u64>,
    last_update_id: Option<u64>,
    /// `markPriceUpdate`: index price `i` and funding rate `r`.
    index_px: Option<Span>,
    rate: Option<Span>,
    /// `{"result":..,"id":..}`: the answer to a subscribe request.
    is_response: bool,
    /// `{"error":{..},"id":..}`: a refused request.
    is_error: bool,
    stream: Option<Span>,
    has_data: bool,
}

/// The stateless half of [`parse`] (see `venue::Parsed`): the message's JSON read and told
/// apart, every error of that raised; what depends on the adapter's state (clocks, which
/// trade stream counts, the instrument rules) and the checks interleaved with it are left to
/// [`apply`], which runs exactly the code `parse` runs after this point.
#[derive(Clone, Debug, PartialEq)]
pub struct Msg(Kind);

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// A REST depth snapshot, bare or inside a combined-stream wrapper (whose `stream` is
    /// `wrapper`).
    Snapshot {
        wrapper: Option<Span>,
        id: u64,
        f: Fields,
    },
    /// A stream event (`e` set).
    Event(Fields),
    Error,
    Response,
}

/// Spare level vectors kept.
const SPARE: usize = 4096;

/// Level vectors given back ([`Bufs::recycle`]), refilled by later parses.
#[derive(Debug, Default)]
pub struct Bufs {
    levels: Vec<Vec<Level>>,
    /// A decoded message is a few hundred bytes: parses ahead travel boxed, the boxes reused.
    #[allow(clippy::vec_box)] // the boxes themselves are what is recycled
    boxes: Vec<Box<Msg>>,
}

impl Bufs {
    fn levels(&mut self) -> Vec<Level> {
        super::spare_vec(&mut self.levels, 32)
    }

    fn keep(&mut self, v: Option<Vec<Level>>) {
        // About the sides of the messages in flight between the threads; a snapshot's
        // thousands of levels are not kept for the diffs that follow it.
        if let Some(v) = v.filter(|v| self.levels.len() < SPARE && v.capacity() <= 256) {
            self.levels.push(v);
        }
    }

    pub fn recycle(&mut self, mut m: Box<Msg>) {
        if let Kind::Snapshot { f, .. } | Kind::Event(f) = std::mem::replace(&mut m.0, Kind::Error) {
            self.keep(f.bid_levels);
            self.keep(f.ask_levels);
        }
        if self.boxes.len() < SPARE {
            self.boxes.push(m);
        }
    }

    /// [`preparse`], the result in a recycled box.
    pub fn preparse_boxed(&mut self, raw: &[u8]) -> Result<Box<Msg>, Bad> {
        let m = preparse(raw, self)?;
        Ok(match self.boxes.pop() {
            Some(mut b) => {
                *b = m;
                b
            }
            None => Box::new(m),
        })
    }
}

pub(super) fn parse(
    ad: &mut Adapter,
    stream: &str,
    raw: &[u8],
    out: &mut Vec<MarketEvent>,
) -> Result<(), Bad> {
    let mut msg = preparse(raw, &mut Bufs::default())?;
    let sides = match &mut msg.0 {
        Kind::Snapshot { f, .. } | Kind::Event(f) => (f.bid_levels.take(), f.ask_levels.take()),
        _ => (None, None),
    };
    stateful(ad, stream, raw, &msg, sides, out)
}

/// [`parse`] of a message whose stateless half ran ahead (`msg` is [`preparse`] of the same
/// `raw`): the events own copies of its levels, so that `msg` can be recycled.
pub(super) fn apply(
    ad: &mut Adapter,
    stream: &str,
    raw: &[u8],
    msg: &Msg,
    out: &mut Vec<MarketEvent>,
) -> Result<(), Bad> {
    let sides = match &msg.0 {
        Kind::Snapshot { f, .. } | Kind::Event(f) => (f.bid_levels.clone(), f.ask_levels.clone()),
        _ => (None, None),
    };
    stateful(ad, stream, raw, msg, sides, out)
}

/// A message's bid and ask levels, owned by the events made of them.
type Sides = (Option<Vec<Level>>, Option<Vec<Level>>);

/// The stateless half of [`parse`]; level vectors come from `bufs`.
pub(super) fn preparse(raw: &[u8], bufs: &mut Bufs) -> Result<Msg, Bad> {
    let mut s = Scanner::new(raw);
    if s.peek() != Some(b'{') {
        return Err(malformed(format!("not a JSON object: {:?}", excerpt(raw))));
    }
    let mut data = Fields::default();
    let top = fields(&mut s, Some(&mut data), bufs)?;
    if !s.at_end() {
        return Err(malformed(format!("trailing bytes at {}", s.pos())));
    }
    let kind = if top.has_data {
        bufs.keep(top.bid_levels);
        bufs.keep(top.ask_levels);
        match data.last_update_id {
            // A snapshot relayed inside a combined-stream wrapper: its stream names the symbol.
            Some(id) => Kind::Snapshot { wrapper: top.stream, id, f: data },
            None => Kind::Event(data),
        }
    } else if let Some(id) = top.last_update_id {
        Kind::Snapshot { wrapper: top.stream, id, f: top }
    } else if top.e.is_some() {
        Kind::Event(top)
    } else if top.is_error {
        Kind::Error
    } else if top.is_response {
        Kind::Response
    } else {
        return Err(Bad {
            kind: AnomalyKind::UnknownChannel,
            detail: format!("unknown message {:?}", excerpt(raw)),
        });
    };
    Ok(Msg(kind))
}

/// The stateful half of [`parse`]: `msg` with its levels taken out into `sides`.
fn stateful(
    ad: &mut Adapter,
    stream: &str,
    raw: &[u8],
    msg: &Msg,
    sides: Sides,
    out: &mut Vec<MarketEvent>,
) -> Result<(), Bad> {
    match &msg.0 {
        Kind::Snapshot { wrapper, id, f } => snapshot(ad, stream, raw, (*wrapper, *id), f, sides, out),
        Kind::Event(f) => event(ad, raw, f, sides, out),
        Kind::Error => {
            out.push(MarketEvent::Protocol { kind: ProtocolKind::Error, detail: text(raw) });
            Ok(())
        }
        Kind::Response => {
            out.push(MarketEvent::Protocol { kind: ProtocolKind::SubscriptionAck, detail: text(raw) });
            Ok(())
        }
    }
}

/// A string value, as its span in the message.
fn string(s: &mut Scanner<'_>) -> Result<Span, Bad> {
    let v = s.string()?;
    // The scanner stands just past the closing quote of the bytes it returned.
    let end = s.pos() - 1;
    Ok(Span { start: end - v.len(), end })
}

/// The bytes of `span` in `raw`, the message it was read from.
fn bytes(raw: &[u8], span: Option<Span>) -> Option<&[u8]> {
    span.map(|s| &raw[s.start..s.end])
}

/// Reads an object's fields; at the top level (`data` given) also the combined-stream
/// wrapper's `stream` and its `data` object.
fn fields(s: &mut Scanner<'_>, mut data: Option<&mut Fields>, bufs: &mut Bufs) -> Result<Fields, Bad> {
    let top = data.is_some();
    let mut f = Fields::default();
    s.object(|s, k| -> Result<(), Bad> {
        match k {
            b"e" => f.e = Some(string(s)?),
            b"E" => f.event_ms = Some(s.u64()?),
            b"T" => f.trade_ms = Some(s.u64()?),
            b"s" => f.symbol = Some(string(s)?),
            b"U" => f.first_id = Some(s.u64()?),
            b"u" => f.last_id = Some(s.u64()?),
            b"pu" => f.prev_last_id = Some(s.u64()?),
            b"b" | b"bids" if s.peek() == Some(b'[') => {
                let v = levels(s, bufs.levels())?;
                bufs.keep(f.bid_levels.replace(v));
            }
            b"a" | b"asks" if s.peek() == Some(b'[') => {
                let v = levels(s, bufs.levels())?;
                bufs.keep(f.ask_levels.replace(v));
            }
            b"b" => f.bid_px = Some(string(s)?),
            b"B" => f.bid_sz = Some(string(s)?),
            b"a" if s.peek() == Some(b'"') => f.ask_px = Some(string(s)?),
            b"a" => f.agg_id = Some(s.u64()?),
            b"A" => f.ask_sz = Some(string(s)?),
            b"p" => f.px = Some(string(s)?),
            b"q" => f.qty = Some(string(s)?),
            b"X" => f.order_type = Some(string(s)?),
            b"m" => f.buyer_is_maker = Some(s.bool()?),
            b"t" => f.trade_id = Some(s.u64()?),
            b"f" => f.agg_first = Some(s.u64()?),
            b"l" => f.agg_last = Some(s.u64()?),
            b"lastUpdateId" => f.last_update_id = Some(s.u64()?),
            b"i" if s.peek() == Some(b'"') => f.index_px = Some(string(s)?),
            b"r" if s.peek() == Some(b'"') => f.rate = Some(string(s)?),
            b"error" if top => {
                f.is_error = true;
                s.skip_value()?;
            }
            b"stream" if top => f.stream = Some(string(s)?),
            b"data" if s.peek() == Some(b'{') => {
                if let Some(d) = data.as_deref_mut() {
                    let inner = fields(s, None, bufs)?;
                    let old = std::mem::replace(d, inner);
                    bufs.keep(old.bid_levels);
                    bufs.keep(old.ask_levels);
                    f.has_data = true;
                } else {
                    s.skip_value()?;
                }
            }
            b"result" | b"id" if top => {
                f.is_response = true;
                s.skip_value()?;
            }
            _ => {
                s.skip_value()?;
            }
        }
        Ok(())
    })?;
    Ok(f)
}

/// `[["px","qty"], ..]`.
fn levels(s: &mut Scanner<'_>, mut v: Vec<Level>) -> Result<Vec<Level>, Bad> {
    s.array(|s| -> Result<(), Bad> {
        v.push(level(s)?);
        Ok(())
    })?;
    Ok(v)
}

/// `["px","qty"]`.
fn level(s: &mut Scanner<'_>) -> Result<Level, Bad> {
    if let Some((l, used)) = canonical_level(s.rest()) {
        s.advance(used);
        return Ok(l);
    }
    level_general(s)
}

fn level_general(s: &mut Scanner<'_>) -> Result<Level, Bad> {
    let (mut px, mut sz, mut i) = (0, 0, 0);
    s.array(|s| -> Result<(), Bad> {
        match i {
            0 => px = decimal(s.string()?, "price")?,
            1 => sz = decimal(s.string()?, "quantity")?,
            _ => return Err(malformed("level with more than two entries")),
        }
        i += 1;
        Ok(())
    })?;
    if i != 2 {
        return Err(malformed("level needs a price and a quantity"));
    }
    Ok(Level { px: Price(px), sz: Qty(sz), n: 0 })
}

/// The venue's own spelling of a level, `["<decimal>","<decimal>"]` with no spaces, read
/// without the general array walk: the level and the bytes it took, or `None` (anything else,
/// including what the fast decimal path declines), and the general walk reads it. Where this
/// answers, the walk gives the same level: `decimal` is the fast decimal path where that
/// answers (`canonical_level_fast_path_agrees_with_the_general_walk`).
#[inline]
fn canonical_level(all: &[u8]) -> Option<(Level, usize)> {
    let b = all.strip_prefix(b"[\"")?;
    let (px, b) = super::quoted_decimal_fast(b)?;
    let b = b.strip_prefix(b",\"")?;
    let (sz, b) = super::quoted_decimal_fast(b)?;
    let b = b.strip_prefix(b"]")?;
    Some((Level { px: Price(px), sz: Qty(sz), n: 0 }, all.len() - b.len()))
}

fn ms(t: u64) -> Timestamp {
    Timestamp(t.saturating_mul(1_000_000))
}

fn need<T>(v: Option<T>, what: &str, e: &[u8]) -> Result<T, Bad> {
    v.ok_or_else(|| malformed(format!("{} without {what}", text(e))))
}

fn event(
    ad: &mut Adapter,
    raw: &[u8],
    f: &Fields,
    sides: Sides,
    out: &mut Vec<MarketEvent>,
) -> Result<(), Bad> {
    let g = |span| bytes(raw, span);
    let e = need(g(f.e), "event type", b"data")?;
    let coin = text(need(g(f.symbol), "symbol s", e)?);
    let event_ns = ms(need(f.event_ms.or(f.trade_ms), "time E", e)?);
    match e {
        b"depthUpdate" => {
            let mut bids = need(sides.0, "bids b", e)?;
            let mut asks = need(sides.1, "asks a", e)?;
            let (first_id, last_id) = (need(f.first_id, "U", e)?, need(f.last_id, "u", e)?);
            let prev_last_id = need(f.prev_last_id, "pu", e)?;
            ad.check_time(StreamKind::BnDepth, &coin, event_ns, out);
            ad.check_levels(&coin, &mut bids, true, out);
            ad.check_levels(&coin, &mut asks, true, out);
            out.push(MarketEvent::BookDiff {
                coin,
                exch_ns: event_ns,
                first_id,
                last_id,
                prev_last_id,
                bids,
                asks,
            });
        }
        b"trade" | b"aggTrade" => {
            let agg = e == b"aggTrade";
            // `trade` and `aggTrade` carry the same prints: one of them counts per recording,
            // `trade` when the recording has it (exact prints), `aggTrade` until it appears.
            let counted = ad.trade_source(&coin, agg, f.trade_id, f.agg_first, f.agg_last);
            // Only MARKET trades are market flow (others are liquidations, ADL, insurance fund):
            // not trades, and not anomalies either.
            if !counted || (!agg && g(f.order_type).is_some_and(|x| x != b"MARKET")) {
                return Ok(());
            }
            let px = Price(decimal(need(g(f.px), "price p", e)?, "price")?);
            let sz = Qty(decimal(need(g(f.qty), "quantity q", e)?, "quantity")?);
            let maker_buys = need(f.buyer_is_maker, "m", e)?;
            let trade_id = need(if agg { f.agg_id } else { f.trade_id }, "trade id", e)?;
            let kind = if agg { StreamKind::BnAggTrade } else { StreamKind::BnTrade };
            ad.check_time(kind, &coin, event_ns, out);
            if ad.check_trade(&coin, px, sz, out) {
                // The buyer being the maker means the seller was the aggressor.
                let side = if maker_buys { Side::Sell } else { Side::Buy };
                let exch_ns = f.trade_ms.map_or(event_ns, ms);
                out.push(MarketEvent::Trade { coin, exch_ns, side, px, sz, trade_id, history: false });
            }
        }
        b"bookTicker" => {
            let level = |px: Option<&[u8]>, sz: Option<&[u8]>, what: &str| -> Result<Level, Bad> {
                let px = decimal(need(px, what, e)?, "price")?;
                let sz = decimal(need(sz, what, e)?, "quantity")?;
                Ok(Level { px: Price(px), sz: Qty(sz), n: 0 })
            };
            let bid = level(g(f.bid_px), g(f.bid_sz), "bid b/B")?;
            let ask = level(g(f.ask_px), g(f.ask_sz), "ask a/A")?;
            ad.check_time(StreamKind::BnBookTicker, &coin, event_ns, out);
            let inst = ad.instrument(&coin);
            let ok_bid = super::check_level(&inst, &coin, &bid, true, out);
            if ok_bid & super::check_level(&inst, &coin, &ask, true, out) {
                out.push(MarketEvent::Bbo {
                    coin,
                    exch_ns: event_ns,
                    update_id: f.last_id,
                    bid: Some(bid),
                    ask: Some(ask),
                });
            }
        }
        b"markPriceUpdate" => {
            let mark_px = Price(decimal(need(g(f.px), "mark price p", e)?, "mark price")?);
            let oracle_px = g(f.index_px).map(|i| decimal(i, "index price")).transpose()?.map(Price);
            let rate = need(g(f.rate), "funding rate r", e)?;
            let funding_rate = super::parse_rate(rate).ok_or_else(|| Bad {
                kind: AnomalyKind::BadNumber,
                detail: format!("funding rate {:?}", excerpt(rate)),
            })?;
            if mark_px.0 <= 0 {
                return Err(Bad { kind: AnomalyKind::BadNumber, detail: format!("mark price {mark_px}") });
            }
            ad.check_time(StreamKind::BnMarkPrice, &coin, event_ns, out);
            out.push(MarketEvent::AssetCtx {
                coin,
                exch_ns: Some(event_ns),
                mark_px,
                oracle_px,
                funding_rate,
                open_interest: None,
                // In this event `T` is the next funding time, not a trade time.
                next_funding_ns: f.trade_ms.map(ms),
            });
        }
        other => {
            return Err(Bad {
                kind: AnomalyKind::UnknownChannel,
                detail: format!("event type {:?}", excerpt(other)),
            })
        }
    }
    Ok(())
}

/// The symbol a snapshot belongs to: the prefix of its stream name (`btcusdt@depthSnapshot`).
fn symbol_of(stream: &str) -> Option<String> {
    let prefix = stream.split('@').next().filter(|p| !p.is_empty() && stream.contains('@'))?;
    Some(prefix.to_ascii_uppercase())
}

fn snapshot(
    ad: &mut Adapter,
    record_stream: &str,
    raw: &[u8],
    (wrapper_stream, id): (Option<Span>, u64),
    f: &Fields,
    (bids, asks): Sides,
    out: &mut Vec<MarketEvent>,
) -> Result<(), Bad> {
    let coin = bytes(raw, f.symbol)
        .map(text)
        .or_else(|| bytes(raw, wrapper_stream).and_then(|w| symbol_of(&text(w))))
        .or_else(|| symbol_of(record_stream))
        .ok_or_else(|| malformed(format!("depth snapshot on stream {record_stream:?} names no symbol")))?;
    let mut bids = need(bids, "bids", b"snapshot")?;
    let mut asks = need(asks, "asks", b"snapshot")?;
    let exch_ns = ms(f.event_ms.or(f.trade_ms).unwrap_or(0));
    ad.check_time(StreamKind::BnSnapshot, &coin, exch_ns, out);
    ad.check_levels(&coin, &mut bids, false, out);
    ad.check_levels(&coin, &mut asks, false, out);
    out.push(MarketEvent::BookSnapshot { coin, exch_ns, update_id: Some(id), bids, asks });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Adapter, Venue};
    use super::*;

    fn run(ad: &mut Adapter, stream: &str, raw: &str) -> Vec<MarketEvent> {
        let mut out = vec![];
        ad.on_message(1, Timestamp(0), stream, raw.as_bytes(), &mut out);
        out
    }

    #[test]
    fn canonical_level_fast_path_agrees_with_the_general_walk() {
        let cases = [
            r#"["61800.20","0.014"],"#,
            r#"["61799","0.000"]]"#,
            r#"["0.00001234","12345678.9"]"#,
            r#"["61800.20", "0.014"]"#,
            r#"[ "61800.20","0.014"]"#,
            r#"["61800.20","0.014" ]"#,
            r#"["61800.20","0.014","x"]"#,
            r#"["61800.20"]"#,
            r#"["-1.0","1"]"#,
            r#"["1e5","1"]"#,
            r#"["1.123456789","1"]"#,
            r#"["12345678901.5","1"]"#,
            r#"["1.\u0030","1"]"#,
            r#"["1.","1"]"#,
            r#"[61800.2,"1"]"#,
            r#"["61800.20","0.014""#,
            r#"["61800.20","#,
        ];
        let fast = super::super::fast_level_path_agrees(&cases, canonical_level, level, level_general);
        assert_eq!(fast, 3, "the fast path should take the first three");
    }

    #[test]
    fn every_event_kind() {
        let mut ad = Adapter::new(Venue::BinanceUsdm);
        let v = run(
            &mut ad,
            "btcusdt@depth@0ms",
            r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["61800.20","0.014"],["61799.00","0.000"]],"a":[["61800.30","1.5"]]}}"#,
        );
        let MarketEvent::BookDiff { coin, first_id, last_id, prev_last_id, bids, asks, exch_ns } = &v[0]
        else {
            panic!("{v:?}")
        };
        assert_eq!((coin.as_str(), *first_id, *last_id, *prev_last_id), ("BTCUSDT", 10, 12, 9));
        assert_eq!((bids.len(), bids[1].sz, asks[0].px), (2, Qty(0), Price(6_180_030_000_000)));
        assert_eq!(exch_ns.0, 1_723_161_256_299_000_000);
        let v = run(
            &mut ad,
            "btcusdt@trade",
            r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256523,"T":1723161256523,"s":"BTCUSDT","t":5266583939,"p":"61800.20","q":"0.015","X":"MARKET","m":true}}"#,
        );
        assert!(matches!(
            &v[..],
            [MarketEvent::Trade { side: Side::Sell, trade_id: 5266583939, history: false, .. }]
        ));
        let v = run(
            &mut ad,
            "btcusdt@trade",
            r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256523,"T":1723161256523,"s":"BTCUSDT","t":5266583940,"p":"61800.20","q":"0.015","X":"LIQUIDATION","m":false}}"#,
        );
        assert!(v.is_empty());
        let agg = r#"{"e":"aggTrade","E":1723161256600,"a":26129,"s":"BTCUSDT","p":"61800.30","q":"0.100","f":100,"l":105,"T":1723161256599,"m":false}"#;
        // This recording has the trade stream: its aggTrade carries the same prints again.
        assert!(run(&mut ad, "btcusdt@aggTrade", agg).is_empty());
        let v = run(&mut Adapter::new(Venue::BinanceUsdm), "btcusdt@aggTrade", agg);
        assert!(matches!(&v[..], [MarketEvent::Trade { side: Side::Buy, trade_id: 26129, .. }]));
        let v = run(
            &mut ad,
            "btcusdt@bookTicker",
            r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}"#,
        );
        assert!(matches!(
            &v[..],
            [MarketEvent::Bbo { update_id: Some(5123107839020), bid: Some(_), ask: Some(_), .. }]
        ));
        let v = run(
            &mut ad,
            "btcusdt@depthSnapshot",
            r#"{"lastUpdateId":5123107852948,"E":1723161256501,"T":1723161256493,"bids":[["61800.20","2.909"]],"asks":[["61800.30","1.135"]]}"#,
        );
        assert!(
            matches!(&v[..], [MarketEvent::BookSnapshot { coin, update_id: Some(5123107852948), .. }] if coin == "BTCUSDT")
        );
        assert!(matches!(run(&mut ad, "x", r#"{"result":null,"id":1}"#)[..], [MarketEvent::Protocol { .. }]));
        assert!(matches!(
            run(&mut ad, "ws", r#"{"error":{"code":2,"msg":"Invalid request"},"id":3}"#)[..],
            [MarketEvent::Protocol { kind: ProtocolKind::Error, .. }]
        ));
        let v = run(
            &mut ad,
            "btcusdt@markPrice@1s",
            r#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1723161257000,"s":"BTCUSDT","p":"61801.10000000","P":"61790.2","i":"61795.52340909","r":"-0.00003829","T":1723190400000}}"#,
        );
        assert_eq!(
            v,
            vec![MarketEvent::AssetCtx {
                coin: "BTCUSDT".into(),
                exch_ns: Some(Timestamp(1_723_161_257_000_000_000)),
                mark_px: Price(6_180_110_000_000),
                oracle_px: Some(Price(6_179_552_340_909)),
                funding_rate: -38_290_000,
                open_interest: None,
                next_funding_ns: Some(Timestamp(1_723_190_400_000_000_000)),
            }]
        );
        assert_eq!(ad.anomaly_count(), 0);
    }

    #[test]
    fn anomalies() {
        let mut ad = Adapter::new(Venue::BinanceUsdm);
        let v = run(
            &mut ad,
            "btcusdt@combined",
            r#"{"stream":"ethusdt@depthSnapshot","data":{"lastUpdateId":7,"bids":[["1.00","1"]],"asks":[]}}"#,
        );
        assert!(
            matches!(&v[..], [MarketEvent::BookSnapshot { coin, update_id: Some(7), .. }] if coin == "ETHUSDT")
        );
        let kinds = |v: Vec<MarketEvent>| {
            v.iter()
                .filter_map(|e| match e {
                    MarketEvent::Anomaly { kind, .. } => Some(*kind),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(run(&mut ad, "s", r#"{"lastUpdateId":1,"bids":[],"asks":[]}"#)),
            vec![AnomalyKind::Malformed]
        );
        assert_eq!(
            kinds(run(&mut ad, "s", r#"{"e":"kline","E":1,"s":"BTCUSDT"}"#)),
            vec![AnomalyKind::UnknownChannel]
        );
        assert_eq!(
            kinds(run(
                &mut ad,
                "s",
                r#"{"e":"trade","E":5,"s":"BTCUSDT","t":1,"p":"61800.25","q":"0.001","m":true}"#
            )),
            vec![AnomalyKind::BadNumber]
        );
        assert_eq!(
            kinds(run(
                &mut ad,
                "s",
                r#"{"e":"trade","E":4,"s":"BTCUSDT","t":2,"p":"61800.2","q":"0.001","m":true}"#
            )),
            vec![AnomalyKind::TimeBackwards]
        );
        assert_eq!(
            kinds(run(
                &mut ad,
                "s",
                r#"{"e":"depthUpdate","E":4,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1.0","-1"]],"a":[]}"#
            )),
            vec![AnomalyKind::BadNumber]
        );
        assert_eq!(kinds(run(&mut ad, "s", r#"{"e":"trade","E":"4"}"#)), vec![AnomalyKind::Malformed]);
    }
}
