//! The forecaster registry: a serde configuration tagged by `kind`, built
//! into a `Box<dyn Forecaster>`.

use serde::{Deserialize, Serialize};

use super::Forecaster;
use super::holt_winters::{HOLT_WINTERS, HoltWinters, HoltWintersConfig};
use super::naive::{NAIVE, SEASONAL_NAIVE, SeasonalNaive, SeasonalNaiveConfig};
use crate::error::{Error, Result};

/// Which forecaster to run, and how. In configuration, `kind` names it and
/// the other fields are its settings:
///
/// ```
/// use streammon_core::forecast::ForecasterConfig;
/// let config: ForecasterConfig = serde_json::from_str(r#"{"kind": "holt_winters", "alpha": 0.2}"#)?;
/// let forecaster = config.build()?;
/// assert_eq!(forecaster.name(), "holt_winters");
/// assert!(serde_json::from_str::<ForecasterConfig>(r#"{"kind": "holt_winters", "alpah": 0.2}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ForecasterConfig {
    /// [`HoltWinters`]: damped trend, additive season, auto-detected
    /// season length.
    HoltWinters(HoltWintersConfig),
    /// The last value, a baseline.
    Naive(SeasonalNaiveConfig),
    /// The value one season ago, a baseline.
    SeasonalNaive(SeasonalNaiveConfig),
}

impl Default for ForecasterConfig {
    /// Holt-Winters with its defaults.
    fn default() -> Self {
        Self::HoltWinters(HoltWintersConfig::default())
    }
}

impl ForecasterConfig {
    /// The registry names, in the order [`from_name`](Self::from_name)
    /// accepts them.
    pub const fn names() -> &'static [&'static str] {
        &[HOLT_WINTERS, NAIVE, SEASONAL_NAIVE]
    }

    /// The default configuration of the forecaster called `name`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] on the field `kind` when no forecaster has
    /// that name, listing the names.
    pub fn from_name(name: &str) -> Result<Self> {
        match name.trim() {
            HOLT_WINTERS => Ok(Self::HoltWinters(HoltWintersConfig::default())),
            NAIVE => Ok(Self::Naive(SeasonalNaiveConfig::default())),
            SEASONAL_NAIVE => Ok(Self::SeasonalNaive(SeasonalNaiveConfig { season: 24, min_samples: 2 })),
            other => Err(Error::config(
                "kind",
                format!("no forecaster called {other:?}; expected one of {}", Self::names().join(", ")),
            )),
        }
    }

    /// The registry name of the configured forecaster.
    pub fn name(&self) -> &'static str {
        match self {
            Self::HoltWinters(_) => HOLT_WINTERS,
            Self::Naive(_) => NAIVE,
            Self::SeasonalNaive(_) => SEASONAL_NAIVE,
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field, e.g. `holt_winters.alpha`.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::HoltWinters(c) => c.validate(),
            Self::Naive(c) => {
                c.validate(NAIVE)?;
                if c.season != 1 {
                    return Err(Error::config("naive.season", format!("{} must be 1; use seasonal_naive", c.season)));
                }
                Ok(())
            }
            Self::SeasonalNaive(c) => c.validate(SEASONAL_NAIVE),
        }
    }

    /// Validates the configuration and builds the forecaster.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first invalid field.
    pub fn build(&self) -> Result<Box<dyn Forecaster>> {
        self.validate()?;
        Ok(match self {
            Self::HoltWinters(c) => Box::new(HoltWinters::new(c.clone())?),
            Self::Naive(c) | Self::SeasonalNaive(c) => Box::new(SeasonalNaive::new(c.clone())?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_and_reports_its_name() {
        for name in ForecasterConfig::names() {
            let config = ForecasterConfig::from_name(name).unwrap();
            assert_eq!(config.name(), *name);
            assert_eq!(config.build().unwrap().name(), *name);
        }
        let err = ForecasterConfig::from_name("prophet").unwrap_err().to_string();
        assert!(err.contains("holt_winters, naive, seasonal_naive"), "{err}");
    }

    #[test]
    fn json_is_tagged_by_kind_and_refuses_unknown_fields() {
        let config: ForecasterConfig = serde_json::from_str(r#"{"kind":"seasonal_naive","season":7}"#).unwrap();
        assert_eq!(config, ForecasterConfig::SeasonalNaive(SeasonalNaiveConfig { season: 7, min_samples: 2 }));
        let json = serde_json::to_value(ForecasterConfig::default()).unwrap();
        assert_eq!(json["kind"], "holt_winters");
        assert_eq!(json["season"], "auto");
        let back: ForecasterConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, ForecasterConfig::default());
        for bad in [r#"{"kind":"naive","seasn":1}"#, r#"{"kind":"arima"}"#, r#"{"alpha":0.1}"#] {
            assert!(serde_json::from_str::<ForecasterConfig>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn build_names_the_bad_field() {
        let config: ForecasterConfig = serde_json::from_str(r#"{"kind":"holt_winters","alpha":2}"#).unwrap();
        let err = config.build().unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { field, .. } if field == "holt_winters.alpha"), "{err}");
        let config: ForecasterConfig = serde_json::from_str(r#"{"kind":"naive","season":4}"#).unwrap();
        assert!(config.build().unwrap_err().to_string().contains("naive.season"));
    }
}
