//! Isolation Forest (Liu, Ting and Zhou, 2008) over the recent metric
//! vectors of one stream; the details are documented on [`IsolationForest`].

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::iforest_tree::{Forest, average_path_length};
use super::iforest_window::{Gate, RobustScale, Window, quantile, to_f32};
use super::score::ratio_score;
use crate::detect::{VectorDetector, Verdict};
use crate::error::{Error, Result};

/// Largest number of features a learned detector accepts.
pub const MAX_DIMENSIONS: usize = 64;

/// Path lengths the score is calibrated on at each refit, at most.
const CALIBRATION_ROWS: usize = 256;

/// Points scored together by [`IsolationForest::update_batch`] between two
/// possible refits, at most.
const BATCH_CHUNK: usize = 64;

/// Configuration of an [`IsolationForest`].
///
/// ```
/// use streammon_core::detect::IsolationForestConfig;
/// let forest = IsolationForestConfig { dimensions: 3, seed: 7, ..Default::default() }.build()?;
/// # let _ = forest;
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationForestConfig {
    /// Features per vector, 1 to 64. Defaults to 5 (latency, buffering,
    /// bitrate, errors, startup time).
    pub dimensions: usize,
    /// Isolation trees, 1 to 1000. Defaults to 48, not Liu et al.'s 100:
    /// the most (in multiples of 8, as trees are walked eight at a time)
    /// that score a million points a second one at a time on one core
    /// (`docs/ML_DETECTORS.md`).
    pub trees: usize,
    /// Points each tree is grown on (ψ), 2 to 4096 and at most `window`;
    /// trees are cut at height ⌈log₂ ψ⌉. Defaults to 256.
    pub sample_size: usize,
    /// Recent vectors kept to train on, 2 to 65 536. Defaults to 512.
    pub window: usize,
    /// Points between two refits, at least 1. Defaults to 128 (a quarter
    /// of the window): on the labelled corpus, models refit every 256
    /// points lost 6–8 points on every profile.
    pub retrain_every: usize,
    /// Vectors observed before the first model is grown; quiet until then.
    /// 2 to `window`. Defaults to 64.
    pub min_samples: usize,
    /// Whether a value beyond a node's training range by more than that
    /// range's width isolates at that node. Liu et al.'s trees cannot cut
    /// beyond the training range, so without this a value far outside it
    /// scores like the most extreme training value (a bitrate collapse
    /// alone reaches about 0.65, not 0.8). Defaults to true.
    pub beyond_range: bool,
    /// Half-width of the expected band in robust standard deviations
    /// (1.4826 · MAD), above 0. Defaults to 3.
    pub band_k: f64,
    /// Points scoring above this stay out of the training window, within
    /// (0, 1]; 1 admits everything. Defaults to 0.75 (a path a quarter
    /// shorter than the one at the band's edge).
    pub exclude_above: f64,
    /// Points over which the share of points kept out is weighed: once
    /// half of about that many recent points were kept out, the change is
    /// lasting and is learned. Defaults to 512 (the window).
    pub max_excluded_run: usize,
    /// Seed of the subsampling and split draws. Defaults to 0.
    pub seed: u64,
}

impl Default for IsolationForestConfig {
    fn default() -> Self {
        Self {
            dimensions: 5,
            trees: 48,
            sample_size: 256,
            window: 512,
            retrain_every: 128,
            min_samples: 64,
            beyond_range: true,
            band_k: 3.0,
            exclude_above: 0.75,
            max_excluded_run: 512,
            seed: 0,
        }
    }
}

impl IsolationForestConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first invalid field, e.g.
    /// `isolation_forest.sample_size`.
    pub fn validate(&self) -> Result<()> {
        let field = |name: &str| format!("isolation_forest.{name}");
        if !(1..=MAX_DIMENSIONS).contains(&self.dimensions) {
            return Err(Error::config(field("dimensions"), format!("{} is not within 1 to 64", self.dimensions)));
        }
        if !(1..=1000).contains(&self.trees) {
            return Err(Error::config(field("trees"), format!("{} is not within 1 to 1000", self.trees)));
        }
        if !(2..=65_536).contains(&self.window) {
            return Err(Error::config(field("window"), format!("{} is not within 2 to 65536", self.window)));
        }
        if !(2..=4096).contains(&self.sample_size) || self.sample_size > self.window {
            return Err(Error::config(
                field("sample_size"),
                format!("{} is not within 2 to 4096 and at most window ({})", self.sample_size, self.window),
            ));
        }
        if self.retrain_every == 0 {
            return Err(Error::config(field("retrain_every"), "0 is not at least 1"));
        }
        if !(2..=self.window).contains(&self.min_samples) {
            return Err(Error::config(
                field("min_samples"),
                format!("{} is not within 2 and window ({})", self.min_samples, self.window),
            ));
        }
        check_common("isolation_forest", self.band_k, self.exclude_above)
    }

    /// Validates the configuration and builds the detector.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn build(&self) -> Result<IsolationForest> {
        self.validate()?;
        Ok(IsolationForest::new(self.clone()))
    }
}

/// Checks the fields the learned detectors share.
pub(crate) fn check_common(prefix: &str, band_k: f64, exclude_above: f64) -> Result<()> {
    if !(band_k.is_finite() && band_k > 0.0) {
        return Err(Error::config(format!("{prefix}.band_k"), format!("{band_k} is not a finite number above 0")));
    }
    if !(exclude_above > 0.0 && exclude_above <= 1.0) {
        return Err(Error::config(format!("{prefix}.exclude_above"), format!("{exclude_above} is not within (0, 1]")));
    }
    Ok(())
}

/// An Isolation Forest (Liu, Ting and Zhou, 2008) over the recent metric
/// vectors of one stream, built by [`IsolationForestConfig::build`].
///
/// Points that are few and different are isolated by fewer random
/// axis-parallel splits than points in the crowd. The detector keeps a
/// rolling window of recent vectors, grows `trees` isolation trees on
/// random subsamples of it every `retrain_every` points, and scores each
/// new vector by its mean path length `E[h(x)]` over the trees.
///
/// # Score
/// Liu et al.'s score is `s = 2^(−E[h(x)] / c(ψ))`. The band's edge is
/// the mean path length `E_edge`, the longer of two:
///
/// * `E₉₉`, the path that only 1 % of the last 256 admitted points were
///   isolated in fewer steps than, as the model before scored them (the
///   99th percentile of anomaly of recent normal traffic; at the first
///   fit, of the training window itself): how deep normal points go for
///   this series and these dimensions;
/// * `c(ψ) / 2`, half the path of an average point (Liu's `s` of 0.71): so
///   that on a series whose recent traffic is full of easily isolated
///   points, which pull `E₉₉` down, a point isolated that fast is still
///   unusual.
///
/// The score is the non-saturating ratio score of `E_edge / E`: 0.5 at the edge, 0.73
/// for a point isolated in 30 % fewer splits, 0.83 in half as many, and
/// never 1, so the most isolated points keep their order.
///
/// # Beyond the training range
/// With `beyond_range` (the default), a value outside a split's training
/// range `[lo, hi]` by `e` is isolated at that split with probability
/// `e / (e + hi − lo)`, the chance that a cut drawn over the range
/// stretched to include it would separate it. Liu et al.'s trees only cut
/// within the training range, so otherwise a value far outside it scores
/// like the most extreme training value; with this, its expected path
/// shortens steadily with its distance.
///
/// # Training window
/// Points scored above `exclude_above` are kept out of the window (and so
/// out of later models), so that a long incident keeps scoring as one
/// instead of becoming the new normal, until half of about the last
/// `max_excluded_run` points were kept out: a change that lasts is
/// learned, noisy or not.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    config: IsolationForestConfig,
    rng: Pcg64Mcg,
    window: Window,
    scale: RobustScale,
    forest: Forest,
    gate: Gate,
    /// The current point as `f32`, padded so features index without checks.
    x: Box<[f32; 64]>,
    /// Batch scratch: points and path sums of one chunk.
    batch_x: Vec<[f32; 64]>,
    batch_sums: Vec<f32>,
    /// Mean path lengths of the latest admitted points.
    recent_paths: Window,
    /// Calibration scratch: mean path lengths.
    paths: Vec<f32>,
    trained: bool,
    since_train: usize,
    /// 1st percentile of recent mean path lengths (`E₉₉`).
    e99: f64,
    /// `c(ψ)` of the last fit.
    c_psi: f64,
}

impl IsolationForest {
    fn new(config: IsolationForestConfig) -> Self {
        let d = config.dimensions;
        Self {
            rng: Pcg64Mcg::seed_from_u64(config.seed),
            window: Window::new(d, config.window),
            scale: RobustScale::new(d, config.window),
            forest: Forest::new(config.trees, config.sample_size, d, config.window, config.beyond_range),
            gate: Gate::new(config.exclude_above, config.max_excluded_run).keeping_out_excursions(),
            x: Box::new([0.0; 64]),
            batch_x: Vec::with_capacity(BATCH_CHUNK),
            batch_sums: Vec::with_capacity(BATCH_CHUNK),
            recent_paths: Window::new(1, CALIBRATION_ROWS),
            paths: Vec::with_capacity(CALIBRATION_ROWS),
            trained: false,
            since_train: 0,
            e99: 1.0,
            c_psi: 1.0,
            config,
        }
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &IsolationForestConfig {
        &self.config
    }

    /// Whether a model has been grown yet (before that, every verdict is
    /// [`Verdict::QUIET`]).
    pub fn is_trained(&self) -> bool {
        self.trained
    }

    /// Scores rows of `dimensions()` values (`rows.len()` a multiple of it),
    /// appending one result per row to `out`: the same results, in the
    /// same order, as calling [`update`](VectorDetector::update) per row,
    /// but each tree is walked for a chunk of points at a time while it is
    /// in cache.
    pub fn update_batch(&mut self, rows: &[f64], out: &mut Vec<(Verdict, Option<usize>)>) {
        let d = self.config.dimensions;
        let n = rows.len() / d;
        out.reserve(n);
        let mut next = 0;
        while next < n {
            if !self.trained {
                // Until the first model, every point is quiet and admitted.
                out.push(self.update(0, &rows[next * d..(next + 1) * d]));
                next += 1;
                continue;
            }
            // Up to the next refit the model is fixed: score a chunk at once.
            let room = (self.config.retrain_every - self.since_train).clamp(1, BATCH_CHUNK);
            let chunk = &rows[next * d..(next + room).min(n) * d];
            next += chunk.len() / d;
            self.batch_x.clear();
            for r in chunk.chunks_exact(d) {
                let mut x = [0.0f32; 64];
                if !to_f32(r, &mut x[..d]) {
                    // Marks a row to skip.
                    x[0] = f32::NAN;
                }
                self.batch_x.push(x);
            }
            self.batch_sums.clear();
            self.batch_sums.resize(chunk.len() / d, 0.0);
            self.forest.path_sums(&self.batch_x, &mut self.batch_sums);
            for (j, r) in chunk.chunks_exact(d).enumerate() {
                if self.batch_x[j][0].is_nan() {
                    out.push((Verdict::QUIET, None));
                    continue;
                }
                let mean = f64::from(self.batch_sums[j]) / self.forest.trees() as f64;
                let result = self.judge(mean, r);
                *self.x = self.batch_x[j];
                self.after(result.0.score, Some(mean));
                out.push(result);
            }
        }
    }

    /// Turns a mean path length into a verdict; see the type docs.
    fn judge(&self, mean_path: f64, values: &[f64]) -> (Verdict, Option<usize>) {
        let edge = self.e99.max(self.c_psi / 2.0);
        let score = ratio_score(edge / mean_path.max(f64::MIN_POSITIVE));
        let (f, band, reason) = self.scale.explain(values, self.config.band_k);
        let verdict = Verdict::new(score, Some(band), (score >= 0.5).then_some(reason));
        (verdict, Some(f))
    }

    /// Admits the point in `self.x` to the window if the gate lets it, and
    /// refits when due.
    fn after(&mut self, score: f64, mean_path: Option<f64>) {
        let d = self.config.dimensions;
        if !self.trained || self.gate.admit(score) {
            self.window.push(&self.x[..d]);
            if let Some(path) = mean_path {
                self.recent_paths.push(&[path as f32]);
            }
        }
        self.since_train += 1;
        let due = if self.trained {
            self.since_train >= self.config.retrain_every
        } else {
            self.window.len() >= self.config.min_samples
        };
        if due {
            self.refit();
        }
    }

    fn refit(&mut self) {
        self.scale.refit(&self.window);
        let n = self.window.len();
        self.forest.fit((0..n).map(|i| self.window.row(i)), self.config.sample_size, &mut self.rng);
        self.c_psi = average_path_length(self.config.sample_size.min(n)).max(1.0);
        let mut paths = std::mem::take(&mut self.paths);
        paths.clear();
        if self.recent_paths.len() >= CALIBRATION_ROWS / 2 {
            // Out of sample, for free: the path lengths of the latest
            // admitted points, as the previous model scored them.
            paths.extend((0..self.recent_paths.len()).map(|i| self.recent_paths.row(i)[0]));
        } else {
            // First fit: in sample, on evenly spaced window rows.
            let m = n.min(CALIBRATION_ROWS);
            let trees = self.forest.trees() as f32;
            for j in 0..m {
                self.x[..self.config.dimensions].copy_from_slice(self.window.row(j * n / m));
                paths.push(self.forest.path_sum(&self.x) / trees);
            }
        }
        self.e99 = f64::from(quantile(&mut paths, 0.01)).max(0.5);
        self.paths = paths;
        self.trained = true;
        self.since_train = 0;
    }
}

impl VectorDetector for IsolationForest {
    fn name(&self) -> &'static str {
        "isolation_forest"
    }

    fn dimensions(&self) -> usize {
        self.config.dimensions
    }

    /// Scores a vector. A vector of the wrong length or with a value that
    /// is not finite is skipped: quiet, and the state is unchanged.
    fn update(&mut self, _timestamp_ms: i64, values: &[f64]) -> (Verdict, Option<usize>) {
        let d = self.config.dimensions;
        if !to_f32(values, &mut self.x[..d]) {
            return (Verdict::QUIET, None);
        }
        let (result, mean) = if self.trained {
            let mean = f64::from(self.forest.path_sum(&self.x)) / self.forest.trees() as f64;
            (self.judge(mean, values), Some(mean))
        } else {
            ((Verdict::QUIET, None), None)
        };
        self.after(result.0.score, mean);
        result
    }

    fn state_bytes(&self) -> usize {
        size_of::<Self>()
            + self.window.heap_bytes()
            + self.scale.heap_bytes()
            + self.forest.heap_bytes()
            + size_of::<[f32; 64]>()
            + self.batch_x.capacity() * size_of::<[f32; 64]>()
            + self.batch_sums.capacity() * size_of::<f32>()
            + self.recent_paths.heap_bytes()
            + self.paths.capacity() * size_of::<f32>()
    }
}
