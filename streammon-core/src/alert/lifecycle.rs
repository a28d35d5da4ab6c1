//! Evaluation: advancing time-based conditions, grouping the series in
//! condition into alerts, moving alerts through their lifecycle, and
//! explaining them.

use std::collections::{BTreeMap, BTreeSet};

use super::cause::{self, Cause, CauseDimension, Level};
use super::engine::{AlertEngine, Member, mark_hot};
use super::impact::{ImpactGroup, ScopeKey, degradation};
use super::rule::{Condition, Direction};
use super::state::Phase;
use super::{AbsenceScope, Alert, AlertSeries, AlertState, GroupKey, Impact, Severity, metric_label};
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
                Condition::Threshold { .. } | Condition::Rate { .. } | Condition::Impact(_) => {}
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

    /// The severity of an alert of rule `r` with `impact`.
    fn severity_of(&self, r: usize, impact: Option<&Impact>) -> Severity {
        self.rules[r].rule.severity.unwrap_or(match impact {
            Some(i) if i.score >= self.impact_critical => Severity::Critical,
            Some(i) if i.score >= self.impact_warning => Severity::Warning,
            Some(_) => Severity::Info,
            None => Severity::Warning,
        })
    }

    /// A new pending alert of rule `r` for `group`, with the next id.
    fn open(&mut self, r: usize, group: GroupKey, since: i64) -> Alert {
        self.next_id += 1;
        Alert {
            id: format!("alrt-{:06}", self.next_id),
            rule: self.rules[r].rule.name.clone(),
            severity: self.severity_of(r, None),
            state: AlertState::Pending,
            started_ms: since,
            fired_ms: None,
            resolved_ms: None,
            group,
            series_count: 0,
            series: Vec::new(),
            value: None,
            baseline: None,
            cause: None,
            impact: None,
            metrics: Vec::new(),
            summary: String::new(),
        }
    }

    /// Ends the alerts of rules `which` selects whose group is gone (or
    /// no longer firing): the firing ones resolve, pending ones are dropped.
    fn close_gone(
        &mut self,
        now: i64,
        which: impl Fn(usize) -> bool,
        present: impl Fn(&GroupId) -> Option<bool>,
    ) -> Vec<(GroupId, Alert)> {
        let ended: Vec<GroupId> = self
            .alerts
            .iter()
            .filter(|(key, _)| which(key.0))
            .filter(|(key, alert)| match present(key) {
                None => true,
                Some(firing) => alert.state == AlertState::Firing && !firing,
            })
            .map(|(key, _)| key.clone())
            .collect();
        let mut resolved = Vec::new();
        for key in ended {
            let mut alert = self.alerts.remove(&key).expect("listed above");
            if alert.state == AlertState::Firing {
                alert.state = AlertState::Resolved;
                alert.resolved_ms = Some(now);
                resolved.push((key, alert));
            }
        }
        resolved
    }

    /// Moves the alerts of every rule but impact rules through their
    /// lifecycle; returns the resolved alerts and the keys of those that
    /// fired.
    pub(super) fn reconcile(
        &mut self,
        now: i64,
        groups: &BTreeMap<(usize, GroupKey), Group>,
    ) -> (Vec<(GroupId, Alert)>, Vec<GroupId>) {
        let impact_rules: Vec<bool> = self.rules.iter().map(|r| r.impact.is_some()).collect();
        let resolved = self.close_gone(now, |r| !impact_rules[r], |key| groups.get(key).map(|g| !g.firing.is_empty()));
        let mut fired = Vec::new();
        for (key, group) in groups {
            if !self.alerts.contains_key(key) {
                let alert = self.open(key.0, key.1.clone(), group.since);
                self.alerts.insert(key.clone(), alert);
            }
            let members = group.members();
            let impact = self.group_impact(key, members);
            let material = impact.as_ref().is_none_or(|i| i.score >= self.min_impact);
            let severity = self.severity_of(key.0, impact.as_ref());
            let alert = self.alerts.get_mut(key).expect("inserted above");
            alert.started_ms = alert.started_ms.min(group.since);
            alert.impact = impact;
            alert.severity = severity;
            // An alert fires on impact, not on noise: its series moved
            // materially (each series' condition says so) and together hurt
            // enough viewers.
            if !group.firing.is_empty() && alert.state == AlertState::Pending && material {
                alert.state = AlertState::Firing;
                alert.fired_ms = Some(now);
                fired.push(key.clone());
            }
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

    /// Which way a value rule's metric hurts, for a member's `metric`.
    fn direction(&self, r: usize, metric: Option<Metric>) -> Option<Direction> {
        match &self.rules[r].rule.condition {
            Condition::Threshold { bound, .. } | Condition::Rate { bound, .. } => {
                Some(if bound.above { Direction::Up } else { Direction::Down })
            }
            Condition::Anomaly { .. } => metric.map(Direction::harmful),
            Condition::Absence { .. } | Condition::Impact(_) => None,
        }
    }

    /// Viewers of a group's series × how much worse off they are.
    fn group_impact(&self, key: &GroupId, members: &[(Member, f64, f64)]) -> Option<Impact> {
        let (mut viewers, mut score, mut any) = (0.0, 0.0, false);
        for &((slot, metric), value, baseline) in members {
            let (Some(m), Some(dir)) = (metric.or(self.rules[key.0].rule.metric()), self.direction(key.0, metric))
            else {
                continue;
            };
            let v = self.table.get(slot).map_or(0.0, |s| f64::from(s.viewers));
            viewers += v;
            if baseline.is_finite() {
                any = true;
                score += v * degradation(m, dir, value, baseline);
            }
        }
        any.then(|| Impact {
            viewers: viewers.round() as u64,
            degradation: if viewers > 0.0 { score / viewers } else { 0.0 },
            score,
        })
    }

    /// Moves the alerts of impact rules through their lifecycle, from the
    /// scopes pending or firing this tick.
    pub(super) fn reconcile_impact(
        &mut self,
        now: i64,
        scopes: &[(usize, ImpactGroup)],
    ) -> (Vec<(GroupId, Alert)>, Vec<GroupId>) {
        let keyed: BTreeMap<GroupId, &ImpactGroup> = scopes
            .iter()
            .map(|(r, g)| {
                let single = self.rules[*r].impact.as_ref().and_then(|i| i.single_metric());
                ((*r, g.key.group(single)), g)
            })
            .collect();
        let impact_rules: Vec<bool> = self.rules.iter().map(|r| r.impact.is_some()).collect();
        let resolved = self.close_gone(now, |r| impact_rules[r], |key| keyed.get(key).map(|g| g.firing));
        let mut fired = Vec::new();
        let total = self.table.len().max(1) as f64;
        self.impact_streams.clear();
        for (key, g) in keyed {
            self.impact_streams.insert(key.clone(), g.streams.clone());
            if !self.alerts.contains_key(&key) {
                let alert = self.open(key.0, key.1.clone(), g.since);
                self.alerts.insert(key.clone(), alert);
            }
            let severity = self.severity_of(key.0, Some(&g.impact));
            let series: Vec<AlertSeries> = g
                .streams
                .iter()
                .filter_map(|&slot| self.table.get(slot))
                .take(self.sample_series)
                .map(|s| AlertSeries {
                    content: s.content.clone(),
                    region: s.region.clone(),
                    metric: g.shifts.first().map(|m| m.metric),
                })
                .collect();
            let (dimension, value, share) = match &g.key {
                ScopeKey::Region(r) => {
                    (CauseDimension::Region, r.as_str(), self.table.by_region.get(r).copied().unwrap_or(0))
                }
                ScopeKey::Content(c) | ScopeKey::Stream(c, _) => {
                    (CauseDimension::Content, c.as_str(), self.table.slots_of(c).len() as u32)
                }
            };
            let base_share = (f64::from(share.max(1)) / total).min(1.0);
            let cause = Cause {
                dimension,
                value: value.to_owned(),
                support: g.streams.len(),
                coverage: 1.0,
                base_share,
                lift: 1.0 / base_share,
                score: -base_share.ln(),
            };
            let alert = self.alerts.get_mut(&key).expect("inserted above");
            if g.firing && alert.state == AlertState::Pending && g.impact.score >= self.min_impact {
                alert.state = AlertState::Firing;
                alert.fired_ms = Some(now);
                fired.push(key.clone());
            }
            alert.started_ms = alert.started_ms.min(g.since);
            alert.severity = severity;
            alert.series_count = g.streams.len();
            alert.series = series;
            alert.value = g.shifts.first().map(|m| m.value);
            alert.baseline = g.shifts.first().map(|m| m.baseline);
            alert.metrics.clone_from(&g.shifts);
            alert.impact = Some(g.impact);
            alert.cause = Some(cause);
            alert.summary = cause::impact_summary(&g.key, &g.shifts, &g.impact, g.streams.len(), alert.started_ms);
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
                        metric,
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
