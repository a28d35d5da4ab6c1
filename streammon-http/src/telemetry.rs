//! The server's own Prometheus metrics, and the streaming KPIs per region.
//!
//! One registry per server; every series has a bounded label set: regions
//! are capped at [`MAX_REGION_LABELS`] values (further ones are counted
//! under `region="other"`), content types are three, stages and sources a
//! handful. Rendered in the text exposition format 0.0.4.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use streammon_core::pipeline::{PipelineStats, TickSummary};
use streammon_core::{Severity, StoreCounters, StoreHealth};

/// Most distinct `region` label values; more are folded into `other`.
pub const MAX_REGION_LABELS: usize = 64;

/// Every metric the server exposes. Cheap to share: handles are atomics.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    /// Samples accepted into the pipeline, by source.
    pub samples_ingested: IntCounterVec,
    /// Samples refused, by reason.
    pub samples_rejected: IntCounterVec,
    /// Ticks processed.
    pub ticks: IntCounter,
    /// Time per tick in each stage: `detect` (detectors, alerts,
    /// forecasts), `store`, `publish`.
    pub stage_seconds: HistogramVec,
    /// Anomalies found by the detectors.
    pub anomalies: IntCounter,
    /// Alerts that fired, by severity.
    pub alerts_fired: IntCounterVec,
    /// Alerts that resolved.
    pub alerts_resolved: IntCounter,
    /// Alerts firing now, by severity.
    pub alerts_firing: prometheus::IntGaugeVec,
    /// Time of one storage write.
    pub store_write_seconds: Histogram,
    /// Storage writes that failed.
    pub store_errors: IntCounter,
    /// Samples the store dropped (its buffer was full).
    pub store_dropped: IntCounter,
    /// Writes the backend refused for good.
    pub store_failed: IntCounter,
    /// Writes buffered, not yet stored.
    pub store_buffered: IntGauge,
    /// Connected Socket.IO clients.
    pub clients: IntGauge,
    /// Tasks alive in the async runtime, read at each scrape.
    runtime_tasks: IntGauge,
    /// Socket.IO events sent, by event.
    pub events_sent: IntCounterVec,
    /// Socket.IO events dropped because a client's buffer was full.
    pub events_dropped: IntCounter,
    /// Series the detectors follow.
    pub detector_series: IntGauge,
    /// Bytes of detector state.
    pub detector_state_bytes: IntGauge,
    /// Wall-clock lag of the last tick behind its timestamp, seconds.
    pub tick_lag_seconds: Gauge,
    /// CMCD reports, by outcome: `accepted`, `stopped` (told 410),
    /// `busy` (session limit), `invalid`, `limited` (rate limit).
    pub cmcd_reports: IntCounterVec,
    /// Player sessions the CMCD collector follows.
    pub cmcd_sessions: IntGauge,
    /// Requests or messages refused at a limit, by limit: `regions`,
    /// `titles`, `series` (of `[limits]`, one per refused batch), `rooms`
    /// (Socket.IO rooms per client, one per refused `subscribe`),
    /// `sources` (the CMCD rate limiter is full, one per refused request).
    pub refused: IntCounterVec,
    viewers: GaugeVec,
    latency: GaugeVec,
    startup: GaugeVec,
    buffering: GaugeVec,
    bitrate: GaugeVec,
    bandwidth: GaugeVec,
    errors: GaugeVec,
    utilization: GaugeVec,
    streams: GaugeVec,
    type_viewers: GaugeVec,
    /// Alert notifications by destination and outcome: `delivered`,
    /// `failed_attempt`, `dropped_queue_full`, `dropped_exhausted`,
    /// `dropped_rejected`, `suppressed` (silenced).
    pub notifications: IntCounterVec,
    /// Alert notifications waiting, by destination.
    pub notifications_queued: prometheus::IntGaugeVec,
    regions_seen: Mutex<HashSet<String>>,
    last_store: Mutex<(u64, u64)>,
    last_delivery: Mutex<std::collections::HashMap<(String, &'static str), u64>>,
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn gauge_vec(r: &Registry, name: &str, help: &str, label: &str) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

/// Buckets from 50 µs to 10 s.
const SECONDS_BUCKETS: [f64; 14] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0];

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let r = Registry::new();
        let stage_seconds = HistogramVec::new(
            HistogramOpts::new("streammon_stage_duration_seconds", "Time per tick spent in each pipeline stage.")
                .buckets(SECONDS_BUCKETS.to_vec()),
            &["stage"],
        )
        .expect("valid metric");
        r.register(Box::new(stage_seconds.clone())).expect("unique metric");
        let store_write_seconds = Histogram::with_opts(
            HistogramOpts::new("streammon_store_write_duration_seconds", "Time of one storage write.")
                .buckets(SECONDS_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        r.register(Box::new(store_write_seconds.clone())).expect("unique metric");
        let alerts_firing = prometheus::IntGaugeVec::new(
            Opts::new("streammon_alerts_firing", "Alerts firing now, by severity."),
            &["severity"],
        )
        .expect("valid metric");
        r.register(Box::new(alerts_firing.clone())).expect("unique metric");
        let tick_lag_seconds =
            Gauge::new("streammon_tick_lag_seconds", "How far behind its timestamp the last tick was published.")
                .expect("valid metric");
        r.register(Box::new(tick_lag_seconds.clone())).expect("unique metric");
        Self {
            samples_ingested: counter_vec(
                &r,
                "streammon_samples_ingested_total",
                "Samples accepted into the pipeline.",
                &["source"],
            ),
            samples_rejected: counter_vec(
                &r,
                "streammon_samples_rejected_total",
                "Samples refused at the door.",
                &["reason"],
            ),
            ticks: counter(&r, "streammon_ticks_total", "Ticks processed."),
            stage_seconds,
            anomalies: counter(&r, "streammon_anomalies_total", "Anomalies found by the detectors."),
            alerts_fired: counter_vec(&r, "streammon_alerts_fired_total", "Alerts that fired.", &["severity"]),
            alerts_resolved: counter(&r, "streammon_alerts_resolved_total", "Alerts that resolved."),
            alerts_firing,
            store_write_seconds,
            store_errors: counter(&r, "streammon_store_write_errors_total", "Storage writes that failed."),
            store_dropped: counter(
                &r,
                "streammon_store_dropped_samples_total",
                "Samples the store dropped because its write buffer was full.",
            ),
            store_failed: counter(&r, "streammon_store_failed_writes_total", "Writes the backend refused for good."),
            store_buffered: gauge(&r, "streammon_store_buffered_writes", "Writes accepted, not yet stored."),
            clients: gauge(&r, "streammon_socketio_clients", "Connected Socket.IO clients."),
            runtime_tasks: gauge(
                &r,
                "streammon_runtime_tasks",
                "Tasks alive in the async runtime (connections, Socket.IO clients, the server's own).",
            ),
            events_sent: counter_vec(&r, "streammon_socketio_events_sent_total", "Socket.IO events sent.", &["event"]),
            events_dropped: counter(
                &r,
                "streammon_socketio_events_dropped_total",
                "Socket.IO events dropped because a client's buffer was full.",
            ),
            detector_series: gauge(&r, "streammon_detector_series", "Series the detectors follow."),
            detector_state_bytes: gauge(&r, "streammon_detector_state_bytes", "Bytes of detector state."),
            tick_lag_seconds,
            cmcd_reports: counter_vec(&r, "streammon_cmcd_reports_total", "CMCD reports, by outcome.", &["outcome"]),
            cmcd_sessions: gauge(&r, "streammon_cmcd_sessions", "Player sessions the CMCD collector follows."),
            refused: counter_vec(
                &r,
                "streammon_refused_total",
                "Batches refused because they would take something past a configured limit, by limit.",
                &["limit"],
            ),
            viewers: gauge_vec(&r, "streammon_viewers", "Concurrent viewers per CDN region.", "region"),
            latency: gauge_vec(&r, "streammon_latency_seconds", "Mean segment latency over viewers.", "region"),
            startup: gauge_vec(&r, "streammon_startup_time_seconds", "Mean startup time over viewers.", "region"),
            buffering: gauge_vec(&r, "streammon_buffering_ratio", "Mean rebuffering ratio over viewers.", "region"),
            bitrate: gauge_vec(
                &r,
                "streammon_bitrate_bytes_per_second",
                "Mean delivered bitrate over viewers (bytes per second, as Prometheus' base unit).",
                "region",
            ),
            bandwidth: gauge_vec(&r, "streammon_egress_bytes_per_second", "Egress per CDN region.", "region"),
            errors: gauge_vec(&r, "streammon_error_ratio", "Mean share of failed segment requests.", "region"),
            utilization: gauge_vec(&r, "streammon_utilization_ratio", "Egress over capacity.", "region"),
            streams: gauge_vec(&r, "streammon_streams", "Streams (title x region) reporting.", "region"),
            type_viewers: gauge_vec(
                &r,
                "streammon_viewers_by_content_type",
                "Concurrent viewers per content type.",
                "content_type",
            ),
            notifications: counter_vec(
                &r,
                "streammon_notifications_total",
                "Alert notifications by destination (Alertmanager, webhook) and outcome.",
                &["kind", "destination", "outcome"],
            ),
            notifications_queued: {
                let g = prometheus::IntGaugeVec::new(
                    Opts::new("streammon_notifications_queued", "Alert notifications waiting, by destination."),
                    &["kind", "destination"],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            regions_seen: Mutex::new(HashSet::new()),
            last_store: Mutex::new((0, 0)),
            last_delivery: Mutex::new(std::collections::HashMap::new()),
            registry: r,
        }
        .preset()
    }

    /// Creates the labelled series that exist from the start, so they are
    /// exposed at zero rather than missing until the first event.
    fn preset(self) -> Self {
        for source in ["simulator", "client", "cmcd"] {
            self.samples_ingested.with_label_values(&[source]);
        }
        for outcome in ["accepted", "stopped", "busy", "invalid", "limited"] {
            self.cmcd_reports.with_label_values(&[outcome]);
        }
        for limit in streammon_core::limits::Limit::ALL.map(|l| l.as_str()).into_iter().chain(["rooms", "sources"]) {
            self.refused.with_label_values(&[limit]);
        }
        for reason in ["invalid", "busy", "stopping", "limit"] {
            self.samples_rejected.with_label_values(&[reason]);
        }
        for severity in ["info", "warning", "critical"] {
            self.alerts_fired.with_label_values(&[severity]);
            self.alerts_firing.with_label_values(&[severity]);
        }
        for event in ["metrics_update", "anomaly_alert", "content_change"] {
            self.events_sent.with_label_values(&[event]);
        }
        for stage in ["detect", "store", "publish"] {
            self.stage_seconds.with_label_values(&[stage]);
        }
        self
    }

    /// The region label for `region`, `other` past the cap.
    fn region_label<'a>(&self, region: &'a str) -> &'a str {
        let mut seen = self.regions_seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(region) {
            return region;
        }
        if seen.len() < MAX_REGION_LABELS {
            seen.insert(region.to_owned());
            return region;
        }
        "other"
    }

    /// Sets the KPI gauges from a tick.
    pub fn observe_tick(&self, tick: &TickSummary) {
        for r in &tick.regions {
            let label = self.region_label(r.region.as_str());
            let q = &r.quality;
            self.viewers.with_label_values(&[label]).set(q.viewers as f64);
            self.latency.with_label_values(&[label]).set(q.latency_ms / 1e3);
            self.startup.with_label_values(&[label]).set(q.startup_time_ms / 1e3);
            self.buffering.with_label_values(&[label]).set(q.buffering_ratio);
            self.bitrate.with_label_values(&[label]).set(q.bitrate_kbps * 125.0);
            self.bandwidth.with_label_values(&[label]).set(q.bandwidth_mbps * 125_000.0);
            self.errors.with_label_values(&[label]).set(q.error_rate);
            self.streams.with_label_values(&[label]).set(f64::from(q.streams));
            if let Some(u) = r.utilization {
                self.utilization.with_label_values(&[label]).set(u);
            }
        }
        for t in &tick.types {
            self.type_viewers.with_label_values(&[t.content_type.as_str()]).set(t.quality.viewers as f64);
        }
    }

    /// Sets the pipeline gauges.
    pub fn observe_pipeline(&self, stats: &PipelineStats, firing: &[(Severity, i64)]) {
        self.detector_series.set(stats.detector_series as i64);
        self.detector_state_bytes.set(stats.detector_state_bytes as i64);
        for severity in [Severity::Info, Severity::Warning, Severity::Critical] {
            let n = firing.iter().find(|(s, _)| *s == severity).map_or(0, |(_, n)| *n);
            self.alerts_firing.with_label_values(&[severity.as_str()]).set(n);
        }
    }

    /// Brings the storage counters up to a health report.
    pub fn observe_store(&self, health: &StoreHealth) {
        self.observe_counters(&StoreCounters {
            buffered: health.buffered,
            dropped: health.dropped,
            accepted: health.accepted,
            failed: health.failed,
        });
    }

    /// Brings the storage counters up to the store's own, which only grow:
    /// called on a schedule of its own (see `streammon_http::watch_storage`)
    /// and at every health report.
    pub fn observe_counters(&self, counters: &StoreCounters) {
        let mut last = self.last_store.lock().unwrap_or_else(|e| e.into_inner());
        self.store_dropped.inc_by(counters.dropped.saturating_sub(last.0));
        self.store_failed.inc_by(counters.failed.saturating_sub(last.1));
        *last = (last.0.max(counters.dropped), last.1.max(counters.failed));
        self.store_buffered.set(counters.buffered as i64);
    }

    /// Brings the alert-delivery counters up to the notifier's own, which
    /// only grow: called with the storage counters' schedule and at each
    /// scrape.
    pub fn observe_delivery(&self, destinations: &[streammon_notify::DestinationStats]) {
        let mut last = self.last_delivery.lock().unwrap_or_else(|e| e.into_inner());
        for d in destinations {
            let outcomes = [
                ("delivered", d.delivered),
                ("failed_attempt", d.failed_attempts),
                ("dropped_queue_full", d.dropped_queue_full),
                ("dropped_exhausted", d.dropped_exhausted),
                ("dropped_rejected", d.dropped_rejected),
                ("suppressed", d.suppressed),
            ];
            for (outcome, now) in outcomes {
                let seen = last.entry((d.destination.clone(), outcome)).or_insert(0);
                self.notifications
                    .with_label_values(&[d.kind, d.destination.as_str(), outcome])
                    .inc_by(now.saturating_sub(*seen));
                *seen = (*seen).max(now);
            }
            self.notifications_queued
                .with_label_values(&[d.kind, d.destination.as_str()])
                .set(i64::try_from(d.queued).unwrap_or(i64::MAX));
        }
    }

    /// The text exposition, format 0.0.4. Called inside a Tokio runtime,
    /// it first reads the runtime's live task count: a task per connection
    /// and three per Socket.IO client, so a leak of either shows there
    /// before it shows in memory.
    pub fn render(&self) -> String {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.runtime_tasks.set(i64::try_from(runtime.metrics().num_alive_tasks()).unwrap_or(i64::MAX));
        }
        let mut buf = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec cannot fail but for a metric that breaks the
        // format, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streammon_core::{SimConfig, Simulator};

    #[test]
    fn renders_kpis_with_bounded_regions() {
        let t = Telemetry::new();
        let mut frame = Simulator::new(SimConfig::default()).unwrap().next_frame();
        let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| Some(1e5));
        t.observe_tick(&tick);
        let text = t.render();
        assert!(text.contains("streammon_viewers{region=\"eu-west\"}"), "{text}");
        assert!(text.contains("# TYPE streammon_samples_ingested_total counter"));
        // A client pushing made-up regions cannot grow the label set.
        for i in 0..200 {
            frame.samples[0].region = format!("r{i}").as_str().into();
            t.observe_tick(&TickSummary::build(0, 1_000, &frame.samples[..1], |_| None));
        }
        let regions = t.render().lines().filter(|l| l.starts_with("streammon_viewers{")).count();
        assert_eq!(regions, MAX_REGION_LABELS + 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runtime_tasks_are_counted_at_each_scrape() {
        let t = Telemetry::new();
        let line = |text: String| text.lines().find(|l| l.starts_with("streammon_runtime_tasks ")).map(str::to_owned);
        assert_eq!(line(t.render()).as_deref(), Some("streammon_runtime_tasks 0"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = rx.await;
        });
        assert_eq!(line(t.render()).as_deref(), Some("streammon_runtime_tasks 1"));
        tx.send(()).unwrap();
        task.await.unwrap();
        assert_eq!(line(t.render()).as_deref(), Some("streammon_runtime_tasks 0"));
    }

    #[test]
    fn store_counters_follow_the_cumulative_health() {
        let t = Telemetry::new();
        let mut h = StoreHealth {
            backend: "memory".into(),
            ok: true,
            detail: String::new(),
            buffered: 3,
            dropped: 5,
            accepted: 10,
            failed: 1,
        };
        t.observe_store(&h);
        h.dropped = 8;
        t.observe_store(&h);
        assert_eq!(t.store_dropped.get(), 8);
        assert_eq!(t.store_failed.get(), 1);
        assert_eq!(t.store_buffered.get(), 3);
    }
}
