//! Realism of the synthetic venue: statistics measured from the generated messages alone (the
//! way a consumer sees them) match the configuration within stated tolerances, and the
//! messages have the real venue's shape.
//!
//! The statistics are computed from the events of our own Hyperliquid adapter, independently
//! of the generator's internals: trade arrival rate, the decay of trade depth (kappa), volatility
//! per regime, share of time per regime, spread and depth profile, and the predictive power of
//! book imbalance and of aggressive flow for the next mid move.

use paper_trader::synth::{GroundTruth, Regime, SynthConfig, SynthVenue};
use paper_trader::types::{Side, Timestamp};
use paper_trader::venue::event::{Level, MarketEvent};
use paper_trader::venue::{Adapter, Venue};
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

const HOURS: u64 = 4;
const SEED: u64 = 20250101;

/// What a consumer can measure from the messages.
#[derive(Debug)]
struct Measured {
    truth: GroundTruth,
    seconds: f64,
    /// Aggressive orders (one `trades` message each, history batch excluded) per side.
    orders: [u64; 2],
    trades: u64,
    /// Depth of each order's deepest print beyond the touch, bp, and the tick in bp then.
    excess_bp: Vec<f64>,
    tick_bp: Vec<f64>,
    /// Orders whose deepest print was beyond the touch / all orders.
    beyond_touch: u64,
    /// Mid (from bbo) at each whole second: (t_s, mid).
    mids_1s: Vec<(u64, f64)>,
    /// Spread (bp) and distances of levels from mid (bp) in each l2Book, with the regime then.
    spreads_bp: Vec<(Regime, f64)>,
    level_dist_bp: Vec<Vec<f64>>,
    /// Imbalance of the top 3 levels at each l2Book and the sign of the mid move over 5 s.
    imbalance_next_move: Vec<(f64, i32)>,
    /// Signed 5 s markout (bp) of each aggressive order, in its direction.
    markouts_5s: Vec<f64>,
    history_trades: usize,
    sizes: Vec<f64>,
    /// Each `activeAssetCtx`: (exchange time ns, hourly rate as a fraction), and
    /// the contexts whose mark was outside the touch the last bbo showed.
    rates: Vec<(u64, f64)>,
    marks_outside_touch: u64,
}

fn measure(hours: u64, seed: u64, cfg: SynthConfig) -> Measured {
    let coins = ["BTC".to_string()];
    let mut venue = SynthVenue::new(cfg, seed, &coins).unwrap();
    let start_ns = venue.config().start_ns;
    let end_ns = start_ns + hours * 3_600_000_000_000;
    let truth = venue.ground_truth(end_ns);
    let mut m = Measured {
        truth,
        seconds: (hours * 3600) as f64,
        orders: [0; 2],
        trades: 0,
        excess_bp: vec![],
        tick_bp: vec![],
        beyond_touch: 0,
        mids_1s: vec![],
        spreads_bp: vec![],
        level_dist_bp: vec![Vec::new(); 20],
        imbalance_next_move: vec![],
        markouts_5s: vec![],
        history_trades: 0,
        sizes: vec![],
        rates: vec![],
        marks_outside_touch: 0,
    };
    let (mut bid, mut ask) = (f64::NAN, f64::NAN);
    let mut next_second = start_ns / 1_000_000_000;
    let mut pending_imbalance: Vec<(u64, f64, f64)> = vec![]; // (due_ns, imbalance, mid then)
    let mut pending_markouts: Vec<(u64, f64, f64)> = vec![]; // (due_ns, sign, mid at order)
    let mut adapter = Adapter::new(Venue::Hyperliquid);
    let mut events = Vec::new();
    let mut seq = 0;
    loop {
        let msg = venue.next_message();
        if msg.exch_ns >= end_ns {
            break;
        }
        let t = msg.exch_ns;
        // Mids sampled at whole seconds of exchange time: the mid standing before this message.
        while bid.is_finite() && next_second * 1_000_000_000 <= t {
            m.mids_1s.push((next_second, (bid + ask) / 2.0));
            next_second += 1;
        }
        let mid = (bid + ask) / 2.0;
        while let Some(&(due, sign, mid0)) = pending_markouts.first() {
            if due > t {
                break;
            }
            m.markouts_5s.push(sign * (mid - mid0) / mid0 * 1e4);
            pending_markouts.remove(0);
        }
        while let Some(&(due, imb, mid0)) = pending_imbalance.first() {
            if due > t {
                break;
            }
            if mid != mid0 {
                m.imbalance_next_move.push((imb, if mid > mid0 { 1 } else { -1 }));
            }
            pending_imbalance.remove(0);
        }
        events.clear();
        adapter.on_message(seq, Timestamp(msg.recv_ns), &msg.stream, &msg.raw, &mut events);
        seq += 1;
        // One `trades` message is one aggressive order: its trades come as consecutive events.
        let order: Vec<(Side, f64, f64)> = events
            .iter()
            .filter_map(|e| match e {
                MarketEvent::Trade { side, px, sz, history: false, .. } => {
                    Some((*side, px.to_f64(), sz.to_f64()))
                }
                _ => None,
            })
            .collect();
        m.history_trades +=
            events.iter().filter(|e| matches!(e, MarketEvent::Trade { history: true, .. })).count();
        if let Some(&(side, _, _)) = order.first() {
            let buy = side == Side::Buy;
            m.orders[usize::from(!buy)] += 1;
            m.trades += order.len() as u64;
            m.sizes.extend(order.iter().map(|o| o.2));
            let deepest = order[order.len() - 1].1;
            let touch = if buy { ask } else { bid };
            let touch_depth = (touch - mid).abs() / mid * 1e4;
            let depth = (deepest - mid).abs() / mid * 1e4;
            if deepest != touch {
                m.beyond_touch += 1;
            }
            // Orders that reached a tick beyond the touch: their excess reach is exponential.
            if depth > touch_depth + 1e-9 {
                m.excess_bp.push(depth - touch_depth);
                m.tick_bp.push(1.0 / mid * 1e4);
            }
            pending_markouts.push((t + 5_000_000_000, if buy { 1.0 } else { -1.0 }, mid));
        }
        for e in &events {
            match e {
                MarketEvent::Bbo { bid: Some(b), ask: Some(a), .. } => {
                    bid = b.px.to_f64();
                    ask = a.px.to_f64();
                }
                MarketEvent::BookSnapshot { bids, asks, .. } => {
                    let (b, a) = (bids[0].px.to_f64(), asks[0].px.to_f64());
                    let book_mid = (b + a) / 2.0;
                    m.spreads_bp.push((m.truth.regime_at(t), (a - b) / book_mid * 1e4));
                    for (k, l) in bids.iter().enumerate() {
                        m.level_dist_bp[k].push((book_mid - l.px.to_f64()) / book_mid * 1e4);
                    }
                    let top = |side: &[Level]| side.iter().take(3).map(|l| l.sz.to_f64()).sum::<f64>();
                    let (bs, a_s) = (top(bids), top(asks));
                    pending_imbalance.push((t + 5_000_000_000, (bs - a_s) / (bs + a_s), book_mid));
                }
                MarketEvent::AssetCtx { mark_px, funding_rate, .. } => {
                    m.rates.push((t, *funding_rate as f64 / 1e12));
                    let mark = mark_px.to_f64();
                    if !(bid <= mark && mark < ask) {
                        m.marks_outside_touch += 1;
                    }
                }
                MarketEvent::Trade { .. } | MarketEvent::Mids { .. } => {}
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
    assert_eq!(adapter.anomaly_count(), 0);
    m
}

fn measured() -> &'static Measured {
    static M: OnceLock<Measured> = OnceLock::new();
    M.get_or_init(|| measure(HOURS, SEED, SynthConfig::default()))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Realized sigma (bp/sqrt(s)) of the mid over `lag_s`-second returns within each regime, and
/// the number of independent (non-overlapping) returns behind each.
fn sigma_by_regime(m: &Measured, lag_s: u64) -> ([f64; 3], [f64; 3]) {
    let mut sum = [0.0; 3];
    let mut n = [0usize; 3];
    for w in m.mids_1s.windows(lag_s as usize + 1) {
        let (t0, p0) = w[0];
        let (t1, p1) = w[lag_s as usize];
        let r0 = m.truth.regime_at(t0 * 1_000_000_000);
        if r0 != m.truth.regime_at(t1 * 1_000_000_000) || t1 - t0 != lag_s {
            continue;
        }
        let r = (p1 - p0) / p0 * 1e4;
        sum[r0.index()] += r * r;
        n[r0.index()] += 1;
    }
    let sigma =
        [0, 1, 2].map(|i| if n[i] > 0 { (sum[i] / n[i] as f64 / lag_s as f64).sqrt() } else { f64::NAN });
    (sigma, n.map(|k| k as f64 / lag_s as f64))
}

#[test]
fn trade_arrival_rate_matches_a() {
    let m = measured();
    let a = m.truth.a_per_side;
    for side in 0..2 {
        let rate = m.orders[side] as f64 / m.seconds;
        // Poisson count over 4 h at 0.5/s: sd ~ 1.2%; 6% allows for the informed windows' clumping.
        assert!((rate / a - 1.0).abs() < 0.06, "side {side}: {rate:.4} orders/s vs A = {a}");
    }
    assert!(m.trades >= m.orders[0] + m.orders[1]);
    assert_eq!(m.history_trades, m.truth.config.history_trades);
}

#[test]
fn kappa_fitted_from_trade_depth_matches_kappa_true() {
    let m = measured();
    // Exponential MLE of the reach beyond the touch; the deepest print is the reach floored to
    // the tick, so the mean excess is 1/kappa + tick/2 (memorylessness gives the rest).
    let n = m.excess_bp.len() as f64;
    let mean_excess = m.excess_bp.iter().sum::<f64>() / n;
    let mean_tick = m.tick_bp.iter().sum::<f64>() / n;
    let kappa = 1.0 / (mean_excess - mean_tick / 2.0);
    let se = kappa / n.sqrt();
    assert!(n > 1000.0, "only {n} orders beyond the touch");
    assert!(
        (kappa - m.truth.kappa_true).abs() < 0.08 * m.truth.kappa_true + 3.0 * se,
        "kappa fitted {kappa:.3} (se {se:.3}) vs kappa_true {}",
        m.truth.kappa_true
    );
}

#[test]
fn volatility_per_regime_matches_the_configuration() {
    let m = measured();
    let (sig, independent) = sigma_by_regime(m, 30);
    let want = [m.truth.sigma_bp_quiet, m.truth.sigma_bp_normal, m.truth.sigma_bp_volatile];
    for r in Regime::ALL {
        let (got, want, n) = (sig[r.index()], want[r.index()], independent[r.index()]);
        if n < 20.0 {
            continue; // too little time in this regime to measure it
        }
        // 30 s returns, so the book mid's noise (a sweep empties the touch for up to one 100 ms
        // step) adds little. Tolerance: 5% for that noise plus 2.5 standard errors of a sigma
        // estimated from n independent returns (sqrt(1 / 2n)).
        let tol = 0.05 + 2.5 * (1.0 / (2.0 * n)).sqrt();
        assert!(
            (got / want - 1.0).abs() < tol,
            "{}: sigma {got:.3} vs {want} (tolerance {tol:.3})",
            r.name()
        );
    }
    assert!(m.truth.volatile_spells >= 1, "no volatile spell in {HOURS} h");
}

#[test]
fn regimes_detected_from_the_data_match_the_truth() {
    let m = measured();
    // Classify each 2-minute chunk by its realized volatility over 10 s returns (nearest regime
    // sigma in log terms; 10 s keeps the book mid's sub-second noise out) and compare the time
    // shares with the ground truth's.
    let want = [m.truth.sigma_bp_quiet, m.truth.sigma_bp_normal, m.truth.sigma_bp_volatile];
    let mut counts = [0u64; 3];
    let mut agree = 0u64;
    for chunk in m.mids_1s.chunks(120).filter(|c| c.len() == 120) {
        let returns: Vec<f64> = chunk
            .iter()
            .step_by(10)
            .map(|x| x.1)
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| (w[1] - w[0]) / w[0] * 1e4)
            .collect();
        let var = returns.iter().map(|r| r * r).sum::<f64>() / returns.len() as f64 / 10.0;
        let s = var.sqrt();
        let class =
            (0..3).min_by(|&a, &b| (s / want[a]).ln().abs().total_cmp(&(s / want[b]).ln().abs())).unwrap();
        counts[class] += 1;
        agree += u64::from(m.truth.regime_at(chunk[60].0 * 1_000_000_000).index() == class);
    }
    let total = counts.iter().sum::<u64>() as f64;
    let share = m.truth.regime_share.clone();
    let truth = [share.quiet, share.normal, share.volatile];
    for i in 0..3 {
        let got = counts[i] as f64 / total;
        assert!(
            (got - truth[i]).abs() < 0.08,
            "regime {i}: detected share {got:.3} vs truth {:.3}",
            truth[i]
        );
    }
    assert!(agree as f64 / total > 0.85, "minutes classified as the truth: {agree} of {total}");
}

#[test]
fn the_regime_chain_spends_its_stationary_share_of_time() {
    // A long path (only the regime chain: cheap) against the chain's stationary law:
    // share_i ~ nu_i * dwell_i, nu the embedded jump chain's stationary distribution.
    let cfg = SynthConfig::default();
    let truth = GroundTruth::compute(&cfg, 1, &["BTC".into()], cfg.start_ns + 20_000 * 3_600_000_000_000);
    let p = |r: Regime| {
        let c = cfg.regimes.get(r);
        [c.to_quiet, c.to_normal, c.to_volatile]
    };
    let (q, n, v) = (p(Regime::Quiet), p(Regime::Normal), p(Regime::Volatile));
    // Power iteration of the embedded chain.
    let mut nu = [1.0 / 3.0; 3];
    for _ in 0..200 {
        nu = [0, 1, 2].map(|j| nu[0] * q[j] + nu[1] * n[j] + nu[2] * v[j]);
    }
    let dwell = Regime::ALL.map(|r| cfg.regimes.get(r).mean_dwell_s);
    let w: Vec<f64> = (0..3).map(|i| nu[i] * dwell[i]).collect();
    let tot: f64 = w.iter().sum();
    let got = [truth.regime_share.quiet, truth.regime_share.normal, truth.regime_share.volatile];
    for i in 0..3 {
        assert!(
            (got[i] - w[i] / tot).abs() < 0.02,
            "regime {i}: {:.3} vs stationary {:.3}",
            got[i],
            w[i] / tot
        );
    }
}

#[test]
fn spread_and_depth_profile_match_the_configuration() {
    let m = measured();
    let cfg = &m.truth.config;
    let mut normal: Vec<f64> =
        m.spreads_bp.iter().filter(|(r, _)| *r == Regime::Normal).map(|s| s.1).collect();
    let spread = median(&mut normal);
    // Spreads are whole ticks (0.107 bp at 93,500): +-25% of the configured median.
    assert!((spread / cfg.spread_bp_median - 1.0).abs() < 0.25, "normal-regime spread median {spread:.3} bp");
    for k in (0..20).step_by(2).skip(1) {
        let got = median(&mut m.level_dist_bp[k].clone());
        let want = cfg.depth_profile_bp[k];
        assert!((got / want - 1.0).abs() < 0.35, "level {}: median distance {got:.2} bp vs {want}", k + 1);
    }
}

#[test]
fn imbalance_and_flow_predict_the_mid_move() {
    let m = measured();
    for th in [0.0, 0.3, 0.5, 0.6, 0.7, 0.8] {
        let strong: Vec<&(f64, i32)> = m.imbalance_next_move.iter().filter(|(i, _)| i.abs() > th).collect();
        let hits = strong.iter().filter(|(i, d)| (*i > 0.0) == (*d > 0)).count();
        eprintln!(
            "imbalance > {th}: {} books, hit rate {:.3}",
            strong.len(),
            hits as f64 / strong.len() as f64
        );
    }
    let strong: Vec<&(f64, i32)> = m.imbalance_next_move.iter().filter(|(i, _)| i.abs() > 0.7).collect();
    let hits = strong.iter().filter(|(i, d)| (*i > 0.0) == (*d > 0)).count();
    let rate = hits as f64 / strong.len() as f64;
    assert!(strong.len() > 500, "only {} strongly imbalanced books", strong.len());
    // Against no skill (0.5): a z-score, and a margin that matters to a classifier.
    let z = (rate - 0.5) / (0.25 / strong.len() as f64).sqrt();
    assert!(
        rate > 0.55 && z > 5.0,
        "strong imbalance predicts the 5 s mid move {rate:.3} of the time (z {z:.1})"
    );
    // Aggressive flow is informed in part: on average the mid moves its way within 5 s.
    let mean_markout = m.markouts_5s.iter().sum::<f64>() / m.markouts_5s.len() as f64;
    assert!(mean_markout > 0.2, "mean 5 s markout of aggressive orders {mean_markout:.3} bp");
}

#[test]
fn print_the_measured_statistics() {
    // Not an assertion of its own: the figures for the report (cargo test -- --nocapture).
    let m = measured();
    let (sig, _) = sigma_by_regime(m, 30);
    let mut sizes = m.sizes.clone();
    let n = m.excess_bp.len() as f64;
    let kappa = 1.0 / (m.excess_bp.iter().sum::<f64>() / n - m.tick_bp.iter().sum::<f64>() / n / 2.0);
    let mut sp: Vec<f64> = m.spreads_bp.iter().map(|s| s.1).collect();
    eprintln!(
        "{HOURS} h seed {SEED}: orders/s buy {:.3} sell {:.3}; trades {}; kappa fit {kappa:.3}; sigma 30s q/n/v {:.3}/{:.3}/{:.3}; \
         spread median {:.3} bp; trade size median {:.5}; regime share {:?}; beyond touch {:.3}",
        m.orders[0] as f64 / m.seconds,
        m.orders[1] as f64 / m.seconds,
        m.trades,
        sig[0],
        sig[1],
        sig[2],
        median(&mut sp),
        median(&mut sizes),
        m.truth.regime_share,
        m.beyond_touch as f64 / (m.orders[0] + m.orders[1]) as f64,
    );
    for lag in [1, 5, 30, 60] {
        eprintln!("lag {lag}s sigma: {:?}", sigma_by_regime(m, lag).0);
    }
    let prof: Vec<String> =
        (0..20).step_by(2).map(|k| format!("{:.2}", median(&mut m.level_dist_bp[k].clone()))).collect();
    eprintln!("level 1,3,..,19 median distance bp: {}", prof.join(" "));
    assert!(m.seconds > 0.0);
}

/// Keys, JSON types and number formats of a value, recursively (arrays by their first element).
fn shape(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<String> = o.iter().map(|(k, v)| format!("{k}:{}", shape(v))).collect();
            keys.sort();
            format!("{{{}}}", keys.join(","))
        }
        Value::Array(a) => format!("[{}]", a.first().map(shape).unwrap_or_default()),
        Value::String(s) if s.starts_with("0x") => format!("hex{}", s.len()),
        Value::String(s) if s.parse::<f64>().is_ok() => {
            // The decimal form: digits, a point, at least one decimal digit, no exponent.
            let ok =
                s.contains('.') && !s.ends_with('.') && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            if ok {
                "decimal".into()
            } else {
                format!("odd-number {s}")
            }
        }
        Value::String(s) if s.len() == 1 => "side".into(),
        Value::String(_) => "string".into(),
        Value::Number(n) if n.is_u64() => "uint".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

/// `../shared/data/real/<name>` beside the project (or beside its worktree folder).
fn real_capture(name: &str) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let near = root.join("../shared/data/real").join(name);
    let worktree = root.join("../../shared/data/real").join(name);
    if !near.exists() && worktree.exists() {
        worktree
    } else {
        near
    }
}

#[test]
fn messages_have_the_shape_of_the_real_capture() {
    let path = real_capture("hyperliquid_btc_20250126_hftbacktest-collector.gz");
    let Ok(file) = std::fs::File::open(&path) else {
        eprintln!("skipping: {} absent", path.display());
        return;
    };
    let text = {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(file).read_to_string(&mut s).unwrap();
        s
    };
    let mut real = std::collections::BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line.split_once(' ').unwrap().1).unwrap();
        real.entry(v["channel"].as_str().unwrap().to_string()).or_insert_with(|| shape(&v));
    }
    let mut venue = SynthVenue::new(SynthConfig::default(), 1, &["BTC".to_string()]).unwrap();
    let mut ours = std::collections::BTreeMap::new();
    for _ in 0..2000 {
        let msg = venue.next_message();
        let v: Value = serde_json::from_slice(&msg.raw).unwrap();
        ours.entry(v["channel"].as_str().unwrap().to_string()).or_insert_with(|| shape(&v));
    }
    assert!(!real.is_empty());
    for (channel, real_shape) in &real {
        assert_eq!(ours.get(channel), Some(real_shape), "channel {channel}");
    }
    assert!(ours.contains_key("bbo") && ours.contains_key("allMids"));
}

/// Issue 15: the context's funding rate follows its model (an OU process: mean, stationary
/// spread), its mark is inside the touch, and the rate in effect at each hour (the last
/// context received before it) is the ground truth's funding path.
#[test]
fn the_funding_rate_follows_its_model_and_the_truth() {
    let m = measured();
    let f = &m.truth.config.funding;
    assert_eq!(m.rates.len() as u64, HOURS * 3600 * 1000 / f.ctx_interval_ms);
    assert_eq!(m.marks_outside_touch, 0);
    let n = m.rates.len() as f64;
    let mean = m.rates.iter().map(|r| r.1).sum::<f64>() / n;
    let sd = (m.rates.iter().map(|r| (r.1 - mean).powi(2)).sum::<f64>() / n).sqrt();
    let want_sd = f.rate_sigma_per_sqrt_h / (2.0 * f.rate_reversion_per_h).sqrt();
    // 4 h is four reversion times: the mean within two stationary spreads, the spread within
    // a factor of 2.5 (a loose check of the model, the exact one is the path below).
    assert!((mean - f.rate_mean_per_h).abs() < 2.0 * want_sd, "mean {mean}");
    assert!(sd > want_sd / 2.5 && sd < want_sd * 2.5, "sd {sd} vs {want_sd}");
    assert_eq!(m.truth.funding_path.len() as u64, HOURS);
    for p in &m.truth.funding_path {
        let before = m.rates.iter().rfind(|r| r.0 < p.t_ns).unwrap();
        assert_eq!((before.1 * 1e12).round() as i64, p.rate, "rate at {}", p.t_ns);
    }
}
