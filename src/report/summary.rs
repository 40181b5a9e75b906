//! The session's figures in one struct, and the seed's "Interpreting Results" applied to them.
//! Computed from the output journal only (so it works on any session); printed by `report` and
//! `demo`, and shown at the top of the HTML page.

use super::pnl::{PnlBreakdown, PnlLedger};
use super::session::Session;
use super::stats::{median, wilson_interval, Z_95};
use crate::engine::io::{ModelSnapshot, Output, Regime};
use crate::types::{notional, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Markout horizons reported (only 5 s labels a fill adverse).
pub const MARKOUT_HORIZONS_S: [u32; 4] = [1, 5, 30, 60];
/// The seed: "High adverse selection rate (> 40%): AS classifier needs work".
pub const AS_RATE_FLAG: f64 = 0.40;
/// The seed: "Calibration progress > 50%: system is learning, can trust parameter estimates".
pub const CALIBRATION_TRUSTED: f64 = 0.50;
/// Below this many fills per minute the fill rate is called low.
pub const LOW_FILL_RATE_PER_MIN: f64 = 1.0;

/// Mean markout at one horizon.
#[derive(Clone, Debug, Serialize)]
pub struct MarkoutStat {
    pub horizon_s: u32,
    pub n: u64,
    /// Mean signed move in bp (positive = the mid moved in the fill's favour).
    pub mean_bp: f64,
    /// Standard error of the mean.
    pub se_bp: f64,
    pub dropped: u64,
}

/// Time and PnL spent in one regime.
#[derive(Clone, Debug, Serialize)]
pub struct RegimeStat {
    pub regime: String,
    pub seconds: f64,
    /// Net PnL (after fees) accrued while in this regime.
    pub pnl: f64,
    /// Notional of the fills made while in this regime.
    pub volume_usd: f64,
}

/// One interpretation rule of the seed, applied.
#[derive(Clone, Debug, Serialize)]
pub struct Interpretation {
    pub rule: &'static str,
    pub verdict: String,
    /// Whether this calls for attention.
    pub flagged: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct SessionSummary {
    pub coins: Vec<String>,
    pub first_ns: u64,
    pub last_ns: u64,
    pub minutes: f64,
    pub orders_placed: u64,
    pub orders_cancelled: u64,
    pub margin_rejects: u64,
    pub other_rejects: u64,
    pub anomalies: u64,
    pub book_invalid: u64,
    pub fills: u64,
    pub buys: u64,
    pub sells: u64,
    pub volume_usd: f64,
    pub fills_per_min: f64,
    pub pnl_realized: f64,
    pub pnl_unrealized: f64,
    pub pnl_fees: f64,
    /// Funding received (negative = paid), inside `pnl_net`.
    pub pnl_funding: f64,
    pub pnl_net: f64,
    /// Funding records in the journal (funding times settled, over the coins).
    pub funding_events: u64,
    /// What the positions were marked at at the end: `venue` (the venue's mark price), `mid`,
    /// or `venue+mid` (some coins each way).
    pub mark_source: String,
    /// Model state of the first coin at its last snapshot (summary.json's convention).
    pub kappa: f64,
    pub kappa_confidence: f64,
    pub own_fills: u64,
    pub calibration_progress: f64,
    pub cal_gamma: f64,
    pub toxicity: f64,
    pub brier_skill: f64,
    pub sigma_1s_bp: Option<f64>,
    pub mean_half_spread_bp: Option<f64>,
    pub markouts: Vec<MarkoutStat>,
    pub as_resolved: u64,
    pub as_adverse: u64,
    pub as_rate: Option<f64>,
    pub as_rate_interval: Option<(f64, f64)>,
    pub as_no_skill_baseline: Option<f64>,
    pub regime_changes: u64,
    pub regimes: Vec<RegimeStat>,
    pub checkpoints: u64,
    /// The net PnL in parts, in total and per coin (`pnl.rs`), as in `summary.json`.
    pub pnl_breakdown: PnlBreakdown,
    pub pnl_breakdown_by_coin: BTreeMap<String, PnlBreakdown>,
    /// The largest fall of the net PnL from its running peak (USD).
    pub max_drawdown: f64,
    /// `summary.json`'s `output_digest`, when the session has one.
    pub output_digest: Option<String>,
    /// Quote quality and markouts at the report horizons, from `summary.json` (the session
    /// runner measures them from the coins' quote views; the journal does not hold them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<super::quality::Quality>,
    pub interpretation: Vec<Interpretation>,
}

fn regime_name(r: Regime) -> &'static str {
    match r {
        Regime::Quiet => "quiet",
        Regime::Normal => "normal",
        Regime::Volatile => "volatile",
    }
}

/// The labelling markout horizon of a session (`outcome.markout_horizon_s`, default 5 s).
pub fn markout_horizon_s(session: &Session) -> u32 {
    session
        .config_value("config.outcome.markout_horizon_s")
        .and_then(|v| v.as_integer())
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(5)
}

/// realized + unrealized + funding - fees.
pub fn net_pnl(s: &ModelSnapshot) -> f64 {
    s.pnl_realized + s.pnl_unrealized + s.pnl_funding - s.pnl_fees
}

/// `venue` when every coin's last snapshot is marked at the venue's mark price, `mid` when
/// none is, `venue+mid` otherwise.
fn mark_source(last: &BTreeMap<&str, &ModelSnapshot>) -> String {
    let at_venue = last.values().filter(|s| s.marked_at_venue).count();
    match at_venue {
        0 => "mid",
        n if n == last.len() => "venue",
        _ => "venue+mid",
    }
    .to_string()
}

/// The summary's figures accumulated output by output, in journal order: the replay and
/// `report` feed it as they go, so no session is ever held in memory whole to be summarized.
pub struct SummaryBuilder {
    first: Timestamp,
    coins: BTreeSet<String>,
    placed: u64,
    cancelled: u64,
    margin_rejects: u64,
    other_rejects: u64,
    anomalies: u64,
    book_invalid: u64,
    fills: u64,
    buys: u64,
    sells: u64,
    volume_units: i128,
    regime_changes: u64,
    checkpoints: u64,
    funding_events: u64,
    markout_moves: BTreeMap<u32, Vec<f64>>,
    markout_dropped: BTreeMap<u32, u64>,
    as_resolved: u64,
    as_adverse: u64,
    no_skill_sum: f64,
    no_skill_n: u64,
    /// Each coin's last snapshot and its time in seconds from `first`.
    snaps: BTreeMap<String, (f64, ModelSnapshot)>,
    regime_secs: BTreeMap<Regime, f64>,
    regime_pnl: BTreeMap<Regime, f64>,
    regime_volume: BTreeMap<Regime, i128>,
    sigmas: Vec<f64>,
    half_spreads: Vec<f64>,
    ledger: PnlLedger,
}

impl SummaryBuilder {
    /// A builder for a session whose first input was at `first`, labelling markouts at
    /// `markout_horizon_s` (`outcome.markout_horizon_s`).
    pub fn new(first: Timestamp, markout_horizon_s: u32) -> SummaryBuilder {
        SummaryBuilder {
            first,
            coins: BTreeSet::new(),
            placed: 0,
            cancelled: 0,
            margin_rejects: 0,
            other_rejects: 0,
            anomalies: 0,
            book_invalid: 0,
            fills: 0,
            buys: 0,
            sells: 0,
            volume_units: 0,
            regime_changes: 0,
            checkpoints: 0,
            funding_events: 0,
            markout_moves: BTreeMap::new(),
            markout_dropped: BTreeMap::new(),
            as_resolved: 0,
            as_adverse: 0,
            no_skill_sum: 0.0,
            no_skill_n: 0,
            snaps: BTreeMap::new(),
            regime_secs: BTreeMap::new(),
            regime_pnl: BTreeMap::new(),
            regime_volume: BTreeMap::new(),
            sigmas: Vec::new(),
            half_spreads: Vec::new(),
            ledger: PnlLedger::new(markout_horizon_s),
        }
    }

    /// One output of the journal, at its event time `t`.
    pub fn observe(&mut self, t: Timestamp, o: &Output) {
        self.ledger.observe(t, o);
        match o {
            Output::OrderPlaced { .. } => self.placed += 1,
            Output::OrderCancelled { .. } => self.cancelled += 1,
            Output::OrderRejected { reason, .. } => {
                if *reason == crate::engine::io::RejectReason::Margin {
                    self.margin_rejects += 1;
                } else {
                    self.other_rejects += 1;
                }
            }
            Output::Fill { coin, side, px, sz, .. } => {
                if !self.coins.contains(&**coin) {
                    self.coins.insert(coin.to_string());
                }
                if sz.0 != 0 {
                    // The regime a fill happened in: its coin's at the last snapshot before it.
                    let regime = self.snaps.get(&**coin).map_or(Regime::Normal, |(_, p)| p.regime);
                    *self.regime_volume.entry(regime).or_default() += notional(*px, *sz);
                    self.fills += 1;
                    match side {
                        crate::types::Side::Buy => self.buys += 1,
                        crate::types::Side::Sell => self.sells += 1,
                    }
                    self.volume_units += notional(*px, *sz);
                }
            }
            Output::Markout { horizon_s, move_bp, was_adverse, no_skill, .. } => {
                if let Some(p) = no_skill {
                    self.no_skill_sum += p;
                    self.no_skill_n += 1;
                }
                if move_bp.is_finite() {
                    self.markout_moves.entry(*horizon_s).or_default().push(*move_bp);
                }
                if let Some(a) = was_adverse {
                    self.as_resolved += 1;
                    self.as_adverse += u64::from(*a);
                }
            }
            Output::MarkoutDropped { horizon_s, .. } => {
                *self.markout_dropped.entry(*horizon_s).or_default() += 1
            }
            Output::Model(s) => {
                let secs = t.since(self.first) as f64 / 1e9;
                if s.sigma_bp.is_finite() && s.sigma_bp > 0.0 {
                    self.sigmas.push(s.sigma_bp);
                }
                if let (Some(b), Some(a), Some(m)) = (s.bid_quote, s.ask_quote, s.mid) {
                    if m.0 > 0 && a.0 > b.0 {
                        self.half_spreads.push((a.0 - b.0) as f64 / 2.0 / m.0 as f64 * 1e4);
                    }
                }
                match self.snaps.get_mut(s.coin.as_str()) {
                    Some((prev_t, prev)) => {
                        *self.regime_secs.entry(prev.regime).or_default() += (secs - *prev_t).max(0.0);
                        *self.regime_pnl.entry(prev.regime).or_default() += net_pnl(s) - net_pnl(prev);
                        *prev_t = secs;
                        prev.clone_from(s);
                    }
                    None => {
                        self.coins.insert(s.coin.clone());
                        self.snaps.insert(s.coin.clone(), (secs, s.clone()));
                    }
                }
            }
            Output::RegimeChange { .. } => self.regime_changes += 1,
            Output::Checkpoint { .. } => self.checkpoints += 1,
            Output::Funding { .. } => self.funding_events += 1,
            Output::Anomaly { .. } => self.anomalies += 1,
            Output::BookValidity { valid: false, .. } => self.book_invalid += 1,
            _ => {}
        }
    }

    /// The summary of a session that ended at `last` (its last input's event time), with
    /// `summary.json`'s `output_digest` when there is one.
    /// `session` (loaded whole or streamed) gives the span's end and, from its `summary.json`,
    /// the `output_digest` and the quote quality (`markouts_by_horizon` and the rest, computed
    /// by the session runner), when present.
    pub fn finish(self, session: &Session) -> SessionSummary {
        let last = session.last;
        let output_digest = session.output_digest();
        let quality = session
            .summary
            .as_ref()
            .filter(|v| v.get("markouts_by_horizon").is_some())
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let SummaryBuilder {
            first,
            coins,
            placed,
            cancelled,
            margin_rejects,
            other_rejects,
            anomalies,
            book_invalid,
            fills,
            buys,
            sells,
            volume_units,
            regime_changes,
            checkpoints,
            funding_events,
            markout_moves,
            markout_dropped,
            as_resolved,
            as_adverse,
            no_skill_sum,
            no_skill_n,
            snaps,
            regime_secs,
            regime_pnl,
            regime_volume,
            sigmas,
            half_spreads,
            ledger,
        } = self;
        let coins: Vec<String> = coins.into_iter().collect();
        let last_snap: BTreeMap<&str, &ModelSnapshot> =
            snaps.iter().map(|(c, (_, s))| (c.as_str(), s)).collect();
        let minutes = last.since(first) as f64 / 60e9;
        let sum = |f: fn(&ModelSnapshot) -> f64| last_snap.values().map(|s| f(s)).sum::<f64>();
        let first_ns = first.0;
        let first = coins.first().and_then(|c| last_snap.get(c.as_str()).copied());
        let markouts = MARKOUT_HORIZONS_S
            .iter()
            .map(|&h| {
                let v = markout_moves.get(&h).map(Vec::as_slice).unwrap_or(&[]);
                let n = v.len() as f64;
                let mean = if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / n };
                let var = if v.len() > 1 {
                    v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
                } else {
                    0.0
                };
                MarkoutStat {
                    horizon_s: h,
                    n: v.len() as u64,
                    mean_bp: mean,
                    se_bp: if v.len() > 1 { (var / n).sqrt() } else { 0.0 },
                    dropped: markout_dropped.get(&h).copied().unwrap_or(0),
                }
            })
            .collect();
        let sigma_1s_bp = median(sigmas);
        let as_rate = (as_resolved > 0).then(|| as_adverse as f64 / as_resolved as f64);
        // Funding is the snapshots' own (the journal's funding records, summed by the engine).
        let breakdown_of = |parts: super::pnl::CoinParts, snap: &[&ModelSnapshot]| {
            let total = |f: fn(&ModelSnapshot) -> f64| snap.iter().map(|s| f(s)).sum::<f64>();
            PnlBreakdown::from_parts(
                parts.spread,
                parts.adverse,
                total(|s| s.pnl_realized),
                total(|s| s.pnl_unrealized),
                total(|s| s.pnl_funding),
                total(|s| s.pnl_fees),
            )
        };
        let all_snaps: Vec<&ModelSnapshot> = last_snap.values().copied().collect();
        let pnl_breakdown = breakdown_of(ledger.total(), &all_snaps);
        let pnl_breakdown_by_coin =
            last_snap.iter().map(|(c, s)| (c.to_string(), breakdown_of(ledger.coin(c), &[*s]))).collect();
        let mut s = SessionSummary {
            coins,
            first_ns,
            last_ns: last.0,
            minutes,
            orders_placed: placed,
            orders_cancelled: cancelled,
            margin_rejects,
            other_rejects,
            anomalies,
            book_invalid,
            fills,
            buys,
            sells,
            volume_usd: volume_units as f64 / 1e8,
            fills_per_min: if minutes > 0.0 { fills as f64 / minutes } else { 0.0 },
            pnl_realized: sum(|s| s.pnl_realized),
            pnl_unrealized: sum(|s| s.pnl_unrealized),
            pnl_fees: sum(|s| s.pnl_fees),
            pnl_funding: sum(|s| s.pnl_funding),
            pnl_net: sum(net_pnl),
            funding_events,
            mark_source: mark_source(&last_snap),
            kappa: first.map_or(0.0, |s| s.kappa),
            kappa_confidence: first.map_or(0.0, |s| s.kappa_confidence),
            own_fills: first.map_or(0, |s| s.own_fills),
            calibration_progress: first.map_or(0.0, |s| s.calibration_progress),
            cal_gamma: first.map_or(0.0, |s| s.cal_gamma),
            toxicity: first.map_or(0.0, |s| s.toxicity),
            brier_skill: first.map_or(0.0, |s| s.brier_skill),
            sigma_1s_bp,
            mean_half_spread_bp: median(half_spreads),
            markouts,
            as_resolved,
            as_adverse,
            as_rate,
            as_rate_interval: wilson_interval(as_adverse, as_resolved, Z_95),
            // The engine's figure: the mean no-skill probability of the labelled fills.
            as_no_skill_baseline: (no_skill_n > 0).then(|| no_skill_sum / no_skill_n as f64),
            regime_changes,
            regimes: [Regime::Quiet, Regime::Normal, Regime::Volatile]
                .iter()
                .map(|r| RegimeStat {
                    regime: regime_name(*r).to_string(),
                    seconds: regime_secs.get(r).copied().unwrap_or(0.0),
                    pnl: regime_pnl.get(r).copied().unwrap_or(0.0),
                    volume_usd: regime_volume.get(r).copied().unwrap_or(0) as f64 / 1e8,
                })
                .collect(),
            checkpoints,
            pnl_breakdown,
            pnl_breakdown_by_coin,
            max_drawdown: ledger.max_drawdown(),
            output_digest,
            quality,
            interpretation: Vec::new(),
        };
        s.interpretation = interpret(&s);
        s
    }
}

impl SessionSummary {
    pub fn compute(session: &Session) -> SessionSummary {
        let mut b = SummaryBuilder::new(session.first, markout_horizon_s(session));
        for (t, o) in &session.outputs {
            b.observe(*t, o);
        }
        b.finish(session)
    }

    fn regime(&self, name: &str) -> Option<&RegimeStat> {
        self.regimes.iter().find(|r| r.regime == name)
    }
}

/// The seed's "Interpreting Results", applied to the figures.
pub fn interpret(s: &SessionSummary) -> Vec<Interpretation> {
    let mut out = Vec::new();
    let quiet = s.regime("quiet");
    let normal = s.regime("normal");
    let volatile = s.regime("volatile");
    let calm_pnl = quiet.map_or(0.0, |r| r.pnl) + normal.map_or(0.0, |r| r.pnl);
    let calm_secs = quiet.map_or(0.0, |r| r.seconds) + normal.map_or(0.0, |r| r.seconds);
    out.push(Interpretation {
        rule: "Positive PnL in quiet markets: good baseline, strategy captures spread",
        verdict: if calm_secs == 0.0 {
            "no time in quiet or normal regimes: no baseline to judge".to_string()
        } else if calm_pnl > 0.0 {
            format!(
                "PnL in quiet regimes {:+.2} USD, normal {:+.2} USD ({:.1} min together): good baseline, the strategy captures spread",
                quiet.map_or(0.0, |r| r.pnl),
                normal.map_or(0.0, |r| r.pnl),
                calm_secs / 60.0
            )
        } else if s.pnl_breakdown.spread > 0.0 {
            // The quotes did earn against the mid: say what took it instead.
            let b = &s.pnl_breakdown;
            let drains = [("fees", b.fees), ("adverse selection", -b.adverse), ("inventory", -b.inventory)];
            let (worst, cost) = drains.iter().fold(("fees", f64::NEG_INFINITY), |w, d| if d.1 > w.1 { *d } else { w });
            format!(
                "PnL in quiet regimes {:+.2} USD, normal {:+.2} USD ({:.1} min together): not positive, although the quotes captured {:+.2} USD of spread against the mid over the session; {worst} took the most ({:.2} USD): fees {:.2}, adverse selection {:+.2}, inventory {:+.2}, net {:+.2} USD",
                quiet.map_or(0.0, |r| r.pnl),
                normal.map_or(0.0, |r| r.pnl),
                calm_secs / 60.0,
                b.spread,
                cost,
                b.fees,
                b.adverse,
                b.inventory,
                b.net
            )
        } else {
            format!(
                "PnL in quiet regimes {:+.2} USD, normal {:+.2} USD ({:.1} min together): the strategy does not capture spread even in calm markets",
                quiet.map_or(0.0, |r| r.pnl),
                normal.map_or(0.0, |r| r.pnl),
                calm_secs / 60.0
            )
        },
        flagged: calm_secs > 0.0 && calm_pnl <= 0.0,
    });
    let (vol_pnl, vol_secs, vol_volume) =
        volatile.map_or((0.0, 0.0, 0.0), |r| (r.pnl, r.seconds, r.volume_usd));
    // "Should be small": a market maker's edge per fill is about the quoted half-spread, so a
    // volatile-regime loss is small when it costs no more than that per unit of volume traded
    // (1 bp when no quotes were seen).
    let edge_bp = s.mean_half_spread_bp.unwrap_or(1.0);
    let loss_bp = if vol_volume > 0.0 { -vol_pnl / vol_volume * 1e4 } else { 0.0 };
    let large = vol_pnl < 0.0 && loss_bp > edge_bp;
    out.push(Interpretation {
        rule: "Negative PnL in volatile: expected, but magnitude matters - should be small",
        verdict: if vol_secs == 0.0 {
            "no time in the volatile regime".to_string()
        } else if vol_pnl >= 0.0 {
            format!("PnL in volatile regimes {vol_pnl:+.2} USD over {:.1} min: not negative", vol_secs / 60.0)
        } else {
            format!(
                "PnL in volatile regimes {vol_pnl:+.2} USD over {:.1} min = {loss_bp:.2} bp of the {vol_volume:.0} USD traded there, {} the {edge_bp:.2} bp half-spread the quotes aim to earn: {}",
                vol_secs / 60.0,
                if large { "more than" } else { "within" },
                if large { "too large" } else { "small, as expected" }
            )
        },
        flagged: large,
    });
    let baseline = s.as_no_skill_baseline.map_or("n/a".to_string(), |b| format!("{:.1}%", b * 100.0));
    out.push(Interpretation {
        rule: "High adverse selection rate (> 40%): AS classifier needs work",
        verdict: match (s.as_rate, s.as_rate_interval) {
            (Some(r), Some((lo, hi))) => format!(
                "AS rate {:.1}% (95% Wilson {:.1}-{:.1}%, n = {}) vs no-skill baseline {baseline}: {}",
                r * 100.0,
                lo * 100.0,
                hi * 100.0,
                s.as_resolved,
                if r > AS_RATE_FLAG { "above 40%: the AS classifier needs work" } else { "at or below 40%" }
            ),
            _ => "no resolved 5 s outcomes".to_string(),
        },
        flagged: s.as_rate.is_some_and(|r| r > AS_RATE_FLAG),
    });
    let low = s.fills_per_min < LOW_FILL_RATE_PER_MIN;
    let spread = s.mean_half_spread_bp.map_or("n/a".to_string(), |h| format!("{h:.2} bp"));
    out.push(Interpretation {
        rule: "Low fill rate: kappa estimate may be too low, or spreads too wide",
        verdict: if low {
            format!(
                "{:.2} fills/min is low: kappa {:.3}/bp may be too low, or spreads too wide (median quoted half-spread {spread}, cal_gamma {:.3})",
                s.fills_per_min, s.kappa, s.cal_gamma
            )
        } else {
            format!("{:.2} fills/min (median quoted half-spread {spread})", s.fills_per_min)
        },
        flagged: low,
    });
    let trusted = s.calibration_progress > CALIBRATION_TRUSTED;
    out.push(Interpretation {
        rule: "Calibration progress > 50%: system is learning, can trust parameter estimates",
        verdict: if trusted {
            format!("calibration_progress {:.1}%: the system is learning; parameter estimates can be trusted", s.calibration_progress * 100.0)
        } else {
            format!(
                "calibration_progress {:.1}%: not yet above 50%, treat kappa ({:.3}) and toxicity as provisional",
                s.calibration_progress * 100.0,
                s.kappa
            )
        },
        flagged: !trusted,
    });
    out
}

/// The summary as terminal text.
pub fn render_text(s: &SessionSummary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "summary: {} over {:.1} min of event time", s.coins.join(","), s.minutes);
    if let Some(d) = &s.output_digest {
        let _ = writeln!(o, "  output_digest {d}");
    }
    let _ = writeln!(
        o,
        "  orders placed {}, cancelled {}, rejected {} (margin_rejects {}); anomalies {}; book invalid {}x",
        s.orders_placed,
        s.orders_cancelled,
        s.margin_rejects + s.other_rejects,
        s.margin_rejects,
        s.anomalies,
        s.book_invalid
    );
    let _ = writeln!(
        o,
        "  fills {} ({} buys, {} sells), volume {:.2} USD, {:.2} fills/min",
        s.fills, s.buys, s.sells, s.volume_usd, s.fills_per_min
    );
    let _ = writeln!(
        o,
        "  pnl: realized {:+.4}  unrealized {:+.4}  funding {:+.4}  fees {:.4}  net {:+.4} USD  max drawdown {:.4} USD",
        s.pnl_realized, s.pnl_unrealized, s.pnl_funding, s.pnl_fees, s.pnl_net, s.max_drawdown
    );
    let _ = writeln!(
        o,
        "  marked at the {} price; funding events {}",
        if s.mark_source == "mid" { "mid".to_string() } else { format!("{} mark", s.mark_source) },
        s.funding_events
    );
    let b = &s.pnl_breakdown;
    let _ = writeln!(
        o,
        "  where it went: spread {:+.4}  adverse {:+.4}  inventory {:+.4}  funding {:+.4}  fees {:.4}  = net {:+.4} USD",
        b.spread, b.adverse, b.inventory, b.funding, b.fees, b.net
    );
    let _ = writeln!(
        o,
        "  kappa {:.4}/bp  kappa_confidence {:.4}  own_fills {}  calibration_progress {:.4}  cal_gamma {:.4}",
        s.kappa, s.kappa_confidence, s.own_fills, s.calibration_progress, s.cal_gamma
    );
    let _ = writeln!(
        o,
        "  toxicity {:.4}  brier_skill {:+.4}  sigma_1s {}",
        s.toxicity,
        s.brier_skill,
        s.sigma_1s_bp.map_or("n/a".to_string(), |v| format!("{v:.3} bp"))
    );
    let marks: Vec<String> = s
        .markouts
        .iter()
        .map(|m| format!("{}s {:+.3}±{:.3} bp (n {})", m.horizon_s, m.mean_bp, m.se_bp, m.n))
        .collect();
    let _ = writeln!(o, "  markouts: {}", marks.join(", "));
    if let Some(q) = &s.quality {
        render_quality(&mut o, q);
    }
    let regimes: Vec<String> = s
        .regimes
        .iter()
        .map(|r| format!("{} {:.1} min pnl {:+.2}", r.regime, r.seconds / 60.0, r.pnl))
        .collect();
    let _ = writeln!(
        o,
        "  regimes: {} changes; {}; checkpoints {}",
        s.regime_changes,
        regimes.join(", "),
        s.checkpoints
    );
    let _ = writeln!(o, "interpretation:");
    for i in &s.interpretation {
        let _ = writeln!(o, "  {} {}", if i.flagged { "!" } else { "-" }, i.verdict);
    }
    o
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |x| format!("{:.1}%", x * 100.0))
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".to_string(), |x| format!("{x:+.digits$}"))
}

/// A horizon in ms as people say it: 100ms, 1s, 1m.
pub fn horizon_label(ms: u64) -> String {
    if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1_000 == 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

/// The quote-quality lines of the terminal summary.
fn render_quality(o: &mut String, q: &super::quality::Quality) {
    let _ = writeln!(
        o,
        "  pnl per hour {} USD (hourly Sharpe {}); position {} USD now, {:.2} USD gross at most; margin use mean {} max {}",
        num(q.pnl_per_hour, 4),
        q.pnl_hourly_sharpe.map_or("n/a".to_string(), |x| format!("{x:.2}")),
        q.position_usd.values().map(|v| format!("{v:+.2}")).collect::<Vec<_>>().join(","),
        q.max_position_usd,
        pct(q.margin_use_mean),
        pct(q.margin_use_max),
    );
    let _ = writeln!(
        o,
        "  quoting: uptime {}, at the touch {} (bid {}, ask {}); quoted spread {} bp vs market {} bp; order-to-trade {}",
        pct(q.quote_uptime),
        pct(q.time_at_touch),
        pct(q.time_at_touch_bid),
        pct(q.time_at_touch_ask),
        q.quoted_spread_bp.map_or("n/a".to_string(), |x| format!("{x:.2}")),
        q.market_spread_bp.map_or("n/a".to_string(), |x| format!("{x:.2}")),
        q.order_to_trade.map_or("n/a".to_string(), |x| format!("{x:.1}")),
    );
    let k = &q.fills_by_kind;
    let _ = writeln!(
        o,
        "  fills by kind: trade-through {}, book cross {}, at price {}",
        k.trade_through, k.book_cross, k.trade_at_price
    );
    let marks: Vec<String> = q
        .markouts_by_horizon
        .iter()
        .map(|h| {
            format!(
                "{} {} (buy {} / sell {}, n {})",
                horizon_label(h.horizon_ms),
                num(h.all.mean_bp, 2),
                num(h.buy.mean_bp, 2),
                num(h.sell.mean_bp, 2),
                h.all.n
            )
        })
        .collect();
    let _ = writeln!(o, "  markouts by horizon (mean bp): {}", marks.join(", "));
}

/// The terminal summary's two accumulators, the figures ([`SummaryBuilder`]) and the
/// checklist ([`super::validate::ChecklistTracker`]), fed output by output in journal order.
/// `report`'s streamed terminal summary feeds it from the journal; the session runner feeds it
/// the outputs as they are journaled, so `replay` prints the same text without reading the
/// journal back.
pub struct TerminalSummary {
    builder: SummaryBuilder,
    tracker: super::validate::ChecklistTracker,
}

impl TerminalSummary {
    /// Set up from a session's head (`session.toml`'s settings) for a session whose first
    /// input was at `first` (`summary.json`'s `first_ns`).
    pub fn new(head: &Session, first: Timestamp) -> TerminalSummary {
        let mut at_first = Session { first, last: first, ..Session::default() };
        at_first.config.clone_from(&head.config);
        at_first.checkpoint_files = head.checkpoint_files;
        TerminalSummary {
            builder: SummaryBuilder::new(first, markout_horizon_s(&at_first)),
            tracker: at_first.checklist_tracker(),
        }
    }

    /// One output of the journal, at its event time `t`.
    pub fn observe(&mut self, t: Timestamp, o: &Output) {
        self.builder.observe(t, o);
        self.tracker.on_output(t, o);
    }

    /// The text, with the finished session's head (its `summary.json`: span end, digest,
    /// quote quality; its checkpoint files).
    pub fn finish(self, head: &Session) -> String {
        let TerminalSummary { builder, mut tracker } = self;
        if let Some(n) = head.checkpoint_files {
            tracker.set_checkpoint_files(n);
        }
        tracker.advance(head.last);
        terminal_text(&builder.finish(head), &tracker.items())
    }
}

/// The terminal layout `demo`, `replay` and `report` share: the figures, then the checklist.
pub fn terminal_text(summary: &SessionSummary, items: &[super::validate::ChecklistItem]) -> String {
    format!("{}checklist:\n{}", render_text(summary), super::validate::render_text(items))
}
