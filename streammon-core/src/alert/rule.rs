//! Rule configuration: serde data with defaults, validated once into typed
//! [`AlertRule`]s.
//!
//! Every rule kind shares one flat table of fields (so a TOML `[[rules]]`
//! table reads naturally); fields that do not apply to a rule's `kind` are
//! refused by [`RuleConfig::build`] rather than silently ignored.

use serde::{Deserialize, Serialize};

use super::Severity;
use crate::error::{Error, Result};
use crate::sample::Metric;
use crate::time::Span;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A metric above or below a level.
    Threshold,
    /// A metric's change over a window `per` above or below a level.
    RateOfChange,
    /// A series (or a whole title) sends nothing for `absent_for`.
    Absence,
    /// Detectors report anomalies with a score of at least `min_score`.
    AnomalyScore,
    /// The viewers of a region, a title or one title in one region are
    /// materially worse off than usual on any of `metrics`: each scope's
    /// figures judged against a baseline of their own, beyond its floor
    /// and its usual spread (`alert/impact.rs`).
    Impact,
}

impl RuleKind {
    /// The wire label, e.g. `rate_of_change`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Threshold => "threshold",
            Self::RateOfChange => "rate_of_change",
            Self::Absence => "absence",
            Self::AnomalyScore => "anomaly_score",
            Self::Impact => "impact",
        }
    }
}

/// A dimension series can be grouped by into one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The CDN region.
    Region,
    /// The title.
    Content,
    /// The metric.
    Metric,
}

/// Which way a metric moves when viewers are worse off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is worse (buffering, errors, latency, startup time).
    Up,
    /// Lower is worse (bitrate, viewers).
    Down,
}

impl Direction {
    /// The direction in which `metric` hurts viewers
    /// ([`Metric::higher_is_worse`]).
    pub const fn harmful(metric: Metric) -> Self {
        if metric.higher_is_worse() { Self::Up } else { Self::Down }
    }
}

/// A slice of the service an impact rule judges as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImpactScope {
    /// Every title in one CDN region.
    Region,
    /// One title in every region.
    Content,
    /// One title in one region.
    Stream,
}

/// What an absence rule waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbsenceScope {
    /// One title in one region.
    #[default]
    Series,
    /// A title in every region at once.
    Title,
}

/// One alert rule as written in configuration. See `docs/ALERTS.md`.
///
/// `name` and `kind` are required; the rest have defaults. Fields that
/// belong to another kind are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique name, used in alerts. Required.
    pub name: String,
    /// What the rule watches. Required.
    pub kind: RuleKind,
    /// How urgent its alerts are. Defaults to none: the severity then
    /// comes from the alert's viewer impact (viewers affected ×
    /// degradation, against [`AlertConfig`](super::AlertConfig)'s
    /// `impact_warning` and `impact_critical`), and is `warning` for
    /// absence rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The metric watched (threshold and rate_of_change rules, where it is
    /// required). Defaults to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// Anomaly rules: only anomalies of these metrics count; empty means
    /// every metric. Impact rules: the metrics judged (required). Defaults
    /// to empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Fires when the watched value (the metric, or its change over `per`)
    /// is above this. Exactly one of `above` and `below` is required for
    /// threshold and rate_of_change rules. Defaults to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// Fires when the watched value is below this. Defaults to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    /// A firing series clears only once its value is back at or past this
    /// level (at or below it for `above` rules, at or above it for `below`
    /// rules). Exclusive with `hysteresis`. Defaults to the level derived
    /// from `hysteresis`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<f64>,
    /// Fraction of the level's magnitude the value must retreat past it
    /// before a firing series clears: an `above = 0.05` rule with
    /// hysteresis 0.2 clears at or below 0.04. Within [0, 1). Defaults to
    /// 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hysteresis: Option<f64>,
    /// Impact rules: which way the metrics hurt viewers. Defaults to each
    /// metric's own ([`Direction::harmful`]: up for buffering, errors,
    /// latency and startup time, down for bitrate and viewers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Impact rules: the scopes judged. Defaults to `["region",
    /// "content", "stream"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ImpactScope>,
    /// Impact rules: how many of its usual deviations (robust standard
    /// deviations of its figure around its baseline) a scope must move,
    /// besides clearing the metric's floor; within [1, 100]. Defaults to
    /// 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<f64>,
    /// Impact rules: the smallest move that counts as a fraction of the
    /// baseline, on top of each metric's floor (`0.5`: by half). Within
    /// [0, 10]. Defaults to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_relative: Option<f64>,
    /// Impact rules: for this long after a live event goes on air, its
    /// title is not judged (its audience arriving is the event, not a
    /// surge). Defaults to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_air_grace: Option<Span>,
    /// Impact rules: after this long in condition, a scope's baseline
    /// starts again from its present level (a change that lasted this long
    /// is the new normal). Defaults to `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relearn_after: Option<Span>,
    /// Thin series cannot alert. A threshold rule takes a sample with
    /// fewer viewers as no evidence either way: it breaks a pending run
    /// but does not clear a firing series (whose audience may have fled
    /// the fault). A rate_of_change rule measures no change from a
    /// reference with fewer viewers, which counts as clear. An impact
    /// rule judges no scope with fewer viewers. Defaults to 0 (100 for
    /// impact rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_viewers: Option<u32>,
    /// Rate_of_change rules: the window the change is measured over
    /// (required). Defaults to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Span>,
    /// Rate_of_change rules: measure the change as a fraction of the old
    /// value (`-0.5` is a halving) rather than in the metric's unit.
    /// Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<bool>,
    /// Absence rules: how long without a sample counts as absent
    /// (required; `for` is accepted as an alias). Defaults to none.
    #[serde(default, alias = "for", skip_serializing_if = "Option::is_none")]
    pub absent_for: Option<Span>,
    /// Absence rules: wait on each series, or on a title in all regions.
    /// Defaults to `series`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<AbsenceScope>,
    /// Anomaly rules: the lowest score that counts, within (0, 1].
    /// Defaults to 0.8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    /// Anomaly rules: anomalies closer together than this count as one
    /// continuous condition; a longer silence ends it. Defaults to `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_gap: Option<Span>,
    /// The condition must hold continuously this long before Pending
    /// becomes Firing. Defaults to `1m`.
    #[serde(default = "default_for_duration")]
    pub for_duration: Span,
    /// The clear condition must hold continuously this long before a
    /// firing series clears (the minimum resolve time). Defaults to `1m`.
    #[serde(default = "default_resolve_after")]
    pub resolve_after: Span,
    /// Which dimensions make one alert; series that agree on them share
    /// it. Empty makes one alert per rule. Defaults to `["region",
    /// "metric"]`.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<Dimension>,
}

fn default_for_duration() -> Span {
    Span::from_mins(1)
}

fn default_resolve_after() -> Span {
    Span::from_mins(1)
}

fn default_group_by() -> Vec<Dimension> {
    vec![Dimension::Region, Dimension::Metric]
}

impl RuleConfig {
    /// A rule of `kind` named `name` with every other field at its default.
    pub fn new(name: impl Into<String>, kind: RuleKind) -> Self {
        Self {
            name: name.into(),
            kind,
            severity: None,
            metric: None,
            metrics: Vec::new(),
            above: None,
            below: None,
            clear: None,
            hysteresis: None,
            min_viewers: None,
            direction: None,
            scopes: Vec::new(),
            sensitivity: None,
            min_relative: None,
            on_air_grace: None,
            relearn_after: None,
            per: None,
            relative: None,
            absent_for: None,
            scope: None,
            min_score: None,
            max_gap: None,
            for_duration: default_for_duration(),
            resolve_after: default_resolve_after(),
            group_by: default_group_by(),
        }
    }

    /// Validates the rule into its typed form; `field` is its path in the
    /// configuration (e.g. `rules[2]`), used in errors.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first offending field, e.g.
    /// `rules[2].for_duration`.
    pub fn build(&self, field: &str) -> Result<AlertRule> {
        let at = |name: &str| format!("{field}.{name}");
        if self.name.trim().is_empty() {
            return Err(Error::config(at("name"), "must not be empty"));
        }
        use RuleKind::*;
        let owners: [(&str, bool, &[RuleKind]); 19] = [
            ("metric", self.metric.is_some(), &[Threshold, RateOfChange]),
            ("metrics", !self.metrics.is_empty(), &[AnomalyScore, Impact]),
            ("direction", self.direction.is_some(), &[Impact]),
            ("scopes", !self.scopes.is_empty(), &[Impact]),
            ("sensitivity", self.sensitivity.is_some(), &[Impact]),
            ("relearn_after", self.relearn_after.is_some(), &[Impact]),
            ("min_relative", self.min_relative.is_some(), &[Impact]),
            ("on_air_grace", self.on_air_grace.is_some(), &[Impact]),
            ("above", self.above.is_some(), &[Threshold, RateOfChange]),
            ("below", self.below.is_some(), &[Threshold, RateOfChange]),
            ("clear", self.clear.is_some(), &[Threshold, RateOfChange]),
            ("hysteresis", self.hysteresis.is_some(), &[Threshold, RateOfChange]),
            ("min_viewers", self.min_viewers.is_some(), &[Threshold, RateOfChange, Impact]),
            ("per", self.per.is_some(), &[RateOfChange]),
            ("relative", self.relative.is_some(), &[RateOfChange]),
            ("absent_for", self.absent_for.is_some(), &[Absence]),
            ("scope", self.scope.is_some(), &[Absence]),
            ("min_score", self.min_score.is_some(), &[AnomalyScore]),
            ("max_gap", self.max_gap.is_some(), &[AnomalyScore]),
        ];
        for (name, set, kinds) in owners {
            if set && !kinds.contains(&self.kind) {
                let names: Vec<_> = kinds.iter().map(|k| k.as_str()).collect();
                return Err(Error::config(
                    at(name),
                    format!("applies to {} rules, not {}", names.join(" and "), self.kind.as_str()),
                ));
            }
        }
        for (i, d) in self.group_by.iter().enumerate() {
            if self.group_by[..i].contains(d) {
                return Err(Error::config(at("group_by"), format!("{d:?} appears twice")));
            }
        }
        let condition = match self.kind {
            Threshold | RateOfChange => self.value_condition(&at)?,
            Absence => {
                let after = self.absent_for.ok_or_else(|| Error::config(at("absent_for"), "required"))?;
                if after.as_millis() == 0 {
                    return Err(Error::config(at("absent_for"), "must be above 0"));
                }
                Condition::Absence { after_ms: after.as_millis() as i64, scope: self.scope.unwrap_or_default() }
            }
            AnomalyScore => {
                let min_score = self.min_score.unwrap_or(0.8);
                if !(min_score > 0.0 && min_score <= 1.0) {
                    return Err(Error::config(at("min_score"), format!("{min_score} must be within (0, 1]")));
                }
                let gap = self.max_gap.unwrap_or(Span::from_secs(30));
                if gap.as_millis() == 0 {
                    return Err(Error::config(at("max_gap"), "must be above 0"));
                }
                Condition::Anomaly { min_score, metrics: self.metrics.clone(), max_gap_ms: gap.as_millis() as i64 }
            }
            Impact => self.impact_condition(&at)?,
        };
        if self.kind == Impact && self.group_by != default_group_by() {
            return Err(Error::config(at("group_by"), "impact rules group by their scopes; use `scopes`"));
        }
        Ok(AlertRule {
            name: self.name.clone(),
            kind: self.kind,
            severity: self.severity,
            for_ms: self.for_duration.as_millis() as i64,
            resolve_ms: self.resolve_after.as_millis() as i64,
            by_region: self.group_by.contains(&Dimension::Region),
            by_content: self.group_by.contains(&Dimension::Content),
            by_metric: self.group_by.contains(&Dimension::Metric),
            condition,
        })
    }

    fn impact_condition(&self, at: &dyn Fn(&str) -> String) -> Result<Condition> {
        if self.metrics.is_empty() {
            return Err(Error::config(at("metrics"), "name at least one metric"));
        }
        for (i, m) in self.metrics.iter().enumerate() {
            if self.metrics[..i].contains(m) {
                return Err(Error::config(at("metrics"), format!("{m} appears twice")));
            }
        }
        for (i, s) in self.scopes.iter().enumerate() {
            if self.scopes[..i].contains(s) {
                return Err(Error::config(at("scopes"), format!("{s:?} appears twice")));
            }
        }
        let sensitivity = self.sensitivity.unwrap_or(4.0);
        if !(1.0..=100.0).contains(&sensitivity) {
            return Err(Error::config(at("sensitivity"), format!("{sensitivity} must be within [1, 100]")));
        }
        let min_relative = self.min_relative.unwrap_or(0.0);
        if !(0.0..=10.0).contains(&min_relative) {
            return Err(Error::config(at("min_relative"), format!("{min_relative} must be within [0, 10]")));
        }
        let relearn = self.relearn_after.unwrap_or(Span::from_hours(1));
        if relearn.as_millis() < 60_000 {
            return Err(Error::config(at("relearn_after"), format!("{relearn} must be at least 1m")));
        }
        let scopes = if self.scopes.is_empty() {
            vec![ImpactScope::Region, ImpactScope::Content, ImpactScope::Stream]
        } else {
            let mut s = self.scopes.clone();
            s.sort_unstable();
            s
        };
        Ok(Condition::Impact(Box::new(ImpactCondition {
            metrics: self.metrics.iter().map(|&m| (m, self.direction.unwrap_or(Direction::harmful(m)))).collect(),
            scopes,
            sensitivity,
            min_relative,
            on_air_grace_ms: self.on_air_grace.map_or(0, |g| g.as_millis() as i64),
            min_viewers: self.min_viewers.unwrap_or(100),
            relearn_ms: relearn.as_millis() as i64,
        })))
    }

    fn value_condition(&self, at: &dyn Fn(&str) -> String) -> Result<Condition> {
        let metric = self.metric.ok_or_else(|| Error::config(at("metric"), "required"))?;
        let (above, level) = match (self.above, self.below) {
            (Some(v), None) => (true, v),
            (None, Some(v)) => (false, v),
            (Some(_), Some(_)) => return Err(Error::config(at("below"), "give one of `above` and `below`, not both")),
            (None, None) => return Err(Error::config(at("above"), "one of `above` and `below` is required")),
        };
        if !level.is_finite() {
            return Err(Error::config(at(if above { "above" } else { "below" }), format!("{level} is not finite")));
        }
        let clear = match (self.clear, self.hysteresis) {
            (Some(_), Some(_)) => {
                return Err(Error::config(at("hysteresis"), "give one of `clear` and `hysteresis`, not both"));
            }
            (Some(c), None) => {
                if !c.is_finite() || (above && c > level) || (!above && c < level) {
                    let side = if above { "at or below `above`" } else { "at or above `below`" };
                    return Err(Error::config(at("clear"), format!("{c} must be {side} ({level})")));
                }
                c
            }
            (None, h) => {
                let h = h.unwrap_or(0.1);
                if !(0.0..1.0).contains(&h) {
                    return Err(Error::config(at("hysteresis"), format!("{h} must be within [0, 1)")));
                }
                if above { level - h * level.abs() } else { level + h * level.abs() }
            }
        };
        let bound = Bound { above, level, clear };
        let min_viewers = self.min_viewers.unwrap_or(0);
        if self.kind == RuleKind::Threshold {
            return Ok(Condition::Threshold { metric, bound, min_viewers });
        }
        let per = self.per.ok_or_else(|| Error::config(at("per"), "required"))?;
        if per.as_millis() < 1_000 {
            return Err(Error::config(at("per"), format!("{per} must be at least 1s")));
        }
        let relative = self.relative.unwrap_or(true);
        Ok(Condition::Rate { metric, bound, min_viewers, per_ms: per.as_millis() as i64, relative })
    }
}

/// The levels of a value rule: when it fires and when it clears.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    /// Fires above `level` (else below).
    pub(crate) above: bool,
    /// The trigger level.
    pub(crate) level: f64,
    /// The clear level, on the safe side of `level`.
    pub(crate) clear: f64,
}

impl Bound {
    /// Whether `x` violates the trigger condition.
    pub(crate) fn violated(&self, x: f64) -> bool {
        if self.above { x > self.level } else { x < self.level }
    }

    /// Whether `x` satisfies the clear condition.
    pub(crate) fn cleared(&self, x: f64) -> bool {
        if self.above { x <= self.clear } else { x >= self.clear }
    }
}

/// A validated rule condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    Threshold { metric: Metric, bound: Bound, min_viewers: u32 },
    Rate { metric: Metric, bound: Bound, min_viewers: u32, per_ms: i64, relative: bool },
    Absence { after_ms: i64, scope: AbsenceScope },
    Anomaly { min_score: f64, metrics: Vec<Metric>, max_gap_ms: i64 },
    Impact(Box<ImpactCondition>),
}

/// A validated impact rule's condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImpactCondition {
    /// The metrics judged, each with the direction that hurts.
    pub(crate) metrics: Vec<(Metric, Direction)>,
    /// The scopes judged, in [`ImpactScope`] order.
    pub(crate) scopes: Vec<ImpactScope>,
    /// Usual deviations a scope must move.
    pub(crate) sensitivity: f64,
    /// Smallest relative move, besides the floors.
    pub(crate) min_relative: f64,
    /// How long a title that went on air is not judged.
    pub(crate) on_air_grace_ms: i64,
    /// Scopes with fewer viewers are not judged.
    pub(crate) min_viewers: u32,
    /// A scope in condition this long relearns its baseline.
    pub(crate) relearn_ms: i64,
}

/// A validated rule, built by [`RuleConfig::build`]; it cannot be invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub(crate) name: String,
    pub(crate) kind: RuleKind,
    pub(crate) severity: Option<Severity>,
    pub(crate) for_ms: i64,
    pub(crate) resolve_ms: i64,
    pub(crate) by_region: bool,
    pub(crate) by_content: bool,
    pub(crate) by_metric: bool,
    pub(crate) condition: Condition,
}

impl TryFrom<&RuleConfig> for AlertRule {
    type Error = Error;

    /// [`RuleConfig::build`] with errors naming fields under `rule`, e.g.
    /// `rule.per`.
    fn try_from(config: &RuleConfig) -> Result<Self> {
        config.build("rule")
    }
}

impl AlertRule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule's kind.
    pub fn kind(&self) -> RuleKind {
        self.kind
    }

    /// The rule's fixed severity, if it has one (otherwise its alerts'
    /// severity comes from their viewer impact).
    pub fn severity(&self) -> Option<Severity> {
        self.severity
    }

    /// The metric a value rule watches.
    pub(crate) fn metric(&self) -> Option<Metric> {
        match self.condition {
            Condition::Threshold { metric, .. } | Condition::Rate { metric, .. } => Some(metric),
            _ => None,
        }
    }
}
