//! Impact rules: is a slice of the audience materially worse off than
//! usual?
//!
//! A point detector asks whether one title in one region looks unusual;
//! most such points are noise to an operator. An impact rule asks the
//! operator's question instead, of three scopes: every title in a CDN
//! region, one title in every region, and one title in one region. Each
//! tick it rolls each scope's streams up (viewer-weighted means; sums for
//! viewers), and judges each rolled-up figure against a baseline of that
//! scope's own: a level and a spread learned while the scope is calm. A
//! metric is *in condition* when it moved the harmful way by more than
//! `sensitivity` of its usual deviations **and** by more than the metric's
//! practical-significance floor ([`Floor`]).
//!
//! # Explaining away
//! A CDN region going bad also moves the titles watched mostly there, and
//! a title's origin failing also moves the regions where it is big. So a
//! scope's condition is kept only if what remains after setting aside the
//! other kind of scope still is in condition: a title is judged again
//! without the regions in condition, a region without the titles in
//! condition (a scope with nothing left is kept). A title in one region is
//! kept only when neither its region nor its title is. Each incident then
//! raises one alert, named after the scope that explains it.
//!
//! # Lifecycle and memory
//! A scope in condition on any metric for `for_duration` fires; it
//! resolves once no metric has stayed within three quarters of its
//! threshold for `resolve_after`. Baselines learn only while their scope
//! is quiet; a scope in condition for `relearn_after` starts its baseline
//! again (the new level is the new normal). State is one entry per region,
//! title and stream seen in the last `series_idle`, a few dozen bytes per
//! metric.

use std::collections::{BTreeMap, HashMap};

use super::rule::{Direction, ImpactCondition, ImpactScope};
use super::state::{Phase, SeriesState, ewma_alpha};
use super::{GroupKey, Impact, MetricShift};
use crate::id::{ContentId, RegionId};
use crate::sample::{Metric, Sample};
use crate::significance::{Floor, Floors};

/// Observations, and time, before a baseline is trusted.
const WARM: u32 = 30;
const WARM_MS: i64 = 5 * 60 * 1_000;
/// Robust standard deviations per mean absolute deviation (normal data).
const MAD_TO_SIGMA: f64 = 1.2533;
/// Share of its threshold a firing metric must fall under to count as
/// clear.
const HOLD: f64 = 0.75;
/// How far ahead a baseline's trend is followed: its extrapolation
/// flattens out with this time constant, so a level frozen through an
/// incident does not run away.
const TREND_HORIZON_MS: f64 = 2.0 * 60.0 * 1_000.0;
/// The trend learns this many times slower than the level.
const TREND_SLOWER: f64 = 2.0;
/// How long after a region's or a title's alert resolves its streams are
/// still taken to be settling, not failing anew.
const AFTERMATH_MS: i64 = 5 * 60 * 1_000;
/// How many times the rule's sensitivity a single stream must move: there
/// are dozens of streams for every region or title, so each must be
/// surer, as in a correction for multiple comparisons.
const STREAM_STRICTER: f64 = 1.5;

/// How much worse off viewers are when `metric` moved from `baseline` to
/// `value`, within [0, 1]; 0 when it moved the other way. See
/// [`Impact`](super::Impact).
///
/// ```
/// use streammon_core::alert::{Direction, degradation};
/// use streammon_core::Metric;
/// assert!((degradation(Metric::BufferingRatio, Direction::Up, 0.036, 0.006) - 0.03).abs() < 1e-12);
/// assert_eq!(degradation(Metric::LatencyMs, Direction::Up, 60.0, 30.0), 0.5);
/// assert_eq!(degradation(Metric::BitrateKbps, Direction::Down, 3_000.0, 4_000.0), 0.25);
/// assert_eq!(degradation(Metric::BitrateKbps, Direction::Down, 5_000.0, 4_000.0), 0.0);
/// ```
pub fn degradation(metric: Metric, direction: Direction, value: f64, baseline: f64) -> f64 {
    let ratio = metric.domain().1 <= 1.0;
    let d = match (direction, ratio) {
        (Direction::Up, true) => value - baseline,
        (Direction::Down, true) => baseline - value,
        (Direction::Up, false) if value > 0.0 => 1.0 - baseline / value,
        (Direction::Down, false) if baseline > 0.0 => 1.0 - value / baseline,
        _ => 0.0,
    };
    if d.is_finite() { d.clamp(0.0, 1.0) } else { 0.0 }
}

/// Whether a scope's figure for `metric` is a sum over its streams
/// (viewers, counts, egress) rather than a viewer-weighted mean.
fn additive(metric: Metric) -> bool {
    matches!(metric, Metric::Viewers | Metric::Joins | Metric::Exits | Metric::RebufferEvents | Metric::BandwidthMbps)
}

/// A scope an impact rule follows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum ScopeKey {
    Region(RegionId),
    Content(ContentId),
    Stream(ContentId, RegionId),
}

impl ScopeKey {
    fn kind(&self) -> ImpactScope {
        match self {
            Self::Region(_) => ImpactScope::Region,
            Self::Content(_) => ImpactScope::Content,
            Self::Stream(..) => ImpactScope::Stream,
        }
    }

    pub(super) fn group(&self, single: Option<Metric>) -> GroupKey {
        let (region, content) = match self {
            Self::Region(r) => (Some(r.clone()), None),
            Self::Content(c) => (None, Some(c.clone())),
            Self::Stream(c, r) => (Some(r.clone()), Some(c.clone())),
        };
        GroupKey { region, content, metric: single }
    }
}

/// One stream's baseline for one metric: a level, learned while it is
/// quiet, and for an audience (viewers, counts) a damped trend as well
/// (Holt's linear method on irregular time), so a ramp (an audience
/// arriving for a live event, a daily swing) is followed and only a
/// departure from the trajectory counts. Quality figures get no trend: a
/// trend fitted to their noise would only make the level wander.
#[derive(Debug, Clone, Copy, Default)]
struct Level {
    level: f64,
    /// Per millisecond.
    trend: f64,
    n: u32,
    first_ms: i64,
    last_ms: i64,
    /// Start of the current run in condition.
    raw_since: Option<i64>,
}

impl Level {
    fn warm(&self, now: i64) -> bool {
        self.n >= WARM && now - self.first_ms >= WARM_MS
    }

    /// What the value was expected to be at `t`.
    fn predict(&self, t: i64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let ahead = (t - self.last_ms).max(0) as f64;
        self.level + self.trend * TREND_HORIZON_MS * (1.0 - (-ahead / TREND_HORIZON_MS).exp())
    }

    fn learn(&mut self, t: i64, x: f64, half_life_ms: f64, trend: bool) {
        if !x.is_finite() {
            return;
        }
        if self.n == 0 {
            *self = Self { level: x, trend: 0.0, n: 1, first_ms: t, last_ms: t, raw_since: None };
            return;
        }
        let dt = (t - self.last_ms).max(1) as f64;
        let a = ewma_alpha(dt, half_life_ms).max(1.0 / f64::from(self.n + 1));
        let p = self.predict(t);
        let level = p + a * (x - p);
        if trend {
            // No fast start for the trend: a young series' steps are noise.
            let b = ewma_alpha(dt, half_life_ms * TREND_SLOWER);
            self.trend += b * ((level - self.level) / dt - self.trend);
        }
        self.level = level;
        self.last_ms = t;
        self.n = self.n.saturating_add(1);
    }
}

/// The usual size of a scope's deviation from its baseline for one metric
/// (a mean absolute deviation), learned while it is quiet.
#[derive(Debug, Clone, Copy, Default)]
struct Spread {
    mad: f64,
    n: u32,
    last_ms: i64,
}

impl Spread {
    fn warm(&self) -> bool {
        self.n >= WARM
    }

    /// Learns one deviation. While young it clips deviations to `clip`
    /// (the metric's floor): a scope that starts learning in the middle of
    /// an incident must not take the incident for its usual spread.
    fn learn(&mut self, t: i64, deviation: f64, half_life_ms: f64, clip: f64) {
        if !deviation.is_finite() {
            return;
        }
        let clip = if self.warm() { clip.max(4.0 * MAD_TO_SIGMA * self.mad) } else { clip };
        let deviation = deviation.abs().min(clip);
        let warmup = 1.0 / f64::from(self.n + 1);
        let a = ewma_alpha((t - self.last_ms).max(1) as f64, half_life_ms).max(warmup);
        self.mad += a * (deviation.abs() - self.mad);
        self.last_ms = t;
        self.n = self.n.saturating_add(1);
    }
}

/// One stream's baselines.
#[derive(Debug, Clone)]
struct StreamState {
    levels: Vec<Level>,
    seen_ms: i64,
}

/// One scope's state under one rule.
#[derive(Debug, Clone)]
struct ScopeState {
    spreads: Vec<Spread>,
    /// Audience the scope usually has: who a drop hurts.
    audience: Level,
    phase: SeriesState,
    /// When its alert last resolved.
    quiet_since: i64,
    seen_ms: i64,
    /// This tick: viewers, and per metric the figure and its baseline
    /// over the scope's warm streams.
    viewers: f64,
    values: Vec<f64>,
    baselines: Vec<f64>,
    /// Rows of this tick's samples in the scope.
    rows: Vec<usize>,
    /// Per metric: moved beyond its threshold (`raw`), still so once the
    /// other kind of scope is set aside (`kept`), and holding a firing
    /// alert (`holding`).
    raw: Vec<bool>,
    kept: Vec<bool>,
    holding: Vec<bool>,
}

impl ScopeState {
    fn new(metrics: usize) -> Self {
        Self {
            spreads: vec![Spread::default(); metrics],
            audience: Level::default(),
            phase: SeriesState::default(),
            quiet_since: i64::MIN / 2,
            seen_ms: i64::MIN,
            viewers: 0.0,
            values: vec![f64::NAN; metrics],
            baselines: vec![f64::NAN; metrics],
            rows: Vec::new(),
            raw: vec![false; metrics],
            kept: vec![false; metrics],
            holding: vec![false; metrics],
        }
    }
}

/// One stream's sample this tick.
#[derive(Debug, Clone)]
struct Obs {
    content: ContentId,
    region: RegionId,
    slot: u32,
    viewers: f64,
}

/// A scope pending or firing after a tick: what its alert shows.
#[derive(Debug, Clone)]
pub(super) struct ImpactGroup {
    pub(super) key: ScopeKey,
    pub(super) since: i64,
    pub(super) firing: bool,
    pub(super) shifts: Vec<MetricShift>,
    pub(super) impact: Impact,
    /// The scope's streams this tick, by slot, most viewers first.
    pub(super) streams: Vec<u32>,
}

/// An impact rule's state: this tick's samples, every stream's baselines
/// and every scope.
#[derive(Debug)]
pub(super) struct ImpactRun {
    cond: ImpactCondition,
    floors: Vec<Floor>,
    half_life_ms: f64,
    obs: Vec<Obs>,
    /// `obs.len() × metrics` values, row by row, and what each stream's
    /// baseline expected (NaN while it warms up).
    values: Vec<f64>,
    expected: Vec<f64>,
    streams: HashMap<(ContentId, RegionId), StreamState>,
    scopes: HashMap<ScopeKey, ScopeState>,
    /// Titles that went on air, not judged until then.
    grace: HashMap<ContentId, i64>,
}

/// A scope's figure and baseline for one metric over some of its rows.
#[derive(Debug, Clone, Copy)]
struct Figure {
    value: f64,
    baseline: f64,
}

impl Figure {
    const NONE: Figure = Figure { value: f64::NAN, baseline: f64::NAN };

    fn deviation(&self) -> f64 {
        self.value - self.baseline
    }
}

impl ImpactRun {
    pub(super) fn new(cond: ImpactCondition, floors: &Floors, half_life_ms: f64) -> Self {
        let floors = Self::floors_of(&cond, floors);
        Self {
            cond,
            floors,
            half_life_ms,
            obs: Vec::new(),
            values: Vec::new(),
            expected: Vec::new(),
            streams: HashMap::new(),
            scopes: HashMap::new(),
            grace: HashMap::new(),
        }
    }

    /// A title that goes on air is not judged for `on_air_grace`.
    pub(super) fn observe_change(&mut self, change: &crate::content::ContentChange) {
        if change.to == crate::content::ContentStatus::Live && self.cond.on_air_grace_ms > 0 {
            self.grace.insert(change.content_id.clone(), change.timestamp_ms + self.cond.on_air_grace_ms);
        }
    }

    pub(super) fn set_floors(&mut self, floors: &Floors) {
        self.floors = Self::floors_of(&self.cond, floors);
    }

    /// Each metric's floor, raised to the rule's `min_relative`.
    fn floors_of(cond: &ImpactCondition, floors: &Floors) -> Vec<Floor> {
        let raise = |f: Floor| Floor { relative: f.relative.max(cond.min_relative), ..f };
        cond.metrics.iter().map(|&(m, _)| raise(floors.get(m))).collect()
    }

    /// The one metric the rule watches, if it watches one (then part of
    /// its alerts' group key).
    pub(super) fn single_metric(&self) -> Option<Metric> {
        (self.cond.metrics.len() == 1).then(|| self.cond.metrics[0].0)
    }

    /// Takes one stream's sample for this tick.
    pub(super) fn observe(&mut self, slot: u32, s: &Sample) {
        self.obs.push(Obs {
            content: s.content_id.clone(),
            region: s.region.clone(),
            slot,
            viewers: f64::from(s.viewers),
        });
        for &(m, _) in &self.cond.metrics {
            self.values.push(s.get(m).unwrap_or(f64::NAN));
        }
    }

    /// Forgets every stream and scope of a title that stopped streaming.
    pub(super) fn forget_content(&mut self, content: &ContentId) {
        self.streams.retain(|(c, _), _| c != content);
        self.grace.remove(content);
        self.scopes.retain(|k, _| match k {
            ScopeKey::Content(c) | ScopeKey::Stream(c, _) => c != content,
            ScopeKey::Region(_) => true,
        });
    }

    /// Bytes of state held, roughly.
    pub(super) fn state_bytes(&self) -> usize {
        let m = self.cond.metrics.len();
        self.scopes.capacity() * (size_of::<(ScopeKey, ScopeState)>() + 1)
            + self.scopes.len() * m * (size_of::<Spread>() + 2 * size_of::<f64>() + 3)
            + self.streams.capacity() * (size_of::<((ContentId, RegionId), StreamState)>() + 1)
            + self.streams.len() * m * size_of::<Level>()
            + self.obs.capacity() * size_of::<Obs>()
            + (self.values.capacity() + self.expected.capacity()) * size_of::<f64>()
    }

    /// The figure of metric `k` over `rows` (indices into this tick's
    /// samples), leaving out rows `skip` selects and rows whose stream
    /// baseline is still warming up: a viewer-weighted mean (a sum for
    /// viewers and counts) of the values and of what their streams'
    /// baselines expected, so titles coming and going do not move it.
    fn figure(&self, k: usize, rows: &[usize], skip: &dyn Fn(usize) -> bool) -> (Figure, usize) {
        let m = self.cond.metrics.len();
        let (metric, _) = self.cond.metrics[k];
        let (mut x, mut p, mut w_sum, mut used) = (0.0, 0.0, 0.0, 0usize);
        for &i in rows {
            let (value, expected) = (self.values[i * m + k], self.expected[i * m + k]);
            if skip(i) || !value.is_finite() || !expected.is_finite() {
                continue;
            }
            used += 1;
            let w = if additive(metric) { 1.0 } else { self.obs[i].viewers };
            x += w * value;
            p += w * expected;
            w_sum += w;
        }
        if used == 0 || w_sum <= 0.0 {
            return (Figure::NONE, used);
        }
        let norm = if additive(metric) { 1.0 } else { w_sum };
        (Figure { value: x / norm, baseline: p / norm }, used)
    }

    /// How far metric `k`'s figure must move, the harmful way, to count,
    /// in a scope of `kind`.
    fn threshold(&self, k: usize, spread: &Spread, baseline: f64, kind: ImpactScope) -> f64 {
        let sensitivity = self.cond.sensitivity * if kind == ImpactScope::Stream { STREAM_STRICTER } else { 1.0 };
        (sensitivity * MAD_TO_SIGMA * spread.mad).max(self.floors[k].half_width(baseline))
    }

    /// Whether `f` moved the harmful way by `share` of its threshold (and,
    /// at full share, by its floor) in a scope of `kind`.
    fn moved(&self, k: usize, spread: &Spread, f: Figure, share: f64, kind: ImpactScope) -> bool {
        let (_, direction) = self.cond.metrics[k];
        let harm = match direction {
            Direction::Up => f.deviation(),
            Direction::Down => -f.deviation(),
        };
        spread.warm()
            && harm.is_finite()
            && harm > 0.0
            && harm >= share * self.threshold(k, spread, f.baseline, kind)
            && (share < 1.0 || self.floors[k].clears(f.baseline, f.value))
    }

    /// Judges every scope at `now` and advances their lifecycles; appends
    /// the scopes pending or firing to `out`, in key order.
    pub(super) fn evaluate(
        &mut self,
        now: i64,
        for_ms: i64,
        resolve_ms: i64,
        idle_ms: i64,
        out: &mut Vec<ImpactGroup>,
    ) {
        let m = self.cond.metrics.len();
        let half_life = self.half_life_ms;

        // What each stream's baseline expected now.
        self.expected.clear();
        for o in &self.obs {
            let st = self
                .streams
                .entry((o.content.clone(), o.region.clone()))
                .or_insert_with(|| StreamState { levels: vec![Level::default(); m], seen_ms: now });
            st.seen_ms = now;
            for level in &st.levels {
                self.expected.push(if level.warm(now) { level.predict(now) } else { f64::NAN });
            }
        }

        // The rows of each scope.
        let judged = |s: ImpactScope| self.cond.scopes.contains(&s);
        let mut regions: BTreeMap<RegionId, Vec<usize>> = BTreeMap::new();
        let mut titles: BTreeMap<ContentId, Vec<usize>> = BTreeMap::new();
        for (i, o) in self.obs.iter().enumerate() {
            regions.entry(o.region.clone()).or_default().push(i);
            titles.entry(o.content.clone()).or_default().push(i);
        }
        let mut scopes: Vec<(ScopeKey, Vec<usize>)> = Vec::new();
        if judged(ImpactScope::Region) {
            scopes.extend(regions.into_iter().map(|(r, v)| (ScopeKey::Region(r), v)));
        }
        if judged(ImpactScope::Content) {
            scopes.extend(titles.into_iter().map(|(c, v)| (ScopeKey::Content(c), v)));
        }
        if judged(ImpactScope::Stream) {
            scopes.extend(
                self.obs
                    .iter()
                    .enumerate()
                    .map(|(i, o)| (ScopeKey::Stream(o.content.clone(), o.region.clone()), vec![i])),
            );
        }

        // A title still learning what is usual for it counts in no
        // region's figures either: a fault of its own could not be told
        // from its region's.
        // Likewise a region still learning: a title's fault could not be
        // told from it.
        let titles_judged = self.cond.scopes.contains(&ImpactScope::Content);
        let regions_judged = self.cond.scopes.contains(&ImpactScope::Region);
        let unknown = |key: ScopeKey, judged: bool, k: usize| {
            judged && self.scopes.get(&key).is_none_or(|t| !t.spreads[k].warm())
        };
        let (mut young, mut young_region) =
            (Vec::with_capacity(self.obs.len() * m), Vec::with_capacity(self.obs.len() * m));
        for o in &self.obs {
            for k in 0..m {
                young.push(unknown(ScopeKey::Content(o.content.clone()), titles_judged, k));
                young_region.push(unknown(ScopeKey::Region(o.region.clone()), regions_judged, k));
            }
        }

        // 1. Each scope's figures, and which metrics moved.
        let none = |_: usize| false;
        self.grace.retain(|_, until| *until > now);
        for (key, rows) in scopes {
            let grace = match &key {
                ScopeKey::Content(c) | ScopeKey::Stream(c, _) => self.grace.contains_key(c),
                ScopeKey::Region(_) => false,
            };
            let mut st = self.scopes.remove(&key).unwrap_or_else(|| ScopeState::new(m));
            st.seen_ms = now;
            st.viewers = rows.iter().map(|&i| self.obs[i].viewers).sum();
            let audience = st.audience.predict(now).max(st.viewers);
            for k in 0..m {
                let is_young = |i: usize| young[i * m + k];
                let skip: &dyn Fn(usize) -> bool = if matches!(key, ScopeKey::Region(_)) { &is_young } else { &none };
                let (f, _) = self.figure(k, &rows, skip);
                st.values[k] = f.value;
                st.baselines[k] = f.baseline;
                st.raw[k] = !grace
                    && audience >= f64::from(self.cond.min_viewers)
                    && self.moved(k, &st.spreads[k], f, 1.0, key.kind());
            }
            st.rows = rows;
            self.scopes.insert(key, st);
        }

        // 2. Explaining away, per metric: a title without the regions in
        // condition, a region without the titles in condition; a stream
        // when neither its region nor its title is kept.
        let mut keys: Vec<ScopeKey> =
            self.scopes.iter().filter(|(_, s)| s.seen_ms == now).map(|(k, _)| k.clone()).collect();
        keys.sort_unstable();
        // A scope counts as in condition for explaining others while it
        // moved (`raw`), or while its alert holds it within three quarters
        // of its threshold; then, pass after pass, only while it is not
        // itself explained away (every region moves when one big title
        // fails: those regions must not then explain away a title hurt by
        // a region that really failed).
        let mut cond: HashMap<ScopeKey, Vec<bool>> = keys
            .iter()
            .filter(|k| !matches!(k, ScopeKey::Stream(..)))
            .map(|key| {
                let s = &self.scopes[key];
                let hot = (0..m)
                    .map(|k| {
                        let f = Figure { value: s.values[k], baseline: s.baselines[k] };
                        s.raw[k] || (s.phase.phase != Phase::Quiet && self.moved(k, &s.spreads[k], f, HOLD, key.kind()))
                    })
                    .collect();
                (key.clone(), hot)
            })
            .collect();
        let mut kept: HashMap<ScopeKey, Vec<bool>> = HashMap::new();
        for _pass in 0..3 {
            kept.clear();
            let in_cond = |key: &ScopeKey, k: usize| cond.get(key).is_some_and(|v| v[k]);
            for key in &keys {
                let st = &self.scopes[key];
                let mut keep = st.raw.clone();
                if !matches!(key, ScopeKey::Stream(..)) {
                    for k in (0..m).filter(|&k| st.raw[k]) {
                        let region = matches!(key, ScopeKey::Region(_));
                        let other = |i: usize| {
                            let o = &self.obs[i];
                            if region {
                                young[i * m + k] || in_cond(&ScopeKey::Content(o.content.clone()), k)
                            } else {
                                young_region[i * m + k] || in_cond(&ScopeKey::Region(o.region.clone()), k)
                            }
                        };
                        let is_young = |i: usize| region && young[i * m + k];
                        let (f, used) = self.figure(k, &st.rows, &other);
                        let (_, all) = self.figure(k, &st.rows, &is_young);
                        // A title none of whose regions is known yet cannot
                        // be told from them.
                        let unknown = !region && st.rows.iter().any(|&i| young_region[i * m + k]);
                        if (used == 0 && unknown)
                            || (used > 0 && used < all && !self.moved(k, &st.spreads[k], f, 1.0, key.kind()))
                        {
                            keep[k] = false;
                        }
                    }
                }
                kept.insert(key.clone(), keep);
            }
            let next: HashMap<ScopeKey, Vec<bool>> = cond
                .iter()
                .map(|(key, hot)| {
                    let st = &self.scopes[key];
                    let keep = &kept[key];
                    (key.clone(), (0..m).map(|k| keep[k] || (hot[k] && !st.raw[k])).collect())
                })
                .collect();
            if next == cond {
                break;
            }
            cond = next;
        }
        for key in &keys {
            let ScopeKey::Stream(c, r) = key else { continue };
            // Explained by its region or its title in condition, or whose
            // alert is on or ended moments ago: an incident draining away is
            // not a new one.
            let aftermath = |scope: &ScopeKey| {
                self.scopes
                    .get(scope)
                    .is_some_and(|s| s.phase.phase != Phase::Quiet || now - s.quiet_since < AFTERMATH_MS)
            };
            let (region, title) = (ScopeKey::Region(r.clone()), ScopeKey::Content(c.clone()));
            let settling = aftermath(&region) || aftermath(&title);
            let by = |scope: &ScopeKey, k: usize| kept.get(scope).is_some_and(|v| v[k]);
            let explained: Vec<bool> = (0..m).map(|k| settling || by(&region, k) || by(&title, k)).collect();
            let row = self.scopes[key].rows.first().copied();
            let keep = kept.get_mut(key).expect("every judged scope has an entry");
            for k in 0..m {
                let unknown = row.is_none_or(|i| young[i * m + k] || young_region[i * m + k]);
                keep[k] &= !explained[k] && !unknown;
            }
        }

        // 3. Lifecycles, and the scopes' spreads.
        for key in &keys {
            let keep = &kept[key];
            let mut st = self.scopes.remove(key).expect("listed above");
            st.kept.clone_from(keep);
            let firing = st.phase.phase == Phase::Firing;
            for (k, &kept) in keep.iter().enumerate() {
                let f = Figure { value: st.values[k], baseline: st.baselines[k] };
                let explained = st.raw[k] && !kept;
                st.holding[k] = kept || (firing && !explained && self.moved(k, &st.spreads[k], f, HOLD, key.kind()));
            }
            let violated = keep.iter().any(|&b| b);
            let cleared = !st.holding.iter().any(|&b| b);
            let was = st.phase.phase;
            st.phase.step(now, violated, cleared, for_ms, resolve_ms);
            if was == Phase::Firing && st.phase.phase == Phase::Quiet {
                st.quiet_since = now;
            }
            if st.phase.phase == Phase::Quiet {
                for k in (0..m).filter(|&k| !st.raw[k]) {
                    let clip = self.floors[k].half_width(st.baselines[k]);
                    st.spreads[k].learn(now, st.values[k] - st.baselines[k], half_life, clip);
                }
                st.audience.learn(now, st.viewers, half_life, true);
            }
            self.scopes.insert(key.clone(), st);
        }

        // 4. Each stream learns from its sample while every scope it is in
        // is quiet for that metric; one in condition for `relearn_after`
        // starts again from where it is.
        let quiet = |key: &ScopeKey, k: usize| {
            self.scopes.get(key).is_none_or(|s| s.seen_ms != now || (s.phase.phase == Phase::Quiet && !s.raw[k]))
        };
        let mut learn: Vec<bool> = Vec::with_capacity(self.obs.len() * m);
        for o in &self.obs {
            let (c, r) = (&o.content, &o.region);
            for k in 0..m {
                learn.push(
                    quiet(&ScopeKey::Stream(c.clone(), r.clone()), k)
                        && quiet(&ScopeKey::Region(r.clone()), k)
                        && quiet(&ScopeKey::Content(c.clone()), k),
                );
            }
        }
        for (i, o) in self.obs.iter().enumerate() {
            let Some(st) = self.streams.get_mut(&(o.content.clone(), o.region.clone())) else { continue };
            for (k, level) in st.levels.iter_mut().enumerate() {
                let x = self.values[i * m + k];
                let trend = additive(self.cond.metrics[k].0);
                if learn[i * m + k] {
                    level.raw_since = None;
                    level.learn(now, x, half_life, trend);
                } else {
                    let since = *level.raw_since.get_or_insert(now);
                    if now - since >= self.cond.relearn_ms {
                        // A change that lasted this long is the new normal.
                        *level = Level::default();
                        level.learn(now, x, half_life, trend);
                    }
                }
            }
        }

        // 5. Scopes and streams not seen this tick: scopes clear, and both
        // are forgotten once quiet for `idle_ms`.
        self.scopes.retain(|_, st| {
            if st.seen_ms != now {
                st.phase.step(now, false, true, for_ms, resolve_ms);
                st.rows.clear();
            }
            st.phase.phase != Phase::Quiet || now - st.seen_ms <= idle_ms
        });
        self.streams.retain(|_, st| now - st.seen_ms <= idle_ms);

        // 6. What the alerts show.
        let mut active: Vec<&ScopeKey> =
            self.scopes.iter().filter(|(_, s)| s.phase.phase != Phase::Quiet).map(|(k, _)| k).collect();
        active.sort_unstable();
        for key in active {
            let st = &self.scopes[key];
            let mut shifts: Vec<(f64, MetricShift)> = Vec::new();
            for (k, &(metric, direction)) in self.cond.metrics.iter().enumerate() {
                if !(st.holding[k] || st.kept[k]) || st.seen_ms != now {
                    continue;
                }
                let (value, baseline) = (st.values[k], st.baselines[k]);
                let audience = if metric == Metric::Viewers && direction == Direction::Down {
                    baseline.max(st.viewers)
                } else {
                    st.viewers
                };
                let score = audience * degradation(metric, direction, value, baseline);
                shifts.push((score, MetricShift { metric, value, baseline }));
            }
            shifts.sort_by(|a, b| b.0.total_cmp(&a.0));
            let (score, viewers, degradation) = match shifts.first() {
                Some((score, shift)) => {
                    let dir = self.cond.metrics.iter().find(|(m, _)| *m == shift.metric).map(|p| p.1);
                    let d = dir.map_or(0.0, |d| degradation(shift.metric, d, shift.value, shift.baseline));
                    (*score, if d > 0.0 { score / d } else { st.viewers }, d)
                }
                None => (0.0, st.viewers, 0.0),
            };
            let mut rows = st.rows.clone();
            rows.sort_by(|&a, &b| self.obs[b].viewers.total_cmp(&self.obs[a].viewers));
            out.push(ImpactGroup {
                key: key.clone(),
                since: st.phase.since,
                firing: st.phase.phase == Phase::Firing,
                shifts: shifts.into_iter().map(|(_, s)| s).collect(),
                impact: Impact { viewers: viewers.round().max(0.0) as u64, degradation, score },
                streams: rows.iter().map(|&i| self.obs[i].slot).collect(),
            });
        }
        self.obs.clear();
        self.values.clear();
    }
}
