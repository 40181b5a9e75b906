//! One side of an order book: price levels ordered best first, with O(log n) insert, update
//! and delete at any depth.
//!
//! Why not a sorted `Vec`: a Binance book grows to thousands of levels a side, and every
//! `depthUpdate` level inserted or deleted near the touch shifted the whole deep tail
//! (`memmove` was over half of a Binance replay's time). A `BTreeMap` keyed by a rank that
//! grows away from the touch on both sides (`px` for asks, `!px` for bids: bitwise not is a
//! strictly decreasing bijection on i64, so it cannot overflow) iterates best first for both
//! sides with one code path.
//!
//! Serialized as the sequence of levels best first, exactly as the `Vec<Level>` it replaced, so
//! checkpoints keep their bytes.

use super::event::Level;
use crate::types::{Price, Qty, Side};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::ops::Bound;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ladder {
    side: Side,
    levels: BTreeMap<i64, Level>,
}

impl Ladder {
    pub fn new(side: Side) -> Ladder {
        Ladder { side, levels: BTreeMap::new() }
    }

    /// The rank of a price on this side: smaller is closer to the touch.
    #[inline]
    fn rank(&self, px: Price) -> i64 {
        match self.side {
            Side::Buy => !px.0,
            Side::Sell => px.0,
        }
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub fn clear(&mut self) {
        self.levels.clear();
    }

    pub fn best(&self) -> Option<Level> {
        self.levels.first_key_value().map(|(_, l)| *l)
    }

    /// Levels best first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Level> + ExactSizeIterator + '_ {
        self.levels.values()
    }

    /// Sets a level's size (absolute); size 0 removes it.
    #[inline]
    pub fn upsert(&mut self, l: Level) {
        let k = self.rank(l.px);
        if l.sz.0 == 0 {
            self.levels.remove(&k);
        } else {
            self.levels.insert(k, l);
        }
    }

    /// Displayed size at exactly `px`.
    pub fn size_at(&self, px: Price) -> Qty {
        self.levels.get(&self.rank(px)).map_or(Qty::ZERO, |l| l.sz)
    }

    /// Total size at `px` or better (saturating).
    pub fn size_at_or_better(&self, px: Price) -> Qty {
        let sum = self.levels.range(..=self.rank(px)).map(|(_, l)| l.sz.0).fold(0i64, i64::saturating_add);
        Qty(sum)
    }

    /// Levels strictly behind `top` (further from the touch) and at `px` or better: the depth
    /// between a newer best price and a resting order's price.
    pub fn between(&self, top: Price, px: Price) -> impl Iterator<Item = &Level> + '_ {
        let (lo, hi) = (self.rank(top), self.rank(px));
        // An empty range when px is not behind top (BTreeMap::range panics on lo > hi).
        let range =
            if lo < hi { Some(self.levels.range((Bound::Excluded(lo), Bound::Included(hi)))) } else { None };
        range.into_iter().flatten().map(|(_, l)| l)
    }
}

impl Serialize for Ladder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.levels.values())
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
}
