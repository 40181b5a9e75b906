//! The split parse (issue 16): the stateless half of a venue's parse, run ahead of the engine
//! on the replay's read-ahead thread (`venue::PreParser`), plus the adapter's stateful half
//! (`Adapter::on_parsed`) give exactly what `Adapter::on_message` gives the same bytes, event
//! for event and state for state, message after message; also with the pre-parser's buffers
//! recycled (a message's vectors and strings refilled by later ones), on mangled messages,
//! on the real captures, and through the whole engine.

mod engine_support;

use engine_support::{bytes, market, MarketParams};
use paper_trader::engine::{Engine, EngineConfig, Input};
use paper_trader::log::{Body, LogReader};
use paper_trader::types::Timestamp;
use paper_trader::venue::{preparse, Adapter, MarketEvent, Parsed, PreParser, Venue};
use proptest::prelude::*;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Two adapters in lockstep: one parses the bytes, the other applies what a pre-parser made
/// of them; the pre-parser gets each result back once it is applied (as the read-ahead does).
struct Lockstep {
    whole: Adapter,
    split: Adapter,
    pre: PreParser,
    venue: Venue,
    messages: usize,
    events: usize,
}

impl Lockstep {
    fn new(venue: Venue) -> Lockstep {
        Lockstep {
            whole: Adapter::new(venue),
            split: Adapter::new(venue),
            pre: PreParser::new(venue),
            venue,
            messages: 0,
            events: 0,
        }
    }

    fn feed(&mut self, seq: u64, now: u64, stream: &str, raw: &[u8]) {
        let (mut a, mut b) = (vec![], vec![]);
        self.whole.on_message(seq, Timestamp(now), stream, raw, &mut a);
        let parsed = self.pre.parse(stream, raw);
        assert_eq!(parsed, preparse(self.venue, stream, raw), "recycled buffers changed a parse");
        self.split.on_parsed(seq, Timestamp(now), stream, raw, &parsed, &mut b);
        self.pre.recycle(parsed);
        assert_eq!(a, b, "message {seq}: {}", String::from_utf8_lossy(raw));
        assert_eq!(self.whole, self.split, "adapter state after message {seq}");
        self.messages += 1;
        self.events += a.len();
    }
}

fn fixture_messages() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/venue");
    let mut v = vec![];
    for dir in ["hyperliquid", "binance", "bad"] {
        let mut files: Vec<_> =
            std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        v.extend(files.iter().map(|f| std::fs::read(f).unwrap()));
    }
    v
}

#[test]
fn every_fixture_message_gives_the_same_events_on_both_venues() {
    let msgs = fixture_messages();
    assert!(msgs.len() > 10, "the fixtures are missing");
    for venue in [Venue::Hyperliquid, Venue::BinanceUsdm] {
        let mut l = Lockstep::new(venue);
        // Twice: the second pass meets the adapter's state (clocks, trades seen) from the first.
        for (i, m) in msgs.iter().chain(&msgs).enumerate() {
            l.feed(i as u64, 1_000 + i as u64, "ws", m);
        }
        assert!(l.events > msgs.len(), "{venue}: too few events for the check to mean anything");
    }
}

#[test]
fn a_parse_ahead_is_a_decoded_message_or_not_parsed() {
    let l2 =
        br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"1.0","sz":"1","n":1}],[]]}}"#;
    assert!(matches!(preparse(Venue::Hyperliquid, "ws", l2), Parsed::Hyperliquid(Ok(_))));
    assert!(matches!(preparse(Venue::Hyperliquid, "ws", b"{\"channel\""), Parsed::Hyperliquid(Err(_))));
    let depth = br#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1.0","1"]],"a":[]}}"#;
    assert!(matches!(preparse(Venue::BinanceUsdm, "btcusdt@depth", depth), Parsed::Binance(Ok(_))));
    assert!(matches!(preparse(Venue::BinanceUsdm, "btcusdt@depth", b"{\"stream\""), Parsed::Binance(Err(_))));
    // The order-level stream is parsed by the adapter itself.
    assert_eq!(preparse(Venue::Hyperliquid, "orderLevel:BTC", l2), Parsed::Not);
    assert_eq!(preparse(Venue::BinanceUsdm, "orderLevel:BTC", depth), Parsed::Not);
    // `Parsed::Not` is always allowed: the adapter parses the bytes.
    let (mut a, mut b) = (vec![], vec![]);
    Adapter::new(Venue::Hyperliquid).on_message(1, Timestamp(1), "ws", l2, &mut a);
    Adapter::new(Venue::Hyperliquid).on_parsed(1, Timestamp(1), "ws", l2, &Parsed::Not, &mut b);
    assert_eq!(a, b);
    assert!(matches!(&a[..], [MarketEvent::BookSnapshot { .. }]), "{a:?}");
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop_oneof![
        Just(b'"'),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b']'),
        Just(b','),
        Just(b'n'),
        Just(b'0'),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), special.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), special).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn mutate(mut m: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for mu in muts {
        let n = m.len().max(1);
        match *mu {
            Mutation::Flip(i, b) if !m.is_empty() => m[i % n] = b,
            Mutation::Truncate(i) => m.truncate(i % n),
            Mutation::Insert(i, b) => m.insert(i % (m.len() + 1), b),
            Mutation::Delete(i) if !m.is_empty() => {
                m.remove(i % n);
            }
            _ => {}
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A run of mangled messages (with intact ones between them) through both halves: the
    /// anomalies, and the state a bad message leaves, are the same.
    #[test]
    fn mangled_message_runs_give_the_same_events(
        picks in proptest::collection::vec((any::<usize>(), proptest::collection::vec(mutation(), 0..4)), 1..24)
    ) {
        let msgs = fixture_messages();
        // Binance snapshots name their symbol by the record's stream: some records have one.
        let streams = ["ws", "btcusdt@depthSnapshot", "btcusdt@depth@0ms"];
        for venue in [Venue::Hyperliquid, Venue::BinanceUsdm] {
            let mut l = Lockstep::new(venue);
            for (i, (pick, muts)) in picks.iter().enumerate() {
                let raw = mutate(msgs[pick % msgs.len()].clone(), muts);
                l.feed(i as u64, i as u64, streams[pick % streams.len()], &raw);
            }
        }
    }
}

/// `../shared/data/real/<name>`, or a printed notice and `None` when absent.
fn real(name: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = ["../shared/data/real", "../../shared/data/real"]
        .iter()
        .map(|d| root.join(d).join(name))
        .find(|p| p.exists());
    if found.is_none() {
        eprintln!("skipping: ../shared/data/real/{name} absent");
    }
    found
}

#[test]
fn the_real_hyperliquid_captures_give_the_same_events() {
    if let Some(p) = real("hyperliquid_btc_20250126_hftbacktest-collector.gz") {
        let mut l = Lockstep::new(Venue::Hyperliquid);
        let r = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()));
        for (seq, line) in r.split(b'\n').map(|l| l.unwrap()).filter(|l| !l.is_empty()).enumerate() {
            let sp = line.iter().position(|&c| c == b' ').unwrap();
            let recv: u64 = std::str::from_utf8(&line[..sp]).unwrap().parse().unwrap();
            l.feed(seq as u64, recv, "BTC", &line[sp + 1..]);
        }
        assert!(l.messages >= 55 && l.events > l.messages, "{} messages, {} events", l.messages, l.events);
    }
    if let Some(p) = real("hyperliquid-archive_l2Book_BTC_20240101_12.lz4") {
        let mut bytes = vec![];
        lz4_flex::frame::FrameDecoder::new(std::fs::File::open(&p).unwrap()).read_to_end(&mut bytes).unwrap();
        let mut l = Lockstep::new(Venue::Hyperliquid);
        for (seq, line) in bytes.split(|&c| c == b'\n').filter(|l| !l.is_empty()).enumerate() {
            l.feed(seq as u64, seq as u64, "l2Book", line);
        }
        assert!(l.messages > 100, "{} archive lines", l.messages);
    }
}

#[test]
fn the_real_binance_capture_gives_the_same_events() {
    let Some(p) = real("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz") else { return };
    let mut l = Lockstep::new(Venue::BinanceUsdm);
    let r = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()));
    for (seq, line) in r.split(b'\n').map(|l| l.unwrap()).filter(|l| !l.is_empty()).enumerate() {
        let sp = line.iter().position(|&c| c == b' ').unwrap();
        let recv: u64 = std::str::from_utf8(&line[..sp]).unwrap().parse().unwrap();
        let msg = &line[sp + 1..];
        // The stream import gives the record (the capture's REST snapshots have none).
        let stream =
            paper_trader::log::import::json_str_field(msg, "stream", 64).unwrap_or("btcusdt@depthSnapshot");
        let stream = stream.to_owned();
        l.feed(seq as u64, recv, &stream, msg);
    }
    // Every message of it gives an event (a diff, a trade, a snapshot, ...).
    assert!(l.messages > 90_000 && l.events >= l.messages, "{} messages, {} events", l.messages, l.events);
}

/// The real Binance capture through two engines, one fed the bytes, one what the pre-parser
/// made of them: the same outputs, byte for byte, and the same checkpoint.
#[test]
fn an_engine_fed_the_binance_capture_parsed_ahead_is_the_engine_fed_bytes() {
    let Some(p) = real("binance-usdm_btcusdt_20240808_hftbacktest-collector.gz") else { return };
    let coins = vec!["BTCUSDT".to_string()];
    let mut a = Engine::new(EngineConfig::default(), Venue::BinanceUsdm, 3, &coins).unwrap();
    let mut b = Engine::new(EngineConfig::default(), Venue::BinanceUsdm, 3, &coins).unwrap();
    let mut pre = PreParser::new(b.venue());
    let (mut oa, mut ob) = (vec![], vec![]);
    let r = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()));
    for (seq, line) in r.split(b'\n').map(|l| l.unwrap()).filter(|l| !l.is_empty()).enumerate() {
        let sp = line.iter().position(|&c| c == b' ').unwrap();
        let now = Timestamp(std::str::from_utf8(&line[..sp]).unwrap().parse().unwrap());
        let raw = &line[sp + 1..];
        let stream =
            paper_trader::log::import::json_str_field(raw, "stream", 64).unwrap_or("btcusdt@depthSnapshot");
        let stream = stream.to_owned();
        a.on_input(now, seq as u64, Input::Message { stream: &stream, raw }, &mut oa);
        let parsed = pre.parse(&stream, raw);
        b.on_input(now, seq as u64, Input::Parsed { stream: &stream, raw, parsed: &parsed }, &mut ob);
        pre.recycle(parsed);
    }
    assert!(engine_support::fills(&oa) > 0, "no fills: the comparison would be thin");
    assert!(bytes(&oa) == bytes(&ob), "outputs diverged");
    assert_eq!(a.checkpoint().unwrap(), b.checkpoint().unwrap());
}

/// Two engines, one fed the bytes, one what the pre-parser made of them: the same outputs,
/// byte for byte, and the same checkpoint.
#[test]
fn an_engine_fed_parses_ahead_is_the_engine_fed_bytes() {
    let msgs = market(&MarketParams { minutes: 12, ..Default::default() });
    let coins = engine_support::coins();
    let mut a = Engine::new(EngineConfig::default(), Venue::Hyperliquid, 3, &coins).unwrap();
    let mut b = Engine::new(EngineConfig::default(), Venue::Hyperliquid, 3, &coins).unwrap();
    let mut pre = PreParser::new(b.venue());
    let (mut oa, mut ob) = (vec![], vec![]);
    for m in &msgs {
        let raw = m.raw.as_bytes();
        a.on_input(Timestamp(m.recv_ns), m.seq, Input::Message { stream: "ws", raw }, &mut oa);
        let parsed = pre.parse("ws", raw);
        b.on_input(
            Timestamp(m.recv_ns),
            m.seq,
            Input::Parsed { stream: "ws", raw, parsed: &parsed },
            &mut ob,
        );
        pre.recycle(parsed);
    }
    assert!(engine_support::fills(&oa) > 0, "no fills: the comparison would be thin");
    assert!(bytes(&oa) == bytes(&ob), "outputs diverged");
    assert_eq!(a.checkpoint().unwrap(), b.checkpoint().unwrap());
}

/// The shipped sample recording, record by record, through both kinds of input.
#[test]
fn the_sample_recording_through_both_inputs_gives_the_same_outputs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/sample");
    let mut reader = LogReader::open(&dir).unwrap();
    let coins = reader.header().coins.clone();
    let venue = Venue::from_name(&reader.header().venue).unwrap();
    let mut a = Engine::new(EngineConfig::default(), venue, 0, &coins).unwrap();
    let mut b = Engine::new(EngineConfig::default(), venue, 0, &coins).unwrap();
    let mut pre = PreParser::new(venue);
    let (mut oa, mut ob) = (vec![], vec![]);
    let mut n = 0;
    while let Some(rec) = reader.next_record() {
        let Body::Message(raw) = &rec.body else { continue };
        let stream = reader.stream_names().get(usize::from(rec.stream)).cloned().unwrap_or_default();
        let now = Timestamp(rec.recv_ns);
        a.on_input(now, rec.seq, Input::Message { stream: &stream, raw }, &mut oa);
        let parsed = pre.parse(&stream, raw);
        b.on_input(now, rec.seq, Input::Parsed { stream: &stream, raw, parsed: &parsed }, &mut ob);
        pre.recycle(parsed);
        n += 1;
    }
    assert!(n > 1000 && oa.len() > 100, "{n} messages, {} outputs", oa.len());
    assert!(bytes(&oa) == bytes(&ob), "outputs diverged");
}

/// Levels checked ahead under the built-in rules are checked again by an adapter with other
/// rules (overrides): the off-grid anomalies are the same as from the bytes.
#[test]
fn an_adapter_with_overridden_rules_checks_levels_parsed_ahead_itself() {
    use paper_trader::venue::{Instrument, Instruments};
    let mut rules = Instruments::new();
    // szDecimals 0: sizes must be whole coins, so the fractional sizes below are off the lot grid.
    rules.set("BTC", Instrument::hyperliquid(0));
    let msgs = [
        br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"42000.0","sz":"0.5","n":1}],[{"px":"42001.0","sz":"2","n":1}]]}}"#.to_vec(),
        br#"{"channel":"bbo","data":{"coin":"BTC","time":2,"bbo":[{"px":"42000.0","sz":"0.5","n":1},{"px":"42001.0","sz":"2","n":1}]}}"#.to_vec(),
    ];
    let mut whole = Adapter::with_instruments(Venue::Hyperliquid, rules.clone());
    let mut split = Adapter::with_instruments(Venue::Hyperliquid, rules);
    let mut anomalies = 0;
    for (i, m) in msgs.iter().enumerate() {
        let (mut a, mut b) = (vec![], vec![]);
        whole.on_message(i as u64, Timestamp(i as u64), "ws", m, &mut a);
        let parsed = preparse(Venue::Hyperliquid, "ws", m);
        split.on_parsed(i as u64, Timestamp(i as u64), "ws", m, &parsed, &mut b);
        assert_eq!(a, b, "message {i}");
        anomalies += a.iter().filter(|e| matches!(e, MarketEvent::Anomaly { .. })).count();
    }
    assert_eq!(anomalies, 2, "each message has one size off the lot grid");
}
