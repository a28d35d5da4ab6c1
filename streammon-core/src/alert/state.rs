//! Per-series rule state: the Quiet → Pending → Firing machine, the EWMA
//! baseline, and the checkpoints a rate-of-change rule compares against.
//! Everything here is fixed-size: no allocation per observation.

/// Where one series stands against one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Phase {
    /// The condition does not hold.
    #[default]
    Quiet,
    /// The condition holds, not yet for `for_duration`.
    Pending,
    /// The condition held for `for_duration` and has not cleared since.
    Firing,
}

/// One series' state under one rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SeriesState {
    pub(crate) phase: Phase,
    /// Start of the current continuous violation, epoch ms.
    pub(crate) since: i64,
    /// Start of the current continuous run of clear observations while
    /// firing, epoch ms.
    pub(crate) clear_since: Option<i64>,
    /// Time of the last observation that counted, epoch ms.
    pub(crate) last_ms: i64,
    /// The last observed value (NaN before the first).
    pub(crate) value: f64,
    /// The baseline: an EWMA over quiet observations, or a detector's
    /// expected value (NaN before the first).
    pub(crate) baseline: f64,
    /// Whether the series is in its rule's set of non-quiet series.
    pub(crate) hot: bool,
}

impl Default for SeriesState {
    fn default() -> Self {
        Self {
            phase: Phase::Quiet,
            since: 0,
            clear_since: None,
            last_ms: i64::MIN,
            value: f64::NAN,
            baseline: f64::NAN,
            hot: false,
        }
    }
}

impl SeriesState {
    /// Advances the machine by one observation at `t`: whether the trigger
    /// condition is `violated` and whether the clear condition holds.
    ///
    /// Pending needs an unbroken run of violations: one that is not
    /// violated drops it. Firing needs an unbroken run of clear
    /// observations lasting `resolve_ms` to end; an observation that is
    /// neither violated nor clear (between the levels) keeps it firing
    /// but restarts that run.
    pub(crate) fn step(&mut self, t: i64, violated: bool, cleared: bool, for_ms: i64, resolve_ms: i64) {
        match self.phase {
            Phase::Quiet if violated => {
                self.phase = Phase::Pending;
                self.since = t;
            }
            Phase::Quiet => {}
            Phase::Pending if !violated => self.phase = Phase::Quiet,
            Phase::Pending => {}
            Phase::Firing if cleared => {
                let from = *self.clear_since.get_or_insert(t);
                if t - from >= resolve_ms {
                    self.phase = Phase::Quiet;
                    self.clear_since = None;
                }
            }
            Phase::Firing => self.clear_since = None,
        }
        if self.phase == Phase::Pending && t - self.since >= for_ms {
            self.phase = Phase::Firing;
            self.clear_since = None;
        }
    }

    /// Folds a quiet observation into the EWMA baseline with weight `alpha`.
    pub(crate) fn learn(&mut self, x: f64, alpha: f64) {
        self.baseline = if self.baseline.is_nan() { x } else { self.baseline + alpha * (x - self.baseline) };
    }
}

/// The EWMA weight of an observation `dt_ms` after the previous one, for a
/// half-life of `half_life_ms`.
pub(crate) fn ewma_alpha(dt_ms: f64, half_life_ms: f64) -> f64 {
    1.0 - libm::exp2(-dt_ms / half_life_ms)
}

/// Checkpoints kept per series by a rate-of-change rule.
const CHECKPOINTS: usize = 9;

/// Values of one series at roughly evenly spaced past times, so the
/// change over a window `per` is measured against the value about `per`
/// ago in constant memory: checkpoints are `per / 8` apart, so the
/// reference is between 7/8 × `per` and `per` old.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateWindow {
    at: [i64; CHECKPOINTS],
    value: [f64; CHECKPOINTS],
    viewers: [u32; CHECKPOINTS],
    /// Index of the oldest checkpoint.
    head: u8,
    len: u8,
}

impl Default for RateWindow {
    fn default() -> Self {
        Self { at: [0; CHECKPOINTS], value: [0.0; CHECKPOINTS], viewers: [0; CHECKPOINTS], head: 0, len: 0 }
    }
}

impl RateWindow {
    /// Records `value` at `t` and returns the reference value and viewers
    /// from about `per_ms` before, once the window spans that long.
    pub(crate) fn push(&mut self, t: i64, value: f64, viewers: u32, per_ms: i64) -> Option<(f64, u32)> {
        let spacing = (per_ms / (CHECKPOINTS as i64 - 1)).max(1);
        while self.len > 0 && t - self.at[self.head as usize] > per_ms {
            self.head = ((self.head as usize + 1) % CHECKPOINTS) as u8;
            self.len -= 1;
        }
        let reference = (self.len > 0 && t - self.at[self.head as usize] >= per_ms - spacing).then(|| {
            let h = self.head as usize;
            (self.value[h], self.viewers[h])
        });
        let newest = (self.head as usize + self.len as usize + CHECKPOINTS - 1) % CHECKPOINTS;
        if self.len == 0 || t - self.at[newest] >= spacing {
            if self.len as usize == CHECKPOINTS {
                self.head = ((self.head as usize + 1) % CHECKPOINTS) as u8;
                self.len -= 1;
            }
            let slot = (self.head as usize + self.len as usize) % CHECKPOINTS;
            self.at[slot] = t;
            self.value[slot] = value;
            self.viewers[slot] = viewers;
            self.len += 1;
        }
        reference
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pending_needs_an_unbroken_run() {
        let mut s = SeriesState::default();
        s.step(0, true, false, 60, 30);
        assert_eq!(s.phase, Phase::Pending);
        s.step(50, false, true, 60, 30);
        assert_eq!(s.phase, Phase::Quiet, "a lapse before for_duration drops it");
        s.step(60, true, false, 60, 30);
        s.step(119, true, false, 60, 30);
        assert_eq!(s.phase, Phase::Pending);
        s.step(120, true, false, 60, 30);
        assert_eq!(s.phase, Phase::Firing);
        s.step(130, false, false, 60, 30);
        s.step(140, false, true, 60, 30);
        s.step(160, false, false, 60, 30);
        s.step(170, false, true, 60, 30);
        s.step(199, false, true, 60, 30);
        assert_eq!(s.phase, Phase::Firing, "the clear run restarted at 170");
        s.step(200, false, true, 60, 30);
        assert_eq!(s.phase, Phase::Quiet);
    }

    /// `docs/ALERTS.md` and the engine docs quote these sizes.
    #[test]
    fn state_sizes_match_the_documented_memory_bound() {
        assert_eq!(std::mem::size_of::<SeriesState>(), 56);
        assert_eq!(std::mem::size_of::<RateWindow>(), 184);
    }

    #[test]
    fn zero_for_duration_fires_at_once() {
        let mut s = SeriesState::default();
        s.step(5, true, false, 0, 0);
        assert_eq!(s.phase, Phase::Firing);
        s.step(6, false, true, 0, 0);
        assert_eq!(s.phase, Phase::Quiet);
    }

    #[test]
    fn rate_window_compares_against_about_per_ago() {
        let mut w = RateWindow::default();
        let per = 120_000;
        let mut refs = Vec::new();
        for i in 0..400 {
            let t = i * 1_000;
            if let Some((v, _)) = w.push(t, t as f64, 7, per) {
                refs.push((t, v));
            }
        }
        assert!(refs.first().unwrap().0 >= per - per / 8);
        for (t, v) in refs {
            let age = t - v as i64;
            assert!((per - per / 8..=per).contains(&age), "t={t} age={age}");
        }
    }

    proptest! {
        #[test]
        fn rate_reference_is_never_older_than_per(gaps in prop::collection::vec(1i64..50_000, 1..300)) {
            let mut w = RateWindow::default();
            let mut t = 0;
            for gap in gaps {
                t += gap;
                if let Some((v, _)) = w.push(t, t as f64, 1, 60_000) {
                    prop_assert!(t - v as i64 <= 60_000);
                    prop_assert!(t - v as i64 >= 60_000 - 60_000 / 8);
                }
            }
        }
    }
}
