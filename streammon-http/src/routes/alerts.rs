//! `GET /alerts`: the alert lifecycle.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use streammon_core::{Alert, AlertState};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::wire::AnomalyAlert;

/// `GET /alerts` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    /// Alerts in the requested state (all states by default), newest first.
    pub alerts: Vec<Alert>,
    /// Recent transitions (fired, resolved), newest first.
    pub events: Vec<AnomalyAlert>,
    /// True when storage could not be read: `alerts` then holds only the
    /// pending and firing alerts (kept in memory), without the resolved
    /// ones storage keeps.
    pub partial: bool,
}

/// Alerts with their lifecycle: pending, firing and resolved (kept by the
/// store), and the latest transitions.
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
    let events = state.read(|live| live.alert_events.iter().rev().take(limit).cloned().collect());
    Ok(Json(AlertList { alerts, events, partial }))
}
