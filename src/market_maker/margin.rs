//! The margin tracker for linear perps (one account, several coins). The seed's margin bug was
//! `update_state()` never being called, so the tracker saw no available margin: here the engine
//! calls it on every position change and mark update, and a test checks it stays in sync.

use crate::types::{i128_to_f64, notional, Price, Qty, Side};
use serde::{Deserialize, Serialize};

/// What the tracker knows of one coin.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct CoinExposure {
    pub position: Qty,
    pub mark: Price,
    /// Total size of our open buy and sell orders.
    pub open_bids: Qty,
    pub open_asks: Qty,
    /// This coin's realized + unrealized - fees (units of 10^-8 quote).
    pub pnl: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MarginTracker {
    leverage: f64,
    starting_equity: i64,
    coins: Vec<CoinExposure>,
    pub margin_rejects: u64,
    /// How many times `update_state()` ran (the seed's bug was zero).
    pub updates: u64,
}

impl MarginTracker {
    pub fn new(leverage: f64, starting_equity: i64, n_coins: usize) -> Self {
        MarginTracker {
            leverage,
            starting_equity,
            coins: vec![CoinExposure::default(); n_coins],
            margin_rejects: 0,
            updates: 0,
        }
    }

    /// Brings the tracker in sync with one coin's position, mark, open orders and PnL.
    pub fn update_state(&mut self, coin: usize, exposure: CoinExposure) {
        self.coins[coin] = exposure;
        self.updates += 1;
    }

    pub fn exposure(&self, coin: usize) -> CoinExposure {
        self.coins[coin]
    }

    /// Initial margin of one coin: the worse side of position plus open orders (netted per
    /// side: resting sells reduce a long's exposure only if they fill, so they do not offset).
    fn coin_im(e: &CoinExposure, leverage: f64) -> i64 {
        let long = (e.position.0 + e.open_bids.0).abs();
        let short = (e.position.0 - e.open_asks.0).abs();
        let worst = Qty(long.max(short));
        (i128_to_f64(notional(e.mark, worst)) / leverage) as i64
    }

    pub fn required(&self) -> i64 {
        self.coins.iter().map(|e| Self::coin_im(e, self.leverage)).sum()
    }

    pub fn available(&self) -> i64 {
        self.equity() - self.required()
    }

    /// Starting equity + realized + unrealized - fees over all coins.
    pub fn equity(&self) -> i64 {
        self.starting_equity + self.coins.iter().map(|c| c.pnl).sum::<i64>()
    }

    /// Would one more order of `sz` on `side` fit in the available margin? Counts a reject when not.
    pub fn check_order(&mut self, coin: usize, side: Side, sz: Qty) -> bool {
        let mut e = self.coins[coin];
        match side {
            Side::Buy => e.open_bids.0 += sz.0,
            Side::Sell => e.open_asks.0 += sz.0,
        }
        let extra = Self::coin_im(&e, self.leverage) - Self::coin_im(&self.coins[coin], self.leverage);
        if extra > self.available() {
            self.margin_rejects += 1;
            false
        } else {
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_beyond_available_margin_are_rejected_and_counted() {
        let usd = 100_000_000i64;
        let mut m = MarginTracker::new(10.0, 1_000 * usd, 1);
        let mark = Price(50_000 * usd);
        m.update_state(0, CoinExposure { position: Qty(0), mark, ..Default::default() });
        assert!(m.check_order(0, Side::Buy, Qty(10_000_000))); // 0.1 BTC = 5,000 USD notional, IM 500
        m.update_state(0, CoinExposure { position: Qty(10_000_000), mark, ..Default::default() });
        assert_eq!(m.available(), 500 * usd);
        assert!(!m.check_order(0, Side::Buy, Qty(20_000_000))); // IM 1,000 > 500
        assert_eq!(m.margin_rejects, 1);
        // A sell reduces the long: it needs no extra margin.
        assert!(m.check_order(0, Side::Sell, Qty(10_000_000)));
    }
}
