//! The REST endpoints, one module per resource, and the OpenAPI document
//! generated from their annotations.
//!
//! [`api`] is the one place a JSON route is registered: `routes!` takes a
//! handler's `#[utoipa::path]` both to route it and to document it, so a
//! route cannot exist without its documentation, nor the documentation
//! without its route. To add an endpoint, annotate its handler and list it
//! there.

pub(crate) mod alerts;
pub(crate) mod analytics;
pub(crate) mod cmcd;
pub(crate) mod content;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod silences;

use axum::http::header;
use axum::response::Html;
use axum::routing::MethodRouter;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The parts of the OpenAPI document that are no route's: the
/// description, the tags, the event schemas and the bearer schemes.
/// [`api`] adds the paths.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "streammon",
        description = "Streaming QoE monitor: health, metrics, content, analytics and alerts. Live events go over Socket.IO (`metrics_update`, `content_change`, `anomaly_alert`, at `/socket.io/` and `/ws/socket.io/`), documented in docs/EVENTS.md.",
        license(name = "MIT")
    ),
    components(schemas(
        crate::wire::MetricsUpdate,
        crate::wire::AnomalyAlert,
        crate::wire::ContentChangeEvent,
        crate::wire::Lagged,
        metrics::SeriesResponse,
        crate::error::ErrorBody,
    )),
    modifiers(&Tokens),
    tags(
        (name = "health", description = "Is the server well"),
        (name = "metrics", description = "Tick history, series, samples in, Prometheus"),
        (name = "content", description = "Titles and their health"),
        (name = "analytics", description = "Anomalies, forecasts, breakdowns"),
        (name = "alerts", description = "Alert lifecycle, acknowledgements, silences and delivery (docs/ALERTS.md)"),
        (name = "cmcd", description = "Player telemetry in: the CMCD collector (docs/CMCD.md)"),
    )
)]
pub(crate) struct ApiDoc;

/// The bearer schemes the routes name in `security`: `ingest_token` for
/// writes, `admin_token` for acting on alerts (an ingest token acts too),
/// `read_token` for reads when read tokens are configured
/// (docs/SECURITY.md).
struct Tokens;

impl utoipa::Modify for Tokens {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        for name in ["ingest_token", "read_token", "admin_token"] {
            components.add_security_scheme(name, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        }
    }
}

/// The JSON API: each route with its documentation, registered together.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::root))
        .routes(routes!(health::health))
        .routes(routes!(metrics::get_metrics, metrics::post_metrics))
        .routes(routes!(metrics::prometheus))
        .routes(routes!(content::list))
        .routes(routes!(content::detail))
        .routes(routes!(analytics::analytics))
        .routes(routes!(analytics::breakdown))
        .routes(routes!(analytics::distribution))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::ack))
        .routes(routes!(alerts::unack))
        .routes(routes!(alerts::test))
        .routes(routes!(silences::list, silences::create))
        .routes(routes!(silences::expire))
        .routes(routes!(cmcd::get_cmcd, cmcd::post_cmcd))
        .routes(routes!(cmcd::post_response))
        .routes(routes!(cmcd::post_logs))
        .routes(routes!(cmcd::sessions))
}

/// `GET /openapi.json`: `doc`, serialized once.
pub(crate) fn openapi(doc: &utoipa::openapi::OpenApi) -> MethodRouter<AppState> {
    let json = bytes::Bytes::from(doc.to_json().unwrap_or_else(|_| "{}".into()));
    axum::routing::get(move || {
        let json = json.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], json) }
    })
}

/// `GET /docs`: interactive API docs, self-contained (no CDN).
pub(crate) async fn docs() -> Html<&'static str> {
    Html(include_str!("../../assets/api-docs.html"))
}
