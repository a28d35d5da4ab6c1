//! Incidents: injected faults with ground truth, so detectors can be scored.
//!
//! Each incident has an id, a kind, a scope (a CDN region, a title, or a
//! title in one region), the metrics it moves, a start and an end. The
//! simulator applies its [`Effect`] to every series in scope while it is
//! active and reports it in [`Frame::incidents_started`](super::Frame), so
//! the record can be written out as a label.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{ContentId, RegionId};
use crate::region::Region;
use crate::sample::Metric;
use crate::time::Span;

/// The five kinds of fault the simulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// A CDN region loses most of its throughput: bitrates fall, buffering,
    /// startup time, latency and errors rise, for every title in it.
    CdnDegradation,
    /// One title's origin fails: most segment requests error, startups
    /// fail and viewers leave, in every region.
    OriginOutage,
    /// One title's encoder collapses to a fraction of its bitrate:
    /// delivered bitrate, bandwidth and segment size fall at the same
    /// resolutions.
    EncoderCollapse,
    /// One title (optionally in one region) suddenly draws several times
    /// its audience: viewers, joins and bandwidth rise.
    FlashCrowd,
    /// Request latency in one region jumps several-fold: latency, startup
    /// time and live glass-to-glass latency rise.
    LatencySpike,
}

/// What an incident's target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A CDN region id.
    Region,
    /// A content id.
    Content,
}

impl IncidentKind {
    /// Every kind.
    pub const ALL: [IncidentKind; 5] =
        [Self::CdnDegradation, Self::OriginOutage, Self::EncoderCollapse, Self::FlashCrowd, Self::LatencySpike];

    /// The wire label, e.g. `cdn_degradation`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CdnDegradation => "cdn_degradation",
            Self::OriginOutage => "origin_outage",
            Self::EncoderCollapse => "encoder_collapse",
            Self::FlashCrowd => "flash_crowd",
            Self::LatencySpike => "latency_spike",
        }
    }

    /// Whether the kind targets a region or a title.
    pub const fn target_kind(self) -> TargetKind {
        match self {
            Self::CdnDegradation | Self::LatencySpike => TargetKind::Region,
            Self::OriginOutage | Self::EncoderCollapse | Self::FlashCrowd => TargetKind::Content,
        }
    }

    /// The metrics this kind moves, the ground truth detectors are scored on.
    pub const fn metrics(self) -> &'static [Metric] {
        use Metric::*;
        match self {
            Self::CdnDegradation => &[BitrateKbps, BufferingRatio, RebufferEvents, StartupTimeMs, LatencyMs, ErrorRate],
            Self::OriginOutage => &[ErrorRate, BufferingRatio, StartupTimeMs, Viewers, Joins],
            Self::EncoderCollapse => &[BitrateKbps, BandwidthMbps, SegmentSizeKb],
            Self::FlashCrowd => &[Viewers, Joins, BandwidthMbps],
            Self::LatencySpike => &[LatencyMs, StartupTimeMs, E2eLatencyMs],
        }
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().replace('-', "_");
        Self::ALL.into_iter().find(|k| k.as_str() == norm).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|k| k.as_str()).collect();
            Error::parse("incident kind", s, format!("expected one of {}", names.join(", ")))
        })
    }
}

/// An incident at a fixed time, from configuration or the command line.
///
/// The text form is `KIND[:TARGET]@START+DURATION[*SEVERITY]`, where
/// `START` is an offset from the simulation's start, `TARGET` is a region
/// id for `cdn_degradation` and `latency_spike` and a content id for the
/// others (omitted: chosen at random when it starts), and `SEVERITY` is
/// within (0, 1] (default 0.8).
///
/// ```
/// use streammon_core::{IncidentKind, IncidentScript};
/// let s: IncidentScript = "cdn_degradation:eu-west@2h+15m*0.9".parse()?;
/// assert_eq!(s.kind, IncidentKind::CdnDegradation);
/// assert_eq!(s.target.as_deref(), Some("eu-west"));
/// assert_eq!(s.to_string(), "cdn_degradation:eu-west@2h+15m*0.9");
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentScript {
    /// What fails.
    pub kind: IncidentKind,
    /// Offset of the start from the simulation's start.
    pub at: Span,
    /// How long it lasts.
    pub duration: Span,
    /// Region id or content id, by kind; `None` picks one at random.
    /// Defaults to `None`.
    #[serde(default)]
    pub target: Option<String>,
    /// How bad, within (0, 1]. Defaults to 0.8.
    #[serde(default = "default_severity")]
    pub severity: f64,
}

fn default_severity() -> f64 {
    0.8
}

impl IncidentScript {
    /// Checks the script against the configured regions; `field` is its
    /// path in the configuration, used in errors.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self, field: &str, regions: &[Region]) -> Result<()> {
        if !(self.severity > 0.0 && self.severity <= 1.0) {
            return Err(Error::config(format!("{field}.severity"), format!("{} must be within (0, 1]", self.severity)));
        }
        if self.duration.as_millis() == 0 {
            return Err(Error::config(format!("{field}.duration"), "must be above 0"));
        }
        if let (TargetKind::Region, Some(target)) = (self.kind.target_kind(), &self.target)
            && !regions.iter().any(|r| r.id == target.as_str())
        {
            let ids: Vec<_> = regions.iter().map(|r| r.id.as_str()).collect();
            return Err(Error::config(
                format!("{field}.target"),
                format!("no region {target:?}; regions are {}", ids.join(", ")),
            ));
        }
        Ok(())
    }
}

impl FromStr for IncidentScript {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::parse("incident", s, reason);
        let form = "expected KIND[:TARGET]@START+DURATION[*SEVERITY], e.g. cdn_degradation:eu-west@1h+15m";
        let (head, when) = s.trim().split_once('@').ok_or_else(|| bad(form))?;
        let (kind, target) = match head.split_once(':') {
            Some((k, t)) if !t.is_empty() => (k, Some(t.to_owned())),
            Some(_) => return Err(bad("empty target after ':'")),
            None => (head, None),
        };
        let kind: IncidentKind = kind.parse()?;
        let (when, severity) = match when.split_once('*') {
            Some((w, sev)) => (w, sev.parse::<f64>().map_err(|_| bad("severity must be a number within (0, 1]"))?),
            None => (when, default_severity()),
        };
        let (at, duration) = when.split_once('+').ok_or_else(|| bad(form))?;
        Ok(Self { kind, at: at.parse()?, duration: duration.parse()?, target, severity })
    }
}

impl fmt::Display for IncidentScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(target) = &self.target {
            write!(f, ":{target}")?;
        }
        write!(f, "@{}+{}", self.at, self.duration)?;
        if self.severity != default_severity() {
            write!(f, "*{}", self.severity)?;
        }
        Ok(())
    }
}

/// Which series an incident touches: all series matching every `Some`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IncidentScope {
    /// The title, or `None` for every title.
    pub content: Option<ContentId>,
    /// The CDN region, or `None` for every region.
    pub region: Option<RegionId>,
}

impl IncidentScope {
    /// Whether a series is in scope.
    pub fn contains(&self, content: &ContentId, region: &RegionId) -> bool {
        self.content.as_ref().is_none_or(|c| c == content) && self.region.as_ref().is_none_or(|r| r == region)
    }
}

/// One injected incident: the ground-truth label.
///
/// Wire format (one JSON object per line in a labels file):
///
/// ```
/// # use streammon_core::*;
/// let incident = Incident {
///     id: "inc-0001".into(),
///     kind: IncidentKind::LatencySpike,
///     scope: IncidentScope { content: None, region: Some(RegionId::from("eu-west")) },
///     metrics: IncidentKind::LatencySpike.metrics().to_vec(),
///     start_ms: 1_767_229_200_000,
///     end_ms: 1_767_229_500_000,
///     severity: 0.8,
/// };
/// assert_eq!(
///     serde_json::to_string(&incident)?,
///     r#"{"id":"inc-0001","kind":"latency_spike","scope":{"content":null,"region":"eu-west"},"metrics":["latency_ms","startup_time_ms","e2e_latency_ms"],"start_ms":1767229200000,"end_ms":1767229500000,"severity":0.8}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Identifier in start order, e.g. `inc-0001`.
    pub id: String,
    /// What failed.
    pub kind: IncidentKind,
    /// Which series are affected.
    pub scope: IncidentScope,
    /// Which metrics move.
    pub metrics: Vec<Metric>,
    /// Timestamp of the first affected sample, epoch milliseconds
    /// (inclusive): samples with `start_ms <= timestamp_ms < end_ms` are
    /// affected.
    pub start_ms: i64,
    /// End, epoch milliseconds (exclusive); a multiple of the step after
    /// `start_ms`.
    pub end_ms: i64,
    /// How bad, within (0, 1].
    pub severity: f64,
}

impl Incident {
    /// Whether the incident is in force at `t_ms`.
    pub fn is_active(&self, t_ms: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&t_ms)
    }
}

/// How active incidents bend one series' model this tick. Neutral is all
/// ones and zero added error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Effect {
    /// Multiplies viewer throughput.
    pub(crate) throughput: f64,
    /// Multiplies request latency.
    pub(crate) latency: f64,
    /// Added to the error rate.
    pub(crate) error_add: f64,
    /// Multiplies encoded bitrates.
    pub(crate) bitrate: f64,
    /// Multiplies the audience target.
    pub(crate) audience: f64,
}

impl Effect {
    pub(crate) const NONE: Effect =
        Effect { throughput: 1.0, latency: 1.0, error_add: 0.0, bitrate: 1.0, audience: 1.0 };

    /// Adds one incident's effect; several incidents compose.
    pub(crate) fn add(&mut self, incident: &Incident) {
        let s = incident.severity;
        match incident.kind {
            IncidentKind::CdnDegradation => {
                self.throughput *= 1.0 - 0.85 * s;
                self.latency *= 1.0 + 1.5 * s;
                self.error_add += 0.03 * s;
            }
            IncidentKind::OriginOutage => self.error_add += 0.35 + 0.6 * s,
            IncidentKind::EncoderCollapse => self.bitrate *= 1.0 - 0.8 * s,
            IncidentKind::FlashCrowd => self.audience *= 1.0 + 5.0 * s,
            IncidentKind::LatencySpike => self.latency *= 2.0 + 8.0 * s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_print() {
        let s: IncidentScript = "origin-outage@30m+5m".parse().unwrap();
        assert_eq!(s.kind, IncidentKind::OriginOutage);
        assert_eq!(s.target, None);
        assert_eq!(s.at, Span::from_mins(30));
        assert_eq!(s.severity, 0.8);
        assert_eq!(s.to_string(), "origin_outage@30m+5m");
        for bad in [
            "",
            "nope@1h+1m",
            "latency_spike:eu-west",
            "latency_spike@1h",
            "latency_spike@1h+1x",
            "latency_spike:@1h+1m",
            "flash_crowd@1h+1m*lots",
        ] {
            assert!(bad.parse::<IncidentScript>().is_err(), "{bad}");
        }
    }

    #[test]
    fn scripts_validate_targets_and_severity() {
        let regions = Region::defaults();
        let s: IncidentScript = "latency_spike:mars-north@1h+1m".parse().unwrap();
        let err = s.validate("incidents.scripted[0]", &regions).unwrap_err().to_string();
        assert!(err.contains("incidents.scripted[0].target") && err.contains("mars-north"), "{err}");
        let s: IncidentScript = "flash_crowd@1h+1m*1.5".parse().unwrap();
        assert!(s.validate("x", &regions).unwrap_err().to_string().contains("x.severity"));
    }

    #[test]
    fn every_kind_moves_its_model() {
        for kind in IncidentKind::ALL {
            let mut effect = Effect::NONE;
            let incident = Incident {
                id: "inc-0001".into(),
                kind,
                scope: IncidentScope { content: None, region: None },
                metrics: kind.metrics().to_vec(),
                start_ms: 0,
                end_ms: 1,
                severity: 1.0,
            };
            effect.add(&incident);
            assert_ne!(effect, Effect::NONE, "{kind}");
            assert!(!kind.metrics().is_empty());
        }
    }
}
