//! One side of an order book: price levels ordered best first, with O(log n) insert, update
//! and delete at any depth.
//!
//! Why not only a sorted `Vec`: a Binance book grows to thousands of levels a side, and every
//! `depthUpdate` level inserted or deleted near the touch shifted the whole deep tail
//! (`memmove` was over half of a Binance replay's time). A deep side is a `BTreeMap` keyed by
//! a rank that grows away from the touch on both sides (`px` for asks, `!px` for bids: bitwise
//! not is a strictly decreasing bijection on i64, so it cannot overflow), which iterates best
//! first for both sides with one code path.
//!
//! Why not only a `BTreeMap`: a Hyperliquid `l2Book` is 20 levels a side and every message
//! replaces it whole. Rebuilding the tree (node allocations, frees) and walking it for the
//! strategy's top levels and the imbalance was 15% of a 6 h Hyperliquid replay's engine thread
//! (callgrind). So a side starts shallow, a `Vec` sorted by the same rank, where a shift moves
//! at most [`SHALLOW_MAX`] levels, and becomes deep the first time it would hold more. It
//! becomes shallow again only when cleared (a snapshot), so a book near the bound does not
//! flip back and forth. Both forms hold the same levels in the same order; every answer is
//! the same whichever holds them.
//!
//! Serialized as the sequence of levels best first, exactly as the `Vec<Level>` it replaced, so
//! checkpoints keep their bytes.

use super::event::Level;
use crate::types::{Price, Qty, Side};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{btree_map, BTreeMap};
use std::ops::Bound;

/// The most levels a shallow side holds: a shift moves at most this many (24 bytes each).
pub const SHALLOW_MAX: usize = 64;

#[derive(Clone, Debug)]
pub struct Ladder {
    side: Side,
    levels: Levels,
}

#[derive(Clone, Debug)]
enum Levels {
    /// Sorted by rank, best first; at most `SHALLOW_MAX` levels.
    Shallow(Vec<Level>),
    Deep(BTreeMap<i64, Level>),
}

/// Same side, same levels in the same order, whichever form holds them.
impl PartialEq for Ladder {
    fn eq(&self, other: &Ladder) -> bool {
        self.side == other.side && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Ladder {}

/// The levels of a side, best first.
#[derive(Clone)]
pub enum Iter<'a> {
    Shallow(std::slice::Iter<'a, Level>),
    Deep(btree_map::Values<'a, i64, Level>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Level;
    #[inline]
    fn next(&mut self) -> Option<&'a Level> {
        match self {
            Iter::Shallow(i) => i.next(),
            Iter::Deep(i) => i.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Shallow(i) => i.size_hint(),
            Iter::Deep(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Shallow(i) => i.next_back(),
            Iter::Deep(i) => i.next_back(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Levels in a range of ranks, best first ([`Ladder::between`]).
pub enum Range<'a> {
    Shallow(std::slice::Iter<'a, Level>),
    Deep(btree_map::Range<'a, i64, Level>),
}

impl<'a> Iterator for Range<'a> {
    type Item = &'a Level;
    #[inline]
    fn next(&mut self) -> Option<&'a Level> {
        match self {
            Range::Shallow(i) => i.next(),
            Range::Deep(i) => i.next().map(|(_, l)| l),
        }
    }
}

impl Ladder {
    pub fn new(side: Side) -> Ladder {
        Ladder { side, levels: Levels::Shallow(Vec::new()) }
    }

    /// The rank of a price on this side: smaller is closer to the touch.
    #[inline]
    fn rank(&self, px: Price) -> i64 {
        rank(self.side, px)
    }

    pub fn len(&self) -> usize {
        match &self.levels {
            Levels::Shallow(v) => v.len(),
            Levels::Deep(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the side is held in its deep form (for tests and benches).
    pub fn is_deep(&self) -> bool {
        matches!(self.levels, Levels::Deep(_))
    }

    /// Removes every level; the side is shallow again.
    pub fn clear(&mut self) {
        match &mut self.levels {
            Levels::Shallow(v) => v.clear(),
            Levels::Deep(_) => self.levels = Levels::Shallow(Vec::new()),
        }
    }

    pub fn best(&self) -> Option<Level> {
        match &self.levels {
            Levels::Shallow(v) => v.first().copied(),
            Levels::Deep(m) => m.first_key_value().map(|(_, l)| *l),
        }
    }

    /// Levels best first.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        match &self.levels {
            Levels::Shallow(v) => Iter::Shallow(v.iter()),
            Levels::Deep(m) => Iter::Deep(m.values()),
        }
    }

    /// Sets a level's size (absolute); size 0 removes it.
    #[inline]
    pub fn upsert(&mut self, l: Level) {
        let k = self.rank(l.px);
        let side = self.side;
        match &mut self.levels {
            Levels::Shallow(v) => {
                // Levels of a snapshot arrive best first: the common case appends.
                let at = match v.last() {
                    Some(last) if rank(side, last.px) < k => Err(v.len()),
                    None => Err(0),
                    _ => v.binary_search_by_key(&k, |x| rank(side, x.px)),
                };
                match (at, l.sz.0 == 0) {
                    (Ok(i), true) => {
                        v.remove(i);
                    }
                    (Ok(i), false) => v[i] = l,
                    (Err(_), true) => {}
                    (Err(i), false) if v.len() < SHALLOW_MAX => v.insert(i, l),
                    (Err(_), false) => {
                        let mut m: BTreeMap<i64, Level> = v.iter().map(|x| (rank(side, x.px), *x)).collect();
                        m.insert(k, l);
                        self.levels = Levels::Deep(m);
                    }
                }
            }
            Levels::Deep(m) => {
                if l.sz.0 == 0 {
                    m.remove(&k);
                } else {
                    m.insert(k, l);
                }
            }
        }
    }

    /// Displayed size at exactly `px`.
    pub fn size_at(&self, px: Price) -> Qty {
        let k = self.rank(px);
        match &self.levels {
            Levels::Shallow(v) => {
                v.binary_search_by_key(&k, |x| self.rank(x.px)).map_or(Qty::ZERO, |i| v[i].sz)
            }
            Levels::Deep(m) => m.get(&k).map_or(Qty::ZERO, |l| l.sz),
        }
    }

    /// Total size at `px` or better (saturating).
    pub fn size_at_or_better(&self, px: Price) -> Qty {
        let k = self.rank(px);
        let sum = match &self.levels {
            Levels::Shallow(v) => {
                v.iter().take_while(|l| self.rank(l.px) <= k).map(|l| l.sz.0).fold(0i64, i64::saturating_add)
            }
            Levels::Deep(m) => m.range(..=k).map(|(_, l)| l.sz.0).fold(0i64, i64::saturating_add),
        };
        Qty(sum)
    }

    /// Levels strictly behind `top` (further from the touch) and at `px` or better: the depth
    /// between a newer best price and a resting order's price.
    pub fn between(&self, top: Price, px: Price) -> Range<'_> {
        let (lo, hi) = (self.rank(top), self.rank(px));
        match &self.levels {
            Levels::Shallow(v) => {
                let from = v.partition_point(|l| self.rank(l.px) <= lo);
                let to = v.partition_point(|l| self.rank(l.px) <= hi).max(from);
                Range::Shallow(v[from..to].iter())
            }
            // An empty range when px is not behind top (BTreeMap::range panics on lo > hi).
            Levels::Deep(m) if lo < hi => Range::Deep(m.range((Bound::Excluded(lo), Bound::Included(hi)))),
            Levels::Deep(_) => Range::Shallow([].iter()),
        }
    }

    /// Appends as (price, size), best first, at most `n` of the levels strictly behind
    /// `behind` (all levels when `None`) and at `at_or_better` or better (no bound when
    /// `None`). One match on the form, then a slice copy or a tree range: the strategy's top
    /// levels and the fill model's depth ask for this on every input.
    pub fn extend_pairs(
        &self,
        behind: Option<Price>,
        at_or_better: Option<Price>,
        n: usize,
        out: &mut Vec<(Price, Qty)>,
    ) {
        let lo = behind.map(|p| self.rank(p));
        let hi = at_or_better.map(|p| self.rank(p));
        match &self.levels {
            Levels::Shallow(v) => {
                let from = lo.map_or(0, |lo| v.partition_point(|l| self.rank(l.px) <= lo));
                let to = hi.map_or(v.len(), |hi| v.partition_point(|l| self.rank(l.px) <= hi)).max(from);
                let s = &v[from..to];
                out.extend(s[..n.min(s.len())].iter().map(|l| (l.px, l.sz)));
            }
            Levels::Deep(m) => {
                if matches!((lo, hi), (Some(lo), Some(hi)) if lo >= hi) {
                    return; // nothing behind lo and at or better than hi (and range would panic)
                }
                let from = lo.map_or(Bound::Unbounded, Bound::Excluded);
                let to = hi.map_or(Bound::Unbounded, Bound::Included);
                out.extend(m.range((from, to)).take(n).map(|(_, l)| (l.px, l.sz)));
            }
        }
    }

    /// Total size of the best `n` levels.
    pub fn top_size(&self, n: usize) -> i128 {
        match &self.levels {
            Levels::Shallow(v) => v[..n.min(v.len())].iter().map(|l| i128::from(l.sz.0)).sum(),
            Levels::Deep(m) => m.values().take(n).map(|l| i128::from(l.sz.0)).sum(),
        }
    }
}

/// The rank of a price on a side: smaller is closer to the touch.
#[inline]
fn rank(side: Side, px: Price) -> i64 {
    match side {
        Side::Buy => !px.0,
        Side::Sell => px.0,
    }
}

impl Serialize for Ladder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Deserializes a side from its levels; which side it is comes from the field it fills
/// ([`bids`], [`asks`]).
fn from_levels<'de, D: Deserializer<'de>>(d: D, side: Side) -> Result<Ladder, D::Error> {
    let levels = Vec::<Level>::deserialize(d)?;
    let mut l = Ladder::new(side);
    for lv in levels {
        l.upsert(lv);
    }
    Ok(l)
}

pub fn bids<'de, D: Deserializer<'de>>(d: D) -> Result<Ladder, D::Error> {
    from_levels(d, Side::Buy)
}

pub fn asks<'de, D: Deserializer<'de>>(d: D) -> Result<Ladder, D::Error> {
    from_levels(d, Side::Sell)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(px: i64, sz: i64) -> Level {
        Level { px: Price(px), sz: Qty(sz), n: 0 }
    }

    #[test]
    fn both_sides_iterate_best_first_at_the_extremes_of_i64() {
        let mut b = Ladder::new(Side::Buy);
        let mut a = Ladder::new(Side::Sell);
        for px in [i64::MIN, -1, 0, 5, i64::MAX] {
            b.upsert(lv(px, 1));
            a.upsert(lv(px, 1));
        }
        let pxs = |l: &Ladder| l.iter().map(|l| l.px.0).collect::<Vec<_>>();
        assert_eq!(pxs(&b), vec![i64::MAX, 5, 0, -1, i64::MIN]);
        assert_eq!(pxs(&a), vec![i64::MIN, -1, 0, 5, i64::MAX]);
        b.upsert(lv(5, 0));
        assert_eq!(b.size_at(Price(5)), Qty::ZERO);
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn between_is_strictly_behind_the_top_and_at_or_better_than_px() {
        let mut a = Ladder::new(Side::Sell);
        for px in 100..110 {
            a.upsert(lv(px, px - 99));
        }
        let sum = |top, px| a.between(Price(top), Price(px)).map(|l| l.sz.0).sum::<i64>();
        assert_eq!(sum(101, 103), 3 + 4); // 102, 103
        assert_eq!(sum(103, 103), 0);
        assert_eq!(sum(105, 103), 0); // px better than the top: nothing behind
        let mut b = Ladder::new(Side::Buy);
        for px in 100..110 {
            b.upsert(lv(px, 1));
        }
        assert_eq!(b.between(Price(108), Price(105)).count(), 3); // 107, 106, 105
        assert_eq!(b.size_at_or_better(Price(105)).0, 5);
    }

    #[test]
    fn serializes_as_the_levels_best_first() {
        let mut b = Ladder::new(Side::Buy);
        for px in [3, 1, 2] {
            b.upsert(lv(px, px));
        }
        let want = vec![lv(3, 3), lv(2, 2), lv(1, 1)];
        assert_eq!(rmp_serde::to_vec(&b).unwrap(), rmp_serde::to_vec(&want).unwrap());
        let bytes = rmp_serde::to_vec(&want).unwrap();
        let mut de = rmp_serde::Deserializer::new(&bytes[..]);
        assert_eq!(bids(&mut de).unwrap(), b);
    }

    /// What a side must answer, held the simplest way: a map from price to size.
    fn model_levels(m: &BTreeMap<i64, i64>, side: Side) -> Vec<Level> {
        let mut v: Vec<Level> = m.iter().map(|(&px, &sz)| lv(px, sz)).collect();
        if side == Side::Buy {
            v.reverse();
        }
        v
    }

    #[derive(Clone, Debug)]
    enum Op {
        Upsert(i64, i64),
        Clear,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        // A price range of 200 and mostly inserts, a clear every ~200 operations: books cross
        // SHALLOW_MAX, shrink below it by deletes (staying deep) and are cleared back to
        // shallow (a deep-reaching count is pinned in the test below).
        prop_oneof![
            150 => (0i64..200, 1i64..5).prop_map(|(p, s)| Op::Upsert(p, s)),
            60 => (0i64..200).prop_map(|p| Op::Upsert(p, 0)),
            1 => Just(Op::Clear),
        ]
    }

    #[test]
    fn the_operation_mix_reaches_the_deep_form() {
        use proptest::strategy::{Strategy, ValueTree};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut deep = 0;
        for _ in 0..50 {
            let ops = proptest::collection::vec(op(), 300).new_tree(&mut runner).unwrap().current();
            let mut l = Ladder::new(Side::Sell);
            for op in ops {
                match op {
                    Op::Upsert(px, sz) => l.upsert(lv(px, sz)),
                    Op::Clear => l.clear(),
                }
                if l.is_deep() {
                    deep += 1;
                    break;
                }
            }
        }
        assert!(deep >= 25, "only {deep} of 50 runs reached the deep form");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 200, ..Default::default() })]
        #[test]
        fn both_forms_answer_as_a_sorted_map(ops in proptest::collection::vec(op(), 1..400), buy: bool, probe in 0i64..200, top in 0i64..200, n in 0usize..30) {
            let side = if buy { Side::Buy } else { Side::Sell };
            let mut l = Ladder::new(side);
            let mut m = BTreeMap::<i64, i64>::new();
            for op in ops {
                match op {
                    Op::Upsert(px, sz) => {
                        l.upsert(lv(px, sz));
                        if sz == 0 { m.remove(&px); } else { m.insert(px, sz); }
                    }
                    Op::Clear => {
                        l.clear();
                        m.clear();
                        proptest::prop_assert!(!l.is_deep());
                    }
                }
                if !l.is_deep() {
                    proptest::prop_assert!(l.len() <= SHALLOW_MAX);
                }
                let want = model_levels(&m, side);
                proptest::prop_assert_eq!(l.len(), want.len());
                proptest::prop_assert_eq!(l.iter().copied().collect::<Vec<_>>(), want.clone());
                proptest::prop_assert_eq!(l.iter().rev().copied().collect::<Vec<_>>(), want.iter().rev().copied().collect::<Vec<_>>());
                proptest::prop_assert_eq!(l.best(), want.first().copied());
                proptest::prop_assert_eq!(l.size_at(Price(probe)).0, m.get(&probe).copied().unwrap_or(0));
                let better = |px: i64| if buy { px >= probe } else { px <= probe };
                let at_or_better: i64 = m.iter().filter(|(&px, _)| better(px)).map(|(_, &s)| s).sum();
                proptest::prop_assert_eq!(l.size_at_or_better(Price(probe)).0, at_or_better);
                let behind = |px: i64| if buy { px < top } else { px > top };
                let between: Vec<Level> = want.iter().filter(|x| behind(x.px.0) && better(x.px.0)).copied().collect();
                proptest::prop_assert_eq!(l.between(Price(top), Price(probe)).copied().collect::<Vec<_>>(), between.clone());
                let pairs = |v: Vec<Level>| v.into_iter().map(|l| (l.px, l.sz)).collect::<Vec<_>>();
                let extend = |behind, at_or_better, n| {
                    let mut out = vec![(Price(-1), Qty(-1))]; // appended to, never cleared
                    l.extend_pairs(behind, at_or_better, n, &mut out);
                    out.split_off(1)
                };
                let first_n = |v: Vec<Level>| v.into_iter().take(n).collect::<Vec<_>>();
                proptest::prop_assert_eq!(extend(None, None, n), pairs(first_n(want.clone())));
                let behind_top: Vec<Level> = want.iter().filter(|x| behind(x.px.0)).copied().collect();
                proptest::prop_assert_eq!(extend(Some(Price(top)), None, n), pairs(first_n(behind_top)));
                proptest::prop_assert_eq!(extend(Some(Price(top)), Some(Price(probe)), usize::MAX), pairs(between.clone()));
                let at_or_better_v: Vec<Level> = want.iter().filter(|x| better(x.px.0)).copied().collect();
                proptest::prop_assert_eq!(extend(None, Some(Price(probe)), usize::MAX), pairs(at_or_better_v));
                proptest::prop_assert_eq!(l.top_size(n), want.iter().take(n).map(|x| i128::from(x.sz.0)).sum::<i128>());
                // Serialized bytes do not depend on the form.
                proptest::prop_assert_eq!(rmp_serde::to_vec(&l).unwrap(), rmp_serde::to_vec(&want).unwrap());
            }
        }
    }

    #[test]
    fn a_side_becomes_deep_past_the_bound_and_shallow_when_cleared() {
        let mut a = Ladder::new(Side::Sell);
        for px in 0..SHALLOW_MAX as i64 {
            a.upsert(lv(px, 1));
        }
        assert!(!a.is_deep());
        a.upsert(lv(5, 2)); // an update at the bound does not promote
        assert!(!a.is_deep());
        a.upsert(lv(1000, 1));
        assert!(a.is_deep());
        a.upsert(lv(1000, 0));
        assert!(a.is_deep(), "a deep side stays deep below the bound until cleared");
        let mut s = Ladder::new(Side::Sell);
        for px in 0..SHALLOW_MAX as i64 {
            s.upsert(lv(px, if px == 5 { 2 } else { 1 }));
        }
        assert_eq!(a, s, "equal whatever the form");
        a.clear();
        assert!(!a.is_deep() && a.is_empty());
    }
}
