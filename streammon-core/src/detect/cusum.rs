//! CUSUM change-point detection.

use serde::{Deserialize, Serialize};

use super::check::{check_fraction, check_threshold};
use super::score::{floor_scale, score};
use super::{Band, Detector, Point, Reason, Verdict};
use crate::error::{Error, Result};
use crate::stats::Ewma;

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
        Ok(Cusum { config: self.clone(), baseline: Ewma::new(self.baseline_alpha), high: 0.0, low: 0.0, held: None })
    }
}

/// Page's two-sided cumulative sum (1954) on points standardised against
/// a slow baseline: accumulates evidence of a sustained level shift and
/// signals when it exceeds the decision interval, then re-anchors its
/// baseline on the new level and holds the signal (up to 60 points) while
/// values stay more than 4σ from the old level. Catches level shifts
/// early with few false alarms; blind to isolated spikes by design, and
/// too keen on near-deterministic series, where any drift of the mean is
/// a shift. O(1) per point, under 100 bytes.
#[derive(Debug, Clone)]
pub struct Cusum {
    config: CusumConfig,
    baseline: Ewma,
    high: f64,
    low: f64,
    /// After a signal: the level before the shift, its noise, and how many
    /// more points the signal is held while values stay away from it.
    held: Option<(f64, f64, u32)>,
}

/// Points a signal is held at most while the shift persists.
const HOLD: u32 = 60;

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
            self.baseline.push(x);
            return Verdict::QUIET;
        }
        let (mean, sd) = (self.baseline.mean(), floor_scale(self.baseline.std_dev(), self.baseline.mean()));
        // Clip so a single wild point cannot fill the sum alone.
        let z = ((x - mean) / sd).clamp(-4.0, 4.0);
        self.high = (self.high + z - self.config.drift).max(0.0);
        self.low = (self.low - z - self.config.drift).max(0.0);
        let h = self.config.threshold;
        let sum = self.high.max(self.low);
        let s = score(sum, h);
        let band = Band::new(mean - 3.0 * sd, mean + 3.0 * sd);
        let mut s = s;
        // Hold the signal while values stay far from the old level, so a
        // shift reads as a shift for as long as it lasts, not one point.
        if let Some((old, old_sd, left)) = self.held {
            let away = ((x - old) / old_sd).abs();
            if left > 0 && away >= 4.0 {
                s = s.max(score(away, 4.0));
                self.held = Some((old, old_sd, left - 1));
            } else {
                self.held = None;
            }
        }
        let reason = (s >= 0.5).then_some(Reason::LevelShift);
        if sum > h {
            self.held = Some((mean, sd, HOLD));
            // Re-anchor on the new level, keeping the noise estimate.
            self.baseline.recentre(x);
            self.high = 0.0;
            self.low = 0.0;
        } else {
            self.baseline.push(x);
        }
        Verdict::new(s, Some(band), reason)
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
