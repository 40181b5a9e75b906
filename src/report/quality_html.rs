//! The report's quote-quality section: the figures of `summary.json` that
//! `src/report/quality.rs` measured (quoting, exposure, markouts at the report horizons by
//! side and toxicity quintile, fills by kind) as tables and charts.

use super::charts::{Chart, Series};
use super::quality::{MarkoutStats, Quality};
use super::summary::horizon_label;
use std::fmt::Write as _;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |x| format!("{:.1}%", x * 100.0))
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".to_string(), |x| format!("{x:.digits$}"))
}

fn stat_cells(s: &MarkoutStats) -> String {
    format!(
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
        s.n,
        f(s.mean_bp, 3),
        f(s.p10_bp, 2),
        f(s.median_bp, 2),
        f(s.p90_bp, 2),
        pct(s.share_against),
        f(s.min_bp, 2) + " / " + &f(s.max_bp, 2),
    )
}

/// The tables: quoting and exposure figures, fills by kind, markouts by horizon.
pub fn section(q: &Quality) -> String {
    let mut h = String::from("<h2>Quoting, exposure and markouts</h2>\n<table class=\"prov\">\n");
    let mut row = |k: &str, v: String, what: &str| {
        let _ = writeln!(
            h,
            "<tr><td>{k}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&v),
            escape(what)
        );
    };
    row("pnl_per_hour", f(q.pnl_per_hour, 4) + " USD", "net PnL over the session's span in hours");
    row(
        "pnl_hourly_sharpe",
        f(q.pnl_hourly_sharpe, 3),
        "mean / sd of the per-minute net PnL changes, times sqrt(60)",
    );
    let pos: Vec<String> = q.position_usd.iter().map(|(c, v)| format!("{c} {v:+.2}")).collect();
    row("position_usd", pos.join(", "), "position x mark at the end, per coin");
    row(
        "max_position_usd",
        format!("{:.2}", q.max_position_usd),
        "largest gross position in USD after any input",
    );
    row(
        "margin use",
        format!(
            "mean {} / max {} / end {}",
            pct(q.margin_use_mean),
            pct(q.margin_use_max),
            pct(q.margin_use_end)
        ),
        "initial margin required over equity",
    );
    row(
        "quoted vs market spread",
        format!("{} bp vs {} bp", f(q.quoted_spread_bp, 2), f(q.market_spread_bp, 2)),
        "time-weighted: our best ask - best bid while two-sided; the touch's",
    );
    row(
        "time_at_touch",
        format!(
            "{} (bid {}, ask {})",
            pct(q.time_at_touch),
            pct(q.time_at_touch_bid),
            pct(q.time_at_touch_ask)
        ),
        "share of valid-book time our best quote was at the touch price",
    );
    row("quote_uptime", pct(q.quote_uptime), "share of valid-book time we quoted both sides");
    row("order_to_trade", f(q.order_to_trade, 2), "orders placed per fill");
    let k = &q.fills_by_kind;
    row(
        "fills_by_kind",
        format!(
            "trade-through {}, book cross {}, at price {}",
            k.trade_through, k.book_cross, k.trade_at_price
        ),
        "how our fills happened (docs/FILLS.md)",
    );
    h.push_str("</table>\n");
    h.push_str(
        "<h3>Markouts by horizon</h3>\n<p>Mid move from the fill's reference mid to the horizon, bp, positive in the fill's favour. Quintiles rank the fills by their pre-fill toxicity (1 = least toxic fifth).</p>\n<table><tr><th>horizon</th><th>fills</th><th>n</th><th>mean</th><th>p10</th><th>median</th><th>p90</th><th>against</th><th>min / max</th><th>dropped / pending</th></tr>\n",
    );
    for m in &q.markouts_by_horizon {
        let label = horizon_label(m.horizon_ms);
        let mut rows =
            vec![("all".to_string(), &m.all), ("buy".to_string(), &m.buy), ("sell".to_string(), &m.sell)];
        rows.extend(m.by_toxicity.iter().map(|b| {
            (format!("toxicity Q{} [{:.3}, {:.3}]", b.quintile, b.toxicity_from, b.toxicity_to), &b.stats)
        }));
        for (i, (name, s)) in rows.iter().enumerate() {
            let _ = writeln!(
                h,
                "<tr data-horizon-ms=\"{}\"><td>{}</td><td>{}</td>{}<td class=\"num\">{}</td></tr>",
                m.horizon_ms,
                if i == 0 { escape(&label) } else { String::new() },
                escape(name),
                stat_cells(s),
                if i == 0 { format!("{} / {}", m.dropped, m.pending) } else { String::new() },
            );
        }
    }
    h.push_str("</table>\n");
    h
}

/// The charts: spreads, presence at the touch and exposure over time (the session's time
/// group, in minutes from its start), and the markouts by horizon, by toxicity quintile and
/// their distribution.
pub fn charts(q: &Quality) -> Vec<(Chart, &'static str)> {
    let s = &q.quality_over_time;
    let time = |id: &str, title: &str, y: &str, y2: &str, series: Vec<Series>| Chart {
        id: id.to_string(),
        title: title.to_string(),
        x_label: "minutes of event time".to_string(),
        y_label: y.to_string(),
        y2_label: y2.to_string(),
        group: "session",
        x: s.minute.clone(),
        series,
        fallback_svg: String::new(),
        height: 260,
    };
    let pct_series = |v: &[Option<f64>]| v.iter().map(|x| x.map(|x| x * 100.0)).collect::<Vec<_>>();
    let mut out = Vec::new();
    if s.minute.len() >= 2 {
        out.push((
            time(
                "quoted_vs_market_spread",
                "Quoted spread vs market spread (bp of the mid)",
                "bp",
                "",
                vec![
                    Series::line("our quoted spread", "#1e88e5", s.quoted_spread_bp.clone()),
                    Series::line("market spread", "#444", s.market_spread_bp.clone()),
                ],
            ),
            "Time-weighted per time bin: our best ask - best bid while quoting both sides, and the touch's.",
        ));
        out.push((
            time(
                "quote_presence",
                "Time at the touch and quote uptime (% of valid-book time)",
                "%",
                "",
                vec![
                    Series::line("at the touch", "#8e24aa", pct_series(&s.time_at_touch)),
                    Series::line("two-sided uptime", "#00897b", pct_series(&s.quote_uptime)),
                ],
            ),
            "Share of each time bin our best quote stood at the touch (both sides averaged), and that we quoted both sides.",
        ));
        out.push((
            time(
                "exposure",
                "Margin use and gross position",
                "margin use (% of equity)",
                "USD",
                vec![
                    Series::line("margin use (max)", "#c62828", pct_series(&s.margin_use)),
                    Series::line("gross position", "#fb8c00", s.position_usd.iter().map(|v| Some(*v)).collect())
                        .right(),
                ],
            ),
            "Initial margin required over equity (the bin's maximum), and the gross position in USD on the right axis.",
        ));
    }
    let hs = &q.markouts_by_horizon;
    if hs.len() >= 2 {
        let x: Vec<f64> = hs.iter().map(|h| h.horizon_ms as f64 / 1000.0).collect();
        let col = |g: &dyn Fn(&super::quality::HorizonMarkouts) -> Option<f64>| {
            hs.iter().map(g).collect::<Vec<_>>()
        };
        out.push((
            Chart {
                id: "markouts_by_horizon".into(),
                title: "Markouts by horizon (mean bp by side; median and p10/p90 in grey)".into(),
                x_label: "horizon (s)".into(),
                y_label: "bp, + = in the fill's favour".into(),
                y2_label: String::new(),
                group: "horizon",
                x: x.clone(),
                series: vec![
                    Series::line("all", "#000", col(&|h| h.all.mean_bp)),
                    Series::line("buy fills", "#1e88e5", col(&|h| h.buy.mean_bp)),
                    Series::line("sell fills", "#e53935", col(&|h| h.sell.mean_bp)),
                    Series::line("median", "#999", col(&|h| h.all.median_bp)),
                    Series::line("p10", "#ccc", col(&|h| h.all.p10_bp)),
                    Series::line("p90", "#ccc", col(&|h| h.all.p90_bp)),
                ],
                fallback_svg: String::new(),
                height: 260,
            },
            "The mean markout of all fills and by side at each horizon, with the median and the 10th/90th percentiles.",
        ));
        const Q_COLORS: [&str; 5] = ["#1b5e20", "#7cb342", "#fbc02d", "#fb8c00", "#c62828"];
        let series = (1..=5u8)
            .map(|qn| {
                Series::line(
                    &format!("toxicity Q{qn}"),
                    Q_COLORS[usize::from(qn - 1)],
                    col(&|h| h.by_toxicity.iter().find(|b| b.quintile == qn).and_then(|b| b.stats.mean_bp)),
                )
            })
            .collect();
        out.push((
            Chart {
                id: "markouts_by_toxicity".into(),
                title: "Markouts by pre-fill toxicity quintile (mean bp)".into(),
                x_label: "horizon (s)".into(),
                y_label: "bp".into(),
                y2_label: String::new(),
                group: "horizon",
                x,
                series,
                fallback_svg: String::new(),
                height: 260,
            },
            "If the classifier works, the most toxic fifth of the fills (Q5) marks out worst.",
        ));
    }
    // The per-fill distribution at the labelling horizon (5 s), else the longest with data.
    let dist = hs
        .iter()
        .find(|h| h.horizon_ms == 5_000 && h.histogram.counts.len() > 1)
        .or_else(|| hs.iter().rev().find(|h| h.histogram.counts.len() > 1));
    if let Some(h) = dist {
        let e = &h.histogram.edges_bp;
        out.push((
            Chart {
                id: "markout_distribution".into(),
                title: format!(
                    "Per-fill markout distribution at {} (fills per bin)",
                    horizon_label(h.horizon_ms)
                ),
                x_label: "markout (bp)".into(),
                y_label: "fills".into(),
                y2_label: String::new(),
                group: "distribution",
                x: e.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect(),
                series: vec![Series::line(
                    "fills",
                    "#5e35b1",
                    h.histogram.counts.iter().map(|c| Some(*c as f64)).collect(),
                )
                .bars()],
                fallback_svg: String::new(),
                height: 240,
            },
            "How the fills' markouts spread: 20 equal bins between the smallest and the largest.",
        ));
    }
    out
}
