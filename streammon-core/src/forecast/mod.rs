//! Forecasting: predict a series over a horizon with prediction
//! intervals, and warn before a forecast crosses a limit.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::detect::Point;

/// One forecast step.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// When, epoch milliseconds.
    pub timestamp_ms: i64,
    /// Point forecast.
    pub value: f64,
    /// Lower bound of the prediction interval.
    pub low: f64,
    /// Upper bound of the prediction interval.
    pub high: f64,
}

/// A streaming forecaster: fit incrementally with `update`, then predict.
pub trait Forecaster: fmt::Debug + Send {
    /// The registry name, e.g. `holt_winters`.
    fn name(&self) -> &'static str;

    /// Feeds one observation; `NaN` values are skipped.
    fn update(&mut self, point: Point);

    /// Appends `horizon` steps after the last observation to `out`, each
    /// with a prediction interval at `level` (e.g. 0.95). Appends nothing
    /// before the forecaster has seen enough data.
    fn forecast(&self, horizon: usize, level: f64, out: &mut Vec<Forecast>);

    /// Bytes of state this forecaster holds, heap included.
    fn state_bytes(&self) -> usize;
}

// --- forecasting implementations (wt/forecast) ---
mod cadence;
mod capacity;
mod config;
mod holt_winters;
mod naive;
mod season;

pub use capacity::{CapacityWarning, CapacityWatch, CapacityWatchConfig, Trigger, first_crossing};
pub use config::ForecasterConfig;
pub use holt_winters::{HOLT_WINTERS, HoltWinters, HoltWintersConfig, Season};
pub use naive::{NAIVE, SEASONAL_NAIVE, SeasonalNaive, SeasonalNaiveConfig};
pub use season::detect_season;
// --- end forecasting implementations ---
