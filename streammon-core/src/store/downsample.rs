//! Downsampling for charts: a time range cut into equal buckets, each
//! summarised by min, max, mean and count.
//!
//! Pure and shared by every backend, so the two stores cannot disagree on
//! bucket edges. Buckets are `[start_ms, start_ms + width)`, the width being
//! the query's span divided by `points` and rounded up to a whole
//! millisecond; empty buckets are left out rather than filled, so a chart
//! shows gaps where there was no data.

use serde::{Deserialize, Serialize};

use crate::sample::{Metric, Sample};
use crate::series::SeriesKey;

/// One bucket of a downsampled series.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start of the bucket, epoch ms; it spans until the next bucket's start.
    pub start_ms: i64,
    /// Smallest value in the bucket.
    pub min: f64,
    /// Largest value in the bucket.
    pub max: f64,
    /// Arithmetic mean of the values in the bucket.
    pub mean: f64,
    /// How many samples fell in the bucket (at least 1).
    pub count: u32,
}

/// One metric series, downsampled.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoints {
    /// The series.
    pub key: SeriesKey,
    /// Its non-empty buckets, oldest first.
    pub buckets: Vec<Bucket>,
}

/// Bucket width for `points` buckets over `[from_ms, to_ms)`: at least 1 ms.
pub fn bucket_width(from_ms: i64, to_ms: i64, points: usize) -> i64 {
    let span = (to_ms - from_ms).max(1);
    let points = i64::try_from(points.max(1)).unwrap_or(i64::MAX);
    (span + points - 1) / points
}

/// Accumulates one series' samples into buckets.
///
/// Feed samples of one `(content, region)` in any order with
/// [`push`](Self::push); [`finish`](Self::finish) returns the non-empty
/// buckets oldest first. Samples outside `[from_ms, to_ms)` and samples
/// without the metric are ignored.
#[derive(Debug, Clone)]
pub struct Downsampler {
    metric: Metric,
    from_ms: i64,
    to_ms: i64,
    width: i64,
    acc: Vec<(f64, f64, f64, u32)>,
}

impl Downsampler {
    /// A downsampler of `metric` into `points` buckets over `[from_ms, to_ms)`.
    pub fn new(metric: Metric, from_ms: i64, to_ms: i64, points: usize) -> Self {
        let width = bucket_width(from_ms, to_ms, points);
        Self { metric, from_ms, to_ms, width, acc: Vec::new() }
    }

    /// Adds one sample.
    pub fn push(&mut self, sample: &Sample) {
        if let Some(value) = sample.get(self.metric) {
            self.push_value(sample.timestamp_ms, value);
        }
    }

    /// Adds one value of the metric at `ts` (for backends that read out
    /// the metric without building a [`Sample`]).
    pub fn push_value(&mut self, ts: i64, value: f64) {
        if ts < self.from_ms || ts >= self.to_ms {
            return;
        }
        let index = usize::try_from((ts - self.from_ms) / self.width).unwrap_or(0);
        if self.acc.len() <= index {
            self.acc.resize(index + 1, (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0));
        }
        let slot = &mut self.acc[index];
        slot.0 = slot.0.min(value);
        slot.1 = slot.1.max(value);
        slot.2 += value;
        slot.3 += 1;
    }

    /// The non-empty buckets, oldest first; resets the downsampler.
    pub fn finish(&mut self) -> Vec<Bucket> {
        let (from, width) = (self.from_ms, self.width);
        self.acc
            .drain(..)
            .enumerate()
            .filter(|(_, slot)| slot.3 > 0)
            .map(|(i, (min, max, sum, count))| Bucket {
                start_ms: from + i as i64 * width,
                min,
                max,
                mean: sum / f64::from(count),
                count,
            })
            .collect()
    }
}

/// Downsamples samples of any number of series (in any order) into one
/// [`SeriesPoints`] per `(content, region)` that has data, sorted by key.
pub fn by_series<'a>(
    samples: impl IntoIterator<Item = &'a Sample>,
    metric: Metric,
    from_ms: i64,
    to_ms: i64,
    points: usize,
) -> Vec<SeriesPoints> {
    let mut groups: std::collections::BTreeMap<SeriesKey, Downsampler> = std::collections::BTreeMap::new();
    for s in samples {
        groups
            .entry(SeriesKey::of(s, metric))
            .or_insert_with(|| Downsampler::new(metric, from_ms, to_ms, points))
            .push(s);
    }
    groups
        .into_iter()
        .filter_map(|(key, mut d)| {
            let buckets = d.finish();
            (!buckets.is_empty()).then_some(SeriesPoints { key, buckets })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SimConfig, Simulator};

    #[test]
    fn buckets_are_min_max_mean_of_their_samples() {
        let mut sim = Simulator::new(SimConfig::default()).unwrap();
        let base = sim.next_frame().samples[0].clone();
        let mut d = Downsampler::new(Metric::LatencyMs, 0, 100, 4);
        for (ts, v) in [(0, 10.0), (24, 30.0), (25, 5.0), (99, 7.0), (100, 1e9), (-1, 1e9)] {
            let mut s = base.clone();
            s.timestamp_ms = ts;
            s.latency_ms = v;
            d.push(&s);
        }
        let b = d.finish();
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].start_ms, b[0].min, b[0].max, b[0].mean, b[0].count), (0, 10.0, 30.0, 20.0, 2));
        assert_eq!((b[1].start_ms, b[1].count, b[1].mean), (25, 1, 5.0));
        assert_eq!((b[2].start_ms, b[2].count), (75, 1));
    }

    #[test]
    fn width_rounds_up_and_never_is_zero() {
        assert_eq!(bucket_width(0, 10, 3), 4);
        assert_eq!(bucket_width(0, 0, 3), 1);
        assert_eq!(bucket_width(5, 6, 100), 1);
    }
}
