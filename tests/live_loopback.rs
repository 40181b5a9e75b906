//! Our feed client against our local exchange over real loopback sockets, with a recording
//! engine stand-in and an in-memory recorder: the pipeline's promises without the engine and
//! the log format. Each run ends when the engine stand-in has seen the source's last message
//! (a wall-clock cap only guards against a hang and fails the test).

use paper_trader::commands::args::Speed;
use paper_trader::drivers::live::{self, InputRecorder, LiveEngine, LiveOptions};
use paper_trader::drivers::serve::{self, MessageSource, PlaybackOptions, SourceItem, VecSource};
use paper_trader::drivers::ws_client::hyperliquid::{self as hl, Hyperliquid};
use paper_trader::drivers::ws_client::ClientOptions;
use paper_trader::drivers::ws_server::{Fault, LocalExchange};
use paper_trader::engine::io::Input;
use paper_trader::log::Control;
use paper_trader::types::Timestamp;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the engine stand-in and the recorder both see, to compare them.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Message { at: u64, stream: String, raw: Vec<u8> },
    Control { at: u64, control: String },
}

const T0: u64 = 1_737_918_843_000_000_000;
/// The stand-in's deadlines, in local receive time (the engine's clock in live).
const TICK_NS: u64 = 20_000_000;

/// A market of `n` messages, one every 100 ms: books, trades and bbo of BTC and ETH.
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

struct StandIn {
    seen: Vec<Seen>,
    last_now: u64,
    last_seq: Option<u64>,
    started: Option<u64>,
    /// Messages after the market's main part: seeing one ends the run (several, because any
    /// one of them may fall into a reconnect window).
    tail: std::collections::BTreeSet<Vec<u8>>,
    stop: Arc<AtomicBool>,
}

impl LiveEngine for StandIn {
    fn feed(&mut self, now: Timestamp, seq: u64, input: Input<'_>) -> anyhow::Result<()> {
        assert!(now.0 >= self.last_now, "time went backwards: {} < {}", now.0, self.last_now);
        assert!(self.last_seq.map_or(true, |s| seq > s), "sequence not increasing at {seq}");
        self.last_now = now.0;
        self.last_seq = Some(seq);
        self.started.get_or_insert(now.0);
        let seen = match input {
            Input::Message { stream, raw } | Input::Parsed { stream, raw, .. } => {
                if self.tail.contains(raw) {
                    self.stop.store(true, Ordering::Relaxed);
                }
                Seen::Message { at: now.0, stream: stream.to_string(), raw: raw.to_vec() }
            }
            Input::Connect => Seen::Control { at: now.0, control: "Connect".into() },
            Input::Disconnect => Seen::Control { at: now.0, control: "Disconnect".into() },
            Input::Gap => Seen::Control { at: now.0, control: "Gap".into() },
            Input::Tick => Seen::Control { at: now.0, control: "Tick".into() },
            Input::Stale => Seen::Control { at: now.0, control: "Stale".into() },
        };
        self.seen.push(seen);
        Ok(())
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        // A deadline at every 20 ms boundary of input time, as a markout clock would ask.
        self.started.map(|_| Timestamp((self.last_now / TICK_NS + 1) * TICK_NS))
    }
}

#[derive(Clone)]
struct MemoryRecorder(Arc<Mutex<Vec<Seen>>>, Option<SlowDisk>);

/// A disk that stops for a while: after `after` records the recorder waits until the server
/// has published `until` messages (it polls the server's counter).
#[derive(Clone)]
struct SlowDisk {
    after: usize,
    until: u64,
    hub: Arc<paper_trader::drivers::ws_server::Hub>,
}

impl InputRecorder for MemoryRecorder {
    fn message(&mut self, _seq: u64, recv_ns: u64, stream: &str, raw: Vec<u8>) -> anyhow::Result<()> {
        if let Some(slow) = &self.1 {
            if self.0.lock().unwrap().len() == slow.after {
                while slow.hub.stats.published.load(Ordering::Relaxed) < slow.until {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        self.0.lock().unwrap().push(Seen::Message { at: recv_ns, stream: stream.to_string(), raw });
        Ok(())
    }
    fn control(&mut self, _seq: u64, recv_ns: u64, control: Control) -> anyhow::Result<()> {
        let name = match control {
            Control::Connect { .. } => "Connect",
            Control::Disconnect { .. } => "Disconnect",
            Control::Gap { .. } => "Gap",
            Control::Tick => "Tick",
            // Recorded but not an engine input: left out of the comparison below.
            Control::Subscribe { .. } => return Ok(()),
            Control::End => "End",
            Control::Stale { .. } => "Stale",
        };
        self.0.lock().unwrap().push(Seen::Control { at: recv_ns, control: name.into() });
        Ok(())
    }
    fn backlog(&self) -> u64 {
        0
    }
    fn close(self: Box<Self>) -> anyhow::Result<()> {
        Ok(())
    }
}

struct Run {
    engine_seen: Vec<Seen>,
    recorded: Vec<Seen>,
    report: live::LiveReport,
    source: Vec<SourceItem>,
    /// Source items before the tail.
    main: usize,
}

/// Messages after the main part of the market.
const TAIL: usize = 300;

fn run(faults: Vec<Fault>, n: usize, speed: f64, client_tweak: impl FnOnce(&mut ClientOptions)) -> Run {
    run_source(market(n + TAIL), n, &["BTC", "ETH"], faults, speed, None, client_tweak)
}

/// Serves `source`, runs the pipeline until a message from `source[n..]` arrives.
fn run_source(
    source: Vec<SourceItem>,
    n: usize,
    coins: &[&str],
    faults: Vec<Fault>,
    speed: f64,
    slow_disk: Option<(usize, u64)>,
    client_tweak: impl FnOnce(&mut ClientOptions),
) -> Run {
    let mut exchange = LocalExchange::bind(0, faults).unwrap();
    let hub = exchange.hub();
    let first = exchange.take_first_connection().unwrap();
    let items = source.clone();
    let play_hub = hub.clone();
    let playback = std::thread::spawn(move || {
        let mut open =
            || -> Result<Box<dyn MessageSource>, String> { Ok(Box::new(VecSource::new(items.clone()))) };
        serve::play(
            &play_hub,
            &first,
            &mut open,
            PlaybackOptions { speed: Speed::Factor(speed), looping: false },
        )
    });
    let mut client = ClientOptions::new(exchange.url());
    client.backoff_base = Duration::from_millis(20);
    client.backoff_cap = Duration::from_millis(200);
    client_tweak(&mut client);
    let opts = LiveOptions {
        client,
        duration: Some(Duration::from_secs(20)),
        progress_interval: Duration::from_secs(1),
        stale_after: None,
        engine_cpu: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let tail = source[n..]
        .iter()
        .filter_map(|i| match i {
            SourceItem::Message { raw, .. } => Some(raw.clone()),
            SourceItem::Resubscribed => None,
        })
        .collect();
    let mut engine =
        StandIn { seen: Vec::new(), last_now: 0, last_seq: None, started: None, tail, stop: stop.clone() };
    let slow = slow_disk.map(|(after, until)| SlowDisk { after, until, hub: hub.clone() });
    let recorder = MemoryRecorder(Arc::default(), slow);
    let recorded = recorder.0.clone();
    let report = live::run(
        Box::new(Hyperliquid::new(&coins.iter().map(|c| c.to_string()).collect::<Vec<_>>(), false)),
        &opts,
        &mut engine,
        Box::new(recorder),
        stop.clone(),
        &mut |_| {},
    )
    .unwrap();
    assert!(stop.load(Ordering::Relaxed), "the last message never arrived within the cap: {}", report.line());
    exchange.shutdown();
    playback.join().unwrap().unwrap();
    let recorded = recorded.lock().unwrap().clone();
    Run { engine_seen: engine.seen, recorded, report, source, main: n }
}

/// Source messages of one stream, in order.
fn source_stream(source: &[SourceItem], stream: &str) -> Vec<Vec<u8>> {
    source
        .iter()
        .filter_map(|i| match i {
            SourceItem::Message { stream: s, raw, .. } if s == stream => Some(raw.clone()),
            _ => None,
        })
        .collect()
}

fn seen_stream(seen: &[Seen], stream: &str) -> Vec<Vec<u8>> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Message { stream: st, raw, .. } if st == stream => Some(raw.clone()),
            _ => None,
        })
        .collect()
}

fn count(seen: &[Seen], control: &str) -> usize {
    seen.iter().filter(|s| matches!(s, Seen::Control { control: c, .. } if c == control)).count()
}

#[test]
fn the_recording_holds_exactly_what_the_engine_consumed_and_the_server_sent() {
    let r = run(Vec::new(), 300, 40.0, |_| {});
    assert_eq!(r.engine_seen, r.recorded, "the recorder must see the engine's sequence");
    assert_eq!(count(&r.engine_seen, "Connect"), 1);
    assert!(count(&r.engine_seen, "Tick") > 20, "ticks at the engine's deadlines: {}", r.report.line());
    let main_count = |stream: &str| source_stream(&r.source[..r.main], stream).len();
    for stream in ["l2Book:BTC", "l2Book:ETH", "bbo:BTC", "bbo:ETH"] {
        let got = seen_stream(&r.engine_seen, stream);
        let want = source_stream(&r.source, stream);
        assert!(got.len() >= main_count(stream), "{stream}: {} of {}", got.len(), main_count(stream));
        assert_eq!(got, want[..got.len()], "{stream}: exactly what the server sent, in order");
    }
    for coin in ["BTC", "ETH"] {
        let stream = format!("trades:{coin}");
        let got = seen_stream(&r.engine_seen, &stream);
        let want = source_stream(&r.source, &stream);
        // The source's first batch is the recording's own after-subscribe history: the server
        // keeps it as history and opens each subscription with it, byte for byte here.
        assert!(got.len() >= main_count(&stream));
        assert_eq!(got, want[..got.len()], "{coin} trades: history batch, then exactly what was sent");
    }
    let protocol = seen_stream(&r.engine_seen, hl::PROTOCOL_STREAM);
    assert_eq!(protocol[0], hl::GREETING.as_bytes());
    assert_eq!(
        protocol.iter().filter(|m| m.starts_with(br#"{"channel":"subscriptionResponse""#)).count(),
        8,
        "2 coins x l2Book, trades, bbo, activeAssetCtx"
    );
    assert_eq!(r.report.dropped, 0);
}

/// Every message of `got` appears in `want`, in order, at most once.
fn is_ordered_subsequence(got: &[Vec<u8>], want: &[Vec<u8>]) -> bool {
    let mut it = want.iter();
    got.iter().all(|g| it.any(|w| w == g))
}

fn assert_resilient(r: &Run) {
    assert_eq!(r.engine_seen, r.recorded, "the recorder must see the engine's sequence");
    assert!(count(&r.engine_seen, "Connect") >= 2, "no reconnect: {}", r.report.line());
    assert!(count(&r.engine_seen, "Disconnect") >= 1);
    assert!(count(&r.engine_seen, "Gap") >= 1, "the gap is recorded");
    for stream in ["l2Book:BTC", "l2Book:ETH", "bbo:BTC", "bbo:ETH", "trades:BTC", "trades:ETH"] {
        let got = seen_stream(&r.engine_seen, stream);
        let want = source_stream(&r.source, stream);
        if stream.starts_with("trades") {
            // Each reconnect opens with a history batch of recent trades: compare the rest.
            let got: Vec<Vec<u8>> = got.into_iter().filter(|m| want.contains(m)).collect();
            assert!(is_ordered_subsequence(&got, &want), "{stream}: duplicated or reordered");
            continue;
        }
        assert!(is_ordered_subsequence(&got, &want), "{stream}: duplicated, reordered or foreign messages");
        let connects: Vec<usize> = r
            .engine_seen
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Seen::Control { control, .. } if control == "Connect"))
            .map(|(i, _)| i)
            .collect();
        let after = seen_stream(&r.engine_seen[connects[1]..], stream);
        assert!(!after.is_empty(), "{stream} resumed after the reconnect");
    }
}

#[test]
fn a_dropped_connection_is_reconnected_resubscribed_and_recorded_as_a_gap() {
    let r = run(vec![Fault::DropAfter(60)], 300, 40.0, |_| {});
    assert_resilient(&r);
    assert!(count(&r.engine_seen, "Connect") >= 3, "dropped every 60 messages: {}", r.report.line());
}

#[test]
fn a_stalled_connection_is_declared_dead_after_the_silence_timeout() {
    let r = run(vec![Fault::Stall { duration: Duration::from_secs(3), after: 50 }], 300, 40.0, |c| {
        c.silence_timeout = Duration::from_millis(400);
        c.pong_timeout = Duration::from_millis(300);
        c.ping_interval = Duration::from_millis(100);
    });
    assert_resilient(&r);
}

#[test]
fn a_refused_subscription_is_retried() {
    let r = run(vec![Fault::Refuse { kind: "l2Book".into(), times: 2 }], 300, 40.0, |_| {});
    assert_eq!(r.engine_seen, r.recorded);
    let errors = seen_stream(&r.engine_seen, hl::PROTOCOL_STREAM)
        .into_iter()
        .filter(|m| m.starts_with(br#"{"channel":"error""#))
        .count();
    assert_eq!(errors, 2, "both refusals reach the recording");
    for stream in ["l2Book:BTC", "l2Book:ETH"] {
        let got = seen_stream(&r.engine_seen, stream);
        assert!(!got.is_empty(), "{stream} flows after the retry");
        assert!(is_ordered_subsequence(&got, &source_stream(&r.source, stream)));
    }
}

#[test]
fn malformed_frames_are_recorded_raw_and_the_stream_goes_on() {
    let r = run(vec![Fault::MalformedEvery(23)], 300, 40.0, |_| {});
    assert_eq!(r.engine_seen, r.recorded);
    let bad: Vec<&Seen> = r
        .engine_seen
        .iter()
        .filter(|s| matches!(s, Seen::Message { raw, .. } if serde_json::from_slice::<serde_json::Value>(raw).is_err() && raw.as_slice() != hl::GREETING.as_bytes()))
        .collect();
    assert!(bad.len() >= 8, "about one in 23 data messages malformed, got {}", bad.len());
    assert_eq!(count(&r.engine_seen, "Connect"), 1, "malformed frames are no reason to reconnect");
}

/// The shared data folder: `../shared` beside the project (or beside its worktree folder).
fn real_capture(name: &str) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("../shared/data/real").join(name), root.join("../../shared/data/real").join(name)]
        .into_iter()
        .find(|p| p.exists())
}

#[test]
fn the_server_sends_a_real_capture_byte_for_byte() {
    let Some(path) = real_capture("hyperliquid_btc_20250126_hftbacktest-collector.gz") else {
        eprintln!("skipping: ../shared/data/real/hyperliquid_btc_20250126_hftbacktest-collector.gz absent");
        return;
    };
    let mut src = serve::TextCaptureSource::open(&path).unwrap();
    let mut items = Vec::new();
    while let Some(item) = src.next_item().unwrap() {
        items.push(item);
    }
    let n = items.len() - 1;
    let r = run_source(items, n, &["BTC"], Vec::new(), 50.0, None, |_| {});
    assert_eq!(r.engine_seen, r.recorded);
    for stream in ["l2Book:BTC", "trades:BTC"] {
        // The capture's first trades message is the venue's own history batch of 30 trades:
        // the server sends it back as this subscription's history, byte for byte.
        assert_eq!(seen_stream(&r.engine_seen, stream), source_stream(&r.source, stream), "{stream}");
    }
}

#[test]
fn a_stalled_recorder_makes_the_socket_thread_drop_and_record_a_gap_never_block() {
    // 40,000 messages, 100 ms of market apart, at 2000x: 20 s of wall time at most. The
    // recorder stops after 50 records until the server has published 30,000: more than the
    // engine's queue holds, so the socket thread must drop and say so.
    let queue = paper_trader::drivers::live::FEED_QUEUE_CAPACITY as u64;
    let n = 38_000;
    let r = run_source(
        market(40_000),
        n,
        &["BTC", "ETH"],
        Vec::new(),
        2000.0,
        Some((50, queue + 12_000)),
        |_| {},
    );
    assert_eq!(r.engine_seen, r.recorded, "the recorder still holds exactly what the engine consumed");
    assert!(r.report.dropped > 0, "nothing was dropped: {}", r.report.line());
    assert!(count(&r.engine_seen, "Gap") >= 1, "the drops are recorded as a gap");
    assert_eq!(count(&r.engine_seen, "Connect"), 1, "the connection itself stayed up");
    for stream in ["l2Book:BTC", "l2Book:ETH", "bbo:BTC", "bbo:ETH"] {
        let got = seen_stream(&r.engine_seen, stream);
        assert!(is_ordered_subsequence(&got, &source_stream(&r.source, stream)), "{stream}");
    }
}

/// A client that subscribes to `trades` before the playback has read the recording's first
/// trades batch (the history batch) still gets that batch, byte for byte, before any new
/// trade: the server sends it once the playback has it. (A recorder that connected and
/// subscribed while `serve` was still priming its history used to miss it and start at the
/// second batch.)
#[test]
fn a_trades_subscriber_that_came_before_the_history_batch_gets_it_first() {
    use tungstenite::{stream::MaybeTlsStream, Message};
    let trade = |tid: u64| {
        format!(
            r#"{{"channel":"trades","data":[{{"coin":"BTC","side":"A","px":"100","sz":"0.{tid}","time":{},"hash":"0x01","tid":{tid},"users":["a","b"]}}]}}"#,
            1_737_918_843_000 + tid
        )
    };
    let source: Vec<SourceItem> = (1..=3u64)
        .map(|tid| {
            let raw = trade(tid).into_bytes();
            SourceItem::Message {
                recv_ns: 1_737_918_843_000_000_000 + tid * 1_000_000,
                stream: hl::stream_of(&raw),
                raw,
            }
        })
        .collect();
    let mut exchange = LocalExchange::bind(0, Vec::new()).unwrap();
    let hub = exchange.hub();
    let first = exchange.take_first_connection().unwrap();
    let (mut ws, _) = tungstenite::connect(exchange.url()).unwrap();
    if let MaybeTlsStream::Plain(s) = ws.get_mut() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    ws.send(Message::text(r#"{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}"#))
        .unwrap();
    // The subscription is registered (its ack came back) before the playback starts.
    loop {
        let text = ws.read().unwrap().into_text().unwrap();
        if text.contains("subscriptionResponse") {
            break;
        }
    }
    let items = source.clone();
    let playback = std::thread::spawn(move || {
        let mut open =
            || -> Result<Box<dyn MessageSource>, String> { Ok(Box::new(VecSource::new(items.clone()))) };
        serve::play(&hub, &first, &mut open, PlaybackOptions { speed: Speed::Factor(1.0), looping: false })
    });
    // Until the three batches came, or the read timed out (a batch never sent).
    let mut trades = Vec::new();
    while trades.len() < 3 {
        let Ok(msg) = ws.read() else { break };
        let text = msg.into_text().unwrap();
        if text.contains(r#""channel":"trades""#) {
            trades.push(text.to_string());
        }
    }
    exchange.shutdown();
    playback.join().unwrap().unwrap();
    assert_eq!(trades, vec![trade(1), trade(2), trade(3)], "history batch first, then the new trades");
}
