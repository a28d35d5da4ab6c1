//! EWMA control chart.

use serde::{Deserialize, Serialize};

use super::check::{check_fraction, check_threshold};
use super::score::{Resolution, consistent, floor_scale, ratio_score};
use super::{Band, Detector, Point, Reason, Verdict};
use crate::error::Result;
use crate::stats::Ewma;

/// Deviations, in baseline standard deviations, beyond which a value is
/// clipped before the baseline and the chart's memory take it in.
const CLIP: f64 = 3.0;
/// Largest lag-1 autocorrelation the limits allow for: beyond it the
/// series is a random walk for this chart, and its limits would have no
/// bound.
const MAX_RHO: f64 = 0.95;

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
            lag: Ewma::new(self.baseline_alpha),
            previous_deviation: None,
            chart: None,
            resolution: Resolution::new(),
        })
    }
}

/// An EWMA control chart (Roberts 1959): the exponentially weighted mean
/// of recent points, `c ← c + λ(x − c)`, against control limits around a
/// slow baseline.
///
/// - **Limits.** `mean ± L·se`, where `se` is the chart's standard error:
///   `σ·√(λ/(2−λ))` for independent points, times
///   `√((1+ρ(1−λ))/(1−ρ(1−λ)))` for a series whose lag-1 autocorrelation
///   is `ρ` (the exact variance of an EWMA of an AR(1) process), so a
///   series that wanders slowly gets limits as wide as its wandering and
///   a noisy one keeps the textbook limits.
/// - **Robustness.** Each point is judged at its full size (the chart
///   with it, `c + λ(x − c)`), so a spike scores in proportion to its
///   size; but the chart and the baseline mean, variance and
///   autocorrelation take it in clipped to ±3σ (Huber), so a spike
///   neither keeps the chart out of its limits for the points after it
///   nor hides the next one. A lasting change still moves the chart at
///   once and widens the variance step by step until it is learned. σ is
///   never below the series' resolution (`q/√12`).
/// - **Verdict.** The band is the control limits, drawn around the
///   baseline. A point is flagged when the chart is out of its limits and
///   the point itself is beyond them on the same side; the score is set
///   by the smaller of the two excursions.
///
/// Catches small sustained shifts that a point-wise z-score misses (a
/// 1.2σ shift within about ten points at λ = 0.2, L = 3) and large spikes
/// in proportion to their size. O(1) per point, under 200 bytes.
#[derive(Debug, Clone)]
pub struct EwmaChart {
    lambda: f64,
    threshold: f64,
    baseline: Ewma,
    /// Products of consecutive deviations from the baseline: their mean
    /// over the baseline's variance is the lag-1 autocorrelation.
    lag: Ewma,
    previous_deviation: Option<f64>,
    chart: Option<f64>,
    resolution: Resolution,
}

impl EwmaChart {
    /// Lag-1 autocorrelation of the series around its baseline, within
    /// [0, 0.95]; 0 until ten products have been seen.
    fn rho(&self) -> f64 {
        let var = self.baseline.variance();
        if self.lag.count() < 10 || var <= 0.0 {
            return 0.0;
        }
        (self.lag.mean() / var).clamp(0.0, MAX_RHO)
    }
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
        let (mean, sd) = (self.baseline.mean(), self.baseline.std_dev());
        let sigma = floor_scale(sd.max(self.resolution.floor()), mean);
        // The chart judges this point at its full size, but remembers it
        // clipped to ±3σ: a spike counts when it happens, not in the
        // points after it.
        let chart = self.chart.map_or(x, |c| c + self.lambda * (x - c));
        let remembered = if self.baseline.count() >= 8 { x.clamp(mean - CLIP * sigma, mean + CLIP * sigma) } else { x };
        self.chart = Some(self.chart.map_or(remembered, |c| c + self.lambda * (remembered - c)));
        let verdict = if self.baseline.count() >= 2 {
            let (l, rho) = (self.lambda, self.rho());
            let inflation = (1.0 + rho * (1.0 - l)) / (1.0 - rho * (1.0 - l));
            let se = sigma * (l / (2.0 - l) * inflation).sqrt();
            let (z_chart, z_point) = ((chart - mean) / se, (x - mean) / se);
            let excursion = if z_chart * z_point > 0.0 { z_chart.abs().min(z_point.abs()) } else { 0.0 };
            let band = Band::new(mean - self.threshold * se, mean + self.threshold * se);
            let reason = if z_point > 0.0 { Reason::Above } else { Reason::Below };
            consistent(x, ratio_score(excursion / self.threshold), band, reason)
        } else {
            Verdict::QUIET
        };
        // Learn from the value clipped to ±3σ of the baseline.
        let learned =
            if self.baseline.count() >= 8 && sd > 0.0 { x.clamp(mean - CLIP * sd, mean + CLIP * sd) } else { x };
        let deviation = learned - mean;
        if let Some(previous) = self.previous_deviation {
            self.lag.push(deviation * previous);
        }
        self.previous_deviation = Some(deviation);
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

    #[test]
    fn a_spike_is_flagged_by_its_size_and_its_aftermath_is_not() {
        let mut d = EwmaConfig::default().build().unwrap();
        for i in 0..500 {
            d.update(Point::new(i, 10.0 + noise(i)));
        }
        let small = d.clone().update(Point::new(500, 10.0 + 10.0 * 0.29)).score;
        let large = d.clone().update(Point::new(500, 10.0 + 100.0 * 0.29)).score;
        assert!(small >= 0.5 && large > small, "{small} {large}");
        d.update(Point::new(500, 10.0 + 100.0 * 0.29));
        // The chart remembers the spike clipped to 3σ: the points after
        // it are judged as before it.
        for i in 501..560 {
            let v = d.update(Point::new(i, 10.0 + noise(i)));
            assert!(v.score < 0.5, "{i}: {v:?}");
        }
    }

    #[test]
    fn a_slow_wander_widens_the_limits() {
        // A smooth random-walk-like series: consecutive values close.
        let wander = |i: i64| (i as f64 / 50.0).sin() * 5.0 + 0.2 * noise(i);
        let mut d = EwmaConfig::default().build().unwrap();
        let alarms = (0..3_000).filter(|&i| d.update(Point::new(i, wander(i))).score >= 0.5).count();
        assert!(d.rho() > 0.8, "{}", d.rho());
        // Without the autocorrelation, limits for independent points flag
        // about half of it.
        assert!(alarms < 30, "{alarms} of 3000 points of a smooth wander flagged");
    }
}
