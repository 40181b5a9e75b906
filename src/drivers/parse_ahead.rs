//! A capture's record walk on a thread of its own, with the stateless half of the venue's
//! parse of each message (`venue::PreParser`) done there too: `replay --format` feeds the
//! engine's thread decoded messages, as `replay` of a recording does through the log's
//! read-ahead (issue 16: the JSON scan was ~15% of the engine thread's time on the shared
//! Binance capture).
//!
//! The engine's thread sees exactly the records the walk produced, in order, each with what
//! `PreParser::parse` made of it (a pure function of the stream name and the bytes). The
//! records travel in batches (their bytes back to back in one buffer) over a bounded
//! channel, and emptied batches go back to be refilled, so memory stays a few batches
//! whatever the capture's length. When the consumer stops (a failed feed, `--to`, a stop
//! flag), the walk's next hand-over fails and the walk is told to break: what it read ahead
//! is dropped, as a walk that fed the engine itself would not have read it.

use crate::log::LogError;
use crate::venue::{Parsed, PreParser, Venue};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::ops::ControlFlow;

/// Records per batch, and bytes after which a batch is handed over anyway (snapshots are
/// large).
const BATCH: usize = 256;
const BATCH_BYTES: usize = 256 << 10;
/// Batches in flight.
const DEPTH: usize = 4;

/// The callback a record walk calls for each record: `(recv_ns, stream, raw)`.
pub type WalkFn<'a> = dyn FnMut(u64, &str, &[u8]) -> Result<ControlFlow<()>, LogError> + 'a;

#[derive(Default)]
struct Batch {
    /// The messages' bytes, back to back.
    bytes: Vec<u8>,
    /// Their stream names, back to back (a name repeated from the record before is not
    /// copied again).
    names: String,
    items: Vec<Item>,
}

struct Item {
    recv_ns: u64,
    name: (usize, usize),
    raw: (usize, usize),
    parsed: Parsed,
}

impl Batch {
    fn push(&mut self, recv_ns: u64, stream: &str, raw: &[u8], parsed: Parsed) {
        let name = match self.items.last() {
            Some(prev) if &self.names[prev.name.0..prev.name.1] == stream => prev.name,
            _ => {
                let at = self.names.len();
                self.names.push_str(stream);
                (at, self.names.len())
            }
        };
        let at = self.bytes.len();
        self.bytes.extend_from_slice(raw);
        self.items.push(Item { recv_ns, name, raw: (at, self.bytes.len()), parsed });
    }

    fn full(&self) -> bool {
        self.items.len() >= BATCH || self.bytes.len() >= BATCH_BYTES
    }

    /// Empties the batch, handing its parse results back to `parser` for their buffers.
    fn recycle(&mut self, parser: &mut PreParser) {
        for it in self.items.drain(..) {
            parser.recycle(it.parsed);
        }
        self.bytes.clear();
        self.names.clear();
    }
}

/// Runs `walk` on a thread of its own (named `capture-parse`), its records parsed ahead,
/// and calls `feed(recv_ns, stream, raw, parsed)` for each on this thread, in order, until
/// `feed` breaks or the walk ends. Returns the walk's result and whether `feed` broke (then
/// the walk was stopped early, and an error it met past that point is one a walk feeding the
/// engine itself would not have reached).
pub fn walk_parsed_ahead<R: Send>(
    venue: Venue,
    walk: impl FnOnce(&mut WalkFn<'_>) -> R + Send,
    mut feed: impl FnMut(u64, &str, &[u8], &Parsed) -> ControlFlow<()>,
) -> std::io::Result<(R, bool)> {
    let (tx, rx) = bounded::<Batch>(DEPTH);
    let (back_tx, back_rx) = bounded::<Batch>(DEPTH + 2);
    std::thread::scope(|scope| {
        // Owned by this closure: should `feed` panic, unwinding drops it before the scope
        // joins the walk's thread, whose blocked hand-over then fails instead of waiting.
        let rx = rx;
        let handle = std::thread::Builder::new()
            .name("capture-parse".into())
            .spawn_scoped(scope, move || produce(venue, walk, &tx, &back_rx))?;
        let broke = consume(&rx, &back_tx, &mut feed);
        // The walk's next hand-over now fails: it breaks, and the thread ends.
        drop(rx);
        let r = handle.join().map_err(|_| std::io::Error::other("the capture-parse thread panicked"))?;
        Ok((r, broke))
    })
}

fn consume(
    rx: &Receiver<Batch>,
    back: &Sender<Batch>,
    feed: &mut impl FnMut(u64, &str, &[u8], &Parsed) -> ControlFlow<()>,
) -> bool {
    for b in rx.iter() {
        for it in &b.items {
            let (stream, raw) = (&b.names[it.name.0..it.name.1], &b.bytes[it.raw.0..it.raw.1]);
            if feed(it.recv_ns, stream, raw, &it.parsed).is_break() {
                return true;
            }
        }
        // The walk's thread empties it (and recycles its parses) before refilling it.
        let _ = back.try_send(b);
    }
    false
}

fn produce<R>(
    venue: Venue,
    walk: impl FnOnce(&mut WalkFn<'_>) -> R,
    tx: &Sender<Batch>,
    back: &Receiver<Batch>,
) -> R {
    let mut parser = PreParser::new(venue);
    let mut batch = Batch::default();
    let mut gone = false;
    let r = walk(&mut |recv_ns, stream, raw| {
        let parsed = parser.parse(stream, raw);
        batch.push(recv_ns, stream, raw, parsed);
        if batch.full() {
            let mut next = back.try_recv().unwrap_or_default();
            next.recycle(&mut parser);
            if tx.send(std::mem::replace(&mut batch, next)).is_err() {
                gone = true;
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    });
    if !gone && !batch.items.is_empty() {
        let _ = tx.send(batch);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A walk of `n` numbered records on stream `s<i % 3>`; counts the records it produced.
    fn numbered(
        n: u64,
        produced: &mut u64,
    ) -> impl FnOnce(&mut WalkFn<'_>) -> Result<(), LogError> + Send + '_ {
        move |f: &mut WalkFn<'_>| {
            for i in 0..n {
                let raw = format!("{{\"n\":{i}}}");
                *produced += 1;
                if f(i, &format!("s{}", i % 3), raw.as_bytes())?.is_break() {
                    break;
                }
            }
            Ok(())
        }
    }

    #[test]
    fn every_record_arrives_in_order_with_its_stream_and_parse() {
        let mut produced = 0;
        let mut seen = vec![];
        let walk = numbered(5000, &mut produced);
        let (r, broke) = walk_parsed_ahead(Venue::BinanceUsdm, walk, |ns, stream, raw, parsed| {
            assert_eq!(*parsed, crate::venue::preparse(Venue::BinanceUsdm, stream, raw));
            seen.push((ns, stream.to_owned(), raw.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert!(r.is_ok() && !broke);
        assert_eq!(produced, 5000);
        let want: Vec<_> =
            (0..5000u64).map(|i| (i, format!("s{}", i % 3), format!("{{\"n\":{i}}}").into_bytes())).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn a_consumer_that_breaks_stops_the_walk_soon_after() {
        let mut produced = 0;
        let mut fed = 0u64;
        let (r, broke) =
            walk_parsed_ahead(Venue::BinanceUsdm, numbered(1_000_000, &mut produced), |_, _, _, _| {
                fed += 1;
                if fed == 10 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert!(r.is_ok() && broke);
        assert_eq!(fed, 10);
        // At most the batches in flight (and the one being filled) were read ahead.
        assert!(produced <= ((DEPTH + 3) * BATCH) as u64, "{produced} records walked");
    }

    #[test]
    fn the_walks_error_comes_back_after_the_records_before_it() {
        let mut fed = 0u64;
        let walk = |f: &mut WalkFn<'_>| -> Result<(), LogError> {
            for i in 0..700u64 {
                let _ = f(i, "s", b"{}")?;
            }
            Err(LogError::Io { path: "x".into(), source: std::io::Error::other("cut short") })
        };
        let (r, broke) = walk_parsed_ahead(Venue::Hyperliquid, walk, |_, _, _, _| {
            fed += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(fed, 700);
        assert!(!broke);
        assert!(matches!(r, Err(LogError::Io { .. })), "{r:?}");
    }

    #[test]
    fn a_panicking_consumer_does_not_leave_the_walk_waiting() {
        let mut produced = 0;
        let walk = numbered(1_000_000, &mut produced);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            walk_parsed_ahead(Venue::BinanceUsdm, walk, |ns, _, _, _| {
                assert!(ns < 5, "the consumer fails");
                ControlFlow::Continue(())
            })
        }));
        // Returning at all is the point: the walk's thread was not left blocked on a full channel.
        assert!(r.is_err());
        assert!(produced < 1_000_000, "{produced} records walked");
    }

    #[test]
    fn a_panicking_walk_is_an_error_not_the_end() {
        let walk = |f: &mut WalkFn<'_>| -> Result<(), LogError> {
            let _ = f(0, "s", b"{}")?;
            panic!("walk died");
        };
        let e = walk_parsed_ahead(Venue::Hyperliquid, walk, |_, _, _, _| ControlFlow::Continue(())).err();
        assert!(e.is_some_and(|e| e.to_string().contains("panicked")));
    }
}
