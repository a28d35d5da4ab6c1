//! Quantiles: P² over a whole stream, exact over a sliding window.

/// One quantile of an unbounded stream in constant memory: the P²
/// algorithm of Jain and Chlamtac (1985), which moves five markers with
/// piecewise-parabolic interpolation. Exact for the first five values,
/// then an estimate whose error shrinks as the stream grows.
///
/// ```
/// use streammon_core::stats::P2Quantile;
/// let mut p95 = P2Quantile::new(0.95);
/// for i in 0..10_000 {
///     p95.push(f64::from(i % 100));
/// }
/// assert!((p95.value().unwrap() - 95.0).abs() < 1.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct P2Quantile {
    p: f64,
    count: usize,
    heights: [f64; 5],
    positions: [f64; 5],
    desired: [f64; 5],
    increments: [f64; 5],
}

impl P2Quantile {
    /// An estimator of quantile `p`, clamped into [0, 1].
    pub fn new(p: f64) -> Self {
        let p = p.clamp(0.0, 1.0);
        Self {
            p,
            count: 0,
            heights: [0.0; 5],
            positions: [1.0, 2.0, 3.0, 4.0, 5.0],
            desired: [1.0, 1.0 + 2.0 * p, 1.0 + 4.0 * p, 3.0 + 2.0 * p, 5.0],
            increments: [0.0, p / 2.0, p, (1.0 + p) / 2.0, 1.0],
        }
    }

    /// Adds a value; NaN is ignored.
    pub fn push(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        if self.count < 5 {
            self.heights[self.count] = x;
            self.count += 1;
            if self.count == 5 {
                self.heights.sort_by(f64::total_cmp);
            }
            return;
        }
        self.count += 1;
        let h = &mut self.heights;
        let k = if x < h[0] {
            h[0] = x;
            0
        } else if x >= h[4] {
            h[4] = x;
            3
        } else {
            (0..4).find(|&i| x < h[i + 1]).unwrap_or(3)
        };
        for i in k + 1..5 {
            self.positions[i] += 1.0;
        }
        for i in 0..5 {
            self.desired[i] += self.increments[i];
        }
        for i in 1..4 {
            let d = self.desired[i] - self.positions[i];
            let (n_prev, n, n_next) = (self.positions[i - 1], self.positions[i], self.positions[i + 1]);
            if (d >= 1.0 && n_next - n > 1.0) || (d <= -1.0 && n_prev - n < -1.0) {
                let s = d.signum();
                let (q_prev, q, q_next) = (self.heights[i - 1], self.heights[i], self.heights[i + 1]);
                let parabolic = q + s / (n_next - n_prev)
                    * ((n - n_prev + s) * (q_next - q) / (n_next - n) + (n_next - n - s) * (q - q_prev) / (n - n_prev));
                self.heights[i] = if q_prev < parabolic && parabolic < q_next {
                    parabolic
                } else {
                    let j = if s > 0.0 { i + 1 } else { i - 1 };
                    q + s * (self.heights[j] - q) / (self.positions[j] - n)
                };
                self.positions[i] += s;
            }
        }
    }

    /// The estimate; `None` before the first value.
    pub fn value(&self) -> Option<f64> {
        match self.count {
            0 => None,
            n if n < 5 => {
                let mut v = self.heights[..n].to_vec();
                v.sort_by(f64::total_cmp);
                Some(v[((n - 1) as f64 * self.p).round() as usize])
            }
            _ => Some(self.heights[2]),
        }
    }

    /// Values seen.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// The last `capacity` values kept both in arrival order and sorted, for
/// exact windowed quantiles, median and MAD.
///
/// Values are stored at single precision (4 bytes each, twice), which is
/// ample for robust location and scale and halves the memory of a
/// detector that keeps one per series. A push is a binary search plus a
/// shift of at most `capacity` × 4 bytes: a few tens of nanoseconds for the
/// window sizes detectors use.
///
/// ```
/// use streammon_core::stats::SortedWindow;
/// let mut w = SortedWindow::new(5);
/// for x in [3.0, 1.0, 4.0, 1.0, 5.0, 9.0] {
///     w.push(x);
/// }
/// // Window: 1, 4, 1, 5, 9.
/// assert_eq!(w.median(), Some(4.0));
/// assert_eq!(w.mad(), Some(3.0)); // deviations 3, 0, 3, 1, 5
/// ```
#[derive(Debug, Clone)]
pub struct SortedWindow {
    /// Arrival order: grows to `capacity`, then a ring whose oldest value
    /// is at `head`.
    ring: Vec<f32>,
    sorted: Vec<f32>,
    head: usize,
    capacity: usize,
}

/// Makes room for one more value in `v`, growing geometrically but never
/// past `capacity`: a window allocates as it fills, so a series seen once
/// (a flood of new ones) costs a few bytes, not its whole window.
fn room_for_one(v: &mut Vec<f32>, capacity: usize) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(4).min(capacity - v.len()));
    }
}

impl SortedWindow {
    /// A window of `capacity` values (at least 1). Nothing is allocated
    /// until values arrive.
    pub fn new(capacity: usize) -> Self {
        Self { ring: Vec::new(), sorted: Vec::new(), head: 0, capacity: capacity.max(1) }
    }

    /// Adds a value, dropping the oldest when full; NaN is ignored.
    pub fn push(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        let x = x as f32;
        if self.ring.len() < self.capacity {
            room_for_one(&mut self.ring, self.capacity);
            room_for_one(&mut self.sorted, self.capacity);
            self.ring.push(x);
        } else {
            let old = self.ring[self.head];
            let at = self.sorted.partition_point(|&v| v < old);
            self.sorted.remove(at);
            self.ring[self.head] = x;
            self.head = (self.head + 1) % self.capacity;
        }
        let at = self.sorted.partition_point(|&v| v < x);
        self.sorted.insert(at, x);
    }

    /// Values in the window.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Quantile `q` in [0, 1] with linear interpolation between order
    /// statistics; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.sorted.len();
        if n == 0 {
            return None;
        }
        let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let frac = pos - lo as f64;
        Some(f64::from(self.sorted[lo]) * (1.0 - frac) + f64::from(self.sorted[hi]) * frac)
    }

    /// The median.
    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    /// The median absolute deviation from the median (unscaled). The
    /// deviations below and above the median are each already sorted (by
    /// walking away from the median), so the middle deviation is the k-th
    /// smallest of two sorted sequences: a binary search, O(log n), with
    /// no allocation.
    pub fn mad(&self) -> Option<f64> {
        let n = self.sorted.len();
        let med = self.median()?;
        let s = &self.sorted;
        let split = s.partition_point(|&v| f64::from(v) < med);
        // Deviations below the median, nearest first, and above it.
        let below = |i: usize| med - f64::from(s[split - 1 - i]);
        let above = |j: usize| f64::from(s[split + j]) - med;
        let (m, r) = (split, n - split);
        let lo = kth_of_two(&below, m, &above, r, (n - 1) / 2);
        let hi = if n.is_multiple_of(2) { kth_of_two(&below, m, &above, r, n / 2) } else { lo };
        Some((lo + hi) / 2.0)
    }

    /// A robust scale in standard-deviation units: 1.4826 × MAD, or, when
    /// more than half the window holds one value (MAD = 0, as in a count
    /// that is mostly zero), 1.2533 × the mean absolute deviation from the
    /// median, which still sees the occasional other value. Zero only for
    /// a window of identical values.
    pub fn robust_sigma(&self) -> Option<f64> {
        let mad = self.mad()?;
        if mad > 0.0 {
            return Some(1.4826 * mad);
        }
        let med = self.median()?;
        let mean_abs = self.sorted.iter().map(|&v| (f64::from(v) - med).abs()).sum::<f64>() / self.len() as f64;
        Some(1.2533 * mean_abs)
    }

    /// The distance from `x` to the nearest value in the window that
    /// differs from it, or `None` when every value equals `x` (or the
    /// window is empty). Around the median of a quantised series (counts,
    /// a reading rounded to 0.1) it is the resolution: the smallest move the
    /// series can make. O(log n).
    ///
    /// ```
    /// use streammon_core::stats::SortedWindow;
    /// let mut w = SortedWindow::new(8);
    /// for x in [0.0, 0.0, 0.0, 2.0, 0.0, 5.0] {
    ///     w.push(x);
    /// }
    /// assert_eq!(w.gap_around(0.0), Some(2.0));
    /// assert_eq!(w.gap_around(4.0), Some(1.0));
    /// ```
    pub fn gap_around(&self, x: f64) -> Option<f64> {
        let at = x as f32;
        let s = &self.sorted;
        let above = s.partition_point(|&v| v <= at);
        let below = s.partition_point(|&v| v < at);
        let up = s.get(above).map(|&v| f64::from(v) - x);
        let down = below.checked_sub(1).map(|i| x - f64::from(s[i]));
        match (up, down) {
            (Some(u), Some(d)) => Some(u.min(d)),
            (u, d) => u.or(d),
        }
    }

    /// Bytes of state, heap included.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + (self.ring.capacity() + self.sorted.capacity()) * std::mem::size_of::<f32>()
    }
}

/// The `k`-th smallest (0-based) of the union of two ascending sequences
/// of lengths `m` and `n`, given by index: binary search on how many come
/// from the first.
fn kth_of_two(a: &impl Fn(usize) -> f64, m: usize, b: &impl Fn(usize) -> f64, n: usize, k: usize) -> f64 {
    let take = k + 1;
    let (mut lo, mut hi) = (take.saturating_sub(n), take.min(m));
    while lo < hi {
        let i = (lo + hi) / 2;
        let j = take - i;
        if a(i) < b(j - 1) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let (i, j) = (lo, take - lo);
    let from_a = if i > 0 { a(i - 1) } else { f64::NEG_INFINITY };
    let from_b = if j > 0 { b(j - 1) } else { f64::NEG_INFINITY };
    from_a.max(from_b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_window_allocates_as_it_fills_and_never_past_its_capacity() {
        let mut w = SortedWindow::new(600);
        let empty = w.state_bytes();
        assert_eq!(empty, std::mem::size_of::<SortedWindow>(), "nothing on the heap before a value");
        w.push(1.0);
        assert!(w.state_bytes() - empty <= 2 * 4 * 4, "{} bytes for one value", w.state_bytes() - empty);
        for i in 0..10_000 {
            w.push(f64::from(i));
        }
        assert_eq!((w.len(), w.capacity()), (600, 600));
        assert_eq!(w.state_bytes() - empty, 2 * 600 * 4, "exactly the window once full");
        assert_eq!(w.median(), Some(f64::from(9_400 + 299) + 0.5));
    }

    fn naive_quantile(sorted: &[f64], q: f64) -> f64 {
        let pos = q * (sorted.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(sorted.len() - 1);
        sorted[lo] * (1.0 - (pos - lo as f64)) + sorted[hi] * (pos - lo as f64)
    }

    #[test]
    fn robust_sigma_sees_rare_values_in_a_mostly_constant_window() {
        let mut w = SortedWindow::new(100);
        for i in 0..100 {
            w.push(if i % 20 == 0 { 1.0 } else { 0.0 });
        }
        assert_eq!(w.mad(), Some(0.0));
        assert!((w.robust_sigma().unwrap() - 1.2533 * 0.05).abs() < 1e-9);
        let mut flat = SortedWindow::new(10);
        (0..10).for_each(|_| flat.push(3.0));
        assert_eq!(flat.robust_sigma(), Some(0.0));
    }

    proptest! {
        #[test]
        fn gap_around_is_the_distance_to_the_nearest_other_value(
            values in proptest::collection::vec(-100i32..100, 1..60),
            probe in -120i32..120,
        ) {
            let mut w = SortedWindow::new(32);
            for v in &values {
                w.push(f64::from(*v));
            }
            let kept = &values[values.len().saturating_sub(32)..];
            let x = f64::from(probe);
            let want = kept.iter().map(|&v| f64::from(v)).filter(|&v| v != x).map(|v| (v - x).abs()).reduce(f64::min);
            prop_assert_eq!(w.gap_around(x), want);
        }

        #[test]
        fn window_matches_naive_recomputation(values in proptest::collection::vec(-1e4f64..1e4, 1..200), capacity in 1usize..40) {
            let values: Vec<f64> = values.iter().map(|v| f64::from(*v as f32)).collect();
            let mut w = SortedWindow::new(capacity);
            for i in 0..values.len() {
                w.push(values[i]);
                let mut win = values[(i + 1).saturating_sub(capacity)..=i].to_vec();
                win.sort_by(f64::total_cmp);
                for q in [0.0, 0.25, 0.5, 0.95, 0.99, 1.0] {
                    let want = naive_quantile(&win, q);
                    prop_assert!((w.quantile(q).unwrap() - want).abs() <= 1e-3 * (1.0 + want.abs()));
                }
                let med = naive_quantile(&win, 0.5);
                let mut dev: Vec<f64> = win.iter().map(|x| (x - med).abs()).collect();
                dev.sort_by(f64::total_cmp);
                let mad = naive_quantile(&dev, 0.5);
                prop_assert!((w.mad().unwrap() - mad).abs() <= 1e-3 * (1.0 + mad), "{} vs {}", w.mad().unwrap(), mad);
            }
        }

        #[test]
        fn p2_quantiles_are_monotone_and_close(values in proptest::collection::vec(0.0f64..1_000.0, 500..3_000)) {
            let mut est: Vec<P2Quantile> = [0.5, 0.95, 0.99].iter().map(|&p| P2Quantile::new(p)).collect();
            for v in &values {
                est.iter_mut().for_each(|e| e.push(*v));
            }
            let got: Vec<f64> = est.iter().map(|e| e.value().unwrap()).collect();
            prop_assert!(got[0] <= got[1] && got[1] <= got[2], "{got:?}");
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            // Uniform data: the estimate lies within a few percent of the range.
            for (e, p) in got.iter().zip([0.5, 0.95, 0.99]) {
                let want = naive_quantile(&sorted, p);
                prop_assert!((e - want).abs() < 60.0, "p{p}: {e} vs {want}");
            }
        }
    }
}
