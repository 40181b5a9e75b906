//! Issue 15: funding times as the engine keeps them on Binance USD-M (every 8 h at 00/08/16
//! UTC, or the time the mark price stream announces), fed raw `markPriceUpdate` messages: a
//! session starting mid-period first pays at the next funding time, a funding time between
//! two inputs counts once, and positions are marked at the venue's mark price.

use paper_trader::engine::{Engine, EngineConfig, Input, Output};
use paper_trader::types::{Price, Qty, Timestamp};
use paper_trader::venue::Venue;

const H_MS: u64 = 3_600_000;
/// 2024-08-08T00:00:00Z.
const DAY_MS: u64 = 1_723_075_200_000;

fn mark_price(e_ms: u64, rate: &str, next_ms: u64) -> String {
    format!(
        r#"{{"stream":"btcusdt@markPrice@1s","data":{{"e":"markPriceUpdate","E":{e_ms},"s":"BTCUSDT","p":"61801.10000000","P":"61790.2","i":"61795.52340909","r":"{rate}","T":{next_ms}}}}}"#
    )
}

/// Feeds `(receive ms, message)` to a Binance engine; returns its funding records and summary.
fn run(msgs: &[(u64, String)]) -> (Vec<Output>, paper_trader::engine::EngineSummary) {
    let coins = vec!["BTCUSDT".to_string()];
    let mut e = Engine::new(EngineConfig::default(), Venue::BinanceUsdm, 1, &coins).unwrap();
    let mut out = Vec::new();
    for (seq, (recv_ms, raw)) in (1u64..).zip(msgs) {
        let input = Input::Message { stream: "btcusdt@markPrice@1s", raw: raw.as_bytes() };
        e.on_input(Timestamp(recv_ms * 1_000_000), seq, input, &mut out);
    }
    let funding = out.into_iter().filter(|o| matches!(o, Output::Funding { .. })).collect();
    (funding, e.summary())
}

#[test]
fn binance_pays_at_08_00_once_for_a_session_started_at_05_30() {
    let t = |h: u64, ms: u64| DAY_MS + h * H_MS + ms;
    let msgs = vec![
        (t(5, 1_800_000), mark_price(t(5, 1_800_000), "0.00010000", t(8, 0))),
        (t(7, 3_599_000), mark_price(t(7, 3_598_990), "-0.00003829", t(8, 0))),
        // The funding time falls between these two inputs.
        (t(8, 500), mark_price(t(8, 490), "0.00001000", t(16, 0))),
        (t(8, 1_500), mark_price(t(8, 1_490), "0.00001000", t(16, 0))),
        (t(15, 0), mark_price(t(15, 0), "0.00001000", t(16, 0))),
    ];
    let (funding, s) = run(&msgs);
    assert_eq!(funding.len(), 1, "{funding:?}");
    let Output::Funding { time, rate, mark, position, amount, .. } = &funding[0] else { unreachable!() };
    // The rate in force just before 08:00 (the message of 07:59:59), on no position: nothing
    // is paid, but the funding time was crossed with a known rate.
    assert_eq!(time.0, t(8, 0) * 1_000_000);
    assert_eq!(*rate, -38_290_000);
    assert_eq!(*mark, Price::parse("61801.1").unwrap());
    assert_eq!((*position, *amount), (Qty(0), 0));
    assert_eq!((s.funding_events, s.pnl.funding, s.mark_source.as_str()), (1, 0.0, "venue"));
}

#[test]
fn binance_announced_funding_time_replaces_the_8_hour_grid() {
    // A 4-hourly symbol: the stream announces 04:00, then 08:00.
    let t = |h: u64, ms: u64| DAY_MS + h * H_MS + ms;
    let msgs = vec![
        (t(1, 0), mark_price(t(1, 0), "0.00005000", t(4, 0))),
        (t(4, 10), mark_price(t(4, 5), "0.00005000", t(8, 0))),
        (t(7, 0), mark_price(t(7, 0), "0.00005000", t(8, 0))),
        (t(8, 10), mark_price(t(8, 5), "0.00005000", t(12, 0))),
    ];
    let (funding, _) = run(&msgs);
    let times: Vec<u64> = funding
        .iter()
        .map(|o| match o {
            Output::Funding { time, .. } => (time.0 / 1_000_000 - DAY_MS) / H_MS,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(times, [4, 8]);
}

#[test]
fn without_a_rate_no_funding_time_is_counted() {
    // A bookTicker only: a mid, no context.
    let coins = vec!["BTCUSDT".to_string()];
    let mut e = Engine::new(EngineConfig::default(), Venue::BinanceUsdm, 1, &coins).unwrap();
    let mut out = Vec::new();
    for (seq, h) in [(1u64, 5u64), (2, 9), (3, 17)] {
        let ms = DAY_MS + h * H_MS;
        let raw = format!(
            r#"{{"stream":"btcusdt@bookTicker","data":{{"e":"bookTicker","u":{seq},"s":"BTCUSDT","b":"61800.20","B":"2.534","a":"61800.30","A":"2.155","T":{ms},"E":{ms}}}}}"#
        );
        e.on_input(
            Timestamp(ms * 1_000_000),
            seq,
            Input::Message { stream: "btcusdt@bookTicker", raw: raw.as_bytes() },
            &mut out,
        );
    }
    assert!(!out.iter().any(|o| matches!(o, Output::Funding { .. })));
    let s = e.summary();
    assert_eq!((s.funding_events, s.mark_source.as_str()), (0, "mid"));
}
