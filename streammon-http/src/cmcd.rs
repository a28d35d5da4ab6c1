//! The CMCD collector's door: who may report (per-source tokens), how
//! fast (a token bucket per source, `governor`'s keyed limiter, bounded
//! to [`MAX_SOURCES`] sources), and the core [`Collector`] behind a
//! lock that the server's tick loop drains once a tick.
//!
//! Requests are parsed before the lock is taken; holding it costs one
//! hash lookup and a few additions per report.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::HeaderMap;
use prometheus::IntCounter;
use streammon_core::cmcd::{Admission, Collector, CollectorStats, RegionMap, Report};
use streammon_core::{ContentChange, RegionId, Sample};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::telemetry::Telemetry;

/// Settings of the CMCD endpoints, already validated.
#[derive(Clone)]
pub struct CmcdSettings {
    /// Sources and their tokens; when any is set, or any ingest token
    /// ([`crate::AuthSettings`]), every report must carry one of them
    /// (`Authorization: Bearer …`, or `?token=…` for players that cannot
    /// set headers). Empty: no token needed. The binary refuses tokens
    /// shorter than [`crate::MIN_TOKEN_BYTES`]; an empty one never matches.
    pub tokens: Vec<(String, String)>,
    /// Reports a second one source may send, sustained.
    pub rate_per_source: f64,
    /// Reports one source may send at once above the rate.
    pub burst: f64,
    /// Most reports in one request.
    pub max_reports: usize,
}

impl std::fmt::Debug for CmcdSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sources: Vec<&str> = self.tokens.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("CmcdSettings")
            .field("tokens", &format_args!("{sources:?} (tokens redacted)"))
            .field("rate_per_source", &self.rate_per_source)
            .field("burst", &self.burst)
            .field("max_reports", &self.max_reports)
            .finish()
    }
}

impl Default for CmcdSettings {
    fn default() -> Self {
        Self { tokens: Vec::new(), rate_per_source: 5_000.0, burst: 10_000.0, max_reports: 10_000 }
    }
}

/// Who a request speaks for: a configured source (by its index in
/// [`CmcdSettings::tokens`]), a holder of an ingest token (by its index),
/// or, without tokens, the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    Token(usize),
    Ingest(usize),
    Client(IpAddr),
    Unknown,
}

/// The outcome counters, looked up once.
#[derive(Debug)]
struct Counters {
    accepted: IntCounter,
    stopped: IntCounter,
    busy: IntCounter,
    invalid: IntCounter,
    limited: IntCounter,
    /// `streammon_refused_total{limit="sources"}`.
    sources_full: IntCounter,
}

/// Sources the rate limiter remembers at most. Past it the sources whose
/// bucket has refilled (they lose nothing) are forgotten; if it is still
/// full, sources that are no configured token are refused until it has
/// room.
pub(crate) const MAX_SOURCES: usize = 50_000;

/// How often the limiter forgets the sources whose bucket has refilled.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A token bucket per source: `governor`'s keyed GCRA limiter.
type Limiter = governor::DefaultKeyedRateLimiter<Source>;

/// The limiter and when it was last swept.
struct Limits {
    limiter: Limiter,
    swept: Mutex<Instant>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").field("sources", &self.limiter.len()).finish_non_exhaustive()
    }
}

impl Limits {
    fn new(rate: f64, burst: f64) -> Self {
        // One report every 1/rate s, `burst` at once; validated positive by
        // the caller (`serve`), clamped here to what governor can count.
        let period = std::time::Duration::from_secs_f64(1.0 / rate.max(1e-9)).max(std::time::Duration::from_nanos(1));
        let burst =
            std::num::NonZeroU32::new((burst.clamp(1.0, f64::from(u32::MAX))) as u32).unwrap_or(NonZeroU32::MIN);
        let quota =
            governor::Quota::with_period(period).unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN));
        Self { limiter: Limiter::keyed(quota.allow_burst(burst)), swept: Mutex::new(Instant::now()) }
    }

    /// Forgets the sources whose bucket has refilled, at most once every
    /// [`SWEEP_EVERY`], or at once when the limiter is full.
    fn sweep(&self, now: Instant) {
        let mut swept = self.swept.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(*swept) >= SWEEP_EVERY || self.limiter.len() >= MAX_SOURCES {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
            *swept = now;
        }
    }
}

/// The collector and its door: tokens, rate limits and the core collector.
#[derive(Debug)]
pub struct CmcdIngest {
    collector: Mutex<Collector>,
    /// Set by [`close_and_tick`](CmcdIngest::close_and_tick) under the collector's lock:
    /// reports are refused from then on.
    closed: std::sync::atomic::AtomicBool,
    settings: CmcdSettings,
    limits: Limits,
    counters: Counters,
}

/// What a request's reports came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) accepted: usize,
    pub(crate) stopped: usize,
    pub(crate) busy: usize,
    /// Reports refused because the collector is closed (the server is
    /// stopping).
    pub(crate) stopping: usize,
}

impl CmcdIngest {
    /// The door in front of `collector`, counting into `telemetry`.
    pub fn new(collector: Collector, settings: CmcdSettings, telemetry: &Telemetry) -> Self {
        let c = |outcome: &str| telemetry.cmcd_reports.with_label_values(&[outcome]);
        let counters = Counters {
            accepted: c("accepted"),
            stopped: c("stopped"),
            busy: c("busy"),
            invalid: c("invalid"),
            limited: c("limited"),
            sources_full: telemetry.refused.with_label_values(&["sources"]),
        };
        let limits = Limits::new(settings.rate_per_source, settings.burst);
        Self {
            collector: Mutex::new(collector),
            closed: std::sync::atomic::AtomicBool::new(false),
            settings,
            limits,
            counters,
        }
    }

    /// Stops taking reports, then ends the collector's last tick (see
    /// [`tick`](Self::tick)) under the same lock: every report taken
    /// before is in its samples, and every report after is refused (503).
    /// What a stopping server calls once.
    pub fn close_and_tick(
        &self,
        now_ms: i64,
        interval_ms: u32,
        samples: &mut Vec<Sample>,
        changes: &mut Vec<ContentChange>,
    ) {
        let mut collector = self.lock();
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        collector.tick(now_ms, interval_ms, samples, changes);
    }

    /// Counts reports refused as malformed before they reached the
    /// collector (`streammon_cmcd_reports_total{outcome="invalid"}`).
    pub fn count_invalid(&self, n: usize) {
        self.counters.invalid.inc_by(n as u64);
    }

    /// The settings.
    pub fn settings(&self) -> &CmcdSettings {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Collector> {
        self.collector.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends a tick of the collector: its samples and title changes, for
    /// the pipeline (see [`Collector::tick`]).
    pub fn tick(&self, now_ms: i64, interval_ms: u32, samples: &mut Vec<Sample>, changes: &mut Vec<ContentChange>) {
        self.lock().tick(now_ms, interval_ms, samples, changes);
    }

    /// The collector's counters.
    pub fn stats(&self) -> CollectorStats {
        self.lock().stats()
    }

    /// Runs `f` on the collector (to list sessions).
    pub fn with_collector<T>(&self, f: impl FnOnce(&Collector) -> T) -> T {
        f(&self.lock())
    }

    /// The source a request speaks for: the token's name when CMCD tokens
    /// or `ingest` tokens are configured (either kind is accepted), else
    /// the client's address.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        client: Option<IpAddr>,
        ingest: &[crate::Token],
    ) -> Result<Source, ApiError> {
        if self.settings.tokens.is_empty() && ingest.is_empty() {
            return Ok(client.map_or(Source::Unknown, Source::Client));
        }
        let Some(given) = crate::auth::bearer(headers).or(crate::auth::query_token(query)) else {
            return Err(ApiError::Unauthorized(
                "a token is required: `Authorization: Bearer <token>` or `?token=<token>`".into(),
            ));
        };
        let known = |t: &str| !t.is_empty() && bool::from(t.as_bytes().ct_eq(given.as_bytes()));
        let source = self.settings.tokens.iter().position(|(_, t)| known(t)).map(Source::Token);
        source
            .or_else(|| ingest.iter().position(|t| t.matches(given)).map(Source::Ingest))
            .ok_or_else(|| ApiError::Unauthorized("the token is not one this server knows".into()))
    }

    fn source_name(&self, source: Source) -> String {
        match source {
            Source::Token(i) => self.settings.tokens.get(i).map_or_else(String::new, |(n, _)| n.clone()),
            Source::Ingest(i) => format!("ingest token #{}", i + 1),
            Source::Client(ip) => ip.to_string(),
            Source::Unknown => "this client".into(),
        }
    }

    /// Takes `n` reports from `source` out of its bucket, or says when to
    /// come back. The limiter remembers at most [`MAX_SOURCES`] sources.
    pub(crate) fn admit(&self, source: Source, n: usize) -> Result<(), ApiError> {
        let rate = self.settings.rate_per_source;
        let limiter = &self.limits.limiter;
        self.limits.sweep(Instant::now());
        if limiter.len() >= MAX_SOURCES && !matches!(source, Source::Token(_)) {
            self.counters.limited.inc_by(n as u64);
            self.counters.sources_full.inc();
            return Err(ApiError::TooBusy {
                message: format!("the rate limiter follows {MAX_SOURCES} sources, its limit; retry shortly"),
                retry_after_s: SWEEP_EVERY.as_secs() as u32,
            });
        }
        let cells = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
        let wait = match limiter.check_key_n(&source, cells) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(not_until)) => {
                not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()))
            }
            // More reports at once than the burst: never in one go.
            Err(governor::InsufficientCapacity(_)) => std::time::Duration::from_secs_f64(n as f64 / rate),
        };
        let wait = wait.as_secs_f64().ceil().clamp(1.0, 3_600.0) as u32;
        self.counters.limited.inc_by(n as u64);
        Err(ApiError::TooBusy {
            message: format!("{} sends more than {rate} reports a second; retry in {wait} s", self.source_name(source)),
            retry_after_s: wait,
        })
    }

    /// Hands parsed reports to the collector, all or nothing: a report it
    /// would refuse refuses them all, with its index. `region` resolves
    /// where they come from, under the same lock.
    pub(crate) fn observe(
        &self,
        reports: &[Report<'_>],
        region: impl FnOnce(&RegionMap) -> RegionId,
        now_ms: i64,
    ) -> Result<Outcome, (usize, streammon_core::Error)> {
        let mut out = Outcome::default();
        if let Some((i, e)) = reports.iter().enumerate().find_map(|(i, r)| Collector::check(r).err().map(|e| (i, e))) {
            self.counters.invalid.inc();
            return Err((i, e));
        }
        {
            let mut collector = self.lock();
            if self.closed.load(std::sync::atomic::Ordering::Acquire) {
                out.stopping = reports.len();
                return Ok(out);
            }
            let region = region(collector.region_map());
            for (i, r) in reports.iter().enumerate() {
                match collector.observe(r, &region, now_ms) {
                    Ok(Admission::Accepted) => out.accepted += 1,
                    Ok(Admission::Stop) => out.stopped += 1,
                    Ok(Admission::Busy) => out.busy += 1,
                    Err(e) => {
                        drop(collector);
                        self.counters.invalid.inc();
                        return Err((i, e));
                    }
                }
            }
        }
        self.counters.accepted.inc_by(out.accepted as u64);
        self.counters.stopped.inc_by(out.stopped as u64);
        self.counters.busy.inc_by(out.busy as u64);
        Ok(out)
    }
}

/// The region of a request, from the map's header, the Host, or the
/// client's address.
pub(crate) fn request_region(map: &RegionMap, headers: &HeaderMap, client: Option<IpAddr>) -> RegionId {
    let header = headers.get(map.header()).and_then(|v| v.to_str().ok());
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok());
    map.resolve(header, host, client)
}

/// A core CMCD error as a 400 naming the key (and the line of a body).
pub(crate) fn report_error(e: streammon_core::Error, line: Option<usize>) -> ApiError {
    let (key, reason) = match e {
        streammon_core::Error::InvalidCmcd { key, reason } => (key, reason),
        other => (String::new(), other.to_string()),
    };
    let field = match (line, key.is_empty()) {
        (Some(l), false) => format!("line {l}: {key}"),
        (Some(l), true) => format!("line {l}"),
        (None, false) => key.clone(),
        (None, true) => "body".into(),
    };
    ApiError::BadRequest { field, message: reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streammon_core::cmcd::CollectorConfig;

    fn ingest(settings: CmcdSettings) -> CmcdIngest {
        CmcdIngest::new(Collector::new(CollectorConfig::default()).unwrap(), settings, &Telemetry::new())
    }

    #[test]
    fn tokens_name_the_source() {
        let i = ingest(CmcdSettings { tokens: vec![("cdn-a".into(), "s3cret".into())], ..CmcdSettings::default() });
        let mut h = HeaderMap::new();
        assert!(matches!(i.authenticate(&h, None, None, &[]), Err(ApiError::Unauthorized(_))));
        assert_eq!(i.authenticate(&h, Some("x=1&token=s3cret"), None, &[]).unwrap(), Source::Token(0));
        h.insert(axum::http::header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert!(i.authenticate(&h, None, None, &[]).is_err());
        let open = ingest(CmcdSettings::default());
        let ip = "10.0.0.1".parse().unwrap();
        assert_eq!(open.authenticate(&HeaderMap::new(), None, Some(ip), &[]).unwrap(), Source::Client(ip));
        let writer = crate::Token::try_from("an-ingest-token-of-the-server".to_owned()).unwrap();
        assert_eq!(
            open.authenticate(
                &HeaderMap::new(),
                Some("token=an-ingest-token-of-the-server"),
                None,
                std::slice::from_ref(&writer)
            )
            .unwrap(),
            Source::Ingest(0),
            "an ingest token is accepted where CMCD tokens are"
        );
        assert!(open.authenticate(&HeaderMap::new(), None, Some(ip), &[writer]).is_err(), "ingest tokens close CMCD");
    }

    #[test]
    fn an_empty_cmcd_token_authenticates_nobody() {
        let i = ingest(CmcdSettings { tokens: vec![("blank".into(), String::new())], ..CmcdSettings::default() });
        assert!(i.authenticate(&HeaderMap::new(), Some("token="), None, &[]).is_err());
        let printed = format!(
            "{:?}",
            CmcdSettings { tokens: vec![("cdn".into(), "s3cret-s3cret".into())], ..CmcdSettings::default() }
        );
        assert!(printed.contains("cdn") && !printed.contains("s3cret"), "{printed}");
    }

    #[test]
    fn the_bucket_refuses_past_the_burst_and_says_when() {
        let i = ingest(CmcdSettings { rate_per_source: 10.0, burst: 20.0, ..CmcdSettings::default() });
        let (a, b) = (Source::Token(0), Source::Token(1));
        assert!(i.admit(a, 20).is_ok());
        match i.admit(a, 10) {
            Err(ApiError::TooBusy { retry_after_s, .. }) => assert_eq!(retry_after_s, 1),
            other => panic!("{other:?}"),
        }
        assert!(i.admit(b, 5).is_ok(), "another source has its own bucket");
        match i.admit(b, 50) {
            Err(ApiError::TooBusy { retry_after_s, .. }) => assert_eq!(retry_after_s, 5, "50 reports at 10 a second"),
            other => panic!("{other:?}"),
        }
    }

    /// Issue 16: a flood of sources (client addresses) grew the limiter's
    /// map by one entry each while their buckets had not refilled.
    #[test]
    fn the_limiter_remembers_at_most_max_sources() {
        let telemetry = Telemetry::new();
        let settings = CmcdSettings { rate_per_source: 0.001, burst: 1.0, ..CmcdSettings::default() };
        let i = CmcdIngest::new(Collector::new(CollectorConfig::default()).unwrap(), settings, &telemetry);
        let ip = |k: usize| Source::Client(IpAddr::from(std::net::Ipv6Addr::from(k as u128 + 1)));
        for k in 0..MAX_SOURCES {
            assert!(i.admit(ip(k), 1).is_ok(), "source {k}");
        }
        assert!(matches!(i.admit(ip(MAX_SOURCES), 1), Err(ApiError::TooBusy { .. })));
        assert_eq!(i.limits.limiter.len(), MAX_SOURCES);
        assert!(i.admit(Source::Token(0), 1).is_ok(), "a configured source is never crowded out");
        assert_eq!(telemetry.refused.with_label_values(&["sources"]).get(), 1);
    }
}
