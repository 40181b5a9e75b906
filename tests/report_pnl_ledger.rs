//! Issue 10 item 7: `validate` recomputes PnL from the journal's fills and marks (a cash ledger
//! and an average-cost ledger, fees recomputed from the session's maker rate, fill prices
//! checked against their orders), so a wrong fee, fill price or mark breaks the PnL item even
//! when the engine's figures are consistent with themselves. Funding records (issue 15) are
//! recomputed on the fills' position, so a wrong funding payment breaks it too.

mod engine_support;

use engine_support::{market, MarketParams};
use paper_trader::engine::{Engine, EngineConfig, Input, Output};
use paper_trader::report::validate::{ChecklistTracker, PNL_TRACKING};
use paper_trader::synth::{SynthConfig, SynthVenue};
use paper_trader::types::{Price, Timestamp};
use paper_trader::venue::Venue;

fn session() -> Vec<(Timestamp, Output)> {
    let msgs = market(&MarketParams { minutes: 10, ..Default::default() });
    let mut e = Engine::new(EngineConfig::default(), Venue::Hyperliquid, 0, &["BTC".to_string()]).unwrap();
    let mut all = vec![];
    for m in &msgs {
        let mut out = vec![];
        e.on_input(
            Timestamp(m.recv_ns),
            m.seq,
            Input::Message { stream: "ws", raw: m.raw.as_bytes() },
            &mut out,
        );
        all.extend(out.into_iter().map(|o| (Timestamp(m.recv_ns), o)));
    }
    all
}

fn pnl_passes(outputs: &[(Timestamp, Output)]) -> (bool, String) {
    let mut t = ChecklistTracker::new(outputs[0].0);
    t.set_maker_fee_bp(1.5); // Hyperliquid's base tier, what the engine charged
    for (now, o) in outputs {
        t.on_output(*now, o);
    }
    t.advance(outputs.last().unwrap().0);
    let item = t.items().into_iter().find(|i| i.name == PNL_TRACKING).unwrap();
    (item.pass, format!("{}: {:?}", item.detail, item.diagnosis))
}

const USD: i64 = 100_000_000;

#[test]
fn the_honest_session_passes() {
    let (pass, why) = pnl_passes(&session());
    assert!(pass, "{why}");
}

/// Postmortem: an engine charging the wrong fee consistently (position and journal alike)
/// passed, because the identity only compared the engine with itself.
#[test]
fn a_consistently_wrong_fee_fails_the_pnl_item() {
    let mut out = session();
    for (_, o) in out.iter_mut() {
        match o {
            Output::Fill { fee, .. } => *fee *= 2,
            Output::Model(s) => s.pnl_fees *= 2.0,
            _ => {}
        }
    }
    let (pass, why) = pnl_passes(&out);
    assert!(!pass, "{why}");
    assert!(why.contains("fee"), "{why}");
}

/// Postmortem: a fill booked at a price other than its order's (say, the trade's), with the
/// engine's PnL following it, passed the identity.
#[test]
fn a_consistently_wrong_fill_price_fails_the_pnl_item() {
    let mut out = session();
    let k = out.iter().position(|(_, o)| matches!(o, Output::Fill { sz, .. } if sz.0 > 0)).unwrap();
    let Output::Fill { px, sz, side, fee, .. } = &mut out[k].1 else { unreachable!() };
    px.0 -= side.sign() * USD; // one dollar better for us
    let gain = sz.0 as f64 / 1e8; // one dollar per unit of size
                                  // The fee on the new price, and every later snapshot's PnL moved by the same gain.
    *fee = (paper_trader::types::notional(*px, *sz) * 1500 / 10_000_000) as i64;
    for (_, o) in out[k..].iter_mut() {
        if let Output::Model(s) = o {
            s.pnl_unrealized += gain;
        }
    }
    let (pass, why) = pnl_passes(&out);
    assert!(!pass, "{why}");
}

/// A snapshot whose unrealized PnL is not its position at its mark.
#[test]
fn a_wrong_mark_fails_the_pnl_item() {
    let mut out = session();
    let k = out.iter().position(|(_, o)| matches!(o, Output::Model(s) if s.position.0 != 0)).unwrap();
    if let Output::Model(s) = &mut out[k].1 {
        s.mark = Some(Price(s.mark.unwrap().0 + 10 * USD));
    }
    let (pass, why) = pnl_passes(&out);
    assert!(!pass, "{why}");
}

/// A journal written before snapshots carried their mark is checked at the mid.
#[test]
fn a_snapshot_without_a_mark_is_checked_at_its_mid() {
    let mut out = session();
    for (_, o) in out.iter_mut() {
        if let Output::Model(s) = o {
            s.mark = None;
        }
    }
    assert!(pnl_passes(&out).0, "{}", pnl_passes(&out).1);
    let k = out.iter().position(|(_, o)| matches!(o, Output::Model(s) if s.position.0 != 0)).unwrap();
    if let Output::Model(s) = &mut out[k].1 {
        s.mid = Some(Price(s.mid.unwrap().0 + 10 * USD));
    }
    assert!(!pnl_passes(&out).0);
}

/// 70 minutes of the synthetic venue, whose perpetual context crosses one funding time.
fn funded_session() -> Vec<(Timestamp, Output)> {
    let coins = vec!["BTC".to_string()];
    let mut venue = SynthVenue::new(SynthConfig::default(), 5, &coins).unwrap();
    let mut e = Engine::new(EngineConfig::default(), Venue::Hyperliquid, 0, &coins).unwrap();
    let end = venue.config().start_ns + 70 * 60_000_000_000;
    let mut all = vec![];
    for (seq, m) in (1u64..).zip(&mut venue) {
        if m.recv_ns > end {
            break;
        }
        let mut out = vec![];
        e.on_input(Timestamp(m.recv_ns), seq, Input::Message { stream: &m.stream, raw: &m.raw }, &mut out);
        all.extend(out.into_iter().map(|o| (Timestamp(m.recv_ns), o)));
    }
    all
}

#[test]
fn the_honest_session_with_funding_passes() {
    let out = funded_session();
    let funding: Vec<i64> = out
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Funding { amount, .. } => Some(*amount),
            _ => None,
        })
        .collect();
    assert_eq!(funding.len(), 1);
    let (pass, why) = pnl_passes(&out);
    assert!(pass, "{why}");
    assert!(why.contains("0 funding (of 1 records)"), "{why}");
}

/// An engine booking a funding payment other than `-position * mark * rate` (here twice it,
/// with its PnL following consistently) passes its own identity: the ledger recomputes it.
#[test]
fn a_wrong_funding_amount_fails_the_pnl_item() {
    let mut out = funded_session();
    let k = out.iter().position(|(_, o)| matches!(o, Output::Funding { .. })).unwrap();
    let Output::Funding { amount, .. } = &mut out[k].1 else { unreachable!() };
    // One cent more than it should be, whatever the position.
    *amount += USD / 100;
    for (_, o) in out[k..].iter_mut() {
        if let Output::Model(s) = o {
            s.pnl_funding += 0.01;
        }
    }
    let (pass, why) = pnl_passes(&out);
    assert!(!pass, "{why}");
    assert!(why.contains("1 funding records whose amount"), "{why}");
}
