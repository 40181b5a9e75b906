//! Sweeps: the same recording replayed under a grid of configurations, in parallel on all
//! cores, each run deterministic and independent (its own engine, its own session directory),
//! then one table comparing them.
//!
//! `--set key=v1,v2,..` gives one axis; several `--set` make the cartesian product (the last
//! axis varies fastest, so run numbers are stable for a given command line). `--shard i/n`
//! (1 <= i <= n) keeps the runs whose grid index is `i - 1` modulo `n`, so a batch scheduler
//! can split a grid across machines and every run keeps its grid-wide number and directory.
//!
//! Threads: a bounded crossbeam channel feeds run specs to `workers` threads; results come
//! back on a second channel and are sorted by grid index, so the table never depends on which
//! thread finished first.

use crate::report::session::Session;
use crate::report::summary::SessionSummary;
use serde::Serialize;
use std::fmt::Write as _;

/// Bound of the job and result queues between the sweep and its workers.
const QUEUE_CAPACITY: usize = 64;

/// One `--set` axis: a configuration key and the values it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridAxis {
    pub key: String,
    pub values: Vec<String>,
}

/// Parses `key=v1,v2,...` (values kept as written: the configuration validates them).
pub fn parse_set(s: &str) -> Result<GridAxis, String> {
    let (key, values) = s.split_once('=').ok_or_else(|| {
        format!("'--set {s}': write KEY=VALUE[,VALUE...], e.g. --set fill_prob_base=0.3,0.4")
    })?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("'--set {s}': the key is empty"));
    }
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(String::is_empty) {
        return Err(format!("'--set {s}': a value is empty"));
    }
    Ok(GridAxis { key: key.to_string(), values })
}

/// `--shard i/n`: this machine's part of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    pub count: usize,
}

pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let err = || format!("'--shard {s}': write i/n with 1 <= i <= n, e.g. --shard 2/4");
    let (i, n) = s.split_once('/').ok_or_else(err)?;
    let index: usize = i.trim().parse().map_err(|_| err())?;
    let count: usize = n.trim().parse().map_err(|_| err())?;
    if count == 0 || index == 0 || index > count {
        return Err(err());
    }
    Ok(Shard { index, count })
}

/// One point of the grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    /// Position in the whole grid (0-based), independent of sharding.
    pub index: usize,
    /// (key, value) in axis order.
    pub settings: Vec<(String, String)>,
}

impl RunSpec {
    /// The run's directory name inside the sweep's output directory.
    pub fn dir_name(&self) -> String {
        format!("run-{:04}", self.index)
    }
    pub fn label(&self) -> String {
        self.settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

/// The cartesian product of the axes, the last axis varying fastest. No axes = one run.
pub fn grid(axes: &[GridAxis]) -> Vec<RunSpec> {
    let mut specs = vec![Vec::<(String, String)>::new()];
    for axis in axes {
        let mut next = Vec::with_capacity(specs.len() * axis.values.len());
        for s in &specs {
            for v in &axis.values {
                let mut s2 = s.clone();
                s2.push((axis.key.clone(), v.clone()));
                next.push(s2);
            }
        }
        specs = next;
    }
    specs.into_iter().enumerate().map(|(index, settings)| RunSpec { index, settings }).collect()
}

/// The runs of one shard.
pub fn shard(runs: Vec<RunSpec>, shard: Option<Shard>) -> Vec<RunSpec> {
    match shard {
        None => runs,
        Some(s) => runs.into_iter().filter(|r| r.index % s.count == s.index - 1).collect(),
    }
}

/// What the table shows of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunResult {
    pub fills: u64,
    pub pnl_net: f64,
    pub kappa: f64,
    pub kappa_confidence: f64,
    pub calibration_progress: f64,
    pub cal_gamma: f64,
    pub as_rate: Option<f64>,
    pub regime_changes: u64,
    pub checklist_passed: usize,
    pub checklist_items: usize,
    /// `summary.json`'s `output_digest`, when the session has one.
    pub output_digest: Option<String>,
}

impl RunResult {
    /// The figures of a finished session.
    pub fn from_session(session: &Session) -> RunResult {
        let s = SessionSummary::compute(session);
        let items = session.checklist();
        RunResult {
            fills: s.fills,
            pnl_net: s.pnl_net,
            kappa: s.kappa,
            kappa_confidence: s.kappa_confidence,
            calibration_progress: s.calibration_progress,
            cal_gamma: s.cal_gamma,
            as_rate: s.as_rate,
            regime_changes: s.regime_changes,
            checklist_passed: items.iter().filter(|i| i.pass).count(),
            checklist_items: items.len(),
            output_digest: session
                .summary
                .as_ref()
                .and_then(|v| v.get("output_digest"))
                .and_then(|v| v.as_str())
                .map(str::to_string),
        }
    }
}

/// One run's outcome: its figures, or the error that stopped it.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub spec: RunSpec,
    pub result: Result<RunResult, String>,
}

/// Runs every spec through `runner` on `workers` threads; outcomes in grid order.
pub fn run_parallel<F>(runs: Vec<RunSpec>, workers: usize, runner: F) -> Vec<RunOutcome>
where
    F: Fn(&RunSpec) -> anyhow::Result<RunResult> + Sync,
{
    let workers = workers.clamp(1, runs.len().max(1));
    let (job_tx, job_rx) = crossbeam_channel::bounded::<RunSpec>(QUEUE_CAPACITY);
    let (res_tx, res_rx) = crossbeam_channel::bounded::<RunOutcome>(QUEUE_CAPACITY);
    let total = runs.len();
    let mut outcomes = Vec::with_capacity(total);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let job_rx = job_rx.clone();
            let res_tx = res_tx.clone();
            let runner = &runner;
            scope.spawn(move || {
                for spec in job_rx {
                    let result = runner(&spec).map_err(|e| format!("{e:#}"));
                    if res_tx.send(RunOutcome { spec, result }).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        drop(job_rx);
        // Feed jobs from this thread while collecting results, so neither bounded queue can
        // block the other side for good.
        let mut pending = runs.into_iter();
        let mut next_job = pending.next();
        while outcomes.len() < total {
            if let Some(job) = next_job.take() {
                crossbeam_channel::select! {
                    send(job_tx, job.clone()) -> sent => {
                        if sent.is_err() { break; }
                        next_job = pending.next();
                    }
                    recv(res_rx) -> r => {
                        next_job = Some(job);
                        match r { Ok(o) => outcomes.push(o), Err(_) => break }
                    }
                }
            } else {
                match res_rx.recv() {
                    Ok(o) => outcomes.push(o),
                    Err(_) => break,
                }
            }
        }
        drop(job_tx);
    });
    outcomes.sort_by_key(|o| o.spec.index);
    outcomes
}

/// The comparison table, one run a row, the grid's keys as the first columns.
pub fn table(axes: &[GridAxis], outcomes: &[RunOutcome]) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:<8}", "run");
    for a in axes {
        let _ = write!(s, " {:>w$}", a.key, w = a.key.len().max(8));
    }
    let _ = writeln!(
        s,
        " {:>7} {:>11} {:>8} {:>10} {:>8} {:>9} {:>8} {:>7} {:>9}  digest",
        "fills", "pnl_net", "kappa", "kappa_conf", "cal_prog", "cal_gamma", "as_rate", "regimes", "checklist",
    );
    for o in outcomes {
        let _ = write!(s, "{:<8}", o.spec.dir_name());
        for (a, (_, v)) in axes.iter().zip(&o.spec.settings) {
            let _ = write!(s, " {:>w$}", v, w = a.key.len().max(8));
        }
        match &o.result {
            Ok(r) => {
                let _ = writeln!(
                    s,
                    " {:>7} {:>11.4} {:>8.4} {:>10.4} {:>8.4} {:>9.4} {:>8} {:>7} {:>9}  {}",
                    r.fills,
                    r.pnl_net,
                    r.kappa,
                    r.kappa_confidence,
                    r.calibration_progress,
                    r.cal_gamma,
                    r.as_rate.map_or("n/a".to_string(), |v| format!("{:.1}%", v * 100.0)),
                    r.regime_changes,
                    format!("{}/{}", r.checklist_passed, r.checklist_items),
                    r.output_digest.as_deref().map_or("-", |d| &d[..d.len().min(12)])
                );
            }
            Err(e) => {
                let _ = writeln!(s, " FAILED: {e}");
            }
        }
    }
    s
}

/// The outcomes as JSON (written beside the table as `sweep.json`).
pub fn outcomes_json(outcomes: &[RunOutcome]) -> serde_json::Value {
    serde_json::Value::Array(
        outcomes
            .iter()
            .map(|o| {
                let settings: serde_json::Map<String, serde_json::Value> = o
                    .spec
                    .settings
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                serde_json::json!({
                    "run": o.spec.dir_name(),
                    "index": o.spec.index,
                    "settings": settings,
                    "result": o.result.as_ref().ok(),
                    "error": o.result.as_ref().err(),
                })
            })
            .collect(),
    )
}

/// A whole sweep into `out`: one session directory per run (`out/run-NNNN/`, written by
/// `replay_one(spec, dir)`), then `out/sweep.txt` (the table) and `out/sweep.json`. Returns
/// the table and whether every run succeeded.
pub fn run_sweep<F>(
    out: &std::path::Path,
    axes: &[GridAxis],
    shard_of: Option<Shard>,
    workers: usize,
    replay_one: F,
) -> anyhow::Result<(String, bool)>
where
    F: Fn(&RunSpec, &std::path::Path) -> anyhow::Result<()> + Sync,
{
    use anyhow::Context;
    let runs = shard(grid(axes), shard_of);
    if runs.is_empty() {
        anyhow::bail!(
            "shard {shard_of:?} holds no run of this {}-run grid: use fewer shards",
            grid(axes).len()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    super::session::mark_session_dir(out)?;
    let outcomes = run_parallel(runs, workers, |spec| {
        let dir = out.join(spec.dir_name());
        replay_one(spec, &dir)?;
        Ok(RunResult::from_session(&Session::load(&dir)?))
    });
    let mut text = table(axes, &outcomes);
    if let Some(s) = shard_of {
        text = format!("# shard {}/{} of a {}-run grid\n{text}", s.index, s.count, grid(axes).len());
    }
    std::fs::write(out.join("sweep.txt"), &text)
        .with_context(|| format!("writing {}/sweep.txt", out.display()))?;
    let json = serde_json::to_string_pretty(&outcomes_json(&outcomes))?;
    std::fs::write(out.join("sweep.json"), json)
        .with_context(|| format!("writing {}/sweep.json", out.display()))?;
    Ok((text, outcomes.iter().all(|o| o.result.is_ok())))
}

/// Whether replay's `--set` and `--shard` flags ask for a sweep rather than one run: a key
/// with several comma-separated values, or a shard. A value written as a TOML array
/// (`engine.coins=["BTC","ETH"]`) is one value, not a grid.
pub fn axes_of_sets(sets: &[String]) -> Result<Vec<GridAxis>, String> {
    sets.iter()
        .map(|s| {
            if s.split_once('=').is_some_and(|(_, v)| v.trim_start().starts_with('[')) {
                let (k, v) = s.split_once('=').unwrap_or_default();
                Ok(GridAxis { key: k.trim().to_string(), values: vec![v.trim().to_string()] })
            } else {
                parse_set(s)
            }
        })
        .collect()
}

/// The configuration key a `--set` names: a dotted key as is, a bare key (`fill_prob_base`)
/// resolved to the one section that holds it (`fill_sim.fill_prob_base`).
pub fn resolve_key(key: &str) -> Result<String, String> {
    if key.contains('.') {
        return Ok(key.to_string());
    }
    let root = toml::Value::try_from(crate::engine::EngineConfig::default()).map_err(|e| e.to_string())?;
    let sections: Vec<String> = root
        .as_table()
        .map(|t| {
            t.iter()
                .filter(|(_, v)| v.as_table().is_some_and(|s| s.contains_key(key)))
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default();
    match sections.as_slice() {
        [one] => Ok(format!("{one}.{key}")),
        [] => Err(format!(
            "configuration key `{key}`: unknown key; name it with its section, e.g. fill_sim.fill_prob_base"
        )),
        many => Err(format!(
            "configuration key `{key}` is in several sections ({}): name the section",
            many.join(", ")
        )),
    }
}

/// `replay` over a grid: every run is an ordinary replay with the grid point's settings added
/// to `base`'s overrides, into `out/run-NNNN/`. Every grid point's configuration is checked
/// before anything runs, so a bad value is one clear error, not a table of failures.
pub fn replay_sweep(
    rec: &std::path::Path,
    base: &super::replay::ReplayOptions,
    axes: &[GridAxis],
    shard_of: Option<Shard>,
    workers: usize,
) -> anyhow::Result<(String, bool)> {
    let mut axes = axes.to_vec();
    for a in &mut axes {
        a.key = resolve_key(&a.key).map_err(anyhow::Error::msg)?;
    }
    for spec in grid(&axes) {
        let mut cfg = base.config.clone().unwrap_or_default();
        let overrides: Vec<(String, String)> = base.overrides.iter().chain(&spec.settings).cloned().collect();
        cfg.apply_overrides(&overrides)
            .map_err(|e| anyhow::anyhow!("{e} (in sweep run {}: {})", spec.dir_name(), spec.label()))?;
    }
    if base.out.exists() && std::fs::read_dir(&base.out).map(|mut d| d.next().is_some()).unwrap_or(false) {
        anyhow::bail!(
            "{} exists and is not empty: a sweep writes a new directory; choose another --out",
            base.out.display()
        );
    }
    run_sweep(&base.out, &axes, shard_of, workers, |spec, dir| {
        let mut opts = base.clone();
        opts.out = dir.to_path_buf();
        opts.progress = false;
        opts.overrides.extend(spec.settings.iter().cloned());
        super::replay::run_replay(rec, &opts).map(|_| ())
    })
}

/// Threads for a sweep: every core the machine offers.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes() -> Vec<GridAxis> {
        vec![
            parse_set("fill_prob_base=0.3,0.4,0.5").unwrap(),
            parse_set("fill_sim.adverse_fill_ratio=0,0.2").unwrap(),
        ]
    }

    #[test]
    fn set_and_shard_parse_with_clear_errors() {
        assert_eq!(parse_set("a=1").unwrap(), GridAxis { key: "a".into(), values: vec!["1".into()] });
        assert!(parse_set("a").unwrap_err().contains("KEY=VALUE"));
        assert!(parse_set("a=1,,2").is_err());
        assert!(parse_set("=1").is_err());
        assert_eq!(parse_shard("2/4").unwrap(), Shard { index: 2, count: 4 });
        for bad in ["0/4", "5/4", "1/0", "x/2", "3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn toml_arrays_are_one_value_not_a_grid() {
        let a = axes_of_sets(&[
            "engine.coins=[\"BTC\",\"ETH\"]".to_string(),
            "fill_prob_base=0.3,0.5".to_string(),
        ])
        .unwrap();
        assert_eq!(a[0].values, vec!["[\"BTC\",\"ETH\"]".to_string()]);
        assert_eq!(a[1].values.len(), 2);
        assert_eq!(grid(&a).len(), 2);
    }

    #[test]
    fn grid_is_the_cartesian_product_last_axis_fastest() {
        let g = grid(&axes());
        assert_eq!(g.len(), 6);
        assert_eq!(g[0].label(), "fill_prob_base=0.3 fill_sim.adverse_fill_ratio=0");
        assert_eq!(g[1].label(), "fill_prob_base=0.3 fill_sim.adverse_fill_ratio=0.2");
        assert_eq!(g[5].label(), "fill_prob_base=0.5 fill_sim.adverse_fill_ratio=0.2");
        assert_eq!(grid(&[]).len(), 1);
    }

    #[test]
    fn shards_partition_the_grid() {
        let all = grid(&axes());
        let mut seen: Vec<usize> = Vec::new();
        for i in 1..=4 {
            seen.extend(shard(all.clone(), Some(Shard { index: i, count: 4 })).iter().map(|r| r.index));
        }
        seen.sort();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
        assert_eq!(
            shard(all.clone(), Some(Shard { index: 2, count: 4 }))
                .iter()
                .map(|r| r.index)
                .collect::<Vec<_>>(),
            vec![1, 5]
        );
    }

    fn fake(spec: &RunSpec) -> anyhow::Result<RunResult> {
        // A stand-in runner whose figures depend only on the spec: a deterministic function.
        let p: f64 = spec.settings[0].1.parse()?;
        if spec.settings[1].1 == "0.2" && p > 0.45 {
            anyhow::bail!("configuration key `x`: out of range");
        }
        Ok(RunResult {
            fills: (p * 1000.0) as u64,
            pnl_net: p - 0.4,
            kappa: 1.0,
            kappa_confidence: p,
            calibration_progress: p / 2.0,
            cal_gamma: 0.3,
            as_rate: Some(0.35),
            regime_changes: 2,
            checklist_passed: 7,
            checklist_items: 7,
            output_digest: None,
        })
    }

    #[test]
    fn parallel_runs_come_back_in_grid_order_whatever_the_thread_count() {
        let one = run_parallel(grid(&axes()), 1, fake);
        let four = run_parallel(grid(&axes()), 4, fake);
        assert_eq!(one.len(), 6);
        assert_eq!(table(&axes(), &one), table(&axes(), &four));
        assert!(one[5].result.as_ref().unwrap_err().contains("out of range"));
        let t = table(&axes(), &four);
        assert!(t.contains("run-0000") && t.contains("FAILED") && t.contains("fill_prob_base"), "{t}");
        assert_eq!(outcomes_json(&four)[0]["settings"]["fill_prob_base"], "0.3");
    }

    #[test]
    fn more_runs_than_the_queue_holds_do_not_deadlock() {
        let many = grid(&[
            GridAxis {
                key: "fill_prob_base".into(),
                values: (0..200).map(|i| format!("0.{i:03}")).collect(),
            },
            parse_set("b=0,1").unwrap(),
        ]);
        let out = run_parallel(many, 3, |s| {
            let mut r = fake(&RunSpec {
                index: s.index,
                settings: vec![s.settings[0].clone(), ("b".into(), "0".into())],
            })?;
            r.fills = s.index as u64;
            Ok(r)
        });
        assert_eq!(out.len(), 400);
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, o)| o.spec.index == i && o.result.as_ref().unwrap().fills == i as u64));
    }
}
