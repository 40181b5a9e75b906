//! Value types shared by every layer: time, fixed-point prices and sizes, sides.
//!
//! Prices and sizes are integers with a fixed scale of 10^-8 ([`SCALE`]): that covers
//! Hyperliquid perps (at most 6 decimals), Hyperliquid spot (8) and Binance USD-M majors, and
//! leaves room up to 9.2e10 units of price or size. Decimal strings are parsed straight into
//! the integer (never through f64), so `"61800.2"` and `"61800.20"` give the same value.
//! Notional values (price x size) are computed in `i128`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Number of decimal places of [`Price`] and [`Qty`].
pub const DECIMALS: u32 = 8;
/// Units per 1.0 of [`Price`] and [`Qty`].
pub const SCALE: i64 = 100_000_000;

/// Nanoseconds since the Unix epoch (UTC). The only notion of time in the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);
    pub const fn from_secs(s: u64) -> Self {
        Timestamp(s * 1_000_000_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms * 1_000_000)
    }
    pub const fn nanos(self) -> u64 {
        self.0
    }
    /// `self + ns`, saturating at the end of time.
    pub const fn plus_ns(self, ns: u64) -> Self {
        Timestamp(self.0.saturating_add(ns))
    }
    /// `self - earlier` in nanoseconds, 0 when `earlier` is later.
    pub const fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which side of the book, or which way an aggressor traded (`Buy` lifts asks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// +1 for a buy, -1 for a sell: the sign of a position change.
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Why a decimal string was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecimalError {
    Empty,
    InvalidChar,
    TooManyDecimals,
    Overflow,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DecimalError::Empty => "empty decimal",
            DecimalError::InvalidChar => "invalid character in decimal",
            DecimalError::TooManyDecimals => "more than 8 decimals",
            DecimalError::Overflow => "decimal out of range",
        };
        f.write_str(s)
    }
}

impl std::error::Error for DecimalError {}

/// Parses a decimal string (`"-12.5"`, `"0.00100"`, `"42"`) into units of 10^-8.
/// Accepts an optional leading `-`; rejects exponents, spaces and more than 8 decimals
/// (trailing zeros beyond the 8th decimal are accepted: they change nothing).
pub fn parse_fixed(s: &[u8]) -> Result<i64, DecimalError> {
    let (neg, digits) = match s.first() {
        None => return Err(DecimalError::Empty),
        Some(b'-') => (true, &s[1..]),
        Some(_) => (false, s),
    };
    if digits.is_empty() {
        return Err(DecimalError::Empty);
    }
    let mut int_part: i64 = 0;
    let mut frac: i64 = 0;
    let mut frac_digits: u32 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = i64::from(c - b'0');
                if seen_dot {
                    if frac_digits < DECIMALS {
                        frac = frac * 10 + d;
                        frac_digits += 1;
                    } else if d != 0 {
                        return Err(DecimalError::TooManyDecimals);
                    }
                } else {
                    int_part = int_part
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(d))
                        .ok_or(DecimalError::Overflow)?;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return Err(DecimalError::InvalidChar),
        }
    }
    if !seen_digit {
        return Err(DecimalError::Empty);
    }
    for _ in frac_digits..DECIMALS {
        frac *= 10;
    }
    let v = int_part.checked_mul(SCALE).and_then(|v| v.checked_add(frac)).ok_or(DecimalError::Overflow)?;
    Ok(if neg { -v } else { v })
}

/// Formats units of 10^-8 as the shortest exact decimal string (`"61800.2"`, `"0.001"`, `"42"`).
pub fn format_fixed(v: i64) -> String {
    let mut out = String::with_capacity(24);
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    let int_part = a / SCALE as u64;
    let mut frac = a % SCALE as u64;
    out.push_str(&int_part.to_string());
    if frac != 0 {
        let mut width = DECIMALS as usize;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        out.push('.');
        out.push_str(&format!("{frac:0width$}"));
    }
    out
}

macro_rules! fixed_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        pub struct $name(pub i64);

        impl $name {
            pub const ZERO: $name = $name(0);
            /// Parses a venue decimal string; see [`parse_fixed`].
            pub fn parse(s: &str) -> Result<Self, DecimalError> {
                parse_fixed(s.as_bytes()).map($name)
            }
            pub fn parse_bytes(s: &[u8]) -> Result<Self, DecimalError> {
                parse_fixed(s).map($name)
            }
            /// Units of 10^-8.
            pub const fn units(self) -> i64 {
                self.0
            }
            /// For models and reports only: never for book keys or fills.
            pub fn to_f64(self) -> f64 {
                self.0 as f64 / SCALE as f64
            }
            pub fn is_zero(self) -> bool {
                self.0 == 0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&format_fixed(self.0))
            }
        }
    };
}

fixed_type!(Price, "A price in units of 10^-8 of the quote currency.");
fixed_type!(Qty, "A size in units of 10^-8 of the base asset.");

/// price x size in units of 10^-8 of the quote currency (exact, in i128).
pub fn notional(px: Price, sz: Qty) -> i128 {
    // The margin and PnL marks run this several times per input: when the product fits in
    // i64 (any BTC order or position up to ~1,500 BTC at 60,000), the 64-bit division gives
    // the same quotient (both truncate toward zero) without the i128 division routine.
    match px.0.checked_mul(sz.0) {
        Some(p) => i128::from(p / SCALE),
        None => i128::from(px.0) * i128::from(sz.0) / i128::from(SCALE),
    }
}

/// `v as f64`, through i64 when `v` fits: both conversions round the same integer to the
/// nearest f64, so the result is identical, without the i128 conversion routine.
#[inline]
pub fn i128_to_f64(v: i128) -> f64 {
    match i64::try_from(v) {
        // `black_box`: LLVM knows the two conversions agree and folds this branch back into
        // the i128 routine (`__floattidf` was still 1.8% of a replay's engine thread).
        Ok(v) => std::hint::black_box(v) as f64,
        Err(_) => v as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_decimals_exactly() {
        assert_eq!(Price::parse("61800.2").unwrap(), Price::parse("61800.20").unwrap());
        assert_eq!(Price::parse("61800.2").unwrap().0, 6_180_020_000_000);
        assert_eq!(Qty::parse("0.00001").unwrap().0, 1000);
        assert_eq!(Qty::parse("-1.5").unwrap().0, -150_000_000);
        assert_eq!(format_fixed(6_180_020_000_000), "61800.2");
        assert_eq!(format_fixed(1000), "0.00001");
        assert_eq!(format_fixed(-150_000_000), "-1.5");
        assert_eq!(format_fixed(0), "0");
        assert_eq!(Price::parse("1.123456789"), Err(DecimalError::TooManyDecimals));
        assert_eq!(Price::parse("1.1234567800").unwrap().0, 112_345_678);
        assert!(Price::parse("1e5").is_err());
        assert!(Price::parse("").is_err());
        assert!(Price::parse("-").is_err());
        assert!(Price::parse(".").is_err());
        assert!(Price::parse("1.2.3").is_err());
        assert!(Price::parse("99999999999999999999").is_err());
    }

    #[test]
    fn notional_is_exact() {
        let px = Price::parse("100000").unwrap();
        let sz = Qty::parse("0.001").unwrap();
        assert_eq!(notional(px, sz), 100 * SCALE as i128);
    }

    /// The i64 fast paths of `notional` and `i128_to_f64` against the plain i128 arithmetic,
    /// on both sides of the i64 overflow and with negative sizes.
    #[test]
    fn fast_paths_equal_the_i128_arithmetic() {
        let by_i128 = |px: i64, sz: i64| i128::from(px) * i128::from(sz) / i128::from(SCALE);
        let mut vals = vec![0, 1, -1, 7, -7, SCALE - 1, SCALE, SCALE + 1, i64::MAX, i64::MIN, i64::MIN + 1];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push((x as i64) >> (x % 48));
        }
        for &px in &vals {
            for &sz in vals.iter().step_by(37) {
                let n = notional(Price(px), Qty(sz));
                assert_eq!(n, by_i128(px, sz), "{px} x {sz}");
                assert_eq!(i128_to_f64(n).to_bits(), (n as f64).to_bits());
                let wide = i128::from(px) * i128::from(sz);
                assert_eq!(i128_to_f64(wide).to_bits(), (wide as f64).to_bits());
            }
        }
    }
}
