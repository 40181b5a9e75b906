//! Importers: `cat` of an import reproduces the text form byte for byte (real captures when
//! `../shared` is present, odd inputs always); the archive import keeps the `raw` bytes.

use paper_trader::log::import::{import, ImportFormat, Venue};
use paper_trader::log::{Body, LogReader, Status, WriterOptions};
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
