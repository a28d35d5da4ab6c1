//! Seasonal-aware residuals: a time-of-day profile on top of a level.

use serde::{Deserialize, Serialize};

use super::check::{check_fraction, check_threshold};
use super::score::{Resolution, floor_scale, judge, learnable};
use super::{Detector, Point, Verdict};
use crate::error::{Error, Result};
use crate::stats::Ewma;
use crate::time::{HOUR_MS, Span};

/// Configuration of [`Seasonal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeasonalConfig {
    /// Length of the season, 1 hour to 28 days. Defaults to `1d`.
    pub period: Span,
    /// Phase buckets the season is divided into, 2 to 1024; points in
    /// one bucket share one profile value. Defaults to 288 (5 minutes of
    /// a day).
    pub buckets: usize,
    /// Weight of each new point in its bucket's profile value, in (0, 1].
    /// Defaults to 0.2.
    pub profile_alpha: f64,
    /// Weight of each new point in the level (trend) and residual
    /// statistics, in (0, 1]. Defaults to 0.01.
    pub level_alpha: f64,
    /// Half-width of the expected band in residual standard deviations,
    /// above 0. Defaults to 3.5.
    pub threshold: f64,
}

impl Default for SeasonalConfig {
    fn default() -> Self {
        Self { period: Span::from_hours(24), buckets: 288, profile_alpha: 0.2, level_alpha: 0.01, threshold: 3.5 }
    }
}

impl SeasonalConfig {
    /// Validates and builds the detector.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn build(&self) -> Result<Seasonal> {
        let period = self.period.as_millis();
        if !(HOUR_MS..=28 * 24 * HOUR_MS).contains(&period) {
            return Err(Error::config("seasonal.period", format!("{} must be between 1h and 28d", self.period)));
        }
        if !(2..=1024).contains(&self.buckets) {
            return Err(Error::config("seasonal.buckets", format!("{} must be between 2 and 1024", self.buckets)));
        }
        check_fraction("seasonal.profile_alpha", self.profile_alpha)?;
        check_fraction("seasonal.level_alpha", self.level_alpha)?;
        check_threshold("seasonal.threshold", self.threshold)?;
        Ok(Seasonal {
            period_ms: period as i64,
            buckets_per_ms: self.buckets as f64 / period as f64,
            profile_alpha: self.profile_alpha as f32,
            threshold: self.threshold,
            level: Ewma::new(self.level_alpha),
            profile: vec![f32::NAN; self.buckets].into_boxed_slice(),
            visits: vec![0; self.buckets].into_boxed_slice(),
            seasonal_resid: Ewma::new(self.level_alpha),
            plain_resid: Ewma::new(self.level_alpha),
            seasonal_abs: Ewma::new(self.level_alpha),
            plain_abs: Ewma::new(self.level_alpha),
            resolution: Resolution::new(),
            first_ms: None,
        })
    }
}

/// Residuals against a seasonal profile: a slow level (which absorbs
/// trend) plus one smoothed deviation per phase bucket of the season,
/// indexed by the timestamp, so any sampling interval and missing points
/// work. The profile is used only once a full season has been seen and
/// it explains the data (its residuals vary less than those around the
/// level alone); until then the detector judges against the level. The
/// band's half-width is `threshold` residual scales, the scale being
/// 1.2533 × the mean absolute residual (the standard deviation for
/// Gaussian residuals): one spike raises it by a tenth of what it adds to
/// the variance, so the points after it are judged as before, and it is
/// never below the series' resolution (`q/√12`). Catches values that are
/// normal for the day but not for the hour (traffic at 04:00 like at
/// 21:00) and dips hidden by a daily swing. O(1) per point; `buckets` × 5
/// bytes.
#[derive(Debug, Clone)]
pub struct Seasonal {
    period_ms: i64,
    buckets_per_ms: f64,
    profile_alpha: f32,
    threshold: f64,
    level: Ewma,
    profile: Box<[f32]>,
    visits: Box<[u8]>,
    seasonal_resid: Ewma,
    plain_resid: Ewma,
    /// Mean absolute residuals, the scale the band is drawn with.
    seasonal_abs: Ewma,
    plain_abs: Ewma,
    resolution: Resolution,
    first_ms: Option<i64>,
}

/// The mean absolute deviation of Gaussian data times this is its
/// standard deviation (√(π/2)).
const MEAN_ABS_TO_SIGMA: f64 = 1.2533;

impl Seasonal {
    fn bucket(&self, timestamp_ms: i64) -> usize {
        let phase = timestamp_ms.rem_euclid(self.period_ms);
        ((phase as f64 * self.buckets_per_ms) as usize).min(self.profile.len() - 1)
    }

    /// Whether the profile is in use: a full season seen, and residuals
    /// around it smaller than residuals around the level alone.
    pub fn is_seasonal(&self, timestamp_ms: i64) -> bool {
        self.first_ms.is_some_and(|first| timestamp_ms.saturating_sub(first) >= self.period_ms)
            && self.seasonal_resid.variance() < 0.8 * self.plain_resid.variance()
    }
}

impl Detector for Seasonal {
    fn name(&self) -> &'static str {
        "seasonal"
    }

    fn update(&mut self, point: Point) -> Verdict {
        let x = point.value;
        if !x.is_finite() {
            return Verdict::QUIET;
        }
        let t = point.timestamp_ms;
        self.first_ms.get_or_insert(t);
        let b = self.bucket(t);
        if self.level.count() == 0 {
            self.resolution.observe(x);
            self.level.push(x);
            return Verdict::QUIET;
        }
        let level = self.level.mean();
        let offset = f64::from(self.profile[b]);
        let seasonal = if offset.is_nan() { level } else { level + offset };
        let verdict = if self.level.count() >= 3 {
            let (centre, resid) =
                if self.is_seasonal(t) { (seasonal, &self.seasonal_abs) } else { (level, &self.plain_abs) };
            let scale = (MEAN_ABS_TO_SIGMA * resid.mean()).max(self.resolution.floor());
            judge(x, centre, floor_scale(scale, centre), self.threshold)
        } else {
            Verdict::QUIET
        };
        // Learn: residual statistics first (against the model before this
        // point), then the level on the deseasonalised value, then the profile.
        let active = if self.is_seasonal(t) { &self.seasonal_resid } else { &self.plain_resid };
        let x =
            learnable(x, if self.is_seasonal(t) { seasonal } else { level }, active.std_dev(), active.count() as usize);
        self.resolution.observe(point.value);
        self.seasonal_resid.push(x - seasonal);
        self.plain_resid.push(x - level);
        self.seasonal_abs.push((x - seasonal).abs());
        self.plain_abs.push((x - level).abs());
        let deseasonalised = if offset.is_nan() { x } else { x - offset };
        self.level.push(deseasonalised);
        // Each bucket averages its first visits plainly (weight 1/n) before
        // settling to `profile_alpha`, so two days in the profile is the
        // mean of two days, not mostly the second.
        let dev = (x - self.level.mean()) as f32;
        let visits = &mut self.visits[b];
        *visits = visits.saturating_add(1);
        let a = self.profile_alpha.max(1.0 / f32::from(*visits));
        let slot = &mut self.profile[b];
        *slot = if slot.is_nan() { dev } else { *slot + a * (dev - *slot) };
        verdict
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.profile.len() * (std::mem::size_of::<f32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: i64) -> f64 {
        ((i * 7_919 + 13) % 101) as f64 / 101.0 - 0.5
    }

    #[test]
    fn learns_the_day_and_flags_what_is_wrong_for_the_hour() {
        let mut d = SeasonalConfig::default().build().unwrap();
        let five_min = 300_000;
        let daily = |i: i64| 100.0 + 50.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin();
        for i in 0..288 * 3 {
            d.update(Point::new(i * five_min, daily(i) + noise(i)));
        }
        let t = 288 * 3 * five_min;
        assert!(d.is_seasonal(t));
        // The trough's value at the peak hour: normal for the day, not for the hour.
        let peak = 288 * 3 + 72;
        assert!(d.update(Point::new(peak * five_min, daily(peak) + 0.2)).score < 0.5);
        // More than 1.82 band half-widths out (what scored 0.9 before scores
        // kept their order above 1).
        let v = d.update(Point::new((peak + 1) * five_min, 50.0));
        assert!(v.score > crate::detect::score::ratio_score(1.82), "{v:?}");
        assert_eq!(v.reason, Some(crate::Reason::Below));
    }

    #[test]
    fn stays_plain_on_noise() {
        let mut d = SeasonalConfig::default().build().unwrap();
        for i in 0..288 * 3 {
            d.update(Point::new(i * 300_000, 10.0 + noise(i)));
        }
        assert!(!d.is_seasonal(288 * 3 * 300_000));
        let err = SeasonalConfig { buckets: 1, ..SeasonalConfig::default() }.build().unwrap_err();
        assert!(err.to_string().contains("seasonal.buckets"));
    }
}
