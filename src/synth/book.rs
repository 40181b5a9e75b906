//! One side of the synthetic order book, in integer ticks and lots, best level first.

/// A price level: price in ticks, size in lots, number of orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookLevel {
    pub px_ticks: i64,
    pub lots: i64,
    pub n: u32,
}

/// Bids (best = highest) or asks (best = lowest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookSide {
    Bid,
    Ask,
}

impl BookSide {
    /// +1 when prices grow away from the touch (asks), -1 when they shrink (bids).
    pub fn away(self) -> i64 {
        match self {
            BookSide::Bid => -1,
            BookSide::Ask => 1,
        }
    }
}

/// The levels of one side, best first, strictly ordered by price.
#[derive(Clone, Debug)]
pub struct SideBook {
    pub side: BookSide,
    pub levels: Vec<BookLevel>,
}

impl SideBook {
    pub fn new(side: BookSide) -> SideBook {
        SideBook { side, levels: Vec::with_capacity(40) }
    }

    /// Sort key that grows away from the touch.
    fn key(&self, px_ticks: i64) -> i64 {
        px_ticks * self.side.away()
    }

    pub fn best(&self) -> Option<&BookLevel> {
        self.levels.first()
    }

    /// Ticks from the touch price `touch` to `px`, positive away from the spread.
    pub fn depth_ticks(&self, touch: i64, px: i64) -> i64 {
        (px - touch) * self.side.away()
    }

    /// Removes levels better than `touch` (they would sit inside the target spread).
    pub fn remove_inside(&mut self, touch: i64) {
        let k = self.key(touch);
        let cut = self.levels.iter().take_while(|l| l.px_ticks * self.side.away() < k).count();
        self.levels.drain(..cut);
    }

    /// Index of the level at `px`, or where it would be inserted.
    pub fn find(&self, px_ticks: i64) -> Result<usize, usize> {
        let k = self.key(px_ticks);
        let away = self.side.away();
        self.levels.binary_search_by_key(&k, |l| l.px_ticks * away)
    }

    /// Inserts a level at a free price; returns false when the price is taken.
    pub fn insert(&mut self, level: BookLevel) -> bool {
        match self.find(level.px_ticks) {
            Ok(_) => false,
            Err(i) => {
                self.levels.insert(i, level);
                true
            }
        }
    }

    /// The price `ticks` away from `touch`, away from the spread.
    pub fn px_at_depth(&self, touch: i64, ticks: i64) -> i64 {
        touch + ticks * self.side.away()
    }

    /// Total lots of the first `n` levels.
    pub fn top_lots(&self, n: usize) -> i64 {
        self.levels.iter().take(n).map(|l| l.lots).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lvl(px: i64) -> BookLevel {
        BookLevel { px_ticks: px, lots: 1, n: 1 }
    }

    #[test]
    fn bids_and_asks_keep_best_first() {
        let mut bids = SideBook::new(BookSide::Bid);
        for px in [100, 98, 99, 95] {
            assert!(bids.insert(lvl(px)));
        }
        assert!(!bids.insert(lvl(99)));
        assert_eq!(bids.levels.iter().map(|l| l.px_ticks).collect::<Vec<_>>(), [100, 99, 98, 95]);
        bids.remove_inside(98);
        assert_eq!(bids.best().map(|l| l.px_ticks), Some(98));

        let mut asks = SideBook::new(BookSide::Ask);
        for px in [103, 101, 102] {
            asks.insert(lvl(px));
        }
        assert_eq!(asks.levels.iter().map(|l| l.px_ticks).collect::<Vec<_>>(), [101, 102, 103]);
        asks.remove_inside(102);
        assert_eq!(asks.best().map(|l| l.px_ticks), Some(102));
        assert_eq!(asks.px_at_depth(102, 3), 105);
        assert_eq!(bids.px_at_depth(98, 3), 95);
        assert_eq!(bids.depth_ticks(98, 95), 3);
    }
}
