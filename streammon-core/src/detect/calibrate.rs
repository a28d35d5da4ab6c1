//! Calibration: from a raw score to how unusual that score is.

use super::score::{BELOW_HALF, ratio_of_score, ratio_score, score_from_tail};
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
        self.learn(u, score >= 0.5);
        score
    }

    /// How improbable `surprise` is against history, as `−log10 p` (0
    /// while the history is short; 4 is one in ten thousand), without the
    /// floor at one in 10³⁰⁰ of a probability; then learns from it.
    pub(crate) fn calibrate_log10(&mut self, surprise: f64) -> f64 {
        if surprise.is_nan() {
            return 0.0;
        }
        let u = surprise.abs();
        let improbability =
            if self.seen >= self.min_history { -self.ln_tail(u) / std::f64::consts::LN_10 } else { 0.0 };
        self.learn(u, improbability >= 4.0);
        improbability
    }

    /// Counts `u` in the exceedance rates. What it has just called
    /// anomalous (`loud`) counts a twentieth: a lasting incident stays
    /// news for a while, a recurring pattern still becomes normal.
    fn learn(&mut self, u: f64, loud: bool) {
        self.seen += 1;
        let weight = if loud { ANOMALY_WEIGHT } else { 1.0 };
        let a = weight * self.alpha.max(1.0 / self.seen as f64);
        for (rate, &t) in self.rates.iter_mut().zip(&LADDER) {
            *rate += a * (f64::from(u8::from(u >= t)) - *rate);
        }
    }

    /// `ln P(deviation ≥ u)`: [`tail`](Self::tail) computed in logarithms,
    /// so a deviation far beyond the ladder keeps a finite, ordered value
    /// instead of a probability that underflows to 0.
    fn ln_tail(&self, u: f64) -> f64 {
        if u <= LADDER[0] {
            return 0.0;
        }
        let n = (self.seen as f64).min(1.0 / self.alpha);
        let support = 0.5 / (n + PRIOR_WEIGHT);
        let empirical = |k: usize| (n * self.rates[k] + PRIOR_WEIGHT * PRIOR_TAIL[k]) / (n + PRIOR_WEIGHT);
        let at = |k: usize| empirical(k).max(GAUSS_TAIL[k]).ln();
        let k = LADDER.iter().rposition(|&t| t <= u).unwrap_or(0);
        if k + 1 < LADDER.len() && empirical(k + 1) >= support {
            let frac = (u - LADDER[k]) / (LADDER[k + 1] - LADDER[k]);
            return at(k) + frac * (at(k + 1) - at(k));
        }
        let j = (0..=k).rev().find(|&j| empirical(j) >= support).unwrap_or(0);
        let exponent = if j > 0 { (at(j - 1) - at(j)) / (LADDER[j] / LADDER[j - 1]).ln() } else { 4.0 };
        at(j) + exponent.clamp(4.0, 12.0) * (LADDER[j] / u).ln()
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
/// unusual the raw score is given the detector's recent scores.
///
/// The raw score is read back as a deviation (`3.5 r` for a score of
/// `r` band half-widths, the inverse of the detectors' common mapping),
/// its improbability `−log10 p` under the series' own tail is computed by
/// a [`Calibrator`], and scored `−log10(p) / 8` up to one in ten thousand
/// (0.5) and on the band scale beyond it (`r = −log10(p) / 4`: 0.83 at one
/// in a hundred million), so the scores of the rarest events keep their
/// order instead of all reaching 1. The expected band is the inner
/// detector's; a point the inner detector found within it stays below
/// 0.5 however rare its deviation, and the reason is kept when the
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

/// The score of an improbability `−log10 p`: `/ 8` up to 4 (0.5), then
/// [`ratio_score`] of `/ 4`, strictly increasing without a ceiling.
fn improbability_score(log10: f64) -> f64 {
    if log10 <= 4.0 { (log10 / 8.0).max(0.0) } else { ratio_score(log10 / 4.0) }
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
        let surprise = 3.5 * ratio_of_score(raw.score);
        let mut score = improbability_score(self.calibrator.calibrate_log10(surprise));
        if raw.score < 0.5 {
            score = score.min(BELOW_HALF);
        }
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
    fn the_log_tail_is_the_tail_without_underflow() {
        let mut c = Calibrator::new(500.0, 50);
        let mut seed = 3;
        for _ in 0..2_000 {
            c.calibrate(half_normal(&mut seed));
        }
        for u in [0.5, 1.5, 2.5, 3.7, 5.0, 9.0, 20.0, 100.0, 900.0] {
            let (p, ln) = (c.tail(u), c.ln_tail(u));
            assert!((p.ln() - ln).abs() < 1e-9 * ln.abs().max(1.0), "{u}: {p} vs {ln}");
        }
        let far = [1e4, 1e8, 1e100, 1e300].map(|u| c.ln_tail(u));
        assert!(far.windows(2).all(|w| w[1] < w[0] && w[1].is_finite()), "{far:?}");
    }

    #[test]
    fn calibrated_scores_keep_their_order_and_their_band() {
        use crate::detect::{Band, Reason, ZScoreConfig};
        let mut d = Calibrated::new(ZScoreConfig::default().build().unwrap(), 500.0, 50);
        let mut seed = 4;
        for i in 0..2_000 {
            d.update(Point::new(i, half_normal(&mut seed)));
        }
        let probe = |d: &Calibrated<_>, x: f64| d.clone().update(Point::new(2_000, x));
        let (ten, hundred) = (probe(&d, 10.0), probe(&d, 100.0));
        assert!(ten.score >= 0.5 && hundred.score > ten.score && hundred.score < 1.0, "{ten:?} {hundred:?}");
        assert_eq!(hundred.reason, Some(Reason::Above));
        // Within the inner detector's band: below 0.5, without a reason.
        let band: Band = ten.expected.unwrap();
        let inside = probe(&d, band.high);
        assert!(inside.score < 0.5 && inside.reason.is_none(), "{inside:?}");
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
