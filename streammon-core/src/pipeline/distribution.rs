//! How a metric is spread across viewers: a histogram with its median and
//! tail.
//!
//! A mean startup time of 1.2 s can hide a tenth of viewers waiting 6 s. A
//! [`Distribution`] weighs each stream's figure by its viewers, so its
//! median is what the median viewer got and its p95 what one viewer in
//! twenty got or worse. The figures of a stream are themselves means over
//! its viewers: the spread within a stream is not seen.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sample::{Metric, Sample};

/// One bin of a histogram, `[low, high)` (the last bin includes `high`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower edge.
    pub low: f64,
    /// Upper edge.
    pub high: f64,
    /// Share of the viewer weight in the bin, within [0, 1].
    pub share: f64,
}

/// A viewer-weighted distribution of a metric.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The metric.
    pub metric: Metric,
    /// Samples that carried the metric.
    pub samples: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Viewer-weighted mean.
    pub mean: f64,
    /// Viewer-weighted median.
    pub median: f64,
    /// Viewer-weighted 95th percentile.
    pub p95: f64,
    /// Viewer-weighted 99th percentile.
    pub p99: f64,
    /// Equal-width bins from `min` to the 99.5th percentile, the values
    /// beyond folded into the last bin so one outlier cannot squash the
    /// rest into a single bar.
    pub bins: Vec<Bin>,
}

/// The most bins a histogram may have.
pub const MAX_BINS: usize = 1_000;

impl Distribution {
    /// The distribution of `metric` over `samples` in `bins` bins (1 to
    /// [`MAX_BINS`]). Samples without the metric are left out; `None` when
    /// none has it. Sorts a copy of the values: O(n log n).
    ///
    /// ```
    /// use streammon_core::pipeline::Distribution;
    /// use streammon_core::{Metric, SimConfig, Simulator};
    /// let frame = Simulator::new(SimConfig::default())?.next_frame();
    /// let d = Distribution::compute(&frame.samples, Metric::StartupTimeMs, 20)?.expect("samples");
    /// assert!(d.min <= d.median && d.median <= d.p95 && d.p95 <= d.p99 && d.p99 <= d.max);
    /// let total: f64 = d.bins.iter().map(|b| b.share).sum();
    /// assert!((total - 1.0).abs() < 1e-9);
    /// # Ok::<(), streammon_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming `bins` when it is out of range.
    pub fn compute(samples: &[Sample], metric: Metric, bins: usize) -> Result<Option<Self>> {
        if !(1..=MAX_BINS).contains(&bins) {
            return Err(Error::config("bins", format!("{bins} is not within 1..={MAX_BINS}")));
        }
        let mut points: Vec<(f64, f64)> = samples
            .iter()
            .filter_map(|s| s.get(metric).filter(|v| v.is_finite()).map(|v| (v, f64::from(s.viewers.max(1)))))
            .collect();
        if points.is_empty() {
            return Ok(None);
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = points.iter().map(|p| p.1).sum();
        let mean = points.iter().map(|p| p.0 * p.1).sum::<f64>() / total;
        let quantile = |q: f64| {
            let target = q * total;
            let mut acc = 0.0;
            for &(value, weight) in &points {
                acc += weight;
                if acc >= target {
                    return value;
                }
            }
            points[points.len() - 1].0
        };
        let (min, max) = (points[0].0, points[points.len() - 1].0);
        let top = quantile(0.995).max(min);
        let width = (top - min) / bins as f64;
        let mut shares = vec![0.0; bins];
        for &(value, weight) in &points {
            let i = if width > 0.0 { (((value - min) / width) as usize).min(bins - 1) } else { 0 };
            shares[i] += weight / total;
        }
        let bins = shares
            .into_iter()
            .enumerate()
            .map(|(i, share)| Bin {
                low: min + width * i as f64,
                high: if i + 1 == bins { max.max(min + width * bins as f64) } else { min + width * (i + 1) as f64 },
                share,
            })
            .collect();
        Ok(Some(Self {
            metric,
            samples: points.len() as u64,
            min,
            max,
            mean,
            median: quantile(0.5),
            p95: quantile(0.95),
            p99: quantile(0.99),
            bins,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{SimConfig, Simulator};
    use proptest::prelude::*;

    fn samples(values: &[(f64, u32)]) -> Vec<Sample> {
        let base = Simulator::new(SimConfig::default()).unwrap().next_frame().samples.remove(0);
        values.iter().map(|&(v, viewers)| Sample { startup_time_ms: v, viewers, ..base.clone() }).collect()
    }

    #[test]
    fn quantiles_are_weighted_by_viewers() {
        // 90 viewers at 1 s, 10 at 10 s: the median viewer waits 1 s, the
        // p95 viewer 10 s.
        let d = Distribution::compute(&samples(&[(1_000.0, 90), (10_000.0, 10)]), Metric::StartupTimeMs, 9)
            .unwrap()
            .unwrap();
        assert_eq!(d.median, 1_000.0);
        assert_eq!(d.p95, 10_000.0);
        assert!((d.mean - 1_900.0).abs() < 1e-9);
        assert!((d.bins[0].share - 0.9).abs() < 1e-9);
        assert!((d.bins[8].share - 0.1).abs() < 1e-9);
    }

    #[test]
    fn bad_bins_and_no_samples() {
        assert!(Distribution::compute(&[], Metric::LatencyMs, 0).is_err());
        assert_eq!(Distribution::compute(&[], Metric::LatencyMs, 10).unwrap(), None);
        let one = Distribution::compute(&samples(&[(5.0, 0)]), Metric::StartupTimeMs, 4).unwrap().unwrap();
        assert_eq!((one.min, one.max, one.median), (5.0, 5.0, 5.0));
        assert_eq!(one.bins[0].share, 1.0);
    }

    proptest! {
        #[test]
        fn quantiles_are_ordered_and_bins_sum_to_one(
            values in proptest::collection::vec((0.0f64..1e6, 0u32..10_000), 1..200),
            bins in 1usize..50,
        ) {
            let d = Distribution::compute(&samples(&values), Metric::StartupTimeMs, bins).unwrap().unwrap();
            prop_assert!(d.min <= d.median && d.median <= d.p95 && d.p95 <= d.p99 && d.p99 <= d.max);
            prop_assert!(d.min <= d.mean + 1e-6 && d.mean <= d.max + 1e-6);
            let total: f64 = d.bins.iter().map(|b| b.share).sum();
            prop_assert!((total - 1.0).abs() < 1e-9);
            prop_assert_eq!(d.bins.len(), bins);
        }
    }
}
