//! `events` and `book` end to end: a recording written with the log writer from the Binance
//! fixtures (a diff before the snapshot, the snapshot, more diffs, a gap) and a Hyperliquid
//! one with a reconnect, read back through the binary.

use paper_trader::log::{Control, Header, LogWriter, WriterOptions};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const T0: u64 = 1_723_161_255_000_000_000;

fn write_recording(dir: &Path, venue: &str, msgs: &[(u64, &str, Vec<u8>)], controls: &[(u64, Control)]) {
    let header = Header { venue: venue.into(), created_by: "test".into(), ..Header::default() };
    let opts = WriterOptions { fsync: false, ..WriterOptions::default() };
    let mut w = LogWriter::create(dir, header, opts).unwrap();
    enum Entry<'a> {
        Message(&'a str, &'a [u8]),
        Control(&'a Control),
    }
    let mut all: Vec<(u64, Entry)> = msgs.iter().map(|(t, s, raw)| (*t, Entry::Message(s, raw))).collect();
    all.extend(controls.iter().map(|(t, c)| (*t, Entry::Control(c))));
    all.sort_by_key(|a| a.0);
    for (t, e) in all {
        match e {
            Entry::Message(stream, raw) => {
                w.append_message(t, stream, raw).unwrap();
            }
            Entry::Control(c) => {
                w.append_control(t, c.clone()).unwrap();
            }
        }
    }
    w.close().unwrap();
}

fn fixture(path: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/venue").join(path);
    let raw = std::fs::read(p).unwrap();
    raw.strip_suffix(b"\n").unwrap_or(&raw).to_vec()
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_paper_trader")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn book(rec: &Path, coin: &str, at: u64) -> Value {
    let (code, out) =
        run(&["book", rec.to_str().unwrap(), "--coin", coin, "--at", &at.to_string(), "--json"]);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn binance_book_over_time_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("bn");
    let msgs = vec![
        (T0 + 1, "btcusdt@depth@0ms", fixture("binance/01_depthUpdate_before_snapshot.json")),
        (T0 + 2, "btcusdt@depthSnapshot", fixture("binance/02_depth_snapshot.json")),
        (T0 + 3, "btcusdt@depth@0ms", fixture("binance/03_depthUpdate.json")),
        (T0 + 4, "btcusdt@bookTicker", fixture("binance/04_bookTicker.json")),
        (T0 + 5, "btcusdt@trade", fixture("binance/05_trade.json")),
        (T0 + 6, "btcusdt@trade", fixture("binance/06_trade_liquidation.json")),
        (T0 + 7, "btcusdt@depth@0ms", fixture("binance/08_depthUpdate_gap.json")),
    ];
    write_recording(&rec, "binance-usdm", &msgs, &[]);

    // Before the snapshot: no valid book.
    assert_eq!(book(&rec, "BTCUSDT", T0 + 1)["valid"], false);
    // After the snapshot and the buffered diff: valid, the diff applied on top of the snapshot.
    let b = book(&rec, "BTCUSDT", T0 + 2);
    assert_eq!(b["valid"], true);
    assert_eq!(b["at_ns"], T0 + 2);
    assert_eq!(b["bids"], serde_json::json!([["61800.2", "2.534"], ["61800.1", "0.696"]]));
    assert_eq!(b["asks"][0], serde_json::json!(["61800.3", "2.155"]));
    // After the next diff the top equals the bookTicker carrying the same update id.
    let b = book(&rec, "BTCUSDT", T0 + 3);
    assert_eq!((b["bids"][0][0].as_str(), b["asks"][0][0].as_str()), (Some("61800.2"), Some("61800.3")));
    assert_eq!(b["bids"].as_array().unwrap().len(), 1);
    // After the gap: invalid until the next snapshot.
    assert_eq!(book(&rec, "BTCUSDT", T0 + 7)["valid"], false);
    // Offsets from the start work too; an unknown coin is an error (issue 11, item 10: it used
    // to exit 0 with `valid: false`, indistinguishable from a gap).
    assert_eq!(run(&["book", rec.to_str().unwrap(), "--coin", "BTCUSDT", "--at", "+1ns", "--json"]).0, 0);
    let t = (T0 + 7).to_string();
    assert_eq!(run(&["book", rec.to_str().unwrap(), "--coin", "ETHUSDT", "--at", &t, "--json"]).0, 1);

    let (code, out) = run(&["events", rec.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let ev: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = ev.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        ["book_diff", "book_snapshot", "book_diff", "bbo", "trade", "book_diff", "anomaly", "control"]
    );
    assert_eq!(ev[7]["kind"], "end"); // the writer's end record
    assert_eq!(ev[4]["side"], "sell");
    assert_eq!(ev[4]["px"], "61800.2");
    assert_eq!(ev[4]["history"], false);
    assert_eq!(ev[6]["kind"], "sequence_gap");
    assert_eq!(ev[6]["seq"], ev[5]["seq"]);
    let (_, windowed) = run(&["events", rec.to_str().unwrap(), "--json", "--from", "+2ns", "--to", "+4ns"]);
    assert_eq!(windowed.lines().count(), 3);
    let (_, text) = run(&["events", rec.to_str().unwrap()]);
    assert_eq!(text.lines().count(), 8);
}

#[test]
fn hyperliquid_reconnect_resets_history_and_books() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("hl");
    let msgs = vec![
        (T0 + 1, "BTC", fixture("hyperliquid/01_greeting.txt")),
        (T0 + 2, "BTC", fixture("hyperliquid/03_l2Book.json")),
        (T0 + 3, "BTC", fixture("hyperliquid/05_trades_history.json")),
        (T0 + 4, "BTC", fixture("hyperliquid/06_trades_new.json")),
        (T0 + 6, "BTC", fixture("hyperliquid/06_trades_new.json")),
    ];
    let controls = vec![(T0 + 5, Control::Connect { url: "ws://127.0.0.1/ws".into() })];
    write_recording(&rec, "hyperliquid", &msgs, &controls);
    assert_eq!(book(&rec, "BTC", T0 + 4)["valid"], true);
    assert_eq!(book(&rec, "BTC", T0 + 5)["valid"], false);
    let (_, out) = run(&["events", rec.to_str().unwrap(), "--json"]);
    let ev: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let trades: Vec<bool> =
        ev.iter().filter(|e| e["type"] == "trade").map(|e| e["history"].as_bool().unwrap()).collect();
    assert_eq!(trades, [true, true, false, true]);
    assert!(ev.iter().any(|e| e["type"] == "control" && e["kind"] == "connect"));
    assert!(ev.iter().all(|e| e["type"] != "anomaly"), "{out}");
}
