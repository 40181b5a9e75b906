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

#[derive(Default)]
struct Fields<'a> {
    e: Option<&'a [u8]>,
    event_ms: Option<u64>,
    trade_ms: Option<u64>,
    symbol: Option<&'a [u8]>,
    first_id: Option<u64>,
    last_id: Option<u64>,
    prev_last_id: Option<u64>,
    bid_levels: Option<Vec<Level>>,
    ask_levels: Option<Vec<Level>>,
    bid_px: Option<&'a [u8]>,
    bid_sz: Option<&'a [u8]>,
    ask_px: Option<&'a [u8]>,
    ask_sz: Option<&'a [u8]>,
    px: Option<&'a [u8]>,
    qty: Option<&'a [u8]>,
    order_type: Option<&'a [u8]>,
    buyer_is_maker: Option<bool>,
    trade_id: Option<u64>,
    agg_id: Option<u64>,
    /// `aggTrade`: first and last trade id it aggregates.
    agg_first: Option<u64>,
    agg_last: Option<u64>,
    last_update_id: Option<u64>,
    /// `markPriceUpdate`: index price `i` and funding rate `r`.
    index_px: Option<&'a [u8]>,
    rate: Option<&'a [u8]>,
    /// `{"result":..,"id":..}`: the answer to a subscribe request.
    is_response: bool,
    /// `{"error":{..},"id":..}`: a refused request.
    is_error: bool,
    stream: Option<&'a [u8]>,
    has_data: bool,
}

pub(super) fn parse(
    ad: &mut Adapter,
    stream: &str,
    raw: &[u8],
    out: &mut Vec<MarketEvent>,
) -> Result<(), Bad> {
    let mut s = Scanner::new(raw);
    if s.peek() != Some(b'{') {
        return Err(malformed(format!("not a JSON object: {:?}", excerpt(raw))));
    }
    let mut data = Fields::default();
    let top = fields(&mut s, Some(&mut data))?;
    if !s.at_end() {
        return Err(malformed(format!("trailing bytes at {}", s.pos())));
    }
    if top.has_data {
        if let Some(id) = data.last_update_id {
            // A snapshot relayed inside a combined-stream wrapper: its stream names the symbol.
            return snapshot(ad, stream, top.stream, id, data, out);
        }
        return event(ad, data, out);
    }
    if let Some(id) = top.last_update_id {
        return snapshot(ad, stream, top.stream, id, top, out);
    }
    if top.e.is_some() {
        return event(ad, top, out);
    }
    if top.is_error {
        out.push(MarketEvent::Protocol { kind: ProtocolKind::Error, detail: text(raw) });
        return Ok(());
    }
    if top.is_response {
        out.push(MarketEvent::Protocol { kind: ProtocolKind::SubscriptionAck, detail: text(raw) });
        return Ok(());
    }
    Err(Bad { kind: AnomalyKind::UnknownChannel, detail: format!("unknown message {:?}", excerpt(raw)) })
}

/// Reads an object's fields; at the top level (`data` given) also the combined-stream
/// wrapper's `stream` and its `data` object.
fn fields<'a>(s: &mut Scanner<'a>, mut data: Option<&mut Fields<'a>>) -> Result<Fields<'a>, Bad> {
    let top = data.is_some();
    let mut f = Fields::default();
    s.object(|s, k| -> Result<(), Bad> {
        match k {
            b"e" => f.e = Some(s.string()?),
            b"E" => f.event_ms = Some(s.u64()?),
            b"T" => f.trade_ms = Some(s.u64()?),
            b"s" => f.symbol = Some(s.string()?),
            b"U" => f.first_id = Some(s.u64()?),
            b"u" => f.last_id = Some(s.u64()?),
            b"pu" => f.prev_last_id = Some(s.u64()?),
            b"b" | b"bids" if s.peek() == Some(b'[') => f.bid_levels = Some(levels(s)?),
            b"a" | b"asks" if s.peek() == Some(b'[') => f.ask_levels = Some(levels(s)?),
            b"b" => f.bid_px = Some(s.string()?),
            b"B" => f.bid_sz = Some(s.string()?),
            b"a" if s.peek() == Some(b'"') => f.ask_px = Some(s.string()?),
            b"a" => f.agg_id = Some(s.u64()?),
            b"A" => f.ask_sz = Some(s.string()?),
            b"p" => f.px = Some(s.string()?),
            b"q" => f.qty = Some(s.string()?),
            b"X" => f.order_type = Some(s.string()?),
            b"m" => f.buyer_is_maker = Some(s.bool()?),
            b"t" => f.trade_id = Some(s.u64()?),
            b"f" => f.agg_first = Some(s.u64()?),
            b"l" => f.agg_last = Some(s.u64()?),
            b"lastUpdateId" => f.last_update_id = Some(s.u64()?),
            b"i" if s.peek() == Some(b'"') => f.index_px = Some(s.string()?),
            b"r" if s.peek() == Some(b'"') => f.rate = Some(s.string()?),
            b"error" if top => {
                f.is_error = true;
                s.skip_value()?;
            }
            b"stream" if top => f.stream = Some(s.string()?),
            b"data" if s.peek() == Some(b'{') => {
                if let Some(d) = data.as_deref_mut() {
                    *d = fields(s, None)?;
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
fn levels(s: &mut Scanner<'_>) -> Result<Vec<Level>, Bad> {
    let mut v = Vec::with_capacity(32);
    s.array(|s| -> Result<(), Bad> {
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
        v.push(Level { px: Price(px), sz: Qty(sz), n: 0 });
        Ok(())
    })?;
    Ok(v)
}

fn ms(t: u64) -> Timestamp {
    Timestamp(t.saturating_mul(1_000_000))
}

fn need<T>(v: Option<T>, what: &str, e: &[u8]) -> Result<T, Bad> {
    v.ok_or_else(|| malformed(format!("{} without {what}", text(e))))
}

fn event(ad: &mut Adapter, f: Fields<'_>, out: &mut Vec<MarketEvent>) -> Result<(), Bad> {
    let e = need(f.e, "event type", b"data")?;
    let coin = text(need(f.symbol, "symbol s", e)?);
    let event_ns = ms(need(f.event_ms.or(f.trade_ms), "time E", e)?);
    match e {
        b"depthUpdate" => {
            let mut bids = need(f.bid_levels, "bids b", e)?;
            let mut asks = need(f.ask_levels, "asks a", e)?;
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
            if !counted || (!agg && f.order_type.is_some_and(|x| x != b"MARKET")) {
                return Ok(());
            }
            let px = Price(decimal(need(f.px, "price p", e)?, "price")?);
            let sz = Qty(decimal(need(f.qty, "quantity q", e)?, "quantity")?);
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
            let bid = level(f.bid_px, f.bid_sz, "bid b/B")?;
            let ask = level(f.ask_px, f.ask_sz, "ask a/A")?;
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
            let mark_px = Price(decimal(need(f.px, "mark price p", e)?, "mark price")?);
            let oracle_px = f.index_px.map(|i| decimal(i, "index price")).transpose()?.map(Price);
            let rate = need(f.rate, "funding rate r", e)?;
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
    wrapper_stream: Option<&[u8]>,
    id: u64,
    f: Fields<'_>,
    out: &mut Vec<MarketEvent>,
) -> Result<(), Bad> {
    let coin = f
        .symbol
        .map(text)
        .or_else(|| wrapper_stream.and_then(|w| symbol_of(&text(w))))
        .or_else(|| symbol_of(record_stream))
        .ok_or_else(|| malformed(format!("depth snapshot on stream {record_stream:?} names no symbol")))?;
    let mut bids = need(f.bid_levels, "bids", b"snapshot")?;
    let mut asks = need(f.ask_levels, "asks", b"snapshot")?;
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
