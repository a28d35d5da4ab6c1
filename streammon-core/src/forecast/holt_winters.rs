//! Holt-Winters: additive level, damped trend and additive season, with
//! its configuration. The design is documented on [`HoltWinters`].

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::cadence::{Advance, Cadence, z_for_level};
use super::season::detect_season_with;
use super::{Forecast, Forecaster};
use crate::detect::Point;
use crate::error::{Error, Result};

/// The registry name of [`HoltWinters`].
pub const HOLT_WINTERS: &str = "holt_winters";

/// Weight of one new squared error in the residual variance: an
/// exponentially weighted mean over about the last 256 steps.
const VARIANCE_WEIGHT: f64 = 1.0 / 256.0;
/// The buffer never holds fewer steps than this.
const MIN_BUFFER: usize = 96;

/// How the season length is chosen.
///
/// In configuration: `"auto"`, `"none"`, or a number of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Season {
    /// Detected from the data at each re-fit; no season when none is
    /// significant.
    #[default]
    Auto,
    /// No seasonal component: damped-trend exponential smoothing.
    None,
    /// A fixed number of steps per season, at least 2.
    Steps(usize),
}

impl fmt::Display for Season {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::None => f.write_str("none"),
            Self::Steps(m) => write!(f, "{m}"),
        }
    }
}

impl Serialize for Season {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Steps(m) => serializer.serialize_u64(*m as u64),
            other => serializer.collect_str(other),
        }
    }
}

impl<'de> Deserialize<'de> for Season {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Season;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\", \"none\" or a number of steps")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Season, E> {
                usize::try_from(v).map(Season::Steps).map_err(|_| E::custom("season too long"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Season, E> {
                usize::try_from(v).map(Season::Steps).map_err(|_| E::custom("a season cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Season, E> {
                match v {
                    "auto" => Ok(Season::Auto),
                    "none" => Ok(Season::None),
                    other => other.parse().map(Season::Steps).map_err(|_| E::custom("expected auto, none or a number")),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Configuration of [`HoltWinters`].
///
/// ```
/// use streammon_core::forecast::{HoltWintersConfig, Season};
/// let config = HoltWintersConfig { season: Season::Steps(24), ..HoltWintersConfig::default() };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoltWintersConfig {
    /// Season length in steps: `"auto"`, `"none"` or 2 to 10 000.
    /// Defaults to `"auto"`.
    pub season: Season,
    /// Longest season `auto` looks for, 2 to 10 000 steps; the buffer
    /// holds three times as many steps. Defaults to 288 (a day of 5-minute
    /// points).
    pub max_season: usize,
    /// Smallest autocorrelation (and prominence over shorter lags) that
    /// makes a lag a season, within (0, 1). Defaults to 0.3.
    pub season_threshold: f64,
    /// Level smoothing α, within (0, 1); the starting value when `fit` is
    /// on. Defaults to 0.3.
    pub alpha: f64,
    /// Trend smoothing β, within [0, α]. Defaults to 0.02.
    pub beta: f64,
    /// Season smoothing γ, within [0, 1 − α]. Defaults to 0.1.
    pub gamma: f64,
    /// Trend damping φ, within (0, 1]; 1 is an undamped trend. Defaults
    /// to 0.98.
    pub phi: f64,
    /// Whether α, β, γ and φ are re-fitted on the buffer by grid search.
    /// Defaults to `true`.
    pub fit: bool,
    /// Most steps between re-fits, at least 1. Defaults to 1024.
    pub refit_every: usize,
    /// Observations before the first forecast, at least 3. Defaults to 24.
    pub min_samples: usize,
}

impl Default for HoltWintersConfig {
    fn default() -> Self {
        Self {
            season: Season::Auto,
            max_season: 288,
            season_threshold: 0.3,
            alpha: 0.3,
            beta: 0.02,
            gamma: 0.1,
            phi: 0.98,
            fit: true,
            refit_every: 1_024,
            min_samples: 24,
        }
    }
}

impl HoltWintersConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field, e.g. `holt_winters.alpha`.
    pub fn validate(&self) -> Result<()> {
        let field = |name: &str| format!("{HOLT_WINTERS}.{name}");
        if let Season::Steps(m) = self.season
            && !(2..=10_000).contains(&m)
        {
            return Err(Error::config(field("season"), format!("{m} must be within 2 to 10000 steps")));
        }
        if !(2..=10_000).contains(&self.max_season) {
            return Err(Error::config(
                field("max_season"),
                format!("{} must be within 2 to 10000 steps", self.max_season),
            ));
        }
        let t = self.season_threshold;
        if !(t > 0.0 && t < 1.0) {
            return Err(Error::config(field("season_threshold"), format!("{t} must be within (0, 1)")));
        }
        let a = self.alpha;
        if !(a > 0.0 && a < 1.0) {
            return Err(Error::config(field("alpha"), format!("{a} must be within (0, 1)")));
        }
        if !(0.0..=a).contains(&self.beta) {
            return Err(Error::config(field("beta"), format!("{} must be within [0, alpha = {a}]", self.beta)));
        }
        if !(0.0..=1.0 - a).contains(&self.gamma) {
            return Err(Error::config(
                field("gamma"),
                format!("{} must be within [0, 1 - alpha = {}]", self.gamma, 1.0 - a),
            ));
        }
        if !(self.phi > 0.0 && self.phi <= 1.0) {
            return Err(Error::config(field("phi"), format!("{} must be within (0, 1]", self.phi)));
        }
        if self.refit_every == 0 {
            return Err(Error::config(field("refit_every"), "0 must be at least 1"));
        }
        if self.min_samples < 3 {
            return Err(Error::config(field("min_samples"), format!("{} must be at least 3", self.min_samples)));
        }
        Ok(())
    }

    /// Steps of history kept for detection and re-fitting.
    fn buffer_len(&self) -> usize {
        let season = match self.season {
            Season::Steps(m) => m,
            Season::Auto => self.max_season,
            Season::None => 0,
        };
        (3 * season).max(MIN_BUFFER)
    }
}

/// Smoothing parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
}

/// The recursion's state.
#[derive(Debug, Clone, Default)]
struct State {
    level: f64,
    trend: f64,
    /// s(t-m) for each phase; empty without a season.
    seasonal: Vec<f64>,
    /// Index into `seasonal` of the next step.
    phase: usize,
}

impl State {
    /// The one-step forecast.
    fn predict(&self, phi: f64) -> f64 {
        self.level + phi * self.trend + self.seasonal.get(self.phase).copied().unwrap_or(0.0)
    }

    /// Runs one grid step; `y` is `NaN` when the step is missing. Returns
    /// the one-step error of an observed step.
    fn step(&mut self, p: &Params, y: f64) -> Option<f64> {
        let m = self.seasonal.len();
        let forecast = self.predict(p.phi);
        let error = y - forecast;
        let observed = error.is_finite();
        let e = if observed { error } else { 0.0 };
        self.level += p.phi * self.trend + p.alpha * e;
        self.trend = p.phi * self.trend + p.beta * e;
        if m > 0 {
            self.seasonal[self.phase] += p.gamma * e;
            self.phase = (self.phase + 1) % m;
        }
        observed.then_some(error)
    }

    /// A classical start on `values` with season `m` (0: none): the level
    /// and trend from the means of the first two seasons, the seasonal
    /// indices from the deviations from them. Without two seasons, or a
    /// season, the first value and no trend.
    fn initial(values: &[f64], m: usize, mut seasonal: Vec<f64>) -> Self {
        seasonal.clear();
        let first = values.iter().copied().find(|v| v.is_finite()).unwrap_or(0.0);
        if m == 0 || values.len() < 2 * m {
            seasonal.resize(m, 0.0);
            return Self { level: first, trend: 0.0, seasonal, phase: 0 };
        }
        let (c1, c2) = (nan_mean(&values[..m]), nan_mean(&values[m..2 * m]));
        let (Some(c1), Some(c2)) = (c1, c2) else {
            seasonal.resize(m, 0.0);
            return Self { level: first, trend: 0.0, seasonal, phase: 0 };
        };
        let trend = (c2 - c1) / m as f64;
        for i in 0..m {
            let (mut sum, mut n) = (0.0, 0);
            for (cycle, mean) in [(0, c1), (1, c2)] {
                let y = values[cycle * m + i];
                if y.is_finite() {
                    // Deviation from the cycle's line, not its mean.
                    sum += y - (mean + trend * (i as f64 - (m as f64 - 1.0) / 2.0));
                    n += 1;
                }
            }
            seasonal.push(if n > 0 { sum / f64::from(n) } else { 0.0 });
        }
        let centre = seasonal.iter().sum::<f64>() / m as f64;
        seasonal.iter_mut().for_each(|s| *s -= centre);
        let level = c1 - trend * (m as f64 + 1.0) / 2.0;
        Self { level, trend, seasonal, phase: 0 }
    }
}

fn nan_mean(values: &[f64]) -> Option<f64> {
    let (sum, n) = values.iter().filter(|v| v.is_finite()).fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Holt-Winters forecasting with damped trend, additive season,
/// auto-detected season length and re-fitted parameters.
///
/// The model is ETS(A,Ad,A) in error-correction form (Hyndman et al.,
/// *Forecasting with Exponential Smoothing*, 2008, ch. 2 and 6):
///
/// ```text
/// ŷ(t)  = l(t-1) + φ·b(t-1) + s(t-m)          e(t) = y(t) - ŷ(t)
/// l(t)  = l(t-1) + φ·b(t-1) + α·e(t)
/// b(t)  = φ·b(t-1) + β·e(t)
/// s(t)  = s(t-m) + γ·e(t)
/// ```
///
/// # Streaming
/// [`update`](Forecaster::update) places each point on a grid whose
/// interval is the median of the last 15 gaps between timestamps, and
/// runs the recursion once per grid step: O(1) work and no allocation. A missing step (a `NaN` value
/// or a gap in the timestamps) advances the state by its own forecast
/// without learning from it; a gap longer than the buffer restarts the
/// model. Values are also kept in a bounded buffer of the last
/// `3 · max_season` steps (at least 96).
///
/// # Re-fitting
/// Every so often (after `min_samples` observations, then at doubling
/// intervals up to every `refit_every` steps) the buffer is used to
/// detect the season length ([`detect_season`](super::detect_season)) when it is `auto`, to pick
/// α, β, γ and φ by a grid search minimising the one-step squared error
/// when `fit` is on, and to replay the buffer through the recursion from a
/// classical initialisation, which becomes the new state. This costs
/// O(buffer · (max_season + grid)) and happens rarely, so its cost per
/// point is bounded and small; see `docs/FORECASTING.md` for numbers.
///
/// # Prediction intervals
/// The analytic variance of ETS(A,Ad,A), the "class 1" formula:
/// σ²ₕ = σ² · (1 + Σⱼ₌₁ʰ⁻¹ cⱼ²) with cⱼ = α + β·(φ + … + φʲ) + γ·[j mod m = 0],
/// where σ² is the mean squared one-step error, exponentially weighted
/// over about the last 256 steps. Bounds are the point forecast ± z·σₕ
/// for the normal quantile z of the requested level.
///
/// ```
/// use streammon_core::forecast::{HoltWinters, HoltWintersConfig};
/// use streammon_core::{Forecaster, Point};
/// let mut hw = HoltWinters::new(HoltWintersConfig::default())?;
/// for t in 0..300 {
///     let value = 100.0 + 10.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin();
///     hw.update(Point::new(t * 60_000, value));
/// }
/// assert_eq!(hw.season(), Some(24));
/// let mut out = Vec::new();
/// hw.forecast(15, 0.95, &mut out);
/// assert_eq!(out.len(), 15);
/// assert_eq!(out[0].timestamp_ms, 300 * 60_000);
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct HoltWinters {
    config: HoltWintersConfig,
    params: Params,
    state: State,
    cadence: Cadence,
    /// Mean squared one-step error.
    sigma2: f64,
    /// The last `buffer_len` grid steps, `NaN` where missing.
    history: VecDeque<f64>,
    capacity: usize,
    /// Grid steps since the start (or the last restart).
    steps: u64,
    /// Observed (non-missing) steps since the start.
    observed: u64,
    /// Grid step at which the next re-fit runs.
    next_refit: u64,
    scratch: Scratch,
}

/// Buffers reused by re-fits.
#[derive(Debug, Clone, Default)]
struct Scratch {
    detrended: Vec<f64>,
    acf: Vec<f64>,
    trial: State,
}

impl HoltWinters {
    /// Builds a forecaster after validating `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first invalid field.
    pub fn new(config: HoltWintersConfig) -> Result<Self> {
        config.validate()?;
        let capacity = config.buffer_len();
        let params = Params { alpha: config.alpha, beta: config.beta, gamma: config.gamma, phi: config.phi };
        let season_cap = match config.season {
            Season::Steps(m) => m,
            Season::Auto => config.max_season,
            Season::None => 0,
        };
        Ok(Self {
            params,
            state: State { seasonal: Vec::with_capacity(season_cap), ..State::default() },
            cadence: Cadence::default(),
            sigma2: 0.0,
            history: VecDeque::with_capacity(capacity),
            capacity,
            steps: 0,
            observed: 0,
            next_refit: config.min_samples as u64,
            scratch: Scratch {
                detrended: Vec::with_capacity(capacity),
                acf: Vec::with_capacity(config.max_season + 2),
                trial: State { seasonal: Vec::with_capacity(season_cap), ..State::default() },
            },
            config,
        })
    }

    /// The season length in use, in steps; `None` without a season.
    pub fn season(&self) -> Option<usize> {
        let m = self.state.seasonal.len();
        (m > 0).then_some(m)
    }

    /// The inferred sampling interval, once two points have arrived.
    pub fn step_ms(&self) -> Option<i64> {
        self.cadence.step_ms()
    }

    /// The smoothing parameters in use: (α, β, γ, φ).
    pub fn params(&self) -> (f64, f64, f64, f64) {
        let p = self.params;
        (p.alpha, p.beta, p.gamma, p.phi)
    }

    /// The residual standard deviation: root mean squared one-step error.
    pub fn sigma(&self) -> f64 {
        self.sigma2.sqrt()
    }

    /// Runs one grid step: the recursion, the buffer and, when due, a
    /// re-fit.
    fn advance(&mut self, y: f64) {
        if let Some(e) = self.state.step(&self.params, y) {
            let w = VARIANCE_WEIGHT.max(1.0 / (self.observed + 1) as f64);
            self.sigma2 += w * (e * e - self.sigma2);
        }
        if self.history.len() == self.capacity {
            self.history.pop_front();
        }
        self.history.push_back(y);
        self.steps += 1;
        if y.is_finite() {
            self.observed += 1;
        }
        if self.steps >= self.next_refit && self.observed >= self.config.min_samples as u64 {
            self.refit();
            let gap = self.steps.clamp(self.config.min_samples as u64, self.config.refit_every as u64);
            self.next_refit = self.steps + gap;
        }
    }

    /// Forgets everything but the cadence and starts from `y`.
    fn restart(&mut self, y: f64) {
        self.history.clear();
        let mut seasonal = std::mem::take(&mut self.state.seasonal);
        seasonal.clear();
        self.state = State { level: y, trend: 0.0, seasonal, phase: 0 };
        self.sigma2 = 0.0;
        self.steps = 0;
        self.observed = 0;
        self.next_refit = self.config.min_samples as u64;
        self.params =
            Params { alpha: self.config.alpha, beta: self.config.beta, gamma: self.config.gamma, phi: self.config.phi };
        self.advance(y);
    }

    /// Detects the season, fits the parameters and replays the buffer.
    fn refit(&mut self) {
        let values = self.history.make_contiguous();
        let (m, check) = match self.config.season {
            Season::Steps(m) if values.len() >= 2 * m => (m, false),
            Season::Steps(_) | Season::None => (0, false),
            Season::Auto => {
                let found = detect_season_with(
                    values,
                    self.config.max_season,
                    self.config.season_threshold,
                    &mut self.scratch.detrended,
                    &mut self.scratch.acf,
                );
                (found.unwrap_or(0), found.is_some())
            }
        };
        let trial = &mut self.scratch.trial;
        // Both candidates are scored on the same steps: after the burn-in
        // of the seasonal one.
        let burn_in = (if m > 0 { 2 * m } else { 8 }).min(values.len() / 2);
        let fitted = |m: usize, current: Params, trial: &mut State| -> (f64, Params) {
            if !self.config.fit {
                let params = Params { gamma: if m > 0 { current.gamma } else { 0.0 }, ..current };
                return (replay(values, m, &params, trial, burn_in, f64::INFINITY).0, params);
            }
            // The configured parameters win ties (a constant series fits
            // every candidate perfectly).
            let current = Params { gamma: if m > 0 { current.gamma } else { 0.0 }, ..current };
            let mut best = (replay(values, m, &current, trial, burn_in, f64::INFINITY).0, current);
            for params in grid(m > 0) {
                let (sse, _) = replay(values, m, &params, trial, burn_in, best.0);
                if sse < best.0 {
                    best = (sse, params);
                }
            }
            best
        };
        let configured =
            Params { alpha: self.config.alpha, beta: self.config.beta, gamma: self.config.gamma, phi: self.config.phi };
        let mut m = m;
        let (sse, mut params) = fitted(m, configured, trial);
        if check {
            // Keep a detected season only if it pays for its m extra
            // states: AIC, n·ln(SSE) + 2k, must fall.
            let (plain_sse, plain) = fitted(0, configured, trial);
            let n = values.len().saturating_sub(burn_in).max(1) as f64;
            let pays = sse < plain_sse * (-2.0 * m as f64 / n).exp();
            if !pays {
                (m, params) = (0, plain);
            }
        }
        self.params = params;
        let burn_in = (if m > 0 { 2 * m } else { 8 }).min(values.len() / 2);
        let (sse, n) = replay(values, m, &self.params, trial, burn_in, f64::INFINITY);
        std::mem::swap(&mut self.state, trial);
        if n > 0 && sse.is_finite() {
            self.sigma2 = sse / n as f64;
        }
    }
}

/// The parameter grid: α × β/α × γ/(1 − α) × φ, within the admissible
/// region of ETS(A,Ad,A).
fn grid(seasonal: bool) -> impl Iterator<Item = Params> {
    const ALPHA: [f64; 5] = [0.05, 0.15, 0.3, 0.5, 0.8];
    const BETA: [f64; 3] = [0.01, 0.1, 0.3];
    const GAMMA: [f64; 3] = [0.05, 0.2, 0.5];
    const PHI: [f64; 2] = [0.9, 0.98];
    let gammas: &'static [f64] = if seasonal { &GAMMA } else { &GAMMA[..1] };
    ALPHA.into_iter().flat_map(move |alpha| {
        BETA.into_iter().flat_map(move |b| {
            gammas.iter().flat_map(move |g| {
                PHI.into_iter().map(move |phi| Params {
                    alpha,
                    beta: alpha * b,
                    gamma: if seasonal { (1.0 - alpha) * g } else { 0.0 },
                    phi,
                })
            })
        })
    })
}

/// Runs `values` through the recursion from a classical start into
/// `state`; returns the sum of squared one-step errors after a burn-in
/// and how many there were. Stops early once the sum passes `give_up`.
fn replay(values: &[f64], m: usize, params: &Params, state: &mut State, burn_in: usize, give_up: f64) -> (f64, usize) {
    *state = State::initial(values, m, std::mem::take(&mut state.seasonal));
    let (mut sse, mut n) = (0.0, 0usize);
    for (t, &y) in values.iter().enumerate() {
        if let Some(e) = state.step(params, y)
            && t >= burn_in
        {
            sse += e * e;
            n += 1;
            if sse > give_up {
                return (f64::INFINITY, n);
            }
        }
    }
    (sse, n)
}

impl Forecaster for HoltWinters {
    fn name(&self) -> &'static str {
        HOLT_WINTERS
    }

    fn update(&mut self, point: Point) {
        if !point.value.is_finite() {
            return;
        }
        match self.cadence.advance(point.timestamp_ms) {
            Advance::Drop => {}
            Advance::First => self.restart(point.value),
            Advance::Steps(k) if k as usize > self.capacity => self.restart(point.value),
            Advance::Steps(k) => {
                for _ in 1..k {
                    self.advance(f64::NAN);
                }
                self.advance(point.value);
            }
        }
    }

    fn forecast(&self, horizon: usize, level: f64, out: &mut Vec<Forecast>) {
        let (Some(last), Some(step)) = (self.cadence.last_ms(), self.cadence.step_ms()) else {
            return;
        };
        if self.observed < self.config.min_samples as u64 || !self.state.level.is_finite() {
            return;
        }
        let z = z_for_level(level);
        let p = self.params;
        let s = &self.state;
        let m = s.seasonal.len();
        let sigma2 = if self.sigma2.is_finite() { self.sigma2 } else { 0.0 };
        out.reserve(horizon);
        // phi_sum = φ + … + φʰ; c_sum = Σⱼ<ₕ cⱼ².
        let (mut phi_pow, mut phi_sum, mut c_sum) = (1.0, 0.0, 0.0);
        for h in 1..=horizon {
            phi_pow *= p.phi;
            phi_sum += phi_pow;
            let season = if m > 0 { s.seasonal[(s.phase + h - 1) % m] } else { 0.0 };
            let value = s.level + phi_sum * s.trend + season;
            let half = z * (sigma2 * (1.0 + c_sum)).sqrt();
            out.push(Forecast {
                timestamp_ms: last.saturating_add(step.saturating_mul(h as i64)),
                value,
                low: value - half,
                high: value + half,
            });
            let c = p.alpha + p.beta * phi_sum + if m > 0 && h % m == 0 { p.gamma } else { 0.0 };
            c_sum += c * c;
        }
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + 8 * (self.history.capacity()
                + self.state.seasonal.capacity()
                + self.scratch.detrended.capacity()
                + self.scratch.acf.capacity()
                + self.scratch.trial.seasonal.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed(hw: &mut HoltWinters, values: impl IntoIterator<Item = f64>) {
        for (t, v) in values.into_iter().enumerate() {
            hw.update(Point::new(t as i64 * 10_000, v));
        }
    }

    #[test]
    fn quiet_until_min_samples() {
        let mut hw = HoltWinters::new(HoltWintersConfig::default()).unwrap();
        let mut out = Vec::new();
        feed(&mut hw, (0..23).map(f64::from));
        hw.forecast(5, 0.95, &mut out);
        assert!(out.is_empty());
        hw.update(Point::new(230_000, 23.0));
        hw.forecast(5, 0.95, &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].timestamp_ms, 240_000);
        assert!((out[0].value - 24.0).abs() < 0.5, "{out:?}");
    }

    #[test]
    fn follows_a_line_and_damps_the_trend() {
        let mut hw = HoltWinters::new(HoltWintersConfig { season: Season::None, ..Default::default() }).unwrap();
        feed(&mut hw, (0..200).map(|t| 2.0 * f64::from(t)));
        let mut out = Vec::new();
        hw.forecast(3, 0.95, &mut out);
        assert!((out[0].value - 400.0).abs() < 1.0, "{out:?}");
        assert!(out[2].value > out[1].value && out[1].value > out[0].value);
    }

    #[test]
    fn intervals_widen_with_the_horizon() {
        let mut hw = HoltWinters::new(HoltWintersConfig::default()).unwrap();
        feed(&mut hw, (0..300).map(|t| 10.0 + f64::from(t % 7) + f64::from(t % 3)));
        let mut out = Vec::new();
        hw.forecast(30, 0.9, &mut out);
        for pair in out.windows(2) {
            assert!(pair[1].high - pair[1].value >= pair[0].high - pair[0].value - 1e-9);
        }
    }

    #[test]
    fn a_gap_advances_the_grid_and_a_long_one_restarts() {
        let mut hw = HoltWinters::new(HoltWintersConfig::default()).unwrap();
        feed(&mut hw, (0..100).map(|_| 5.0));
        hw.update(Point::new(1_500_000, 5.0));
        let mut out = Vec::new();
        hw.forecast(1, 0.95, &mut out);
        assert_eq!(out[0].timestamp_ms, 1_510_000);
        assert!((out[0].value - 5.0).abs() < 1e-9);
        hw.update(Point::new(1_000_000_000, 7.0));
        out.clear();
        hw.forecast(1, 0.95, &mut out);
        assert!(out.is_empty(), "restarted, so warming up again");
    }

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (HoltWintersConfig { alpha: 1.5, ..Default::default() }, "holt_winters.alpha"),
            (HoltWintersConfig { beta: 0.5, ..Default::default() }, "holt_winters.beta"),
            (HoltWintersConfig { gamma: 0.9, ..Default::default() }, "holt_winters.gamma"),
            (HoltWintersConfig { phi: 0.0, ..Default::default() }, "holt_winters.phi"),
            (HoltWintersConfig { season: Season::Steps(1), ..Default::default() }, "holt_winters.season"),
            (HoltWintersConfig { max_season: 1, ..Default::default() }, "holt_winters.max_season"),
            (HoltWintersConfig { min_samples: 0, ..Default::default() }, "holt_winters.min_samples"),
            (HoltWintersConfig { refit_every: 0, ..Default::default() }, "holt_winters.refit_every"),
            (HoltWintersConfig { season_threshold: f64::NAN, ..Default::default() }, "holt_winters.season_threshold"),
        ];
        for (config, field) in cases {
            let err = HoltWinters::new(config).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn season_reads_and_writes_as_text_or_number() {
        for (json, season) in [("\"auto\"", Season::Auto), ("\"none\"", Season::None), ("24", Season::Steps(24))] {
            assert_eq!(serde_json::from_str::<Season>(json).unwrap(), season);
            assert_eq!(serde_json::to_string(&season).unwrap(), json);
        }
        assert!(serde_json::from_str::<Season>("\"weekly\"").is_err());
    }

    proptest! {
        /// With fitting off, no season and the whole history in the
        /// buffer, the streamed forecast equals the recursion recomputed
        /// from scratch.
        #[test]
        fn streaming_equals_recomputation(values in prop::collection::vec(-1e3f64..1e3, 24..90)) {
            let config = HoltWintersConfig { season: Season::None, fit: false, ..Default::default() };
            let (a, b, phi) = (config.alpha, config.beta, config.phi);
            let mut hw = HoltWinters::new(config).unwrap();
            feed(&mut hw, values.iter().copied());
            let (mut level, mut trend) = (values[0], 0.0);
            for &y in &values[1..] {
                let e = y - (level + phi * trend);
                level += phi * trend + a * e;
                trend = phi * trend + b * e;
            }
            let mut out = Vec::new();
            hw.forecast(2, 0.95, &mut out);
            let expected = [level + phi * trend, level + (phi + phi * phi) * trend];
            for (step, want) in out.iter().zip(expected) {
                prop_assert!((step.value - want).abs() <= 1e-9 * (1.0 + want.abs()), "{} vs {want}", step.value);
            }
        }

        /// Whatever arrives (NaN, infinities, jitter, gaps, repeats), the
        /// forecast is finite-or-absent and ordered low ≤ value ≤ high.
        #[test]
        fn forecasts_stay_ordered(points in prop::collection::vec(
            (0i64..40_000, prop_oneof![4 => -1e6f64..1e6, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY)]),
            0..400,
        )) {
            let mut hw = HoltWinters::new(HoltWintersConfig { max_season: 20, ..Default::default() }).unwrap();
            let (mut t, mut last_finite) = (0, 0);
            let mut out = Vec::new();
            for (gap, v) in points {
                t += gap;
                hw.update(Point::new(t, v));
                if v.is_finite() {
                    last_finite = t;
                }
                out.clear();
                hw.forecast(5, 0.9, &mut out);
                for f in &out {
                    prop_assert!(f.value.is_finite() && f.low <= f.value && f.value <= f.high, "{f:?}");
                    // After the last observation: skipped values do not count.
                    prop_assert!(f.timestamp_ms > last_finite, "{f:?} after {last_finite}");
                }
            }
        }
    }

    #[test]
    fn grid_stays_admissible() {
        for p in grid(true) {
            assert!(p.alpha > 0.0 && p.alpha < 1.0 && p.beta <= p.alpha && p.gamma <= 1.0 - p.alpha);
        }
        assert_eq!(grid(true).count(), 90);
        assert_eq!(grid(false).count(), 30);
    }
}
