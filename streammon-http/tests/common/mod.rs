//! A server state fed the way `streammon serve` feeds it: the simulator,
//! through the real pipeline, into a memory store, published tick by tick;
//! and requests sent to the router with `oneshot`, no socket.

#![allow(dead_code)] // each test binary uses a part of the harness

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use streammon_core::pipeline::{Pipeline, PipelineConfig, TickOutput};
use streammon_core::{Frame, IncidentConfig, MemoryStore, Sample, SimConfig, Simulator, Span, Store};
use streammon_http::{AppState, HttpSettings, Hub, Ingest, Publisher, Telemetry};
use tokio::sync::{OnceCell, mpsc};

/// Simulated time per tick: ten seconds, so an hour of history is a few
/// hundred ticks and the one-minute forecast step fills quickly.
pub(crate) const STEP_MS: i64 = 10_000;
/// Ticks simulated: one hour.
pub(crate) const TICKS: i64 = 360;
/// The region the scripted incident degrades.
pub(crate) const INCIDENT_REGION: &str = "eu-west";
/// A CDN degradation from 35 minutes in, lasting past the end of the
/// simulation, so it is in every default window ("the last 5 minutes").
pub(crate) const INCIDENT: &str = "cdn_degradation:eu-west@35m+40m*1.0";
/// The origin the settings allow by CORS.
pub(crate) const ALLOWED_ORIGIN: &str = "https://dash.example.com";

/// The shared, fully fed server state.
#[derive(Debug)]
pub(crate) struct Fed {
    /// The state behind the router.
    pub(crate) state: AppState,
    /// Where accepted client samples arrive; held so the queue stays open.
    pub(crate) _ingest_rx: Mutex<mpsc::Receiver<Vec<Sample>>>,
    /// Timestamp of the first tick, epoch ms.
    pub(crate) first_ms: i64,
    /// Timestamp of the last tick, epoch ms.
    pub(crate) last_ms: i64,
    /// A sample of the last tick, to post back or look up.
    pub(crate) sample: Sample,
}

/// Wall-clock time, epoch ms.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Settings of the shared state: the defaults, with one CORS origin.
pub(crate) fn settings() -> HttpSettings {
    HttpSettings { cors_origins: vec![ALLOWED_ORIGIN.to_owned()], ..HttpSettings::default() }
}

/// A state over an empty memory store with `settings` and an ingest queue
/// of `queue` batches, and the queue's receiver.
pub(crate) fn empty_state(settings: HttpSettings, queue: usize) -> (AppState, mpsc::Receiver<Vec<Sample>>) {
    let (ingest, rx) = Ingest::channel(queue);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    (AppState::new(store, Arc::new(Telemetry::new()), ingest, settings, "simulator"), rx)
}

/// One tick of `streammon serve`'s loop: process, store, publish.
pub(crate) async fn tick(
    pipeline: &mut Pipeline,
    publisher: &mut Publisher,
    state: &AppState,
    frame: &Frame,
    out: &mut TickOutput,
) {
    let step = frame.samples.first().map_or(STEP_MS as u32, |s| s.interval_ms);
    pipeline.process_parts(frame.timestamp_ms, step, &frame.samples, &frame.changes, out);
    let store = state.store();
    store.append(&frame.samples).await.expect("append samples");
    for event in &out.alert_events {
        store.put_alert(&event.alert).await.expect("put alert");
    }
    for change in &out.changes {
        store.put_content_status(change).await.expect("put content status");
    }
    publisher.publish(pipeline, out, &frame.samples, false);
}

/// The state fed with the hour of ticks ending at about `end_ms`.
pub(crate) async fn feed_until(end_ms: i64) -> Fed {
    let (state, ingest_rx) = empty_state(settings(), 4);
    let sim = SimConfig {
        seed: 11,
        titles: 48,
        step: Span::from_millis(STEP_MS as u64),
        // The last tick ends at about `end_ms`, on the tick grid.
        start_ms: (end_ms - TICKS * STEP_MS) / STEP_MS * STEP_MS,
        incidents: IncidentConfig { scripted: vec![INCIDENT.parse().expect("incident")], ..IncidentConfig::default() },
        ..SimConfig::default()
    };
    let mut simulator = Simulator::new(sim).expect("simulator");
    let mut pipeline = Pipeline::new(&PipelineConfig::default()).expect("pipeline");
    for region in simulator.regions() {
        pipeline.set_capacity(region.id.clone(), region.capacity_gbps * 1_000.0);
    }
    let mut publisher = Publisher::new(state.clone(), None);
    let (mut frame, mut out) = (Frame::default(), TickOutput::default());
    let mut first_ms = None;
    for _ in 0..TICKS {
        simulator.step(&mut frame);
        first_ms.get_or_insert(frame.timestamp_ms);
        tick(&mut pipeline, &mut publisher, &state, &frame, &mut out).await;
    }
    let sample = frame
        .samples
        .iter()
        .find(|s| s.region.as_str() != INCIDENT_REGION && s.viewers > 0)
        .expect("a stream with viewers")
        .clone();
    Fed {
        state,
        _ingest_rx: Mutex::new(ingest_rx),
        first_ms: first_ms.unwrap_or(0),
        last_ms: frame.timestamp_ms,
        sample,
    }
}

/// The shared state, fed once per test binary.
pub(crate) async fn fed() -> &'static Fed {
    static FED: OnceCell<Fed> = OnceCell::const_new();
    FED.get_or_init(|| feed_until(now_ms())).await
}

/// A response, its body read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The start of the body, for failure messages.
    pub(crate) fn brief(&self) -> String {
        self.text().chars().take(600).collect()
    }

    /// A header as text, if present.
    pub(crate) fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `request` to a fresh router over `state`.
pub(crate) async fn send(state: &AppState, request: Request<Body>) -> Reply {
    use tower::ServiceExt;
    let (layer, _hub) = Hub::new(state.clone());
    let response = streammon_http::router(state.clone(), layer).oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply { status, headers, body }
}

/// `GET uri`.
pub(crate) async fn get(state: &AppState, uri: &str) -> Reply {
    send(state, Request::get(uri).body(Body::empty()).expect("request")).await
}

/// `GET uri` on the fed state, expecting 200 and JSON.
pub(crate) async fn get_ok(uri: &str) -> Value {
    let reply = get(&fed().await.state, uri).await;
    assert_eq!(reply.status, StatusCode::OK, "GET {uri}: {}", reply.brief());
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"), "GET {uri}");
    reply.json()
}

/// `GET uri` on the fed state, expecting a 400 naming `field`; returns the
/// message.
pub(crate) async fn bad_request(uri: &str, field: &str) -> String {
    let reply = get(&fed().await.state, uri).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "GET {uri}: {}", reply.brief());
    assert_error_body(&reply, 400, "bad_request");
    let body = reply.json();
    assert_eq!(body["field"], field, "GET {uri}: {body}");
    body["message"].as_str().expect("message").to_owned()
}

/// Checks the shape of an error body: `status`, `error` and a message.
pub(crate) fn assert_error_body(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// `POST /metrics` with `body` (sent as is) to `state`.
pub(crate) async fn post_metrics(state: &AppState, body: impl Into<Body>) -> Reply {
    let request =
        Request::post("/metrics").header(header::CONTENT_TYPE, "application/json").body(body.into()).expect("request");
    send(state, request).await
}
