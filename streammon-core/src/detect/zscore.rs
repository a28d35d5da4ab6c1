//! Windowed Gaussian z-score.

use serde::{Deserialize, Serialize};

use super::check::{check_threshold, check_window};
use super::score::{Resolution, judge, learnable};
use super::{Detector, Point, Verdict};
use crate::error::Result;
use crate::stats::RollingMoments;

/// Configuration of [`ZScore`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZScoreConfig {
    /// Points in the window the mean and standard deviation come from,
    /// 3 to 100 000. Defaults to 120.
    pub window: usize,
    /// Half-width of the expected band in standard deviations, above 0.
    /// Defaults to 4: QoE metrics are heavy-tailed, and a ±3σ band would
    /// flag their ordinary tail events.
    pub threshold: f64,
}

impl Default for ZScoreConfig {
    fn default() -> Self {
        Self { window: 120, threshold: 4.0 }
    }
}

impl ZScoreConfig {
    /// Validates and builds the detector.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] naming `zscore.window` or `zscore.threshold`.
    pub fn build(&self) -> Result<ZScore> {
        check_window("zscore.window", self.window)?;
        check_threshold("zscore.threshold", self.threshold)?;
        Ok(ZScore {
            threshold: self.threshold,
            moments: RollingMoments::new(self.window),
            resolution: Resolution::new(),
        })
    }
}

/// Flags values far from the mean of the last `window` points, in
/// standard deviations. Catches spikes and dips on stationary, roughly
/// Gaussian series; fooled by outliers inside its own window, by trends,
/// and by heavy tails (on simulated latency it flags 0.1–0.5 % of clean
/// points: run it calibrated, or use `auto`). It learns from values clipped to
/// ±5σ, so one anomaly does not hide the next. The standard deviation is
/// never taken below the series' resolution (`q/√12` for a smallest step
/// `q`), so a window of equal counts does not make the next one-step
/// change a thousand-sigma event. O(1) per point, `window` × 8 bytes.
///
/// ```
/// use streammon_core::detect::ZScoreConfig;
/// use streammon_core::{Detector, Point};
/// let mut d = ZScoreConfig::default().build()?;
/// for i in 0..200 {
///     d.update(Point::new(i, 10.0 + (i % 7) as f64 * 0.1));
/// }
/// assert!(d.update(Point::new(200, 50.0)).score > 0.95);
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ZScore {
    threshold: f64,
    moments: RollingMoments,
    resolution: Resolution,
}

impl Detector for ZScore {
    fn name(&self) -> &'static str {
        "zscore"
    }

    fn update(&mut self, point: Point) -> Verdict {
        if !point.value.is_finite() {
            return Verdict::QUIET;
        }
        let (mean, sd) = (self.moments.mean(), self.moments.std_dev());
        let verdict = if self.moments.len() >= 2 {
            judge(point.value, mean, sd.max(self.resolution.floor()), self.threshold)
        } else {
            Verdict::QUIET
        };
        self.resolution.observe(point.value);
        self.moments.push(learnable(point.value, mean, sd, self.moments.len()));
        verdict
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() - std::mem::size_of::<RollingMoments>() + self.moments.state_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_is_mean_plus_minus_threshold_sigma() {
        let mut d = ZScoreConfig { window: 4, threshold: 2.0 }.build().unwrap();
        for (i, v) in [1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
            d.update(Point::new(i as i64, v));
        }
        let v = d.update(Point::new(4, 2.5));
        let sd = (5.0f64 / 3.0).sqrt();
        let band = v.expected.unwrap();
        assert!((band.low - (2.5 - 2.0 * sd)).abs() < 1e-9 && (band.high - (2.5 + 2.0 * sd)).abs() < 1e-9);
        assert_eq!(v.score, 0.0);
        assert!(ZScoreConfig { window: 2, ..ZScoreConfig::default() }.build().is_err());
        assert!(ZScoreConfig { threshold: f64::NAN, ..ZScoreConfig::default() }.build().is_err());
    }
}
