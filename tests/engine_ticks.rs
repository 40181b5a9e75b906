//! Issue 16, live latency: a live driver ticks the engine only when it acts
//! (`Engine::next_tick`: strategy timers, paced requotes, funding, snapshots, checkpoints), not
//! at every time-driven deadline (`Engine::next_deadline`: also each order going live or dying
//! and each markout horizon). The deadlines left out are done at the next input, first, on the
//! same book and mid: the fills and markouts are those of a tick at every deadline, with fewer
//! inputs. Without the action ticks they are not.

mod engine_support;

use engine_support::{market, MarketParams, Msg};
use paper_trader::engine::{Engine, EngineConfig, Input, Output};
use paper_trader::types::Timestamp;
use paper_trader::venue::Venue;

/// Which deadlines a driver ticks at.
#[derive(Clone, Copy, Debug)]
enum Ticks {
    None,
    Action,
    Every,
}

/// Feeds `msgs` with ticks at the deadlines `ticks` names that fall before each message, as the
/// live driver does. The random draws are keyed by the sequence number: messages keep theirs,
/// and a tick's is its time, whichever other ticks there are.
fn run(cfg: &EngineConfig, msgs: &[Msg], ticks: Ticks) -> (Vec<Output>, u64) {
    let mut e = Engine::new(cfg.clone(), Venue::Hyperliquid, 3, &engine_support::coins()).expect("config");
    let mut out = Vec::new();
    let mut n = 0;
    let next = |e: &Engine| match ticks {
        Ticks::None => None,
        Ticks::Action => e.next_tick(),
        Ticks::Every => e.next_deadline(),
    };
    for m in msgs {
        let mut k = 0;
        while let Some(d) = next(&e).filter(|d| d.0 <= m.recv_ns) {
            k += 1;
            e.on_input(d, d.0, Input::Tick, &mut out);
            n += 1;
            assert!(k < 1_000, "ticks do not advance");
        }
        e.on_input(
            Timestamp(m.recv_ns),
            m.seq,
            Input::Message { stream: "ws", raw: m.raw.as_bytes() },
            &mut out,
        );
    }
    (out, n)
}

/// What the market saw of us and what we learnt: fills (without the fill and order ids'
/// numbering) and markouts, in order.
fn trading(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Fill { side, px, sz, mid, kind, position_after, .. } => {
                Some(format!("fill {side:?} {px} {sz} mid {mid} {kind:?} pos {position_after}"))
            }
            Output::Markout { horizon_s, move_bp, was_adverse, .. } => {
                Some(format!("markout {horizon_s}s {move_bp:.9} {was_adverse:?}"))
            }
            Output::OrderPlaced { side, px, sz, live_at, .. } => {
                Some(format!("place {side:?} {px} {sz} {live_at}"))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn ticks_only_when_the_engine_acts_leave_the_trading_as_ticks_at_every_deadline() {
    let msgs = market(&MarketParams { minutes: 30, informed: 0.3, ..Default::default() });
    // A paced requote (at most one per 250 ms) leaves requotes due between messages: the
    // action ticks that matter.
    let mut cfg = EngineConfig::default();
    cfg.strategy.requote_min_interval_ms = 250;
    let (every, n_every) = run(&cfg, &msgs, Ticks::Every);
    let (action, n_action) = run(&cfg, &msgs, Ticks::Action);
    let (none, _) = run(&cfg, &msgs, Ticks::None);
    let (every, action, none) = (trading(&every), trading(&action), trading(&none));
    assert!(every.iter().filter(|s| s.starts_with("fill")).count() > 20, "a market that trades with us");
    assert!(n_action > 0 && n_action < n_every, "{n_action} action ticks of {n_every} deadlines");
    assert_eq!(first_difference(&action, &every), None, "the trading with ticks only when the engine acts");
    assert!(
        first_difference(&none, &every).is_some(),
        "without the action ticks the paced requotes come late"
    );
}

/// The first place two trading histories part, with a little of what came before.
fn first_difference(a: &[String], b: &[String]) -> Option<String> {
    let i = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))?;
    let from = i.saturating_sub(3);
    Some(format!(
        "entry {i} of {} / {}:\n  {:?}\n  {:?}",
        a.len(),
        b.len(),
        &a[from..(i + 2).min(a.len())],
        &b[from..(i + 2).min(b.len())]
    ))
}

/// Postmortem: `Engine::next_deadline` took each coin's earliest deadline, then dropped it if
/// it was not after the last input: a coin's deadline at the last input (a markout horizon
/// falling due at it, resolved at the next) hid all its later ones, so the live driver's next
/// tick came late: here a paced requote due 150 ms later waited for the next message, 300 ms.
#[test]
fn a_deadline_at_the_last_input_does_not_hide_the_later_ones() {
    let msgs = market(&MarketParams { minutes: 10, informed: 0.3, ..Default::default() });
    let mut cfg = EngineConfig::default();
    cfg.strategy.requote_min_interval_ms = 250;
    let mut e = Engine::new(cfg, Venue::Hyperliquid, 3, &engine_support::coins()).expect("config");
    let mut out = Vec::new();
    let mut checked = 0;
    for m in &msgs {
        while let Some(d) = e.next_deadline().filter(|d| d.0 <= m.recv_ns) {
            e.on_input(d, d.0, Input::Tick, &mut out);
        }
        e.on_input(
            Timestamp(m.recv_ns),
            m.seq,
            Input::Message { stream: "ws", raw: m.raw.as_bytes() },
            &mut out,
        );
        // Every time the engine acts at is one of its deadlines: the earliest is no later.
        if let Some(t) = e.next_tick() {
            let d = e.next_deadline();
            assert!(d.is_some_and(|d| d <= t), "after input {}: next deadline {d:?}, next tick {t:?}", m.seq);
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} inputs with a tick ahead");
}
