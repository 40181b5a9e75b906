//! The HTML report on a hand-built session: self-contained (no network), at least six plots,
//! the seed's interpretation rules as text, and (in headless Chromium) data in every plot.

mod report_support;

use paper_trader::report::html;
use paper_trader::report::session::Session;
use paper_trader::report::summary::SessionSummary;
use report_support::{build, ts, Scenario};

fn page(sc: &Scenario) -> String {
    let session = Session::from_outputs(build(sc), Some(ts(0)), Some(ts(sc.minutes * 60)));
    let items = session.checklist();
    let summary = SessionSummary::compute(&session);
    html::render(&session, &items, &summary).unwrap()
}

#[test]
fn page_is_self_contained_with_plots_and_interpretation() {
    let h = page(&Scenario::default());
    let svgs = h.matches("<svg").count();
    assert!(svgs >= 6, "{svgs} plots");
    // The vendored charting library's banner names its home page in a comment: not a fetch.
    let h = h.replace("/*! https://github.com/leeoniya/uPlot", "/*! uPlot");
    for bad in ["http://", "https://", "@import", "<link", "<img", "<iframe", " src="] {
        // The SVG namespace URI is an identifier, not a fetch.
        let hits = h
            .match_indices(bad)
            .filter(|(i, _)| !h[i.saturating_sub(7)..].starts_with("xmlns=\"http://www.w3.org"))
            .count();
        assert_eq!(hits, 0, "the page references {bad}");
    }
    for rule in [
        "Positive PnL in quiet markets",
        "Negative PnL in volatile",
        "High adverse selection rate (&gt; 40%)",
        "Low fill rate: kappa estimate may be too low, or spreads too wide",
        "Calibration progress &gt; 50%",
        "no-skill baseline",
    ] {
        assert!(h.contains(rule), "missing: {rule}");
    }
}

#[test]
fn summary_figures_follow_the_outputs() {
    let sc = Scenario::default();
    let session = Session::from_outputs(build(&sc), Some(ts(0)), Some(ts(sc.minutes * 60)));
    let s = SessionSummary::compute(&session);
    assert_eq!(s.fills, 40 * 3);
    assert_eq!(s.buys + s.sells, s.fills);
    assert_eq!(s.regime_changes, 2);
    assert_eq!(s.checkpoints, 8);
    // The markout at each horizon has one value per fill old enough.
    assert_eq!(s.markouts.iter().map(|m| m.horizon_s).collect::<Vec<_>>(), vec![1, 5, 30, 60]);
    assert!(s.markouts[0].n >= 119 && s.markouts[3].n >= 117, "{:?}", s.markouts);
    let (lo, hi) = s.as_rate_interval.unwrap();
    let r = s.as_rate.unwrap();
    assert!(lo <= r && r <= hi);
    // sigma 1.4 bp/sqrt(s) in every snapshot: the baseline of MODELS.md, about 37%.
    assert!((s.as_no_skill_baseline.unwrap() - 0.376).abs() < 0.005);
    // Three minutes in the volatile regime (12 -> 15).
    let vol = s.regimes.iter().find(|r| r.regime == "volatile").unwrap();
    assert!((vol.seconds - 180.0).abs() < 11.0, "{vol:?}");
    assert_eq!(s.interpretation.len(), 5);
}

use report_support::browser::dump_dom;

#[test]
fn every_plot_has_data_in_headless_chromium() {
    let Some(dom) = dump_dom(&page(&Scenario::default()), "") else { return };
    // The page's inline script marks each plot with what the browser laid out.
    let marks: Vec<u32> = dom
        .match_indices("data-drawn=\"")
        .map(|(i, m)| {
            let rest = &dom[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    let plots = dom.matches("<svg").count();
    assert!(plots >= 6, "{plots} plots in the rendered page");
    assert_eq!(marks.len(), plots, "every plot was examined by the browser");
    assert!(marks.iter().all(|&n| n >= 1), "a plot without data: {marks:?}");
}

/// Writes the page for a look by eye: `REPORT_HTML_OUT=/tmp/r.html cargo test --test report_html`.
#[test]
fn write_page_when_asked() {
    if let Ok(path) = std::env::var("REPORT_HTML_OUT") {
        std::fs::write(path, page(&Scenario::default())).unwrap();
    }
}

/// Issue 13: the interactive charts. In headless Chromium every `data-pt-chart` container is
/// built by the vendored uPlot, has data, and zooms (the page's `ptSelfTest` hook, run by
/// `#selftest`, sets the x scale to the middle half and reads it back).
#[test]
fn every_chart_has_data_and_zooms_in_headless_chromium() {
    let h = page(&Scenario::default());
    let containers = h.matches("data-pt-chart=").count();
    assert!(containers >= 6, "{containers} chart containers");
    let Some(dom) = dump_dom(&h, "#selftest") else { return };
    report_support::browser::assert_charts_pass(&dom, containers);
}

/// Issue 13: the report of a real replayed session (with `summary.json`'s quote quality and
/// markouts by horizon): every chart, the quality ones included, is built, has data and zooms
/// in headless Chromium.
#[test]
fn a_replayed_sessions_report_has_every_chart_working_in_headless_chromium() {
    let bin = env!("CARGO_BIN_EXE_paper_trader");
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n).display().to_string();
    for args in [
        &["synth", "--seed", "4", "--duration", "6m", "--coins", "BTC", "--out", &p("rec")][..],
        &["replay", &p("rec"), "--out", &p("s")][..],
        &["report", &p("s"), "--html", &p("r.html")][..],
    ] {
        let out = std::process::Command::new(bin).args(args).env_remove("RUST_LOG").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let h = std::fs::read_to_string(p("r.html")).unwrap();
    for id in [
        "price",
        "drawdown",
        "quoted_vs_market_spread",
        "quote_presence",
        "exposure",
        "markouts_by_horizon",
        "markouts_by_toxicity",
        "markout_distribution",
    ] {
        assert!(h.contains(&format!("data-pt-chart=\"{id}\"")), "no chart {id}");
    }
    for text in
        ["pnl_hourly_sharpe", "time_at_touch", "quote_uptime", "order_to_trade", "trade-through", "100ms"]
    {
        assert!(h.contains(text), "the page does not show {text}");
    }
    let containers = h.matches("data-pt-chart=").count();
    let Some(dom) = dump_dom(&h, "#selftest") else { return };
    report_support::browser::assert_charts_pass(&dom, containers);
}
