//! Hyperliquid websocket messages `{"channel":..,"data":..}` (and the archive's
//! `{"time":..,"ver_num":..,"raw":{..}}` lines) to events, in one pass over the bytes.
//!
//! The data object is read without knowing the channel first (captures re-serialize keys, so
//! `data` may precede `channel`): the keys of the documented shapes do not collide, so one
//! reader fills whatever the message holds and the channel then picks the event.

use super::event::{Level, MarketEvent, ProtocolKind};
use super::json::Scanner;
use super::{decimal, excerpt, malformed, text, Adapter, Bad, StreamKind};
use crate::types::{Price, Qty, Side, Timestamp};

const GREETING: &[u8] = b"Websocket connection established.";

struct Trade<'a> {
    coin: &'a [u8],
    side: Side,
    px: Price,
    sz: Qty,
    time_ms: u64,
    tid: u64,
}

#[derive(Default)]
struct Data<'a> {
    coin: Option<&'a [u8]>,
    time_ms: Option<u64>,
    levels: Option<(Vec<Level>, Vec<Level>)>,
    bbo: Option<(Option<Level>, Option<Level>)>,
    mids: Option<Vec<(String, Price)>>,
    trades: Option<Vec<Trade<'a>>>,
    /// `activeAssetCtx`: the perpetual's context.
    ctx: Option<Ctx>,
    /// `subscriptionResponse`: the subscription's type and coin.
    sub_type: Option<&'a [u8]>,
    sub_coin: Option<&'a [u8]>,
    /// The raw value, for details of protocol messages.
    raw: &'a [u8],
}

/// The fields of an `activeAssetCtx` context this program uses.
#[derive(Default)]
struct Ctx {
    mark_px: Option<i64>,
    oracle_px: Option<i64>,
    funding: Option<i64>,
    open_interest: Option<i64>,
}

#[derive(Default)]
struct Message<'a> {
    channel: Option<&'a [u8]>,
    data: Option<Data<'a>>,
}

/// A message decoded as far as the adapter's state allows: everything but the checks and
/// flags that depend on what came before (exchange clocks, the first `trades` batch per coin)
/// or on the instruments (grid checks). A pure function of the bytes, so a driver may run it
/// ahead of the engine, on another thread ([`super::Parsed`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    Greeting(String),
    /// `clean`: every level passes the adapter's level check under the built-in rules
    /// ([`super::instrument`]), so an adapter with those rules need not check them again.
    L2Book {
        coin: String,
        exch_ns: Timestamp,
        bids: Vec<Level>,
        asks: Vec<Level>,
        clean: bool,
    },
    Bbo {
        coin: String,
        exch_ns: Timestamp,
        bid: Option<Level>,
        ask: Option<Level>,
        clean: bool,
    },
    Mids(Vec<(String, Price)>),
    Trades(Vec<OwnedTrade>),
    /// `subscriptionResponse`: the coin of a `trades` subscription, and the ack's detail.
    SubAck {
        trades_coin: Option<String>,
        detail: String,
    },
    /// The synthetic venue's exact queue under a stream name of its own choosing: skipped.
    OrderLevel,
    /// `activeAssetCtx`, complete (`AssetCtx`): nothing in it depends on state.
    AssetCtx(MarketEvent),
    Pong,
    Error(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct OwnedTrade {
    coin: String,
    side: Side,
    px: Price,
    sz: Qty,
    time_ms: u64,
    tid: u64,
}

/// Buffers the owned parts of decoded messages are built in: a parser running ahead of the
/// engine gets back the messages the engine is done with ([`Bufs::recycle`]) and refills
/// their vectors and strings, so that it allocates nothing in the steady state (and no
/// memory crosses threads to be freed: the allocator's slowest path).
#[derive(Debug, Default)]
pub struct Bufs {
    strings: Vec<String>,
    levels: Vec<Vec<Level>>,
}

/// Spare buffers kept, each kind: about the messages in flight between the threads.
const SPARE: usize = 8192;

impl Bufs {
    fn levels(&mut self) -> Vec<Level> {
        super::spare_vec(&mut self.levels, 20)
    }

    /// `text(raw)`, in a recycled string.
    fn text(&mut self, raw: &[u8]) -> String {
        match self.strings.pop() {
            Some(mut t) => {
                t.clear();
                t.push_str(&String::from_utf8_lossy(raw));
                t
            }
            None => text(raw),
        }
    }

    fn keep_string(&mut self, t: String) {
        if self.strings.len() < SPARE {
            self.strings.push(t);
        }
    }

    fn keep_levels(&mut self, v: Vec<Level>) {
        if self.levels.len() < SPARE {
            self.levels.push(v);
        }
    }

    /// Takes back the buffers of a message the engine is done with.
    pub fn recycle(&mut self, m: Msg) {
        match m {
            Msg::L2Book { coin, bids, asks, .. } => {
                self.keep_string(coin);
                self.keep_levels(bids);
                self.keep_levels(asks);
            }
            Msg::Bbo { coin, .. } => self.keep_string(coin),
            Msg::Trades(list) => {
                for t in list {
                    self.keep_string(t.coin);
                }
            }
            _ => {}
        }
    }
}

pub(super) fn parse(ad: &mut Adapter, raw: &[u8], out: &mut Vec<MarketEvent>) -> Result<(), Bad> {
    apply_owned(ad, preparse(raw, &mut Bufs::default())?, out);
    Ok(())
}

/// The stateless half of [`parse`]: every error a message can raise is raised here. Owned
/// parts are built in `bufs`.
pub(super) fn preparse(raw: &[u8], bufs: &mut Bufs) -> Result<Msg, Bad> {
    let trimmed = raw.trim_ascii();
    if trimmed.first() != Some(&b'{') {
        if trimmed == GREETING {
            return Ok(Msg::Greeting(text(trimmed)));
        }
        return Err(malformed(format!("not a JSON object: {:?}", excerpt(raw))));
    }
    let mut s = Scanner::new(raw);
    // Decoded in place: the message's fields are a few hundred bytes, moved out of each
    // nested call they were a copy per level of the decode.
    let mut msg = Message::default();
    message(&mut s, true, bufs, &mut msg)?;
    if !s.at_end() {
        return Err(malformed(format!("trailing bytes at {}", s.pos())));
    }
    let Some(channel) = msg.channel else {
        return Err(malformed("no channel"));
    };
    let data = &mut msg.data;
    Ok(match channel {
        b"l2Book" => {
            let d = data.as_mut().ok_or_else(|| malformed("l2Book without data"))?;
            let (coin, exch_ns) = coin_and_time(d, "l2Book", bufs)?;
            let (bids, asks) = d.levels.take().ok_or_else(|| malformed("l2Book without levels"))?;
            let clean = all_clean(&coin, bids.iter().chain(&asks));
            Msg::L2Book { coin, exch_ns, bids, asks, clean }
        }
        b"trades" => {
            let list = data
                .as_mut()
                .and_then(|d| d.trades.take())
                .ok_or_else(|| malformed("trades without a list"))?;
            Msg::Trades(
                list.into_iter()
                    .map(|t| OwnedTrade {
                        coin: bufs.text(t.coin),
                        side: t.side,
                        px: t.px,
                        sz: t.sz,
                        time_ms: t.time_ms,
                        tid: t.tid,
                    })
                    .collect(),
            )
        }
        b"bbo" => {
            let d = data.as_ref().ok_or_else(|| malformed("bbo without data"))?;
            let (coin, exch_ns) = coin_and_time(d, "bbo", bufs)?;
            let (bid, ask) = d.bbo.ok_or_else(|| malformed("bbo without bbo"))?;
            let clean = all_clean(&coin, bid.iter().chain(&ask));
            Msg::Bbo { coin, exch_ns, bid, ask, clean }
        }
        b"allMids" => Msg::Mids(
            data.as_mut().and_then(|d| d.mids.take()).ok_or_else(|| malformed("allMids without mids"))?,
        ),
        b"subscriptionResponse" => {
            let d = data.as_ref().ok_or_else(|| malformed("subscriptionResponse without data"))?;
            let trades_coin = match (d.sub_type, d.sub_coin) {
                (Some(b"trades"), Some(coin)) => Some(text(coin)),
                _ => None,
            };
            Msg::SubAck { trades_coin, detail: text(d.raw) }
        }
        b"orderLevel" => Msg::OrderLevel,
        b"activeAssetCtx" => {
            let d = data.as_mut().ok_or_else(|| malformed("activeAssetCtx without data"))?;
            let coin = text(d.coin.ok_or_else(|| malformed("activeAssetCtx without coin"))?);
            let c = d.ctx.take().ok_or_else(|| malformed("activeAssetCtx without ctx"))?;
            let mark_px = Price(c.mark_px.ok_or_else(|| malformed("activeAssetCtx without markPx"))?);
            let funding_rate = c.funding.ok_or_else(|| malformed("activeAssetCtx without funding"))?;
            if mark_px.0 <= 0 {
                return Err(Bad { kind: super::AnomalyKind::BadNumber, detail: format!("markPx {mark_px}") });
            }
            Msg::AssetCtx(MarketEvent::AssetCtx {
                coin,
                // The venue stamps no time on it; the receive time travels beside the event.
                exch_ns: d.time_ms.map(|t| Timestamp(t.saturating_mul(1_000_000))),
                mark_px,
                oracle_px: c.oracle_px.map(Price),
                funding_rate,
                open_interest: c.open_interest.map(Qty),
                next_funding_ns: None,
            })
        }
        b"pong" => Msg::Pong,
        b"error" => Msg::Error(data.as_ref().map(|d| text(d.raw)).unwrap_or_default()),
        other => {
            return Err(Bad {
                kind: super::AnomalyKind::UnknownChannel,
                detail: format!("channel {:?}", excerpt(other)),
            })
        }
    })
}

/// The stateful half of [`parse`], for a message parsed ahead (the events own copies).
pub(super) fn apply(ad: &mut Adapter, msg: &Msg, out: &mut Vec<MarketEvent>) {
    match msg {
        Msg::L2Book { coin, exch_ns, bids, asks, clean } => {
            ad.check_time(StreamKind::HlBook, coin, *exch_ns, out);
            let (mut bids, mut asks) = (bids.clone(), asks.clone());
            // Checked ahead, under the rules this adapter has: nothing to remove or report.
            if !(*clean && ad.instruments.is_default()) {
                ad.check_levels(coin, &mut bids, false, out);
                ad.check_levels(coin, &mut asks, false, out);
            }
            out.push(MarketEvent::BookSnapshot {
                coin: coin.clone(),
                exch_ns: *exch_ns,
                update_id: None,
                bids,
                asks,
            });
        }
        Msg::Bbo { coin, exch_ns, bid, ask, clean } => {
            let checked = *clean && ad.instruments.is_default();
            bbo(ad, coin.clone(), *exch_ns, *bid, *ask, checked, out)
        }
        other => apply_owned(ad, other.clone(), out),
    }
}

fn bbo(
    ad: &mut Adapter,
    coin: String,
    exch_ns: Timestamp,
    bid: Option<Level>,
    ask: Option<Level>,
    checked: bool,
    out: &mut Vec<MarketEvent>,
) {
    ad.check_time(StreamKind::HlBbo, &coin, exch_ns, out);
    if checked {
        out.push(MarketEvent::Bbo { coin, exch_ns, update_id: None, bid, ask });
        return;
    }
    let inst = ad.instrument(&coin);
    let ok_bid = bid.map_or(true, |l| super::check_level(&inst, &coin, &l, false, out));
    if !(ok_bid & ask.map_or(true, |l| super::check_level(&inst, &coin, &l, false, out))) {
        return; // an impossible level: the anomaly says so, the bbo is unusable
    }
    out.push(MarketEvent::Bbo { coin, exch_ns, update_id: None, bid, ask });
}

/// The stateful half of [`parse`]: the checks against what came before and the instruments.
fn apply_owned(ad: &mut Adapter, msg: Msg, out: &mut Vec<MarketEvent>) {
    match msg {
        Msg::Greeting(detail) => out.push(MarketEvent::Protocol { kind: ProtocolKind::Greeting, detail }),
        Msg::L2Book { coin, exch_ns, mut bids, mut asks, .. } => {
            ad.check_time(StreamKind::HlBook, &coin, exch_ns, out);
            ad.check_levels(&coin, &mut bids, false, out);
            ad.check_levels(&coin, &mut asks, false, out);
            out.push(MarketEvent::BookSnapshot { coin, exch_ns, update_id: None, bids, asks });
        }
        Msg::Trades(list) => trades(ad, list, out),
        Msg::Bbo { coin, exch_ns, bid, ask, .. } => bbo(ad, coin, exch_ns, bid, ask, false, out),
        Msg::Mids(mids) => out.push(MarketEvent::Mids { mids }),
        Msg::SubAck { trades_coin, detail } => {
            // Re-subscribing to trades brings a fresh history batch first.
            if let Some(coin) = trades_coin {
                ad.trades_seen.retain(|c| *c != coin);
            }
            out.push(MarketEvent::Protocol { kind: ProtocolKind::SubscriptionAck, detail });
        }
        Msg::OrderLevel => {}
        Msg::AssetCtx(e) => out.push(e),
        Msg::Pong => out.push(MarketEvent::Protocol { kind: ProtocolKind::Pong, detail: String::new() }),
        Msg::Error(detail) => out.push(MarketEvent::Protocol { kind: ProtocolKind::Error, detail }),
    }
}

/// One message object, decoded into `m` (a default one); `allow_wrapper` lets the archive's
/// `raw` field hold the message.
fn message<'a>(
    s: &mut Scanner<'a>,
    allow_wrapper: bool,
    bufs: &mut Bufs,
    m: &mut Message<'a>,
) -> Result<(), Bad> {
    let mut wrapped: Option<Message<'a>> = None;
    s.object(|s, k| -> Result<(), Bad> {
        match k {
            b"channel" => m.channel = Some(s.string()?),
            b"data" => data(s, bufs, m.data.insert(Data::default()))?,
            b"raw" if allow_wrapper && s.peek() == Some(b'{') => {
                message(s, false, bufs, wrapped.insert(Message::default()))?;
            }
            _ => {
                s.skip_value()?;
            }
        }
        Ok(())
    })?;
    if let Some(w) = wrapped {
        if m.channel.is_none() {
            *m = w;
        }
    }
    Ok(())
}

/// Decodes a message's `data` into `d` (a default one).
fn data<'a>(s: &mut Scanner<'a>, bufs: &mut Bufs, d: &mut Data<'a>) -> Result<(), Bad> {
    let start = {
        s.peek();
        s.pos()
    };
    match s.peek() {
        Some(b'{') => s.object(|s, k| -> Result<(), Bad> {
            match k {
                b"coin" => d.coin = Some(s.string()?),
                b"time" => d.time_ms = Some(s.u64()?),
                b"levels" => d.levels = Some(levels(s, bufs)?),
                b"bbo" => d.bbo = Some(bbo_pair(s)?),
                b"mids" => d.mids = Some(mids(s)?),
                b"ctx" => d.ctx = Some(ctx(s)?),
                b"subscription" => s.object(|s, k| -> Result<(), Bad> {
                    match k {
                        b"type" => d.sub_type = Some(s.string()?),
                        b"coin" if s.peek() == Some(b'"') => d.sub_coin = Some(s.string()?),
                        _ => {
                            s.skip_value()?;
                        }
                    }
                    Ok(())
                })?,
                _ => {
                    s.skip_value()?;
                }
            }
            Ok(())
        })?,
        Some(b'[') => {
            let mut v = Vec::new();
            s.array(|s| -> Result<(), Bad> {
                v.push(trade(s)?);
                Ok(())
            })?;
            d.trades = Some(v);
        }
        _ => {
            s.skip_value()?;
        }
    }
    let end = s.pos();
    d.raw = s.slice(start, end);
    Ok(())
}

/// `{"funding":..,"openInterest":..,"oraclePx":..,"markPx":..,..}` in any order.
fn ctx(s: &mut Scanner<'_>) -> Result<Ctx, Bad> {
    let mut c = Ctx::default();
    s.object(|s, k| -> Result<(), Bad> {
        match k {
            b"markPx" => c.mark_px = Some(decimal(s.string()?, "markPx")?),
            b"oraclePx" => c.oracle_px = Some(decimal(s.string()?, "oraclePx")?),
            b"openInterest" => c.open_interest = Some(decimal(s.string()?, "openInterest")?),
            b"funding" => {
                let raw = s.string()?;
                c.funding = Some(super::parse_rate(raw).ok_or_else(|| Bad {
                    kind: super::AnomalyKind::BadNumber,
                    detail: format!("funding {:?}", excerpt(raw)),
                })?);
            }
            _ => {
                s.skip_value()?;
            }
        }
        Ok(())
    })?;
    Ok(c)
}

/// `{px, sz, n}` in any order.
fn level(s: &mut Scanner<'_>) -> Result<Level, Bad> {
    if let Some((l, used)) = canonical_level(s.rest()) {
        s.advance(used);
        return Ok(l);
    }
    level_general(s)
}

fn level_general(s: &mut Scanner<'_>) -> Result<Level, Bad> {
    let (mut px, mut sz, mut n) = (None, None, 0u32);
    s.object(|s, k| -> Result<(), Bad> {
        match k {
            b"px" => px = Some(decimal(s.string()?, "px")?),
            b"sz" => sz = Some(decimal(s.string()?, "sz")?),
            b"n" => n = u32::try_from(s.u64()?).unwrap_or(u32::MAX),
            _ => {
                s.skip_value()?;
            }
        }
        Ok(())
    })?;
    match (px, sz) {
        (Some(px), Some(sz)) => Ok(Level { px: Price(px), sz: Qty(sz), n }),
        _ => Err(malformed("level without px or sz")),
    }
}

/// The venue's own spelling of a level, `{"px":"<decimal>","sz":"<decimal>","n":<digits>}`
/// with no spaces, read without the general object walk: the level and the bytes it took,
/// or `None` (anything else, including what the fast decimal path declines), and the
/// general path reads it. Where this answers, the general path gives the same level: the
/// same decimal parse of the same bytes, and `n` is a plain integer followed by `}`.
#[inline]
fn canonical_level(all: &[u8]) -> Option<(Level, usize)> {
    let b = all.strip_prefix(b"{\"px\":\"")?;
    let (px, b) = super::quoted_decimal_fast(b)?;
    let b = b.strip_prefix(b",\"sz\":\"")?;
    let (sz, b) = super::quoted_decimal_fast(b)?;
    let b = b.strip_prefix(b",\"n\":")?;
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    // 19 digits always fit a u64: the general path's overflow check cannot fire.
    if digits == 0 || digits > 19 || b.get(digits) != Some(&b'}') {
        return None;
    }
    let n = b[..digits].iter().fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
    let used = all.len() - (b.len() - digits - 1);
    Some((Level { px: Price(px), sz: Qty(sz), n: u32::try_from(n).unwrap_or(u32::MAX) }, used))
}

/// `[[bids..], [asks..]]`.
fn levels(s: &mut Scanner<'_>, bufs: &mut Bufs) -> Result<(Vec<Level>, Vec<Level>), Bad> {
    let mut sides: [Vec<Level>; 2] = [bufs.levels(), bufs.levels()];
    let mut i = 0;
    s.array(|s| -> Result<(), Bad> {
        let side = sides.get_mut(i).ok_or_else(|| malformed("levels has more than two sides"))?;
        s.array(|s| -> Result<(), Bad> {
            side.push(level(s)?);
            Ok(())
        })?;
        i += 1;
        Ok(())
    })?;
    if i != 2 {
        return Err(malformed("levels must have two sides"));
    }
    let [bids, asks] = sides;
    Ok((bids, asks))
}

/// `[level|null, level|null]`.
fn bbo_pair(s: &mut Scanner<'_>) -> Result<(Option<Level>, Option<Level>), Bad> {
    let (mut v, mut n) = ([None; 2], 0usize);
    s.array(|s| -> Result<(), Bad> {
        let l = if s.null() { None } else { Some(level(s)?) };
        if let Some(slot) = v.get_mut(n) {
            *slot = l;
        }
        n += 1;
        Ok(())
    })?;
    match n {
        2 => Ok((v[0], v[1])),
        _ => Err(malformed("bbo must have two entries")),
    }
}

fn mids(s: &mut Scanner<'_>) -> Result<Vec<(String, Price)>, Bad> {
    let mut v = Vec::new();
    s.object(|s, k| -> Result<(), Bad> {
        v.push((text(k), Price(decimal(s.string()?, "mid")?)));
        Ok(())
    })?;
    Ok(v)
}

fn trade<'a>(s: &mut Scanner<'a>) -> Result<Trade<'a>, Bad> {
    let (mut coin, mut side, mut px, mut sz, mut time_ms, mut tid) = (None, None, None, None, None, None);
    s.object(|s, k| -> Result<(), Bad> {
        match k {
            b"coin" => coin = Some(s.string()?),
            b"side" => {
                side = Some(match s.string()? {
                    b"B" => Side::Buy,
                    b"A" => Side::Sell,
                    o => return Err(malformed(format!("trade side {:?}", excerpt(o)))),
                })
            }
            b"px" => px = Some(decimal(s.string()?, "px")?),
            b"sz" => sz = Some(decimal(s.string()?, "sz")?),
            b"time" => time_ms = Some(s.u64()?),
            b"tid" => tid = Some(s.u64()?),
            _ => {
                s.skip_value()?;
            }
        }
        Ok(())
    })?;
    match (coin, side, px, sz, time_ms) {
        (Some(coin), Some(side), Some(px), Some(sz), Some(time_ms)) => {
            Ok(Trade { coin, side, px: Price(px), sz: Qty(sz), time_ms, tid: tid.unwrap_or(0) })
        }
        _ => Err(malformed("trade without coin, side, px, sz or time")),
    }
}

/// Whether every level passes [`super::check_level`] under the built-in rules of `coin`.
fn all_clean<'l>(coin: &str, mut levels: impl Iterator<Item = &'l Level>) -> bool {
    let inst = super::instrument(super::Venue::Hyperliquid, coin);
    levels.all(|l| super::level_problem(&inst, l, false).is_none())
}

fn ms(t: u64) -> Timestamp {
    Timestamp(t.saturating_mul(1_000_000))
}

fn coin_and_time(d: &Data<'_>, what: &str, bufs: &mut Bufs) -> Result<(String, Timestamp), Bad> {
    match (d.coin, d.time_ms) {
        (Some(c), Some(t)) => Ok((bufs.text(c), ms(t))),
        _ => Err(malformed(format!("{what} without coin or time"))),
    }
}

fn trades(ad: &mut Adapter, list: Vec<OwnedTrade>, out: &mut Vec<MarketEvent>) {
    let Some(first) = list.first() else { return };
    // The first message per coin after a connect (or the start of a capture) is the batch of
    // trades from before the subscription: history, not new flow.
    let history = !ad.trades_seen.contains(&first.coin);
    if history {
        ad.trades_seen.push(first.coin.clone());
    }
    for t in list {
        let exch_ns = ms(t.time_ms);
        if !history {
            ad.check_time(StreamKind::HlTrades, &t.coin, exch_ns, out);
        }
        if ad.check_trade(&t.coin, t.px, t.sz, out) {
            out.push(MarketEvent::Trade {
                coin: t.coin,
                exch_ns,
                side: t.side,
                px: t.px,
                sz: t.sz,
                trade_id: t.tid,
                history,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Adapter, AnomalyKind, Venue};
    use super::*;

    fn run(ad: &mut Adapter, raw: &str) -> Vec<MarketEvent> {
        let mut out = vec![];
        ad.on_message(1, Timestamp(0), "hl", raw.as_bytes(), &mut out);
        out
    }

    /// The canonical-level fast path answers only where the general object walk gives the
    /// same level and stops at the same byte.
    #[test]
    fn canonical_level_fast_path_agrees_with_the_general_walk() {
        let cases = [
            r#"{"px":"93497.0","sz":"0.2","n":1},"#,
            r#"{"px":"93497","sz":"12.00000001","n":4294967296}]"#,
            r#"{"px":"0.000012","sz":"100000","n":0}"#,
            r#"{"px":"1.0","sz":"1","n":99999999999999999999}"#,
            r#"{"px":"1.0","sz":"1","n":1.0}"#,
            r#"{"px":"1.0","sz":"1","n":1e3}"#,
            r#"{"px":"1.0","sz":"1","n":-1}"#,
            r#"{"px":"1.0","sz":"1","n":1 }"#,
            r#"{"px":"1.0","sz":"1","n":}"#,
            r#"{"px":"-1.0","sz":"1","n":1}"#,
            r#"{"px":"1e5","sz":"1","n":1}"#,
            r#"{"px":"1.123456789","sz":"1","n":1}"#,
            r#"{"px":"1.\u0030","sz":"1","n":1}"#,
            r#"{"px":"1.0\"","sz":"1","n":1}"#,
            r#"{"px":"12345678901.5","sz":"1","n":1}"#,
            r#"{ "px":"1.0","sz":"1","n":1}"#,
            r#"{"sz":"1","px":"1.0","n":1}"#,
            r#"{"px":"1.0","sz":"1","n":1,"x":2}"#,
            r#"{"px":"1.0","sz":"1"}"#,
            r#"{"px":"1.0","#,
        ];
        let fast = super::super::fast_level_path_agrees(&cases, canonical_level, level, level_general);
        assert_eq!(fast, 3, "the fast path should take the first three");
    }

    #[test]
    fn l2_book_in_any_key_order() {
        let mut ad = Adapter::new(Venue::Hyperliquid);
        let a = run(
            &mut ad,
            r#"{"data":{"time":1700000000123,"levels":[[{"sz":"1.5","n":2,"px":"42000.0"}],[{"px":"42001","sz":"0.00001","n":1}]],"coin":"BTC"},"channel":"l2Book"}"#,
        );
        let b = run(
            &mut ad,
            r#"{"channel":"l2Book","data":{"coin":"BTC","time":1700000000123,"levels":[[{"px":"42000","sz":"1.50","n":2}],[{"n":1,"px":"42001.0","sz":"0.00001"}]]}}"#,
        );
        assert_eq!(a, b);
        let MarketEvent::BookSnapshot { coin, exch_ns, bids, asks, .. } = &a[0] else { panic!("{a:?}") };
        assert_eq!((coin.as_str(), exch_ns.0), ("BTC", 1_700_000_000_123_000_000));
        assert_eq!(bids[0], Level { px: Price(4_200_000_000_000), sz: Qty(150_000_000), n: 2 });
        assert_eq!(asks[0].sz, Qty(1000));
        assert_eq!(ad.anomaly_count(), 0);
    }

    #[test]
    fn active_asset_ctx_gives_mark_oracle_and_funding() {
        let mut ad = Adapter::new(Venue::Hyperliquid);
        let v = run(
            &mut ad,
            r#"{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"funding":"0.0000125","openInterest":"12345.678","prevDayPx":"96000.0","dayNtlVlm":"1.0","premium":"0.0001","oraclePx":"97000.0","markPx":"97010.0","midPx":"97005.5","impactPxs":["97005.0","97006.0"],"dayBaseVlm":"1.0"}}}"#,
        );
        assert_eq!(
            v,
            vec![MarketEvent::AssetCtx {
                coin: "BTC".into(),
                exch_ns: None,
                mark_px: Price(9_701_000_000_000),
                oracle_px: Some(Price(9_700_000_000_000)),
                funding_rate: 12_500_000,
                open_interest: Some(Qty(1_234_567_800_000)),
                next_funding_ns: None,
            }]
        );
        let v = run(
            &mut ad,
            r#"{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"funding":"0.00000000000001","markPx":"1.0"}}}"#,
        );
        assert!(matches!(&v[..], [MarketEvent::Anomaly { kind: AnomalyKind::BadNumber, .. }]), "{v:?}");
        assert_eq!(crate::venue::parse_rate(b"-0.00003829"), Some(-38_290_000));
        assert_eq!(crate::venue::parse_rate(b"1e-5"), None);
    }

    #[test]
    fn protocol_messages_and_anomalies() {
        let mut ad = Adapter::new(Venue::Hyperliquid);
        assert!(matches!(
            run(&mut ad, "Websocket connection established.")[0],
            MarketEvent::Protocol { kind: ProtocolKind::Greeting, .. }
        ));
        assert!(matches!(
            run(&mut ad, r#"{"channel":"pong"}"#)[0],
            MarketEvent::Protocol { kind: ProtocolKind::Pong, .. }
        ));
        assert!(matches!(
            run(&mut ad, r#"{"channel":"error","data":"Invalid subscription"}"#)[0],
            MarketEvent::Protocol { kind: ProtocolKind::Error, .. }
        ));
        let kind = |v: Vec<MarketEvent>| match &v[..] {
            [MarketEvent::Anomaly { kind, .. }] => Some(*kind),
            _ => None,
        };
        assert_eq!(
            kind(run(&mut ad, r#"{"channel":"l2Book","data":{"coin":"BTC","#)),
            Some(AnomalyKind::Malformed)
        );
        assert_eq!(
            kind(run(&mut ad, r#"{"channel":"candle","data":{}}"#)),
            Some(AnomalyKind::UnknownChannel)
        );
        assert_eq!(
            kind(run(&mut ad, r#"{"channel":"l2Book","data":{"coin":"BTC","time":"x","levels":[[],[]]}}"#)),
            Some(AnomalyKind::Malformed)
        );
        let v = run(
            &mut ad,
            r#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"1.0","sz":"-1","n":1}],[]]}}"#,
        );
        assert!(matches!(v[0], MarketEvent::Anomaly { kind: AnomalyKind::BadNumber, .. }));
        assert!(matches!(&v[1], MarketEvent::BookSnapshot { bids, .. } if bids.is_empty()));
        let v = run(
            &mut ad,
            r#"{"channel":"l2Book","data":{"coin":"BTC","time":0,"levels":[[{"px":"42000.5","sz":"1","n":1}],[]]}}"#,
        );
        assert!(v.iter().any(|e| matches!(e, MarketEvent::Anomaly { kind: AnomalyKind::BadNumber, .. })));
        assert!(v.iter().any(|e| matches!(e, MarketEvent::Anomaly { kind: AnomalyKind::TimeBackwards, .. })));
        assert_eq!(ad.anomaly_count(), 6);
    }

    #[test]
    fn first_trades_batch_per_coin_is_history_until_reconnect() {
        let mut ad = Adapter::new(Venue::Hyperliquid);
        let msg = r#"{"channel":"trades","data":[{"coin":"BTC","side":"A","px":"42000.0","sz":"0.1","hash":"0x00","time":1,"tid":7,"users":["a","b"]}]}"#;
        let hist = |v: &[MarketEvent]| match v {
            [MarketEvent::Trade { history, side, .. }] => (*history, *side),
            _ => panic!("{v:?}"),
        };
        assert_eq!(hist(&run(&mut ad, msg)), (true, Side::Sell));
        assert_eq!(hist(&run(&mut ad, msg)), (false, Side::Sell));
        ad.on_connect();
        assert_eq!(hist(&run(&mut ad, msg)), (true, Side::Sell));
    }

    #[test]
    fn archive_lines_unwrap_to_the_message() {
        let mut ad = Adapter::new(Venue::Hyperliquid);
        let v = run(
            &mut ad,
            r#"{"time":"2024-01-01T12:00:01.138942031","ver_num":1,"raw":{"channel":"allMids","data":{"mids":{"BTC":"42000.5","@107":"0.00123456"}}}}"#,
        );
        assert_eq!(
            v,
            vec![MarketEvent::Mids {
                mids: vec![("BTC".into(), Price(4_200_050_000_000)), ("@107".into(), Price(123_456))]
            }]
        );
    }
}
