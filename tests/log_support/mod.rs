//! Helpers shared by the `log_*` tests: write a recording from a list of records, read one
//! back, compare.
#![allow(dead_code)]

use paper_trader::log::{Body, Control, Header, LogReader, LogWriter, Status, WriterOptions};
use std::path::{Path, PathBuf};

/// A record to write: receive time and either `(stream, bytes)` or a control.
#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    Msg(u64, String, Vec<u8>),
    Ctl(u64, Control),
}

impl Spec {
    pub fn recv_ns(&self) -> u64 {
        match self {
            Spec::Msg(t, ..) | Spec::Ctl(t, _) => *t,
        }
    }
}

/// A record as read back, with its stream's name.
#[derive(Clone, Debug, PartialEq)]
pub struct Got {
    pub seq: u64,
    pub recv_ns: u64,
    pub stream: String,
    pub body: Body,
}

pub fn header() -> Header {
    Header {
        venue: "hyperliquid".into(),
        coins: vec!["BTC".into()],
        program_version: "test".into(),
        created_by: "test".into(),
        ..Header::default()
    }
}

pub fn quiet_opts() -> WriterOptions {
    WriterOptions { fsync: false, ..WriterOptions::default() }
}

pub fn write(dir: &Path, specs: &[Spec], opts: WriterOptions) {
    let mut w = LogWriter::create(dir, header(), opts).expect("create");
    for s in specs {
        match s {
            Spec::Msg(t, stream, raw) => w.append_message(*t, stream, raw).map(|_| ()),
            Spec::Ctl(t, c) => w.append_control(*t, c.clone()).map(|_| ()),
        }
        .expect("append");
    }
    w.close().expect("close");
}

/// What a reader of `specs` written and closed must return (the end record included).
pub fn expected(specs: &[Spec]) -> Vec<Got> {
    let mut v: Vec<Got> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Spec::Msg(t, st, raw) => {
                Got { seq: i as u64, recv_ns: *t, stream: st.clone(), body: Body::Message(raw.clone()) }
            }
            Spec::Ctl(t, c) => {
                Got { seq: i as u64, recv_ns: *t, stream: "control".into(), body: Body::Control(c.clone()) }
            }
        })
        .collect();
    let last = specs.last().map_or(0, Spec::recv_ns);
    v.push(Got {
        seq: specs.len() as u64,
        recv_ns: last,
        stream: "control".into(),
        body: Body::Control(Control::End),
    });
    v
}

pub fn read_reader(mut r: LogReader) -> (Vec<Got>, Status, LogReader) {
    let mut v = Vec::new();
    while let Some(rec) = r.next_record() {
        v.push(Got {
            seq: rec.seq,
            recv_ns: rec.recv_ns,
            stream: r.stream_name(rec.stream).to_owned(),
            body: rec.body,
        });
    }
    let st = r.status();
    (v, st, r)
}

/// [`read_reader`] through the borrowing [`LogReader::next_ref`].
pub fn read_reader_borrowed(mut r: LogReader) -> (Vec<Got>, Status, LogReader) {
    let mut v = Vec::new();
    while let Some(rec) = r.next_ref() {
        let stream = rec.stream_name.to_owned();
        let rec = rec.to_record();
        v.push(Got { seq: rec.seq, recv_ns: rec.recv_ns, stream, body: rec.body });
    }
    let st = r.status();
    (v, st, r)
}

/// [`read_reader`] alternating owned and borrowed records, one of each in turn.
pub fn read_reader_mixed(mut r: LogReader) -> (Vec<Got>, Status, LogReader) {
    let mut v = Vec::new();
    loop {
        let rec = if v.len() % 2 == 0 { r.next_record() } else { r.next_ref().map(|x| x.to_record()) };
        let Some(rec) = rec else { break };
        let stream = r.stream_name(rec.stream).to_owned();
        v.push(Got { seq: rec.seq, recv_ns: rec.recv_ns, stream, body: rec.body });
    }
    let st = r.status();
    (v, st, r)
}

/// Reads everything; `None` when even opening fails. Every read is made three times, with
/// owned, borrowed and alternating records, and they must agree record for record and issue
/// for issue (so every damage test also pins the borrowing reader).
pub fn read(path: &Path) -> Option<(Vec<Got>, Status)> {
    let r = LogReader::open(path).ok()?;
    let (v, s, r) = read_reader(r);
    let (vb, sb, rb) = read_reader_borrowed(LogReader::open(path).expect("opened once already"));
    assert_eq!(v, vb, "owned and borrowed reads differ");
    assert_eq!(s, sb);
    assert_eq!(r.issues(), rb.issues());
    let (vm, sm, rm) = read_reader_mixed(LogReader::open(path).expect("opened once already"));
    assert_eq!(v, vm, "owned and mixed reads differ");
    assert_eq!(s, sm);
    assert_eq!(r.issues(), rm.issues());
    Some((v, s))
}

pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// A deterministic pseudo-random generator (SplitMix64) for tests that must reproduce.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// JSON-ish messages like a feed's: compressible, varied.
pub fn feed(n: usize, start_ns: u64, step_ns: u64, seed: u64) -> Vec<Spec> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let t = start_ns + i as u64 * step_ns + rng.below(step_ns / 2 + 1);
            if i % 17 == 5 {
                return Spec::Ctl(t, Control::Gap { reason: format!("gap {i}") });
            }
            let (stream, body) = if i % 3 == 0 {
                ("trades:BTC", format!("{{\"channel\":\"trades\",\"data\":[{{\"px\":\"{}\",\"sz\":\"0.{}\",\"i\":{i}}}]}}", 42_000 + rng.below(50), rng.below(1000)))
            } else {
                ("l2Book:BTC", format!("{{\"channel\":\"l2Book\",\"data\":{{\"levels\":[[{{\"px\":\"{}\",\"sz\":\"{}\"}}]],\"i\":{i}}}}}", 42_000 + rng.below(50), rng.below(100_000)))
            };
            Spec::Msg(t, stream.into(), body.into_bytes())
        })
        .collect()
}

/// Bytes of a log file's header frame (the writer puts it on disk at creation, so a file
/// holding only these bytes holds no flushed record yet).
pub fn header_len(path: &Path) -> u64 {
    use std::io::Read;
    let mut b = [0u8; 8];
    std::fs::File::open(path).expect("open").read_exact(&mut b).expect("a header");
    8 + u64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]]))
}
