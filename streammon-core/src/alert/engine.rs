//! The engine: follows every stream against every rule, groups the series
//! in condition into alerts, and reports their lifecycle.
//!
//! # Memory
//! The engine follows at most `max_series` streams (title × region); a
//! stream not seen for `series_idle` is forgotten, as is every stream of a
//! title whose [`ContentChange`] says it stopped streaming. Per stream it
//! holds one slot (about 80 bytes with its index entry) and, per rule, one
//! 56-byte series state, plus a 184-byte checkpoint window per
//! rate-of-change rule (vectors grow by doubling, so up to twice that). Anomaly rules hold state only for series currently
//! in condition, and alerts list at most `sample_series` series each, so
//! memory is O(`max_series` × rules) and does not grow with time;
//! [`EngineStats::state_bytes`] reports it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::config::AlertConfig;
use super::impact::{ImpactGroup, ImpactRun};
use super::rule::{AlertRule, Condition};
use super::state::{Phase, RateWindow, SeriesState, ewma_alpha};
use super::table::Table;
use super::{Alert, AlertEvent, AlertEventKind, AlertState, GroupKey};
use crate::content::ContentChange;
use crate::detect::Anomaly;
use crate::error::Result;
use crate::id::{ContentId, RegionId};
use crate::sample::{Metric, Sample};
use crate::significance::Floors;

/// A series under one rule: its stream's slot and, for rules that watch
/// several metrics, which one.
pub(super) type Member = (u32, Option<Metric>);

/// One rule and the state of its series.
#[derive(Debug)]
pub(super) struct RuleRun {
    pub(super) rule: AlertRule,
    /// By slot, for every rule but anomaly rules.
    pub(super) by_slot: Vec<SeriesState>,
    /// By slot, for rate-of-change rules only.
    pub(super) windows: Vec<RateWindow>,
    /// Anomaly rules: series in condition only.
    pub(super) keyed: HashMap<(u32, Metric), SeriesState>,
    /// Series not Quiet, in order, so evaluation skips the quiet majority.
    pub(super) hot: BTreeSet<Member>,
    /// Impact rules: their scopes.
    pub(super) impact: Option<ImpactRun>,
}

impl RuleRun {
    pub(super) fn state(&self, (slot, metric): Member) -> Option<&SeriesState> {
        match (&self.rule.condition, metric) {
            (Condition::Anomaly { .. }, Some(m)) => self.keyed.get(&(slot, m)),
            _ => self.by_slot.get(slot as usize),
        }
    }

    pub(super) fn state_mut(&mut self, (slot, metric): Member) -> Option<&mut SeriesState> {
        match (&self.rule.condition, metric) {
            (Condition::Anomaly { .. }, Some(m)) => self.keyed.get_mut(&(slot, m)),
            _ => self.by_slot.get_mut(slot as usize),
        }
    }

    fn grow(&mut self, slots: usize) {
        if !matches!(self.rule.condition, Condition::Anomaly { .. }) && self.by_slot.len() < slots {
            self.by_slot.resize(slots, SeriesState::default());
        }
        if matches!(self.rule.condition, Condition::Rate { .. }) && self.windows.len() < slots {
            self.windows.resize(slots, RateWindow::default());
        }
    }

    fn observe_sample(&mut self, id: u32, s: &Sample, alpha: f64, floors: &Floors) {
        let Self { rule, by_slot, windows, hot, .. } = self;
        let (t, i) = (s.timestamp_ms, id as usize);
        // A value counts against a rule only once it moved materially from
        // where the series usually is (its baseline, or the reference of a
        // rate rule), the way the rule looks: so an alert fires on impact,
        // not on a level the series always had.
        let material = |metric: Metric, above: bool, from: f64, x: f64| {
            let moved = if above { x > from } else { x < from };
            from.is_nan() || (moved && floors.get(metric).clears(from, x))
        };
        let (metric, violated, cleared, x) = match &rule.condition {
            Condition::Threshold { metric, bound, min_viewers } => {
                let Some(x) = s.get(*metric).filter(|x| !x.is_nan()) else { return };
                // A thin sample is no evidence either way: it cannot raise an
                // alert, nor clear one whose audience fled.
                let thick = s.viewers >= *min_viewers;
                let violated = thick && bound.violated(x) && material(*metric, bound.above, by_slot[i].baseline, x);
                (*metric, violated, thick && bound.cleared(x), x)
            }
            Condition::Rate { metric, bound, min_viewers, per_ms, relative } => {
                let Some(x) = s.get(*metric).filter(|x| !x.is_nan()) else { return };
                let (change, from) = match windows[i].push(t, x, s.viewers, *per_ms) {
                    Some((r, viewers)) if viewers >= *min_viewers && !*relative => (x - r, r),
                    Some((r, viewers)) if viewers >= *min_viewers && r.abs() > f64::EPSILON => ((x - r) / r.abs(), r),
                    _ => (f64::NAN, f64::NAN),
                };
                let known = !change.is_nan();
                let violated = known && bound.violated(change) && material(*metric, bound.above, from, x);
                (*metric, violated, !known || bound.cleared(change), x)
            }
            Condition::Absence { .. } => {
                let st = &mut by_slot[i];
                if st.phase != Phase::Quiet {
                    st.step(t, false, true, rule.for_ms, rule.resolve_ms);
                }
                return;
            }
            Condition::Anomaly { .. } => return,
            Condition::Impact(_) => {
                if let Some(impact) = self.impact.as_mut() {
                    impact.observe(id, s);
                }
                return;
            }
        };
        let st = &mut by_slot[i];
        st.value = x;
        st.step(t, violated, cleared, rule.for_ms, rule.resolve_ms);
        if st.phase == Phase::Quiet {
            st.learn(x, alpha);
        }
        mark_hot(st, hot, (id, Some(metric)));
    }
}

pub(super) fn mark_hot(st: &mut SeriesState, hot: &mut BTreeSet<Member>, member: Member) {
    if st.phase != Phase::Quiet && !st.hot {
        st.hot = true;
        hot.insert(member);
    }
}

/// Counters and sizes, for the process's own metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Streams (title × region) followed now.
    pub series: usize,
    /// Series (under any rule) that are pending or firing now.
    pub hot_series: usize,
    /// Alerts pending or firing now.
    pub alerts: usize,
    /// Observations dropped because `max_series` streams were followed.
    pub dropped: u64,
    /// Approximate bytes of state held, heap included.
    pub state_bytes: usize,
}

/// Evaluates alert rules over samples and anomalies. See the
/// [module docs](super).
///
/// ```
/// use streammon_core::alert::{AlertConfig, AlertEngine, RuleConfig, RuleKind};
/// use streammon_core::{Metric, SimConfig, Simulator, Span};
///
/// let rule = RuleConfig {
///     metric: Some(Metric::BufferingRatio),
///     above: Some(0.5),
///     for_duration: Span::from_secs(30),
///     ..RuleConfig::new("buffering", RuleKind::Threshold)
/// };
/// let mut engine = AlertEngine::new(&AlertConfig { rules: vec![rule], ..AlertConfig::default() })?;
/// let mut sim = Simulator::new(SimConfig::default())?;
/// let (mut frame, mut events) = (Default::default(), Vec::new());
/// for _ in 0..120 {
///     sim.step(&mut frame);
///     frame.samples.iter().for_each(|s| engine.observe_sample(s));
///     engine.evaluate(frame.timestamp_ms, &mut events);
/// }
/// assert!(events.is_empty(), "a healthy service does not buffer half the time");
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug)]
pub struct AlertEngine {
    pub(super) rules: Vec<RuleRun>,
    pub(super) table: Table,
    pub(super) alerts: BTreeMap<(usize, GroupKey), Alert>,
    pub(super) next_id: u64,
    idle_ms: i64,
    max_series: usize,
    pub(super) sample_series: usize,
    half_life_ms: f64,
    pub(super) min_support: usize,
    /// The EWMA weight for the last sample interval seen.
    alpha: (u32, f64),
    pub(super) floors: Floors,
    pub(super) impact_warning: f64,
    pub(super) impact_critical: f64,
    pub(super) min_impact: f64,
    /// The streams (table slots) of each impact alert's scope this tick,
    /// most viewers first: the titles it stands for.
    pub(super) impact_streams: HashMap<(usize, GroupKey), Vec<u32>>,
    dropped: u64,
    last_sweep: i64,
}

impl AlertEngine {
    /// Builds an engine after validating `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) naming the
    /// first offending field, e.g. `rules[2].for_duration`.
    pub fn new(config: &AlertConfig) -> Result<Self> {
        let rules = config.build_rules()?;
        let floors = Floors::default();
        let half_life = config.impact_half_life.as_millis() as f64;
        Ok(Self {
            rules: rules
                .into_iter()
                .map(|rule| RuleRun {
                    impact: match &rule.condition {
                        Condition::Impact(c) => Some(ImpactRun::new((**c).clone(), &floors, half_life)),
                        _ => None,
                    },
                    rule,
                    by_slot: Vec::new(),
                    windows: Vec::new(),
                    keyed: HashMap::new(),
                    hot: BTreeSet::new(),
                })
                .collect(),
            table: Table::default(),
            alerts: BTreeMap::new(),
            next_id: 0,
            idle_ms: config.series_idle.as_millis() as i64,
            max_series: config.max_series,
            sample_series: config.sample_series,
            half_life_ms: config.baseline_half_life.as_millis() as f64,
            min_support: config.min_support,
            alpha: (0, 0.0),
            floors,
            impact_warning: config.impact_warning,
            impact_critical: config.impact_critical,
            min_impact: config.min_impact,
            impact_streams: HashMap::new(),
            dropped: 0,
            last_sweep: i64::MIN,
        })
    }

    /// Sets the practical-significance floors (default
    /// [`Floors::default`]): impact rules judge moves against them, and
    /// an alert of any other value rule fires only once its series moved
    /// materially from their baseline.
    pub fn with_floors(mut self, floors: Floors) -> Self {
        for run in &mut self.rules {
            if let Some(impact) = run.impact.as_mut() {
                impact.set_floors(&floors);
            }
        }
        self.floors = floors;
        self
    }

    /// The validated rules, in configuration order.
    pub fn rules(&self) -> impl Iterator<Item = &AlertRule> + '_ {
        self.rules.iter().map(|r| &r.rule)
    }

    /// Feeds one sample to every rule. Constant time per rule; allocates
    /// only when a new stream appears.
    pub fn observe_sample(&mut self, sample: &Sample) {
        let Some((id, new)) =
            self.table.touch(&sample.content_id, &sample.region, sample.timestamp_ms, self.max_series)
        else {
            self.dropped += 1;
            return;
        };
        self.table.describe(id, sample.content_type, sample.rendition, sample.viewers);
        if new {
            let slots = self.table.capacity();
            self.rules.iter_mut().for_each(|r| r.grow(slots));
        }
        if self.alpha.0 != sample.interval_ms {
            self.alpha = (sample.interval_ms, ewma_alpha(f64::from(sample.interval_ms), self.half_life_ms));
        }
        let alpha = self.alpha.1;
        let floors = &self.floors;
        for run in &mut self.rules {
            run.observe_sample(id, sample, alpha, floors);
        }
    }

    /// Feeds one detector anomaly to the anomaly-score rules.
    pub fn observe_anomaly(&mut self, anomaly: &Anomaly) {
        let key = &anomaly.series;
        let Some((id, new)) = self.table.touch(&key.content, &key.region, anomaly.timestamp_ms, self.max_series) else {
            self.dropped += 1;
            return;
        };
        self.table.set_viewers(id, anomaly.viewers);
        if new {
            let slots = self.table.capacity();
            self.rules.iter_mut().for_each(|r| r.grow(slots));
        }
        for run in &mut self.rules {
            let Condition::Anomaly { min_score, metrics, .. } = &run.rule.condition else { continue };
            if anomaly.score < *min_score || !(metrics.is_empty() || metrics.contains(&key.metric)) {
                continue;
            }
            let st = run.keyed.entry((id, key.metric)).or_default();
            st.value = anomaly.value;
            st.baseline = anomaly.expected.map_or(f64::NAN, |b| (b.low + b.high) / 2.0);
            st.last_ms = st.last_ms.max(anomaly.timestamp_ms);
            st.step(anomaly.timestamp_ms, true, false, run.rule.for_ms, run.rule.resolve_ms);
            mark_hot(st, &mut run.hot, (id, Some(key.metric)));
        }
    }

    /// Forgets every stream of a title that stopped streaming (retired,
    /// ended), so absence rules do not mistake it for an outage.
    pub fn observe_change(&mut self, change: &ContentChange) {
        for run in &mut self.rules {
            if let Some(impact) = run.impact.as_mut() {
                impact.observe_change(change);
            }
        }
        if !change.to.is_streaming() {
            let ids: Vec<u32> = self.table.slots_of(&change.content_id).iter().map(|&(_, id)| id).collect();
            self.evict(&ids);
            for run in &mut self.rules {
                if let Some(impact) = run.impact.as_mut() {
                    impact.forget_content(&change.content_id);
                }
            }
        }
    }

    /// Advances time-based conditions to `now_ms` and appends every
    /// lifecycle transition since the last call to `out`: resolutions
    /// first, then new firings, each in rule then group order.
    pub fn evaluate(&mut self, now_ms: i64, out: &mut Vec<AlertEvent>) {
        self.sweep(now_ms);
        self.advance_time(now_ms);
        let scopes = self.judge_impact(now_ms);
        let groups = self.group();
        let (mut resolved, mut fired) = self.reconcile(now_ms, &groups);
        let (more_resolved, more_fired) = self.reconcile_impact(now_ms, &scopes);
        resolved.extend(more_resolved);
        fired.extend(more_fired);
        resolved.sort_by(|a, b| a.0.cmp(&b.0));
        fired.sort();
        self.explain(&groups);
        for (_, alert) in resolved {
            out.push(AlertEvent { kind: AlertEventKind::Resolved, timestamp_ms: now_ms, alert });
        }
        for key in fired {
            let alert = self.alerts[&key].clone();
            out.push(AlertEvent { kind: AlertEventKind::Fired, timestamp_ms: now_ms, alert });
        }
    }

    /// Numbers the next alerts after the highest id among `alerts` (a
    /// previous run's, read back from storage), so ids stay unique across
    /// restarts and an acknowledgement never lands on a newer alert.
    pub fn continue_ids_after<'a>(&mut self, alerts: impl IntoIterator<Item = &'a Alert>) {
        let highest = alerts.into_iter().filter_map(|a| a.id.strip_prefix("alrt-")?.parse::<u64>().ok()).max();
        self.next_id = self.next_id.max(highest.unwrap_or(0));
    }

    /// Carries on the alerts a previous run left pending or firing: each
    /// that this engine also holds (same rule, same group), once warmed up
    /// on the history, takes back its id and start, and, when it fires
    /// here too, its firing time (a firing alert is not announced twice).
    /// One held only pending keeps its id and fires under it. Returns the
    /// others, resolved at `now_ms`: they no longer stand, and whoever was
    /// told they fired should hear that they resolved.
    pub fn adopt(&mut self, previous: &[Alert], now_ms: i64) -> Vec<AlertEvent> {
        let mut ended = Vec::new();
        for prev in previous.iter().filter(|a| a.state != AlertState::Resolved) {
            let held = self.alerts.values_mut().find(|a| a.rule == prev.rule && a.group == prev.group);
            match held {
                Some(alert) => {
                    alert.id.clone_from(&prev.id);
                    alert.started_ms = alert.started_ms.min(prev.started_ms);
                    if alert.state == AlertState::Firing {
                        alert.fired_ms = prev.fired_ms.or(alert.fired_ms);
                    }
                }
                None => {
                    let mut alert = prev.clone();
                    let was_firing = alert.state == AlertState::Firing;
                    alert.state = AlertState::Resolved;
                    alert.resolved_ms = Some(now_ms);
                    if was_firing {
                        ended.push(AlertEvent { kind: AlertEventKind::Resolved, timestamp_ms: now_ms, alert });
                    }
                }
            }
        }
        ended
    }

    /// Alerts pending or firing now, in rule then group order.
    pub fn active(&self) -> impl Iterator<Item = &Alert> + '_ {
        self.alerts.values()
    }

    /// The titles an active alert stands for: every title with a series
    /// in the alert's group in condition now, where [`Alert::series`]
    /// lists only a sample of them. In [`active`](Self::active)'s order;
    /// titles in id order.
    ///
    /// ```
    /// use streammon_core::{AlertConfig, AlertEngine, SimConfig, Simulator};
    /// let mut config = SimConfig { seed: 2, ..SimConfig::default() };
    /// // After the impact rules' five minutes of learning.
    /// config.incidents.scripted.push("cdn_degradation:eu-west@7m+20m*1".parse()?);
    /// let mut engine = AlertEngine::new(&AlertConfig::default())?;
    /// let mut events = Vec::new();
    /// for frame in Simulator::new(config)?.take(720) {
    ///     for c in &frame.changes {
    ///         engine.observe_change(c);
    ///     }
    ///     for s in &frame.samples {
    ///         engine.observe_sample(s);
    ///     }
    ///     engine.evaluate(frame.timestamp_ms, &mut events);
    /// }
    /// let (alert, titles) = engine.alert_titles().find(|(a, _)| a.series_count > a.series.len()).expect("a wide alert");
    /// assert!(titles.len() > alert.series.len(), "every title, not the sample");
    /// assert!(alert.series.iter().all(|s| titles.contains(&&s.content)));
    /// # Ok::<(), streammon_core::Error>(())
    /// ```
    pub fn alert_titles(&self) -> impl Iterator<Item = (&Alert, Vec<&ContentId>)> + '_ {
        // One pass over each rule's series in condition (not one per
        // alert): the titles of each group.
        type Group<'a> = (usize, Option<&'a RegionId>, Option<Metric>);
        let mut groups: HashMap<Group<'_>, BTreeSet<&ContentId>> = HashMap::new();
        let wanted: BTreeSet<usize> =
            self.alerts.keys().filter(|(_, k)| k.content.is_none()).map(|(r, _)| *r).collect();
        for &r in &wanted {
            let run = &self.rules[r];
            for &member in &run.hot {
                let (Some(st), Some(slot)) = (run.state(member), self.table.get(member.0)) else { continue };
                if st.phase == Phase::Quiet {
                    continue;
                }
                let key =
                    (r, run.rule.by_region.then_some(&slot.region), if run.rule.by_metric { member.1 } else { None });
                groups.entry(key).or_default().insert(&slot.content);
            }
        }
        let out: Vec<(&Alert, Vec<&ContentId>)> = self
            .alerts
            .iter()
            .map(|(id @ (r, key), alert)| match &key.content {
                Some(content) => (alert, vec![content]),
                None if self.rules[*r].impact.is_some() => {
                    let titles: BTreeSet<&ContentId> = self
                        .impact_streams
                        .get(id)
                        .into_iter()
                        .flatten()
                        .filter_map(|&slot| self.table.get(slot))
                        .map(|s| &s.content)
                        .collect();
                    (alert, titles.into_iter().collect())
                }
                None => {
                    let group = (*r, key.region.as_ref(), key.metric);
                    (alert, groups.get(&group).map(|t| t.iter().copied().collect()).unwrap_or_default())
                }
            })
            .collect();
        out.into_iter()
    }

    /// Runs every impact rule over this tick's samples: the scopes pending
    /// or firing, by rule index.
    fn judge_impact(&mut self, now: i64) -> Vec<(usize, ImpactGroup)> {
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        let idle = self.idle_ms;
        for (r, run) in self.rules.iter_mut().enumerate() {
            let Some(impact) = run.impact.as_mut() else { continue };
            scratch.clear();
            impact.evaluate(now, run.rule.for_ms, run.rule.resolve_ms, idle, &mut scratch);
            out.extend(scratch.drain(..).map(|g| (r, g)));
        }
        out
    }

    /// Counters and sizes.
    pub fn stats(&self) -> EngineStats {
        let rule_bytes: usize = self
            .rules
            .iter()
            .map(|r| {
                r.by_slot.capacity() * size_of::<SeriesState>()
                    + r.windows.capacity() * size_of::<RateWindow>()
                    + r.keyed.capacity() * (size_of::<((u32, Metric), SeriesState)>() + 1)
                    + r.hot.len() * 2 * size_of::<Member>()
                    + r.impact.as_ref().map_or(0, ImpactRun::state_bytes)
            })
            .sum();
        EngineStats {
            series: self.table.len(),
            hot_series: self.rules.iter().map(|r| r.hot.len()).sum(),
            alerts: self.alerts.len(),
            dropped: self.dropped,
            state_bytes: self.table.heap_bytes() + rule_bytes,
        }
    }

    /// Forgets streams idle for longer than `series_idle`; the scan runs
    /// at most four times per `series_idle`.
    fn sweep(&mut self, now: i64) {
        if now.saturating_sub(self.last_sweep) < self.idle_ms / 4 {
            return;
        }
        self.last_sweep = now;
        let stale: Vec<u32> =
            self.table.iter().filter(|(_, s)| now - s.last_seen > self.idle_ms).map(|(id, _)| id).collect();
        self.evict(&stale);
    }

    fn evict(&mut self, ids: &[u32]) {
        if ids.is_empty() {
            return;
        }
        let gone: BTreeSet<u32> = ids.iter().copied().collect();
        for &id in ids {
            self.table.remove(id);
        }
        for run in &mut self.rules {
            for &id in ids {
                if let Some(st) = run.by_slot.get_mut(id as usize) {
                    *st = SeriesState::default();
                }
                if let Some(w) = run.windows.get_mut(id as usize) {
                    *w = RateWindow::default();
                }
            }
            run.keyed.retain(|(slot, _), _| !gone.contains(slot));
            run.hot.retain(|(slot, _)| !gone.contains(slot));
        }
    }
}
