//! Strategies as plug-ins (issue 12): the engine's order management for any number of levels,
//! price-time among our own orders at one price in every fill model, `max_resting_per_side`,
//! checkpoints tagged by kind and version, and the `[strategy]` configuration rules.

mod engine_support;

use engine_support::{bytes, fills, market, MarketParams};
use paper_trader::engine::io::CancelReason;
use paper_trader::engine::{Engine, EngineConfig, Input, Output};
use paper_trader::strategy::{
    registry, KeyError, Quote, Quotes, Registry, Strategy, StrategyConfig, StrategyFactory, StrategyRng,
    StrategyView,
};
use paper_trader::types::{Price, Qty, Side, Timestamp};
use paper_trader::venue::Venue;
use std::sync::atomic::{AtomicU32, Ordering};

const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

/// Kind `twin`: two bids of one size at the same price, one tick under the best bid; no asks.
struct TwinFactory;
#[derive(Debug)]
struct Twin;
impl StrategyFactory for TwinFactory {
    fn kind(&self) -> &'static str {
        "twin"
    }
    fn version(&self) -> u32 {
        1
    }
    fn build(&self, _: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        Ok(Box::new(Twin))
    }
}
impl Strategy for Twin {
    fn on_event(&mut self, v: &StrategyView<'_>, _: &mut StrategyRng) -> Option<Quotes> {
        let px = Price(v.best_bid?.0 - 1);
        let q = Quote { px, sz: v.order_size };
        Some(Quotes { bids: vec![q, q], asks: vec![] })
    }
}

/// Kind `versioned`: stateless, its version read from `VERSION` (a checkpoint of another
/// version must be refused).
static VERSION: AtomicU32 = AtomicU32::new(1);
struct VersionedFactory;
#[derive(Debug)]
struct Versioned;
impl StrategyFactory for VersionedFactory {
    fn kind(&self) -> &'static str {
        "versioned"
    }
    fn version(&self) -> u32 {
        VERSION.load(Ordering::SeqCst)
    }
    fn build(&self, _: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        Ok(Box::new(Versioned))
    }
}
impl Strategy for Versioned {
    fn on_event(&mut self, _: &StrategyView<'_>, _: &mut StrategyRng) -> Option<Quotes> {
        None
    }
}

/// The test's registry (built-ins, `twin`, `versioned`): installed before any configuration
/// is made, as a program does in `main` (a default configuration reads the registry).
fn registered() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut r = Registry::builtin();
        r.register(Box::new(TwinFactory)).unwrap();
        r.register(Box::new(VersionedFactory)).unwrap();
        assert!(registry::install(r).is_ok(), "a registry was in use before the test installed one");
    });
}

fn l2(t_ns: u64, bid: i64) -> String {
    let lv = |v: Vec<i64>| {
        v.iter().map(|px| format!(r#"{{"px":"{px}","sz":"1.0","n":1}}"#)).collect::<Vec<_>>().join(",")
    };
    format!(
        r#"{{"channel":"l2Book","data":{{"coin":"BTC","time":{},"levels":[[{}],[{}]]}}}}"#,
        t_ns / MS,
        lv((0..10).map(|i| bid - i).collect()),
        lv((0..10).map(|i| bid + 1 + i).collect())
    )
}

fn trade(t_ns: u64, side: char, px: i64, sz: &str, tid: u64) -> String {
    format!(
        r#"{{"channel":"trades","data":[{{"coin":"BTC","side":"{side}","px":"{px}","sz":"{sz}","hash":"0x1","time":{},"tid":{tid},"users":["0x1","0x2"]}}]}}"#,
        t_ns / MS
    )
}

struct Run {
    e: Engine,
    seq: u64,
    out: Vec<Output>,
}

impl Run {
    fn new(cfg: EngineConfig) -> Run {
        registered();
        let e = Engine::new(cfg, Venue::Hyperliquid, 7, &["BTC".to_string()]).unwrap();
        let mut r = Run { e, seq: 0, out: vec![] };
        // The first trades message is the pre-subscription history batch.
        r.msg(T0, &trade(T0, 'B', 50_000, "0.1", 1));
        r
    }
    fn input(&mut self, t: u64, input: Input<'_>) -> Vec<Output> {
        self.seq += 1;
        let mut out = vec![];
        self.e.on_input(Timestamp(t), self.seq, input, &mut out);
        self.out.extend(out.iter().cloned());
        out
    }
    fn msg(&mut self, t: u64, raw: &str) -> Vec<Output> {
        self.input(t, Input::Message { stream: "ws", raw: raw.as_bytes() })
    }
}

fn placed(out: &[Output], side: Side) -> Vec<(u64, Price)> {
    out.iter()
        .filter_map(|o| match o {
            Output::OrderPlaced { order_id, side: s, px, .. } if *s == side => Some((*order_id, *px)),
            _ => None,
        })
        .collect()
}

fn ladder(levels: u32) -> EngineConfig {
    registered();
    let mut cfg = EngineConfig::default();
    cfg.engine.shadow_ladder = false;
    cfg.apply_overrides(&[
        ("strategy.kind".into(), "ladder".into()),
        ("strategy.ladder.levels".into(), levels.to_string()),
        ("strategy.ladder.offset_ticks".into(), "1".into()),
        ("strategy.ladder.spacing_ticks".into(), "1".into()),
    ])
    .unwrap();
    cfg
}

/// A 3-level ladder places three orders a side; when the touch moves one tick, the diff keeps
/// the two levels still wanted (their queue places) and replaces only the one that is not.
#[test]
fn a_ladder_quotes_its_levels_and_the_diff_keeps_what_is_still_wanted() {
    let mut r = Run::new(ladder(3));
    let out = r.msg(T0 + 10 * MS, &l2(T0 + 10 * MS, 50_000));
    let bids: Vec<Price> = placed(&out, Side::Buy).into_iter().map(|(_, p)| p).collect();
    let asks: Vec<Price> = placed(&out, Side::Sell).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        bids,
        vec![Price::parse("49999").unwrap(), Price::parse("49998").unwrap(), Price::parse("49997").unwrap()]
    );
    assert_eq!(
        asks,
        vec![Price::parse("50002").unwrap(), Price::parse("50003").unwrap(), Price::parse("50004").unwrap()]
    );
    // Past the entry latency all six are live: three a side.
    r.input(T0 + 300 * MS, Input::Tick);
    assert_eq!(r.e.summary().max_resting_per_side, 3);
    let out = r.msg(T0 + 400 * MS, &l2(T0 + 400 * MS, 50_001));
    let cancels =
        out.iter().filter(|o| matches!(o, Output::OrderCancelled { reason: CancelReason::Requote, .. }));
    assert_eq!(cancels.count(), 2, "one level a side is no longer wanted: {out:?}");
    assert_eq!(
        placed(&out, Side::Buy).into_iter().map(|(_, p)| p).collect::<Vec<_>>(),
        vec![Price::parse("50000").unwrap()]
    );
    assert_eq!(
        placed(&out, Side::Sell).into_iter().map(|(_, p)| p).collect::<Vec<_>>(),
        vec![Price::parse("50005").unwrap()]
    );
    // The cancelled orders are no longer counted; the summary's figure is a maximum.
    assert_eq!(r.e.summary().max_resting_per_side, 3);
}

/// Two of our orders at one price fill in the order they were placed, in both queue models,
/// when a print has room for only one of them (liquidity used once).
#[test]
fn own_orders_at_one_price_keep_price_time_order_in_every_fill_model() {
    registered();
    for ignore_book_depth in [true, false] {
        let mut cfg = EngineConfig::default();
        cfg.engine.shadow_ladder = false;
        cfg.fill_sim.ignore_book_depth = ignore_book_depth;
        cfg.fill_sim.fill_prob_base = 1.0;
        cfg.apply_overrides(&[
            ("strategy.kind".into(), "twin".into()),
            ("strategy.order_size".into(), "0.001".into()),
        ])
        .unwrap();
        let mut r = Run::new(cfg);
        let out = r.msg(T0 + 10 * MS, &l2(T0 + 10 * MS, 50_000));
        let ids: Vec<u64> = placed(&out, Side::Buy).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), 2, "two bids at one price: {out:?}");
        r.input(T0 + 300 * MS, Input::Tick);
        // A sell through our price with room for one order only.
        let out = r.msg(T0 + 400 * MS, &trade(T0 + 400 * MS, 'A', 49_998, "0.001", 2));
        let filled: Vec<u64> = out
            .iter()
            .filter_map(|o| match o {
                Output::Fill { order_id, .. } => Some(*order_id),
                _ => None,
            })
            .collect();
        assert_eq!(
            filled,
            vec![ids[0]],
            "ignore_book_depth = {ignore_book_depth}: the first placed must fill first"
        );
    }
}

/// `strategy.order_size` and `strategy.max_position` (base units) override the USD keys.
#[test]
fn base_unit_sizes_override_the_notionals() {
    let mut cfg = ladder(1);
    cfg.apply_overrides(&[
        ("strategy.order_size".into(), "0.002".into()),
        ("strategy.max_position".into(), "0.004".into()),
    ])
    .unwrap();
    let mut r = Run::new(cfg);
    let out = r.msg(T0 + 10 * MS, &l2(T0 + 10 * MS, 50_000));
    for o in &out {
        if let Output::OrderPlaced { sz, .. } = o {
            assert_eq!(*sz, Qty::parse("0.002").unwrap());
        }
    }
    assert_eq!(placed(&out, Side::Buy).len(), 1);
}

/// Resume == full replay for a ladder, byte for byte, from every checkpoint.
#[test]
fn a_ladder_resumed_from_any_checkpoint_equals_the_full_run() {
    registered();
    let msgs = market(&MarketParams { minutes: 11, ..Default::default() });
    let mut e = Engine::new(ladder(3), Venue::Hyperliquid, 3, &engine_support::coins()).unwrap();
    let mut out = Vec::new();
    let mut cks = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        e.on_input(
            Timestamp(m.recv_ns),
            m.seq,
            Input::Message { stream: "ws", raw: m.raw.as_bytes() },
            &mut out,
        );
        if matches!(out.last(), Some(Output::Checkpoint { .. })) {
            cks.push((i, out.len(), e.checkpoint().unwrap()));
        }
    }
    assert!(fills(&out) > 0 && cks.len() == 2, "{} fills, {} checkpoints", fills(&out), cks.len());
    for (i, n, state) in cks {
        let mut r = Engine::from_checkpoint(&state).unwrap();
        let mut rest = out[..n].to_vec();
        for m in &msgs[i + 1..] {
            r.on_input(
                Timestamp(m.recv_ns),
                m.seq,
                Input::Message { stream: "ws", raw: m.raw.as_bytes() },
                &mut rest,
            );
        }
        assert!(bytes(&rest) == bytes(&out), "resume after input {i} diverged");
    }
}

/// A checkpoint whose strategy version is not the program's is refused, naming both.
#[test]
fn a_checkpoint_of_another_strategy_version_is_refused() {
    registered();
    let mut cfg = EngineConfig::default();
    cfg.set("strategy.kind", "versioned").unwrap();
    let e = Engine::new(cfg, Venue::Hyperliquid, 0, &["BTC".to_string()]).unwrap();
    let state = e.checkpoint().unwrap();
    VERSION.store(2, Ordering::SeqCst);
    let err = Engine::from_checkpoint(&state)
        .err()
        .expect("a checkpoint of version 1 resumed as version 2")
        .to_string();
    VERSION.store(1, Ordering::SeqCst);
    assert!(err.contains("'versioned' version 1") && err.contains("version 2"), "{err}");
    Engine::from_checkpoint(&state).unwrap();
}

/// All overrides are applied, then validated once: their order never matters; a refused set
/// changes nothing; the errors name the key.
#[test]
fn overrides_are_validated_once_in_any_order() {
    registered();
    let a: Vec<(String, String)> = [
        ("strategy.order_notional_usd", "2000"),
        ("strategy.max_position_usd", "5000"),
        ("strategy.max_order_notional_usd", "3000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut fwd = EngineConfig::default();
    fwd.apply_overrides(&a).unwrap();
    let mut rev = EngineConfig::default();
    rev.apply_overrides(&a.iter().rev().cloned().collect::<Vec<_>>()).unwrap();
    assert_eq!(fwd, rev);
    // One by one, the first would have been refused (2000 > the default 1000 limits).
    assert!(EngineConfig::default().set("strategy.order_notional_usd", "2000").is_err());
    let mut c = EngineConfig::default();
    let e = c
        .apply_overrides(&[
            ("strategy.ladder.levels".into(), "0".into()),
            ("strategy.kind".into(), "ladder".into()),
        ])
        .unwrap_err();
    assert_eq!(e.key, "strategy.ladder.levels", "{e}");
    assert_eq!(c, EngineConfig::default());
    let e = c.set("strategy.kind", "no_such").unwrap_err();
    assert_eq!(e.key, "strategy.kind");
    assert!(e.message.contains("glft") && e.message.contains("ladder") && e.message.contains("twin"), "{e}");
}

/// The resolved configuration has every kind's table and the unset optional keys as comments,
/// and reads back to the same configuration.
#[test]
fn the_resolved_configuration_shows_every_table_and_the_unset_keys() {
    registered();
    let c = EngineConfig::default();
    let text = c.to_toml();
    for t in ["[strategy.glft]", "[strategy.ladder]", "[strategy.avellaneda_stoikov]", "[strategy.twin]"] {
        assert!(text.contains(t), "{t} missing:\n{text}");
    }
    assert!(text.contains("\n# order_size = ") && text.contains("\n# max_position = "), "{text}");
    assert_eq!(EngineConfig::from_toml(&text).unwrap(), c);
    let e = EngineConfig::from_toml("[strategy.nope]\nx = 1\n").unwrap_err();
    assert_eq!(e.key, "strategy.nope", "{e}");
    let e = EngineConfig::from_toml("[strategy]\nkind = \"ladder\"\n[strategy.ladder]\nlevels = 0\n")
        .unwrap_err();
    assert_eq!((e.key.as_str(), e.line), ("strategy.ladder.levels", Some(4)), "{e}");
    let mut set = EngineConfig::default();
    set.set("strategy.order_size", "0.01").unwrap();
    assert!(!set.to_toml().contains("# order_size"));
    assert_eq!(set.strategy.order_size, Some(0.01));
}

/// A trade that fills nothing leaves GLFT's quotes alone (as before strategies were plug-ins:
/// the engine asks, the kind answers `None`).
#[test]
fn glft_with_toxicity_off_ignores_trades_that_do_not_fill() {
    registered();
    let mut cfg = EngineConfig::default();
    cfg.engine.shadow_ladder = false;
    cfg.set("strategy.glft.toxicity_widen_bp", "0").unwrap();
    let mut r = Run::new(cfg);
    r.msg(T0 + 10 * MS, &l2(T0 + 10 * MS, 50_000));
    let n = r.out.len();
    let out = r.msg(T0 + 500 * MS, &trade(T0 + 500 * MS, 'B', 50_010, "0.0001", 3));
    assert!(
        out.iter().all(|o| !matches!(o, Output::OrderPlaced { .. } | Output::OrderCancelled { .. })),
        "{out:?}"
    );
    assert!(r.out.len() > n);
}

/// A kind with no settings of its own that only some programs register (the Python binding's
/// `python` and `touch`) says `lists_defaults() = false`: its table must not enter every
/// resolved configuration, or a session's `session.toml` would differ from the CLI's.
struct Unlisted;
impl StrategyFactory for Unlisted {
    fn kind(&self) -> &'static str {
        "unlisted"
    }
    fn version(&self) -> u32 {
        1
    }
    fn lists_defaults(&self) -> bool {
        false
    }
    fn build(&self, _cfg: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        Ok(Box::new(Twin))
    }
}

#[test]
fn a_kind_that_lists_no_defaults_adds_no_table_to_the_configuration() {
    let mut r = Registry::builtin();
    r.register(Box::new(TwinFactory)).unwrap();
    r.register(Box::new(Unlisted)).unwrap();
    let tables = r.user_defaults();
    assert!(tables.contains_key("twin"), "{tables:?}");
    assert!(!tables.contains_key("unlisted"), "{tables:?}");
    assert!(r.get("unlisted").is_some() && r.names().contains(&"unlisted"));
}
