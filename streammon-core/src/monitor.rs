//! The detection pipeline: samples in, anomalies out.
//!
//! A [`Monitor`] follows every (title, region, metric) series it sees with
//! its own detector, made by a factory on first sight, and pushes an
//! [`Anomaly`] into a caller-owned buffer whenever a point scores at or
//! above the threshold. Series not seen for `idle_ms` are forgotten, so
//! retired titles and ended events do not hold memory.
//!
//! Every verdict is [judged](crate::significance::judge) against its
//! metric's practical-significance [`Floor`](crate::significance::Floor)
//! and domain before it counts: an anomaly is a point that is both
//! unusual for its series and materially different from what was
//! expected, and its expected range stays within what the metric can be.

use std::collections::HashMap;
use std::fmt;

use crate::detect::{Anomaly, Detector, DetectorConfig, Gate, Point};
use crate::error::{Error, Result};
use crate::id::{ContentId, RegionId};
use crate::sample::{Metric, Sample};
use crate::series::SeriesKey;
use crate::significance::{Floors, judge};

/// Makes the detector of a series the monitor sees for the first time.
pub type DetectorFactory = Box<dyn Fn(&SeriesKey) -> Box<dyn Detector> + Send>;

/// The detectors of one (title, region) stream, one slot per followed
/// metric (a slot stays empty while the stream lacks that metric).
struct Stream {
    detectors: Vec<Option<Box<dyn Detector>>>,
    /// Per metric, since when its points have been anomalous without a
    /// break.
    since: Vec<Option<i64>>,
    last_seen_ms: i64,
}

/// Routes samples to per-series detectors and collects anomalies.
///
/// ```
/// use streammon_core::monitor::Monitor;
/// use streammon_core::detect::{DetectorConfig, Gate};
/// use streammon_core::{Metric, SimConfig, Simulator};
/// let mut monitor = Monitor::new(&DetectorConfig::default(), &Gate::default(), vec![Metric::BufferingRatio])?;
/// let (mut anomalies, mut streams) = (Vec::new(), 0);
/// for frame in Simulator::new(SimConfig::default())?.take(10) {
///     monitor.observe_all(&frame.samples, &mut anomalies);
///     streams = frame.samples.len();
/// }
/// // One series per (title, region) stream, for the one metric followed.
/// assert_eq!(monitor.series(), streams);
/// # Ok::<(), streammon_core::Error>(())
/// ```
pub struct Monitor {
    metrics: Vec<Metric>,
    factory: DetectorFactory,
    detector_name: &'static str,
    /// By title, then region: one lookup per sample, with borrowed keys.
    streams: HashMap<ContentId, HashMap<RegionId, Stream>>,
    series: usize,
    threshold: f64,
    floors: Floors,
    min_duration_ms: i64,
    idle_ms: i64,
    last_sweep_ms: i64,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("metrics", &self.metrics)
            .field("detector", &self.detector_name)
            .field("series", &self.series)
            .field("threshold", &self.threshold)
            .finish()
    }
}

/// Series not seen for this long are forgotten.
const DEFAULT_IDLE_MS: i64 = 15 * 60 * 1_000;

impl Monitor {
    /// A monitor that builds each series' detector from `config` with the
    /// pipeline options in `gate`, following `metrics`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the detector configuration is invalid
    /// (checked once, here) or `metrics` is empty.
    pub fn new(config: &DetectorConfig, gate: &Gate, metrics: Vec<Metric>) -> Result<Self> {
        if metrics.is_empty() {
            return Err(Error::config("metrics", "name at least one metric to follow"));
        }
        config.build_gated(gate)?;
        let (config, gate) = (config.clone(), gate.clone());
        let name = config.name();
        let factory: DetectorFactory =
            Box::new(move |_| config.build_gated(&gate).expect("configuration validated when the monitor was built"));
        let mut monitor = Self::with_factory(metrics, factory);
        monitor.detector_name = name;
        Ok(monitor)
    }

    /// A monitor with a detector factory of your own: plug in any
    /// [`Detector`].
    pub fn with_factory(metrics: Vec<Metric>, factory: DetectorFactory) -> Self {
        Self {
            metrics,
            factory,
            detector_name: "custom",
            streams: HashMap::new(),
            series: 0,
            threshold: 0.5,
            floors: Floors::default(),
            min_duration_ms: 0,
            idle_ms: DEFAULT_IDLE_MS,
            last_sweep_ms: i64::MIN,
        }
    }

    /// Sets the score at or above which a point is an anomaly (default 0.5).
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// Sets the practical-significance floors (default
    /// [`Floors::default`]; [`Floors::none`] flags every unusual point).
    pub fn with_floors(mut self, floors: Floors) -> Self {
        self.floors = floors;
        self
    }

    /// Reports a point only once its series has been anomalous without a
    /// break for `ms` (default 0: every anomalous point). Time, not a count
    /// of points, so it means the same at any sampling interval.
    pub fn with_min_duration(mut self, ms: i64) -> Self {
        self.min_duration_ms = ms.max(0);
        self
    }

    /// Sets how long an unseen series is kept (default 15 minutes).
    pub fn with_idle(mut self, idle_ms: i64) -> Self {
        self.idle_ms = idle_ms.max(0);
        self
    }

    /// Feeds one sample: every followed metric goes to its series'
    /// detector; anomalies are appended to `out`.
    pub fn observe(&mut self, sample: &Sample, out: &mut Vec<Anomaly>) {
        let t = sample.timestamp_ms;
        let regions = match self.streams.get_mut(sample.content_id.as_str()) {
            Some(regions) => regions,
            None => self.streams.entry(sample.content_id.clone()).or_default(),
        };
        let stream = match regions.get_mut(sample.region.as_str()) {
            Some(stream) => stream,
            None => regions.entry(sample.region.clone()).or_insert_with(|| Stream {
                detectors: (0..self.metrics.len()).map(|_| None).collect(),
                since: vec![None; self.metrics.len()],
                last_seen_ms: t,
            }),
        };
        stream.last_seen_ms = t;
        for ((slot, since), &metric) in stream.detectors.iter_mut().zip(stream.since.iter_mut()).zip(&self.metrics) {
            let Some(value) = sample.get(metric) else { continue };
            let detector = match slot {
                Some(d) => d,
                None => {
                    self.series += 1;
                    slot.insert((self.factory)(&SeriesKey::of(sample, metric)))
                }
            };
            let verdict = detector.update(Point::new(t, value).with_weight(f64::from(sample.viewers)));
            if verdict.score < self.threshold {
                *since = None;
                continue;
            }
            let (verdict, baseline) = judge(verdict, value, self.floors.get(metric), metric.domain());
            if verdict.score < self.threshold {
                *since = None;
                continue;
            }
            if t - *since.get_or_insert(t) >= self.min_duration_ms {
                out.push(Anomaly {
                    timestamp_ms: t,
                    series: SeriesKey::of(sample, metric),
                    value,
                    expected: verdict.expected,
                    baseline,
                    score: verdict.score,
                    reason: verdict.reason,
                    detector: detector.name().to_owned(),
                    viewers: sample.viewers,
                });
            }
        }
        if t.saturating_sub(self.last_sweep_ms) >= self.idle_ms.max(1) / 4 {
            self.last_sweep_ms = t;
            let idle = self.idle_ms;
            let mut dropped = 0;
            self.streams.retain(|_, regions| {
                regions.retain(|_, s| {
                    let keep = t - s.last_seen_ms <= idle;
                    if !keep {
                        dropped += s.detectors.iter().filter(|d| d.is_some()).count();
                    }
                    keep
                });
                !regions.is_empty()
            });
            self.series -= dropped;
        }
    }

    /// Feeds every sample of a tick.
    pub fn observe_all(&mut self, samples: &[Sample], out: &mut Vec<Anomaly>) {
        for sample in samples {
            self.observe(sample, out);
        }
    }

    /// Series currently followed.
    pub fn series(&self) -> usize {
        self.series
    }

    /// Bytes of detector state over all series (excluding map overhead).
    pub fn state_bytes(&self) -> usize {
        let detectors = self.streams.values().flat_map(|r| r.values()).flat_map(|s| s.detectors.iter().flatten());
        detectors.map(|d| d.state_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{SimConfig, Simulator};
    use crate::time::Span;

    #[test]
    fn finds_a_cdn_incident_and_forgets_retired_titles() {
        let mut config = SimConfig { titles: 12, step: Span::from_secs(10), ..SimConfig::default() };
        config.vod_lifetime = Span::from_hours(1);
        config.incidents.scripted = vec!["cdn_degradation:eu-west@90m+20m".parse().unwrap()];
        let mut monitor = Monitor::new(
            &DetectorConfig::default(),
            &Gate { min_weight: 20.0, ..Gate::default() },
            vec![Metric::BufferingRatio],
        )
        .unwrap();
        let mut anomalies = Vec::new();
        let start = crate::simulator::DEFAULT_START_MS;
        let mut max_series = 0;
        for frame in Simulator::new(config).unwrap().take(6 * 60 * 3) {
            monitor.observe_all(&frame.samples, &mut anomalies);
            max_series = max_series.max(monitor.series());
        }
        let window = start + 90 * 60_000..start + 112 * 60_000;
        let hits =
            anomalies.iter().filter(|a| a.series.region == "eu-west" && window.contains(&a.timestamp_ms)).count();
        assert!(hits > 0);
        assert!(anomalies.iter().all(|a| a.score >= 0.5 && a.detector == "auto"));
        // Titles retire every hour or so; the monitor keeps only live ones.
        assert!(max_series <= 12 * 10 * 2, "{max_series}");
    }

    #[test]
    fn one_series_per_stream_and_metric_it_carries() {
        let frame = Simulator::new(SimConfig::default()).unwrap().next_frame();
        let mut monitor =
            Monitor::new(&DetectorConfig::default(), &Gate::default(), vec![Metric::LatencyMs, Metric::E2eLatencyMs])
                .unwrap();
        let mut anomalies = Vec::new();
        monitor.observe_all(&frame.samples, &mut anomalies);
        // End-to-end latency exists for live titles only.
        let live = frame.samples.iter().filter(|s| s.e2e_latency_ms.is_some()).count();
        assert!(live > 0 && live < frame.samples.len());
        assert_eq!(monitor.series(), frame.samples.len() + live);
        assert!(monitor.state_bytes() > 0);
        // Seeing the same tick again adds no series.
        monitor.observe_all(&frame.samples, &mut anomalies);
        assert_eq!(monitor.series(), frame.samples.len() + live);
    }
}
