//! A session's tables (fills, orders, markouts, snapshots) as Arrow IPC stream bytes: the
//! `export` command's tables (`report::tables`, `export_cmd::record_batch`), so a column means
//! the same in `export` and in Python (`docs/SESSION.md`).

use crate::{ipc_bytes, to_py};
use paper_trader::commands::export_cmd::record_batch;
use paper_trader::report::session::Session;
use paper_trader::report::tables;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::path::PathBuf;

/// Reads the session once: `{"fills": bytes, "orders": ..., "markouts": ..., "snapshots":
/// ..., "summary": JSON text or None, "config": session.toml as JSON text or None,
/// "undecodable": int}`.
#[pyfunction]
fn session_tables(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyDict>> {
    type Loaded = (Vec<(&'static str, Vec<u8>)>, Option<String>, Option<String>, u64);
    let (tabs, summary, config, undecodable) = py
        .allow_threads(|| -> anyhow::Result<Loaded> {
            let session = Session::load(&path)?;
            let mut out = Vec::new();
            for name in tables::TABLES {
                if let Some(t) = tables::table(&session, name) {
                    out.push((name, ipc_bytes(&record_batch(&t)?)?));
                }
            }
            let summary = session.summary.as_ref().map(|s| s.to_string());
            let config = session.config.as_ref().and_then(|c| serde_json::to_string(c).ok());
            Ok((out, summary, config, session.undecodable))
        })
        .map_err(to_py)?;
    let d = PyDict::new_bound(py);
    for (name, bytes) in tabs {
        d.set_item(name, PyBytes::new_bound(py, &bytes))?;
    }
    d.set_item("summary", summary)?;
    d.set_item("config", config)?;
    d.set_item("undecodable", undecodable)?;
    Ok(d.unbind())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(session_tables, m)?)?;
    Ok(())
}
