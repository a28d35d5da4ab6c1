//! `--media DIR`: serves a directory of DASH/HLS media at `/media/`, and
//! reads the CMCD of every request for it, as a CDN edge would.
//!
//! Files are read when asked for (segments change as a packager writes
//! them); a path that leaves the directory, through `..` or a link, is a
//! 404. A request's CMCD never decides whether it is served: a malformed
//! payload is counted and logged at debug level, the segment still goes
//! out.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Extension, Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use streammon_http::AppState;

/// The content type of a media file.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("mpd") => "application/dash+xml",
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("m4s" | "mp4" | "m4v" | "cmfv") => "video/mp4",
        Some("m4a" | "cmfa") => "audio/mp4",
        Some("ts") => "video/mp2t",
        Some("vtt") => "text/vtt",
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("key") => "application/octet-stream",
        _ => "application/octet-stream",
    }
}

/// `path` under `root`, or `None` if it would leave it.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel).canonicalize().ok()?;
    full.starts_with(root).then_some(full)
}

async fn file(
    State((state, root)): State<(AppState, Arc<PathBuf>)>,
    UrlPath(path): UrlPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let client = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    match streammon_http::ingest_cmcd_request(&state, &headers, query.as_deref(), client) {
        Ok(_) => {}
        Err(e) => {
            if let Some(cmcd) = state.cmcd() {
                cmcd.count_invalid(1);
            }
            tracing::debug!(target: "streammon::cmcd", path, error = %e, "media request with unusable CMCD");
        }
    }
    let Some(full) = resolve(&root, &path) else {
        return (StatusCode::NOT_FOUND, format!("no media at /media/{path}")).into_response();
    };
    match tokio::fs::read(&full).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type(&full))),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            ],
            body,
        )
            .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            (StatusCode::NOT_FOUND, format!("/media/{path} is a directory")).into_response()
        }
        Err(e) => {
            tracing::warn!(target: "streammon", path = %full.display(), error = %e, "cannot read media");
            (StatusCode::NOT_FOUND, format!("cannot read /media/{path}")).into_response()
        }
    }
}

/// The `/media/` routes over `root` (already canonical).
pub(crate) fn router(state: AppState, root: PathBuf) -> Router<AppState> {
    Router::new().route("/media/{*path}", get(file)).with_state((state, Arc::new(root)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("v")).unwrap();
        std::fs::write(root.join("v/seg-1.m4s"), b"x").unwrap();
        assert_eq!(resolve(&root, "v/seg-1.m4s"), Some(root.join("v/seg-1.m4s")));
        assert_eq!(resolve(&root, "../etc/passwd"), None);
        assert_eq!(resolve(&root, "/etc/passwd"), None);
        assert_eq!(resolve(&root, "v/missing.m4s"), None);
        assert_eq!(content_type(Path::new("a/manifest.mpd")), "application/dash+xml");
        assert_eq!(content_type(Path::new("x.M3U8")), "application/vnd.apple.mpegurl");
    }
}
