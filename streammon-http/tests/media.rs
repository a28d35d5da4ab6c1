//! `/media/`: a directory of DASH and HLS media served through
//! `tower-http`'s `ServeDir` (ranges, `HEAD`, validators), confined to the
//! directory, with the media types players need, and the CMCD of every
//! request read into the collector without ever refusing a segment.

mod common;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use streammon_core::cmcd::{Collector, CollectorConfig};
use streammon_http::{AppState, CmcdIngest, CmcdSettings, HttpSettings};

use common::*;

/// A segment of 64 bytes, 0 to 63.
fn segment() -> Vec<u8> {
    (0u8..64).collect()
}

/// A media directory: a DASH manifest, an HLS playlist and a segment.
fn media_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.mpd"), "<MPD/>").unwrap();
    std::fs::write(dir.path().join("index.m3u8"), "#EXTM3U\n").unwrap();
    std::fs::create_dir(dir.path().join("v")).unwrap();
    std::fs::write(dir.path().join("v/seg-1.m4s"), segment()).unwrap();
    dir
}

/// A state serving `dir` at `/media/`, with the CMCD collector on.
fn media_state(dir: &Path) -> AppState {
    let settings = HttpSettings { media: Some(dir.to_path_buf()), ..settings() };
    let (state, rx) = empty_state(settings, 1);
    std::mem::forget(rx);
    let ingest = CmcdIngest::new(
        Collector::new(CollectorConfig::default()).unwrap(),
        CmcdSettings::default(),
        state.telemetry(),
    );
    assert!(state.enable_cmcd(Arc::new(ingest)));
    state
}

async fn get_with(state: &AppState, uri: &str, name: header::HeaderName, value: &str) -> Reply {
    send(state, Request::get(uri).header(name, value).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn files_go_out_with_the_media_types_players_need() {
    let dir = media_dir();
    let state = media_state(dir.path());
    for (path, media_type) in [
        ("/media/manifest.mpd", "application/dash+xml"),
        ("/media/index.m3u8", "application/vnd.apple.mpegurl"),
        ("/media/v/seg-1.m4s", "video/mp4"),
    ] {
        let reply = get(&state, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.brief());
        assert_eq!(reply.header(header::CONTENT_TYPE), Some(media_type), "{path}");
        assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-cache"), "{path}");
        assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"), "{path}");
    }
    assert_eq!(get(&state, "/media/v/seg-1.m4s").await.body, segment());
}

#[tokio::test]
async fn ranges_head_and_conditional_requests() {
    let dir = media_dir();
    let state = media_state(dir.path());
    let part = get_with(&state, "/media/v/seg-1.m4s", header::RANGE, "bytes=10-19").await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT, "{}", part.brief());
    assert_eq!(part.header(header::CONTENT_RANGE), Some("bytes 10-19/64"));
    assert_eq!(part.body, (10u8..20).collect::<Vec<_>>());
    let beyond = get_with(&state, "/media/v/seg-1.m4s", header::RANGE, "bytes=100-").await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);

    let head = send(&state, Request::head("/media/v/seg-1.m4s").body(Body::empty()).unwrap()).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header(header::CONTENT_LENGTH), Some("64"));
    assert_eq!(head.header(header::CONTENT_TYPE), Some("video/mp4"));
    assert!(head.body.is_empty());

    let full = get(&state, "/media/v/seg-1.m4s").await;
    let etag = full.header(header::ETAG).expect("an ETag").to_owned();
    let last_modified = full.header(header::LAST_MODIFIED).expect("a Last-Modified").to_owned();
    let fresh = get_with(&state, "/media/v/seg-1.m4s", header::IF_NONE_MATCH, &etag).await;
    assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);
    assert!(fresh.body.is_empty());
    assert_eq!(fresh.header(header::ETAG), Some(etag.as_str()));
    let stale = get_with(&state, "/media/v/seg-1.m4s", header::IF_NONE_MATCH, "\"other\"").await;
    assert_eq!(stale.status, StatusCode::OK);
    let since = get_with(&state, "/media/v/seg-1.m4s", header::IF_MODIFIED_SINCE, &last_modified).await;
    assert_eq!(since.status, StatusCode::NOT_MODIFIED);

    // `If-Range`, which ServeDir does not evaluate, gets the whole file:
    // never a range spliced from two versions.
    let request = Request::get("/media/v/seg-1.m4s")
        .header(header::RANGE, "bytes=10-19")
        .header(header::IF_RANGE, "\"an-older-version\"")
        .body(Body::empty())
        .unwrap();
    let whole = send(&state, request).await;
    assert_eq!((whole.status, whole.body.len()), (StatusCode::OK, 64));
}

#[tokio::test]
async fn nothing_outside_the_directory_is_served() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "classified").unwrap();
    let dir = media_dir();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("leak.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("v"), dir.path().join("video")).unwrap();
    }
    let state = media_state(dir.path());
    let name = outside.path().file_name().unwrap().to_str().unwrap();
    for path in [
        format!("/media/../{name}/secret.txt"),
        format!("/media/%2e%2e/{name}/secret.txt"),
        "/media/..%2fsecret.txt".to_owned(),
        "/media/%2fetc%2fpasswd".to_owned(),
        "/media/leak.txt".to_owned(),
        "/media/elsewhere/secret.txt".to_owned(),
        "/media/v".to_owned(),
        "/media/v/".to_owned(),
        "/media/".to_owned(),
        "/media/v/missing.m4s".to_owned(),
    ] {
        let reply = get(&state, &path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.brief());
        assert!(!reply.text().contains("classified"), "{path}");
    }
    assert_error_body(&get(&state, "/media/leak.txt").await, 404, "not_found");
    #[cfg(unix)]
    assert_eq!(get(&state, "/media/video/seg-1.m4s").await.body, segment(), "a link inside is followed");
    let post = send(&state, Request::post("/media/v/seg-1.m4s").body(Body::empty()).unwrap()).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND, "media is only read");
}

#[tokio::test]
async fn the_cmcd_of_a_media_request_reaches_the_collector() {
    let dir = media_dir();
    let state = media_state(dir.path());
    let cmcd = "br%3D1800%2Cd%3D2000%2Cot%3Dv%2Csid%3D%22p1%22%2Ccid%3D%22clip-1%22%2Cbl%3D6000";
    let reply = get(&state, &format!("/media/v/seg-1.m4s?CMCD={cmcd}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let request = Request::get("/media/v/seg-1.m4s")
        .header("CMCD-Object", "br=1800,d=2000,ot=v")
        .header("CMCD-Session", "sid=\"p1\",cid=\"clip-1\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, request).await.status, StatusCode::OK);
    let stats = state.cmcd().unwrap().stats();
    assert_eq!((stats.reports, stats.sessions_started), (2, 1), "{stats:?}");
    // A version-1 session plays from its second media request.
    let (mut samples, mut changes) = (Vec::new(), Vec::new());
    state.cmcd().unwrap().tick(now_ms() + 1_000, 1_000, &mut samples, &mut changes);
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!((samples[0].content_id.as_str(), samples[0].viewers), ("clip-1", 1));
}

#[tokio::test]
async fn bad_cmcd_is_counted_and_the_segment_still_served() {
    let dir = media_dir();
    let state = media_state(dir.path());
    let invalid = || state.telemetry().cmcd_reports.with_label_values(&["invalid"]).get();
    let before = invalid();
    let reply = get(&state, "/media/v/seg-1.m4s?CMCD=br%3Dfast%2Csid%3Dunquoted").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.brief());
    assert_eq!(reply.body, segment());
    assert_eq!(invalid(), before + 1);
    assert_eq!(state.cmcd().unwrap().stats().reports, 0);
    // No CMCD at all is no error.
    assert_eq!(get(&state, "/media/manifest.mpd").await.status, StatusCode::OK);
    assert_eq!(invalid(), before + 1);
}
