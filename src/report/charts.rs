//! Interactive charts for the HTML pages: uPlot (vendored under `vendor/uplot/` with its
//! licence, embedded into the binary) draws each chart in the browser from data the page
//! carries as JSON, so the page stays one self-contained file that works offline. Each chart's
//! container is marked `data-pt-chart` and holds a static inline SVG as the no-script fallback,
//! hidden once the chart is drawn. Charts of one group share their time axis: zooming one
//! (drag across it; double-click resets) zooms the others, and their cursors move together.
//! Series on a second axis have it on the right, and legends sit under the plot, off the data.
//!
//! `window.ptSelfTest()` (run on load when the page's address ends in `#selftest`) checks that
//! every chart has data and zooms, and writes the result into the DOM (`data-pt-selftest` on
//! `<body>`, `data-pt-ok` and `data-pt-points` on each container) for a headless browser.

use serde::Serialize;
use std::fmt::Write as _;

const UPLOT_JS: &str = include_str!("vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("vendor/uplot/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("vendor/uplot/LICENSE");

/// One series of a chart.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub label: String,
    /// CSS colour.
    pub color: &'static str,
    /// Drawn against the right-hand axis.
    pub right_axis: bool,
    /// Points only (fills), no line.
    pub points: bool,
    #[serde(skip)]
    pub values: Vec<Option<f64>>,
}

impl Series {
    pub fn line(label: &str, color: &'static str, values: Vec<Option<f64>>) -> Series {
        Series { label: label.to_string(), color, right_axis: false, points: false, values }
    }
    pub fn right(mut self) -> Series {
        self.right_axis = true;
        self
    }
    pub fn points(mut self) -> Series {
        self.points = true;
        self
    }
}

/// One chart: an x axis and its series (aligned with it, `None` where a series has no value).
#[derive(Clone, Debug)]
pub struct Chart {
    /// Name in `data-pt-chart`.
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y2_label: String,
    /// Charts of one group zoom together.
    pub group: &'static str,
    pub x: Vec<f64>,
    pub series: Vec<Series>,
    /// The static fallback drawn inside the container (inline SVG, or empty).
    pub fallback_svg: String,
    pub height: u32,
}

impl Chart {
    /// Number of finite values over all series.
    pub fn points(&self) -> usize {
        self.series.iter().map(|s| s.values.iter().flatten().filter(|v| v.is_finite()).count()).sum()
    }

    /// The container with its fallback, and the data as a JSON script element.
    pub fn html(&self) -> String {
        #[derive(Serialize)]
        struct Spec<'a> {
            title: &'a str,
            xlabel: &'a str,
            ylabel: &'a str,
            y2label: &'a str,
            group: &'a str,
            height: u32,
            series: &'a [Series],
            data: Vec<Vec<Option<f64>>>,
        }
        let clean = |v: &Option<f64>| v.filter(|x| x.is_finite());
        let mut data = vec![self.x.iter().map(|x| Some(*x)).collect::<Vec<_>>()];
        data.extend(self.series.iter().map(|s| s.values.iter().map(clean).collect()));
        let spec = Spec {
            title: &self.title,
            xlabel: &self.x_label,
            ylabel: &self.y_label,
            y2label: &self.y2_label,
            group: self.group,
            height: self.height,
            series: &self.series,
            data,
        };
        let json = serde_json::to_string(&spec).unwrap_or_else(|_| "{}".to_string()).replace("</", "<\\/");
        let id = escape(&self.id);
        format!(
            "<div class=\"pt-chart\" data-pt-chart=\"{id}\" data-pt-spec=\"pt-spec-{id}\">{}</div>\n<script type=\"application/json\" id=\"pt-spec-{id}\">{json}</script>\n",
            self.fallback_svg
        )
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The style sheet of the charts (uPlot's own, and ours).
pub fn style() -> String {
    format!(
        "{UPLOT_CSS}\n.pt-chart{{margin:0.5em 0;min-height:120px}}.pt-chart .uplot{{font-family:sans-serif}}"
    )
}

/// What builds the charts: uPlot, its licence, and the page's own few lines. Put it at the end
/// of the page, after every chart container.
pub fn script() -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<script>\n/*! uPlot licence:\n{}*/\n{UPLOT_JS}\n</script>\n",
        UPLOT_LICENSE.replace("*/", "* /")
    );
    s.push_str(PAGE_SCRIPT);
    s
}

const PAGE_SCRIPT: &str = r#"<script>
(function () {
  const charts = [];
  let syncing = false;
  function syncX(u) {
    if (syncing) return;
    syncing = true;
    for (const c of charts) {
      if (c !== u && c.ptGroup === u.ptGroup) c.setScale('x', { min: u.scales.x.min, max: u.scales.x.max });
    }
    syncing = false;
  }
  function build(el) {
    const spec = JSON.parse(document.getElementById(el.dataset.ptSpec).textContent);
    const series = [{ label: spec.xlabel }];
    for (const s of spec.series) {
      series.push({
        label: s.label,
        stroke: s.color,
        scale: s.right_axis ? 'y2' : 'y',
        width: s.points ? 0 : 1.5,
        spanGaps: !s.points,
        paths: s.points ? () => null : undefined,
        points: s.points ? { show: true, size: 7, fill: s.color, stroke: s.color } : { show: false },
      });
    }
    const axes = [{ label: spec.xlabel }, { label: spec.ylabel, scale: 'y', size: 70 }];
    if (spec.series.some(s => s.right_axis)) axes.push({ label: spec.y2label, scale: 'y2', side: 1, size: 70, grid: { show: false } });
    const width = Math.max(320, Math.min(980, el.clientWidth || 980));
    const opts = {
      title: spec.title, width: width, height: spec.height, series: series, axes: axes,
      scales: { x: { time: false } },
      cursor: { sync: { key: spec.group }, drag: { x: true, y: false } },
      hooks: { setScale: [(u, key) => { if (key === 'x') syncX(u); }] },
    };
    const fallback = el.querySelector('svg');
    const u = new uPlot(opts, spec.data, el);
    u.ptGroup = spec.group;
    u.ptEl = el;
    if (fallback) fallback.style.display = 'none';
    charts.push(u);
  }
  for (const el of document.querySelectorAll('[data-pt-chart]')) {
    try { build(el); } catch (e) { el.setAttribute('data-pt-error', String(e)); }
  }
  const tick = () => new Promise(r => setTimeout(r, 0));
  window.ptSelfTest = async function () {
    const results = [];
    await tick();
    for (const el of document.querySelectorAll('[data-pt-chart]')) {
      const u = charts.find(c => c.ptEl === el);
      if (!u) { el.setAttribute('data-pt-ok', '0'); results.push(false); continue; }
      const n = u.data.slice(1).reduce((a, s) => a + s.filter(v => v != null && isFinite(v)).length, 0);
      const x0 = u.scales.x.min, x1 = u.scales.x.max;
      const mid = (x0 + x1) / 2, quarter = (x1 - x0) / 4;
      u.setScale('x', { min: mid - quarter, max: mid + quarter });
      await tick();
      const span = u.scales.x.max - u.scales.x.min;
      const zoomed = x1 > x0 && span > 0 && span < (x1 - x0) * 0.75;
      u.setScale('x', { min: x0, max: x1 });
      await tick();
      const canvas = u.root.querySelector('canvas');
      const ok = n > 0 && zoomed && !!canvas && canvas.width > 0;
      el.setAttribute('data-pt-points', String(n));
      el.setAttribute('data-pt-zoomed', String(zoomed));
      el.setAttribute('data-pt-ok', ok ? '1' : '0');
      results.push(ok);
    }
    document.body.setAttribute('data-pt-charts', String(results.length));
    document.body.setAttribute('data-pt-selftest', results.length > 0 && results.every(x => x) ? 'pass' : 'fail');
  };
  if (location.hash === '#selftest') window.ptSelfTest();
})();
</script>
"#;
