//! Behaviour of every REST endpoint, driven with `oneshot` against the
//! router over a state fed by the real simulator and pipeline: an hour of
//! ten-second ticks over 48 titles, with a CDN degradation in eu-west for
//! the last 25 minutes.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use streammon_core::pipeline::{Pipeline, PipelineConfig, TickOutput};
use streammon_core::{Frame, SimConfig, Simulator};
use streammon_http::{HttpSettings, Publisher};

use common::*;

fn array<'a>(value: &'a Value, what: &str) -> &'a Vec<Value> {
    value.as_array().unwrap_or_else(|| panic!("{what} is not an array: {value}"))
}

fn num(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value}"))
}

// ---------------------------------------------------------------- GET /

#[tokio::test]
async fn health_reports_the_memory_store_and_the_ticks_published() {
    let fed = fed().await;
    let body = get_ok("/").await;
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["problems"], json!([]));
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["source"], "simulator");
    assert_eq!(body["storage"]["backend"], "memory");
    assert_eq!(body["storage"]["ok"], true);
    assert_eq!(body["pipeline"]["ticks"], TICKS);
    assert_eq!(body["pipeline"]["interval_ms"], STEP_MS);
    assert!(num(&body["pipeline"]["samples"]) > 0.0, "{body}");
    assert!(num(&body["pipeline"]["anomalies"]) > 0.0, "{body}");
    assert!(num(&body["pipeline"]["active_alerts"]) >= 1.0, "{body}");
    assert_eq!(body["pipeline"]["clients"], 0);
    assert!(fed.last_ms > fed.first_ms);
}

// ---------------------------------------------------- GET /metrics history

#[tokio::test]
async fn metrics_history_returns_the_last_100_ticks_with_the_original_fields() {
    let fed = fed().await;
    let body = get_ok("/metrics").await;
    let ticks = array(&body["ticks"], "ticks");
    assert_eq!(body["count"], 100);
    assert_eq!(ticks.len(), 100);
    // Oldest first, consecutive, the last one the latest tick.
    assert_eq!(ticks[99]["timestamp_ms"], fed.last_ms);
    assert_eq!(ticks[99]["seq"], TICKS);
    for pair in ticks.windows(2) {
        assert_eq!(num(&pair[1]["timestamp_ms"]) - num(&pair[0]["timestamp_ms"]), STEP_MS as f64);
        assert_eq!(num(&pair[1]["seq"]) - num(&pair[0]["seq"]), 1.0);
    }
    for tick in ticks {
        assert!(tick["timestamp"].as_str().is_some_and(|t| t.ends_with('Z') && t.contains('T')), "{tick}");
        for field in ["latency", "buffering_ratio", "total_bandwidth_mbps"] {
            assert!(num(&tick[field]) >= 0.0, "{field} in {tick}");
        }
        // The original's meanings: buffer events, and viewers per region
        // and per type, are counts.
        assert!(tick["buffering"].is_u64(), "{tick}");
        let users = tick["users"].as_u64().filter(|&u| u > 0).expect("users");
        assert!(tick["active_streams"].as_u64().is_some_and(|n| n > 0), "{tick}");
        let cdn = tick["cdn_distribution"].as_object().expect("cdn_distribution");
        assert!(cdn.contains_key(INCIDENT_REGION), "{tick}");
        assert_eq!(cdn.values().map(|v| v.as_u64().expect("a count")).sum::<u64>(), users, "{tick}");
        let share: f64 = tick["cdn_shares"].as_object().expect("cdn_shares").values().map(num).sum();
        // Shares go on the wire rounded to 1e-6: ten regions are off by at
        // most 5e-6 in all.
        assert!((share - 1.0).abs() <= 5e-6, "cdn shares sum to {share}");
        // The default history is the summary: the per-region and per-type
        // arrays are empty.
        assert!(array(&tick["regions"], "regions").is_empty() && array(&tick["types"], "types").is_empty(), "{tick}");
        let types = tick["content_types"].as_object().expect("content_types");
        assert!(types.keys().all(|k| ["video", "audio", "live"].contains(&k.as_str())), "{tick}");
        assert_eq!(types.values().map(|v| v.as_u64().expect("a count")).sum::<u64>(), users, "{tick}");
    }
    // The original's own fields beside ours: the newest tick, and the same
    // ticks in its shape (its eight fields, nothing else).
    const ORIGINAL: [&str; 8] = streammon_http::wire::OriginalMetrics::FIELDS;
    let current = body["current_metrics"].as_object().expect("current_metrics");
    let mut keys: Vec<&str> = current.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = ORIGINAL.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let history = array(&body["history"], "history");
    assert_eq!(history.len(), 100);
    for (tick, original) in ticks.iter().zip(history) {
        for field in ORIGINAL {
            assert_eq!(tick[field], original[field], "{field}");
        }
    }
    assert_eq!(&body["current_metrics"], history.last().unwrap());
}

#[tokio::test]
async fn metrics_history_honours_limit_and_since() {
    let fed = fed().await;
    let body = get_ok("/metrics?limit=5").await;
    let ticks = array(&body["ticks"], "ticks");
    assert_eq!((body["count"].as_u64(), ticks.len()), (Some(5), 5));
    assert_eq!(ticks[4]["timestamp_ms"], fed.last_ms);

    // `detail=full`: the whole metrics_update payload, per region and type.
    let body = get_ok("/metrics?limit=2&detail=full").await;
    let ticks = array(&body["ticks"], "ticks");
    assert_eq!(array(&ticks[1]["regions"], "regions").len(), 10);
    assert!(!array(&ticks[1]["types"], "types").is_empty());

    // `since` is exclusive: the three ticks after it.
    let since = fed.last_ms - 3 * STEP_MS;
    let body = get_ok(&format!("/metrics?since={since}")).await;
    let ticks = array(&body["ticks"], "ticks");
    assert_eq!(body["count"], 3, "{body}");
    assert!(ticks.iter().all(|t| num(&t["timestamp_ms"]) > since as f64));
    // ... also as RFC 3339, and together with `limit`.
    let rfc = ticks[0]["timestamp"].as_str().unwrap().to_owned();
    let body = get_ok(&format!("/metrics?since={rfc}")).await;
    assert_eq!(body["count"], 2, "{body}");
    let body = get_ok(&format!("/metrics?since={since}&limit=2")).await;
    assert_eq!(body["count"], 2, "{body}");
    // Nothing after the last tick.
    let body = get_ok(&format!("/metrics?since={}", fed.last_ms)).await;
    assert_eq!((&body["count"], &body["ticks"], &body["history"]), (&json!(0), &json!([]), &json!([])));
    let newest = get_ok("/metrics?limit=1").await;
    assert_eq!(newest["ticks"][0]["timestamp_ms"], fed.last_ms);
    assert_eq!(
        body["current_metrics"]["timestamp"], newest["ticks"][0]["timestamp"],
        "the newest, whatever the filter"
    );
}

#[tokio::test]
async fn metrics_history_returns_fewer_ticks_when_fewer_were_published() {
    let (state, _rx) = empty_state(HttpSettings { history_ticks: 10, ..HttpSettings::default() }, 1);
    let body = get(&state, "/metrics").await.json();
    assert_eq!(body, json!({"count": 0, "ticks": [], "current_metrics": null, "history": []}));

    let sim = SimConfig { titles: 4, start_ms: now_ms() - 60_000, ..SimConfig::default() };
    let mut simulator = Simulator::new(sim).unwrap();
    let mut pipeline = Pipeline::new(&PipelineConfig::default()).unwrap();
    let mut publisher = Publisher::new(state.clone(), None);
    let (mut frame, mut out) = (Frame::default(), TickOutput::default());
    for _ in 0..3 {
        simulator.step(&mut frame);
        tick(&mut pipeline, &mut publisher, &state, &frame, &mut out).await;
    }
    let body = get(&state, "/metrics").await.json();
    assert_eq!(body["count"], 3, "{body}");
    assert_eq!(body["ticks"][2]["timestamp_ms"], frame.timestamp_ms);
    // The limit is bounded by the history kept.
    let reply = get(&state, "/metrics?limit=11").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.brief());
    assert_eq!(reply.json()["field"], "limit");
    // Past the history length the oldest ticks go.
    for _ in 0..12 {
        simulator.step(&mut frame);
        tick(&mut pipeline, &mut publisher, &state, &frame, &mut out).await;
    }
    let body = get(&state, "/metrics?limit=10").await.json();
    assert_eq!(body["count"], 10);
    assert_eq!(body["ticks"][0]["seq"], 6);
}

// ------------------------------------------------------------- Prometheus

fn assert_prometheus(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK);
    let content_type = reply.header(header::CONTENT_TYPE).unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = reply.text();
    assert!(text.contains("# TYPE streammon_ticks_total counter"), "{text}");
    assert!(text.contains(&format!("streammon_ticks_total {TICKS}")), "{text}");
    assert!(text.contains(&format!("streammon_viewers{{region=\"{INCIDENT_REGION}\"}}")), "{text}");
}

#[tokio::test]
async fn metrics_negotiates_the_prometheus_text() {
    let state = &fed().await.state;
    for accept in ["text/plain", "text/plain;version=0.0.4;q=0.3,*/*;q=0.2", "application/openmetrics-text"] {
        let request = Request::get("/metrics").header(header::ACCEPT, accept).body(Body::empty()).unwrap();
        assert_prometheus(&send(state, request).await);
    }
    assert_prometheus(&get(state, "/metrics/prometheus").await);
    // A browser's, curl's and axios's Accept get JSON: axios lists
    // text/plain too, after application/json.
    for accept in ["text/html,application/xhtml+xml,*/*;q=0.8", "*/*", "application/json, text/plain, */*"] {
        let request = Request::get("/metrics").header(header::ACCEPT, accept).body(Body::empty()).unwrap();
        let reply = send(state, request).await;
        assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"), "Accept: {accept}");
        assert_eq!(reply.json()["count"], 100);
    }
}

// ----------------------------------------------------- GET /metrics series

#[tokio::test]
async fn metrics_series_returns_the_points_of_one_region() {
    let fed = fed().await;
    let before = now_ms();
    let body = get_ok(&format!("/metrics?metric=buffering_ratio&region={INCIDENT_REGION}&from=10m")).await;
    assert_eq!(body["metric"], "buffering_ratio");
    assert_eq!(body["step_ms"], Value::Null);
    let (from, to) = (num(&body["from_ms"]) as i64, num(&body["to_ms"]) as i64);
    assert!(to >= before && to - from == 600_000, "{from}..{to}");
    let series = array(&body["series"], "series");
    assert!(series.len() >= 10, "{} series in {INCIDENT_REGION}", series.len());
    for s in series {
        assert_eq!(s["region"], INCIDENT_REGION, "{s}");
        assert!(s.get("buckets").is_none(), "{s}");
        let points = array(&s["points"], "points");
        // Ten minutes of ten-second ticks, minus any the window cut.
        assert!((55..=61).contains(&points.len()), "{} points: {s}", points.len());
        let mut last = i64::MIN;
        for p in points {
            let (ts, value) = (p[0].as_i64().expect("timestamp"), num(&p[1]));
            assert!(ts >= from && ts < to && ts <= fed.last_ms && ts > last, "{ts} in {from}..{to}");
            assert!((0.0..=1.0).contains(&value), "{value}");
            last = ts;
        }
    }
    // Another region's series are not in it; without `region` they are.
    let all = get_ok("/metrics?metric=buffering_ratio&from=10m").await;
    let regions: std::collections::BTreeSet<_> =
        array(&all["series"], "series").iter().map(|s| s["region"].as_str().unwrap().to_owned()).collect();
    assert!(regions.len() >= 5 && regions.contains(INCIDENT_REGION), "{regions:?}");
}

#[tokio::test]
async fn metrics_series_with_step_returns_buckets() {
    let body = get_ok(&format!("/metrics?metric=buffering_ratio&region={INCIDENT_REGION}&from=10m&step=1m")).await;
    assert_eq!(body["step_ms"], 60_000);
    let series = array(&body["series"], "series");
    assert!(!series.is_empty());
    for s in series {
        assert_eq!(s["region"], INCIDENT_REGION);
        assert!(s.get("points").is_none(), "{s}");
        let buckets = array(&s["buckets"], "buckets");
        assert!((9..=10).contains(&buckets.len()), "{} buckets: {s}", buckets.len());
        for b in buckets {
            let (min, mean, max) = (num(&b["min"]), num(&b["mean"]), num(&b["max"]));
            assert!(min <= mean && mean <= max, "{b}");
            assert!((1..=6).contains(&b["count"].as_u64().unwrap()), "{b}");
        }
        let starts: Vec<f64> = buckets.iter().map(|b| num(&b["start_ms"])).collect();
        assert!(starts.windows(2).all(|w| w[1] > w[0]), "{starts:?}");
    }
}

/// Fuzzing (`fuzz/`, target `query_string`) asked for a series `to` an age
/// of 2^63 ms and more (`9223372036854775807ms500ms1m`), and `now - age`
/// overflowed; so did a range from one end of i64 to the other, a default
/// `from` 15 minutes before the first instant of i64, and the bucket count
/// of a step as long. Each is a 400 naming the parameter (a time outside
/// 1970 to 9999), or an answer, never a panic.
#[tokio::test]
async fn series_times_and_steps_at_the_ends_of_i64_are_answered() {
    let (state, _rx) = empty_state(HttpSettings::default(), 1);
    for (query, status, field) in [
        ("metric=buffering_ratio&from=15m&to=9223372036854775807ms500ms1m", StatusCode::BAD_REQUEST, "to"),
        ("metric=viewers&from=-9223372036854775808&to=9223372036854775807", StatusCode::BAD_REQUEST, "to"),
        ("metric=viewers&to=-9223372036854775808", StatusCode::BAD_REQUEST, "to"),
        ("metric=viewers&to=18446744073709551615ms", StatusCode::BAD_REQUEST, "to"),
        ("metric=viewers&from=10m&step=9223372036854775807ms", StatusCode::OK, ""),
        ("since=9223372036854775808ms", StatusCode::BAD_REQUEST, "since"),
    ] {
        let reply = get(&state, &format!("/metrics?{query}")).await;
        assert_eq!(reply.status, status, "{query}: {}", reply.brief());
        if status == StatusCode::BAD_REQUEST {
            assert_eq!(reply.json()["field"], field, "{query}");
        }
    }
    let reply = get(&state, "/metrics?metric=viewers&from=10m&step=9223372036854775807ms").await;
    assert_eq!(reply.json()["step_ms"], i64::MAX);
}

// ------------------------------------------------------------ POST /metrics

async fn sample_json() -> Value {
    serde_json::to_value(&fed().await.sample).expect("sample")
}

#[tokio::test]
async fn posted_samples_are_accepted_and_reach_the_pipeline_queue() {
    let sample = fed().await.sample.clone();
    let (state, mut rx) = empty_state(HttpSettings::default(), 4);
    let one = serde_json::to_string(&sample).unwrap();
    let reply = post_metrics(&state, one).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.brief());
    assert_eq!(reply.json(), json!({"accepted": 1}));
    assert_eq!(rx.try_recv().expect("a batch queued"), vec![sample.clone()]);

    let two = serde_json::to_string(&[&sample, &sample]).unwrap();
    let reply = post_metrics(&state, two).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json(), json!({"accepted": 2}));
    assert_eq!(rx.try_recv().expect("a batch queued").len(), 2);
    assert!(rx.try_recv().is_err());
}

async fn post_refused(body: String, field: &str) -> String {
    let (state, mut rx) = empty_state(HttpSettings::default(), 4);
    let reply = post_metrics(&state, body.clone()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.brief());
    assert_error_body(&reply, 400, "bad_request");
    let error = reply.json();
    assert_eq!(error["field"], field, "{body}: {error}");
    assert!(rx.try_recv().is_err(), "nothing is queued from a refused batch");
    error["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn invalid_samples_are_refused_naming_the_field() {
    let mut bad = sample_json().await;
    bad["buffering_ratio"] = json!(1.5);
    post_refused(bad.to_string(), "buffering_ratio").await;

    let mut bad = sample_json().await;
    bad["viewers"] = json!("many");
    let batch = json!([sample_json().await, bad]);
    post_refused(batch.to_string(), "[1].viewers").await;

    // A timestamp an hour ahead would make the store's retention, which
    // counts back from the newest sample, drop everything it holds.
    let mut future = sample_json().await;
    future["timestamp_ms"] = json!(num(&future["timestamp_ms"]) as i64 + 3_600_000);
    post_refused(future.to_string(), "timestamp_ms").await;

    let mut missing = sample_json().await;
    missing.as_object_mut().unwrap().remove("region");
    let message = post_refused(missing.to_string(), "region").await;
    assert!(message.contains("missing field"), "{message}");

    post_refused("{\"timestamp\": ".into(), "body").await;
    post_refused("not json at all".into(), "body").await;
    post_refused("42".into(), "body").await;
    post_refused("[]".into(), "body").await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let (state, mut rx) = empty_state(HttpSettings { max_body_bytes: 1_024, ..HttpSettings::default() }, 4);
    let batch = serde_json::to_string(&vec![fed().await.sample.clone(); 20]).unwrap();
    assert!(batch.len() > 1_024);
    let reply = post_metrics(&state, batch).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.brief());
    // Like every error: the JSON body, naming the field.
    assert_error_body(&reply, 413, "too_large");
    assert_eq!(reply.json()["field"], "body");
    assert!(reply.json()["message"].as_str().unwrap().contains("1024 bytes"), "{}", reply.brief());
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn a_full_queue_answers_429() {
    let (state, mut rx) = empty_state(HttpSettings::default(), 1);
    let one = serde_json::to_string(&fed().await.sample).unwrap();
    assert_eq!(post_metrics(&state, one.clone()).await.status, StatusCode::ACCEPTED);
    let reply = post_metrics(&state, one.clone()).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.brief());
    assert_error_body(&reply, 429, "too_busy");
    let text = get(&state, "/metrics/prometheus").await.text();
    assert!(text.contains("streammon_samples_rejected_total{reason=\"busy\"} 1"), "{text}");
    // Once the pipeline takes the batch, the next is accepted.
    rx.try_recv().expect("the first batch");
    assert_eq!(post_metrics(&state, one).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_stopping_server_refuses_samples_with_503_and_retry_after() {
    let (state, mut rx) = empty_state(HttpSettings::default(), 4);
    // What the pipeline does when it stops (or dies): it closes its queue.
    rx.close();
    let one = serde_json::to_string(&fed().await.sample).unwrap();
    let reply = post_metrics(&state, one).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.brief());
    assert_error_body(&reply, 503, "stopping");
    assert_eq!(reply.header(header::RETRY_AFTER), Some("2"));
    let text = get(&state, "/metrics/prometheus").await.text();
    assert!(text.contains("streammon_samples_rejected_total{reason=\"stopping\"} 1"), "{text}");
}

#[tokio::test]
async fn a_failed_pipeline_turns_health_503_naming_it_with_retry_after() {
    let (state, _rx) = empty_state(HttpSettings::default(), 4);
    let reply = get(&state, "/health").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    assert_eq!(reply.header(header::RETRY_AFTER), None);
    state.fail("the pipeline panicked: boom");
    let reply = get(&state, "/health").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.brief());
    assert_eq!(reply.header(header::RETRY_AFTER), Some("1"));
    let body = reply.json();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["problems"], json!(["pipeline failed: the pipeline panicked: boom"]));
    // Samples are refused from the moment it failed, though its queue is
    // still open: nobody would process them.
    let one = serde_json::to_string(&fed().await.sample).unwrap();
    let reply = post_metrics(&state, one).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.brief());
    assert_error_body(&reply, 503, "stopping");
    assert!(reply.header(header::RETRY_AFTER).is_some());
}

// -------------------------------------------------------------- GET /content

fn rows_of(body: &Value) -> &Vec<Value> {
    let rows = array(&body["contents"], "contents");
    assert_eq!(body["count"].as_u64(), Some(rows.len() as u64), "{body}");
    rows
}

#[tokio::test]
async fn content_lists_every_title_by_viewers() {
    let body = get_ok("/content").await;
    let rows = rows_of(&body);
    assert_eq!(body["total"], 48);
    assert_eq!(rows.len(), 48);
    let viewers: Vec<f64> = rows.iter().map(|r| num(&r["viewers"])).collect();
    assert!(viewers.windows(2).all(|w| w[0] >= w[1]), "not by viewers, descending: {viewers:?}");
    // Streaming titles name the rendition most of their viewers are on.
    for r in rows.iter().filter(|r| num(&r["viewers"]) > 0.0) {
        let rendition = r["rendition"].as_str().unwrap_or_else(|| panic!("no rendition: {r}"));
        let audio = r["content_type"] == "audio";
        assert_eq!(rendition.ends_with('k'), audio, "{} is {}: {rendition}", r["content_id"], r["content_type"]);
    }
    let body = get_ok("/content?limit=5").await;
    assert_eq!((body["total"].as_u64(), rows_of(&body).len()), (Some(48), 5));
}

#[tokio::test]
async fn content_filters_by_status_type_health_and_search() {
    let body = get_ok("/content?content_type=audio").await;
    let audio = rows_of(&body);
    assert!(!audio.is_empty() && audio.len() < 48);
    assert!(audio.iter().all(|r| r["content_type"] == "audio"), "{body}");
    assert_eq!(body["total"].as_u64(), Some(audio.len() as u64));

    let body = get_ok("/content?status=streaming").await;
    let streaming = rows_of(&body);
    assert!(!streaming.is_empty());
    assert!(streaming.iter().all(|r| ["available", "pre_show", "live"].contains(&r["status"].as_str().unwrap())));
    let body = get_ok("/content?status=available").await;
    assert!(!rows_of(&body).is_empty() && rows_of(&body).iter().all(|r| r["status"] == "available"));

    let all = get_ok("/content").await;
    for health in ["healthy", "degraded", "critical"] {
        let body = get_ok(&format!("/content?health={health}")).await;
        let expected = rows_of(&all).iter().filter(|r| r["health"] == health).count();
        assert_eq!(rows_of(&body).len(), expected, "health={health}");
        assert!(rows_of(&body).iter().all(|r| r["health"] == health));
    }

    // Case-insensitive search over id and title.
    let row = &rows_of(&all)[3];
    let title = row["title"].as_str().unwrap();
    let word = title.split_whitespace().next().unwrap().to_uppercase();
    let body = get_ok(&format!("/content?q={}", word.replace(' ', "+"))).await;
    let found = rows_of(&body);
    assert!(found.iter().any(|r| r["content_id"] == row["content_id"]), "q={word}: {body}");
    assert!(found.iter().all(|r| {
        r["title"].as_str().unwrap().to_uppercase().contains(&word)
            || r["content_id"].as_str().unwrap().to_uppercase().contains(&word)
    }));
    let id = row["content_id"].as_str().unwrap();
    let body = get_ok(&format!("/content?q={id}")).await;
    assert_eq!(rows_of(&body).len(), 1, "{body}");
    let body = get_ok("/content?q=no-such-title-anywhere").await;
    assert_eq!((body["total"].as_u64(), rows_of(&body).len()), (Some(0), 0));

    let body = get_ok("/content?content_type=video&status=available&limit=2").await;
    assert_eq!(rows_of(&body).len(), 2);
    assert!(rows_of(&body).iter().all(|r| r["content_type"] == "video" && r["status"] == "available"));
}

#[tokio::test]
async fn content_sorts_by_the_key_and_order_asked() {
    let body = get_ok("/content?sort=title&order=asc").await;
    let titles: Vec<&str> = rows_of(&body).iter().map(|r| r["title"].as_str().unwrap()).collect();
    assert!(titles.windows(2).all(|w| w[0] <= w[1]), "{titles:?}");
    let body = get_ok("/content?sort=buffering_ratio").await;
    let ratios: Vec<f64> = rows_of(&body).iter().map(|r| num(&r["buffering_ratio"])).collect();
    assert!(ratios.windows(2).all(|w| w[0] >= w[1]), "{ratios:?}");
    let body = get_ok("/content?sort=viewers&order=asc&limit=3").await;
    let viewers: Vec<f64> = rows_of(&body).iter().map(|r| num(&r["viewers"])).collect();
    let all = get_ok("/content").await;
    let least = rows_of(&all).iter().map(|r| num(&r["viewers"])).fold(f64::INFINITY, f64::min);
    assert_eq!(viewers[0], least);
    assert!(viewers.windows(2).all(|w| w[0] <= w[1]), "{viewers:?}");
}

#[tokio::test]
async fn content_detail_has_one_row_per_region_and_unknown_ids_are_404() {
    let fed = fed().await;
    let id = fed.sample.content_id.as_str();
    let body = get_ok(&format!("/content/{id}")).await;
    assert_eq!(body["content"]["content_id"], id);
    let last_seen = body["content"]["last_seen_ms"].clone();
    let regions = array(&body["regions"], "regions");
    assert_eq!(regions.len(), 10, "{body}");
    let mut names: Vec<&str> = regions.iter().map(|r| r["region"].as_str().unwrap()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), regions.len(), "one row per region: {names:?}");
    assert!(names.contains(&INCIDENT_REGION));
    assert!(regions.iter().all(|r| r["content_id"] == id && r["timestamp_ms"] == last_seen), "{body}");
    assert!(body["alerts"].is_array() && body["anomalies"].is_array());

    let reply = get(&fed.state, "/content/vod-999999").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_error_body(&reply, 404, "not_found");
    assert!(reply.json()["message"].as_str().unwrap().contains("vod-999999"));
}

// ------------------------------------------------------------ GET /analytics

#[tokio::test]
async fn a_title_detail_lists_a_wide_alert_beyond_its_sampled_series() {
    let alerts = get_ok("/alerts?state=firing").await;
    let wide = array(&alerts["alerts"], "alerts")
        .iter()
        .find(|a| num(&a["series_count"]) as usize > array(&a["series"], "series").len())
        .unwrap_or_else(|| panic!("no alert with more series than it samples: {alerts}"));
    let (id, sampled) = (wide["id"].as_str().unwrap(), array(&wide["series"], "series").len());
    // A title's health follows the firing alerts that name it (grouped by
    // it, or naming it as their cause), not every alert it is part of: a
    // region's alert does not turn each of its titles red.
    let named: std::collections::BTreeSet<&str> = array(&alerts["alerts"], "alerts")
        .iter()
        .flat_map(|a| {
            let cause = (a["cause"]["dimension"] == "content").then(|| a["cause"]["value"].as_str()).flatten();
            [a["group"]["content"].as_str(), cause]
        })
        .flatten()
        .collect();
    let contents = get_ok("/content?limit=1000").await;
    let mut listing = 0;
    for row in rows_of(&contents) {
        let content_id = row["content_id"].as_str().unwrap();
        let detail = get_ok(&format!("/content/{content_id}")).await;
        let lists = array(&detail["alerts"], "alerts").iter().any(|a| a["id"] == id);
        listing += usize::from(lists);
        let healthy = detail["content"]["health"] == "healthy";
        assert_eq!(
            healthy,
            !named.contains(content_id),
            "{content_id}: {}; firing alerts name {named:?}",
            detail["content"]
        );
    }
    assert!(
        listing > sampled,
        "{listing} titles list {id}, which samples {sampled} of {} series",
        wide["series_count"]
    );
}

#[tokio::test]
async fn analytics_has_anomalies_forecasts_and_detector_stats() {
    let fed = fed().await;
    let body = get_ok("/analytics").await;
    let anomalies = array(&body["anomalies"], "anomalies");
    assert_eq!(anomalies.len(), 100, "the default limit");
    let times: Vec<f64> = anomalies.iter().map(|a| num(&a["timestamp_ms"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    assert!(anomalies.iter().all(|a| a["kind"] == "anomaly" && num(&a["score"]) >= 0.5), "{body}");

    // Forecasts: an hour of one-minute steps is enough for every region.
    let forecasts = array(&body["forecasts"], "forecasts");
    assert_eq!(forecasts.len(), 10, "{body}");
    for f in forecasts {
        assert!(!array(&f["forecast"], "forecast").is_empty(), "{f}");
        assert!(num(&f["capacity_mbps"]) > 0.0 && num(&f["bandwidth_mbps"]) > 0.0, "{f}");
    }
    assert!(!array(&body["audience"]["forecast"], "audience").is_empty(), "{body}");
    assert!(body["predictions"].is_array());

    let d = &body["detectors"];
    assert_eq!(d["ticks"], TICKS);
    assert!(num(&d["anomalies"]) >= 100.0 && num(&d["detector_series"]) > 0.0, "{d}");
    assert!(num(&d["alerts_fired"]) >= 1.0, "{d}");

    // The incident's region has anomalies, and the filters hold.
    let body = get_ok(&format!("/analytics?region={INCIDENT_REGION}&limit=1000")).await;
    let ours = array(&body["anomalies"], "anomalies");
    assert!(!ours.is_empty(), "no anomaly in {INCIDENT_REGION}");
    assert!(ours.iter().all(|a| a["scope"]["region"] == INCIDENT_REGION));
    let body = get_ok("/analytics?limit=3").await;
    assert_eq!(array(&body["anomalies"], "anomalies").len(), 3);
    let since = fed.last_ms - 2 * STEP_MS;
    let body = get_ok(&format!("/analytics?since={since}&limit=1000")).await;
    assert!(array(&body["anomalies"], "anomalies").iter().all(|a| num(&a["timestamp_ms"]) > since as f64));
    let content = ours[0]["scope"]["content_id"].as_str().unwrap();
    let body = get_ok(&format!("/analytics?content={content}")).await;
    let theirs = array(&body["anomalies"], "anomalies");
    assert!(!theirs.is_empty() && theirs.iter().all(|a| a["scope"]["content_id"] == content));
}

#[tokio::test]
async fn breakdown_ranks_the_incident_region_first() {
    for by in ["region", "cdn"] {
        let body = get_ok(&format!("/analytics/breakdown?metric=buffering_ratio&by={by}")).await;
        assert_eq!(body["dimension"], "region");
        assert_eq!(body["metric"], "buffering_ratio");
        assert_eq!(body["higher_is_worse"], true);
        let rows = array(&body["rows"], "rows");
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[0]["value"], INCIDENT_REGION, "by={by}: {body}");
        assert!(num(&rows[0]["impact"]) > 0.0 && num(&rows[0]["impact_share"]) > 0.5, "{}", rows[0]);
        assert!(num(&rows[0]["mean"]) > 2.0 * num(&rows[0]["rest_mean"]), "{}", rows[0]);
        let impacts: Vec<f64> = rows.iter().map(|r| num(&r["impact"])).collect();
        assert!(impacts.windows(2).all(|w| w[0] >= w[1]), "{impacts:?}");
        let share: f64 = rows.iter().map(|r| num(&r["viewer_share"])).sum();
        assert!((share - 1.0).abs() < 1e-6, "{share}");
    }
    // Over an explicit window inside the incident, and other metrics it moves.
    let body = get_ok("/analytics/breakdown?metric=buffering_ratio&by=region&from=20m&to=1m").await;
    assert_eq!(num(&body["to_ms"]) - num(&body["from_ms"]), 19.0 * 60_000.0);
    assert_eq!(body["rows"][0]["value"], INCIDENT_REGION, "{body}");
    let body = get_ok("/analytics/breakdown?metric=bitrate_kbps&by=region&from=15m").await;
    assert_eq!(body["higher_is_worse"], false);
    assert_eq!(body["rows"][0]["value"], INCIDENT_REGION, "{body}");
    let body = get_ok("/analytics/breakdown?metric=buffering_ratio&by=region&limit=2").await;
    assert_eq!(array(&body["rows"], "rows").len(), 2);
    // Restricted to the incident region, it is the only row.
    let body = get_ok(&format!("/analytics/breakdown?metric=buffering_ratio&by=region&region={INCIDENT_REGION}")).await;
    assert_eq!(array(&body["rows"], "rows").len(), 1);
}

#[tokio::test]
async fn breakdown_by_rendition_and_content_type() {
    let body = get_ok("/analytics/breakdown?metric=buffering_ratio&by=rendition&from=10m").await;
    assert_eq!(body["dimension"], "rendition");
    let rows = array(&body["rows"], "rows");
    assert!(rows.len() >= 3, "{body}");
    assert!(rows.iter().all(|r| r["value"].as_str().is_some_and(|v| v.ends_with('p') || v.ends_with('k'))), "{body}");
    let body = get_ok("/analytics/breakdown?metric=startup_time_ms&by=content_type").await;
    assert_eq!(body["dimension"], "content_type");
    let values: Vec<&str> = array(&body["rows"], "rows").iter().map(|r| r["value"].as_str().unwrap()).collect();
    assert!(!values.is_empty() && values.iter().all(|v| ["video", "audio", "live"].contains(v)), "{values:?}");
}

#[tokio::test]
async fn distribution_gives_ordered_quantiles_and_bins() {
    let body = get_ok("/analytics/distribution").await;
    let d = &body["distribution"];
    assert_eq!(d["metric"], "startup_time_ms");
    let (min, median, p95, p99, max) =
        (num(&d["min"]), num(&d["median"]), num(&d["p95"]), num(&d["p99"]), num(&d["max"]));
    assert!(min <= median && median <= p95 && p95 <= p99 && p99 <= max, "{d}");
    assert!(median > 0.0 && num(&d["samples"]) > 0.0, "{d}");
    let bins = array(&d["bins"], "bins");
    assert_eq!(bins.len(), 30);
    let share: f64 = bins.iter().map(|b| num(&b["share"])).sum();
    assert!((share - 1.0).abs() < 1e-6, "{share}");

    let body = get_ok(&format!("/analytics/distribution?metric=latency_ms&bins=7&region={INCIDENT_REGION}")).await;
    assert_eq!(body["distribution"]["metric"], "latency_ms");
    assert_eq!(array(&body["distribution"]["bins"], "bins").len(), 7);

    // A window before the first tick holds no sample.
    let fed = fed().await;
    let (from, to) = (fed.first_ms - 600_000, fed.first_ms - 300_000);
    let body = get_ok(&format!("/analytics/distribution?from={from}&to={to}")).await;
    assert_eq!(body["distribution"], Value::Null, "{body}");
    assert_eq!((body["from_ms"].as_i64(), body["to_ms"].as_i64()), (Some(from), Some(to)));
}

// --------------------------------------------------------------- GET /alerts

#[tokio::test]
async fn alerts_name_the_incident_region() {
    let body = get_ok("/alerts").await;
    let alerts = array(&body["alerts"], "alerts");
    let ours = alerts
        .iter()
        .find(|a| {
            a["group"]["region"] == INCIDENT_REGION && a["group"]["content"].is_null() && a["rule"] == "viewers_hurt"
        })
        .unwrap_or_else(|| panic!("no viewers_hurt alert for {INCIDENT_REGION}: {body}"));
    let moved: Vec<&str> = array(&ours["metrics"], "metrics").iter().filter_map(|m| m["metric"].as_str()).collect();
    assert!(moved.contains(&"buffering_ratio"), "the CDN degradation's buffering is named: {ours}");
    assert_eq!(
        (ours["cause"]["dimension"].as_str(), ours["cause"]["value"].as_str()),
        (Some("region"), Some(INCIDENT_REGION))
    );
    assert_eq!(ours["state"], "firing", "{ours}");
    assert!(ours["summary"].as_str().unwrap().contains(INCIDENT_REGION), "{ours}");
    let started: Vec<f64> = alerts.iter().map(|a| num(&a["started_ms"])).collect();
    assert!(started.windows(2).all(|w| w[0] >= w[1]), "newest first: {started:?}");
    let events = array(&body["events"], "events");
    assert!(
        events.iter().any(|e| e["kind"] == "alert" && e["state"] == "firing" && e["alert_id"] == ours["id"]),
        "{body}"
    );

    let firing = get_ok("/alerts?state=firing").await;
    let firing = array(&firing["alerts"], "alerts");
    assert!(firing.iter().all(|a| a["state"] == "firing"));
    assert!(firing.iter().any(|a| a["id"] == ours["id"]));
    for state in ["pending", "resolved"] {
        let body = get_ok(&format!("/alerts?state={state}")).await;
        assert!(array(&body["alerts"], "alerts").iter().all(|a| a["state"] == state), "{body}");
    }
    let body = get_ok("/alerts?limit=1").await;
    assert_eq!(array(&body["alerts"], "alerts").len(), 1);
    assert!(array(&body["events"], "events").len() <= 1);
}

// --------------------------------------------------- /openapi.json and /docs

#[tokio::test]
async fn every_documented_503_and_429_documents_retry_after() {
    let doc = get_ok("/openapi.json").await;
    let mut with_503 = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for status in ["429", "503"] {
                let Some(response) = op["responses"].get(status) else { continue };
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{method} {path} {status} does not document Retry-After: {response}"
                );
                if status == "503" {
                    with_503.push(format!("{method} {path}"));
                }
            }
        }
    }
    for op in [
        "get /",
        "get /health",
        "get /metrics",
        "post /metrics",
        "get /analytics/breakdown",
        "get /analytics/distribution",
        "post /cmcd",
    ] {
        assert!(with_503.iter().any(|o| o == op), "{op} does not document its 503: {with_503:?}");
    }
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let doc = get_ok("/openapi.json").await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "streammon");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/", "get"),
        ("/health", "get"),
        ("/metrics", "get"),
        ("/metrics", "post"),
        ("/metrics/prometheus", "get"),
        ("/content", "get"),
        ("/content/{id}", "get"),
        ("/analytics", "get"),
        ("/analytics/breakdown", "get"),
        ("/analytics/distribution", "get"),
        ("/alerts", "get"),
        ("/alerts/{id}/ack", "post"),
        ("/alerts/{id}/unack", "post"),
        ("/alerts/test", "post"),
        ("/silences", "get"),
        ("/silences", "post"),
        ("/silences/{id}", "delete"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from the document");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    let reply = get(&fed().await.state, "/docs").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header(header::CONTENT_TYPE).unwrap_or_default().starts_with("text/html"));
    assert!(reply.text().to_lowercase().contains("<html"), "{}", reply.brief());
}

/// Issue 16: routes are registered with their documentation (utoipa-axum's
/// `routes!`), so every documented operation is routed: none falls through
/// to the 404 of an unknown path or the 405 of a method the path lacks.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let (state, _rx) = empty_state(settings(), 1);
    let served = get(&state, "/openapi.json").await.json();
    assert_eq!(served, serde_json::to_value(streammon_http::openapi()).unwrap(), "/openapi.json is the router's");
    let mut operations = 0;
    for (path, item) in served["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let uri = path.replace("{id}", "vod-000001");
            let request = Request::builder().method(method.to_uppercase().as_str()).uri(&uri);
            let reply = send(&state, request.body(Body::empty()).unwrap()).await;
            assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {}", reply.brief());
            let unrouted = reply.status == StatusCode::NOT_FOUND
                && reply.json()["message"].as_str().is_some_and(|m| m.starts_with("no endpoint at"));
            assert!(!unrouted, "{method} {path} is documented but not routed: {}", reply.brief());
            operations += 1;
        }
    }
    // 16 before issue 17, which added ack, unack, test, and the silences'
    // list, create and expire.
    assert_eq!(operations, 22, "{served}");
    let unknown = send(&state, Request::delete("/content").body(Body::empty()).unwrap()).await;
    assert_eq!(unknown.status, StatusCode::METHOD_NOT_ALLOWED, "the check can fail: {}", unknown.brief());
}

// --------------------------------------------------------------- dashboard

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn browse(state: &streammon_http::AppState, uri: &str) -> Reply {
    send(state, Request::get(uri).header(header::ACCEPT, BROWSER_ACCEPT).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn browsers_get_the_dashboard_at_root_and_everyone_else_the_health_json() {
    let build = tempfile::tempdir().unwrap();
    std::fs::create_dir(build.path().join("assets")).unwrap();
    std::fs::write(
        build.path().join("index.html"),
        "<!doctype html><div id=\"root\"></div><script src=\"/assets/index-1a2b.js\"></script>",
    )
    .unwrap();
    std::fs::write(build.path().join("assets/index-1a2b.js"), "console.log('streammon')").unwrap();
    std::fs::write(build.path().join("favicon.svg"), "<svg/>").unwrap();
    let dashboard = streammon_http::Dashboard::new(build.path());
    assert!(dashboard.has_index());
    let settings = HttpSettings { dashboard: Some(std::sync::Arc::new(dashboard)), ..settings() };
    let (state, _rx) = empty_state(settings, 1);

    let page = browse(&state, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header(header::CONTENT_TYPE), Some("text/html"));
    assert!(page.text().contains("id=\"root\""), "{}", page.brief());
    assert_eq!(page.header(header::CACHE_CONTROL), Some("no-cache"));
    // The page is revalidated, by its ETag, at `/` too.
    let etag = page.header(header::ETAG).expect("an etag").to_owned();
    let request = Request::get("/").header(header::ACCEPT, BROWSER_ACCEPT).header(header::IF_NONE_MATCH, etag);
    assert_eq!(send(&state, request.body(Body::empty()).unwrap()).await.status, StatusCode::NOT_MODIFIED);

    // The health report is unchanged for load balancers, curl and fetch.
    for accept in [None, Some("*/*"), Some("application/json")] {
        let mut request = Request::get("/");
        if let Some(a) = accept {
            request = request.header(header::ACCEPT, a);
        }
        let reply = send(&state, request.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"), "Accept {accept:?}");
        assert!(reply.json()["status"].is_string(), "Accept {accept:?}: {}", reply.brief());
    }
    let health = browse(&state, "/health").await;
    assert_eq!(health.header(header::CONTENT_TYPE), Some("application/json"), "/health is JSON even to a browser");
    assert!(health.json()["pipeline"].is_object());

    let js = get(&state, "/assets/index-1a2b.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.header(header::CONTENT_TYPE), Some("text/javascript"));
    assert!(js.header(header::CACHE_CONTROL).is_some_and(|c| c.contains("immutable")));
    let etag = js.header(header::ETAG).expect("an etag").to_owned();
    let again = send(
        &state,
        Request::get("/assets/index-1a2b.js").header(header::IF_NONE_MATCH, etag).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(get(&state, "/favicon.svg").await.header(header::CONTENT_TYPE), Some("image/svg+xml"));

    // API paths are never shadowed, and a missing asset is the JSON 404.
    let missing = get(&state, "/assets/gone.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_error_body(&missing, 404, "not_found");
    let post = send(&state, Request::post("/assets/index-1a2b.js").body(Body::empty()).unwrap()).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND, "files are only read");
    let content = browse(&state, "/content").await;
    assert_eq!(content.header(header::CONTENT_TYPE), Some("application/json"));
}

#[tokio::test]
async fn without_a_build_a_browser_is_told_how_to_build_the_dashboard() {
    let (state, _rx) = empty_state(settings(), 1);
    let page = browse(&state, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header(header::CONTENT_TYPE).is_some_and(|c| c.starts_with("text/html")));
    assert!(page.text().contains("npm --prefix dashboard ci"), "{}", page.brief());
    assert!(page.text().contains("/docs"));
    let reply = get(&state, "/assets/index.js").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

// ------------------------------------------------------------ bad requests

#[tokio::test]
async fn unknown_and_repeated_parameters_are_refused() {
    bad_request("/metrics?limt=5", "limt").await;
    bad_request("/content?colour=red", "colour").await;
    bad_request("/analytics?regions=eu-west", "regions").await;
    bad_request("/analytics/breakdown?metric=buffering_ratio&by=region&step=1m", "step").await;
    bad_request("/analytics/distribution?limit=5", "limit").await;
    let message = bad_request("/alerts?status=firing", "status").await;
    assert!(message.contains("state"), "names what it takes: {message}");
    bad_request("/metrics?limit=1&limit=2", "limit").await;
    bad_request("/content?q=a&q=b", "q").await;
    bad_request("/metrics?detail=everything", "detail").await;
    bad_request("/metrics?metric=latency_ms&detail=full", "detail").await;
}

#[tokio::test]
async fn limits_must_be_whole_numbers_in_range() {
    let message = bad_request("/metrics?limit=1O", "limit").await;
    assert!(message.contains("\"1O\" is not a whole number"), "{message}");
    bad_request("/metrics?limit=-1", "limit").await;
    bad_request("/metrics?limit=0", "limit").await;
    bad_request("/metrics?limit=3601", "limit").await;
    bad_request("/metrics?metric=latency_ms&limit=100001", "limit").await;
    bad_request("/content?limit=10001", "limit").await;
    bad_request("/content?limit=ten", "limit").await;
    bad_request("/analytics?limit=1001", "limit").await;
    bad_request("/alerts?limit=0", "limit").await;
    bad_request("/analytics/breakdown?metric=buffering_ratio&by=region&limit=0", "limit").await;
    bad_request("/analytics/distribution?bins=0", "bins").await;
    bad_request("/analytics/distribution?bins=1001", "bins").await;
}

#[tokio::test]
async fn times_and_ranges_are_checked() {
    let message = bad_request("/metrics?since=yesterday", "since").await;
    assert!(message.contains("RFC 3339"), "{message}");
    bad_request("/analytics?since=soon", "since").await;
    bad_request("/metrics?metric=latency_ms&from=noon", "from").await;
    // `since` belongs to the history: a series refuses it rather than
    // ignoring it, valid or not.
    let message = bad_request("/metrics?metric=latency_ms&since=garbage", "since").await;
    assert!(message.contains("`from`"), "{message}");
    bad_request("/metrics?metric=latency_ms&from=10m&since=5m", "since").await;
    bad_request("/metrics?metric=latency_ms&to=2026-13-45T00:00:00Z", "to").await;
    // `from` must be before `to`.
    bad_request("/metrics?metric=latency_ms&from=5m&to=10m", "from").await;
    bad_request("/metrics?metric=latency_ms&from=1000&to=1000", "from").await;
    bad_request("/analytics/breakdown?metric=buffering_ratio&by=region&from=1m&to=2m", "from").await;
    // At most a day.
    let message = bad_request("/metrics?metric=latency_ms&from=25h", "from").await;
    assert!(message.contains("at most 86400 s"), "{message}");
    bad_request("/analytics/distribution?from=2d", "from").await;
    // Steps: a duration, positive, and not too many buckets.
    bad_request("/metrics?metric=latency_ms&step=often", "step").await;
    bad_request("/metrics?metric=latency_ms&step=0s", "step").await;
    let message = bad_request("/metrics?metric=latency_ms&from=24h&step=100ms", "step").await;
    assert!(message.contains("864000 buckets"), "{message}");
}

#[tokio::test]
async fn metrics_dimensions_and_enums_are_checked() {
    let message = bad_request("/metrics?metric=happiness", "metric").await;
    assert!(message.contains("happiness"), "{message}");
    bad_request("/metrics?region=eu-west", "metric").await;
    bad_request("/analytics/breakdown?by=region", "metric").await;
    bad_request("/analytics/breakdown?metric=joy&by=region", "metric").await;
    bad_request("/analytics/breakdown?metric=buffering_ratio", "by").await;
    let message = bad_request("/analytics/breakdown?metric=buffering_ratio&by=planet", "by").await;
    assert!(message.contains("rendition"), "lists the dimensions: {message}");
    bad_request("/analytics/distribution?metric=mood", "metric").await;
    bad_request("/content?status=playing", "status").await;
    bad_request("/content?content_type=film", "content_type").await;
    bad_request("/content?health=fine", "health").await;
    bad_request("/content?sort=popularity", "sort").await;
    bad_request("/content?order=up", "order").await;
    bad_request("/alerts?state=open", "state").await;
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let reply = get(&fed().await.state, "/nothing/here").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_error_body(&reply, 404, "not_found");
    assert!(reply.json()["message"].as_str().unwrap().contains("/nothing/here"));
    assert!(reply.json().get("field").is_none());
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_405_json() {
    let state = &fed().await.state;
    let reply = send(state, Request::delete("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_body(&reply, 405, "method_not_allowed");
    assert_eq!(reply.header(header::ALLOW), Some("GET,HEAD,POST"));
    let reply = send(state, Request::post("/alerts").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_body(&reply, 405, "method_not_allowed");
    assert!(reply.json()["message"].as_str().unwrap().contains("/alerts"), "{}", reply.brief());
}

// -------------------------------------------------------------------- CORS

#[tokio::test]
async fn cors_allows_the_configured_origin_only() {
    let state = &fed().await.state;
    let request = Request::get("/alerts").header(header::ORIGIN, ALLOWED_ORIGIN).body(Body::empty()).unwrap();
    let reply = send(state, request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(ALLOWED_ORIGIN));

    let preflight = Request::options("/metrics")
        .header(header::ORIGIN, ALLOWED_ORIGIN)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Body::empty())
        .unwrap();
    let reply = send(state, preflight).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(ALLOWED_ORIGIN));
    let methods = reply.header(header::ACCESS_CONTROL_ALLOW_METHODS).unwrap_or_default();
    assert!(methods.contains("POST") && methods.contains("GET"), "{methods}");
    // An allowed page may expire a silence (issue 17).
    assert!(methods.contains("DELETE"), "{methods}");

    let request = Request::get("/alerts").header(header::ORIGIN, "https://evil.example").body(Body::empty()).unwrap();
    let reply = send(state, request).await;
    assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), None);

    // `*` allows any origin.
    let (open, _rx) = empty_state(HttpSettings::default(), 1);
    let request = Request::get("/").header(header::ORIGIN, "https://anywhere.example").body(Body::empty()).unwrap();
    assert_eq!(send(&open, request).await.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
}

// ------------------------------------------ GET /metrics?scope=… (roll-ups)

#[tokio::test]
async fn scope_series_come_from_rollups_at_the_coarsest_resolution_that_fills_the_steps() {
    use streammon_core::rollup::{Figure, Resolution, Rollup, RollupScope};
    let (state, _rx) = empty_state(HttpSettings::default(), 1);
    let now = now_ms();
    let minute = Resolution::Minute.ms();
    let first = (now / minute - 1_440) * minute;
    let row = |scope: &RollupScope, resolution: Resolution, start_ms: i64, v: f64| Rollup {
        scope: scope.clone(),
        resolution,
        start_ms,
        ticks: 60,
        figures: [Figure([v, v - 1.0, v + 1.0]); 8],
    };
    let (service, region) = (RollupScope::Service, "region:eu-west".parse::<RollupScope>().unwrap());
    let mut rows: Vec<Rollup> = Vec::new();
    for i in 0..1_440 {
        rows.push(row(&service, Resolution::Minute, first + i * minute, i as f64));
        rows.push(row(&region, Resolution::Minute, first + i * minute, 1_000.0 + i as f64));
    }
    let hour = Resolution::Hour.ms();
    for i in 0..(7 * 24) {
        rows.push(row(&service, Resolution::Hour, (now / hour - 7 * 24 + i) * hour, i as f64));
    }
    state.store().append_rollups(&rows).await.unwrap();

    // A day at minute resolution: every minute of it.
    let from = first;
    let body = get(&state, &format!("/metrics?metric=viewers&scope=service&from={from}&step=1m")).await.json();
    assert_eq!(body["resolution"], "1m", "{body}");
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["scope"], "service");
    assert!(series[0].get("content_id").is_none() && series[0].get("region").is_none());
    let buckets = series[0]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 1_440, "the whole day at minute resolution");
    assert_eq!((buckets[10]["mean"].as_f64(), buckets[10]["count"].as_u64()), (Some(10.0), Some(60)));

    // Six-minute steps still come from minutes (hours could not fill
    // them): each the mean of its six.
    let body =
        get(&state, &format!("/metrics?metric=latency_ms&scope=region:eu-west&from={from}&step=6m")).await.json();
    assert_eq!(body["resolution"], "1m");
    let buckets = body["series"][0]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 240);
    assert_eq!(buckets[0]["mean"].as_f64(), Some(1_002.5));
    assert_eq!((buckets[0]["min"].as_f64(), buckets[0]["max"].as_f64()), (Some(999.0), Some(1_006.0)));
    assert_eq!(buckets[0]["count"], 360);

    // A week in 3-hour steps: hours.
    let body = get(&state, "/metrics?metric=viewers&scope=service&from=7d&step=3h").await.json();
    assert_eq!(body["resolution"], "1h", "{body}");
    let buckets = body["series"][0]["buckets"].as_array().unwrap();
    assert!((55..=57).contains(&buckets.len()), "{}", buckets.len());

    // Defaults: the last 24 hours by the minute.
    let body = get(&state, "/metrics?metric=viewers&scope=service").await.json();
    assert_eq!((body["resolution"].as_str(), body["step_ms"].as_i64()), (Some("1m"), Some(minute)));

    // A range from the start of time, in steps that make few buckets.
    let body = get(&state, "/metrics?metric=viewers&scope=service&from=0&step=100000d").await.json();
    assert_eq!(body["resolution"], "1h", "{body}");

    // A scope with no roll-ups: no series, not an error.
    let body = get(&state, "/metrics?metric=viewers&scope=type:live").await.json();
    assert_eq!(body["series"], json!([]));

    for (uri, field) in [
        ("/metrics?metric=viewers&scope=service&step=15s", "step"),
        ("/metrics?metric=viewers&scope=planet:mars", "scope"),
        ("/metrics?metric=joins&scope=service", "metric"),
        ("/metrics?metric=viewers&scope=service&region=eu-west", "region"),
        ("/metrics?metric=viewers&scope=service&content=vod-000001", "content"),
        ("/metrics?metric=viewers&scope=service&from=1h&to=2h", "from"),
        ("/metrics?metric=viewers&scope=service&from=-9223372036854775808&to=9223372036854775807", "from"),
        ("/metrics?metric=viewers&scope=service&from=0&step=1m", "step"),
    ] {
        let reply = get(&state, uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}: {}", reply.brief());
        assert_eq!(reply.json()["field"], field, "{uri}");
    }
}
