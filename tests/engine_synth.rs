//! The engine on the synthetic venue, whose ground truth is known: loop 1 recovers kappa_true,
//! loop 2's classifier has skill when informed flow is on, and `adverse_fill_ratio` raises the
//! measured adverse-selection rate.

use paper_trader::engine::{Engine, EngineConfig, EngineSummary, Input, Output};
use paper_trader::synth::{SynthConfig, SynthVenue};
use paper_trader::types::Timestamp;
use paper_trader::venue::Venue;

const MINUTE_NS: u64 = 60_000_000_000;

/// Runs `minutes` of the synthetic venue through an engine; returns the summary and outputs.
fn run(synth: SynthConfig, synth_seed: u64, cfg: EngineConfig, minutes: u64) -> (EngineSummary, Vec<Output>) {
    let coins = vec!["BTC".to_string()];
    let mut venue = SynthVenue::new(synth, synth_seed, &coins).expect("synth config");
    let mut engine = Engine::new(cfg, Venue::Hyperliquid, 0, &coins).expect("engine config");
    let mut out = Vec::new();
    let mut end = None;
    for (seq, m) in (1u64..).zip(&mut venue) {
        let end = *end.get_or_insert(m.recv_ns + minutes * MINUTE_NS);
        if m.recv_ns > end {
            break;
        }
        let input = Input::Message { stream: &m.stream, raw: &m.raw };
        engine.on_input(Timestamp(m.recv_ns), seq, input, &mut out);
    }
    (engine.summary(), out)
}

#[test]
fn kappa_is_recovered_within_20_percent_with_the_shadow_ladder() {
    for kappa_true in [1.0, 2.0] {
        let synth = SynthConfig { kappa_true, ..SynthConfig::default() };
        let mut cfg = EngineConfig::default();
        cfg.fill_sim.fill_prob_base = 1.0;
        let (s, _) = run(synth, 11, cfg, 60);
        let err = (s.kappa - kappa_true).abs() / kappa_true;
        eprintln!("kappa_true {kappa_true}: estimate {:.3} (confidence {:.3})", s.kappa, s.kappa_confidence);
        assert!(err < 0.2, "kappa {} vs kappa_true {kappa_true} (reproduce with synth seed 11)", s.kappa);
        assert!(s.kappa_confidence > 0.5);
    }
}

#[test]
fn classifier_beats_the_base_rate_when_flow_is_informed() {
    let (s, _) = run(SynthConfig::default(), 5, EngineConfig::default(), 90);
    let c = &s.coins["BTC"];
    eprintln!("brier skill {:.4} over {} outcomes", c.brier_skill, c.markouts);
    assert!(c.markouts > 500);
    assert!(c.brier_skill > 0.0, "Brier skill {} (reproduce with synth seed 5)", c.brier_skill);
}

#[test]
fn adverse_selection_rate_rises_with_adverse_fill_ratio() {
    let rate = |ratio: f64| {
        let mut cfg = EngineConfig::default();
        cfg.fill_sim.adverse_fill_ratio = ratio;
        let (s, _) = run(SynthConfig::default(), 3, cfg, 240);
        s.adverse_markouts as f64 / s.markouts.max(1) as f64
    };
    // Endpoints over 4 h: with the regime detector no longer stuck volatile (cal_gamma now
    // calibrates), a 0.5 step moves the rate ~1 pp, within the ~0.9 pp binomial noise of
    // ~3k markouts (it fell at seed 3); 0 -> 1 rose 1.7-3.0 pp at 4 h for seeds 3, 4, 5.
    let rates: Vec<f64> = [0.0, 1.0].into_iter().map(rate).collect();
    eprintln!("AS rates {rates:?}");
    assert!(rates[0] < rates[1], "AS rates {rates:?}");
}
