//! The regular grid a series lives on, inferred from its timestamps.
//!
//! Sources report at some regular interval that nobody tells us: 1 s from
//! a player beacon, 10 s from the simulator, 1 min from a rollup. The
//! interval is the median of the last [`GAPS`] gaps between accepted
//! points, so a missing point (a gap of two intervals) or a late one does
//! not move it. Each new point then advances the grid by a whole number of
//! steps: one for the next point, more when points are missing.

/// How many recent gaps the median is taken over.
pub(crate) const GAPS: usize = 15;

/// What a new timestamp does to the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Advance {
    /// The first point: the grid starts here.
    First,
    /// The point lies this many steps after the previous one (at least 1;
    /// more than 1 means points are missing in between).
    Steps(u64),
    /// Out of order, a duplicate, or closer than half a step: ignore it.
    Drop,
}

/// Infers the sampling interval and places points on the grid.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cadence {
    last_ms: Option<i64>,
    gaps: [i64; GAPS],
    n_gaps: usize,
    next: usize,
    step_ms: i64,
}

impl Cadence {
    /// Places a point at `timestamp_ms` on the grid.
    pub(crate) fn advance(&mut self, timestamp_ms: i64) -> Advance {
        let Some(last) = self.last_ms else {
            self.last_ms = Some(timestamp_ms);
            return Advance::First;
        };
        let gap = timestamp_ms.saturating_sub(last);
        if gap <= 0 {
            return Advance::Drop;
        }
        self.gaps[self.next] = gap;
        self.next = (self.next + 1) % GAPS;
        self.n_gaps = (self.n_gaps + 1).min(GAPS);
        self.step_ms = median(&self.gaps[..self.n_gaps]);
        let steps = (gap as f64 / self.step_ms as f64).round();
        if steps < 1.0 {
            return Advance::Drop;
        }
        self.last_ms = Some(timestamp_ms);
        Advance::Steps(steps as u64)
    }

    /// The inferred interval in milliseconds, once two points have arrived.
    pub(crate) fn step_ms(&self) -> Option<i64> {
        (self.step_ms > 0).then_some(self.step_ms)
    }

    /// The timestamp of the last accepted point.
    pub(crate) fn last_ms(&self) -> Option<i64> {
        self.last_ms
    }
}

/// The (lower) median of at most [`GAPS`] values, on a copy on the stack.
fn median(values: &[i64]) -> i64 {
    let mut sorted = [0i64; GAPS];
    let sorted = &mut sorted[..values.len()];
    sorted.copy_from_slice(values);
    sorted.sort_unstable();
    // The lower median: always an observed gap.
    sorted[(sorted.len() - 1) / 2]
}

/// The standard normal quantile for probability `p` in (0, 1), by
/// Acklam's rational approximation (relative error below 1.2e-9).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.024_25;
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// The two-sided z multiplier for a prediction interval at `level`:
/// `level` is clamped into [0, 0.999 999]; `NaN` means 0.95.
pub(crate) fn z_for_level(level: f64) -> f64 {
    let level = if level.is_nan() { 0.95 } else { level.clamp(0.0, 0.999_999) };
    normal_quantile(0.5 + level / 2.0).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_the_interval_and_counts_missing_steps() {
        let mut c = Cadence::default();
        assert_eq!(c.advance(0), Advance::First);
        assert_eq!(c.step_ms(), None);
        assert_eq!(c.advance(10_000), Advance::Steps(1));
        assert_eq!(c.advance(20_100), Advance::Steps(1));
        assert_eq!(c.advance(30_000), Advance::Steps(1));
        assert_eq!(c.advance(60_000), Advance::Steps(3));
        assert_eq!(c.step_ms(), Some(10_000));
        assert_eq!(c.advance(60_000), Advance::Drop);
        assert_eq!(c.advance(50_000), Advance::Drop);
        assert_eq!(c.advance(61_000), Advance::Drop);
        assert_eq!(c.last_ms(), Some(60_000));
    }

    #[test]
    fn quantiles_match_tables() {
        assert!((z_for_level(0.95) - 1.959_964).abs() < 1e-5);
        assert!((z_for_level(0.80) - 1.281_552).abs() < 1e-5);
        assert!((z_for_level(0.99) - 2.575_829).abs() < 1e-5);
        assert_eq!(z_for_level(0.0), 0.0);
        assert!(z_for_level(f64::NAN) > 1.9);
        assert!(z_for_level(2.0).is_finite());
    }
}
