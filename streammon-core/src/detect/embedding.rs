//! A univariate [`Detector`] made of a [`VectorDetector`]; the details are
//! documented on [`LagEmbedding`].

use super::score::{BELOW_HALF, consistent};
use crate::detect::{Band, Detector, IsolationForest, IsolationForestConfig, KMeans, KMeansConfig, Point, Reason};
use crate::detect::{VectorDetector, Verdict};
use crate::error::{Error, Result};

/// Points in the window whose median the first feature deviates from.
const LONG: usize = 512;
/// Points in the window whose median the third feature deviates from.
const SHORT: usize = 8;
/// Recent steps whose median size is the typical step.
const STEPS: usize = 64;
/// Typical steps a jump back toward the level must exceed to be a recovery.
const JUMP: f64 = 2.0;

/// A univariate detector over a [`VectorDetector`] of
/// [`LagEmbedding::FEATURES`] dimensions: each point is embedded as a
/// small vector of its recent behaviour.
///
/// The three features of a point `v` are its deviation from the median
/// of the last 256 values (its level against the recent normal), its
/// first difference `v − previous`, and its deviation from the median of
/// the last 8 values. A spike shows in all three, a level shift in the
/// first and, at its onset, the other two, a burst of noise in the
/// difference. Medians, not averages: a spike does not move them, so the
/// points after it embed as they did before it, and a series that is
/// mostly one value (a count that is mostly zero) embeds exactly at 0
/// between its events instead of at the tail of a decaying average.
///
/// The features are not standardised here: both learned detectors already
/// are insensitive to each feature's scale (Isolation Forest splits are
/// drawn uniformly over each feature's range; k-means standardises by each
/// feature's robust scale), so multiplying a series by 1000 leaves its
/// scores as they were (`tests/ml_detectors.rs` checks this). A moving
/// standardisation would instead shift the features under a model trained
/// on older ones.
///
/// The inner detector's expected band, for whichever feature it found most
/// unusual, is mapped back to the value's scale: a level band by adding
/// back the long median, a difference band by adding the previous value,
/// a deviation band by adding the short median. The verdict keeps to it:
/// a point whose value is within that band scores below 0.5. A jump back
/// toward the long median (a step more than twice the median step of the
/// last 64) is a recovery, not news: it scores below 0.5 too
/// (without this, the point after every spike would be flagged for its
/// large step down), while the ordinary ups and downs of a level that
/// stays shifted are judged as usual.
///
/// For k-means the embedding is used one vector at a time (`window` 1):
/// the vector already holds the point's recent steps, and a window of
/// several would smear one spike over as many points.
///
/// ```
/// use streammon_core::detect::{IsolationForestConfig, LagEmbedding};
/// use streammon_core::{Detector, Point};
/// let mut detector = LagEmbedding::isolation_forest(&IsolationForestConfig::default())?;
/// let verdict = detector.update(Point::new(0, 42.0));
/// assert_eq!(verdict.score, 0.0); // quiet while warming up
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LagEmbedding<V> {
    inner: V,
    long: Median,
    short: Median,
    /// Sizes of recent steps, `|v − previous|`.
    steps: Median,
    previous: Option<f64>,
}

/// The median of the last `n` values, kept in `f64`: a value equal to the
/// median deviates from it by exactly 0 at any scale (an `f32` window's
/// rounding would put a cloud of tiny deviations there, which the
/// forest's range rule reads differently at different scales).
#[derive(Debug, Clone)]
struct Median {
    ring: Box<[f64]>,
    sorted: Vec<f64>,
    head: usize,
}

impl Median {
    fn new(n: usize) -> Self {
        Self { ring: vec![0.0; n].into_boxed_slice(), sorted: Vec::with_capacity(n), head: 0 }
    }

    fn push(&mut self, x: f64) {
        if self.sorted.len() == self.ring.len() {
            let old = self.ring[self.head];
            let at = self.sorted.partition_point(|&v| v < old);
            self.sorted.remove(at);
        }
        self.ring[self.head] = x;
        self.head = (self.head + 1) % self.ring.len();
        let at = self.sorted.partition_point(|&v| v < x);
        self.sorted.insert(at, x);
    }

    fn median(&self) -> Option<f64> {
        let n = self.sorted.len();
        (n > 0).then(|| (self.sorted[(n - 1) / 2] + self.sorted[n / 2]) / 2.0)
    }

    fn state_bytes(&self) -> usize {
        size_of::<Self>() + (self.ring.len() + self.sorted.capacity()) * size_of::<f64>()
    }
}

impl<V: VectorDetector> LagEmbedding<V> {
    /// Features per point: level, first difference, deviation from EWMA.
    pub const FEATURES: usize = 3;

    /// Wraps `inner`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (`lag_embedding.dimensions`) when `inner`
    /// does not take [`FEATURES`](Self::FEATURES) dimensions.
    pub fn new(inner: V) -> Result<Self> {
        if inner.dimensions() != Self::FEATURES {
            return Err(Error::config(
                "lag_embedding.dimensions",
                format!("the inner detector takes {} dimensions, not {}", inner.dimensions(), Self::FEATURES),
            ));
        }
        Ok(Self {
            inner,
            long: Median::new(LONG),
            short: Median::new(SHORT),
            steps: Median::new(STEPS),
            previous: None,
        })
    }

    /// The wrapped detector.
    pub fn inner(&self) -> &V {
        &self.inner
    }
}

impl LagEmbedding<IsolationForest> {
    /// An [`IsolationForest`] for one series, built from `config` with its
    /// `dimensions` set to [`FEATURES`](Self::FEATURES).
    ///
    /// # Errors
    /// As [`IsolationForestConfig::build`].
    pub fn isolation_forest(config: &IsolationForestConfig) -> Result<Self> {
        Self::new(IsolationForestConfig { dimensions: Self::FEATURES, ..config.clone() }.build()?)
    }
}

impl LagEmbedding<KMeans> {
    /// A [`KMeans`] detector for one series, built from `config` with its
    /// `dimensions` set to [`FEATURES`](Self::FEATURES) and its `window`
    /// to 1 (see the type docs).
    ///
    /// # Errors
    /// As [`KMeansConfig::build`].
    pub fn kmeans(config: &KMeansConfig) -> Result<Self> {
        Self::new(KMeansConfig { dimensions: Self::FEATURES, window: 1, ..config.clone() }.build()?)
    }
}

impl<V: VectorDetector> Detector for LagEmbedding<V> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    /// Embeds and judges a point. A `NaN` (or infinite) value is skipped:
    /// quiet, state unchanged. The first point only sets the origin.
    fn update(&mut self, point: Point) -> Verdict {
        let v = point.value;
        if !v.is_finite() {
            return Verdict::QUIET;
        }
        let (Some(previous), Some(long), Some(short)) = (self.previous, self.long.median(), self.short.median()) else {
            self.previous = Some(v);
            self.long.push(v);
            self.short.push(v);
            return Verdict::QUIET;
        };
        let features = [v - long, v - previous, v - short];
        let (verdict, feature) = self.inner.update(point.timestamp_ms, &features);
        let shift = match feature {
            Some(0) => Some(long),
            Some(1) => Some(previous),
            Some(2) => Some(short),
            _ => None,
        };
        let expected = verdict.expected.zip(shift).map(|(b, s)| Band::new(b.low + s, b.high + s));
        self.previous = Some(v);
        self.long.push(v);
        self.short.push(v);
        // A jump back toward the level is a recovery, not news: the step
        // down after a spike. The ups and downs of a level that stays
        // shifted are ordinary steps, and are judged.
        let step = (v - previous).abs();
        let typical = self.steps.median().unwrap_or(0.0);
        let recovery = (v - long).abs() < (previous - long).abs() && step > JUMP * typical;
        self.steps.push(step);
        let score = if recovery { verdict.score.min(BELOW_HALF) } else { verdict.score };
        match expected {
            // A point is flagged only when the feature that explains it is
            // beyond its band: the value is then outside the band shown.
            Some(band) => consistent(v, score, band, verdict.reason.unwrap_or(Reason::UnusualPattern)),
            None => Verdict { score: score.min(BELOW_HALF), expected: None, reason: None },
        }
    }

    fn state_bytes(&self) -> usize {
        size_of::<Self>() - size_of::<V>() - 3 * size_of::<Median>()
            + self.inner.state_bytes()
            + self.long.state_bytes()
            + self.short.state_bytes()
            + self.steps.state_bytes()
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    use super::*;
    use crate::Reason;

    #[test]
    fn refuses_an_inner_detector_of_the_wrong_width() {
        let inner = IsolationForestConfig::default().build().unwrap();
        let err = LagEmbedding::new(inner).unwrap_err();
        assert!(err.to_string().contains("lag_embedding.dimensions"), "{err}");
    }

    #[test]
    fn a_spike_scores_high_with_a_band_on_the_value_scale() {
        let mut d = LagEmbedding::isolation_forest(&IsolationForestConfig { seed: 3, ..Default::default() }).unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut high = 0;
        for i in 0..1000 {
            let v = 1000.0 + (0..4).map(|_| rng.random::<f64>()).sum::<f64>() * 5.0;
            high += usize::from(d.update(Point::new(i, v)).score > 0.8);
        }
        assert!(high < 10, "{high} of 1000 normal points above 0.8");
        assert_eq!(d.update(Point::new(1000, f64::NAN)), Verdict::QUIET);
        let spike = d.update(Point::new(1001, 1100.0));
        assert!(spike.score > 0.8, "{spike:?}");
        let band = spike.expected.unwrap();
        assert!(band.low > 990.0 && band.high < 1030.0, "{band:?}");
        assert!(matches!(spike.reason, Some(Reason::Above | Reason::UnusualPattern)), "{spike:?}");
    }
}
