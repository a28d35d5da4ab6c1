//! The whole per-tick pipeline, without I/O: samples in; a rolled-up
//! summary, anomalies, alert transitions, forecasts and a title table out.
//!
//! A server (such as `streammon serve`) owns the clock, the storage and the
//! sockets; it hands each tick's samples and status changes to
//! [`Pipeline::process`] and publishes the [`TickOutput`]. Everything that
//! decides what is wrong lives here, so an embedding service gets the same
//! answers as the reference server.
//!
//! ```
//! use streammon_core::pipeline::{Pipeline, PipelineConfig, TickOutput};
//! use streammon_core::{SimConfig, Simulator};
//! let mut sim = Simulator::new(SimConfig::default())?;
//! let mut pipeline = Pipeline::new(&PipelineConfig::default())?;
//! for region in sim.regions() {
//!     pipeline.set_capacity(region.id.clone(), region.capacity_gbps * 1_000.0);
//! }
//! let mut out = TickOutput::default();
//! for frame in sim.by_ref().take(30) {
//!     pipeline.process(&frame, &mut out);
//! }
//! assert!(out.summary.total.viewers > 0);
//! // Every title streaming, and the live events announced but not on air.
//! assert!(pipeline.contents().count() as u32 >= out.summary.active_titles);
//! # Ok::<(), streammon_core::Error>(())
//! ```

mod bands;
mod breakdown;
mod content_table;
mod distribution;
mod forecasts;
mod summary;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use bands::{BAND_METRICS, Bands, Expected, REGION_IDLE_MS, RELEARN_MS, ScopeWatch};
pub use breakdown::{Breakdown, BreakdownRow, Dimension};
pub use content_table::{ContentRow, Health};
pub use distribution::{Bin, Distribution, MAX_BINS};
pub use forecasts::{ForecastSettings, RegionForecast, TotalForecast};
pub use summary::{ContentSummary, Quality, RegionSummary, RenditionShares, TickSummary, TypeSummary};

use self::content_table::ContentTable;
use self::forecasts::Forecasts;
use crate::alert::{AlertConfig, AlertEngine, AlertEvent, Severity};
use crate::content::ContentChange;
use crate::detect::{Anomaly, DetectorConfig, Gate};
use crate::error::{Error, Result};
use crate::id::RegionId;
use crate::monitor::Monitor;
use crate::sample::{Metric, Sample};
use crate::significance::Floors;
use crate::simulator::Frame;
use crate::time::Span;

/// Configuration of a [`Pipeline`]: what to watch, how, and when to alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// The detector each (title, region, metric) series gets. Defaults to
    /// `auto`.
    pub detector: DetectorConfig,
    /// Gating wrapped around every detector. Defaults to flagging nothing
    /// that speaks for fewer than 20 viewers, with calibration on.
    pub gate: Gate,
    /// Metrics followed by the detectors. Defaults to latency, startup
    /// time, buffering ratio, bitrate and error rate.
    pub metrics: Vec<Metric>,
    /// How far each metric must move from what was expected to matter
    /// (`[pipeline.floors]` in TOML): anomalies, bands and alerts all
    /// need it. Defaults to [`Floors::default`].
    pub floors: Floors,
    /// Alert rules and engine limits. Defaults to the recommended rules.
    pub alerts: AlertConfig,
    /// Forecasting of each region's egress against its capacity, and of
    /// the audience. Defaults to [`ForecastSettings::default`].
    pub forecast: ForecastSettings,
    /// Most anomalies reported per tick, the highest scores first; the
    /// alert engine still sees all of them. Defaults to 25.
    pub max_anomalies_per_tick: usize,
    /// How long a series must stay anomalous, without a break, before its
    /// points are reported: a blip on one stream is noise. As long as the
    /// alert rules' `for_duration`. Defaults to `20s`.
    pub min_anomaly_duration: Span,
    /// Smallest viewer impact (viewers × degradation, as for alerts) of an
    /// anomaly reported: the feed carries points that hurt viewers, not a
    /// series getting better or a stream nobody watches. Defaults to 10.
    pub min_anomaly_impact: f64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            detector: DetectorConfig::default(),
            gate: Gate { min_weight: 20.0, calibrate: true, persistence: 0 },
            metrics: vec![
                Metric::LatencyMs,
                Metric::StartupTimeMs,
                Metric::BufferingRatio,
                Metric::BitrateKbps,
                Metric::ErrorRate,
            ],
            floors: Floors::default(),
            alerts: AlertConfig::default(),
            forecast: ForecastSettings::default(),
            max_anomalies_per_tick: 25,
            min_anomaly_duration: Span::from_secs(20),
            min_anomaly_impact: 10.0,
        }
    }
}

impl PipelineConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.metrics.is_empty() {
            return Err(Error::config("metrics", "name at least one metric"));
        }
        if self.max_anomalies_per_tick == 0 {
            return Err(Error::config("max_anomalies_per_tick", "must be at least 1"));
        }
        self.floors.validate()?;
        if !(self.min_anomaly_impact.is_finite() && self.min_anomaly_impact >= 0.0) {
            return Err(Error::config("min_anomaly_impact", format!("{} must be at least 0", self.min_anomaly_impact)));
        }
        self.forecast.validate()
    }
}

/// Everything one tick produced. Reuse one across [`Pipeline::process`]
/// calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickOutput {
    /// The tick rolled up, with the expected range of the service's and
    /// each region's figures.
    pub summary: TickSummary,
    /// Anomalies of the tick, highest score first, at most
    /// [`PipelineConfig::max_anomalies_per_tick`].
    pub anomalies: Vec<Anomaly>,
    /// Anomalies found this tick before the cut to the reported ones.
    pub anomalies_found: usize,
    /// Alert transitions (fired, resolved).
    pub alert_events: Vec<AlertEvent>,
    /// Region forecasts made this tick (forecasts are made once per
    /// [`ForecastSettings::every`]); empty on other ticks.
    pub forecasts: Vec<RegionForecast>,
    /// The audience forecast made this tick, if one was.
    pub audience: Option<TotalForecast>,
    /// Titles that changed status this tick.
    pub changes: Vec<ContentChange>,
}

impl Default for TickOutput {
    fn default() -> Self {
        Self {
            summary: TickSummary::build(0, 0, &[], |_| None),
            anomalies: Vec::new(),
            anomalies_found: 0,
            alert_events: Vec::new(),
            forecasts: Vec::new(),
            audience: None,
            changes: Vec::new(),
        }
    }
}

/// How often, in ticks, the detector state size is measured.
const STATE_BYTES_EVERY: u64 = 60;

/// Counters a server exposes about its pipeline.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PipelineStats {
    /// Ticks processed.
    pub ticks: u64,
    /// Samples processed.
    pub samples: u64,
    /// Anomalies found (before the per-tick cut).
    pub anomalies: u64,
    /// Alerts that fired.
    pub alerts_fired: u64,
    /// Alerts that resolved.
    pub alerts_resolved: u64,
    /// Series the detectors follow.
    pub detector_series: usize,
    /// Bytes of detector state, measured once a minute of ticks.
    pub detector_state_bytes: usize,
    /// Series the alert engine follows.
    pub alert_series: usize,
    /// Samples the alert engine dropped at its series limit.
    pub alert_dropped: u64,
}

/// The per-tick pipeline. See the [module docs](self).
#[derive(Debug)]
pub struct Pipeline {
    monitor: Monitor,
    scopes: ScopeWatch,
    alerts: AlertEngine,
    forecasts: Forecasts,
    table: ContentTable,
    capacity: HashMap<RegionId, f64>,
    max_anomalies: usize,
    min_anomaly_impact: f64,
    stats: PipelineStats,
    /// Detector state bytes, refreshed every [`STATE_BYTES_EVERY`] ticks:
    /// summing it walks every detector.
    state_bytes: usize,
    scratch: Vec<Anomaly>,
    /// Every title each active alert stands for, in `active_alerts` order:
    /// worked out once a tick, for the title table and for callers.
    alert_titles: Vec<Vec<crate::id::ContentId>>,
}

impl Pipeline {
    /// Builds the pipeline after validating `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the offending field.
    pub fn new(config: &PipelineConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            monitor: Monitor::new(&config.detector, &config.gate, config.metrics.clone())?
                .with_floors(config.floors)
                .with_min_duration(config.min_anomaly_duration.as_millis() as i64),
            scopes: ScopeWatch::new(config.floors),
            alerts: AlertEngine::new(&config.alerts)?.with_floors(config.floors),
            forecasts: Forecasts::new(&config.forecast)?,
            table: ContentTable::default(),
            capacity: HashMap::new(),
            max_anomalies: config.max_anomalies_per_tick,
            min_anomaly_impact: config.min_anomaly_impact,
            stats: PipelineStats::default(),
            state_bytes: 0,
            scratch: Vec::new(),
            alert_titles: Vec::new(),
        })
    }

    /// Sets a region's egress capacity in Mbps: its utilization is
    /// reported and its forecast watched against it.
    pub fn set_capacity(&mut self, region: RegionId, mbps: f64) {
        self.capacity.insert(region, mbps);
    }

    /// Processes one tick of the simulator (or of any source that fills a
    /// [`Frame`]).
    pub fn process(&mut self, frame: &Frame, out: &mut TickOutput) {
        let interval = frame.samples.first().map_or(self.table.last_interval_ms(), |s| s.interval_ms).max(1);
        self.process_parts(frame.timestamp_ms, interval, &frame.samples, &frame.changes, out);
    }

    /// Processes one tick given as its parts: the tick's end, its length,
    /// its samples (every stream once) and the status changes in it.
    ///
    /// The same as [`summarize`](Self::summarize) then
    /// [`detect`](Self::detect).
    pub fn process_parts(
        &mut self,
        timestamp_ms: i64,
        interval_ms: u32,
        samples: &[Sample],
        changes: &[ContentChange],
        out: &mut TickOutput,
    ) {
        self.summarize(timestamp_ms, interval_ms, samples, changes, out);
        self.detect(samples, out);
    }

    /// The first half of a tick: `out.summary` and `out.changes`, which
    /// need no detector, so that a server can send the tick's figures
    /// before detection runs. [`detect`](Self::detect) must follow, with
    /// the same samples and `out`; until it does, the rest of `out` is
    /// still the previous tick's.
    ///
    /// ```
    /// use streammon_core::pipeline::{Pipeline, PipelineConfig, TickOutput};
    /// use streammon_core::{Frame, SimConfig, Simulator};
    ///
    /// let mut sim = Simulator::new(SimConfig::default()).unwrap();
    /// let mut pipeline = Pipeline::new(&PipelineConfig::default()).unwrap();
    /// let (mut frame, mut out) = (Frame::default(), TickOutput::default());
    /// sim.step(&mut frame);
    /// pipeline.summarize(frame.timestamp_ms, 1_000, &frame.samples, &frame.changes, &mut out);
    /// assert_eq!(out.summary.timestamp_ms, frame.timestamp_ms); // ready to send
    /// pipeline.detect(&frame.samples, &mut out);
    /// assert_eq!(pipeline.stats().ticks, 1);
    /// ```
    pub fn summarize(
        &mut self,
        timestamp_ms: i64,
        interval_ms: u32,
        samples: &[Sample],
        changes: &[ContentChange],
        out: &mut TickOutput,
    ) {
        let capacity = &self.capacity;
        out.summary = TickSummary::build(timestamp_ms, interval_ms, samples, |r| capacity.get(r).copied());
        self.scopes.observe(&mut out.summary);
        out.changes.clear();
        out.changes.extend_from_slice(changes);
    }

    /// The second half of a tick, over what [`summarize`](Self::summarize)
    /// put in `out` (the summary and the status changes): the detectors,
    /// the alert rules, the title table and the forecasts.
    pub fn detect(&mut self, samples: &[Sample], out: &mut TickOutput) {
        let timestamp_ms = out.summary.timestamp_ms;
        self.scratch.clear();
        self.monitor.observe_all(samples, &mut self.scratch);
        for change in &out.changes {
            self.alerts.observe_change(change);
            self.table.apply_change(change);
        }
        for sample in samples {
            self.alerts.observe_sample(sample);
        }
        for anomaly in &self.scratch {
            self.alerts.observe_anomaly(anomaly);
        }
        out.alert_events.clear();
        self.alerts.evaluate(timestamp_ms, &mut out.alert_events);

        let min_impact = self.min_anomaly_impact;
        self.scratch.retain(|a| anomaly_impact(a) >= min_impact);
        self.scratch.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.anomalies_found = self.scratch.len();
        out.anomalies.clear();
        out.anomalies.extend(self.scratch.drain(..).take(self.max_anomalies));

        self.table.apply_tick(&out.summary, &out.anomalies, self.alerts.active());
        self.alert_titles.clear();
        self.alert_titles.extend(self.alerts.alert_titles().map(|(_, t)| t.into_iter().cloned().collect()));
        self.forecasts.observe(&out.summary, &self.capacity, &mut out.forecasts, &mut out.audience);

        self.stats.ticks += 1;
        if self.stats.ticks % STATE_BYTES_EVERY == 1 {
            self.state_bytes = self.monitor.state_bytes() + self.scopes.state_bytes();
        }
        self.stats.samples += samples.len() as u64;
        self.stats.anomalies += out.anomalies_found as u64;
        for event in &out.alert_events {
            match event.kind {
                crate::alert::AlertEventKind::Fired => self.stats.alerts_fired += 1,
                crate::alert::AlertEventKind::Resolved => self.stats.alerts_resolved += 1,
            }
        }
    }

    /// The titles known, streaming or recently so, in id order.
    pub fn contents(&self) -> impl Iterator<Item = &ContentRow> + '_ {
        self.table.rows()
    }

    /// Numbers the next alerts after the highest id among `alerts` (a
    /// previous run's); see [`AlertEngine::continue_ids_after`].
    pub fn continue_alert_ids<'a>(&mut self, alerts: impl IntoIterator<Item = &'a crate::alert::Alert>) {
        self.alerts.continue_ids_after(alerts);
    }

    /// Carries on a previous run's open alerts after a warm-up on its
    /// history; the ones that no longer stand come back resolved. See
    /// [`AlertEngine::adopt`].
    pub fn adopt_alerts(&mut self, previous: &[crate::alert::Alert], now_ms: i64) -> Vec<crate::alert::AlertEvent> {
        self.alerts.adopt(previous, now_ms)
    }

    /// Warms the pipeline on stored history: `samples`, oldest first (as
    /// [`Store::range`](crate::Store::range) gives them), are replayed one
    /// tick per timestamp through the roll-up, the bands, the detectors and
    /// the alert rules, with ticks no longer than `max_interval_ms`. What
    /// the ticks produce is dropped: it was published when it happened.
    /// `changes`, the titles' latest status changes (as
    /// [`Store::content_statuses`](crate::Store::content_statuses) gives
    /// them), join the first tick at or after their time, the last tick
    /// those later than it, so titles keep their names and a title retired
    /// meanwhile is not taken for a new one by its replayed samples.
    /// Returns the number of ticks and the last one's end.
    pub fn warm_up(
        &mut self,
        samples: &[Sample],
        changes: &[ContentChange],
        max_interval_ms: u32,
    ) -> (u64, Option<i64>) {
        let (mut out, mut ticks, mut last_ms) = (TickOutput::default(), 0u64, None);
        let mut changes = changes.to_vec();
        changes.sort_by_key(|c| c.timestamp_ms);
        let mut changes = changes.as_slice();
        let mut replayed = samples.chunk_by(|a, b| a.timestamp_ms == b.timestamp_ms).peekable();
        while let Some(tick) = replayed.next() {
            let at = tick[0].timestamp_ms;
            let last = replayed.peek().is_none();
            let due = if last { changes.len() } else { changes.partition_point(|c| c.timestamp_ms <= at) };
            let (now, later) = changes.split_at(due);
            changes = later;
            self.summarize(at, tick[0].interval_ms.clamp(1, max_interval_ms.max(1)), tick, now, &mut out);
            self.detect(tick, &mut out);
            ticks += 1;
            last_ms = Some(at);
        }
        (ticks, last_ms)
    }

    /// Alerts pending or firing now.
    pub fn active_alerts(&self) -> impl Iterator<Item = &crate::alert::Alert> + '_ {
        self.alerts.active()
    }

    /// Alerts pending or firing now, each with every title it stands for
    /// (see [`AlertEngine::alert_titles`]).
    pub fn alert_titles(&self) -> impl Iterator<Item = (&crate::alert::Alert, &[crate::id::ContentId])> + '_ {
        self.alerts.active().zip(self.alert_titles.iter().map(Vec::as_slice))
    }

    /// The latest forecast of every region, and of the audience.
    pub fn latest_forecasts(&self) -> (&[RegionForecast], Option<&TotalForecast>) {
        self.forecasts.latest()
    }

    /// Counters for a health or metrics endpoint.
    pub fn stats(&self) -> PipelineStats {
        let engine = self.alerts.stats();
        PipelineStats {
            detector_series: self.monitor.series(),
            detector_state_bytes: self.state_bytes,
            alert_series: engine.series,
            alert_dropped: engine.dropped,
            ..self.stats
        }
    }
}

/// The viewer impact of an anomaly: its viewers × how much worse off they
/// are ([`degradation`](crate::alert::degradation) the harmful way from
/// its baseline); 0 when it moved the good way or has no baseline.
///
/// ```
/// use streammon_core::pipeline::anomaly_impact;
/// use streammon_core::{Anomaly, Band, Metric, SeriesKey};
/// let a = Anomaly {
///     timestamp_ms: 0,
///     series: SeriesKey::new("vod-1", "eu-west", Metric::BufferingRatio),
///     value: 0.05,
///     expected: Some(Band::new(0.0, 0.01)),
///     baseline: Some(0.005),
///     score: 0.9,
///     reason: None,
///     detector: "auto".into(),
///     viewers: 400,
/// };
/// assert!((anomaly_impact(&a) - 18.0).abs() < 1e-9); // 400 viewers buffering 4.5 % more
/// ```
pub fn anomaly_impact(a: &Anomaly) -> f64 {
    let metric = a.series.metric;
    let direction = crate::alert::Direction::harmful(metric);
    a.baseline.map_or(0.0, |b| f64::from(a.viewers) * crate::alert::degradation(metric, direction, a.value, b))
}

/// How an anomaly's score reads to a person: `critical` from 0.9, `warning`
/// from 0.7, `info` below. A score of 0.5 is the edge of what was expected,
/// so every reported anomaly is at least `info`.
///
/// ```
/// use streammon_core::pipeline::anomaly_severity;
/// use streammon_core::Severity;
/// assert_eq!(anomaly_severity(0.95), Severity::Critical);
/// assert_eq!(anomaly_severity(0.6), Severity::Info);
/// ```
pub fn anomaly_severity(score: f64) -> Severity {
    if score >= 0.9 {
        Severity::Critical
    } else if score >= 0.7 {
        Severity::Warning
    } else {
        Severity::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{IncidentConfig, SimConfig, Simulator};

    /// A server sends the summary between the two halves; what it gets
    /// in the end must be what one call makes.
    #[test]
    fn summarize_then_detect_is_process_parts() {
        let incidents = IncidentConfig { rate_per_hour: 120.0, ..IncidentConfig::default() };
        let config = SimConfig { incidents, ..SimConfig::default() };
        let mut whole = Pipeline::new(&PipelineConfig::default()).unwrap();
        let mut halves = Pipeline::new(&PipelineConfig::default()).unwrap();
        let (mut a, mut b) = (TickOutput::default(), TickOutput::default());
        let (mut anomalies, mut events) = (0, 0);
        for frame in Simulator::new(config).unwrap().take(600) {
            let interval = frame.samples[0].interval_ms;
            whole.process_parts(frame.timestamp_ms, interval, &frame.samples, &frame.changes, &mut a);
            halves.summarize(frame.timestamp_ms, interval, &frame.samples, &frame.changes, &mut b);
            assert_eq!(a.summary, b.summary);
            halves.detect(&frame.samples, &mut b);
            assert_eq!(a, b);
            anomalies += a.anomalies.len();
            events += a.alert_events.len();
        }
        assert_eq!(whole.stats(), halves.stats());
        assert!(
            anomalies > 0 && events > 0,
            "the run must exercise detection: {anomalies} anomalies, {events} alert events"
        );
    }
}
