#![doc = include_str!("../README.md")]

mod alerting;
mod auth;
mod cmcd;
mod dashboard;
mod error;
mod fanout;
mod files;
mod media;
mod params;
mod publish;
mod realtime;
mod routes;
mod sources;
mod state;
mod storage;
mod telemetry;
pub mod wire;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, Uri};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use alerting::{AlertSink, NoteChange, Notes, NotesRelay, SilenceView};
pub use auth::{AuthSettings, MIN_TOKEN_BYTES, TOKEN_COOKIE, Token, TokenTooShort};
pub use cmcd::{CmcdIngest, CmcdSettings};
pub use dashboard::Dashboard;
pub use error::{ApiError, ErrorBody};
pub use routes::cmcd::{ingest_request as ingest_cmcd_request, json_reports as parse_cmcd_json};
pub use streammon_notify::{DestinationStats, TestOutcome};

/// The bodies of the REST responses, for clients written in Rust.
pub mod responses {
    pub use crate::routes::alerts::{AckRequest, AlertList, AlertView, TestReport, TestRequest, UnackRequest, Unacked};
    pub use crate::routes::analytics::{Analytics, BreakdownResponse, DistributionResponse};
    pub use crate::routes::cmcd::{SessionList, SessionRow};
    pub use crate::routes::content::{ContentDetail, ContentList};
    pub use crate::routes::health::{ClusterHealth, ClusterRole, PipelineHealth, ServerHealth, ServerStatus};
    pub use crate::routes::metrics::{Accepted, HistoryResponse, MetricsBody, SeriesOut, SeriesResponse};
    pub use crate::routes::silences::SilenceList;
}
pub use publish::{PipelineView, Publisher, RelayedTick, Restored};
pub use realtime::{
    Hub, MAX_ANOMALY_EVENTS, MAX_SAMPLE_AGE_MS, MAX_SAMPLE_LEAD_MS, TickEvents, TickUpdates, WatchedRooms,
    parse_samples,
};
pub use sources::{ClientQueue, CmcdSource};
pub use state::{
    AppState, BoxFuture, ClusterNode, HistoryEntry, HttpSettings, Ingest, IngestSink, Live, SinkRefusal, Submitted,
};
pub use storage::watch as watch_storage;
pub use telemetry::{MAX_REGION_LABELS, Telemetry};

/// The path the original server mounted its Socket.IO app under: its
/// clients connect with `path: '/ws/socket.io'`.
pub const LEGACY_SOCKET_PREFIX: &str = "/ws/socket.io";

/// Rewrites `/ws/socket.io/…` to `/socket.io/…` so the original's clients
/// reach the same Socket.IO server unchanged.
async fn legacy_socket_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/ws").filter(|_| path.starts_with(LEGACY_SOCKET_PREFIX)) {
        let pq = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// The JSON 404 of a path that names no route (and no file of the
/// dashboard).
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no endpoint at {}; see /docs", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not take {method}; see /docs", uri.path()))
}

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers(tower_http::cors::Any);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(tower_http::cors::Any)
    } else {
        let origins = origins.to_vec();
        layer.allow_origin(AllowOrigin::predicate(move |origin, parts| {
            auth::origin_allowed(&origins, origin, parts.uri.path(), parts.headers.get(axum::http::header::HOST))
        }))
    }
}

/// The OpenAPI document of the JSON API: what `GET /openapi.json` serves,
/// made from the same registrations as the routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::api().into_openapi()
}

/// The whole HTTP API over `state`, with the Socket.IO `layer` (from
/// [`Hub::new`]) mounted at `/socket.io/` and `/ws/socket.io/`, the
/// dashboard's files (`HttpSettings::dashboard`) at `/` and the media
/// (`HttpSettings::media`) at `/media/`.
///
/// Its JSON routes are those of the OpenAPI document ([`openapi`]), and
/// only those; the rest are the document itself, `/docs`, Socket.IO and
/// the files.
pub fn router(state: AppState, socket_layer: socketioxide::layer::SocketIoLayer) -> Router {
    router_with(state, socket_layer, Router::new())
}

/// [`router`] with `extra` routes of the caller's inside the same CORS,
/// body limit, tokens and fallback.
pub fn router_with(
    state: AppState,
    socket_layer: socketioxide::layer::SocketIoLayer,
    extra: Router<AppState>,
) -> Router {
    let settings = state.settings().clone();
    let (api, doc) = routes::api().split_for_parts();
    let mut app = api.route("/openapi.json", routes::openapi(&doc)).route("/docs", get(routes::docs)).merge(extra);
    if let Some(dir) = &settings.media {
        app = app.nest_service(media::PREFIX, media::service(state.clone(), dir));
    }
    app = match &settings.dashboard {
        Some(dashboard) => app.fallback_service(dashboard.files()),
        None => app.fallback(not_found),
    };
    app.method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(socket_layer)
        // Outside Socket.IO's layer, so that its polling transport answers
        // CORS for the allowed origins as the REST routes do.
        .layer(cors(&settings.cors_origins))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(axum::middleware::map_request(legacy_socket_path))
        .with_state(state)
}
