//! The synthetic venue's random generator: xoshiro256** seeded through SplitMix64.
//!
//! The algorithm lives here because library generators promise no stability across versions,
//! and a recording must be byte-identical for the same seed forever. Every independent part of
//! the market (regime path, each coin's mid, book, flow, latency) draws from its own stream
//! derived from (seed, identity), so one more draw in one part never changes another.
//! (The engine keeps its own generator in `market_maker`; the two are deliberately separate so
//! that the venue's recordings do not change when the engine's draws do.)

/// SplitMix64's output function: a strong 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a name: a stable identity for a coin's streams (std's hasher is randomized).
pub fn name_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// xoshiro256** (Blackman and Vigna, 2018).
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose state is filled from `seed` by SplitMix64, as the authors recommend.
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix64(x)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    /// The independent stream `identity` of the parent `seed`.
    pub fn derive(seed: u64, identity: u64) -> Rng {
        Rng::new(mix64(seed ^ mix64(identity.wrapping_add(0x6a09_e667_f3bc_c909))))
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// Uniform integer in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(self.uniform_open0())
    }

    /// Standard normal (Box-Muller; one value per call keeps the stream simple to reason about).
    pub fn normal(&mut self) -> f64 {
        let r = libm::sqrt(-2.0 * libm::log(self.uniform_open0()));
        r * libm::cos(2.0 * core::f64::consts::PI * self.uniform())
    }

    /// Log-normal with the given median and dispersion (standard deviation of the logarithm).
    pub fn lognormal(&mut self, median: f64, dispersion: f64) -> f64 {
        median * libm::exp(dispersion * self.normal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_pinned() {
        // These values pin the algorithm: if they change, every recording changes.
        let mut r = Rng::new(0);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(first, [0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a, 0x1a5f_849d_4933_e6e0]);
    }

    #[test]
    fn derived_streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| Rng::derive(7, 1).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::derive(7, 1).next_u64(), Rng::derive(7, 2).next_u64());
        assert_ne!(Rng::derive(7, 1).next_u64(), Rng::derive(8, 1).next_u64());
    }

    #[test]
    fn draws_have_the_right_moments() {
        let mut r = Rng::new(42);
        let n = 200_000;
        let (mut s_exp, mut s_norm, mut s_norm2, mut s_unif) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..n {
            s_exp += r.exponential(2.0);
            let z = r.normal();
            s_norm += z;
            s_norm2 += z * z;
            s_unif += r.uniform();
        }
        let n = n as f64;
        assert!((s_exp / n - 2.0).abs() < 0.03, "exponential mean {}", s_exp / n);
        assert!((s_norm / n).abs() < 0.01, "normal mean {}", s_norm / n);
        assert!((s_norm2 / n - 1.0).abs() < 0.015, "normal variance {}", s_norm2 / n);
        assert!((s_unif / n - 0.5).abs() < 0.005, "uniform mean {}", s_unif / n);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }
}
