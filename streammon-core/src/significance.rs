//! Practical significance: how far a figure must move before it matters
//! to viewers, and what a detector's verdict becomes once that is asked.
//!
//! A detector answers "is this unusual for this series?". On a calm,
//! well-measured series the answer can be yes for a move nobody would act
//! on: a bitrate 0.015 % under its usual level is unusual for a series
//! that never moves, and worthless at 3 a.m. A [`Floor`] per metric says
//! how much a value must differ from what was expected to matter, as a
//! fraction of the expected value (`relative`) *and* in the metric's own
//! unit (`absolute`): latency must move by 20 % and by 10 ms, buffering by
//! half a percentage point. [`judge`] then makes a point an anomaly only
//! when it is both statistically unusual and materially different, and
//! keeps the expected range honest: inside the metric's [domain]
//! (`Metric::domain`), containing the value that was expected, and never
//! containing a flagged value.
//!
//! [domain]: crate::Metric::domain
//!
//! ```
//! use streammon_core::significance::{Floors, judge};
//! use streammon_core::{Band, Metric, Verdict, Reason};
//!
//! let floors = Floors::default();
//! // A detector flags a bitrate 0.015 % under a band of 6671–6683 kbps…
//! let v = Verdict::new(0.93, Some(Band::new(6_671.0, 6_683.0)), Some(Reason::Below));
//! let (judged, baseline) = judge(v, 6_670.0, floors.get(Metric::BitrateKbps), Metric::BitrateKbps.domain());
//! assert!(judged.score < 0.5 && judged.reason.is_none(), "under the 5 % floor: not an anomaly");
//! assert_eq!(baseline, Some(6_677.0));
//! assert!(judged.expected.unwrap().contains(6_670.0));
//! // …and a rate's range never goes below zero.
//! let v = Verdict::new(0.2, Some(Band::new(-0.0005, 0.0034)), None);
//! let (judged, _) = judge(v, 0.002, floors.get(Metric::ErrorRate), Metric::ErrorRate.domain());
//! assert!(judged.expected.unwrap().low >= 0.0);
//! ```

use serde::{Deserialize, Serialize};

use crate::detect::{Band, Detector, Point, Reason, Verdict};
use crate::error::{Error, Result};
use crate::sample::Metric;

/// How far a value must be from the expected value to matter: at least
/// `relative × |expected|` and at least `absolute`, whichever is larger.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    /// Fraction of the expected value, within [0, 10]: 0.2 is 20 %.
    /// Required.
    pub relative: f64,
    /// In the metric's own unit (milliseconds, a ratio, kbps, viewers), at
    /// least 0. Required.
    pub absolute: f64,
}

impl Floor {
    /// No floor: any statistically unusual move matters.
    pub const NONE: Floor = Floor { relative: 0.0, absolute: 0.0 };

    /// A floor of `relative` (a fraction) and `absolute` (the metric's
    /// unit).
    pub const fn new(relative: f64, absolute: f64) -> Self {
        Self { relative, absolute }
    }

    /// The smallest move from `expected` that matters.
    ///
    /// ```
    /// use streammon_core::significance::Floor;
    /// let latency = Floor::new(0.2, 10.0);
    /// assert_eq!(latency.half_width(30.0), 10.0); // 20 % of 30 ms is 6 ms: the 10 ms win
    /// assert_eq!(latency.half_width(200.0), 40.0);
    /// ```
    pub fn half_width(&self, expected: f64) -> f64 {
        let relative = self.relative * expected.abs();
        if relative.is_finite() { relative.max(self.absolute) } else { self.absolute }
    }

    /// Whether `value` is materially different from `expected`.
    pub fn clears(&self, expected: f64, value: f64) -> bool {
        let d = (value - expected).abs();
        let w = self.half_width(expected);
        d.is_finite() && if w > 0.0 { d >= w } else { d > 0.0 }
    }

    /// How material a move is: 0 at no move, 0.5 exactly on the floor,
    /// approaching 1 far beyond it (`m² / (1 + m²)` of the move in floors,
    /// `m`); 1 for any move when there is no floor.
    pub fn score(&self, expected: f64, value: f64) -> f64 {
        let d = (value - expected).abs();
        let w = self.half_width(expected);
        if !d.is_finite() {
            return if d.is_nan() { 0.0 } else { 1.0 };
        }
        if w <= 0.0 {
            return if d > 0.0 { 1.0 } else { 0.0 };
        }
        let m = d / w;
        let m2 = m * m;
        if m2.is_finite() { m2 / (1.0 + m2) } else { 1.0 }
    }

    fn validate(&self, field: &str) -> Result<()> {
        if !(self.relative.is_finite() && (0.0..=10.0).contains(&self.relative)) {
            return Err(Error::config(
                format!("{field}.relative"),
                format!("{} must be within [0, 10]", self.relative),
            ));
        }
        if !(self.absolute.is_finite() && self.absolute >= 0.0) {
            return Err(Error::config(format!("{field}.absolute"), format!("{} must be at least 0", self.absolute)));
        }
        Ok(())
    }
}

macro_rules! floors {
    ($($(#[$doc:meta])* $field:ident: $metric:ident = ($rel:expr, $abs:expr);)*) => {
        /// The [`Floor`] of every metric of the sample schema. In TOML, a
        /// `[pipeline.floors]` table with one inline table per metric to
        /// change, both fields given:
        ///
        /// ```toml
        /// [pipeline.floors]
        /// latency_ms = { relative = 0.25, absolute = 20 }
        /// ```
        ///
        /// The defaults are what a video operator would act on; see
        /// `docs/DETECTION.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Floors {
            $($(#[$doc])* pub $field: Floor,)*
        }

        impl Default for Floors {
            fn default() -> Self {
                Self { $($field: Floor::new($rel, $abs),)* }
            }
        }

        impl Floors {
            /// The floor of `metric`.
            pub fn get(&self, metric: Metric) -> Floor {
                match metric { $(Metric::$metric => self.$field,)* }
            }

            /// No floor for any metric: every statistically unusual point
            /// is an anomaly.
            pub fn none() -> Self {
                Self { $($field: Floor::NONE,)* }
            }

            /// Checks every floor.
            ///
            /// # Errors
            /// [`Error::InvalidConfig`] naming the field, e.g.
            /// `floors.latency_ms.relative`.
            pub fn validate(&self) -> Result<()> {
                $(self.$field.validate(concat!("floors.", stringify!($field)))?;)*
                Ok(())
            }
        }
    };
}

floors! {
    /// Concurrent viewers: 10 % and 50 viewers. Defaults to that.
    viewers: Viewers = (0.10, 50.0);
    /// Sessions started per tick: 25 % and 20. Defaults to that.
    joins: Joins = (0.25, 20.0);
    /// Sessions ended per tick: 25 % and 20. Defaults to that.
    exits: Exits = (0.25, 20.0);
    /// Mean watch time: 10 % and 30 s. Defaults to that.
    avg_watch_time_s: AvgWatchTimeS = (0.10, 30.0);
    /// Segment latency: 20 % and 10 ms. Defaults to that.
    latency_ms: LatencyMs = (0.20, 10.0);
    /// Live glass-to-glass latency: 20 % and 1 s. Defaults to that.
    e2e_latency_ms: E2eLatencyMs = (0.20, 1_000.0);
    /// Startup time: 20 % and 200 ms. Defaults to that.
    startup_time_ms: StartupTimeMs = (0.20, 200.0);
    /// Share of watch time spent stalled: half a percentage point.
    /// Defaults to that.
    buffering_ratio: BufferingRatio = (0.0, 0.005);
    /// Rebuffer events per tick: 25 % and 2 events. Defaults to that.
    rebuffer_events: RebufferEvents = (0.25, 2.0);
    /// Delivered bitrate: 5 %. Defaults to that.
    bitrate_kbps: BitrateKbps = (0.05, 0.0);
    /// Segment size: 5 %. Defaults to that.
    segment_size_kb: SegmentSizeKb = (0.05, 0.0);
    /// Egress: 10 % and 1 Mbps. Defaults to that.
    bandwidth_mbps: BandwidthMbps = (0.10, 1.0);
    /// Share of failed segment requests: half a percentage point.
    /// Defaults to that.
    error_rate: ErrorRate = (0.0, 0.005);
}

/// The largest score below 0.5: what a flagged point that turned out to
/// be inside its range is capped at.
const BELOW_HALF: f64 = 0.5 - f64::EPSILON;

/// A detector's verdict on `value`, made material and kept inside the
/// metric's `domain` (`(low, high)`, see [`Metric::domain`]).
///
/// The expected value is the middle of the detector's band. The range
/// becomes the wider of the detector's band and the floor's (the expected
/// value ± [`Floor::half_width`]), clipped to the domain; the score
/// becomes the smaller of the detector's and the floor's
/// ([`Floor::score`]), so a point reaches 0.5 only when it is both
/// unusual and material. Whatever the detector said, the result keeps the
/// contract every verdict keeps: a point scoring 0.5 or more lies outside
/// its range, a value inside it scores less, and the range holds the
/// expected value. Returns the verdict and the expected value (clipped to
/// the domain), `None` when the detector gave no band.
pub fn judge(verdict: Verdict, value: f64, floor: Floor, domain: (f64, f64)) -> (Verdict, Option<f64>) {
    let Some(band) = verdict.expected.filter(|b| b.low.is_finite() && b.high.is_finite()) else {
        // Nothing to measure a move against: never an anomaly.
        return (Verdict::new(verdict.score.min(BELOW_HALF), None, None), None);
    };
    let clip = |x: f64| x.clamp(domain.0, domain.1);
    let expected = clip(band.low + (band.high - band.low) / 2.0);
    let w = floor.half_width(expected);
    let range = Band::new(clip(band.low.min(expected - w)), clip(band.high.max(expected + w)));
    let mut score = verdict.score.min(floor.score(expected, value));
    if !value.is_finite() || range.contains(value) {
        score = score.min(BELOW_HALF);
    }
    // A flagged point always says which way it went.
    let side = if value > expected { Reason::Above } else { Reason::Below };
    let reason = (score >= 0.5).then(|| verdict.reason.unwrap_or(side));
    (Verdict::new(score, Some(range), reason), Some(expected))
}

/// A detector whose verdicts are [`judge`]d against a floor and a domain:
/// cross-cutting significance as a wrapper, itself a [`Detector`].
///
/// ```
/// use streammon_core::detect::DetectorConfig;
/// use streammon_core::significance::{Floors, Material};
/// use streammon_core::{Detector, Metric, Point};
///
/// let inner = DetectorConfig::from_name("zscore")?.build()?;
/// let m = Metric::LatencyMs;
/// let mut d = Material::new(inner, Floors::default().get(m), m.domain());
/// for i in 0..200 {
///     d.update(Point::new(i * 1_000, 30.0 + (i % 3) as f64 * 0.1));
/// }
/// // 5 ms above a calm 30 ms series: unusual, but not the 10 ms that matter.
/// assert!(d.update(Point::new(200_000, 35.0)).score < 0.5);
/// assert!(d.update(Point::new(201_000, 60.0)).score >= 0.5);
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Material<D> {
    inner: D,
    floor: Floor,
    domain: (f64, f64),
}

impl<D: Detector> Material<D> {
    /// Wraps `inner` with a `floor` and a `domain`.
    pub fn new(inner: D, floor: Floor, domain: (f64, f64)) -> Self {
        Self { inner, floor, domain }
    }
}

impl<D: Detector> Detector for Material<D> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn update(&mut self, point: Point) -> Verdict {
        let verdict = self.inner.update(point);
        if !point.value.is_finite() {
            return verdict;
        }
        judge(verdict, point.value, self.floor, self.domain).0
    }

    fn state_bytes(&self) -> usize {
        self.inner.state_bytes() + std::mem::size_of::<Floor>() + std::mem::size_of::<(f64, f64)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_issue_examples_are_not_anomalies() {
        let f = Floors::default();
        // A 2 % bitrate dip flagged critical by a calm series' detector.
        let v = Verdict::new(0.99, Some(Band::new(7_651.0, 7_724.0)), Some(Reason::Below));
        let (j, _) = judge(v, 7_500.0, f.get(Metric::BitrateKbps), Metric::BitrateKbps.domain());
        assert!(j.score < 0.5, "{j:?}");
        // Latency 5 ms up on 25 ms: 20 % but not 10 ms.
        let v = Verdict::new(0.99, Some(Band::new(24.0, 26.0)), Some(Reason::Above));
        let (j, e) = judge(v, 30.0, f.get(Metric::LatencyMs), Metric::LatencyMs.domain());
        assert!(j.score < 0.5 && e == Some(25.0), "{j:?}");
        // The same series at 40 ms is both unusual and material.
        let (j, _) = judge(v, 40.0, f.get(Metric::LatencyMs), Metric::LatencyMs.domain());
        assert!(j.score >= 0.5 && j.reason == Some(Reason::Above), "{j:?}");
        assert!(!j.expected.unwrap().contains(40.0));
    }

    #[test]
    fn floors_read_from_toml_name_their_fields() {
        let floors: Floors = toml::from_str("latency_ms = { relative = 0.3, absolute = 25 }").unwrap();
        assert_eq!(floors.latency_ms, Floor::new(0.3, 25.0));
        assert_eq!(floors.bitrate_kbps, Floors::default().bitrate_kbps);
        let err = toml::from_str::<Floors>("latency = { relative = 0.3, absolute = 25 }").unwrap_err();
        assert!(err.to_string().contains("unknown field `latency`"), "{err}");
        let err = toml::from_str::<Floors>("latency_ms = { relative = 0.3 }").unwrap_err();
        assert!(err.to_string().contains("absolute"), "{err}");
        let bad = Floors { error_rate: Floor::new(-0.1, 0.0), ..Floors::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("floors.error_rate.relative"));
        Floors::default().validate().unwrap();
    }

    proptest! {
        /// Whatever a detector says, the judged verdict keeps the contract.
        #[test]
        fn judged_verdicts_keep_the_contract(
            score in 0.0f64..=1.0,
            centre in -10.0f64..1e4,
            half in 0.0f64..1e3,
            value in 0.0f64..1e4,
            relative in 0.0f64..1.0,
            absolute in 0.0f64..100.0,
            ratio in any::<bool>(),
        ) {
            let domain = if ratio { (0.0, 1.0) } else { (0.0, f64::INFINITY) };
            let value = if ratio { value / 1e4 } else { value };
            let v = Verdict::new(score, Some(Band::new(centre - half, centre + half)), Some(Reason::Above));
            let (j, expected) = judge(v, value, Floor::new(relative, absolute), domain);
            let band = j.expected.unwrap();
            let expected = expected.unwrap();
            prop_assert!(band.low <= band.high && band.low >= domain.0 && band.high <= domain.1, "{band:?}");
            prop_assert!(band.contains(expected), "{band:?} lacks {expected}");
            prop_assert!(j.score <= score);
            if j.score >= 0.5 {
                prop_assert!(!band.contains(value) && j.reason.is_some(), "{j:?} for {value}");
            } else {
                prop_assert!(j.reason.is_none());
            }
        }

        #[test]
        fn the_floor_score_is_half_on_the_floor_and_grows(expected in 1.0f64..1e4, k in 0.0f64..50.0) {
            let f = Floor::new(0.1, 5.0);
            let w = f.half_width(expected);
            prop_assert!((f.score(expected, expected + w) - 0.5).abs() < 1e-12);
            prop_assert!(f.score(expected, expected + w * (1.0 + k)) >= f.score(expected, expected + w * (1.0 + k / 2.0)));
        }
    }
}
