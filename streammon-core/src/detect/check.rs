//! Validation shared by the detectors' configurations: every check names
//! the field it refuses.

use crate::error::{Error, Result};

pub(crate) fn check_window(field: &str, window: usize) -> Result<()> {
    if (3..=100_000).contains(&window) {
        Ok(())
    } else {
        Err(Error::config(field, format!("{window} must be between 3 and 100000")))
    }
}

pub(crate) fn check_threshold(field: &str, threshold: f64) -> Result<()> {
    if threshold.is_finite() && threshold > 0.0 {
        Ok(())
    } else {
        Err(Error::config(field, format!("{threshold} must be a finite number above 0")))
    }
}

pub(crate) fn check_fraction(field: &str, value: f64) -> Result<()> {
    if value > 0.0 && value <= 1.0 {
        Ok(())
    } else {
        Err(Error::config(field, format!("{value} must be within (0, 1]")))
    }
}
