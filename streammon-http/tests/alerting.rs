//! Issue 17: acknowledgements, silences and test notifications over the
//! REST API, driven with `oneshot` against the router: who may act, what
//! is recorded, what `/alerts` then says, and what reaches the notifier.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use streammon_core::alert::{Ack, AlertEvent, AlertSeries, GroupKey};
use streammon_core::{Alert, AlertState, Metric, Severity};
use streammon_http::{AlertSink, AppState, AuthSettings, DestinationStats, HttpSettings, TestOutcome, Token};

use common::*;

const ADMIN: &str = "admin-token-0123456789";
const INGEST: &str = "ingest-token-0123456789";
const READ: &str = "read-token-0123456789ab";

fn alert(id: &str, region: &str, metric: Metric) -> Alert {
    Alert {
        id: id.into(),
        rule: "qoe_impact".into(),
        severity: Severity::Critical,
        state: AlertState::Firing,
        started_ms: now_ms() - 60_000,
        fired_ms: Some(now_ms() - 30_000),
        resolved_ms: None,
        group: GroupKey { region: Some(region.into()), content: None, metric: Some(metric) },
        series_count: 1,
        series: vec![AlertSeries { content: "vod-000001".into(), region: region.into(), metric: Some(metric) }],
        value: Some(0.05),
        baseline: Some(0.01),
        cause: None,
        impact: None,
        metrics: Vec::new(),
        summary: format!("buffering ratio 5.0× baseline in {region}"),
    }
}

/// What the notifier was told.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

impl AlertSink for Recorder {
    fn alert_event(&self, event: &AlertEvent) {
        self.0.lock().unwrap().push(format!("{:?} {}", event.kind, event.alert.id));
    }
    fn acknowledged(&self, alert: &Alert, ack: &Ack) {
        self.0.lock().unwrap().push(format!("ack {} by {}", alert.id, ack.by));
    }
    fn unacknowledged(&self, alert: &Alert, by: &str, _at_ms: i64) {
        self.0.lock().unwrap().push(format!("unack {} by {by}", alert.id));
    }
    fn test<'a>(&'a self, by: &'a str, _now_ms: i64) -> Pin<Box<dyn Future<Output = Vec<TestOutcome>> + Send + 'a>> {
        Box::pin(async move {
            self.0.lock().unwrap().push(format!("test by {by}"));
            vec![TestOutcome {
                destination: "http://127.0.0.1:9/…".into(),
                kind: "webhook",
                ok: false,
                status: None,
                error: Some("connection refused".into()),
                elapsed_ms: 1,
            }]
        })
    }
    fn health(&self) -> Vec<DestinationStats> {
        Vec::new()
    }
}

fn token(s: &str) -> Token {
    Token::try_from(s.to_owned()).unwrap()
}

/// A state with two firing alerts, in eu-west and us-east, and a recorder
/// as its notifier; with admin, ingest and read tokens when `guarded`.
fn state(guarded: bool) -> (AppState, Arc<Recorder>) {
    let auth = if guarded {
        AuthSettings {
            ingest_tokens: vec![token(INGEST)],
            read_tokens: vec![token(READ)],
            admin_tokens: vec![token(ADMIN)],
        }
    } else {
        AuthSettings::default()
    };
    let (state, rx) = empty_state(HttpSettings { auth, ..settings() }, 4);
    std::mem::forget(rx);
    state.write(|live| {
        live.active_alerts = vec![
            alert("alrt-000001", "eu-west", Metric::BufferingRatio),
            alert("alrt-000002", "us-east", Metric::LatencyMs),
        ];
    });
    let recorder = Arc::new(Recorder::default());
    assert!(state.set_alert_sink(recorder.clone()));
    (state, recorder)
}

fn post(uri: &str, auth: Option<&str>, body: Value) -> Request<Body> {
    let mut r = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = auth {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::from(body.to_string())).unwrap()
}

fn delete(uri: &str, auth: Option<&str>) -> Request<Body> {
    let mut r = Request::delete(uri);
    if let Some(t) = auth {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::empty()).unwrap()
}

fn read(uri: &str) -> Request<Body> {
    Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {READ}")).body(Body::empty()).unwrap()
}

fn alert_in<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["alerts"].as_array().unwrap().iter().find(|a| a["id"] == id).unwrap_or_else(|| panic!("{id} in {list}"))
}

#[tokio::test]
async fn an_acknowledgement_is_recorded_listed_and_taken_back() {
    let (state, recorder) = state(false);
    let reply = send(&state, post("/alerts/alrt-000001/ack", None, json!({"by": "alice", "comment": "on it"}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    let ack = reply.json();
    assert_eq!(
        (ack["alert_id"].as_str(), ack["by"].as_str(), ack["comment"].as_str()),
        (Some("alrt-000001"), Some("alice"), Some("on it"))
    );
    assert!(ack["at_ms"].as_i64().unwrap() >= now_ms() - 5_000);

    let list = get(&state, "/alerts").await.json();
    assert_eq!(alert_in(&list, "alrt-000001")["ack"]["by"], "alice");
    assert!(alert_in(&list, "alrt-000002").get("ack").is_none());
    assert_eq!(
        alert_in(&list, "alrt-000001")["labels"],
        json!({"rule": "qoe_impact", "severity": "critical", "region": "eu-west", "content_id": "vod-000001", "metric": "buffering_ratio"})
    );
    assert_eq!(state.store().acks().await.unwrap().len(), 1, "kept in the store");

    let reply = send(&state, post("/alerts/alrt-000001/unack", None, json!({"by": "bob"}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    assert_eq!(reply.json()["by"], "bob");
    assert!(alert_in(&get(&state, "/alerts").await.json(), "alrt-000001").get("ack").is_none());
    assert!(state.store().acks().await.unwrap().is_empty());
    let again = send(&state, post("/alerts/alrt-000001/unack", None, json!({"by": "bob"}))).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.brief());

    assert_eq!(*recorder.0.lock().unwrap(), vec!["ack alrt-000001 by alice", "unack alrt-000001 by bob"]);
}

#[tokio::test]
async fn acknowledging_is_checked_field_by_field() {
    let (state, _) = state(false);
    let field = |reply: Reply| {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.brief());
        reply.json()["field"].as_str().unwrap().to_owned()
    };
    assert_eq!(field(send(&state, post("/alerts/alrt-000001/ack", None, json!({"by": " "}))).await), "by");
    assert_eq!(field(send(&state, post("/alerts/alrt-000001/ack", None, json!({}))).await), "by");
    assert_eq!(
        field(send(&state, post("/alerts/alrt-000001/ack", None, json!({"by": "a", "extra": 1}))).await),
        "extra"
    );
    assert_eq!(field(send(&state, post("/alerts/alrt-000001/ack", None, json!({"by": "x".repeat(65)}))).await), "by");
    let long = json!({"by": "a", "comment": "x".repeat(1_025)});
    assert_eq!(field(send(&state, post("/alerts/alrt-000001/ack", None, long)).await), "comment");
    let missing = send(&state, post("/alerts/alrt-999999/ack", None, json!({"by": "a"}))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.brief());
    let text = Request::post("/alerts/alrt-000001/ack")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"by":"a"}"#))
        .unwrap();
    assert_eq!(send(&state, text).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn only_admin_and_ingest_tokens_act_on_alerts() {
    let (state, recorder) = state(true);
    let body = || json!({"by": "alice"});
    for (who, expect) in
        [(None, 401), (Some(READ), 401), (Some("wrong-token-0123456789"), 401), (Some(ADMIN), 200), (Some(INGEST), 200)]
    {
        let reply = send(&state, post("/alerts/alrt-000001/ack", who, body())).await;
        assert_eq!(reply.status.as_u16(), expect, "{who:?}: {}", reply.brief());
        let reply = send(
            &state,
            post(
                "/silences",
                who,
                json!({"matchers": {"region": "eu-west"}, "duration_ms": 60_000, "author": "alice"}),
            ),
        )
        .await;
        assert_eq!(reply.status.as_u16(), if expect == 200 { 201 } else { expect }, "{who:?}: {}", reply.brief());
        let reply = send(&state, post("/alerts/test", who, body())).await;
        assert_eq!(reply.status.as_u16(), expect, "{who:?}: {}", reply.brief());
    }
    // The dashboard's cookie carries an admin token too.
    let with_cookie = Request::post("/alerts/alrt-000002/ack")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, format!("streammon_token={ADMIN}"))
        .body(Body::from(body().to_string()))
        .unwrap();
    assert_eq!(send(&state, with_cookie).await.status, StatusCode::OK);
    // ... but not from another site.
    let cross_site = Request::post("/alerts/alrt-000002/ack")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::COOKIE, format!("streammon_token={ADMIN}"))
        .body(Body::from(body().to_string()))
        .unwrap();
    assert_eq!(send(&state, cross_site).await.status, StatusCode::FORBIDDEN);
    // Reading the silences needs a read token like any read.
    assert_eq!(get(&state, "/silences").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&state, read("/silences")).await.status, StatusCode::OK);
    let told = recorder.0.lock().unwrap().clone();
    assert_eq!(told.iter().filter(|t| t.starts_with("test by alice")).count(), 2, "{told:?}");
}

#[tokio::test]
async fn the_login_link_sets_the_cookie_for_an_admin_token() {
    let (state, _) = state(true);
    let reply = get(&state, &format!("/?token={ADMIN}")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(reply.header(header::SET_COOKIE).is_some_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict")));
    assert_eq!(get(&state, "/?token=not-a-token-at-all-000").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_silence_marks_what_it_covers_and_expires() {
    let (state, _) = state(false);
    let reply = send(
        &state,
        post(
            "/silences",
            None,
            json!({"matchers": {"region": "eu-west", "metric": "buffering_ratio"}, "duration_ms": 3_600_000, "author": "alice", "comment": "CDN maintenance"}),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.brief());
    let silence = reply.json();
    let id = silence["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("sil-") && id.len() == 20, "{id}");
    assert_eq!(silence["state"], "active");

    let list = get(&state, "/alerts").await.json();
    assert_eq!(alert_in(&list, "alrt-000001")["silenced_by"], json!([id]));
    assert!(alert_in(&list, "alrt-000002").get("silenced_by").is_none(), "us-east is not covered");
    let first = state.read(|live| live.active_alerts[0].clone());
    assert_eq!(state.silenced(&first, now_ms()).as_deref(), Some(id.as_str()));

    let listed = get(&state, "/silences").await.json();
    assert_eq!(listed["silences"][0]["id"], id.as_str());
    assert_eq!(state.store().silences().await.unwrap().len(), 1, "kept in the store");

    let reply = send(&state, delete(&format!("/silences/{id}"), None)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    assert_eq!(reply.json()["state"], "expired");
    assert!(alert_in(&get(&state, "/alerts").await.json(), "alrt-000001").get("silenced_by").is_none());
    assert_eq!(get(&state, "/silences").await.json()["silences"][0]["state"], "expired", "listed for a day");
    assert_eq!(state.store().silences().await.unwrap()[0].ends_ms, reply.json()["ends_ms"].as_i64().unwrap());
    assert_eq!(send(&state, delete("/silences/sil-0000000000000000", None)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn silence_requests_are_checked_field_by_field() {
    let (state, _) = state(false);
    let cases = [
        (json!({"matchers": {}, "duration_ms": 1000, "author": "a"}), "matchers"),
        (json!({"matchers": {"region": "eu-west"}, "author": "a"}), "ends_ms"),
        (json!({"matchers": {"region": "eu-west"}, "duration_ms": 1000, "ends_ms": 5, "author": "a"}), "duration_ms"),
        (json!({"matchers": {"region": "eu-west"}, "duration_ms": -1, "author": "a"}), "duration_ms"),
        (json!({"matchers": {"region": "eu-west"}, "ends_ms": 1000, "author": "a"}), "ends_ms"),
        (json!({"matchers": {"region": "eu-west"}, "duration_ms": 1000, "author": ""}), "author"),
        (json!({"matchers": {"region": "eu-west"}, "duration_ms": 1000}), "author"),
        (json!({"matchers": {"metric": "nope"}, "duration_ms": 1000, "author": "a"}), "matchers.metric"),
        (json!({"matchers": {"zone": "x"}, "duration_ms": 1000, "author": "a"}), "matchers.zone"),
        (json!({"matchers": {"region": "eu-west"}, "starts_ms": -5, "duration_ms": 1000, "author": "a"}), "starts_ms"),
        (
            json!({"matchers": {"region": "eu-west"}, "duration_ms": 1000, "author": "a", "comment": "x".repeat(1025)}),
            "comment",
        ),
    ];
    for (body, field) in cases {
        let reply = send(&state, post("/silences", None, body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.brief());
        assert_eq!(reply.json()["field"], field, "{body}: {}", reply.brief());
    }
}

#[tokio::test]
async fn silences_are_bounded() {
    let (state, _) = state(false);
    for i in 0..streammon_core::alert::MAX_SILENCES {
        let body = json!({"matchers": {"rule": format!("r{i}")}, "duration_ms": 60_000, "author": "a"});
        assert_eq!(send(&state, post("/silences", None, body)).await.status, StatusCode::CREATED);
    }
    let reply = send(
        &state,
        post("/silences", None, json!({"matchers": {"rule": "one-more"}, "duration_ms": 60_000, "author": "a"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.brief());
    assert_eq!(reply.json()["field"], "silences");
}

#[tokio::test]
async fn the_test_route_reports_each_destination() {
    let (state, recorder) = state(false);
    let reply = send(&state, post("/alerts/test", None, json!({"by": "alice"}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    assert_eq!(reply.json()["outcomes"][0]["error"], "connection refused");
    assert_eq!(*recorder.0.lock().unwrap(), vec!["test by alice"]);

    let (bare, rx) = empty_state(settings(), 4);
    std::mem::forget(rx);
    let reply = send(&bare, post("/alerts/test", None, json!({"by": "alice"}))).await;
    assert_eq!(reply.json(), json!({"outcomes": []}), "no destination configured");
}

#[tokio::test]
async fn acknowledgements_and_silences_come_back_from_the_store() {
    let (state, _) = state(false);
    send(&state, post("/alerts/alrt-000001/ack", None, json!({"by": "alice"}))).await;
    let created = send(
        &state,
        post("/silences", None, json!({"matchers": {"region": "us-east"}, "duration_ms": 60_000, "author": "a"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    // A second server over the same store, as after a restart on Redis.
    let (ingest, rx) = streammon_http::Ingest::channel(4);
    std::mem::forget(rx);
    let restarted = AppState::new(
        state.store().clone(),
        Arc::new(streammon_http::Telemetry::new()),
        ingest,
        settings(),
        "simulator",
    );
    assert_eq!(restarted.restore_notes(now_ms()).await.unwrap(), (1, 1));
    assert_eq!(restarted.notes().acks.get("alrt-000001").map(|a| a.by.clone()), Some("alice".into()));
    let us_east = alert("alrt-000002", "us-east", Metric::LatencyMs);
    assert!(restarted.silenced(&us_east, now_ms()).is_some());
}
