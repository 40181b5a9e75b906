//! The sweep page: `report SWEEPDIR --html F` over a `replay --set k=a,b` directory. One
//! sortable table row per run (`<tr data-run=...>`; the swept keys name the first columns, their
//! settings shown as typed values), with the net PnL, its breakdown, fills, AS rate and
//! drawdown; then small multiples of every run's net PnL on one shared time axis.

use super::charts::{Chart, Series};
use super::session::Session;
use super::summary::SessionSummary;
use anyhow::Context;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A swept setting as typed: a number when it reads as one.
#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    Number(f64),
    Bool(bool),
    Text(String),
}

impl Setting {
    fn parse(s: &str) -> Setting {
        if let Ok(x) = s.parse::<f64>() {
            return Setting::Number(x);
        }
        match s {
            "true" => Setting::Bool(true),
            "false" => Setting::Bool(false),
            _ => Setting::Text(s.trim_matches('"').to_string()),
        }
    }
    fn show(&self) -> String {
        match self {
            Setting::Number(x) => format!("{x}"),
            Setting::Bool(b) => b.to_string(),
            Setting::Text(t) => t.clone(),
        }
    }
    /// The value the table sorts by.
    fn sort_key(&self) -> String {
        match self {
            Setting::Number(x) => format!("{x}"),
            Setting::Bool(b) => u8::from(*b).to_string(),
            Setting::Text(t) => t.clone(),
        }
    }
}

/// One run of the sweep.
pub struct SweepRun {
    pub run: String,
    pub settings: Vec<(String, Setting)>,
    /// The run's figures; `Err` when it failed or its session does not load.
    pub summary: Result<SessionSummary, String>,
    /// Net PnL over time (minutes from the run's start, USD).
    pub curve: Vec<(f64, f64)>,
}

pub struct SweepPage {
    pub dir: PathBuf,
    /// The swept keys, in the order of the runs' settings.
    pub keys: Vec<String>,
    pub runs: Vec<SweepRun>,
}

/// Whether `dir` is a sweep directory (`replay` with several values writes `sweep.json`).
pub fn is_sweep(dir: &Path) -> bool {
    dir.join("sweep.json").is_file() && !dir.join("outputs").exists()
}

impl SweepPage {
    pub fn load(dir: &Path) -> anyhow::Result<SweepPage> {
        let path = dir.join("sweep.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        let entries = json.as_array().with_context(|| format!("{}: not a list of runs", path.display()))?;
        let mut keys: Vec<String> = Vec::new();
        let mut runs = Vec::new();
        for e in entries {
            let run = e.get("run").and_then(|v| v.as_str()).unwrap_or("?").to_string();
            let settings: Vec<(String, Setting)> = e
                .get("settings")
                .and_then(|v| v.as_object())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), Setting::parse(v.as_str().unwrap_or(&v.to_string()))))
                        .collect()
                })
                .unwrap_or_default();
            for (k, _) in &settings {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
            let (summary, curve) = match e.get("error").and_then(|v| v.as_str()) {
                Some(err) => (Err(err.to_string()), Vec::new()),
                None => match Session::load(&dir.join(&run)) {
                    Ok(s) => {
                        let mut ledger =
                            super::pnl::PnlLedger::new(super::summary::markout_horizon_s(&s)).keeping_curve();
                        for (t, o) in &s.outputs {
                            ledger.observe(*t, o);
                        }
                        let curve = ledger.curve().iter().map(|(t, v)| (s.secs(*t) / 60.0, *v)).collect();
                        (Ok(SessionSummary::compute(&s)), curve)
                    }
                    Err(err) => (Err(format!("{err:#}")), Vec::new()),
                },
            };
            runs.push(SweepRun { run, settings, summary, curve });
        }
        Ok(SweepPage { dir: dir.to_path_buf(), keys, runs })
    }

    fn setting<'a>(&self, run: &'a SweepRun, key: &str) -> Option<&'a Setting> {
        run.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The table as terminal text.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, "sweep {}: {} runs\n{:<9}", self.dir.display(), self.runs.len(), "run");
        for k in &self.keys {
            let _ = write!(s, " {:>w$}", k, w = k.len().max(8));
        }
        let _ = writeln!(
            s,
            " {:>11} {:>10} {:>10} {:>10} {:>9} {:>6} {:>7} {:>9}",
            "net", "spread", "adverse", "inventory", "fees", "fills", "as_rate", "max_dd"
        );
        for r in &self.runs {
            let _ = write!(s, "{:<9}", r.run);
            for k in &self.keys {
                let v = self.setting(r, k).map_or("-".to_string(), Setting::show);
                let _ = write!(s, " {:>w$}", v, w = k.len().max(8));
            }
            match &r.summary {
                Ok(m) => {
                    let b = &m.pnl_breakdown;
                    let _ = writeln!(
                        s,
                        " {:>+11.4} {:>+10.4} {:>+10.4} {:>+10.4} {:>9.4} {:>6} {:>7} {:>9.4}",
                        b.net,
                        b.spread,
                        b.adverse,
                        b.inventory,
                        b.fees,
                        m.fills,
                        m.as_rate.map_or("n/a".to_string(), |v| format!("{:.1}%", v * 100.0)),
                        m.max_drawdown
                    );
                }
                Err(e) => {
                    let _ = writeln!(s, " FAILED: {e}");
                }
            }
        }
        s
    }

    /// The page.
    pub fn render_html(&self) -> String {
        let title = format!("paper_trader sweep: {}", self.dir.display());
        let mut h = super::html::page_head(&title);
        let _ = writeln!(
            h,
            "<p>{} runs; swept: <b>{}</b>. Click a column header to sort. Each run's own report: <code>paper_trader report {}/RUN --html F</code>.</p>",
            self.runs.len(),
            escape(&self.keys.join(", ")),
            escape(&self.dir.display().to_string())
        );
        h.push_str("<table id=\"pt-sweep\"><thead><tr><th data-sort=\"text\">run</th>");
        for k in &self.keys {
            let _ = write!(h, "<th data-sort=\"num\" data-key=\"{}\">{}</th>", escape(k), escape(k));
        }
        for c in [
            "net PnL",
            "spread",
            "adverse",
            "inventory",
            "funding",
            "fees",
            "fills",
            "AS rate",
            "max drawdown",
        ] {
            let _ = write!(h, "<th data-sort=\"num\">{c}</th>");
        }
        h.push_str("<th data-sort=\"text\">output_digest</th></tr></thead><tbody>\n");
        for r in &self.runs {
            let _ = write!(
                h,
                "<tr data-run=\"{}\"><td data-value=\"{}\">{}</td>",
                escape(&r.run),
                escape(&r.run),
                escape(&r.run)
            );
            for k in &self.keys {
                match self.setting(r, k) {
                    Some(v) => {
                        let _ = write!(
                            h,
                            "<td class=\"num\" data-value=\"{}\">{}</td>",
                            escape(&v.sort_key()),
                            escape(&v.show())
                        );
                    }
                    None => h.push_str("<td></td>"),
                }
            }
            match &r.summary {
                Ok(m) => {
                    let b = &m.pnl_breakdown;
                    let num =
                        |x: f64, text: String| format!("<td class=\"num\" data-value=\"{x}\">{text}</td>");
                    h.push_str(&num(b.net, format!("<b>{:+.4}</b>", b.net)));
                    for x in [b.spread, b.adverse, b.inventory, b.funding] {
                        h.push_str(&num(x, format!("{x:+.4}")));
                    }
                    h.push_str(&num(b.fees, format!("{:.4}", b.fees)));
                    h.push_str(&num(m.fills as f64, m.fills.to_string()));
                    let as_rate = m.as_rate.unwrap_or(f64::NAN);
                    h.push_str(&num(
                        if as_rate.is_finite() { as_rate } else { -1.0 },
                        m.as_rate.map_or("n/a".to_string(), |v| format!("{:.1}%", v * 100.0)),
                    ));
                    h.push_str(&num(m.max_drawdown, format!("{:.4}", m.max_drawdown)));
                    let d = m.output_digest.clone().unwrap_or_default();
                    let _ = write!(
                        h,
                        "<td data-value=\"{}\"><code>{}</code></td>",
                        escape(&d),
                        escape(&d[..d.len().min(12)])
                    );
                }
                Err(e) => {
                    let _ = write!(h, "<td colspan=\"10\" class=\"fail\">FAILED: {}</td>", escape(e));
                }
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody></table>\n<h2>Net PnL of every run</h2>\n<div style=\"display:flex;flex-wrap:wrap;gap:8px\">\n");
        for r in self.runs.iter().filter(|r| !r.curve.is_empty()) {
            let label =
                r.settings.iter().map(|(k, v)| format!("{k}={}", v.show())).collect::<Vec<_>>().join(" ");
            let chart = Chart {
                id: r.run.clone(),
                title: format!("{} {label}", r.run),
                x_label: "minutes".to_string(),
                y_label: "net PnL (USD)".to_string(),
                y2_label: String::new(),
                group: "sweep",
                x: r.curve.iter().map(|p| p.0).collect(),
                series: vec![Series::line("net PnL", "#000", r.curve.iter().map(|p| Some(p.1)).collect())],
                fallback_svg: sparkline(&r.curve),
                height: 180,
            };
            let _ = write!(h, "<div style=\"width:320px\">{}</div>", chart.html());
        }
        h.push_str("</div>\n");
        h.push_str(SORT_SCRIPT);
        h.push_str(&super::charts::script());
        h.push_str("\n</body></html>\n");
        h
    }
}

/// A tiny static SVG of a curve: the no-script fallback of a small multiple.
fn sparkline(curve: &[(f64, f64)]) -> String {
    let (w, hgt) = (300.0, 80.0);
    let (x0, x1) = curve.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| (a.0.min(p.0), a.1.max(p.0)));
    let (y0, y1) = curve.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| (a.0.min(p.1), a.1.max(p.1)));
    let sx = if x1 > x0 { w / (x1 - x0) } else { 0.0 };
    let sy = if y1 > y0 { hgt / (y1 - y0) } else { 0.0 };
    let pts: Vec<String> =
        curve.iter().map(|p| format!("{:.1},{:.1}", (p.0 - x0) * sx, hgt - (p.1 - y0) * sy)).collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{hgt}\"><polyline fill=\"none\" stroke=\"black\" points=\"{}\"/></svg>",
        pts.join(" ")
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Sorts the table by the clicked column (numbers as numbers), again to reverse.
const SORT_SCRIPT: &str = r#"<script>
(function () {
  const table = document.getElementById('pt-sweep');
  if (!table) return;
  const heads = table.querySelectorAll('th');
  heads.forEach((th, i) => th.addEventListener('click', () => {
    const num = th.dataset.sort === 'num';
    const dir = th.dataset.dir === 'asc' ? -1 : 1;
    th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const key = r => { const c = r.cells[i]; const v = c ? (c.dataset.value ?? c.textContent) : ''; return num ? parseFloat(v) : v; };
    rows.sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * dir; });
    for (const r of rows) body.appendChild(r);
  }));
})();
</script>
"#;
