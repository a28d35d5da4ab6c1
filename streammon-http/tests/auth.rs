//! Issue 16 (A): who may write, who may read, and from which pages, driven
//! with `oneshot` against the router (docs/SECURITY.md).

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use streammon_core::cmcd::{Collector, CollectorConfig};
use streammon_http::{AppState, AuthSettings, CmcdIngest, CmcdSettings, HttpSettings, Token};

use common::*;

const INGEST: &str = "ingest-token-0123456789";
const READ: &str = "read-token-0123456789ab";

fn token(s: &str) -> Token {
    Token::try_from(s.to_owned()).expect("16 bytes or more")
}

/// A state with an ingest token (and a read token when `read`), CMCD on.
fn guarded(read: bool) -> (AppState, tokio::sync::mpsc::Receiver<Vec<streammon_core::Sample>>) {
    let auth = AuthSettings {
        ingest_tokens: vec![token(INGEST)],
        read_tokens: if read { vec![token(READ)] } else { vec![] },
        admin_tokens: vec![],
    };
    let (state, rx) = empty_state(HttpSettings { auth, ..settings() }, 4);
    let ingest = CmcdIngest::new(
        Collector::new(CollectorConfig::default()).unwrap(),
        CmcdSettings::default(),
        state.telemetry(),
    );
    assert!(state.enable_cmcd(Arc::new(ingest)));
    (state, rx)
}

fn sample() -> String {
    let mut sim = streammon_core::Simulator::new(streammon_core::SimConfig::default()).unwrap();
    let mut sample = sim.next_frame().samples[0].clone();
    sample.timestamp_ms = now_ms();
    serde_json::to_string(&sample).unwrap()
}

fn post(uri: &str, content_type: &str, bearer: Option<&str>, body: String) -> Request<Body> {
    let mut r = Request::post(uri).header(header::CONTENT_TYPE, content_type);
    if let Some(t) = bearer {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::from(body)).unwrap()
}

fn get_with(uri: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    Request::get(uri).header(name, value).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn post_metrics_needs_an_ingest_token() {
    let (state, mut rx) = guarded(false);
    let reply = send(&state, post("/metrics", "application/json", None, sample())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.brief());
    assert_error_body(&reply, 401, "unauthorized");
    let reply = send(&state, post("/metrics", "application/json", Some("wrong-token-0123456789"), sample())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.brief());
    assert!(rx.try_recv().is_err(), "nothing is accepted without the token");
    // A read token does not write.
    let (read_state, _rx) = guarded(true);
    let reply = send(&read_state, post("/metrics", "application/json", Some(READ), sample())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = send(&state, post("/metrics", "application/json", Some(INGEST), sample())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.brief());
    assert_eq!(rx.try_recv().expect("queued").len(), 1);
}

#[tokio::test]
async fn post_metrics_as_text_plain_is_refused_with_415() {
    // The cross-site "simple request" a page can send without a preflight.
    let (state, mut rx) = empty_state(settings(), 4);
    let reply = send(&state, post("/metrics", "text/plain", None, sample())).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", reply.brief());
    assert_error_body(&reply, 415, "unsupported_media_type");
    assert_eq!(reply.json()["field"], "content-type");
    let bare = Request::post("/metrics").body(Body::from(sample())).unwrap();
    assert_eq!(send(&state, bare).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(rx.try_recv().is_err());
    let reply = send(&state, post("/metrics", "application/json; charset=utf-8", None, sample())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.brief());
}

#[tokio::test]
async fn cmcd_text_routes_refuse_other_media_types() {
    let (state, _rx) = empty_state(settings(), 4);
    let ingest = CmcdIngest::new(
        Collector::new(CollectorConfig::default()).unwrap(),
        CmcdSettings::default(),
        state.telemetry(),
    );
    state.enable_cmcd(Arc::new(ingest));
    for uri in ["/cmcd/response", "/cmcd/logs"] {
        let reply = send(&state, post(uri, "application/x-www-form-urlencoded", None, "sid=\"a\"".into())).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri}: {}", reply.brief());
        assert_error_body(&reply, 415, "unsupported_media_type");
    }
    let form = post("/cmcd", "application/x-www-form-urlencoded", None, "sid=\"a\",br=1".into());
    assert_eq!(send(&state, form).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn cmcd_sessions_and_reports_are_closed_by_the_ingest_token() {
    let (state, _rx) = guarded(false);
    let reply = send(&state, post("/cmcd", "text/plain", None, "sid=\"viewer-1\",br=1".into())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.brief());
    let reply = send(&state, post("/cmcd", "text/plain", Some(INGEST), "sid=\"viewer-1\",br=1".into())).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.brief());
    let reply = get(&state, "/cmcd/sessions").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.brief());
    assert!(!reply.text().contains("viewer-1"));
    let reply = send(&state, get_with("/cmcd/sessions", header::AUTHORIZATION, &format!("Bearer {INGEST}"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    assert!(reply.text().contains("viewer-1"));
    // A viewer's session cannot be ended by a stranger.
    let end = post("/cmcd", "text/plain", None, "e=ps,sid=\"viewer-1\",sta=e,v=2".into());
    assert_eq!(send(&state, end).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_foreign_origin_is_refused_and_no_origin_is_let_through() {
    let (state, _rx) = empty_state(settings(), 4);
    let handshake = "/socket.io/?EIO=4&transport=polling";
    for uri in [handshake, "/ws/socket.io/?EIO=4&transport=polling", "/content"] {
        let reply = send(&state, get_with(uri, header::ORIGIN, "https://evil.example")).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}: {}", reply.brief());
        assert_error_body(&reply, 403, "forbidden");
    }
    let evil_post = Request::post("/metrics")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(sample()))
        .unwrap();
    assert_eq!(send(&state, evil_post).await.status, StatusCode::FORBIDDEN);
    // No Origin (not a browser), the listed one, and the server's own.
    assert_eq!(get(&state, handshake).await.status, StatusCode::OK);
    // Issue 18: the polling transport answers CORS for an allowed origin,
    // at both paths, as the REST routes do; a browser falling back to
    // polling is let in.
    for uri in [handshake, "/ws/socket.io/?EIO=4&transport=polling", "/content"] {
        let reply = send(&state, get_with(uri, header::ORIGIN, ALLOWED_ORIGIN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.brief());
        assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(ALLOWED_ORIGIN), "{uri}");
        let preflight = Request::options(uri)
            .header(header::ORIGIN, ALLOWED_ORIGIN)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap();
        let reply = send(&state, preflight).await;
        assert!(reply.status.is_success(), "{uri} preflight: {}", reply.brief());
        assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(ALLOWED_ORIGIN), "{uri} preflight");
    }
    let own = Request::get(handshake)
        .header(header::HOST, "127.0.0.1:8000")
        .header(header::ORIGIN, "http://127.0.0.1:8000")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, own).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_read_token_closes_reads_and_the_cookie_opens_them() {
    let (state, _rx) = guarded(true);
    for uri in ["/content", "/metrics", "/alerts", "/analytics", "/metrics/prometheus", "/", "/cmcd/sessions"] {
        let reply = get(&state, uri).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}: {}", reply.brief());
    }
    let reply = send(&state, get_with("/socket.io/?EIO=4&transport=polling", header::ORIGIN, ALLOWED_ORIGIN)).await;
    assert_eq!(reply.status, StatusCode::OK, "the engine.io handshake is let through: {}", reply.brief());
    // The health report stays open, for supervisors.
    assert_eq!(get(&state, "/health").await.status, StatusCode::OK);
    for bearer in [READ, INGEST] {
        let reply = send(&state, get_with("/content", header::AUTHORIZATION, &format!("Bearer {bearer}"))).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    }
    // The dashboard's login: a wrong token is refused, the right one sets
    // the cookie and redirects to `/`.
    assert_eq!(get(&state, "/?token=wrong-token-0123456789").await.status, StatusCode::UNAUTHORIZED);
    let reply = get(&state, &format!("/?token={READ}")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.brief());
    assert_eq!(reply.header(header::LOCATION), Some("/"));
    let cookie = reply.header(header::SET_COOKIE).expect("a cookie").to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(pair, format!("{}={READ}", streammon_http::TOKEN_COOKIE));
    for uri in ["/content", "/metrics", "/"] {
        let reply = send(&state, get_with(uri, header::COOKIE, &pair)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.brief());
    }
    let stale = format!("{}=wrong-token-0123456789", streammon_http::TOKEN_COOKIE);
    assert_eq!(send(&state, get_with("/content", header::COOKIE, &stale)).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_read_tokens_reads_stay_open() {
    let (state, _rx) = guarded(false);
    for uri in ["/content", "/metrics", "/alerts", "/", "/health"] {
        assert_eq!(get(&state, uri).await.status, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn openapi_documents_415_and_the_bearer_scheme() {
    let (state, _rx) = empty_state(settings(), 1);
    let doc = get(&state, "/openapi.json").await.json();
    let post = &doc["paths"]["/metrics"]["post"];
    for status in ["401", "403", "415"] {
        assert!(post["responses"][status].is_object(), "{status}: {post}");
    }
    assert!(doc["components"]["securitySchemes"]["ingest_token"].is_object(), "{}", doc["components"]);
    for path in ["/cmcd/response", "/cmcd/logs"] {
        assert!(doc["paths"][path]["post"]["responses"]["415"].is_object(), "{path}");
    }
}

#[tokio::test]
async fn cmcd_tokens_alone_close_the_session_list() {
    let (state, _rx) = empty_state(settings(), 4);
    let tokens = vec![("cdn".to_owned(), "cmcd-token-0123456789abc".to_owned())];
    let ingest = CmcdIngest::new(
        Collector::new(CollectorConfig::default()).unwrap(),
        CmcdSettings { tokens, ..CmcdSettings::default() },
        state.telemetry(),
    );
    state.enable_cmcd(Arc::new(ingest));
    let report = post("/cmcd", "text/plain", Some("cmcd-token-0123456789abc"), "sid=\"viewer-2\",br=1".into());
    assert_eq!(send(&state, report).await.status, StatusCode::NO_CONTENT);
    let reply = get(&state, "/cmcd/sessions").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.brief());
    assert!(!reply.text().contains("viewer-2"));
    let with = get_with("/cmcd/sessions", header::AUTHORIZATION, "Bearer cmcd-token-0123456789abc");
    assert!(send(&state, with).await.text().contains("viewer-2"));
}
