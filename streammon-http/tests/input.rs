//! Bounded input and an honest document (issue 16): what a fuzzer and a
//! hostile client found at commit 4fb28e1, each pinned by a test that
//! failed there.

mod common;

use axum::http::StatusCode;
use serde_json::{Value, json};
use streammon_http::HttpSettings;

use common::*;

#[tokio::test]
async fn time_parameters_are_checked_without_overflow() {
    // The subtraction `to - from` wrapped, and this answered 200 with data.
    bad_request("/metrics?metric=latency_ms&from=-9223372036854775808&to=9223372036854775807", "to").await;
    bad_request("/metrics?metric=latency_ms&from=-9223372036854775808", "from").await;
    bad_request("/metrics?metric=latency_ms&to=9223372036854775807", "to").await;
    // An age beyond the epoch, and one beyond i64 milliseconds.
    bad_request("/metrics?metric=latency_ms&from=600000h", "from").await;
    bad_request("/metrics?metric=latency_ms&from=3000000000000h", "from").await;
    bad_request("/analytics/distribution?metric=latency_ms&from=-1", "from").await;
    bad_request("/metrics?since=-9223372036854775808", "since").await;
}

#[tokio::test]
async fn an_empty_parameter_is_refused_not_taken_as_absent() {
    for (uri, field) in [
        ("/alerts?state=", "state"),
        ("/content?content_type=", "content_type"),
        ("/content?health=", "health"),
        ("/analytics/distribution?metric=", "metric"),
        ("/metrics?metric=", "metric"),
        ("/metrics?limit=", "limit"),
        ("/analytics?limit=", "limit"),
        ("/analytics?limit=5&content=", "content"),
    ] {
        let message = bad_request(uri, field).await;
        assert!(message.contains("empty"), "{uri}: {message}");
    }
}

async fn refused(sample: Value, field: &str) {
    let (state, mut rx) = empty_state(HttpSettings::default(), 4);
    let reply = post_metrics(&state, sample.to_string()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{field}: {}", reply.brief());
    assert_eq!(reply.json()["field"], field, "{}", reply.brief());
    assert!(rx.try_recv().is_err(), "nothing is queued from a refused sample");
}

#[tokio::test]
async fn every_sample_field_has_a_maximum() {
    let sample = serde_json::to_value(&fed().await.sample).unwrap();
    let with = |field: &str, value: Value| {
        let mut s = sample.clone();
        s[field] = value;
        s
    };
    // Both were accepted at 4fb28e1; sums of such figures reached infinity,
    // which JSON writes as `null`.
    refused(with("bitrate_kbps", json!(1e308)), "bitrate_kbps").await;
    refused(with("viewers", json!(4_000_000_000u32)), "viewers").await;
    refused(with("bandwidth_mbps", json!(1e300)), "bandwidth_mbps").await;
    refused(with("latency_ms", json!(1e12)), "latency_ms").await;
    refused(with("segment_size_kb", json!(-1.0)), "segment_size_kb").await;
    refused(with("interval_ms", json!(0)), "interval_ms").await;
    refused(with("interval_ms", json!(4_000_000_000u32)), "interval_ms").await;
    refused(with("renditions", json!({"1080p": 3_000_000_000u32})), "renditions").await;
    // The domain's edge itself is taken.
    let (state, _rx) = empty_state(HttpSettings::default(), 4);
    let edge = with("viewers", json!(streammon_core::sample::maxima::COUNT));
    assert_eq!(post_metrics(&state, edge.to_string()).await.status, StatusCode::ACCEPTED);
}

/// The component a `$ref` names.
fn component<'a>(doc: &'a Value, reference: &Value) -> &'a Value {
    let name = reference.as_str().and_then(|r| r.strip_prefix("#/components/schemas/")).expect("a schema $ref");
    &doc["components"]["schemas"][name]
}

#[tokio::test]
async fn the_health_report_matches_its_own_schema() {
    let doc = get_ok("/openapi.json").await;
    for path in ["/", "/health"] {
        let reference = &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        let schema = component(&doc, reference);
        let body = get_ok(path).await;
        let properties = schema["properties"].as_object().unwrap_or_else(|| panic!("{path}: {schema}"));
        for required in schema["required"].as_array().expect("required") {
            let name = required.as_str().unwrap();
            assert!(body.get(name).is_some(), "{path}: `{name}` missing from {body}");
        }
        for key in body.as_object().unwrap().keys() {
            assert!(properties.contains_key(key), "{path}: `{key}` is not in the schema");
        }
        let status = component(&doc, &properties["status"]["$ref"]);
        assert!(status["enum"].as_array().unwrap().contains(&body["status"]), "{path}: {}", body["status"]);
    }
    // The title's health is another schema, under its own name.
    let title = &doc["components"]["schemas"]["Health"];
    assert_eq!(title["enum"], json!(["healthy", "degraded", "critical"]), "{title}");
}

#[tokio::test]
async fn every_cmcd_route_documents_its_404_when_cmcd_is_off() {
    let doc = get_ok("/openapi.json").await;
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap().iter().filter(|(p, _)| p.starts_with("/cmcd")) {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"]["404"].is_object(), "{method} {path} does not document 404");
            seen += 1;
        }
    }
    assert_eq!(seen, 5, "POST /cmcd, GET /cmcd, /cmcd/response, /cmcd/logs, /cmcd/sessions");
    let reply = get(&fed().await.state, "/cmcd/sessions").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.brief());
}
