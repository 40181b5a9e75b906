//! The engine's view of the venue layer: the order book through the fill simulator's
//! [`BookView`], and the few book figures the models read. Keeping these adaptations in one
//! place keeps the models independent of the book's representation.

use crate::market_maker::simulation::fill_sim::BookView;
use crate::types::{Price, Qty, Side};
use crate::venue::OrderBook;

impl BookView for OrderBook {
    fn best_bid(&self) -> Option<Price> {
        OrderBook::best_bid(self).map(|l| l.px)
    }
    fn best_ask(&self) -> Option<Price> {
        OrderBook::best_ask(self).map(|l| l.px)
    }
    fn size_at(&self, side: Side, px: Price) -> Qty {
        OrderBook::size_at(self, side, px)
    }
    fn size_at_or_better(&self, side: Side, px: Price) -> Qty {
        OrderBook::size_at_or_better(self, side, px)
    }
}

/// Book imbalance over the top `levels`: (bid - ask) / (bid + ask) in [-1, 1].
pub fn imbalance(book: &OrderBook, levels: usize) -> f64 {
    book.imbalance(levels)
}
