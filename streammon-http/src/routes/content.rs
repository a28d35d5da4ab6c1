//! `GET /content` and `GET /content/{id}`: the titles and how they do.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use streammon_core::pipeline::{ContentRow, Health};
use streammon_core::store::{RangeQuery, SeriesFilter};
use streammon_core::{Alert, ContentId, ContentStatus, ContentType, Sample};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::wire::AnomalyAlert;

/// `GET /content` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContentList {
    /// Titles matching the filters, before `limit`.
    pub total: usize,
    /// Titles returned.
    pub count: usize,
    /// The rows.
    pub contents: Vec<ContentRow>,
}

const SORT_KEYS: [&str; 9] = [
    "viewers",
    "title",
    "health",
    "status",
    "buffering_ratio",
    "latency_ms",
    "startup_time_ms",
    "bitrate_kbps",
    "error_rate",
];

fn parse_enum<T: serde::de::DeserializeOwned>(params: &Params, name: &str, choices: &str) -> ApiResult<Option<T>> {
    params
        .text(name)
        .map(|v| {
            serde_json::from_value::<T>(serde_json::Value::String(v.to_owned()))
                .map_err(|_| ApiError::bad(name, format!("{v:?} is not one of {choices}")))
        })
        .transpose()
}

/// Active streaming content with status, viewers and health.
///
/// Filter by `status`, `content_type`, `health` and a case-insensitive
/// search `q` over id and title; sort by `sort` (default `viewers`),
/// `order` `desc` (default) or `asc`.
#[utoipa::path(operation_id = "list_content", get, path = "/content", tag = "content",
    params(
        ("status" = Option<String>, Query, description = "available, retired, scheduled, pre_show, live or ended; `streaming` for the three that stream"),
        ("content_type" = Option<ContentType>, Query, description = "video, audio or live"),
        ("health" = Option<Health>, Query, description = "healthy, degraded or critical"),
        ("q" = Option<String>, Query, description = "Search in id and title"),
        ("sort" = Option<String>, Query, description = "viewers (default), title, health, status, buffering_ratio, latency_ms, startup_time_ms, bitrate_kbps or error_rate"),
        ("order" = Option<String>, Query, description = "desc (default) or asc"),
        ("limit" = Option<usize>, Query, description = "At most this many rows, 1 to 10000 (default 1000)"),
    ),
    responses((status = 200, body = ContentList), (status = 400, body = crate::error::ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Json<ContentList>> {
    let params = Params::parse(query.as_deref(), &["status", "content_type", "health", "q", "sort", "order", "limit"])?;
    let streaming_only = params.text("status") == Some("streaming");
    let status: Option<ContentStatus> = if streaming_only {
        None
    } else {
        parse_enum(&params, "status", "available, retired, scheduled, pre_show, live, ended, streaming")?
    };
    let content_type: Option<ContentType> = parse_enum(&params, "content_type", "video, audio, live")?;
    let health: Option<Health> = parse_enum(&params, "health", "healthy, degraded, critical")?;
    let q = params.text("q").map(str::to_lowercase);
    let sort = params.text("sort").unwrap_or("viewers");
    if !SORT_KEYS.contains(&sort) {
        return Err(ApiError::bad("sort", format!("{sort:?} is not one of {}", SORT_KEYS.join(", "))));
    }
    let ascending = match params.text("order").unwrap_or("desc") {
        "asc" => true,
        "desc" => false,
        other => return Err(ApiError::bad("order", format!("{other:?} is not asc or desc"))),
    };
    let limit = params.int("limit", 1..=10_000)?.unwrap_or(1_000);
    let mut rows: Vec<ContentRow> = state.read(|live| {
        live.contents
            .iter()
            .filter(|r| !streaming_only || r.status.is_streaming())
            .filter(|r| status.is_none_or(|s| r.status == s))
            .filter(|r| content_type.is_none_or(|t| r.content_type == t))
            .filter(|r| health.is_none_or(|h| r.health == h))
            .filter(|r| {
                q.as_ref().is_none_or(|q| {
                    r.content_id.as_str().to_lowercase().contains(q) || r.title.to_lowercase().contains(q)
                })
            })
            .cloned()
            .collect()
    });
    rows.sort_by(|a, b| {
        let q = |r: &ContentRow| match sort {
            "buffering_ratio" => r.quality.buffering_ratio,
            "latency_ms" => r.quality.latency_ms,
            "startup_time_ms" => r.quality.startup_time_ms,
            "bitrate_kbps" => r.quality.bitrate_kbps,
            "error_rate" => r.quality.error_rate,
            _ => r.quality.viewers as f64,
        };
        let ord = match sort {
            "title" => a.title.cmp(&b.title),
            "health" => a.health.cmp(&b.health),
            "status" => a.status.as_str().cmp(b.status.as_str()),
            _ => q(a).total_cmp(&q(b)),
        };
        let ord = if ascending { ord } else { ord.reverse() };
        ord.then_with(|| a.content_id.cmp(&b.content_id))
    });
    let total = rows.len();
    rows.truncate(limit);
    Ok(Json(ContentList { total, count: rows.len(), contents: rows }))
}

/// `GET /content/{id}` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContentDetail {
    /// The title's row.
    pub content: ContentRow,
    /// Its streams in the last tick, one per region.
    pub regions: Vec<Sample>,
    /// Alerts pending or firing that name it.
    pub alerts: Vec<Alert>,
    /// Its recent anomalies, newest first.
    pub anomalies: Vec<AnomalyAlert>,
    /// True when storage could not be read: `regions` is then empty, the
    /// rest (kept in memory) complete.
    pub partial: bool,
}

/// One title: its row, its streams per region in the last tick, its
/// alerts and recent anomalies.
///
/// While storage is down or slow (over half a second) it still answers,
/// from memory, without the streams, and with `partial` true.
#[utoipa::path(operation_id = "get_content", get, path = "/content/{id}", tag = "content",
    params(("id" = String, Path, description = "Content id, e.g. vod-000001")),
    responses((status = 200, body = ContentDetail), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ContentDetail>> {
    let id = ContentId::from(id);
    let found = state.read(|live| {
        let row = live.contents.iter().find(|r| r.content_id == id)?.clone();
        let alerts = live
            .active_alerts
            .iter()
            .zip(&live.alert_titles)
            .filter(|(_, titles)| titles.binary_search(&id).is_ok())
            .map(|(a, _)| a.clone())
            .collect();
        let anomalies = live
            .anomalies
            .iter()
            .rev()
            .filter(|a| a.scope.content_id.as_ref() == Some(&id))
            .take(50)
            .cloned()
            .collect();
        Some((row, alerts, anomalies))
    });
    let Some((content, alerts, anomalies)) = found else {
        return Err(ApiError::NotFound(format!("no title {id}")));
    };
    let query = RangeQuery::new(
        SeriesFilter { content: Some(id.clone()), region: None },
        content.last_seen_ms,
        content.last_seen_ms + 1,
    );
    let regions = crate::storage::optional(&state, "content streams", state.store().range(&query)).await?;
    let partial = regions.is_none();
    Ok(Json(ContentDetail { content, regions: regions.unwrap_or_default(), alerts, anomalies, partial }))
}
