//! Scoring detectors against the simulator's ground truth.
//!
//! [`evaluate`] runs the simulator with incidents, feeds every series of
//! the chosen metrics to each detector, turns scores at or above the
//! threshold into alert events (alarms on one series closer than
//! `merge_gap` are one event), and matches events to incidents: an event
//! is true when it falls on a series in an incident's scope, for one of
//! the metrics the incident moves, between its start and its end plus
//! `grace`. From that come, per detector, precision (true events / all
//! events), recall (incidents with a true event / incidents), F1, the mean
//! time from an incident's start to its first true event, and false
//! events per simulated hour.

pub mod judgment;
pub mod windowed;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::detect::{DetectorConfig, Gate};
use crate::error::{Error, Result};
use crate::monitor::Monitor;
use crate::sample::Metric;
use crate::series::SeriesKey;
use crate::simulator::{Frame, Incident, SimConfig, Simulator};
use crate::time::Span;

/// What to evaluate on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// The simulated world; give it incidents. Defaults to 24 titles at
    /// 10 s steps with 3 random incidents per hour.
    pub sim: SimConfig,
    /// Simulated time to run. Defaults to `6h`.
    pub duration: Span,
    /// Score at or above which a point is an alarm. Defaults to 0.5.
    pub threshold: f64,
    /// Series points with fewer viewers are not judged (as in production).
    /// Defaults to 20.
    pub min_viewers: f64,
    /// Metrics whose series are fed to the detectors. Defaults to the
    /// seven that incidents move.
    pub metrics: Vec<Metric>,
    /// Consecutive alarm points a series needs before they count
    /// ([`Persistence`](crate::detect::Persistence)), as an alert rule's
    /// for-duration would. Defaults to 2.
    pub persistence: u32,
    /// Alarms on one series closer than this are one event. Defaults to `5m`.
    pub merge_gap: Span,
    /// Events this long after an incident's end still count for it.
    /// Defaults to `2m`.
    pub grace: Span,
}

impl Default for EvalConfig {
    fn default() -> Self {
        let mut sim = SimConfig { titles: 24, step: Span::from_secs(10), ..SimConfig::default() };
        sim.incidents.rate_per_hour = 3.0;
        Self {
            sim,
            duration: Span::from_hours(6),
            threshold: 0.5,
            min_viewers: 20.0,
            metrics: vec![
                Metric::BufferingRatio,
                Metric::BitrateKbps,
                Metric::LatencyMs,
                Metric::StartupTimeMs,
                Metric::ErrorRate,
                Metric::Viewers,
                Metric::BandwidthMbps,
            ],
            persistence: 2,
            merge_gap: Span::from_mins(5),
            grace: Span::from_mins(2),
        }
    }
}

/// How one detector did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorScore {
    /// Registry name.
    pub detector: String,
    /// Incidents in the run.
    pub incidents: usize,
    /// Incidents with at least one true event.
    pub detected: usize,
    /// Alert events raised.
    pub events: usize,
    /// Events that match an incident.
    pub true_events: usize,
    /// `true_events / events` (1 when there are no events).
    pub precision: f64,
    /// `detected / incidents` (1 when there are no incidents).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Mean seconds from an incident's start to its first true event.
    pub mean_time_to_detect_s: Option<f64>,
    /// Events matching no incident, per simulated hour, over all series.
    pub false_events_per_hour: f64,
    /// Points fed to each detector.
    pub points: u64,
    /// Events per metric, in the order of [`EvalConfig::metrics`].
    pub by_metric: Vec<MetricEvents>,
}

/// Events a detector raised on one metric's series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricEvents {
    /// The metric.
    pub metric: Metric,
    /// Events raised.
    pub events: usize,
    /// Events that match an incident.
    pub true_events: usize,
}

/// An alarm event on one series.
#[derive(Debug, Clone)]
struct Event {
    series: SeriesKey,
    at_ms: i64,
}

/// Runs the evaluation; `progress` is called after every tick with the
/// tick number and the total.
///
/// # Errors
/// [`Error::InvalidConfig`] for an invalid simulator or detector
/// configuration, or an empty detector list.
pub fn evaluate(
    config: &EvalConfig,
    detectors: &[DetectorConfig],
    mut progress: impl FnMut(u64, u64),
) -> Result<Vec<DetectorScore>> {
    if detectors.is_empty() {
        return Err(Error::config("detectors", "name at least one detector"));
    }
    if !(config.threshold > 0.0 && config.threshold <= 1.0) {
        return Err(Error::config("threshold", format!("{} must be within (0, 1]", config.threshold)));
    }
    let mut sim = Simulator::new(config.sim.clone())?;
    // Every detector runs as in the pipeline: calibrated where it needs
    // it, gated on thin series, with persistence.
    let gate = Gate { min_weight: config.min_viewers, calibrate: true, persistence: config.persistence };
    let mut monitors = detectors
        .iter()
        .map(|d| {
            Monitor::new(d, &gate, config.metrics.clone())
                .map(|m| m.with_threshold(config.threshold).with_idle(config.duration.as_millis() as i64))
        })
        .collect::<Result<Vec<_>>>()?;
    let step = config.sim.step.as_millis();
    let ticks = config.duration.as_millis() / step;
    let merge = config.merge_gap.as_millis() as i64;
    let mut last_alarm: Vec<HashMap<SeriesKey, i64>> = detectors.iter().map(|_| HashMap::new()).collect();
    let mut events: Vec<Vec<Event>> = detectors.iter().map(|_| Vec::new()).collect();
    let mut points = 0u64;
    let mut incidents: Vec<Incident> = Vec::new();
    let mut frame = Frame::default();
    let mut anomalies = Vec::new();

    for tick in 0..ticks {
        sim.step(&mut frame);
        incidents.extend(frame.incidents_started.iter().cloned());
        points += frame
            .samples
            .iter()
            .map(|s| config.metrics.iter().filter(|&&m| s.get(m).is_some()).count() as u64)
            .sum::<u64>();
        for (d, monitor) in monitors.iter_mut().enumerate() {
            anomalies.clear();
            monitor.observe_all(&frame.samples, &mut anomalies);
            for a in anomalies.drain(..) {
                let last = last_alarm[d].insert(a.series.clone(), a.timestamp_ms);
                if last.is_none_or(|last| a.timestamp_ms - last > merge) {
                    events[d].push(Event { series: a.series, at_ms: a.timestamp_ms });
                }
            }
        }
        progress(tick + 1, ticks);
    }

    let hours = (ticks * step) as f64 / 3_600_000.0;
    let metrics = &config.metrics;
    let grace = config.grace.as_millis() as i64;
    let matches = |e: &Event, i: &Incident| {
        i.scope.contains(&e.series.content, &e.series.region)
            && i.metrics.contains(&e.series.metric)
            && e.at_ms >= i.start_ms
            && e.at_ms <= i.end_ms + grace
    };
    Ok(detectors
        .iter()
        .enumerate()
        .map(|(d, config)| {
            let events = &events[d];
            let true_events = events.iter().filter(|e| incidents.iter().any(|i| matches(e, i))).count();
            let first: Vec<i64> = incidents
                .iter()
                .filter_map(|i| events.iter().filter(|e| matches(e, i)).map(|e| e.at_ms - i.start_ms).min())
                .collect();
            let precision = if events.is_empty() { 1.0 } else { true_events as f64 / events.len() as f64 };
            let recall = if incidents.is_empty() { 1.0 } else { first.len() as f64 / incidents.len() as f64 };
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            DetectorScore {
                detector: config.name().to_owned(),
                incidents: incidents.len(),
                detected: first.len(),
                events: events.len(),
                true_events,
                precision,
                recall,
                f1,
                mean_time_to_detect_s: (!first.is_empty())
                    .then(|| first.iter().sum::<i64>() as f64 / first.len() as f64 / 1_000.0),
                false_events_per_hour: (events.len() - true_events) as f64 / hours.max(1e-9),
                points,
                by_metric: metrics
                    .iter()
                    .map(|&metric| {
                        let on: Vec<&Event> = events.iter().filter(|e| e.series.metric == metric).collect();
                        let true_events = on.iter().filter(|e| incidents.iter().any(|i| matches(e, i))).count();
                        MetricEvents { metric, events: on.len(), true_events }
                    })
                    .collect(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_finds_most_incidents_with_few_false_events() {
        let mut config = EvalConfig { duration: Span::from_hours(3), ..EvalConfig::default() };
        config.sim.titles = 12;
        config.sim.incidents.rate_per_hour = 4.0;
        let scores = evaluate(&config, &[DetectorConfig::from_name("auto").unwrap()], |_, _| {}).unwrap();
        let auto = &scores[0];
        assert!(auto.incidents >= 6, "{auto:?}");
        assert!(auto.recall >= 0.7, "{auto:?}");
        assert!(auto.mean_time_to_detect_s.unwrap() <= 120.0, "{auto:?}");
    }

    #[test]
    fn bad_configuration_is_named() {
        let err = evaluate(&EvalConfig::default(), &[], |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("detectors"));
        let config = EvalConfig { threshold: 0.0, ..EvalConfig::default() };
        let err = evaluate(&config, &[DetectorConfig::default()], |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("threshold"));
    }
}
