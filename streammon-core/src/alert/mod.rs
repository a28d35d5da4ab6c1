//! Alerting: rules over samples and anomalies, alert lifecycle, grouping
//! and root-cause hints.
//!
//! An [`AlertEngine`] is built once from an [`AlertConfig`] (a list of
//! [`RuleConfig`]s, validated into typed [`AlertRule`]s). It is fed
//! [`Sample`](crate::Sample)s and detector [`Anomaly`](crate::Anomaly)s as
//! they arrive, and [`AlertEngine::evaluate`] is called with the current
//! time to advance the time-based conditions and append lifecycle
//! transitions to a buffer the caller owns:
//!
//! ```text
//!             condition holds              held for `for_duration`
//!   (none) ───────────────────▶ Pending ─────────────────────────▶ Firing ──┐
//!     ▲                           │                                  │      │ more series
//!     │    condition lapses       │                                  │      │ join it
//!     └───── (dropped, no event) ─┘                                  │◀─────┘
//!     ▲                                                              │ clear condition held
//!     └────────────── Resolved ◀─────────────────────────────────────┘ for `resolve_after`
//! ```
//!
//! Only the two arrows into Firing and Resolved produce an
//! [`AlertEvent`]. A rule's series are grouped by the rule's `group_by`
//! dimensions (region and metric by default), so a CDN region going bad
//! is one alert naming every title it hurts, not one alert per title.
//!
//! The engine is pure: no clock, no I/O, no randomness; the same inputs
//! give the same alerts, ids included.

mod cause;
mod config;
mod engine;
mod impact;
mod labels;
mod lifecycle;
mod rule;
mod silence;
mod state;
mod table;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use cause::{Cause, CauseDimension};
pub use config::AlertConfig;
pub use engine::{AlertEngine, EngineStats};
pub use impact::degradation;
pub use labels::AlertLabels;
pub use rule::{AbsenceScope, AlertRule, Dimension, Direction, ImpactScope, RuleConfig, RuleKind};
pub use silence::{
    Ack, Acks, EXPIRED_KEPT_MS, MAX_ACKS, MAX_AUTHOR_LEN, MAX_COMMENT_LEN, MAX_SILENCE_MS, MAX_SILENCES, Matchers,
    Silence, SilenceRefusal, SilenceRequest, SilenceState, Silences,
};

use crate::id::{ContentId, RegionId};
use crate::sample::Metric;

/// How urgent an alert is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look; nobody is paged.
    Info,
    /// Degraded service.
    #[default]
    Warning,
    /// Viewers are hurt now; page someone.
    Critical,
}

impl Severity {
    /// The wire label: `info`, `warning` or `critical`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an alert is in its lifecycle.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds but not yet for `for_duration`.
    Pending,
    /// The condition held for `for_duration`; someone should know.
    Firing,
    /// It fired and has since cleared.
    Resolved,
}

impl AlertState {
    /// The wire label: `pending`, `firing` or `resolved`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The dimension values that make one alert of a rule: those named in the
/// rule's `group_by`, the others `None` (and left out of JSON).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct GroupKey {
    /// The CDN region, when grouped by region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionId>,
    /// The title, when grouped by content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentId>,
    /// The metric, when grouped by metric and the rule has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
}

/// One series an alert covers: a title in a region, and the metric when
/// the rule watches one (absence rules watch the whole stream).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertSeries {
    /// The title.
    pub content: ContentId,
    /// The CDN region.
    pub region: RegionId,
    /// The metric, if the rule watches one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
}

/// One alert: the payload of an `anomaly_alert` event and of `GET /alerts`.
///
/// Field names are part of the wire format.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic id in creation order, e.g. `alrt-000001`. Every alert
    /// that reached Pending takes a number, so a pending alert that was
    /// dropped leaves a gap.
    pub id: String,
    /// Name of the rule that raised it.
    pub rule: String,
    /// How urgent it is: the rule's own severity, or else from its viewer
    /// impact (see [`Impact`]).
    pub severity: Severity,
    /// Where it is in its lifecycle.
    pub state: AlertState,
    /// When the condition first held for any of its series, epoch ms.
    pub started_ms: i64,
    /// When it went from Pending to Firing, epoch ms.
    pub fired_ms: Option<i64>,
    /// When it resolved, epoch ms.
    pub resolved_ms: Option<i64>,
    /// The dimension values this alert stands for.
    pub group: GroupKey,
    /// How many series are in it now (firing ones once it fires).
    pub series_count: usize,
    /// Up to the configured number of those series, in key order.
    pub series: Vec<AlertSeries>,
    /// Mean current value of the metric over those series, if the rule
    /// watches a value.
    pub value: Option<f64>,
    /// Mean of their baselines: a per-series EWMA over quiet periods, or
    /// the middle of the band a detector expected.
    pub baseline: Option<f64>,
    /// The shared dimension value that best explains the series, if any
    /// stands out.
    pub cause: Option<Cause>,
    /// Who is hurt and how much, when the rule watches a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    /// Every metric that moved (impact rules), worst first: the first is
    /// the one `value` and `baseline` describe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricShift>,
    /// One line for humans, e.g. `buffering ratio 4.1× baseline in eu-west
    /// across 37 titles since 14:02`.
    pub summary: String,
}

/// How many viewers an alert hurts, and how badly.
///
/// `degradation` is within [0, 1]: for a ratio (buffering, errors) the
/// excess share (`value − baseline`); for a figure where higher is worse
/// (latency, startup time) the share of the value that is excess (`1 −
/// baseline / value`: 0.5 when it doubled); where lower is worse (bitrate,
/// viewers) the share lost (`1 − value / baseline`). `score` is `viewers ×
/// degradation`, in viewers fully hurt: 52 000 viewers buffering 3 % more
/// of the time score 1 560. It sets the severity of alerts whose rule has
/// none: `critical` from `impact_critical` (1 000), `warning` from
/// `impact_warning` (100), `info` below.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// Viewers of the series or scope in condition.
    pub viewers: u64,
    /// How much worse off they are, within [0, 1].
    pub degradation: f64,
    /// `viewers × degradation`.
    pub score: f64,
}

/// One metric of an alert: its value now and its baseline.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricShift {
    /// The metric.
    pub metric: Metric,
    /// Its value now, over the alert's scope.
    pub value: f64,
    /// What it usually is there.
    pub baseline: f64,
}

/// What happened to an alert.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEventKind {
    /// Pending → Firing.
    Fired,
    /// Firing → Resolved.
    Resolved,
}

/// One lifecycle transition, appended by [`AlertEngine::evaluate`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Which transition.
    pub kind: AlertEventKind,
    /// When, epoch ms: the `now_ms` of the evaluation that saw it.
    pub timestamp_ms: i64,
    /// The alert after the transition.
    pub alert: Alert,
}

/// The display name of a metric in summaries, e.g. `buffering ratio`.
fn metric_label(metric: Metric) -> &'static str {
    match metric {
        Metric::Viewers => "viewers",
        Metric::Joins => "joins",
        Metric::Exits => "exits",
        Metric::AvgWatchTimeS => "average watch time",
        Metric::LatencyMs => "latency",
        Metric::E2eLatencyMs => "end-to-end latency",
        Metric::StartupTimeMs => "startup time",
        Metric::BufferingRatio => "buffering ratio",
        Metric::RebufferEvents => "rebuffer events",
        Metric::BitrateKbps => "bitrate",
        Metric::SegmentSizeKb => "segment size",
        Metric::BandwidthMbps => "bandwidth",
        Metric::ErrorRate => "error rate",
    }
}

#[cfg(test)]
mod tests;
