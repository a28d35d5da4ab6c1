//! Evaluation: advancing time-based conditions, grouping the series in
//! condition into alerts, moving alerts through their lifecycle, and
//! explaining them.

use std::collections::{BTreeMap, BTreeSet};

use super::cause::{self, CauseDimension, Level};
use super::engine::{AlertEngine, Member, mark_hot};
use super::rule::Condition;
use super::state::Phase;
use super::{AbsenceScope, Alert, AlertSeries, AlertState, GroupKey, metric_label};
use crate::sample::Metric;

impl AlertEngine {
    /// Absence and anomaly conditions change with time, not samples.
    pub(super) fn advance_time(&mut self, now: i64) {
        let Self { rules, table, .. } = self;
        for run in rules.iter_mut() {
            let (for_ms, resolve_ms) = (run.rule.for_ms, run.rule.resolve_ms);
            match run.rule.condition {
                Condition::Absence { after_ms, scope } => {
                    for (id, slot) in table.iter() {
                        let last = match scope {
                            AbsenceScope::Series => slot.last_seen,
                            AbsenceScope::Title => table
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
    pub(super) fn group(&mut self) -> BTreeMap<(usize, GroupKey), Group> {
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
    pub(super) fn reconcile(
        &mut self,
        now: i64,
        groups: &BTreeMap<(usize, GroupKey), Group>,
    ) -> (Vec<Alert>, Vec<GroupId>) {
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
    pub(super) fn explain(&mut self, groups: &BTreeMap<(usize, GroupKey), Group>) {
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
            if let Some(region) = &key.1.region
                && !places.iter().any(|p| p.0 == CauseDimension::Region)
            {
                places.push((CauseDimension::Region, region.as_str()));
            }
            if let Some(content) = &key.1.content
                && !places.iter().any(|p| p.0 == CauseDimension::Content)
            {
                places.push((CauseDimension::Content, content.as_str()));
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
pub(super) type GroupId = (usize, GroupKey);

/// The series of one (rule, group) in condition now, with their value and
/// baseline.
#[derive(Debug, Default)]
pub(super) struct Group {
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
