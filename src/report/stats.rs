//! Small statistics for the report: the Wilson score interval of a proportion and the normal
//! CDF. The no-skill adverse-selection baseline is the engine's (`engine::no_skill_as_rate`, carried
//! by each labelled `Markout`).

/// z of a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Wilson score interval of `k` successes in `n` trials; `None` when `n == 0`.
pub fn wilson_interval(k: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

/// Standard normal CDF, through `libm::erfc` so the figure is the same on every platform.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The median of finite values; `None` when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_known_values() {
        // 40 of 100 at 95%: (0.3094, 0.4980), a textbook value.
        let (lo, hi) = wilson_interval(40, 100, Z_95).unwrap();
        assert!((lo - 0.3094).abs() < 1e-3 && (hi - 0.4980).abs() < 1e-3, "{lo} {hi}");
        let (lo, hi) = wilson_interval(0, 10, Z_95).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 0.25 && hi < 0.3);
        assert_eq!(wilson_interval(0, 0, Z_95), None);
    }

    #[test]
    fn normal_cdf_and_median() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-9);
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, f64::NAN, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([]), None);
    }
}
