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
    let d = 1.0;
    let xi_d = i.gamma * d;
    let c1 = libm::log1p(xi_d / i.kappa) / xi_d;
    let power = libm::exp(libm::log1p(xi_d / i.kappa) * (i.kappa / xi_d + 1.0));
    let c2 = libm::sqrt(i.gamma / (2.0 * i.a * d * i.kappa) * power);
    let half = c1 + d / 2.0 * i.sigma_bp * c2;
    let skew = i.q * i.sigma_bp * c2;
    GlftQuote { delta_bid_bp: half + skew, delta_ask_bp: half - skew }
}

#[cfg(test)]
mod tests {
    use super::*;

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
