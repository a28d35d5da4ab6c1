//! The wire format of the Socket.IO events, pinned: `metrics_update` (the
//! whole service's, full and lean, a region's and a title's), `anomaly_alert` (an anomaly,
//! an alert firing and resolving, a capacity prediction) and
//! `content_change`, each as the server sends it, against a JSON file in
//! `tests/golden/`.
//!
//! The inputs are a seeded simulation with a scripted CDN incident, run
//! through the core pipeline, so every file holds a real payload. A change
//! to a field's name, type, presence or rounding fails here; if it is
//! meant, regenerate with `UPDATE_GOLDEN=1 cargo test -p streammon-http
//! --test golden`, review the diff, and say so in docs/EVENTS.md.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use streammon_core::alert::AlertEventKind;
use streammon_core::forecast::CapacityWarning;
use streammon_core::pipeline::{Pipeline, PipelineConfig, RegionForecast, TickOutput};
use streammon_core::time::Span;
use streammon_core::{SimConfig, Simulator};
use streammon_http::wire::{AnomalyAlert, ContentChangeEvent, MetricsUpdate};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.json"))
}

/// Compares `value`'s JSON with the golden file `name`, and checks that the
/// file reads back into a value that writes it again.
fn golden<T: Serialize + DeserializeOwned>(name: &str, value: &T) {
    let json = serde_json::to_string_pretty(value).unwrap() + "\n";
    let file = path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&file, &json).unwrap();
    }
    let want = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with UPDATE_GOLDEN=1", file.display()));
    if json != want {
        let line = json.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name}: the wire format changed, first at line {}:\n  sent:   {}\n  golden: {}\n\
             If this is meant, rerun with UPDATE_GOLDEN=1, review the diff, and update docs/EVENTS.md.",
            line + 1,
            json.lines().nth(line).unwrap_or("(end)"),
            want.lines().nth(line).unwrap_or("(end)"),
        );
    }
    // A client written against the file reads it and loses nothing (both
    // sides parsed alike: serde_json's parsing may move a float's last bit).
    let back: T = serde_json::from_str(&want).unwrap_or_else(|e| panic!("{name}: does not read back: {e}"));
    let want: serde_json::Value = serde_json::from_str(&want).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), want, "{name}: reads back as something else");
}

/// What the server sends, collected from a simulated 70 minutes with a CDN
/// incident in eu-west from minute 40 to 55.
struct Sent {
    update: MetricsUpdate,
    region: MetricsUpdate,
    content: MetricsUpdate,
    anomaly: AnomalyAlert,
    fired: AnomalyAlert,
    resolved: AnomalyAlert,
    change: ContentChangeEvent,
}

fn sent() -> Sent {
    let mut config = SimConfig { titles: 12, step: Span::from_secs(10), seed: 1, ..SimConfig::default() };
    config.incidents.scripted = vec!["cdn_degradation:eu-west@40m+15m".parse().unwrap()];
    let mut sim = Simulator::new(config).unwrap();
    let mut pipeline = Pipeline::new(&PipelineConfig::default()).unwrap();
    for region in sim.regions() {
        pipeline.set_capacity(region.id.clone(), region.capacity_gbps * 1_000.0);
    }
    let mut out = TickOutput::default();
    let (mut update, mut anomaly, mut fired, mut resolved, mut change) = (None, None, None, None, None);
    for (seq, frame) in sim.by_ref().take(6 * 70).enumerate() {
        pipeline.process(&frame, &mut out);
        let seq = seq as u64 + 1;
        if seq == 30 {
            let region = out.summary.regions[0].region.clone();
            let content = out.summary.contents[0].content_id.clone();
            update = Some((
                MetricsUpdate::from_tick(&out.summary, seq),
                MetricsUpdate::for_region(&out.summary, seq, &region, &frame.samples).unwrap(),
                MetricsUpdate::for_content(&out.summary, seq, &content, &frame.samples).unwrap(),
            ));
        }
        if anomaly.is_none() {
            anomaly = out.anomalies.first().map(AnomalyAlert::from_anomaly);
        }
        for e in &out.alert_events {
            let slot = if e.kind == AlertEventKind::Fired { &mut fired } else { &mut resolved };
            if slot.is_none() {
                *slot = Some(AnomalyAlert::from_alert_event(e));
            }
        }
        if change.is_none() {
            change = out.changes.first().map(ContentChangeEvent::from);
        }
    }
    let (update, region, content) = update.unwrap();
    Sent {
        update,
        region,
        content,
        anomaly: anomaly.expect("an anomaly event in 70 minutes with an incident"),
        fired: fired.expect("an alert fired on the incident"),
        resolved: resolved.expect("the alert resolved after it"),
        change: change.expect("a title changed status"),
    }
}

#[test]
fn metrics_update_is_pinned() {
    let s = sent();
    golden("metrics_update", &s.update);
    // What clients get unless they connect with `detail=full`.
    golden("metrics_update_lean", &s.update.lean());
    golden("metrics_update_region", &s.region);
    golden("metrics_update_content", &s.content);
}

#[test]
fn anomaly_alert_is_pinned() {
    let s = sent();
    golden("anomaly_alert_anomaly", &s.anomaly);
    golden("anomaly_alert_fired", &s.fired);
    golden("anomaly_alert_resolved", &s.resolved);
    let forecast = RegionForecast {
        region: "eu-west".into(),
        timestamp_ms: 1_767_225_600_000,
        bandwidth_mbps: 1_512_000.0,
        capacity_mbps: Some(2_000_000.0),
        forecast: Vec::new(),
        warning: Some(CapacityWarning {
            timestamp_ms: 1_767_225_600_000,
            crossing_ms: 1_767_226_500_000,
            lead_ms: 900_000,
            predicted_value: 1_980_000.0,
            confidence_interval: [1_850_000.0, 2_110_000.0],
            limit: 2_000_000.0,
        }),
    };
    golden("anomaly_alert_prediction", &AnomalyAlert::from_forecast(&forecast).unwrap());
}

#[test]
fn content_change_is_pinned() {
    golden("content_change", &sent().change);
}
