//! The REST endpoints, one module per resource, and the OpenAPI document
//! generated from their annotations.

pub(crate) mod alerts;
pub(crate) mod analytics;
pub(crate) mod cmcd;
pub(crate) mod content;
pub(crate) mod health;
pub(crate) mod metrics;

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use utoipa::OpenApi;

/// The OpenAPI 3 document of the HTTP API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "streammon",
        description = "Streaming QoE monitor: health, metrics, content, analytics and alerts. Live events go over Socket.IO (`metrics_update`, `content_change`, `anomaly_alert`, at `/socket.io/` and `/ws/socket.io/`), documented in docs/EVENTS.md.",
        license(name = "MIT")
    ),
    paths(
        health::root,
        health::health,
        metrics::get_metrics,
        metrics::post_metrics,
        metrics::prometheus,
        content::list,
        content::detail,
        analytics::analytics,
        analytics::breakdown,
        analytics::distribution,
        alerts::list,
        cmcd::post_cmcd,
        cmcd::get_cmcd,
        cmcd::post_response,
        cmcd::post_logs,
        cmcd::sessions,
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
        (name = "alerts", description = "Alert lifecycle"),
        (name = "cmcd", description = "Player telemetry in: the CMCD collector (docs/CMCD.md)"),
    )
)]
pub struct ApiDoc;

/// The bearer schemes the routes name in `security`: `ingest_token` for
/// writes, `read_token` for reads when read tokens are configured
/// (docs/SECURITY.md).
struct Tokens;

impl utoipa::Modify for Tokens {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        for name in ["ingest_token", "read_token"] {
            components.add_security_scheme(name, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        }
    }
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let json = DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()));
    ([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response()
}

/// `GET /docs`: interactive API docs, self-contained (no CDN).
pub(crate) async fn docs() -> Html<&'static str> {
    Html(include_str!("../../assets/api-docs.html"))
}
