//! The market of one coin: a latent fair price, a persistent 20-level book around it, and the
//! aggressive orders that trade against that book.
//!
//! The book persists from one push to the next (levels are cancelled, resized and inserted a
//! few at a time), as a real book does; that also lets the recorder compress it as it
//! compresses real data. The touch follows the fair price: when the target bid or ask moves,
//! levels now inside the spread are removed and a new touch level appears.

use super::book::{BookLevel, BookSide, SideBook};
use super::config::{Contract, SynthConfig};
use super::rng::Rng;

/// One trade of an aggressive order: price in ticks, size in lots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Print {
    pub px_ticks: i64,
    pub lots: i64,
}

/// An information window: informed orders flow in the direction of the move that ends it,
/// and the book leans that way while it lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InfoWindow {
    pub up: bool,
    pub end_ms: u64,
    pub move_ticks: i64,
}

/// Aggressive orders that reach only the touch take this fraction of it at most, so that a
/// touch is rarely emptied by small flow.
const TOUCH_TAKE_MAX: f64 = 0.8;
/// Levels kept beyond the published ones, so that cancels and sweeps do not expose a short book.
const HIDDEN_LEVELS: usize = 6;
/// Levels kept at most beyond the published ones (older deep levels are dropped).
const MAX_EXTRA_LEVELS: usize = 16;
/// Probability per book push that the spread is drawn anew (spreads persist for seconds).
const SPREAD_REDRAW_PROB: f64 = 0.1;

pub struct CoinSim {
    pub contract: Contract,
    /// Latent fair price in ticks (continuous; the book's touch is derived from it).
    fair_ticks: f64,
    spread_ticks: i64,
    targets: (i64, i64),
    pub bids: SideBook,
    pub asks: SideBook,
    rng_mid: Rng,
    rng_book: Rng,
    rng_flow: Rng,
    pub info: Option<InfoWindow>,
}

impl CoinSim {
    pub fn new(contract: Contract, cfg: &SynthConfig, rng_mid: Rng, rng_book: Rng, rng_flow: Rng) -> CoinSim {
        let mut c = CoinSim {
            fair_ticks: contract.start_ticks as f64,
            contract,
            spread_ticks: 1,
            targets: (0, 0),
            bids: SideBook::new(BookSide::Bid),
            asks: SideBook::new(BookSide::Ask),
            rng_mid,
            rng_book,
            rng_flow,
            info: None,
        };
        c.spread_ticks = c.draw_spread(cfg, cfg.regimes.get(cfg.initial_regime).spread_factor);
        c.realign(cfg);
        c.seed_levels(cfg);
        c
    }

    /// Ticks per basis point of the current price.
    fn ticks_per_bp(&self) -> f64 {
        self.fair_ticks * 1e-4
    }

    /// The price of one tick... in quote currency (USD), as f64 for size draws only.
    fn px_usd(&self) -> f64 {
        self.fair_ticks * self.contract.tick_units as f64 * 1e-8
    }

    /// Target best bid and best ask (ticks) for the fair price and spread.
    fn touch_targets(&self) -> (i64, i64) {
        let mid2 = libm::round(2.0 * self.fair_ticks) as i64;
        let bid = (mid2 - self.spread_ticks).div_euclid(2);
        (bid, bid + self.spread_ticks)
    }

    /// Twice the mid of the book in ticks (so half ticks stay integers), when both sides exist.
    pub fn mid2_ticks(&self) -> Option<i64> {
        Some(self.bids.best()?.px_ticks + self.asks.best()?.px_ticks)
    }

    fn draw_spread(&mut self, cfg: &SynthConfig, factor: f64) -> i64 {
        let bp = self.rng_book.lognormal(cfg.spread_bp_median * factor, cfg.spread_dispersion);
        (libm::round(bp * self.ticks_per_bp()) as i64).max(1)
    }

    /// A fresh level's size and order count; `depth_frac` is 0 at the touch, 1 at the last level.
    fn draw_level(&mut self, cfg: &SynthConfig, depth_frac: f64) -> (i64, u32) {
        let usd =
            cfg.level_size_usd_top + (cfg.level_size_usd_deep - cfg.level_size_usd_top) * depth_frac.min(1.0);
        let mut coins = self.rng_book.lognormal(usd / self.px_usd(), cfg.level_size_dispersion);
        // Real books carry many round sizes ("10.0", "1.0"): people type them.
        if self.rng_book.chance(0.1) {
            coins = round_to_one_significant_figure(coins);
        }
        let lots = (libm::round(coins * 10f64.powi(self.contract.sz_decimals as i32)) as i64).max(1);
        // Order counts: mostly 1, sometimes a few (the archive: 70% 1, 22% 2, 3% 3).
        let mut n = 1;
        while n < 50 && self.rng_book.chance(0.28) {
            n += 1;
        }
        (lots, n)
    }

    /// Keeps the touch at its targets: removes levels inside the spread, adds the touch level.
    fn realign(&mut self, cfg: &SynthConfig) {
        let (bid, ask) = self.touch_targets();
        self.targets = (bid, ask);
        self.bids.remove_inside(bid);
        self.asks.remove_inside(ask);
        for side in [BookSide::Bid, BookSide::Ask] {
            let target = if side == BookSide::Bid { bid } else { ask };
            let missing = self.side(side).best().map_or(true, |l| l.px_ticks != target);
            if missing {
                let (lots, n) = self.draw_level(cfg, 0.0);
                self.side_mut(side).insert(BookLevel { px_ticks: target, lots, n });
            }
        }
        // A move of the mid eats levels on one side: keep every published level filled.
        if self.bids.levels.len() < cfg.levels + 1 || self.asks.levels.len() < cfg.levels + 1 {
            self.extend(cfg);
        }
    }

    fn side(&self, side: BookSide) -> &SideBook {
        match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        }
    }

    fn side_mut(&mut self, side: BookSide) -> &mut SideBook {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    /// The initial book: one level near each profile distance, then the usual extension.
    fn seed_levels(&mut self, cfg: &SynthConfig) {
        for side in [BookSide::Bid, BookSide::Ask] {
            for j in 1..cfg.levels {
                let d_bp = cfg.depth_profile_bp[j] * self.rng_book.lognormal(1.0, 0.15);
                self.insert_at_depth(cfg, side, d_bp, j);
            }
        }
        self.extend(cfg);
    }

    /// Inserts a fresh level `d_bp` from the mid on `side`, if that price is free and behind
    /// the touch.
    fn insert_at_depth(&mut self, cfg: &SynthConfig, side: BookSide, d_bp: f64, index: usize) {
        let (bid, ask) = self.targets;
        let mid = (bid + ask) as f64 / 2.0;
        let px = match side {
            BookSide::Bid => libm::floor(mid - d_bp * self.ticks_per_bp()) as i64,
            BookSide::Ask => libm::ceil(mid + d_bp * self.ticks_per_bp()) as i64,
        };
        let touch = if side == BookSide::Bid { bid } else { ask };
        if self.side(side).depth_ticks(touch, px) <= 0 {
            return;
        }
        let (lots, n) = self.draw_level(cfg, index as f64 / (cfg.levels.max(2) - 1) as f64);
        self.side_mut(side).insert(BookLevel { px_ticks: px, lots, n });
    }

    /// Appends levels behind the last one at the profile's gaps until the side is deep enough,
    /// and drops the deepest beyond the kept range.
    fn extend(&mut self, cfg: &SynthConfig) {
        let tpb = self.ticks_per_bp();
        for side in [BookSide::Bid, BookSide::Ask] {
            while self.side(side).levels.len() < cfg.levels + HIDDEN_LEVELS {
                let len = self.side(side).levels.len();
                let j = len.clamp(1, cfg.levels - 1).max(1).min(cfg.depth_profile_bp.len() - 1);
                let gap_bp = if cfg.levels >= 2 {
                    cfg.depth_profile_bp[j] - cfg.depth_profile_bp[j - 1]
                } else {
                    cfg.depth_profile_bp[0]
                };
                let gap = (libm::round(self.rng_book.exponential(gap_bp * tpb)) as i64).max(1);
                let last = match self.side(side).levels.last() {
                    Some(l) => l.px_ticks,
                    None => {
                        let (bid, ask) = self.targets;
                        if side == BookSide::Bid {
                            bid + 1
                        } else {
                            ask - 1
                        }
                    }
                };
                let px = self.side(side).px_at_depth(last, gap);
                if px <= 0 {
                    break;
                }
                let (lots, n) = self.draw_level(cfg, len as f64 / (cfg.levels.max(2) - 1) as f64);
                self.side_mut(side).levels.push(BookLevel { px_ticks: px, lots, n });
            }
            self.side_mut(side).levels.truncate(cfg.levels + MAX_EXTRA_LEVELS);
        }
    }

    /// One step of the fair price's diffusion (`sigma_bp` per sqrt(s) over `dt_s`).
    pub fn diffuse(&mut self, cfg: &SynthConfig, dt_s: f64, sigma_bp: f64) {
        let step = self.rng_mid.normal() * sigma_bp * self.ticks_per_bp() * libm::sqrt(dt_s);
        self.fair_ticks = (self.fair_ticks + step).max(1000.0);
        // Also refills a touch that an aggressive order emptied: liquidity at the touch comes
        // back within a step, as market makers requote.
        self.realign(cfg);
    }

    /// What happens between two book pushes: the spread may change, the touch is refilled,
    /// levels are cancelled, resized and inserted, and the book is extended.
    pub fn churn(&mut self, cfg: &SynthConfig, spread_factor: f64) {
        if self.rng_book.chance(SPREAD_REDRAW_PROB) {
            self.spread_ticks = self.draw_spread(cfg, spread_factor);
        }
        self.realign(cfg);
        for side in [BookSide::Bid, BookSide::Ask] {
            let mut i = self.side(side).levels.len();
            while i > 0 {
                i -= 1;
                let resize_p = if i == 0 { 3.0 * cfg.level_resize_prob } else { cfg.level_resize_prob };
                let u = self.rng_book.uniform();
                if i > 0 && u < cfg.level_cancel_prob {
                    self.side_mut(side).levels.remove(i);
                } else if u < cfg.level_cancel_prob + resize_p {
                    let f = self.rng_book.lognormal(1.0, 0.5);
                    let l = &mut self.side_mut(side).levels[i];
                    l.lots = (libm::round(l.lots as f64 * f) as i64).max(1);
                    if f > 1.3 {
                        l.n += 1;
                    } else if f < 0.7 && l.n > 1 {
                        l.n -= 1;
                    }
                }
            }
            let p_more = cfg.level_insert_mean / (1.0 + cfg.level_insert_mean);
            while self.rng_book.chance(p_more) {
                let j = self.rng_book.below(cfg.levels as u64) as usize;
                let lo = if j == 0 { 0.0 } else { cfg.depth_profile_bp[j - 1] };
                let d_bp = lo + self.rng_book.uniform() * (cfg.depth_profile_bp[j] - lo);
                // New orders go where the book is thinner than the profile, so the level
                // distances stay at the profile's however the mid wanders.
                if self.levels_within(side, d_bp) <= j {
                    self.insert_at_depth(cfg, side, d_bp, j);
                }
            }
            // And the surplus where it is thicker is cancelled first.
            self.thin_to_profile(cfg, side);
        }
        self.extend(cfg);
    }

    /// Levels of `side` within `d_bp` of the mid.
    fn levels_within(&self, side: BookSide, d_bp: f64) -> usize {
        let (bid, ask) = self.targets;
        let mid2 = bid + ask;
        let tpb = self.ticks_per_bp();
        self.side(side)
            .levels
            .iter()
            .take_while(|l| ((2 * l.px_ticks - mid2).abs() as f64) / 2.0 <= d_bp * tpb)
            .count()
    }

    /// Cancels a level where the side holds more levels than the profile by a margin: the
    /// level k (0-based) is surplus when it sits closer than the profile's level k - margin.
    fn thin_to_profile(&mut self, cfg: &SynthConfig, side: BookSide) {
        const MARGIN: usize = 3;
        let (bid, ask) = self.targets;
        let mid2 = bid + ask;
        let tpb = self.ticks_per_bp();
        let levels = &self.side(side).levels;
        let surplus = (MARGIN + 1..levels.len().min(cfg.levels)).find(|&k| {
            let d_bp = ((2 * levels[k].px_ticks - mid2).abs() as f64) / 2.0 / tpb;
            d_bp < cfg.depth_profile_bp[k - MARGIN]
        });
        if let Some(k) = surplus {
            self.side_mut(side).levels.remove(k);
        }
    }

    /// An aggressive order: its reach D (bp from mid) is exponential with rate kappa, so orders
    /// reach delta or beyond with intensity A exp(-kappa delta). It takes every level better
    /// than its limit price (mid +- D, rounded toward the mid) and trades at the limit itself,
    /// against the level there or, if the last snapshot showed none, against liquidity that
    /// arrived since. So its deepest print is at its reach: a resting order at depth delta is
    /// traded through at exactly the law's intensity. Orders reaching less than the touch trade
    /// at the touch. Returns the reach and the prints, touch first.
    pub fn aggressive(&mut self, cfg: &SynthConfig, buy: bool) -> (f64, Vec<Print>) {
        let side = if buy { BookSide::Ask } else { BookSide::Bid };
        let mut prints = Vec::new();
        let (Some(mid2), Some(touch)) = (self.mid2_ticks(), self.side(side).best().map(|l| l.px_ticks))
        else {
            return (0.0, prints);
        };
        let mid = mid2 as f64 / 2.0;
        let reach_bp = self.rng_flow.exponential(1.0 / cfg.kappa_true);
        let limit = if buy {
            libm::floor(mid + reach_bp * self.ticks_per_bp()) as i64
        } else {
            libm::ceil(mid - reach_bp * self.ticks_per_bp()) as i64
        };
        let beyond_touch = self.side(side).depth_ticks(touch, limit);
        if beyond_touch <= 0 {
            let lots = self.take_partial(cfg, side, 0, TOUCH_TAKE_MAX);
            prints.push(Print { px_ticks: touch, lots });
        } else {
            let away = side.away();
            let swept =
                self.side(side).levels.iter().take_while(|l| l.px_ticks * away < limit * away).count();
            for l in self.side_mut(side).levels.drain(..swept) {
                prints.push(Print { px_ticks: l.px_ticks, lots: l.lots });
            }
            match self.side(side).find(limit) {
                Ok(i) => {
                    let lots = self.take_partial(cfg, side, i, 1.0);
                    prints.push(Print { px_ticks: limit, lots });
                }
                Err(_) => {
                    let lots = self.draw_trade_lots(cfg);
                    prints.push(Print { px_ticks: limit, lots });
                }
            }
        }
        if self.side(side).levels.len() < cfg.levels + 1 {
            self.extend(cfg);
        }
        (reach_bp, prints)
    }

    fn draw_trade_lots(&mut self, cfg: &SynthConfig) -> i64 {
        let coins =
            self.rng_flow.lognormal(cfg.trade_size_usd_median / self.px_usd(), cfg.trade_size_dispersion);
        (libm::round(coins * 10f64.powi(self.contract.sz_decimals as i32)) as i64).max(1)
    }

    /// Takes part of level `i`: an order's own size, at most `max_frac` of the level (the
    /// whole level when `max_frac` is 1 and the draw exceeds it); removes an emptied level.
    fn take_partial(&mut self, cfg: &SynthConfig, side: BookSide, i: usize, max_frac: f64) -> i64 {
        let want = self.draw_trade_lots(cfg);
        let level = self.side(side).levels[i];
        let cap = if max_frac >= 1.0 { level.lots } else { ((level.lots as f64 * max_frac) as i64).max(1) };
        let lots = want.min(cap);
        let l = &mut self.side_mut(side).levels[i];
        l.lots -= lots;
        if l.lots <= 0 {
            self.side_mut(side).levels.remove(i);
        } else if l.n > 1 && lots * 2 > level.lots {
            l.n -= 1;
        }
        lots
    }

    /// The coin's flow stream, which also times its orders.
    pub fn rng_flow_mut(&mut self) -> &mut Rng {
        &mut self.rng_flow
    }

    /// Opens an information window; the move that will end it is sized in the regime's sigmas.
    pub fn open_window(&mut self, cfg: &SynthConfig, end_ms: u64, sigma_bp: f64) {
        let up = self.rng_flow.chance(0.5);
        let move_bp = cfg.informed_move_sigmas * sigma_bp;
        let move_ticks = (libm::round(move_bp * self.ticks_per_bp()) as i64).max(1);
        self.info = Some(InfoWindow { up, end_ms, move_ticks });
    }

    /// Closes the window: the mid moves in the informed direction.
    pub fn close_window(&mut self, cfg: &SynthConfig) {
        if let Some(w) = self.info.take() {
            let signed = if w.up { w.move_ticks } else { -w.move_ticks };
            self.fair_ticks = (self.fair_ticks + signed as f64).max(1000.0);
            self.realign(cfg);
        }
    }

    /// The top `cfg.levels` of a side as published: during an information window the side the
    /// mid will move toward shows more size near the touch (imbalance leads the move).
    pub fn published(&self, cfg: &SynthConfig, side: BookSide, out: &mut Vec<BookLevel>) {
        out.clear();
        out.extend(self.side(side).levels.iter().take(cfg.levels).copied());
        if let Some(w) = self.info {
            let leaning = if w.up { BookSide::Bid } else { BookSide::Ask };
            if leaning == side {
                for l in out.iter_mut().take(cfg.imbalance_levels) {
                    l.lots = (libm::round(l.lots as f64 * (1.0 + cfg.imbalance_tilt)) as i64).max(1);
                }
            }
        }
    }
}

/// 0.347 -> 0.3, 12.7 -> 10, 2.6 -> 3.
fn round_to_one_significant_figure(x: f64) -> f64 {
    if x <= 0.0 {
        return x;
    }
    let mag = libm::pow(10.0, libm::floor(libm::log10(x)));
    libm::round(x / mag) * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> (SynthConfig, CoinSim) {
        let cfg = SynthConfig::default();
        let contract = cfg.contract("BTC").unwrap();
        let sim = CoinSim::new(contract, &cfg, Rng::new(1), Rng::new(2), Rng::new(3));
        (cfg, sim)
    }

    fn check_book(cfg: &SynthConfig, sim: &CoinSim) {
        let (b, a) = (sim.bids.best().unwrap().px_ticks, sim.asks.best().unwrap().px_ticks);
        assert!(b < a, "crossed: {b} >= {a}");
        assert!(sim.bids.levels.len() >= cfg.levels && sim.asks.levels.len() >= cfg.levels);
        assert!(sim.bids.levels.windows(2).all(|w| w[0].px_ticks > w[1].px_ticks));
        assert!(sim.asks.levels.windows(2).all(|w| w[0].px_ticks < w[1].px_ticks));
        assert!(sim.bids.levels.iter().chain(&sim.asks.levels).all(|l| l.lots > 0 && l.n > 0));
    }

    #[test]
    fn the_book_stays_sorted_uncrossed_and_deep() {
        let (cfg, mut sim) = btc();
        for i in 0..5_000 {
            sim.diffuse(&cfg, 0.1, 3.0);
            if i % 5 == 0 {
                sim.churn(&cfg, 1.0);
            }
            if i % 3 == 0 {
                let (_, prints) = sim.aggressive(&cfg, i % 2 == 0);
                assert!(!prints.is_empty());
            }
            check_book(&cfg, &sim);
        }
    }

    #[test]
    fn the_deepest_print_is_at_the_reach() {
        let (cfg, mut sim) = btc();
        for i in 0..2_000 {
            sim.churn(&cfg, 1.0);
            let mid = sim.mid2_ticks().unwrap() as f64 / 2.0;
            let buy = i % 2 == 0;
            let touch = if buy { sim.asks.best() } else { sim.bids.best() }.unwrap().px_ticks;
            let touch_bp = (touch as f64 - mid).abs() / mid * 1e4;
            let (reach, prints) = sim.aggressive(&cfg, buy);
            let last = prints.last().unwrap().px_ticks as f64;
            let depth_bp = (last - mid).abs() / mid * 1e4;
            assert_eq!(prints[0].px_ticks, touch);
            if buy {
                assert!(prints.windows(2).all(|w| w[0].px_ticks < w[1].px_ticks));
            }
            // Beyond the touch the deepest print is within a tick of the reach, never beyond it.
            if reach >= touch_bp {
                assert!(
                    depth_bp <= reach + 1e-9 && reach - depth_bp < 1.0 / (mid * 1e-4) + 1e-9,
                    "{depth_bp} vs {reach}"
                );
            }
        }
    }

    #[test]
    fn one_significant_figure() {
        for (x, want) in [(0.347, 0.3), (12.7, 10.0), (2.6, 3.0)] {
            assert!((round_to_one_significant_figure(x) - want).abs() < 1e-12, "{x}");
        }
    }
}
