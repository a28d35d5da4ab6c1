//! Rolling statistics: O(1) (or amortised O(1)) per point, numerically
//! stable, in fixed memory. The building blocks of the detectors.
//!
//! | type | what | cost per point | memory |
//! |---|---|---|---|
//! | [`RollingMoments`] | mean and variance of the last `n` values (shifted sums) | O(1) | `n` × 8 B |
//! | [`Ewma`] | exponentially weighted mean and variance | O(1) | 24 B |
//! | [`RollingExtrema`] | min and max of the last `n` values | amortised O(1) | ≤ 2`n` × 16 B |
//! | [`P2Quantile`] | one quantile of the whole stream (P² algorithm) | O(1) | 88 B |
//! | [`SortedWindow`] | any quantile, median and MAD of the last `n` values | O(log n) search + O(n) shift of ≤ 4`n` bytes; MAD in O(log n) | `n` × 8 B |
//! | [`RateMeter`] | events per second, exponentially decayed | O(1) | 32 B |
//!
//! Every type is property-tested against a naive recomputation.

mod ewma;
mod extrema;
mod moments;
mod quantile;
mod rate;

pub use ewma::Ewma;
pub use extrema::RollingExtrema;
pub use moments::RollingMoments;
pub use quantile::{P2Quantile, SortedWindow};
pub use rate::RateMeter;
