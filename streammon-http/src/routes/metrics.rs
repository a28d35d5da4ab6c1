//! `GET /metrics`: the tick history, a metric's series, or the Prometheus
//! exposition; `POST /metrics`: samples from a client.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use streammon_core::rollup::{ROLLUP_METRICS, Resolution, RollupQuery, RollupScope, rebucket};
use streammon_core::store::{DownsampleQuery, RangeQuery, SeriesFilter};
use streammon_core::{ContentId, Metric, RegionId};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::realtime::parse_samples;
use crate::state::Submitted;
use crate::state::{AppState, HistoryEntry};

/// Content type of the Prometheus text format.
pub(crate) const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether the Accept header asks for the Prometheus text format (what
/// Prometheus itself sends: `application/openmetrics-text` or
/// `text/plain;version=0.0.4`), rather than JSON: one of them is acceptable
/// (q above 0) and preferred to `application/json`. Browsers' and HTTP
/// libraries' defaults that list both, such as axios's
/// `application/json, text/plain, */*`, get JSON.
pub(crate) fn wants_prometheus(headers: &HeaderMap) -> bool {
    let (mut text, mut json) = (0.0_f32, 0.0_f32);
    for part in headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let mut fields = part.split(';');
        let mime = fields.next().unwrap_or("").trim();
        let q = fields
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match mime {
            "application/openmetrics-text" | "text/plain" => text = text.max(q),
            "application/json" => json = json.max(q),
            _ => {}
        }
    }
    text > 0.0 && text > json
}

/// The media type of a request's body, lower-case, without parameters;
/// empty when the request names none.
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    media.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

pub(crate) fn prometheus_response(state: &AppState) -> Response {
    if let Some(sink) = state.alert_sink() {
        state.telemetry().observe_delivery(&sink.health());
    }
    ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], state.telemetry().render()).into_response()
}

/// The Prometheus exposition, for scrapers that send no Accept header.
#[utoipa::path(operation_id = "get_prometheus", get, path = "/metrics/prometheus", tag = "metrics",
    responses((status = 200, description = "Text exposition format 0.0.4", content_type = "text/plain")))]
pub(crate) async fn prometheus(State(state): State<AppState>) -> Response {
    prometheus_response(&state)
}

/// One point of a raw series: `[timestamp_ms, value]`.
type RawPoint = (i64, f64);

/// One series of `GET /metrics?metric=…`: a stream's (title and region),
/// or with `scope`, a scope's roll-ups.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesOut {
    /// The title (a stream's series).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_id: Option<ContentId>,
    /// The CDN region (a stream's series).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionId>,
    /// The scope (with `scope`): `service`, `region:…`, `type:…` or
    /// `content:…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub scope: Option<RollupScope>,
    /// Raw points `[timestamp_ms, value]`, oldest first (without `step`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Vec<f64>>)]
    pub points: Vec<RawPoint>,
    /// Buckets (with `step`), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<streammon_core::store::Bucket>,
}

/// `GET /metrics?metric=…` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesResponse {
    /// The metric.
    pub metric: Metric,
    /// Start of the range, epoch ms, inclusive.
    pub from_ms: i64,
    /// End of the range, epoch ms, exclusive.
    pub to_ms: i64,
    /// Bucket width, ms, when downsampled.
    pub step_ms: Option<i64>,
    /// What the buckets were made from: `raw` samples, or `1m` or `1h`
    /// roll-ups (with `scope`).
    pub resolution: &'static str,
    /// One entry per (title, region) stream.
    pub series: Vec<SeriesOut>,
}

/// `GET /metrics` as JSON: the tick history, or a metric's series.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum MetricsBody {
    /// Without `metric`: the latest ticks.
    History(HistoryResponse),
    /// With `metric`: its series.
    Series(SeriesResponse),
}

/// `GET /metrics` (history mode) response: `{"count": n, "ticks": [...],
/// "current_metrics": {...}, "history": [...]}`, ours and the original
/// server's fields side by side.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// Ticks returned.
    pub count: usize,
    /// The ticks, oldest first; the last is the current one.
    pub ticks: Vec<crate::wire::MetricsUpdate>,
    /// The newest tick in the original server's shape; `null` before the
    /// first tick.
    pub current_metrics: Option<crate::wire::OriginalMetrics>,
    /// The same ticks as `ticks` in the original server's shape, oldest
    /// first.
    pub history: Vec<crate::wire::OriginalMetrics>,
}

const PARAMS: [&str; 10] = ["limit", "content", "region", "metric", "from", "to", "step", "since", "detail", "scope"];

/// Current and historical metrics.
///
/// Without parameters (or with `limit`/`since` only): the latest ticks, each
/// the `metrics_update` payload. With `metric` (and optionally `content`,
/// `region`, `from`, `to`, `step`): that metric's series from storage, raw
/// or downsampled into `step` buckets. With an Accept header asking for
/// `text/plain` or `application/openmetrics-text`: the Prometheus
/// exposition.
#[utoipa::path(operation_id = "get_metrics", get, path = "/metrics", tag = "metrics",
    params(
        ("limit" = Option<usize>, Query, description = "History mode: ticks, 1 to the history length (default 100). Series mode: raw points per request, 1 to 100000 (default 10000)."),
        ("since" = Option<String>, Query, description = "History mode: only ticks after this time (RFC 3339, epoch ms, or an age such as 5m): the backfill after a reconnect."),
        ("detail" = Option<String>, Query, description = "History mode: `summary` (default: every field but the `regions` and `types` arrays) or `full` (the whole `metrics_update` payload)."),
        ("metric" = Option<Metric>, Query, description = "Series mode: the metric, e.g. buffering_ratio."),
        ("content" = Option<String>, Query, description = "Series mode: only this title."),
        ("region" = Option<String>, Query, description = "Series mode: only this CDN region."),
        ("from" = Option<String>, Query, description = "Series mode: start (RFC 3339, epoch ms, or an age such as 15m); default 15m."),
        ("to" = Option<String>, Query, description = "Series mode: end; default now."),
        ("step" = Option<String>, Query, description = "Series mode: downsample into buckets this wide, e.g. 1m."),
        ("scope" = Option<String>, Query, description = "Series mode: one series for a whole scope (`service`, `region:ID`, `type:video|audio|live`, `content:ID`), from its minute or hour roll-ups, the coarsest that fills every `step` bucket (`step` at least 1m, default 1m; `from` default 24h); kept 7 and 90 days. Not with `content` or `region`."),
    ),
    responses(
        (status = 200, description = "History (`HistoryResponse`) or a series (`SeriesResponse`) as JSON, or the Prometheus text when the Accept header asks for it",
            content((MetricsBody = "application/json"), (String = "text/plain"))),
        (status = 400, description = "A parameter is invalid", body = crate::error::ErrorBody),
        (status = 503, description = "Series mode: storage is down (the tick history is kept in memory and still answers)", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))))]
pub(crate) async fn get_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    if wants_prometheus(&headers) {
        return Ok(prometheus_response(&state));
    }
    let params = Params::parse(query.as_deref(), &PARAMS)?;
    let series_mode =
        ["content", "region", "metric", "from", "to", "step", "scope"].iter().any(|p| params.text(p).is_some());
    if series_mode {
        if params.text("detail").is_some() {
            return Err(ApiError::bad("detail", "applies to the tick history only"));
        }
        if params.text("since").is_some() {
            return Err(ApiError::bad("since", "applies to the tick history only; a series takes `from` and `to`"));
        }
        return series(&state, &params).await;
    }
    let history_len = state.settings().history_ticks.max(1);
    let limit = params.int("limit", 1..=history_len)?.unwrap_or(100.min(history_len));
    let since = params.time("since", now_ms())?;
    let full = match params.text("detail").unwrap_or("summary") {
        "summary" => false,
        "full" => true,
        other => return Err(ApiError::bad("detail", format!("{other:?} is not summary or full"))),
    };
    let key = format!("history:{limit}:{since:?}:{full}");
    let body = state.cached(&key, || {
        state.read(|live| {
            let start = live.history.len().saturating_sub(limit);
            let entries: Vec<_> =
                live.history.iter().skip(start).filter(|e| since.is_none_or(|s| e.update.timestamp_ms > s)).collect();
            let json = |e: &HistoryEntry| if full { e.json.clone() } else { e.compact.clone() };
            let size: usize = entries.iter().map(|e| json(e).len() + e.original.len() + 2).sum();
            let mut buf = BytesMut::with_capacity(128 + size);
            buf.put_slice(format!("{{\"count\":{},\"ticks\":[", entries.len()).as_bytes());
            put_joined(&mut buf, entries.iter().map(|e| json(e)));
            buf.put_slice(b"],\"current_metrics\":");
            match live.history.back() {
                Some(e) => buf.put_slice(&e.original),
                None => buf.put_slice(b"null"),
            }
            buf.put_slice(b",\"history\":[");
            put_joined(&mut buf, entries.iter().map(|e| e.original.clone()));
            buf.put_slice(b"]}");
            buf.freeze()
        })
    });
    Ok(json_bytes(body))
}

/// Writes `items` comma-separated.
fn put_joined(buf: &mut BytesMut, items: impl Iterator<Item = Bytes>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            buf.put_u8(b',');
        }
        buf.put_slice(&item);
    }
}

/// `GET /metrics?metric=…&scope=…`: one scope's series from its roll-ups,
/// at the coarsest resolution that fills every `step` bucket.
async fn scope_series(state: &AppState, params: &Params, metric: Metric, scope: &str) -> ApiResult<Response> {
    for other in ["content", "region", "limit"] {
        if params.text(other).is_some() {
            return Err(ApiError::bad(other, "does not go with `scope`, which names the whole slice"));
        }
    }
    let scope: RollupScope = scope.parse().map_err(|e: String| ApiError::bad("scope", e))?;
    if !ROLLUP_METRICS.contains(&metric) {
        let kept: Vec<&str> = ROLLUP_METRICS.iter().map(|m| m.as_str()).collect();
        return Err(ApiError::bad(
            "metric",
            format!("roll-ups keep {}; {} is per stream only", kept.join(", "), metric.as_str()),
        ));
    }
    let now = now_ms();
    let from = params.time("from", now)?.unwrap_or(now - 24 * 3_600_000);
    let to = params.time("to", now)?.unwrap_or(now);
    if from >= to {
        return Err(ApiError::bad("from", format!("{from} is not before `to` ({to})")));
    }
    let step_ms = match params.span("step")? {
        Some(step) => i64::try_from(step.as_millis()).unwrap_or(i64::MAX),
        None => Resolution::Minute.ms(),
    };
    let resolution = Resolution::coarsest_within(step_ms).ok_or_else(|| {
        ApiError::bad("step", "scope series are rolled up by the minute at the finest; give a step of 1m or more")
    })?;
    // Saturates for a range from one end of i64 to the other.
    let points = (to.saturating_sub(from) - 1) / step_ms + 1;
    if points as usize > DownsampleQuery::MAX_POINTS {
        return Err(ApiError::bad("step", format!("{points} buckets; at most {}", DownsampleQuery::MAX_POINTS)));
    }
    crate::storage::ensure_up(state)?;
    let query = RollupQuery { scope: scope.clone(), resolution, from_ms: from, to_ms: to };
    let rows = state.store().rollups(&query).await?;
    let buckets = rebucket(&rows, metric, from, step_ms);
    let series = if buckets.is_empty() {
        Vec::new()
    } else {
        vec![SeriesOut { content_id: None, region: None, scope: Some(scope), points: Vec::new(), buckets }]
    };
    let response = SeriesResponse {
        metric,
        from_ms: from,
        to_ms: to,
        step_ms: Some(step_ms),
        resolution: resolution.as_str(),
        series,
    };
    Ok(Json(response).into_response())
}

pub(crate) fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], Body::from(body)).into_response()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Reads `metric`, `content`, `region`, `from` and `to`, checking the
/// range against the server's limit.
pub(crate) fn window(state: &AppState, params: &Params, default_age_ms: i64) -> ApiResult<(SeriesFilter, i64, i64)> {
    let now = now_ms();
    let to = params.time("to", now)?.unwrap_or(now);
    let from = params.time("from", now)?.unwrap_or(to.saturating_sub(default_age_ms));
    if from >= to {
        return Err(ApiError::bad("from", format!("{from} is not before `to` ({to})")));
    }
    let max = i64::try_from(state.settings().max_range.as_millis()).unwrap_or(i64::MAX);
    // Saturates for a range from one end of i64 to the other.
    let range = to.saturating_sub(from);
    if range > max {
        return Err(ApiError::bad("from", format!("the range covers {} s; at most {} s", range / 1000, max / 1000)));
    }
    let filter = SeriesFilter {
        content: params.text("content").map(ContentId::from),
        region: params.text("region").map(RegionId::from),
    };
    Ok((filter, from, to))
}

pub(crate) fn metric_param(params: &Params, name: &str) -> ApiResult<Option<Metric>> {
    params.parsed::<Metric>(
        name,
        "a metric (viewers, latency_ms, startup_time_ms, buffering_ratio, bitrate_kbps, error_rate, …)",
    )
}

async fn series(state: &AppState, params: &Params) -> ApiResult<Response> {
    let metric = metric_param(params, "metric")?.ok_or_else(|| {
        ApiError::bad("metric", "required to query a series (with content, region, scope, from, to or step)")
    })?;
    if let Some(scope) = params.text("scope") {
        return scope_series(state, params, metric, scope).await;
    }
    let (filter, from, to) = window(state, params, 15 * 60 * 1_000)?;
    crate::storage::ensure_up(state)?;
    let store = state.store();
    let response = match params.span("step")? {
        Some(step) => {
            let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
            if step_ms <= 0 {
                return Err(ApiError::bad("step", "must be positive"));
            }
            // Buckets to cover the range, rounded up (`from < to`), without
            // overflowing for a step near i64::MAX.
            let points = (to - from - 1) / step_ms + 1;
            if points as usize > DownsampleQuery::MAX_POINTS {
                return Err(ApiError::bad(
                    "step",
                    format!("{points} buckets per series; at most {}", DownsampleQuery::MAX_POINTS),
                ));
            }
            let query = DownsampleQuery { filter, metric, from_ms: from, to_ms: to, points: points.max(1) as usize };
            let series = store.downsampled(&query).await?;
            SeriesResponse {
                metric,
                from_ms: from,
                to_ms: to,
                step_ms: Some(step_ms),
                resolution: "raw",
                series: series
                    .into_iter()
                    .map(|s| SeriesOut {
                        content_id: Some(s.key.content),
                        region: Some(s.key.region),
                        scope: None,
                        points: Vec::new(),
                        buckets: s.buckets,
                    })
                    .collect(),
            }
        }
        None => {
            let limit = params.int("limit", 1..=100_000)?.unwrap_or(10_000);
            let query = RangeQuery { filter, metric: Some(metric), from_ms: from, to_ms: to, limit: Some(limit) };
            let samples = store.range(&query).await?;
            let mut series: Vec<SeriesOut> = Vec::new();
            let mut index = std::collections::HashMap::new();
            for s in samples {
                let Some(value) = s.get(metric) else { continue };
                let i = *index.entry((s.content_id.clone(), s.region.clone())).or_insert_with(|| {
                    series.push(SeriesOut {
                        content_id: Some(s.content_id.clone()),
                        region: Some(s.region.clone()),
                        scope: None,
                        points: Vec::new(),
                        buckets: Vec::new(),
                    });
                    series.len() - 1
                });
                series[i].points.push((s.timestamp_ms, value));
            }
            for s in &mut series {
                s.points.sort_by_key(|p| p.0);
            }
            SeriesResponse { metric, from_ms: from, to_ms: to, step_ms: None, resolution: "raw", series }
        }
    };
    Ok(Json(response).into_response())
}

/// `POST /metrics` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Samples queued for the next tick.
    pub accepted: usize,
}

/// Push samples: one sample object or an array (at most the batch limit),
/// in the JSON schema of `docs/SCHEMA.md`. All or nothing: one invalid
/// sample refuses the batch, naming its field (e.g. `[3].buffering_ratio`),
/// and so does one that would take the regions, titles or series clients
/// have pushed past their limit (422, `limit_reached`).
#[utoipa::path(operation_id = "post_metrics", post, path = "/metrics", tag = "metrics",
    request_body(content = Vec<streammon_core::Sample>, description = "A sample or an array of samples"),
    responses(
        (status = 202, description = "Queued for the next tick", body = Accepted),
        (status = 400, description = "A sample is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "Ingest tokens are configured and the request has none (`Authorization: Bearer <token>`), or a wrong one", body = crate::error::ErrorBody),
        (status = 403, description = "The request's Origin is not allowed", body = crate::error::ErrorBody),
        (status = 413, description = "Body over the size limit", body = crate::error::ErrorBody),
        (status = 422, description = "The batch names a new region, title or series beyond a limit of `[limits]` (docs/LIMITS.md); samples for known ones are still accepted", body = crate::error::ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = crate::error::ErrorBody),
        (status = 429, description = "The pipeline is busy; retry", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying"))),
        (status = 503, description = "The server is stopping and takes no more samples; retry (its replacement will)", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security(("ingest_token" = [])))]
pub(crate) async fn post_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let telemetry = state.telemetry();
    if !state.settings().auth.may_write(&headers) {
        return Err(crate::auth::AuthSettings::write_refusal(&headers));
    }
    let media = media_type(&headers);
    if media != "application/json" {
        return Err(ApiError::UnsupportedMediaType(format!("{media:?} is not application/json")));
    }
    let body = body.map_err(|e| {
        telemetry.samples_rejected.with_label_values(&["invalid"]).inc();
        ApiError::from_body(&e, state.settings().max_body_bytes)
    })?;
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        telemetry.samples_rejected.with_label_values(&["invalid"]).inc();
        ApiError::bad("body", format!("not JSON: {e}"))
    })?;
    let samples = parse_samples(value, state.settings().max_batch, now_ms()).map_err(|(field, message)| {
        telemetry.samples_rejected.with_label_values(&["invalid"]).inc();
        ApiError::bad(if field.is_empty() { "body".to_owned() } else { field }, message)
    })?;
    let n = samples.len();
    state.admit(&samples, now_ms())?;
    let submitted = if state.stopping() { Submitted::Stopping } else { state.ingest().submit(samples).await };
    match submitted {
        Submitted::Accepted => Ok((StatusCode::ACCEPTED, Json(Accepted { accepted: n })).into_response()),
        Submitted::Stopping => {
            telemetry.samples_rejected.with_label_values(&["stopping"]).inc_by(n as u64);
            Err(ApiError::Stopping("the server is stopping and takes no more samples; retry shortly".into()))
        }
        Submitted::Busy(message) => {
            telemetry.samples_rejected.with_label_values(&["busy"]).inc_by(n as u64);
            Err(ApiError::TooBusy { message, retry_after_s: 1 })
        }
        Submitted::Unavailable(why) => {
            telemetry.samples_rejected.with_label_values(&["unavailable"]).inc_by(n as u64);
            Err(ApiError::Unavailable(format!("cannot take samples now: {why}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn prometheus_is_chosen_by_its_accept_header() {
        let mut h = HeaderMap::new();
        assert!(!wants_prometheus(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wants_prometheus(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        );
        assert!(!wants_prometheus(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            ),
        );
        assert!(wants_prometheus(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/plain"));
        assert!(wants_prometheus(&h));
        // axios's default: JSON is listed first, at the same weight.
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json, text/plain, */*"));
        assert!(!wants_prometheus(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/plain;q=0"));
        assert!(!wants_prometheus(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json;q=0.5, text/plain"));
        assert!(wants_prometheus(&h));
    }
}
