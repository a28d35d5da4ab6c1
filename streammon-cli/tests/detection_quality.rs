//! Issue 15's acceptance figures, kept by tests: what `streammon eval`
//! reports about the server's own judgment over 24 simulated hours, and
//! what `streammon eval --labelled` reports about every built-in detector
//! on the labelled corpus in `testdata/detection/`. Both are deterministic,
//! so the figures are exact for a given build; the assertions are the
//! issue's bars.

mod common;

use std::path::Path;

use common::{arg, stderr, streammon};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let out = streammon(args);
    assert!(out.status.success(), "streammon {args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON on standard output")
}

/// `streammon eval`: the default catalogue at 10 s steps, 24 h with no
/// incident and 24 h with two random incidents an hour, through the
/// pipeline, floors and alert rules `serve` runs.
#[test]
fn the_servers_judgment_over_a_simulated_day() {
    let r = json(&["eval", "--quiet", "--json"]);
    assert_eq!((r["titles"].as_u64(), r["step_s"].as_f64()), (Some(48), Some(10.0)), "{r}");
    let quiet = &r["quiet"];
    assert_eq!(quiet["hours"].as_f64(), Some(24.0));
    assert_eq!(quiet["alerts_fired"].as_u64(), Some(0), "alerts on a healthy day: {}", quiet["examples"]);
    assert!(quiet["anomaly_events"].as_u64().unwrap() <= 24, "anomaly events on a healthy day: {quiet}");
    let i = &r["incidents"];
    assert!(i["incidents"].as_u64().unwrap() >= 40, "{i}");
    assert!(i["alerted_share"].as_f64().unwrap() >= 0.95, "incidents alerted: {i}");
    assert!(i["median_time_to_alert_s"].as_f64().unwrap() <= 30.0, "{i}");
    assert!(i["p95_time_to_alert_s"].as_f64().unwrap() <= 90.0, "{i}");
    assert!(i["precision"].as_f64().unwrap() >= 0.95, "fired alerts on an incident: {i}");
    assert!(i["cause_share"].as_f64().unwrap() >= 0.90, "cause hints naming the incident: {i}");
}

/// `streammon eval --labelled`: the default detector meets the issue's
/// bars, and no built-in detector falls below the ten-line Python z-score
/// (`baseline.py zscore`: 36.97 / 31.86 / 41.72).
#[test]
fn every_detector_on_the_labelled_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/detection/cloud-monitoring");
    let rows = json(&["eval", "--labelled", arg(&corpus), "--json"]);
    let rows = rows.as_array().expect("one row per detector");
    let score = |row: &Value, profile: &str| row[profile]["score"].as_f64().unwrap();
    let auto = rows.iter().find(|r| r["detector"] == "auto").expect("auto is scored");
    assert!(score(auto, "standard") >= 65.0, "{auto}");
    assert!(score(auto, "low_fp") >= 55.0, "{auto}");
    assert!(score(auto, "low_fn") >= 70.0, "{auto}");
    assert_eq!(rows.len(), streammon_core::detect::DETECTOR_NAMES.len());
    for row in rows {
        for (profile, floor) in [("standard", 36.97), ("low_fp", 31.86), ("low_fn", 41.72)] {
            assert!(score(row, profile) >= floor, "{} below baseline.py zscore on {profile}: {row}", row["detector"]);
        }
    }
}
