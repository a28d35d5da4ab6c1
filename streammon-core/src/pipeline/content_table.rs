//! The table of titles behind `GET /content`: status from the source's
//! changes, figures from the latest tick, health from alerts and anomalies.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::summary::{Quality, TickSummary};
use crate::alert::{Alert, AlertState, Severity};
use crate::content::{ContentChange, ContentStatus, ContentType, Genre};
use crate::detect::Anomaly;
use crate::id::ContentId;

/// How a title is doing, at a glance.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No alert firing and no recent anomaly.
    #[default]
    Healthy,
    /// An alert is firing for it, or a detector flagged it in the last
    /// two minutes.
    Degraded,
    /// A critical alert is firing for it.
    Critical,
}

/// How long an anomaly keeps a title `degraded`, milliseconds.
pub(crate) const RECENT_ANOMALY_MS: i64 = 2 * 60 * 1_000;
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
    /// Why it is not healthy: the summary of the worst alert, or the last
    /// anomaly's series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_reason: Option<String>,
    /// Alerts firing that name this title.
    pub firing_alerts: u32,
    /// Its latest anomaly, epoch ms.
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

    pub(crate) fn apply_tick<'a>(
        &mut self,
        tick: &TickSummary,
        anomalies: &[Anomaly],
        active: impl Iterator<Item = (&'a Alert, Vec<&'a ContentId>)>,
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
                if row.health_reason.is_none() || row.firing_alerts == 0 {
                    row.health_reason =
                        Some(format!("{} anomalous in {}", anomaly.series.metric, anomaly.series.region));
                }
            }
        }
        // Worst firing alert per title, over every title an alert stands
        // for (not only the series it samples).
        let mut worst: HashMap<&ContentId, (Severity, u32, &str)> = HashMap::new();
        for (alert, titles) in active.filter(|(a, _)| a.state == AlertState::Firing) {
            for content in titles {
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
            let (health, reason, firing) = match worst.get(&row.content_id) {
                Some(&(Severity::Critical, n, summary)) => (Health::Critical, Some(summary.to_owned()), n),
                Some(&(_, n, summary)) => (Health::Degraded, Some(summary.to_owned()), n),
                None if row.last_anomaly_ms.is_some_and(|t| now - t <= RECENT_ANOMALY_MS) => {
                    (Health::Degraded, row.health_reason.take(), 0)
                }
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
    use crate::detect::Band;
    use crate::sample::Metric;
    use crate::series::SeriesKey;
    use crate::simulator::{SimConfig, Simulator};

    #[test]
    fn rows_follow_changes_ticks_and_anomalies() {
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
        assert_eq!(row.health, Health::Degraded);
        assert_eq!(row.health_reason.as_deref(), Some("buffering_ratio anomalous in eu-west"));
        assert_ne!(row.title, row.content_id.to_string(), "the simulator names its titles");

        // Quiet for longer than RECENT_ANOMALY_MS: healthy again.
        let later = TickSummary { timestamp_ms: frame.timestamp_ms + RECENT_ANOMALY_MS + 1, ..tick.clone() };
        table.apply_tick(&later, &[], std::iter::empty());
        assert_eq!(table.rows.get(&first).unwrap().health, Health::Healthy);

        // A title that stops reporting shows zero viewers, then goes.
        let empty = TickSummary::build(later.timestamp_ms + 1_000, 1_000, &[], |_| None);
        table.apply_tick(&empty, &[], std::iter::empty());
        assert_eq!(table.rows.get(&first).unwrap().quality.viewers, 0);
        let gone = TickSummary::build(later.timestamp_ms + KEEP_STOPPED_MS + 2_000, 1_000, &[], |_| None);
        table.apply_tick(&gone, &[], std::iter::empty());
        assert!(!table.rows.contains_key(&first));
        assert!(table.rows().all(|r| r.status == ContentStatus::Scheduled), "announced events stay");
    }
}
