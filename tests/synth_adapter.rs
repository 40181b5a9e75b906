//! The synthetic venue's messages through our own Hyperliquid adapter: zero anomalies, the
//! first trades batch of each coin flagged as history and no other, books valid and uncrossed,
//! every price on the venue's grid; every perpetual context marked inside the touch.

use paper_trader::synth::{SynthConfig, SynthVenue};
use paper_trader::types::Timestamp;
use paper_trader::venue::event::MarketEvent;
use paper_trader::venue::{Adapter, Venue};

#[test]
fn the_hyperliquid_adapter_accepts_every_message() {
    let coins: Vec<String> = ["BTC", "ETH", "SOL"].iter().map(|s| s.to_string()).collect();
    let cfg = SynthConfig::default();
    let history = cfg.history_trades;
    let mut venue = SynthVenue::new(cfg, 99, &coins).unwrap();
    let end = venue.config().start_ns + 30 * 60_000_000_000;
    let mut adapter = Adapter::new(Venue::Hyperliquid);
    let mut events = Vec::new();
    let (mut seq, mut books, mut trades, mut history_trades, mut bbos, mut mids) = (0u64, 0, 0, 0, 0, 0);
    let mut contexts = 0;
    let mut touch = std::collections::BTreeMap::new();
    loop {
        let m = venue.next_message();
        if m.exch_ns >= end {
            break;
        }
        events.clear();
        adapter.on_message(seq, Timestamp(m.recv_ns), &m.stream, &m.raw, &mut events);
        seq += 1;
        for e in &events {
            match e {
                MarketEvent::BookSnapshot { bids, asks, .. } => {
                    books += 1;
                    assert_eq!((bids.len(), asks.len()), (20, 20));
                    assert!(bids[0].px < asks[0].px, "crossed book in {}", String::from_utf8_lossy(&m.raw));
                }
                MarketEvent::Trade { history: true, .. } => history_trades += 1,
                MarketEvent::Trade { .. } => trades += 1,
                MarketEvent::Bbo { coin, bid, ask, .. } => {
                    bbos += 1;
                    touch.insert(coin.clone(), (bid.unwrap().px, ask.unwrap().px));
                }
                MarketEvent::AssetCtx {
                    coin,
                    mark_px,
                    oracle_px,
                    funding_rate,
                    open_interest,
                    exch_ns,
                    ..
                } => {
                    contexts += 1;
                    // The mark is the mid at the context's time, rounded down to the tick: at
                    // or inside the touch the last bbo showed.
                    let (bid, ask) = touch[coin];
                    assert!(bid <= *mark_px && *mark_px < ask, "{coin}: mark {mark_px} outside {bid}..{ask}");
                    assert!(oracle_px.is_some_and(|o| o.0 > 0) && open_interest.is_some_and(|q| q.0 > 0));
                    // Hourly rates a few 0.001% either side of the baseline, never absurd.
                    assert!(funding_rate.abs() < 1_000_000_000, "{coin}: rate {funding_rate}");
                    assert_eq!(*exch_ns, None, "Hyperliquid stamps no time on a context");
                }
                MarketEvent::Mids { mids: list } => {
                    mids += 1;
                    assert_eq!(list.len(), 3);
                }
                MarketEvent::Anomaly { .. } => {
                    panic!("anomaly {e:?} from {}", String::from_utf8_lossy(&m.raw))
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
    assert_eq!(adapter.anomaly_count(), 0);
    // A context every 3 s a coin.
    assert_eq!(contexts, 3 * 30 * 60 / 3, "{contexts} contexts");
    assert_eq!(history_trades, 3 * history);
    // 30 min at ~1.8 pushes/s, three coins; about one aggressive order a second a coin.
    assert!(
        books > 3 * 3000 && mids > 3000 && bbos > books && trades > 3 * 1800,
        "{books} {mids} {bbos} {trades}"
    );
}
