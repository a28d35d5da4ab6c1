//! The trees of an Isolation Forest, stored flat for fast scoring.
//!
//! # Layout
//! Every tree is a *complete* binary tree of height `D = ⌈log₂ ψ⌉` (ψ the
//! subsample size, Liu et al.'s height limit): `2^D − 1` split nodes in
//! breadth-first order (children of node `i` at `2i + 1` and `2i + 2`)
//! followed by `2^D` leaves. A split is 8 bytes (`f32` threshold, `u8`
//! feature); a leaf is one `f32`, the path length already corrected by
//! `c(n)` for the `n` training points that reached it. All trees live in
//! two contiguous vectors.
//!
//! A branch that stopped growing early (one point left, or no feature
//! with spread) is padded: its split nodes get an infinite threshold, so
//! every point goes left, and every leaf below it holds its value. Scoring
//! is then exactly `D` branch-free steps per tree, and independent trees
//! are walked four at a time so their memory loads overlap.

use rand::RngExt;
use rand_pcg::Pcg64Mcg;

/// Euler–Mascheroni constant, for the harmonic-number approximation.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The average path length of an unsuccessful search in a binary search
/// tree of `n` points, `c(n)` in Liu et al.: the expected depth still to go
/// below a leaf that holds `n` training points.
pub(crate) fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// One split: points with `x[feature] >= threshold` go right; a point with
/// `x[feature]` outside the node's training range `[low, high]` may be
/// isolated here (see [`Forest::new`]).
#[derive(Debug, Clone, Copy)]
struct Split {
    threshold: f32,
    low: f32,
    high: f32,
    feature: u8,
}

/// Sends every point left and isolates none.
const PADDING: Split = Split { threshold: f32::INFINITY, low: f32::NEG_INFINITY, high: f32::INFINITY, feature: 0 };

/// Excess beyond a range that counts as infinitely far: keeps a value
/// that overflowed `f32` from turning the isolation odds into NaN.
const FAR: f32 = 1e30;

/// Where a point is on its way down one tree.
#[derive(Debug, Clone, Copy)]
struct Walk {
    node: usize,
    /// Probability that it has not been isolated beyond a node's range yet.
    alive: f32,
    /// Expected path length of the isolations so far, weighted by their
    /// probability.
    path: f32,
}

impl Walk {
    const ROOT: Walk = Walk { node: 0, alive: 1.0, path: 0.0 };
}

/// Trees, flat; see the [module docs](self).
#[derive(Debug, Clone)]
pub(crate) struct Forest {
    trees: usize,
    height: usize,
    /// Split nodes per tree, `2^height − 1`.
    internal: usize,
    splits: Vec<Split>,
    leaves: Vec<f32>,
    beyond_range: bool,
    /// Training scratch: the rows copied out of the window, and indices.
    rows: Vec<f32>,
    pool: Vec<u32>,
    dims: usize,
}

impl Forest {
    /// Room for `trees` trees over subsamples of at most `sample_size`
    /// points of `dims` features, trained from at most `window` rows.
    /// Allocates everything it will ever need.
    ///
    /// With `beyond_range`, a point whose split feature lies outside the
    /// node's training range `[lo, hi]` by `e` is isolated at that node
    /// (path length: its depth + 1) with probability `e / (e + hi − lo)`:
    /// the chance that the node's cut, drawn uniformly over the range
    /// stretched to include the point (as it would have been had the point
    /// been among the training rows), falls between it and the rest; with
    /// the remaining probability it goes on down. Liu et al.'s trees draw
    /// thresholds only within the training range, so a value far beyond it
    /// follows the most extreme training points down and scores no higher
    /// than they do, however far it is; with this, its expected path
    /// shortens steadily with its distance, so a point ten times farther
    /// out scores higher, never the same.
    pub(crate) fn new(trees: usize, sample_size: usize, dims: usize, window: usize, beyond_range: bool) -> Self {
        let height = (usize::BITS - (sample_size.max(2) - 1).leading_zeros()) as usize;
        let internal = (1 << height) - 1;
        Self {
            trees,
            height,
            internal,
            splits: vec![PADDING; trees * internal],
            leaves: vec![0.0; trees * (internal + 1)],
            beyond_range,
            rows: Vec::with_capacity(window * dims),
            pool: Vec::with_capacity(window),
            dims,
        }
    }

    /// Height limit of every tree.
    #[cfg(test)]
    pub(crate) fn height(&self) -> usize {
        self.height
    }

    /// Grows every tree anew on a random subsample of `sample_size` of the
    /// `n` rows yielded by `rows` (fewer if there are fewer rows).
    pub(crate) fn fit<'a>(&mut self, rows: impl Iterator<Item = &'a [f32]>, sample_size: usize, rng: &mut Pcg64Mcg) {
        self.rows.clear();
        for r in rows {
            self.rows.extend_from_slice(r);
        }
        let n = self.rows.len() / self.dims;
        let psi = sample_size.min(n);
        let mut pool = std::mem::take(&mut self.pool);
        for t in 0..self.trees {
            pool.clear();
            pool.extend(0..n as u32);
            for j in 0..psi {
                let k = rng.random_range(j..n);
                pool.swap(j, k);
            }
            self.grow(t, 0, 0, &mut pool[..psi], rng);
        }
        self.pool = pool;
    }

    fn grow(&mut self, tree: usize, node: usize, depth: usize, idx: &mut [u32], rng: &mut Pcg64Mcg) {
        if depth == self.height || idx.len() <= 1 {
            self.leaf(tree, node, depth, idx.len());
            return;
        }
        // A random feature; where it has no spread among these points, the
        // next one that does (Liu et al. pick at random among features and
        // stop at a node whose points are all equal).
        let start = rng.random_range(0..self.dims);
        let mut chosen = None;
        for k in 0..self.dims {
            let f = (start + k) % self.dims;
            let (lo, hi) = self.range(idx, f);
            if hi > lo {
                chosen = Some((f, lo, hi));
                break;
            }
        }
        let Some((feature, lo, hi)) = chosen else {
            self.leaf(tree, node, depth, idx.len());
            return;
        };
        let mut threshold = lo + rng.random::<f32>() * (hi - lo);
        if threshold <= lo {
            // Rounding put it on the minimum: split off the maximum instead,
            // so both sides keep at least one point.
            threshold = hi;
        }
        let (low, high) = if self.beyond_range { (lo, hi) } else { (f32::NEG_INFINITY, f32::INFINITY) };
        self.splits[tree * self.internal + node] = Split { threshold, low, high, feature: feature as u8 };
        // Partition, branch-free Lomuto: left of `mid` go left (x < threshold).
        let mut mid = 0;
        for j in 0..idx.len() {
            let v = idx[j];
            let goes_left = self.rows[v as usize * self.dims + feature] < threshold;
            idx[j] = idx[mid];
            idx[mid] = v;
            mid += usize::from(goes_left);
        }
        let (left, right) = idx.split_at_mut(mid);
        self.grow(tree, 2 * node + 1, depth + 1, left, rng);
        self.grow(tree, 2 * node + 2, depth + 1, right, rng);
    }

    /// Smallest and largest value of feature `f` among the rows `idx`,
    /// over four independent lanes so the comparisons do not wait on
    /// each other.
    fn range(&self, idx: &[u32], f: usize) -> (f32, f32) {
        let mut lo = [f32::INFINITY; 4];
        let mut hi = [f32::NEG_INFINITY; 4];
        let chunks = idx.chunks_exact(4);
        for &i in chunks.remainder() {
            let v = self.rows[i as usize * self.dims + f];
            lo[0] = lo[0].min(v);
            hi[0] = hi[0].max(v);
        }
        for c in chunks {
            for l in 0..4 {
                let v = self.rows[c[l] as usize * self.dims + f];
                lo[l] = lo[l].min(v);
                hi[l] = hi[l].max(v);
            }
        }
        (lo[0].min(lo[1]).min(lo[2].min(lo[3])), hi[0].max(hi[1]).max(hi[2].max(hi[3])))
    }

    /// Makes `node` an external node holding `n` points at `depth`: pads
    /// the splits below it and writes its value to every leaf below it.
    fn leaf(&mut self, tree: usize, node: usize, depth: usize, n: usize) {
        let value = (depth as f64 + average_path_length(n)) as f32;
        let mut first = node;
        let mut width = 1;
        loop {
            if first >= self.internal {
                let base = tree * (self.internal + 1) + first - self.internal;
                self.leaves[base..base + width].fill(value);
                return;
            }
            let base = tree * self.internal + first;
            self.splits[base..base + width].fill(PADDING);
            first = 2 * first + 1;
            width *= 2;
        }
    }

    /// Sum over trees of the path length of `x` (one value per feature,
    /// padded to 64 so feature indices need no bounds check), adding the
    /// trees in order. Eight trees are walked together so that their
    /// memory loads overlap.
    pub(crate) fn path_sum(&self, x: &[f32; 64]) -> f32 {
        const LANES: usize = 8;
        let internal = self.internal;
        let mut splits = self.splits.chunks_exact(LANES * internal);
        let mut leaves = self.leaves.chunks_exact(LANES * (internal + 1));
        let mut sum = 0.0;
        for (s, l) in (&mut splits).zip(&mut leaves) {
            let mut at = [Walk::ROOT; LANES];
            for depth in 1..=self.height {
                for (lane, w) in at.iter_mut().enumerate() {
                    *w = step(&s[lane * internal..(lane + 1) * internal], *w, depth as u32, x);
                }
            }
            for (lane, &w) in at.iter().enumerate() {
                sum += finish(w, &l[lane * (internal + 1)..(lane + 1) * (internal + 1)], internal);
            }
        }
        for (s, l) in splits.remainder().chunks_exact(internal).zip(leaves.remainder().chunks_exact(internal + 1)) {
            let mut w = Walk::ROOT;
            for depth in 1..=self.height {
                w = step(s, w, depth as u32, x);
            }
            sum += finish(w, l, internal);
        }
        sum
    }

    /// Adds every tree's path length of each of the `points` to `sums`,
    /// tree by tree (the same additions, in the same order, as
    /// [`path_sum`](Self::path_sum)), so each tree stays in cache while
    /// eight points at a time walk it.
    pub(crate) fn path_sums(&self, points: &[[f32; 64]], sums: &mut [f32]) {
        const LANES: usize = 8;
        let internal = self.internal;
        for (s, l) in self.splits.chunks_exact(internal).zip(self.leaves.chunks_exact(internal + 1)) {
            let mut xs = points.chunks_exact(LANES);
            let mut out = sums.chunks_exact_mut(LANES);
            for (x, sum) in (&mut xs).zip(&mut out) {
                let mut at = [Walk::ROOT; LANES];
                for depth in 1..=self.height {
                    for (w, x) in at.iter_mut().zip(x) {
                        *w = step(s, *w, depth as u32, x);
                    }
                }
                for (sum, &w) in sum.iter_mut().zip(&at) {
                    *sum += finish(w, l, internal);
                }
            }
            for (x, sum) in xs.remainder().iter().zip(out.into_remainder()) {
                let mut w = Walk::ROOT;
                for depth in 1..=self.height {
                    w = step(s, w, depth as u32, x);
                }
                *sum += finish(w, l, internal);
            }
        }
    }

    /// Number of trees.
    pub(crate) fn trees(&self) -> usize {
        self.trees
    }

    /// Heap bytes held, training scratch included.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.splits.capacity() * size_of::<Split>()
            + self.leaves.capacity() * size_of::<f32>()
            + self.rows.capacity() * size_of::<f32>()
            + self.pool.capacity() * size_of::<u32>()
    }
}

/// One step down a tree, from a split at `depth − 1` to its left or
/// right child, weighing the chance that the point is isolated here,
/// beyond the split's training range.
#[inline(always)]
fn step(splits: &[Split], w: Walk, depth: u32, x: &[f32; 64]) -> Walk {
    let s = splits[w.node];
    let v = x[usize::from(s.feature) & 63];
    // Padding and splits without the range rule have an infinite range:
    // no excess, odds 0.
    let excess = (s.low - v).max(v - s.high).clamp(0.0, FAR);
    let odds = excess / (excess + (s.high - s.low));
    Walk {
        node: 2 * w.node + 1 + usize::from(v >= s.threshold),
        alive: w.alive * (1.0 - odds),
        path: w.path + w.alive * odds * depth as f32,
    }
}

/// A walk's expected path length: the isolations beyond a range on the
/// way, by their probability, and its leaf's value for the rest.
#[inline(always)]
fn finish(w: Walk, leaves: &[f32], internal: usize) -> f32 {
    w.path + w.alive * leaves[w.node - internal]
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn padded(v: &[f32]) -> [f32; 64] {
        let mut x = [0.0; 64];
        x[..v.len()].copy_from_slice(v);
        x
    }

    #[test]
    fn average_path_length_matches_the_paper() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) ≈ 10.24 (Liu et al., 2008).
        assert!((average_path_length(256) - 10.244).abs() < 0.01);
    }

    #[test]
    fn height_is_the_paper_limit() {
        assert_eq!(Forest::new(1, 256, 2, 512, true).height(), 8);
        assert_eq!(Forest::new(1, 257, 2, 512, true).height(), 9);
        assert_eq!(Forest::new(1, 2, 2, 512, true).height(), 1);
    }

    #[test]
    fn an_outlier_isolates_sooner_than_the_crowd() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        // A blob: sums of four uniforms, dense in the middle, sparse at the edges.
        let mut blob = || (0..4).map(|_| rng.random::<f32>()).sum::<f32>() - 2.0;
        let rows: Vec<[f32; 2]> = (0..300).map(|_| [blob(), blob()]).collect();
        let mut forest = Forest::new(100, 256, 2, 300, false);
        forest.fit(rows.iter().map(|r| &r[..]), 256, &mut Pcg64Mcg::seed_from_u64(2));
        let inlier = forest.path_sum(&padded(&[0.0, 0.1])) / 100.0;
        let outlier = forest.path_sum(&padded(&[3.0, 3.0])) / 100.0;
        assert!(outlier < 4.0 && inlier > 8.0, "outlier {outlier}, inlier {inlier}");
        let mut sums = [0.0; 2];
        forest.path_sums(&[padded(&[0.0, 0.1]), padded(&[3.0, 3.0])], &mut sums);
        assert!((sums[0] / 100.0 - inlier).abs() < 1e-3 && (sums[1] / 100.0 - outlier).abs() < 1e-3);
    }

    #[test]
    fn beyond_range_isolates_a_value_far_outside_the_training_range() {
        // A grid: its extreme rows are as dense as its middle, so without
        // the range rule a far-away value scores like an edge row.
        let rows: Vec<[f32; 2]> = (0..300).map(|i| [(i % 17) as f32, (i % 13) as f32]).collect();
        let path = |beyond: bool, x: &[f32]| {
            let mut forest = Forest::new(100, 256, 2, 300, beyond);
            forest.fit(rows.iter().map(|r| &r[..]), 256, &mut Pcg64Mcg::seed_from_u64(4));
            forest.path_sum(&padded(x)) / 100.0
        };
        let (edge, far) = (path(false, &[16.0, 6.0]), path(false, &[1000.0, 6.0]));
        assert!((edge - far).abs() < 0.5, "classic: edge {edge}, far {far}");
        let (edge, far) = (path(true, &[16.0, 6.0]), path(true, &[1000.0, 6.0]));
        assert!(far < 0.5 * edge, "beyond range: edge {edge}, far {far}");
    }

    #[test]
    fn constant_data_makes_single_leaf_trees() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let rows = vec![[1.0_f32, 2.0]; 64];
        let mut forest = Forest::new(3, 64, 2, 64, true);
        forest.fit(rows.iter().map(|r| &r[..]), 64, &mut rng);
        let expected = average_path_length(64) as f32 * 3.0;
        assert!((forest.path_sum(&padded(&[1.0, 2.0])) - expected).abs() < 1e-4);
    }
}
