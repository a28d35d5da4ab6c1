//! `/silences`: alerts operators do not want delivered for a while. A
//! silenced alert still shows everywhere, marked; it is not sent to
//! Alertmanager or the webhooks.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use serde::Serialize;
use streammon_core::alert::{MAX_SILENCES, SilenceRefusal, SilenceRequest};
use utoipa::ToSchema;

use crate::alerting::SilenceView;
use crate::error::{ApiError, ApiResult};
use crate::routes::alerts::{check_operator, invalid, json_body};
use crate::routes::metrics::now_ms;
use crate::state::AppState;

/// `GET /silences` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct SilenceList {
    /// Every silence, pending, active, or expired within the last day,
    /// newest first.
    pub silences: Vec<SilenceView>,
}

/// A fresh silence id: `sil-` and 16 hex digits, unpredictable.
fn new_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    h.write_i64(now_ms());
    format!("sil-{:016x}", h.finish())
}

/// Every silence: pending, active, and those expired within the last day.
#[utoipa::path(operation_id = "list_silences", get, path = "/silences", tag = "alerts",
    responses((status = 200, body = SilenceList)))]
pub(crate) async fn list(State(state): State<AppState>) -> Json<SilenceList> {
    let now = now_ms();
    state.purge_silences(now).await;
    Json(SilenceList { silences: state.notes().silence_views(now) })
}

/// Creates a silence: the alerts its matchers cover (every matcher given
/// equals the alert's label) are not delivered from `starts_ms` (default
/// now) until `ends_ms` (or `starts_ms + duration_ms`). Kept in the
/// store, pushed to every dashboard (`silences`).
#[utoipa::path(operation_id = "create_silence", post, path = "/silences", tag = "alerts",
    request_body = SilenceRequest,
    responses(
        (status = 201, description = "Created", body = SilenceView),
        (status = 400, description = "A field is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "Admin or ingest tokens are configured and the request has none", body = crate::error::ErrorBody),
        (status = 403, description = "The request's Origin is not allowed", body = crate::error::ErrorBody),
        (status = 413, description = "Body over the size limit", body = crate::error::ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = crate::error::ErrorBody),
        (status = 422, description = "1000 silences are pending or active already", body = crate::error::ErrorBody),
        (status = 503, description = "Storage cannot take it now; retry", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security(("admin_token" = []), ("ingest_token" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<SilenceView>)> {
    check_operator(&state, &headers)?;
    let req: SilenceRequest = json_body(&state, &headers, body)?;
    let now = now_ms();
    let silence = req.into_silence(new_id(), now).map_err(invalid)?;
    state.notes_mut().silences.insert(silence.clone(), now).map_err(|e| match e {
        SilenceRefusal::Full => ApiError::LimitReached {
            field: "silences".into(),
            message: format!("at most {MAX_SILENCES} silences may be pending or active; expire one first"),
        },
        SilenceRefusal::Duplicate(id) => ApiError::Unavailable(format!("silence id {id} was drawn twice")),
    })?;
    if let Err(e) = state.store().put_silence(&silence).await {
        state.notes_mut().silences.remove(&silence.id);
        return Err(e.into());
    }
    state.relay_note(&crate::alerting::NoteChange::Silence { silence: silence.clone() });
    state.broadcast_silences(now);
    tracing::info!(target: "streammon::alerts", silence = %silence.id, author = %silence.author, matchers = ?silence.matchers, "silence created");
    Ok((StatusCode::CREATED, Json(SilenceView::new(silence, now))))
}

/// Expires a silence now: alerts it covered are delivered again. It stays
/// listed, expired, for a day.
#[utoipa::path(operation_id = "expire_silence", delete, path = "/silences/{id}", tag = "alerts",
    params(("id" = String, Path, description = "Silence id, e.g. sil-3f9a0c1d5e7b2a64")),
    responses(
        (status = 200, description = "Expired", body = SilenceView),
        (status = 401, description = "Admin or ingest tokens are configured and the request has none", body = crate::error::ErrorBody),
        (status = 403, description = "The request's Origin is not allowed", body = crate::error::ErrorBody),
        (status = 404, description = "No such silence", body = crate::error::ErrorBody),
        (status = 503, description = "Storage cannot take it now; retry", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security(("admin_token" = []), ("ingest_token" = [])))]
pub(crate) async fn expire(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<SilenceView>> {
    check_operator(&state, &headers)?;
    let now = now_ms();
    let Some(mut expired) = state.notes().silences.get(&id).cloned() else {
        return Err(ApiError::NotFound(format!("no silence {id}")));
    };
    if expired.ends_ms > now {
        expired.ends_ms = now.max(expired.starts_ms);
    }
    state.store().put_silence(&expired).await?;
    state.notes_mut().silences.expire(&id, now);
    state.broadcast_silences(now);
    state.relay_note(&crate::alerting::NoteChange::Expire { id: id.clone(), at_ms: now });
    tracing::info!(target: "streammon::alerts", silence = %id, "silence expired");
    Ok(Json(SilenceView::new(expired, now)))
}
