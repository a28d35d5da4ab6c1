//! The payloads of the Socket.IO events, as they go on the wire.
//!
//! Field names are a contract: the original server's `metrics_update`
//! fields come first and keep their meaning; richer data sits beside them.
//! `docs/EVENTS.md` documents every field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use streammon_core::alert::{AlertEvent, AlertEventKind};
use streammon_core::pipeline::{
    Bands, ContentSummary, RegionForecast, RegionSummary, RenditionShares, TickSummary, TypeSummary, anomaly_severity,
};
use streammon_core::time::format_rfc3339;
use streammon_core::{Anomaly, ContentChange, ContentId, ContentType, Metric, RegionId, Severity};
use utoipa::ToSchema;

/// Which slice of the service a payload covers: everything when both are
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Scope {
    /// Only this CDN region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionId>,
    /// Only this title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<ContentId>,
}

/// Most titles listed in the `contents` of one region's `metrics_update`:
/// the most watched, so a region with thousands of titles sends each of
/// its subscribers a payload of bounded size every tick.
pub const MAX_CONTENTS_PER_UPDATE: usize = 100;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One tick: the `metrics_update` event, and an entry of `GET /metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsUpdate {
    /// Wire schema version, 1.
    pub schema: u32,
    /// End of the tick, RFC 3339 UTC with milliseconds (original field).
    pub timestamp: String,
    /// End of the tick, epoch milliseconds.
    pub timestamp_ms: i64,
    /// Increases by one every tick; a gap means updates were dropped.
    pub seq: u64,
    /// Length of the tick, milliseconds.
    pub interval_ms: u32,
    /// Mean segment latency over viewers, milliseconds (original field).
    pub latency: f64,
    /// Rebuffer events in the tick, a count (original field and meaning;
    /// the mean ratio is `buffering_ratio`).
    pub buffering: u64,
    /// Concurrent viewers (original field).
    pub users: u64,
    /// Egress, megabits per second (original field).
    pub total_bandwidth_mbps: f64,
    /// Titles streaming (original field).
    pub active_streams: u32,
    /// Viewers per CDN region, a count (original field and meaning; the
    /// shares are `cdn_shares`).
    pub cdn_distribution: BTreeMap<RegionId, u64>,
    /// Viewers per content type, a count (original field and meaning; the
    /// shares are `content_type_shares`).
    pub content_types: BTreeMap<ContentType, u64>,
    /// Mean share of watch time spent rebuffering over viewers, within
    /// [0, 1].
    pub buffering_ratio: f64,
    /// Share of viewers per CDN region, summing to 1.
    pub cdn_shares: BTreeMap<RegionId, f64>,
    /// Share of viewers per content type, summing to 1.
    pub content_type_shares: BTreeMap<ContentType, f64>,
    /// Mean startup time over viewers, milliseconds.
    pub startup_time_ms: f64,
    /// Mean delivered bitrate over viewers, kbps.
    pub bitrate_kbps: f64,
    /// Mean share of failed segment requests over viewers.
    pub error_rate: f64,
    /// Streams (title × region) that reported.
    pub streams: u32,
    /// Per region, in the source's order.
    pub regions: Vec<RegionSummary>,
    /// Per content type.
    pub types: Vec<TypeSummary>,
    /// The slice this payload covers; empty for the whole service.
    pub scope: Scope,
    /// Per title (scoped payloads only: a region's or a title's room): in
    /// a region's room its [`MAX_CONTENTS_PER_UPDATE`] most watched titles
    /// at most, in the summary's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contents: Vec<ContentSummary>,
    /// Titles of the scope left out of `contents` by its cap; absent when
    /// none was.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub contents_omitted: usize,
    /// Share of viewers on each rendition (the resolution mix), e.g.
    /// `{"1080p": 0.41, "720p": 0.22, "128k": 0.09}`.
    #[serde(default)]
    pub renditions: RenditionShares,
    /// Expected range and anomaly score of each figure, from a baseline
    /// that holds through incidents: `{"buffering_ratio": {low, high,
    /// score}, …}`; a figure has none while warming up, and a title's
    /// room has none.
    #[serde(default)]
    pub bands: Bands,
}

/// One tick in the original server's shape, its fields only: what
/// `GET /metrics` answers as `current_metrics` and lists in `history`, for
/// the original's clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OriginalMetrics {
    /// End of the tick, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// Mean segment latency over viewers, milliseconds.
    pub latency: f64,
    /// Rebuffer events in the tick, a count.
    pub buffering: u64,
    /// Concurrent viewers.
    pub users: u64,
    /// Egress, megabits per second.
    pub total_bandwidth_mbps: f64,
    /// Titles streaming.
    pub active_streams: u32,
    /// Viewers per CDN region.
    pub cdn_distribution: BTreeMap<RegionId, u64>,
    /// Viewers per content type.
    pub content_types: BTreeMap<ContentType, u64>,
}

impl OriginalMetrics {
    /// The original server's field names, in its order: the first fields
    /// of every `metrics_update` too.
    pub const FIELDS: [&'static str; 8] = [
        "timestamp",
        "latency",
        "buffering",
        "users",
        "total_bandwidth_mbps",
        "active_streams",
        "cdn_distribution",
        "content_types",
    ];
}

impl From<&MetricsUpdate> for OriginalMetrics {
    fn from(u: &MetricsUpdate) -> Self {
        Self {
            timestamp: u.timestamp.clone(),
            latency: u.latency,
            buffering: u.buffering,
            users: u.users,
            total_bandwidth_mbps: u.total_bandwidth_mbps,
            active_streams: u.active_streams,
            cdn_distribution: u.cdn_distribution.clone(),
            content_types: u.content_types.clone(),
        }
    }
}

/// Rounds `v` to `1 / scale` (`scale` a power of ten): figures on the wire
/// carry the precision a person or a chart can use, which shrinks the
/// payload every client parses each tick. Dividing by the scale (rather
/// than multiplying by a step) gives the double nearest the decimal, so it
/// prints short.
fn round(v: f64, scale: f64) -> f64 {
    (v * scale).round() / scale
}

/// A [`Quality`](streammon_core::pipeline::Quality) rounded for the wire:
/// 0.1 ms, 0.1 kbps, 0.1 Mbps, ratios to 1e-6.
fn rounded(q: &streammon_core::pipeline::Quality) -> streammon_core::pipeline::Quality {
    streammon_core::pipeline::Quality {
        latency_ms: round(q.latency_ms, 10.0),
        startup_time_ms: round(q.startup_time_ms, 10.0),
        buffering_ratio: round(q.buffering_ratio, 1e6),
        bitrate_kbps: round(q.bitrate_kbps, 10.0),
        error_rate: round(q.error_rate, 1e6),
        bandwidth_mbps: round(q.bandwidth_mbps, 10.0),
        ..*q
    }
}

/// A band metric's bounds rounded like the figure itself, scores to 0.01.
fn rounded_bands(bands: &Bands) -> Bands {
    bands
        .map_values(|metric, v| match metric {
            Metric::BufferingRatio | Metric::ErrorRate => round(v, 1e6),
            Metric::Viewers => v.round(),
            _ => round(v, 10.0),
        })
        .map_scores(|s| round(s, 100.0))
}

/// Shares rounded to 1e-4.
fn rounded_shares(shares: &RenditionShares) -> RenditionShares {
    shares.map(|v| round(v, 1e4))
}

impl MetricsUpdate {
    /// The whole service's tick, figures rounded for the wire (0.1 ms,
    /// 0.1 kbps, 0.1 Mbps, ratios and shares to 1e6).
    pub fn from_tick(tick: &TickSummary, seq: u64) -> Self {
        let t = &rounded(&tick.total);
        Self {
            schema: 1,
            timestamp: format_rfc3339(tick.timestamp_ms),
            timestamp_ms: tick.timestamp_ms,
            seq,
            interval_ms: tick.interval_ms,
            latency: t.latency_ms,
            buffering: t.rebuffer_events,
            users: t.viewers,
            total_bandwidth_mbps: t.bandwidth_mbps,
            active_streams: tick.active_titles,
            cdn_distribution: tick.cdn_viewers(),
            content_types: tick.content_type_viewers(),
            buffering_ratio: t.buffering_ratio,
            cdn_shares: tick.cdn_shares().into_iter().map(|(k, v)| (k, round(v, 1e6))).collect(),
            content_type_shares: tick.content_type_shares().into_iter().map(|(k, v)| (k, round(v, 1e6))).collect(),
            startup_time_ms: t.startup_time_ms,
            bitrate_kbps: t.bitrate_kbps,
            error_rate: t.error_rate,
            streams: t.streams,
            regions: tick
                .regions
                .iter()
                .map(|r| RegionSummary {
                    region: r.region.clone(),
                    quality: rounded(&r.quality),
                    utilization: r.utilization.map(|u| round(u, 1e6)),
                    renditions: rounded_shares(&r.renditions),
                    bands: rounded_bands(&r.bands),
                })
                .collect(),
            types: tick
                .types
                .iter()
                .map(|t| TypeSummary { content_type: t.content_type, quality: rounded(&t.quality) })
                .collect(),
            scope: Scope::default(),
            contents: Vec::new(),
            contents_omitted: 0,
            renditions: rounded_shares(&tick.renditions),
            bands: rounded_bands(&tick.bands),
        }
    }

    /// The same tick without each region's bands and rendition mix: what
    /// clients get unless they connect asking for `detail=full` (a third
    /// of the bytes; the service's own bands and mix stay).
    pub fn lean(&self) -> Self {
        Self {
            regions: self
                .regions
                .iter()
                .map(|r| RegionSummary { renditions: Default::default(), bands: Default::default(), ..r.clone() })
                .collect(),
            ..self.clone()
        }
    }

    /// One region's view of the tick: its figures in the original fields,
    /// with every title's row. `None` if the region did not report.
    pub fn for_region(
        tick: &TickSummary,
        seq: u64,
        region: &RegionId,
        samples: &[streammon_core::Sample],
    ) -> Option<Self> {
        let r = tick.region(region)?;
        let own = samples.iter().filter(|s| &s.region == region);
        let sub = TickSummary::build(tick.timestamp_ms, tick.interval_ms, own, |_| None);
        let mut update = Self::from_tick(&sub, seq);
        update.regions = vec![RegionSummary {
            quality: rounded(&r.quality),
            renditions: rounded_shares(&r.renditions),
            bands: rounded_bands(&r.bands),
            ..r.clone()
        }];
        update.bands = rounded_bands(&r.bands);
        // The most watched titles, in the summary's order.
        let mut keep: Vec<usize> = (0..sub.contents.len()).collect();
        if keep.len() > MAX_CONTENTS_PER_UPDATE {
            keep.sort_by_key(|&i| (std::cmp::Reverse(sub.contents[i].quality.viewers), i));
            keep.truncate(MAX_CONTENTS_PER_UPDATE);
            keep.sort_unstable();
        }
        update.contents_omitted = sub.contents.len() - keep.len();
        update.contents = keep
            .into_iter()
            .map(|i| &sub.contents[i])
            .map(|c| ContentSummary { quality: rounded(&c.quality), ..c.clone() })
            .collect();
        update.scope = Scope { region: Some(region.clone()), content_id: None };
        Some(update)
    }

    /// One title's view of the tick, per region. `None` if it did not
    /// report.
    pub fn for_content(
        tick: &TickSummary,
        seq: u64,
        content: &ContentId,
        samples: &[streammon_core::Sample],
    ) -> Option<Self> {
        tick.content(content)?;
        let own = samples.iter().filter(|s| &s.content_id == content);
        let sub = TickSummary::build(tick.timestamp_ms, tick.interval_ms, own, |_| None);
        let mut update = Self::from_tick(&sub, seq);
        update.contents =
            sub.contents.iter().map(|c| ContentSummary { quality: rounded(&c.quality), ..c.clone() }).collect();
        update.scope = Scope { region: None, content_id: Some(content.clone()) };
        Some(update)
    }
}

/// A figure for people: four decimals for ratios, fewer for big numbers.
fn figure(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.4}"),
    }
}

/// What an `anomaly_alert` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A detector flagged one point of one series.
    Anomaly,
    /// An alert rule fired or resolved (see `state`).
    Alert,
    /// A forecast crosses a region's capacity.
    Prediction,
}

/// The `anomaly_alert` event: an anomaly, an alert transition, or a
/// capacity prediction, with the fields all three share first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AnomalyAlert {
    /// Which of the three.
    pub kind: AlertKind,
    /// When, RFC 3339 UTC.
    pub timestamp: String,
    /// When, epoch milliseconds.
    pub timestamp_ms: i64,
    /// The metric concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// The observed value (for alerts, the mean over their series).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// What was expected, `[low, high]`.
    pub expected_range: Option<[f64; 2]>,
    /// Anomaly score within [0, 1]; 0.5 is the edge of the expected.
    pub score: f64,
    /// `info`, `warning` or `critical`.
    pub severity: Severity,
    /// Where.
    pub scope: Scope,
    /// One line for humans.
    pub reason: String,
    /// The detector that judged it (anomalies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// Viewers behind the value (anomalies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewers: Option<u32>,
    /// The alert's id (alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
    /// `firing` or `resolved` (alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<streammon_core::AlertState>,
    /// The whole alert (alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<streammon_core::Alert>,
    /// The labels the alert is known by in Alertmanager, webhooks and
    /// silences (alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<streammon_core::alert::AlertLabels>,
    /// Ids of the active silences covering the alert when it was sent:
    /// shown, not delivered (alerts; absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub silenced_by: Vec<String>,
    /// The forecast value where it crosses (predictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_value: Option<f64>,
    /// The prediction interval there, `[low, high]` (predictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_interval: Option<[f64; 2]>,
    /// When the forecast crosses, epoch ms (predictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crossing_ms: Option<i64>,
}

impl AnomalyAlert {
    fn base(kind: AlertKind, timestamp_ms: i64, severity: Severity, scope: Scope, reason: String) -> Self {
        Self {
            kind,
            timestamp: format_rfc3339(timestamp_ms),
            timestamp_ms,
            metric: None,
            value: None,
            expected_range: None,
            score: 0.0,
            severity,
            scope,
            reason,
            detector: None,
            viewers: None,
            alert_id: None,
            state: None,
            alert: None,
            labels: None,
            silenced_by: Vec::new(),
            predicted_value: None,
            confidence_interval: None,
            crossing_ms: None,
        }
    }

    /// A detector's anomaly.
    pub fn from_anomaly(a: &Anomaly) -> Self {
        let phrase = a.reason.map_or("anomalous", |r| r.phrase());
        let mut reason =
            format!("{} {} in {} ({}): {phrase}", a.series.metric, figure(a.value), a.series.region, a.series.content);
        if let Some(b) = a.expected {
            reason.push_str(&format!(", expected {}–{}", figure(b.low), figure(b.high)));
        }
        let scope = Scope { region: Some(a.series.region.clone()), content_id: Some(a.series.content.clone()) };
        Self {
            metric: Some(a.series.metric),
            value: Some(a.value),
            expected_range: a.expected.map(|b| [b.low, b.high]),
            score: a.score,
            detector: Some(a.detector.clone()),
            viewers: Some(a.viewers),
            ..Self::base(AlertKind::Anomaly, a.timestamp_ms, anomaly_severity(a.score), scope, reason)
        }
    }

    /// An alert rule's transition.
    pub fn from_alert_event(e: &AlertEvent) -> Self {
        let a = &e.alert;
        let scope = Scope { region: a.group.region.clone(), content_id: a.group.content.clone() };
        let band = a.baseline.map(|b| [b, b]);
        Self {
            metric: a.group.metric.or_else(|| a.series.first().and_then(|s| s.metric)),
            value: a.value,
            expected_range: band,
            score: if e.kind == AlertEventKind::Fired { 1.0 } else { 0.0 },
            alert_id: Some(a.id.clone()),
            state: Some(a.state),
            alert: Some(a.clone()),
            labels: Some(a.labels()),
            ..Self::base(AlertKind::Alert, e.timestamp_ms, a.severity, scope, a.summary.clone())
        }
    }

    /// A capacity prediction, if the forecast carries a warning.
    pub fn from_forecast(f: &RegionForecast) -> Option<Self> {
        let w = f.warning?;
        let reason = format!(
            "egress in {} forecast to reach {:.0} Mbps ({:.0}% of capacity) in {} min",
            f.region,
            w.predicted_value,
            100.0 * w.predicted_value / w.limit,
            (w.lead_ms.max(0) + 59_999) / 60_000
        );
        let scope = Scope { region: Some(f.region.clone()), content_id: None };
        Some(Self {
            metric: Some(Metric::BandwidthMbps),
            value: Some(f.bandwidth_mbps),
            expected_range: Some([0.0, w.limit]),
            score: w.score(),
            predicted_value: Some(w.predicted_value),
            confidence_interval: Some(w.confidence_interval),
            crossing_ms: Some(w.crossing_ms),
            ..Self::base(AlertKind::Prediction, w.timestamp_ms, Severity::Warning, scope, reason)
        })
    }
}

/// The `content_change` event: the core's change with an RFC 3339
/// timestamp and `status` (the new status) for the original's clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContentChangeEvent {
    /// When, RFC 3339 UTC.
    pub timestamp: String,
    /// The change itself.
    #[serde(flatten)]
    pub change: ContentChange,
    /// The new status (the same as `to`).
    pub status: streammon_core::ContentStatus,
}

impl From<&ContentChange> for ContentChangeEvent {
    fn from(change: &ContentChange) -> Self {
        Self { timestamp: format_rfc3339(change.timestamp_ms), change: change.clone(), status: change.to }
    }
}

/// Sent to a client whose buffer overflowed, once it takes updates again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lagged {
    /// Events dropped for this client since it last heard of it.
    pub dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use streammon_core::{SimConfig, Simulator};

    #[test]
    fn metrics_update_keeps_the_original_fields() {
        let frame = Simulator::new(SimConfig::default()).unwrap().next_frame();
        let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
        let json = serde_json::to_value(MetricsUpdate::from_tick(&tick, 7)).unwrap();
        for field in OriginalMetrics::FIELDS {
            assert!(json.get(field).is_some(), "{field} missing from {json}");
        }
        assert!(json["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(json["seq"], 7);
        // The original's meanings: a count of buffer events, viewers per
        // region and per type; the shares sit beside them.
        let rebuffers: u64 = frame.samples.iter().map(|s| u64::from(s.rebuffer_events)).sum();
        assert_eq!(json["buffering"], rebuffers);
        let users = json["users"].as_u64().unwrap();
        for field in ["cdn_distribution", "content_types"] {
            let counts = json[field].as_object().unwrap();
            assert!(counts.values().all(serde_json::Value::is_u64), "{field} holds counts: {counts:?}");
            assert_eq!(counts.values().map(|v| v.as_u64().unwrap()).sum::<u64>(), users, "{field}");
        }
        for field in ["cdn_shares", "content_type_shares"] {
            let shares: f64 = json[field].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
            assert!((shares - 1.0).abs() < 1e-4, "{field} sums to {shares}");
        }
        assert!(json.get("contents").is_none(), "the global payload stays small");
        let region = tick.regions[0].region.clone();
        let scoped = MetricsUpdate::for_region(&tick, 7, &region, &frame.samples).unwrap();
        assert_eq!(scoped.scope.region.as_ref(), Some(&region));
        assert_eq!(scoped.users, tick.regions[0].quality.viewers);
        assert!(!scoped.contents.is_empty());
    }

    #[test]
    fn bands_and_the_rendition_mix_go_out_rounded_and_scoped() {
        let mut watch = streammon_core::pipeline::ScopeWatch::default();
        let mut sim = Simulator::new(SimConfig::default()).unwrap();
        let (mut tick, mut samples) = (None, Vec::new());
        for frame in sim.by_ref().take(40) {
            let mut t = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
            watch.observe(&mut t);
            tick = Some(t);
            samples = frame.samples;
        }
        let tick = tick.unwrap();
        let json = serde_json::to_value(MetricsUpdate::from_tick(&tick, 1)).unwrap();
        let band = &json["bands"]["buffering_ratio"];
        let (low, high) = (band["low"].as_f64().unwrap(), band["high"].as_f64().unwrap());
        let ratio = json["buffering_ratio"].as_f64().unwrap();
        assert!(low <= ratio && ratio <= high, "{band}");
        assert_eq!((low * 1e6).round() / 1e6, low, "ratios rounded to 1e-6: {low}");
        let latency_high = json["bands"]["latency_ms"]["high"].as_f64().unwrap();
        assert_eq!((latency_high * 10.0).round() / 10.0, latency_high);
        let mix: f64 = json["renditions"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
        assert!((mix - 1.0).abs() < 1e-3, "the mix sums to {mix}");
        assert!(json["regions"][0]["bands"]["viewers"]["low"].is_number());
        assert!(json["regions"][0]["renditions"].as_object().is_some_and(|m| !m.is_empty()));
        let region = tick.regions[0].region.clone();
        let scoped = MetricsUpdate::for_region(&tick, 1, &region, &samples).unwrap();
        assert_eq!(scoped.bands, rounded_bands(&tick.regions[0].bands), "a region's room gets the region's bands");
        let title = tick.contents[0].content_id.clone();
        let scoped = MetricsUpdate::for_content(&tick, 1, &title, &samples).unwrap();
        assert!(scoped.bands.is_empty(), "no baseline is kept per title");
    }

    /// Issue 16: a region's `metrics_update` listed every title of the
    /// region, however many clients had pushed.
    #[test]
    fn a_regions_update_lists_its_most_watched_titles_at_most() {
        let frame = Simulator::new(SimConfig { titles: 300, ..SimConfig::default() }).unwrap().next_frame();
        let region = frame.samples[0].region.clone();
        let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
        let scoped = MetricsUpdate::for_region(&tick, 1, &region, &frame.samples).unwrap();
        let in_region = frame.samples.iter().filter(|s| s.region == region).count();
        assert!(in_region > MAX_CONTENTS_PER_UPDATE, "{in_region} titles in {region}");
        assert_eq!(scoped.contents.len(), MAX_CONTENTS_PER_UPDATE);
        assert_eq!(scoped.contents_omitted, in_region - MAX_CONTENTS_PER_UPDATE);
        let least_kept = scoped.contents.iter().map(|c| c.quality.viewers).min().unwrap();
        let kept: Vec<&ContentId> = scoped.contents.iter().map(|c| &c.content_id).collect();
        let most_left = frame
            .samples
            .iter()
            .filter(|s| s.region == region && !kept.contains(&&s.content_id))
            .map(|s| u64::from(s.viewers))
            .max()
            .unwrap();
        assert!(most_left <= least_kept, "left out {most_left} viewers, kept one of {least_kept}");
        let own = frame.samples.iter().filter(|s| s.region == region);
        let order = TickSummary::build(tick.timestamp_ms, 1_000, own, |_| None).contents;
        let at = |id: &ContentId| order.iter().position(|c| &c.content_id == id).unwrap();
        assert!(kept.windows(2).all(|w| at(w[0]) < at(w[1])), "in the summary's order");
        let json = serde_json::to_value(&scoped).unwrap();
        assert_eq!(json["contents_omitted"], in_region - MAX_CONTENTS_PER_UPDATE);
        let whole = serde_json::to_value(MetricsUpdate::from_tick(&tick, 1)).unwrap();
        assert!(whole.get("contents_omitted").is_none(), "absent when nothing was left out");
    }
}
