//! From CMCD reports to the per (title, region, tick) [`Sample`]s the
//! simulator produces, so detectors, alerts, storage and every transport
//! work unchanged on real viewers.
//!
//! A [`Collector`] follows each session ([`Session`]) from its reports,
//! and at the end of every tick rolls the sessions of each (title, region)
//! up into one sample: viewers are the sessions that have shown video
//! and not ended (so a sample's startup time is always known), quality
//! figures are means over them, counts (joins at the first frame, exits,
//! stalls) are the tick's. A session that ends before its first frame is
//! an exit before video start, counted in [`CollectorStats`], not a
//! viewer. A title first named in a report (`cid`) is announced with a
//! [`ContentChange`], and retired once no session has watched it for
//! [`CollectorConfig::title_idle`]. It owns no clock: the caller passes
//! the time of receipt and of each tick.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::regions::{RegionMap, RegionMapConfig};
use super::report::{Report, StreamType};
use super::session::{Phase, Session};
use crate::content::{ContentChange, ContentStatus, ContentType, Ladder, RenditionId};
use crate::error::{Error, Result};
use crate::id::{ContentId, RegionId};
use crate::sample::{MAX_ID_LEN, RenditionMix, SCHEMA_VERSION, Sample};
use crate::time::Span;

/// Configuration of a [`Collector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectorConfig {
    /// A session whose reports stop for this long is over (a viewer who
    /// closed the tab sends nothing). Defaults to 60 s.
    pub session_timeout: Span,
    /// A title no session has watched for this long is retired. Defaults
    /// to 10 minutes.
    pub title_idle: Span,
    /// Most sessions followed at once; reports that would start another
    /// are refused (HTTP 429). Defaults to 200 000.
    pub max_sessions: usize,
    /// Share of sessions followed, in (0, 1], chosen by a hash of the
    /// session id so a session is in or out for its whole life; the
    /// others are told to stop reporting (HTTP 410). Defaults to 1.
    pub sample: f64,
    /// Which region a report comes from. Defaults to
    /// [`RegionMapConfig::default`].
    pub regions: RegionMapConfig,
    /// Most regions with sessions at once: the region header is set by
    /// whoever sends the request, so a report that would start a session
    /// in yet another region is refused (HTTP 429). Defaults to 256.
    pub max_regions: usize,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            session_timeout: Span::from_secs(60),
            title_idle: Span::from_mins(10),
            max_sessions: 200_000,
            sample: 1.0,
            regions: RegionMapConfig::default(),
            max_regions: 256,
        }
    }
}

/// What the collector made of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Taken into its session.
    Accepted,
    /// Its session is over or not sampled: the player should stop
    /// reporting it (HTTP 410).
    Stop,
    /// The collector is at [`CollectorConfig::max_sessions`]: retry later
    /// (HTTP 429).
    Busy,
}

/// Counters of a [`Collector`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CollectorStats {
    /// Sessions followed now.
    pub sessions: usize,
    /// Titles followed now.
    pub titles: usize,
    /// Reports taken.
    pub reports: u64,
    /// Reports answered "stop" (session over, or not sampled).
    pub stopped: u64,
    /// Reports refused at the session limit.
    pub busy: u64,
    /// Sessions that started.
    pub sessions_started: u64,
    /// Sessions that ended (or timed out).
    pub sessions_ended: u64,
    /// Sessions that ended before the video started (CTA-2066 exits
    /// before video start).
    pub exits_before_start: u64,
    /// Sessions stopped by a fatal error.
    pub failures: u64,
}

/// What the collector keeps of a title.
#[derive(Debug, Clone)]
struct Title {
    name: String,
    content_type: ContentType,
    last_watched_ms: i64,
}

/// The figures of a stream carried from its last tick with data.
#[derive(Debug, Clone, Copy, Default)]
struct Carry {
    /// The tick that last used it: what no tick used is forgotten.
    used_ms: i64,
    latency_ms: f64,
    startup_ms: f64,
    bitrate_kbps: f64,
    segment_s: f64,
    segment_kb: f64,
}

/// One stream's sessions in one tick.
#[derive(Debug, Default)]
struct StreamAcc {
    viewers: u32,
    joins: u32,
    exits: u32,
    watch_s: f64,
    play_ms: f64,
    stall_ms: f64,
    stalls: u32,
    bitrate: (f64, u32),
    startup: (f64, u32),
    live_latency: (f64, u32),
    mix: RenditionMix,
    requests: u32,
    errors: u32,
    kbit: f64,
    segment_ms: f64,
    segments: u32,
    ttfb: (f64, u32),
    audio_only: bool,
    live: bool,
}

/// Turns CMCD reports into samples (see [`crate::cmcd`]).
///
/// ```
/// use streammon_core::cmcd::{Collector, CollectorConfig, Report};
/// use streammon_core::RegionId;
/// let mut collector = Collector::new(CollectorConfig::default())?;
/// let region = RegionId::from("eu-west");
/// for (t, text) in [(0, "e=ps,sta=s,sid=\"a\",cid=\"film-1\",st=v,v=2"), (900, "e=ps,sta=p,sid=\"a\",br=3000,ot=v,v=2")] {
///     collector.observe(&Report::parse(text)?, &region, t)?;
/// }
/// let (mut samples, mut changes) = (Vec::new(), Vec::new());
/// collector.tick(1_000, 1_000, &mut samples, &mut changes);
/// assert_eq!(changes[0].content_id.as_str(), "film-1");
/// let s = &samples[0];
/// assert_eq!((s.viewers, s.joins, s.startup_time_ms, s.bitrate_kbps), (1, 1, 900.0, 3000.0));
/// # Ok::<(), streammon_core::Error>(())
/// ```
pub struct Collector {
    config: CollectorConfig,
    map: RegionMap,
    sessions: HashMap<Box<str>, Session>,
    /// Sessions over, kept a while to answer their reports with "stop".
    ended: HashMap<Box<str>, i64>,
    titles: HashMap<ContentId, Title>,
    carry: HashMap<(ContentId, RegionId), Carry>,
    /// Sessions per region.
    regions: HashMap<RegionId, u32>,
    announced: Vec<ContentChange>,
    stats: CollectorStats,
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector").field("stats", &self.stats).finish_non_exhaustive()
    }
}

/// The content id of sessions that never named their title.
pub const UNIDENTIFIED: &str = "unidentified";

/// A content id for a `cid`: itself when it is a valid id, else with
/// control characters replaced and cut to [`MAX_ID_LEN`] bytes.
fn content_id(cid: &str) -> ContentId {
    if crate::sample::check_id("content_id", cid).is_ok() {
        return ContentId::from(cid);
    }
    let mut id: String = cid.chars().map(|c| if c.is_control() { '_' } else { c }).collect();
    while id.len() > MAX_ID_LEN {
        id.pop();
    }
    ContentId::from(if id.is_empty() { UNIDENTIFIED.to_owned() } else { id })
}

/// 64-bit FNV-1a, for the sampling decision.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The rendition of the default ladders nearest (in ratio) to `kbps`.
fn rendition_of(kbps: f64, audio: bool) -> RenditionId {
    let ladder = if audio { Ladder::Music } else { Ladder::Film };
    ladder
        .renditions()
        .iter()
        .min_by(|a, b| {
            let d = |r: &crate::content::Rendition| (kbps.max(1.0) / f64::from(r.bitrate_kbps)).ln().abs();
            d(a).total_cmp(&d(b))
        })
        .map_or(RenditionId::P480, |r| r.id)
}

fn mean((sum, n): (f64, u32)) -> Option<f64> {
    (n > 0).then(|| sum / f64::from(n))
}

impl Collector {
    /// A collector after validating `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn new(config: CollectorConfig) -> Result<Self> {
        if !(config.sample > 0.0 && config.sample <= 1.0) {
            return Err(Error::config("sample", format!("{} is not within (0, 1]", config.sample)));
        }
        if config.max_sessions == 0 {
            return Err(Error::config("max_sessions", "must be at least 1"));
        }
        if config.max_regions == 0 {
            return Err(Error::config("max_regions", "must be at least 1"));
        }
        if config.session_timeout.as_millis() == 0 {
            return Err(Error::config("session_timeout", "must be positive"));
        }
        let map = RegionMap::new(&config.regions)?;
        Ok(Self {
            config,
            map,
            sessions: HashMap::new(),
            ended: HashMap::new(),
            titles: HashMap::new(),
            carry: HashMap::new(),
            regions: HashMap::new(),
            announced: Vec::new(),
            stats: CollectorStats::default(),
        })
    }

    /// Where reports come from.
    pub fn region_map(&self) -> &RegionMap {
        &self.map
    }

    /// Takes one report received at `now_ms` from a viewer in `region`.
    ///
    /// # Errors
    /// [`Error::InvalidCmcd`] for `sid` when the report has none: a report
    /// that names no session cannot be counted as a viewer.
    pub fn observe(&mut self, report: &Report<'_>, region: &RegionId, now_ms: i64) -> Result<Admission> {
        let sid = Self::check(report)?;
        if self.ended.contains_key(sid)
            || (self.config.sample < 1.0 && (fnv1a(sid.as_bytes()) as f64 / u64::MAX as f64) >= self.config.sample)
        {
            self.stats.stopped += 1;
            return Ok(Admission::Stop);
        }
        if !self.sessions.contains_key(sid) {
            let new_region = !self.regions.contains_key(region);
            if self.sessions.len() >= self.config.max_sessions
                || (new_region && self.regions.len() >= self.config.max_regions)
            {
                self.stats.busy += 1;
                return Ok(Admission::Busy);
            }
            self.stats.sessions_started += 1;
            self.sessions.insert(sid.into(), Session::new(region.clone(), now_ms));
            *self.regions.entry(region.clone()).or_default() += 1;
        }
        // Titles are only learnt from reports taken, and at most as many as
        // sessions may be followed: a client inventing a `cid` per report
        // cannot grow the catalogue without bound.
        let content = report.cid.as_deref().map(content_id);
        if let Some(id) = &content
            && (self.titles.contains_key(id) || self.titles.len() < self.config.max_sessions)
        {
            self.title_seen(id, report, now_ms);
        }
        let Some(session) = self.sessions.get_mut(sid) else { return Ok(Admission::Busy) };
        session.observe(report, content.as_ref(), now_ms);
        self.stats.reports += 1;
        Ok(Admission::Accepted)
    }

    /// Whether [`observe`](Self::observe) can take `report` (it names a
    /// session of 1 to 256 characters), without taking it: check a batch
    /// first to take it all or nothing. Returns the session id.
    ///
    /// # Errors
    /// [`Error::InvalidCmcd`] for `sid`.
    pub fn check<'r>(report: &'r Report<'_>) -> Result<&'r str> {
        match report.sid.as_deref() {
            None => Err(Error::InvalidCmcd {
                key: "sid".into(),
                reason: "missing: a report must name its session to be counted".into(),
            }),
            Some(sid) if sid.is_empty() || sid.len() > 256 => {
                Err(Error::InvalidCmcd { key: "sid".into(), reason: "must be 1 to 256 characters".into() })
            }
            Some(sid) => Ok(sid),
        }
    }

    fn title_seen(&mut self, id: &ContentId, report: &Report<'_>, now_ms: i64) {
        let live = matches!(report.st, Some(StreamType::Live | StreamType::LowLatency));
        if let Some(t) = self.titles.get_mut(id) {
            t.last_watched_ms = t.last_watched_ms.max(now_ms);
            if live && t.content_type != ContentType::Live {
                t.content_type = ContentType::Live;
            }
            return;
        }
        let content_type = if live { ContentType::Live } else { ContentType::Video };
        // The title's name is its id: a `cid` that is no valid id (too
        // long, control characters) is named as cut and cleaned, never
        // kept whole.
        let name = id.as_str().to_owned();
        self.announced.push(ContentChange {
            timestamp_ms: now_ms,
            content_id: id.clone(),
            title: name.clone(),
            content_type,
            genre: None,
            from: None,
            to: if live { ContentStatus::Live } else { ContentStatus::Available },
        });
        self.titles.insert(id.clone(), Title { name, content_type, last_watched_ms: now_ms });
    }

    /// Ends the tick at `now_ms`: appends one sample per (title, region)
    /// with sessions to `samples` and the tick's title changes to
    /// `changes`, then forgets what is over.
    pub fn tick(&mut self, now_ms: i64, interval_ms: u32, samples: &mut Vec<Sample>, changes: &mut Vec<ContentChange>) {
        let timeout = self.config.session_timeout.as_millis() as i64;
        let mut streams: BTreeMap<(ContentId, RegionId), StreamAcc> = BTreeMap::new();
        let unidentified = ContentId::from(UNIDENTIFIED);
        for session in self.sessions.values_mut() {
            session.advance(now_ms);
            let timed_out = !session.is_over() && now_ms - session.last_ms > timeout;
            if timed_out {
                session.phase = Phase::Ended;
            }
            let tick = session.take_tick();
            if !session.started() {
                // Not a viewer until its first frame: a session that never
                // gets there is an exit before video start (counted in the
                // stats), not a sample.
                continue;
            }
            let content = session.content.clone().unwrap_or_else(|| unidentified.clone());
            if let Some(t) = self.titles.get_mut(&content)
                && !session.is_over()
            {
                t.last_watched_ms = now_ms;
                if session.audio_only && session.bitrate_kbps.is_some() && t.content_type == ContentType::Video {
                    t.content_type = ContentType::Audio;
                }
            }
            let acc = streams.entry((content, session.region.clone())).or_default();
            acc.joins += u32::from(tick.joined);
            acc.play_ms += tick.play_ms;
            acc.stall_ms += tick.stall_ms;
            acc.stalls += tick.stalls;
            acc.requests += tick.requests;
            acc.errors += tick.errors;
            acc.kbit += tick.kbit;
            acc.segment_ms += tick.segment_ms;
            acc.segments += tick.segments;
            acc.ttfb.0 += tick.ttfb_ms;
            acc.ttfb.1 += tick.ttfbs;
            acc.live |= matches!(session.stream_type, Some(StreamType::Live | StreamType::LowLatency));
            acc.audio_only = session.audio_only;
            if session.is_over() {
                acc.exits += 1;
                continue;
            }
            acc.viewers += 1;
            acc.watch_s += (now_ms - session.first_ms).max(0) as f64 / 1_000.0;
            if let Some(b) = session.bitrate_kbps {
                acc.bitrate.0 += b;
                acc.bitrate.1 += 1;
                let id = rendition_of(b, session.audio_only);
                acc.mix.set(id, acc.mix.get(id) + 1);
            }
            if let Some(s) = session.startup_ms {
                acc.startup.0 += s;
                acc.startup.1 += 1;
            }
            if let Some(l) = session.live_latency_ms {
                acc.live_latency.0 += l;
                acc.live_latency.1 += 1;
            }
        }
        for ((content_id, region), acc) in streams {
            let carry = self.carry.entry((content_id.clone(), region.clone())).or_default();
            carry.used_ms = now_ms;
            if let Some(l) = mean(acc.ttfb) {
                carry.latency_ms = l;
            }
            if let Some(s) = mean(acc.startup) {
                carry.startup_ms = s;
            }
            if let Some(b) = mean(acc.bitrate) {
                carry.bitrate_kbps = b;
            }
            if acc.segments > 0 {
                carry.segment_s = acc.segment_ms / f64::from(acc.segments) / 1_000.0;
                carry.segment_kb = acc.kbit / 8.0 / f64::from(acc.segments);
            }
            let bitrate = carry.bitrate_kbps;
            let watched = acc.play_ms + acc.stall_ms;
            let seconds = f64::from(interval_ms.max(1)) / 1_000.0;
            let bandwidth =
                if acc.kbit > 0.0 { acc.kbit / 1_000.0 / seconds } else { bitrate * f64::from(acc.viewers) / 1_000.0 };
            let content_type = self.titles.get(&content_id).map_or(
                if acc.live {
                    ContentType::Live
                } else if acc.audio_only && bitrate > 0.0 {
                    ContentType::Audio
                } else {
                    ContentType::Video
                },
                |t| t.content_type,
            );
            samples.push(Sample {
                schema: SCHEMA_VERSION,
                timestamp_ms: now_ms,
                interval_ms: interval_ms.max(1),
                content_id,
                content_type,
                region,
                viewers: acc.viewers,
                joins: acc.joins,
                exits: acc.exits,
                avg_watch_time_s: if acc.viewers > 0 { acc.watch_s / f64::from(acc.viewers) } else { 0.0 },
                latency_ms: carry.latency_ms,
                e2e_latency_ms: mean(acc.live_latency),
                startup_time_ms: carry.startup_ms,
                buffering_ratio: if watched > 0.0 { (acc.stall_ms / watched).clamp(0.0, 1.0) } else { 0.0 },
                rebuffer_events: acc.stalls,
                bitrate_kbps: bitrate,
                rendition: acc.mix.dominant().unwrap_or_else(|| rendition_of(bitrate, acc.audio_only)),
                renditions: acc.mix,
                segment_duration_s: carry.segment_s,
                segment_size_kb: carry.segment_kb,
                bandwidth_mbps: bandwidth,
                error_rate: if acc.requests > 0 {
                    (f64::from(acc.errors) / f64::from(acc.requests)).clamp(0.0, 1.0)
                } else {
                    f64::from(u8::from(acc.errors > 0))
                },
            });
        }

        // Forget what is over.
        let stats = &mut self.stats;
        let ended = &mut self.ended;
        let max_ended = self.config.max_sessions;
        let regions = &mut self.regions;
        self.sessions.retain(|sid, s| {
            if !s.is_over() {
                return true;
            }
            if let Some(n) = regions.get_mut(&s.region) {
                *n -= 1;
                if *n == 0 {
                    regions.remove(&s.region);
                }
            }
            stats.sessions_ended += 1;
            stats.exits_before_start += u64::from(s.never_started() && s.phase == Phase::Ended);
            stats.failures += u64::from(s.phase == Phase::Failed);
            // Remembered so that its late reports are told to stop, but no
            // more of them than sessions followed: a client that starts and
            // ends sessions in a loop cannot grow this map without bound (a
            // session not remembered merely starts again if it reports).
            if ended.len() < max_ended {
                ended.insert(sid.clone(), now_ms);
            }
            false
        });
        let keep_ended = 2 * timeout;
        self.ended.retain(|_, t| now_ms - *t <= keep_ended);
        // A stream (title × region) with no session this tick needs no
        // figures carried: forgotten, so a churn of regions or titles
        // cannot grow the map.
        self.carry.retain(|_, c| c.used_ms == now_ms);
        changes.append(&mut self.announced);
        let idle = self.config.title_idle.as_millis() as i64;
        let carry = &mut self.carry;
        self.titles.retain(|id, t| {
            if now_ms - t.last_watched_ms <= idle {
                return true;
            }
            let live = t.content_type == ContentType::Live;
            changes.push(ContentChange {
                timestamp_ms: now_ms,
                content_id: id.clone(),
                title: t.name.clone(),
                content_type: t.content_type,
                genre: None,
                from: Some(if live { ContentStatus::Live } else { ContentStatus::Available }),
                to: if live { ContentStatus::Ended } else { ContentStatus::Retired },
            });
            carry.retain(|(c, _), _| c != id);
            false
        });
        self.stats.sessions = self.sessions.len();
        self.stats.titles = self.titles.len();
    }

    /// Counters.
    pub fn stats(&self) -> CollectorStats {
        self.stats
    }

    /// Sessions that ended recently and are remembered so that their late
    /// reports are told to stop: at most
    /// [`max_sessions`](CollectorConfig::max_sessions).
    pub fn ended_sessions(&self) -> usize {
        self.ended.len()
    }

    /// Regions with sessions now, at most
    /// [`max_regions`](CollectorConfig::max_regions).
    pub fn regions(&self) -> usize {
        self.regions.len()
    }

    /// Streams (title × region) whose figures are carried to the next
    /// tick: those that had sessions in the last.
    pub fn carried(&self) -> usize {
        self.carry.len()
    }

    /// The sessions followed, by session id.
    pub fn sessions(&self) -> impl Iterator<Item = (&str, &Session)> + '_ {
        self.sessions.iter().map(|(k, v)| (&**k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(text: &str) -> Report<'_> {
        Report::parse(text).unwrap()
    }

    #[test]
    fn sessions_roll_up_per_title_and_region() {
        let mut c = Collector::new(CollectorConfig::default()).unwrap();
        let (eu, us) = (RegionId::from("eu-west"), RegionId::from("us-east"));
        for (sid, region, br) in [("a", &eu, 3000), ("b", &eu, 1000), ("c", &us, 6000)] {
            let start = format!("e=ps,sta=s,sid=\"{sid}\",cid=\"film\",v=2");
            c.observe(&report(&start), region, 0).unwrap();
            let play = format!("e=ps,sta=p,sid=\"{sid}\",br={br},ot=v,v=2");
            c.observe(&report(&play), region, 500).unwrap();
        }
        c.observe(&report("e=ps,sta=r,sid=\"b\",v=2"), &eu, 750).unwrap();
        let (mut samples, mut changes) = (Vec::new(), Vec::new());
        c.tick(1_000, 1_000, &mut samples, &mut changes);
        assert_eq!(changes.len(), 1, "one title announced once");
        assert_eq!(samples.len(), 2);
        let s = samples.iter().find(|s| s.region == eu).unwrap();
        assert_eq!((s.viewers, s.joins, s.rebuffer_events), (2, 2, 1));
        assert_eq!(s.bitrate_kbps, 2000.0);
        // a: 500 ms played; b: 250 ms played, 250 ms stalled.
        assert!((s.buffering_ratio - 250.0 / 1000.0).abs() < 1e-12, "{}", s.buffering_ratio);
        assert_eq!(s.renditions.total(), 2);
        assert!(s.validate().is_ok(), "{:?}", s.validate());
        let us_sample = samples.iter().find(|s| s.region == us).unwrap();
        assert_eq!(us_sample.rendition, RenditionId::P1080);

        // A quiet tick: sessions go on, nobody joins, figures carry.
        samples.clear();
        c.tick(2_000, 1_000, &mut samples, &mut changes);
        let s = samples.iter().find(|s| s.region == eu).unwrap();
        assert_eq!((s.viewers, s.joins, s.startup_time_ms), (2, 0, 500.0));
        assert!((s.buffering_ratio - 0.5).abs() < 1e-12, "b stalls on: {}", s.buffering_ratio);
    }

    #[test]
    fn timeouts_exits_stop_and_retirement() {
        let config = CollectorConfig {
            session_timeout: Span::from_secs(5),
            title_idle: Span::from_secs(10),
            ..CollectorConfig::default()
        };
        let mut c = Collector::new(config).unwrap();
        let r = RegionId::from("local");
        c.observe(&report("e=ps,sta=s,sid=\"q\",cid=\"t\",v=2"), &r, 0).unwrap();
        c.observe(&report("e=ps,sta=q,sid=\"q\",v=2"), &r, 100).unwrap();
        c.observe(&report("e=ps,sta=p,sid=\"z\",cid=\"t\",br=900,ot=v,v=2"), &r, 0).unwrap();
        let (mut samples, mut changes) = (Vec::new(), Vec::new());
        c.tick(1_000, 1_000, &mut samples, &mut changes);
        assert_eq!((samples[0].viewers, samples[0].exits), (1, 0), "q never showed video: not a viewer, not an exit");
        assert_eq!(c.stats().exits_before_start, 1);
        assert_eq!(c.observe(&report("e=t,sid=\"q\",v=2"), &r, 1_100).unwrap(), Admission::Stop);
        samples.clear();
        c.tick(7_000, 1_000, &mut samples, &mut changes);
        assert_eq!((samples[0].viewers, samples[0].exits), (0, 1), "z timed out");
        assert_eq!(c.stats().sessions, 0);
        changes.clear();
        c.tick(18_000, 1_000, &mut samples, &mut changes);
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].from, changes[0].to), (Some(ContentStatus::Available), ContentStatus::Retired));
    }

    #[test]
    fn limits_sampling_and_missing_sid() {
        let mut c = Collector::new(CollectorConfig { max_sessions: 1, ..CollectorConfig::default() }).unwrap();
        let r = RegionId::from("local");
        assert_eq!(c.observe(&report("sid=\"a\",br=1"), &r, 0).unwrap(), Admission::Accepted);
        assert_eq!(c.observe(&report("sid=\"b\",br=1,cid=\"x\""), &r, 0).unwrap(), Admission::Busy);
        let (mut samples, mut changes) = (Vec::new(), Vec::new());
        c.tick(0, 1_000, &mut samples, &mut changes);
        assert!(changes.is_empty(), "a refused report names no title");
        // One session inventing a title per report learns at most max_sessions (1) of them.
        c.observe(&report("sid=\"a\",cid=\"t1\""), &r, 0).unwrap();
        c.observe(&report("sid=\"a\",cid=\"t2\""), &r, 0).unwrap();
        c.tick(1, 1_000, &mut samples, &mut changes);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(c.observe(&report("sid=\"a\",br=2"), &r, 0).unwrap(), Admission::Accepted);
        let err = c.observe(&report("br=1"), &r, 0).unwrap_err().to_string();
        assert!(err.contains("`sid`"), "{err}");
        let mut half = Collector::new(CollectorConfig { sample: 0.5, ..CollectorConfig::default() }).unwrap();
        let stopped = (0..1_000)
            .filter(|i| half.observe(&report(&format!("sid=\"s{i}\",br=1")), &r, 0).unwrap() == Admission::Stop)
            .count();
        assert!((400..600).contains(&stopped), "{stopped} of 1000 stopped at sample 0.5");
        assert!(Collector::new(CollectorConfig { sample: 0.0, ..CollectorConfig::default() }).is_err());
        assert_eq!(content_id("a\u{7}b").as_str(), "a_b");
    }

    /// Issue 16: the id of a long `cid` was cut to 128 bytes, but the
    /// title's name kept every byte.
    #[test]
    fn a_long_cid_is_named_as_cut() {
        let mut c = Collector::new(CollectorConfig::default()).unwrap();
        let long = "x".repeat(4_000);
        c.observe(&report(&format!("sid=\"a\",cid=\"{long}\",br=1")), &RegionId::from("local"), 0).unwrap();
        let (mut samples, mut changes) = (Vec::new(), Vec::new());
        c.tick(1_000, 1_000, &mut samples, &mut changes);
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].content_id.as_str().len(), changes[0].title.len()), (MAX_ID_LEN, MAX_ID_LEN));
    }

    /// Issue 16: sessions started and ended in a loop grew the map of
    /// ended sessions by one each, for two session timeouts.
    #[test]
    fn ended_sessions_are_remembered_up_to_max_sessions() {
        let config = CollectorConfig { max_sessions: 3, ..CollectorConfig::default() };
        let mut c = Collector::new(config).unwrap();
        let r = RegionId::from("local");
        let (mut samples, mut changes) = (Vec::new(), Vec::new());
        for round in 0..50_i64 {
            for k in 0..3 {
                let sid = format!("s{round}-{k}");
                c.observe(&report(&format!("e=ps,sta=s,sid=\"{sid}\",v=2")), &r, round * 10).unwrap();
                c.observe(&report(&format!("e=ps,sta=e,sid=\"{sid}\",v=2")), &r, round * 10 + 1).unwrap();
            }
            c.tick(round * 10 + 5, 10, &mut samples, &mut changes);
            assert!(c.ended_sessions() <= 3, "{} ended sessions remembered", c.ended_sessions());
        }
        assert_eq!(c.stats().sessions_ended, 150);
    }

    /// Issue 16: the region comes from a header the sender sets, so
    /// sessions could each name a new region; and the figures carried per
    /// (title, region) stayed until the title retired.
    #[test]
    fn regions_with_sessions_are_capped_and_carried_figures_follow_the_sessions() {
        let config = CollectorConfig { max_regions: 2, ..CollectorConfig::default() };
        let mut c = Collector::new(config).unwrap();
        let play = |sid: &str| format!("e=ps,sta=p,sid=\"{sid}\",cid=\"film\",br=900,ot=v,v=2");
        let (mut samples, mut changes) = (Vec::new(), Vec::new());
        for (i, region) in ["r0", "r1"].into_iter().enumerate() {
            let sid = format!("s{i}");
            assert_eq!(c.observe(&report(&play(&sid)), &region.into(), 0).unwrap(), Admission::Accepted);
        }
        assert_eq!(c.observe(&report(&play("s2")), &"r2".into(), 0).unwrap(), Admission::Busy);
        assert_eq!(c.observe(&report(&play("s3")), &"r1".into(), 0).unwrap(), Admission::Accepted);
        c.tick(1_000, 1_000, &mut samples, &mut changes);
        assert_eq!((c.regions(), c.carried()), (2, 2));
        // s0 leaves: r0 has no session, its stream carries nothing, and a
        // session in a new region fits again.
        c.observe(&report("e=ps,sta=e,sid=\"s0\",v=2"), &"r0".into(), 1_500).unwrap();
        c.tick(2_000, 1_000, &mut samples, &mut changes);
        assert_eq!(c.regions(), 1);
        c.tick(3_000, 1_000, &mut samples, &mut changes);
        assert_eq!(c.carried(), 1);
        assert_eq!(c.observe(&report(&play("s4")), &"r2".into(), 3_500).unwrap(), Admission::Accepted);
        assert!(Collector::new(CollectorConfig { max_regions: 0, ..CollectorConfig::default() }).is_err());
    }
}
