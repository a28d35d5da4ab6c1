//! Robust median / MAD.

use serde::{Deserialize, Serialize};

use super::check::{check_threshold, check_window};
use super::score::{Resolution, judge};
use super::{Detector, Point, Verdict};
use crate::error::Result;
use crate::stats::SortedWindow;

/// Configuration of [`Mad`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MadConfig {
    /// Points in the window the median and MAD come from, 3 to 100 000.
    /// Defaults to 320: the MAD is a less efficient estimate of spread
    /// than the standard deviation (37 % on Gaussian data), so it needs
    /// about 2.7 times the points for the same precision as `zscore`'s
    /// 120 (with 96, it lost 10–14 points on every profile of the
    /// labelled corpus).
    pub window: usize,
    /// Half-width of the expected band in robust standard deviations
    /// (1.4826 × MAD), above 0; 3.5 is Iglewicz and Hoaglin's cut-off.
    /// Defaults to 3.5.
    pub threshold: f64,
}

impl Default for MadConfig {
    fn default() -> Self {
        Self { window: 320, threshold: 3.5 }
    }
}

impl MadConfig {
    /// Validates and builds the detector.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] naming `mad.window` or `mad.threshold`.
    pub fn build(&self) -> Result<Mad> {
        check_window("mad.window", self.window)?;
        check_threshold("mad.threshold", self.threshold)?;
        Ok(Mad { threshold: self.threshold, window: SortedWindow::new(self.window), resolution: Resolution::new() })
    }
}

/// Flags values far from the median of the last `window` points, in units
/// of the median absolute deviation: the robust cousin of the z-score,
/// unmoved by the outliers it is looking for (up to half the window).
/// Catches spikes, dips and fresh level shifts.
///
/// When more than half the window is one value (a count that is mostly
/// zero), the MAD is 0 and would make every other value infinitely far:
/// the scale is then 1.2533 × the mean absolute deviation from the median,
/// which still sees the occasional other value. Neither is taken below the
/// series' resolution (`q/√12` for a smallest step `q`): a one-step change
/// on a flat count is on the band's edge, not a thousand-sigma event.
/// O(log n + n) per point with a small constant; `window` × 8 bytes.
#[derive(Debug, Clone)]
pub struct Mad {
    threshold: f64,
    window: SortedWindow,
    resolution: Resolution,
}

impl Detector for Mad {
    fn name(&self) -> &'static str {
        "mad"
    }

    fn update(&mut self, point: Point) -> Verdict {
        if !point.value.is_finite() {
            return Verdict::QUIET;
        }
        let verdict = match (self.window.median(), self.window.robust_sigma()) {
            (Some(median), Some(sigma)) if self.window.len() >= 3 => {
                // The window holds `f32`: its median is known to that
                // precision, and a constant series must not look shifted
                // by its own rounding.
                let precision = f64::from(f32::EPSILON) * median.abs();
                judge(point.value, median, sigma.max(self.resolution.floor()).max(precision), self.threshold)
            }
            _ => Verdict::QUIET,
        };
        self.resolution.observe(point.value);
        self.window.push(point.value);
        verdict
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() - std::mem::size_of::<SortedWindow>() + self.window.state_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_that_f32_cannot_hold_is_not_a_shift() {
        // 1234.5678 is stored as 1234.567749…: without a floor at f32's
        // precision every point of this flat series scored far above 0.5.
        let mut d = MadConfig::default().build().unwrap();
        for i in 0..500 {
            let v = d.update(Point::new(i, 1234.5678));
            assert!(v.score < 0.5, "{i}: {v:?}");
            assert!(v.expected.is_none_or(|b| b.contains(1234.5678)), "{i}: {v:?}");
        }
        assert!(d.update(Point::new(500, 1235.0)).score >= 0.5);
    }

    #[test]
    fn outliers_in_the_window_do_not_hide_the_next_one() {
        let mut d = MadConfig::default().build().unwrap();
        for i in 0..200 {
            let v = if i % 20 == 0 { 1e4 } else { (i % 5) as f64 };
            d.update(Point::new(i, v));
        }
        // More than 2.58 band half-widths out: what scored 0.99 before
        // scores kept their order above 1.
        let v = d.update(Point::new(200, 50.0));
        assert!(v.score > crate::detect::score::ratio_score(2.58), "{v:?}");
        assert_eq!(v.reason, Some(crate::detect::Reason::Above));
        let band = v.expected.unwrap();
        assert!(band.low > -10.0 && band.high < 15.0, "{band:?}");
    }
}
