//! The web dashboard's files, served from its build directory at `/`.
//!
//! The dashboard is a static build (`dashboard/dist`: an `index.html` and
//! content-hashed assets), served by [`crate::files`] (`ServeDir`: ranges,
//! `ETag`, conditional requests) with `no-cache` on the page and
//! `immutable` on `assets/`. `GET /` is shared with the health report: a
//! browser (whose navigation asks for `text/html`) gets the app, anything
//! else (load balancers, `curl`, scripts) the health JSON, as before.
//!
//! The app routes by the URL's fragment (`/#/content/…`), so `/` is its
//! only page: there is no catch-all that answers `index.html` for unknown
//! paths, which would hide the JSON 404 of a mistyped API path. Every
//! other path that names no route is looked up in the build, and is that
//! 404 when it is not there.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::files::{self, Place};

/// The dashboard's production build, served from its directory.
///
/// ```
/// use std::sync::Arc;
/// use streammon_http::{Dashboard, HttpSettings};
/// let dashboard = Dashboard::new("dashboard/dist");
/// let settings = HttpSettings {
///     dashboard: dashboard.has_index().then(|| Arc::new(dashboard)),
///     ..HttpSettings::default()
/// };
/// ```
#[derive(Debug, Clone)]
pub struct Dashboard {
    dir: PathBuf,
    /// The files of `dir`, as [`files::serve`] serves them.
    files: Router,
}

impl Dashboard {
    /// The build in `dir`. Its files are read when asked for, so a rebuild
    /// is served as it lands; [`Dashboard::has_index`] tells whether it is
    /// a build at all.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let files = files::serve(&dir, Place::Dashboard, crate::not_found);
        Self { dir, files }
    }

    /// The directory served.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the directory has the build's `index.html`.
    pub fn has_index(&self) -> bool {
        self.dir.join("index.html").is_file()
    }

    /// The files, for the router's fallback.
    pub(crate) fn files(&self) -> Router {
        self.files.clone()
    }

    /// The app's page, for a browser at `/` with `headers` (its validators
    /// and ranges apply); the page that says how to build it when the
    /// build has none.
    pub(crate) async fn index(&self, headers: HeaderMap) -> Response {
        let mut req = Request::new(axum::body::Body::empty());
        *req.uri_mut() = axum::http::Uri::from_static("/index.html");
        *req.headers_mut() = headers;
        let res = match self.files.clone().oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        };
        if res.status() == StatusCode::NOT_FOUND { missing_page() } else { res }
    }
}

/// Whether the request is a browser asking for a page: its Accept header
/// names `text/html` (a navigation's always does; `curl`'s `*/*`, a load
/// balancer's probe and `fetch`'s default do not).
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|part| {
            let mut it = part.split(';');
            let media = it.next().unwrap_or_default().trim();
            let refused =
                it.any(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f64>().ok()) == Some(0.0));
            media.eq_ignore_ascii_case("text/html") && !refused
        })
    })
}

/// The page a browser gets at `/` when the server runs without a
/// dashboard build: what is missing and how to get it, and where the API
/// is meanwhile.
pub(crate) fn missing_page() -> Response {
    const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streammon: dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem}code{background:#8882;padding:.1rem .3rem;border-radius:4px}</style>
</head><body>
<h1>The dashboard is not built</h1>
<p>This server is running without the web dashboard: it found no build in the
directory given by <code>--dashboard</code> (default <code>dashboard/dist</code>).
Build it with <code>npm --prefix dashboard ci &amp;&amp; npm --prefix dashboard run build</code>
(<code>./run.sh</code> does this), then restart the server.</p>
<p>The API works meanwhile: <a href="/docs">/docs</a> describes it,
<a href="/health">/health</a> reports the server's health, and Socket.IO listens at
<code>/socket.io/</code>.</p>
</body></html>
"#;
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], PAGE)
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn browsers_get_the_page_and_everyone_else_the_json() {
        assert!(wants_html(&accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&accept("application/json, text/plain, */*")));
        assert!(!wants_html(&accept("text/html;q=0, application/json")));
        assert!(!wants_html(&HeaderMap::new()));
    }
}
