//! Directories served as files: the dashboard's build at `/` and the
//! `--media` directory at `/media/`.
//!
//! [`ServeDir`] does the HTTP: `GET` and `HEAD`, byte ranges (206 with
//! `Content-Range`, 416), and the validators (a strong `ETag` from the
//! file's size and modification time, `Last-Modified`) with the
//! conditional requests that use them (`If-None-Match` and
//! `If-Modified-Since` answer 304, `If-Match` and `If-Unmodified-Since`
//! 412). Files are read when asked for, so a packager's new segments and a
//! rebuilt dashboard are served as they land. This module adds three
//! things it leaves to its caller:
//!
//! - **Confinement.** `ServeDir` refuses `..` and absolute paths but
//!   follows symbolic links wherever they point. [`Confined`] is the
//!   `ServeDir` backend that resolves every path it is asked to open and
//!   answers "not found" for one that ends outside the directory, so a
//!   link cannot publish `/etc`. Links that stay inside are followed.
//! - **`If-Range`**, which `ServeDir` does not evaluate: a range resumed
//!   against a file that changed since would splice two versions. A
//!   request with `If-Range` gets the whole file (RFC 9110 allows
//!   ignoring `Range`), which is right whatever the validator says.
//! - **Headers by place**: caching (`no-cache`, or `immutable` for the
//!   dashboard's content-hashed `assets/`), `nosniff`, any origin for
//!   media, and the media types that players need where `mime_guess`
//!   (which `ServeDir` uses) says otherwise: `.m3u8` is
//!   `application/vnd.apple.mpegurl` (RFC 8216), not `audio/x-mpegurl`;
//!   `.m4s`, `.cmfv` and `.cmfa` segments, which it does not know, are
//!   MP4; `.ts` is `video/mp2t`; `.m4a` is `audio/mp4`.
//!
//! Directories are not listed and have no index: a request for one is a
//! 404, like one for a file that is missing.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::services::ServeDir;
use tower_http::services::fs::{Backend, TokioBackend, TokioFile};

/// Where a directory is served, which decides its response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The dashboard's build: `immutable` under `assets/` (Vite names
    /// those files by their content), `no-cache` elsewhere.
    Dashboard,
    /// `--media`: `no-cache` (a live manifest changes under the same
    /// name) and open to pages of any origin, as a CDN's would be.
    Media,
}

/// The router serving the files under `root` as `place` wants them;
/// `not_found` answers what is not a file there (or a method other than
/// `GET` or `HEAD`).
pub(crate) fn serve<H, T>(root: &Path, place: Place, not_found: H) -> Router
where
    H: Handler<T, ()>,
    T: 'static,
{
    let confined = Confined::new(root);
    let files = ServeDir::with_backend(confined.root.clone(), confined)
        .append_index_html_on_directories(false)
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found.with_state(()));
    Router::new().fallback_service(files).layer(axum::middleware::from_fn_with_state(place, headers))
}

/// `If-Range` in, the headers of `place` out.
async fn headers(State(place): State<Place>, mut req: Request, next: Next) -> Response {
    if req.headers().contains_key(header::IF_RANGE) {
        req.headers_mut().remove(header::RANGE);
    }
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let status = res.status();
    if !(status.is_success() || status == StatusCode::NOT_MODIFIED) {
        return res;
    }
    let h = res.headers_mut();
    if status != StatusCode::NOT_MODIFIED
        && let Some(media_type) = media_type(&path)
    {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    }
    let cache = match place {
        Place::Dashboard if path.starts_with("/assets/") => "public, max-age=31536000, immutable",
        Place::Dashboard | Place::Media => "no-cache",
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if place == Place::Media {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    res
}

/// The media type of `path` where players need another than `mime_guess`
/// gives; `None` keeps `ServeDir`'s.
fn media_type(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or_default();
    let (_, ext) = name.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "m3u8" => "application/vnd.apple.mpegurl",
        "m4s" | "cmfv" => "video/mp4",
        "m4a" | "cmfa" => "audio/mp4",
        "ts" => "video/mp2t",
        _ => return None,
    })
}

/// A [`ServeDir`] backend that opens only what resolves to a path inside
/// its root, following symbolic links to find out.
#[derive(Debug, Clone)]
pub(crate) struct Confined {
    /// The root, resolved (canonical).
    root: Arc<Path>,
}

impl Confined {
    /// Confined to `root`. A root that cannot be resolved (it does not
    /// exist) is kept as given: nothing resolves inside it.
    pub(crate) fn new(root: &Path) -> Self {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        Self { root: root.into() }
    }

    /// `path` resolved, or `NotFound` when it leaves the root.
    async fn resolve(root: &Path, path: &Path) -> io::Result<PathBuf> {
        let real = tokio::fs::canonicalize(path).await?;
        if real.starts_with(root) {
            Ok(real)
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "outside the served directory"))
        }
    }
}

type BoxedIo<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

impl Backend for Confined {
    type File = TokioFile;
    type Metadata = std::fs::Metadata;
    type OpenFuture = BoxedIo<TokioFile>;
    type MetadataFuture = BoxedIo<std::fs::Metadata>;

    fn open(&self, path: PathBuf) -> Self::OpenFuture {
        let root = self.root.clone();
        Box::pin(async move { TokioBackend.open(Self::resolve(&root, &path).await?).await })
    }

    fn metadata(&self, path: PathBuf) -> Self::MetadataFuture {
        let root = self.root.clone();
        Box::pin(async move { TokioBackend.metadata(Self::resolve(&root, &path).await?).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn players_get_the_media_types_they_know() {
        assert_eq!(media_type("/live/index.M3U8"), Some("application/vnd.apple.mpegurl"));
        assert_eq!(media_type("/v/seg-1.m4s"), Some("video/mp4"));
        assert_eq!(media_type("/a/seg-1.cmfa"), Some("audio/mp4"));
        assert_eq!(media_type("/v.1/seg"), None, "a dot in a directory is no extension");
        assert_eq!(media_type("/manifest.mpd"), None, "mime_guess knows application/dash+xml");
    }

    #[tokio::test]
    async fn links_leaving_the_root_are_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(dir.join("secret"), "s").unwrap();
        std::fs::write(root.join("inside"), "i").unwrap();
        let confined = Confined::new(&root);
        assert!(confined.metadata(root.join("inside")).await.is_ok());
        assert!(confined.metadata(root.join("missing")).await.is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.join("secret"), root.join("out")).unwrap();
            std::os::unix::fs::symlink(root.join("inside"), root.join("in")).unwrap();
            let err = confined.open(root.join("out")).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
            assert!(confined.open(root.join("in")).await.is_ok(), "links that stay inside are followed");
        }
    }
}
