//! CUSUM change-point detection.

use serde::{Deserialize, Serialize};

use super::check::{check_fraction, check_threshold};
use super::score::{Resolution, consistent, floor_scale, ratio_score};
use super::{Band, Detector, Point, Reason, Verdict};
use crate::error::{Error, Result};
use crate::stats::Ewma;

/// Deviations, in baseline standard deviations, beyond which a value is
/// clipped before the baseline learns from it.
const LEARN_CLIP: f64 = 3.0;

/// Configuration of [`Cusum`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CusumConfig {
    /// Allowance: shifts smaller than this many standard deviations are
    /// ignored, at least 0. Defaults to 0.5.
    pub drift: f64,
    /// Decision interval: a cumulative sum of this many standard
    /// deviations signals a change, above 0. Defaults to 8: with thousands
    /// of series, the textbook 4–5 (an in-control run length of a few
    /// hundred points) would alarm somewhere every few seconds.
    pub threshold: f64,
    /// Weight of each new point in the baseline mean and variance, in
    /// (0, 1]. Defaults to 0.02.
    pub baseline_alpha: f64,
}

impl Default for CusumConfig {
    fn default() -> Self {
        Self { drift: 0.5, threshold: 8.0, baseline_alpha: 0.02 }
    }
}

impl CusumConfig {
    /// Validates and builds the detector.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn build(&self) -> Result<Cusum> {
        if !(self.drift.is_finite() && self.drift >= 0.0) {
            return Err(Error::config("cusum.drift", format!("{} must be a finite number of at least 0", self.drift)));
        }
        check_threshold("cusum.threshold", self.threshold)?;
        check_fraction("cusum.baseline_alpha", self.baseline_alpha)?;
        Ok(Cusum {
            config: self.clone(),
            baseline: Ewma::new(self.baseline_alpha),
            high: 0.0,
            low: 0.0,
            resolution: Resolution::new(),
        })
    }
}

/// Page's two-sided cumulative sum (1954) on points standardised against
/// a slow baseline: `S⁺ ← max(0, S⁺ + z − k)`, `S⁻ ← max(0, S⁻ − z − k)`,
/// a signal when either exceeds the decision interval `h`.
///
/// - **Score.** `S/h` on the band scale: 0.5 where a sum reaches `h`. A
///   shift of `d` standard deviations adds `d − k` a point, so a small
///   lasting shift signals after a few points and a large one at once,
///   scored by its size.
/// - **After a signal** the sums restart from zero (Page's restart): a
///   shift that lasts signals again as soon as it has added up once more,
///   while the points after a spike start afresh.
/// - **Learning.** The baseline mean and variance learn from values
///   clipped to ±3σ (a Huber-type robust baseline), so a spike moves it
///   by little and a lasting shift is learned step by step (each clipped
///   deviation widens the variance until the new level is within reach).
///   σ is never below the series' resolution (`q/√12`).
/// - **Band.** The values that would not make a sum reach `h` given the
///   sums so far: `[mean − σ(h + k − S⁻), mean + σ(h + k − S⁺)]`. It
///   contains the baseline, is widest right after a restart and narrows
///   while evidence of a shift builds up.
///
/// Catches level shifts early, and spikes of more than `h + k` standard
/// deviations; too keen on near-deterministic series, where any drift of
/// the mean is a shift. O(1) per point, under 150 bytes.
#[derive(Debug, Clone)]
pub struct Cusum {
    config: CusumConfig,
    baseline: Ewma,
    high: f64,
    low: f64,
    resolution: Resolution,
}

impl Detector for Cusum {
    fn name(&self) -> &'static str {
        "cusum"
    }

    fn update(&mut self, point: Point) -> Verdict {
        let x = point.value;
        if !x.is_finite() {
            return Verdict::QUIET;
        }
        if self.baseline.count() < 2 {
            self.resolution.observe(x);
            self.baseline.push(x);
            return Verdict::QUIET;
        }
        let (mean, sd) = (self.baseline.mean(), self.baseline.std_dev());
        let sigma = floor_scale(sd.max(self.resolution.floor()), mean);
        let (k, h) = (self.config.drift, self.config.threshold);
        let band = Band::new(mean - sigma * (h + k - self.low), mean + sigma * (h + k - self.high));
        let z = (x - mean) / sigma;
        self.high = (self.high + z - k).max(0.0);
        self.low = (self.low - z - k).max(0.0);
        let sum = self.high.max(self.low);
        let verdict = consistent(x, ratio_score(sum / h), band, Reason::LevelShift);
        if sum > h {
            self.high = 0.0;
            self.low = 0.0;
        }
        let learned = if self.baseline.count() >= 8 && sd > 0.0 {
            x.clamp(mean - LEARN_CLIP * sd, mean + LEARN_CLIP * sd)
        } else {
            x
        };
        self.baseline.push(learned);
        self.resolution.observe(x);
        verdict
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: i64) -> f64 {
        ((i * 7_919 + 13) % 101) as f64 / 101.0 - 0.5
    }

    #[test]
    fn a_shift_signals_early_and_holds_while_it_lasts() {
        let mut d = CusumConfig::default().build().unwrap();
        for i in 0..500 {
            assert!(d.update(Point::new(i, 10.0 + noise(i))).score < 0.5, "false alarm at {i}");
        }
        // A shift of 1.5σ (σ ≈ 0.29): invisible point by point, caught by the sum.
        let first = (500..540).find(|&i| d.update(Point::new(i, 10.45 + noise(i))).score >= 0.5);
        assert!(first.is_some_and(|i| i < 520), "{first:?}");
        let err = CusumConfig { drift: -1.0, ..CusumConfig::default() }.build().unwrap_err();
        assert!(err.to_string().contains("cusum.drift"));
    }

    #[test]
    fn a_big_shift_is_held_then_learned() {
        let mut d = CusumConfig::default().build().unwrap();
        for i in 0..500 {
            d.update(Point::new(i, 10.0 + noise(i)));
        }
        let scores: Vec<f64> = (500..700).map(|i| d.update(Point::new(i, 20.0 + noise(i))).score).collect();
        assert!(scores[..20].iter().filter(|&&s| s >= 0.5).count() >= 15, "{:?}", &scores[..20]);
        assert!(scores[150..].iter().all(|&s| s < 0.5), "the new level becomes normal");
    }
}
