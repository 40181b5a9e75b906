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
//! A deep side keeps its best levels in a sorted `Vec` too (the head, [`HEAD_MIN`] to
//! [`SHALLOW_MAX`] of them while the tree holds any), and only the levels behind them in the
//! tree. The strategy's top levels, the imbalance and the fill model's depth at our quotes are
//! read near the touch on every input: on the tree alone, those searches and range walks were
//! ~10% of the engine thread of the Binance capture (callgrind; its updates mostly land behind
//! the head, in the tree, as before). A level goes to the head when it ranks at or before the
//! head's last level, or
//! the tree is empty; the head spills its last level to the tree past `SHALLOW_MAX` and takes
//! the tree's first back below `HEAD_MIN`, so a shift moves at most `SHALLOW_MAX` levels and
//! the tree stays O(log n) at any depth.
//!
//! Serialized as the sequence of levels best first, exactly as the `Vec<Level>` it replaced, so
//! checkpoints keep their bytes.

use super::event::Level;
use crate::types::{Price, Qty, Side};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{btree_map, BTreeMap};
use std::ops::Bound;

/// The most levels a shallow side (or a deep side's head) holds: a shift moves at most this
/// many (24 bytes each).
pub const SHALLOW_MAX: usize = 64;

/// The fewest levels a deep side's head holds while its tree holds any: the strategy reads 10,
/// the imbalance and the fill model's depth at our quotes a few more.
pub const HEAD_MIN: usize = 32;

#[derive(Clone, Debug)]
pub struct Ladder {
    side: Side,
    levels: Levels,
}

#[derive(Clone, Debug)]
enum Levels {
    /// Sorted by rank, best first; at most `SHALLOW_MAX` levels.
    Shallow(Vec<Level>),
    /// `head` sorted by rank, best first, at most `SHALLOW_MAX` levels; every rank in `tail`
    /// is behind the head's last; `tail` holds levels only while `head` holds `HEAD_MIN`.
    Deep { head: Vec<Level>, tail: BTreeMap<i64, Level> },
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
    Deep(std::iter::Chain<std::slice::Iter<'a, Level>, btree_map::Values<'a, i64, Level>>),
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

/// Levels in a range of ranks, best first ([`Ladder::between`]): those of the head, then
/// those of the tree.
pub struct Range<'a> {
    head: std::slice::Iter<'a, Level>,
    tail: Option<btree_map::Range<'a, i64, Level>>,
}

impl<'a> Iterator for Range<'a> {
    type Item = &'a Level;
    #[inline]
    fn next(&mut self) -> Option<&'a Level> {
        match self.head.next() {
            Some(l) => Some(l),
            None => self.tail.as_mut()?.next().map(|(_, l)| l),
        }
    }
}

/// The index range of `v` (sorted by rank) with ranks strictly after `lo` (no bound when
/// `None`) and at or before `hi` (no bound when `None`); empty when `lo >= hi`.
#[inline]
fn span(v: &[Level], side: Side, lo: Option<i64>, hi: Option<i64>) -> std::ops::Range<usize> {
    let from = lo.map_or(0, |lo| v.partition_point(|l| rank(side, l.px) <= lo));
    let to = hi.map_or(v.len(), |hi| v.partition_point(|l| rank(side, l.px) <= hi)).max(from);
    from..to
}

/// The tree's ranks strictly after `lo` and at or before `hi` (`None`: unbounded), or `None`
/// when the range is empty for sure: `lo >= hi`, or `hi` at or before the head's last rank
/// (every tree rank is behind it), which spares the tree a search.
#[inline]
fn tail_range<'a>(
    tail: &'a BTreeMap<i64, Level>,
    head_last: Option<i64>,
    lo: Option<i64>,
    hi: Option<i64>,
) -> Option<btree_map::Range<'a, i64, Level>> {
    if tail.is_empty() || matches!((lo, hi), (Some(lo), Some(hi)) if lo >= hi) {
        return None;
    }
    if let (Some(last), Some(hi)) = (head_last, hi) {
        if hi <= last {
            return None;
        }
    }
    let from = lo.map_or(Bound::Unbounded, Bound::Excluded);
    let to = hi.map_or(Bound::Unbounded, Bound::Included);
    Some(tail.range((from, to)))
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
            Levels::Deep { head, tail } => head.len() + tail.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the side is held in its deep form (for tests and benches).
    pub fn is_deep(&self) -> bool {
        matches!(self.levels, Levels::Deep { .. })
    }

    /// How many levels a deep side holds in its tree (0 when shallow; for tests).
    pub fn tree_len(&self) -> usize {
        match &self.levels {
            Levels::Shallow(_) => 0,
            Levels::Deep { tail, .. } => tail.len(),
        }
    }

    /// The form's invariants: sorted best first without repeats, the head's bounds, every tree
    /// rank behind the head's last (for tests).
    #[cfg(test)]
    fn invariants_hold(&self) -> bool {
        let sorted = |v: &[Level]| v.windows(2).all(|w| self.rank(w[0].px) < self.rank(w[1].px));
        match &self.levels {
            Levels::Shallow(v) => v.len() <= SHALLOW_MAX && sorted(v),
            Levels::Deep { head, tail } => {
                head.len() <= SHALLOW_MAX
                    && sorted(head)
                    && (tail.is_empty() || head.len() >= HEAD_MIN)
                    && tail.iter().all(|(&k, l)| k == self.rank(l.px) && Some(k) > self.last_rank(head))
            }
        }
    }

    /// Removes every level; the side is shallow again (the head's buffer kept).
    pub fn clear(&mut self) {
        match &mut self.levels {
            Levels::Shallow(v) => v.clear(),
            Levels::Deep { head, .. } => {
                let mut v = std::mem::take(head);
                v.clear();
                self.levels = Levels::Shallow(v);
            }
        }
    }

    /// The side becomes `levels` (a snapshot's): the same as [`Ladder::clear`] then
    /// [`Ladder::upsert`] of each level in order. A snapshot's levels come best first, each
    /// price once and no zero size (a Hyperliquid `l2Book` every time), and then they are the
    /// side as they stand: copied at once, where one `upsert` per level was about 4% of a
    /// Hyperliquid replay's engine thread. Anything else goes level by level.
    pub fn assign(&mut self, levels: &[Level]) {
        self.clear();
        let side = self.side;
        let as_they_stand = levels.len() <= SHALLOW_MAX
            && levels.iter().all(|l| l.sz.0 != 0)
            && levels.windows(2).all(|w| rank(side, w[0].px) < rank(side, w[1].px));
        match &mut self.levels {
            Levels::Shallow(v) if as_they_stand => v.extend_from_slice(levels),
            _ => {
                for l in levels {
                    self.upsert(*l);
                }
            }
        }
    }

    pub fn best(&self) -> Option<Level> {
        match &self.levels {
            // A deep side's head holds levels whenever its tree does.
            Levels::Shallow(v) | Levels::Deep { head: v, .. } => v.first().copied(),
        }
    }

    /// Levels best first.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        match &self.levels {
            Levels::Shallow(v) => Iter::Shallow(v.iter()),
            Levels::Deep { head, tail } => Iter::Deep(head.iter().chain(tail.values())),
        }
    }

    /// The head's last rank (a deep side's), or `None` when it is empty.
    #[inline]
    fn last_rank(&self, head: &[Level]) -> Option<i64> {
        head.last().map(|l| self.rank(l.px))
    }

    /// Sets a level's size (absolute); size 0 removes it.
    #[inline]
    pub fn upsert(&mut self, l: Level) {
        let k = self.rank(l.px);
        let side = self.side;
        match &mut self.levels {
            Levels::Shallow(v) => {
                if !upsert_sorted(v, side, k, l) {
                    // Past the bound: the best `SHALLOW_MAX` stay in the head, the last goes
                    // to the tree.
                    let worst = v.pop().expect("a full side");
                    self.levels = Levels::Deep {
                        head: std::mem::take(v),
                        tail: BTreeMap::from([(rank(side, worst.px), worst)]),
                    };
                }
            }
            Levels::Deep { head, tail } => {
                let in_head = tail.is_empty() || head.last().is_some_and(|x| k <= rank(side, x.px));
                if !in_head {
                    if l.sz.0 == 0 {
                        tail.remove(&k);
                    } else {
                        tail.insert(k, l);
                    }
                } else if !upsert_sorted(head, side, k, l) {
                    let worst = head.pop().expect("a full head");
                    tail.insert(rank(side, worst.px), worst);
                } else if head.len() < HEAD_MIN {
                    // Every tree rank is behind the head's last: the tree's first appends.
                    if let Some((_, first)) = tail.pop_first() {
                        head.push(first);
                    }
                }
            }
        }
    }

    /// Displayed size at exactly `px`.
    pub fn size_at(&self, px: Price) -> Qty {
        let k = self.rank(px);
        let at = |v: &[Level]| v.binary_search_by_key(&k, |x| self.rank(x.px)).map_or(Qty::ZERO, |i| v[i].sz);
        match &self.levels {
            Levels::Shallow(v) => at(v),
            Levels::Deep { head, tail } => match self.last_rank(head) {
                Some(last) if k <= last => at(head),
                _ => tail.get(&k).map_or(Qty::ZERO, |l| l.sz),
            },
        }
    }

    /// Total size at `px` or better (saturating).
    pub fn size_at_or_better(&self, px: Price) -> Qty {
        let k = self.rank(px);
        let sum = self.between_ranks(None, k).map(|l| l.sz.0).fold(0i64, i64::saturating_add);
        Qty(sum)
    }

    /// Levels strictly behind `top` (further from the touch) and at `px` or better: the depth
    /// between a newer best price and a resting order's price.
    pub fn between(&self, top: Price, px: Price) -> Range<'_> {
        self.between_ranks(Some(self.rank(top)), self.rank(px))
    }

    /// Levels with ranks strictly after `lo` (all when `None`) and at or before `hi`.
    fn between_ranks(&self, lo: Option<i64>, hi: i64) -> Range<'_> {
        match &self.levels {
            Levels::Shallow(v) => Range { head: v[span(v, self.side, lo, Some(hi))].iter(), tail: None },
            Levels::Deep { head, tail } => Range {
                head: head[span(head, self.side, lo, Some(hi))].iter(),
                tail: tail_range(tail, self.last_rank(head), lo, Some(hi)),
            },
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
                let s = &v[span(v, self.side, lo, hi)];
                out.extend(s[..n.min(s.len())].iter().map(|l| (l.px, l.sz)));
            }
            Levels::Deep { head, tail } => {
                let s = &head[span(head, self.side, lo, hi)];
                out.extend(s[..n.min(s.len())].iter().map(|l| (l.px, l.sz)));
                let more = n - n.min(s.len());
                if more > 0 {
                    if let Some(r) = tail_range(tail, self.last_rank(head), lo, hi) {
                        out.extend(r.take(more).map(|(_, l)| (l.px, l.sz)));
                    }
                }
            }
        }
    }

    /// Total size of the best `n` levels.
    pub fn top_size(&self, n: usize) -> i128 {
        let sum = |v: &[Level]| v[..n.min(v.len())].iter().map(|l| i128::from(l.sz.0)).sum::<i128>();
        match &self.levels {
            Levels::Shallow(v) => sum(v),
            Levels::Deep { head, tail } => {
                sum(head)
                    + tail.values().take(n - n.min(head.len())).map(|l| i128::from(l.sz.0)).sum::<i128>()
            }
        }
    }
}

/// Sets level `l` (rank `k`) in `v`, sorted by rank, best first; size 0 removes it. False,
/// with `l` inserted, when `v` then holds more than `SHALLOW_MAX` levels.
#[inline(always)]
fn upsert_sorted(v: &mut Vec<Level>, side: Side, k: i64, l: Level) -> bool {
    // Levels of a snapshot arrive best first: the common case appends.
    let at = match v.last() {
        Some(last) if rank(side, last.px) < k => Err(v.len()),
        None => Err(0),
        _ => v.binary_search_by_key(&k, |x| rank(side, x.px)),
    };
    match (at, l.sz.0 == 0) {
        (Ok(i), true) => {
            v.remove(i);
            true
        }
        (Ok(i), false) => {
            v[i] = l;
            true
        }
        (Err(_), true) => true,
        (Err(i), false) => {
            v.insert(i, l);
            v.len() <= SHALLOW_MAX
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

    proptest::proptest! {
        /// `assign` is `clear` and one `upsert` per level, on both sides, from a shallow or a
        /// deep side: snapshots best first (the copy), and lists out of order, with repeated
        /// prices, zero or negative sizes, or past `SHALLOW_MAX` (level by level). The same
        /// levels in the same order, in the same form.
        #[test]
        fn assigning_a_snapshot_is_clearing_and_upserting_each_level(
            sell in proptest::bool::ANY,
            before in proptest::collection::vec((0i64..400, 1i64..5), 0..150),
            pxs in proptest::collection::vec(0i64..400, 0..90),
            sizes in proptest::collection::vec(-1i64..4, 90),
            shape in 0u8..5,
        ) {
            let side = if sell { Side::Sell } else { Side::Buy };
            let mut levels: Vec<Level> =
                pxs.iter().zip(&sizes).map(|(&px, &sz)| lv(px, if shape == 0 { sz } else { sz.max(1) })).collect();
            if shape >= 2 {
                // A snapshot as venues send it: best first, each price once (but shape 4:
                // best first with repeated prices, the last of which stands).
                levels.sort_by_key(|l| rank(side, l.px));
                if shape != 4 {
                    levels.dedup_by_key(|l| l.px);
                }
                if shape == 3 {
                    levels.truncate(SHALLOW_MAX);
                }
            }
            let mut assigned = Ladder::new(side);
            for &(px, sz) in &before {
                assigned.upsert(lv(px, sz));
            }
            let mut upserted = assigned.clone();
            assigned.assign(&levels);
            upserted.clear();
            for l in &levels {
                upserted.upsert(*l);
            }
            let all = |l: &Ladder| l.iter().map(|x| (x.px, x.sz, x.n)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(all(&assigned), all(&upserted));
            proptest::prop_assert_eq!((assigned.is_deep(), assigned.tree_len()), (upserted.is_deep(), upserted.tree_len()));
            proptest::prop_assert!(assigned.invariants_hold());
        }
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
        /// Removes the best level (a touch eaten level by level: a deep side's head shrinks).
        DeleteBest,
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

    /// `op()`'s mix, then a drain at the touch: a deep side's head shrinks to `HEAD_MIN` and
    /// takes levels back from its tree (a refill-reaching count is pinned below).
    fn ops() -> impl proptest::strategy::Strategy<Value = Vec<Op>> {
        use proptest::prelude::*;
        let drain = prop_oneof![
            50 => Just(Op::DeleteBest),
            10 => (0i64..200, 1i64..5).prop_map(|(p, s)| Op::Upsert(p, s)),
            10 => (0i64..200).prop_map(|p| Op::Upsert(p, 0)),
        ];
        (proptest::collection::vec(op(), 1..400), proptest::collection::vec(drain, 0..200)).prop_map(
            |(mut a, b)| {
                a.extend(b);
                a
            },
        )
    }

    #[test]
    fn the_operation_mix_reaches_the_deep_form() {
        use proptest::strategy::{Strategy, ValueTree};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut deep, mut refilled) = (0, 0);
        for _ in 0..50 {
            let ops = ops().new_tree(&mut runner).unwrap().current();
            let mut l = Ladder::new(Side::Sell);
            let (mut was_deep, mut was_refilled) = (false, false);
            for op in ops {
                match op {
                    Op::Upsert(px, sz) => l.upsert(lv(px, sz)),
                    Op::DeleteBest => {
                        if let Some(b) = l.best() {
                            l.upsert(lv(b.px.0, 0));
                        }
                    }
                    Op::Clear => l.clear(),
                }
                was_deep |= l.is_deep();
                // The head at its lower bound with the tree holding levels: a delete in the
                // head took a level back from the tree.
                was_refilled |= l.tree_len() > 0 && l.len() - l.tree_len() == HEAD_MIN;
            }
            deep += usize::from(was_deep);
            refilled += usize::from(was_refilled);
        }
        assert!(deep >= 25, "only {deep} of 50 runs reached the deep form");
        assert!(refilled >= 10, "only {refilled} of 50 runs refilled a deep side's head from its tree");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 200, ..Default::default() })]
        #[test]
        fn both_forms_answer_as_a_sorted_map(ops in ops(), buy: bool, probe in 0i64..200, top in 0i64..200, n in 0usize..30) {
            let side = if buy { Side::Buy } else { Side::Sell };
            let mut l = Ladder::new(side);
            let mut m = BTreeMap::<i64, i64>::new();
            for op in ops {
                match op {
                    Op::Upsert(px, sz) => {
                        l.upsert(lv(px, sz));
                        if sz == 0 { m.remove(&px); } else { m.insert(px, sz); }
                    }
                    Op::DeleteBest => {
                        if let Some(b) = l.best() {
                            l.upsert(lv(b.px.0, 0));
                        }
                        let best = if buy { m.keys().next_back() } else { m.keys().next() };
                        if let Some(px) = best.copied() {
                            m.remove(&px);
                        }
                    }
                    Op::Clear => {
                        l.clear();
                        m.clear();
                        proptest::prop_assert!(!l.is_deep());
                    }
                }
                proptest::prop_assert!(l.invariants_hold());
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
    fn a_deep_sides_head_spills_to_and_refills_from_its_tree() {
        let mut a = Ladder::new(Side::Sell);
        for px in 0..100 {
            a.upsert(lv(px, 1));
        }
        assert_eq!((a.len(), a.tree_len()), (100, 100 - SHALLOW_MAX));
        // Deletes at the touch: the head shrinks to its bound, then takes the tree's first.
        for px in 0..60 {
            a.upsert(lv(px, 0));
            assert!(a.invariants_hold());
            assert_eq!(a.best().map(|l| l.px.0), Some(px + 1));
            assert_eq!(a.iter().map(|l| l.px.0).collect::<Vec<_>>(), (px + 1..100).collect::<Vec<_>>());
            let head = a.len() - a.tree_len();
            assert!(head >= HEAD_MIN.min(a.len()), "head {head} after deleting {px}");
        }
        assert_eq!(a.tree_len(), 40 - HEAD_MIN, "the head kept at its bound while the tree holds levels");
        // Inserts at the touch push the head's last into the tree.
        for px in (0..60).rev() {
            a.upsert(lv(px, 2));
            assert!(a.invariants_hold());
        }
        assert_eq!((a.len(), a.tree_len()), (100, 100 - SHALLOW_MAX));
        assert_eq!(a.size_at(Price(0)).0, 2);
        assert_eq!(a.size_at(Price(99)).0, 1);
        assert_eq!(a.size_at_or_better(Price(70)).0, 60 * 2 + 11);
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
