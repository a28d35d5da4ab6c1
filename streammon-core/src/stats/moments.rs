//! Windowed mean and variance with add and remove.

use std::collections::VecDeque;

/// Mean and variance of the last `capacity` values.
///
/// Welford's update for adding and its inverse for removing keep the sums
/// centred, so the variance stays accurate for values far from zero
/// (where the naive Σx² − n·mean² loses every significant digit). Every
/// `capacity` updates the sums are recomputed from the window to shed
/// accumulated rounding.
///
/// ```
/// use streammon_core::stats::RollingMoments;
/// let mut m = RollingMoments::new(3);
/// for x in [1.0, 2.0, 3.0, 4.0] {
///     m.push(x);
/// }
/// assert_eq!(m.mean(), 3.0); // of 2, 3, 4
/// assert_eq!(m.variance(), 1.0); // sample variance
/// ```
#[derive(Debug, Clone)]
pub struct RollingMoments {
    window: VecDeque<f64>,
    capacity: usize,
    mean: f64,
    m2: f64,
    since_refresh: usize,
}

impl RollingMoments {
    /// A window of `capacity` values (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { window: VecDeque::with_capacity(capacity), capacity, mean: 0.0, m2: 0.0, since_refresh: 0 }
    }

    /// Adds a value, dropping the oldest when the window is full.
    pub fn push(&mut self, x: f64) {
        if self.window.len() == self.capacity {
            let old = self.window.pop_front().expect("window is full");
            self.remove(old);
        }
        self.window.push_back(x);
        let n = self.window.len() as f64;
        let delta = x - self.mean;
        self.mean += delta / n;
        self.m2 += delta * (x - self.mean);
        self.since_refresh += 1;
        if self.since_refresh >= self.capacity {
            self.refresh();
        }
    }

    fn remove(&mut self, x: f64) {
        let n = self.window.len() as f64; // count after removal
        if n == 0.0 {
            self.mean = 0.0;
            self.m2 = 0.0;
            return;
        }
        let delta = x - self.mean;
        self.mean -= delta / n;
        self.m2 -= delta * (x - self.mean);
        self.m2 = self.m2.max(0.0);
    }

    fn refresh(&mut self) {
        self.since_refresh = 0;
        let n = self.window.len() as f64;
        self.mean = self.window.iter().sum::<f64>() / n;
        self.m2 = self.window.iter().map(|x| (x - self.mean) * (x - self.mean)).sum();
    }

    /// Values in the window.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }

    /// Whether the window holds `capacity` values.
    pub fn is_full(&self) -> bool {
        self.window.len() == self.capacity
    }

    /// Mean of the window (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample variance of the window (0 with fewer than two values).
    pub fn variance(&self) -> f64 {
        let n = self.window.len();
        if n < 2 { 0.0 } else { (self.m2 / (n - 1) as f64).max(0.0) }
    }

    /// Sample standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Bytes of state, heap included.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.window.capacity() * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_naive_recomputation(
            values in proptest::collection::vec(-1e6f64..1e6, 1..400),
            capacity in 1usize..50,
            offset in prop_oneof![Just(0.0), Just(1e9)],
        ) {
            let mut m = RollingMoments::new(capacity);
            for (i, v) in values.iter().enumerate() {
                m.push(v + offset);
                let start = (i + 1).saturating_sub(capacity);
                let w: Vec<f64> = values[start..=i].iter().map(|v| v + offset).collect();
                let n = w.len() as f64;
                let mean = w.iter().sum::<f64>() / n;
                let var = if w.len() < 2 { 0.0 } else { w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) };
                prop_assert!((m.mean() - mean).abs() <= 1e-6 * (1.0 + mean.abs()), "mean {} vs {}", m.mean(), mean);
                prop_assert!((m.variance() - var).abs() <= 1e-6 * (1.0 + var), "var {} vs {}", m.variance(), var);
            }
        }
    }
}
