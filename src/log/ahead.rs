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

use super::{Issue, LogReader, Record};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::VecDeque;
use std::thread::JoinHandle;

/// Records per batch: large enough that the channel is crossed rarely, small enough that the
/// two threads overlap from the start.
const BATCH: usize = 512;
/// Batches in flight: bounds the memory read ahead (a few thousand records).
const DEPTH: usize = 8;

/// One step of the reader, in the order the reader produced it.
#[derive(Debug)]
pub enum Ahead {
    /// An issue the reader met (pushed to its issue list) before the record that follows.
    Issue(Issue),
    /// The stream-name table changed (ids index it; id 0 is `control`).
    Streams(Vec<String>),
    Record(Record),
    /// The recording is exhausted; the issues met after the last record preceded this.
    End,
}

/// The consumer's side of a read-ahead thread.
pub struct ReadAhead {
    rx: Option<Receiver<Vec<Ahead>>>,
    recycle: Sender<Vec<Ahead>>,
    handle: Option<JoinHandle<()>>,
    batch: VecDeque<Ahead>,
    /// Records given back, to be dropped on the reader thread with the next emptied batch.
    spare: Vec<Ahead>,
    ended: bool,
}

impl ReadAhead {
    /// Moves `reader` (positioned where reading should start, e.g. after `seek_time`) to a new
    /// thread that reads ahead of the consumer. Issues the reader holds already are handed
    /// out first, before the first record.
    pub fn spawn(reader: LogReader) -> std::io::Result<ReadAhead> {
        let (tx, rx) = bounded::<Vec<Ahead>>(DEPTH);
        let (recycle, recycled) = bounded::<Vec<Ahead>>(DEPTH + 2);
        let handle = std::thread::Builder::new()
            .name("log-read-ahead".into())
            .spawn(move || run(reader, &tx, &recycled))?;
        Ok(ReadAhead {
            rx: Some(rx),
            recycle,
            handle: Some(handle),
            batch: VecDeque::new(),
            spare: Vec::new(),
            ended: false,
        })
    }

    /// Hands a record back once used: its buffers are freed on the reader thread that
    /// allocated them (a free from another thread is the allocator's slow path).
    pub fn give_back(&mut self, rec: Record) {
        self.spare.push(Ahead::Record(rec));
    }

    /// The next step; `Ok(None)` after [`Ahead::End`]; an error if the reader thread died.
    pub fn next_step(&mut self) -> std::io::Result<Option<Ahead>> {
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

impl Drop for ReadAhead {
    /// Stops the reader thread (it sees the channel closed at its next send) and joins it.
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(mut reader: LogReader, tx: &Sender<Vec<Ahead>>, recycled: &Receiver<Vec<Ahead>>) {
    let mut seen_issues = 0;
    let mut streams: Vec<String> = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let rec = reader.next_record();
        for i in &reader.issues()[seen_issues..] {
            batch.push(Ahead::Issue(i.clone()));
        }
        seen_issues = reader.issues().len();
        if reader.stream_names() != streams.as_slice() {
            streams = reader.stream_names().to_vec();
            batch.push(Ahead::Streams(streams.clone()));
        }
        let end = rec.is_none();
        batch.push(rec.map_or(Ahead::End, Ahead::Record));
        if end || batch.len() >= BATCH {
            let next = match recycled.try_recv() {
                Ok(mut v) => {
                    v.clear(); // drops the records given back, on this thread
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
