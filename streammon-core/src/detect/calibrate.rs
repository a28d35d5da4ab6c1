//! Calibration: from a raw score to how unusual that score is.

use super::score::{normal_tail, score_from_tail};
use super::{Detector, Point, Verdict};

/// Pseudo-points of the heavy-tailed prior (P(|z| ≥ u) = e^−u) the
/// empirical tail is shrunk toward.
const PRIOR_WEIGHT: f64 = 20.0;

/// Thresholds, in standard deviations, at which exceedance rates are kept.
const LADDER: [f64; 14] = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// Turns a stream of raw surprise values — deviations in standard
/// deviations, `|z|` — into a likelihood-style score: how improbable a
/// deviation this large is *for this series*, in the spirit of Numenta's
/// anomaly likelihood (Ahmad et al. 2017).
///
/// It keeps, for a ladder of thresholds from 1 to 1024, the exponentially
/// weighted rate at which past deviations exceeded each (half-life
/// `half_life` points): an empirical tail in 112 bytes. The probability of
/// a new deviation is the larger of that empirical tail (shrunk toward a
/// heavy exponential prior while history is short) and the Gaussian one,
/// interpolated log-linearly between thresholds; the score is
/// `−log10(p) / 8`, so 0.5 is one in ten thousand and 1 is one in a
/// hundred million. On Gaussian noise, after a few thousand points, 0.5
/// falls at about 4.5σ (earlier, higher); on a
/// heavy-tailed series (latency, say) the deviations it shows every hour
/// stop scoring high, while one far beyond anything in its history still
/// does. The input's scale does not matter as long as it is in standard
/// deviations of some kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibrator {
    rates: [f64; LADDER.len()],
    alpha: f64,
    seen: u64,
    min_history: u64,
}

impl Calibrator {
    /// A calibrator that is quiet until it has seen `min_history` values.
    pub fn new(half_life: f64, min_history: u64) -> Self {
        let alpha = 1.0 - 0.5f64.powf(1.0 / half_life.max(1.0));
        Self { rates: [0.0; LADDER.len()], alpha, seen: 0, min_history }
    }

    /// Scores `surprise` against history, then learns from it.
    pub fn calibrate(&mut self, surprise: f64) -> f64 {
        if surprise.is_nan() {
            return 0.0;
        }
        let u = surprise.abs();
        let score = if self.seen >= self.min_history { score_from_tail(self.tail(u)) } else { 0.0 };
        self.seen += 1;
        let a = self.alpha.max(1.0 / self.seen as f64);
        for (rate, &t) in self.rates.iter_mut().zip(&LADDER) {
            *rate += a * (f64::from(u8::from(u >= t)) - *rate);
        }
        score
    }

    /// P(deviation ≥ u): the empirical tail shrunk toward a heavy
    /// (exponential) prior by `PRIOR_WEIGHT` pseudo-points, or the Gaussian
    /// tail, whichever is heavier; log-linear between rungs. The prior
    /// keeps a young calibrator, which has not yet seen this series' tail,
    /// from calling a common skewed value a one-in-a-million event.
    fn tail(&self, u: f64) -> f64 {
        let n = self.seen as f64;
        let at = |k: usize| {
            let empirical = (n * self.rates[k] + PRIOR_WEIGHT * (-LADDER[k]).exp()) / (n + PRIOR_WEIGHT);
            empirical.max(2.0 * normal_tail(LADDER[k]))
        };
        if u <= LADDER[0] {
            return 1.0;
        }
        let k = LADDER.iter().rposition(|&t| t <= u).unwrap_or(0);
        if k + 1 == LADDER.len() {
            return at(k) * LADDER[k] / u;
        }
        let (lo, hi) = (at(k).max(1e-300).ln(), at(k + 1).max(1e-300).ln());
        let frac = (u - LADDER[k]) / (LADDER[k + 1] - LADDER[k]);
        (lo + frac * (hi - lo)).exp()
    }
}

/// Wraps any detector and replaces its score by a calibrated one: how
/// unusual the raw score is given the detector's recent scores. The
/// expected band is the inner detector's; the reason is kept when the
/// calibrated score reaches 0.5.
#[derive(Debug, Clone)]
pub struct Calibrated<D> {
    inner: D,
    calibrator: Calibrator,
}

impl<D: Detector> Calibrated<D> {
    /// Wraps `inner`, calibrating over about `half_life` points of history
    /// after at least `min_history`.
    pub fn new(inner: D, half_life: f64, min_history: u64) -> Self {
        Self { inner, calibrator: Calibrator::new(half_life, min_history) }
    }
}

impl<D: Detector> Detector for Calibrated<D> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn update(&mut self, point: Point) -> Verdict {
        if !point.value.is_finite() {
            return Verdict::QUIET;
        }
        let raw = self.inner.update(point);
        // Back from a score to the deviation it came from: every detector
        // here scores 1 − 2^−(z/k)², with k = 3.5 as a common band.
        let surprise = 3.5 * (-(1.0 - raw.score.min(1.0 - 1e-15)).log2()).sqrt();
        let score = self.calibrator.calibrate(surprise);
        Verdict::new(score, raw.expected, raw.reason.filter(|_| score >= 0.5))
    }

    fn state_bytes(&self) -> usize {
        self.inner.state_bytes() + std::mem::size_of::<Calibrator>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic half-normal deviations: |sum of 12 uniforms − 6|.
    fn half_normal(seed: &mut u64) -> f64 {
        let mut sum = 0.0;
        for _ in 0..12 {
            *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            sum += (*seed >> 11) as f64 / (1u64 << 53) as f64;
        }
        (sum - 6.0).abs()
    }

    #[test]
    fn gaussian_deviations_score_half_between_four_and_five_sigma() {
        let mut c = Calibrator::new(500.0, 50);
        let mut seed = 1;
        let loud = (0..5_000).filter(|_| c.calibrate(half_normal(&mut seed)) >= 0.5).count();
        assert!(loud <= 5, "{loud} of 5000 Gaussian deviations scored 0.5");
        let mut probe = c;
        assert!(probe.calibrate(3.0) < 0.4);
        let mut probe = c;
        assert!(probe.calibrate(4.5) > 0.5);
        assert!(c.calibrate(8.0) > 0.7);
    }

    #[test]
    fn a_heavy_tail_is_learned() {
        let mut c = Calibrator::new(500.0, 50);
        let mut seed = 2;
        for i in 0..5_000 {
            let u = if i % 50 == 0 { 8.0 } else { half_normal(&mut seed) };
            c.calibrate(u);
        }
        let mut probe = c;
        assert!(probe.calibrate(8.0) < 0.5, "a deviation seen every 50 points is not news");
        assert!(c.calibrate(200.0) > 0.6, "one far beyond the history still is");
    }
}
