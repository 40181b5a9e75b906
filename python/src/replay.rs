//! `replay`: the library's replay driver (`drivers::replay::run_replay`, what the CLI's
//! `replay` runs), on a thread of its own with the GIL released, so Python threads run a sweep
//! in parallel. The calling thread waits with the GIL released too, waking every 100 ms to let
//! Python see signals: Ctrl-C sets the replay's stop flag, the session is finished where it
//! stopped, and `KeyboardInterrupt` is raised.

use crate::strategy::{set_host, Shared};
use crate::{to_py, PaperTraderError};
use crossbeam_channel::RecvTimeoutError;
use paper_trader::commands::{config_file, replay_cmd};
use paper_trader::drivers::replay::{run_replay, ReplayOptions};
use paper_trader::settings::{parse_time, TimeArg};
use paper_trader::venue::Venue;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn time_arg(flag: &str, s: Option<String>) -> PyResult<Option<TimeArg>> {
    s.map(|s| parse_time(&s).map_err(|e| PaperTraderError::new_err(format!("{flag} '{s}': {e}")))).transpose()
}

/// Runs one replay; returns `(summary.json text, strategy calls, ns spent in them)`. `config_json` is an
/// engine configuration as JSON (any subset of `--print-config`'s tables), `config_path` a `--config`
/// file; `sets` are `--set KEY=VALUE` strings; `strategy` is a Python strategy object (kind
/// `python`). Errors are the CLI's messages.
#[pyfunction]
#[pyo3(signature = (recording, out, *, config_json=None, config_path=None, seed=None, sets=Vec::new(),
    coins=None, venue=None, start=None, end=None, resume=None, accept_damage=false, strategy=None, cancel=None))]
#[allow(clippy::too_many_arguments)]
fn replay(
    py: Python<'_>,
    recording: PathBuf,
    out: PathBuf,
    config_json: Option<String>,
    config_path: Option<PathBuf>,
    seed: Option<u64>,
    sets: Vec<String>,
    coins: Option<Vec<String>>,
    venue: Option<String>,
    start: Option<String>,
    end: Option<String>,
    resume: Option<PathBuf>,
    accept_damage: bool,
    strategy: Option<PyObject>,
    cancel: Option<PyObject>,
) -> PyResult<(String, u64, u64)> {
    let mut opts = ReplayOptions::new(&out);
    let mut config_seed = None;
    if config_json.is_some() && config_path.is_some() {
        return Err(PaperTraderError::new_err("give config as a dict or as a path, not both"));
    }
    if let Some(json) = &config_json {
        // A dict of sections, as `--print-config` prints them (any subset).
        let text = serde_json::from_str::<serde_json::Value>(json)
            .map_err(anyhow::Error::from)
            .and_then(|v| Ok(toml::Value::try_from(v)?))
            .and_then(|v| Ok(toml::to_string(&v)?))
            .map_err(|e| PaperTraderError::new_err(format!("config: not a table of TOML values: {e}")))?;
        let file = config_file::parse(&text).map_err(|e| to_py(e.context("in config")))?;
        opts.config = Some(file.config);
        config_seed = file.seed;
    }
    if let Some(path) = &config_path {
        let file = config_file::load(path).map_err(to_py)?;
        opts.config = Some(file.config);
        config_seed = file.seed;
    }
    for kv in &sets {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            PaperTraderError::new_err(format!(
                "--set '{kv}': write KEY=VALUE, e.g. fill_sim.fill_prob_base=0.3"
            ))
        })?;
        let key = paper_trader::drivers::sweep::resolve_key(k.trim()).map_err(PaperTraderError::new_err)?;
        opts.overrides.push((key, v.trim().to_string()));
    }
    if strategy.is_some() {
        opts.overrides.push(("strategy.kind".into(), "\"python\"".into()));
    }
    if let Some(v) = &venue {
        opts.venue = Some(Venue::from_name(v).ok_or_else(|| {
            PaperTraderError::new_err(format!("--venue '{v}': use hyperliquid or binance-usdm"))
        })?);
    }
    opts.seed = seed.or(config_seed);
    opts.coins = coins;
    opts.from = time_arg("--from", start)?;
    opts.to = time_arg("--to", end)?;
    opts.resume = resume;
    opts.accept_damage = accept_damage;
    let stop = Arc::new(AtomicBool::new(false));
    opts.stop = Some(stop.clone());
    let shared = Arc::new(Shared::new(stop.clone()));

    let (tx, rx) = crossbeam_channel::bounded(1);
    let thread_shared = shared.clone();
    let rec = recording.clone();
    let thread_opts = opts.clone();
    let handle = std::thread::Builder::new()
        .name("paper_trader-replay".into())
        .spawn(move || {
            let _host = set_host(strategy, thread_shared);
            // This thread's Python thread state is made once, here, and kept while the GIL
            // is released for the replay: each callback then only re-takes the GIL (a
            // `with_gil` on a thread without one would make and free a thread state per call).
            let r = Python::with_gil(|py| py.allow_threads(|| run_replay(&rec, &thread_opts)));
            let _ = tx.send(r);
        })
        .map_err(|e| PaperTraderError::new_err(format!("starting the replay thread: {e}")))?;
    let mut interrupted = None;
    let result = loop {
        match py.allow_threads(|| rx.recv_timeout(Duration::from_millis(100))) {
            Ok(r) => break Some(r),
            Err(RecvTimeoutError::Timeout) => {
                if interrupted.is_none() {
                    if let Err(e) = py.check_signals() {
                        stop.store(true, Ordering::SeqCst);
                        interrupted = Some(e);
                    }
                }
                // Another thread asks this replay to stop (a sweep on Ctrl-C): `cancel` is a
                // `threading.Event`, or anything with `is_set()`.
                if let Some(c) = &cancel {
                    if c.call_method0(py, "is_set").and_then(|v| v.is_truthy(py)).unwrap_or(false) {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => break None,
        }
    };
    let _ = py.allow_threads(|| handle.join());
    if let Some((callback, cause)) = shared.take_error() {
        let err = PaperTraderError::new_err(format!(
            "the Python strategy's {callback} raised {}; the replay stopped there (the session in {} is cut short)",
            cause.value_bound(py).repr().map(|r| r.to_string()).unwrap_or_else(|_| cause.to_string()),
            out.display()
        ));
        err.set_cause(py, Some(cause));
        return Err(err);
    }
    if let Some(e) = interrupted {
        return Err(e);
    }
    let summary = match result {
        Some(r) => r.map_err(to_py)?,
        None => {
            return Err(PaperTraderError::new_err(
                "the replay thread ended without a result (a panic; see stderr)",
            ))
        }
    };
    if let Some((_, message)) =
        replay_cmd::failure(&summary, &recording, &out, opts.from, opts.to, accept_damage)
    {
        return Err(PaperTraderError::new_err(message));
    }
    let json =
        serde_json::to_string_pretty(&summary).map_err(|e| PaperTraderError::new_err(e.to_string()))?;
    Ok((json, shared.calls(), shared.call_ns()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(replay, m)?)?;
    Ok(())
}
