//! Data-driven: every message under `fixtures/venue/<venue>/` (single messages of each kind,
//! written by hand from the documented shapes) through the adapter and the books, in file
//! order, rendered as the `events --json` lines; the result is pinned with insta.
//! `fixtures/venue/bad/` holds malformed and unexpected Hyperliquid messages: each must become
//! a counted anomaly (and never a panic).

use paper_trader::commands::venue_cmds::{event_json, Item, Normalizer};
use paper_trader::log::{Body, Record};
use paper_trader::venue::{MarketEvent, Venue};
use std::path::Path;

/// Runs one fixture folder; returns the rendered lines and the number of anomalies.
fn check(dir: &str, venue: Venue) -> (String, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/venue").join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut norm = Normalizer::new(venue);
    let (mut text, mut anomalies) = (String::new(), 0);
    for (seq, f) in files.iter().enumerate() {
        let raw = std::fs::read(f).unwrap();
        let raw = raw.strip_suffix(b"\n").unwrap_or(&raw).to_vec();
        let rec =
            Record { seq: seq as u64, recv_ns: 1_000 + seq as u64, stream: 0, body: Body::Message(raw) };
        let mut items = vec![];
        norm.on_record(rec.seq, rec.recv_ns, "btcusdt@depthSnapshot", &rec.body, &mut items);
        text.push_str(&format!("# {}\n", f.file_name().unwrap().to_string_lossy()));
        for i in &items {
            anomalies += usize::from(matches!(i, Item::Event(MarketEvent::Anomaly { .. })));
            text.push_str(&event_json(&rec, i).to_string());
            text.push('\n');
        }
    }
    (text, anomalies)
}

#[test]
fn hyperliquid_messages_of_each_kind() {
    let (text, anomalies) = check("hyperliquid", Venue::Hyperliquid);
    assert_eq!(anomalies, 0, "{text}");
    insta::assert_snapshot!("hyperliquid", text);
}

#[test]
fn binance_messages_of_each_kind() {
    let (text, anomalies) = check("binance", Venue::BinanceUsdm);
    // The one anomaly is the deliberate sequence gap of 08_depthUpdate_gap.json.
    assert_eq!(anomalies, 1, "{text}");
    assert!(text.contains("\"kind\":\"sequence_gap\""));
    insta::assert_snapshot!("binance", text);
}

#[test]
fn bad_messages_are_anomalies() {
    let (text, anomalies) = check("bad", Venue::Hyperliquid);
    for kind in ["malformed", "unknown_channel", "bad_number", "time_backwards", "crossed_book", "empty_book"]
    {
        assert!(text.contains(&format!("\"kind\":\"{kind}\"")), "no {kind} in\n{text}");
    }
    assert_eq!(anomalies, 9, "one anomaly per bad message:\n{text}");
    insta::assert_snapshot!("bad", text);
}
