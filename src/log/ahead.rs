//! A read-ahead thread for a [`LogReader`] (issue 16): reading, zstd decompression, CRC-32C
//! checks and record decoding run on their own thread, and the consumer (replay's engine
//! thread) receives the decoded records in batches over a bounded channel; emptied batch
//! vectors go back to the reader thread to be refilled (no allocation per batch).
//!
//! The consumer sees exactly what it would see calling [`LogReader::next_record`] itself:
//! each record is preceded by the issues the reader met up to and including decoding it (what
//! [`LogReader::issues`] would show after that call) and by the stream-name table when it
//! changed, and the stream is ended by the issues met after the last record. Nothing is lost
//! when the consumer stops early: it simply ignores what was read ahead, as a synchronous
//! reader would not have read it. A reader thread that dies (a panic) is reported as an error,
//! never taken for the end of the recording.
//!
//! [`ReadAhead::spawn_with`] also runs a [`RecordWork`] (a pure function of each record and
//! its stream's name) on the reader thread and hands its result beside the record; results
//! given back go back to it for their buffers to be reused. Replay uses it for the stateless
//! half of the venue's JSON parse (`venue::PreParser`), off the engine's thread.

use super::{Issue, LogReader, Record};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::VecDeque;
use std::thread::JoinHandle;

/// Records per batch: large enough that the channel is crossed rarely, small enough that the
/// two threads overlap from the start.
const BATCH: usize = 512;
/// Batches in flight: bounds the memory read ahead (a few thousand records).
const DEPTH: usize = 8;

/// What the reader thread does with each record besides decoding it (see the module).
pub trait RecordWork: Send + 'static {
    type Out: Default + Send + 'static;
    /// The result handed out beside `rec`; `stream` is its stream's name in the table in
    /// force for it (`control` for id 0, `unknown` for an id the table lacks).
    fn on_record(&mut self, stream: &str, rec: &Record) -> Self::Out;
    /// A result the consumer gave back ([`ReadAhead::give_back`]): its buffers may be reused.
    fn recycle(&mut self, _out: Self::Out) {}
}

/// No work: records only.
impl RecordWork for () {
    type Out = ();
    fn on_record(&mut self, _: &str, _: &Record) {}
}

/// One step of the reader, in the order the reader produced it; `P` is what the
/// [`RecordWork`] made of a record.
#[derive(Debug)]
pub enum Ahead<P = ()> {
    /// An issue the reader met (pushed to its issue list) before the record that follows.
    Issue(Issue),
    /// The stream-name table changed (ids index it; id 0 is `control`).
    Streams(Vec<String>),
    Record(Record, P),
    /// The recording is exhausted; the issues met after the last record preceded this.
    End,
}

/// The consumer's side of a read-ahead thread.
pub struct ReadAhead<P = ()> {
    rx: Option<Receiver<Vec<Ahead<P>>>>,
    recycle: Sender<Vec<Ahead<P>>>,
    handle: Option<JoinHandle<()>>,
    batch: VecDeque<Ahead<P>>,
    /// Records given back, to be dropped on the reader thread with the next emptied batch.
    spare: Vec<Ahead<P>>,
    ended: bool,
}

impl ReadAhead<()> {
    /// Moves `reader` (positioned where reading should start, e.g. after `seek_time`) to a new
    /// thread that reads ahead of the consumer. Issues the reader holds already are handed
    /// out first, before the first record.
    pub fn spawn(reader: LogReader) -> std::io::Result<ReadAhead> {
        Self::spawn_with(reader, ())
    }
}

impl<P: Default + Send + 'static> ReadAhead<P> {
    /// [`ReadAhead::spawn`], and `work` runs on the reader thread for each record, its result
    /// handed out beside it.
    pub fn spawn_with<W: RecordWork<Out = P>>(reader: LogReader, work: W) -> std::io::Result<ReadAhead<P>> {
        let (tx, rx) = bounded::<Vec<Ahead<P>>>(DEPTH);
        let (recycle, recycled) = bounded::<Vec<Ahead<P>>>(DEPTH + 2);
        let handle = std::thread::Builder::new()
            .name("log-read-ahead".into())
            .spawn(move || run(reader, work, &tx, &recycled))?;
        Ok(ReadAhead {
            rx: Some(rx),
            recycle,
            handle: Some(handle),
            batch: VecDeque::new(),
            spare: Vec::new(),
            ended: false,
        })
    }

    /// Hands a record (and the work's result for it) back once used: its buffers are freed,
    /// or reused, on the reader thread that allocated them (a free from another thread is the
    /// allocator's slow path).
    pub fn give_back(&mut self, rec: Record, out: P) {
        self.spare.push(Ahead::Record(rec, out));
    }

    /// The next step; `Ok(None)` after [`Ahead::End`]; an error if the reader thread died.
    pub fn next_step(&mut self) -> std::io::Result<Option<Ahead<P>>> {
        loop {
            if let Some(a) = self.batch.pop_front() {
                if matches!(a, Ahead::End) {
                    self.ended = true;
                }
                return Ok(Some(a));
            }
            if self.ended {
                return Ok(None);
            }
            let Some(rx) = &self.rx else { return Ok(None) };
            match rx.recv() {
                Ok(v) => {
                    // The old, drained deque's buffer becomes the next spare; the current
                    // spare (with the records given back) goes to the reader thread, which
                    // drops them there and refills the vector. Best effort: when the
                    // return channel is full it is dropped here.
                    let drained = std::mem::replace(&mut self.batch, VecDeque::from(v));
                    let full = std::mem::replace(&mut self.spare, Vec::from(drained));
                    let _ = self.recycle.try_send(full);
                }
                Err(_) => {
                    // Disconnected without an End: the thread died.
                    self.rx = None;
                    let died = self.handle.take().map(|h| h.join().is_err()).unwrap_or(true);
                    let what = if died { "panicked" } else { "stopped before the end" };
                    return Err(std::io::Error::other(format!("the log read-ahead thread {what}")));
                }
            }
        }
    }
}

impl<P> Drop for ReadAhead<P> {
    /// Stops the reader thread (it sees the channel closed at its next send) and joins it.
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run<W: RecordWork>(
    mut reader: LogReader,
    mut work: W,
    tx: &Sender<Vec<Ahead<W::Out>>>,
    recycled: &Receiver<Vec<Ahead<W::Out>>>,
) {
    let mut seen_issues = 0;
    let mut streams: Vec<String> = Vec::new();
    // The table is compared only when a definition was decoded since the last comparison
    // (none ever matched: the first record compares).
    let mut defs_seen = None;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let rec = reader.next_record();
        for i in &reader.issues()[seen_issues..] {
            batch.push(Ahead::Issue(i.clone()));
        }
        seen_issues = reader.issues().len();
        if defs_seen != Some(reader.stream_defs()) {
            defs_seen = Some(reader.stream_defs());
            if reader.stream_names() != streams.as_slice() {
                streams = reader.stream_names().to_vec();
                batch.push(Ahead::Streams(streams.clone()));
            }
        }
        let end = rec.is_none();
        batch.push(match rec {
            Some(r) => {
                let stream = super::stream_name_in(&streams, r.stream);
                let p = work.on_record(stream, &r);
                Ahead::Record(r, p)
            }
            None => Ahead::End,
        });
        if end || batch.len() >= BATCH {
            let next = match recycled.try_recv() {
                Ok(mut v) => {
                    // The records given back are dropped on this thread; the work's results
                    // go back to it.
                    for a in v.drain(..) {
                        if let Ahead::Record(_, out) = a {
                            work.recycle(out);
                        }
                    }
                    v
                }
                Err(_) => Vec::with_capacity(BATCH),
            };
            if tx.send(std::mem::replace(&mut batch, next)).is_err() || end {
                // The consumer stopped (or everything is sent).
                return;
            }
        }
    }
}
