//! Samples pushed by clients, single and batch: a `POST /metrics` body (or
//! a Socket.IO `metric_update`) decoded and checked as the server does
//! (`serde_json`, then `streammon_http::parse_samples`).
//!
//! A sample that is accepted must also survive the way back out: written
//! as JSON (storage, the REST API) it has only finite numbers and no
//! `null` but an absent end-to-end latency, and read back it is the same
//! sample and still valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use streammon_core::Sample;
use streammon_fuzz::NOW_MS;
use streammon_http::{HttpSettings, MAX_SAMPLE_AGE_MS, MAX_SAMPLE_LEAD_MS, parse_samples};

/// Equal, or within the last bits that serde_json's fast float parsing
/// (without the `float_roundtrip` feature) may differ by.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

fn check_way_out(s: &Sample) {
    let json = serde_json::to_value(s).expect("a sample serialises");
    let Value::Object(fields) = &json else { panic!("a sample is an object: {json}") };
    for (key, value) in fields {
        match value {
            Value::Null => assert!(key == "e2e_latency_ms" && s.e2e_latency_ms.is_none(), "{key} is null"),
            Value::Number(n) => assert!(n.as_f64().is_some_and(f64::is_finite), "{key}: {n}"),
            _ => {}
        }
    }
    let text = serde_json::to_string(s).expect("a sample serialises");
    let back: Sample = serde_json::from_str(&text).expect("a written sample reads back");
    back.validate().unwrap_or_else(|e| panic!("{text} reads back invalid: {e}"));
    let same_floats = [
        (s.avg_watch_time_s, back.avg_watch_time_s),
        (s.latency_ms, back.latency_ms),
        (s.startup_time_ms, back.startup_time_ms),
        (s.buffering_ratio, back.buffering_ratio),
        (s.bitrate_kbps, back.bitrate_kbps),
        (s.segment_duration_s, back.segment_duration_s),
        (s.segment_size_kb, back.segment_size_kb),
        (s.bandwidth_mbps, back.bandwidth_mbps),
        (s.error_rate, back.error_rate),
        (s.e2e_latency_ms.unwrap_or(0.0), back.e2e_latency_ms.unwrap_or(0.0)),
    ]
    .iter()
    .all(|&(a, b)| close(a, b));
    assert!(same_floats && s.e2e_latency_ms.is_some() == back.e2e_latency_ms.is_some(), "{s:?} read back as {back:?}");
    let (mut a, mut b) = (s.clone(), back);
    for x in [&mut a, &mut b] {
        x.avg_watch_time_s = 0.0;
        x.latency_ms = 0.0;
        x.startup_time_ms = 0.0;
        x.buffering_ratio = 0.0;
        x.bitrate_kbps = 0.0;
        x.segment_duration_s = 0.0;
        x.segment_size_kb = 0.0;
        x.bandwidth_mbps = 0.0;
        x.error_rate = 0.0;
        x.e2e_latency_ms = x.e2e_latency_ms.map(|_| 0.0);
    }
    assert_eq!(a, b, "a sample read back differs");
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let max = HttpSettings::default().max_batch;
    let Ok(samples) = parse_samples(value, max, NOW_MS) else { return };
    assert!(!samples.is_empty() && samples.len() <= max);
    for s in &samples {
        s.validate().expect("parse_samples returns valid samples");
        assert!((NOW_MS - MAX_SAMPLE_AGE_MS..=NOW_MS + MAX_SAMPLE_LEAD_MS).contains(&s.timestamp_ms));
        check_way_out(s);
    }
});
