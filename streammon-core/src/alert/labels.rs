//! The labels an alert is known by outside the engine: in Alertmanager, in
//! webhooks and in the matchers of a [`Silence`](super::Silence).

use serde::{Deserialize, Serialize};

use super::{Alert, Severity};
use crate::id::{ContentId, RegionId};
use crate::sample::Metric;

/// What an alert is about, flattened to at most one value per dimension.
///
/// A dimension has a value when the alert's group names it, or else when
/// every series the alert lists shares it: a region alert over 37 titles
/// has a region and no title; an alert of one title in one region has
/// both. The metric is the group's, or else the worst of the metrics
/// that moved, or else the one every listed series watches.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertLabels {
    /// The rule that raised the alert (`alertname` in Alertmanager).
    pub rule: String,
    /// Its severity.
    pub severity: Severity,
    /// The CDN region, if the alert has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionId>,
    /// The title, if the alert has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<ContentId>,
    /// The metric, if the alert has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
}

/// The one value every item shares, if there are items and they agree.
fn shared<'a, T: PartialEq + 'a>(mut items: impl Iterator<Item = &'a T>) -> Option<&'a T> {
    let first = items.next()?;
    items.all(|x| x == first).then_some(first)
}

impl Alert {
    /// The labels this alert is known by outside the engine.
    ///
    /// ```
    /// use streammon_core::alert::AlertLabels;
    /// # use streammon_core::{Alert, AlertState, Severity};
    /// # use streammon_core::alert::GroupKey;
    /// # use streammon_core::alert::AlertSeries;
    /// # let alert = Alert { id: "alrt-000001".into(), rule: "buffering".into(),
    /// #   severity: Severity::Critical, state: AlertState::Firing, started_ms: 0,
    /// #   fired_ms: Some(0), resolved_ms: None,
    /// #   group: GroupKey { region: Some("eu-west".into()), content: None, metric: None },
    /// #   series_count: 1,
    /// #   series: vec![AlertSeries { content: "vod-1".into(), region: "eu-west".into(), metric: None }],
    /// #   value: None, baseline: None, cause: None, impact: None, metrics: Vec::new(),
    /// #   summary: String::new() };
    /// let labels: AlertLabels = alert.labels();
    /// assert_eq!(labels.region.as_ref().map(|r| r.as_str()), Some("eu-west"));
    /// // One listed series, so its title is shared too.
    /// assert_eq!(labels.content_id.as_ref().map(|c| c.as_str()), Some("vod-1"));
    /// ```
    pub fn labels(&self) -> AlertLabels {
        let region = self.group.region.clone().or_else(|| shared(self.series.iter().map(|s| &s.region)).cloned());
        let content_id = self.group.content.clone().or_else(|| shared(self.series.iter().map(|s| &s.content)).cloned());
        let metric = self
            .group
            .metric
            .or_else(|| self.metrics.first().map(|m| m.metric))
            .or_else(|| shared(self.series.iter().map(|s| &s.metric)).copied().flatten());
        AlertLabels { rule: self.rule.clone(), severity: self.severity, region, content_id, metric }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertSeries, AlertState, GroupKey, MetricShift};

    fn alert(group: GroupKey, series: &[(&str, &str, Option<Metric>)]) -> Alert {
        Alert {
            id: "alrt-000001".into(),
            rule: "r".into(),
            severity: Severity::Warning,
            state: AlertState::Firing,
            started_ms: 0,
            fired_ms: Some(0),
            resolved_ms: None,
            group,
            series_count: series.len(),
            series: series
                .iter()
                .map(|(c, r, m)| AlertSeries { content: (*c).into(), region: (*r).into(), metric: *m })
                .collect(),
            value: None,
            baseline: None,
            cause: None,
            impact: None,
            metrics: Vec::new(),
            summary: String::new(),
        }
    }

    #[test]
    fn group_values_win_and_shared_series_values_fill_in() {
        let a = alert(
            GroupKey { region: Some("eu-west".into()), content: None, metric: Some(Metric::LatencyMs) },
            &[("a", "eu-west", Some(Metric::LatencyMs)), ("b", "eu-west", Some(Metric::LatencyMs))],
        );
        let l = a.labels();
        assert_eq!(l.region, Some("eu-west".into()));
        assert_eq!(l.content_id, None, "two titles: no title label");
        assert_eq!(l.metric, Some(Metric::LatencyMs));

        let b = alert(GroupKey::default(), &[("a", "us-east", None), ("a", "eu-west", None)]);
        let l = b.labels();
        assert_eq!((l.region, l.content_id, l.metric), (None, Some("a".into()), None));
    }

    #[test]
    fn the_worst_moved_metric_names_an_impact_alert() {
        let mut a = alert(GroupKey { region: Some("eu-west".into()), ..GroupKey::default() }, &[]);
        a.metrics = vec![
            MetricShift { metric: Metric::BufferingRatio, value: 0.05, baseline: 0.01 },
            MetricShift { metric: Metric::LatencyMs, value: 80.0, baseline: 20.0 },
        ];
        assert_eq!(a.labels().metric, Some(Metric::BufferingRatio));
        assert_eq!(a.labels().content_id, None, "no series listed: nothing shared");
    }
}
