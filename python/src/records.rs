//! Recordings: the header, the records one at a time, the whole recording and its normalized
//! events as Arrow tables.

use crate::{ipc_bytes, to_py, PaperTraderError};
use arrow_array::{ArrayRef, BinaryArray, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use paper_trader::log::{Body, LogReader, Record};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn open(path: &Path) -> PyResult<LogReader> {
    // The CLI's wording: `paper_trader inspect nope` says the same.
    LogReader::open(path).map_err(|e| PaperTraderError::new_err(e.to_string()))
}

/// A TOML text as JSON (the header's configuration and ground truth), else the text itself.
fn toml_to_json(text: &str) -> serde_json::Value {
    match text.parse::<toml::Table>() {
        Ok(t) => serde_json::to_value(t).unwrap_or_else(|_| serde_json::Value::String(text.to_string())),
        Err(_) => serde_json::Value::String(text.to_string()),
    }
}

/// The recording's header as JSON: venue, coins, program, creator, seed, the engine
/// configuration of a live session's inputs and a synthetic recording's generator
/// configuration and ground truth (both parsed from their TOML), its files and streams.
#[pyfunction]
fn recording_header(path: PathBuf) -> PyResult<String> {
    let reader = open(&path)?;
    let h = reader.header();
    let v = serde_json::json!({
        "venue": h.venue,
        "coins": h.coins,
        "program_version": h.program_version,
        "created_by": h.created_by,
        "seed": h.seed,
        "engine_config": h.engine_config.as_deref().map(toml_to_json),
        "synth": h.synth.as_deref().map(toml_to_json),
        "files": reader.files().iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "streams": reader.stream_names(),
    });
    Ok(v.to_string())
}

/// The stream and payload of a record: a message's raw bytes, or a control record as JSON
/// under the stream `control`.
fn parts(reader: &LogReader, rec: &Record) -> (String, Vec<u8>) {
    match &rec.body {
        Body::Message(raw) => (reader.stream_name(rec.stream).to_string(), raw.clone()),
        Body::Control(c) => ("control".to_string(), serde_json::to_vec(c).unwrap_or_default()),
    }
}

/// Iterates a recording's records as `(seq, recv_ns, stream, raw)`, streaming (one record in
/// memory at a time), tolerant of damage like the CLI's readers.
#[pyclass(module = "paper_trader._native")]
struct RecordIter {
    reader: LogReader,
}

#[pymethods]
impl RecordIter {
    #[new]
    fn new(path: PathBuf) -> PyResult<RecordIter> {
        Ok(RecordIter { reader: open(&path)? })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(mut slf: PyRefMut<'_, Self>, py: Python<'_>) -> Option<(u64, u64, String, PyObject)> {
        let rec = slf.reader.next_record()?;
        let (stream, raw) = parts(&slf.reader, &rec);
        Some((rec.seq, rec.recv_ns, stream, PyBytes::new_bound(py, &raw).into_any().unbind()))
    }

    /// What the reader skipped (torn tails, corruption), one line each, so far.
    fn issues(&self) -> Vec<String> {
        self.reader.issues().iter().map(|i| i.to_string()).collect()
    }
}

/// The whole recording as one table (Arrow IPC stream bytes): seq, recv_ns, stream, raw.
#[pyfunction]
fn recording_table(py: Python<'_>, path: PathBuf) -> PyResult<PyObject> {
    let bytes = py
        .allow_threads(|| -> anyhow::Result<Vec<u8>> {
            let mut reader = LogReader::open(&path)?;
            let (mut seq, mut recv, mut stream, mut raw) = (vec![], vec![], vec![], vec![]);
            while let Some(rec) = reader.next_record() {
                let (s, r) = parts(&reader, &rec);
                seq.push(rec.seq);
                recv.push(rec.recv_ns);
                stream.push(s);
                raw.push(r);
            }
            let schema = Schema::new(vec![
                Field::new("seq", DataType::UInt64, false),
                Field::new("recv_ns", DataType::UInt64, false),
                Field::new("stream", DataType::Utf8, false),
                Field::new("raw", DataType::Binary, false),
            ]);
            let columns: Vec<ArrayRef> = vec![
                Arc::new(UInt64Array::from(seq)),
                Arc::new(UInt64Array::from(recv)),
                Arc::new(StringArray::from(stream)),
                Arc::new(BinaryArray::from_iter_values(raw.iter())),
            ];
            ipc_bytes(&RecordBatch::try_new(Arc::new(schema), columns)?)
        })
        .map_err(to_py)?;
    Ok(PyBytes::new_bound(py, &bytes).into_any().unbind())
}

/// The recording's normalized events (`export REC --what events`) as Arrow IPC stream bytes.
#[pyfunction]
fn events_table(py: Python<'_>, path: PathBuf) -> PyResult<PyObject> {
    let bytes = py
        .allow_threads(|| -> anyhow::Result<Vec<u8>> {
            let table = paper_trader::commands::export_cmd::events_table(&path)?;
            ipc_bytes(&paper_trader::commands::export_cmd::record_batch(&table)?)
        })
        .map_err(to_py)?;
    Ok(PyBytes::new_bound(py, &bytes).into_any().unbind())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(recording_header, m)?)?;
    m.add_function(wrap_pyfunction!(recording_table, m)?)?;
    m.add_function(wrap_pyfunction!(events_table, m)?)?;
    m.add_class::<RecordIter>()?;
    Ok(())
}
