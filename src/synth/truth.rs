//! The ground truth of a synthetic recording: what the estimators should recover. It goes,
//! as TOML, into the recording header's `synth` field.

use super::config::{Regime, SynthConfig};
use super::regime::RegimePath;
use serde::{Deserialize, Serialize};

/// Share of the time spent in each regime over the recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegimeShare {
    pub quiet: f64,
    pub normal: f64,
    pub volatile: f64,
}

/// The funding rate in effect at one funding time (Hyperliquid: every hour on the hour): the
/// rate of the coin's last `activeAssetCtx` sent before it, in units of 10^-12 per hour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FundingPoint {
    pub coin: String,
    pub t_ns: u64,
    pub rate: i64,
}

/// The regime entered at `t_ns` (the first entry is the start).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegimeSwitch {
    pub t_ns: u64,
    pub regime: Regime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub seed: u64,
    pub coins: Vec<String>,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Decay of the aggressive-order reach law, per bp: intensity A exp(-kappa_true delta).
    pub kappa_true: f64,
    /// A of that law: aggressive orders a second a side.
    pub a_per_side: f64,
    /// Share of aggressive orders that are informed.
    pub informed_share: f64,
    /// Size of the mid move ending an information window, in the regime's 1-second sigmas.
    pub informed_move_sigmas: f64,
    /// Mean seconds between the starts of information windows.
    pub informed_cycle_s: f64,
    /// Mid volatility of each regime, bp per sqrt(s) (informed moves included).
    pub sigma_bp_quiet: f64,
    pub sigma_bp_normal: f64,
    pub sigma_bp_volatile: f64,
    /// Number of volatile spells entered during the recording.
    pub volatile_spells: u32,
    pub regime_share: RegimeShare,
    pub regime_switches: Vec<RegimeSwitch>,
    /// The funding model (`[funding]`): an Ornstein-Uhlenbeck hourly rate around its mean,
    /// and its path at the funding times of the recording (empty with `[funding]` off).
    #[serde(default)]
    pub funding_rate_mean_per_h: f64,
    #[serde(default)]
    pub funding_rate_reversion_per_h: f64,
    #[serde(default)]
    pub funding_rate_sigma_per_sqrt_h: f64,
    #[serde(default)]
    pub funding_path: Vec<FundingPoint>,
    pub config: SynthConfig,
}

/// The rate in effect at every funding time (each hour) in `(start, end]`, replayed from each
/// coin's own context stream: the contexts go out at the start and every interval after it.
fn funding_path(
    cfg: &SynthConfig,
    seed: u64,
    coins: &[String],
    start_ms: u64,
    end_ms: u64,
) -> Vec<FundingPoint> {
    const HOUR_MS: u64 = 3_600_000;
    let f = &cfg.funding;
    if !f.enabled {
        return vec![];
    }
    let mut out = Vec::new();
    for coin in coins {
        let Ok(contract) = cfg.contract(coin) else { continue };
        let start_px = (contract.start_ticks * contract.tick_units) as f64 / crate::types::SCALE as f64;
        let mut process = super::venue::context_process(cfg, seed, coin, start_px);
        let mut hour = (start_ms / HOUR_MS + 1) * HOUR_MS;
        let mut t = start_ms;
        let mut rate = None;
        while hour <= end_ms {
            // Contexts sent before this hour set the rate in effect at it.
            while t < hour && t < end_ms {
                rate = Some(process.next(f).rate_units);
                t += f.ctx_interval_ms.max(1);
            }
            if let Some(rate) = rate {
                out.push(FundingPoint { coin: coin.clone(), t_ns: hour * 1_000_000, rate });
            }
            hour += HOUR_MS;
        }
    }
    out
}

impl GroundTruth {
    /// The truth of the recording from the configuration's start to `end_ns`: the regime path
    /// is replayed from its own random stream.
    pub fn compute(cfg: &SynthConfig, seed: u64, coins: &[String], end_ns: u64) -> GroundTruth {
        let start_ms = cfg.start_ns / 1_000_000;
        let end_ms = (end_ns / 1_000_000).max(start_ms);
        let mut path = RegimePath::new(cfg, seed, start_ms);
        let mut switches = vec![RegimeSwitch { t_ns: start_ms * 1_000_000, regime: path.current }];
        let mut time_in = [0u64; 3];
        let mut t = start_ms;
        let mut volatile_spells = u32::from(path.current == Regime::Volatile);
        while path.next_switch_ms < end_ms {
            time_in[path.current.index()] += path.next_switch_ms - t;
            t = path.next_switch_ms;
            path.switch(cfg);
            volatile_spells += u32::from(path.current == Regime::Volatile);
            switches.push(RegimeSwitch { t_ns: t * 1_000_000, regime: path.current });
        }
        time_in[path.current.index()] += end_ms - t;
        let total = (end_ms - start_ms).max(1) as f64;
        GroundTruth {
            seed,
            coins: coins.to_vec(),
            start_ns: cfg.start_ns,
            end_ns,
            kappa_true: cfg.kappa_true,
            a_per_side: cfg.a_per_side,
            informed_share: cfg.informed_share,
            informed_move_sigmas: cfg.informed_move_sigmas,
            informed_cycle_s: cfg.informed_cycle_s(),
            sigma_bp_quiet: cfg.regimes.quiet.sigma_bp,
            sigma_bp_normal: cfg.regimes.normal.sigma_bp,
            sigma_bp_volatile: cfg.regimes.volatile.sigma_bp,
            volatile_spells,
            regime_share: RegimeShare {
                quiet: time_in[0] as f64 / total,
                normal: time_in[1] as f64 / total,
                volatile: time_in[2] as f64 / total,
            },
            regime_switches: switches,
            funding_rate_mean_per_h: cfg.funding.rate_mean_per_h,
            funding_rate_reversion_per_h: cfg.funding.rate_reversion_per_h,
            funding_rate_sigma_per_sqrt_h: cfg.funding.rate_sigma_per_sqrt_h,
            funding_path: funding_path(cfg, seed, coins, start_ms, end_ms),
            config: cfg.clone(),
        }
    }

    /// The regime in force at `t_ns`.
    pub fn regime_at(&self, t_ns: u64) -> Regime {
        let i = self.regime_switches.partition_point(|s| s.t_ns <= t_ns);
        self.regime_switches[i.saturating_sub(1)].regime
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# ground truth not serializable: {e}\n"))
    }

    pub fn from_toml(text: &str) -> Result<GroundTruth, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}
