//! `/cmcd`: the collector players and CDNs report to.
//!
//! - `POST /cmcd`: CMCD v2 event mode, what players' `eventTargets` post:
//!   newline-separated payloads (`application/cmcd` or `text/plain`), or
//!   JSON (one object, or an array, keyed by CMCD key).
//! - `GET /cmcd?CMCD=…` (or with `CMCD-*` headers): one request-mode
//!   report, as a beacon.
//! - `POST /cmcd/response`: the response-mode form of earlier v2 drafts,
//!   one payload per request, taken as a response report (`e=rr`).
//! - `POST /cmcd/logs`: CDN request-log lines that carry CMCD in their URL
//!   (common or combined log format, or one URL per line).
//! - `GET /cmcd/sessions`: the sessions followed, with their figures.
//!
//! A request is all or nothing: a malformed report refuses the whole
//! request with a 400 naming its line and key. 204 when taken, 410 when
//! every report's session is over or not sampled (the player should stop
//! sending), 429 with `Retry-After` when a source is over its rate or the
//! collector at its session limit, 401 without a valid token when tokens
//! are configured.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use streammon_core::cmcd::transmission::{self, JsonValue};
use streammon_core::cmcd::{CollectorStats, EventType, RegionMap, Report};
use utoipa::ToSchema;

use crate::cmcd::{CmcdIngest, Outcome, report_error, request_region};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::routes::metrics::{media_type, now_ms};
use crate::state::AppState;

/// The peer's address, when the server was started with connect info.
pub(crate) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

fn peer_ip(peer: &Peer) -> Option<IpAddr> {
    peer.as_ref().map(|Extension(ConnectInfo(addr))| addr.ip())
}

fn ingest(state: &AppState) -> ApiResult<&CmcdIngest> {
    state.cmcd().ok_or_else(|| {
        ApiError::NotFound("CMCD ingest is off: start the server with --source cmcd or --source both".into())
    })
}

fn body_bytes(state: &AppState, body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|e| ApiError::from_body(&e, state.settings().max_body_bytes))
}

fn text(body: &[u8]) -> ApiResult<&str> {
    std::str::from_utf8(body).map_err(|e| ApiError::bad("body", format!("not UTF-8 (byte {})", e.valid_up_to())))
}

/// Refuses a non-empty body that is not `text/plain` (or
/// `application/cmcd`): 415.
fn text_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<()> {
    let media = media_type(headers);
    if body.is_empty() || media == "text/plain" || media == transmission::MEDIA_TYPE {
        return Ok(());
    }
    Err(ApiError::UnsupportedMediaType(format!("{media:?} is not text/plain or application/cmcd")))
}

/// Answers what the collector made of a request.
fn answer(out: Outcome) -> ApiResult<Response> {
    if out.stopping > 0 {
        return Err(ApiError::Stopping("the server is stopping and takes no more reports; retry shortly".into()));
    }
    if out.accepted > 0 {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if out.busy > 0 {
        return Err(ApiError::TooBusy {
            message: "the collector follows as many sessions, or sessions in as many regions, as it may \
                      (cmcd.max_sessions, cmcd.max_regions); retry later"
                .into(),
            retry_after_s: 5,
        });
    }
    Err(ApiError::Gone("this session is over or not sampled: stop sending its reports".into()))
}

/// Checks the token and the rate, parses nothing: the common door.
fn admit(state: &AppState, headers: &HeaderMap, query: Option<&str>, peer: &Peer, n: usize) -> ApiResult<()> {
    let cmcd = ingest(state)?;
    if state.failure().is_some() {
        return Err(ApiError::Stopping("the server's pipeline failed; it takes no more reports: retry shortly".into()));
    }
    let source = cmcd.authenticate(headers, query, peer_ip(peer), &state.settings().auth.ingest_tokens)?;
    if n > cmcd.settings().max_reports {
        return Err(ApiError::bad(
            "body",
            format!("{n} reports in one request; at most {}", cmcd.settings().max_reports),
        ));
    }
    cmcd.admit(source, n)
}

/// The reports of a JSON body of `POST /cmcd`: one object, or an array of
/// objects, keyed by CMCD key (the JSON transmission of
/// [`transmission::from_json`]).
///
/// # Errors
/// [`ApiError::BadRequest`] for a body that is no such JSON, or a report
/// that is malformed, its field naming the key (`br`), and the report when
/// the array holds more than one (`line 2: br`, from 1).
pub fn json_reports(body: &[u8]) -> ApiResult<Vec<Report<'static>>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(serde_json::Map<String, serde_json::Value>),
        Many(Vec<serde_json::Map<String, serde_json::Value>>),
    }
    let parsed: OneOrMany = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad("body", format!("not a JSON object or array of objects: {e}")))?;
    let objects = match parsed {
        OneOrMany::One(o) => vec![o],
        OneOrMany::Many(v) => v,
    };
    let many = objects.len() > 1;
    objects
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let members = o
                .into_iter()
                .map(|(k, v)| {
                    serde_json::from_value::<JsonValue>(v)
                        .map(|v| (k.clone(), v))
                        .map_err(|_| ApiError::bad(k, "expected a number, string, boolean or list".to_owned()))
                })
                .collect::<ApiResult<Vec<_>>>()?;
            transmission::from_json(&members).map_err(|e| report_error(e, many.then_some(i + 1)))
        })
        .collect()
}

/// CMCD v2 event-mode reports: newline-separated payloads, or JSON.
#[utoipa::path(operation_id = "post_cmcd", post, path = "/cmcd", tag = "cmcd",
    request_body(description = "Newline-separated CMCD payloads (`application/cmcd`, `text/plain`), or a JSON object or array of objects keyed by CMCD key (`application/json`)",
        content((String = "application/cmcd"), (String = "text/plain"), (serde_json::Value = "application/json"))),
    params(("token" = Option<String>, Query, description = "The source's token, for players that cannot set `Authorization`")),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, description = "A report is malformed: `field` names its line and key", body = crate::error::ErrorBody),
        (status = 401, description = "A token is required, or is wrong", body = crate::error::ErrorBody),
        (status = 404, description = "CMCD ingest is off", body = crate::error::ErrorBody),
        (status = 410, description = "Stop sending this session's reports", body = crate::error::ErrorBody),
        (status = 413, description = "Body over the size limit", body = crate::error::ErrorBody),
        (status = 415, description = "Not a CMCD or JSON body", body = crate::error::ErrorBody),
        (status = 429, description = "Over the rate limit or the session limit; see Retry-After", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying"))),
        (status = 503, description = "The server is stopping; retry (its replacement will)", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security((), ("ingest_token" = [])))]
pub(crate) async fn post_cmcd(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let cmcd = ingest(&state)?;
    let body = body_bytes(&state, body)?;
    let media = media_type(&headers);
    let client = peer_ip(&peer);
    let region = |map: &RegionMap| request_region(map, &headers, client);
    let now = now_ms();
    match media.as_str() {
        "application/json" => {
            let reports = json_reports(&body).inspect_err(|_| cmcd.count_invalid(1))?;
            admit(&state, &headers, query.as_deref(), &peer, reports.len())?;
            let many = reports.len() > 1;
            let out = cmcd.observe(&reports, region, now);
            answer(out.map_err(|(i, e)| report_error(e, many.then_some(i + 1)))?)
        }
        // No Content-Type is read as CMCD: /cmcd is open to every origin by
        // design (players post from pages served elsewhere), guarded by
        // tokens, not by the preflight a media type would force.
        "" | transmission::MEDIA_TYPE | "text/plain" => {
            let body = text(&body)?;
            let (mut reports, mut lines) = (Vec::new(), Vec::new());
            for (line, r) in transmission::lines(body) {
                reports.push(r.map_err(|e| {
                    cmcd.count_invalid(1);
                    report_error(e, Some(line))
                })?);
                lines.push(line);
            }
            if reports.is_empty() {
                return Err(ApiError::bad("body", "the body holds no report"));
            }
            admit(&state, &headers, query.as_deref(), &peer, reports.len())?;
            let out = cmcd.observe(&reports, region, now);
            answer(out.map_err(|(i, e)| report_error(e, Some(lines[i])))?)
        }
        other => Err(ApiError::UnsupportedMediaType(format!(
            "{other:?} is not application/cmcd, text/plain or application/json"
        ))),
    }
}

/// The report of a GET: its `CMCD=` argument, else its `CMCD-*` headers.
fn request_report<'b>(headers: &HeaderMap, query: Option<&str>, buf: &'b mut String) -> ApiResult<Option<Report<'b>>> {
    let in_query = query.is_some_and(|q| q.split('&').any(|p| p.starts_with("CMCD=")));
    if in_query {
        return transmission::from_query(query.unwrap_or(""), buf).map_err(|e| report_error(e, None));
    }
    let pairs = headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)));
    transmission::from_headers(pairs, buf).map_err(|e| report_error(e, None))
}

/// Takes the CMCD of any request (a media request in `--media` mode).
/// `None` when the request carries none.
///
/// # Errors
/// As the collector's endpoints: 400, 401, 404, 410, 429.
pub fn ingest_request(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    client: Option<IpAddr>,
) -> ApiResult<Option<StatusCode>> {
    let cmcd = ingest(state)?;
    let mut buf = String::new();
    let Some(report) = request_report(headers, query, &mut buf)? else { return Ok(None) };
    let peer = client.map(|ip| Extension(ConnectInfo(SocketAddr::new(ip, 0))));
    admit(state, headers, query, &peer, 1)?;
    let out = cmcd.observe(std::slice::from_ref(&report), |map| request_region(map, headers, client), now_ms());
    Ok(Some(answer(out.map_err(|(_, e)| report_error(e, None))?)?.status()))
}

/// One request-mode report, as a beacon.
#[utoipa::path(operation_id = "get_cmcd", get, path = "/cmcd", tag = "cmcd",
    params(("CMCD" = Option<String>, Query, description = "The payload, percent-encoded; or send the CMCD-* headers")),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, description = "No CMCD, or a malformed value", body = crate::error::ErrorBody),
        (status = 401, description = "A token is required, or is wrong", body = crate::error::ErrorBody),
        (status = 404, description = "CMCD ingest is off", body = crate::error::ErrorBody),
        (status = 410, description = "Stop sending this session's reports", body = crate::error::ErrorBody),
        (status = 429, description = "Over the rate limit", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying"))),
        (status = 503, description = "The server is stopping; retry (its replacement will)", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security((), ("ingest_token" = [])))]
pub(crate) async fn get_cmcd(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    peer: Peer,
) -> ApiResult<Response> {
    match ingest_request(&state, &headers, query.as_deref(), peer_ip(&peer))? {
        Some(status) => Ok(status.into_response()),
        None => Err(ApiError::bad("CMCD", "no CMCD in the query (CMCD=…) or in CMCD-* headers")),
    }
}

/// A response report in the form of earlier CMCD v2 drafts: one payload
/// in the body (or the query or headers), taken as `e=rr`.
#[utoipa::path(operation_id = "post_cmcd_response", post, path = "/cmcd/response", tag = "cmcd",
    request_body(description = "One CMCD payload with the response keys (rc, ttfb, ttlb, url)", content_type = "text/plain", content = String),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, description = "A malformed value", body = crate::error::ErrorBody),
        (status = 401, description = "A token is required, or is wrong", body = crate::error::ErrorBody),
        (status = 404, description = "CMCD ingest is off", body = crate::error::ErrorBody),
        (status = 413, description = "Body over the size limit", body = crate::error::ErrorBody),
        (status = 410, description = "Stop sending this session's reports", body = crate::error::ErrorBody),
        (status = 415, description = "A body that is not text/plain or application/cmcd", body = crate::error::ErrorBody),
        (status = 429, description = "Over the rate limit", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying"))),
        (status = 503, description = "The server is stopping; retry (its replacement will)", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security((), ("ingest_token" = [])))]
pub(crate) async fn post_response(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let cmcd = ingest(&state)?;
    let body = body_bytes(&state, body)?;
    text_body(&headers, &body)?;
    let body = text(&body)?.trim();
    let mut buf = String::new();
    let mut report = if body.is_empty() {
        request_report(&headers, query.as_deref(), &mut buf)?
            .ok_or_else(|| ApiError::bad("body", "no CMCD in the body, the query or the headers"))?
    } else {
        Report::parse(body).map_err(|e| report_error(e, None))?
    };
    report.e.get_or_insert(EventType::ResponseReceived);
    admit(&state, &headers, query.as_deref(), &peer, 1)?;
    let client = peer_ip(&peer);
    let out = cmcd.observe(std::slice::from_ref(&report), |map| request_region(map, &headers, client), now_ms());
    answer(out.map_err(|(_, e)| report_error(e, None))?)
}

/// The CMCD of one log line: the `CMCD=` argument of its URL (up to `&`,
/// a quote or a space), and the client address when the line starts with
/// one.
fn log_line(line: &str) -> Option<(&str, Option<IpAddr>)> {
    let at = line.find("CMCD=")?;
    let value = &line[at + 5..];
    let end = value.find(['&', '"', ' ', '\t']).unwrap_or(value.len());
    let client = line.split_whitespace().next().and_then(|t| t.parse().ok());
    Some((&value[..end], client))
}

/// CDN request-log lines that carry CMCD in their URL.
#[utoipa::path(operation_id = "post_cmcd_logs", post, path = "/cmcd/logs", tag = "cmcd",
    request_body(description = "Log lines (common or combined log format, or one URL per line); lines without CMCD are skipped", content_type = "text/plain", content = String),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, description = "A malformed value: `field` names the line and key", body = crate::error::ErrorBody),
        (status = 401, description = "A token is required, or is wrong", body = crate::error::ErrorBody),
        (status = 404, description = "CMCD ingest is off", body = crate::error::ErrorBody),
        (status = 413, description = "Body over the size limit", body = crate::error::ErrorBody),
        (status = 415, description = "A body that is not text/plain or application/cmcd", body = crate::error::ErrorBody),
        (status = 429, description = "Over the rate limit", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying"))),
        (status = 503, description = "The server is stopping; retry (its replacement will)", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds before retrying")))),
    security((), ("ingest_token" = [])))]
pub(crate) async fn post_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let cmcd = ingest(&state)?;
    let body = body_bytes(&state, body)?;
    text_body(&headers, &body)?;
    let body = text(&body)?;
    let mut decoded: Vec<(usize, String, Option<IpAddr>)> = Vec::new();
    for (i, line) in body.lines().enumerate() {
        let Some((value, client)) = log_line(line) else { continue };
        let mut buf = String::new();
        transmission::percent_decode(value, &mut buf).map_err(|e| report_error(e, Some(i + 1)))?;
        decoded.push((i + 1, buf, client));
    }
    let mut reports = Vec::with_capacity(decoded.len());
    for (line, text, client) in &decoded {
        reports.push((Report::parse(text).map_err(|e| report_error(e, Some(*line)))?, *client));
    }
    if reports.is_empty() {
        return Err(ApiError::bad("body", "no line carries CMCD (a CMCD= query argument)"));
    }
    admit(&state, &headers, query.as_deref(), &peer, reports.len())?;
    let now = now_ms();
    let mut total = Outcome::default();
    let no_headers = HeaderMap::new();
    for (i, (report, client)) in reports.iter().enumerate() {
        // The forwarder's region header when it sets one, else each line's
        // client address.
        let region = |map: &RegionMap| {
            if headers.contains_key(map.header()) {
                request_region(map, &headers, None)
            } else {
                request_region(map, &no_headers, *client)
            }
        };
        let out = cmcd
            .observe(std::slice::from_ref(report), region, now)
            .map_err(|(_, e)| report_error(e, Some(decoded[i].0)))?;
        total.accepted += out.accepted;
        total.stopped += out.stopped;
        total.busy += out.busy;
        total.stopping += out.stopping;
    }
    answer(total)
}

/// One session, as `GET /cmcd/sessions` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionRow {
    /// The session id (`sid`).
    pub sid: String,
    /// The title, once named.
    pub content_id: Option<String>,
    /// The region.
    pub region: String,
    /// `starting`, `playing`, `rebuffering`, `idle`, `ended` or `failed`.
    pub phase: &'static str,
    /// Startup time, ms.
    pub startup_ms: Option<f64>,
    /// Current bitrate, kbps.
    pub bitrate_kbps: Option<f64>,
    /// Bitrate over the time played, kbps.
    pub time_weighted_bitrate_kbps: Option<f64>,
    /// Measured throughput, kbps.
    pub throughput_kbps: Option<f64>,
    /// Buffer length, ms.
    pub buffer_ms: Option<f64>,
    /// Live latency, ms.
    pub live_latency_ms: Option<f64>,
    /// Seconds played.
    pub play_s: f64,
    /// Seconds stalled.
    pub stall_s: f64,
    /// Stalls.
    pub stalls: u32,
    /// Stalled share of watch time.
    pub rebuffering_ratio: f64,
    /// Bitrate switches up.
    pub switches_up: u32,
    /// Bitrate switches down.
    pub switches_down: u32,
    /// Frames dropped.
    pub dropped_frames: u64,
    /// Reports received.
    pub reports: u64,
    /// First report, epoch ms.
    pub first_ms: i64,
    /// Latest report, epoch ms.
    pub last_ms: i64,
}

/// `GET /cmcd/sessions` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// The collector's counters.
    pub stats: CollectorStats,
    /// Sessions, most recently heard first.
    pub sessions: Vec<SessionRow>,
}

/// The player sessions the collector follows, with their QoE figures.
#[utoipa::path(operation_id = "list_cmcd_sessions", get, path = "/cmcd/sessions", tag = "cmcd",
    params(
        ("content" = Option<String>, Query, description = "Only this title"),
        ("limit" = Option<usize>, Query, description = "At most this many, 1 to 10000 (default 100)"),
    ),
    responses((status = 200, body = SessionList), (status = 400, body = crate::error::ErrorBody),
        (status = 401, description = "Tokens are configured and the request carries no ingest or CMCD token", body = crate::error::ErrorBody),
        (status = 404, description = "CMCD ingest is off", body = crate::error::ErrorBody)),
    security((), ("ingest_token" = [])))]
pub(crate) async fn sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<SessionList>> {
    let cmcd = ingest(&state)?;
    // Session ids let a caller end a viewer's session: only writers see them.
    cmcd.authenticate(&headers, None, None, &state.settings().auth.ingest_tokens)?;
    let params = Params::parse(query.as_deref(), &["content", "limit"])?;
    let limit = params.int("limit", 1..=10_000)?.unwrap_or(100);
    let content = params.text("content");
    let (stats, mut rows) = cmcd.with_collector(|c| {
        let rows: Vec<SessionRow> = c
            .sessions()
            .filter(|(_, s)| content.is_none_or(|want| s.content.as_ref().is_some_and(|c| c.as_str() == want)))
            .map(|(sid, s)| SessionRow {
                sid: sid.to_owned(),
                content_id: s.content.as_ref().map(|c| c.as_str().to_owned()),
                region: s.region.as_str().to_owned(),
                phase: match s.phase {
                    streammon_core::cmcd::Phase::Starting => "starting",
                    streammon_core::cmcd::Phase::Playing => "playing",
                    streammon_core::cmcd::Phase::Rebuffering => "rebuffering",
                    streammon_core::cmcd::Phase::Idle => "idle",
                    streammon_core::cmcd::Phase::Ended => "ended",
                    streammon_core::cmcd::Phase::Failed => "failed",
                },
                startup_ms: s.startup_ms,
                bitrate_kbps: s.bitrate_kbps,
                time_weighted_bitrate_kbps: s.time_weighted_bitrate_kbps(),
                throughput_kbps: s.throughput_kbps,
                buffer_ms: s.buffer_ms,
                live_latency_ms: s.live_latency_ms,
                play_s: s.play_ms / 1_000.0,
                stall_s: s.stall_ms / 1_000.0,
                stalls: s.stalls,
                rebuffering_ratio: s.rebuffering_ratio(),
                switches_up: s.switches_up,
                switches_down: s.switches_down,
                dropped_frames: s.dropped_frames,
                reports: s.reports,
                first_ms: s.first_ms,
                last_ms: s.last_ms,
            })
            .collect();
        (c.stats(), rows)
    });
    rows.sort_by(|a, b| b.last_ms.cmp(&a.last_ms).then_with(|| a.sid.cmp(&b.sid)));
    rows.truncate(limit);
    Ok(Json(SessionList { stats, sessions: rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_give_their_cmcd_and_client() {
        let clf = r#"203.0.113.9 - - [01/Dec/2026:06:00:00 +0000] "GET /v/seg-3.m4s?CMCD=br%3D3200%2Csid%3D%22a%22&x=1 HTTP/1.1" 200 51234"#;
        let (value, client) = log_line(clf).unwrap();
        assert_eq!(value, "br%3D3200%2Csid%3D%22a%22");
        assert_eq!(client, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(log_line("https://cdn/x.m4s?CMCD=bs").unwrap(), ("bs", None));
        assert!(log_line("GET /x.m4s").is_none());
    }
}
