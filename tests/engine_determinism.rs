//! Determinism of the engine: same input, configuration and seed give byte-identical outputs;
//! resuming from every checkpoint gives the rest of the full run, byte for byte; the seed and
//! `fill_prob_base` change the fills as they should.

mod engine_support;

use engine_support::{bytes, fills, market, run, MarketParams};
use paper_trader::engine::{Engine, EngineConfig, Input, Output};
use paper_trader::types::Timestamp;

#[test]
fn two_runs_in_one_process_are_byte_identical() {
    let msgs = market(&MarketParams { minutes: 12, ..Default::default() });
    let cfg = EngineConfig::default();
    let (a, ea) = run(&cfg, 7, &msgs);
    let (b, eb) = run(&cfg, 7, &msgs);
    assert!(fills(&a) > 0, "no fills at all: the determinism check would be empty");
    assert_eq!(bytes(&a), bytes(&b));
    assert_eq!(ea.checkpoint().unwrap(), eb.checkpoint().unwrap());
}

#[test]
fn resume_from_every_checkpoint_equals_the_full_run() {
    let msgs = market(&MarketParams { minutes: 21, ..Default::default() });
    let cfg = EngineConfig::default();
    let mut e =
        Engine::new(cfg, paper_trader::venue::Venue::Hyperliquid, 3, &engine_support::coins()).unwrap();
    let mut out = Vec::new();
    // (index into msgs after which the checkpoint was taken, outputs so far, state)
    let mut checkpoints = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let before = out.len();
        e.on_input(
            Timestamp(m.recv_ns),
            m.seq,
            Input::Message { stream: "ws", raw: m.raw.as_bytes() },
            &mut out,
        );
        if out.len() > before && matches!(out.last(), Some(Output::Checkpoint { .. })) {
            checkpoints.push((i, out.len(), e.checkpoint().unwrap()));
        }
    }
    assert_eq!(checkpoints.len(), 4, "21 minutes give checkpoints at 5, 10, 15 and 20 minutes");
    let full = bytes(&out);
    for (i, n_out, state) in checkpoints {
        let mut r = Engine::from_checkpoint(&state).unwrap();
        let mut rest = out[..n_out].to_vec();
        for m in &msgs[i + 1..] {
            r.on_input(
                Timestamp(m.recv_ns),
                m.seq,
                Input::Message { stream: "ws", raw: m.raw.as_bytes() },
                &mut rest,
            );
        }
        assert!(bytes(&rest) == full, "resume after input {i} diverged");
        assert_eq!(r.checkpoint().unwrap(), e.checkpoint().unwrap());
    }
}

#[test]
fn a_different_seed_changes_the_fills() {
    let msgs = market(&MarketParams { minutes: 10, ..Default::default() });
    let cfg = EngineConfig::default();
    let fill_ids = |seed| {
        run(&cfg, seed, &msgs)
            .0
            .into_iter()
            .filter_map(|o| match o {
                Output::Fill { order_id, px, sz, .. } => Some((order_id, px, sz)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_ne!(fill_ids(1), fill_ids(2));
}

#[test]
fn fill_prob_base_raises_the_fill_count_monotonically() {
    let msgs = market(&MarketParams { minutes: 10, ..Default::default() });
    let mut last = 0;
    for p in [0.0, 0.3, 0.6, 1.0] {
        let mut cfg = EngineConfig::default();
        cfg.fill_sim.fill_prob_base = p;
        let n = fills(&run(&cfg, 5, &msgs).0);
        assert!(n >= last, "fill_prob_base {p}: {n} fills, fewer than {last} at a lower probability");
        last = n;
    }
    assert!(last > 0);
}
