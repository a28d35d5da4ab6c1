//! Exponentially weighted mean and variance.

/// Exponentially weighted moving mean and variance with smoothing factor
/// `alpha` (weight of the newest value), updated as in Finch (2009),
/// "Incremental calculation of weighted mean and variance".
///
/// The n-th value is weighted `max(alpha, 1/n)`: until `1/alpha` values
/// have arrived the average is the plain mean and population variance of
/// what it has seen, so a slow average is not stuck near its first value
/// (and its variance near zero) for its first thousand points.
///
/// ```
/// use streammon_core::stats::Ewma;
/// let mut e = Ewma::new(0.5);
/// e.push(10.0);
/// e.push(20.0);
/// assert_eq!(e.mean(), 15.0);
/// assert_eq!(e.variance(), 25.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ewma {
    alpha: f64,
    mean: f64,
    var: f64,
    count: u64,
}

impl Ewma {
    /// An average with weight `alpha` in (0, 1] on each new value; values
    /// outside are clamped.
    pub fn new(alpha: f64) -> Self {
        Self { alpha: alpha.clamp(f64::MIN_POSITIVE, 1.0), mean: 0.0, var: 0.0, count: 0 }
    }

    /// An average whose weights halve every `half_life` values.
    pub fn with_half_life(half_life: f64) -> Self {
        Self::new(1.0 - 0.5f64.powf(1.0 / half_life.max(f64::MIN_POSITIVE)))
    }

    /// Adds a value. The first value sets the mean.
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        let a = self.alpha.max(1.0 / self.count as f64);
        let delta = x - self.mean;
        let incr = a * delta;
        self.mean += incr;
        self.var = (1.0 - a) * (self.var + delta * incr);
    }

    /// Moves the mean to `mean`, keeping the variance and count: after a
    /// detected level shift, follow the new level at once without
    /// forgetting how noisy the series is.
    pub fn recentre(&mut self, mean: f64) {
        self.mean = mean;
    }

    /// The smoothing factor.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Values seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Weighted mean (0 before any value).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Weighted variance.
    pub fn variance(&self) -> f64 {
        self.var
    }

    /// Weighted standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.var.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The incremental form equals the explicit weighted sums.
        #[test]
        fn matches_explicit_weights(values in proptest::collection::vec(-1e3f64..1e3, 1..200), alpha in 0.01f64..1.0) {
            let mut e = Ewma::new(alpha);
            for v in &values {
                e.push(*v);
            }
            // Value i (1-based) enters with a_i = max(alpha, 1/i) and is
            // then discounted by (1 - a_j) for every later value j.
            let n = values.len();
            let a: Vec<f64> = (1..=n).map(|i| alpha.max(1.0 / i as f64)).collect();
            let w: Vec<f64> = (0..n).map(|i| a[i] * a[i + 1..].iter().map(|aj| 1.0 - aj).product::<f64>()).collect();
            let mean: f64 = values.iter().zip(&w).map(|(v, w)| v * w).sum();
            let var: f64 = values.iter().zip(&w).map(|(v, w)| w * (v - mean).powi(2)).sum();
            prop_assert!((e.mean() - mean).abs() <= 1e-9 * (1.0 + mean.abs()));
            prop_assert!((e.variance() - var).abs() <= 1e-7 * (1.0 + var));
        }
    }
}
