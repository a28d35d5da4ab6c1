//! The rolling window the learned detectors train on, and the robust
//! per-feature scale they explain their verdicts with.
//!
//! Both the Isolation Forest and the k-means detector keep the most recent
//! metric vectors of one stream in a fixed ring buffer, refit on it every
//! so many points, and describe the most unusual feature of a point by its
//! robust z-score against that window (median ± k·σ̂, σ̂ = 1.4826·MAD).
//! This module holds that shared machinery so the two stay consistent.

use crate::detect::{Band, Reason};

/// Scale factor that turns a median absolute deviation into a consistent
/// estimate of a normal distribution's standard deviation.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;
/// The same for a mean absolute deviation (√(π/2)).
const MEAN_ABS_TO_SIGMA: f64 = 1.253_314_137_315_500_3;

/// A ring buffer of the last `capacity` vectors of `dims` values, stored as
/// `f32` row after row. Never grows after construction.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    dims: usize,
    capacity: usize,
    data: Vec<f32>,
    len: usize,
    /// Row the next push overwrites.
    head: usize,
}

impl Window {
    /// An empty window; allocates its full size once.
    pub(crate) fn new(dims: usize, capacity: usize) -> Self {
        Self { dims, capacity, data: vec![0.0; dims * capacity], len: 0, head: 0 }
    }

    /// How many vectors it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends a vector, dropping the oldest when full.
    pub(crate) fn push(&mut self, values: &[f32]) {
        let start = self.head * self.dims;
        self.data[start..start + self.dims].copy_from_slice(values);
        self.head = (self.head + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// The `i`-th vector, oldest first.
    pub(crate) fn row(&self, i: usize) -> &[f32] {
        let oldest = if self.len < self.capacity { 0 } else { self.head };
        let r = (oldest + i) % self.capacity;
        &self.data[r * self.dims..(r + 1) * self.dims]
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.capacity() * size_of::<f32>()
    }
}

/// Per-feature median and robust spread of a window, fixed between refits.
#[derive(Debug, Clone)]
pub(crate) struct RobustScale {
    median: Vec<f64>,
    sigma: Vec<f64>,
    /// Scratch column for the selections; kept to avoid reallocating.
    scratch: Vec<f32>,
}

impl RobustScale {
    /// A scale for `dims` features holding room for `capacity` values.
    pub(crate) fn new(dims: usize, capacity: usize) -> Self {
        Self { median: vec![0.0; dims], sigma: vec![1.0; dims], scratch: Vec::with_capacity(capacity) }
    }

    /// Recomputes median and σ̂ = 1.4826·MAD of every feature over the
    /// window. When more than half the window holds one value (MAD = 0, as
    /// in a count that is mostly zero), σ̂ is 1.2533 × the mean absolute
    /// deviation from the median instead, which still sees the other
    /// values. σ̂ is never below the feature's resolution (`q/√12` for the
    /// smallest gap `q` between two of its values: counts do not vary by
    /// less than one). A feature with no spread at all gets a tiny σ̂
    /// relative to its level, so any departure from it stands out.
    pub(crate) fn refit(&mut self, window: &Window) {
        for f in 0..self.median.len() {
            self.scratch.clear();
            self.scratch.extend((0..window.len()).map(|i| window.row(i)[f]));
            // The feature's resolution: the smallest gap between two of its
            // values (a count cannot vary by less than one).
            self.scratch.sort_unstable_by(f32::total_cmp);
            let step = self.scratch.windows(2).map(|w| w[1] - w[0]).filter(|&g| g > 0.0).fold(f32::INFINITY, f32::min);
            let resolution = if step.is_finite() { f64::from(step) / 12f64.sqrt() } else { 0.0 };
            let med = f64::from(median(&mut self.scratch));
            for v in &mut self.scratch {
                *v = (f64::from(*v) - med).abs() as f32;
            }
            let mad = f64::from(median(&mut self.scratch));
            let spread = if mad > 0.0 {
                MAD_TO_SIGMA * mad
            } else {
                let n = self.scratch.len().max(1) as f64;
                MEAN_ABS_TO_SIGMA * self.scratch.iter().map(|&d| f64::from(d)).sum::<f64>() / n
            };
            let floor = (1e-6 * med.abs().max(1e-3)).max(resolution);
            self.median[f] = med;
            self.sigma[f] = spread.max(floor);
        }
    }

    /// Median of feature `f`.
    pub(crate) fn median(&self, f: usize) -> f64 {
        self.median[f]
    }

    /// Robust standard deviation of feature `f`.
    pub(crate) fn sigma(&self, f: usize) -> f64 {
        self.sigma[f]
    }

    /// Explains a point: the index of its feature with the largest robust
    /// |z|, that feature's band `median ± k·σ̂`, and a reason. One feature
    /// "clearly dominates" when its |z| exceeds `k` and is at least twice
    /// every other feature's; then the reason is `Above` or `Below`,
    /// otherwise `UnusualPattern`.
    pub(crate) fn explain(&self, values: &[f64], k: f64) -> (usize, Band, Reason) {
        let mut best = (0, 0.0_f64, 0.0_f64);
        let mut second = 0.0_f64;
        for (f, &v) in values.iter().enumerate() {
            let z = (v - self.median[f]) / self.sigma[f];
            if z.abs() > best.2 {
                second = best.2;
                best = (f, z, z.abs());
            } else if z.abs() > second {
                second = z.abs();
            }
        }
        let (f, z, abs) = best;
        let band = Band::new(self.median[f] - k * self.sigma[f], self.median[f] + k * self.sigma[f]);
        let reason = if abs > k && abs >= 2.0 * second {
            if z > 0.0 { Reason::Above } else { Reason::Below }
        } else {
            Reason::UnusualPattern
        };
        (f, band, reason)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.median.capacity() + self.sigma.capacity()) * size_of::<f64>() + self.scratch.capacity() * size_of::<f32>()
    }
}

/// Median of a non-empty slice, reordering it (mean of the two middle
/// values for an even length).
fn median(values: &mut [f32]) -> f32 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (_, &mut hi, _) = values.select_nth_unstable_by(n / 2, f32::total_cmp);
    if n % 2 == 1 {
        return hi;
    }
    let lo = values[..n / 2].iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (lo + hi) / 2.0
}

/// Keeps anomalous points out of the training window, so a long incident
/// does not teach the model that the incident is normal, while a lasting
/// change of regime is learned: once at least half of the last
/// `max_run` points (an exponentially weighted share) have been kept out,
/// the model is out of date, and every point is admitted until the share
/// falls back. A noisy new regime, where some points score low and most
/// high, is learned too, which a count of consecutive exclusions would
/// miss (each low point resets it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate {
    threshold: f64,
    max_run: usize,
    /// Exponentially weighted share of recent points scored above
    /// `threshold`.
    share: f64,
    /// Whether short runs of high points are admitted (see
    /// [`Gate::admitting_isolated`]).
    isolated: bool,
    /// Current run of high points.
    run: u32,
    /// Whether the points of a lasting excursion are kept out whatever
    /// their score (see [`Gate::keeping_out_excursions`]).
    excursions: bool,
    /// Points at or beyond the band's edge (score 0.5) in the current
    /// excursion: a run of them that fewer than [`CALM_END`] points in a
    /// row within the band interrupt.
    flagged_run: u32,
    /// Current run of points within the band.
    calm_run: u32,
}

/// Longest run of high points [`Gate::admitting_isolated`] still admits:
/// a spike lasts a few points, an incident longer.
const SHORT_RUN: u32 = 5;

/// Points beyond the band after which a run of them is an excursion
/// ([`Gate::keeping_out_excursions`]).
const EXCURSION: u32 = 10;

/// Points in a row within the band that end an excursion.
const CALM_END: u32 = 10;

impl Gate {
    /// A gate excluding points scored above `threshold` (1.0 or more
    /// disables it) while fewer than half of the last `max_run` were.
    pub(crate) fn new(threshold: f64, max_run: usize) -> Self {
        Self { threshold, max_run, share: 0.0, isolated: false, run: 0, excursions: false, flagged_run: 0, calm_run: 0 }
    }

    /// The same gate, but the first five high points of a run are
    /// admitted: only longer runs are kept out. For a model that does not
    /// measure from a few outliers anyway (k-means' small clusters), so
    /// that a series whose normal traffic has a heavy tail, spikes and
    /// all, is learned with its tail, while an incident, a long run of
    /// high points, is still kept out.
    pub(crate) fn admitting_isolated(self) -> Self {
        Self { isolated: true, ..self }
    }

    /// The same gate, but once more than [`EXCURSION`] points of a run
    /// scored beyond the band (0.5 or more), not ended by [`CALM_END`]
    /// points in a row within it, every point of that excursion is kept
    /// out, however it scores. For the Isolation Forest: the milder
    /// points of a lasting incident, and the few that happen to score
    /// within the band, would otherwise teach it the incident a little
    /// at a time, and its scores would fade while the incident lasts (on
    /// a simulated 15-minute bitrate drop, from every point clearly
    /// anomalous to fewer than half). The share rule still learns a change
    /// that lasts.
    pub(crate) fn keeping_out_excursions(self) -> Self {
        Self { excursions: true, ..self }
    }

    /// Whether a point with this score should join the training window.
    pub(crate) fn admit(&mut self, score: f64) -> bool {
        if score >= 0.5 {
            self.flagged_run = self.flagged_run.saturating_add(1);
            self.calm_run = 0;
        } else {
            self.calm_run = self.calm_run.saturating_add(1);
            if self.calm_run >= CALM_END {
                self.flagged_run = 0;
            }
        }
        let high = score > self.threshold || (self.excursions && self.flagged_run > EXCURSION);
        self.share += (f64::from(u8::from(high)) - self.share) / self.max_run.max(1) as f64;
        self.run = if high { self.run.saturating_add(1) } else { 0 };
        let isolated = self.isolated && self.run <= SHORT_RUN;
        !high || isolated || self.share >= 0.5
    }
}

/// Converts a metric vector to `f32` into `out`; `false` (and `out` left
/// partly written) when a value is not finite or the length is wrong.
pub(crate) fn to_f32(values: &[f64], out: &mut [f32]) -> bool {
    if values.len() != out.len() {
        return false;
    }
    for (o, &v) in out.iter_mut().zip(values) {
        if !v.is_finite() {
            return false;
        }
        *o = v as f32;
    }
    true
}

/// The `q`-quantile (0..=1) of a slice, reordering it.
pub(crate) fn quantile(values: &mut [f32], q: f64) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    *values.select_nth_unstable_by(i, f32::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_the_latest_rows_in_order() {
        let mut w = Window::new(2, 3);
        for i in 0..5 {
            w.push(&[i as f32, -(i as f32)]);
        }
        assert_eq!(w.len(), 3);
        assert_eq!(w.row(0), &[2.0, -2.0]);
        assert_eq!(w.row(2), &[4.0, -4.0]);
    }

    #[test]
    fn robust_scale_ignores_outliers_and_names_the_dominant_feature() {
        let mut w = Window::new(2, 101);
        for i in 0..100 {
            w.push(&[10.0 + (i % 5) as f32, 100.0 + (i % 3) as f32]);
        }
        w.push(&[1e6, 100.0]);
        let mut s = RobustScale::new(2, 101);
        s.refit(&w);
        assert_eq!(s.median(0), 12.0);
        assert!(s.sigma(0) > 1.0 && s.sigma(0) < 3.0, "{}", s.sigma(0));
        let (f, band, reason) = s.explain(&[12.0, 130.0], 3.0);
        assert_eq!((f, reason), (1, Reason::Above));
        assert!(band.contains(101.0) && !band.contains(130.0));
        let (_, _, reason) = s.explain(&[30.0, 130.0], 3.0);
        assert_eq!(reason, Reason::UnusualPattern);
    }

    #[test]
    fn gate_keeping_out_excursions_holds_the_mild_points_of_a_lasting_one() {
        // Mild points (beyond the band, below the threshold), with now and
        // then one within the band: admitted by a plain gate...
        let mild = |i: usize| if i % 7 == 6 { 0.3 } else { 0.6 };
        let mut plain = Gate::new(0.75, 512);
        assert!((0..100).all(|i| plain.admit(mild(i))));
        // ...kept out, all of them, once the excursion passes EXCURSION.
        let mut g = Gate::new(0.75, 512).keeping_out_excursions();
        let admitted: Vec<bool> = (0..100).map(|i| g.admit(mild(i))).collect();
        assert!(admitted[..=EXCURSION as usize].iter().filter(|a| !**a).count() <= 1);
        assert!(admitted[EXCURSION as usize + 2..].iter().all(|a| !a), "{admitted:?}");
        // CALM_END points within the band end it: admitted again.
        let calm: Vec<bool> = (0..CALM_END + 1).map(|_| g.admit(0.2)).collect();
        assert!(calm[..CALM_END as usize - 1].iter().all(|a| !a));
        assert!(g.admit(0.2) && g.admit(0.6), "a new run starts from zero");
        // A spike of a few points is no excursion.
        let mut g = Gate::new(0.75, 512).keeping_out_excursions();
        assert!((0..5).all(|_| g.admit(0.6)) && g.admit(0.1));
    }

    #[test]
    fn gate_admits_a_regime_once_half_the_recent_points_were_kept_out() {
        let mut g = Gate::new(0.8, 100);
        assert!(g.admit(0.1));
        // A lasting change: kept out until about ln 2 × 100 points in.
        let kept_out = (0..200).take_while(|_| !g.admit(0.9)).count();
        assert!((60..=75).contains(&kept_out), "{kept_out}");
        // A noisy regime, one low point in three: learned as well.
        let mut g = Gate::new(0.8, 100);
        let admitted_high = (0..600).filter(|i| i % 3 != 0 && g.admit(0.9)).count();
        assert!(admitted_high > 300, "{admitted_high}");
        // Rare outliers stay out.
        let mut g = Gate::new(0.8, 100);
        assert!((0..1000).all(|i| g.admit(if i % 20 == 0 { 0.9 } else { 0.1 }) == (i % 20 != 0)));
    }

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 4.0]), 2.5);
        assert_eq!(median(&mut [5.0, 1.0, 3.0, 2.0, 4.0]), 3.0);
    }

    #[test]
    fn a_count_keeps_its_resolution_and_a_mostly_flat_one_its_other_values() {
        // Mostly zero with a few ones: MAD 0, so the mean absolute
        // deviation; a count in steps of 1 never gets σ̂ below 1/√12.
        let mut w = Window::new(1, 100);
        for i in 0..100 {
            w.push(&[if i % 20 == 0 { 1.0 } else { 0.0 }]);
        }
        let mut s = RobustScale::new(1, 100);
        s.refit(&w);
        assert!((s.sigma(0) - 1.0 / 12f64.sqrt()).abs() < 1e-6, "{}", s.sigma(0));
    }
}
