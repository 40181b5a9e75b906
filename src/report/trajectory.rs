//! The feedback loops' trajectories sampled at fixed event-time intervals: what the snapshot
//! regression suite pins. Each row is the state of one coin at `start + k * interval`: the
//! counts of fills and resolved markouts so far and the last model snapshot at or before that
//! time, rounded to a stated precision so a diff reads like a change in behaviour, not noise.

use crate::engine::io::{Output, Regime};
use crate::types::Timestamp;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One sampled row.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajectoryRow {
    pub t_s: u64,
    pub coin: String,
    pub fills: u64,
    pub markouts_5s: u64,
    pub adverse_5s: u64,
    pub kappa: f64,
    pub kappa_confidence: f64,
    pub toxicity: f64,
    pub calibration_progress: f64,
    pub cal_gamma: f64,
    pub regime: Regime,
    pub regime_changes: u64,
    pub position: f64,
    pub pnl_total: f64,
}

#[derive(Default, Clone)]
struct Running {
    fills: u64,
    markouts_5s: u64,
    adverse_5s: u64,
    regime_changes: u64,
    last: Option<crate::engine::io::ModelSnapshot>,
}

/// Samples every coin's trajectory at `start + k * interval_ns` for k = 1.. while <= `end`.
/// A coin appears from its first model snapshot on.
pub fn sample(
    start: Timestamp,
    end: Timestamp,
    interval_ns: u64,
    outputs: &[(Timestamp, Output)],
) -> Vec<TrajectoryRow> {
    let mut rows = Vec::new();
    if interval_ns == 0 {
        return rows;
    }
    let mut running: BTreeMap<String, Running> = BTreeMap::new();
    let mut next = start.plus_ns(interval_ns);
    let emit = |at: Timestamp, running: &BTreeMap<String, Running>, rows: &mut Vec<TrajectoryRow>| {
        for (coin, r) in running {
            if let Some(s) = &r.last {
                rows.push(TrajectoryRow {
                    t_s: at.since(start) / 1_000_000_000,
                    coin: coin.clone(),
                    fills: r.fills,
                    markouts_5s: r.markouts_5s,
                    adverse_5s: r.adverse_5s,
                    kappa: s.kappa,
                    kappa_confidence: s.kappa_confidence,
                    toxicity: s.toxicity,
                    calibration_progress: s.calibration_progress,
                    cal_gamma: s.cal_gamma,
                    regime: s.regime,
                    regime_changes: r.regime_changes,
                    position: s.position.to_f64(),
                    pnl_total: super::summary::net_pnl(s),
                });
            }
        }
    };
    for (t, o) in outputs {
        while *t > next && next <= end {
            emit(next, &running, &mut rows);
            next = next.plus_ns(interval_ns);
        }
        match o {
            Output::Fill { coin, sz, .. } if sz.0 != 0 => {
                running.entry(coin.to_string()).or_default().fills += 1
            }
            Output::Markout { coin, horizon_s: 5, was_adverse: Some(a), .. } => {
                let r = running.entry(coin.to_string()).or_default();
                r.markouts_5s += 1;
                r.adverse_5s += u64::from(*a);
            }
            Output::RegimeChange { coin, .. } => {
                running.entry(coin.to_string()).or_default().regime_changes += 1
            }
            Output::Model(s) => running.entry(s.coin.clone()).or_default().last = Some(s.clone()),
            _ => {}
        }
    }
    while next <= end {
        emit(next, &running, &mut rows);
        next = next.plus_ns(interval_ns);
    }
    rows
}

/// Rounds to `decimals` places and prints without a negative zero.
fn r(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// The rows as a readable fixed-width table. Precision: kappa, kappa_confidence, toxicity,
/// calibration_progress and cal_gamma to 3 decimals; position to 5 (the lot); PnL to the cent.
pub fn render(rows: &[TrajectoryRow]) -> String {
    let mut s = String::from(
        "# precision: kappa, kappa_conf, toxicity, cal_prog, cal_gamma 3 dp; position 5 dp; pnl (net of fees) 2 dp\n",
    );
    let _ = writeln!(
        s,
        "{:>6} {:<8} {:>6} {:>6} {:>6} {:>8} {:>10} {:>8} {:>8} {:>9} {:<8} {:>4} {:>10} {:>10}",
        "t_s",
        "coin",
        "fills",
        "mk5s",
        "adv5s",
        "kappa",
        "kappa_conf",
        "toxicity",
        "cal_prog",
        "cal_gamma",
        "regime",
        "chg",
        "position",
        "pnl"
    );
    for row in rows {
        let _ = writeln!(
            s,
            "{:>6} {:<8} {:>6} {:>6} {:>6} {:>8} {:>10} {:>8} {:>8} {:>9} {:<8} {:>4} {:>10} {:>10}",
            row.t_s,
            row.coin,
            row.fills,
            row.markouts_5s,
            row.adverse_5s,
            r(row.kappa, 3),
            r(row.kappa_confidence, 3),
            r(row.toxicity, 3),
            r(row.calibration_progress, 3),
            r(row.cal_gamma, 3),
            format!("{:?}", row.regime).to_lowercase(),
            row.regime_changes,
            r(row.position, 5),
            r(row.pnl_total, 2)
        );
    }
    s
}
