//! A univariate [`Detector`] made of a [`VectorDetector`]; the details are
//! documented on [`LagEmbedding`].

use crate::detect::{Band, Detector, IsolationForest, IsolationForestConfig, KMeans, KMeansConfig, Point};
use crate::detect::{VectorDetector, Verdict};
use crate::error::{Error, Result};

/// Smoothing of the EWMA the third feature deviates from.
const EWMA_ALPHA: f64 = 0.2;

/// A univariate detector over a [`VectorDetector`] of
/// [`LagEmbedding::FEATURES`] dimensions: each point is embedded as a
/// small vector of its recent behaviour.
///
/// The three features of a point `v` are its level (`v` minus the first
/// value seen, so large offsets keep `f32` precision), its first difference
/// `v − previous`, and its deviation from a short EWMA of the values before
/// it (α = 0.2). A jump shows in all three, a slow climb in the level, a
/// burst of noise in the difference.
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
/// back the first value, a difference band by adding the previous value,
/// a deviation band by adding the EWMA.
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
    /// First value seen: the origin of the level feature.
    origin: Option<f64>,
    previous: f64,
    ewma: f64,
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
        Ok(Self { inner, origin: None, previous: 0.0, ewma: 0.0 })
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
    /// `dimensions` set to [`FEATURES`](Self::FEATURES).
    ///
    /// # Errors
    /// As [`KMeansConfig::build`].
    pub fn kmeans(config: &KMeansConfig) -> Result<Self> {
        Self::new(KMeansConfig { dimensions: Self::FEATURES, ..config.clone() }.build()?)
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
        let Some(origin) = self.origin else {
            self.origin = Some(v);
            self.previous = v;
            self.ewma = v;
            return Verdict::QUIET;
        };
        let features = [v - origin, v - self.previous, v - self.ewma];
        let (verdict, feature) = self.inner.update(point.timestamp_ms, &features);
        let shift = match feature {
            Some(0) => Some(origin),
            Some(1) => Some(self.previous),
            Some(2) => Some(self.ewma),
            _ => None,
        };
        let expected = verdict.expected.zip(shift).map(|(b, s)| Band::new(b.low + s, b.high + s));
        self.previous = v;
        self.ewma += EWMA_ALPHA * (v - self.ewma);
        Verdict::new(verdict.score, expected, verdict.reason)
    }

    fn state_bytes(&self) -> usize {
        size_of::<Self>() - size_of::<V>() + self.inner.state_bytes()
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
