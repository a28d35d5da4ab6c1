//! The alert engine against the simulator, through the public API: a CDN
//! degradation is one alert naming its region, an origin outage names its
//! title, and a healthy service raises nothing.

use streammon_core::alert::{AlertEventKind, CauseDimension, Dimension, RuleKind};
use streammon_core::{
    AlertConfig, AlertEngine, AlertEvent, AlertState, Frame, IncidentConfig, Metric, RuleConfig, SimConfig, Simulator,
    Span,
};

/// Runs `minutes` of simulated time through the engine, evaluating after
/// every tick; returns the events and the simulator's incidents as
/// (start, end) pairs.
fn simulate(sim: SimConfig, alerts: &AlertConfig, minutes: u64) -> (Vec<AlertEvent>, Vec<(i64, i64)>) {
    let step = sim.step.as_millis();
    let mut sim = Simulator::new(sim).unwrap();
    let mut engine = AlertEngine::new(alerts).unwrap();
    let (mut frame, mut events, mut incidents) = (Frame::default(), Vec::new(), Vec::new());
    for _ in 0..minutes * 60_000 / step {
        sim.step(&mut frame);
        frame.changes.iter().for_each(|c| engine.observe_change(c));
        frame.samples.iter().for_each(|s| engine.observe_sample(s));
        engine.evaluate(frame.timestamp_ms, &mut events);
        incidents.extend(frame.incidents_started.iter().map(|i| (i.start_ms, i.end_ms)));
    }
    (events, incidents)
}

fn with_incident(script: &str) -> SimConfig {
    SimConfig {
        seed: 7,
        step: Span::from_secs(5),
        incidents: IncidentConfig { scripted: vec![script.parse().unwrap()], ..IncidentConfig::default() },
        ..SimConfig::default()
    }
}

fn threshold(name: &str, metric: Metric, above: f64) -> RuleConfig {
    RuleConfig {
        metric: Some(metric),
        above: Some(above),
        min_viewers: Some(20),
        ..RuleConfig::new(name, RuleKind::Threshold)
    }
}

#[test]
fn a_cdn_degradation_is_one_alert_naming_its_region() {
    let rule = threshold("buffering", Metric::BufferingRatio, 0.02);
    let config = AlertConfig { rules: vec![rule], ..AlertConfig::default() };
    let (events, incidents) = simulate(with_incident("cdn_degradation:eu-west@30m+15m*1.0"), &config, 60);
    let (start, end) = incidents[0];

    let fired: Vec<_> = events.iter().filter(|e| e.kind == AlertEventKind::Fired).collect();
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let alert = &fired[0].alert;
    assert_eq!(alert.group.region.as_ref().unwrap(), "eu-west");
    let fired_ms = alert.fired_ms.unwrap();
    assert!(fired_ms >= start + 60_000 && fired_ms < end, "fired {fired_ms} for an incident {start}..{end}");
    assert!(alert.started_ms >= start);
    let cause = alert.cause.as_ref().expect("a root-cause hint");
    assert_eq!((cause.dimension, cause.value.as_str()), (CauseDimension::Region, "eu-west"));
    assert!(alert.series_count >= 5, "{alert:#?}");
    assert!(alert.summary.contains("eu-west") && alert.summary.contains("titles"), "{}", alert.summary);
    assert!(alert.summary.starts_with("buffering ratio "), "{}", alert.summary);

    let resolved: Vec<_> = events.iter().filter(|e| e.kind == AlertEventKind::Resolved).collect();
    assert_eq!(resolved.len(), 1, "{resolved:#?}");
    assert_eq!(resolved[0].alert.id, alert.id);
    assert_eq!(resolved[0].alert.state, AlertState::Resolved);
    let resolved_ms = resolved[0].alert.resolved_ms.unwrap();
    assert!(resolved_ms >= end && resolved_ms <= end + 5 * 60_000, "resolved {resolved_ms}, incident ended {end}");
}

#[test]
fn an_origin_outage_names_its_title_across_regional_alerts() {
    let rule = threshold("errors", Metric::ErrorRate, 0.05);
    let config = AlertConfig { rules: vec![rule], ..AlertConfig::default() };
    let (events, incidents) = simulate(with_incident("origin_outage:vod-000003@30m+15m"), &config, 60);
    let (start, end) = incidents[0];
    let fired: Vec<_> = events.iter().filter(|e| e.kind == AlertEventKind::Fired).collect();
    assert!(fired.len() >= 3, "one alert per region the title plays in: {fired:#?}");
    for event in &fired {
        let alert = &event.alert;
        assert!((start..end).contains(&alert.fired_ms.unwrap()));
        assert_eq!(alert.series[0].content, "vod-000003");
        let cause = alert.cause.as_ref().expect("a hint from the alerts firing together");
        assert_eq!((cause.dimension, cause.value.as_str()), (CauseDimension::Content, "vod-000003"));
        assert!(alert.summary.contains("on vod-000003 in "), "{}", alert.summary);
    }
    let resolved: Vec<_> = events.iter().filter(|e| e.kind == AlertEventKind::Resolved).collect();
    assert_eq!(resolved.len(), fired.len());
    for event in resolved {
        let at = event.alert.resolved_ms.unwrap();
        assert!(at >= end && at <= end + 5 * 60_000, "{} resolved at {at}, outage ended {end}", event.alert.id);
    }

    // Grouped by metric alone, the same outage is one alert over every region.
    let rule = RuleConfig { group_by: vec![Dimension::Metric], ..threshold("errors", Metric::ErrorRate, 0.05) };
    let config = AlertConfig { rules: vec![rule], ..AlertConfig::default() };
    let (events, _) = simulate(with_incident("origin_outage:vod-000003@30m+15m"), &config, 50);
    let fired: Vec<_> = events.iter().filter(|e| e.kind == AlertEventKind::Fired).collect();
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0].alert.cause.as_ref().unwrap().value, "vod-000003");
    assert!(fired[0].alert.summary.contains("regions"), "{}", fired[0].alert.summary);
}

#[test]
fn a_healthy_service_raises_nothing_under_the_recommended_rules() {
    let sim = SimConfig { seed: 11, step: Span::from_secs(10), titles: 120, ..SimConfig::default() };
    let (events, _) = simulate(sim, &AlertConfig::default(), 4 * 60);
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn rule_sets_read_from_configuration() {
    let config: AlertConfig = serde_json::from_str(
        r#"{"series_idle": "30m", "rules": [
            {"name": "buffering", "kind": "threshold", "metric": "buffering_ratio", "above": 0.05,
             "severity": "critical", "for_duration": "2m"},
            {"name": "silent", "kind": "absence", "for": "10m", "scope": "title", "group_by": ["content"]}
        ]}"#,
    )
    .unwrap();
    let engine = AlertEngine::new(&config).unwrap();
    let names: Vec<&str> = engine.rules().map(|r| r.name()).collect();
    assert_eq!(names, ["buffering", "silent"]);

    let too_short = AlertConfig { series_idle: Span::from_mins(5), ..config };
    let err = AlertEngine::new(&too_short).unwrap_err().to_string();
    assert!(err.contains("`series_idle`") && err.contains("rules[1]"), "{err}");
}
