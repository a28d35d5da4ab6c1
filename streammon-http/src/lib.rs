#![doc = include_str!("../README.md")]

mod auth;
mod cmcd;
mod dashboard;
mod error;
mod fanout;
mod params;
mod publish;
mod realtime;
mod routes;
mod state;
mod storage;
mod telemetry;
pub mod wire;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use auth::{AuthSettings, MIN_TOKEN_BYTES, TOKEN_COOKIE, Token, TokenTooShort};
pub use cmcd::{CmcdIngest, CmcdSettings};
pub use dashboard::Dashboard;
pub use error::{ApiError, ErrorBody};
pub use routes::cmcd::{ingest_request as ingest_cmcd_request, json_reports as parse_cmcd_json};

/// The bodies of the REST responses, for clients written in Rust.
pub mod responses {
    pub use crate::routes::alerts::AlertList;
    pub use crate::routes::analytics::{Analytics, BreakdownResponse, DistributionResponse};
    pub use crate::routes::cmcd::{SessionList, SessionRow};
    pub use crate::routes::content::{ContentDetail, ContentList};
    pub use crate::routes::health::{Health, PipelineHealth};
    pub use crate::routes::metrics::{Accepted, HistoryResponse, MetricsBody, SeriesOut, SeriesResponse};
}
pub use publish::Publisher;
pub use realtime::{
    Hub, MAX_ANOMALY_EVENTS, MAX_SAMPLE_AGE_MS, MAX_SAMPLE_LEAD_MS, TickEvents, TickUpdates, parse_samples,
};
pub use routes::ApiDoc;
pub use state::{AppState, HistoryEntry, HttpSettings, Ingest, Live};
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

/// A file of the dashboard's build (`/assets/…`, `/favicon.svg`), or a
/// JSON 404 naming the path.
async fn not_found(State(state): State<AppState>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method == Method::GET || method == Method::HEAD {
        let dashboard = state.settings().dashboard.clone();
        if let Some(file) = dashboard.as_deref().and_then(|d| d.serve(uri.path(), &headers)) {
            return file;
        }
    }
    ApiError::NotFound(format!("no endpoint at {}; see /docs", uri.path())).into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not take {method}; see /docs", uri.path()))
}

/// `GET /metrics` negotiates: the Prometheus text for scrapers, JSON
/// otherwise.
async fn metrics_negotiated(state: State<AppState>, headers: HeaderMap, query: axum::extract::RawQuery) -> Response {
    match routes::metrics::get_metrics(state, headers, query).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new().allow_methods([Method::GET, Method::POST]).allow_headers(tower_http::cors::Any);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(tower_http::cors::Any)
    } else {
        let origins = origins.to_vec();
        layer.allow_origin(AllowOrigin::predicate(move |origin, parts| {
            auth::origin_allowed(&origins, origin, parts.uri.path(), parts.headers.get(axum::http::header::HOST))
        }))
    }
}

/// The whole HTTP API over `state`, with the Socket.IO `layer` (from
/// [`Hub::new`]) mounted at `/socket.io/` and `/ws/socket.io/`.
pub fn router(state: AppState, socket_layer: socketioxide::layer::SocketIoLayer) -> Router {
    router_with(state, socket_layer, Router::new())
}

/// [`router`] with `extra` routes of the caller's (e.g. the `--media`
/// files) inside the same CORS, body limit and fallback.
pub fn router_with(
    state: AppState,
    socket_layer: socketioxide::layer::SocketIoLayer,
    extra: Router<AppState>,
) -> Router {
    let settings = state.settings().clone();
    Router::new()
        .route("/", get(routes::health::root))
        .route("/health", get(routes::health::health))
        .route("/metrics", get(metrics_negotiated).post(routes::metrics::post_metrics))
        .route("/metrics/prometheus", get(routes::metrics::prometheus))
        .route("/content", get(routes::content::list))
        .route("/content/{id}", get(routes::content::detail))
        .route("/analytics", get(routes::analytics::analytics))
        .route("/analytics/breakdown", get(routes::analytics::breakdown))
        .route("/analytics/distribution", get(routes::analytics::distribution))
        .route("/alerts", get(routes::alerts::list))
        .route("/cmcd", get(routes::cmcd::get_cmcd).post(routes::cmcd::post_cmcd))
        .route("/cmcd/response", axum::routing::post(routes::cmcd::post_response))
        .route("/cmcd/logs", axum::routing::post(routes::cmcd::post_logs))
        .route("/cmcd/sessions", get(routes::cmcd::sessions))
        .route("/openapi.json", get(routes::openapi))
        .route("/docs", get(routes::docs))
        .merge(extra)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(cors(&settings.cors_origins))
        .layer(socket_layer)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(axum::middleware::map_request(legacy_socket_path))
        .with_state(state)
}
