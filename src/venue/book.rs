//! The order book per coin, rebuilt from normalized events, and Binance's snapshot/diff
//! synchronisation (`U`/`u`/`pu`), which decides whether a book can be trusted.

use super::event::{AnomalyKind, Level, MarketEvent};
use super::ladder::{self, Ladder};
use super::Venue;
use crate::types::{Price, Qty, Side, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Diffs buffered per coin while waiting for a Binance snapshot. At the full `@depth@0ms`
/// rate (~20/s) this is minutes of diffs; older ones are dropped first (a snapshot fetched
/// later than that cannot need them).
pub const MAX_BUFFERED_DIFFS: usize = 4096;

/// One coin's book: levels best first on both sides, O(log n) per level changed at any depth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderBook {
    coin: String,
    #[serde(deserialize_with = "ladder::bids")]
    bids: Ladder,
    #[serde(deserialize_with = "ladder::asks")]
    asks: Ladder,
    exch_ns: Timestamp,
    /// Binance: the `u` of the last applied diff (or the snapshot's `lastUpdateId`).
    update_id: Option<u64>,
    /// In sync with the venue (a snapshot seen, no gap since, no disconnect since).
    synced: bool,
    crossed: bool,
}

impl OrderBook {
    pub fn new(coin: &str) -> Self {
        OrderBook {
            coin: coin.to_string(),
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            exch_ns: Timestamp::default(),
            update_id: None,
            synced: false,
            crossed: false,
        }
    }

    pub fn coin(&self) -> &str {
        &self.coin
    }

    /// True when the book is in sync, not crossed and has both sides: only then may the
    /// engine quote or fill against it.
    pub fn is_valid(&self) -> bool {
        self.synced && !self.crossed && !self.bids.is_empty() && !self.asks.is_empty()
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best()
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best()
    }

    /// (best bid + best ask) / 2, rounded down to 10^-8.
    pub fn mid(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Some(Price((b.px.0 + a.px.0).div_euclid(2)))
    }

    /// Size-weighted mid: the bid weighted by the ask size and vice versa.
    pub fn microprice(&self) -> Option<f64> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let (bs, as_) = (b.sz.to_f64(), a.sz.to_f64());
        if bs + as_ <= 0.0 {
            return None;
        }
        Some((b.px.to_f64() * as_ + a.px.to_f64() * bs) / (bs + as_))
    }

    /// (bid size - ask size) / (bid size + ask size) over the top `levels` of each side, in
    /// [-1, 1]; 0 when both are empty.
    pub fn imbalance(&self, levels: usize) -> f64 {
        let (b, a) = (self.bids.top_size(levels), self.asks.top_size(levels));
        if b + a <= 0 {
            return 0.0;
        }
        crate::types::i128_to_f64(b - a) / crate::types::i128_to_f64(b + a)
    }

    /// Displayed size at exactly `px` (`Side::Buy` = bids).
    pub fn size_at(&self, side: Side, px: Price) -> Qty {
        self.side(side).size_at(px)
    }

    /// Total size at `px` or better: bids at prices >= px for `Side::Buy`, asks at prices
    /// <= px for `Side::Sell`.
    pub fn size_at_or_better(&self, side: Side, px: Price) -> Qty {
        self.side(side).size_at_or_better(px)
    }

    pub fn bids(&self) -> impl Iterator<Item = Level> + '_ {
        self.bids.iter().copied()
    }

    pub fn asks(&self) -> impl Iterator<Item = Level> + '_ {
        self.asks.iter().copied()
    }

    /// The levels of one side, best first (`Side::Buy` = bids).
    pub fn side(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    pub fn exch_ns(&self) -> Timestamp {
        self.exch_ns
    }

    pub fn update_id(&self) -> Option<u64> {
        self.update_id
    }

    fn replace(&mut self, exch_ns: Timestamp, bids: &[Level], asks: &[Level]) {
        self.exch_ns = exch_ns;
        self.bids.assign(bids);
        self.asks.assign(asks);
    }

    fn apply_diff(&mut self, exch_ns: Timestamp, bids: &[Level], asks: &[Level]) {
        self.exch_ns = exch_ns;
        for l in bids {
            self.bids.upsert(*l);
        }
        for l in asks {
            self.asks.upsert(*l);
        }
    }
}

/// What [`Books::apply`] did to the event's coin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookUpdate {
    /// The book's levels changed.
    pub changed: bool,
    /// The book is valid after the event (see [`OrderBook::is_valid`]).
    pub valid: bool,
}

/// A buffered Binance diff (received before the snapshot it must follow).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PendingDiff {
    exch_ns: Timestamp,
    first_id: u64,
    last_id: u64,
    prev_last_id: u64,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

/// A Binance diff as it arrives, borrowed: copied only when it must be buffered.
#[derive(Clone, Copy)]
struct Diff<'a> {
    exch_ns: Timestamp,
    first_id: u64,
    last_id: u64,
    prev_last_id: u64,
    bids: &'a [Level],
    asks: &'a [Level],
}

impl Diff<'_> {
    fn to_pending(self) -> PendingDiff {
        PendingDiff {
            exch_ns: self.exch_ns,
            first_id: self.first_id,
            last_id: self.last_id,
            prev_last_id: self.prev_last_id,
            bids: self.bids.to_vec(),
            asks: self.asks.to_vec(),
        }
    }
}

impl PendingDiff {
    fn as_diff(&self) -> Diff<'_> {
        Diff {
            exch_ns: self.exch_ns,
            first_id: self.first_id,
            last_id: self.last_id,
            prev_last_id: self.prev_last_id,
            bids: &self.bids,
            asks: &self.asks,
        }
    }
}

/// Binance synchronisation of one coin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Sync {
    /// No usable snapshot: diffs are buffered.
    NeedSnapshot,
    /// A snapshot with this `lastUpdateId` is applied; the next diff must straddle it.
    FirstDiff(u64),
    /// In sync; the next diff's `pu` must equal this `u`.
    Live(u64),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CoinBook {
    book: OrderBook,
    sync: Sync,
    pending: VecDeque<PendingDiff>,
}

/// Every coin's book on one venue, plus Binance's synchronisation state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Books {
    venue: Venue,
    /// Sorted by coin; a handful of coins, so a sorted Vec beats a map and iterates in order.
    coins: Vec<CoinBook>,
}

impl Books {
    pub fn new(venue: Venue) -> Books {
        Books { venue, coins: Vec::new() }
    }

    pub fn venue(&self) -> Venue {
        self.venue
    }

    pub fn book(&self, coin: &str) -> Option<&OrderBook> {
        self.find(coin).ok().map(|i| &self.coins[i].book)
    }

    /// Where `coin`'s book sits, for `book_at`: an index stays valid while `len` is unchanged
    /// (books are only ever added, in coin order, so an insertion is what moves them).
    pub fn index_of(&self, coin: &str) -> Option<usize> {
        self.find(coin).ok()
    }

    pub fn book_at(&self, index: usize) -> &OrderBook {
        &self.coins[index].book
    }

    /// How many coins have a book.
    pub fn len(&self) -> usize {
        self.coins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.coins.is_empty()
    }

    /// Coins with a book, in order.
    pub fn coins(&self) -> impl Iterator<Item = &str> + '_ {
        self.coins.iter().map(|c| c.book.coin.as_str())
    }

    fn find(&self, coin: &str) -> Result<usize, usize> {
        self.coins.binary_search_by(|c| c.book.coin.as_str().cmp(coin))
    }

    fn entry(&mut self, coin: &str) -> &mut CoinBook {
        let i = match self.find(coin) {
            Ok(i) => i,
            Err(i) => {
                self.coins.insert(
                    i,
                    CoinBook {
                        book: OrderBook::new(coin),
                        sync: Sync::NeedSnapshot,
                        pending: VecDeque::new(),
                    },
                );
                i
            }
        };
        &mut self.coins[i]
    }

    /// Every book is invalid until its next snapshot (disconnect, gap control record).
    pub fn invalidate_all(&mut self) {
        for c in &mut self.coins {
            c.book.synced = false;
            c.sync = Sync::NeedSnapshot;
            c.pending.clear();
        }
    }

    /// Applies a book-changing event; other events change nothing. Anomalies (sequence gap,
    /// crossed or empty book) are appended to `out`.
    pub fn apply(&mut self, ev: &MarketEvent, out: &mut Vec<MarketEvent>) -> BookUpdate {
        match ev {
            MarketEvent::BookSnapshot { coin, exch_ns, update_id, bids, asks } => {
                let c = self.entry(coin);
                let changed = match update_id {
                    None => {
                        c.book.replace(*exch_ns, bids, asks);
                        c.book.synced = true;
                        true
                    }
                    Some(id) => c.on_snapshot(*exch_ns, *id, bids, asks, out),
                };
                c.finish(changed, out)
            }
            MarketEvent::BookDiff { coin, exch_ns, first_id, last_id, prev_last_id, bids, asks } => {
                let c = self.entry(coin);
                let d = Diff {
                    exch_ns: *exch_ns,
                    first_id: *first_id,
                    last_id: *last_id,
                    prev_last_id: *prev_last_id,
                    bids,
                    asks,
                };
                let changed = c.on_diff(d, out);
                c.finish(changed, out)
            }
            _ => {
                let valid = ev.coin().and_then(|c| self.book(c)).is_some_and(|b| b.is_valid());
                BookUpdate { changed: false, valid }
            }
        }
    }
}

fn anomaly(coin: &str, kind: AnomalyKind, detail: String) -> MarketEvent {
    MarketEvent::Anomaly { coin: Some(coin.to_string()), kind, detail }
}

impl CoinBook {
    /// A Binance REST snapshot: rebase the book on it unless ours is already newer, then
    /// replay buffered diffs.
    fn on_snapshot(
        &mut self,
        exch_ns: Timestamp,
        id: u64,
        bids: &[Level],
        asks: &[Level],
        out: &mut Vec<MarketEvent>,
    ) -> bool {
        if let Sync::Live(u) = self.sync {
            if u >= id {
                // Our diffs already carry the book past this snapshot: it adds nothing.
                return false;
            }
        }
        self.book.replace(exch_ns, bids, asks);
        self.book.update_id = Some(id);
        self.book.synced = true;
        self.sync = Sync::FirstDiff(id);
        let pending = std::mem::take(&mut self.pending);
        for d in &pending {
            self.on_diff(d.as_diff(), out);
        }
        true
    }

    fn on_diff(&mut self, d: Diff<'_>, out: &mut Vec<MarketEvent>) -> bool {
        match self.sync {
            Sync::NeedSnapshot => {
                if self.pending.len() >= MAX_BUFFERED_DIFFS {
                    self.pending.pop_front();
                }
                self.pending.push_back(d.to_pending());
                false
            }
            Sync::FirstDiff(id) => {
                if d.last_id < id {
                    false // older than the snapshot: already in it
                } else if d.first_id <= id {
                    self.apply(d)
                } else {
                    self.gap(
                        format!("first diff after snapshot {id} starts at U={} (> lastUpdateId)", d.first_id),
                        d,
                        out,
                    )
                }
            }
            Sync::Live(u) => {
                if d.last_id <= u {
                    false // a repeat of what is applied
                } else if d.prev_last_id == u {
                    self.apply(d)
                } else {
                    self.gap(format!("pu={} but the last applied u={u}", d.prev_last_id), d, out)
                }
            }
        }
    }

    fn apply(&mut self, d: Diff<'_>) -> bool {
        self.book.apply_diff(d.exch_ns, d.bids, d.asks);
        self.book.update_id = Some(d.last_id);
        self.sync = Sync::Live(d.last_id);
        true
    }

    /// A sequence gap: the book is invalid until the next snapshot; this diff is the first
    /// one a later snapshot may need.
    fn gap(&mut self, detail: String, d: Diff<'_>, out: &mut Vec<MarketEvent>) -> bool {
        out.push(anomaly(&self.book.coin, AnomalyKind::SequenceGap, detail));
        self.book.synced = false;
        self.sync = Sync::NeedSnapshot;
        self.pending.clear();
        self.pending.push_back(d.to_pending());
        false
    }

    /// Checks crossed/empty after a change (reported once when it starts, not at every update).
    fn finish(&mut self, changed: bool, out: &mut Vec<MarketEvent>) -> BookUpdate {
        if changed && self.book.synced {
            let was_crossed = self.book.crossed;
            let top = (self.book.best_bid(), self.book.best_ask());
            self.book.crossed = match top {
                (Some(b), Some(a)) => b.px >= a.px,
                _ => false,
            };
            if let (true, false, (Some(Level { px: b, .. }), Some(Level { px: a, .. }))) =
                (self.book.crossed, was_crossed, top)
            {
                out.push(anomaly(
                    &self.book.coin,
                    AnomalyKind::CrossedBook,
                    format!("best bid {b} >= best ask {a}"),
                ));
            }
            if self.book.bids.is_empty() || self.book.asks.is_empty() {
                let side = if self.book.bids.is_empty() { "bid" } else { "ask" };
                out.push(anomaly(&self.book.coin, AnomalyKind::EmptyBook, format!("no {side} levels")));
            }
        }
        BookUpdate { changed, valid: self.book.is_valid() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(px: i64, sz: i64) -> Level {
        Level { px: Price(px), sz: Qty(sz), n: 0 }
    }

    fn snap(id: Option<u64>, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> MarketEvent {
        MarketEvent::BookSnapshot {
            coin: "X".into(),
            exch_ns: Timestamp(1),
            update_id: id,
            bids: bids.iter().map(|&(p, s)| lv(p, s)).collect(),
            asks: asks.iter().map(|&(p, s)| lv(p, s)).collect(),
        }
    }

    fn diff(u0: u64, u: u64, pu: u64, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> MarketEvent {
        MarketEvent::BookDiff {
            coin: "X".into(),
            exch_ns: Timestamp(2),
            first_id: u0,
            last_id: u,
            prev_last_id: pu,
            bids: bids.iter().map(|&(p, s)| lv(p, s)).collect(),
            asks: asks.iter().map(|&(p, s)| lv(p, s)).collect(),
        }
    }

    #[test]
    fn queries_on_a_small_book() {
        let mut b = Books::new(Venue::Hyperliquid);
        let mut out = vec![];
        let u = b.apply(&snap(None, &[(99, 2), (100, 1), (98, 4)], &[(102, 3), (101, 1)]), &mut out);
        assert!(u.changed && u.valid && out.is_empty());
        let book = b.book("X").unwrap();
        assert_eq!(book.bids().map(|l| l.px.0).collect::<Vec<_>>(), vec![100, 99, 98]);
        assert_eq!(book.best_ask().unwrap().px, Price(101));
        assert_eq!(book.mid(), Some(Price(100))); // 100.5 rounded down
        assert_eq!(book.size_at(Side::Buy, Price(99)), Qty(2));
        assert_eq!(book.size_at(Side::Sell, Price(99)), Qty(0));
        assert_eq!(book.size_at_or_better(Side::Buy, Price(99)), Qty(3));
        assert_eq!(book.size_at_or_better(Side::Sell, Price(101)), Qty(1));
        assert_eq!(book.size_at_or_better(Side::Sell, Price(105)), Qty(4));
        assert!((book.imbalance(1) - 0.0).abs() < 1e-12);
        assert!((book.imbalance(3) - (7.0 - 4.0) / 11.0).abs() < 1e-12);
        assert!((book.microprice().unwrap() / 100.5e-8 - 1.0).abs() < 1e-12); // units of 1e-8
    }

    #[test]
    fn crossed_and_empty_books_are_anomalies_and_invalid() {
        let mut b = Books::new(Venue::Hyperliquid);
        let mut out = vec![];
        assert!(!b.apply(&snap(None, &[(101, 1)], &[(100, 1)]), &mut out).valid);
        assert!(matches!(out[0], MarketEvent::Anomaly { kind: AnomalyKind::CrossedBook, .. }));
        out.clear();
        assert!(!b.apply(&snap(None, &[(99, 1)], &[]), &mut out).valid);
        assert!(matches!(out[0], MarketEvent::Anomaly { kind: AnomalyKind::EmptyBook, .. }));
        assert!(b.apply(&snap(None, &[(99, 1)], &[(100, 1)]), &mut out).valid);
    }

    #[test]
    fn binance_buffers_diffs_before_the_snapshot_and_detects_gaps() {
        let mut b = Books::new(Venue::BinanceUsdm);
        let mut out = vec![];
        // Received before the snapshot: one too old, one straddling lastUpdateId=15.
        assert!(!b.apply(&diff(1, 9, 0, &[(90, 1)], &[]), &mut out).valid);
        b.apply(&diff(10, 20, 9, &[(99, 5)], &[]), &mut out);
        let u = b.apply(&snap(Some(15), &[(98, 1)], &[(101, 1)]), &mut out);
        assert!(u.valid && out.is_empty());
        let book = b.book("X").unwrap();
        assert_eq!(book.best_bid().unwrap().px, Price(99));
        assert_eq!(book.size_at(Side::Buy, Price(90)), Qty(0));
        assert_eq!(book.update_id(), Some(20));
        assert!(b.apply(&diff(21, 25, 20, &[(99, 0)], &[(100, 2)]), &mut out).valid);
        assert_eq!(b.book("X").unwrap().best_bid().unwrap().px, Price(98));
        // A gap: invalid until the next snapshot, which the buffered diff then follows.
        assert!(!b.apply(&diff(30, 35, 29, &[(97, 1)], &[]), &mut out).valid);
        assert!(matches!(out[0], MarketEvent::Anomaly { kind: AnomalyKind::SequenceGap, .. }));
        assert!(b.apply(&snap(Some(33), &[(96, 1)], &[(100, 1)]), &mut out).valid);
        assert_eq!(b.book("X").unwrap().size_at(Side::Buy, Price(97)), Qty(1));
        b.invalidate_all();
        assert!(!b.book("X").unwrap().is_valid());
    }
}
