//! The engine on the synthetic venue, whose ground truth is known: loop 1 recovers kappa_true,
//! loop 2's classifier has skill when informed flow is on, and `adverse_fill_ratio` raises the
//! measured adverse-selection rate; the perpetual's funding is paid at every hour the session
//! crosses, at the rate the venue's ground truth says.

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

/// Issue 10 item 1, on informed flow. Postmortem: a quote in its cancel tail is a stale quote
/// the mid has just moved toward, and the informed flow that moved it picks it off: on the
/// synthetic venue such quotes filled ten times as often as standing quotes at the same depth
/// from the mid. With their exposure and fills in the fit (and, before that, their fills
/// without their exposure) kappa depended on the cancel latency: 0.968 with 100 ms and 1.037
/// with 0 ms here (1.000 and 0.999 after the fix). Pooling the real quotes' histogram with the
/// shadow ladder's, whose fill rate at one depth is several times theirs, bent the slope too.
#[test]
fn kappa_does_not_depend_on_the_cancel_latency_on_informed_flow() {
    let kappa = |cancel_ms: u64| {
        let mut cfg = EngineConfig::default();
        cfg.fill_sim.cancel_latency_ms = cancel_ms;
        let (s, _) = run(SynthConfig::default(), 42, cfg, 40);
        (s.kappa, s.cancel_tail_fills, s.fills)
    };
    let (k100, tail, fills) = kappa(100);
    let (k0, tail0, _) = kappa(0);
    eprintln!(
        "kappa {k100:.4} with 100 ms cancel latency ({tail} of {fills} fills in the tail), {k0:.4} with 0"
    );
    assert_eq!(tail0, 0, "no cancel tail without cancel latency");
    assert!(tail > 0, "informed flow fills quotes in their cancel tail");
    assert!((k100 - k0).abs() / k0 < 0.02, "kappa {k100:.4} with 100 ms cancel latency, {k0:.4} with 0");
    assert!((k100 - 1.0).abs() < 0.05 && (k0 - 1.0).abs() < 0.05, "kappa_true is 1.0");
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

/// Issue 15: 6 h of the synthetic venue cross 5 or 6 hourly funding times; each is settled
/// once, on the position held then, at the rate of the venue's ground-truth funding path, and
/// the payments are the summary's `pnl.funding`, inside the PnL identity.
#[test]
fn a_six_hour_session_pays_funding_every_hour_at_the_true_rate() {
    let synth = SynthConfig::default();
    let truth = paper_trader::synth::GroundTruth::compute(
        &synth,
        5,
        &["BTC".to_string()],
        synth.start_ns + 361 * MINUTE_NS,
    );
    let (s, out) = run(synth, 5, EngineConfig::default(), 360);
    let mut position = 0i64;
    let mut records = Vec::new();
    for o in &out {
        match o {
            Output::Fill { position_after, .. } => position = position_after.0,
            Output::Funding { time, rate, mark, position: held, amount, .. } => {
                assert_eq!(held.0, position, "funding at {time} on a position other than the fills'");
                let want = paper_trader::market_maker::funding::funding_payment(*held, *mark, *rate);
                assert_eq!(*amount, want);
                let point =
                    truth.funding_path.iter().find(|p| p.t_ns == time.0).expect("a true funding time");
                assert_eq!(*rate, point.rate, "rate at {time}");
                records.push((time.0, *amount));
            }
            _ => {}
        }
    }
    assert!(s.funding_events >= 5, "{} funding events", s.funding_events);
    assert_eq!(s.funding_events as usize, records.len());
    // Each funding time once, on the hour.
    assert!(records.windows(2).all(|w| w[1].0 == w[0].0 + 60 * MINUTE_NS));
    assert!(records.iter().all(|r| r.0 % (60 * MINUTE_NS) == 0));
    let total: i64 = records.iter().map(|r| r.1).sum();
    assert_ne!(total, 0, "6 h of funding on a market maker's inventory paid nothing");
    assert_eq!(s.pnl.funding, total as f64 / 1e8);
    assert_eq!(s.mark_source, "venue");
    let net = s.pnl.realized + s.pnl.unrealized + s.pnl.funding - s.pnl.fees;
    assert!((s.pnl.net - net).abs() < 1e-9, "{:?}", s.pnl);
    assert!(s.checklist.iter().all(|i| i.name != paper_trader::report::validate::PNL_TRACKING || i.pass));
}

/// Without the venue's context, positions are marked at the mid and pay no funding.
#[test]
fn without_a_context_there_is_no_funding_and_the_mark_is_the_mid() {
    let mut synth = SynthConfig::default();
    synth.funding.enabled = false;
    let (s, out) = run(synth, 5, EngineConfig::default(), 70);
    assert!(!out.iter().any(|o| matches!(o, Output::Funding { .. })));
    assert_eq!((s.funding_events, s.pnl.funding, s.mark_source.as_str()), (0, 0.0, "mid"));
    let snaps = out.iter().filter_map(|o| match o {
        Output::Model(m) => Some(m),
        _ => None,
    });
    assert!(snaps.filter(|m| m.mid.is_some()).all(|m| m.mark == m.mid && !m.marked_at_venue));
}
