//! Binance's `trade` and `aggTrade` streams carry the same prints (issue 10 item 5): one of them
//! counts per recording, `trade` when present, `aggTrade` as the fallback.

use paper_trader::types::Timestamp;
use paper_trader::venue::{Adapter, MarketEvent, Venue};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

fn trade(t: u64, px: &str) -> String {
    format!(
        r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1723161256523,"T":1723161256523,"s":"BTCUSDT","t":{t},"p":"{px}","q":"0.015","X":"MARKET","m":true}}}}"#
    )
}

fn agg(a: u64, first: u64, last: u64, px: &str) -> String {
    format!(
        r#"{{"stream":"btcusdt@aggTrade","data":{{"e":"aggTrade","E":1723161256523,"a":{a},"s":"BTCUSDT","p":"{px}","q":"0.015","f":{first},"l":{last},"T":1723161256523,"m":true}}}}"#
    )
}

fn trades_of(msgs: &[String]) -> usize {
    let mut ad = Adapter::new(Venue::BinanceUsdm);
    let mut ev = vec![];
    for (i, m) in msgs.iter().enumerate() {
        ad.on_message(i as u64, Timestamp(i as u64), "btcusdt@combined", m.as_bytes(), &mut ev);
    }
    assert!(!ev.iter().any(|e| matches!(e, MarketEvent::Anomaly { .. })), "{ev:?}");
    ev.iter().filter(|e| matches!(e, MarketEvent::Trade { .. })).count()
}

/// Issue 10 item 5. Postmortem: both streams were market trades, so a recording with both
/// filled every print twice and doubled the flow feature.
#[test]
fn trade_and_agg_trade_of_the_same_prints_count_once() {
    let both =
        [trade(10, "61800.2"), agg(1, 10, 10, "61800.2"), trade(11, "61800.3"), agg(2, 11, 11, "61800.3")];
    assert_eq!(trades_of(&both), 2);
    // aggTrade first: it counts until the trade stream appears; trades it covered are not
    // counted again, later ones are, and aggTrade is ignored from then on.
    let agg_first = [
        agg(1, 10, 12, "61800.2"),
        trade(11, "61800.2"),
        trade(12, "61800.2"),
        trade(13, "61800.3"),
        agg(2, 13, 13, "61800.3"),
    ];
    assert_eq!(trades_of(&agg_first), 2);
    // aggTrade alone still trades.
    assert_eq!(trades_of(&[agg(1, 10, 12, "61800.2"), agg(2, 13, 13, "61800.3")]), 2);
}

fn real(name: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = ["../shared/data/real", "../../shared/data/real"]
        .iter()
        .map(|d| root.join(d).join(name))
        .find(|p| p.exists());
    if found.is_none() {
        eprintln!("skipping: ../shared/data/real/{name} absent");
    }
    found
}

/// The same on the shared Binance capture, with an `aggTrade` written after each `trade`
/// (what a collector subscribed to both streams records).
#[test]
fn binance_capture_with_both_trade_streams_counts_each_print_once() {
    let Some(p) = real("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz") else { return };
    let r = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap()));
    let (mut only, mut both, mut aggs) = (
        Adapter::new(Venue::BinanceUsdm),
        Adapter::new(Venue::BinanceUsdm),
        Adapter::new(Venue::BinanceUsdm),
    );
    let (mut e1, mut e2, mut e3) = (vec![], vec![], vec![]);
    let mut seq = 0u64;
    let mut prints = 0;
    for line in r.split(b'\n') {
        let line = line.unwrap();
        let Some(sp) = line.iter().position(|&c| c == b' ') else { continue };
        let recv = Timestamp(std::str::from_utf8(&line[..sp]).unwrap().parse().unwrap());
        let raw = &line[sp + 1..];
        let stream =
            if raw.starts_with(b"{\"lastUpdateId\"") { "btcusdt@depthSnapshot" } else { "btcusdt@combined" };
        seq += 1;
        only.on_message(seq, recv, stream, raw, &mut e1);
        both.on_message(seq, recv, stream, raw, &mut e2);
        let v: serde_json::Value = serde_json::from_slice(raw).unwrap_or_default();
        let d = &v["data"];
        if d["e"] == "trade" {
            prints += 1;
            let a = agg(
                d["t"].as_u64().unwrap(),
                d["t"].as_u64().unwrap(),
                d["t"].as_u64().unwrap(),
                d["p"].as_str().unwrap(),
            );
            let a = a.replace("\"m\":true", &format!("\"m\":{}", d["m"]));
            both.on_message(seq, recv, stream, a.as_bytes(), &mut e2);
            aggs.on_message(seq, recv, stream, a.as_bytes(), &mut e3);
        } else {
            aggs.on_message(seq, recv, stream, raw, &mut e3);
        }
    }
    let count = |ev: &[MarketEvent]| ev.iter().filter(|e| matches!(e, MarketEvent::Trade { .. })).count();
    assert!(prints > 0);
    assert_eq!(count(&e2), count(&e1), "trade + aggTrade vs trade alone");
    assert!(count(&e3) > 0, "aggTrade alone gives trades");
}
