//! Picking detectors by name or from configuration.

use serde::{Deserialize, Serialize};

use super::Detector;
use super::auto::AutoConfig;
use super::calibrate::Calibrated;
use super::cusum::CusumConfig;
use super::embedding::LagEmbedding;
use super::ewma_chart::EwmaConfig;
use super::isolation_forest::IsolationForestConfig;
use super::kmeans::KMeansConfig;
use super::mad::MadConfig;
use super::seasonal::SeasonalConfig;
use super::wrap::{MinWeight, Persistence, Warmup};
use super::zscore::ZScoreConfig;
use crate::error::{Error, Result};

/// Any univariate detector's configuration, tagged by `kind`.
///
/// ```
/// use streammon_core::detect::DetectorConfig;
/// let config: DetectorConfig = serde_json::from_str(r#"{"kind": "mad", "window": 64}"#)?;
/// let detector = config.build()?;
/// assert_eq!(detector.name(), "mad");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DetectorConfig {
    /// The self-calibrating ensemble ([`Auto`](super::Auto)).
    Auto(AutoConfig),
    /// Windowed Gaussian z-score ([`ZScore`](super::ZScore)).
    Zscore(ZScoreConfig),
    /// EWMA control chart ([`EwmaChart`](super::EwmaChart)).
    Ewma(EwmaConfig),
    /// Robust median / MAD ([`Mad`](super::Mad)).
    Mad(MadConfig),
    /// Seasonal residual ([`Seasonal`](super::Seasonal)).
    Seasonal(SeasonalConfig),
    /// CUSUM change points ([`Cusum`](super::Cusum)).
    Cusum(CusumConfig),
    /// Isolation Forest over a lag embedding of the series
    /// ([`LagEmbedding`], [`IsolationForest`](super::IsolationForest)).
    IsolationForest(IsolationForestConfig),
    /// k-means distances over a lag embedding of the series
    /// ([`LagEmbedding`], [`KMeans`](super::KMeans)).
    Kmeans(KMeansConfig),
}

/// Names of the univariate detectors, for `--detector NAME`.
pub const DETECTOR_NAMES: [&str; 8] =
    ["auto", "zscore", "ewma", "mad", "seasonal", "cusum", "isolation_forest", "kmeans"];

/// Points a non-`auto` detector observes before it may score.
const DEFAULT_WARMUP: u64 = 30;

impl DetectorConfig {
    /// The default configuration of the detector called `name`.
    ///
    /// # Errors
    /// [`Error::Parse`] listing the known names.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "auto" => Self::Auto(AutoConfig::default()),
            "zscore" => Self::Zscore(ZScoreConfig::default()),
            "ewma" => Self::Ewma(EwmaConfig::default()),
            "mad" => Self::Mad(MadConfig::default()),
            "seasonal" => Self::Seasonal(SeasonalConfig::default()),
            "cusum" => Self::Cusum(CusumConfig::default()),
            "isolation_forest" => Self::IsolationForest(IsolationForestConfig::default()),
            "kmeans" => Self::Kmeans(KMeansConfig::default()),
            _ => {
                return Err(Error::parse("detector", name, format!("expected one of {}", DETECTOR_NAMES.join(", "))));
            }
        })
    }

    /// The registry name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Auto(_) => "auto",
            Self::Zscore(_) => "zscore",
            Self::Ewma(_) => "ewma",
            Self::Mad(_) => "mad",
            Self::Seasonal(_) => "seasonal",
            Self::Cusum(_) => "cusum",
            Self::IsolationForest(_) => "isolation_forest",
            Self::Kmeans(_) => "kmeans",
        }
    }

    /// Whether the score gains from [`Calibrated`]: `auto` calibrates
    /// itself, and `cusum` has its decision interval (which bounds its
    /// scores, so calibration would only blur them). The learned detectors
    /// map the 99th percentile of recent traffic to 0.5, so about 1 % of
    /// normal points reach it: calibration brings them in line.
    pub fn needs_calibration(&self) -> bool {
        !matches!(self, Self::Auto(_) | Self::Cusum(_))
    }

    /// Validates and builds the detector. Detectors other than `auto`
    /// (which warms up by itself) and the learned ones (quiet until their
    /// first model) stay quiet for their first 30 points.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn build(&self) -> Result<Box<dyn Detector>> {
        self.build_with(|raw| raw)
    }

    /// Builds the bare detector, puts `wrap` around it, and the warm-up
    /// around that: a wrapper that learns from scores (calibration) sees
    /// them from the first point on.
    fn build_with(&self, wrap: impl FnOnce(Box<dyn Detector>) -> Box<dyn Detector>) -> Result<Box<dyn Detector>> {
        let (raw, warms_up): (Box<dyn Detector>, bool) = match self {
            Self::Auto(c) => (Box::new(c.build()?), false),
            Self::Zscore(c) => (Box::new(c.build()?), true),
            Self::Ewma(c) => (Box::new(c.build()?), true),
            Self::Mad(c) => (Box::new(c.build()?), true),
            Self::Seasonal(c) => (Box::new(c.build()?), true),
            Self::Cusum(c) => (Box::new(c.build()?), true),
            // Quiet until their first model is trained.
            Self::IsolationForest(c) => (Box::new(LagEmbedding::isolation_forest(c)?), false),
            Self::Kmeans(c) => (Box::new(LagEmbedding::kmeans(c)?), false),
        };
        let wrapped = wrap(raw);
        Ok(if warms_up { Box::new(Warmup::new(wrapped, DEFAULT_WARMUP)) } else { wrapped })
    }

    /// Builds the detector with the options every pipeline needs: points
    /// speaking for fewer than `gate.min_weight` viewers are never flagged,
    /// with `gate.calibrate` the score is calibrated against the
    /// detector's own history ([`Calibrated`], inside the warm-up, so it
    /// learns from the detector's first scores), and with
    /// `gate.persistence` only runs of alarms are flagged ([`Persistence`]).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn build_gated(&self, gate: &Gate) -> Result<Box<dyn Detector>> {
        if !(gate.min_weight.is_finite() && gate.min_weight >= 0.0) {
            return Err(Error::config("min_viewers", format!("{} must be at least 0", gate.min_weight)));
        }
        let inner = if gate.calibrate && self.needs_calibration() {
            self.build_with(|raw| Box::new(Calibrated::new(raw, 500.0, 50)))?
        } else {
            self.build()?
        };
        let inner: Box<dyn Detector> =
            if gate.persistence > 1 { Box::new(Persistence::new(inner, gate.persistence)) } else { inner };
        Ok(if gate.min_weight > 0.0 { Box::new(MinWeight::new(inner, gate.min_weight)) } else { inner })
    }
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self::Auto(AutoConfig::default())
    }
}

/// Options wrapped around any detector by [`DetectorConfig::build_gated`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gate {
    /// Points speaking for fewer viewers than this are never flagged.
    /// Defaults to 0 (no gating).
    pub min_weight: f64,
    /// Whether to calibrate the score against the detector's own history
    /// (for the detectors that [need it](DetectorConfig::needs_calibration)).
    /// Defaults to false.
    pub calibrate: bool,
    /// Consecutive points at or above 0.5 needed before one is flagged
    /// ([`Persistence`]); 0 and 1 flag at once. Defaults to 0.
    pub persistence: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Point;

    #[test]
    fn every_name_builds_and_round_trips() {
        for name in DETECTOR_NAMES {
            let config = DetectorConfig::from_name(name).unwrap();
            assert_eq!(config.name(), name);
            assert_eq!(config.build().unwrap().name(), name);
            let json = serde_json::to_string(&config).unwrap();
            assert_eq!(serde_json::from_str::<DetectorConfig>(&json).unwrap(), config);
        }
        let err = DetectorConfig::from_name("magic").unwrap_err().to_string();
        assert!(err.contains("auto, zscore"), "{err}");
    }

    #[test]
    fn bad_fields_are_named() {
        let err = serde_json::from_str::<DetectorConfig>(r#"{"kind": "mad", "windw": 64}"#).unwrap_err();
        assert!(err.to_string().contains("windw"), "{err}");
        let config: DetectorConfig = serde_json::from_str(r#"{"kind": "zscore", "window": 1}"#).unwrap();
        assert!(config.build().unwrap_err().to_string().contains("zscore.window"));
    }

    /// Fuzzing (`fuzz/`, target `detect_csv`) fed `streammon detect` a
    /// timestamp past i64 (read as i64::MAX) and then one in 1659: the
    /// seasonal detector's "a full season since the first point" took
    /// their difference and overflowed, and so did `auto`'s gap between
    /// points and its daily profile once in use. Any timestamps, in any
    /// order, must be taken by every detector, warm or not.
    #[test]
    fn every_detector_takes_timestamps_at_the_ends_of_i64() {
        let extremes = [i64::MAX, -9_698_976_000_000, i64::MIN, 0, i64::MAX, i64::MIN + 1, 1_767_225_600_000];
        let day = |i: i64| 100.0 + 50.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin();
        for name in DETECTOR_NAMES {
            for warm in [0, 288 * 3] {
                let mut d = DetectorConfig::from_name(name).unwrap().build().unwrap();
                for i in 0..warm {
                    d.update(Point::new(1_767_225_600_000 + i * 300_000, day(i)));
                }
                for round in 0..40 {
                    for (i, &t) in extremes.iter().enumerate() {
                        let v = d.update(Point::new(t, day(round * 7 + i as i64)));
                        assert!((0.0..=1.0).contains(&v.score), "{name}: {v:?}");
                    }
                }
            }
        }
    }
}
