//! Live events: latency modes and schedules.

use serde::{Deserialize, Serialize};

/// How close to the live edge players are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyMode {
    /// Classic HLS/DASH: 6 s segments, players three segments behind;
    /// about 20–30 s glass to glass.
    Standard,
    /// LL-HLS / LL-DASH: 2 s segments in 0.5 s parts; about 3–6 s glass
    /// to glass.
    LowLatency,
}

impl LatencyMode {
    /// Segment duration in seconds.
    pub fn segment_duration_s(self) -> f64 {
        match self {
            Self::Standard => 6.0,
            Self::LowLatency => 2.0,
        }
    }

    /// Glass-to-glass latency in seconds with a healthy player:
    /// encoder and packager delay plus the player's target distance from
    /// the live edge.
    pub fn target_e2e_s(self) -> f64 {
        match self {
            // 2 s encode + package, three 6 s segments behind.
            Self::Standard => 2.0 + 3.0 * 6.0,
            // 1 s encode + package, four 0.5 s parts behind plus one in flight.
            Self::LowLatency => 1.0 + 4.0 * 0.5 + 0.5,
        }
    }
}

/// Where a live event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivePhase {
    /// Announced; no stream yet.
    Scheduled,
    /// The stream is up with a holding slate; early viewers gather.
    PreShow,
    /// On air.
    Live,
    /// Over.
    Ended,
}

/// When a live event opens, starts and ends, in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LiveSchedule {
    /// When the pre-show (holding slate) opens.
    pub preshow_ms: i64,
    /// When the event goes on air.
    pub start_ms: i64,
    /// When the event goes off air.
    pub end_ms: i64,
}

impl LiveSchedule {
    /// The phase at `now_ms`.
    ///
    /// ```
    /// use streammon_core::{LivePhase, LiveSchedule};
    /// let s = LiveSchedule { preshow_ms: 0, start_ms: 600_000, end_ms: 4_200_000 };
    /// assert_eq!(s.phase(-1), LivePhase::Scheduled);
    /// assert_eq!(s.phase(0), LivePhase::PreShow);
    /// assert_eq!(s.phase(600_000), LivePhase::Live);
    /// assert_eq!(s.phase(4_200_000), LivePhase::Ended);
    /// ```
    pub fn phase(&self, now_ms: i64) -> LivePhase {
        if now_ms < self.preshow_ms {
            LivePhase::Scheduled
        } else if now_ms < self.start_ms {
            LivePhase::PreShow
        } else if now_ms < self.end_ms {
            LivePhase::Live
        } else {
            LivePhase::Ended
        }
    }

    /// The audience curve of the event at `now_ms` as a fraction of its
    /// peak: a pre-show that grows from 2 % to 15 %, a ramp to the peak
    /// over the first fifth of the event, a plateau, and a decline to 60 %
    /// over the last fifth; zero outside the pre-show and the event.
    pub fn audience_curve(&self, now_ms: i64) -> f64 {
        match self.phase(now_ms) {
            LivePhase::Scheduled | LivePhase::Ended => 0.0,
            LivePhase::PreShow => {
                let len = (self.start_ms - self.preshow_ms).max(1) as f64;
                0.02 + 0.13 * (now_ms - self.preshow_ms) as f64 / len
            }
            LivePhase::Live => {
                let len = (self.end_ms - self.start_ms).max(1) as f64;
                let x = (now_ms - self.start_ms) as f64 / len;
                if x < 0.2 {
                    // Smoothstep from the pre-show level to the peak.
                    let u = x / 0.2;
                    0.15 + 0.85 * u * u * (3.0 - 2.0 * u)
                } else if x < 0.8 {
                    1.0
                } else {
                    1.0 - 0.4 * (x - 0.8) / 0.2
                }
            }
        }
    }
}

/// The live-only attributes of a title.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LiveInfo {
    /// Latency mode.
    pub latency_mode: LatencyMode,
    /// Schedule.
    pub schedule: LiveSchedule,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_curve_rises_peaks_and_falls() {
        let s = LiveSchedule { preshow_ms: 0, start_ms: 1_000, end_ms: 11_000 };
        let at = |t| s.audience_curve(t);
        assert_eq!(at(-5), 0.0);
        assert!(at(0) < at(999));
        assert!(at(999) <= at(1_000) + 1e-9);
        assert!(at(1_500) < at(3_000));
        assert_eq!(at(5_000), 1.0);
        assert!(at(10_999) < 0.65 && at(10_999) > 0.55);
        assert_eq!(at(11_000), 0.0);
        for t in -10..12_000 {
            assert!((0.0..=1.0).contains(&at(t)));
        }
    }
}
