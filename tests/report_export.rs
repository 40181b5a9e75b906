//! `export` (issue 14): a session's tables as CSV, JSON lines and Parquet with named columns,
//! the same rows in every format and as many fills as `summary.json` counts; a recording's
//! events; `cat` and `events` on an output journal point to `export`; nothing is overwritten.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_paper_trader")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run paper_trader")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/sample")
}

/// A 20-minute replay of the sample.
fn session(tmp: &Path) -> PathBuf {
    let out = tmp.join("s");
    let o = run(&["replay", s(&sample()), "--to", "+20m", "--out", s(&out)]);
    assert!(o.status.success(), "replay: {}", String::from_utf8_lossy(&o.stderr));
    out
}

fn summary(session: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(session.join("summary.json")).unwrap()).unwrap()
}

fn parquet_rows(path: &Path) -> (usize, Vec<String>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let meta = r.metadata();
    let rows = meta.file_metadata().num_rows() as usize;
    let cols = meta.file_metadata().schema_descr().columns().iter().map(|c| c.name().to_string()).collect();
    (rows, cols)
}

#[test]
fn fills_export_the_same_rows_in_every_format_with_named_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let ses = session(tmp.path());
    let fills = summary(&ses)["fills"].as_u64().unwrap() as usize;
    assert!(fills > 50, "the sample trades: {fills} fills");
    for f in ["csv", "jsonl", "parquet"] {
        let out = tmp.path().join(format!("fills.{f}"));
        let o = run(&["export", s(&ses), "--what", "fills", "--format", f, "--out", s(&out)]);
        assert!(o.status.success(), "export {f}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let csv = std::fs::read_to_string(tmp.path().join("fills.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for c in [
        "recv_ns",
        "time_utc",
        "fill_id",
        "order_id",
        "coin",
        "side",
        "price",
        "price_f64",
        "size",
        "size_f64",
        "fee",
        "kind",
        "level",
        "strategy",
        "toxicity",
        "markout_5s_bp",
        "cancel_tail",
    ] {
        assert!(header.contains(&c), "fills.csv has no column {c}: {header:?}");
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), fills);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // Exact and float agree; times agree; fees are signed maker fees at the default 1.5 bp.
    for r in &rows {
        let px: f64 = r[col("price")].parse().unwrap();
        assert_eq!(px, r[col("price_f64")].parse::<f64>().unwrap());
        assert!(r[col("time_utc")].starts_with("2025-01-01T") && r[col("time_utc")].ends_with('Z'));
        assert!(["buy", "sell"].contains(&r[col("side")]));
        assert!(["trade_through", "book_cross", "trade_at_price"].contains(&r[col("kind")]));
        assert_eq!(r[col("strategy")], "glft");
        assert!(r[col("fee")].parse::<f64>().unwrap() > 0.0);
    }
    let jl = std::fs::read_to_string(tmp.path().join("fills.jsonl")).unwrap();
    let json: Vec<serde_json::Value> = jl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(json.len(), fills);
    assert_eq!(json[0]["fill_id"].as_u64().unwrap().to_string(), rows[0][col("fill_id")]);
    assert_eq!(json[0]["price"].as_str().unwrap(), rows[0][col("price")]);
    let (prow, pcols) = parquet_rows(&tmp.path().join("fills.parquet"));
    assert_eq!(prow, fills);
    assert_eq!(pcols, header);
    // The fees of the table add up to summary.json's.
    let fee_sum: f64 = rows.iter().map(|r| r[col("fee_f64")].parse::<f64>().unwrap()).sum();
    let want = summary(&ses)["pnl"]["fees"].as_f64().unwrap();
    assert!((fee_sum - want).abs() < 1e-6, "fees {fee_sum} vs summary {want}");
}

#[test]
fn all_writes_one_file_per_table_and_orders_account_for_every_fill() {
    let tmp = tempfile::tempdir().unwrap();
    let ses = session(tmp.path());
    let dir = tmp.path().join("tables");
    let o = run(&["export", s(&ses), "--what", "all", "--format", "csv", "--out", s(&dir)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for t in ["fills", "orders", "markouts", "snapshots"] {
        assert!(dir.join(format!("{t}.csv")).is_file(), "no {t}.csv");
    }
    let sum = summary(&ses);
    let orders = std::fs::read_to_string(dir.join("orders.csv")).unwrap();
    let mut lines = orders.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as u64, sum["orders_placed"].as_u64().unwrap());
    let fills: u64 = rows.iter().map(|r| r[col("fills")].parse::<u64>().unwrap()).sum();
    assert_eq!(fills, sum["fills"].as_u64().unwrap(), "every fill belongs to an order");
    assert!(rows.iter().any(|r| r[col("status")] == "cancelled"));
    let marks = std::fs::read_to_string(dir.join("markouts.csv")).unwrap();
    let resolved5 =
        marks.lines().skip(1).filter(|l| l.contains(",5,") && !l.ends_with("true")).count() as u64;
    assert!(resolved5 > 0);
    let snaps = std::fs::read_to_string(dir.join("snapshots.csv")).unwrap();
    assert!(snaps.lines().next().unwrap().contains("kappa"));
    assert!(snaps.lines().count() > 10);
    // Nothing is overwritten.
    let again = run(&["export", s(&ses), "--what", "all", "--format", "csv", "--out", s(&dir)]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
}

#[test]
fn a_recording_exports_its_events_and_refuses_session_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let o = run(&["synth", "--seed", "3", "--duration", "2m", "--coins", "BTC", "--out", s(&rec)]);
    assert!(o.status.success());
    let out = tmp.path().join("events.parquet");
    let o = run(&["export", s(&rec), "--what", "events", "--format", "parquet", "--out", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = run(&["events", s(&rec), "--json"]);
    let n = String::from_utf8_lossy(&lines.stdout).lines().count();
    let (rows, cols) = parquet_rows(&out);
    assert_eq!(rows, n, "one row per `events --json` line");
    assert!(cols.contains(&"price_f64".to_string()) && cols.contains(&"type".to_string()));
    let o = run(&[
        "export",
        s(&rec),
        "--what",
        "fills",
        "--format",
        "csv",
        "--out",
        s(&tmp.path().join("f.csv")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--what events"));
    let o =
        run(&["export", s(&rec), "--what", "nope", "--format", "csv", "--out", s(&tmp.path().join("n.csv"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("fills, orders, markouts, snapshots"));
}

/// Issue 14. Postmortem: `cat` of an output journal printed msgpack as text, and `events`
/// called every output record "malformed".
#[test]
fn cat_and_events_on_an_output_journal_point_to_export() {
    let tmp = tempfile::tempdir().unwrap();
    let ses = session(tmp.path());
    for target in [ses.clone(), ses.join("outputs")] {
        for cmd in ["cat", "events"] {
            let o = run(&[cmd, s(&target)]);
            assert_eq!(o.status.code(), Some(1), "{cmd} {}", target.display());
            assert!(o.stdout.is_empty(), "{cmd} printed the journal");
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("output journal") && err.contains("export"), "{cmd}: {err}");
        }
    }
}
