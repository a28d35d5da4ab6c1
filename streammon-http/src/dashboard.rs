//! The web dashboard's files, served from memory at `/`.
//!
//! The dashboard is a static build (`dashboard/dist`: an `index.html` and
//! hashed assets). The binary reads the directory once at start and hands
//! the files over as bytes, so this crate does no file I/O and a request
//! never touches the disk. `GET /` is shared with the health report: a
//! browser (whose navigation asks for `text/html`) gets the app, anything
//! else (load balancers, `curl`, scripts) the health JSON, as before.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// One file of the dashboard.
#[derive(Debug, Clone)]
struct Asset {
    body: Bytes,
    content_type: &'static str,
    /// A strong validator: the FNV-1a hash of the body.
    etag: HeaderValue,
    /// Vite names everything under `assets/` by its content hash, so it
    /// can be cached for good; `index.html` must be revalidated.
    immutable: bool,
}

/// The dashboard's files by URL path (`/index.html`, `/assets/…`).
///
/// ```
/// use streammon_http::Dashboard;
/// let mut dashboard = Dashboard::default();
/// dashboard.insert("index.html", "<!doctype html><title>streammon</title>");
/// dashboard.insert("assets/app-3f2a.js", "console.log(1)");
/// assert!(dashboard.has_index());
/// assert_eq!(dashboard.len(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    files: HashMap<String, Asset>,
}

impl Dashboard {
    /// Adds a file at `path`, relative to the build directory (`/` as the
    /// separator; a leading `/` is ignored).
    pub fn insert(&mut self, path: &str, body: impl Into<Bytes>) {
        let path = format!("/{}", path.trim_start_matches('/'));
        let body = body.into();
        let etag =
            HeaderValue::from_str(&format!("\"{:016x}\"", fnv1a(&body))).unwrap_or(HeaderValue::from_static("\"\""));
        let asset = Asset { content_type: content_type(&path), immutable: path.starts_with("/assets/"), etag, body };
        self.files.insert(path, asset);
    }

    /// Whether the build has its `index.html`.
    pub fn has_index(&self) -> bool {
        self.files.contains_key("/index.html")
    }

    /// How many files it holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Total bytes of its files.
    pub fn bytes(&self) -> usize {
        self.files.values().map(|a| a.body.len()).sum()
    }

    /// The response for `path`, or `None` when the build has no such file.
    pub(crate) fn serve(&self, path: &str, headers: &HeaderMap) -> Option<Response> {
        let path = if path == "/" { "/index.html" } else { path };
        let asset = self.files.get(path)?;
        let cache = if asset.immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
        let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(',').any(|t| t.trim() == asset.etag.to_str().unwrap_or_default() || t.trim() == "*")
        });
        let common = [
            (header::ETAG, asset.etag.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ];
        Some(if fresh {
            (StatusCode::NOT_MODIFIED, common).into_response()
        } else {
            (common, [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type))], asset.body.clone())
                .into_response()
        })
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

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// 64-bit FNV-1a: a content hash for the ETag, no cryptography needed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn hashed_assets_are_immutable_and_revalidation_answers_304() {
        let mut d = Dashboard::default();
        d.insert("/index.html", "<html></html>");
        d.insert("assets/index-abc.js", "x");
        let r = d.serve("/", &HeaderMap::new()).unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = r.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(d.serve("/index.html", &h).unwrap().status(), StatusCode::NOT_MODIFIED);
        let js = d.serve("/assets/index-abc.js", &HeaderMap::new()).unwrap();
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(js.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
        assert!(d.serve("/assets/missing.js", &HeaderMap::new()).is_none());
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
