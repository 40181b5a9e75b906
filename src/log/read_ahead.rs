//! Decompression on a thread of its own: a [`BufRead`] whose bytes are produced by another
//! thread reading ahead, so that inflating a capture overlaps parsing it (and feeding the
//! engine). Blocks travel over a bounded channel and come back to be refilled (recycled
//! buffers: a few blocks in memory whatever the input's size).

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

/// Bytes per block handed over (large enough that the handing over costs nothing next to
/// inflating it, small enough that the first lines come at once).
pub const BLOCK: usize = 256 << 10;
/// Blocks in flight between the threads.
const IN_FLIGHT: usize = 4;

/// What the thread sends: a block of bytes (empty: the end), or the error that ended it.
type Msg = io::Result<Vec<u8>>;

pub struct ReadAhead {
    rx: Option<Receiver<Msg>>,
    back: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    eof: bool,
    handle: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts a thread reading `inner` to its end (or first error) ahead of the caller.
    pub fn spawn(inner: Box<dyn Read + Send>) -> io::Result<ReadAhead> {
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        let (back, back_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("read-ahead".into())
            .spawn(move || produce(inner, &tx, &back_rx))?;
        Ok(ReadAhead { rx: Some(rx), back, cur: Vec::new(), pos: 0, eof: false, handle: Some(handle) })
    }

    /// The channel closed without an end marker: the thread died (a panic), which must not
    /// pass for the end of the input.
    fn lost(&mut self) -> io::Error {
        let panicked = self.handle.take().map(|h| h.join().is_err()).unwrap_or(false);
        io::Error::other(if panicked {
            "the decompression thread panicked"
        } else {
            "the decompression thread stopped before the end of the input"
        })
    }
}

fn produce(mut inner: Box<dyn Read + Send>, tx: &SyncSender<Msg>, back: &Receiver<Vec<u8>>) {
    loop {
        let mut buf = back.try_recv().unwrap_or_default();
        let r = fill(&mut *inner, &mut buf);
        let end = matches!(r, Ok(0));
        match r {
            Ok(_) => {
                if tx.send(Ok(buf)).is_err() || end {
                    return;
                }
            }
            Err(e) => {
                // The bytes before the error are the input's too: the reader sees them first,
                // as it would reading in place.
                if !buf.is_empty() && tx.send(Ok(buf)).is_err() {
                    return;
                }
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// Fills `buf` with up to `BLOCK` bytes of `inner` (fewer only at its end or an error, the
/// bytes before the error kept), across short reads and retrying on EINTR; the count read.
///
/// Not `take(..).read_to_end`: on a `dyn Read` that zeroes the block's spare capacity before
/// every read (14% of the inflate thread's instructions on the shared Binance capture). A
/// block is zeroed once, when new; one coming back is as long as it was filled (all of it but
/// the input's last).
fn fill(inner: &mut dyn Read, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.resize(BLOCK, 0);
    let mut n = 0;
    let r = loop {
        if n == BLOCK {
            break Ok(n);
        }
        match inner.read(&mut buf[n..]) {
            Ok(0) => break Ok(n),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    buf.truncate(n);
    r
}

impl BufRead for ReadAhead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.cur.len() && !self.eof {
            let got = match &self.rx {
                Some(rx) => rx.recv().map_err(|_| TryRecvError::Disconnected),
                None => Err(TryRecvError::Disconnected),
            };
            match got {
                Ok(Ok(block)) => {
                    let old = std::mem::replace(&mut self.cur, block);
                    self.pos = 0;
                    if self.cur.is_empty() {
                        self.eof = true;
                    }
                    let _ = self.back.try_send(old);
                }
                Ok(Err(e)) => {
                    // The thread has ended: later reads see the end, as after any error.
                    self.eof = true;
                    return Err(e);
                }
                Err(_) => {
                    self.eof = true;
                    return Err(self.lost());
                }
            }
        }
        Ok(&self.cur[self.pos.min(self.cur.len())..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.cur.len());
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(out.len());
            out[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl Drop for ReadAhead {
    /// Stopped early (a replay's `--to`, an error): closing the channel ends the thread at
    /// its next block; it is joined so that it never outlives its reader.
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing {
        data: Vec<u8>,
        at: usize,
    }
    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at >= self.data.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt deflate stream"));
            }
            let n = out.len().min(self.data.len() - self.at).min(1000);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn hands_over_every_byte_in_order() {
        let data: Vec<u8> = (0..3 * BLOCK + 123).map(|i| (i * 7 % 251) as u8).collect();
        let mut r = ReadAhead::spawn(Box::new(io::Cursor::new(data.clone()))).unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
    }

    /// Short reads and EINTR (retried) in the middle of blocks: every byte, in order.
    #[test]
    fn short_and_interrupted_reads_lose_nothing() {
        struct Choppy {
            data: Vec<u8>,
            at: usize,
            calls: usize,
        }
        impl Read for Choppy {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.calls += 1;
                if self.calls % 3 == 0 {
                    return Err(io::Error::from(io::ErrorKind::Interrupted));
                }
                let n = out.len().min(self.data.len() - self.at).min(1 + 777 * (self.calls % 5));
                out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
                self.at += n;
                Ok(n)
            }
        }
        let data: Vec<u8> = (0..2 * BLOCK + 99).map(|i| (i * 13 % 253) as u8).collect();
        let mut r = ReadAhead::spawn(Box::new(Choppy { data: data.clone(), at: 0, calls: 0 })).unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let data: Vec<u8> = (0..BLOCK + 5000).map(|i| (i % 256) as u8).collect();
        let mut r = ReadAhead::spawn(Box::new(Failing { data: data.clone(), at: 0 })).unwrap();
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.to_string(), "corrupt deflate stream");
        assert_eq!(got, data);
    }

    #[test]
    fn a_panicking_reader_is_an_error_not_the_end() {
        struct Panics;
        impl Read for Panics {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                panic!("boom")
            }
        }
        let mut r = ReadAhead::spawn(Box::new(Panics)).unwrap();
        let err = r.fill_buf().unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
    }

    #[test]
    fn dropped_early_the_thread_ends() {
        let data = vec![b'x'; 64 * BLOCK];
        let mut r = ReadAhead::spawn(Box::new(io::Cursor::new(data))).unwrap();
        assert!(!r.fill_buf().unwrap().is_empty());
        drop(r); // joins: a hang here fails the test by timeout
    }
}
