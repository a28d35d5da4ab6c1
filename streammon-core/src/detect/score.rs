//! Turning standardised deviations into scores and bands, the same way in
//! every detector (a score of 0.5 means "on the edge of the expected
//! band"), and clipping what detectors learn from.

use super::{Band, Reason, Verdict};

/// Smallest scale a detector divides by, relative to the level: keeps a
/// perfectly flat series from turning float noise into infinite scores.
const RELATIVE_FLOOR: f64 = 1e-9;
/// Absolute floor for a flat series at zero.
const ABSOLUTE_FLOOR: f64 = 1e-12;

/// A scale that is never zero: `scale`, or a tiny fraction of `level`.
pub(crate) fn floor_scale(scale: f64, level: f64) -> f64 {
    scale.max(RELATIVE_FLOOR * level.abs()).max(ABSOLUTE_FLOOR)
}

/// Score of a standardised deviation `z` against a band of ± `k`: 0 at the
/// centre, 0.5 on the band's edge, 0.94 at twice the band, → 1 beyond:
/// `1 − 2^−(z/k)²`.
pub(crate) fn score(z: f64, k: f64) -> f64 {
    let r = z / k;
    let s = 1.0 - (-std::f64::consts::LN_2 * r * r).exp();
    if s.is_nan() { if z.is_nan() { 0.0 } else { 1.0 } } else { s }
}

/// Score from a tail probability `p`: 0.5 at one in ten thousand, 1 at
/// one in a hundred million (`−log10(p) / 8`).
pub(crate) fn score_from_tail(p: f64) -> f64 {
    (-(p.max(1e-300)).log10() / 8.0).clamp(0.0, 1.0)
}

/// Upper tail probability of a standard normal.
#[allow(dead_code, reason = "used by the calibrator's tests; kept for detectors")]
pub(crate) fn normal_tail(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// A verdict for `value` against `centre ± k·scale`.
pub(crate) fn judge(value: f64, centre: f64, scale: f64, k: f64) -> Verdict {
    let scale = floor_scale(scale, centre);
    let z = (value - centre) / scale;
    let band = Band::new(centre - k * scale, centre + k * scale);
    let s = score(z, k);
    let reason = if s < 0.5 {
        None
    } else if z > 0.0 {
        Some(Reason::Above)
    } else {
        Some(Reason::Below)
    };
    Verdict::new(s, Some(band), reason)
}

/// The value to learn from: clipped to ±5 standard deviations of what was
/// expected (once there is an expectation), so one wild point does not
/// inflate the variance and blind the detector to the next.
pub(crate) fn learnable(x: f64, centre: f64, sd: f64, seen: usize) -> f64 {
    let (lo, hi) = (centre - 5.0 * sd, centre + 5.0 * sd);
    // `clamp` panics on NaN or crossed bounds: extreme inputs must not.
    if seen >= 8 && sd > 0.0 && lo.is_finite() && hi.is_finite() && lo <= hi { x.clamp(lo, hi) } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_on_the_band_edge() {
        assert_eq!(score(0.0, 3.0), 0.0);
        assert!((score(3.0, 3.0) - 0.5).abs() < 1e-12);
        assert!((score(-6.0, 3.0) - 0.9375).abs() < 1e-12);
        assert_eq!(score(f64::INFINITY, 3.0), 1.0);
        let v = judge(10.0, 5.0, 1.0, 3.0);
        assert_eq!(v.reason, Some(Reason::Above));
        assert_eq!(v.expected, Some(Band::new(2.0, 8.0)));
        assert!((score_from_tail(1e-4) - 0.5).abs() < 1e-12);
    }
}
