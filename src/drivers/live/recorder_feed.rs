//! A recorder whose appends may block (any [`InputRecorder`] that does not give a
//! [`InputRecorder::queue_capacity`]) behind a thread of its own: the socket thread, which runs
//! the engine, hands it each record over a bounded queue and never waits for the disk.
//!
//! Errors are never lost: the first failed append stops the thread, the next hand-over fails,
//! and [`InputRecorder::close`] returns the append's error (the root cause).

use super::InputRecorder;
use crate::log::Control;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::thread::JoinHandle;

enum Item {
    Message { seq: u64, recv_ns: u64, stream: String, raw: Vec<u8> },
    Control { seq: u64, recv_ns: u64, control: Control },
}

/// The records cross a bounded channel to a `recorder-feed` thread that appends them to the
/// inner recorder, in order.
pub struct RecorderFeed {
    tx: Option<Sender<Item>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    capacity: u64,
}

impl RecorderFeed {
    pub fn spawn(inner: Box<dyn InputRecorder>, capacity: usize) -> anyhow::Result<RecorderFeed> {
        let (tx, rx) = bounded::<Item>(capacity);
        let handle =
            std::thread::Builder::new().name("recorder-feed".into()).spawn(move || feed_loop(inner, rx))?;
        Ok(RecorderFeed { tx: Some(tx), handle: Some(handle), capacity: capacity as u64 })
    }

    fn send(&self, item: Item) -> anyhow::Result<()> {
        let tx = self.tx.as_ref().ok_or_else(|| anyhow::anyhow!("the recorder is closed"))?;
        tx.send(item).map_err(|_| anyhow::anyhow!("the recorder stopped"))
    }
}

fn feed_loop(mut inner: Box<dyn InputRecorder>, rx: Receiver<Item>) -> anyhow::Result<()> {
    let mut failed = None;
    for item in rx.iter() {
        let appended = match item {
            Item::Message { seq, recv_ns, stream, raw } => inner.message(seq, recv_ns, &stream, raw),
            Item::Control { seq, recv_ns, control } => inner.control(seq, recv_ns, control),
        };
        if let Err(e) = appended {
            failed = Some(e);
            break;
        }
    }
    // The next hand-over fails from here on (the pipeline stops).
    drop(rx);
    let closed = inner.close();
    match (failed, closed) {
        (Some(e), Err(c)) => Err(e.context(format!("closing the recorder too: {c:#}"))),
        (Some(e), Ok(())) | (None, Err(e)) => Err(e),
        (None, Ok(())) => Ok(()),
    }
}

impl InputRecorder for RecorderFeed {
    fn message(&mut self, seq: u64, recv_ns: u64, stream: &str, raw: Vec<u8>) -> anyhow::Result<()> {
        self.send(Item::Message { seq, recv_ns, stream: stream.to_string(), raw })
    }
    fn control(&mut self, seq: u64, recv_ns: u64, control: Control) -> anyhow::Result<()> {
        self.send(Item::Control { seq, recv_ns, control })
    }
    fn backlog(&self) -> u64 {
        self.tx.as_ref().map_or(0, |t| t.len() as u64)
    }
    fn queue_capacity(&self) -> Option<u64> {
        Some(self.capacity)
    }
    fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        drop(self.tx.take());
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(anyhow::anyhow!("the recorder feed thread panicked")),
            None => Ok(()),
        }
    }
}
