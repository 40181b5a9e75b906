//! The venue adapters on the shared real captures (`../shared/data/real/`), read directly
//! (gzip, lz4 frame) so that these tests depend on nothing but the adapters. Each test skips
//! with a notice when the data is absent (a fresh clone has no `../shared`).

use paper_trader::types::Timestamp;
use paper_trader::venue::{Adapter, AnomalyKind, Books, MarketEvent, Venue};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// `../shared/data/real/<name>` beside the project (or beside the worktree folder, when the
/// project is a git worktree one level deeper).
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

/// `<recv_ns> <json>` lines of a gzip text capture.
fn text_capture(p: &Path) -> Vec<(u64, Vec<u8>)> {
    let f = std::fs::File::open(p).unwrap();
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    r.split(b'\n')
        .map(|l| l.unwrap())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let sp = l.iter().position(|&c| c == b' ').unwrap();
            (std::str::from_utf8(&l[..sp]).unwrap().parse().unwrap(), l[sp + 1..].to_vec())
        })
        .collect()
}

/// The stream name an importer gives a Binance collector line.
fn binance_stream(raw: &[u8]) -> &'static str {
    if raw.starts_with(b"{\"lastUpdateId\"") {
        "btcusdt@depthSnapshot"
    } else {
        "btcusdt@combined"
    }
}

fn anomalies(events: &[MarketEvent]) -> Vec<&MarketEvent> {
    events.iter().filter(|e| matches!(e, MarketEvent::Anomaly { .. })).collect()
}

#[test]
fn hyperliquid_capture_parses_cleanly_with_34_new_and_30_history_trades() {
    let Some(p) = real("hyperliquid_btc_20250126_hftbacktest-collector.gz") else { return };
    let mut ad = Adapter::new(Venue::Hyperliquid);
    let mut books = Books::new(Venue::Hyperliquid);
    let (mut events, mut book_anomalies) = (vec![], vec![]);
    for (seq, (recv, raw)) in text_capture(&p).into_iter().enumerate() {
        let start = events.len();
        ad.on_message(seq as u64, Timestamp(recv), "BTC", &raw, &mut events);
        for e in &events[start..] {
            books.apply(e, &mut book_anomalies);
        }
    }
    assert_eq!(anomalies(&events), Vec::<&MarketEvent>::new());
    assert!(book_anomalies.is_empty(), "{book_anomalies:?}");
    let count = |history: bool| {
        events.iter().filter(|e| matches!(e, MarketEvent::Trade { history: h, .. } if *h == history)).count()
    };
    assert_eq!((count(false), count(true)), (34, 30));
    let snapshots = events.iter().filter(|e| matches!(e, MarketEvent::BookSnapshot { .. })).count();
    assert_eq!(snapshots, 46);
    let b = books.book("BTC").unwrap();
    assert!(b.is_valid());
    assert_eq!((b.bids().count(), b.asks().count()), (20, 20));
}

#[test]
fn hyperliquid_archive_hour_parses_cleanly() {
    let Some(p) = real("hyperliquid-archive_l2Book_BTC_20240101_12.lz4") else { return };
    let mut bytes = vec![];
    lz4_flex::frame::FrameDecoder::new(std::fs::File::open(&p).unwrap()).read_to_end(&mut bytes).unwrap();
    let mut ad = Adapter::new(Venue::Hyperliquid);
    let mut books = Books::new(Venue::Hyperliquid);
    let (mut events, mut book_anomalies, mut n) = (vec![], vec![], 0);
    for (seq, line) in bytes.split(|&c| c == b'\n').filter(|l| !l.is_empty()).enumerate() {
        events.clear();
        ad.on_message(seq as u64, Timestamp(seq as u64), "BTC", line, &mut events);
        assert_eq!(anomalies(&events), Vec::<&MarketEvent>::new(), "line {seq}");
        for e in &events {
            assert!(books.apply(e, &mut book_anomalies).valid, "line {seq}");
        }
        n += 1;
    }
    assert_eq!(n, 5587);
    assert!(book_anomalies.is_empty(), "{book_anomalies:?}");
    assert_eq!(ad.anomaly_count(), 0);
}

#[test]
fn binance_book_from_snapshot_and_diffs_has_no_gap_and_matches_book_ticker() {
    let Some(p) = real("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz") else { return };
    let mut ad = Adapter::new(Venue::BinanceUsdm);
    let mut books = Books::new(Venue::BinanceUsdm);
    let (mut events, mut book_anomalies) = (vec![], vec![]);
    let (mut compared, mut disagreements, mut diffs_applied, mut market_trades) = (0u64, 0u64, 0u64, 0u64);
    for (seq, (recv, raw)) in text_capture(&p).into_iter().enumerate() {
        events.clear();
        ad.on_message(seq as u64, Timestamp(recv), binance_stream(&raw), &raw, &mut events);
        assert_eq!(anomalies(&events), Vec::<&MarketEvent>::new(), "line {}", seq + 1);
        for e in &events {
            match e {
                MarketEvent::Bbo { update_id: Some(u), bid: Some(bid), ask: Some(ask), .. } => {
                    let b = books.book("BTCUSDT");
                    if let Some(b) = b.filter(|b| b.is_valid() && b.update_id() == Some(*u)) {
                        compared += 1;
                        if b.best_bid().map(|l| l.px) != Some(bid.px)
                            || b.best_ask().map(|l| l.px) != Some(ask.px)
                        {
                            disagreements += 1;
                        }
                    }
                }
                MarketEvent::Trade { .. } => market_trades += 1,
                _ => {
                    if books.apply(e, &mut book_anomalies).changed
                        && matches!(e, MarketEvent::BookDiff { .. })
                    {
                        diffs_applied += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "binance: {diffs_applied} diffs applied, {compared} bookTicker comparisons, {disagreements} disagreements, {market_trades} market trades"
    );
    assert!(
        book_anomalies.is_empty(),
        "gap or crossed book: {:?}",
        &book_anomalies[..book_anomalies.len().min(3)]
    );
    assert!(!book_anomalies
        .iter()
        .any(|e| matches!(e, MarketEvent::Anomaly { kind: AnomalyKind::SequenceGap, .. })));
    assert!(books.book("BTCUSDT").unwrap().is_valid());
    assert!(diffs_applied > 6000, "{diffs_applied}");
    assert!(compared > 5, "too few comparable bookTickers: {compared}");
    assert_eq!(disagreements, 0);
    assert_eq!(market_trades, 21_313);
}
