//! Baselines: the naive and the seasonal naive forecast.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::cadence::{Advance, Cadence, z_for_level};
use super::{Forecast, Forecaster};
use crate::detect::Point;
use crate::error::{Error, Result};

/// The registry name of the naive forecaster.
pub const NAIVE: &str = "naive";
/// The registry name of the seasonal naive forecaster.
pub const SEASONAL_NAIVE: &str = "seasonal_naive";

/// Configuration of a [`SeasonalNaive`] forecaster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeasonalNaiveConfig {
    /// Season length in steps, 1 to 100 000; 1 is the plain naive
    /// forecast. Defaults to 1.
    pub season: usize,
    /// Observations before the first forecast, at least 2. Defaults to 2.
    pub min_samples: usize,
}

impl Default for SeasonalNaiveConfig {
    fn default() -> Self {
        Self { season: 1, min_samples: 2 }
    }
}

impl SeasonalNaiveConfig {
    /// Checks every field; `prefix` names the registry entry in errors.
    pub(crate) fn validate(&self, prefix: &str) -> Result<()> {
        if !(1..=100_000).contains(&self.season) {
            return Err(Error::config(
                format!("{prefix}.season"),
                format!("{} must be within 1 to 100000", self.season),
            ));
        }
        if self.min_samples < 2 {
            return Err(Error::config(
                format!("{prefix}.min_samples"),
                format!("{} must be at least 2", self.min_samples),
            ));
        }
        Ok(())
    }
}

/// The (seasonal) naive forecast: the value one season ago, or the last
/// value with a season of 1.
///
/// The naive forecast repeats the last value; the seasonal naive forecast
/// repeats the value one season earlier. They are what a forecaster has to
/// beat to be worth its state (Hyndman & Athanasopoulos, *Forecasting:
/// Principles and Practice*, §5.2), and the tests measure
/// [`HoltWinters`](super::HoltWinters) against them.
///
/// Intervals come from the root mean squared one-step error σ of the same
/// method, widened as a random walk: σ·√(k + 1) with k = ⌊(h − 1)/m⌋
/// whole seasons ahead (§5.5).
///
/// ```
/// use streammon_core::forecast::{SeasonalNaive, SeasonalNaiveConfig};
/// use streammon_core::{Forecaster, Point};
/// let mut naive = SeasonalNaive::new(SeasonalNaiveConfig::default())?;
/// naive.update(Point::new(0, 1.0));
/// naive.update(Point::new(1_000, 3.0));
/// let mut out = Vec::new();
/// naive.forecast(2, 0.95, &mut out);
/// assert_eq!((out[1].timestamp_ms, out[1].value), (3_000, 3.0));
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SeasonalNaive {
    config: SeasonalNaiveConfig,
    cadence: Cadence,
    /// The last `season` grid steps, `NaN` where missing.
    recent: VecDeque<f64>,
    last: f64,
    sum_sq: f64,
    errors: u64,
    observed: u64,
}

impl SeasonalNaive {
    /// Builds a forecaster after validating `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn new(config: SeasonalNaiveConfig) -> Result<Self> {
        config.validate(if config.season == 1 { NAIVE } else { SEASONAL_NAIVE })?;
        Ok(Self {
            recent: VecDeque::with_capacity(config.season),
            config,
            cadence: Cadence::default(),
            last: f64::NAN,
            sum_sq: 0.0,
            errors: 0,
            observed: 0,
        })
    }

    fn push(&mut self, y: f64) {
        let m = self.config.season;
        if y.is_finite() {
            let before = if self.recent.len() == m { self.recent[0] } else { f64::NAN };
            let reference = if before.is_finite() { before } else { self.last };
            if reference.is_finite() {
                self.sum_sq += (y - reference) * (y - reference);
                self.errors += 1;
            }
            self.last = y;
            self.observed += 1;
        }
        if self.recent.len() == m {
            self.recent.pop_front();
        }
        self.recent.push_back(y);
    }
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> &'static str {
        if self.config.season == 1 { NAIVE } else { SEASONAL_NAIVE }
    }

    fn update(&mut self, point: Point) {
        if !point.value.is_finite() {
            return;
        }
        match self.cadence.advance(point.timestamp_ms) {
            Advance::Drop => {}
            Advance::First => self.push(point.value),
            Advance::Steps(k) => {
                for _ in 1..k.min(self.config.season as u64 + 1) {
                    self.push(f64::NAN);
                }
                self.push(point.value);
            }
        }
    }

    fn forecast(&self, horizon: usize, level: f64, out: &mut Vec<Forecast>) {
        let (Some(last_ms), Some(step)) = (self.cadence.last_ms(), self.cadence.step_ms()) else {
            return;
        };
        if self.observed < self.config.min_samples as u64 || !self.last.is_finite() {
            return;
        }
        let m = self.config.season;
        let sigma = if self.errors > 0 { (self.sum_sq / self.errors as f64).sqrt() } else { 0.0 };
        let z = z_for_level(level);
        let offset = m - self.recent.len().min(m);
        out.reserve(horizon);
        for h in 1..=horizon {
            let i = (h - 1) % m;
            let value = if i >= offset { self.recent[i - offset] } else { f64::NAN };
            let value = if value.is_finite() { value } else { self.last };
            let half = z * sigma * (((h - 1) / m) as f64 + 1.0).sqrt();
            out.push(Forecast {
                timestamp_ms: last_ms.saturating_add(step.saturating_mul(h as i64)),
                value,
                low: value - half,
                high: value + half,
            });
        }
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + 8 * self.recent.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_the_last_season_and_fills_holes_with_the_last_value() {
        let mut f = SeasonalNaive::new(SeasonalNaiveConfig { season: 3, min_samples: 2 }).unwrap();
        for (t, v) in [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (5, 6.0)] {
            f.update(Point::new(t * 1_000, v));
        }
        // The last three steps are 4, missing, 6.
        let mut out = Vec::new();
        f.forecast(4, 0.95, &mut out);
        let values: Vec<f64> = out.iter().map(|f| f.value).collect();
        assert_eq!(values, [4.0, 6.0, 6.0, 4.0]);
        assert_eq!(out[0].timestamp_ms, 6_000);
        assert!(out[3].high - out[3].value > out[0].high - out[0].value);
    }

    #[test]
    fn validation_names_the_field() {
        let err = SeasonalNaive::new(SeasonalNaiveConfig { season: 0, min_samples: 2 }).unwrap_err();
        assert!(err.to_string().contains("seasonal_naive.season"), "{err}");
        let err = SeasonalNaive::new(SeasonalNaiveConfig { season: 1, min_samples: 0 }).unwrap_err();
        assert!(err.to_string().contains("naive.min_samples"), "{err}");
    }
}
