//! A hand-built session for the report tests: what a healthy engine would journal (model
//! snapshots every 10 s, fills, 1/5/30/60 s markouts, regime changes, checkpoints), with knobs
//! that break one feedback loop at a time, so validate/report are tested without the engine.
#![allow(dead_code)]

pub mod browser;

use paper_trader::engine::io::{FillKind, ModelSnapshot, Output, Regime};
use paper_trader::types::{notional, Price, Qty, Side, Timestamp, SCALE};

pub const T0: u64 = 1_700_000_000_000_000_000;

#[derive(Clone, Debug)]
pub struct Scenario {
    pub minutes: u64,
    /// Seconds between fills; 0 = no fills.
    pub fill_every_s: u64,
    /// Minutes at which the regime flips to volatile and back (empty = a calm session).
    pub regime_flips_min: Vec<u64>,
    pub kappa_wired: bool,
    pub outcomes_wired: bool,
    pub calibration_wired: bool,
    /// Checkpoint slots (k >= 1) left out.
    pub skip_checkpoints: Vec<u64>,
    /// Report PnL off by this many USD (a broken position tracker).
    pub pnl_error_usd: f64,
    pub market_trades_per_snapshot: u64,
    /// Place no orders and reject them for margin instead (the seed's margin bug).
    pub margin_bug: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            minutes: 40,
            fill_every_s: 20,
            regime_flips_min: vec![12, 15],
            kappa_wired: true,
            outcomes_wired: true,
            calibration_wired: true,
            skip_checkpoints: vec![],
            pnl_error_usd: 0.0,
            market_trades_per_snapshot: 5,
            margin_bug: false,
        }
    }
}

/// A deterministic mid path in units of 10^-8: a slow wave plus a sawtooth, around 50,000.
fn mid_at(s: u64) -> i64 {
    let wave = ((s % 600) as i64 - 300).abs() * 2 * SCALE / 10; // +-60 USD over 10 min
    let saw = (s % 7) as i64 * SCALE / 2;
    50_000 * SCALE + wave + saw - 30 * SCALE
}

pub fn ts(s: u64) -> Timestamp {
    Timestamp(T0 + s * 1_000_000_000)
}

/// The outputs of the scenario, in journal order, with their event times.
pub fn build(sc: &Scenario) -> Vec<(Timestamp, Output)> {
    let mut out: Vec<(Timestamp, Output)> = Vec::new();
    let coin = "BTC".to_string();
    let sz = Qty(200_000); // 0.002 BTC, about 100 USD
    let mut position: i64 = 0;
    let mut cost: i128 = 0; // 10^-8 USD, the open position's cost basis
    let mut realized: i128 = 0; // 10^-8 USD
    let mut fees: i64 = 0; // 10^-8 USD
    let mut fills: u64 = 0;
    let mut resolved: u64 = 0;
    let mut pending: Vec<(u64, u64, Side, i64)> = Vec::new(); // (due_s, fill_id, side, mid)
    let mut regime = Regime::Normal;
    let mut market_trades = 0u64;
    let mut order_id = 0u64;
    let end_s = sc.minutes * 60;
    for s in 0..=end_s {
        let mid = mid_at(s);
        // Markouts due now (1, 5, 30, 60 s).
        pending.retain(|(due, id, side, m0)| {
            let age = s - (due - 60);
            for h in [1u64, 5, 30, 60] {
                if age == h && (h != 5 || sc.outcomes_wired) {
                    let move_bp = side.sign() as f64 * (mid - m0) as f64 / *m0 as f64 * 1e4;
                    out.push((
                        ts(s),
                        Output::Markout {
                            coin: coin.as_str().into(),
                            fill_id: *id,
                            horizon_s: h as u32,
                            move_bp,
                            was_adverse: (h == 5).then_some(move_bp < -1.0),
                            // Every snapshot of this session has sigma 1.4 bp/sqrt(s).
                            no_skill: (h == 5).then(|| paper_trader::engine::no_skill_as_rate(1.4, 1.0, 5)),
                        },
                    ));
                    if h == 5 {
                        resolved += 1;
                    }
                }
            }
            s < *due
        });
        if sc.margin_bug && s % 10 == 0 {
            out.push((
                ts(s),
                Output::OrderRejected {
                    coin: coin.as_str().into(),
                    side: Side::Buy,
                    px: Price(mid),
                    sz,
                    reason: paper_trader::engine::io::RejectReason::Margin,
                },
            ));
        } else if s % 10 == 0 {
            order_id += 1;
            out.push((
                ts(s),
                Output::OrderPlaced {
                    coin: coin.as_str().into(),
                    order_id,
                    side: Side::Buy,
                    px: Price(mid - SCALE),
                    sz,
                    live_at: ts(s),
                },
            ));
        }
        if !sc.margin_bug && sc.fill_every_s > 0 && s > 0 && s % sc.fill_every_s == 0 {
            fills += 1;
            // Alternate sides, two buys then two sells, so realized PnL appears.
            let side = if (fills / 2) % 2 == 0 { Side::Buy } else { Side::Sell };
            let px = mid - side.sign() * SCALE; // 1 USD better than mid
            let fee = (i128::from(px) * i128::from(sz.0) / i128::from(SCALE) * 15 / 100_000) as i64;
            let signed = side.sign() * sz.0;
            // Average cost with the basis kept as a total (the engine's Position), so the PnL
            // identity holds to the unit with the project's fixed-point notional.
            let flow = notional(Price(px), sz);
            if position == 0 || position.signum() == signed.signum() {
                cost += i128::from(side.sign()) * flow;
            } else {
                let closing = signed.abs().min(position.abs());
                let released = cost * i128::from(closing) / i128::from(position.abs());
                let closing_flow = flow * i128::from(closing) / i128::from(sz.0);
                realized += if position > 0 { closing_flow - released } else { -released - closing_flow };
                cost -= released;
                cost += i128::from(side.sign()) * (flow - closing_flow);
            }
            if position + signed == 0 {
                realized -= cost;
                cost = 0;
            }
            position += signed;
            fees += fee;
            out.push((
                ts(s),
                Output::Fill {
                    coin: coin.as_str().into(),
                    fill_id: fills,
                    // Not one of the placed quotes (those rest at mid - 1 on the bid only):
                    // validate checks a fill's price against its order's when it knows it.
                    order_id: 1_000_000 + fills,
                    side,
                    px: Price(px),
                    sz,
                    fee,
                    mid: Price(mid),
                    kind: FillKind::TradeAtPrice,
                    toxicity: if sc.outcomes_wired { 0.3 + 0.01 * (fills % 20) as f64 } else { 0.5 },
                    position_after: Qty(position),
                },
            ));
            pending.push((s + 60, fills, side, mid));
        }
        if sc.regime_flips_min.iter().any(|m| m * 60 == s) {
            let to = if regime == Regime::Volatile { Regime::Normal } else { Regime::Volatile };
            out.push((
                ts(s),
                Output::RegimeChange { coin: coin.as_str().into(), from: regime, to, vol_ratio: 2.1 },
            ));
            regime = to;
        }
        if s > 0 && s % 300 == 0 && !sc.skip_checkpoints.contains(&(s / 300)) {
            out.push((ts(s), Output::Checkpoint { index: s / 300 }));
        }
        if s % 10 == 0 {
            market_trades += sc.market_trades_per_snapshot;
            let unreal = notional(Price(mid), Qty(position.abs())) * i128::from(position.signum()) - cost;
            let usd = |u: i128| u as f64 / 1e8;
            let kc = if sc.kappa_wired { (fills as f64 / 200.0).min(0.9) } else { 0.0 };
            let asp = if sc.outcomes_wired { (resolved as f64 / 150.0).min(1.0) } else { 0.0 };
            let prog = if sc.calibration_wired { (kc + asp) / 2.0 } else { 0.0 };
            out.push((
                ts(s),
                Output::Model(ModelSnapshot {
                    coin: coin.clone(),
                    mid: Some(Price(mid)),
                    bid_quote: Some(Price(mid - 2 * SCALE)),
                    ask_quote: Some(Price(mid + 2 * SCALE)),
                    position: Qty(position),
                    pnl_realized: usd(realized) + sc.pnl_error_usd,
                    pnl_unrealized: usd(unreal),
                    pnl_fees: fees as f64 / 1e8,
                    kappa: if sc.kappa_wired { 1.0 + fills as f64 * 0.002 } else { 1.0 },
                    kappa_confidence: kc,
                    own_fills: if sc.kappa_wired { fills } else { 0 },
                    sigma_bp: 1.4,
                    toxicity: if sc.outcomes_wired { 0.35 + 0.001 * (s % 100) as f64 } else { 0.5 },
                    as_progress: asp,
                    as_resolved: resolved,
                    as_adverse: resolved / 3,
                    brier_skill: 0.02,
                    calibration_progress: prog,
                    cal_gamma: 0.3 + 0.7 * prog,
                    regime,
                    vol_ratio: if regime == Regime::Volatile { 2.1 } else { 0.9 + 0.001 * (s % 100) as f64 },
                    available_margin: 9_000.0,
                    margin_rejects: 0,
                    market_trades,
                    pnl_funding: 0.0,
                    mark: Some(Price(mid)),
                    marked_at_venue: false,
                }),
            ));
        }
    }
    out
}
