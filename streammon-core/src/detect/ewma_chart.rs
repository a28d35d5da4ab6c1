//! EWMA control chart.

use serde::{Deserialize, Serialize};

use super::score::{floor_scale, score};
use super::zscore::{check_fraction, check_threshold};
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
        })
    }
}

/// An EWMA control chart (Roberts 1959): the exponentially weighted mean
/// of recent points against control limits around a slow baseline. Catches
/// small sustained shifts that a point-wise z-score misses; slow to flag a
/// single spike (by design). O(1) per point, under 100 bytes.
#[derive(Debug, Clone)]
pub struct EwmaChart {
    lambda: f64,
    threshold: f64,
    baseline: Ewma,
    chart: Option<f64>,
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
        let chart = self.chart.map_or(x, |c| c + self.lambda * (x - c));
        self.chart = Some(chart);
        let verdict = if self.baseline.count() >= 2 {
            let (mean, sd) = (self.baseline.mean(), floor_scale(self.baseline.std_dev(), self.baseline.mean()));
            let se = sd * (self.lambda / (2.0 - self.lambda)).sqrt();
            let z = (chart - mean) / se;
            let s = score(z, self.threshold);
            // The band is drawn for the raw point, so charts show it.
            let band = Band::new(mean - self.threshold * sd, mean + self.threshold * sd);
            let reason = (s >= 0.5).then_some(if z > 0.0 { Reason::Above } else { Reason::Below });
            Verdict::new(s, Some(band), reason)
        } else {
            Verdict::QUIET
        };
        self.baseline.push(x);
        verdict
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}
