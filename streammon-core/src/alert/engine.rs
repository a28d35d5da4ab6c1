//! The engine: follows every stream against every rule, groups the series
//! in condition into alerts, and reports their lifecycle.
//!
//! # Memory
//! The engine follows at most `max_series` streams (title × region); a
//! stream not seen for `series_idle` is forgotten, as is every stream of a
//! title whose [`ContentChange`] says it stopped streaming. Per stream it
//! holds one slot (about 80 bytes with its index entry) and, per rule, one
//! [`SeriesState`] (56 bytes), plus a 180-byte checkpoint window per
//! rate-of-change rule. Anomaly rules hold state only for series currently
//! in condition, and alerts list at most `sample_series` series each, so
//! memory is O(`max_series` × rules) and does not grow with time;
//! [`EngineStats::state_bytes`] reports it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::cause::{self, CauseDimension, Level};
use super::config::AlertConfig;
use super::rule::{AlertRule, Condition};
use super::state::{Phase, RateWindow, SeriesState, ewma_alpha};
use super::table::Table;
use super::{Alert, AlertEvent, AlertEventKind, AlertSeries, AlertState, GroupKey, metric_label};
use crate::content::ContentChange;
use crate::detect::Anomaly;
use crate::error::Result;
use crate::sample::{Metric, Sample};

/// A series under one rule: its stream's slot and, for rules that watch
/// several metrics, which one.
type Member = (u32, Option<Metric>);

/// One rule and the state of its series.
#[derive(Debug)]
struct RuleRun {
    rule: AlertRule,
    /// By slot, for every rule but anomaly rules.
    by_slot: Vec<SeriesState>,
    /// By slot, for rate-of-change rules only.
    windows: Vec<RateWindow>,
    /// Anomaly rules: series in condition only.
    keyed: HashMap<(u32, Metric), SeriesState>,
    /// Series not Quiet, in order, so evaluation skips the quiet majority.
    hot: BTreeSet<Member>,
}

impl RuleRun {
    fn state(&self, (slot, metric): Member) -> Option<&SeriesState> {
        match (&self.rule.condition, metric) {
            (Condition::Anomaly { .. }, Some(m)) => self.keyed.get(&(slot, m)),
            _ => self.by_slot.get(slot as usize),
        }
    }

    fn state_mut(&mut self, (slot, metric): Member) -> Option<&mut SeriesState> {
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

    fn observe_sample(&mut self, id: u32, s: &Sample, alpha: f64) {
        let Self { rule, by_slot, windows, hot, .. } = self;
        let (t, i) = (s.timestamp_ms, id as usize);
        let (metric, violated, cleared, x) = match &rule.condition {
            Condition::Threshold { metric, bound, min_viewers } => {
                let Some(x) = s.get(*metric).filter(|x| !x.is_nan()) else { return };
                // A thin sample is no evidence either way: it cannot raise an
                // alert, nor clear one whose audience fled.
                let thick = s.viewers >= *min_viewers;
                (*metric, thick && bound.violated(x), thick && bound.cleared(x), x)
            }
            Condition::Rate { metric, bound, min_viewers, per_ms, relative } => {
                let Some(x) = s.get(*metric).filter(|x| !x.is_nan()) else { return };
                let change = match windows[i].push(t, x, s.viewers, *per_ms) {
                    Some((r, viewers)) if viewers >= *min_viewers && !*relative => x - r,
                    Some((r, viewers)) if viewers >= *min_viewers && r.abs() > f64::EPSILON => (x - r) / r.abs(),
                    _ => f64::NAN,
                };
                let known = !change.is_nan();
                (*metric, known && bound.violated(change), !known || bound.cleared(change), x)
            }
            Condition::Absence { .. } => {
                let st = &mut by_slot[i];
                if st.phase != Phase::Quiet {
                    st.step(t, false, true, rule.for_ms, rule.resolve_ms);
                }
                return;
            }
            Condition::Anomaly { .. } => return,
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

fn mark_hot(st: &mut SeriesState, hot: &mut BTreeSet<Member>, member: Member) {
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
    rules: Vec<RuleRun>,
    table: Table,
    alerts: BTreeMap<(usize, GroupKey), Alert>,
    next_id: u64,
    idle_ms: i64,
    max_series: usize,
    sample_series: usize,
    half_life_ms: f64,
    min_support: usize,
    /// The EWMA weight for the last sample interval seen.
    alpha: (u32, f64),
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
        Ok(Self {
            rules: rules
                .into_iter()
                .map(|rule| RuleRun {
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
            dropped: 0,
            last_sweep: i64::MIN,
        })
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
        self.table.describe(id, sample.content_type, sample.rendition);
        if new {
            let slots = self.table.capacity();
            self.rules.iter_mut().for_each(|r| r.grow(slots));
        }
        if self.alpha.0 != sample.interval_ms {
            self.alpha = (sample.interval_ms, ewma_alpha(f64::from(sample.interval_ms), self.half_life_ms));
        }
        let alpha = self.alpha.1;
        for run in &mut self.rules {
            run.observe_sample(id, sample, alpha);
        }
    }

    /// Feeds one detector anomaly to the anomaly-score rules.
    pub fn observe_anomaly(&mut self, anomaly: &Anomaly) {
        let key = &anomaly.series;
        let Some((id, new)) = self.table.touch(&key.content, &key.region, anomaly.timestamp_ms, self.max_series) else {
            self.dropped += 1;
            return;
        };
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
        if !change.to.is_streaming() {
            let ids: Vec<u32> = self.table.slots_of(&change.content_id).iter().map(|&(_, id)| id).collect();
            self.evict(&ids);
        }
    }

    /// Advances time-based conditions to `now_ms` and appends every
    /// lifecycle transition since the last call to `out`: resolutions
    /// first, then new firings, each in rule then group order.
    pub fn evaluate(&mut self, now_ms: i64, out: &mut Vec<AlertEvent>) {
        self.sweep(now_ms);
        self.advance_time(now_ms);
        let groups = self.group();
        let (resolved, fired) = self.reconcile(now_ms, &groups);
        self.explain(&groups);
        for alert in resolved {
            out.push(AlertEvent { kind: AlertEventKind::Resolved, timestamp_ms: now_ms, alert });
        }
        for key in fired {
            let alert = self.alerts[&key].clone();
            out.push(AlertEvent { kind: AlertEventKind::Fired, timestamp_ms: now_ms, alert });
        }
    }

    /// Alerts pending or firing now, in rule then group order.
    pub fn active(&self) -> impl Iterator<Item = &Alert> + '_ {
        self.alerts.values()
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

    /// Absence and anomaly conditions change with time, not samples.
    fn advance_time(&mut self, now: i64) {
        let Self { rules, table, .. } = self;
        for run in rules.iter_mut() {
            let (for_ms, resolve_ms) = (run.rule.for_ms, run.rule.resolve_ms);
            match run.rule.condition {
                Condition::Absence { after_ms, scope } => {
                    for (id, slot) in table.iter() {
                        let last = match scope {
                            super::AbsenceScope::Series => slot.last_seen,
                            super::AbsenceScope::Title => table
                                .slots_of(&slot.content)
                                .iter()
                                .filter_map(|&(_, j)| table.get(j))
                                .map(|s| s.last_seen)
                                .max()
                                .unwrap_or(slot.last_seen),
                        };
                        if now - last >= after_ms {
                            let st = &mut run.by_slot[id as usize];
                            st.step(last + after_ms, true, false, for_ms, resolve_ms);
                            st.step(now, true, false, for_ms, resolve_ms);
                            mark_hot(st, &mut run.hot, (id, None));
                        }
                    }
                }
                Condition::Anomaly { max_gap_ms, .. } => {
                    for (slot, metric) in run.hot.clone() {
                        let Some(st) = metric.and_then(|m| run.keyed.get_mut(&(slot, m))) else { continue };
                        if now - st.last_ms > max_gap_ms {
                            st.step(st.last_ms + max_gap_ms, false, true, for_ms, resolve_ms);
                            st.step(now, false, true, for_ms, resolve_ms);
                        }
                    }
                }
                Condition::Threshold { .. } | Condition::Rate { .. } => {}
            }
        }
    }

    /// Gathers the series in condition by (rule, group), dropping series
    /// that went quiet from the hot sets.
    fn group(&mut self) -> BTreeMap<(usize, GroupKey), Group> {
        let mut groups: BTreeMap<(usize, GroupKey), Group> = BTreeMap::new();
        for (r, run) in self.rules.iter_mut().enumerate() {
            let mut cold = Vec::new();
            for &member in &run.hot {
                let (Some(st), Some(slot)) = (run.state(member), self.table.get(member.0)) else {
                    cold.push(member);
                    continue;
                };
                if st.phase == Phase::Quiet {
                    cold.push(member);
                    continue;
                }
                let rule = &run.rule;
                let key = GroupKey {
                    region: rule.by_region.then(|| slot.region.clone()),
                    content: rule.by_content.then(|| slot.content.clone()),
                    metric: if rule.by_metric { member.1 } else { None },
                };
                let group = groups.entry((r, key)).or_insert_with(|| Group { since: i64::MAX, ..Group::default() });
                group.since = group.since.min(st.since);
                let list = if st.phase == Phase::Firing { &mut group.firing } else { &mut group.pending };
                list.push((member, st.value, st.baseline));
            }
            for member in cold {
                run.hot.remove(&member);
                if let Some(st) = run.state_mut(member) {
                    st.hot = false;
                }
                if let (Condition::Anomaly { .. }, Some(m)) = (&run.rule.condition, member.1) {
                    run.keyed.remove(&(member.0, m));
                }
            }
        }
        groups
    }

    /// Moves alerts through their lifecycle; returns the resolved alerts
    /// and the keys of those that fired.
    fn reconcile(&mut self, now: i64, groups: &BTreeMap<(usize, GroupKey), Group>) -> (Vec<Alert>, Vec<GroupId>) {
        let mut resolved = Vec::new();
        let ended: Vec<GroupId> = self
            .alerts
            .iter()
            .filter(|(key, alert)| match groups.get(*key) {
                None => true,
                Some(group) => alert.state == AlertState::Firing && group.firing.is_empty(),
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in ended {
            let mut alert = self.alerts.remove(&key).expect("listed above");
            if alert.state == AlertState::Firing {
                alert.state = AlertState::Resolved;
                alert.resolved_ms = Some(now);
                resolved.push(alert);
            }
        }
        let mut fired = Vec::new();
        for (key, group) in groups {
            if !self.alerts.contains_key(key) {
                self.next_id += 1;
                let alert = Alert {
                    id: format!("alrt-{:06}", self.next_id),
                    rule: self.rules[key.0].rule.name.clone(),
                    severity: self.rules[key.0].rule.severity,
                    state: AlertState::Pending,
                    started_ms: group.since,
                    fired_ms: None,
                    resolved_ms: None,
                    group: key.1.clone(),
                    series_count: 0,
                    series: Vec::new(),
                    value: None,
                    baseline: None,
                    cause: None,
                    summary: String::new(),
                };
                self.alerts.insert(key.clone(), alert);
            }
            let alert = self.alerts.get_mut(key).expect("inserted above");
            alert.started_ms = alert.started_ms.min(group.since);
            if !group.firing.is_empty() && alert.state == AlertState::Pending {
                alert.state = AlertState::Firing;
                alert.fired_ms = Some(now);
                fired.push(key.clone());
            }
            let members = group.members();
            alert.series_count = members.len();
            alert.value = mean(members.iter().map(|m| m.1));
            alert.baseline = mean(members.iter().map(|m| m.2));
            let mut series: Vec<AlertSeries> = members
                .iter()
                .filter_map(|&((slot, metric), ..)| {
                    let s = self.table.get(slot)?;
                    Some(AlertSeries { content: s.content.clone(), region: s.region.clone(), metric })
                })
                .collect();
            series.sort_unstable();
            series.truncate(self.sample_series);
            alert.series = series;
        }
        (resolved, fired)
    }

    /// Sets each alert's root-cause hint and summary.
    fn explain(&mut self, groups: &BTreeMap<(usize, GroupKey), Group>) {
        let streams: BTreeMap<&GroupId, Vec<u32>> = groups
            .iter()
            .map(|(key, group)| {
                let mut ids: Vec<u32> = group.members().iter().map(|&((slot, _), ..)| slot).collect();
                ids.sort_unstable();
                ids.dedup();
                (key, ids)
            })
            .collect();
        let mut everywhere: Vec<u32> = streams
            .iter()
            .filter(|(key, _)| !groups[**key].firing.is_empty())
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        everywhere.sort_unstable();
        everywhere.dedup();
        let shared = cause::best_cause(&everywhere, &self.table, self.min_support);
        for (key, alert) in &mut self.alerts {
            let Some(ids) = streams.get(key) else { continue };
            alert.cause = cause::best_cause(ids, &self.table, self.min_support)
                .or_else(|| shared.clone().filter(|c| cause::explains(c, ids, &self.table)));
            let rule = &self.rules[key.0].rule;
            let mut places: Vec<(CauseDimension, &str)> = Vec::new();
            if let Some(c) = &alert.cause {
                places.push((c.dimension, &c.value));
            }
            if let Some(region) = &key.1.region {
                if !places.iter().any(|p| p.0 == CauseDimension::Region) {
                    places.push((CauseDimension::Region, region.as_str()));
                }
            }
            if let Some(content) = &key.1.content {
                if !places.iter().any(|p| p.0 == CauseDimension::Content) {
                    places.push((CauseDimension::Content, content.as_str()));
                }
            }
            let level = match rule.condition {
                Condition::Absence { after_ms, .. } => Level::Absent { after_ms },
                _ => {
                    let metric = key.1.metric.or(rule.metric()).or_else(|| single_metric(&groups[key]));
                    Level::Value {
                        label: metric.map_or("anomalous value", metric_label),
                        value: alert.value.unwrap_or(f64::NAN),
                        baseline: alert.baseline.unwrap_or(f64::NAN),
                    }
                }
            };
            let slots = ids.iter().filter_map(|&id| self.table.get(id));
            let titles: BTreeSet<&str> = slots.clone().map(|s| s.content.as_str()).collect();
            let regions: BTreeSet<&str> = slots.map(|s| s.region.as_str()).collect();
            alert.summary = cause::summary(level, &places, titles.len(), regions.len(), alert.started_ms);
        }
    }
}

/// An alert's identity: rule index and group key.
type GroupId = (usize, GroupKey);

/// The series of one (rule, group) in condition now, with their value and
/// baseline.
#[derive(Debug, Default)]
struct Group {
    since: i64,
    firing: Vec<(Member, f64, f64)>,
    pending: Vec<(Member, f64, f64)>,
}

impl Group {
    /// The series an alert reports: the firing ones once any fire.
    fn members(&self) -> &[(Member, f64, f64)] {
        if self.firing.is_empty() { &self.pending } else { &self.firing }
    }
}

fn single_metric(group: &Group) -> Option<Metric> {
    let mut metrics = group.members().iter().filter_map(|m| m.0.1);
    let first = metrics.next()?;
    metrics.all(|m| m == first).then_some(first)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.filter(|v| v.is_finite()).fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}
