//! Capacity warnings: say before a forecast crosses a limit, not after.

use serde::{Deserialize, Serialize};

use super::config::ForecasterConfig;
use super::{Forecast, Forecaster};
use crate::detect::Point;
use crate::error::{Error, Result};

/// Which part of the forecast has to reach the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The point forecast: warn when the series is expected to cross.
    #[default]
    Point,
    /// The upper bound of the prediction interval: warn when crossing is
    /// plausible at the configured level. Earlier, and noisier.
    Upper,
}

/// A forecast that reaches a limit.
///
/// ```
/// use streammon_core::forecast::CapacityWarning;
/// let w = CapacityWarning {
///     timestamp_ms: 1_000,
///     crossing_ms: 61_000,
///     limit: 100.0,
///     predicted_value: 104.0,
///     confidence_interval: [96.0, 112.0],
///     lead_ms: 60_000,
/// };
/// assert_eq!(
///     serde_json::to_string(&w)?,
///     r#"{"timestamp_ms":1000,"crossing_ms":61000,"limit":100.0,"predicted_value":104.0,"confidence_interval":[96.0,112.0],"lead_ms":60000}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapacityWarning {
    /// When the warning was made: the last observation, epoch ms.
    pub timestamp_ms: i64,
    /// The first forecast step at or over the limit, epoch ms.
    pub crossing_ms: i64,
    /// The limit, in the series' unit.
    pub limit: f64,
    /// The point forecast at `crossing_ms`.
    pub predicted_value: f64,
    /// The prediction interval at `crossing_ms`, `[low, high]`.
    pub confidence_interval: [f64; 2],
    /// `crossing_ms − timestamp_ms`: how long there is to act. Zero or
    /// less only while [`CapacityWatch`] holds a warning whose predicted
    /// crossing time has passed.
    pub lead_ms: i64,
}

impl CapacityWarning {
    /// How serious the warning is, on the detectors' scale: 0.5 when the
    /// forecast just reaches the limit, rising linearly to 1 at twice it.
    ///
    /// ```
    /// # use streammon_core::forecast::CapacityWarning;
    /// let w = CapacityWarning { timestamp_ms: 0, crossing_ms: 60_000, limit: 100.0, predicted_value: 150.0, confidence_interval: [140.0, 160.0], lead_ms: 60_000 };
    /// assert_eq!(w.score(), 0.75);
    /// ```
    pub fn score(&self) -> f64 {
        0.5 + 0.5 * (self.predicted_value / self.limit - 1.0).clamp(0.0, 1.0)
    }
}

/// The first step of `forecast` that reaches `limit`, as a warning made at
/// `now_ms`; `None` when no step does.
///
/// ```
/// use streammon_core::Forecast;
/// use streammon_core::forecast::{Trigger, first_crossing};
/// let steps = [
///     Forecast { timestamp_ms: 10, value: 90.0, low: 80.0, high: 101.0 },
///     Forecast { timestamp_ms: 20, value: 100.0, low: 88.0, high: 112.0 },
/// ];
/// assert_eq!(first_crossing(0, &steps, 100.0, Trigger::Point).unwrap().crossing_ms, 20);
/// assert_eq!(first_crossing(0, &steps, 100.0, Trigger::Upper).unwrap().crossing_ms, 10);
/// assert!(first_crossing(0, &steps, 120.0, Trigger::Upper).is_none());
/// ```
pub fn first_crossing(now_ms: i64, forecast: &[Forecast], limit: f64, trigger: Trigger) -> Option<CapacityWarning> {
    forecast
        .iter()
        .find(|f| match trigger {
            Trigger::Point => f.value >= limit,
            Trigger::Upper => f.high >= limit,
        })
        .map(|f| CapacityWarning {
            timestamp_ms: now_ms,
            crossing_ms: f.timestamp_ms,
            limit,
            predicted_value: f.value,
            confidence_interval: [f.low, f.high],
            lead_ms: f.timestamp_ms - now_ms,
        })
}

/// Configuration of a [`CapacityWatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CapacityWatchConfig {
    /// The limit, in the series' unit (e.g. a region's capacity in Mbps);
    /// finite. Defaults to infinity, which never warns: set it.
    pub limit: f64,
    /// Forecast steps to look ahead, 1 to 10 000. Defaults to 15.
    pub horizon: usize,
    /// Level of the prediction intervals, within (0, 1). Defaults to 0.95.
    pub level: f64,
    /// Whether the point forecast or the interval's upper bound has to
    /// reach the limit. Defaults to `point`.
    pub trigger: Trigger,
    /// Consecutive crossing forecasts that raise a warning, at least 1.
    /// Defaults to 2.
    pub raise_after: u32,
    /// Consecutive forecasts below `clear_ratio × limit` that clear it, at
    /// least 1. Defaults to 6.
    pub clear_after: u32,
    /// Fraction of the limit the forecast must fall below to count toward
    /// clearing, within (0, 1]. Defaults to 0.95.
    pub clear_ratio: f64,
    /// The forecaster. Defaults to Holt-Winters with its defaults.
    pub forecaster: ForecasterConfig,
}

impl Default for CapacityWatchConfig {
    fn default() -> Self {
        Self {
            limit: f64::INFINITY,
            horizon: 15,
            level: 0.95,
            trigger: Trigger::Point,
            raise_after: 2,
            clear_after: 6,
            clear_ratio: 0.95,
            forecaster: ForecasterConfig::default(),
        }
    }
}

impl CapacityWatchConfig {
    /// Checks every field, the forecaster's included.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field, e.g. `capacity.limit`.
    pub fn validate(&self) -> Result<()> {
        if self.limit.is_nan() || self.limit == f64::NEG_INFINITY {
            return Err(Error::config("capacity.limit", format!("{} must be a number", self.limit)));
        }
        if !(1..=10_000).contains(&self.horizon) {
            return Err(Error::config("capacity.horizon", format!("{} must be within 1 to 10000", self.horizon)));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::config("capacity.level", format!("{} must be within (0, 1)", self.level)));
        }
        if self.raise_after == 0 {
            return Err(Error::config("capacity.raise_after", "0 must be at least 1"));
        }
        if self.clear_after == 0 {
            return Err(Error::config("capacity.clear_after", "0 must be at least 1"));
        }
        if !(self.clear_ratio > 0.0 && self.clear_ratio <= 1.0) {
            return Err(Error::config("capacity.clear_ratio", format!("{} must be within (0, 1]", self.clear_ratio)));
        }
        self.forecaster.validate()
    }
}

/// Watches one series against a limit.
///
/// [`first_crossing`] reads one forecast and reports the first step whose
/// point forecast (or, with [`Trigger::Upper`], the upper bound of its
/// interval) reaches the limit. A `CapacityWatch` owns a forecaster for
/// one series, such as a region's egress in Mbps against its capacity,
/// and turns the forecast after every point into a warning that does not
/// flap: it is raised after `raise_after` consecutive crossing forecasts
/// and cleared only after `clear_after` consecutive forecasts that stay
/// below `clear_ratio × limit`.
///
/// A [`CapacityWarning`] is what the server sends as a `prediction`: the
/// predicted value and its `confidence_interval` at the crossing.
///
/// ```
/// use streammon_core::forecast::{CapacityWatch, CapacityWatchConfig};
/// use streammon_core::Point;
/// let mut watch = CapacityWatch::new(CapacityWatchConfig { limit: 200.0, ..CapacityWatchConfig::default() })?;
/// let mut warned_at = None;
/// for t in 0..200 {
///     let value = 100.0 + if t < 100 { 0.0 } else { 2.0 * f64::from(t - 100) }; // crosses at t = 150
///     if let Some(w) = watch.update(Point::new(i64::from(t) * 10_000, value)) {
///         warned_at.get_or_insert(w.timestamp_ms);
///     }
/// }
/// assert!(warned_at.unwrap() < 1_500_000);
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug)]
pub struct CapacityWatch {
    config: CapacityWatchConfig,
    forecaster: Box<dyn Forecaster>,
    buf: Vec<Forecast>,
    /// The warning in force, if any.
    active: Option<CapacityWarning>,
    crossing_streak: u32,
    clear_streak: u32,
}

impl CapacityWatch {
    /// Builds a watch and its forecaster after validating `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first invalid field.
    pub fn new(config: CapacityWatchConfig) -> Result<Self> {
        config.validate()?;
        let forecaster = config.forecaster.build()?;
        Ok(Self {
            buf: Vec::with_capacity(config.horizon),
            config,
            forecaster,
            active: None,
            crossing_streak: 0,
            clear_streak: 0,
        })
    }

    /// The limit watched.
    pub fn limit(&self) -> f64 {
        self.config.limit
    }

    /// The forecaster, e.g. to read its forecast for a chart.
    pub fn forecaster(&self) -> &dyn Forecaster {
        self.forecaster.as_ref()
    }

    /// The last forecast, made after the last point.
    pub fn last_forecast(&self) -> &[Forecast] {
        &self.buf
    }

    /// Feeds one point and returns the warning in force after it: fresh
    /// when the new forecast crosses, the last crossing one (with its
    /// `timestamp_ms` and `lead_ms` brought up to date) while hysteresis
    /// holds it, `None` otherwise. `NaN` points are skipped.
    pub fn update(&mut self, point: Point) -> Option<CapacityWarning> {
        if !point.value.is_finite() {
            return self.active;
        }
        self.forecaster.update(point);
        self.buf.clear();
        self.forecaster.forecast(self.config.horizon, self.config.level, &mut self.buf);
        let now = point.timestamp_ms;
        let crossing = first_crossing(now, &self.buf, self.config.limit, self.config.trigger);
        let peak = self
            .buf
            .iter()
            .map(|f| match self.config.trigger {
                Trigger::Point => f.value,
                Trigger::Upper => f.high,
            })
            .fold(f64::NEG_INFINITY, f64::max);
        let below = self.buf.is_empty() || peak < self.config.clear_ratio * self.config.limit;
        match crossing {
            Some(warning) => {
                self.crossing_streak = self.crossing_streak.saturating_add(1);
                self.clear_streak = 0;
                if self.active.is_some() || self.crossing_streak >= self.config.raise_after {
                    self.active = Some(warning);
                }
            }
            None => {
                self.crossing_streak = 0;
                self.clear_streak = if below { self.clear_streak.saturating_add(1) } else { 0 };
                if self.clear_streak >= self.config.clear_after {
                    self.active = None;
                }
                if let Some(held) = &mut self.active {
                    held.timestamp_ms = now;
                    held.lead_ms = held.crossing_ms - now;
                }
            }
        }
        self.active
    }

    /// Bytes of state held, the forecaster's included.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.forecaster.state_bytes()
            + self.buf.capacity() * std::mem::size_of::<Forecast>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::SeasonalNaiveConfig;

    fn naive_watch(limit: f64) -> CapacityWatch {
        CapacityWatch::new(CapacityWatchConfig {
            limit,
            horizon: 3,
            raise_after: 2,
            clear_after: 3,
            forecaster: ForecasterConfig::Naive(SeasonalNaiveConfig::default()),
            ..CapacityWatchConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn raises_after_consecutive_crossings_and_clears_with_hysteresis() {
        let mut watch = naive_watch(10.0);
        let values = [5.0, 5.0, 11.0, 12.0, 9.8, 11.0, 9.0, 9.0, 9.0, 9.0, 9.0];
        let active: Vec<bool> =
            values.iter().enumerate().map(|(t, &v)| watch.update(Point::new(t as i64 * 1_000, v)).is_some()).collect();
        // Raised at the second crossing; 9.8 is above 0.95 × 10, so it
        // holds; then three forecasts below 9.5 clear it.
        assert_eq!(active, [false, false, false, true, true, true, true, true, false, false, false]);
    }

    #[test]
    fn held_warnings_keep_their_crossing_and_age() {
        let mut watch = naive_watch(10.0);
        for (t, v) in [(0, 5.0), (1, 11.0), (2, 11.0)] {
            watch.update(Point::new(t * 1_000, v));
        }
        let w = watch.update(Point::new(3_000, 9.9)).unwrap();
        assert_eq!((w.timestamp_ms, w.crossing_ms, w.lead_ms), (3_000, 3_000, 0));
    }

    proptest::proptest! {
        /// The warning names the first step at or over the limit, and no
        /// earlier step reaches it.
        #[test]
        fn first_crossing_is_the_first(values in proptest::collection::vec(0.0f64..100.0, 0..30), limit in 0.0f64..100.0) {
            let steps: Vec<Forecast> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| Forecast { timestamp_ms: 10 * (i as i64 + 1), value: v, low: v - 5.0, high: v + 5.0 })
                .collect();
            for trigger in [Trigger::Point, Trigger::Upper] {
                let reach = |f: &Forecast| if trigger == Trigger::Point { f.value } else { f.high } >= limit;
                match first_crossing(0, &steps, limit, trigger) {
                    Some(w) => {
                        let i = (w.crossing_ms / 10 - 1) as usize;
                        proptest::prop_assert!(reach(&steps[i]) && !steps[..i].iter().any(reach));
                        proptest::prop_assert_eq!(w.lead_ms, w.crossing_ms);
                        proptest::prop_assert_eq!(w.predicted_value, steps[i].value);
                    }
                    None => proptest::prop_assert!(!steps.iter().any(reach)),
                }
            }
        }
    }

    #[test]
    fn validation_names_the_field() {
        let bad = [
            (CapacityWatchConfig { limit: f64::NAN, ..Default::default() }, "capacity.limit"),
            (CapacityWatchConfig { horizon: 0, ..Default::default() }, "capacity.horizon"),
            (CapacityWatchConfig { level: 1.0, ..Default::default() }, "capacity.level"),
            (CapacityWatchConfig { raise_after: 0, ..Default::default() }, "capacity.raise_after"),
            (CapacityWatchConfig { clear_ratio: 0.0, ..Default::default() }, "capacity.clear_ratio"),
        ];
        for (config, field) in bad {
            let err = CapacityWatch::new(config).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
    }
}
