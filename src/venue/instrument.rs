//! Tick and lot rules per venue and coin, with built-in defaults (so replays of captures work
//! offline) and overrides.
//!
//! Hyperliquid perps: sizes have `szDecimals` decimals; prices have at most 5 significant
//! figures and at most `6 - szDecimals` decimals, integer prices always allowed. The valid
//! price grid therefore depends on the price itself: [`Instrument::tick_at`].
//! Binance USD-M: a fixed `tickSize` and `stepSize` per symbol.

use super::Venue;
use crate::types::{Price, Qty, SCALE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Hyperliquid perps' `szDecimals` from the `meta` info request (2025). Coins not listed get
/// no grid checks until an override names them.
const HL_SZ_DECIMALS: &[(&str, u32)] = &[
    ("BTC", 5),
    ("ETH", 4),
    ("SOL", 2),
    ("AVAX", 2),
    ("BNB", 3),
    ("LTC", 2),
    ("BCH", 3),
    ("AAVE", 2),
    ("HYPE", 2),
    ("ATOM", 2),
    ("LINK", 1),
    ("ARB", 1),
    ("OP", 1),
    ("SUI", 1),
    ("INJ", 1),
    ("DOGE", 0),
    ("XRP", 0),
    ("kPEPE", 0),
    ("WIF", 0),
];

/// Binance USD-M rules from `exchangeInfo` (`tickSize`, `stepSize`), for the majors, in 10^-8
/// units: BTCUSDT 0.1 and 0.001, ETHUSDT 0.01 and 0.001. Made at compile time, not from the
/// venue's strings: the adapter looks a coin's rules up for every message it checks (parsing
/// the strings and counting the lot's decimals each time was ~5% of the Binance capture's
/// engine thread).
const BINANCE_FILTERS: &[(&str, Instrument)] = &[
    ("BTCUSDT", Instrument::fixed(Venue::BinanceUsdm, Price(SCALE / 10), Qty(SCALE / 1000))),
    ("ETHUSDT", Instrument::fixed(Venue::BinanceUsdm, Price(SCALE / 100), Qty(SCALE / 1000))),
];

/// The trading rules of one coin on one venue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub venue: Venue,
    /// The finest price step: Binance `tickSize`; on Hyperliquid `10^-(6 - szDecimals)`, the
    /// decimal limit (the 5-significant-figure rule can make the step coarser: [`Self::tick_at`]).
    pub tick: Price,
    /// Size step: Binance `stepSize`; Hyperliquid `10^-szDecimals`.
    pub lot: Qty,
    /// Decimals of a size (Hyperliquid `szDecimals`; on Binance the decimals of `lot`).
    pub sz_decimals: u32,
    /// False when the coin is in no table and no override: prices and sizes are not checked
    /// against a grid, and `tick`/`lot` are the fixed-point resolution.
    pub known: bool,
}

/// `10^e`, saturating at `10^18`: a table, not `i64::pow`'s loop of squarings (this runs for
/// every level checked and every price rounded to the grid).
fn pow10(e: u32) -> i64 {
    const POW10: [i64; 19] = {
        let mut t = [1i64; 19];
        let mut i = 1;
        while i < 19 {
            t[i] = t[i - 1] * 10;
            i += 1;
        }
        t
    };
    POW10[e.min(18) as usize]
}

const fn decimals_of(step: i64) -> u32 {
    let mut d = 8;
    let mut s = step;
    while d > 0 && s % 10 == 0 && s != 0 {
        s /= 10;
        d -= 1;
    }
    d
}

/// Number of decimal digits of a positive integer.
fn digits(v: i64) -> u32 {
    // Exact integer log (no loop of ~13 divisions): this runs for every price the engine
    // rounds to the grid and every level the adapter checks.
    v.unsigned_abs().checked_ilog10().map_or(1, |l| l + 1)
}

impl Instrument {
    /// An instrument nothing is known about: every representable price and size is accepted.
    pub fn unknown(venue: Venue) -> Instrument {
        Instrument { venue, tick: Price(1), lot: Qty(1), sz_decimals: 8, known: false }
    }

    /// Hyperliquid perp rules from `szDecimals`.
    pub fn hyperliquid(sz_decimals: u32) -> Instrument {
        let szd = sz_decimals.min(6);
        Instrument {
            venue: Venue::Hyperliquid,
            tick: Price(pow10(2 + szd)),
            lot: Qty(pow10(8 - szd)),
            sz_decimals: szd,
            known: true,
        }
    }

    /// Fixed tick and lot (Binance filters, or an override on any venue).
    pub const fn fixed(venue: Venue, tick: Price, lot: Qty) -> Instrument {
        // `max(1)`, spelled for a const fn.
        let (tick, lot) = (if tick.0 > 1 { tick.0 } else { 1 }, if lot.0 > 1 { lot.0 } else { 1 });
        Instrument { venue, tick: Price(tick), lot: Qty(lot), sz_decimals: decimals_of(lot), known: true }
    }

    /// The valid price step at `px` (positive). Hyperliquid: the coarser of the decimal limit
    /// and the 5-significant-figure step, never coarser than 1 (integers are always valid).
    pub fn tick_at(&self, px: Price) -> Price {
        match self.venue {
            Venue::Hyperliquid if self.known => {
                let d = digits(px.0.max(1));
                let sig = if d > 5 { pow10(d - 5) } else { 1 };
                Price(sig.max(self.tick.0).min(SCALE))
            }
            _ => self.tick,
        }
    }

    /// True when `px` is a price the venue accepts (positive and on the grid).
    pub fn is_valid_px(&self, px: Price) -> bool {
        px.0 > 0 && px.0 % self.tick_at(px).0 == 0
    }

    /// True when `sz` is non-negative and a whole number of lots.
    pub fn is_valid_sz(&self, sz: Qty) -> bool {
        sz.0 >= 0 && sz.0 % self.lot.0 == 0
    }

    /// The largest valid price <= `px` (for a bid). `None` when there is none (px < one step).
    pub fn round_px_down(&self, px: Price) -> Option<Price> {
        if px.0 <= 0 {
            return None;
        }
        let step = self.tick_at(px).0;
        let v = px.0 - px.0.rem_euclid(step);
        (v > 0).then_some(Price(v))
    }

    /// The smallest valid price >= `px` (for an ask).
    pub fn round_px_up(&self, px: Price) -> Option<Price> {
        if px.0 <= 0 {
            return self.round_px_up(Price(1));
        }
        let step = self.tick_at(px).0;
        let r = px.0.rem_euclid(step);
        let v = if r == 0 { px.0 } else { px.0.checked_add(step - r)? };
        Some(Price(v))
    }

    /// `sz` rounded down to a whole number of lots.
    pub fn round_sz_down(&self, sz: Qty) -> Qty {
        Qty(sz.0 - sz.0.rem_euclid(self.lot.0))
    }
}

/// The built-in rules of `coin` on `venue` (see the tables above).
pub fn instrument(venue: Venue, coin: &str) -> Instrument {
    match venue {
        Venue::Hyperliquid => HL_SZ_DECIMALS
            .iter()
            .find(|(c, _)| *c == coin)
            .map_or_else(|| Instrument::unknown(venue), |&(_, d)| Instrument::hyperliquid(d)),
        Venue::BinanceUsdm => BINANCE_FILTERS
            .iter()
            .find(|(c, _)| *c == coin)
            .map_or_else(|| Instrument::unknown(venue), |(_, i)| i.clone()),
    }
}

/// Built-in rules plus overrides (from configuration or the venue's info request).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instruments {
    overrides: BTreeMap<String, Instrument>,
}

impl Instruments {
    pub fn new() -> Self {
        Self::default()
    }

    /// No overrides: every coin has the built-in rules ([`instrument`]).
    pub fn is_default(&self) -> bool {
        self.overrides.is_empty()
    }

    /// Replaces the rules of `coin` (the instrument's venue must be the one it is used on).
    pub fn set(&mut self, coin: &str, inst: Instrument) {
        self.overrides.insert(coin.to_string(), inst);
    }

    /// Hyperliquid: sets `szDecimals` of a coin (as the `meta` request reports it).
    pub fn set_sz_decimals(&mut self, coin: &str, sz_decimals: u32) {
        self.set(coin, Instrument::hyperliquid(sz_decimals));
    }

    pub fn get(&self, venue: Venue, coin: &str) -> Instrument {
        match self.overrides.get(coin) {
            Some(i) if i.venue == venue => i.clone(),
            _ => instrument(venue, coin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    /// `digits` by `ilog10` counts exactly what the loop of divisions it replaced counted.
    #[test]
    fn pow10_is_the_power_saturating_at_18() {
        for e in 0..40 {
            assert_eq!(pow10(e), 10i64.pow(e.min(18)), "{e}");
        }
    }

    #[test]
    fn digits_equals_the_division_loop() {
        let by_loop = |v: i64| {
            let (mut n, mut x) = (1, v.unsigned_abs());
            while x >= 10 {
                x /= 10;
                n += 1;
            }
            n
        };
        let mut vs = vec![0, 1, -1, 9, -9, i64::MAX, i64::MIN, i64::MIN + 1];
        for e in 0..19 {
            let t = 10i64.pow(e);
            vs.extend([t - 1, t, t + 1, -t, -(t - 1), -(t + 1)]);
        }
        vs.extend((0..10_000).map(|i: i64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15u64 as i64)));
        for v in vs {
            assert_eq!(digits(v), by_loop(v), "digits({v})");
        }
    }

    #[test]
    fn hyperliquid_price_rules() {
        let btc = instrument(Venue::Hyperliquid, "BTC");
        assert_eq!(btc.sz_decimals, 5);
        assert_eq!(btc.tick, p("0.1"));
        assert_eq!(btc.lot, Qty::parse("0.00001").unwrap());
        assert!(btc.is_valid_px(p("105055"))); // 6 significant figures, but an integer
        assert!(!btc.is_valid_px(p("105055.5")));
        assert!(!btc.is_valid_px(p("42727.5")));
        assert!(btc.is_valid_px(p("9999.5")));
        assert!(!btc.is_valid_px(p("9999.55")));
        assert_eq!(btc.round_px_down(p("42727.9")), Some(p("42727")));
        assert_eq!(btc.round_px_up(p("42727.1")), Some(p("42728")));
        assert_eq!(btc.round_px_up(p("99999.5")), Some(p("100000")));
        assert_eq!(btc.round_px_down(p("9999.57")), Some(p("9999.5")));
        let sol = instrument(Venue::Hyperliquid, "SOL");
        assert!(sol.is_valid_px(p("187.23")));
        assert!(!sol.is_valid_px(p("187.234")));
        assert!(sol.is_valid_px(p("0.1234"))); // 4 decimals = 6 - 2
        assert!(!sol.is_valid_px(p("0.12345")));
        assert!(!btc.is_valid_sz(Qty::parse("0.000001").unwrap()));
        assert!(!btc.is_valid_sz(Qty::parse("-1").unwrap()));
    }

    #[test]
    fn binance_filters_and_overrides() {
        let b = instrument(Venue::BinanceUsdm, "BTCUSDT");
        assert_eq!((b.tick, b.lot, b.sz_decimals), (p("0.1"), Qty::parse("0.001").unwrap(), 3));
        let e = instrument(Venue::BinanceUsdm, "ETHUSDT");
        assert_eq!((e.tick, e.lot, e.sz_decimals), (p("0.01"), Qty::parse("0.001").unwrap(), 3));
        assert!(b.is_valid_px(p("61800.20")));
        assert!(!b.is_valid_px(p("61800.25")));
        assert_eq!(b.round_px_up(p("61800.21")), Some(p("61800.3")));
        let mut t = Instruments::new();
        assert!(!t.get(Venue::BinanceUsdm, "XYZUSDT").known);
        t.set("XYZUSDT", Instrument::fixed(Venue::BinanceUsdm, p("0.5"), Qty::parse("1").unwrap()));
        assert_eq!(t.get(Venue::BinanceUsdm, "XYZUSDT").tick, p("0.5"));
        t.set_sz_decimals("NEW", 1);
        assert!(t.get(Venue::Hyperliquid, "NEW").is_valid_px(p("12.345")));
        assert!(!t.get(Venue::Hyperliquid, "NEW").is_valid_px(p("12.3456")));
    }
}
