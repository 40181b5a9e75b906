//! Each order's fillable life in the session, read from its output journal: from
//! `OrderPlaced.live_at` to its last fill, or to when its cancel took effect.

use super::replay::SessionOrder;
use crate::engine::io::{CancelReason, Output, RejectReason};
use crate::types::Timestamp;
use std::collections::BTreeMap;

/// The session's orders and the fees of their fills.
#[derive(Clone, Debug, Default)]
pub struct Lives {
    pub orders: Vec<SessionOrder>,
    /// Total fee of the session's fills, units of 10^-8 of quote (negative = rebate).
    pub fees: i64,
    /// Orders that never went live in the session (cancelled first, or rejected post-only).
    pub never_live: u64,
}

/// When a cancel sent at `t` took effect: the record's `dead_at`. Journals written before
/// it existed (`dead_at` 0): a requote's cancel travels to the venue for the session's cancel
/// latency; the other reasons (gap, disconnect, invalid book) drop the orders at once.
fn cancel_effective(t: Timestamp, reason: CancelReason, dead_at: Timestamp, cancel_latency_ns: u64) -> u64 {
    if dead_at.0 > 0 {
        return dead_at.0;
    }
    match reason {
        CancelReason::Requote => t.0.saturating_add(cancel_latency_ns),
        _ => t.0,
    }
}

/// Reads the lives from the outputs (journal order). Orders still live at the end live to
/// `end_ns` (inclusive).
pub fn session_orders(outputs: &[(Timestamp, Output)], cancel_latency_ns: u64, end_ns: u64) -> Lives {
    let mut lives = Lives::default();
    let mut index: BTreeMap<(&str, u64), usize> = BTreeMap::new();
    let mut filled: Vec<i64> = Vec::new();
    for (t, o) in outputs {
        match o {
            Output::OrderPlaced { coin, order_id, side, px, sz, live_at } => {
                index.insert((&**coin, *order_id), lives.orders.len());
                filled.push(0);
                lives.orders.push(SessionOrder {
                    coin: coin.to_string(),
                    order_id: *order_id,
                    side: *side,
                    px: px.0,
                    sz: sz.0,
                    live_at: live_at.0,
                    end_at: end_ns.saturating_add(1),
                    sim_fills: Vec::new(),
                });
            }
            Output::Fill { coin, order_id, sz, fee, .. } => {
                let Some(&i) = index.get(&(&**coin, *order_id)) else { continue };
                let o = &mut lives.orders[i];
                o.sim_fills.push((t.0, sz.0));
                lives.fees += fee;
                filled[i] += sz.0;
                if filled[i] >= o.sz {
                    o.end_at = o.end_at.min(t.0.saturating_add(1));
                }
            }
            Output::OrderCancelled { coin, order_id, reason, dead_at } => {
                let Some(&i) = index.get(&(&**coin, *order_id)) else { continue };
                let o = &mut lives.orders[i];
                o.end_at = o.end_at.min(cancel_effective(*t, *reason, *dead_at, cancel_latency_ns));
            }
            Output::OrderRejected { coin, side, px, sz, reason: RejectReason::PostOnly } => {
                // Rejected when it went live (the reject names no order): the latest order of
                // that coin, side, price and size that went live by now and whose life is not
                // ended at its start already. Its cancel may have taken effect before the
                // reject was journalled (the reject is reported at the first input after
                // `live_at`), so its end may lie before now.
                let found = lives.orders.iter_mut().rev().find(|o| {
                    *o.coin == **coin
                        && o.side == *side
                        && o.px == px.0
                        && o.sz == sz.0
                        && o.live_at <= t.0
                        && o.end_at > o.live_at
                        && o.sim_fills.is_empty()
                });
                if let Some(o) = found {
                    o.end_at = o.live_at;
                }
            }
            _ => {}
        }
    }
    lives.never_live = lives.orders.iter().filter(|o| o.end_at <= o.live_at).count() as u64;
    lives
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::io::FillKind;
    use crate::types::{Price, Qty, Side};

    fn placed(id: u64, live_at: u64) -> Output {
        Output::OrderPlaced {
            coin: "BTC".into(),
            order_id: id,
            side: Side::Buy,
            px: Price(100),
            sz: Qty(10),
            live_at: Timestamp(live_at),
        }
    }

    fn fill(id: u64, sz: i64) -> Output {
        Output::Fill {
            coin: "BTC".into(),
            fill_id: 0,
            order_id: id,
            side: Side::Buy,
            px: Price(100),
            sz: Qty(sz),
            fee: 3,
            mid: Price(101),
            kind: FillKind::TradeAtPrice,
            toxicity: 0.0,
            position_after: Qty(sz),
        }
    }

    #[test]
    fn lives_end_at_the_last_fill_or_when_the_cancel_takes_effect() {
        let cancel = |id, reason| Output::OrderCancelled {
            coin: "BTC".into(),
            order_id: id,
            reason,
            dead_at: Timestamp::ZERO,
        };
        let outs = vec![
            (Timestamp(0), placed(1, 100)),
            (Timestamp(0), placed(2, 100)),
            (Timestamp(0), placed(3, 100)),
            (Timestamp(0), placed(4, 100)),
            (Timestamp(150), fill(1, 4)),
            (Timestamp(160), fill(1, 6)),
            (Timestamp(200), cancel(2, CancelReason::Requote)),
            (Timestamp(300), cancel(3, CancelReason::Gap)),
            (Timestamp(50), cancel(4, CancelReason::Requote)),
            (Timestamp(0), placed(5, 100)),
            // The journal's own dead_at wins (a latency model that is not a constant).
            (
                Timestamp(400),
                Output::OrderCancelled {
                    coin: "BTC".into(),
                    order_id: 5,
                    reason: CancelReason::Requote,
                    dead_at: Timestamp(457),
                },
            ),
        ];
        let lives = session_orders(&outs, 40, 1_000);
        let ends: Vec<u64> = lives.orders.iter().map(|o| o.end_at).collect();
        // Filled at 160 (inclusive), cancel effective 200 + 40, a gap drops at once, and an
        // order cancelled before it went live never lived.
        assert_eq!(ends, [161, 240, 300, 90, 457]);
        assert_eq!((lives.fees, lives.never_live), (6, 1));
        assert_eq!(lives.orders[0].sim_fills, [(150, 4), (160, 6)]);
    }
}
