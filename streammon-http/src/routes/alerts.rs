//! `/alerts`: the alert lifecycle, and what operators do about alerts:
//! acknowledge them, and send a test notification.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use streammon_core::alert::{Ack, AlertLabels};
use streammon_core::{Alert, AlertState};
use utoipa::ToSchema;

use crate::auth::AuthSettings;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::routes::metrics::now_ms;
use crate::state::AppState;
use crate::wire::AnomalyAlert;
use streammon_notify::TestOutcome;

/// An alert with what operators said about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertView {
    /// The alert.
    #[serde(flatten)]
    pub alert: Alert,
    /// The labels it is known by in Alertmanager, webhooks and silences.
    pub labels: AlertLabels,
    /// Its acknowledgement, when someone acknowledged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<Ack>,
    /// Ids of the active silences that cover it: it is shown but not
    /// delivered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub silenced_by: Vec<String>,
}

impl AlertView {
    /// `alert` with its acknowledgement and the silences in `notes` that
    /// cover it at `now_ms`.
    pub(crate) fn new(notes: &crate::alerting::Notes, alert: Alert, now_ms: i64) -> Self {
        let labels = alert.labels();
        let ack = notes.acks.get(&alert.id).cloned();
        let silenced_by = notes.silences.covering(&labels, now_ms);
        Self { labels, alert, ack, silenced_by }
    }
}

/// `GET /alerts` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    /// Alerts in the requested state (all states by default), newest first.
    pub alerts: Vec<AlertView>,
    /// Recent transitions (fired, resolved), newest first.
    pub events: Vec<AnomalyAlert>,
    /// True when storage could not be read: `alerts` then holds only the
    /// pending and firing alerts (kept in memory), without the resolved
    /// ones storage keeps.
    pub partial: bool,
}

/// Alerts with their lifecycle: pending, firing and resolved (kept by the
/// store), and the latest transitions; each with its acknowledgement and
/// the silences that cover it.
///
/// While storage is down or slow (over half a second) it still answers,
/// from memory: the pending and firing alerts and the transitions, with
/// `partial` true.
#[utoipa::path(operation_id = "list_alerts", get, path = "/alerts", tag = "alerts",
    params(
        ("state" = Option<AlertState>, Query, description = "pending, firing or resolved"),
        ("limit" = Option<usize>, Query, description = "At most this many alerts and events, 1 to 10000 (default 200)"),
    ),
    responses((status = 200, body = AlertList), (status = 400, body = crate::error::ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Json<AlertList>> {
    let params = Params::parse(query.as_deref(), &["state", "limit"])?;
    let wanted = match params.text("state") {
        None => None,
        Some("pending") => Some(AlertState::Pending),
        Some("firing") => Some(AlertState::Firing),
        Some("resolved") => Some(AlertState::Resolved),
        Some(other) => return Err(ApiError::bad("state", format!("{other:?} is not pending, firing or resolved"))),
    };
    let limit = params.int("limit", 1..=10_000)?.unwrap_or(200);
    let stored = crate::storage::optional(&state, "alerts", state.store().alerts(wanted)).await?;
    let partial = stored.is_none();
    let mut alerts = stored.unwrap_or_default();
    // The store keeps the last written state; pending alerts live only in
    // the engine.
    let active: Vec<Alert> = state.read(|live| live.active_alerts.clone());
    for a in active.into_iter().filter(|a| wanted.is_none_or(|w| a.state == w)) {
        match alerts.iter_mut().find(|b| b.id == a.id) {
            Some(b) => *b = a,
            None => alerts.push(a),
        }
    }
    alerts.sort_by(|a, b| b.started_ms.cmp(&a.started_ms).then_with(|| b.id.cmp(&a.id)));
    alerts.truncate(limit);
    let now = now_ms();
    let alerts = {
        let notes = state.notes();
        alerts.into_iter().map(|a| AlertView::new(&notes, a, now)).collect()
    };
    let events = state.read(|live| live.alert_events.iter().rev().take(limit).cloned().collect());
    Ok(Json(AlertList { alerts, events, partial }))
}

/// Reads a JSON body of an alert action, naming the field at fault.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<T> {
    let media = crate::routes::metrics::media_type(headers);
    if media != "application/json" {
        return Err(ApiError::UnsupportedMediaType(format!("{media:?} is not application/json")));
    }
    let body = body.map_err(|e| ApiError::from_body(&e, state.settings().max_body_bytes))?;
    let mut de = serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let (field, message) = crate::realtime::error_field(e);
        ApiError::bad(if field.is_empty() { "body".to_owned() } else { field }, message)
    })
}

/// Checks the request may act on alerts.
pub(crate) fn check_operator(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if state.settings().auth.may_operate(headers) { Ok(()) } else { Err(AuthSettings::operate_refusal(headers)) }
}

/// A core validation error as a 400 naming its field.
pub(crate) fn invalid(e: streammon_core::Error) -> ApiError {
    match e {
        streammon_core::Error::InvalidConfig { field, reason } => ApiError::bad(field, reason),
        other => ApiError::bad("body", other.to_string()),
    }
}

/// The alert `id`: active ones from memory, the rest from the store.
async fn find_alert(state: &AppState, id: &str) -> ApiResult<Alert> {
    if let Some(a) = state.read(|live| live.active_alerts.iter().find(|a| a.id == id).cloned()) {
        return Ok(a);
    }
    match crate::storage::optional(state, "alerts", state.store().alerts(None)).await? {
        Some(stored) => {
            stored.into_iter().find(|a| a.id == id).ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))
        }
        None => Err(ApiError::Unavailable(format!("alert {id} is not active and storage cannot be read"))),
    }
}

/// `POST /alerts/{id}/ack` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Who acknowledges, 1 to 64 bytes.
    pub by: String,
    /// What they say, up to 1024 bytes.
    #[serde(default)]
    pub comment: String,
}

/// `POST /alerts/{id}/unack` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnackRequest {
    /// Who takes the acknowledgement back, 1 to 64 bytes.
    pub by: String,
}

/// `POST /alerts/{id}/unack` response, and the `alert_ack` event when an
/// acknowledgement is taken back.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unacked {
    /// The alert.
    pub alert_id: String,
    /// Who took the acknowledgement back.
    pub by: String,
    /// When, epoch ms.
    pub at_ms: i64,
}

/// Acknowledges an alert: someone is on it. Recorded with who and when,
/// kept in the store, pushed to every dashboard (`alert_ack`) and sent to
/// the webhooks. Acknowledging again replaces the earlier one.
#[utoipa::path(operation_id = "ack_alert", post, path = "/alerts/{id}/ack", tag = "alerts",
    params(("id" = String, Path, description = "Alert id, e.g. alrt-000042")),
    request_body = AckRequest,
    responses(
        (status = 200, description = "Acknowledged", body = Ack),
        (status = 400, description = "A field is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "Admin or ingest tokens are configured and the request has none", body = crate::error::ErrorBody),
        (status = 403, description = "The request's Origin is not allowed", body = crate::error::ErrorBody),
        (status = 404, description = "No such alert", body = crate::error::ErrorBody),
        (status = 413, description = "Body over the size limit", body = crate::error::ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = crate::error::ErrorBody),
        (status = 503, description = "Storage cannot take it now; retry", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security(("admin_token" = []), ("ingest_token" = [])))]
pub(crate) async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Ack>> {
    check_operator(&state, &headers)?;
    let req: AckRequest = json_body(&state, &headers, body)?;
    let ack = Ack::new(&id, &req.by, now_ms(), &req.comment).map_err(invalid)?;
    let alert = find_alert(&state, &id).await?;
    state.store().put_ack(&ack).await?;
    state.notes_mut().acks.insert(ack.clone());
    state.broadcast("alert_ack", &serde_json::json!({ "alert_id": ack.alert_id, "ack": ack }));
    state.relay_note(&crate::alerting::NoteChange::Ack { ack: ack.clone() });
    if let Some(sink) = state.alert_sink() {
        sink.acknowledged(&alert, &ack);
    }
    tracing::info!(target: "streammon::alerts", alert = %ack.alert_id, by = %ack.by, "acknowledged");
    Ok(Json(ack))
}

/// Takes back an alert's acknowledgement.
#[utoipa::path(operation_id = "unack_alert", post, path = "/alerts/{id}/unack", tag = "alerts",
    params(("id" = String, Path, description = "Alert id, e.g. alrt-000042")),
    request_body = UnackRequest,
    responses(
        (status = 200, description = "No longer acknowledged", body = Unacked),
        (status = 400, description = "A field is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "Admin or ingest tokens are configured and the request has none", body = crate::error::ErrorBody),
        (status = 403, description = "The request's Origin is not allowed", body = crate::error::ErrorBody),
        (status = 404, description = "The alert is not acknowledged", body = crate::error::ErrorBody),
        (status = 413, description = "Body over the size limit", body = crate::error::ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = crate::error::ErrorBody),
        (status = 503, description = "Storage cannot take it now; retry", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security(("admin_token" = []), ("ingest_token" = [])))]
pub(crate) async fn unack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Unacked>> {
    check_operator(&state, &headers)?;
    let req: UnackRequest = json_body(&state, &headers, body)?;
    let at_ms = now_ms();
    // Validated as an acknowledgement would be.
    let by = Ack::new(&id, &req.by, at_ms, "").map_err(invalid)?.by;
    if state.notes().acks.get(&id).is_none() {
        return Err(ApiError::NotFound(format!("alert {id} is not acknowledged")));
    }
    state.store().delete_ack(&id).await?;
    state.notes_mut().acks.remove(&id);
    let unacked = Unacked { alert_id: id, by, at_ms };
    state.relay_note(&crate::alerting::NoteChange::Unack {
        alert_id: unacked.alert_id.clone(),
        by: unacked.by.clone(),
        at_ms,
    });
    state.broadcast(
        "alert_ack",
        &serde_json::json!({ "alert_id": unacked.alert_id, "ack": null, "by": unacked.by, "at_ms": at_ms }),
    );
    if let Some(sink) = state.alert_sink()
        && let Ok(alert) = find_alert(&state, &unacked.alert_id).await
    {
        sink.unacknowledged(&alert, &unacked.by, at_ms);
    }
    tracing::info!(target: "streammon::alerts", alert = %unacked.alert_id, by = %unacked.by, "acknowledgement taken back");
    Ok(Json(unacked))
}

/// `POST /alerts/test` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// Who asks, 1 to 64 bytes; named in the test notification.
    pub by: String,
}

/// `POST /alerts/test` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestReport {
    /// One per destination (Alertmanager, webhook); empty when none is
    /// configured.
    pub outcomes: Vec<TestOutcome>,
}

/// Sends a test notification to every destination (each Alertmanager and
/// webhook) now, once each, and says how each took it: to check the
/// wiring. Waits for the answers (each within the delivery timeout).
#[utoipa::path(operation_id = "test_alert_delivery", post, path = "/alerts/test", tag = "alerts",
    request_body = TestRequest,
    responses(
        (status = 200, description = "Sent; the outcome per destination", body = TestReport),
        (status = 400, description = "A field is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "Admin or ingest tokens are configured and the request has none", body = crate::error::ErrorBody),
        (status = 403, description = "The request's Origin is not allowed", body = crate::error::ErrorBody),
        (status = 413, description = "Body over the size limit", body = crate::error::ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = crate::error::ErrorBody)),
    security(("admin_token" = []), ("ingest_token" = [])))]
pub(crate) async fn test(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<TestReport>> {
    check_operator(&state, &headers)?;
    let req: TestRequest = json_body(&state, &headers, body)?;
    let now = now_ms();
    let by = Ack::new("test", &req.by, now, "").map_err(invalid)?.by;
    let outcomes = match state.alert_sink() {
        Some(sink) => sink.test(&by, now).await,
        None => Vec::new(),
    };
    Ok(Json(TestReport { outcomes }))
}
