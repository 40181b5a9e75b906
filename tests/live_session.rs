//! The central promise over real loopback sockets: a live session against the local exchange
//! equals the replay of what it recorded (same `output_digest`), with and without faults.

use paper_trader::commands::args::Speed;
use paper_trader::drivers::live::session::{run_session, SessionSetup};
use paper_trader::drivers::live::{LiveOptions, LiveReport};
use paper_trader::drivers::replay::{run_replay, ReplayOptions};
use paper_trader::drivers::serve::{self, MessageSource, PlaybackOptions, SourceItem, VecSource};
use paper_trader::drivers::session::Summary;
use paper_trader::drivers::ws_client::hyperliquid::Hyperliquid;
use paper_trader::drivers::ws_client::ClientOptions;
use paper_trader::drivers::ws_server::{Fault, LocalExchange};
use paper_trader::engine::io::CancelReason;
use paper_trader::engine::{EngineConfig, Output};
use paper_trader::log::{Body, Control, LogReader, WriterOptions};
use paper_trader::synth::{SynthConfig, SynthVenue};
use paper_trader::venue::Venue;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// `market_s` seconds of the synthetic venue (seed 11) for BTC.
fn synth_feed(market_s: u64) -> Vec<SourceItem> {
    let mut venue = SynthVenue::new(SynthConfig::default(), 11, &["BTC".to_string()]).unwrap();
    let mut items = Vec::new();
    let mut first = None;
    loop {
        let m = venue.next_message();
        let start = *first.get_or_insert(m.recv_ns);
        if m.recv_ns - start > market_s * 1_000_000_000 {
            return items;
        }
        items.push(SourceItem::Message { recv_ns: m.recv_ns, stream: m.stream, raw: m.raw });
    }
}

struct Session {
    /// The engine's outputs, from the live session's output journal.
    outputs: Vec<Output>,
    live: Summary,
    replayed: Summary,
    report: LiveReport,
    controls: Vec<Control>,
    _dir: tempfile::TempDir,
}

/// Serves `market_s` seconds of market at `speed` with `faults`, runs a live session for
/// `wall` against it, then replays the session's inputs.
fn live_then_replay(
    market_s: u64,
    speed: f64,
    wall: Duration,
    faults: Vec<Fault>,
    tweak: impl FnOnce(&mut LiveOptions),
) -> Session {
    let items = synth_feed(market_s);
    let mut exchange = LocalExchange::bind(0, faults).unwrap();
    let hub = exchange.hub();
    let first = exchange.take_first_connection().unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("live");
    let mut client = ClientOptions::new(exchange.url());
    client.backoff_base = Duration::from_millis(20);
    client.backoff_cap = Duration::from_millis(200);
    let mut opts = LiveOptions {
        client,
        duration: Some(wall),
        progress_interval: Duration::from_secs(1),
        stale_after: None,
        engine_cpu: None,
    };
    tweak(&mut opts);
    let setup = SessionSetup {
        config: EngineConfig::default(),
        seed: 3,
        venue: Venue::Hyperliquid,
        coins: vec!["BTC".into()],
        url: exchange.url().to_string(),
    };
    let (live, report) = run_session(
        setup,
        &session,
        Box::new(Hyperliquid::new(&["BTC".into()], false)),
        &opts,
        WriterOptions::default(),
        Arc::new(AtomicBool::new(false)),
        &mut |_| {},
    )
    .unwrap();
    exchange.shutdown();
    playback.join().unwrap().unwrap();
    let replayed =
        run_replay(&session.join("inputs"), &ReplayOptions::new(&dir.path().join("replay"))).unwrap();
    let mut reader = LogReader::open(&session.join("inputs")).unwrap();
    let mut controls = Vec::new();
    while let Some(rec) = reader.next_record() {
        if let Body::Control(c) = rec.body {
            controls.push(c);
        }
    }
    let mut reader = LogReader::open(&session.join("outputs")).unwrap();
    let mut outputs = Vec::new();
    while let Some(rec) = reader.next_record() {
        if let Body::Message(raw) = rec.body {
            outputs.push(rmp_serde::from_slice::<Output>(&raw).unwrap());
        }
    }
    Session { outputs, live, replayed, report, controls, _dir: dir }
}

fn count(s: &Session, f: impl Fn(&Control) -> bool) -> usize {
    s.controls.iter().filter(|c| f(c)).count()
}

/// The engine cancelled its paper orders for the disconnect or gap, and quoted again after.
fn assert_cancels_and_resumes(s: &Session) {
    let cancelled = s.outputs.iter().position(|o| {
        matches!(o, Output::OrderCancelled { reason: CancelReason::Disconnect | CancelReason::Gap, .. })
    });
    let cancelled = cancelled
        .unwrap_or_else(|| panic!("no order cancelled for the disconnect or gap ({})", s.report.line()));
    assert!(
        s.outputs[cancelled..].iter().any(|o| matches!(o, Output::OrderPlaced { .. })),
        "no order placed after the reconnect"
    );
}

fn assert_live_equals_replay(s: &Session) {
    assert!(s.outputs.iter().any(|o| matches!(o, Output::OrderPlaced { .. })), "the engine quoted");
    assert_eq!(
        s.live.output_digest,
        s.replayed.output_digest,
        "live != replay of its inputs ({})",
        s.report.line()
    );
    assert_eq!(s.live.input_messages, s.replayed.input_messages);
    assert_eq!(s.report.dropped, 0, "nothing received is lost");
}

#[test]
fn a_live_session_equals_the_replay_of_its_inputs() {
    // Three minutes of market at 40x: 4.5 s of wall time.
    let s = live_then_replay(180, 40.0, Duration::from_millis(4500), Vec::new(), |_| {});
    assert_live_equals_replay(&s);
    assert!(s.live.input_messages > 300, "{}", s.report.line());
    assert!(s.report.ticks > 0, "the engine's deadlines were ticked");
    assert!(count(&s, |c| matches!(c, Control::Tick)) as u64 == s.report.ticks, "every tick is recorded");
    assert_eq!(count(&s, |c| matches!(c, Control::Connect { .. })), 1);
    assert_eq!(
        count(&s, |c| matches!(c, Control::Subscribe { .. })),
        4,
        "l2Book, trades, bbo, activeAssetCtx"
    );
}

#[test]
fn after_a_dropped_connection_live_still_equals_replay() {
    let s = live_then_replay(180, 40.0, Duration::from_millis(4000), vec![Fault::DropAfter(150)], |_| {});
    assert_live_equals_replay(&s);
    assert!(count(&s, |c| matches!(c, Control::Connect { .. })) >= 2, "{}", s.report.line());
    assert!(count(&s, |c| matches!(c, Control::Gap { .. })) >= 1);
    assert!(count(&s, |c| matches!(c, Control::Subscribe { .. })) >= 8, "resubscribed");
    assert!(s.live.engine.gaps >= 1, "the engine saw the gap");
    assert_cancels_and_resumes(&s);
}

#[test]
fn after_a_stall_live_still_equals_replay() {
    let s = live_then_replay(
        180,
        40.0,
        Duration::from_millis(4000),
        vec![Fault::Stall { duration: Duration::from_secs(2), after: 100 }],
        |o| {
            o.client.silence_timeout = Duration::from_millis(500);
            o.client.pong_timeout = Duration::from_millis(400);
            o.client.ping_interval = Duration::from_millis(200);
        },
    );
    assert_live_equals_replay(&s);
    assert!(
        count(
            &s,
            |c| matches!(c, Control::Disconnect { reason } if reason.contains("no message") || reason.contains("pong"))
        ) >= 1
    );
    assert_cancels_and_resumes(&s);
}

#[test]
fn with_malformed_frames_and_a_refused_subscription_live_still_equals_replay() {
    let s = live_then_replay(
        180,
        40.0,
        Duration::from_millis(4000),
        vec![Fault::MalformedEvery(40), Fault::Refuse { kind: "l2Book".into(), times: 1 }],
        |_| {},
    );
    assert_live_equals_replay(&s);
    assert!(s.live.engine.anomalies >= 3, "malformed frames are counted anomalies");
    assert!(
        count(&s, |c| matches!(c, Control::Subscribe { subscription } if subscription.contains("l2Book")))
            >= 2,
        "refused, then retried"
    );
}

/// Issue 11 item 8. Postmortem: a stalled feed (`serve --fault stall=5s@300`) left a hole in a
/// live session with no record, warning or anomaly, and the quotes stayed out on a market no
/// one could see.
///
/// The market outlasts the session: with 180 s of market at 40x the playback ended 1.5 s before
/// the session did, and that silence was rightly a second `stale` record.
#[test]
fn a_stalled_feed_is_recorded_as_stale_pulls_the_quotes_and_replays_the_same() {
    let s = live_then_replay(
        600,
        40.0,
        Duration::from_millis(6000),
        vec![Fault::Stall { duration: Duration::from_secs(3), after: 150 }],
        |o| o.stale_after = Some(Duration::from_millis(1000)),
    );
    assert_live_equals_replay(&s);
    assert_eq!(count(&s, |c| matches!(c, Control::Stale { .. })), 1, "{}", s.report.line());
    assert_eq!(s.report.stale, 1);
    assert_eq!(
        count(&s, |c| matches!(c, Control::Disconnect { .. })),
        1,
        "only the final one: silence is not a disconnect"
    );
    let pulled = s
        .outputs
        .iter()
        .position(|o| matches!(o, Output::OrderCancelled { reason: CancelReason::Stale, .. }))
        .expect("quotes pulled for the stale feed");
    assert!(
        s.outputs[pulled..].iter().any(|o| matches!(o, Output::OrderPlaced { .. })),
        "quoting resumes when data returns"
    );
}
