//! Windowed minimum and maximum.

use std::collections::VecDeque;

/// Minimum and maximum of the last `capacity` values, with monotonic
/// queues: amortised O(1) per value.
///
/// ```
/// use streammon_core::stats::RollingExtrema;
/// let mut e = RollingExtrema::new(3);
/// for x in [5.0, 1.0, 4.0, 3.0] {
///     e.push(x);
/// }
/// assert_eq!((e.min(), e.max()), (Some(1.0), Some(4.0)));
/// ```
#[derive(Debug, Clone)]
pub struct RollingExtrema {
    capacity: u64,
    seen: u64,
    /// (index, value), values increasing: the front is the minimum.
    mins: VecDeque<(u64, f64)>,
    /// (index, value), values decreasing: the front is the maximum.
    maxs: VecDeque<(u64, f64)>,
}

impl RollingExtrema {
    /// A window of `capacity` values (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1) as u64, seen: 0, mins: VecDeque::new(), maxs: VecDeque::new() }
    }

    /// Adds a value; NaN is ignored.
    pub fn push(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        let i = self.seen;
        self.seen += 1;
        while self.mins.back().is_some_and(|&(_, v)| v >= x) {
            self.mins.pop_back();
        }
        self.mins.push_back((i, x));
        while self.maxs.back().is_some_and(|&(_, v)| v <= x) {
            self.maxs.pop_back();
        }
        self.maxs.push_back((i, x));
        let oldest = self.seen.saturating_sub(self.capacity);
        while self.mins.front().is_some_and(|&(j, _)| j < oldest) {
            self.mins.pop_front();
        }
        while self.maxs.front().is_some_and(|&(j, _)| j < oldest) {
            self.maxs.pop_front();
        }
    }

    /// Minimum of the window.
    pub fn min(&self) -> Option<f64> {
        self.mins.front().map(|&(_, v)| v)
    }

    /// Maximum of the window.
    pub fn max(&self) -> Option<f64> {
        self.maxs.front().map(|&(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_naive_recomputation(values in proptest::collection::vec(-1e6f64..1e6, 1..300), capacity in 1usize..40) {
            let mut e = RollingExtrema::new(capacity);
            for i in 0..values.len() {
                e.push(values[i]);
                let w = &values[(i + 1).saturating_sub(capacity)..=i];
                prop_assert_eq!(e.min(), w.iter().copied().reduce(f64::min));
                prop_assert_eq!(e.max(), w.iter().copied().reduce(f64::max));
            }
        }
    }
}
