//! The detection pipeline: samples in, anomalies out.
//!
//! A [`Monitor`] follows every (title, region, metric) series it sees with
//! its own detector, made by a factory on first sight, and pushes an
//! [`Anomaly`] into a caller-owned buffer whenever a point scores at or
//! above the threshold. Series not seen for `idle_ms` are forgotten, so
//! retired titles and ended events do not hold memory.
//!
//! Every verdict is [judged](crate::significance::judge) against its
//! metric's practical-significance [`Floor`]
//! and domain before it counts: an anomaly is a point that is both
//! unusual for its series and materially different from what was
//! expected, and its expected range stays within what the metric can be.

use std::collections::HashMap;
use std::fmt;

use crate::detect::{Anomaly, Band, Detector, DetectorConfig, Gate, Point, Reason};
use crate::error::{Error, Result};
use crate::id::{ContentId, RegionId};
use crate::sample::{Metric, Sample};
use crate::series::SeriesKey;
use crate::significance::{Floor, Floors, judge};

/// Makes the detector of a series the monitor sees for the first time.
pub type DetectorFactory = Box<dyn Fn(&SeriesKey) -> Box<dyn Detector> + Send>;

/// How many floors off the run's baseline a point the detector did not
/// flag must be to keep its series' run going: clearly material, not just
/// over the line. A strong incident holds (a CDN degradation moves
/// buffering by six floors, latency by three), while correlated noise that
/// brushed past the band once does not.
const HOLD_FLOORS: f64 = 2.0;

/// A series' run of anomalous points: when it started, the baseline its
/// first point moved from, and which way.
#[derive(Debug, Clone, Copy)]
struct Run {
    since_ms: i64,
    baseline: f64,
    up: bool,
    /// Whether a point of it was reported.
    reported: bool,
}

/// The detectors of one (title, region) stream, one slot per followed
/// metric (a slot stays empty while the stream lacks that metric).
struct Stream {
    detectors: Vec<Option<Box<dyn Detector>>>,
    /// Per metric, the run it is in: since when, from which baseline, and
    /// whether above it (see [`Monitor::with_min_duration`]).
    since: Vec<Option<Run>>,
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
    ///
    /// A run starts at a point that is unusual and material; it lasts
    /// while each later point is either that again, or still materially
    /// off the baseline the run started from, the same way, by at least
    /// twice its metric's floor. Once the run has lasted `ms`, its flagged points are
    /// reported, and if the detector does not flag the point that makes it
    /// long enough, that point is reported once, judged against the run's
    /// baseline and floor. So a detector that reports an excursion when it
    /// starts and when it worsens, not on every point (as `auto` does),
    /// still has its lasting excursions reported, at any sampling interval.
    pub fn with_min_duration(mut self, ms: i64) -> Self {
        self.min_duration_ms = ms.max(0);
        self
    }

    /// A point of a run long enough to report that its detector did not
    /// flag again: judged against the run's baseline and its metric's
    /// floor (the expected range is the floor around that baseline, which
    /// the value is beyond).
    fn held(sample: &Sample, metric: Metric, value: f64, run: Run, floor: Floor, detector: &str) -> Anomaly {
        let (lo, hi) = metric.domain();
        let w = floor.half_width(run.baseline);
        let band = Band::new((run.baseline - w).clamp(lo, hi), (run.baseline + w).clamp(lo, hi));
        Anomaly {
            timestamp_ms: sample.timestamp_ms,
            series: SeriesKey::of(sample, metric),
            value,
            expected: Some(band),
            baseline: Some(run.baseline),
            score: floor.score(run.baseline, value),
            reason: Some(if value > run.baseline { Reason::Above } else { Reason::Below }),
            detector: detector.to_owned(),
            viewers: sample.viewers,
        }
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
        // A late sample (stamped before the newest seen) must not make the
        // stream look idle sooner.
        stream.last_seen_ms = stream.last_seen_ms.max(t);
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
            let floor = self.floors.get(metric);
            // Still off the run's baseline, the same way, by HOLD_FLOORS floors.
            let holds = |run: &Run| {
                let w = floor.half_width(run.baseline);
                let d = value - run.baseline;
                d.is_finite() && d.abs() >= HOLD_FLOORS * w && (d > 0.0) == run.up
            };
            let (verdict, baseline) = if verdict.score < self.threshold {
                (verdict, None)
            } else {
                judge(verdict, value, floor, metric.domain())
            };
            if verdict.score < self.threshold {
                // Not flagged now (a detector that reports an excursion when
                // it starts and when it worsens); still part of the run while
                // it holds, and reported as such once the run is long enough.
                match since {
                    Some(run) if holds(run) => {
                        if !run.reported && t - run.since_ms >= self.min_duration_ms && self.min_duration_ms > 0 {
                            run.reported = true;
                            out.push(Self::held(sample, metric, value, *run, floor, detector.name()));
                        }
                    }
                    _ => *since = None,
                }
                continue;
            }
            let start = baseline.map(|b| Run { since_ms: t, baseline: b, up: value > b, reported: false });
            let mut run = match (*since, start) {
                (Some(run), Some(now)) if run.up == now.up => run,
                (Some(run), None) => run,
                (_, now) => now.unwrap_or(Run { since_ms: t, baseline: value, up: true, reported: false }),
            };
            let due = t - run.since_ms >= self.min_duration_ms;
            run.reported |= due;
            *since = Some(run);
            if due {
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
    fn a_late_sample_does_not_make_its_stream_look_idle() {
        let mut monitor = Monitor::new(&DetectorConfig::default(), &Gate::default(), vec![Metric::LatencyMs]).unwrap();
        let sample = Simulator::new(SimConfig::default()).unwrap().next_frame().samples.remove(0);
        let at = |t: i64, region: &str| Sample { timestamp_ms: t, region: region.into(), ..sample.clone() };
        let (t0, min) = (sample.timestamp_ms, 60_000);
        let mut out = Vec::new();
        monitor.observe(&at(t0, "a"), &mut out);
        monitor.observe(&at(t0 + 16 * min, "a"), &mut out);
        // Stamped in the past (a slow client's retry): `a` was still seen at 16 min.
        monitor.observe(&at(t0 + min, "a"), &mut out);
        // 21 minutes in, a sweep: `a` was seen 5 minutes ago, within the 15-minute idle time.
        monitor.observe(&at(t0 + 21 * min, "b"), &mut out);
        assert_eq!(monitor.series(), 2, "the late sample made `a` look idle since minute 1");
        monitor.observe(&at(t0 + 40 * min, "b"), &mut out);
        assert_eq!(monitor.series(), 1, "`a` retires once idle for real");
    }

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

    /// A CDN degradation at several sampling intervals, with the server's
    /// 20 s minimum duration: `auto` flags an excursion when it starts and
    /// when it worsens, so at 200 ms a run of flagged points alone would
    /// never last 20 s. The run holds while the series stays off its
    /// baseline by the floor; a healthy stretch stays silent.
    #[test]
    fn a_lasting_incident_is_reported_after_the_minimum_duration_at_any_step() {
        for step_ms in [200u64, 1_000, 10_000] {
            let mut config = SimConfig { titles: 6, step: Span::from_millis(step_ms), ..SimConfig::default() };
            config.incidents.scripted = vec!["cdn_degradation:eu-west@30m+10m".parse().unwrap()];
            let mut monitor = Monitor::new(
                &DetectorConfig::default(),
                &Gate { min_weight: 20.0, ..Gate::default() },
                vec![Metric::BufferingRatio, Metric::LatencyMs, Metric::ErrorRate],
            )
            .unwrap()
            .with_floors(Floors::default())
            .with_min_duration(20_000);
            let start = crate::simulator::DEFAULT_START_MS;
            let (onset, end) = (start + 30 * 60_000, start + 40 * 60_000);
            let mut anomalies = Vec::new();
            let ticks = (45 * 60_000 / step_ms) as usize;
            for frame in Simulator::new(config).unwrap().take(ticks) {
                monitor.observe_all(&frame.samples, &mut anomalies);
            }
            let in_incident: Vec<&Anomaly> = anomalies
                .iter()
                .filter(|a| a.series.region == "eu-west" && (onset..end + 60_000).contains(&a.timestamp_ms))
                .collect();
            let first = in_incident.iter().map(|a| a.timestamp_ms).min();
            assert!(
                first.is_some_and(|t| t - onset >= 20_000 && t - onset <= 40_000),
                "step {step_ms}: first {first:?}"
            );
            assert!(in_incident.iter().all(|a| a.score >= 0.5 && a.expected.is_some_and(|b| !b.contains(a.value))));
            // Before the incident, nothing in its region (us-east, at its
            // evening peak, really does buffer more for a while here).
            let early = anomalies
                .iter()
                .filter(|a| a.series.region == "eu-west" && (start + 10 * 60_000..onset).contains(&a.timestamp_ms))
                .count();
            assert_eq!(early, 0, "step {step_ms}: {early} anomalies in eu-west before its incident");
        }
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
