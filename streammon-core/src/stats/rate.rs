//! Event rates over time.

/// Events per second, exponentially decayed with a time constant: each
/// observation of `count` events at a timestamp updates the rate over the
/// time since the previous observation, weighting it by how much of the
/// time constant that interval covers. Irregular intervals are handled
/// exactly.
///
/// ```
/// use streammon_core::stats::RateMeter;
/// let mut r = RateMeter::new(60_000);
/// for t in 0..600 {
///     r.observe(t * 1_000, 5.0); // five events every second
/// }
/// // From zero, within 1 − e^−10 of the rate after ten time constants.
/// assert!((r.per_second() - 5.0).abs() < 1e-3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateMeter {
    tau_ms: f64,
    rate: f64,
    last_ms: Option<i64>,
}

impl RateMeter {
    /// A meter with time constant `tau_ms` milliseconds (at least 1).
    pub fn new(tau_ms: u64) -> Self {
        Self { tau_ms: tau_ms.max(1) as f64, rate: 0.0, last_ms: None }
    }

    /// Records `count` events that happened since the previous call, at
    /// `timestamp_ms`. The first call only sets the clock; calls that go
    /// back in time are ignored.
    pub fn observe(&mut self, timestamp_ms: i64, count: f64) {
        match self.last_ms {
            None => self.last_ms = Some(timestamp_ms),
            Some(last) if timestamp_ms > last => {
                let dt = timestamp_ms.saturating_sub(last) as f64;
                let w = 1.0 - (-dt / self.tau_ms).exp();
                self.rate += w * (count / (dt / 1_000.0) - self.rate);
                self.last_ms = Some(timestamp_ms);
            }
            Some(_) => {}
        }
    }

    /// The current rate in events per second.
    pub fn per_second(&self) -> f64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irregular_intervals_give_the_same_steady_rate() {
        let mut r = RateMeter::new(10_000);
        let mut t = 0;
        for i in 0..2_000 {
            let dt = if i % 3 == 0 { 250 } else { 1_500 };
            t += dt;
            r.observe(t, 4.0 * dt as f64 / 1_000.0);
        }
        assert!((r.per_second() - 4.0).abs() < 1e-9);
        r.observe(t - 5, 100.0);
        assert!((r.per_second() - 4.0).abs() < 1e-9);
    }

    /// The gap the detectors' clocks overflowed on (fuzzing, target
    /// `detect_csv`): from one end of i64 to the other.
    #[test]
    fn a_clock_from_one_end_of_i64_to_the_other() {
        let mut r = RateMeter::new(10_000);
        r.observe(i64::MIN, 1.0);
        r.observe(i64::MAX, 1.0);
        assert!(r.per_second().is_finite() && r.per_second() >= 0.0);
    }
}
