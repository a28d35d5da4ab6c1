//! `GET /analytics`: anomalies, forecasts and detector statistics; and the
//! incident breakdowns: which value of a dimension hurts viewers most, and
//! how a metric is spread across them.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use streammon_core::Metric;
use streammon_core::pipeline::{Breakdown, Dimension, Distribution, PipelineStats, RegionForecast, TotalForecast};
use streammon_core::store::RangeQuery;
use utoipa::ToSchema;

use super::metrics::{metric_param, now_ms, window};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::wire::{AlertKind, AnomalyAlert};

/// `GET /analytics` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Analytics {
    /// Recent anomalies, newest first.
    pub anomalies: Vec<AnomalyAlert>,
    /// Capacity predictions in force (regions whose egress is forecast to
    /// cross capacity), as `anomaly_alert` payloads.
    pub predictions: Vec<AnomalyAlert>,
    /// The latest egress forecast of each region.
    pub forecasts: Vec<RegionForecast>,
    /// The latest audience forecast.
    pub audience: Option<TotalForecast>,
    /// Detector and pipeline counters.
    pub detectors: PipelineStats,
}

/// Anomalies, forecasts with prediction intervals, capacity predictions
/// and detector statistics.
#[utoipa::path(operation_id = "get_analytics", get, path = "/analytics", tag = "analytics",
    params(
        ("limit" = Option<usize>, Query, description = "At most this many anomalies, 1 to 1000 (default 100)"),
        ("region" = Option<String>, Query, description = "Only anomalies in this region"),
        ("content" = Option<String>, Query, description = "Only anomalies of this title"),
        ("since" = Option<String>, Query, description = "Only anomalies after this time (RFC 3339, epoch ms or an age such as 10m)"),
    ),
    responses((status = 200, body = Analytics), (status = 400, body = crate::error::ErrorBody)))]
pub(crate) async fn analytics(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Json<Analytics>> {
    let params = Params::parse(query.as_deref(), &["limit", "region", "content", "since"])?;
    let limit = params.int("limit", 1..=crate::state::RECENT_EVENTS)?.unwrap_or(100);
    let since = params.time("since", now_ms())?;
    let (region, content) = (params.text("region"), params.text("content"));
    Ok(Json(state.read(|live| {
        Analytics {
            anomalies: live
                .anomalies
                .iter()
                .rev()
                .filter(|a| a.kind == AlertKind::Anomaly)
                .filter(|a| since.is_none_or(|s| a.timestamp_ms > s))
                .filter(|a| region.is_none_or(|r| a.scope.region.as_ref().is_some_and(|x| x.as_str() == r)))
                .filter(|a| content.is_none_or(|c| a.scope.content_id.as_ref().is_some_and(|x| x.as_str() == c)))
                .take(limit)
                .cloned()
                .collect(),
            predictions: live.forecasts.iter().filter_map(AnomalyAlert::from_forecast).collect(),
            forecasts: live.forecasts.clone(),
            audience: live.audience.clone(),
            detectors: live.stats,
        }
    })))
}

/// Most samples a breakdown or distribution reads.
const MAX_SAMPLES: usize = 2_000_000;

async fn samples_in_window(
    state: &AppState,
    params: &Params,
    metric: Metric,
) -> ApiResult<(Vec<streammon_core::Sample>, i64, i64)> {
    let (filter, from, to) = window(state, params, 5 * 60 * 1_000)?;
    crate::storage::ensure_up(state)?;
    let query = RangeQuery { filter, metric: Some(metric), from_ms: from, to_ms: to, limit: Some(MAX_SAMPLES) };
    Ok((state.store().range(&query).await?, from, to))
}

/// `GET /analytics/breakdown` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownResponse {
    /// Start of the window, epoch ms.
    pub from_ms: i64,
    /// End of the window, epoch ms.
    pub to_ms: i64,
    /// The breakdown, worst value first.
    #[serde(flatten)]
    pub breakdown: Breakdown,
}

/// A metric broken down by a dimension over a window, ranked by impact on
/// viewers: how much the average viewer's figure would improve if that
/// value behaved like the rest. The first row is where to look.
#[utoipa::path(operation_id = "get_breakdown", get, path = "/analytics/breakdown", tag = "analytics",
    params(
        ("metric" = Metric, Query, description = "The metric, e.g. buffering_ratio"),
        ("by" = Dimension, Query, description = "region (or its synonym cdn), content_type, title or rendition"),
        ("from" = Option<String>, Query, description = "Start (RFC 3339, epoch ms or an age such as 15m); default 5m"),
        ("to" = Option<String>, Query, description = "End; default now"),
        ("region" = Option<String>, Query, description = "Only this region"),
        ("content" = Option<String>, Query, description = "Only this title"),
        ("limit" = Option<usize>, Query, description = "At most this many rows, 1 to 10000 (default 50)"),
    ),
    responses((status = 200, body = BreakdownResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 503, description = "Storage is down", body = crate::error::ErrorBody, headers(("Retry-After" = u32, description = "Seconds before retrying")))))]
pub(crate) async fn breakdown(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<BreakdownResponse>> {
    let params = Params::parse(query.as_deref(), &["metric", "by", "from", "to", "region", "content", "limit"])?;
    let metric = metric_param(&params, "metric")?.ok_or_else(|| ApiError::bad("metric", "required"))?;
    let by = params
        .text("by")
        .ok_or_else(|| ApiError::bad("by", "required: region, cdn, content_type, title or rendition"))?;
    let dimension = Dimension::parse(by).map_err(|e| ApiError::bad("by", e.to_string()))?;
    let limit = params.int("limit", 1..=10_000)?.unwrap_or(50);
    let (samples, from_ms, to_ms) = samples_in_window(&state, &params, metric).await?;
    let mut breakdown = Breakdown::compute(&samples, metric, dimension);
    breakdown.rows.truncate(limit);
    Ok(Json(BreakdownResponse { from_ms, to_ms, breakdown }))
}

/// `GET /analytics/distribution` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct DistributionResponse {
    /// Start of the window, epoch ms.
    pub from_ms: i64,
    /// End of the window, epoch ms.
    pub to_ms: i64,
    /// The distribution; absent when no sample carried the metric.
    pub distribution: Option<Distribution>,
}

/// How a metric is spread over viewers in a window: a histogram with the
/// median, p95 and p99 (for startup time and latency above all).
#[utoipa::path(operation_id = "get_distribution", get, path = "/analytics/distribution", tag = "analytics",
    params(
        ("metric" = Option<Metric>, Query, description = "The metric; default startup_time_ms"),
        ("bins" = Option<usize>, Query, description = "Histogram bins, 1 to 1000 (default 30)"),
        ("from" = Option<String>, Query, description = "Start; default 5m"),
        ("to" = Option<String>, Query, description = "End; default now"),
        ("region" = Option<String>, Query, description = "Only this region"),
        ("content" = Option<String>, Query, description = "Only this title"),
    ),
    responses((status = 200, body = DistributionResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 503, description = "Storage is down", body = crate::error::ErrorBody, headers(("Retry-After" = u32, description = "Seconds before retrying")))))]
pub(crate) async fn distribution(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DistributionResponse>> {
    let params = Params::parse(query.as_deref(), &["metric", "bins", "from", "to", "region", "content"])?;
    let metric = metric_param(&params, "metric")?.unwrap_or(Metric::StartupTimeMs);
    let bins = params.int("bins", 1..=streammon_core::pipeline::MAX_BINS)?.unwrap_or(30);
    let (samples, from_ms, to_ms) = samples_in_window(&state, &params, metric).await?;
    let distribution =
        Distribution::compute(&samples, metric, bins).map_err(|e| ApiError::bad("bins", e.to_string()))?;
    Ok(Json(DistributionResponse { from_ms, to_ms, distribution }))
}
