//! k-means clustering: k-means++ seeding and a bounded number of Lloyd
//! iterations, on flat `f32` rows, single-threaded and allocation-free
//! after construction.
//!
//! `linfa-clustering`'s `KMeans` implements the same algorithm (k-means++
//! then Lloyd); we do not call it from the core because it turns on
//! ndarray's `rayon` feature and runs its assignment step on rayon's
//! global thread pool (see `docs/ML_DETECTORS.md`). A unit test checks
//! this implementation against it.

use rand::RngExt;
use rand_pcg::Pcg64Mcg;

/// Share of the rows the large clusters hold together (CBLOF's α).
const LARGE_SHARE: f64 = 0.9;

/// Centroids and the scratch to fit them.
#[derive(Debug, Clone)]
pub(crate) struct Lloyd {
    k: usize,
    dims: usize,
    centroids: Vec<f32>,
    sums: Vec<f64>,
    counts: Vec<u32>,
    assignment: Vec<u32>,
    weights: Vec<f32>,
    /// Whether each cluster is one of the large ones (see [`Lloyd::nearest_large`]).
    large: Vec<bool>,
}

impl Lloyd {
    /// Room for `k` centroids of `dims` features fitted on up to `rows` rows.
    pub(crate) fn new(k: usize, dims: usize, rows: usize) -> Self {
        Self {
            k,
            dims,
            centroids: vec![0.0; k * dims],
            sums: vec![0.0; k * dims],
            counts: vec![0; k],
            assignment: Vec::with_capacity(rows),
            weights: Vec::with_capacity(rows),
            large: vec![true; k],
        }
    }

    /// Fits the centroids to `data` (rows of `dims`, at least one row):
    /// k-means++ seeding, then Lloyd iterations until no point changes
    /// cluster or `max_iter` is reached. With fewer distinct rows than `k`,
    /// some centroids coincide. Returns the inertia (sum of squared
    /// distances to the nearest centroid).
    pub(crate) fn fit(&mut self, data: &[f32], max_iter: usize, rng: &mut Pcg64Mcg) -> f64 {
        let (d, n) = (self.dims, data.len() / self.dims);
        let row = |i: usize| &data[i * d..(i + 1) * d];
        // k-means++: each next centroid drawn with probability ∝ D².
        let first = rng.random_range(0..n);
        self.centroids[..d].copy_from_slice(row(first));
        self.weights.clear();
        self.weights.extend((0..n).map(|i| sq_dist(row(i), &self.centroids[..d])));
        for c in 1..self.k {
            let total: f64 = self.weights.iter().map(|&w| f64::from(w)).sum();
            let pick = if total > 0.0 {
                let mut target = rng.random::<f64>() * total;
                let mut pick = n - 1;
                for (i, &w) in self.weights.iter().enumerate() {
                    target -= f64::from(w);
                    if target < 0.0 {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                rng.random_range(0..n)
            };
            self.centroids[c * d..(c + 1) * d].copy_from_slice(row(pick));
            for (i, w) in self.weights.iter_mut().enumerate() {
                *w = w.min(sq_dist(row(i), &self.centroids[c * d..(c + 1) * d]));
            }
        }
        // Lloyd.
        self.assignment.clear();
        self.assignment.resize(n, u32::MAX);
        for _ in 0..max_iter {
            let mut changed = false;
            self.sums.fill(0.0);
            self.counts.fill(0);
            for i in 0..n {
                let (c, _) = self.nearest(row(i));
                if self.assignment[i] != c as u32 {
                    self.assignment[i] = c as u32;
                    changed = true;
                }
                self.counts[c] += 1;
                for (s, &v) in self.sums[c * d..(c + 1) * d].iter_mut().zip(row(i)) {
                    *s += f64::from(v);
                }
            }
            if !changed {
                break;
            }
            for c in 0..self.k {
                // An empty cluster keeps its centroid.
                if self.counts[c] > 0 {
                    let count = f64::from(self.counts[c]);
                    for (m, &s) in self.centroids[c * d..(c + 1) * d].iter_mut().zip(&self.sums[c * d..(c + 1) * d]) {
                        *m = (s / count) as f32;
                    }
                }
            }
        }
        self.counts.fill(0);
        for i in 0..n {
            let c = self.nearest(row(i)).0;
            self.counts[c] += 1;
        }
        self.mark_large(n);
        (0..n).map(|i| f64::from(self.nearest(row(i)).1)).sum()
    }

    /// Marks the large clusters (He, Xu and Deng's CBLOF, 2003): the
    /// biggest, taken in order of size, that together hold 90 % of the
    /// rows. The rest are small clusters, the kind a handful of outliers
    /// form among themselves.
    fn mark_large(&mut self, n: usize) {
        let mut order = [0usize; 64];
        let order = &mut order[..self.k];
        for (c, o) in order.iter_mut().enumerate() {
            *o = c;
        }
        order.sort_unstable_by_key(|&c| (std::cmp::Reverse(self.counts[c]), c));
        self.large.fill(false);
        let mut covered = 0;
        for &c in order.iter() {
            if covered as f64 >= LARGE_SHARE * n as f64 {
                break;
            }
            self.large[c] = true;
            covered += self.counts[c] as usize;
        }
    }

    /// The squared distance from `x` to the nearest large cluster's
    /// centroid: a point among a few outliers that formed a cluster of
    /// their own is still as far from normal as they are.
    pub(crate) fn nearest_large(&self, x: &[f32]) -> f32 {
        self.centroids
            .chunks_exact(self.dims)
            .zip(&self.large)
            .filter(|&(_, &large)| large)
            .map(|(m, _)| sq_dist(x, m))
            .fold(f32::INFINITY, f32::min)
    }

    /// The nearest centroid to `x` and the squared distance to it.
    pub(crate) fn nearest(&self, x: &[f32]) -> (usize, f32) {
        let mut best = (0, f32::INFINITY);
        for (c, m) in self.centroids.chunks_exact(self.dims).enumerate() {
            let dist = sq_dist(x, m);
            if dist < best.1 {
                best = (c, dist);
            }
        }
        best
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.centroids.capacity() * size_of::<f32>()
            + self.sums.capacity() * size_of::<f64>()
            + self.counts.capacity() * size_of::<u32>()
            + self.assignment.capacity() * size_of::<u32>()
            + self.weights.capacity() * size_of::<f32>()
            + self.large.capacity()
    }
}

/// Squared Euclidean distance, summed in four lanes so the compiler can
/// vectorise it (the order is fixed, so results are reproducible).
fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f32 = a4.remainder().iter().zip(b4.remainder()).map(|(x, y)| (x - y) * (x - y)).sum();
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            lanes[l] += (x[l] - y[l]) * (x[l] - y[l]);
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// Three tight blobs in 2-D, 100 points each.
    fn blobs() -> Vec<f32> {
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let mut data = Vec::new();
        for i in 0..300 {
            let (x, y) = centres[i % 3];
            data.push(x + rng.random::<f32>() - 0.5);
            data.push(y + rng.random::<f32>() - 0.5);
        }
        data
    }

    #[test]
    fn finds_separated_blobs() {
        let data = blobs();
        let mut lloyd = Lloyd::new(3, 2, 300);
        let inertia = lloyd.fit(&data, 50, &mut Pcg64Mcg::seed_from_u64(1));
        // Uniform noise of width 1 per axis: about 1/12 per axis per point.
        assert!(inertia < 300.0 * 2.0 / 12.0 * 1.2, "inertia {inertia}");
        assert!(lloyd.nearest(&[10.0, 0.0]).1 < 0.1);
        assert!(lloyd.nearest(&[5.0, 5.0]).1 > 20.0);
    }

    #[test]
    fn duplicate_rows_and_k_above_distinct_rows_are_fine() {
        let data = vec![1.0_f32; 20];
        let mut lloyd = Lloyd::new(4, 2, 10);
        assert_eq!(lloyd.fit(&data, 10, &mut Pcg64Mcg::seed_from_u64(1)), 0.0);
        assert_eq!(lloyd.nearest(&[1.0, 1.0]).1, 0.0);
    }

    /// Sum of squared distances from each row to its nearest centroid.
    fn inertia(data: &[f32], dims: usize, centroids: &[f32]) -> f64 {
        data.chunks_exact(dims)
            .map(|r| centroids.chunks_exact(dims).map(|c| f64::from(sq_dist(r, c))).fold(f64::INFINITY, f64::min))
            .sum()
    }

    /// The reference: linfa-clustering's k-means (k-means++ and Lloyd) on
    /// the same data reaches the same quality of fit. Six overlapping
    /// Gaussian-ish blobs in 4-D, so there is something to get wrong.
    #[test]
    fn fits_as_well_as_linfa() {
        use linfa::DatasetBase;
        use linfa::traits::Fit;

        let (dims, k, n) = (4, 6, 600);
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        let centres: Vec<f32> = (0..k * dims).map(|_| rng.random::<f32>() * 6.0).collect();
        let mut data = Vec::with_capacity(n * dims);
        for i in 0..n {
            for f in 0..dims {
                let noise = (0..4).map(|_| rng.random::<f32>()).sum::<f32>() - 2.0;
                data.push(centres[(i % k) * dims + f] + noise);
            }
        }

        let mut ours = Lloyd::new(k, dims, n);
        ours.fit(&data, 100, &mut Pcg64Mcg::seed_from_u64(1));
        let our_inertia = inertia(&data, dims, &ours.centroids);

        let array = ndarray::Array2::from_shape_vec((n, dims), data.iter().map(|&v| f64::from(v)).collect()).unwrap();
        let model = linfa_clustering::KMeans::params(k)
            .n_runs(1)
            .max_n_iterations(100)
            .tolerance(1e-6)
            .fit(&DatasetBase::from(array))
            .unwrap();
        let theirs: Vec<f32> = model.centroids().iter().map(|&v| v as f32).collect();
        let their_inertia = inertia(&data, dims, &theirs);

        println!("inertia: ours {our_inertia:.1}, linfa {their_inertia:.1}");
        // Both are local optima from random seeds: allow a few per cent.
        let ratio = our_inertia / their_inertia;
        assert!(ratio < 1.05, "ours {our_inertia:.1}, linfa {their_inertia:.1}");
    }
}
