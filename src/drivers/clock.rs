//! Pacing of replays at a multiple of real time. The only clock a replay reads, and only to
//! sleep: the engine sees the recorded receive times whatever the speed, so paced and
//! `--speed max` replays produce identical outputs.
#![allow(clippy::disallowed_methods)] // pacing a replay against the wall clock is this module's job

use crate::settings::Speed;
use std::time::{Duration, Instant};

/// Longest single sleep: keeps Ctrl-C and progress responsive across long recorded gaps.
const MAX_SLEEP: Duration = Duration::from_millis(200);

pub struct Pacer {
    factor: Option<f64>,
    start: Option<(Instant, u64)>,
}

impl Pacer {
    pub fn new(speed: Speed) -> Pacer {
        let factor = match speed {
            Speed::Max => None,
            Speed::Factor(f) => Some(f),
        };
        Pacer { factor, start: None }
    }

    /// Sleeps until the wall clock has caught up with event time `event_ns` at the pace.
    pub fn wait_until(&mut self, event_ns: u64) {
        let Some(factor) = self.factor else { return };
        let (wall0, ev0) = *self.start.get_or_insert((Instant::now(), event_ns));
        let target = Duration::from_secs_f64(event_ns.saturating_sub(ev0) as f64 / 1e9 / factor);
        loop {
            let elapsed = wall0.elapsed();
            if elapsed >= target {
                return;
            }
            std::thread::sleep((target - elapsed).min(MAX_SLEEP));
        }
    }
}

/// Wall-clock time since the epoch in ns, for the live driver's receive stamps.
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A stopwatch for progress and throughput figures.
pub struct Stopwatch(Instant);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }
    pub fn secs(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}
