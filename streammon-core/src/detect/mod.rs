//! Anomaly detection: the traits at the seam and the types they exchange.
//!
//! A [`Detector`] follows one univariate series: it observes one
//! timestamped [`Point`] at a time, in constant memory, and returns a
//! [`Verdict`]: an anomaly score in [0, 1], the range it expected, and why
//! it thinks the point is unusual. A [`VectorDetector`] does the same for
//! a vector of metrics of one stream. Both are object safe, so a registry
//! can hold `Box<dyn Detector>` picked by name.
//!
//! Scoring a whole slice is a default method built on `update`; outputs go
//! into a buffer the caller owns.

mod auto;
mod calibrate;
mod check;
mod cusum;
mod embedding;
mod ewma_chart;
mod iforest_tree;
mod iforest_window;
mod isolation_forest;
mod kmeans;
mod kmeans_lloyd;
mod mad;
mod profile;
mod registry;
pub(crate) mod score;
mod seasonal;
mod wrap;
mod zscore;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use auto::{Auto, AutoConfig};
pub use calibrate::{Calibrated, Calibrator};
pub use cusum::{Cusum, CusumConfig};
pub use embedding::LagEmbedding;
pub use ewma_chart::{EwmaChart, EwmaConfig};
pub use isolation_forest::{IsolationForest, IsolationForestConfig, MAX_DIMENSIONS};
pub use kmeans::{KMeans, KMeansConfig};
pub use mad::{Mad, MadConfig};
pub use registry::{DETECTOR_NAMES, DetectorConfig, Gate};
pub use seasonal::{Seasonal, SeasonalConfig};
pub use wrap::{Ensemble, MinWeight, Persistence, Warmup};
pub use zscore::{ZScore, ZScoreConfig};

/// One observation of a univariate series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// When, epoch milliseconds.
    pub timestamp_ms: i64,
    /// The value; `NaN` (or an infinity) marks a missing value, which
    /// detectors skip without changing their state.
    pub value: f64,
    /// How many viewers the value speaks for (1 when unknown); wrappers
    /// that gate out thin series read it.
    pub weight: f64,
}

impl Point {
    /// A point with weight 1.
    pub const fn new(timestamp_ms: i64, value: f64) -> Self {
        Self { timestamp_ms, value, weight: 1.0 }
    }

    /// The same point with a weight.
    pub const fn with_weight(self, weight: f64) -> Self {
        Self { weight, ..self }
    }
}

/// The range of values a detector considered normal, inclusive.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Lowest normal value.
    pub low: f64,
    /// Highest normal value.
    pub high: f64,
}

impl Band {
    /// A band; `low` and `high` are swapped if given in the wrong order.
    pub fn new(low: f64, high: f64) -> Self {
        if low <= high { Self { low, high } } else { Self { low: high, high: low } }
    }

    /// Whether `value` lies within the band.
    pub fn contains(&self, value: f64) -> bool {
        (self.low..=self.high).contains(&value)
    }
}

/// Why a point looks unusual.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Above the expected range.
    Above,
    /// Below the expected range.
    Below,
    /// The level has shifted and stayed shifted.
    LevelShift,
    /// The spread of values has changed.
    VarianceChange,
    /// The series stopped moving (a stuck sensor or a frozen stream).
    Flatline,
    /// The combination of values is unusual though each may be normal.
    UnusualPattern,
}

impl Reason {
    /// A short phrase, e.g. `above the expected range`.
    pub const fn phrase(self) -> &'static str {
        match self {
            Self::Above => "above the expected range",
            Self::Below => "below the expected range",
            Self::LevelShift => "level shift",
            Self::VarianceChange => "change in variability",
            Self::Flatline => "flat line",
            Self::UnusualPattern => "unusual combination of metrics",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.phrase())
    }
}

/// What a detector concluded about one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Anomaly score in [0, 1]; 0 is normal.
    pub score: f64,
    /// The range the detector expected, once it has seen enough data.
    pub expected: Option<Band>,
    /// Why the point looks unusual; `None` when it does not.
    pub reason: Option<Reason>,
}

impl Verdict {
    /// A normal point with no expectation yet (warming up, gated, missing).
    pub const QUIET: Verdict = Verdict { score: 0.0, expected: None, reason: None };

    /// A verdict with a score clamped into [0, 1] (NaN becomes 0).
    pub fn new(score: f64, expected: Option<Band>, reason: Option<Reason>) -> Self {
        let score = if score.is_nan() { 0.0 } else { score.clamp(0.0, 1.0) };
        Self { score, expected, reason }
    }
}

impl Default for Verdict {
    fn default() -> Self {
        Self::QUIET
    }
}

/// A streaming univariate anomaly detector.
///
/// `update` runs in constant time and memory and does not allocate once
/// the detector is warm; it cannot fail, because configuration was
/// validated when the detector was built.
pub trait Detector: fmt::Debug + Send {
    /// The registry name, e.g. `mad`.
    fn name(&self) -> &'static str;

    /// Observes one point and judges it against what came before.
    fn update(&mut self, point: Point) -> Verdict;

    /// Bytes of state this detector holds, heap included.
    fn state_bytes(&self) -> usize;

    /// Scores a slice of points in order, appending one verdict per point
    /// to `out`.
    fn update_batch(&mut self, points: &[Point], out: &mut Vec<Verdict>) {
        out.reserve(points.len());
        for &p in points {
            out.push(self.update(p));
        }
    }
}

impl<D: Detector + ?Sized> Detector for Box<D> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn update(&mut self, point: Point) -> Verdict {
        (**self).update(point)
    }
    fn state_bytes(&self) -> usize {
        (**self).state_bytes()
    }
}

/// A streaming detector over a vector of metrics of one stream (for
/// example latency, buffering, bitrate and errors of one title in one
/// region), catching combinations that are unusual together.
pub trait VectorDetector: fmt::Debug + Send {
    /// The registry name, e.g. `isolation_forest`.
    fn name(&self) -> &'static str;

    /// The number of features each observation must have.
    fn dimensions(&self) -> usize;

    /// Observes one vector of `dimensions()` values and judges it. The
    /// verdict's expected band, when given, is for the most anomalous
    /// feature, whose index is returned beside it.
    fn update(&mut self, timestamp_ms: i64, values: &[f64]) -> (Verdict, Option<usize>);

    /// Bytes of state this detector holds, heap included.
    fn state_bytes(&self) -> usize;
}

/// A point a detector judged anomalous, with everything an alert or a
/// chart needs: the input of alert rules on anomaly scores.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// When, epoch milliseconds.
    pub timestamp_ms: i64,
    /// Which series.
    pub series: crate::series::SeriesKey,
    /// The observed value.
    pub value: f64,
    /// The range of values that was expected: inside the metric's domain,
    /// holding `baseline`, and never holding `value`.
    pub expected: Option<Band>,
    /// The value that was expected (the middle of the detector's range,
    /// inside the metric's domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Anomaly score in [0, 1].
    pub score: f64,
    /// Why it looks unusual.
    pub reason: Option<Reason>,
    /// Which detector judged it, by registry name.
    pub detector: String,
    /// Viewers behind the value.
    pub viewers: u32,
}
