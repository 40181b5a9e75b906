//! `export`: a session's tables (fills, orders, markouts, snapshots) or a recording's
//! normalized events as CSV, JSON lines or Parquet, with named columns (`docs/SESSION.md`).
//! The tables are built in `report::tables`; here they become Apache Arrow record batches and
//! are written by the Arrow project's writers (`arrow-csv`, `arrow-json`, `parquet`).

use super::{exit, venue_cmds, CmdResult};
use crate::log::LogReader;
use crate::report::session::Session;
use crate::report::tables::{self, Column, Table};
use anyhow::Context;
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
    Parquet,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Parquet => "parquet",
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  paper_trader export SESSION --what fills --format csv --out fills.csv\n  \
    paper_trader export SESSION --what all --format parquet --out tables/\n  \
    paper_trader export REC --what events --format jsonl --out events.jsonl"
)]
pub struct ExportArgs {
    /// A session directory (from `replay`, `live`, `demo`), or a recording for `--what events`.
    pub path: PathBuf,
    /// The table: fills, orders, markouts, snapshots, all (a session); events (a recording).
    #[arg(long, default_value = "fills")]
    pub what: String,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The file to write; with `--what all`, a directory that gets one file per table.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn export(args: &ExportArgs) -> CmdResult {
    if args.what == "events" {
        let table = events_table(&args.path)?;
        refuse_existing(&args.out)?;
        write_table(&table, args.format, &args.out)?;
        eprintln!("wrote {} events to {}", table.rows(), args.out.display());
        return Ok(exit::OK);
    }
    let names: Vec<&str> = match args.what.as_str() {
        "all" => tables::TABLES.to_vec(),
        w if tables::TABLES.contains(&w) => vec![w],
        w => anyhow::bail!(
            "--what {w}: not a table; the tables are {}, all (of a session) and events (of a recording)",
            tables::TABLES.join(", ")
        ),
    };
    if LogReader::open(&args.path).is_ok() && !args.path.join("outputs").exists() {
        anyhow::bail!(
            "{} is a recording, not a session: export its normalized events with --what events, \
             or replay it first (`paper_trader replay {} --out SESSION`)",
            args.path.display(),
            args.path.display()
        );
    }
    let session = Session::load(&args.path)?;
    if session.undecodable > 0 {
        eprintln!(
            "warning: {} output records did not decode (a journal from another version?); they are not exported",
            session.undecodable
        );
    }
    let targets: Vec<(&str, PathBuf)> = if args.what == "all" {
        refuse_existing(&args.out)?;
        std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
        names.iter().map(|n| (*n, args.out.join(format!("{n}.{}", args.format.extension())))).collect()
    } else {
        refuse_existing(&args.out)?;
        vec![(names[0], args.out.clone())]
    };
    for (name, path) in targets {
        let table = tables::table(&session, name).expect("a known table");
        write_table(&table, args.format, &path)?;
        eprintln!("wrote {} rows of {name} to {}", table.rows(), path.display());
    }
    Ok(exit::OK)
}

/// No command overwrites what it did not write.
fn refuse_existing(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        anyhow::bail!("{} exists; export writes only new files (choose another --out)", out.display());
    }
    Ok(())
}

/// Arrow record batch of a table: integers, floats and booleans typed, text as UTF-8, nulls kept.
pub fn record_batch(table: &Table) -> anyhow::Result<RecordBatch> {
    let mut fields = Vec::with_capacity(table.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for (name, col) in &table.columns {
        let (dt, array): (DataType, ArrayRef) = match col {
            Column::U64(v) => (DataType::UInt64, Arc::new(UInt64Array::from(v.clone()))),
            Column::I64(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            Column::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Column::Str(v) => (DataType::Utf8, Arc::new(StringArray::from(v.clone()))),
            Column::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v.clone()))),
        };
        fields.push(Field::new(*name, dt, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .with_context(|| format!("building the {} table", table.name))
}

fn write_table(table: &Table, format: ExportFormat, path: &Path) -> anyhow::Result<()> {
    let batch = record_batch(table)?;
    let tmp = path.with_extension(format!("{}.part", format.extension()));
    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let w = std::io::BufWriter::new(file);
    let written: anyhow::Result<()> = (|| {
        match format {
            ExportFormat::Csv => {
                let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(w);
                w.write(&batch)?;
            }
            ExportFormat::Jsonl => {
                // Nulls are written as `null`, so every line has every column.
                let mut w = arrow_json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow_json::writer::LineDelimited>(w);
                w.write(&batch)?;
                w.finish()?;
            }
            ExportFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                    .build();
                let mut w = parquet::arrow::ArrowWriter::try_new(w, batch.schema(), Some(props))?;
                w.write(&batch)?;
                w.close()?;
            }
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// A recording's normalized events (the `events --json` lines) as one table. Columns every
/// event kind shares come first; the rest of an event (book levels, a control's detail) is its
/// `detail` JSON.
pub fn events_table(rec: &Path) -> anyhow::Result<Table> {
    if rec.join("outputs").exists() {
        anyhow::bail!(
            "{} is a session, not a recording: its events are in the recording it replayed; \
             its tables export with --what fills|orders|markouts|snapshots|all",
            rec.display()
        );
    }
    let lines = venue_cmds::event_values(rec)?;
    let mut seq = Vec::new();
    let mut recv = Vec::new();
    let mut time = Vec::new();
    let mut kind = Vec::new();
    let mut coin = Vec::new();
    let mut exch = Vec::new();
    let mut side = Vec::new();
    let (mut px, mut px_f) = (Vec::new(), Vec::new());
    let (mut sz, mut sz_f) = (Vec::new(), Vec::new());
    let mut detail = Vec::new();
    for mut v in lines {
        let obj = v.as_object_mut().expect("events are JSON objects");
        let take_u = |o: &mut serde_json::Map<String, serde_json::Value>, k: &str| {
            o.remove(k).and_then(|x| x.as_u64())
        };
        let take_s = |o: &mut serde_json::Map<String, serde_json::Value>, k: &str| {
            o.remove(k).and_then(|x| x.as_str().map(str::to_string))
        };
        seq.push(take_u(obj, "seq"));
        let r = take_u(obj, "recv_ns");
        time.push(r.map(tables::utc));
        recv.push(r);
        kind.push(take_s(obj, "type"));
        coin.push(take_s(obj, "coin"));
        exch.push(take_u(obj, "exch_ns"));
        side.push(take_s(obj, "side"));
        let p = take_s(obj, "px");
        px_f.push(p.as_deref().and_then(|s| crate::types::Price::parse(s).ok()).map(|p| p.to_f64()));
        px.push(p);
        let q = take_s(obj, "sz");
        sz_f.push(q.as_deref().and_then(|s| crate::types::Qty::parse(s).ok()).map(|q| q.to_f64()));
        sz.push(q);
        detail.push((!obj.is_empty()).then(|| serde_json::Value::Object(obj.clone()).to_string()));
    }
    Ok(Table {
        name: "events",
        columns: vec![
            ("seq", Column::U64(seq)),
            ("recv_ns", Column::U64(recv)),
            ("time_utc", Column::Str(time)),
            ("type", Column::Str(kind)),
            ("coin", Column::Str(coin)),
            ("exch_ns", Column::U64(exch)),
            ("side", Column::Str(side)),
            ("price", Column::Str(px)),
            ("price_f64", Column::F64(px_f)),
            ("size", Column::Str(sz)),
            ("size_f64", Column::F64(sz_f)),
            ("detail", Column::Str(detail)),
        ],
    })
}
