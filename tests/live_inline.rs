//! The engine on the socket thread (`drivers/live/inline.rs`, the default) against the engine
//! behind the feed queue (`live::run_handoff`, the driver before it): over real loopback
//! sockets, both feed the engine and the recorder the same inputs in the same order; and a
//! recorder's error stops the session and reaches the caller, whichever kind of recorder.

use paper_trader::commands::args::Speed;
use paper_trader::drivers::live::{self, InputRecorder, LiveEngine, LiveOptions, LiveReport};
use paper_trader::drivers::serve::{self, MessageSource, PlaybackOptions, SourceItem, VecSource};
use paper_trader::drivers::ws_client::hyperliquid::{self as hl, Hyperliquid};
use paper_trader::drivers::ws_client::ClientOptions;
use paper_trader::drivers::ws_server::LocalExchange;
use paper_trader::engine::io::Input;
use paper_trader::log::Control;
use paper_trader::types::Timestamp;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T0: u64 = 1_737_918_843_000_000_000;
const TICK_NS: u64 = 20_000_000;

/// An input without its time (receive times differ from run to run; order and content not).
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Message { stream: String, raw: Vec<u8> },
    Control(String),
}

/// `n` messages, 100 ms of market apart: books, trades and bbo of BTC and ETH.
fn market(n: usize) -> Vec<SourceItem> {
    (0..n)
        .map(|i| {
            let coin = if i % 2 == 0 { "BTC" } else { "ETH" };
            let t = T0 + i as u64 * 100_000_000;
            let ms = t / 1_000_000;
            let raw = match i % 3 {
                0 => format!(r#"{{"channel":"l2Book","data":{{"coin":"{coin}","time":{ms},"levels":[[{{"px":"100.{i}","sz":"1","n":1}}],[{{"px":"101","sz":"2","n":1}}]]}}}}"#),
                1 => format!(r#"{{"channel":"trades","data":[{{"coin":"{coin}","side":"B","px":"100.5","sz":"0.{i}","time":{ms},"hash":"0x00","tid":{i},"users":["a","b"]}}]}}"#),
                _ => format!(r#"{{"channel":"bbo","data":{{"coin":"{coin}","time":{ms},"bbo":[{{"px":"100","sz":"1","n":1}},null]}}}}"#),
            };
            SourceItem::Message { recv_ns: t, stream: hl::stream_of(raw.as_bytes()), raw: raw.into_bytes() }
        })
        .collect()
}

/// Records what it is fed; stops the session at the message `last`.
struct StandIn {
    seen: Vec<Seen>,
    last_now: u64,
    started: bool,
    last: Vec<u8>,
    stop: Arc<AtomicBool>,
}

impl LiveEngine for StandIn {
    fn feed(&mut self, now: Timestamp, _seq: u64, input: Input<'_>) -> anyhow::Result<()> {
        assert!(now.0 >= self.last_now, "time went backwards");
        self.last_now = now.0;
        self.started = true;
        self.seen.push(match input {
            Input::Message { stream, raw } | Input::Parsed { stream, raw, .. } => {
                if raw == self.last.as_slice() {
                    self.stop.store(true, Ordering::Relaxed);
                }
                Seen::Message { stream: stream.to_string(), raw: raw.to_vec() }
            }
            other => Seen::Control(format!("{other:?}")),
        });
        Ok(())
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        self.started.then(|| Timestamp((self.last_now / TICK_NS + 1) * TICK_NS))
    }
}

/// Keeps what it is given; fails at message `fail_at` when asked to. `threaded` says it only
/// hands records over (the socket thread then appends to it directly).
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    fail_at: Option<usize>,
    threaded: bool,
}

impl InputRecorder for Recorder {
    fn message(&mut self, _seq: u64, _recv_ns: u64, stream: &str, raw: Vec<u8>) -> anyhow::Result<()> {
        let mut seen = self.seen.lock().unwrap();
        if self.fail_at.is_some_and(|n| seen.len() >= n) {
            anyhow::bail!("the disk is on fire");
        }
        seen.push(Seen::Message { stream: stream.to_string(), raw });
        Ok(())
    }
    fn control(&mut self, _seq: u64, _recv_ns: u64, control: Control) -> anyhow::Result<()> {
        let input = live::control_input(&control);
        if let Some(input) = input {
            self.seen.lock().unwrap().push(Seen::Control(format!("{input:?}")));
        }
        Ok(())
    }
    fn backlog(&self) -> u64 {
        0
    }
    fn queue_capacity(&self) -> Option<u64> {
        self.threaded.then_some(1 << 20)
    }
    fn close(self: Box<Self>) -> anyhow::Result<()> {
        Ok(())
    }
}

struct Run {
    result: anyhow::Result<LiveReport>,
    engine: Vec<Seen>,
    recorded: Vec<Seen>,
    last: Vec<u8>,
}

fn serve_and_run(handoff: bool, fail_at: Option<usize>, threaded: bool) -> Run {
    let source = market(400);
    let last = match &source[300] {
        SourceItem::Message { raw, .. } => raw.clone(),
        SourceItem::Resubscribed => unreachable!(),
    };
    let mut exchange = LocalExchange::bind(0, Vec::new()).unwrap();
    let hub = exchange.hub();
    let first = exchange.take_first_connection().unwrap();
    let playback = std::thread::spawn(move || {
        let mut open =
            || -> Result<Box<dyn MessageSource>, String> { Ok(Box::new(VecSource::new(source.clone()))) };
        serve::play(&hub, &first, &mut open, PlaybackOptions { speed: Speed::Factor(40.0), looping: false })
    });
    let opts = LiveOptions {
        client: ClientOptions::new(exchange.url()),
        duration: Some(Duration::from_secs(20)),
        progress_interval: Duration::from_millis(100),
        stale_after: None,
        engine_cpu: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut engine =
        StandIn { seen: Vec::new(), last_now: 0, started: false, last: last.clone(), stop: stop.clone() };
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let recorder = Box::new(Recorder { seen: recorded.clone(), fail_at, threaded });
    let protocol = Box::new(Hyperliquid::new(&["BTC".to_string(), "ETH".to_string()], false));
    let mut progressed = 0;
    let result = if handoff {
        live::run_handoff(protocol, &opts, &mut engine, recorder, stop.clone(), &mut |_| progressed += 1)
    } else {
        live::run(protocol, &opts, &mut engine, recorder, stop.clone(), &mut |_| progressed += 1)
    };
    if result.is_ok() {
        assert!(stop.load(Ordering::Relaxed), "the last message never arrived");
        assert!(progressed > 0, "the progress callback runs");
    }
    exchange.shutdown();
    playback.join().unwrap().unwrap();
    let recorded = recorded.lock().unwrap().clone();
    Run { result, engine: engine.seen, recorded, last }
}

/// The inputs up to the message that stopped the session (what follows it depends on how
/// much had been read by then), without the ticks (their number depends on the wake-ups).
fn main_part(seen: &[Seen], last: &[u8]) -> Vec<Seen> {
    let end = seen
        .iter()
        .position(|s| matches!(s, Seen::Message { raw, .. } if raw == last))
        .expect("the last message was fed");
    seen[..end].iter().filter(|s| !matches!(s, Seen::Control(c) if c == "Tick")).cloned().collect()
}

#[test]
fn the_engine_on_the_socket_thread_sees_what_the_engine_behind_the_queue_saw() {
    let inline = serve_and_run(false, None, true);
    let handoff = serve_and_run(true, None, true);
    let report = inline.result.unwrap();
    handoff.result.unwrap();
    assert_eq!(inline.engine, inline.recorded, "the recording holds exactly what the engine consumed");
    assert_eq!(handoff.engine, handoff.recorded);
    assert_eq!(report.dropped, 0);
    assert!(inline.engine.iter().any(|s| matches!(s, Seen::Control(c) if c == "Tick")), "ticks are fed");
    let (a, b) = (main_part(&inline.engine, &inline.last), main_part(&handoff.engine, &handoff.last));
    assert!(a.len() > 300, "{} inputs", a.len());
    assert_eq!(a, b, "the same inputs in the same order, whichever thread runs the engine");
}

#[test]
fn a_failing_recorder_stops_the_session_and_its_error_reaches_the_caller() {
    // A recorder that may block sits behind the recorder-feed thread; one that only hands
    // over is appended to on the socket thread: both errors come back from `run`.
    for threaded in [false, true] {
        let r = serve_and_run(false, Some(50), threaded);
        let err = r.result.expect_err("the recorder failed");
        assert!(format!("{err:#}").contains("the disk is on fire"), "threaded {threaded}: {err:#}");
        assert!(r.engine.len() < 300, "the session stopped early: {} inputs", r.engine.len());
    }
}

#[test]
fn the_status_summary_is_the_summary_with_the_last_reported_digest() {
    use paper_trader::drivers::session::{InputDesc, SessionRunner};
    use paper_trader::synth::{SynthConfig, SynthVenue};
    let coins = vec!["BTC".to_string()];
    let dir = tempfile::tempdir().unwrap();
    let mut runner = SessionRunner::create(
        &dir.path().join("s"),
        paper_trader::engine::EngineConfig::default(),
        0,
        paper_trader::venue::Venue::Hyperliquid,
        &coins,
        InputDesc { source: "test".into(), resumed_from: None },
    )
    .unwrap();
    let mut venue = SynthVenue::new(SynthConfig::default(), 7, &coins).unwrap();
    for seq in 0..2000 {
        let m = venue.next_message();
        runner.feed(Timestamp(m.recv_ns), seq, Input::Message { stream: &m.stream, raw: &m.raw }).unwrap();
    }
    let fields = |s: &paper_trader::drivers::session::Summary| {
        let mut v = serde_json::to_value(s).unwrap();
        let digest = v["output_digest"].take();
        (v, digest)
    };
    let (status, stale_digest) = fields(&runner.status_summary());
    let (synced, digest) = fields(&runner.summary());
    assert_eq!(status, synced, "everything but the digest is the summary's");
    assert_ne!(stale_digest, digest, "the status did not wait for the journal's digest");
    // After the sync, the status has the digest the journal thread reported.
    assert_eq!(fields(&runner.status_summary()).1, digest);
}
