//! EWMA control chart.

use serde::{Deserialize, Serialize};

use super::check::{check_fraction, check_threshold};
use super::score::learnable;
use super::score::{floor_scale, score};
use super::{Band, Detector, Point, Reason, Verdict};
use crate::error::Result;
use crate::stats::Ewma;

/// Configuration of [`EwmaChart`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EwmaConfig {
    /// Weight of each new point in the chart statistic, in (0, 1]; small
    /// values catch small persistent shifts. Defaults to 0.2.
    pub lambda: f64,
    /// Weight of each new point in the slow baseline it is compared with,
    /// in (0, 1]. Defaults to 0.01.
    pub baseline_alpha: f64,
    /// Control limit in standard errors of the chart statistic, above 0.
    /// Defaults to 3.
    pub threshold: f64,
}

impl Default for EwmaConfig {
    fn default() -> Self {
        Self { lambda: 0.2, baseline_alpha: 0.01, threshold: 3.0 }
    }
}

impl EwmaConfig {
    /// Validates and builds the detector.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] naming the field.
    pub fn build(&self) -> Result<EwmaChart> {
        check_fraction("ewma.lambda", self.lambda)?;
        check_fraction("ewma.baseline_alpha", self.baseline_alpha)?;
        check_threshold("ewma.threshold", self.threshold)?;
        Ok(EwmaChart {
            lambda: self.lambda,
            threshold: self.threshold,
            baseline: Ewma::new(self.baseline_alpha),
            chart: None,
            spread: Ewma::new(self.baseline_alpha),
        })
    }
}

/// An EWMA control chart (Roberts 1959): the exponentially weighted mean
/// of recent points, each clipped to ±3σ of the baseline (a Huber-type
/// robust chart), against control limits around a slow baseline; the
/// limits widen to the statistic's own in-control spread when the series
/// is autocorrelated. Catches
/// small sustained shifts that a point-wise z-score misses; slow to flag a
/// single spike (by design). O(1) per point, under 100 bytes.
#[derive(Debug, Clone)]
pub struct EwmaChart {
    lambda: f64,
    threshold: f64,
    baseline: Ewma,
    chart: Option<f64>,
    /// In-control spread of the chart statistic around the baseline.
    spread: Ewma,
}

impl Detector for EwmaChart {
    fn name(&self) -> &'static str {
        "ewma"
    }

    fn update(&mut self, point: Point) -> Verdict {
        let x = point.value;
        if !x.is_finite() {
            return Verdict::QUIET;
        }
        // Huber-type robust chart: each point moves the statistic by at most
        // 3σ of the baseline, so one heavy-tail spike cannot trip it while a
        // sustained shift still does.
        let (m, sd) = (self.baseline.mean(), self.baseline.std_dev());
        let input = if self.baseline.count() >= 8 && sd > 0.0 && sd.is_finite() && m.is_finite() {
            x.clamp(m - 3.0 * sd, m + 3.0 * sd)
        } else {
            x
        };
        let chart = self.chart.map_or(input, |c| c + self.lambda * (input - c));
        self.chart = Some(chart);
        let verdict = if self.baseline.count() >= 2 {
            let (mean, sd) = (self.baseline.mean(), floor_scale(self.baseline.std_dev(), self.baseline.mean()));
            // The textbook standard error assumes independent points; on an
            // autocorrelated series the chart swings wider, so use its own
            // in-control spread when that is larger.
            let theory = sd * (self.lambda / (2.0 - self.lambda)).sqrt();
            let se = if self.spread.count() >= 30 { theory.max(self.spread.std_dev()) } else { theory };
            let z = (chart - mean) / se;
            if z.abs() < self.threshold {
                self.spread.push(chart - mean);
            }
            let s = score(z, self.threshold);
            // The band is drawn for the raw point, so charts show it.
            let band = Band::new(mean - self.threshold * sd, mean + self.threshold * sd);
            let reason = (s >= 0.5).then_some(if z > 0.0 { Reason::Above } else { Reason::Below });
            Verdict::new(s, Some(band), reason)
        } else {
            Verdict::QUIET
        };
        let (mean, sd) = (self.baseline.mean(), self.baseline.std_dev());
        self.baseline.push(learnable(x, mean, sd, self.baseline.count() as usize));
        verdict
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::ZScoreConfig;

    fn noise(i: i64) -> f64 {
        ((i * 7_919 + 13) % 101) as f64 / 101.0 - 0.5
    }

    #[test]
    fn catches_a_small_sustained_shift_the_z_score_misses() {
        let (mut ewma, mut z) = (EwmaConfig::default().build().unwrap(), ZScoreConfig::default().build().unwrap());
        for i in 0..1_000 {
            ewma.update(Point::new(i, noise(i)));
            z.update(Point::new(i, noise(i)));
        }
        // A 1.2σ shift: the chart signals within its expected run length
        // (about ten points at λ = 0.2, L = 3); the z-score never does.
        let (mut first, mut z_hits) = (None, 0);
        for i in 1_000..1_060 {
            let p = Point::new(i, 0.35 + noise(i));
            if ewma.update(p).score >= 0.5 {
                first.get_or_insert(i - 1_000);
            }
            z_hits += usize::from(z.update(p).score >= 0.5);
        }
        assert!(first.is_some_and(|n| n <= 20), "{first:?}");
        assert_eq!(z_hits, 0);
        let err = EwmaConfig { lambda: 0.0, ..EwmaConfig::default() }.build().unwrap_err();
        assert!(err.to_string().contains("ewma.lambda"));
    }
}
