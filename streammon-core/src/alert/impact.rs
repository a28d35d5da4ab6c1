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

use std::collections::HashMap;

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

/// One scope's state under one rule.
#[derive(Debug, Clone)]
struct ScopeState {
    key: ScopeKey,
    /// A stream's baselines, one per metric (empty for a region or a
    /// title).
    levels: Vec<Level>,
    /// A stream's title and region scopes.
    parents: (u32, u32),
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
    fn new(key: ScopeKey, metrics: usize) -> Self {
        let levels = if matches!(key, ScopeKey::Stream(..)) { vec![Level::default(); metrics] } else { Vec::new() };
        Self {
            key,
            levels,
            parents: (u32::MAX, u32::MAX),
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
    /// Its stream, title and region scopes (indices into the slab), once
    /// resolved.
    stream: u32,
    title: u32,
    region_scope: u32,
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
    /// Every scope (stream, title, region) seen in the last `series_idle`
    /// or still alerting: a slab, with each scope's index by key, and the
    /// free entries. A stream's baselines live in its scope's entry.
    scopes: Vec<Option<ScopeState>>,
    index: HashMap<ScopeKey, u32>,
    free: Vec<u32>,
    /// The scopes of the stream in each of the engine's slots, as last
    /// resolved: checked against the sample, so a slot taken by another
    /// stream resolves again.
    by_slot: Vec<[u32; 3]>,
    /// Titles that went on air, not judged until then.
    grace: HashMap<ContentId, i64>,
}

/// The figure of metric `k` (of `m`) over `rows` (indices into this
/// tick's samples), leaving out rows `skip` selects and rows whose stream
/// baseline is still warming up: a viewer-weighted mean (a sum for viewers
/// and counts) of the values and of what their streams' baselines
/// expected, so titles coming and going do not move it.
fn figure(
    obs: &[Obs],
    values: &[f64],
    expected: &[f64],
    (metric, k, m): (Metric, usize, usize),
    rows: &[usize],
    skip: impl Fn(usize) -> bool,
) -> (Figure, usize) {
    let (mut x, mut p, mut w_sum, mut used) = (0.0, 0.0, 0.0, 0usize);
    let sum = additive(metric);
    for &i in rows {
        let (value, expected) = (values[i * m + k], expected[i * m + k]);
        if !value.is_finite() || !expected.is_finite() || skip(i) {
            continue;
        }
        used += 1;
        let w = if sum { 1.0 } else { obs[i].viewers };
        x += w * value;
        p += w * expected;
        w_sum += w;
    }
    if used == 0 || w_sum <= 0.0 {
        return (Figure::NONE, used);
    }
    let norm = if sum { 1.0 } else { w_sum };
    (Figure { value: x / norm, baseline: p / norm }, used)
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

/// An impact rule's condition and floors: what counts as moved.
#[derive(Debug, Clone, Copy)]
struct Judge<'a> {
    cond: &'a ImpactCondition,
    floors: &'a [Floor],
}

impl Judge<'_> {
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
            scopes: Vec::new(),
            index: HashMap::new(),
            free: Vec::new(),
            by_slot: Vec::new(),
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
            stream: u32::MAX,
            title: u32::MAX,
            region_scope: u32::MAX,
        });
        for &(m, _) in &self.cond.metrics {
            self.values.push(s.get(m).unwrap_or(f64::NAN));
        }
    }

    /// Forgets every stream and scope of a title that stopped streaming.
    pub(super) fn forget_content(&mut self, content: &ContentId) {
        self.grace.remove(content);
        let gone: Vec<u32> = self
            .index
            .iter()
            .filter(|(k, _)| matches!(k, ScopeKey::Content(c) | ScopeKey::Stream(c, _) if c == content))
            .map(|(_, &id)| id)
            .collect();
        for id in gone {
            self.release(id);
        }
    }

    /// Bytes of state held, roughly.
    pub(super) fn state_bytes(&self) -> usize {
        let m = self.cond.metrics.len();
        let per_scope = |st: &ScopeState| {
            st.levels.capacity() * size_of::<Level>()
                + st.spreads.capacity() * size_of::<Spread>()
                + (st.values.capacity() + st.baselines.capacity()) * size_of::<f64>()
                + st.rows.capacity() * size_of::<usize>()
                + 3 * m
        };
        self.scopes.capacity() * size_of::<Option<ScopeState>>()
            + self.scopes.iter().flatten().map(per_scope).sum::<usize>()
            + self.index.capacity() * (size_of::<(ScopeKey, u32)>() + 1)
            + self.by_slot.capacity() * size_of::<[u32; 3]>()
            + self.obs.capacity() * size_of::<Obs>()
            + (self.values.capacity() + self.expected.capacity()) * size_of::<f64>()
    }

    /// The scope of `key`, created if new.
    fn intern(&mut self, key: ScopeKey) -> u32 {
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let st = ScopeState::new(key.clone(), self.cond.metrics.len());
        let id = match self.free.pop() {
            Some(id) => {
                self.scopes[id as usize] = Some(st);
                id
            }
            None => {
                self.scopes.push(Some(st));
                (self.scopes.len() - 1) as u32
            }
        };
        self.index.insert(key, id);
        id
    }

    /// Forgets scope `id`.
    fn release(&mut self, id: u32) {
        if let Some(st) = self.scopes[id as usize].take() {
            self.index.remove(&st.key);
            self.free.push(id);
        }
    }

    fn scope(&self, id: u32) -> &ScopeState {
        self.scopes[id as usize].as_ref().expect("a live scope")
    }

    fn scope_mut(&mut self, id: u32) -> &mut ScopeState {
        self.scopes[id as usize].as_mut().expect("a live scope")
    }

    /// Whether scope `id` is the stream (`c`, `r`), its title or its
    /// region, as `which` (0, 1, 2) says.
    fn is_scope_of(&self, id: u32, which: usize, c: &ContentId, r: &RegionId) -> bool {
        let Some(Some(st)) = self.scopes.get(id as usize) else { return false };
        match (&st.key, which) {
            (ScopeKey::Stream(sc, sr), 0) => sc == c && sr == r,
            (ScopeKey::Content(sc), 1) => sc == c,
            (ScopeKey::Region(sr), 2) => sr == r,
            _ => false,
        }
    }

    /// Resolves each sample's stream, title and region scopes, from the
    /// slot cache when it still holds.
    fn resolve(&mut self) {
        for i in 0..self.obs.len() {
            let (slot, c, r) = {
                let o = &self.obs[i];
                (o.slot as usize, o.content.clone(), o.region.clone())
            };
            if self.by_slot.len() <= slot {
                self.by_slot.resize(slot + 1, [u32::MAX; 3]);
            }
            let mut ids = self.by_slot[slot];
            if !(0..3).all(|w| self.is_scope_of(ids[w], w, &c, &r)) {
                ids = [
                    self.intern(ScopeKey::Stream(c.clone(), r.clone())),
                    self.intern(ScopeKey::Content(c)),
                    self.intern(ScopeKey::Region(r)),
                ];
                self.by_slot[slot] = ids;
            }
            self.scope_mut(ids[0]).parents = (ids[1], ids[2]);
            let o = &mut self.obs[i];
            (o.stream, o.title, o.region_scope) = (ids[0], ids[1], ids[2]);
        }
    }

    /// The rule's thresholds, borrowed apart from its state.
    fn judge(&self) -> Judge<'_> {
        Judge { cond: &self.cond, floors: &self.floors }
    }

    fn moved(&self, k: usize, spread: &Spread, f: Figure, share: f64, kind: ImpactScope) -> bool {
        self.judge().moved(k, spread, f, share, kind)
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
        self.resolve();

        // What each stream's baseline expected now, and the rows of each
        // scope this tick.
        self.expected.clear();
        let mut touched: Vec<u32> = Vec::new();
        for i in 0..self.obs.len() {
            let ids = [self.obs[i].stream, self.obs[i].title, self.obs[i].region_scope];
            for id in ids {
                let st = self.scopes[id as usize].as_mut().expect("resolved");
                if st.seen_ms != now {
                    st.seen_ms = now;
                    st.rows.clear();
                    touched.push(id);
                }
                st.rows.push(i);
            }
            let st = self.scopes[ids[0] as usize].as_ref().expect("resolved");
            self.expected.extend(st.levels.iter().map(|l| if l.warm(now) { l.predict(now) } else { f64::NAN }));
        }
        let judged = |id: u32, scopes: &[Option<ScopeState>], cond: &ImpactCondition| {
            scopes[id as usize].as_ref().is_some_and(|st| cond.scopes.contains(&st.key.kind()))
        };
        // The scopes judged this tick.
        let mut keys: Vec<u32> = touched.iter().copied().filter(|&id| judged(id, &self.scopes, &self.cond)).collect();
        keys.sort_unstable();

        // A title still learning what is usual for it counts in no
        // region's figures either: a fault of its own could not be told
        // from its region's.
        // Likewise a region still learning: a title's fault could not be
        // told from it.
        let titles_judged = self.cond.scopes.contains(&ImpactScope::Content);
        let regions_judged = self.cond.scopes.contains(&ImpactScope::Region);
        let (mut young, mut young_region) =
            (Vec::with_capacity(self.obs.len() * m), Vec::with_capacity(self.obs.len() * m));
        for o in &self.obs {
            let (title, region) = (self.scope(o.title), self.scope(o.region_scope));
            for k in 0..m {
                young.push(titles_judged && !title.spreads[k].warm());
                young_region.push(regions_judged && !region.spreads[k].warm());
            }
        }

        // 1. Each scope's figures, and which metrics moved.
        self.grace.retain(|_, until| *until > now);
        let judge = Judge { cond: &self.cond, floors: &self.floors };
        for &id in &keys {
            let st = self.scopes[id as usize].as_mut().expect("judged");
            let grace = match &st.key {
                ScopeKey::Content(c) | ScopeKey::Stream(c, _) => self.grace.contains_key(c),
                ScopeKey::Region(_) => false,
            };
            st.viewers = st.rows.iter().map(|&i| self.obs[i].viewers).sum();
            let audience = st.audience.predict(now).max(st.viewers);
            let region = matches!(st.key, ScopeKey::Region(_));
            let kind = st.key.kind();
            for k in 0..m {
                let metric = judge.cond.metrics[k].0;
                let skip = |i: usize| region && young[i * m + k];
                let (f, _) = figure(&self.obs, &self.values, &self.expected, (metric, k, m), &st.rows, skip);
                st.values[k] = f.value;
                st.baselines[k] = f.baseline;
                st.raw[k] = !grace
                    && audience >= f64::from(judge.cond.min_viewers)
                    && judge.moved(k, &st.spreads[k], f, 1.0, kind);
            }
        }

        // 2. Explaining away, per metric: a title without the regions in
        // condition, a region without the titles in condition; a stream
        // when neither its region nor its title is kept.
        // A scope counts as in condition for explaining others while it
        // moved (`raw`), or while its alert holds it within three quarters
        // of its threshold; then, pass after pass, only while it is not
        // itself explained away (every region moves when one big title
        // fails: those regions must not then explain away a title hurt by
        // a region that really failed).
        let n = self.scopes.len();
        let stream = |id: u32, scopes: &[Option<ScopeState>]| {
            matches!(scopes[id as usize].as_ref().map(|s| &s.key), Some(ScopeKey::Stream(..)))
        };
        let wide: Vec<u32> = keys.iter().copied().filter(|&id| !stream(id, &self.scopes)).collect();
        let mut hot = vec![false; n * m];
        for &id in &wide {
            let s = self.scope(id);
            for k in 0..m {
                let f = Figure { value: s.values[k], baseline: s.baselines[k] };
                hot[id as usize * m + k] =
                    s.raw[k] || (s.phase.phase != Phase::Quiet && self.moved(k, &s.spreads[k], f, HOLD, s.key.kind()));
            }
        }
        let mut cond = hot.clone();
        let mut kept = vec![false; n * m];
        for _pass in 0..3 {
            kept.fill(false);
            for &id in &keys {
                let st = self.scope(id);
                let base = id as usize * m;
                kept[base..base + m].copy_from_slice(&st.raw);
                if matches!(st.key, ScopeKey::Stream(..)) {
                    continue;
                }
                let region = matches!(st.key, ScopeKey::Region(_));
                for k in (0..m).filter(|&k| st.raw[k]) {
                    let metric = self.cond.metrics[k].0;
                    let other = |i: usize| {
                        let o = &self.obs[i];
                        if region {
                            young[i * m + k] || cond[o.title as usize * m + k]
                        } else {
                            young_region[i * m + k] || cond[o.region_scope as usize * m + k]
                        }
                    };
                    let is_young = |i: usize| region && young[i * m + k];
                    let spec = (metric, k, m);
                    let (f, used) = figure(&self.obs, &self.values, &self.expected, spec, &st.rows, other);
                    let (_, all) = figure(&self.obs, &self.values, &self.expected, spec, &st.rows, is_young);
                    // A title none of whose regions is known yet cannot
                    // be told from them.
                    let unknown = !region && st.rows.iter().any(|&i| young_region[i * m + k]);
                    if (used == 0 && unknown)
                        || (used > 0 && used < all && !self.moved(k, &st.spreads[k], f, 1.0, st.key.kind()))
                    {
                        kept[base + k] = false;
                    }
                }
            }
            let mut changed = false;
            for &id in &wide {
                let st = self.scope(id);
                let base = id as usize * m;
                for k in 0..m {
                    let next = kept[base + k] || (hot[base + k] && !st.raw[k]);
                    changed |= next != cond[base + k];
                    cond[base + k] = next;
                }
            }
            if !changed {
                break;
            }
        }
        for &id in &keys {
            let st = self.scope(id);
            if !matches!(st.key, ScopeKey::Stream(..)) {
                continue;
            }
            // Explained by its region or its title in condition, or whose
            // alert is on or ended moments ago: an incident draining away is
            // not a new one.
            let (title, region) = st.parents;
            let aftermath = |scope: u32| {
                let s = self.scope(scope);
                s.phase.phase != Phase::Quiet || now - s.quiet_since < AFTERMATH_MS
            };
            let settling = aftermath(region) || aftermath(title);
            let row = st.rows.first().copied();
            let base = id as usize * m;
            for k in 0..m {
                let explained = settling || kept[region as usize * m + k] || kept[title as usize * m + k];
                let unknown = row.is_none_or(|i| young[i * m + k] || young_region[i * m + k]);
                kept[base + k] &= !explained && !unknown;
            }
        }

        // 3. Lifecycles, and the scopes' spreads.
        let judge = Judge { cond: &self.cond, floors: &self.floors };
        for &id in &keys {
            let st = self.scopes[id as usize].as_mut().expect("judged");
            let base = id as usize * m;
            st.kept.copy_from_slice(&kept[base..base + m]);
            let firing = st.phase.phase == Phase::Firing;
            for k in 0..m {
                let f = Figure { value: st.values[k], baseline: st.baselines[k] };
                let explained = st.raw[k] && !st.kept[k];
                st.holding[k] =
                    st.kept[k] || (firing && !explained && judge.moved(k, &st.spreads[k], f, HOLD, st.key.kind()));
            }
            let violated = st.kept.iter().any(|&b| b);
            let cleared = !st.holding.iter().any(|&b| b);
            let was = st.phase.phase;
            st.phase.step(now, violated, cleared, for_ms, resolve_ms);
            if was == Phase::Firing && st.phase.phase == Phase::Quiet {
                st.quiet_since = now;
            }
            if st.phase.phase == Phase::Quiet {
                for k in (0..m).filter(|&k| !st.raw[k]) {
                    let clip = judge.floors[k].half_width(st.baselines[k]);
                    st.spreads[k].learn(now, st.values[k] - st.baselines[k], half_life, clip);
                }
                st.audience.learn(now, st.viewers, half_life, true);
            }
        }

        // 4. Each stream learns from its sample while every scope it is in
        // is quiet for that metric; one in condition for `relearn_after`
        // starts again from where it is. (Scopes not judged stay quiet.)
        let mut learn = vec![false; m];
        for i in 0..self.obs.len() {
            let ids = [self.obs[i].stream, self.obs[i].title, self.obs[i].region_scope];
            for (k, learn) in learn.iter_mut().enumerate() {
                *learn = ids.iter().all(|&id| {
                    let s = self.scope(id);
                    s.phase.phase == Phase::Quiet && !s.raw[k]
                });
            }
            let st = self.scopes[ids[0] as usize].as_mut().expect("resolved");
            for (k, level) in st.levels.iter_mut().enumerate() {
                let x = self.values[i * m + k];
                let trend = additive(self.cond.metrics[k].0);
                if learn[k] {
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

        // 5. Scopes not seen this tick clear, and are forgotten once quiet
        // for `idle_ms`.
        let mut gone = Vec::new();
        for (id, slot) in self.scopes.iter_mut().enumerate() {
            let Some(st) = slot.as_mut() else { continue };
            if st.seen_ms != now {
                if self.cond.scopes.contains(&st.key.kind()) {
                    st.phase.step(now, false, true, for_ms, resolve_ms);
                }
                st.rows.clear();
            }
            if st.phase.phase == Phase::Quiet && now - st.seen_ms > idle_ms {
                gone.push(id as u32);
            }
        }
        for id in gone {
            self.release(id);
        }

        // 6. What the alerts show.
        let mut active: Vec<&ScopeState> =
            self.scopes.iter().flatten().filter(|s| s.phase.phase != Phase::Quiet).collect();
        active.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        for st in active {
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
                key: st.key.clone(),
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
