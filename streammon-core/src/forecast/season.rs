//! Season-length detection by autocorrelation; see [`detect_season`].

/// Detects the season length of `values` (evenly spaced; `NaN` marks a
/// missing value), looking at lags 2 to `max_lag` and at most a third of
/// the length, so every candidate is seen at least three times. Returns
/// `None` when no lag is significant.
///
/// The series is detrended by a least-squares line (so a trend does not
/// read as one long season), then its autocorrelation is computed at every
/// lag up to `max_lag`. A season is a lag whose autocorrelation is a local
/// peak, at least `threshold`, and at least `threshold` above the lowest
/// autocorrelation at any shorter lag: a slowly decaying autocorrelation
/// (a drifting level) has no such peak, and neither has white noise, whose
/// autocorrelations stay near ±2/√n. A random walk seen through a short
/// window can wander like a wave and pass; that is why
/// [`HoltWinters`](super::HoltWinters) keeps a detected season only when it
/// also lowers the one-step error (by AIC). Of the qualifying
/// peaks the shortest whose autocorrelation is within 90 % of the best is
/// chosen, so the fundamental wins over its multiples.
///
/// Missing values (`NaN`) are skipped pair by pair. Cost is
/// O(n · max_lag), which is why [`HoltWinters`](super::HoltWinters) runs it
/// only when it re-fits, on a bounded buffer.
///
/// ```
/// use streammon_core::forecast::detect_season;
/// let wave: Vec<f64> = (0..200).map(|t| (t as f64 * std::f64::consts::TAU / 12.0).sin()).collect();
/// assert_eq!(detect_season(&wave, 50, 0.3), Some(12));
/// let line: Vec<f64> = (0..200).map(|t| t as f64).collect();
/// assert_eq!(detect_season(&line, 50, 0.3), None);
/// ```
pub fn detect_season(values: &[f64], max_lag: usize, threshold: f64) -> Option<usize> {
    let mut detrended = Vec::with_capacity(values.len());
    let mut acf = Vec::with_capacity(max_lag + 2);
    detect_season_with(values, max_lag, threshold, &mut detrended, &mut acf)
}

/// [`detect_season`] with caller-owned scratch buffers, so a forecaster
/// that re-detects allocates nothing once they have grown.
pub(crate) fn detect_season_with(
    values: &[f64],
    max_lag: usize,
    threshold: f64,
    detrended: &mut Vec<f64>,
    acf: &mut Vec<f64>,
) -> Option<usize> {
    let n = values.len();
    let max_lag = max_lag.min(n / 3);
    if max_lag < 2 {
        return None;
    }
    detrend(values, detrended);
    let (sum_sq, count) =
        detrended.iter().filter(|x| x.is_finite()).fold((0.0, 0usize), |(s, c), x| (s + x * x, c + 1));
    if count < 6 {
        return None;
    }
    let var = sum_sq / count as f64;
    let scale = values.iter().filter(|x| x.is_finite()).fold(0.0f64, |m, x| m.max(x.abs()));
    // A constant series (up to rounding) has no season.
    if var.is_nan() || var <= 1e-18 * scale * scale || var < f64::MIN_POSITIVE {
        return None;
    }

    // acf[lag] for lag in 0..=max_lag + 1 (index 0 unused).
    acf.clear();
    acf.push(1.0);
    for lag in 1..=(max_lag + 1).min(n - 1) {
        let (mut sum, mut pairs) = (0.0, 0usize);
        for (a, b) in detrended.iter().zip(&detrended[lag..]) {
            let p = a * b;
            if p.is_finite() {
                sum += p;
                pairs += 1;
            }
        }
        acf.push(if pairs * 4 >= n { sum / pairs as f64 / var } else { 0.0 });
    }

    let mut best: Option<(usize, f64)> = None;
    let mut lowest_before = acf[1];
    let mut peaks = [(0usize, 0.0f64); 32];
    let mut n_peaks = 0;
    for lag in 2..=max_lag {
        let r = acf[lag];
        let next = acf.get(lag + 1).copied().unwrap_or(f64::NEG_INFINITY);
        if r > acf[lag - 1] && r >= next && r >= threshold && r - lowest_before >= threshold && n_peaks < peaks.len() {
            peaks[n_peaks] = (lag, r);
            n_peaks += 1;
            if best.is_none_or(|(_, b)| r > b) {
                best = Some((lag, r));
            }
        }
        lowest_before = lowest_before.min(r);
    }
    let (_, best_r) = best?;
    peaks[..n_peaks].iter().find(|(_, r)| *r >= 0.9 * best_r).map(|(lag, _)| *lag)
}

/// Writes `values` minus their least-squares line into `out` (`NaN` stays
/// `NaN`).
fn detrend(values: &[f64], out: &mut Vec<f64>) {
    let (mut n, mut st, mut sy, mut stt, mut sty) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (t, &y) in values.iter().enumerate() {
        if y.is_finite() {
            let t = t as f64;
            n += 1.0;
            st += t;
            sy += y;
            stt += t * t;
            sty += t * y;
        }
    }
    let denom = n * stt - st * st;
    let slope = if denom.abs() > 0.0 { (n * sty - st * sy) / denom } else { 0.0 };
    let intercept = if n > 0.0 { (sy - slope * st) / n } else { 0.0 };
    out.clear();
    out.extend(
        values
            .iter()
            .enumerate()
            .map(|(t, &y)| if y.is_finite() { y - intercept - slope * t as f64 } else { f64::NAN }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng};
    use rand_distr::{Distribution, Normal};
    use rand_pcg::Pcg64Mcg;

    fn seasonal(period: usize, n: usize, noise: f64, seed: u64) -> Vec<f64> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let normal = Normal::new(0.0, noise).unwrap();
        (0..n)
            .map(|t| {
                let phase = t as f64 * std::f64::consts::TAU / period as f64;
                50.0 + 0.05 * t as f64 + 10.0 * phase.sin() + normal.sample(&mut rng)
            })
            .collect()
    }

    #[test]
    fn finds_the_fundamental_not_a_multiple() {
        assert_eq!(detect_season(&seasonal(24, 400, 2.0, 1), 100, 0.3), Some(24));
    }

    #[test]
    fn skips_missing_values() {
        let mut values = seasonal(10, 300, 1.0, 2);
        for (i, v) in values.iter_mut().enumerate() {
            if i % 7 == 0 {
                *v = f64::NAN;
            }
        }
        assert_eq!(detect_season(&values, 60, 0.3), Some(10));
    }

    #[test]
    fn constant_short_and_empty_have_none() {
        assert_eq!(detect_season(&[3.0; 100], 30, 0.3), None);
        assert_eq!(detect_season(&[1.0, 2.0, 3.0], 30, 0.3), None);
        assert_eq!(detect_season(&[], 30, 0.3), None);
        assert_eq!(detect_season(&[f64::NAN; 50], 10, 0.3), None);
    }

    proptest! {
        #[test]
        fn white_noise_has_no_season(seed in 0u64..1_000) {
            let mut rng = Pcg64Mcg::seed_from_u64(seed);
            let noise: Vec<f64> = (0..500).map(|_| rng.random::<f64>()).collect();
            prop_assert_eq!(detect_season(&noise, 150, 0.3), None);
        }

        #[test]
        fn finds_periods_in_noise(period in 4usize..40, seed in 0u64..1_000) {
            // With few cycles the peak of a long season can land one lag
            // off; short ones are found exactly.
            let found = detect_season(&seasonal(period, 6 * period + 60, 2.0, seed), 60, 0.3);
            let found = found.expect("a season") as i64;
            prop_assert!((found - period as i64).abs() <= i64::from(period > 20), "{found} vs {period}");
        }
    }
}
