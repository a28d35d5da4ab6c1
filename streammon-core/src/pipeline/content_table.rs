//! The table of titles behind `GET /content`: status from the source's
//! changes, figures from the latest tick, health from the alerts that fire
//! for a title (never from single anomalies: a point is context, not an
//! alarm).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::summary::{Quality, TickSummary};
use crate::alert::{Alert, AlertState, CauseDimension, Severity};
use crate::content::{ContentChange, ContentStatus, ContentType, Genre};
use crate::detect::Anomaly;
use crate::id::ContentId;

/// How a title is doing, at a glance.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No alert fires for it.
    #[default]
    Healthy,
    /// An `info` or `warning` alert fires for it.
    Degraded,
    /// A critical alert fires for it.
    Critical,
}
/// How long a title that stopped streaming stays in the table, milliseconds.
const KEEP_STOPPED_MS: i64 = 10 * 60 * 1_000;

/// One title: a row of `GET /content`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentRow {
    /// The title's id.
    pub content_id: ContentId,
    /// Display title; the id until the source names it.
    pub title: String,
    /// Content type.
    pub content_type: ContentType,
    /// Genre, when the source said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<Genre>,
    /// Current status.
    pub status: ContentStatus,
    /// When it entered that status, epoch ms.
    pub status_since_ms: i64,
    /// Last tick it streamed in, epoch ms.
    pub last_seen_ms: i64,
    /// Its figures over every region in its last tick; zero viewers and
    /// streams once it stopped reporting.
    #[serde(flatten)]
    pub quality: Quality,
    /// The rendition most of its viewers were on in its last tick, e.g.
    /// `1080p` (a resolution) or `128k` (audio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendition: Option<crate::content::RenditionId>,
    /// At a glance.
    pub health: Health,
    /// Why it is not healthy: the summary of its worst firing alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_reason: Option<String>,
    /// Firing alerts that name this title: grouped by it, or naming it
    /// as their cause.
    pub firing_alerts: u32,
    /// Its latest material anomaly, epoch ms (context only: it does not
    /// change `health`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_anomaly_ms: Option<i64>,
}

impl ContentRow {
    fn new(content_id: ContentId, content_type: ContentType, now_ms: i64) -> Self {
        Self {
            title: content_id.to_string(),
            content_id,
            content_type,
            genre: None,
            status: if content_type == ContentType::Live { ContentStatus::Live } else { ContentStatus::Available },
            status_since_ms: now_ms,
            last_seen_ms: now_ms,
            quality: Quality::default(),
            rendition: None,
            health: Health::Healthy,
            health_reason: None,
            firing_alerts: 0,
            last_anomaly_ms: None,
        }
    }
}

/// The table, by id.
#[derive(Debug, Default)]
pub(crate) struct ContentTable {
    rows: BTreeMap<ContentId, ContentRow>,
    last_interval_ms: u32,
}

impl ContentTable {
    pub(crate) fn rows(&self) -> impl Iterator<Item = &ContentRow> + '_ {
        self.rows.values()
    }

    pub(crate) fn last_interval_ms(&self) -> u32 {
        self.last_interval_ms
    }

    pub(crate) fn apply_change(&mut self, change: &ContentChange) {
        let row = self
            .rows
            .entry(change.content_id.clone())
            .or_insert_with(|| ContentRow::new(change.content_id.clone(), change.content_type, change.timestamp_ms));
        row.title.clone_from(&change.title);
        row.content_type = change.content_type;
        row.genre = change.genre;
        row.status = change.to;
        row.status_since_ms = change.timestamp_ms;
    }

    /// Folds in a tick: its figures, its anomalies (as context), and the
    /// active alerts, of which the firing ones that name a title (grouped
    /// by it, or naming it as their cause) set its health.
    pub(crate) fn apply_tick<'a>(
        &mut self,
        tick: &TickSummary,
        anomalies: &[Anomaly],
        active: impl Iterator<Item = &'a Alert>,
    ) {
        let now = tick.timestamp_ms;
        self.last_interval_ms = tick.interval_ms;
        for c in &tick.contents {
            let row = self
                .rows
                .entry(c.content_id.clone())
                .or_insert_with(|| ContentRow::new(c.content_id.clone(), c.content_type, now));
            row.quality = c.quality;
            row.rendition = c.rendition;
            row.last_seen_ms = now;
        }
        for anomaly in anomalies {
            if let Some(row) = self.rows.get_mut(&anomaly.series.content) {
                row.last_anomaly_ms = Some(anomaly.timestamp_ms);
            }
        }
        // Worst firing alert per title it names.
        let mut worst: HashMap<&str, (Severity, u32, &str)> = HashMap::new();
        for alert in active.filter(|a| a.state == AlertState::Firing) {
            let by_cause =
                alert.cause.as_ref().filter(|c| c.dimension == CauseDimension::Content).map(|c| c.value.as_str());
            let by_group = alert.group.content.as_ref().map(|c| c.as_str());
            let named = by_group.into_iter().chain(by_cause.filter(|c| Some(*c) != by_group));
            for content in named {
                let entry = worst.entry(content).or_insert((alert.severity, 0, alert.summary.as_str()));
                entry.1 += 1;
                if alert.severity > entry.0 {
                    (entry.0, entry.2) = (alert.severity, alert.summary.as_str());
                }
            }
        }
        self.rows.retain(|_, row| {
            if row.last_seen_ms < now {
                row.quality = Quality { viewers: 0, streams: 0, ..row.quality };
            }
            let (health, reason, firing) = match worst.get(row.content_id.as_str()) {
                Some(&(Severity::Critical, n, summary)) => (Health::Critical, Some(summary.to_owned()), n),
                Some(&(_, n, summary)) => (Health::Degraded, Some(summary.to_owned()), n),
                None => (Health::Healthy, None, 0),
            };
            row.health = health;
            row.health_reason = reason;
            row.firing_alerts = firing;
            // Announced events stay until they air; titles that ended, or
            // that stopped reporting, stay a while for the record.
            let stopped = matches!(row.status, ContentStatus::Retired | ContentStatus::Ended)
                || (row.status.is_streaming() && row.last_seen_ms < now);
            !(stopped && now - row.last_seen_ms.max(row.status_since_ms) > KEEP_STOPPED_MS)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Cause, GroupKey};
    use crate::detect::Band;
    use crate::sample::Metric;
    use crate::series::SeriesKey;
    use crate::simulator::{SimConfig, Simulator};

    fn alert(state: AlertState, severity: Severity, group: GroupKey, cause: Option<Cause>) -> Alert {
        Alert {
            id: "alrt-000001".into(),
            rule: "viewers_hurt".into(),
            severity,
            state,
            started_ms: 0,
            fired_ms: (state == AlertState::Firing).then_some(0),
            resolved_ms: None,
            group,
            series_count: 1,
            series: Vec::new(),
            value: Some(0.04),
            baseline: Some(0.005),
            cause,
            impact: None,
            metrics: Vec::new(),
            summary: "buffering 4.0 % (baseline 0.5 %)".into(),
        }
    }

    fn cause(dimension: CauseDimension, value: &str) -> Cause {
        Cause { dimension, value: value.into(), support: 3, coverage: 1.0, base_share: 0.1, lift: 10.0, score: 2.3 }
    }

    #[test]
    fn rows_follow_changes_and_ticks_and_anomalies_alone_never_degrade() {
        let mut sim = Simulator::new(SimConfig::default()).unwrap();
        let mut table = ContentTable::default();
        let frame = sim.next_frame();
        for change in &frame.changes {
            table.apply_change(change);
        }
        let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
        let first = tick.contents[0].content_id.clone();
        let anomaly = Anomaly {
            timestamp_ms: frame.timestamp_ms,
            series: SeriesKey::new(first.clone(), "eu-west", Metric::BufferingRatio),
            value: 0.2,
            expected: Some(Band::new(0.0, 0.01)),
            baseline: Some(0.005),
            score: 0.9,
            reason: None,
            detector: "auto".into(),
            viewers: 100,
        };
        table.apply_tick(&tick, std::slice::from_ref(&anomaly), std::iter::empty());
        // Every title that streamed, and the announced live events.
        assert!(tick.contents.iter().all(|c| table.rows.contains_key(&c.content_id)));
        assert_eq!(table.rows().count(), 48);
        let row = table.rows.get(&first).unwrap();
        assert_eq!(row.health, Health::Healthy, "a single anomaly is context, not an alarm");
        assert_eq!(row.health_reason, None);
        assert_eq!(row.last_anomaly_ms, Some(frame.timestamp_ms));
        assert_ne!(row.title, row.content_id.to_string(), "the simulator names its titles");

        // A title that stops reporting shows zero viewers, then goes.
        let empty = TickSummary::build(tick.timestamp_ms + 1_000, 1_000, &[], |_| None);
        table.apply_tick(&empty, &[], std::iter::empty());
        assert_eq!(table.rows.get(&first).unwrap().quality.viewers, 0);
        let gone = TickSummary::build(tick.timestamp_ms + KEEP_STOPPED_MS + 2_000, 1_000, &[], |_| None);
        table.apply_tick(&gone, &[], std::iter::empty());
        assert!(!table.rows.contains_key(&first));
        assert!(table.rows().all(|r| r.status == ContentStatus::Scheduled), "announced events stay");
    }

    #[test]
    fn health_follows_the_firing_alerts_that_name_a_title() {
        let mut sim = Simulator::new(SimConfig::default()).unwrap();
        let mut table = ContentTable::default();
        let frame = sim.next_frame();
        let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
        let (a, b) = (tick.contents[0].content_id.clone(), tick.contents[1].content_id.clone());
        let health = |t: &ContentTable, id: &ContentId| {
            let row = t.rows.get(id).unwrap();
            (row.health, row.firing_alerts)
        };

        // Pending alerts and alerts naming only a region leave titles alone.
        let by_title = GroupKey { content: Some(a.clone()), ..GroupKey::default() };
        let by_region = GroupKey { region: Some("eu-west".into()), ..GroupKey::default() };
        let pending = alert(AlertState::Pending, Severity::Critical, by_title.clone(), None);
        let regional = alert(AlertState::Firing, Severity::Critical, by_region.clone(), None);
        table.apply_tick(&tick, &[], [&pending, &regional].into_iter());
        assert!(table.rows().all(|r| r.health == Health::Healthy));

        // Grouped by the title: its severity sets the colour.
        let warning = alert(AlertState::Firing, Severity::Warning, by_title.clone(), None);
        table.apply_tick(&tick, &[], std::iter::once(&warning));
        assert_eq!(health(&table, &a), (Health::Degraded, 1));
        assert_eq!(table.rows.get(&a).unwrap().health_reason.as_deref(), Some(warning.summary.as_str()));
        assert_eq!(health(&table, &b), (Health::Healthy, 0));

        // Named as the cause of a regional alert; the worst alert wins.
        let caused =
            alert(AlertState::Firing, Severity::Critical, by_region, Some(cause(CauseDimension::Content, b.as_str())));
        let also_a =
            alert(AlertState::Firing, Severity::Critical, by_title, Some(cause(CauseDimension::Content, a.as_str())));
        table.apply_tick(&tick, &[], [&warning, &caused, &also_a].into_iter());
        assert_eq!(health(&table, &a), (Health::Critical, 2), "an alert counts once per title");
        assert_eq!(health(&table, &b), (Health::Critical, 1));

        // Resolved (no longer active): healthy at once.
        table.apply_tick(&tick, &[], std::iter::empty());
        assert!(table.rows().all(|r| r.health == Health::Healthy && r.health_reason.is_none()));
    }
}
