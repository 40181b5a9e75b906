//! Issue 11 item 2, the file header. Postmortem: a flipped bit anywhere in a file's header
//! frame (magic, size, version, numbering, the recording's configuration, its CRC) made the
//! file fail to open, so every record of the file was lost (53,376 records of a real import
//! for a flip at byte 30), although the header holds no record. The header is now salvaged:
//! another file's header (or, for a lone file, the damaged header's own decodable content, or a
//! default) stands in, the damage is reported as corruption at the header, and reading resumes
//! at the first block.

mod log_support;

use log_support::*;
use paper_trader::log::{repair, LogReader, Status, WriterOptions};
use std::path::Path;

const T0: u64 = 1_737_918_000_000_000_000;

/// One closed file with several blocks.
fn one_file(dir: &Path) -> (Vec<u8>, Vec<Got>) {
    let specs = feed(400, T0, 50_000_000, 3);
    write(dir, &specs, WriterOptions { block_bytes: 2000, ..quiet_opts() });
    (std::fs::read(&files(dir)[0]).unwrap(), expected(&specs))
}

fn read_flipped(tmp: &Path, bytes: &[u8], n: usize) -> (Vec<Got>, Status, LogReader) {
    let path = tmp.join(format!("flip-{n}.ptlog"));
    std::fs::write(&path, bytes).unwrap();
    let r = LogReader::open(&path).unwrap_or_else(|e| panic!("flip {n}: the file no longer opens: {e}"));
    let out = read_reader(r);
    std::fs::remove_file(&path).unwrap();
    out
}

#[test]
fn every_bit_flip_in_the_file_header_keeps_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, all) = one_file(&tmp.path().join("rec"));
    let header_end = header_len(&files(&tmp.path().join("rec"))[0]) as usize;
    assert!(header_end > 40, "header of {header_end} bytes");
    for bit in 0..header_end * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        let (got, status, r) = read_flipped(tmp.path(), &b, bit);
        let what = format!("bit {bit} (byte {})", bit / 8);
        assert_eq!(status, Status::Corrupt, "{what}: the damaged header is not reported");
        let first = &r.issues()[0];
        assert!(first.offset < header_end as u64, "{what}: the issue names byte {}", first.offset);
        assert!(first.detail.contains("header"), "{what}: {first}");
        // Every record lies in the blocks after the header: all of them come back.
        assert_eq!(got, all, "{what}: records lost");
    }
}

#[test]
fn a_damaged_header_takes_the_recordings_header_from_another_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let specs = feed(3000, T0, 20_000_000, 5);
    write(&dir, &specs, WriterOptions { block_bytes: 4000, rotate_bytes: 20_000, ..quiet_opts() });
    let all = expected(&specs);
    let fs = files(&dir);
    assert!(fs.len() >= 3, "{} files", fs.len());
    for (victim, byte) in [(0usize, 30usize), (1, 30), (fs.len() - 1, 2), (1, 13)] {
        let case = tmp.path().join(format!("case-{victim}-{byte}"));
        std::fs::create_dir(&case).unwrap();
        for f in &fs {
            std::fs::copy(f, case.join(f.file_name().unwrap())).unwrap();
        }
        let target = case.join(fs[victim].file_name().unwrap());
        let mut b = std::fs::read(&target).unwrap();
        b[byte] ^= 0x08;
        std::fs::write(&target, &b).unwrap();
        let what = format!("file {victim}, byte {byte}");
        let r = LogReader::open(&case).unwrap();
        assert_eq!(r.header(), &header(), "{what}: the recording's header");
        let (got, status, r) = read_reader(r);
        assert_eq!(status, Status::Corrupt, "{what}");
        assert_eq!(r.issues().len(), 1, "{what}: {:?}", r.issues());
        assert_eq!(r.issues()[0].path, target, "{what}");
        assert_eq!(got, all, "{what}: records lost");
        // `repair` rewrites the file with the recording's header and every record.
        let done = repair::repair(&case).unwrap();
        assert_eq!(done.len(), 1, "{what}: {done:?}");
        let r = LogReader::open(&case).unwrap();
        assert_eq!(r.header(), &header(), "{what}: header after repair");
        let (after, status, _) = read_reader(r);
        assert_eq!(status, Status::Intact, "{what}: after repair");
        assert_eq!(after, all, "{what}: records after repair");
    }
}

#[test]
fn a_lone_file_with_a_damaged_header_is_repaired_to_an_intact_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let (mut bytes, all) = one_file(&dir);
    // A flip inside the recording's configuration: the CRC fails, the content still decodes.
    bytes[40] ^= 0x01;
    std::fs::write(&files(&dir)[0], &bytes).unwrap();
    let (got, status) = read(&dir).unwrap();
    assert_eq!((status, got.len()), (Status::Corrupt, all.len()));
    repair::repair(&dir).unwrap();
    let (after, status) = read(&dir).unwrap();
    assert_eq!(status, Status::Intact);
    assert_eq!(after, all);
}

#[test]
fn a_file_that_is_not_ours_is_still_not_a_recording() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("notes.ptlog");
    std::fs::write(&path, "just some text, no recording here\n".repeat(200)).unwrap();
    let err = LogReader::open(&path).err().expect("must refuse");
    assert!(matches!(err, paper_trader::log::LogError::NotARecording { .. }), "{err}");
}

#[test]
fn a_lone_file_whose_header_length_is_damaged_keeps_its_own_header() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let (mut bytes, all) = one_file(&dir);
    // Byte 30 is in the length of the header's msgpack map (a real import lost 53,376 records
    // to this flip): the map itself is intact and fills the rest of the frame.
    bytes[30] ^= 0x08;
    std::fs::write(&files(&dir)[0], &bytes).unwrap();
    let r = LogReader::open(&dir).unwrap();
    assert_eq!(r.header(), &header());
    let (got, status, r) = read_reader(r);
    assert_eq!((status, got.len()), (Status::Corrupt, all.len()));
    assert!(r.issues()[0].detail.contains("its own content"), "{}", r.issues()[0]);
}
