//! k-means distance detector over short windows of one stream's metric
//! vectors; the details are documented on [`KMeans`].

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::iforest_window::{Gate, RobustScale, Window, to_f32};
use super::isolation_forest::{MAX_DIMENSIONS, check_common};
use super::kmeans_lloyd::Lloyd;
use super::score::ratio_score;
use crate::detect::{VectorDetector, Verdict};
use crate::error::{Error, Result};

/// Longest flattened feature, `dimensions × window`.
const MAX_FEATURE: usize = 256;

/// Configuration of a [`KMeans`] detector.
///
/// ```
/// use streammon_core::detect::KMeansConfig;
/// let detector = KMeansConfig { k: 4, seed: 7, ..Default::default() }.build()?;
/// # let _ = detector;
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KMeansConfig {
    /// Features per vector, 1 to 64. Defaults to 5 (latency, buffering,
    /// bitrate, errors, startup time).
    pub dimensions: usize,
    /// Consecutive vectors flattened into one feature, 1 to 32, with
    /// `dimensions × window` at most 256. Defaults to 4. (The univariate
    /// adapter, [`LagEmbedding::kmeans`](crate::detect::LagEmbedding::kmeans),
    /// uses 1: its embedded vector already holds the point's recent steps.)
    pub window: usize,
    /// Clusters, 1 to 64. Defaults to 8.
    pub k: usize,
    /// Recent vectors kept to train on, `min_samples` to 65 536. Defaults
    /// to 256.
    pub buffer: usize,
    /// Points between two refits, at least 1. Defaults to 128.
    pub retrain_every: usize,
    /// Most Lloyd iterations per fit, 1 to 1000. Defaults to 20.
    pub max_iter: usize,
    /// Vectors observed before the first fit; quiet until then. At least
    /// `k + window − 1` (so there are `k` training windows) and at most
    /// `buffer`. Defaults to 64.
    pub min_samples: usize,
    /// Half-width of the expected band in robust standard deviations
    /// (1.4826 · MAD), above 0. Defaults to 3.
    pub band_k: f64,
    /// Points scoring above this stay out of the buffer once more than
    /// five in a row do (a spike's few points are let in: they form a
    /// small cluster, which the score does not measure from; an
    /// incident's are kept out), within (0, 1]; 1 admits everything.
    /// Defaults to 0.8.
    pub exclude_above: f64,
    /// Points over which the share of points kept out is weighed: once
    /// half of about that many recent points were kept out, the change is
    /// lasting and is learned. Defaults to 256 (the buffer).
    pub max_excluded_run: usize,
    /// Seed of the k-means++ draws. Defaults to 0.
    pub seed: u64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            dimensions: 5,
            window: 4,
            k: 8,
            buffer: 256,
            retrain_every: 128,
            max_iter: 20,
            min_samples: 64,
            band_k: 3.0,
            exclude_above: 0.8,
            max_excluded_run: 256,
            seed: 0,
        }
    }
}

impl KMeansConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first invalid field, e.g.
    /// `kmeans.k`.
    pub fn validate(&self) -> Result<()> {
        let field = |name: &str| format!("kmeans.{name}");
        if !(1..=MAX_DIMENSIONS).contains(&self.dimensions) {
            return Err(Error::config(field("dimensions"), format!("{} is not within 1 to 64", self.dimensions)));
        }
        if !(1..=32).contains(&self.window) || self.window * self.dimensions > MAX_FEATURE {
            return Err(Error::config(
                field("window"),
                format!("{} is not within 1 to 32 with dimensions × window at most 256", self.window),
            ));
        }
        if !(1..=64).contains(&self.k) {
            return Err(Error::config(field("k"), format!("{} is not within 1 to 64", self.k)));
        }
        if self.retrain_every == 0 {
            return Err(Error::config(field("retrain_every"), "0 is not at least 1"));
        }
        if !(1..=1000).contains(&self.max_iter) {
            return Err(Error::config(field("max_iter"), format!("{} is not within 1 to 1000", self.max_iter)));
        }
        let least = self.k + self.window - 1;
        if self.min_samples < least.max(2) {
            return Err(Error::config(
                field("min_samples"),
                format!("{} is below k + window − 1 ({least}) or 2", self.min_samples),
            ));
        }
        if !(self.min_samples..=65_536).contains(&self.buffer) {
            return Err(Error::config(
                field("buffer"),
                format!("{} is not within min_samples ({}) to 65536", self.buffer, self.min_samples),
            ));
        }
        check_common("kmeans", self.band_k, self.exclude_above)
    }

    /// Validates the configuration and builds the detector.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn build(&self) -> Result<KMeans> {
        self.validate()?;
        Ok(KMeans::new(self.clone()))
    }
}

/// A k-means distance detector over short windows of one stream's metric
/// vectors, built by [`KMeansConfig::build`].
///
/// Each point's feature is its last `window` vectors, flattened and
/// standardised by the training buffer's robust scale (median and
/// 1.4826·MAD per metric, fixed between refits), so both a combination of
/// values and a short trajectory that training never showed stand out.
/// Every `retrain_every` points it fits `k` centroids on every such window
/// of its rolling buffer, with k-means++ seeding and at most `max_iter`
/// Lloyd iterations (bounded time).
///
/// # Score
/// `dist` is the Euclidean distance, in robust standard deviations, from
/// the point's feature to the nearest centroid of a *large* cluster: the
/// biggest clusters that together hold 90 % of the training windows (He,
/// Xu and Deng's CBLOF, 2003). A few outliers in the buffer form small
/// clusters of their own; a point near them is still as far from normal
/// as they are. The score is the non-saturating ratio score of `dist / (band_k · √dimensions)`:
/// 0.5 for a window as far from its cluster as one vector with every
/// metric `band_k` robust standard deviations off, 0.83 at twice that,
/// never 1. The scale is fixed, not calibrated on the series' own
/// distances, so a series whose every window is ordinary scores low and
/// scores from different series mean the same.
///
/// Points scored above `exclude_above` stay out of the buffer for up to
/// `max_excluded_run` points in a row, as for the
/// [`IsolationForest`](crate::detect::IsolationForest).
#[derive(Debug, Clone)]
pub struct KMeans {
    config: KMeansConfig,
    rng: Pcg64Mcg,
    /// Admitted vectors, the training set.
    buffer: Window,
    /// The last `window` valid vectors, admitted or not.
    recent: Window,
    scale: RobustScale,
    lloyd: Lloyd,
    gate: Gate,
    /// Training matrix scratch: one flattened window per row.
    matrix: Vec<f32>,
    /// The current vector and feature.
    x: Vec<f32>,
    feature: Vec<f32>,
    trained: bool,
    since_train: usize,
}

impl KMeans {
    fn new(config: KMeansConfig) -> Self {
        let (d, w, b) = (config.dimensions, config.window, config.buffer);
        Self {
            rng: Pcg64Mcg::seed_from_u64(config.seed),
            buffer: Window::new(d, b),
            recent: Window::new(d, w),
            scale: RobustScale::new(d, b),
            lloyd: Lloyd::new(config.k, d * w, b),
            gate: Gate::new(config.exclude_above, config.max_excluded_run).admitting_isolated(),
            matrix: Vec::with_capacity(b * d * w),
            x: vec![0.0; d],
            feature: vec![0.0; d * w],
            trained: false,
            since_train: 0,
            config,
        }
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &KMeansConfig {
        &self.config
    }

    /// Whether centroids have been fitted yet (before that, every verdict
    /// is [`Verdict::QUIET`]).
    pub fn is_trained(&self) -> bool {
        self.trained
    }

    /// Writes the standardised, flattened window of `rows` into `out`.
    fn flatten<'a>(scale: &RobustScale, rows: impl Iterator<Item = &'a [f32]>, out: &mut [f32]) {
        let mut slots = out.iter_mut();
        for row in rows {
            for ((f, &v), slot) in row.iter().enumerate().zip(&mut slots) {
                *slot = ((f64::from(v) - scale.median(f)) / scale.sigma(f)) as f32;
            }
        }
    }

    fn refit(&mut self) {
        let (d, w) = (self.config.dimensions, self.config.window);
        self.scale.refit(&self.buffer);
        let rows = self.buffer.len() + 1 - w;
        self.matrix.clear();
        self.matrix.resize(rows * d * w, 0.0);
        for (i, out) in self.matrix.chunks_exact_mut(d * w).enumerate() {
            Self::flatten(&self.scale, (i..i + w).map(|j| self.buffer.row(j)), out);
        }
        self.lloyd.fit(&self.matrix, self.config.max_iter, &mut self.rng);
        self.trained = true;
        self.since_train = 0;
    }
}

impl VectorDetector for KMeans {
    fn name(&self) -> &'static str {
        "kmeans"
    }

    fn dimensions(&self) -> usize {
        self.config.dimensions
    }

    /// Scores a vector. A vector of the wrong length or with a value that
    /// is not finite is skipped: quiet, and the state is unchanged.
    fn update(&mut self, _timestamp_ms: i64, values: &[f64]) -> (Verdict, Option<usize>) {
        if !to_f32(values, &mut self.x) {
            return (Verdict::QUIET, None);
        }
        self.recent.push(&self.x);
        let w = self.config.window;
        let result = if self.trained && self.recent.len() == w {
            Self::flatten(&self.scale, (0..w).map(|j| self.recent.row(j)), &mut self.feature);
            let dist = f64::from(self.lloyd.nearest_large(&self.feature).sqrt());
            let score = ratio_score(dist / (self.config.band_k * (self.config.dimensions as f64).sqrt()));
            let (f, band, reason) = self.scale.explain(values, self.config.band_k);
            (Verdict::new(score, Some(band), (score >= 0.5).then_some(reason)), Some(f))
        } else {
            (Verdict::QUIET, None)
        };
        // Gate only judged points; during warm-up everything is admitted.
        if !self.trained || self.gate.admit(result.0.score) {
            self.buffer.push(&self.x);
        }
        self.since_train += 1;
        let due = if self.trained {
            self.since_train >= self.config.retrain_every
        } else {
            self.buffer.len() >= self.config.min_samples
        };
        if due {
            self.refit();
        }
        result
    }

    fn state_bytes(&self) -> usize {
        size_of::<Self>()
            + self.buffer.heap_bytes()
            + self.recent.heap_bytes()
            + self.scale.heap_bytes()
            + self.lloyd.heap_bytes()
            + self.matrix.capacity() * size_of::<f32>()
            + (self.x.capacity() + self.feature.capacity()) * size_of::<f32>()
    }
}
