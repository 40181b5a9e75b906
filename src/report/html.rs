//! The HTML report: one self-contained page (no network: plots are inline SVG drawn by
//! `plotters`, styles inline, one small inline script that only annotates the plots) with the
//! checklist, the summary, the seed's interpretation rules, and the plots.

use super::charts::{Chart as PageChart, Series};
use super::session::Session;
use super::summary::{SessionSummary, AS_RATE_FLAG, MARKOUT_HORIZONS_S};
use super::validate::ChecklistItem;
use crate::engine::io::{ModelSnapshot, Output, Regime};
use crate::types::Side;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

type PlotResult<T> = Result<T, Box<dyn std::error::Error>>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 300;
const QUIET_SHADE: RGBColor = RGBColor(120, 170, 230);
const VOLATILE_SHADE: RGBColor = RGBColor(235, 110, 100);
const GREEN: RGBColor = RGBColor(30, 150, 60);
const ORANGE: RGBColor = RGBColor(230, 140, 20);
const PURPLE: RGBColor = RGBColor(130, 60, 170);
const GREY: RGBColor = RGBColor(120, 120, 120);

/// A stretch of event time (minutes from the start) spent in one regime.
struct RegimeSpan {
    from: f64,
    to: f64,
    regime: Regime,
}

/// What the plots draw, extracted once from the session (the first coin's model snapshots).
struct Data<'a> {
    snaps: Vec<(f64, &'a ModelSnapshot)>,
    /// (minute, side, price, toxicity, adverse at 5 s if resolved)
    fills: Vec<(f64, Side, f64, f64, Option<bool>)>,
    /// Resolved 5 s outcomes in time order: (minute, adverse).
    outcomes: Vec<(f64, bool)>,
    markouts: BTreeMap<u32, Vec<f64>>,
    regimes: Vec<RegimeSpan>,
    end_min: f64,
    coin: String,
}

fn extract(session: &Session) -> Data<'_> {
    let coin = session.coins().into_iter().next().unwrap_or_default();
    let minute = |t: crate::types::Timestamp| session.secs(t) / 60.0;
    let mut snaps = Vec::new();
    let mut fill_index: BTreeMap<u64, usize> = BTreeMap::new();
    let mut fills = Vec::new();
    let mut outcomes = Vec::new();
    let mut markouts: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for (t, o) in &session.outputs {
        match o {
            Output::Model(s) if s.coin == coin => snaps.push((minute(*t), s)),
            Output::Fill { coin: c, fill_id, side, px, sz, toxicity, .. } if **c == *coin && sz.0 != 0 => {
                fill_index.insert(*fill_id, fills.len());
                fills.push((minute(*t), *side, px.to_f64(), *toxicity, None));
            }
            Output::Markout { coin: c, fill_id, horizon_s, move_bp, was_adverse, .. } if **c == *coin => {
                if move_bp.is_finite() {
                    markouts.entry(*horizon_s).or_default().push(*move_bp);
                }
                if let Some(a) = was_adverse {
                    outcomes.push((minute(*t), *a));
                    if let Some(&i) = fill_index.get(fill_id) {
                        fills[i].4 = Some(*a);
                    }
                }
            }
            _ => {}
        }
    }
    let end_min = minute(session.last).max(snaps.last().map_or(0.0, |s| s.0)).max(1e-3);
    let mut regimes: Vec<RegimeSpan> = Vec::new();
    for (t, s) in &snaps {
        match regimes.last_mut() {
            Some(last) if last.regime == s.regime => last.to = *t,
            Some(last) => {
                last.to = *t;
                regimes.push(RegimeSpan { from: *t, to: *t, regime: s.regime });
            }
            None => regimes.push(RegimeSpan { from: 0.0, to: *t, regime: s.regime }),
        }
    }
    if let Some(last) = regimes.last_mut() {
        last.to = end_min;
    }
    Data { snaps, fills, outcomes, markouts, regimes, end_min, coin }
}

/// The y range of some values, padded, never empty.
fn y_range(values: impl IntoIterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs().max(lo.abs()) * 1e-6).max(1e-9);
    (lo - pad)..(hi + pad)
}

fn shade_regimes(
    chart: &mut Chart<'_, '_>,
    regimes: &[RegimeSpan],
    y: &std::ops::Range<f64>,
) -> PlotResult<()> {
    chart.draw_series(regimes.iter().filter(|r| r.regime != Regime::Normal).map(|r| {
        let color = if r.regime == Regime::Quiet { QUIET_SHADE } else { VOLATILE_SHADE };
        Rectangle::new([(r.from, y.start), (r.to, y.end)], color.mix(0.18).filled())
    }))?;
    Ok(())
}

fn line_legend(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
}

/// One time-axis plot with regimes shaded behind it; `draw` adds the series.
fn time_plot(
    title: &str,
    y_desc: &str,
    data: &Data<'_>,
    y: std::ops::Range<f64>,
    draw: impl FnOnce(&mut Chart<'_, '_>) -> PlotResult<()>,
) -> PlotResult<String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..data.end_min, y.clone())?;
        chart
            .configure_mesh()
            .x_desc("minutes of event time")
            .y_desc(y_desc)
            .light_line_style(WHITE)
            .draw()?;
        shade_regimes(&mut chart, &data.regimes, &y)?;
        draw(&mut chart)?;
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(GREY).draw()?;
        root.present()?;
    }
    Ok(buf)
}

fn series<'a>(data: &'a Data<'_>, f: impl Fn(&ModelSnapshot) -> Option<f64> + 'a) -> Vec<(f64, f64)> {
    data.snaps.iter().filter_map(|(t, s)| f(s).filter(|v| v.is_finite()).map(|v| (*t, v))).collect()
}

fn draw_line(
    chart: &mut Chart<'_, '_>,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    label: &str,
) -> PlotResult<()> {
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))?
        .label(label)
        .legend(line_legend(color));
    Ok(())
}

fn pnl_plot(d: &Data<'_>) -> PlotResult<String> {
    let realized = series(d, |s| Some(s.pnl_realized));
    let unrealized = series(d, |s| Some(s.pnl_unrealized));
    let fees = series(d, |s| Some(s.pnl_fees));
    let funding = series(d, |s| Some(s.pnl_funding));
    let net = series(d, |s| Some(super::summary::net_pnl(s)));
    let y = y_range(
        realized.iter().chain(&unrealized).chain(&fees).chain(&funding).chain(&net).map(|p| p.1).chain([0.0]),
    );
    time_plot(&format!("PnL, {} (USD)", d.coin), "USD", d, y, |c| {
        draw_line(c, realized, BLUE, "realized")?;
        draw_line(c, unrealized, ORANGE, "unrealized (at the mark)")?;
        draw_line(c, funding, GREEN, "funding (received +)")?;
        draw_line(c, fees, RED, "fees")?;
        draw_line(c, net, BLACK, "net (realized + unrealized + funding - fees)")
    })
}

fn inventory_plot(d: &Data<'_>) -> PlotResult<String> {
    let pos = series(d, |s| Some(s.position.to_f64()));
    let y = y_range(pos.iter().map(|p| p.1).chain([0.0]));
    time_plot(&format!("Inventory, {} (base units)", d.coin), "position", d, y, |c| {
        draw_line(c, pos, PURPLE, "position")
    })
}

fn quotes_plot(d: &Data<'_>) -> PlotResult<String> {
    let mid = series(d, |s| s.mid.map(|p| p.to_f64()));
    let bid = series(d, |s| s.bid_quote.map(|p| p.to_f64()));
    let ask = series(d, |s| s.ask_quote.map(|p| p.to_f64()));
    let y = y_range(mid.iter().chain(&bid).chain(&ask).map(|p| p.1).chain(d.fills.iter().map(|f| f.2)));
    let buys: Vec<(f64, f64)> = d.fills.iter().filter(|f| f.1 == Side::Buy).map(|f| (f.0, f.2)).collect();
    let sells: Vec<(f64, f64)> = d.fills.iter().filter(|f| f.1 == Side::Sell).map(|f| (f.0, f.2)).collect();
    time_plot(&format!("Quotes vs mid and fills, {}", d.coin), "price", d, y, |c| {
        draw_line(c, mid, BLACK, "mid")?;
        draw_line(c, bid, GREEN, "bid quote")?;
        draw_line(c, ask, RED, "ask quote")?;
        c.draw_series(buys.iter().map(|p| Circle::new(*p, 3, GREEN.filled())))?
            .label("buy fill")
            .legend(|(x, y)| Circle::new((x + 9, y), 3, GREEN.filled()));
        c.draw_series(sells.iter().map(|p| Circle::new(*p, 3, RED.filled())))?
            .label("sell fill")
            .legend(|(x, y)| Circle::new((x + 9, y), 3, RED.filled()));
        Ok(())
    })
}

fn kappa_plot(d: &Data<'_>) -> PlotResult<String> {
    let kappa = series(d, |s| Some(s.kappa));
    let conf = series(d, |s| Some(s.kappa_confidence));
    // kappa_confidence lives in [0, 1]: scale it onto kappa's axis so both read on one plot.
    let y = y_range(kappa.iter().map(|p| p.1).chain([0.0]));
    let scale = y.end.max(1e-9);
    let conf_scaled: Vec<(f64, f64)> = conf.iter().map(|(t, v)| (*t, v * scale)).collect();
    time_plot(
        &format!("kappa (per bp) and kappa_confidence (x {scale:.3}), {}", d.coin),
        "kappa /bp",
        d,
        y,
        |c| {
            draw_line(c, kappa, BLUE, "kappa")?;
            draw_line(c, conf_scaled, ORANGE, "kappa_confidence (scaled: top of axis = 1)")
        },
    )
}

fn calibration_plot(d: &Data<'_>) -> PlotResult<String> {
    let prog = series(d, |s| Some(s.calibration_progress));
    let gamma = series(d, |s| Some(s.cal_gamma));
    let asp = series(d, |s| Some(s.as_progress));
    time_plot(
        &format!("calibration_progress, as_progress and cal_gamma, {}", d.coin),
        "",
        d,
        0.0..1.05,
        |c| {
            c.draw_series(LineSeries::new(vec![(0.0, 0.5), (d.end_min, 0.5)], GREY.stroke_width(1)))?
                .label("50%: estimates can be trusted above")
                .legend(line_legend(GREY));
            draw_line(c, prog, BLUE, "calibration_progress")?;
            draw_line(c, asp, GREEN, "as_progress")?;
            draw_line(c, gamma, RED, "cal_gamma")
        },
    )
}

fn toxicity_plot(d: &Data<'_>) -> PlotResult<String> {
    let tox = series(d, |s| Some(s.toxicity));
    time_plot(
        &format!("Toxicity before each fill (dots: red = adverse at 5 s), {}", d.coin),
        "toxicity",
        d,
        0.0..1.0,
        |c| {
            draw_line(c, tox, PURPLE, "toxicity (model snapshots)")?;
            let color = |a: Option<bool>| match a {
                Some(true) => RED,
                Some(false) => GREEN,
                None => GREY,
            };
            c.draw_series(d.fills.iter().map(|f| Circle::new((f.0, f.3), 2, color(f.4).filled())))?
                .label("fill (green: not adverse, grey: unresolved)")
                .legend(|(x, y)| Circle::new((x + 9, y), 3, GREEN.filled()));
            Ok(())
        },
    )
}

fn as_rate_plot(d: &Data<'_>, summary: &SessionSummary) -> PlotResult<String> {
    // The cumulative AS rate with its 95% Wilson band, against the no-skill baseline.
    let mut rate = Vec::new();
    let mut band_hi = Vec::new();
    let mut band_lo = Vec::new();
    let mut adverse = 0u64;
    for (i, (t, a)) in d.outcomes.iter().enumerate() {
        adverse += u64::from(*a);
        let n = i as u64 + 1;
        rate.push((*t, adverse as f64 / n as f64));
        if let Some((lo, hi)) = super::stats::wilson_interval(adverse, n, super::stats::Z_95) {
            band_lo.push((*t, lo));
            band_hi.push((*t, hi));
        }
    }
    time_plot(
        &format!("Adverse-selection rate at 5 s (cumulative, 95% Wilson band), {}", d.coin),
        "AS rate",
        d,
        0.0..1.0,
        |c| {
            let mut band = band_hi.clone();
            band.extend(band_lo.iter().rev());
            if band.len() >= 3 {
                c.draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.15).filled())))?;
            }
            c.draw_series(LineSeries::new(
                vec![(0.0, AS_RATE_FLAG), (d.end_min, AS_RATE_FLAG)],
                RED.stroke_width(1),
            ))?
            .label("40%: AS classifier needs work above")
            .legend(line_legend(RED));
            if let Some(b) = summary.as_no_skill_baseline {
                c.draw_series(LineSeries::new(vec![(0.0, b), (d.end_min, b)], GREY.stroke_width(2)))?
                    .label("no-skill baseline: mean Phi(-1/(sigma_1s sqrt 5)) over the fills")
                    .legend(line_legend(GREY));
            }
            draw_line(c, rate, BLUE, "AS rate")
        },
    )
}

fn markout_plot(d: &Data<'_>) -> PlotResult<String> {
    let stats: Vec<(f64, f64, f64)> = MARKOUT_HORIZONS_S
        .iter()
        .filter_map(|h| {
            let v = d.markouts.get(h)?;
            if v.is_empty() {
                return None;
            }
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let se = if v.len() > 1 {
                (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt()
            } else {
                0.0
            };
            Some((f64::from(*h), mean, se))
        })
        .collect();
    let y = y_range(stats.iter().flat_map(|s| [s.1 - 2.0 * s.2, s.1 + 2.0 * s.2]).chain([0.0, -1.0]));
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Markouts after fills (mean +- 2 SE), {}", d.coin), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..65.0, y)?;
        chart.configure_mesh().x_desc("horizon (s)").y_desc("mid move in the fill's favour (bp)").draw()?;
        chart
            .draw_series(LineSeries::new(vec![(0.0, -1.0), (65.0, -1.0)], RED.stroke_width(1)))?
            .label("-1 bp: adverse at 5 s below")
            .legend(line_legend(RED));
        chart.draw_series(LineSeries::new(vec![(0.0, 0.0), (65.0, 0.0)], GREY.stroke_width(1)))?;
        chart.draw_series(stats.iter().map(|(h, m, se)| {
            PathElement::new(vec![(*h, m - 2.0 * se), (*h, m + 2.0 * se)], BLUE.stroke_width(2))
        }))?;
        chart
            .draw_series(
                LineSeries::new(stats.iter().map(|(h, m, _)| (*h, *m)), BLUE.stroke_width(2)).point_size(4),
            )?
            .label("mean markout")
            .legend(line_legend(BLUE));
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(GREY).draw()?;
        root.present()?;
    }
    Ok(buf)
}

fn regime_plot(d: &Data<'_>) -> PlotResult<String> {
    let ratio = series(d, |s| Some(s.vol_ratio));
    let sigma = series(d, |s| Some(s.sigma_bp));
    let y = y_range(ratio.iter().chain(&sigma).map(|p| p.1).chain([0.0, 2.2]));
    time_plot(
        &format!("Regimes (shaded: blue quiet, red volatile) and the volatility ratio, {}", d.coin),
        "ratio / bp",
        d,
        y,
        |c| {
            for (level, color, label) in [
                (2.0, RED, "enter volatile (2.0)"),
                (1.4, ORANGE, "leave volatile (1.4)"),
                (0.6, BLUE, "enter quiet (0.6)"),
                (0.8, GREEN, "leave quiet (0.8)"),
            ] {
                c.draw_series(LineSeries::new(
                    vec![(0.0, level), (d.end_min, level)],
                    color.mix(0.6).stroke_width(1),
                ))?
                .label(label)
                .legend(line_legend(color));
            }
            draw_line(c, ratio, BLACK, "sigma_fast / sigma_slow")?;
            draw_line(c, sigma, PURPLE, "sigma (bp per sqrt s)")
        },
    )
}

/// At most this many bars in the fill-rate plot: a session spanning years (or damaged times)
/// gets wider bins, not hundreds of millions of them.
const MAX_RATE_BINS: f64 = 2000.0;

fn fill_rate_plot(d: &Data<'_>) -> PlotResult<String> {
    // Bins of one minute, or wider when the session is longer than MAX_RATE_BINS minutes;
    // heights are per minute either way.
    let width = (d.end_min / MAX_RATE_BINS).max(1.0);
    let bins = (d.end_min / width).ceil().clamp(1.0, MAX_RATE_BINS) as usize;
    let bin_of = |t: f64| ((t.max(0.0) / width) as usize).min(bins - 1);
    let mut per_bin = vec![0u64; bins];
    for f in &d.fills {
        per_bin[bin_of(f.0)] += 1;
    }
    // Market trades per bin from the snapshots' cumulative counts (0 when not recorded).
    let mut trades = vec![0u64; bins];
    let mut seen = 0u64;
    for (t, s) in &d.snaps {
        trades[bin_of(*t)] += s.market_trades.saturating_sub(seen);
        seen = seen.max(s.market_trades);
    }
    let per_min: Vec<f64> = per_bin.iter().map(|&n| n as f64 / width).collect();
    let rolling: Vec<(f64, f64)> = (0..bins)
        .map(|m| {
            let lo = m.saturating_sub(4);
            let window = &per_min[lo..=m];
            ((m as f64 + 0.5) * width, window.iter().sum::<f64>() / window.len() as f64)
        })
        .collect();
    let has_trades = trades.iter().any(|&n| n > 0);
    let trade_scale = if has_trades {
        let max_f = per_bin.iter().copied().max().unwrap_or(0).max(1) as f64;
        max_f / trades.iter().copied().max().unwrap_or(1).max(1) as f64
    } else {
        0.0
    };
    let y = y_range(per_min.iter().copied().chain([0.0]));
    let y = 0.0..y.end;
    time_plot(&format!("Fill rate, {} (fills per minute)", d.coin), "fills / min", d, y, |c| {
        c.draw_series(per_min.iter().enumerate().map(|(m, &n)| {
            let x = m as f64 * width;
            Rectangle::new([(x + 0.1 * width, 0.0), (x + 0.9 * width, n)], BLUE.mix(0.5).filled())
        }))?
        .label("fills per minute")
        .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 14, y + 4)], BLUE.mix(0.5).filled()));
        draw_line(c, rolling, BLACK, "5-bin average")?;
        if has_trades {
            let pts: Vec<(f64, f64)> = trades
                .iter()
                .enumerate()
                .map(|(m, &n)| ((m as f64 + 0.5) * width, n as f64 / width * trade_scale))
                .collect();
            draw_line(c, pts, GREY, &format!("market trades (x {trade_scale:.3})"))?;
        }
        Ok(())
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The static plots of the page that are not interactive charts, with a one-line caption.
pub fn plots(session: &Session, summary: &SessionSummary) -> anyhow::Result<Vec<(&'static str, String)>> {
    let d = extract(session);
    let err = |e: Box<dyn std::error::Error>| anyhow::anyhow!("drawing a plot: {e}");
    Ok(vec![
        ("Loop 2: markouts at 1, 5, 30 and 60 s.", markout_plot(&d).map_err(err)?),
        (
            "Loop 2: the AS rate with its interval vs the no-skill baseline.",
            as_rate_plot(&d, summary).map_err(err)?,
        ),
        ("Fill rate.", fill_rate_plot(&d).map_err(err)?),
    ])
}

fn drawdown_plot(d: &Data<'_>, curve: &[(f64, f64)]) -> PlotResult<String> {
    let dd = drawdown_series(curve);
    let y = y_range(dd.iter().map(|p| p.1).chain([0.0]));
    time_plot("Drawdown: net PnL below its running peak (USD)", "USD", d, y, |c| {
        draw_line(c, dd, RED, "drawdown")
    })
}

/// (minute, net - running peak) of a net PnL curve (0 or below), the peak starting at 0.
fn drawdown_series(curve: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut peak = 0.0f64;
    curve
        .iter()
        .map(|&(t, net)| {
            peak = peak.max(net);
            (t, net - peak)
        })
        .collect()
}

fn snap_series(d: &Data<'_>, f: impl Fn(&ModelSnapshot) -> Option<f64>) -> Vec<Option<f64>> {
    d.snaps.iter().map(|(_, s)| f(s)).collect()
}

/// One row of the price chart: a model snapshot or a fill (side, price), at a minute.
type PriceRow<'a> = (f64, Option<&'a ModelSnapshot>, Option<(Side, f64)>);

/// The interactive charts of a session, each with its static fallback.
pub fn charts(session: &Session, summary: &SessionSummary) -> anyhow::Result<Vec<(PageChart, &'static str)>> {
    let d = extract(session);
    let err = |e: Box<dyn std::error::Error>| anyhow::anyhow!("drawing a plot: {e}");
    let x: Vec<f64> = d.snaps.iter().map(|(t, _)| *t).collect();
    let chart = |id: &str, title: String, y: &str, y2: &str, series: Vec<Series>, svg: String| PageChart {
        id: id.to_string(),
        title,
        x_label: "minutes of event time".to_string(),
        y_label: y.to_string(),
        y2_label: y2.to_string(),
        group: "session",
        x: x.clone(),
        series,
        fallback_svg: svg,
        height: 300,
    };
    let coin = &d.coin;
    let mut out = Vec::new();
    // Price, quotes and fills on one time axis: snapshots and fills merged in time order.
    let mut rows: Vec<PriceRow<'_>> = d.snaps.iter().map(|(t, s)| (*t, Some(*s), None)).collect();
    rows.extend(d.fills.iter().map(|f| (f.0, None, Some((f.1, f.2)))));
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let px = |f: fn(&ModelSnapshot) -> Option<crate::types::Price>| -> Vec<Option<f64>> {
        rows.iter().map(|r| r.1.and_then(f).map(|p| p.to_f64())).collect()
    };
    let fill_at = |side: Side| -> Vec<Option<f64>> {
        rows.iter().map(|r| r.2.filter(|f| f.0 == side).map(|f| f.1)).collect()
    };
    let mut price = chart(
        "price",
        format!("Price, our quotes and fills, {coin}"),
        "price",
        "",
        vec![
            Series::line("mid", "#444", px(|s| s.mid)),
            Series::line("our bid", "#1e88e5", px(|s| s.bid_quote)),
            Series::line("our ask", "#e53935", px(|s| s.ask_quote)),
            Series::line("buy fills", "#1b5e20", fill_at(Side::Buy)).points(),
            Series::line("sell fills", "#b71c1c", fill_at(Side::Sell)).points(),
        ],
        quotes_plot(&d).map_err(err)?,
    );
    price.x = rows.iter().map(|r| r.0).collect();
    price.height = 380;
    out.push((price, "Drag across a chart to zoom (all time charts follow), double-click to reset."));
    out.push((
        chart(
            "pnl",
            format!("PnL, {coin} (USD)"),
            "USD",
            "",
            vec![
                Series::line(
                    "net",
                    "#000",
                    snap_series(&d, |s| Some(s.pnl_realized + s.pnl_unrealized - s.pnl_fees)),
                ),
                Series::line("realized", "#1e88e5", snap_series(&d, |s| Some(s.pnl_realized))),
                Series::line("unrealized", "#fb8c00", snap_series(&d, |s| Some(s.pnl_unrealized))),
                Series::line("fees", "#e53935", snap_series(&d, |s| Some(s.pnl_fees))),
            ],
            pnl_plot(&d).map_err(err)?,
        ),
        "PnL: realized, unrealized, fees and net (realized + unrealized - fees) over time.",
    ));
    let mut ledger = super::pnl::PnlLedger::new(super::summary::markout_horizon_s(session)).keeping_curve();
    for (t, o) in &session.outputs {
        ledger.observe(*t, o);
    }
    let curve: Vec<(f64, f64)> = ledger.curve().iter().map(|(t, v)| (session.secs(*t) / 60.0, *v)).collect();
    let dd = drawdown_series(&curve);
    let mut drawdown = chart(
        "drawdown",
        format!("Drawdown, all coins (USD; max drawdown {:.2})", summary.max_drawdown),
        "USD below peak",
        "USD",
        vec![
            Series::line("drawdown", "#c62828", dd.iter().map(|p| Some(p.1)).collect()),
            Series::line("net PnL", "#000", curve.iter().map(|p| Some(p.1)).collect()).right(),
        ],
        drawdown_plot(&d, &curve).map_err(err)?,
    );
    drawdown.x = curve.iter().map(|p| p.0).collect();
    out.push((
        drawdown,
        "Drawdown: how far the net PnL stands below its running peak; net PnL on the right axis.",
    ));
    out.push((
        chart(
            "inventory",
            format!("Inventory, {coin}"),
            "base units",
            "USD at the mid",
            vec![
                Series::line("position", "#8e24aa", snap_series(&d, |s| Some(s.position.to_f64()))),
                Series::line(
                    "position (USD)",
                    "#00897b",
                    snap_series(&d, |s| s.mid.map(|m| s.position.to_f64() * m.to_f64())),
                )
                .right(),
            ],
            inventory_plot(&d).map_err(err)?,
        ),
        "Inventory in base units, and in USD at the mid on the right axis.",
    ));
    out.push((
        chart(
            "spread",
            format!("Quoted half-spread, {coin} (bp of the mid)"),
            "bp",
            "",
            vec![
                Series::line("bid distance", "#1e88e5", snap_series(&d, |s| dist_bp(s.mid, s.bid_quote))),
                Series::line("ask distance", "#e53935", snap_series(&d, |s| dist_bp(s.mid, s.ask_quote))),
            ],
            String::new(),
        ),
        "How far our quotes stand from the mid.",
    ));
    out.push((
        chart(
            "kappa",
            format!("Loop 1: kappa, {coin}"),
            "kappa (per bp)",
            "confidence",
            vec![
                Series::line("kappa", "#1e88e5", snap_series(&d, |s| Some(s.kappa))),
                Series::line("kappa_confidence", "#fb8c00", snap_series(&d, |s| Some(s.kappa_confidence)))
                    .right(),
            ],
            kappa_plot(&d).map_err(err)?,
        ),
        "Loop 1: kappa from own fills; kappa_confidence on the right axis.",
    ));
    out.push((
        chart(
            "toxicity",
            format!("Loop 2: toxicity and classifier skill, {coin}"),
            "toxicity",
            "brier skill",
            vec![
                Series::line("toxicity", "#8e24aa", snap_series(&d, |s| Some(s.toxicity))),
                Series::line("as_progress", "#00897b", snap_series(&d, |s| Some(s.as_progress))),
                Series::line("brier_skill", "#fb8c00", snap_series(&d, |s| Some(s.brier_skill))).right(),
            ],
            toxicity_plot(&d).map_err(err)?,
        ),
        "Loop 2: the classifier's toxicity, its progress, and its Brier skill on the right axis.",
    ));
    out.push((
        chart(
            "calibration",
            format!("Loop 3: calibration, {coin}"),
            "calibration_progress",
            "cal_gamma",
            vec![
                Series::line(
                    "calibration_progress",
                    "#1e88e5",
                    snap_series(&d, |s| Some(s.calibration_progress)),
                ),
                Series::line("cal_gamma", "#e53935", snap_series(&d, |s| Some(s.cal_gamma))).right(),
            ],
            calibration_plot(&d).map_err(err)?,
        ),
        "Loop 3: calibration_progress, and cal_gamma on the right axis.",
    ));
    out.push((
        chart(
            "regime",
            format!("Regime detection, {coin}"),
            "fast / slow volatility",
            "sigma (bp per sqrt s)",
            vec![
                Series::line("vol ratio", "#444", snap_series(&d, |s| Some(s.vol_ratio))),
                Series::line("sigma_1s", "#fb8c00", snap_series(&d, |s| Some(s.sigma_bp))).right(),
            ],
            regime_plot(&d).map_err(err)?,
        ),
        "Regime detection: the volatility ratio, and sigma on the right axis.",
    ));
    Ok(out)
}

/// Distance of a quote from the mid in bp.
fn dist_bp(mid: Option<crate::types::Price>, quote: Option<crate::types::Price>) -> Option<f64> {
    match (mid, quote) {
        (Some(m), Some(q)) if m.0 > 0 => Some((q.0 - m.0).abs() as f64 / m.0 as f64 * 1e4),
        _ => None,
    }
}

/// Marks each static plot with the number of data marks the browser laid out (`data-drawn`):
/// a polyline of 3+ points or a dot with a non-empty box. Runs before the charts are built
/// (which hide their fallbacks). The headless-browser test reads these marks.
const ANNOTATE_SCRIPT: &str = r#"<script>
for (const svg of document.querySelectorAll('figure svg')) {
  let n = 0;
  for (const el of svg.querySelectorAll('polyline, circle, polygon')) {
    const b = el.getBBox();
    const pts = el.tagName === 'polyline' ? el.points.numberOfItems : 3;
    if (pts >= 3 && (b.width > 0 || b.height > 0)) n++;
  }
  svg.setAttribute('data-drawn', String(n));
}
</script>"#;

/// The page's head: title and styles.
pub fn page_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
         body{{font-family:sans-serif;max-width:1000px;margin:1em auto;color:#222}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}}\
         td.num{{text-align:right;font-variant-numeric:tabular-nums}}\
         .pass{{color:#1a7f37;font-weight:bold}}.fail{{color:#c62828;font-weight:bold}}.flag{{color:#c62828}}\
         figure{{margin:1em 0}}figcaption{{font-size:90%;color:#555}}pre{{background:#f6f6f6;padding:8px;overflow-x:auto}}\
         .prov td:first-child{{font-weight:bold}}code{{word-break:break-all}}\
         th[data-sort]{{cursor:pointer}}\
         {}</style></head><body>\n<h1>{}</h1>\n",
        escape(title),
        super::charts::style(),
        escape(title)
    )
}

/// Provenance: where the session came from and what produced it.
fn provenance(session: &Session, summary: &SessionSummary) -> String {
    let cfg_str = |k: &str| session.config_value(k).and_then(|v| v.as_str()).map(str::to_string);
    let sum_str = |k: &str| {
        session.summary.as_ref().and_then(|v| v.get(k)).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let venue = cfg_str("venue").or_else(|| sum_str("venue")).unwrap_or_else(|| "unknown".into());
    let recording = cfg_str("input.source").unwrap_or_else(|| "unknown".into());
    let resumed = cfg_str("input.resumed_from");
    let seed = session
        .config_value("seed")
        .map(|v| v.to_string())
        .or_else(|| sum_str("seed"))
        .unwrap_or_else(|| "unknown".into());
    let version =
        cfg_str("program_version").or_else(|| sum_str("program_version")).unwrap_or_else(|| "unknown".into());
    let digest = summary.output_digest.clone().unwrap_or_else(|| "(no summary.json)".into());
    let span = format!(
        "{} to {} ({:.1} min)",
        crate::settings::format_rfc3339(session.first.0),
        crate::settings::format_rfc3339(session.last.0),
        summary.minutes
    );
    let mut h = String::from("<h2>Provenance</h2>\n<table class=\"prov\">\n");
    let mut row = |k: &str, v: &str| {
        let _ = writeln!(h, "<tr><td>{k}</td><td><code>{}</code></td></tr>", escape(v));
    };
    row("venue", &venue);
    row("recording", &recording);
    if let Some(r) = resumed {
        row("resumed from", &r);
    }
    row("span (UTC)", &span);
    row("coins", &summary.coins.join(", "));
    row("seed", &seed);
    row("program version", &version);
    row("output_digest", &digest);
    h.push_str("</table>\n");
    let config = session
        .config
        .as_ref()
        .and_then(|t| t.get("config"))
        .and_then(|c| toml::to_string(c).ok())
        .unwrap_or_else(|| "(no session.toml)".to_string());
    let _ = writeln!(
        h,
        "<details><summary>configuration (session.toml)</summary><pre>{}</pre></details>",
        escape(&config)
    );
    h
}

/// The PnL breakdown table: where the edge went, in total and per coin.
fn breakdown_table(summary: &SessionSummary) -> String {
    let mut h = String::from(
        "<h2>Where the PnL came from</h2>\n<table><tr><th></th><th>spread captured</th><th>adverse selection</th><th>inventory</th><th>funding</th><th>fees</th><th>net</th></tr>\n",
    );
    let mut row = |name: &str, b: &super::pnl::PnlBreakdown| {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{:+.4}</td><td class=\"num\">{:+.4}</td><td class=\"num\">{:+.4}</td><td class=\"num\">{:+.4}</td><td class=\"num\">{:.4}</td><td class=\"num\"><b>{:+.4}</b></td></tr>",
            escape(name), b.spread, b.adverse, b.inventory, b.funding, b.fees, b.net
        );
    };
    if summary.pnl_breakdown_by_coin.len() > 1 {
        for (c, b) in &summary.pnl_breakdown_by_coin {
            row(c, b);
        }
    }
    row("total", &summary.pnl_breakdown);
    let _ = writeln!(
        h,
        "</table>\n<p>net = spread + adverse + inventory + funding - fees (USD). Spread: fills against the mid at the fill; adverse: the mid's move to the markout horizon on the filled size; inventory: the mid's moves on the position held after it; fees signed as paid (negative = rebates). Max drawdown <b>{:.4} USD</b>.</p>",
        summary.max_drawdown
    );
    h
}

/// The whole page.
pub fn render(
    session: &Session,
    checklist: &[ChecklistItem],
    summary: &SessionSummary,
) -> anyhow::Result<String> {
    let plots = plots(session, summary)?;
    let mut charts = charts(session, summary)?;
    if let Some(q) = &summary.quality {
        charts.extend(super::quality_html::charts(q));
    }
    let title = format!("paper_trader report: {}", session.dir.display());
    let mut h = page_head(&title);
    h.push_str(&provenance(session, summary));
    h.push_str(&breakdown_table(summary));
    if let Some(q) = &summary.quality {
        h.push_str(&super::quality_html::section(q));
    }
    let passed = checklist.iter().filter(|i| i.pass).count();
    let _ = write!(h, "<h2>Validation checklist: {passed} of {} pass</h2>\n<table><tr><th>item</th><th></th><th>value</th><th>threshold</th><th>detail / diagnosis</th></tr>\n", checklist.len());
    for i in checklist {
        let _ = writeln!(
            h,
            "<tr><td>{}<br><small>{}</small></td><td class=\"{}\">{}</td><td>{:.4}</td><td>{}</td><td>{}{}</td></tr>",
            escape(i.name),
            escape(i.label),
            if i.pass { "pass" } else { "fail" },
            if i.pass { "PASS" } else { "FAIL" },
            i.value,
            escape(&i.threshold),
            escape(&i.detail),
            i.diagnosis.as_ref().map_or(String::new(), |d| format!("<br><b>diagnosis:</b> {}", escape(d)))
        );
    }
    h.push_str("</table>\n<h2>Interpreting the results</h2>\n<ul>\n");
    for i in &summary.interpretation {
        let _ = writeln!(
            h,
            "<li><b>{}</b><br><span class=\"{}\">{}</span></li>",
            escape(i.rule),
            if i.flagged { "flag" } else { "" },
            escape(&i.verdict)
        );
    }
    let _ = write!(
        h,
        "</ul>\n<h2>Summary</h2>\n<pre>{}</pre>\n<h2>Charts</h2>\n",
        escape(&super::summary::render_text(summary))
    );
    for (chart, caption) in &charts {
        let _ = writeln!(h, "<figure>{}<figcaption>{}</figcaption></figure>", chart.html(), escape(caption));
    }
    h.push_str("<h2>Outcome plots</h2>\n");
    for (caption, svg) in &plots {
        let _ = writeln!(h, "<figure>{svg}<figcaption>{}</figcaption></figure>", escape(caption));
    }
    h.push_str(ANNOTATE_SCRIPT);
    h.push_str(&super::charts::script());
    h.push_str("\n</body></html>\n");
    Ok(h)
}
