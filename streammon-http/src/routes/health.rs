//! `GET /`: is the server well, and is the pipeline keeping up?

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use streammon_core::StoreHealth;
use utoipa::ToSchema;

use crate::state::AppState;

/// The pipeline's part of the health report.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineHealth {
    /// Ticks published since start.
    pub ticks: u64,
    /// Samples processed since start.
    pub samples: u64,
    /// Milliseconds since the last tick was published; absent before the
    /// first.
    pub last_tick_age_ms: Option<u64>,
    /// The tick length, milliseconds.
    pub interval_ms: u32,
    /// Series the detectors follow.
    pub detector_series: usize,
    /// Anomalies found since start.
    pub anomalies: u64,
    /// Alerts pending or firing now.
    pub active_alerts: usize,
    /// Connected Socket.IO clients.
    pub clients: i64,
}

/// The server's state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServerStatus {
    /// All is well: answered with 200.
    Ok,
    /// Storage fails or does not answer, or the pipeline failed
    /// (panicked) or stalled (no tick for three tick lengths): answered
    /// with 503.
    Degraded,
}

/// `GET /` and `GET /health` response: the server's own health (a title's
/// health is [`streammon_core::pipeline::Health`], a different thing).
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerHealth {
    /// `ok`, or `degraded` when storage fails or does not answer, or the
    /// pipeline failed (panicked) or stalled (no tick for three tick
    /// lengths).
    pub status: ServerStatus,
    /// Why it is degraded; empty when ok.
    pub problems: Vec<String>,
    /// Past trouble that does not make it degraded now, such as samples
    /// the store lost since start.
    pub warnings: Vec<String>,
    /// Server version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_s: f64,
    /// Where samples come from, e.g. `simulator`.
    pub source: String,
    /// Storage health, with its loss counters.
    pub storage: StoreHealth,
    /// Pipeline health.
    pub pipeline: PipelineHealth,
    /// Each alert destination (Alertmanager, webhook): its queue and what
    /// became of what was sent to it. Empty when none is configured. A
    /// destination down or dropping notifications is a warning, not a
    /// problem: the server itself is well, and restarting it would not help.
    pub delivery: Vec<streammon_notify::DestinationStats>,
    /// Cluster mode: this node and its role; absent on a standalone server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterHealth>,
}

/// A cluster node's part (`serve --cluster`, docs/SCALING.md).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterHealth {
    /// This node's id.
    pub node: String,
    /// `lead` while this node holds the lead lease (it runs the pipeline),
    /// else `follower` (it shows the lead's ticks).
    pub role: ClusterRole,
    /// Partitions of the ingest streams.
    pub partitions: u16,
}

/// A cluster node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClusterRole {
    /// Holds the lead lease: runs the pipeline.
    Lead,
    /// Shows the lead's ticks; takes the lease over when it lapses.
    Follower,
}

/// Health: 200 when ok, 503 when degraded (for load balancers), the same
/// body either way.
///
/// A browser navigating to `/` (its Accept header names `text/html`) gets
/// the dashboard instead; `GET /health` always answers the report.
#[utoipa::path(operation_id = "health", get, path = "/", tag = "health",
    responses((status = 200, description = "Healthy", body = ServerHealth),
              (status = 503, description = "Degraded: see `problems`", body = ServerHealth,
                  headers(("Retry-After" = u32, description = "Seconds before asking again")))))]
pub(crate) async fn root(state: State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if crate::dashboard::wants_html(&headers) {
        let dashboard = state.settings().dashboard.clone();
        return match dashboard {
            Some(d) => d.index(headers).await,
            None => crate::dashboard::missing_page(),
        };
    }
    health(state).await
}

/// The health report, whatever the Accept header: what the dashboard and
/// its development server's proxy read.
///
/// It answers within about 50 ms whatever the store does: the storage check
/// is single-flight and cached for a second, and a check Redis leaves
/// unanswered for 250 ms is reported as a problem (docs/RELIABILITY.md).
#[utoipa::path(operation_id = "health_report", get, path = "/health", tag = "health",
    responses((status = 200, description = "Healthy", body = ServerHealth),
              (status = 503, description = "Degraded: see `problems`", body = ServerHealth,
                  headers(("Retry-After" = u32, description = "Seconds before asking again")))))]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let (status, body) = assess(&state).await;
    let json = bytes::Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let mut response = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(RETRY_AFTER_S));
    }
    response
}

/// Seconds a 503's `Retry-After` asks a prober to wait: about one storage
/// check's lifetime.
const RETRY_AFTER_S: u32 = 1;

async fn assess(state: &AppState) -> (StatusCode, ServerHealth) {
    let storage = crate::storage::report(state).await;
    let (stats, age, interval, active) = state.read(|live| {
        (
            live.stats,
            live.last_tick_at.map(|t| t.elapsed().as_millis() as u64),
            live.interval_ms,
            live.active_alerts.len(),
        )
    });
    let mut problems = Vec::new();
    if let Some(reason) = state.failure() {
        problems.push(format!("pipeline failed: {reason}"));
    }
    if !storage.ok {
        problems.push(format!("storage ({}) failing: {}", storage.backend, storage.detail));
    }
    let mut warnings = Vec::new();
    if storage.dropped > 0 || storage.failed > 0 {
        warnings.push(format!(
            "storage lost writes: {} samples dropped, {} writes refused",
            storage.dropped, storage.failed
        ));
    }
    let delivery = state.alert_sink().map(|sink| sink.health()).unwrap_or_default();
    for d in &delivery {
        if d.dropped() > 0 {
            warnings.push(format!(
                "alert delivery to {} {} dropped {} notification(s): {} queue full, {} after retries, {} refused",
                d.kind,
                d.destination,
                d.dropped(),
                d.dropped_queue_full,
                d.dropped_exhausted,
                d.dropped_rejected
            ));
        }
        if !d.up {
            warnings.push(format!(
                "alert delivery to {} {} failing: {}",
                d.kind,
                d.destination,
                d.last_error.as_deref().unwrap_or("?")
            ));
        }
    }
    let cluster = state.cluster().map(|c| ClusterHealth {
        node: c.node.clone(),
        role: if c.leading() { ClusterRole::Lead } else { ClusterRole::Follower },
        partitions: c.partitions,
    });
    if let Some(age) = age
        && interval > 0
        && age > 3 * u64::from(interval)
    {
        match &cluster {
            // A follower waiting for a new lead is not what is wrong:
            // restarting it would not help, and a balancer should keep it.
            Some(c) if c.role == ClusterRole::Follower => {
                warnings.push(format!(
                    "no tick from the cluster's lead for {age} ms: a node takes the lead over within 10 s"
                ));
            }
            _ => problems.push(format!("pipeline stalled: last tick {age} ms ago")),
        }
    }
    let body = ServerHealth {
        status: if problems.is_empty() { ServerStatus::Ok } else { ServerStatus::Degraded },
        problems,
        warnings,
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.uptime().as_secs_f64(),
        source: state.source().to_owned(),
        storage,
        pipeline: PipelineHealth {
            ticks: stats.ticks,
            samples: stats.samples,
            last_tick_age_ms: age,
            interval_ms: interval,
            detector_series: stats.detector_series,
            anomalies: stats.anomalies,
            active_alerts: active,
            clients: state.telemetry().clients.get(),
        },
        delivery,
        cluster,
    };
    let status = if body.problems.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, body)
}
