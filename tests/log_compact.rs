//! `compact`: closed files rewritten in compact blocks (format 1.1), verified, renamed over the
//! originals; the same records come back (`cat` byte for byte), seeking works, a file being
//! written is never touched, and a flipped bit costs only its block.

mod log_support;

use log_support::{feed, header, quiet_opts, read, write};
use paper_trader::log::compact::{compact, compact_options, Outcome, PRECOMPACT_DIR};
use paper_trader::log::{format, LogReader, LogWriter, Status};
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin(args: &[&str], rec: &Path) -> (i32, Vec<u8>) {
    let out = Command::new(env!("CARGO_BIN_EXE_paper_trader")).args(args).arg(rec).output().unwrap();
    (out.status.code().unwrap_or(-1), out.stdout)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

fn total_size(dir: &Path) -> u64 {
    files(dir).iter().map(|f| std::fs::metadata(f).unwrap().len()).sum()
}

/// A recording of several hourly files (the feed spans 3 h) written with the default options.
fn recording(dir: &Path) -> Vec<log_support::Spec> {
    let specs = feed(30_000, 1_700_000_000_000_000_000, 400_000_000, 7);
    write(dir, &specs, quiet_opts());
    specs
}

#[test]
fn compact_keeps_every_record_and_shrinks_the_recording() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let specs = recording(&rec);
    let (code, before_cat) = bin(&["cat"], &rec);
    assert_eq!(code, 0);
    let before = total_size(&rec);
    let n_files = files(&rec).len();
    assert!(n_files >= 3, "the feed should span several hourly files");

    let done = compact(&rec, false).unwrap();
    assert_eq!(done.len(), n_files);
    assert!(done.iter().all(|c| matches!(c.outcome, Outcome::Compacted { .. })), "{done:?}");
    assert_eq!(files(&rec).len(), n_files, "one compact file per original, same names");
    assert!(!rec.join(PRECOMPACT_DIR).exists());
    let after = total_size(&rec);
    assert!(after < before, "compacted {after} bytes >= original {before}");

    let (code, after_cat) = bin(&["cat"], &rec);
    assert_eq!(code, 0);
    assert_eq!(after_cat, before_cat, "cat after compact differs");
    assert_eq!(bin(&["verify"], &rec).0, 0);
    let (got, status) = read(&rec).unwrap();
    assert_eq!(status, Status::Intact);
    assert_eq!(got, log_support::expected(&specs));
    // Every file is format 1.1 now, and compacting again leaves them alone.
    let again = compact(&rec, false).unwrap();
    assert!(again.iter().all(|c| c.outcome == Outcome::Skipped("already compact".into())), "{again:?}");
}

#[test]
fn keep_original_keeps_the_originals_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    recording(&rec);
    let originals: Vec<(String, Vec<u8>)> = files(&rec)
        .iter()
        .map(|f| (f.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(f).unwrap()))
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_paper_trader"))
        .args(["compact", "--keep-original"])
        .arg(&rec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (name, bytes) in &originals {
        assert_eq!(&std::fs::read(rec.join(PRECOMPACT_DIR).join(name)).unwrap(), bytes, "{name}");
        assert_ne!(&std::fs::read(rec.join(name)).unwrap(), bytes, "{name} was not rewritten");
    }
    // The originals beside the recording are not part of it.
    assert_eq!(bin(&["verify"], &rec).0, 0);
}

#[test]
fn a_file_being_written_is_never_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let specs = feed(2_000, 1_700_000_000_000_000_000, 1_000_000, 3);
    let mut w = LogWriter::create(&rec, header(), quiet_opts()).unwrap();
    for s in &specs {
        if let log_support::Spec::Msg(t, stream, raw) = s {
            w.append_message(*t, stream, raw).unwrap();
        }
    }
    w.flush().unwrap();
    let part = files(&rec).into_iter().find(|f| f.to_string_lossy().ends_with(".part")).unwrap();
    let bytes = std::fs::read(&part).unwrap();
    let done = compact(&rec, false).unwrap();
    assert!(matches!(&done[..], [c] if matches!(c.outcome, Outcome::Skipped(_))), "{done:?}");
    assert_eq!(std::fs::read(&part).unwrap(), bytes);
    drop(w);
}

/// Offsets of the compact block headers of a file (walking the frames).
fn compact_blocks(bytes: &[u8]) -> Vec<usize> {
    let mut v = Vec::new();
    let mut off = 0;
    while off + 8 <= bytes.len() {
        let magic = format::le_u32(bytes, off);
        let size = format::le_u32(bytes, off + 4) as usize;
        if magic == format::MAGIC_COMPACT_BLOCK {
            v.push(off);
            let h = format::decode_compact_block_header(&bytes[off + 8..off + 8 + size]).unwrap();
            off += 8 + size + h.frame_len as usize;
        } else {
            off += 8 + size;
        }
    }
    v
}

#[test]
fn a_flipped_bit_in_a_compact_block_costs_that_block_only() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let specs = feed(12_000, 1_700_000_000_000_000_000, 200_000, 11);
    // Compact blocks of 64 KiB, so that the file holds many.
    let opts = paper_trader::log::WriterOptions { block_bytes: 64 << 10, fsync: false, ..compact_options() };
    write(&rec, &specs, opts);
    let all = read(&rec).unwrap().0;
    assert_eq!(all, log_support::expected(&specs));
    let file = files(&rec).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let blocks = compact_blocks(&bytes);
    assert!(blocks.len() >= 4, "{} blocks", blocks.len());
    // Flip a bit inside the second block's frame.
    let at = blocks[1] + 8 + format::COMPACT_BLOCK_HEADER_CONTENT + 20;
    bytes[at] ^= 0x10;
    std::fs::write(&file, &bytes).unwrap();
    let (got, status) = read(&rec).unwrap();
    assert_eq!(status, Status::Corrupt);
    // What is lost is one block's records, exactly: the rest comes back in order.
    let lost: Vec<_> = all.iter().filter(|r| !got.contains(r)).collect();
    assert!(!lost.is_empty());
    let (lo, hi) = (lost[0].seq, lost[lost.len() - 1].seq);
    assert_eq!(hi - lo + 1, lost.len() as u64, "the lost records are not one run");
    assert!(lo > 0 && hi < all.len() as u64 - 1, "only the second block is damaged");
    assert_eq!(got.len() + lost.len(), all.len());
    assert_eq!(bin(&["verify"], &rec).0, 4);
}

#[test]
fn seeking_in_a_compact_recording_lands_on_the_right_record() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let specs = recording(&rec);
    compact(&rec, false).unwrap();
    let t = specs[specs.len() / 2].recv_ns();
    let mut r = LogReader::open(&rec).unwrap();
    r.seek_time(t).unwrap();
    let first = r.next_record().unwrap();
    assert_eq!(first.recv_ns, t);
}
