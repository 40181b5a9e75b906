//! Importers: `cat` of an import reproduces the text form byte for byte (real captures when
//! `../shared` is present, odd inputs always); the archive import keeps the `raw` bytes.

use paper_trader::log::import::{
    import, import_checked_first, import_detecting, ImportFormat, Venue, PREFIX_LINES,
};
use paper_trader::log::{Body, LogError, LogReader, Status, WriterOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/data/real/NAME` beside the project (or under `$PT_SHARED`, for worktrees that
/// live elsewhere).
fn real(name: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("PT_SHARED")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"), PathBuf::from);
    let p = shared.join("data/real").join(name);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} absent", p.display());
        None
    }
}

fn opts() -> WriterOptions {
    WriterOptions { fsync: false, ..WriterOptions::default() }
}

/// `paper_trader cat REC` as the user runs it.
fn cat(rec: &Path) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_paper_trader")).arg("cat").arg(rec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn odd_text_inputs_come_back_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("odd.txt");
    let text: &[u8] = b"1737918843893903000 {\"channel\":\"l2Book\",\"data\":{\"coin\":\"BTC\"}}\r\n\nnot a message\n0123 leading zero\n1737918843893903001 {\"channel\":\"subscriptionResponse\"}\n  \n1737918843893903002 {\"channel\":\"trades\",\"data\":[{\"coin\":\"ETH\"}]}";
    std::fs::write(&input, text).unwrap();
    let rec = tmp.path().join("rec");
    let stats = import(ImportFormat::Hftbacktest, Venue::Hyperliquid, &[input], &rec, opts()).unwrap();
    assert_eq!((stats.lines, stats.messages, stats.unparsed), (7, 3, 4));
    assert_eq!(cat(&rec), text);
    let mut r = LogReader::open(&rec).unwrap();
    assert_eq!(r.header().coins, ["BTC", "ETH"]);
    let mut streams = Vec::new();
    while let Some(rec) = r.next_record() {
        if matches!(rec.body, Body::Message(_)) {
            streams.push(r.stream_name(rec.stream).to_owned());
        }
    }
    assert_eq!(
        streams,
        [
            "l2Book:BTC",
            "unparsed",
            "unparsed",
            "unparsed",
            "ws",
            "unparsed",
            "trades:ETH",
            "import:no-final-newline"
        ]
    );
}

#[test]
fn binance_capture_imports_and_cats_back_exactly() {
    let Some(src) = real("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let stats =
        import(ImportFormat::Hftbacktest, Venue::BinanceUsdm, std::slice::from_ref(&src), &rec, opts())
            .unwrap();
    assert_eq!(stats.streams.get("btcusdt@depthSnapshot"), Some(&1));
    assert_eq!(stats.unparsed, 0);
    assert_eq!(cat(&rec), paper_trader::log::import::read_input(&src).unwrap());
    let r = LogReader::open(&rec).unwrap();
    assert_eq!(r.header().venue, "binance-usdm");
    assert_eq!(r.header().coins, ["BTCUSDT"]);
}

#[test]
fn hyperliquid_capture_imports_and_cats_back_exactly() {
    let Some(src) = real("hyperliquid_btc_20250126_hftbacktest-collector.gz") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let stats =
        import(ImportFormat::Hftbacktest, Venue::Hyperliquid, std::slice::from_ref(&src), &rec, opts())
            .unwrap();
    assert_eq!((stats.streams.get("l2Book:BTC"), stats.streams.get("trades:BTC")), (Some(&46), Some(&9)));
    assert_eq!(cat(&rec), paper_trader::log::import::read_input(&src).unwrap());
}

#[test]
fn archive_import_keeps_the_raw_object_bytes() {
    let Some(src) = real("hyperliquid-archive_l2Book_BTC_20240101_12.lz4") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    import(ImportFormat::HlArchive, Venue::Hyperliquid, std::slice::from_ref(&src), &rec, opts()).unwrap();
    let text = paper_trader::log::import::read_input(&src).unwrap();
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut r = LogReader::open(&rec).unwrap();
    let mut n = 0;
    while let Some(rec) = r.next_record() {
        let Body::Message(raw) = rec.body else { continue };
        let line = lines[n];
        // The record is the line's `raw` value: the line minus its envelope.
        let at = line.windows(6).position(|w| w == b"\"raw\":").unwrap() + 6;
        assert_eq!(&raw[..], &line[at..line.len() - 1], "line {n}");
        assert_eq!(r.stream_name(rec.stream), "l2Book:BTC");
        n += 1;
    }
    assert_eq!(n, lines.len());
    assert_eq!(r.status(), Status::Intact);
    // 2024-01-01T12:00:01.138942031 is the first line's time.
    let mut r = LogReader::open(&rec).unwrap();
    assert_eq!(r.next_record().unwrap().recv_ns, 1_704_110_401_138_942_031);
}

/// The importer hands lines out of its read buffer and copies only those that span two
/// buffer fills (1 MiB each): a line longer than two fills, lines of many lengths (so fills
/// end at every offset of a line, newlines included) and a last line without a newline all
/// come back byte for byte, gzipped or plain.
#[test]
fn lines_across_read_buffer_fills_come_back_byte_for_byte() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    let mut ns = 1_737_918_843_893_903_000u64;
    let mut line = |text: &mut Vec<u8>, pad: usize| {
        ns += 1;
        let head = format!("{ns} {{\"channel\":\"trades\",\"data\":[{{\"coin\":\"BTC\",\"x\":\"");
        text.extend_from_slice(head.as_bytes());
        text.resize(text.len() + pad, b'a');
        text.extend_from_slice(b"\"}]}\n");
    };
    line(&mut text, 10);
    line(&mut text, 2_500_000); // longer than two fills
    for i in 0..20_001 {
        line(&mut text, i % 300);
    }
    text.extend_from_slice(b"1737918843893999999 {\"channel\":\"trades\",\"data\":[]}"); // no newline
    let plain = tmp.path().join("plain.txt");
    std::fs::write(&plain, &text).unwrap();
    let gz = tmp.path().join("text.gz");
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(&text).unwrap();
    enc.finish().unwrap();
    for input in [plain, gz] {
        let rec = tmp.path().join(format!("rec-{}", input.file_name().unwrap().to_string_lossy()));
        let stats = import(ImportFormat::Hftbacktest, Venue::Hyperliquid, &[input], &rec, opts()).unwrap();
        assert_eq!(stats.unparsed, 0);
        assert_eq!(stats.messages, 20_004);
        assert!(cat(&rec) == text, "cat of the import differs from its input");
    }
}

/// Every record of a recording: sequence, receive time, stream name, message bytes (or the
/// control record's debug form), and the header.
type Records = Vec<(u64, u64, String, Vec<u8>)>;

fn records_of(rec: &Path) -> (paper_trader::log::Header, Records) {
    let mut r = LogReader::open(rec).unwrap();
    let mut v = Vec::new();
    while let Some(x) = r.next_record() {
        let body = match &x.body {
            Body::Message(raw) => raw.to_vec(),
            Body::Control(c) => format!("{c:?}").into_bytes(),
        };
        v.push((x.seq, x.recv_ns, r.stream_name(x.stream).to_owned(), body));
    }
    assert_eq!(r.status(), Status::Intact);
    (r.header().clone(), v)
}

/// The files of a recording, by name, with their bytes.
fn files_of(rec: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(rec)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ptlog"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

const USDM: &str = r#"{"stream":"SYM@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"SYMU","U":5123107832006,"u":5123107837557,"pu":5123107831937,"b":[["61800.20","0.014"]],"a":[["61800.30","1.0"]]}}"#;
const SNAPSHOT: &str = r#"{"lastUpdateId":5123107831000,"E":1723161255000,"T":1723161254999,"bids":[["61800.20","1.0"]],"asks":[["61800.30","1.0"]]}"#;

/// A Binance text capture: a depth snapshot first (named after the header's first coin, as
/// no stream message precedes it), `n` lines of `btcusdt`, then `late` lines of `aaausdt`.
fn binance_capture(n: usize, late: usize) -> String {
    let mut text = format!("1723161255000000000 {SNAPSHOT}\n");
    let mut ns = 1_723_161_255_030_314_667u64;
    for i in 0..n + late {
        let sym = if i < n { "btcusdt" } else { "aaausdt" };
        ns += 1_000_000;
        text.push_str(&format!("{ns} {}\n", USDM.replace("SYM", sym)));
    }
    text
}

/// The speculative import (header guessed from the first lines, first pass in the same read)
/// writes byte for byte the recording of the import that makes its first pass before writing.
#[test]
fn the_speculative_import_writes_the_files_of_the_plain_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = vec![];
    if let Some(src) = real("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz") {
        inputs.push((src, None));
    }
    let small = tmp.path().join("small.txt");
    std::fs::write(&small, binance_capture(3000, 0)).unwrap();
    inputs.push((small, Some(Venue::BinanceUsdm)));
    // Longer than the prefix, with garbage lines on both sides of its end, a receive time
    // going back, and no final newline.
    let mut long = String::new();
    for (i, line) in binance_capture(PREFIX_LINES as usize + 500, 0).lines().enumerate() {
        if i % 1000 == 7 || i == PREFIX_LINES as usize + 1 {
            long.push_str("not a line of the form\n");
        }
        if i == 3000 {
            long.push_str(&format!("1723161255000000001 {}\n", USDM.replace("SYM", "btcusdt")));
        }
        long.push_str(line);
        long.push('\n');
    }
    long.pop();
    let long_path = tmp.path().join("long.txt");
    std::fs::write(&long_path, &long).unwrap();
    inputs.push((long_path, None));
    let hl = tmp.path().join("hl.txt");
    std::fs::write(
        &hl,
        b"1737918843893903000 {\"channel\":\"l2Book\",\"data\":{\"coin\":\"BTC\"}}\ngarbage\n",
    )
    .unwrap();
    inputs.push((hl, None));
    for (i, (src, venue)) in inputs.iter().enumerate() {
        let fast = tmp.path().join(format!("fast{i}"));
        let plain = tmp.path().join(format!("plain{i}"));
        let f = import_detecting(ImportFormat::Hftbacktest, *venue, std::slice::from_ref(src), &fast, opts())
            .unwrap();
        let p = import_checked_first(
            ImportFormat::Hftbacktest,
            *venue,
            std::slice::from_ref(src),
            &plain,
            opts(),
        )
        .unwrap();
        assert_eq!(format!("{f:?}"), format!("{p:?}"), "{}", src.display());
        assert_eq!(records_of(&fast), records_of(&plain), "{}", src.display());
        assert!(files_of(&fast) == files_of(&plain), "{}: the files differ", src.display());
    }
}

/// A coin first named after the prefix the header is guessed from: the guess is wrong, and
/// the import is redone with the true header (which also renames the snapshot's stream, named
/// after the header's first coin): the result is the plain import's.
#[test]
fn a_coin_named_after_the_prefix_redoes_the_import_with_the_true_header() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("late.txt");
    std::fs::write(&src, binance_capture(PREFIX_LINES as usize + 10, 3)).unwrap();
    let fast = tmp.path().join("fast");
    let plain = tmp.path().join("plain");
    let f =
        import_detecting(ImportFormat::Hftbacktest, None, std::slice::from_ref(&src), &fast, opts()).unwrap();
    import_checked_first(ImportFormat::Hftbacktest, None, std::slice::from_ref(&src), &plain, opts())
        .unwrap();
    let (header, recs) = records_of(&fast);
    assert_eq!(header.coins, ["AAAUSDT", "BTCUSDT"]);
    assert_eq!(recs[0].2, "aaausdt@depthSnapshot");
    assert_eq!(f.streams.get("aaausdt@depth@0ms"), Some(&3));
    assert_eq!((header, recs), records_of(&plain));
    assert!(files_of(&fast) == files_of(&plain));
    // Nothing of the thrown-away attempt is left: the recording's files only.
    let names: Vec<String> = std::fs::read_dir(&fast)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let plain_names: Vec<String> = std::fs::read_dir(&plain)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let (mut names, mut plain_names) = (names, plain_names);
    names.sort();
    plain_names.sort();
    assert_eq!(names, plain_names);
}

/// A venue contradicted after the prefix: refused, as by the plain import, and nothing is
/// left (the directory did not exist: it is gone; it existed empty: it stays empty).
#[test]
fn a_capture_refused_after_the_prefix_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("mixed.txt");
    let mut text = binance_capture(PREFIX_LINES as usize + 10, 0);
    text.push_str("1737918843893903000 {\"channel\":\"l2Book\",\"data\":{\"coin\":\"BTC\"}}\n");
    std::fs::write(&src, text).unwrap();
    let out = tmp.path().join("a/b/rec");
    let err = import_detecting(ImportFormat::Hftbacktest, None, std::slice::from_ref(&src), &out, opts())
        .unwrap_err();
    assert!(matches!(&err, LogError::Refused { reason } if reason.contains("more than one venue")), "{err}");
    assert!(!tmp.path().join("a").exists(), "the directories the import made are removed");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err2 = import_detecting(ImportFormat::Hftbacktest, None, std::slice::from_ref(&src), &empty, opts())
        .unwrap_err();
    assert_eq!(err.to_string(), err2.to_string());
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "an existing directory is left empty");
}

/// A truncated gzip capture: the plain import's error (it met it in its first pass, before
/// writing anything), and nothing left behind, though the speculative import had written.
#[test]
fn a_truncated_capture_leaves_nothing_behind() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let text = binance_capture(20_000, 0);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let src = tmp.path().join("cut.gz");
    std::fs::write(&src, &gz[..gz.len() * 3 / 4]).unwrap();
    let out = tmp.path().join("rec");
    let err = import_detecting(ImportFormat::Hftbacktest, None, std::slice::from_ref(&src), &out, opts())
        .unwrap_err();
    assert!(!out.exists(), "nothing is left behind");
    let plain = tmp.path().join("plain");
    let err_plain =
        import_checked_first(ImportFormat::Hftbacktest, None, std::slice::from_ref(&src), &plain, opts())
            .unwrap_err();
    assert_eq!(err.to_string(), err_plain.to_string());
    assert!(!plain.exists());
    // The CLI: exit 1, the error named, no directory.
    let o = Command::new(env!("CARGO_BIN_EXE_paper_trader"))
        .args(["import", "--format", "hftbacktest", "--venue", "binance-usdm"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists());
}

/// `--level` sets the recording's zstd level: the records are the same at any level, the
/// files differ (level 6 was the default before).
#[test]
fn the_level_changes_the_bytes_not_the_records() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("c.txt");
    std::fs::write(&src, binance_capture(3000, 0)).unwrap();
    let run = |level: &str, out: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_paper_trader"))
            .args(["import", "--format", "hftbacktest", "--level", level])
            .arg(&src)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (a, b) = (tmp.path().join("l1"), tmp.path().join("l6"));
    run("1", &a);
    run("6", &b);
    assert_eq!(records_of(&a), records_of(&b));
    assert!(files_of(&a) != files_of(&b));
    let six =
        WriterOptions { zstd_level: 6, window_log: paper_trader::log::import::IMPORT_WINDOW_LOG, ..opts() };
    let c = tmp.path().join("lib6");
    import_checked_first(ImportFormat::Hftbacktest, None, std::slice::from_ref(&src), &c, six).unwrap();
    assert!(files_of(&b) == files_of(&c), "--level 6 writes what the library writes at level 6");
}
