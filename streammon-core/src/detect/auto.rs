//! `auto`: the default detector, for series nobody has tuned anything for.

use serde::{Deserialize, Serialize};

use super::profile::DayProfile;
use super::score::floor_scale;
use super::{Band, Detector, Point, Reason, Verdict};
use crate::error::{Error, Result};
use crate::stats::{Ewma, SortedWindow};

/// Configuration of [`Auto`]. The defaults are meant to be left alone:
/// `auto` scales itself to each series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoConfig {
    /// Points in the robust level window, 16 to 1024. Defaults to 200.
    pub window: usize,
    /// Points before any score is given, at least the window's eighth.
    /// Defaults to 48.
    pub min_samples: u64,
    /// Half-life in points of the typical deviation each new deviation is
    /// measured against, 10 to 100 000. Defaults to 500.
    pub calibration_half_life: f64,
}

impl Default for AutoConfig {
    fn default() -> Self {
        Self { window: 200, min_samples: 48, calibration_half_life: 500.0 }
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
        if self.min_samples < (self.window / 8) as u64 {
            return Err(Error::config(
                "auto.min_samples",
                format!("{} must be at least an eighth of the window ({})", self.min_samples, self.window / 8),
            ));
        }
        if !(10.0..=100_000.0).contains(&self.calibration_half_life) {
            return Err(Error::config(
                "auto.calibration_half_life",
                format!("{} must be between 10 and 100000", self.calibration_half_life),
            ));
        }
        Ok(Auto {
            min_samples: self.min_samples,
            level: SortedWindow::new(self.window),
            typical: Ewma::with_half_life(self.calibration_half_life),
            restless: Ewma::new(RESTLESS_ALPHA),
            last_resolution: f64::NAN,
            profile: DayProfile::default(),
            step_size: Ewma::new(WALK_ALPHA),
            steps: Ewma::new(WALK_ALPHA),
            deviations: Ewma::new(WALK_ALPHA),
            excursion: Excursion::default(),
            same_rate: Ewma::new(0.01),
            run: 0,
            run_flagged: 0,
            interval: Ewma::new(0.05),
            prev: None,
            seen: 0,
        })
    }
}

/// The default detector: a robust level, measured with a ruler fitted to
/// each series, judged against the time of day when the day explains the
/// series, reporting each excursion when it starts or grows rather than on
/// every point.
///
/// 1. **Level.** The distance from the median of the last `window`
///    points in robust standard deviations: 1.4826 × MAD (or 1.2533 × the
///    mean absolute deviation when most of the window is one value),
///    never below the series' resolution around the median (the gap to
///    the nearest other value: one count, for a count), so a series of
///    zeros and ones is not a series of infinite deviations.
/// 2. **Ruler.** Deviations are then divided by how large this series'
///    deviations usually are, relative to Gaussian noise: the average of
///    `min(|z|, 5)` over about `calibration_half_life` points, over its
///    Gaussian value 0.80 (never below 1). A series whose robust scale
///    understates its spread (heavy tails, skew, quantisation) is measured
///    with a wider ruler, so its scores mean what a well-behaved series'
///    do. After a restless stretch (the same average over the last ten
///    points or so, when larger) the ruler widens by the square root of
///    the ratio: deviations come in clusters.
/// 3. **Time of day.** A profile of 144 ten-minute buckets learns, by
///    timestamp, what each part of the day adds to a level of the values
///    without it. Once a day has been seen and the profile's errors fall
///    below 0.6 of the level's (until they pass 0.8), the level window
///    holds values without the profile and points are judged against
///    median plus profile: a dip normal for the day but not for the hour
///    shows. Only when the window spans half a day or more: over a few
///    hours its median follows the day by itself.
/// 4. **Jumps in a wandering series.** When the series moves like a
///    random walk (steps under 0.2 of its deviations from the level), a
///    point that leaves the level by more than 3 is judged by its step from
///    the previous point when that is the larger surprise.
/// 5. **Excursions.** Once a deviation passes 3, the series is in an
///    excursion until it comes back. Until it has been flagged twice in a
///    row (so a persistence filter sees it), every point counts in full;
///    after that, a point only counts in full when it goes beyond the
///    excursion's peak, otherwise it keeps 0.3 of its deviation. A level shift or a long incident is
///    reported when it starts and when it worsens, not on every point.
/// 6. **Flat line.** A run of identical values as improbable as one in
///    ten thousand, given how often this series repeats a value, is
///    reported (its first two points, then damped the same way).
///
/// The score of a deviation `r` is `r² / (r² + 16)`: 0.5 at 4 (the band
/// edge), strictly increasing, below 1 for any finite `r`, so a 100σ
/// excursion outranks a 10σ one and the top scores stay usable for
/// choosing a threshold. The band is the set of values that would score
/// below 0.5 in the current state (wider during an excursion); a flagged
/// value lies outside it, an unflagged one inside, and for a flat line it
/// stops short of the frozen value. Quiet for the first `min_samples`
/// points; missing values (NaN, infinities) are skipped without touching
/// state; a gap of more than three typical intervals ends any excursion
/// or flat run.
///
/// Cost: about 0.5 µs per point; under 3 KiB of state with the defaults
/// (`state_bytes`).
#[derive(Debug, Clone)]
pub struct Auto {
    min_samples: u64,
    level: SortedWindow,
    /// Average of clipped level deviations, over about
    /// `calibration_half_life` points and over about the last ten.
    typical: Ewma,
    restless: Ewma,
    /// The resolution of the last window that held two distinct values.
    last_resolution: f64,
    profile: DayProfile<BUCKETS>,
    /// Mean absolute step between consecutive points (clipped to five of
    /// its scales): the scale of a jump.
    step_size: Ewma,
    /// Mean absolute step and deviation from the level, both clipped to
    /// five level scales: whether the series wanders like a random walk.
    steps: Ewma,
    deviations: Ewma,
    excursion: Excursion,
    /// How often a value repeats the previous one.
    same_rate: Ewma,
    /// Repeats of the current value, and how many of them were flagged.
    run: u32,
    run_flagged: u32,
    /// Typical interval between points, milliseconds.
    interval: Ewma,
    prev: Option<(i64, f64)>,
    seen: u64,
}

/// Deviation, in typical deviations, on the edge of the expected band:
/// the deviation that scores 0.5.
const EDGE: f64 = 4.0;
/// Per-point cap of the deviations averaged into the typical deviation.
const TYPICAL_CLIP: f64 = 5.0;
/// `E[min(|Z|, 5)]` for a standard normal `Z`: what the typical deviation
/// is for Gaussian noise.
const GAUSS_CLIPPED_MEAN: f64 = 0.797_871_5;
/// Deviation that opens an excursion.
const EXCURSION: f64 = 3.0;
/// Share of its deviation a point of an excursion keeps when it does not
/// go beyond the excursion's peak.
const DAMP: f64 = 0.3;
/// Points of an excursion scored in full whatever their peak.
const UNDAMPED: u32 = 2;
/// A series wanders like a random walk when its steps are at most this
/// share of its deviations from the level.
const WALKS: f64 = 0.2;
/// Weight of each point in the averages that decide whether it does.
const WALK_ALPHA: f64 = 0.01;
/// Weight of each point in the recent typical deviation (about the last
/// ten points).
const RESTLESS_ALPHA: f64 = 0.1;
/// The day's profile is used when the level window spans at least this
/// share of a day.
const DAY_SHARE: f64 = 0.5;
/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;
/// Points a window needs before its median and scale are trusted.
const MIN_WINDOW: usize = 16;
/// Buckets of the day's profile: ten minutes each.
const BUCKETS: usize = 144;
/// `√(π/2)`: mean absolute deviation to standard deviation, for Gaussian
/// noise.
const MEAN_ABS_TO_SD: f64 = 1.2533;

/// Score of a deviation `r` (in typical deviations): `r² / (r² + EDGE²)`,
/// 0.5 on the band edge, strictly increasing and below 1 for any finite
/// `r`, so the highest scores still rank the most unusual points.
fn score_of(r: f64) -> f64 {
    let q = r / EDGE;
    let q2 = q * q;
    if q2.is_nan() {
        0.0
    } else if q2.is_infinite() {
        1.0
    } else {
        q2 / (1.0 + q2)
    }
}

/// A run of unusual points: deviations beyond [`EXCURSION`]. Until it
/// has been flagged [`UNDAMPED`] times in a row, every point counts in
/// full; after that, only a point that goes beyond the peak does.
#[derive(Debug, Clone, Copy, Default)]
struct Excursion {
    flags: u32,
    peak: f64,
}

impl Excursion {
    /// Whether a deviation `r` counts only [`DAMP`] of itself now.
    fn damps(&self, r: f64) -> bool {
        self.flags >= UNDAMPED && r <= self.peak
    }

    /// The widest deviation that scores below 0.5 now.
    fn width(&self) -> f64 {
        if self.flags >= UNDAMPED { EDGE.max(self.peak.min(EDGE / DAMP)) } else { EDGE }
    }

    /// Adds a point whose deviation is `r` and which counted `counted`.
    /// Until the excursion has been flagged twice in a row (what a
    /// persistence filter needs to see it), a point it does not flag
    /// starts the count again.
    fn push(&mut self, r: f64, counted: f64) {
        if r > EXCURSION {
            let flagged = counted >= EDGE;
            self.flags = if flagged {
                self.flags + 1
            } else if self.flags < UNDAMPED {
                0
            } else {
                self.flags
            };
            self.peak = self.peak.max(r);
        } else {
            *self = Self::default();
        }
    }
}

impl Auto {
    /// The level window's robust scale, never below the resolution around
    /// the median: for a window of one value, the resolution last seen, or,
    /// for a series that has never moved, nothing but the float floor (its
    /// first move is news, however small). Also returns the gap itself
    /// (0 for a window of one value).
    fn resolution(&mut self, median: f64) -> (f64, f64) {
        let sigma = self.level.robust_sigma().unwrap_or(0.0);
        let gap = self.level.gap_around(median);
        let scale = match gap {
            Some(gap) => {
                let scale = floor_scale(sigma.max(gap), median);
                self.last_resolution = scale;
                scale
            }
            None if self.last_resolution.is_finite() => self.last_resolution,
            None => 0.0,
        };
        (floor_scale(scale, median), gap.unwrap_or(0.0))
    }

    /// What the point is judged against: `(centre, scale)`, and the value
    /// the level window learns (the point without the day's profile, when
    /// that is in use).
    fn expectation(&mut self, t: i64, x: f64, median: f64) -> (f64, f64, f64) {
        let interval = if self.interval.count() > 0 { self.interval.mean() } else { 60_000.0 };
        // The profile only helps when the window is long against the day:
        // over a few hours, its median follows the day by itself.
        let spans_the_day = self.level.capacity() as f64 * interval >= DAY_SHARE * DAY_MS;
        let offset = if spans_the_day && self.profile.is_active(t) { self.profile.offset(t) } else { 0.0 };
        let deseasonalised = x - offset;
        let (resolution, gap) = self.resolution(median);
        let z = (deseasonalised - median).abs() / resolution;
        let typical = (self.typical.mean() / GAUSS_CLIPPED_MEAN).max(1.0);
        // After a restless stretch, the ruler widens: by the square root of
        // how much larger the recent deviations are than the usual ones.
        let restless = if self.restless.count() > MIN_WINDOW as u64 && self.typical.mean() > 0.0 {
            (self.restless.mean() / self.typical.mean()).max(1.0).sqrt()
        } else {
            1.0
        };
        self.typical.push(z.min(TYPICAL_CLIP));
        self.restless.push(z.min(TYPICAL_CLIP));
        self.profile.learn(t, x, median, resolution, interval);
        let (centre, scale) = (median + offset, resolution * typical * restless);
        let Some((_, px)) = self.prev else {
            return (centre, scale, deseasonalised);
        };
        // A jump in a wandering series: when the series moves like a random
        // walk and the point leaves the level by more than an excursion's
        // worth, the step from the previous point may be the larger surprise.
        let step = (x - px).abs();
        let step_scale = floor_scale(MEAN_ABS_TO_SD * self.step_size.mean(), median).max(gap);
        let walks = self.step_size.count() > 50 && self.steps.mean() < WALKS * self.deviations.mean();
        let clip = TYPICAL_CLIP * scale;
        self.steps.push(step.min(clip));
        self.deviations.push((x - centre).abs().min(clip));
        self.step_size.push(step.min(TYPICAL_CLIP * step_scale));
        let away = (x - centre).abs() > (px - centre).abs();
        let level_r = (x - centre).abs() / (resolution * typical);
        if walks && away && level_r > EXCURSION && step / step_scale > level_r {
            return (px, step_scale, deseasonalised);
        }
        (centre, scale, deseasonalised)
    }

    /// The flat-line view: `Some(verdict)` when the current run of
    /// repeated values outscores `best`.
    fn flat_line(&mut self, x: f64, same: bool, best: &Verdict) -> Option<Verdict> {
        self.run = if same { self.run + 1 } else { 0 };
        if !same {
            self.run_flagged = 0;
        }
        let rate = self.same_rate.mean();
        if self.run < 5 || self.same_rate.count() <= 50 || rate >= 0.9 {
            return None;
        }
        // P(a run this long) = rate^run, as a Gaussian-equivalent deviation.
        let p = rate.max(1e-3).powi(self.run as i32);
        let mut r = (-2.0 * p.ln()).sqrt();
        if self.run_flagged >= UNDAMPED {
            r *= DAMP;
        }
        if r >= EDGE {
            self.run_flagged += 1;
        }
        let s = score_of(r);
        let b = best.expected?;
        let centre = (b.low + b.high) / 2.0;
        if s <= best.score || x == centre {
            return None;
        }
        // The level's band, stopped short of the frozen value.
        let cut = x / 2.0 + centre / 2.0;
        let band = if x > centre { Band::new(b.low, cut) } else { Band::new(cut, b.high) };
        Some(Verdict::new(s, Some(band), Some(Reason::Flatline)))
    }
}

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
        if let Some((pt, _)) = self.prev {
            let gap = t.saturating_sub(pt) as f64;
            if self.interval.count() >= 3 && gap > 3.0 * self.interval.mean() {
                self.excursion = Excursion::default();
                self.run = 0;
                self.run_flagged = 0;
            }
            if gap > 0.0 {
                let cap = if self.interval.count() < 3 { gap } else { 10.0 * self.interval.mean() };
                self.interval.push(gap.min(cap));
            }
        }

        let mut verdict = Verdict::QUIET;
        let mut to_learn = x;
        if let (true, Some(median)) = (self.level.len() >= MIN_WINDOW, self.level.median()) {
            let (centre, scale, learned) = self.expectation(t, x, median);
            to_learn = learned;
            // The window keeps single precision: beyond ±3.4e38 there is no
            // level to judge against.
            if centre.is_finite() && scale.is_finite() {
                let r = (x - centre).abs() / scale;
                let width = self.excursion.width();
                let counted = if self.excursion.damps(r) { r * DAMP } else { r };
                self.excursion.push(r, counted);
                let edge = |d: f64| (centre + d * width * scale).clamp(f64::MIN, f64::MAX);
                let reason = if x > centre { Reason::Above } else { Reason::Below };
                verdict = Verdict::new(score_of(counted), Some(Band::new(edge(-1.0), edge(1.0))), Some(reason));
            }
        }

        if let Some((_, px)) = self.prev {
            let same = x == px;
            if let Some(flat) = self.flat_line(x, same, &verdict) {
                verdict = flat;
            }
            self.same_rate.push(if same { 1.0 } else { 0.0 });
        }

        self.level.push(to_learn);
        self.prev = Some((t, x));
        if self.seen <= self.min_samples {
            verdict.score = 0.0;
        }
        keep_promises(verdict, x)
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() - std::mem::size_of::<SortedWindow>() + self.level.state_bytes()
    }
}

/// Keeps the verdict's promises whatever rounding did: a flagged value
/// lies strictly outside its band, an unflagged one inside it, and only a
/// flag carries a reason.
fn keep_promises(mut v: Verdict, x: f64) -> Verdict {
    match v.expected {
        Some(b) if v.score >= 0.5 && b.contains(x) => v.score = BELOW_HALF,
        Some(b) if v.score < 0.5 && !b.contains(x) => v.expected = Some(Band::new(b.low.min(x), b.high.max(x))),
        None if v.score >= 0.5 => v.score = BELOW_HALF,
        _ => {}
    }
    if v.score < 0.5 {
        v.reason = None;
    }
    v
}

/// The highest score below 0.5.
const BELOW_HALF: f64 = 0.499_999_999;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    /// Roughly Gaussian, unit variance.
    fn noise(seed: &mut u64) -> f64 {
        (0..12).map(|_| lcg(seed)).sum()
    }

    fn auto() -> Auto {
        AutoConfig::default().build().unwrap()
    }

    fn scores(points: impl IntoIterator<Item = Point>) -> Vec<f64> {
        let mut d = auto();
        points.into_iter().map(|p| d.update(p).score).collect()
    }

    /// Checks every promise of a verdict about `x`.
    fn check(v: &Verdict, x: f64) -> std::result::Result<(), String> {
        if !(0.0..=1.0).contains(&v.score) {
            return Err(format!("score {}", v.score));
        }
        if let Some(b) = v.expected {
            if !(b.low.is_finite() && b.high.is_finite() && b.low <= b.high) {
                return Err(format!("band {b:?}"));
            }
            if v.score >= 0.5 && b.contains(x) {
                return Err(format!("{x} flagged ({}) inside its band {b:?}", v.score));
            }
            if v.score < 0.5 && !b.contains(x) {
                return Err(format!("{x} not flagged ({}) outside its band {b:?}", v.score));
            }
        }
        if v.score >= 0.5 && (v.expected.is_none() || v.reason.is_none()) {
            return Err(format!("flag without band or reason: {v:?}"));
        }
        if v.score < 0.5 && v.reason.is_some() {
            return Err(format!("reason without flag: {v:?}"));
        }
        Ok(())
    }

    #[test]
    fn a_taller_spike_scores_higher_and_none_saturates() {
        let at = |height: f64| {
            let mut seed = 1;
            let mut d = auto();
            for i in 0..1_000 {
                d.update(Point::new(i * 60_000, 50.0 + noise(&mut seed)));
            }
            d.update(Point::new(1_000 * 60_000, 50.0 + height)).score
        };
        let s: Vec<f64> = [5.0, 10.0, 100.0, 1e4, 1e6].into_iter().map(at).collect();
        assert!(s[0] >= 0.5, "a 5σ spike is flagged: {s:?}");
        assert!(s.windows(2).all(|w| w[0] < w[1]), "not strictly increasing: {s:?}");
        assert!(s[3] < 1.0, "{s:?}");
    }

    #[test]
    fn regular_and_near_constant_series_do_not_saturate() {
        let day = 86_400_000.0;
        type Shape = Box<dyn Fn(i64) -> f64>;
        let series: [(&str, Shape, i64, i64); 6] = [
            (
                "noiseless daily sine, 5 min",
                Box::new(move |t| 100.0 + 30.0 * (t as f64 / day * std::f64::consts::TAU).sin()),
                300_000,
                2_016,
            ),
            (
                "noiseless daily sine, 1 h",
                Box::new(move |t| 100.0 + 30.0 * (t as f64 / day * std::f64::consts::TAU).sin()),
                3_600_000,
                960,
            ),
            ("sine of 100 points", Box::new(|t| (t as f64 / 100_000.0 * std::f64::consts::TAU).sin()), 1_000, 5_000),
            ("sawtooth", Box::new(|t| ((t / 1_000) % 50) as f64), 1_000, 5_000),
            ("near-constant", Box::new(|t| if (t / 1_000) % 37 == 0 { 5.001 } else { 5.0 }), 1_000, 5_000),
            ("linear trend", Box::new(|t| t as f64 * 1e-3), 1_000, 5_000),
        ];
        for (name, f, step, n) in series {
            let s = scores((0..n).map(|i| Point::new(i * step, f(i * step))));
            let high = s.iter().filter(|&&v| v >= 0.5).count();
            let top = s.iter().copied().fold(0.0, f64::max);
            assert!(top < 0.9, "{name}: top score {top}");
            assert!(high * 100 <= n as usize, "{name}: {high} of {n} points flagged");
        }
    }

    #[test]
    fn a_noiseless_square_wave_is_news_once() {
        // Two levels a day, switching at 00:00 and 12:00: the first switch
        // of a series that never moved is news; once the day's profile has
        // learned the pattern, no switch is.
        let s = scores((0..288 * 7).map(|i| Point::new(i * 300_000, if i % 288 < 144 { 10.0 } else { 20.0 })));
        let flagged: Vec<usize> = (0..s.len()).filter(|&i| s[i] >= 0.5).collect();
        assert_eq!(flagged, vec![144], "{flagged:?}");
    }

    #[test]
    fn a_spike_after_a_restless_stretch_is_less_surprising() {
        let spike_after = |restless: bool| {
            let mut seed = 8;
            let mut d = auto();
            for i in 0..1_000 {
                let burst = restless && i >= 990 && i % 2 == 0;
                let x = 50.0 + noise(&mut seed) + if burst { 3.5 } else { 0.0 };
                d.update(Point::new(i * 60_000, x));
            }
            d.update(Point::new(1_000 * 60_000, 58.0)).score
        };
        let (calm, restless) = (spike_after(false), spike_after(true));
        assert!(calm >= 0.5 && restless < calm, "calm {calm}, restless {restless}");
    }

    #[test]
    fn counts_near_zero_are_judged_in_counts() {
        // Mostly 0, often 1, now and then 2: a one or a two is not news, a
        // burst of 12 is.
        let mut seed = 9;
        let mut points: Vec<Point> = (0..3_000)
            .map(|i| {
                let u = lcg(&mut seed) + 0.5;
                Point::new(
                    i * 60_000,
                    if u < 0.8 {
                        0.0
                    } else if u < 0.97 {
                        1.0
                    } else {
                        2.0
                    },
                )
            })
            .collect();
        points.push(Point::new(3_000 * 60_000, 12.0));
        let s = scores(points);
        assert!(s[..3_000].iter().all(|&v| v < 0.5), "a count of 1 or 2 flagged");
        assert!(s[3_000] >= 0.5 && s[3_000] < 1.0, "{}", s[3_000]);
    }

    #[test]
    fn an_excursion_is_reported_when_it_starts_and_when_it_worsens() {
        let mut seed = 4;
        let mut d = auto();
        for i in 0..1_000 {
            d.update(Point::new(i * 1_000, 10.0 + noise(&mut seed)));
        }
        // A lasting shift of 8σ: its first two points are flagged (a
        // persistence filter sees it), the next ones are not, until it
        // worsens.
        let mut flagged = Vec::new();
        for i in 0..20 {
            let x = if i < 15 { 18.0 } else { 30.0 };
            let v = d.update(Point::new((1_000 + i) * 1_000, x + 0.1 * noise(&mut seed)));
            check(&v, x).unwrap_or_else(|e| panic!("point {i}: {e}"));
            flagged.push(v.score >= 0.5);
        }
        assert!(flagged[0] && flagged[1], "{flagged:?}");
        assert!(flagged[2..15].iter().all(|f| !f), "{flagged:?}");
        assert!(flagged[15], "{flagged:?}");
    }

    #[test]
    fn the_day_profile_is_used_only_when_it_explains_the_series() {
        let five_min = 300_000;
        let mut seed = 2;
        let mut seasonal = auto();
        let mut flat = auto();
        for i in 0..288 * 4 {
            let t = i * five_min;
            let swing = 40.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin();
            seasonal.update(Point::new(t, 500.0 + swing + noise(&mut seed)));
            flat.update(Point::new(t, 500.0 + noise(&mut seed)));
        }
        let t = 288 * 4 * five_min;
        assert!(seasonal.profile.is_active(t));
        assert!(!flat.profile.is_active(t));
        // At the peak of the day, the trough's value is far out.
        let peak = 288 * 4 + 72;
        let v = seasonal.update(Point::new(peak * five_min, 460.0));
        assert!(v.score >= 0.5, "{v:?}");
        check(&v, 460.0).unwrap();
    }

    #[test]
    fn config_is_validated() {
        assert!(
            AutoConfig { window: 8, ..AutoConfig::default() }.build().unwrap_err().to_string().contains("auto.window")
        );
        let err = AutoConfig { min_samples: 2, ..AutoConfig::default() }.build().unwrap_err();
        assert!(err.to_string().contains("auto.min_samples"), "{err}");
        let err = AutoConfig { calibration_half_life: 1.0, ..AutoConfig::default() }.build().unwrap_err();
        assert!(err.to_string().contains("auto.calibration_half_life"), "{err}");
        assert!(auto().state_bytes() <= 4_096, "{}", auto().state_bytes());
    }

    /// A value generator of many shapes: Gaussian or heavy-tailed noise,
    /// counts, flat runs, spikes, steps, NaN and infinities.
    fn value(kind: u8, i: usize, seed: &mut u64) -> f64 {
        let u = lcg(seed);
        match kind % 8 {
            0 => 100.0 + noise(seed),
            1 => (u + 0.5).powi(-2),
            2 => f64::from(u8::from(u > 0.3) + u8::from(u > 0.45)),
            3 => {
                if i % 50 < 30 {
                    7.0
                } else {
                    7.0 + u
                }
            }
            4 => {
                if i.is_multiple_of(97) {
                    1e6
                } else {
                    noise(seed)
                }
            }
            5 => (i / 200) as f64 * 50.0 + noise(seed),
            6 => {
                if i.is_multiple_of(13) {
                    f64::NAN
                } else if i.is_multiple_of(29) {
                    f64::INFINITY
                } else {
                    1e-9 * noise(seed)
                }
            }
            _ => 1e300 * u,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn every_verdict_keeps_its_promises(
            kinds in proptest::collection::vec(0u8..8, 1..6),
            gaps in proptest::collection::vec(prop_oneof![Just(1_000i64), Just(60_000), Just(3_600_000), 0i64..10_000_000], 1..8),
            seed in any::<u64>(),
            n in 200usize..1_500,
        ) {
            let mut seed = seed;
            let mut d = auto();
            let mut t = 0;
            for i in 0..n {
                t += gaps[i % gaps.len()];
                let x = value(kinds[(i / 300) % kinds.len()], i, &mut seed);
                let v = d.update(Point::new(t, x));
                if x.is_finite() {
                    prop_assert!(check(&v, x).is_ok(), "point {i}: {}", check(&v, x).unwrap_err());
                } else {
                    prop_assert_eq!(v, Verdict::QUIET);
                }
            }
        }
    }
}
