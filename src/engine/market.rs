//! The engine's view of the venue layer: the order book through the fill simulator's
//! [`BookView`], with the best bid and offer overlaid when a `bbo`/`bookTicker` message is
//! newer than the last book update. Hyperliquid pushes `l2Book` at most every ~0.5 s but `bbo`
//! whenever the top changes: quoting and filling against the half-second-old top would put
//! probes and quotes at the wrong depth and miss (or invent) book-crossing fills.

use crate::market_maker::simulation::fill_sim::BookView;
use crate::types::{Price, Qty, Side, Timestamp};
use crate::venue::event::Level;
use crate::venue::OrderBook;
use serde::{Deserialize, Serialize};

/// A best bid and offer newer than the book.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Top {
    pub bid: Level,
    pub ask: Level,
}

impl Top {
    /// The top of a `Bbo` event when it is usable and newer than `book`: both sides present,
    /// not crossed, and later by update id (Binance) or exchange time (Hyperliquid).
    pub fn newer_than(
        book: &OrderBook,
        bid: Option<Level>,
        ask: Option<Level>,
        exch_ns: Timestamp,
        update_id: Option<u64>,
    ) -> Option<Top> {
        let (bid, ask) = (bid?, ask?);
        if bid.px >= ask.px || bid.sz.0 <= 0 || ask.sz.0 <= 0 {
            return None;
        }
        let newer = match (update_id, book.update_id()) {
            (Some(u), Some(b)) => u >= b,
            _ => exch_ns >= book.exch_ns(),
        };
        newer.then_some(Top { bid, ask })
    }
}

/// The book with an optional newer top.
pub struct TopView<'a> {
    pub book: &'a OrderBook,
    pub top: Option<&'a Top>,
}

impl TopView<'_> {
    pub fn mid(&self) -> Option<Price> {
        match self.top {
            Some(t) => Some(Price((t.bid.px.0 + t.ask.px.0).div_euclid(2))),
            None => self.book.mid(),
        }
    }

    fn top_of(&self, side: Side) -> Option<Level> {
        self.top.map(|t| if side == Side::Buy { t.bid } else { t.ask })
    }
}

/// `a` is at or behind `b` on `side` (further from the touch, or equal).
fn behind_or_at(side: Side, a: Price, b: Price) -> bool {
    match side {
        Side::Buy => a <= b,
        Side::Sell => a >= b,
    }
}

impl BookView for TopView<'_> {
    fn best_bid(&self) -> Option<Price> {
        self.top.map(|t| t.bid.px).or_else(|| self.book.best_bid().map(|l| l.px))
    }
    fn best_ask(&self) -> Option<Price> {
        self.top.map(|t| t.ask.px).or_else(|| self.book.best_ask().map(|l| l.px))
    }
    fn size_at(&self, side: Side, px: Price) -> Qty {
        match self.top_of(side) {
            Some(t) if t.px == px => t.sz,
            // Better than the newer top: that liquidity is gone.
            Some(t) if !behind_or_at(side, px, t.px) => Qty(0),
            _ => self.book.size_at(side, px),
        }
    }
    fn size_at_or_better(&self, side: Side, px: Price) -> Qty {
        let Some(t) = self.top_of(side) else { return self.book.size_at_or_better(side, px) };
        if !behind_or_at(side, px, t.px) {
            return Qty(0);
        }
        // The newer top's size, plus the book's levels strictly behind the top down to px.
        let behind: i64 = self.book.side(side).between(t.px, px).map(|l| l.sz.0).sum();
        Qty(t.sz.0 + behind)
    }
    fn top_levels(&self, side: Side, n: usize, out: &mut Vec<(Price, Qty)>) {
        let levels = self.book.side(side);
        match self.top_of(side) {
            Some(t) if n > 0 => {
                out.push((t.px, t.sz));
                // Levels better than the newer top are gone; the top's own level is its size.
                levels.extend_pairs(Some(t.px), None, n - 1, out);
            }
            Some(_) => {}
            None => levels.extend_pairs(None, None, n, out),
        }
    }
    fn levels_at_or_better(&self, side: Side, px: Price, out: &mut Vec<(Price, Qty)>) {
        let levels = self.book.side(side);
        match self.top_of(side) {
            Some(t) => {
                if !behind_or_at(side, px, t.px) {
                    return;
                }
                out.push((t.px, t.sz));
                // Levels better than the newer top are gone; the top's own level is its size.
                levels.extend_pairs(Some(t.px), Some(px), usize::MAX, out);
            }
            None => levels.extend_pairs(None, Some(px), usize::MAX, out),
        }
    }
}

/// Book imbalance over the top `levels`: (bid - ask) / (bid + ask) in [-1, 1].
pub fn imbalance(book: &OrderBook, levels: usize) -> f64 {
    book.imbalance(levels)
}
