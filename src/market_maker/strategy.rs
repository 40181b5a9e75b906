//! GLFT quotes (Gueant-Lehalle-Fernandez-Tapia; Gueant 2017, eqs. 4.6-4.7) in bp of mid, with
//! xi = gamma and the order size D as the unit of inventory (D = 1, q = position / order size).

use serde::{Deserialize, Serialize};

/// Half-spreads (bp) of the bid and ask from mid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GlftQuote {
    pub delta_bid_bp: f64,
    pub delta_ask_bp: f64,
}

/// Model inputs: gamma (`cal_gamma`), kappa per bp, A per second, sigma bp/sqrt(s), q in
/// units of the order size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlftInputs {
    pub gamma: f64,
    pub kappa: f64,
    pub a: f64,
    pub sigma_bp: f64,
    pub q: f64,
}

pub fn glft_quote(i: &GlftInputs) -> GlftQuote {
    GlftCurve::new(i.gamma, i.kappa, i.a).quote(i.sigma_bp, i.q)
}

/// The two constants of the GLFT quote that depend on gamma, kappa and A only: `c1` (the
/// half-spread at zero volatility) and `c2` (per bp of sigma, of both the half-spread and the
/// inventory skew). Kappa and A move with fills and gamma with calibration, far less often
/// than sigma and the inventory, so a strategy may keep a curve and requote from it: the
/// quote is the same, bit for bit, as [`glft_quote`] of the same inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GlftCurve {
    c1: f64,
    c2: f64,
}

impl GlftCurve {
    pub fn new(gamma: f64, kappa: f64, a: f64) -> GlftCurve {
        let d = 1.0;
        let xi_d = gamma * d;
        let l = libm::log1p(xi_d / kappa);
        let c1 = l / xi_d;
        let power = libm::exp(l * (kappa / xi_d + 1.0));
        let c2 = libm::sqrt(gamma / (2.0 * a * d * kappa) * power);
        GlftCurve { c1, c2 }
    }

    /// The quote at volatility `sigma_bp` and inventory `q`.
    pub fn quote(&self, sigma_bp: f64, q: f64) -> GlftQuote {
        let d = 1.0;
        let half = self.c1 + d / 2.0 * sigma_bp * self.c2;
        let skew = q * sigma_bp * self.c2;
        GlftQuote { delta_bid_bp: half + skew, delta_ask_bp: half - skew }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quote as one expression, as it was before the curve was split out (two `log1p`
    /// of the same argument).
    fn one_expression(i: &GlftInputs) -> GlftQuote {
        let d = 1.0;
        let xi_d = i.gamma * d;
        let c1 = libm::log1p(xi_d / i.kappa) / xi_d;
        let power = libm::exp(libm::log1p(xi_d / i.kappa) * (i.kappa / xi_d + 1.0));
        let c2 = libm::sqrt(i.gamma / (2.0 * i.a * d * i.kappa) * power);
        let half = c1 + d / 2.0 * i.sigma_bp * c2;
        let skew = i.q * i.sigma_bp * c2;
        GlftQuote { delta_bid_bp: half + skew, delta_ask_bp: half - skew }
    }

    proptest::proptest! {
        /// A kept curve gives the quote of the one expression, bit for bit, whatever the
        /// inputs (infinite and NaN ones included: a strategy may requote from a curve
        /// whatever the fit says). A NaN result is NaN in both, but which NaN is not pinned:
        /// Rust leaves the sign and payload of a NaN result unspecified (an operand order
        /// the compiler picks decides it), and no output carries one.
        #[test]
        fn a_kept_curve_quotes_as_the_one_expression(
            gamma in proptest::num::f64::ANY,
            kappa in proptest::num::f64::ANY,
            a in proptest::num::f64::ANY,
            sigma_bp in proptest::num::f64::ANY,
            q in proptest::num::f64::ANY,
            plain in (1e-4f64..10.0, 1e-3f64..100.0, 1e-3f64..100.0, 0.0f64..50.0, -20.0f64..20.0),
        ) {
            let one = |x: f64| if x.is_nan() { None } else { Some(x.to_bits()) };
            let bits = |g: GlftQuote| (one(g.delta_bid_bp), one(g.delta_ask_bp));
            for i in [
                GlftInputs { gamma, kappa, a, sigma_bp, q },
                GlftInputs { gamma: plain.0, kappa: plain.1, a: plain.2, sigma_bp: plain.3, q: plain.4 },
            ] {
                let kept = GlftCurve::new(i.gamma, i.kappa, i.a);
                proptest::prop_assert_eq!(bits(kept.quote(i.sigma_bp, i.q)), bits(one_expression(&i)));
                proptest::prop_assert_eq!(bits(glft_quote(&i)), bits(one_expression(&i)));
            }
        }
    }

    #[test]
    fn worked_check_of_models_md() {
        let q = |gamma: f64, q: f64| glft_quote(&GlftInputs { gamma, kappa: 1.0, a: 1.0, sigma_bp: 1.0, q });
        let g03 = q(0.3, 0.0);
        assert!((g03.delta_bid_bp - 1.22).abs() < 0.005, "{g03:?}");
        let skew = q(0.3, 1.0).delta_bid_bp - g03.delta_bid_bp;
        assert!((skew - 0.68).abs() < 0.005, "{skew}");
        let g1 = q(1.0, 0.0);
        assert!((g1.delta_ask_bp - 1.40).abs() < 0.005);
        assert!((q(1.0, 1.0).delta_bid_bp - g1.delta_bid_bp - 1.41).abs() < 0.005);
        // Long inventory: bid further, ask closer.
        let long = q(0.3, 2.0);
        assert!(long.delta_bid_bp > long.delta_ask_bp);
    }
}
