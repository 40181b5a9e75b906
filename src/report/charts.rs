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
    /// Bars (a histogram), no line.
    pub bars: bool,
    #[serde(skip)]
    pub values: Vec<Option<f64>>,
}

impl Series {
    pub fn line(label: &str, color: &'static str, values: Vec<Option<f64>>) -> Series {
        Series { label: label.to_string(), color, right_axis: false, points: false, bars: false, values }
    }
    pub fn right(mut self) -> Series {
        self.right_axis = true;
        self
    }
    pub fn points(mut self) -> Series {
        self.points = true;
        self
    }
    pub fn bars(mut self) -> Series {
        self.bars = true;
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
        let fallback =
            if self.fallback_svg.is_empty() { self.simple_svg() } else { self.fallback_svg.clone() };
        format!(
            "<div class=\"pt-chart\" data-pt-chart=\"{id}\" data-pt-spec=\"pt-spec-{id}\">{fallback}</div>\n<script type=\"application/json\" id=\"pt-spec-{id}\">{json}</script>\n"
        )
    }

    /// A plain static SVG of the series (each against its own axis range): the no-script
    /// fallback of a chart that has no drawn one. Lines as polylines, each point a dot.
    pub fn simple_svg(&self) -> String {
        let (w, h, pad) = (800.0, 220.0, 30.0);
        let xs: Vec<f64> = self.x.iter().copied().filter(|x| x.is_finite()).collect();
        let (x0, x1) = range(&xs);
        let mut body = String::new();
        for s in &self.series {
            let pts: Vec<(f64, f64)> = self
                .x
                .iter()
                .zip(&s.values)
                .filter_map(|(x, v)| v.filter(|v| v.is_finite() && x.is_finite()).map(|v| (*x, v)))
                .collect();
            let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let (y0, y1) = range(&ys);
            let at = |(x, y): (f64, f64)| {
                (
                    pad + (x - x0) / (x1 - x0) * (w - 2.0 * pad),
                    h - pad - (y - y0) / (y1 - y0) * (h - 2.0 * pad),
                )
            };
            if pts.len() >= 2 && !s.points && !s.bars {
                let line: Vec<String> =
                    pts.iter().map(|p| at(*p)).map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    body,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
                    s.color,
                    line.join(" ")
                );
            }
            if s.bars {
                let bw = (w - 2.0 * pad) / pts.len().max(1) as f64 * 0.8;
                for p in &pts {
                    let (x, y) = at(*p);
                    let (_, base) = at((p.0, y0.min(0.0).max(y0)));
                    let _ = write!(
                        body,
                        "<polygon fill=\"{}\" points=\"{:.1},{base:.1} {:.1},{y:.1} {:.1},{y:.1} {:.1},{base:.1}\"/>",
                        s.color,
                        x - bw / 2.0,
                        x - bw / 2.0,
                        x + bw / 2.0,
                        x + bw / 2.0
                    );
                }
            } else if pts.len() <= 200 {
                for p in &pts {
                    let (x, y) = at(*p);
                    let _ =
                        write!(body, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2\" fill=\"{}\"/>", s.color);
                }
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\"><text x=\"{pad}\" y=\"16\" font-size=\"13\" font-family=\"sans-serif\">{}</text>{body}</svg>",
            escape(&self.title)
        )
    }
}

/// The range of finite values, widened when empty or flat.
fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
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
        width: s.points ? 0 : s.bars ? 1 : 1.5,
        fill: s.bars ? s.color : undefined,
        spanGaps: !s.points,
        paths: s.points ? () => null : s.bars ? uPlot.paths.bars({ size: [0.9, 60] }) : undefined,
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
