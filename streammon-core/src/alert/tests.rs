//! Engine behaviour: each rule kind, the lifecycle, grouping, hysteresis,
//! absence, eviction, and a property test of the for/clear guarantees.

use proptest::prelude::*;

use super::*;
use crate::content::{ContentType, RenditionId};
use crate::detect::{Anomaly, Band};
use crate::sample::{Metric, RenditionMix, SCHEMA_VERSION, Sample};
use crate::series::SeriesKey;
use crate::time::Span;

const T0: i64 = 1_767_225_600_000;
const S: i64 = 1_000;

fn sample(content: &str, region: &str, t: i64, buffering: f64, viewers: u32) -> Sample {
    Sample {
        schema: SCHEMA_VERSION,
        timestamp_ms: t,
        interval_ms: 1_000,
        content_id: content.into(),
        content_type: ContentType::Video,
        region: region.into(),
        viewers,
        joins: 0,
        exits: 0,
        avg_watch_time_s: 600.0,
        latency_ms: 40.0,
        e2e_latency_ms: None,
        startup_time_ms: 900.0,
        buffering_ratio: buffering,
        rebuffer_events: 0,
        bitrate_kbps: 4_000.0,
        rendition: RenditionId::P1080,
        renditions: RenditionMix::default(),
        segment_duration_s: 4.0,
        segment_size_kb: 2_000.0,
        bandwidth_mbps: 4.0 * f64::from(viewers),
        error_rate: 0.0,
    }
}

fn buffering_rule(for_s: u64, resolve_s: u64) -> RuleConfig {
    RuleConfig {
        metric: Some(Metric::BufferingRatio),
        above: Some(0.05),
        clear: Some(0.03),
        for_duration: Span::from_secs(for_s),
        resolve_after: Span::from_secs(resolve_s),
        ..RuleConfig::new("buffering", RuleKind::Threshold)
    }
}

fn engine(rules: Vec<RuleConfig>) -> AlertEngine {
    AlertEngine::new(&AlertConfig { rules, ..AlertConfig::default() }).unwrap()
}

/// Feeds one sample per second per (title, region) from `value(second)`,
/// evaluating after each second; returns every event.
fn run(
    e: &mut AlertEngine,
    streams: &[(&str, &str)],
    seconds: std::ops::Range<i64>,
    value: impl Fn(i64) -> f64,
) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    for i in seconds {
        let t = T0 + i * S;
        for (c, r) in streams {
            e.observe_sample(&sample(c, r, t, value(i), 500));
        }
        e.evaluate(t, &mut out);
    }
    out
}

#[test]
fn threshold_fires_after_for_duration_and_resolves_after_resolve_time() {
    let mut e = engine(vec![buffering_rule(30, 20)]);
    let streams = [("vod-1", "eu-west")];
    assert!(run(&mut e, &streams, 0..10, |_| 0.01).is_empty());
    let events = run(&mut e, &streams, 10..39, |_| 0.08);
    assert!(events.is_empty(), "29 s of violation is not 30");
    assert_eq!(e.active().next().unwrap().state, AlertState::Pending);
    let events = run(&mut e, &streams, 39..41, |_| 0.08);
    assert_eq!(events.len(), 1);
    let fired = &events[0];
    assert_eq!((fired.kind, fired.timestamp_ms), (AlertEventKind::Fired, T0 + 40 * S));
    let a = &fired.alert;
    assert_eq!(
        (a.id.as_str(), a.state, a.started_ms, a.fired_ms),
        ("alrt-000001", AlertState::Firing, T0 + 10 * S, Some(T0 + 40 * S))
    );
    assert_eq!(a.group.region.as_ref().unwrap(), "eu-west");
    assert_eq!(a.group.metric, Some(Metric::BufferingRatio));
    assert!((a.value.unwrap() - 0.08).abs() < 1e-12 && (a.baseline.unwrap() - 0.01).abs() < 1e-12);
    assert!(
        a.summary.starts_with("buffering ratio 8.0 % (expected 1.0 %, 8.0×) in eu-west across 1 title since 00:00"),
        "{}",
        a.summary
    );

    let events = run(&mut e, &streams, 41..80, |_| 0.01);
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].kind, events[0].timestamp_ms), (AlertEventKind::Resolved, T0 + 61 * S));
    assert_eq!(events[0].alert.resolved_ms, Some(T0 + 61 * S));
    assert_eq!(e.active().count(), 0);

    let events = run(&mut e, &streams, 80..120, |_| 0.08);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].alert.id, "alrt-000002", "re-firing after resolve is a new alert");
}

#[test]
fn pending_that_lapses_is_dropped_silently_and_leaves_an_id_gap() {
    let mut e = engine(vec![buffering_rule(30, 0)]);
    let streams = [("vod-1", "eu-west")];
    assert!(run(&mut e, &streams, 0..20, |_| 0.08).is_empty());
    assert!(run(&mut e, &streams, 20..21, |_| 0.01).is_empty());
    assert_eq!(e.active().count(), 0);
    let events = run(&mut e, &streams, 21..60, |_| 0.08);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].alert.id, "alrt-000002");
}

#[test]
fn hysteresis_keeps_an_oscillating_value_from_flapping() {
    let mut e = engine(vec![buffering_rule(5, 10)]);
    let streams = [("vod-1", "eu-west")];
    // Ten seconds above the threshold, ten just below it, over and over.
    let events = run(&mut e, &streams, 0..600, |i| if (i / 10) % 2 == 0 { 0.06 } else { 0.045 });
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(e.active().next().unwrap().state, AlertState::Firing);
    // Flapping below the clear level for shorter than resolve_after does not resolve either.
    let events = run(&mut e, &streams, 600..700, |i| if i % 8 < 6 { 0.02 } else { 0.06 });
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn series_of_one_group_share_one_alert_and_join_it_while_firing() {
    let mut e = engine(vec![buffering_rule(10, 10)]);
    let titles: Vec<String> = (0..40).map(|i| format!("vod-{i:03}")).collect();
    let mut streams: Vec<(&str, &str)> = Vec::new();
    for t in &titles {
        for r in ["eu-west", "us-east", "ap-south"] {
            streams.push((t, r));
        }
    }
    let mut out = Vec::new();
    for i in 0..60 {
        let t = T0 + i * S;
        for &(c, r) in &streams {
            let late = c == "vod-039";
            let bad = r == "eu-west" && i >= 20 && (!late || i >= 40);
            e.observe_sample(&sample(c, r, t, if bad { 0.09 } else { 0.01 }, 500));
        }
        e.evaluate(t, &mut out);
    }
    assert_eq!(out.len(), 1, "one CDN problem is one alert: {out:#?}");
    let fired = &out[0].alert;
    assert_eq!(fired.series_count, 39);
    assert_eq!(fired.series.len(), 10, "a bounded sample");
    assert_eq!(fired.series[0].content, "vod-000");
    let now = e.active().next().unwrap();
    assert_eq!((now.id.as_str(), now.series_count), ("alrt-000001", 40), "the late title joined");
    let cause = now.cause.as_ref().unwrap();
    assert_eq!((cause.dimension, cause.value.as_str(), cause.support), (CauseDimension::Region, "eu-west", 40));
    assert!(now.summary.contains("in eu-west across 40 titles"), "{}", now.summary);

    let mut by_title = engine(vec![RuleConfig { group_by: vec![Dimension::Content], ..buffering_rule(10, 10) }]);
    let events = run(&mut by_title, &streams, 0..30, |i| if i >= 5 { 0.09 } else { 0.01 });
    assert_eq!(events.len(), 40, "grouped by title: one alert per title");
    assert!(events[0].alert.summary.contains("on vod-000 across 3 regions"), "{}", events[0].alert.summary);
}

#[test]
fn min_viewers_gates_thin_series() {
    let mut e = engine(vec![RuleConfig { min_viewers: Some(1_000), ..buffering_rule(0, 0) }]);
    assert!(run(&mut e, &[("vod-1", "eu-west")], 0..30, |_| 0.5).is_empty());

    // Viewers fleeing a fault do not clear it: thin samples are no evidence.
    let mut e = engine(vec![RuleConfig { min_viewers: Some(100), ..buffering_rule(0, 0) }]);
    let mut out = Vec::new();
    for (i, (viewers, value)) in [(500, 0.5), (50, 0.01), (50, 0.01), (500, 0.01)].into_iter().enumerate() {
        let t = T0 + i as i64 * S;
        e.observe_sample(&sample("vod-1", "eu-west", t, value, viewers));
        e.evaluate(t, &mut out);
    }
    let kinds: Vec<_> = out.iter().map(|e| (e.kind, e.timestamp_ms - T0)).collect();
    assert_eq!(kinds, [(AlertEventKind::Fired, 0), (AlertEventKind::Resolved, 3 * S)]);
}

#[test]
fn rate_of_change_catches_an_audience_collapse() {
    let rule = RuleConfig {
        metric: Some(Metric::Viewers),
        below: Some(-0.5),
        per: Some(Span::from_mins(2)),
        min_viewers: Some(100),
        for_duration: Span::from_secs(10),
        ..RuleConfig::new("drop", RuleKind::RateOfChange)
    };
    let mut e = engine(vec![rule]);
    let mut out = Vec::new();
    for i in 0..600 {
        let t = T0 + i * S;
        let viewers = if i < 300 { 1_000 } else { 300 };
        e.observe_sample(&sample("vod-1", "eu-west", t, 0.01, viewers));
        e.evaluate(t, &mut out);
    }
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!((out[0].kind, out[0].timestamp_ms), (AlertEventKind::Fired, T0 + 310 * S));
    assert!(out[0].alert.summary.starts_with("viewers 300 (expected 1 000, 70 % lower)"), "{}", out[0].alert.summary);
    // Once the window only holds the new level the change is 0 and it clears.
    assert_eq!(out[1].kind, AlertEventKind::Resolved);
    assert!(out[1].timestamp_ms <= T0 + (300 + 120 + 60 + 1) * S);
}

#[test]
fn absence_fires_on_silence_and_resolves_when_data_returns() {
    let rule = RuleConfig {
        absent_for: Some(Span::from_mins(1)),
        for_duration: Span::from_secs(30),
        resolve_after: Span::from_secs(10),
        ..RuleConfig::new("silent", RuleKind::Absence)
    };
    let mut e = engine(vec![rule]);
    let mut out = Vec::new();
    for i in 0..400 {
        let t = T0 + i * S;
        e.observe_sample(&sample("vod-1", "eu-west", t, 0.01, 500));
        if !(100..300).contains(&i) {
            e.observe_sample(&sample("vod-2", "eu-west", t, 0.01, 500));
        }
        e.evaluate(t, &mut out);
    }
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!((out[0].kind, out[0].timestamp_ms), (AlertEventKind::Fired, T0 + (99 + 60 + 30) * S));
    assert_eq!(out[0].alert.started_ms, T0 + (99 + 60) * S);
    assert_eq!(out[0].alert.series[0].content, "vod-2");
    assert!(out[0].alert.summary.starts_with("no data for 1m in eu-west across 1 title"), "{}", out[0].alert.summary);
    assert_eq!((out[1].kind, out[1].timestamp_ms), (AlertEventKind::Resolved, T0 + 310 * S));
}

#[test]
fn title_absence_waits_for_every_region() {
    let rule = RuleConfig {
        absent_for: Some(Span::from_mins(1)),
        scope: Some(AbsenceScope::Title),
        for_duration: Span::from_millis(0),
        group_by: vec![Dimension::Content],
        ..RuleConfig::new("silent", RuleKind::Absence)
    };
    let mut e = engine(vec![rule]);
    let mut out = Vec::new();
    for i in 0..300 {
        let t = T0 + i * S;
        if i < 100 {
            e.observe_sample(&sample("vod-1", "eu-west", t, 0.01, 500));
        }
        if i < 200 {
            e.observe_sample(&sample("vod-1", "us-east", t, 0.01, 500));
        }
        e.evaluate(t, &mut out);
    }
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].timestamp_ms, T0 + (199 + 60) * S);
    assert_eq!(out[0].alert.series_count, 2);
    assert_eq!(out[0].alert.group.content.as_ref().unwrap(), "vod-1");
}

#[test]
fn anomaly_rules_follow_detector_scores() {
    let rule = RuleConfig {
        min_score: Some(0.9),
        metrics: vec![Metric::LatencyMs],
        for_duration: Span::from_secs(20),
        resolve_after: Span::from_secs(10),
        ..RuleConfig::new("odd", RuleKind::AnomalyScore)
    };
    let mut e = engine(vec![rule]);
    let anomaly = |t: i64, metric, score| Anomaly {
        timestamp_ms: t,
        series: SeriesKey::new("live-1", "us-east", metric),
        value: 400.0,
        expected: Some(Band::new(80.0, 120.0)),
        baseline: Some(100.0),
        score,
        reason: None,
        detector: "mad".into(),
        viewers: 900,
    };
    let mut out = Vec::new();
    for i in 0..200 {
        let t = T0 + i * S;
        if (10..60).contains(&i) && i % 5 != 0 {
            e.observe_anomaly(&anomaly(t, Metric::LatencyMs, 0.95));
        }
        e.observe_anomaly(&anomaly(t, Metric::LatencyMs, 0.5));
        e.observe_anomaly(&anomaly(t, Metric::BitrateKbps, 1.0));
        e.evaluate(t, &mut out);
    }
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!((out[0].kind, out[0].timestamp_ms), (AlertEventKind::Fired, T0 + 31 * S));
    assert!(
        out[0].alert.summary.starts_with("latency 400 ms (expected 100 ms, 4.0×) in us-east"),
        "{}",
        out[0].alert.summary
    );
    // Last anomaly at 59 s; the gap ends the condition at 89 s, resolve_after at 99 s.
    assert_eq!((out[1].kind, out[1].timestamp_ms), (AlertEventKind::Resolved, T0 + 99 * S));
    assert_eq!(e.stats().hot_series, 0);
}

#[test]
fn idle_series_are_forgotten_and_max_series_bounds_memory() {
    let config = AlertConfig {
        rules: vec![buffering_rule(10, 10)],
        series_idle: Span::from_mins(5),
        max_series: 500,
        ..AlertConfig::default()
    };
    let mut e = AlertEngine::new(&config).unwrap();
    let mut out = Vec::new();
    for i in 0..1_000 {
        e.observe_sample(&sample(&format!("vod-{i}"), "eu-west", T0, 0.01, 500));
    }
    let full = e.stats();
    assert_eq!((full.series, full.dropped), (500, 500));
    for i in 0..400 {
        let t = T0 + i * S;
        for c in ["vod-1", "vod-2"] {
            e.observe_sample(&sample(c, "eu-west", t, 0.01, 500));
        }
        e.evaluate(t, &mut out);
    }
    let after = e.stats();
    assert_eq!(after.series, 2);
    assert!(after.state_bytes <= full.state_bytes, "{after:?} vs {full:?}");
    assert!(full.state_bytes < 500 * 400, "{full:?}");
}

#[test]
fn alerts_serialise_with_stable_field_names() {
    let mut e = engine(vec![buffering_rule(0, 0)]);
    let events = run(&mut e, &[("vod-1", "eu-west")], 0..1, |_| 0.08);
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["kind"], "fired");
    let alert = json["alert"].as_object().unwrap();
    let keys: Vec<&str> = alert.keys().map(String::as_str).collect();
    let mut expected = vec![
        "id",
        "rule",
        "severity",
        "state",
        "started_ms",
        "fired_ms",
        "resolved_ms",
        "group",
        "series_count",
        "series",
        "value",
        "baseline",
        "cause",
        "summary",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(json["alert"]["group"], serde_json::json!({"region": "eu-west", "metric": "buffering_ratio"}));
    assert_eq!(
        json["alert"]["series"][0],
        serde_json::json!({"content": "vod-1", "region": "eu-west", "metric": "buffering_ratio"})
    );
    let back: AlertEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, events[0]);
}

proptest! {
    /// For any sequence of values: an alert fires only after `for_duration`
    /// of unbroken violation, and resolves only after `resolve_after` of
    /// unbroken clear values.
    #[test]
    fn never_fires_early_nor_resolves_while_violated(
        values in prop::collection::vec(prop_oneof![0.0..0.03f64, 0.03..0.05f64, 0.05..0.2f64], 1..400),
        for_s in 0i64..20,
        resolve_s in 0i64..20,
    ) {
        let mut e = engine(vec![buffering_rule(for_s as u64, resolve_s as u64)]);
        let mut out = Vec::new();
        for (i, &v) in values.iter().enumerate() {
            let t = T0 + i as i64 * S;
            out.clear();
            // Enough viewers that any material violation hurts more than
            // `min_impact`.
            e.observe_sample(&sample("vod-1", "eu-west", t, v, 5_000));
            e.evaluate(t, &mut out);
            for event in &out {
                let window = |secs: i64| values[..=i].iter().rev().take(secs as usize + 1);
                match event.kind {
                    AlertEventKind::Fired => {
                        prop_assert!(i as i64 >= for_s);
                        prop_assert!(window(for_s).all(|&x| x > 0.05), "fired at {} after {:?}", i, &values[..=i]);
                    }
                    AlertEventKind::Resolved => {
                        prop_assert!(window(resolve_s).all(|&x| x <= 0.03), "resolved at {} after {:?}", i, &values[..=i]);
                    }
                }
            }
        }
    }
}

#[test]
fn labels_are_words() {
    for m in Metric::ALL {
        let label = metric_label(m);
        assert!(!label.contains('_'), "{label}");
    }
    assert_eq!(metric_label(Metric::BufferingRatio), "buffering ratio");
}

#[test]
fn group_key_omits_absent_dimensions() {
    let key = GroupKey { region: Some("eu-west".into()), metric: Some(Metric::ErrorRate), content: None };
    assert_eq!(serde_json::to_string(&key).unwrap(), r#"{"region":"eu-west","metric":"error_rate"}"#);
    assert_eq!(serde_json::to_string(&Severity::Critical).unwrap(), r#""critical""#);
    assert_eq!(AlertState::Firing.to_string(), "firing");
}

/// Issue 18: a restarted engine numbers its alerts after the last run's,
/// and carries on the alerts it left open once it holds them again; the
/// ones that no longer stand resolve.
#[test]
fn a_restarted_engine_continues_ids_and_adopts_the_alerts_left_open() {
    let streams = [("vod-1", "eu-west")];
    let mut before = engine(vec![buffering_rule(10, 20)]);
    let events = run(&mut before, &streams, 0..60, |_| 0.2);
    let left: Vec<Alert> = before.active().cloned().collect();
    assert_eq!((left.len(), left[0].state), (1, AlertState::Firing), "{events:?}");
    let elsewhere = Alert {
        id: "alrt-000042".into(),
        group: GroupKey { region: Some("us-east".into()), ..left[0].group.clone() },
        ..left[0].clone()
    };

    // The new run warms up on the last 20 s of history: the same group
    // firing again, numbered after the old ids.
    let mut after = engine(vec![buffering_rule(10, 20)]);
    after.continue_ids_after(left.iter().chain([&elsewhere]));
    let warmup = run(&mut after, &streams, 40..60, |_| 0.2);
    assert!(warmup.iter().all(|e| e.alert.id == "alrt-000043"), "after the highest id seen: {warmup:?}");
    assert_eq!(after.active().count(), 1);
    let ended = after.adopt(&[left[0].clone(), elsewhere.clone()], T0 + 60 * S);
    let held: Vec<&Alert> = after.active().collect();
    assert_eq!(held[0].id, left[0].id, "takes back its id");
    assert_eq!(
        (held[0].state, held[0].fired_ms, held[0].started_ms),
        (AlertState::Firing, left[0].fired_ms, left[0].started_ms)
    );
    assert_eq!(ended.len(), 1, "the alert that no longer stands resolves");
    assert_eq!((ended[0].kind, ended[0].alert.id.as_str()), (AlertEventKind::Resolved, "alrt-000042"));
    assert_eq!(ended[0].alert.resolved_ms, Some(T0 + 60 * S));

    // Carried on, it resolves like any alert, with its old id, and fires no
    // second time.
    let events = run(&mut after, &streams, 60..120, |i| if i < 70 { 0.2 } else { 0.0 });
    assert!(events.iter().all(|e| e.kind == AlertEventKind::Resolved), "{events:?}");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].alert.id, left[0].id);
}
