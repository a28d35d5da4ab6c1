//! A time-of-day profile: what each part of the day usually adds to the
//! level, learned by timestamp so any sampling interval works.

use crate::stats::Ewma;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Weight of one day's visit to a bucket in its profile value.
const DAY_WEIGHT: f64 = 0.2;

/// The profile is trusted once its errors are at most this share of the
/// errors of the level alone (the day explains a good part of the
/// spread), and until they exceed [`NO_LONGER_EXPLAINS`] of them: the gap
/// keeps it from switching on and off.
const EXPLAINS: f64 = 0.6;
const NO_LONGER_EXPLAINS: f64 = 0.8;

/// Weight of each point in the error averages that decide whether the
/// profile explains the series.
const ERROR_ALPHA: f64 = 0.01;

/// Residuals are clipped to this many scales before they are averaged,
/// so an incident does not switch the profile off or drag the level.
const CLIP: f64 = 5.0;

/// Weight of each point in the level the offsets are measured from.
const LEVEL_ALPHA: f64 = 0.01;

/// The usual deviation from the level of each of `N` parts of the day
/// (buckets of `24 h / N`), indexed by the point's timestamp.
///
/// Each bucket averages its first days plainly, then weighs each new
/// day 0.2 (an exponential average over about five days); a bucket
/// visited by several points a day (minute data) splits that weight among
/// them, so the profile forgets at the same pace whatever the interval.
/// The profile is *active* once a full day has been seen and the
/// deviations around it are at most 0.6 of those around the level alone,
/// until they exceed 0.8 of them.
#[derive(Debug, Clone)]
pub(crate) struct DayProfile<const N: usize> {
    offsets: [f32; N],
    visits: [u16; N],
    first_ms: Option<i64>,
    with_profile: Ewma,
    without: Ewma,
    active: bool,
    /// The level of the values without the profile: what the offsets are
    /// measured from.
    level: Ewma,
}

impl<const N: usize> Default for DayProfile<N> {
    fn default() -> Self {
        Self {
            offsets: [f32::NAN; N],
            visits: [0; N],
            first_ms: None,
            with_profile: Ewma::new(ERROR_ALPHA),
            without: Ewma::new(ERROR_ALPHA),
            active: false,
            level: Ewma::new(LEVEL_ALPHA),
        }
    }
}

impl<const N: usize> DayProfile<N> {
    fn bucket(timestamp_ms: i64) -> usize {
        let phase = timestamp_ms.rem_euclid(DAY_MS);
        ((phase as f64 * N as f64 / DAY_MS as f64) as usize).min(N - 1)
    }

    /// What this part of the day usually adds to the level (0 until its
    /// bucket has been visited).
    pub(crate) fn offset(&self, timestamp_ms: i64) -> f64 {
        let o = self.offsets[Self::bucket(timestamp_ms)];
        if o.is_nan() { 0.0 } else { f64::from(o) }
    }

    /// Whether the profile explains the series (see the type's doc).
    pub(crate) fn is_active(&self, timestamp_ms: i64) -> bool {
        self.active && self.first_ms.is_some_and(|first| timestamp_ms.saturating_sub(first) >= DAY_MS)
    }

    /// Learns from `value` at `timestamp_ms`, given the level the series
    /// is judged against without the profile, the series' scale, and the
    /// typical interval between points in milliseconds.
    pub(crate) fn learn(&mut self, timestamp_ms: i64, value: f64, level: f64, scale: f64, interval_ms: f64) {
        self.first_ms.get_or_insert(timestamp_ms);
        let b = Self::bucket(timestamp_ms);
        let old = self.offsets[b];
        // The offsets are measured from a level of the values without the
        // profile, the same before and after the profile is put to use.
        let deseasonalised = value - if old.is_nan() { 0.0 } else { f64::from(old) };
        let step = deseasonalised - self.level.mean();
        let step = if self.level.count() > 16 { step.clamp(-CLIP * scale, CLIP * scale) } else { step };
        self.level.push(self.level.mean() + step);
        let deviation = value - self.level.mean();
        if !old.is_nan() {
            let clip = |v: f64| v.abs().min(CLIP * scale);
            self.with_profile.push(clip(deviation - f64::from(old)));
            self.without.push(clip(value - level));
            let share = self.with_profile.mean() / self.without.mean();
            if self.active && share > NO_LONGER_EXPLAINS {
                self.active = false;
            } else if !self.active && share < EXPLAINS {
                self.active = true;
            }
        }
        // Points that fall in one bucket each day: one for hourly data,
        // ten for minute data with 144 buckets.
        let per_day = (DAY_MS as f64 / N as f64 / interval_ms.max(1.0)).max(1.0);
        let visits = &mut self.visits[b];
        *visits = visits.saturating_add(1);
        let days = (f64::from(*visits) / per_day).max(1.0);
        let weight = DAY_WEIGHT.max(1.0 / days) / per_day;
        let slot = &mut self.offsets[b];
        *slot = if slot.is_nan() { deviation as f32 } else { *slot + (weight * (deviation - f64::from(*slot))) as f32 };
    }
}
