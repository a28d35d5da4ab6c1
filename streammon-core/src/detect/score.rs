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

/// Score of a deviation of `r` half-widths of the expected band (`|z| / k`):
/// `1 − 2^−r²` within the band (0 at the centre, 0.5 on its edge, as
/// [`score`]), then `1 − 0.5 / (1 + ln r)²` beyond it: 0.83 at twice the
/// band, 0.95 at ten times, 0.98 at a hundred times. Strictly increasing
/// and below 1 for every finite `r` (at `r = 10³⁰⁰` it is 0.999999), so
/// the highest scores keep their order instead of tying at 1.
pub(crate) fn ratio_score(r: f64) -> f64 {
    let r = r.abs();
    if r.is_nan() {
        0.0
    } else if r <= 1.0 {
        -(-std::f64::consts::LN_2 * r * r).exp_m1()
    } else {
        let l = 1.0 + r.ln();
        1.0 - 0.5 / (l * l)
    }
}

/// The `r` whose [`ratio_score`] is `s` (its inverse on [0, 1)).
pub(crate) fn ratio_of_score(s: f64) -> f64 {
    if s.is_nan() || s <= 0.0 {
        0.0
    } else if s <= 0.5 {
        ((-(-s).ln_1p()) / std::f64::consts::LN_2).sqrt()
    } else if s < 1.0 {
        ((0.5 / (1.0 - s)).sqrt() - 1.0).exp()
    } else {
        f64::INFINITY
    }
}

/// The largest score below 0.5: what a value within its band scores at most.
pub(crate) const BELOW_HALF: f64 = 0.5f64.next_down();

/// A verdict for `value` scored `score` against `band`, kept consistent
/// with it: a value within the band scores below 0.5, a reason is given
/// only at 0.5 or more, and a band that is not finite (inputs near the
/// limits of `f64`) is no band and no alarm.
pub(crate) fn consistent(value: f64, score: f64, band: Band, reason: Reason) -> Verdict {
    if !(band.low.is_finite() && band.high.is_finite()) {
        return Verdict::QUIET;
    }
    let score = if band.contains(value) { score.min(BELOW_HALF) } else { score };
    let verdict = Verdict::new(score, Some(band), None);
    Verdict { reason: (verdict.score >= 0.5).then_some(reason), ..verdict }
}

/// A verdict for `value` against `centre ± k·scale`, scored by
/// [`ratio_score`].
pub(crate) fn judge(value: f64, centre: f64, scale: f64, k: f64) -> Verdict {
    let scale = floor_scale(scale, centre);
    let z = (value - centre) / scale;
    let band = Band::new(centre - k * scale, centre + k * scale);
    consistent(value, ratio_score(z / k), band, if z > 0.0 { Reason::Above } else { Reason::Below })
}

/// The resolution of a series: the smallest non-zero step between two
/// consecutive values seen. Counts, percentages rounded to a digit and
/// other quantised values cannot vary by less, so a scale estimated below
/// that (a window where most values are equal) is measurement, not
/// signal: [`Resolution::floor`] is the standard deviation of rounding to
/// that step, `q / √12` (Sheppard), under which no detector lets its
/// scale fall. A one-step change on an otherwise flat count is then
/// about 3.5 scales, on the edge; two steps clearly beyond it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolution {
    previous: f64,
    step: f64,
}

impl Resolution {
    /// No value seen yet: no floor.
    pub(crate) const fn new() -> Self {
        Self { previous: f64::NAN, step: f64::INFINITY }
    }

    /// Observes the next finite value.
    pub(crate) fn observe(&mut self, x: f64) {
        let d = (x - self.previous).abs();
        if d > 0.0 && d < self.step {
            self.step = d;
        }
        self.previous = x;
    }

    /// The smallest scale the series can support: `q / √12`, 0 until two
    /// different values have been seen.
    pub(crate) fn floor(&self) -> f64 {
        if self.step.is_finite() { self.step / 12f64.sqrt() } else { 0.0 }
    }
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
        assert!((v.score - ratio_score(5.0 / 3.0)).abs() < 1e-15);
        assert!((score_from_tail(1e-4) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ratio_score_keeps_half_on_the_edge_and_never_saturates() {
        assert_eq!(ratio_score(0.0), 0.0);
        assert!((ratio_score(1.0) - 0.5).abs() < 1e-15);
        assert!((ratio_score(0.5) - score(1.5, 3.0)).abs() < 1e-15, "unchanged within the band");
        assert!((ratio_score(2.0) - 0.826).abs() < 1e-3);
        assert!((ratio_score(10.0) - 0.954).abs() < 1e-3);
        assert!(ratio_score(100.0 / 3.0) > ratio_score(10.0 / 3.0));
        assert!(ratio_score(1e300) < 1.0);
        assert!(ratio_score(1e300) > ratio_score(1e299));
        assert_eq!(ratio_score(f64::NAN), 0.0);
        assert_eq!(ratio_score(f64::INFINITY), 1.0);
    }

    #[test]
    fn a_value_in_the_band_never_reaches_half() {
        // On the edge exactly: the band is inclusive, so below 0.5.
        let v = judge(8.0, 5.0, 1.0, 3.0);
        assert!(v.score < 0.5 && v.reason.is_none(), "{v:?}");
        assert_eq!(consistent(1.0, 0.9, Band::new(0.0, f64::INFINITY), Reason::Above), Verdict::QUIET);
        // A flat series at 0: the first step is news, not a tie at 1.
        let v = judge(1.0, 0.0, 0.0, 3.5);
        assert!(v.score > 0.99 && v.score < 1.0, "{v:?}");
    }

    #[test]
    fn resolution_is_the_smallest_step() {
        let mut r = Resolution::new();
        assert_eq!(r.floor(), 0.0);
        for x in [0.0, 0.0, 3.0, 1.0, 1.0, 2.0, 5.0] {
            r.observe(x);
        }
        assert!((r.floor() - 1.0 / 12f64.sqrt()).abs() < 1e-15);
    }

    proptest::proptest! {
        /// The score is strictly increasing in the deviation and the
        /// inverse gives the deviation back.
        #[test]
        fn ratio_score_is_monotone_and_invertible(a in 0.0f64..1e6, b in 0.0f64..1e6) {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            proptest::prop_assume!(hi - lo > 1e-9 * hi.max(1.0));
            proptest::prop_assert!(ratio_score(lo) < ratio_score(hi));
            let back = ratio_of_score(ratio_score(a));
            proptest::prop_assert!((back - a).abs() <= 1e-6 * a.max(1.0), "{a} → {back}");
        }
    }
}
