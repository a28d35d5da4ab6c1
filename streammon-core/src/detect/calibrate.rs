//! Calibration: from a raw score to how unusual that score is.

use super::score::score_from_tail;
use super::{Detector, Point, Verdict};

/// Weight of a value scored 0.5 or more in the learned tail.
const ANOMALY_WEIGHT: f64 = 0.05;

/// Pseudo-points of the heavy-tailed prior (P(|z| ≥ u) = e^−u) the
/// empirical tail is shrunk toward.
const PRIOR_WEIGHT: f64 = 20.0;

/// Thresholds, in standard deviations, at which exceedance rates are kept.
const LADDER: [f64; 14] = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// `e^−t` at each rung: the heavy prior's tail (precomputed; the test
/// `tables_match_their_formulas` checks them).
#[allow(clippy::excessive_precision)]
const PRIOR_TAIL: [f64; 14] = [
    0.36787944117144233,
    0.1353352832366127,
    0.049787068367863944,
    0.01831563888873418,
    0.0024787521766663585,
    0.00033546262790251185,
    6.14421235332821e-06,
    1.1253517471925912e-07,
    3.775134544279098e-11,
    1.2664165549094176e-14,
    1.603810890548638e-28,
    2.572209372642415e-56,
    6.616261056709485e-112,
    0.0,
];

/// P(|z| ≥ t) for a standard normal at each rung: `erfc(t / √2)`.
#[allow(clippy::excessive_precision)]
const GAUSS_TAIL: [f64; 14] = [
    0.31731050786291415,
    0.04550026389635844,
    0.0026997960632601913,
    6.334248366623993e-05,
    1.9731752900754024e-09,
    1.2441921148543639e-15,
    3.552964224155404e-33,
    1.2777508801076465e-57,
    2.7807842370995482e-127,
    1.0904161207025782e-224,
    0.0,
    0.0,
    0.0,
    0.0,
];

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
/// interpolated log-linearly between thresholds, and beyond the largest
/// deviations the series has shown decaying as its own tail decays; the score is
/// `−log10(p) / 8`, so 0.5 is one in ten thousand and 1 is one in a
/// hundred million. On Gaussian noise 0.5 falls at about 5σ; on a
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
        // What it has just called anomalous counts a twentieth: a lasting
        // incident stays news for a while, a recurring pattern still
        // becomes normal.
        let weight = if score >= 0.5 { ANOMALY_WEIGHT } else { 1.0 };
        let a = weight * self.alpha.max(1.0 / self.seen as f64);
        for (rate, &t) in self.rates.iter_mut().zip(&LADDER) {
            *rate += a * (f64::from(u8::from(u >= t)) - *rate);
        }
        score
    }

    /// P(deviation ≥ u). At each rung: the empirical rate shrunk toward a
    /// heavy (exponential) prior by `PRIOR_WEIGHT` pseudo-points, or the
    /// Gaussian tail, whichever is heavier. Between two rungs the history
    /// supports (at least half an observation's worth, counted over the
    /// effective window of the exponential weights), log-linear
    /// interpolation. Beyond the last supported rung, the tail keeps
    /// falling as it fell between the last two supported rungs — as a
    /// power of u, with an exponent held within [4, 12]: past what the
    /// series has shown, a Gaussian-like series keeps its steep tail and a
    /// heavy-tailed one its heavy tail. The prior keeps a young
    /// calibrator, which has not seen this series' tail yet, from calling
    /// a common skewed value a one-in-a-million event.
    fn tail(&self, u: f64) -> f64 {
        if u <= LADDER[0] {
            return 1.0;
        }
        let n = (self.seen as f64).min(1.0 / self.alpha);
        let support = 0.5 / (n + PRIOR_WEIGHT);
        let empirical = |k: usize| (n * self.rates[k] + PRIOR_WEIGHT * PRIOR_TAIL[k]) / (n + PRIOR_WEIGHT);
        let at = |k: usize| empirical(k).max(GAUSS_TAIL[k]);
        let k = LADDER.iter().rposition(|&t| t <= u).unwrap_or(0);
        if k + 1 < LADDER.len() && empirical(k + 1) >= support {
            let (lo, hi) = (at(k).ln(), at(k + 1).ln());
            let frac = (u - LADDER[k]) / (LADDER[k + 1] - LADDER[k]);
            return (lo + frac * (hi - lo)).exp();
        }
        let j = (0..=k).rev().find(|&j| empirical(j) >= support).unwrap_or(0);
        let exponent = if j > 0 { (at(j - 1) / at(j)).ln() / (LADDER[j] / LADDER[j - 1]).ln() } else { 4.0 };
        at(j) * (LADDER[j] / u).powf(exponent.clamp(4.0, 12.0))
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
        // Back from the verdict to a deviation in standard deviations:
        // every detector here scores 1 − 2^−(z/k)², so the score gives z
        // for k = 3.5 — but saturates near 25; the band gives it without
        // limit (its half-width is k standard deviations). Take the larger.
        let from_score = 3.5 * (-(1.0 - raw.score.min(1.0 - 1e-15)).log2()).sqrt();
        let from_band = raw.expected.map_or(0.0, |b| {
            let half = (b.high - b.low) / 2.0;
            if half > 0.0 { 3.5 * (point.value - (b.low + b.high) / 2.0).abs() / half } else { 0.0 }
        });
        let surprise = from_score.max(from_band);
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
    use crate::detect::score::normal_tail;

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
    fn gaussian_deviations_score_half_near_five_sigma() {
        let mut c = Calibrator::new(500.0, 50);
        let mut seed = 1;
        let loud = (0..5_000).filter(|_| c.calibrate(half_normal(&mut seed)) >= 0.5).count();
        assert!(loud <= 5, "{loud} of 5000 Gaussian deviations scored 0.5");
        let probe = |u: f64| {
            let mut p = c;
            p.calibrate(u)
        };
        assert!(probe(3.0) < 0.4);
        assert!(probe(4.0) < 0.5);
        assert!(probe(6.0) > 0.5);
        assert!(probe(8.0) > 0.6);
    }

    #[test]
    fn tables_match_their_formulas() {
        for (k, &t) in LADDER.iter().enumerate() {
            assert!((PRIOR_TAIL[k] - (-t).exp()).abs() <= 1e-15 * PRIOR_TAIL[k].max(1e-300), "{t}");
            let gauss = 2.0 * normal_tail(t);
            assert!((GAUSS_TAIL[k] - gauss).abs() <= 1e-12 * gauss.max(1e-300), "{t}: {} vs {gauss}", GAUSS_TAIL[k]);
        }
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
