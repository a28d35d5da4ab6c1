//! Roll-ups: each scope's figures over a minute and over an hour, written
//! as ticks close, so history outlives the raw samples' retention and a
//! day or a week loads from a few thousand rows.
//!
//! A scope is what the tick summary already rolls up: the whole service,
//! a CDN region, a content type, a title (over its regions). Its figures
//! are the summary's ([`Quality`]): viewer-weighted means and summed
//! viewers, bandwidth and buffer events. Each figure of a roll-up keeps
//! the mean, min and max of the tick values it covers.
//!
//! ```
//! use streammon_core::pipeline::TickSummary;
//! use streammon_core::rollup::{Resolution, RollupScope, Rollups};
//! use streammon_core::{Metric, SimConfig, Simulator};
//!
//! let mut sim = Simulator::new(SimConfig { titles: 4, ..SimConfig::default() })?;
//! let mut rollups = Rollups::default();
//! let mut closed = Vec::new();
//! for frame in sim.by_ref().take(121) {
//!     let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
//!     rollups.observe(&tick, &mut closed);
//! }
//! // Two minutes closed, each for every scope.
//! let service: Vec<_> = closed.iter().filter(|r| r.scope == RollupScope::Service).collect();
//! assert!(service.len() >= 1 && service.iter().all(|r| r.resolution == Resolution::Minute));
//! assert!(service[0].get(Metric::Viewers).is_some());
//! # Ok::<(), streammon_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::content::ContentType;
use crate::id::{ContentId, RegionId};
use crate::pipeline::{Quality, TickSummary};
use crate::sample::Metric;
use crate::store::Bucket;
use crate::time::Span;

/// The figures a roll-up keeps: those of the tick summary, in this order.
pub const ROLLUP_METRICS: [Metric; 8] = [
    Metric::Viewers,
    Metric::LatencyMs,
    Metric::StartupTimeMs,
    Metric::BufferingRatio,
    Metric::RebufferEvents,
    Metric::BitrateKbps,
    Metric::ErrorRate,
    Metric::BandwidthMbps,
];

fn index(metric: Metric) -> Option<usize> {
    ROLLUP_METRICS.iter().position(|m| *m == metric)
}

fn figures(q: &Quality) -> [f64; ROLLUP_METRICS.len()] {
    [
        q.viewers as f64,
        q.latency_ms,
        q.startup_time_ms,
        q.buffering_ratio,
        q.rebuffer_events as f64,
        q.bitrate_kbps,
        q.error_rate,
        q.bandwidth_mbps,
    ]
}

/// How long a roll-up's bucket is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Resolution {
    /// One minute.
    #[serde(rename = "1m")]
    Minute,
    /// One hour.
    #[serde(rename = "1h")]
    Hour,
}

impl Resolution {
    /// Both, finest first.
    pub const ALL: [Resolution; 2] = [Self::Minute, Self::Hour];

    /// The bucket's length, milliseconds.
    pub const fn ms(self) -> i64 {
        match self {
            Self::Minute => 60_000,
            Self::Hour => 3_600_000,
        }
    }

    /// `1m` or `1h`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "1m",
            Self::Hour => "1h",
        }
    }

    /// The coarsest resolution whose buckets are no wider than `step_ms`,
    /// so that a query asking for buckets `step_ms` wide gets every one
    /// filled; `None` when even a minute is too wide.
    ///
    /// ```
    /// use streammon_core::rollup::Resolution;
    /// assert_eq!(Resolution::coarsest_within(6 * 60_000), Some(Resolution::Minute));
    /// assert_eq!(Resolution::coarsest_within(3 * 3_600_000), Some(Resolution::Hour));
    /// assert_eq!(Resolution::coarsest_within(15_000), None);
    /// ```
    pub fn coarsest_within(step_ms: i64) -> Option<Self> {
        Self::ALL.into_iter().rev().find(|r| r.ms() <= step_ms)
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which slice of the service a roll-up covers. Written like the
/// Socket.IO rooms: `service`, `region:eu-west`, `type:live`,
/// `content:vod-000001`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RollupScope {
    /// Every stream.
    Service,
    /// One CDN region.
    Region(RegionId),
    /// One content type.
    Type(ContentType),
    /// One title, over its regions.
    Content(ContentId),
}

impl fmt::Display for RollupScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service => f.write_str("service"),
            Self::Region(r) => write!(f, "region:{r}"),
            Self::Type(t) => write!(f, "type:{t}"),
            Self::Content(c) => write!(f, "content:{c}"),
        }
    }
}

impl FromStr for RollupScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not service, region:ID, type:video|audio|live or content:ID");
        if s == "service" {
            return Ok(Self::Service);
        }
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        if id.is_empty() {
            return Err(bad());
        }
        match kind {
            "region" => Ok(Self::Region(id.into())),
            "content" => Ok(Self::Content(id.into())),
            "type" => ContentType::ALL.into_iter().find(|t| t.as_str() == id).map(Self::Type).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl Serialize for RollupScope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RollupScope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One figure over a bucket: mean, min and max of its tick values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figure(pub [f64; 3]);

impl Figure {
    /// Mean of the tick values.
    pub fn mean(&self) -> f64 {
        self.0[0]
    }
    /// Smallest tick value.
    pub fn min(&self) -> f64 {
        self.0[1]
    }
    /// Largest tick value.
    pub fn max(&self) -> f64 {
        self.0[2]
    }
}

/// One scope's figures over one bucket (a minute or an hour).
///
/// Serialized compactly, one array per figure in [`ROLLUP_METRICS`]
/// order: `{"scope":"region:eu-west","res":"1m","start_ms":…,"ticks":60,
/// "figures":[[mean,min,max],…]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// The scope.
    pub scope: RollupScope,
    /// Its resolution.
    #[serde(rename = "res")]
    pub resolution: Resolution,
    /// Start of the bucket, epoch ms, a multiple of the resolution.
    pub start_ms: i64,
    /// Ticks it covers (the scope reported in each).
    pub ticks: u32,
    /// One per [`ROLLUP_METRICS`], in order.
    pub figures: [Figure; ROLLUP_METRICS.len()],
}

impl Rollup {
    /// The figure of `metric`; `None` for a metric roll-ups do not keep.
    pub fn get(&self, metric: Metric) -> Option<Figure> {
        index(metric).map(|i| self.figures[i])
    }

    /// The key of its series: scope and resolution.
    pub fn series(&self) -> (RollupScope, Resolution) {
        (self.scope.clone(), self.resolution)
    }
}

/// `v` to 7 significant digits: what a chart can show, and a third of
/// the bytes of a full double in storage.
fn significant(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(6 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// Open buckets: sums, mins and maxes of the ticks so far.
#[derive(Debug, Clone)]
struct Open {
    start_ms: i64,
    ticks: u32,
    sum: [f64; ROLLUP_METRICS.len()],
    min: [f64; ROLLUP_METRICS.len()],
    max: [f64; ROLLUP_METRICS.len()],
}

impl Open {
    fn new(start_ms: i64) -> Self {
        const N: usize = ROLLUP_METRICS.len();
        Self { start_ms, ticks: 0, sum: [0.0; N], min: [f64::INFINITY; N], max: [f64::NEG_INFINITY; N] }
    }

    fn add(&mut self, values: &[f64; ROLLUP_METRICS.len()]) {
        self.ticks += 1;
        for (i, v) in values.iter().enumerate() {
            self.sum[i] += v;
            self.min[i] = self.min[i].min(*v);
            self.max[i] = self.max[i].max(*v);
        }
    }

    fn close(&self, scope: RollupScope, resolution: Resolution) -> Rollup {
        let n = f64::from(self.ticks.max(1));
        let figures = std::array::from_fn(|i| {
            Figure([significant(self.sum[i] / n), significant(self.min[i]), significant(self.max[i])])
        });
        Rollup { scope, resolution, start_ms: self.start_ms, ticks: self.ticks, figures }
    }
}

/// Rolls ticks up, scope by scope, and hands over each bucket once the
/// tick after it arrives.
///
/// A scope that stops reporting (a title retired) has its last bucket
/// closed by the first tick past that bucket. Memory: two open buckets
/// per scope.
#[derive(Debug, Clone, Default)]
pub struct Rollups {
    open: BTreeMap<(RollupScope, Resolution), Open>,
    /// The start of the bucket each resolution is filling, once a tick came.
    current: [Option<i64>; Resolution::ALL.len()],
}

impl Rollups {
    /// Adds one tick's summary; appends to `closed` the buckets it ends
    /// (every bucket of an earlier minute or hour).
    pub fn observe(&mut self, tick: &TickSummary, closed: &mut Vec<Rollup>) {
        // The tick's end lies in the bucket it belongs to: a tick ending
        // on 12:01:00.000 covers 12:00:59 to 12:01:00, the 12:00 minute.
        let at = tick.timestamp_ms - 1;
        for (i, res) in Resolution::ALL.into_iter().enumerate() {
            let start = at.div_euclid(res.ms()) * res.ms();
            // A new bucket closes every open one of this resolution; within
            // a bucket nothing is looked at but the tick's scopes.
            if self.current[i].is_some_and(|c| c < start) {
                let ended: Vec<RollupScope> =
                    self.open.keys().filter(|(_, r)| *r == res).map(|(s, _)| s.clone()).collect();
                for scope in ended {
                    if let Some(o) = self.open.remove(&(scope.clone(), res)) {
                        closed.push(o.close(scope, res));
                    }
                }
            }
            if self.current[i].is_none_or(|c| c < start) {
                self.current[i] = Some(start);
            }
            let mut add = |scope: RollupScope, q: &Quality| {
                let open = self.open.entry((scope, res)).or_insert_with(|| Open::new(start));
                if open.start_ms == start {
                    open.add(&figures(q));
                }
            };
            add(RollupScope::Service, &tick.total);
            for r in &tick.regions {
                add(RollupScope::Region(r.region.clone()), &r.quality);
            }
            for ty in &tick.types {
                add(RollupScope::Type(ty.content_type), &ty.quality);
            }
            for c in &tick.contents {
                add(RollupScope::Content(c.content_id.clone()), &c.quality);
            }
        }
    }

    /// Closes every open bucket, partial ones too (at shutdown, so that
    /// the last minutes are not lost; a bucket written twice is replaced).
    pub fn flush(&mut self, closed: &mut Vec<Rollup>) {
        for ((scope, res), open) in std::mem::take(&mut self.open) {
            closed.push(open.close(scope, res));
        }
    }

    /// Scopes with an open bucket.
    pub fn scopes(&self) -> usize {
        self.open.len() / Resolution::ALL.len()
    }
}

/// Retention of each resolution: how far behind the newest bucket rows are
/// kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RollupRetention {
    /// Minute roll-ups. Defaults to 7 days.
    pub minute: Span,
    /// Hour roll-ups. Defaults to 90 days.
    pub hour: Span,
}

impl Default for RollupRetention {
    fn default() -> Self {
        Self { minute: Span::from_hours(7 * 24), hour: Span::from_hours(90 * 24) }
    }
}

impl RollupRetention {
    /// The retention of `resolution`, ms.
    pub fn of(&self, resolution: Resolution) -> i64 {
        match resolution {
            Resolution::Minute => self.minute.as_millis() as i64,
            Resolution::Hour => self.hour.as_millis() as i64,
        }
    }
}

/// Which roll-ups to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupQuery {
    /// The scope.
    pub scope: RollupScope,
    /// The resolution.
    pub resolution: Resolution,
    /// Start, epoch ms, inclusive (a bucket starting at or after it).
    pub from_ms: i64,
    /// End, epoch ms, exclusive.
    pub to_ms: i64,
}

impl RollupQuery {
    /// Whether `rollup` is one the query selects.
    pub fn matches(&self, rollup: &Rollup) -> bool {
        rollup.scope == self.scope
            && rollup.resolution == self.resolution
            && rollup.start_ms >= self.from_ms
            && rollup.start_ms < self.to_ms
    }
}

/// Re-buckets roll-ups (oldest first) of one metric into buckets
/// `step_ms` wide aligned on `from_ms`: mean weighted by ticks, min of
/// mins, max of maxes, `count` the ticks covered. Empty buckets are left
/// out.
///
/// ```
/// # use streammon_core::rollup::*;
/// # use streammon_core::Metric;
/// let r = |start_ms, v| Rollup { scope: RollupScope::Service, resolution: Resolution::Minute, start_ms,
///     ticks: 60, figures: [Figure([v, v - 1.0, v + 1.0]); 8] };
/// let b = rebucket(&[r(0, 10.0), r(60_000, 20.0), r(120_000, 30.0)], Metric::LatencyMs, 0, 120_000);
/// assert_eq!(b.len(), 2);
/// assert_eq!((b[0].mean, b[0].min, b[0].max, b[0].count), (15.0, 9.0, 21.0, 120));
/// ```
pub fn rebucket(rollups: &[Rollup], metric: Metric, from_ms: i64, step_ms: i64) -> Vec<Bucket> {
    let Some(i) = index(metric) else { return Vec::new() };
    let step = i128::from(step_ms.max(1));
    let mut out: Vec<Bucket> = Vec::new();
    let mut weight = 0.0;
    for r in rollups {
        // In i128: a range may start at i64::MIN.
        let (at, from) = (i128::from(r.start_ms), i128::from(from_ms));
        let start = i64::try_from(from + (at - from).div_euclid(step) * step).unwrap_or(r.start_ms);
        let f = r.figures[i];
        let w = f64::from(r.ticks.max(1));
        match out.last_mut() {
            Some(b) if b.start_ms == start => {
                b.mean = (b.mean * weight + f.mean() * w) / (weight + w);
                b.min = b.min.min(f.min());
                b.max = b.max.max(f.max());
                b.count += r.ticks;
                weight += w;
            }
            _ => {
                out.push(Bucket { start_ms: start, min: f.min(), max: f.max(), mean: f.mean(), count: r.ticks });
                weight = w;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{SimConfig, Simulator};

    fn run(ticks: usize, step_ms: u64) -> (Vec<TickSummary>, Vec<Rollup>) {
        let config = SimConfig { titles: 4, step: Span::from_millis(step_ms), ..SimConfig::default() };
        let mut sim = Simulator::new(config).unwrap();
        let (mut rollups, mut closed, mut summaries) = (Rollups::default(), Vec::new(), Vec::new());
        for frame in sim.by_ref().take(ticks) {
            let tick = TickSummary::build(frame.timestamp_ms, step_ms as u32, &frame.samples, |_| None);
            rollups.observe(&tick, &mut closed);
            summaries.push(tick);
        }
        (summaries, closed)
    }

    #[test]
    fn a_minute_holds_the_mean_min_and_max_of_its_ticks() {
        let (ticks, closed) = run(200, 1_000);
        let service: Vec<&Rollup> =
            closed.iter().filter(|r| r.scope == RollupScope::Service && r.resolution == Resolution::Minute).collect();
        assert!(service.len() >= 2, "{}", service.len());
        for r in &service {
            assert_eq!(r.start_ms % 60_000, 0);
            let inside: Vec<&TickSummary> =
                ticks.iter().filter(|t| (t.timestamp_ms - 1).div_euclid(60_000) * 60_000 == r.start_ms).collect();
            assert_eq!(r.ticks as usize, inside.len());
            let viewers: Vec<f64> = inside.iter().map(|t| t.total.viewers as f64).collect();
            let mean = viewers.iter().sum::<f64>() / viewers.len() as f64;
            let f = r.get(Metric::Viewers).unwrap();
            assert!((f.mean() - mean).abs() <= 1e-6 * mean, "7 significant digits");
            assert_eq!(f.min(), viewers.iter().copied().fold(f64::INFINITY, f64::min));
            assert_eq!(f.max(), viewers.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
        // Every scope closes its minutes: regions, types, titles.
        for scope in ["region:eu-west", "type:video"] {
            let scope: RollupScope = scope.parse().unwrap();
            assert!(closed.iter().any(|r| r.scope == scope), "{scope}");
        }
        assert!(closed.iter().any(|r| matches!(r.scope, RollupScope::Content(_))));
    }

    #[test]
    fn hours_close_after_their_last_tick_and_a_flush_closes_the_rest() {
        let (_, closed) = run(400, 10_000);
        let hours: Vec<&Rollup> =
            closed.iter().filter(|r| r.scope == RollupScope::Service && r.resolution == Resolution::Hour).collect();
        assert!(!hours.is_empty());
        assert!(hours.iter().all(|r| r.start_ms % 3_600_000 == 0 && r.ticks <= 360));
        let mut rollups = Rollups::default();
        let mut sim = Simulator::new(SimConfig { titles: 2, ..SimConfig::default() }).unwrap();
        let frame = sim.next_frame();
        let mut out = Vec::new();
        let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
        rollups.observe(&tick, &mut out);
        assert!(out.is_empty());
        let scopes = 1 + tick.regions.len() + tick.types.len() + tick.contents.len();
        assert_eq!(rollups.scopes(), scopes);
        rollups.flush(&mut out);
        assert_eq!(out.len(), 2 * scopes, "a minute and an hour per scope");
        assert!(out.iter().all(|r| r.ticks == 1));
        assert_eq!(rollups.scopes(), 0);
    }

    #[test]
    fn scopes_round_trip_as_text_and_json() {
        for s in ["service", "region:eu-west", "type:live", "content:vod-000001", "content:a:b"] {
            let scope: RollupScope = s.parse().unwrap();
            assert_eq!(scope.to_string(), s);
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(serde_json::from_str::<RollupScope>(&json).unwrap(), scope);
        }
        for bad in ["", "region:", "type:tv", "planet:mars", "services"] {
            assert!(bad.parse::<RollupScope>().is_err(), "{bad}");
        }
        let (_, closed) = run(70, 1_000);
        let json = serde_json::to_string(&closed[0]).unwrap();
        let back = serde_json::from_str::<Rollup>(&json).unwrap();
        assert_eq!(back.series(), closed[0].series());
        for (a, b) in back.figures.iter().zip(&closed[0].figures) {
            for (x, y) in a.0.iter().zip(&b.0) {
                assert!((x - y).abs() <= 1e-12 * y.abs(), "{x} vs {y}");
            }
        }
        assert!(json.len() < 400, "compact: {json}");
    }
}
