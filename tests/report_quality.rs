//! Issue 13: quote quality and markouts at the report horizons (`src/report/quality.rs`).
//! A small synthetic session fed to the tracker by hand, with every figure worked out on paper
//! (in the comments), and the fields of a real replay's `summary.json`.

use paper_trader::engine::coin::QuoteView;
use paper_trader::engine::io::{FillKind, Output};
use paper_trader::report::quality::{Quality, QualityTracker};
use paper_trader::types::{Price, Qty, Side, Timestamp};
use std::path::Path;
use std::process::Command;

const MS: u64 = 1_000_000;

fn px(s: &str) -> Price {
    Price::parse(s).unwrap()
}

/// A valid book with mid `mid`, touch `tb`/`ta`, our quotes, one coin's position and PnL.
fn view(
    mid: &str,
    tb: &str,
    ta: &str,
    ours: (Option<&str>, Option<&str>),
    pos: i64,
    pnl: (i64, i64, i64, i64),
) -> QuoteView {
    QuoteView {
        mid: Some(px(mid)),
        touch_bid: Some(px(tb)),
        touch_ask: Some(px(ta)),
        our_bid: ours.0.map(px),
        our_ask: ours.1.map(px),
        book_valid: true,
        position: Qty(pos * 100_000_000),
        mark: px(mid),
        pnl,
        feed_delay_ns: None,
    }
}

fn fill(side: Side, mid: &str, toxicity: f64, kind: FillKind) -> Output {
    Output::Fill {
        coin: "BTC".into(),
        fill_id: 1,
        order_id: 1,
        side,
        px: px(mid),
        sz: Qty(100_000_000),
        fee: 0,
        mid: px(mid),
        kind,
        toxicity,
        position_after: Qty(0),
    }
}

fn placed() -> Output {
    Output::OrderPlaced {
        coin: "BTC".into(),
        order_id: 1,
        side: Side::Buy,
        px: px("99.9"),
        sz: Qty(1),
        live_at: Timestamp(0),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * (1.0 + b.abs())
}

macro_rules! assert_close {
    ($a:expr, $b:expr) => {{
        let (a, b): (f64, f64) = ($a, $b);
        assert!(close(a, b), "{} = {a}, expected {b}", stringify!($a));
    }};
}

/// The hand-made session (times in ms, horizons 100 and 500 ms):
///
/// | t | outputs | mid | touch | ours | pos | margin use |
/// |---|---|---|---|---|---|---|
/// | 0 | 2 orders placed | 100 | 99.9 / 100.1 | 99.9 / 100.2 | 0 | 0.1 |
/// | 1000 | buy fill, mid 100, toxicity 0.9, trade-through | 100 | 99.9 / 100.1 | - / 100.2 | 1 | 0.3 |
/// | 1050 | | 100.05 | 100 / 100.1 | - / 100.2 | 1 | 0.3 |
/// | 1500 | sell fill, mid 100.05, toxicity 0.1, book cross | 100.1 | 100 / 100.2 | - / - | 0 | 0.1 |
/// | 2000 | | 100.1 | 100 / 100.2 | 100 / 100.2 | 0 | 0.1 |
/// | 2800 | buy fill, mid 100.1, toxicity 0.5, at price | 100.1 | 100 / 100.2 | 100 / 100.2 | 1 | 0.1 |
/// | 3000 | (end) | as at 2800 | | | | |
fn hand_made() -> Quality {
    let mut t = QualityTracker::new(&["BTC".to_string()], &[500, 100, 500]);
    let at = |ms: u64| Timestamp(1_700_000_000_000_000_000 + ms * MS);
    let net = (20_000_000, 0, 0, 1_000_000); // 0.19 USD
    let zero = (0, 0, 0, 0);
    let steps: Vec<(u64, Vec<Output>, QuoteView, f64)> = vec![
        (
            0,
            vec![placed(), placed()],
            view("100", "99.9", "100.1", (Some("99.9"), Some("100.2")), 0, zero),
            0.1,
        ),
        (
            1000,
            vec![fill(Side::Buy, "100", 0.9, FillKind::TradeThrough)],
            view("100", "99.9", "100.1", (None, Some("100.2")), 1, zero),
            0.3,
        ),
        (1050, vec![], view("100.05", "100", "100.1", (None, Some("100.2")), 1, (0, 5_000_000, 0, 0)), 0.3),
        (
            1500,
            vec![fill(Side::Sell, "100.05", 0.1, FillKind::BookCross)],
            view("100.1", "100", "100.2", (None, None), 0, net),
            0.1,
        ),
        (2000, vec![], view("100.1", "100", "100.2", (Some("100"), Some("100.2")), 0, net), 0.1),
        (
            2800,
            vec![fill(Side::Buy, "100.1", 0.5, FillKind::TradeAtPrice)],
            view("100.1", "100", "100.2", (Some("100"), Some("100.2")), 1, net),
            0.1,
        ),
        (3000, vec![], view("100.1", "100", "100.2", (Some("100"), Some("100.2")), 1, net), 0.1),
    ];
    for (ms, outs, v, m) in steps {
        t.observe(at(ms), &outs, &[v], Some(m));
    }
    t.summary()
}

#[test]
fn markouts_by_horizon_side_and_toxicity_quintile_match_the_hand_computation() {
    let q = hand_made();
    // Horizons sorted and deduplicated.
    assert_eq!(q.markouts_by_horizon.iter().map(|h| h.horizon_ms).collect::<Vec<_>>(), vec![100, 500]);
    let (h100, h500) = (&q.markouts_by_horizon[0], &q.markouts_by_horizon[1]);
    // Fill 1 (buy at mid 100, t 1000): at 1100 the mid is 100.05 (set at 1050): +5 bp; at
    // 1500 it is 100.1 (set at 1500 itself: the last mid at or before the horizon): +10 bp.
    // Fill 2 (sell at mid 100.05, t 1500): at 1600 and 2000 the mid is 100.1: against a sell,
    // -0.05 / 100.05 * 1e4 bp. Fill 3 (buy at 100.1, t 2800): 0 bp at 2900; 3300 is after the
    // end: pending.
    let s2 = -0.05 / 100.05 * 1e4;
    assert_eq!((h100.all.n, h100.pending, h100.dropped), (3, 0, 0));
    assert_eq!((h500.all.n, h500.pending, h500.dropped), (2, 1, 0));
    assert_close!(h100.all.mean_bp.unwrap(), (5.0 + s2 + 0.0) / 3.0);
    assert_close!(h500.all.mean_bp.unwrap(), (10.0 + s2) / 2.0);
    // Quantiles of [s2, 0, 5]: linear between closest ranks.
    assert_close!(h100.all.median_bp.unwrap(), 0.0);
    assert_close!(h100.all.p25_bp.unwrap(), s2 + 0.5 * (0.0 - s2));
    assert_close!(h100.all.p90_bp.unwrap(), 0.0 + 0.8 * 5.0);
    assert_close!(h100.all.min_bp.unwrap(), s2);
    assert_close!(h100.all.max_bp.unwrap(), 5.0);
    assert_close!(h100.all.share_against.unwrap(), 1.0 / 3.0);
    // By side.
    assert_eq!((h100.buy.n, h100.sell.n), (2, 1));
    assert_close!(h100.buy.mean_bp.unwrap(), 2.5);
    assert_close!(h100.sell.mean_bp.unwrap(), s2);
    assert_close!(h500.buy.mean_bp.unwrap(), 10.0);
    // Toxicity quintiles of 3 fills ranked 0.1 (fill 2), 0.5 (fill 3), 0.9 (fill 1): ranks 0,
    // 1, 2 -> quintiles floor(5 k / 3) + 1 = 1, 2, 4.
    let qs: Vec<(u8, f64, u64)> =
        h100.by_toxicity.iter().map(|b| (b.quintile, b.toxicity_from, b.stats.n)).collect();
    assert_eq!(qs, vec![(1, 0.1, 1), (2, 0.5, 1), (4, 0.9, 1)]);
    assert_close!(h100.by_toxicity[0].stats.mean_bp.unwrap(), s2);
    assert_close!(h100.by_toxicity[2].stats.mean_bp.unwrap(), 5.0);
    // At 500 ms fill 3 is pending: its quintile has no markout.
    assert_eq!(h500.by_toxicity[1].stats.n, 0);
    // The histogram: 20 equal bins over [s2, 5]; s2 in the first, 0 in bin floor(-s2 / w), 5 in the last.
    let w = (5.0 - s2) / 20.0;
    assert_eq!(h100.histogram.edges_bp.len(), 21);
    assert_close!(h100.histogram.edges_bp[0], s2);
    assert_close!(h100.histogram.edges_bp[20], 5.0);
    let mut want = vec![0u64; 20];
    want[0] = 1;
    want[(-s2 / w) as usize] += 1;
    want[19] += 1;
    assert_eq!(h100.histogram.counts, want);
}

#[test]
fn quote_quality_figures_match_the_hand_computation() {
    let q = hand_made();
    // 3000 ms of valid book. Both sides quoted 0..1000 and 2000..3000: 2000 ms.
    assert_close!(q.quote_uptime.unwrap(), 2000.0 / 3000.0);
    // Our bid at the touch bid 0..1000 and 2000..3000; our ask at the touch ask 2000..3000.
    assert_close!(q.time_at_touch_bid.unwrap(), 2000.0 / 3000.0);
    assert_close!(q.time_at_touch_ask.unwrap(), 1000.0 / 3000.0);
    assert_close!(q.time_at_touch.unwrap(), 3000.0 / 6000.0);
    // Quoted spread: 30 bp (0.3 / 100) for 1000 ms, 0.2 / 100.1 for 1000 ms.
    let e = 0.2 / 100.1 * 1e4;
    assert_close!(q.quoted_spread_bp.unwrap(), (30.0 * 1000.0 + e * 1000.0) / 2000.0);
    // Market spread: 20 bp for 1050 ms, 0.1 / 100.05 for 450 ms, 0.2 / 100.1 for 1500 ms.
    let c = 0.1 / 100.05 * 1e4;
    assert_close!(q.market_spread_bp.unwrap(), (20.0 * 1050.0 + c * 450.0 + e * 1500.0) / 3000.0);
    // Margin: 0.1 for 1000 + 500 + 1000 ms, 0.3 for 500 ms.
    assert_close!(q.margin_use_mean.unwrap(), (0.1 * 2500.0 + 0.3 * 500.0) / 3000.0);
    assert_close!(q.margin_use_max.unwrap(), 0.3);
    assert_close!(q.margin_use_end.unwrap(), 0.1);
    // Position: 1 BTC at 100.05 (t 1050), at 100.1 (t 2800 on); USD at the end 100.1.
    assert_close!(q.max_position_usd, 100.1);
    assert_close!(q.position_usd["BTC"], 100.1);
    // Net 0.19 USD over 3 s: 0.19 * 3600 / 3 per hour. One minute only: no Sharpe.
    assert_close!(q.pnl_per_hour.unwrap(), 0.19 * 1200.0);
    assert_eq!(q.pnl_hourly_sharpe, None);
    // 2 orders, 3 fills, one of each kind.
    assert_close!(q.order_to_trade.unwrap(), 2.0 / 3.0);
    assert_eq!(
        (q.fills_by_kind.trade_through, q.fills_by_kind.book_cross, q.fills_by_kind.trade_at_price),
        (1, 1, 1)
    );
    // Over time: one minute bin.
    let s = &q.quality_over_time;
    assert_eq!((s.bin_minutes, s.minute.clone()), (1, vec![0.0]));
    assert_close!(s.quote_uptime[0].unwrap(), 2000.0 / 3000.0);
    assert_close!(s.net_pnl[0], 0.19);
}

/// Net PnL at the last input of minutes 0, 1, 2: 1, 3, 2 USD. Changes 1, 2, -1: mean 2/3,
/// sample sd sqrt(((1/3)^2 + (4/3)^2 + (5/3)^2) / 2) = sqrt(7/3); Sharpe x sqrt(60).
#[test]
fn the_hourly_sharpe_is_over_per_minute_changes() {
    let mut t = QualityTracker::new(&["BTC".to_string()], &[1000]);
    let usd = |x: i64| (x * 100_000_000, 0, 0, 0);
    for (s, net) in [(0u64, 0i64), (30, 1), (70, 3), (150, 2)] {
        let v = view("100", "99.9", "100.1", (None, None), 0, usd(net));
        t.observe(Timestamp(s * 1_000 * MS), &[], &[v], None);
    }
    let q = t.summary();
    let want = (2.0 / 3.0) / (7.0f64 / 3.0).sqrt() * 60f64.sqrt();
    assert_close!(q.pnl_hourly_sharpe.unwrap(), want);
    assert_close!(q.pnl_per_hour.unwrap(), 2.0 / (150.0 / 3600.0));
    assert_eq!(q.quality_over_time.minute, vec![0.0, 1.0, 2.0]);
    assert_eq!(q.margin_use_mean, None);
}

/// A markout whose horizon falls while the book is invalid is dropped, not guessed.
#[test]
fn a_markout_across_an_invalid_book_is_dropped() {
    let mut t = QualityTracker::new(&["BTC".to_string()], &[100]);
    let v = view("100", "99.9", "100.1", (None, None), 0, (0, 0, 0, 0));
    t.observe(Timestamp(0), &[fill(Side::Buy, "100", 0.5, FillKind::TradeThrough)], &[v], None);
    let invalid = QuoteView { book_valid: false, ..v };
    t.observe(Timestamp(50 * MS), &[], &[invalid], None);
    t.observe(Timestamp(200 * MS), &[], &[v], None);
    let q = t.summary();
    assert_eq!((q.markouts_by_horizon[0].all.n, q.markouts_by_horizon[0].dropped), (0, 1));
    // The invalid 150 ms are not time with a book: uptime and touch over the valid 50 ms.
    assert_eq!(q.quote_uptime, Some(0.0));
}

const BIN: &str = env!("CARGO_BIN_EXE_paper_trader");

fn run(args: &[&str]) {
    let out = Command::new(BIN).args(args).env_remove("RUST_LOG").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A replay's summary.json carries the figures; the markouts at 1, 5, 30 and 60 s agree with
/// the engine's own markouts of the journal (measured independently, from the same mids).
#[test]
fn a_replay_summary_carries_the_quality_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec").display().to_string();
    let s = tmp.path().join("s");
    run(&["synth", "--seed", "5", "--duration", "8m", "--coins", "BTC", "--out", &rec]);
    run(&["replay", &rec, "--out", &s.display().to_string()]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("summary.json")).unwrap()).unwrap();
    let hs: Vec<u64> = v["markouts_by_horizon"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["horizon_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(hs, vec![100, 500, 1000, 5000, 30000, 60000]);
    let fills = v["fills"].as_u64().unwrap();
    assert!(fills > 0);
    for key in [
        "pnl_per_hour",
        "pnl_hourly_sharpe",
        "max_position_usd",
        "margin_use_max",
        "quoted_spread_bp",
        "market_spread_bp",
        "time_at_touch",
        "quote_uptime",
        "order_to_trade",
    ] {
        assert!(v[key].as_f64().is_some(), "summary.json has no number {key}: {}", v[key]);
    }
    let k = &v["fills_by_kind"];
    let by_kind: u64 =
        ["trade_through", "book_cross", "trade_at_price"].iter().map(|n| k[n].as_u64().unwrap()).sum();
    assert_eq!(by_kind, fills);
    let o2t = v["order_to_trade"].as_f64().unwrap();
    assert!((o2t - v["orders_placed"].as_f64().unwrap() / fills as f64).abs() < 1e-9, "{o2t}");
    let uptime = v["quote_uptime"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&uptime) && uptime > 0.5,
        "a quoting strategy quotes most of the time: {uptime}"
    );
    assert!(v["quoted_spread_bp"].as_f64().unwrap() > 0.0 && v["market_spread_bp"].as_f64().unwrap() > 0.0);
    // The engine's journal markouts at 5 s, read back with export, against ours at 5000 ms.
    let csv = tmp.path().join("m.csv");
    run(&[
        "export",
        &s.display().to_string(),
        "--what",
        "markouts",
        "--format",
        "csv",
        "--out",
        &csv.display().to_string(),
    ]);
    let engine_5s = engine_markouts(&csv, 5);
    let ours = v["markouts_by_horizon"].as_array().unwrap().iter().find(|h| h["horizon_ms"] == 5000).unwrap();
    let n = ours["all"]["n"].as_u64().unwrap() as usize;
    assert!(n > 0 && n.abs_diff(engine_5s.len()) <= fills as usize / 20 + 2, "{n} vs {}", engine_5s.len());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ours_mean = ours["all"]["mean_bp"].as_f64().unwrap();
    assert!(
        (ours_mean - mean(&engine_5s)).abs() < 0.25,
        "ours {ours_mean} vs the engine's {}",
        mean(&engine_5s)
    );
}

/// `move_bp` of the engine's markouts at `horizon_s` from an exported CSV.
fn engine_markouts(csv: &Path, horizon_s: u64) -> Vec<f64> {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (h, m) = (col("horizon_s"), col("move_bp"));
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[h].parse::<u64>().ok()? == horizon_s).then(|| f[m].parse::<f64>().ok()).flatten()
        })
        .collect()
}
