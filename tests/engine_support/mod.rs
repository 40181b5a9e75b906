//! Shared helpers of the engine tests: a tiny seeded market in Hyperliquid's wire format with
//! a known arrival law (aggressive orders of each side arrive at `rate_per_s` and reach depth
//! delta beyond the mid with probability exp(-kappa delta)), and one `run` helper that feeds
//! messages through the engine and collects outputs. Fast (seconds of CPU for hours of market).
#![allow(dead_code)]

use paper_trader::engine::{Engine, EngineConfig, Input, Output};
use paper_trader::market_maker::rng::splitmix64;
use paper_trader::types::Timestamp;
use paper_trader::venue::Venue;

pub struct MarketParams {
    pub seed: u64,
    pub minutes: u64,
    pub kappa_per_bp: f64,
    pub rate_per_s: f64,
    /// Share of aggressive orders followed by a 3-tick mid move in their direction.
    pub informed: f64,
    /// Per 100 ms step, probability of a 1-tick random mid move.
    pub move_prob: f64,
}

impl Default for MarketParams {
    fn default() -> Self {
        MarketParams {
            seed: 1,
            minutes: 20,
            kappa_per_bp: 1.0,
            rate_per_s: 1.0,
            informed: 0.0,
            move_prob: 0.15,
        }
    }
}

pub struct Msg {
    pub recv_ns: u64,
    pub seq: u64,
    pub raw: String,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(1);
        (splitmix64(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }
}

const T0_NS: u64 = 1_700_000_000_000_000_000;
const TICK: i64 = 1; // USD
const MID0: i64 = 50_000;

fn book_msg(coin: &str, t_ms: u64, bid: i64, rng: &mut Rng) -> String {
    let lv =
        |px: i64, rng: &mut Rng| format!(r#"{{"px":"{px}","sz":"{:.5}","n":3}}"#, 0.2 + 2.0 * rng.next());
    let bids: Vec<String> = (0..20).map(|i| lv(bid - i * TICK, rng)).collect();
    let asks: Vec<String> = (0..20).map(|i| lv(bid + (i + 1) * TICK, rng)).collect();
    format!(
        r#"{{"channel":"l2Book","data":{{"coin":"{coin}","time":{t_ms},"levels":[[{}],[{}]]}}}}"#,
        bids.join(","),
        asks.join(",")
    )
}

fn trade_json(coin: &str, side: char, px: i64, sz: f64, t_ms: u64, tid: u64) -> String {
    format!(
        r#"{{"coin":"{coin}","side":"{side}","px":"{px}","sz":"{sz:.5}","hash":"0xab","time":{t_ms},"tid":{tid},"users":["0x1","0x2"]}}"#
    )
}

/// The messages of `p.minutes` of market for coin BTC.
pub fn market(p: &MarketParams) -> Vec<Msg> {
    let mut rng = Rng(p.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut out = Vec::new();
    let mut seq = 0u64;
    let mut push = |out: &mut Vec<Msg>, t: u64, raw: String| {
        seq += 1;
        out.push(Msg { recv_ns: t, seq, raw });
    };
    let mut bid = MID0;
    let mut tid = 0u64;
    // The pre-subscription batch: history, not flow.
    push(
        &mut out,
        T0_NS,
        format!(r#"{{"channel":"trades","data":[{}]}}"#, trade_json("BTC", 'B', bid, 0.1, 0, 0)),
    );
    let steps = p.minutes * 600;
    let mut pending_move: i64 = 0;
    for step in 0..steps {
        let t = T0_NS + step * 100_000_000;
        let t_ms = t / 1_000_000;
        if pending_move != 0 {
            bid += pending_move;
            pending_move = 0;
        } else if rng.next() < p.move_prob {
            bid += if rng.next() < 0.5 { TICK } else { -TICK };
        }
        let mut trades = Vec::new();
        for side in ['B', 'A'] {
            if rng.next() >= p.rate_per_s * 0.1 {
                continue;
            }
            // Depth reached beyond the mid, in bp: exponential with rate kappa.
            let u = rng.next().max(1e-12);
            let depth_bp = -libm::log(u) / p.kappa_per_bp;
            let mid = bid as f64 + 0.5;
            let reach = depth_bp * mid * 1e-4;
            let levels: Vec<i64> = if side == 'B' {
                let last = (mid + reach).floor() as i64;
                (bid + 1..=last).collect()
            } else {
                let last = (mid - reach).ceil() as i64;
                (last..=bid).rev().collect()
            };
            for px in &levels {
                tid += 1;
                trades.push(trade_json("BTC", side, *px, 0.01 + 0.2 * rng.next(), t_ms, tid));
            }
            if !levels.is_empty() && rng.next() < p.informed {
                pending_move = if side == 'B' { 3 * TICK } else { -3 * TICK };
            }
        }
        if !trades.is_empty() {
            push(&mut out, t, format!(r#"{{"channel":"trades","data":[{}]}}"#, trades.join(",")));
        }
        if step % 5 == 0 || !trades.is_empty() {
            push(&mut out, t + 1_000, book_msg("BTC", t_ms, bid, &mut rng));
        }
    }
    out
}

pub fn coins() -> Vec<String> {
    vec!["BTC".to_string()]
}

/// Runs the engine over `msgs`; returns every output and the final engine.
pub fn run(cfg: &EngineConfig, seed: u64, msgs: &[Msg]) -> (Vec<Output>, Engine) {
    run_coins(cfg, seed, &coins(), msgs)
}

/// [`run`] with an engine of `coins`.
pub fn run_coins(cfg: &EngineConfig, seed: u64, coins: &[String], msgs: &[Msg]) -> (Vec<Output>, Engine) {
    let mut e = Engine::new(cfg.clone(), Venue::Hyperliquid, seed, coins).expect("config");
    let mut out = Vec::new();
    for m in msgs {
        e.on_input(
            Timestamp(m.recv_ns),
            m.seq,
            Input::Message { stream: "ws", raw: m.raw.as_bytes() },
            &mut out,
        );
    }
    (out, e)
}

pub fn fills(out: &[Output]) -> usize {
    out.iter().filter(|o| matches!(o, Output::Fill { .. })).count()
}

/// Serialized outputs, for byte comparisons.
pub fn bytes(out: &[Output]) -> Vec<u8> {
    out.iter().flat_map(|o| rmp_serde::to_vec(o).expect("serialize")).collect()
}
