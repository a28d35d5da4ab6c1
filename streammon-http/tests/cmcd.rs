//! The CMCD collector's endpoints, driven with `oneshot`: every
//! transmission, the answers players act on (204, 410, 429), tokens, and
//! the errors that name the line and key.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use streammon_core::cmcd::{Collector, CollectorConfig};
use streammon_http::{AppState, CmcdIngest, CmcdSettings};

use common::*;

fn cmcd_state(config: CollectorConfig, settings: CmcdSettings) -> AppState {
    let (state, rx) = empty_state(self::settings(), 1);
    std::mem::forget(rx);
    let ingest = CmcdIngest::new(Collector::new(config).unwrap(), settings, state.telemetry());
    assert!(state.enable_cmcd(Arc::new(ingest)));
    state
}

fn open_state() -> AppState {
    cmcd_state(CollectorConfig::default(), CmcdSettings::default())
}

async fn post(state: &AppState, uri: &str, content_type: &str, body: &str) -> Reply {
    let request =
        Request::post(uri).header(header::CONTENT_TYPE, content_type).body(Body::from(body.to_owned())).unwrap();
    send(state, request).await
}

fn tick(state: &AppState, now_ms: i64) -> Vec<streammon_core::Sample> {
    let (mut samples, mut changes) = (Vec::new(), Vec::new());
    state.cmcd().unwrap().tick(now_ms, 1_000, &mut samples, &mut changes);
    samples
}

const EVENTS: &str = "e=ps,sid=\"s1\",cid=\"film-1\",sta=s,st=v,ts=1700000000000,v=2\n\
e=ps,sid=\"s1\",cid=\"film-1\",sta=p,br=3000,ot=v,bl=8000,mtp=25000,ts=1700000001000,v=2\n";

#[tokio::test]
async fn event_mode_lines_become_a_title_with_a_viewer() {
    let state = open_state();
    let reply = post(&state, "/cmcd", "application/cmcd", EVENTS).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.brief());
    let samples = tick(&state, now_ms() + 1_000);
    assert_eq!(samples.len(), 1);
    let s = &samples[0];
    assert_eq!((s.content_id.as_str(), s.region.as_str(), s.viewers, s.bitrate_kbps), ("film-1", "local", 1, 3000.0));
    let sessions = get(&state, "/cmcd/sessions").await.json();
    assert_eq!(sessions["sessions"][0]["sid"], "s1");
    assert_eq!(sessions["sessions"][0]["phase"], "playing");
    assert_eq!(sessions["sessions"][0]["throughput_kbps"], 25000.0);
    assert_eq!(sessions["stats"]["sessions"], 1);
}

#[tokio::test]
async fn json_query_headers_response_and_log_transmissions() {
    let state = open_state();
    let json = r#"[{"sid": "j", "cid": "film-2", "br": 1800, "ot": "v", "d": 2000, "su": true},
                   {"sid": "j", "br": 1800, "ot": "v", "d": 2000, "bl": 4000}]"#;
    let reply = post(&state, "/cmcd", "application/json; charset=utf-8", json).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.brief());
    // A version-1 session plays from its second media request.
    for _ in 0..2 {
        let reply = get(&state, "/cmcd?CMCD=br%3D800%2Cot%3Dv%2Csid%3D%22q%22%2Ccid%3D%22film-2%22").await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.brief());
        let request = Request::get("/cmcd")
            .header("CMCD-Object", "br=800,ot=v,d=2000")
            .header("CMCD-Session", "sid=\"h\",cid=\"film-2\"")
            .header("X-Streammon-Region", "eu-west")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&state, request).await.status, StatusCode::NO_CONTENT);
    }
    let reply =
        post(&state, "/cmcd/response", "text/plain", "rc=503,ttfb=40,sid=\"h\",url=\"https://cdn/a.m4s\",v=2").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.brief());
    let logs = "198.51.100.7 - - [01/Dec/2026:06:00:00 +0000] \"GET /s.m4s?CMCD=br%3D800%2Cot%3Dv%2Csid%3D%22l%22%2Ccid%3D%22film-2%22 HTTP/1.1\" 200 1000\n\
                a line without it\n\
                198.51.100.7 - - [01/Dec/2026:06:00:02 +0000] \"GET /s2.m4s?CMCD=br%3D800%2Cot%3Dv%2Csid%3D%22l%22 HTTP/1.1\" 200 1000\n";
    let reply = post(&state, "/cmcd/logs", "text/plain", logs).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.brief());
    let samples = tick(&state, now_ms() + 1_000);
    let local: u32 = samples.iter().filter(|s| s.region.as_str() == "local").map(|s| s.viewers).sum();
    let eu = samples.iter().find(|s| s.region.as_str() == "eu-west").expect("the header's region");
    assert_eq!((local, eu.viewers), (3, 1));
    assert!(eu.error_rate > 0.0, "the 503 counts as a failed request");
}

#[tokio::test]
async fn malformed_reports_name_the_line_and_key_and_nothing_is_taken() {
    let state = open_state();
    let reply = post(&state, "/cmcd", "application/cmcd", "sid=\"a\",br=1\nsid=\"a\",br=fast\n").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_error_body(&reply, 400, "bad_request");
    assert_eq!(reply.json()["field"], "line 2: br", "{}", reply.brief());
    assert!(tick(&state, now_ms()).is_empty(), "all or nothing");
    let reply = post(&state, "/cmcd", "application/cmcd", "br=1").await;
    assert_eq!(reply.json()["field"], "line 1: sid", "{}", reply.brief());
    let reply = post(&state, "/cmcd", "application/cmcd", "sid=\"a\",br=1\n\nbr=2").await;
    assert_eq!(reply.json()["field"], "line 3: sid", "{}", reply.brief());
    assert!(tick(&state, now_ms()).is_empty(), "the first line was not taken either");
    let reply = post(&state, "/cmcd", "application/json", r#"{"sid": "a", "ot": 5}"#).await;
    assert_eq!(reply.json()["field"], "ot", "{}", reply.brief());
    let reply = post(&state, "/cmcd", "application/xml", "<x/>").await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = post(&state, "/cmcd", "application/cmcd", "\n\n").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = get(&state, "/cmcd").await;
    assert_eq!(reply.json()["field"], "CMCD");
    let reply = get(&state, "/cmcd?CMCD=br%3").await;
    assert!(reply.json()["message"].as_str().unwrap().contains("percent escape"), "{}", reply.brief());
}

#[tokio::test]
async fn over_sessions_are_told_to_stop_and_the_limits_answer_429() {
    let state = open_state();
    post(&state, "/cmcd", "application/cmcd", "e=ps,sid=\"z\",sta=s,v=2\ne=ps,sid=\"z\",sta=e,v=2").await;
    tick(&state, now_ms());
    let reply = post(&state, "/cmcd", "application/cmcd", "e=t,sid=\"z\",v=2").await;
    assert_eq!(reply.status, StatusCode::GONE, "{}", reply.brief());
    assert_error_body(&reply, 410, "gone");

    let limited = cmcd_state(
        CollectorConfig { max_sessions: 1, ..CollectorConfig::default() },
        CmcdSettings { rate_per_source: 1.0, burst: 3.0, ..CmcdSettings::default() },
    );
    assert_eq!(post(&limited, "/cmcd", "text/plain", "sid=\"a\",br=1").await.status, StatusCode::NO_CONTENT);
    let busy = post(&limited, "/cmcd", "text/plain", "sid=\"b\",br=1").await;
    assert_eq!(busy.status, StatusCode::TOO_MANY_REQUESTS, "session limit");
    assert_eq!(busy.header(header::RETRY_AFTER), Some("5"));
    let burst = post(&limited, "/cmcd", "text/plain", "sid=\"a\",br=1\nsid=\"a\",br=2").await;
    assert_eq!(burst.status, StatusCode::TOO_MANY_REQUESTS, "rate limit");
    assert!(burst.header(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn tokens_guard_the_collector_and_any_origin_may_post() {
    let state = cmcd_state(
        CollectorConfig::default(),
        CmcdSettings { tokens: vec![("player".into(), "t0ken".into())], ..CmcdSettings::default() },
    );
    let reply = post(&state, "/cmcd", "text/plain", "sid=\"a\",br=1").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_error_body(&reply, 401, "unauthorized");
    assert_eq!(post(&state, "/cmcd?token=t0ken", "text/plain", "sid=\"a\",br=1").await.status, StatusCode::NO_CONTENT);
    let request = Request::post("/cmcd")
        .header(header::AUTHORIZATION, "Bearer t0ken")
        .header(header::ORIGIN, "https://player.example")
        .body(Body::from("sid=\"a\",br=2"))
        .unwrap();
    let reply = send(&state, request).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some("https://player.example"));
    let request = Request::get("/alerts").header(header::ORIGIN, "https://player.example").body(Body::empty()).unwrap();
    assert_eq!(send(&state, request).await.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), None, "only /cmcd is open");
}

#[tokio::test]
async fn off_unless_enabled_and_documented() {
    let (state, _rx) = empty_state(settings(), 1);
    let reply = post(&state, "/cmcd", "text/plain", "sid=\"a\"").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.json()["message"].as_str().unwrap().contains("--source cmcd"));
    let doc = get(&state, "/openapi.json").await.json();
    for path in ["/cmcd", "/cmcd/response", "/cmcd/logs", "/cmcd/sessions"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
}
