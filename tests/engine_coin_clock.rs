//! A coin's models run on its own clock: what the engine learns about BTC (the exposure sums
//! behind kappa, their decay, the 1 s volatility grid, calibration, the markouts' feedback)
//! and so how BTC trades are a function of BTC's messages and of time, not of which other
//! coins the recording holds or when their messages arrived.
//!
//! The defect this pins: the engine split every coin's exposure sums at every input of any
//! coin and decayed them, sampled the volatility and stepped the calibration at the first
//! input of each second, whichever coin it was for. Adding a coin's messages to a recording
//! changed another coin's kappa, sigma, quotes and fills.

mod engine_support;

use engine_support::{market, MarketParams, Msg};
use paper_trader::engine::{EngineConfig, Input, Output};
use paper_trader::types::Timestamp;

/// A trades-only ETH stream between BTC's messages: ETH never has a book, so it never quotes
/// and takes no order or fill ids, and what it changes for BTC is only when inputs arrive.
fn eth_trades(from_ns: u64, to_ns: u64) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut t = from_ns + 65_432_109;
    let mut tid = 0u64;
    while t < to_ns {
        tid += 1;
        let t_ms = t / 1_000_000;
        let side = if tid % 3 == 0 { 'A' } else { 'B' };
        out.push((
            t,
            format!(
                r#"{{"channel":"trades","data":[{{"coin":"ETH","side":"{side}","px":"3000.5","sz":"0.0{}","hash":"0xcd","time":{t_ms},"tid":{},"users":["0x3","0x4"]}}]}}"#,
                1 + tid % 9,
                1_000_000 + tid
            ),
        ));
        // Irregular spacing, 50-400 ms: inputs in most seconds, at no fixed phase.
        t += 50_000_000 + (tid * 7_919 % 350) * 1_000_000 + tid % 1_000;
    }
    out
}

/// Runs `msgs` through an engine of `coins`, then a tick at `end` (the same time and sequence
/// in every run), and returns the outputs and the final model snapshots.
fn run(cfg: &EngineConfig, coins: &[&str], msgs: &[Msg], end: (u64, u64)) -> (Vec<Output>, Vec<Output>) {
    let coins: Vec<String> = coins.iter().map(|c| c.to_string()).collect();
    let (mut out, mut e) = engine_support::run_coins(cfg, 7, &coins, msgs);
    e.on_input(Timestamp(end.0), end.1, Input::Tick, &mut out);
    let snapshots = e.final_snapshots();
    (out, snapshots)
}

/// BTC's side of a run, every float by its bits: placements, cancels, rejects, fills (with the
/// classifier's toxicity), markouts (with the volatility's no-skill rate) and regime changes,
/// in order; then BTC's final snapshot (kappa, sigma, calibration...) but the account's
/// available margin, which is the whole account's. Ids are left out: they number all coins'
/// orders and fills together.
fn btc(out: &[Output], snapshots: &[Output]) -> Vec<String> {
    let b = |x: f64| x.to_bits();
    let mut v: Vec<String> = out
        .iter()
        .filter_map(|o| match o {
            Output::OrderPlaced { coin, side, px, sz, live_at, .. } if &**coin == "BTC" => {
                Some(format!("place {side:?} {px} {sz} {live_at}"))
            }
            Output::OrderCancelled { coin, reason, dead_at, .. } if &**coin == "BTC" => {
                Some(format!("cancel {reason:?} {dead_at}"))
            }
            Output::OrderRejected { coin, side, px, sz, reason } if &**coin == "BTC" => {
                Some(format!("reject {side:?} {px} {sz} {reason:?}"))
            }
            Output::Fill { coin, side, px, sz, mid, kind, toxicity, position_after, .. }
                if &**coin == "BTC" =>
            {
                Some(format!(
                    "fill {side:?} {px} {sz} mid {mid} {kind:?} tox {} pos {position_after}",
                    b(*toxicity)
                ))
            }
            Output::Markout { coin, horizon_s, move_bp, was_adverse, no_skill, .. } if &**coin == "BTC" => {
                Some(format!("markout {horizon_s} {} {was_adverse:?} {:?}", b(*move_bp), no_skill.map(b)))
            }
            Output::RegimeChange { coin, from, to, vol_ratio } if &**coin == "BTC" => {
                Some(format!("regime {from:?} {to:?} {}", b(*vol_ratio)))
            }
            _ => None,
        })
        .collect();
    for s in snapshots {
        if let Output::Model(m) = s {
            if m.coin == "BTC" {
                let mut m = m.clone();
                m.available_margin = 0.0;
                v.push(format!("final {m:?}"));
            }
        }
    }
    v
}

/// Replays BTC's messages alone and with an ETH stream interleaved, and asserts that BTC's
/// side of both runs is the same, bit for bit.
fn assert_btc_alone_equals_btc_with_eth(btc_msgs: &[Msg]) {
    let (first, last) = (btc_msgs[0].recv_ns, btc_msgs.last().unwrap().recv_ns);
    // Both streams in time order, numbered as one recording would number them; the BTC-only
    // run keeps BTC's numbers (the random draws are keyed by them).
    let mut all: Vec<(u64, String)> = btc_msgs.iter().map(|m| (m.recv_ns, m.raw.clone())).collect();
    all.extend(eth_trades(first, last));
    all.sort_by_key(|(t, _)| *t);
    let both: Vec<Msg> = all
        .into_iter()
        .enumerate()
        .map(|(i, (recv_ns, raw))| Msg { recv_ns, seq: i as u64 + 1, raw })
        .collect();
    let only: Vec<Msg> = both
        .iter()
        .filter(|m| !m.raw.contains("\"ETH\""))
        .map(|m| Msg { recv_ns: m.recv_ns, seq: m.seq, raw: m.raw.clone() })
        .collect();
    assert_eq!(only.len(), btc_msgs.len());
    assert!(
        both.len() > only.len() + 3_000,
        "ETH inputs between BTC's: {} of {}",
        both.len() - only.len(),
        both.len()
    );
    let end = (last + 2_500_000_000, both.len() as u64 + 1);

    // What else couples coins is left out here on purpose: no paced requotes (a requote due
    // between BTC's messages is done at the next input, whichever coin's) and an account too
    // large for the margin to bind.
    let mut cfg = EngineConfig::default();
    cfg.strategy.requote_min_interval_ms = 0;
    cfg.account.starting_equity_usd = 1e12;
    let (out_only, snap_only) = run(&cfg, &["BTC"], &only, end);
    let (out_both, snap_both) = run(&cfg, &["BTC", "ETH"], &both, end);
    let (a, b) = (btc(&out_only, &snap_only), btc(&out_both, &snap_both));

    let count = |v: &[String], p: &str| v.iter().filter(|s| s.starts_with(p)).count();
    assert!(
        count(&a, "fill ") > 50 && count(&a, "markout ") > 50,
        "BTC trades: {} fills",
        count(&a, "fill ")
    );
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        let around = |v: &[String]| v[i.saturating_sub(4)..(i + 3).min(v.len())].join("\n    ");
        panic!(
            "BTC's outputs differ with ETH's messages added, at {i} of {}:\n  alone:\n    {}\n  with ETH:\n    {}",
            a.len(),
            around(&a),
            around(&b)
        );
    }
    assert_eq!(a.len(), b.len(), "BTC's outputs differ in number with ETH's messages added");
}

/// BTC has inputs in every second (a book every 500 ms): ETH's inputs split its exposure and
/// came first in some seconds.
#[test]
fn another_coins_messages_change_nothing_of_a_busy_coin() {
    assert_btc_alone_equals_btc_with_eth(&market(&MarketParams {
        minutes: 20,
        informed: 0.3,
        ..Default::default()
    }));
}

/// BTC silent 3 s in every 7 (the seconds ETH's inputs alone fall in): its volatility grid,
/// decay and calibration steps spanned the silences; with ETH they were taken inside them.
#[test]
fn another_coins_messages_change_nothing_of_a_coin_with_silences() {
    let msgs = market(&MarketParams { minutes: 20, informed: 0.3, seed: 4, ..Default::default() });
    let gappy: Vec<Msg> = msgs
        .into_iter()
        .enumerate()
        .filter(|(i, m)| *i == 0 || (m.recv_ns / 1_000_000_000) % 7 >= 3)
        .map(|(_, m)| m)
        .collect();
    assert_btc_alone_equals_btc_with_eth(&gappy);
}

/// BTC's book 40 ms after its trades (the helper market puts it 1 us after): a quote filled
/// completely by a trade rests no more, and no ETH input in those 40 ms may credit it with
/// exposure until the next BTC message.
#[test]
fn another_coins_messages_change_nothing_of_a_coin_whose_books_lag_its_trades() {
    let msgs = market(&MarketParams { minutes: 20, informed: 0.3, seed: 9, ..Default::default() });
    let lagged: Vec<Msg> = msgs
        .into_iter()
        .map(|m| {
            let lag = if m.raw.contains("l2Book") { 40_000_000 } else { 0 };
            Msg { recv_ns: m.recv_ns + lag, seq: m.seq, raw: m.raw }
        })
        .collect();
    assert!(lagged.windows(2).all(|w| w[0].recv_ns <= w[1].recv_ns));
    assert_btc_alone_equals_btc_with_eth(&lagged);
}
