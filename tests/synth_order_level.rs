//! The synthetic venue's order-level mode: the exact queue it writes is the book it shows.
//!
//! An independent reader rebuilds every level's FIFO from the `orderLevel:COIN` messages alone
//! and checks, at every `l2Book` and `bbo`, that the queues sum to each level's size and hold
//! `n` orders; that every fill takes the front of its queue; that the venue adapter skips the
//! stream without an anomaly; and that the mode changes nothing of the market but `n`.

use paper_trader::queue_truth::stream::{parse, ExactEvent};
use paper_trader::synth::{CancelProfile, SynthConfig, SynthMessage, SynthVenue};
use paper_trader::types::{parse_fixed, Side, Timestamp};
use paper_trader::venue::{is_order_level_stream, Adapter, Venue};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};

/// One coin's FIFOs: price -> queue of (id, size), per side; and each order's side and price.
#[derive(Default)]
struct Fifo {
    levels: [BTreeMap<i64, VecDeque<(u64, i64)>>; 2],
    where_is: BTreeMap<u64, (usize, i64)>,
}

fn side_ix(s: Side) -> usize {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl Fifo {
    fn apply(&mut self, e: &ExactEvent) {
        match *e {
            ExactEvent::Add { id, side, px, sz } => {
                assert!(sz > 0 && self.where_is.insert(id, (side_ix(side), px)).is_none(), "bad add {e:?}");
                self.levels[side_ix(side)].entry(px).or_default().push_back((id, sz));
            }
            ExactEvent::Cancel { id, sz } => self.reduce(id, sz, false),
            ExactEvent::Fill { id, sz, .. } => self.reduce(id, sz, true),
        }
    }

    fn reduce(&mut self, id: u64, sz: i64, front_only: bool) {
        let &(s, px) = self.where_is.get(&id).unwrap_or_else(|| panic!("order {id} was never added"));
        let q = self.levels[s].get_mut(&px).unwrap();
        let i = q.iter().position(|o| o.0 == id).unwrap();
        assert!(!front_only || i == 0, "order {id} filled at position {i} of its queue, not the front");
        assert!(sz > 0 && sz <= q[i].1, "order {id}: {sz} taken of {}", q[i].1);
        q[i].1 -= sz;
        if q[i].1 == 0 {
            q.remove(i);
            self.where_is.remove(&id);
        }
        if q.is_empty() {
            self.levels[s].remove(&px);
        }
    }

    /// Checks one wire level `{"px","sz","n"}` of side `s` against the queue.
    fn check(&self, s: usize, level: &Value, what: &str) {
        let px = parse_fixed(level["px"].as_str().unwrap().as_bytes()).unwrap();
        let sz = parse_fixed(level["sz"].as_str().unwrap().as_bytes()).unwrap();
        let n = level["n"].as_u64().unwrap() as usize;
        let q = self.levels[s].get(&px).unwrap_or_else(|| panic!("{what}: no queue at {px}"));
        let total: i64 = q.iter().map(|o| o.1).sum();
        assert_eq!(
            (total, q.len()),
            (sz, n),
            "{what}: the queue at {px} holds {total} in {} orders",
            q.len()
        );
    }

    fn best(&self, s: usize) -> Option<i64> {
        if s == 0 {
            self.levels[0].keys().next_back().copied()
        } else {
            self.levels[1].keys().next().copied()
        }
    }
}

fn coins() -> Vec<String> {
    ["BTC", "ETH", "SOL"].iter().map(|s| s.to_string()).collect()
}

fn order_level(profile: CancelProfile) -> SynthConfig {
    let mut cfg = SynthConfig::default();
    cfg.order_level.enabled = true;
    cfg.order_level.cancel_profile = profile;
    cfg
}

fn messages(cfg: SynthConfig, seed: u64, minutes: u64) -> Vec<SynthMessage> {
    let mut venue = SynthVenue::new(cfg, seed, &coins()).unwrap();
    let end = venue.config().start_ns + minutes * 60_000_000_000;
    std::iter::from_fn(|| Some(venue.next_message())).take_while(|m| m.exch_ns < end).collect()
}

#[test]
fn the_queues_are_the_book_the_wire_shows() {
    for profile in [CancelProfile::Uniform, CancelProfile::Back, CancelProfile::Front] {
        let mut books: BTreeMap<String, Fifo> = BTreeMap::new();
        let mut adapter = Adapter::new(Venue::Hyperliquid);
        let mut events = Vec::new();
        let (mut last_recv, mut checked, mut fills) = (0u64, 0u64, 0u64);
        for (seq, m) in messages(order_level(profile), 5, 15).iter().enumerate() {
            assert!(m.recv_ns >= last_recv, "receive time went backwards at {}", m.stream);
            last_recv = m.recv_ns;
            events.clear();
            adapter.on_message(seq as u64, Timestamp(m.recv_ns), &m.stream, &m.raw, &mut events);
            let coin = m.stream.split(':').nth(1).unwrap_or("").to_string();
            if is_order_level_stream(&m.stream) {
                assert!(events.is_empty(), "the adapter made events of the order-level stream");
                let msg = parse(&m.raw).unwrap();
                assert_eq!(msg.coin, coin);
                let fifo = books.entry(coin).or_default();
                for e in &msg.events {
                    fills += u64::from(matches!(e, ExactEvent::Fill { .. }));
                    fifo.apply(e);
                }
                continue;
            }
            let v: Value = serde_json::from_slice(&m.raw).unwrap();
            let Some(fifo) = books.get(&coin) else { continue };
            let what = format!("{profile:?} {} at {}", m.stream, m.recv_ns);
            if m.stream.starts_with("l2Book:") {
                for s in 0..2 {
                    for level in v["data"]["levels"][s].as_array().unwrap() {
                        fifo.check(s, level, &what);
                    }
                }
                // The published top is the queue's top.
                let top =
                    |s: usize| parse_fixed(v["data"]["levels"][s][0]["px"].as_str().unwrap().as_bytes()).ok();
                assert_eq!((fifo.best(0), fifo.best(1)), (top(0), top(1)), "{what}");
                checked += 1;
            } else if m.stream.starts_with("bbo:") {
                for s in 0..2 {
                    fifo.check(s, &v["data"]["bbo"][s], &what);
                }
                checked += 1;
            }
        }
        assert_eq!(adapter.anomaly_count(), 0);
        assert!(checked > 3 * 1_000 && fills > 1_000, "{profile:?}: {checked} books checked, {fills} fills");
    }
}

/// `"n":12` -> `"n":_`: the order counts are what the order-level mode may change.
fn without_counts(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(s.len());
    let mut rest = &s[..];
    while let Some(i) = rest.find("\"n\":") {
        out.push_str(&rest[..i + 4]);
        out.push('_');
        rest = rest[i + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[test]
fn the_order_level_mode_changes_nothing_but_the_order_counts() {
    let plain = messages(SynthConfig::default(), 8, 10);
    let exact: Vec<SynthMessage> = messages(order_level(CancelProfile::Back), 8, 10)
        .into_iter()
        .filter(|m| !is_order_level_stream(&m.stream))
        .collect();
    assert_eq!(plain.len(), exact.len());
    let mut counts_differ = 0;
    for (a, b) in plain.iter().zip(&exact) {
        assert_eq!((a.recv_ns, a.exch_ns, &a.stream), (b.recv_ns, b.exch_ns, &b.stream));
        assert_eq!(without_counts(&a.raw), without_counts(&b.raw), "{}", a.stream);
        counts_differ += usize::from(a.raw != b.raw);
    }
    // And the counts are the queue's, not the level mode's.
    assert!(counts_differ > 0);
}

#[test]
fn cancel_profiles_give_different_queues_over_the_same_market() {
    let streams = |p| -> Vec<Vec<u8>> {
        messages(order_level(p), 3, 3)
            .into_iter()
            .filter(|m| is_order_level_stream(&m.stream))
            .map(|m| m.raw)
            .collect()
    };
    let (u, b, f) =
        (streams(CancelProfile::Uniform), streams(CancelProfile::Back), streams(CancelProfile::Front));
    assert!(u != b && b != f && u != f);
    // Same seed, same profile: the same bytes.
    assert_eq!(streams(CancelProfile::Back), b);
}
