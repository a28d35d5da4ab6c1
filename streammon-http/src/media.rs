//! `/media/`: a directory of DASH or HLS media, served as a CDN edge
//! would, reading the CMCD of every request for it.
//!
//! The files go out through [`crate::files`] (`ServeDir`: ranges, `ETag`,
//! conditional requests; paths and links that leave the directory are a
//! 404). Before that, [`read_cmcd`] hands the request's CMCD (its `CMCD=`
//! query argument, else its `CMCD-*` headers) to the collector, by the
//! same path as `GET /cmcd`. A request's CMCD never decides whether it is
//! served: a malformed or refused payload is counted as invalid and logged
//! at debug level, and the segment still goes out.

use std::net::SocketAddr;
use std::path::Path;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::files::{self, Place};
use crate::state::AppState;

/// Where the media directory is mounted.
pub(crate) const PREFIX: &str = "/media";

/// The service for the files under `dir`, to be nested at [`PREFIX`]
/// (it sees the path below it).
pub(crate) fn service(state: AppState, dir: &Path) -> Router {
    files::serve(dir, Place::Media, no_media).layer(axum::middleware::from_fn_with_state(state, read_cmcd))
}

/// The 404 of a path that is no file of the directory.
async fn no_media(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no media at {PREFIX}{}", uri.path()))
}

/// Feeds the request's CMCD to the collector, then serves the request
/// whatever became of it.
async fn read_cmcd(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    if let Err(e) = crate::ingest_cmcd_request(&state, req.headers(), req.uri().query(), client) {
        if let Some(cmcd) = state.cmcd() {
            cmcd.count_invalid(1);
        }
        let path = req.uri().path();
        tracing::debug!(target: "streammon::cmcd", path, error = %e, "media request with unusable CMCD");
    }
    next.run(req).await
}
