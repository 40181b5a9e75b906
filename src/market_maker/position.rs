//! Position and PnL of one coin by average cost, in exact integers (units of 10^-8 of the
//! quote currency). The cost basis of the open position is kept as a total, not an average
//! price, so that `cash + position value = starting equity + realized + unrealized - fees`
//! holds to the last unit. Funding payments of a perpetual (`funding.rs`) are cash too:
//! `cash + position value = starting equity + realized + unrealized + funding - fees`.

use crate::types::{notional, Price, Qty, Side};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Position {
    /// Signed size in base units.
    pub qty: Qty,
    /// Signed notional paid for the open position (positive when long).
    pub cost_basis: i64,
    pub realized: i64,
    pub fees: i64,
    /// Net cash flow: sells minus buys minus fees, plus funding.
    pub cash_flow: i64,
    /// Sum of signed fill sizes, checked against `qty` (the invariant "position = sum of fills").
    pub fills_qty_sum: i64,
    /// Funding received (negative = paid), 10^-8 quote units.
    #[serde(default)]
    pub funding: i64,
}

impl Position {
    /// Applies a fill; returns the realized PnL of the part that closed.
    pub fn apply_fill(&mut self, side: Side, px: Price, sz: Qty, fee: i64) -> i64 {
        let flow = notional(px, sz) as i64;
        let signed = side.sign() * sz.0;
        self.cash_flow -= side.sign() * flow + fee;
        self.fees += fee;
        self.fills_qty_sum += signed;
        let q = self.qty.0;
        let mut realized = 0;
        if q == 0 || q.signum() == signed.signum() {
            self.cost_basis += side.sign() * flow;
        } else {
            let closing = sz.0.min(q.abs());
            // Basis released by the closing part, proportional to the size closed.
            let released = (i128::from(self.cost_basis) * i128::from(closing) / i128::from(q.abs())) as i64;
            let closing_flow = (i128::from(flow) * i128::from(closing) / i128::from(sz.0)) as i64;
            // A sell closing a long receives closing_flow for basis `released`.
            realized = if q > 0 { closing_flow - released } else { -released - closing_flow };
            self.cost_basis -= released;
            let opening_flow = flow - closing_flow;
            self.cost_basis += side.sign() * opening_flow;
            self.realized += realized;
        }
        self.qty = Qty(q + signed);
        if self.qty.0 == 0 {
            // Any rounding residue of a fully closed position is realized, so the identity holds.
            self.realized -= self.cost_basis;
            realized -= self.cost_basis;
            self.cost_basis = 0;
        }
        debug_assert_eq!(self.qty.0, self.fills_qty_sum);
        realized
    }

    /// A funding payment (positive = received) on the position as it stands.
    pub fn apply_funding(&mut self, amount: i64) {
        self.funding = self.funding.saturating_add(amount);
        self.cash_flow = self.cash_flow.saturating_add(amount);
    }

    /// Realized + unrealized at `mark` + funding - fees: the net PnL.
    pub fn net_at(&self, mark: Price) -> i64 {
        self.realized + self.unrealized_at(mark) + self.funding - self.fees
    }

    /// Value of the position at `mark` (the venue's mark price, or the mid).
    pub fn value_at(&self, mid: Price) -> i64 {
        notional(mid, Qty(self.qty.0.abs())) as i64 * self.qty.0.signum()
    }

    pub fn unrealized_at(&self, mid: Price) -> i64 {
        self.value_at(mid) - self.cost_basis
    }

    /// `cash + position value == realized + unrealized + funding - fees` (both sides relative
    /// to the starting equity), exactly.
    pub fn identity_holds(&self, mark: Price) -> bool {
        self.cash_flow + self.value_at(mark) == self.net_at(mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn sz(s: &str) -> Qty {
        Qty::parse(s).unwrap()
    }

    #[test]
    fn average_cost_realizes_on_close_and_flips() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, px("100"), sz("1"), 10);
        p.apply_fill(Side::Buy, px("110"), sz("1"), 10);
        let r = p.apply_fill(Side::Sell, px("120"), sz("3"), 10);
        assert_eq!(r, 30 * 100_000_000); // 2 units closed at 120 against an average of 105
        assert_eq!(p.qty, sz("-1"));
        assert_eq!(p.cost_basis, -120 * 100_000_000);
        assert!(p.identity_holds(px("117.3")));
        assert_eq!(p.fees, 30);
    }

    #[test]
    fn identity_holds_with_odd_sizes() {
        let mut p = Position::default();
        let fills = [
            ("61800.1", "0.003", Side::Buy),
            ("61800.3", "0.007", Side::Buy),
            ("61799.9", "0.004", Side::Sell),
        ];
        for (a, b, s) in fills {
            p.apply_fill(s, px(a), sz(b), 7);
            assert!(p.identity_holds(px("61800.05")));
        }
        p.apply_fill(Side::Sell, px("61801"), sz("0.006"), 3);
        assert_eq!(p.qty, Qty(0));
        assert_eq!(p.cost_basis, 0);
        assert!(p.identity_holds(px("1")));
    }

    #[test]
    fn funding_is_cash_inside_the_identity() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, px("100"), sz("2"), 10);
        p.apply_funding(-2_000_000);
        assert!(p.identity_holds(px("101")));
        assert_eq!(p.net_at(px("101")), 2 * 100_000_000 - 2_000_000 - 10);
        p.apply_fill(Side::Sell, px("101"), sz("2"), 10);
        p.apply_funding(5);
        assert_eq!((p.funding, p.qty), (-1_999_995, Qty(0)));
        assert!(p.identity_holds(px("1")));
    }
}
