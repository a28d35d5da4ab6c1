//! The engine's configuration: the rule list and the bounds on its memory.

use serde::{Deserialize, Serialize};

use super::rule::{AlertRule, Condition, RuleConfig, RuleKind};
use super::{Dimension, Severity};
use crate::error::{Error, Result};
use crate::sample::Metric;
use crate::time::Span;

/// Everything an [`AlertEngine`](super::AlertEngine) is built from.
///
/// ```
/// use streammon_core::alert::{AlertConfig, AlertEngine};
/// let config: AlertConfig = serde_json::from_str(r#"{"rules": [
///     {"name": "buffering", "kind": "threshold", "metric": "buffering_ratio", "above": 0.05}
/// ]}"#)?;
/// let engine = AlertEngine::new(&config)?;
/// assert_eq!(engine.active().count(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// The rules, with unique names. Defaults to
    /// [`AlertConfig::recommended_rules`].
    pub rules: Vec<RuleConfig>,
    /// A series (title in a region) not seen for this long is forgotten,
    /// with all its rule state; it must exceed every absence rule's
    /// `absent_for` plus `for_duration`. Defaults to `15m`.
    pub series_idle: Span,
    /// At most this many series are followed at once; samples of further
    /// new series are dropped and counted until old ones are forgotten.
    /// Defaults to 1 000 000.
    pub max_series: usize,
    /// At most this many series keys are listed in an alert. Defaults to 10.
    pub sample_series: usize,
    /// Half-life of the per-series EWMA baseline, updated while the series
    /// is quiet. Defaults to `30m`.
    pub baseline_half_life: Span,
    /// A root-cause hint needs at least this many affected series sharing
    /// the value. Defaults to 3.
    pub min_support: usize,
    /// Viewer impact ([`Impact::score`](super::Impact)) from which an
    /// alert without a severity of its own is `warning`. Defaults to 100.
    pub impact_warning: f64,
    /// Viewer impact from which it is `critical`. Defaults to 1 000.
    pub impact_critical: f64,
    /// Smallest viewer impact ([`Impact::score`](super::Impact)) with
    /// which an alert may fire: below it, it stays pending, whatever its
    /// rule says. Defaults to 10 (ten viewers fully hurt, or a thousand
    /// buffering 1 % more of the time).
    pub min_impact: f64,
    /// Half-life of an impact rule's baselines (each scope's level and
    /// spread, learned while it is quiet). Defaults to `3m`.
    pub impact_half_life: Span,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            rules: Self::recommended_rules(),
            series_idle: Span::from_mins(15),
            max_series: 1_000_000,
            sample_series: 10,
            baseline_half_life: Span::from_mins(30),
            min_support: 3,
            impact_warning: 100.0,
            impact_critical: 1_000.0,
            min_impact: 10.0,
            impact_half_life: Span::from_mins(3),
        }
    }
}

impl AlertConfig {
    /// A starting rule set that fires on viewer impact, not on noise:
    /// viewers of a region, a title or a title in one region materially
    /// worse off (buffering, errors, latency, startup time, bitrate, lost
    /// audience) for 20 s; an audience surge; silent streams.
    pub fn recommended_rules() -> Vec<RuleConfig> {
        vec![
            RuleConfig {
                metrics: vec![
                    Metric::BufferingRatio,
                    Metric::ErrorRate,
                    Metric::LatencyMs,
                    Metric::StartupTimeMs,
                    Metric::BitrateKbps,
                ],
                for_duration: Span::from_secs(20),
                ..RuleConfig::new("viewers_hurt", RuleKind::Impact)
            },
            RuleConfig {
                metrics: vec![Metric::Viewers],
                direction: Some(super::Direction::Up),
                min_relative: Some(0.5),
                on_air_grace: Some(Span::from_mins(30)),
                for_duration: Span::from_secs(20),
                severity: Some(Severity::Warning),
                ..RuleConfig::new("audience_surge", RuleKind::Impact)
            },
            RuleConfig {
                absent_for: Some(Span::from_mins(5)),
                severity: Some(Severity::Info),
                group_by: vec![Dimension::Region],
                ..RuleConfig::new("stream_silent", RuleKind::Absence)
            },
        ]
    }

    /// Validates every field and rule.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first offending field, e.g.
    /// `rules[2].per` or `series_idle`.
    pub fn build_rules(&self) -> Result<Vec<AlertRule>> {
        if self.max_series == 0 {
            return Err(Error::config("max_series", "must be above 0"));
        }
        if self.baseline_half_life.as_millis() == 0 {
            return Err(Error::config("baseline_half_life", "must be above 0"));
        }
        if self.min_support == 0 {
            return Err(Error::config("min_support", "must be above 0"));
        }
        if !(self.impact_warning.is_finite() && self.impact_warning >= 0.0) {
            return Err(Error::config("impact_warning", format!("{} must be at least 0", self.impact_warning)));
        }
        if !(self.impact_critical.is_finite() && self.impact_critical >= self.impact_warning) {
            return Err(Error::config(
                "impact_critical",
                format!("{} must be at least impact_warning ({})", self.impact_critical, self.impact_warning),
            ));
        }
        if !(self.min_impact.is_finite() && self.min_impact >= 0.0) {
            return Err(Error::config("min_impact", format!("{} must be at least 0", self.min_impact)));
        }
        if self.impact_half_life.as_millis() < 1_000 {
            return Err(Error::config("impact_half_life", format!("{} must be at least 1s", self.impact_half_life)));
        }
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, config) in self.rules.iter().enumerate() {
            let field = format!("rules[{i}]");
            let rule = config.build(&field)?;
            if self.rules[..i].iter().any(|r| r.name == config.name) {
                return Err(Error::config(format!("{field}.name"), format!("{:?} appears twice", config.name)));
            }
            if let Condition::Absence { after_ms, .. } = rule.condition {
                let needed = after_ms + rule.for_ms;
                if self.series_idle.as_millis() as i64 <= needed {
                    return Err(Error::config(
                        "series_idle",
                        format!(
                            "{} must exceed absent_for + for_duration of {field} ({}), or its series are \
                             forgotten before it can fire",
                            self.series_idle,
                            Span::from_millis(needed as u64)
                        ),
                    ));
                }
            }
            rules.push(rule);
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold() -> RuleConfig {
        RuleConfig {
            metric: Some(Metric::BufferingRatio),
            above: Some(0.05),
            ..RuleConfig::new("b", RuleKind::Threshold)
        }
    }

    fn error_of(rules: Vec<RuleConfig>) -> String {
        let config = AlertConfig { rules, ..AlertConfig::default() };
        config.build_rules().unwrap_err().to_string()
    }

    #[test]
    fn recommended_rules_are_valid() {
        assert_eq!(AlertConfig::default().build_rules().unwrap().len(), 3);
    }

    #[test]
    fn errors_name_the_field() {
        let mut bad_for =
            RuleConfig { absent_for: Some(Span::from_mins(20)), ..RuleConfig::new("a", RuleKind::Absence) };
        bad_for.for_duration = Span::from_mins(1);
        let cases: Vec<(RuleConfig, &str)> = vec![
            (RuleConfig { name: " ".into(), ..threshold() }, "rules[2].name"),
            (RuleConfig { metric: None, ..threshold() }, "rules[2].metric"),
            (RuleConfig { above: None, ..threshold() }, "rules[2].above"),
            (RuleConfig { below: Some(0.1), ..threshold() }, "rules[2].below"),
            (RuleConfig { clear: Some(0.06), ..threshold() }, "rules[2].clear"),
            (RuleConfig { hysteresis: Some(1.0), ..threshold() }, "rules[2].hysteresis"),
            (RuleConfig { per: Some(Span::from_mins(1)), ..threshold() }, "rules[2].per"),
            (RuleConfig { max_gap: Some(Span::from_mins(1)), ..threshold() }, "rules[2].max_gap"),
            (RuleConfig { group_by: vec![Dimension::Region, Dimension::Region], ..threshold() }, "rules[2].group_by"),
            (RuleConfig { kind: RuleKind::RateOfChange, ..threshold() }, "rules[2].per"),
            (RuleConfig::new("a", RuleKind::Absence), "rules[2].absent_for"),
            (RuleConfig { min_score: Some(0.0), ..RuleConfig::new("a", RuleKind::AnomalyScore) }, "rules[2].min_score"),
            (RuleConfig { name: "x".into(), ..threshold() }, "rules[2].name"),
            (bad_for, "series_idle"),
        ];
        for (rule, field) in cases {
            let first = RuleConfig { name: "x".into(), ..threshold() };
            let err = error_of(vec![first, RuleConfig { name: "y".into(), ..threshold() }, rule]);
            assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
        }
        let rate = RuleConfig { kind: RuleKind::RateOfChange, ..threshold() };
        let err = AlertRule::try_from(&rate).unwrap_err().to_string();
        assert!(err.contains("`rule.per`"), "{err}");
        let err = AlertConfig { max_series: 0, ..AlertConfig::default() }.build_rules().unwrap_err();
        assert!(err.to_string().contains("`max_series`"));
    }

    #[test]
    fn config_reads_toml_like_json_and_refuses_unknown_fields() {
        let json = r#"{
            "series_idle": "20m",
            "rules": [
                {"name": "buffering", "kind": "threshold", "metric": "buffering_ratio", "above": 0.05,
                 "clear": 0.03, "min_viewers": 50, "for_duration": "2m", "severity": "critical",
                 "group_by": ["region", "metric"]},
                {"name": "drop", "kind": "rate_of_change", "metric": "viewers", "below": -0.5, "per": "2m"},
                {"name": "silent", "kind": "absence", "for": "5m", "scope": "title", "group_by": ["content"]},
                {"name": "odd", "kind": "anomaly_score", "min_score": 0.9, "metrics": ["latency_ms"]}
            ]
        }"#;
        let config: AlertConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.rules.len(), 4);
        assert_eq!(config.rules[0].clear, Some(0.03));
        assert_eq!(config.rules[2].absent_for, Some(Span::from_mins(5)));
        assert_eq!(config.rules[1].resolve_after, Span::from_mins(1));
        assert_eq!(config.build_rules().unwrap()[1].kind(), RuleKind::RateOfChange);
        let round = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<AlertConfig>(&round).unwrap(), config);

        let unknown = r#"{"rules": [{"name": "b", "kind": "threshold", "metric": "viewers", "abov": 1}]}"#;
        let err = serde_json::from_str::<AlertConfig>(unknown).unwrap_err().to_string();
        assert!(err.contains("unknown field `abov`"), "{err}");
        let err = serde_json::from_str::<AlertConfig>(r#"{"rulez": []}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `rulez`"), "{err}");
        let err = serde_json::from_str::<AlertConfig>(r#"{"rules": [{"kind": "threshold"}]}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `name`"), "{err}");
    }

    #[test]
    fn hysteresis_sets_the_clear_level_on_the_safe_side() {
        let rule = threshold().build("r").unwrap();
        let Condition::Threshold { bound, .. } = rule.condition else { panic!("{rule:?}") };
        assert!((bound.clear - 0.045).abs() < 1e-12);
        assert!(bound.violated(0.051) && !bound.violated(0.05) && !bound.cleared(0.046) && bound.cleared(0.045));
        let drop = RuleConfig {
            metric: Some(Metric::Viewers),
            below: Some(-0.5),
            per: Some(Span::from_mins(2)),
            hysteresis: Some(0.2),
            ..RuleConfig::new("d", RuleKind::RateOfChange)
        };
        let Condition::Rate { bound, .. } = drop.build("r").unwrap().condition else { panic!() };
        assert!((bound.clear - -0.4).abs() < 1e-12);
        assert!(bound.violated(-0.6) && bound.cleared(-0.4) && !bound.cleared(-0.45));
    }
}
