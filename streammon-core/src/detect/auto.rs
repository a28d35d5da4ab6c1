//! `auto`: the self-calibrating ensemble that is the default detector.

use serde::{Deserialize, Serialize};

use super::calibrate::Calibrator;
use super::score::{floor_scale, normal_tail, score, score_from_tail};
use super::seasonal::{Seasonal, SeasonalConfig};
use super::{Band, Detector, Point, Reason, Verdict};
use crate::error::{Error, Result};
use crate::stats::{Ewma, SortedWindow};

/// Configuration of [`Auto`]. The defaults are meant to be left alone:
/// `auto` calibrates itself to each series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoConfig {
    /// Points in the robust level window, 16 to 1024. Defaults to 96.
    pub window: usize,
    /// Points before any score is given, at least the window's quarter.
    /// Defaults to 48.
    pub min_samples: u64,
    /// Half-life in points of the score history each component is
    /// calibrated against, 10 to 100 000. Defaults to 500.
    pub calibration_half_life: f64,
}

impl Default for AutoConfig {
    fn default() -> Self {
        Self { window: 96, min_samples: 48, calibration_half_life: 500.0 }
    }
}

impl AutoConfig {
    /// Validates and builds the detector.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn build(&self) -> Result<Auto> {
        if !(16..=1024).contains(&self.window) {
            return Err(Error::config("auto.window", format!("{} must be between 16 and 1024", self.window)));
        }
        if self.min_samples < (self.window / 4) as u64 {
            return Err(Error::config(
                "auto.min_samples",
                format!("{} must be at least a quarter of the window ({})", self.min_samples, self.window / 4),
            ));
        }
        if !(10.0..=100_000.0).contains(&self.calibration_half_life) {
            return Err(Error::config(
                "auto.calibration_half_life",
                format!("{} must be between 10 and 100000", self.calibration_half_life),
            ));
        }
        let calibrator = Calibrator::new(self.calibration_half_life, (self.window / 2) as u64);
        Ok(Auto {
            min_samples: self.min_samples,
            level: SortedWindow::new(self.window),
            change: SortedWindow::new((self.window * 2 / 3).max(8)),
            seasonal: SeasonalConfig::default().build()?,
            level_cal: calibrator,
            change_cal: calibrator,
            seasonal_cal: calibrator,
            sustained_stats: Ewma::with_half_life(self.calibration_half_life),
            sustained: 0.0,
            since_onset: u32::MAX,
            same_rate: Ewma::new(0.01),
            run: 0,
            interval: Ewma::new(0.05),
            prev: None,
            seen: 0,
        })
    }
}

/// The default detector: a self-calibrating ensemble for series of
/// unknown scale, trend, seasonality and sampling interval.
///
/// Five views of each point, each asking a different question:
///
/// 1. **Level**: how far is the value from the median of the last
///    `window` points, in robust standard deviations (1.4826 × MAD, or
///    the mean absolute deviation when most of the window is one value,
///    as in a count that is mostly zero)? Spikes, dips, fresh level
///    shifts.
/// 2. **Change**: how unusual is the step from the previous point, against
///    the recent steps? Sudden jumps within the normal range, breaks in a
///    trend. Not computed across gaps longer than three typical intervals.
/// 3. **Season**: once a day of data shows a time-of-day pattern, how far
///    is the value from what this hour usually brings ([`Seasonal`])?
/// 4. **Flat line**: how improbable is the current run of identical
///    values, given how often this series repeats a value?
/// 5. **Sustained**: a short average (weight 0.1) of the level deviations,
///    each capped at 4σ, judged against its own mean and spread: one spike, however tall, moves it little; minutes
///    of a moderate deviation move it far. On a heavy-tailed series whose
///    own spikes make tall deviations ordinary, this is what still sees an
///    incident that lasts. It speaks only within 60 points of an abrupt
///    onset (a point the level or change view found unusual): a deviation
///    that built up step by step is a ramp, such as an audience arriving.
///
/// Views 1–3 are calibrated ([`Calibrator`]): each score says how unusual
/// this deviation is *for this series*, so no threshold needs tuning; a
/// view scores 0.5 or more only when its deviation is also at least 3.5
/// robust standard deviations (the sustained view: an average of 3). A sustained level shift shows in the level
/// view until the window's median has moved (half a window); the `cusum`
/// detector is there for small shifts, but it is not part of `auto`: on
/// series with a strong daily swing it cannot tell the swing from a shift.
/// The final score is the largest; its reason and the expected band come
/// with it (the band is the level's, or the season's when it is active).
/// Quiet for the first `min_samples` points. Missing values (NaN) are
/// skipped without touching state.
///
/// Cost: about 0.3 µs per point; under 4 KiB of state with the defaults
/// (`state_bytes`), so 100 000 series fit in about 350 MiB.
#[derive(Debug, Clone)]
pub struct Auto {
    min_samples: u64,
    level: SortedWindow,
    change: SortedWindow,
    seasonal: Seasonal,
    level_cal: Calibrator,
    change_cal: Calibrator,
    seasonal_cal: Calibrator,
    /// Mean and spread of the sustained average.
    sustained_stats: Ewma,
    /// Short exponential average of clipped level deviations.
    sustained: f64,
    /// Points since the level or change view last found a point unusual.
    since_onset: u32,
    /// How often a value repeats the previous one.
    same_rate: Ewma,
    /// Current run of repeated values.
    run: u32,
    /// Typical interval between points, milliseconds.
    interval: Ewma,
    prev: Option<(i64, f64)>,
    seen: u64,
}

/// Points a window needs before its median and MAD are trusted: below
/// this a MAD of zero is likely and would feed absurd deviations to the
/// calibrators.
const MIN_WINDOW: usize = 16;
/// Robust standard deviations a deviation needs before a view may score
/// 0.5, however unusual it is for the series: calibration decides how
/// unusual, this floor keeps a series that is almost always calm from
/// alarming at 2.5σ.
const EVIDENCE: f64 = 3.5;
/// Per-point cap and weight of the sustained view's average.
const SUSTAINED_CLIP: f64 = 4.0;
const SUSTAINED_ALPHA: f64 = 0.1;
/// Mean deviation the sustained view needs to reach 0.5: lower than a
/// single point's, because it is an average of several.
const SUSTAINED_EVIDENCE: f64 = 3.0;
/// Calibrated score of the level or change view that marks an abrupt
/// onset, and how many points after one the sustained view may speak.
const ONSET: f64 = 0.3;
const SUSTAINED_WINDOW: u32 = 60;

impl Detector for Auto {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn update(&mut self, point: Point) -> Verdict {
        let (t, x) = (point.timestamp_ms, point.value);
        if !x.is_finite() {
            return Verdict::QUIET;
        }
        self.seen += 1;

        // 3. Season first, when it explains the series: its band is the
        // one to draw.
        let (mut best, mut band) = (Verdict::QUIET, None);
        let seasonal = self.seasonal.update(point);
        if self.seasonal.is_seasonal(t)
            && let Some(b) = seasonal.expected
        {
            let centre = (b.low + b.high) / 2.0;
            let half = (b.high - b.low) / 2.0;
            let z = if half > 0.0 { (x - centre) / half * 3.5 } else { 0.0 };
            let s = self.seasonal_cal.calibrate(z.abs()).min(score(z, EVIDENCE));
            band = Some(b);
            best = Verdict::new(s, band, Some(if z > 0.0 { Reason::Above } else { Reason::Below }));
        }

        // 1. Level.
        let level_ready = self.level.len() >= MIN_WINDOW;
        let level_median = self.level.median();
        if let (true, Some(median), Some(sigma)) = (level_ready, level_median, self.level.robust_sigma()) {
            let scale = floor_scale(sigma, median);
            let z = (x - median) / scale;
            let unusual = self.level_cal.calibrate(z.abs());
            if unusual >= ONSET {
                self.since_onset = 0;
            }
            let s = unusual.min(score(z, EVIDENCE));
            let level_band = Band::new(median - 3.5 * scale, median + 3.5 * scale);
            band = band.or(Some(level_band));
            let reason = if z > 0.0 { Reason::Above } else { Reason::Below };
            if s > best.score {
                best = Verdict::new(s, band, Some(reason));
            }
            // 5. Sustained: a short average of clipped deviations. One
            // spike moves it little however tall it is; minutes of a
            // moderate deviation move it far: what a heavy-tailed series'
            // own spikes never do.
            let clipped = z.abs().min(SUSTAINED_CLIP);
            self.sustained += SUSTAINED_ALPHA * (clipped - self.sustained);
            // An average of ten-odd values is close to Gaussian: judge it
            // against its own mean and spread, learning only from values
            // that are not themselves far out.
            let (mean, sd) = (self.sustained_stats.mean(), self.sustained_stats.std_dev().max(0.05));
            let zs = (self.sustained - mean) / sd;
            // Only after an abrupt onset: a deviation that built up step by
            // step is a ramp (an audience arriving), not a fault.
            let after_onset = self.since_onset <= SUSTAINED_WINDOW;
            let s = if after_onset && self.sustained_stats.count() >= 2 * MIN_WINDOW as u64 {
                score_from_tail(normal_tail(zs)).min(score(self.sustained, SUSTAINED_EVIDENCE))
            } else {
                0.0
            };
            if zs < 4.0 || self.sustained_stats.count() < 2 * MIN_WINDOW as u64 {
                self.sustained_stats.push(self.sustained);
            }
            if s > best.score {
                best = Verdict::new(s, band, Some(reason));
            }
        }

        // 2. Change, unless a gap broke the sequence.
        if let Some((pt, px)) = self.prev {
            let gap = (t - pt) as f64;
            let typical = self.interval.mean();
            let continuous = self.interval.count() < 3 || gap <= 3.0 * typical;
            if gap > 0.0 {
                self.interval.push(gap.min(if self.interval.count() < 3 { gap } else { 10.0 * typical }));
            }
            let step = x - px;
            if continuous {
                let change_ready = self.change.len() >= MIN_WINDOW;
                if let (true, Some(median), Some(sigma)) =
                    (change_ready, self.change.median(), self.change.robust_sigma())
                {
                    let scale = floor_scale(sigma, px);
                    let z = (step - median) / scale;
                    let unusual = self.change_cal.calibrate(z.abs());
                    if unusual >= ONSET {
                        self.since_onset = 0;
                    }
                    let s = unusual.min(score(z, EVIDENCE));
                    // A step back toward the level is a recovery, not news.
                    let away = level_median.is_none_or(|m| (x - m).abs() >= (px - m).abs());
                    if away && s > best.score {
                        best = Verdict::new(s, band, Some(if z > 0.0 { Reason::Above } else { Reason::Below }));
                    }
                }
                self.change.push(step);
            }
            // 4. Flat line.
            let same = step == 0.0;
            self.run = if same { self.run + 1 } else { 0 };
            let rate = self.same_rate.mean();
            if self.run >= 5 && self.same_rate.count() > 50 && rate < 0.9 {
                let p = rate.max(1e-3).powi(self.run as i32);
                let s = score_from_tail(p);
                if s > best.score {
                    best = Verdict::new(s, band, Some(Reason::Flatline));
                }
            }
            self.same_rate.push(if same { 1.0 } else { 0.0 });
        }

        self.level.push(x);
        self.prev = Some((t, x));
        self.since_onset = self.since_onset.saturating_add(1);
        if self.seen <= self.min_samples {
            return Verdict { score: 0.0, reason: None, expected: band };
        }
        let reason = best.reason.filter(|_| best.score >= 0.5);
        Verdict::new(best.score, band, reason)
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() - 2 * std::mem::size_of::<SortedWindow>() - std::mem::size_of::<Seasonal>()
            + self.level.state_bytes()
            + self.change.state_bytes()
            + self.seasonal.state_bytes()
    }
}
