//! `paper_trader._native`: the Rust half of the Python package (`python/paper_trader/` is the
//! other). It calls the `paper_trader` library and nothing else: recordings and sessions are
//! read by the library's readers, tables are the `export` command's, and `replay` runs the
//! library's replay driver, so a replay from Python has the CLI's `output_digest`.
//!
//! Tables cross to Python as Arrow IPC stream bytes that `pyarrow.ipc.open_stream` opens, so
//! the extension needs no pyarrow at build time.

// PyO3 0.22's `#[pyfunction]` expansion converts a `PyResult`'s error into `PyErr`, which
// newer clippy reports at the function's signature.
#![allow(clippy::useless_conversion)]

use pyo3::prelude::*;

mod records;
mod replay;
mod strategy;
mod tables;

pyo3::create_exception!(
    _native,
    PaperTraderError,
    pyo3::exceptions::PyException,
    "An error of the paper_trader library; its message is the command line's."
);

/// The library's error as the CLI words it (`error: {e:#}` there, without the prefix here).
pub(crate) fn to_py(e: anyhow::Error) -> PyErr {
    PaperTraderError::new_err(format!("{e:#}"))
}

/// Arrow IPC stream bytes of one record batch.
pub(crate) fn ipc_bytes(batch: &arrow_array::RecordBatch) -> anyhow::Result<Vec<u8>> {
    let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema())?;
    w.write(batch)?;
    w.finish()?;
    Ok(w.into_inner()?)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The library logs through `tracing`; from Python only warnings show unless RUST_LOG asks.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    // The kinds `python` (a Python object) and `touch` (its Rust twin), installed once, before
    // any configuration is made.
    strategy::install_registry();
    m.add("PaperTraderError", m.py().get_type_bound::<PaperTraderError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    records::register(m)?;
    tables::register(m)?;
    replay::register(m)?;
    strategy::register(m)?;
    Ok(())
}
