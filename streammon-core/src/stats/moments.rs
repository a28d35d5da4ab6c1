//! Windowed mean and variance with add and remove.

use std::collections::VecDeque;

/// Mean and variance of the last `capacity` values.
///
/// Sums of values shifted by a reference close to the mean (the "shifted
/// data" method): adding and removing a value are exact additions of
/// small numbers, so the variance stays accurate for values far from zero
/// (where the naive Σx² − n·mean² loses every significant digit). Every
/// `capacity` updates, and at once after a jump that leaves the reference
/// far from the mean, the reference moves to the current mean and the
/// sums are recomputed from the window, shedding accumulated rounding.
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
    shift: f64,
    sum: f64,
    sum_sq: f64,
    since_refresh: usize,
}

impl RollingMoments {
    /// A window of `capacity` values (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            // Allocated as it fills (geometrically, never past the
            // capacity): a series seen once costs a few bytes.
            window: VecDeque::new(),
            capacity,
            shift: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
            since_refresh: 0,
        }
    }

    /// Adds a value, dropping the oldest when the window is full.
    pub fn push(&mut self, x: f64) {
        if self.window.is_empty() {
            self.shift = x;
        }
        if self.window.len() == self.capacity {
            let old = self.window.pop_front().expect("window is full") - self.shift;
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        if self.window.len() == self.window.capacity() {
            let grow = self.window.len().max(4).min(self.capacity - self.window.len());
            self.window.reserve_exact(grow);
        }
        self.window.push_back(x);
        let d = x - self.shift;
        self.sum += d;
        self.sum_sq += d * d;
        self.since_refresh += 1;
        // After a jump the reference is far from the new mean and the sums
        // would cancel: move it at once, not at the next periodic refresh.
        let n = self.window.len() as f64;
        let offset = self.sum / n;
        let spread = (self.sum_sq / n - offset * offset).max(0.0);
        if self.since_refresh >= self.capacity || offset * offset > 64.0 * spread {
            self.refresh();
        }
    }

    fn refresh(&mut self) {
        self.since_refresh = 0;
        self.shift = self.mean();
        let shift = self.shift;
        self.sum = self.window.iter().map(|x| x - shift).sum();
        self.sum_sq = self.window.iter().map(|x| (x - shift) * (x - shift)).sum();
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
        if self.window.is_empty() { 0.0 } else { self.shift + self.sum / self.window.len() as f64 }
    }

    /// Sample variance of the window (0 with fewer than two values).
    pub fn variance(&self) -> f64 {
        let n = self.window.len() as f64;
        if n < 2.0 { 0.0 } else { ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0) }
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
