//! Scoring the server's own judgment: the whole [`Pipeline`] (detectors,
//! floors, alert rules), as `streammon serve` runs it, against the
//! simulator's incidents.
//!
//! Per-detector scores ([`evaluate`](super::evaluate)) count point alarms;
//! an operator is paged by alerts. [`judge`] runs the pipeline twice over
//! the same simulated world: once with no incident, to count the alerts
//! that fire and the anomaly events that reach the feed on a healthy day,
//! and once with random incidents, to measure how many incidents raise a
//! firing alert, how fast, how many fired alerts belong to an incident,
//! and whether their cause hint names the incident's region or title.
//!
//! # Matching
//! An alert *belongs* to an incident when it was active (from its start to
//! its resolution, or the end of the run) at some time between the
//! incident's start and `grace` after its end, and its scope lies within
//! the incident's: a region incident's region (a region alert, or a
//! title's alert in that region), a title incident's title (a title alert,
//! or that title in one region, in the incident's region when it has
//! one). An incident is *alerted* when an alert that belongs to it fired
//! before `grace` after its end; its time to alert runs from its start to
//! the first such firing (0 when one was already firing). The cause hint
//! *names* the incident when it is `{region: R}` for a region incident in
//! R, or `{content: T}` for a title incident on T.
//!
//! ```no_run
//! use streammon_core::eval::judgment::{JudgmentConfig, judge};
//! let report = judge(&JudgmentConfig::default(), |_, _| {})?;
//! println!("{} alerts on a quiet day", report.quiet.alerts_fired);
//! # Ok::<(), streammon_core::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertEventKind, CauseDimension};
use crate::error::{Error, Result};
use crate::pipeline::{Pipeline, PipelineConfig, TickOutput};
use crate::simulator::{Frame, Incident, IncidentKind, SimConfig, Simulator};
use crate::time::Span;

/// What to judge on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgmentConfig {
    /// The simulated world, without incidents: the quiet run uses it as
    /// is, the incident run adds random incidents at `incident_rate`.
    /// Defaults to the default catalogue (48 titles) at 10 s steps.
    pub sim: SimConfig,
    /// The pipeline, as the server runs it. Defaults to
    /// [`PipelineConfig::default`].
    pub pipeline: PipelineConfig,
    /// Simulated time of each run. Defaults to `24h`.
    pub duration: Span,
    /// Random incidents per simulated hour in the incident run. Defaults
    /// to 2.
    pub incident_rate: f64,
    /// How long after an incident's end an alert still belongs to it (its
    /// effect draining away). Defaults to `2m`.
    pub grace: Span,
}

impl Default for JudgmentConfig {
    fn default() -> Self {
        let mut sim = SimConfig { step: Span::from_secs(10), ..SimConfig::default() };
        sim.incidents.rate_per_hour = 0.0;
        Self {
            sim,
            pipeline: PipelineConfig::default(),
            duration: Span::from_hours(24),
            incident_rate: 2.0,
            grace: Span::from_mins(2),
        }
    }
}

/// The healthy day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuietRun {
    /// Simulated hours.
    pub hours: f64,
    /// Alerts that fired.
    pub alerts_fired: usize,
    /// `anomaly_alert` events of kind `anomaly` the feed carried.
    pub anomaly_events: usize,
    /// The summaries of the alerts that fired (at most 20).
    pub examples: Vec<String>,
}

/// How one kind of incident was caught.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindScore {
    /// The kind.
    pub kind: IncidentKind,
    /// Incidents of that kind.
    pub incidents: usize,
    /// Of them, alerted.
    pub alerted: usize,
    /// Median seconds from start to the first alert, over those alerted.
    pub median_time_to_alert_s: Option<f64>,
}

/// The day with incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRun {
    /// Simulated hours.
    pub hours: f64,
    /// Incidents that started.
    pub incidents: usize,
    /// Incidents that raised a firing alert.
    pub alerted: usize,
    /// `alerted / incidents` (1 with no incident).
    pub alerted_share: f64,
    /// Median seconds from an incident's start to its first firing alert.
    pub median_time_to_alert_s: Option<f64>,
    /// 95th percentile of the same.
    pub p95_time_to_alert_s: Option<f64>,
    /// Alerts that fired.
    pub alerts_fired: usize,
    /// Of them, those that belong to an incident.
    pub alerts_on_incidents: usize,
    /// `alerts_on_incidents / alerts_fired` (1 with none fired).
    pub precision: f64,
    /// Of the alerts on incidents, those whose cause hint names the
    /// incident's region or title.
    pub cause_named: usize,
    /// `cause_named / alerts_on_incidents` (1 with none).
    pub cause_share: f64,
    /// `anomaly_alert` events of kind `anomaly` the feed carried.
    pub anomaly_events: usize,
    /// Per kind of incident.
    pub by_kind: Vec<KindScore>,
    /// Incidents no alert caught, as `id kind scope`.
    pub missed: Vec<String>,
    /// Summaries of alerts that belong to no incident (at most 20).
    pub false_alerts: Vec<String>,
}

/// Both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgmentReport {
    /// Seed of the simulated world.
    pub seed: u64,
    /// Titles in the catalogue.
    pub titles: usize,
    /// Seconds per tick.
    pub step_s: f64,
    /// Without incidents.
    pub quiet: QuietRun,
    /// With random incidents.
    pub incidents: IncidentRun,
}

/// What a run produced: every alert that fired, in its final state, the
/// incidents, the anomaly events, and when it ended.
struct Run {
    alerts: Vec<Alert>,
    incidents: Vec<Incident>,
    anomaly_events: usize,
    end_ms: i64,
}

fn run(sim: &SimConfig, pipeline: &PipelineConfig, ticks: u64, progress: &mut dyn FnMut(u64)) -> Result<Run> {
    let mut simulator = Simulator::new(sim.clone())?;
    let mut p = Pipeline::new(pipeline)?;
    for r in simulator.regions() {
        p.set_capacity(r.id.clone(), r.capacity_gbps * 1_000.0);
    }
    let (mut frame, mut out) = (Frame::default(), TickOutput::default());
    let mut fired: Vec<Alert> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let (mut incidents, mut anomaly_events) = (Vec::new(), 0);
    for tick in 1..=ticks {
        simulator.step(&mut frame);
        incidents.extend(frame.incidents_started.iter().cloned());
        p.process(&frame, &mut out);
        anomaly_events += out.anomalies.len();
        for e in &out.alert_events {
            match e.kind {
                AlertEventKind::Fired => {
                    index.insert(e.alert.id.clone(), fired.len());
                    fired.push(e.alert.clone());
                }
                AlertEventKind::Resolved => {
                    if let Some(&i) = index.get(&e.alert.id) {
                        fired[i] = e.alert.clone();
                    }
                }
            }
        }
        progress(tick);
    }
    Ok(Run { alerts: fired, incidents, anomaly_events, end_ms: frame.timestamp_ms })
}

/// Whether `alert`'s scope lies within `incident`'s.
fn within(alert: &Alert, incident: &Incident) -> bool {
    let g = &alert.group;
    match (&incident.scope.region, &incident.scope.content) {
        (Some(r), None) => g.region.as_ref() == Some(r),
        (region, Some(c)) => {
            g.content.as_ref() == Some(c) && region.as_ref().is_none_or(|r| g.region.as_ref().is_none_or(|x| x == r))
        }
        (None, None) => false,
    }
}

/// Whether `alert` belongs to `incident`: in its scope and active while
/// it was (with `grace` after its end).
fn belongs(alert: &Alert, incident: &Incident, grace_ms: i64, end_ms: i64) -> bool {
    let active_until = alert.resolved_ms.unwrap_or(end_ms);
    within(alert, incident) && alert.started_ms <= incident.end_ms + grace_ms && active_until >= incident.start_ms
}

/// Whether the alert's cause hint names the incident's region or title.
fn names(alert: &Alert, incident: &Incident) -> bool {
    let Some(cause) = &alert.cause else { return false };
    match (&incident.scope.region, &incident.scope.content) {
        (_, Some(c)) => cause.dimension == CauseDimension::Content && cause.value == c.as_str(),
        (Some(r), None) => cause.dimension == CauseDimension::Region && cause.value == r.as_str(),
        (None, None) => false,
    }
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

/// Runs the pipeline over a quiet day and a day with incidents and scores
/// its alerts. `progress(done, total)` is called after every tick of both
/// runs.
///
/// # Errors
/// [`Error::InvalidConfig`] naming the field when the configuration is
/// invalid (`duration` shorter than a tick, a negative `incident_rate`,
/// or an invalid simulator or pipeline).
pub fn judge(config: &JudgmentConfig, mut progress: impl FnMut(u64, u64)) -> Result<JudgmentReport> {
    let step = config.sim.step.as_millis().max(1);
    let ticks = config.duration.as_millis() / step;
    if ticks == 0 {
        return Err(Error::config("duration", format!("{} is shorter than one tick", config.duration)));
    }
    if !(config.incident_rate.is_finite() && config.incident_rate >= 0.0) {
        return Err(Error::config("incident_rate", format!("{} must be at least 0", config.incident_rate)));
    }
    let hours = (ticks * step) as f64 / 3_600_000.0;
    let grace = config.grace.as_millis() as i64;

    let mut quiet_sim = config.sim.clone();
    quiet_sim.incidents.rate_per_hour = 0.0;
    quiet_sim.incidents.scripted.clear();
    let quiet = run(&quiet_sim, &config.pipeline, ticks, &mut |t| progress(t, 2 * ticks))?;

    let mut busy_sim = config.sim.clone();
    busy_sim.incidents.rate_per_hour = config.incident_rate;
    let busy = run(&busy_sim, &config.pipeline, ticks, &mut |t| progress(ticks + t, 2 * ticks))?;

    let mut times = Vec::new();
    let mut by_kind: Vec<KindScore> = Vec::new();
    let mut missed = Vec::new();
    let mut kind_times: Vec<Vec<f64>> = Vec::new();
    for incident in &busy.incidents {
        let first = busy
            .alerts
            .iter()
            .filter(|a| belongs(a, incident, grace, busy.end_ms))
            .filter_map(|a| a.fired_ms)
            .filter(|&f| f <= incident.end_ms + grace)
            .min();
        let k = match by_kind.iter().position(|s| s.kind == incident.kind) {
            Some(k) => k,
            None => {
                by_kind.push(KindScore { kind: incident.kind, incidents: 0, alerted: 0, median_time_to_alert_s: None });
                kind_times.push(Vec::new());
                by_kind.len() - 1
            }
        };
        by_kind[k].incidents += 1;
        match first {
            Some(f) => {
                let t = (f - incident.start_ms).max(0) as f64 / 1_000.0;
                times.push(t);
                kind_times[k].push(t);
                by_kind[k].alerted += 1;
            }
            None => missed.push(format!("{} {} {:?}", incident.id, incident.kind, incident.scope)),
        }
    }
    times.sort_by(f64::total_cmp);
    for (s, t) in by_kind.iter_mut().zip(kind_times.iter_mut()) {
        t.sort_by(f64::total_cmp);
        s.median_time_to_alert_s = percentile(t, 0.5);
    }
    by_kind.sort_by_key(|s| s.kind);

    let mut on_incidents = 0;
    let mut cause_named = 0;
    let mut false_alerts = Vec::new();
    for alert in &busy.alerts {
        let mine: Vec<&Incident> = busy.incidents.iter().filter(|i| belongs(alert, i, grace, busy.end_ms)).collect();
        if mine.is_empty() {
            if false_alerts.len() < 20 {
                false_alerts.push(alert.summary.clone());
            }
            continue;
        }
        on_incidents += 1;
        if mine.iter().any(|i| names(alert, i)) {
            cause_named += 1;
        }
    }
    let alerted = times.len();
    Ok(JudgmentReport {
        seed: config.sim.seed,
        titles: config.sim.titles,
        step_s: step as f64 / 1_000.0,
        quiet: QuietRun {
            hours,
            alerts_fired: quiet.alerts.len(),
            anomaly_events: quiet.anomaly_events,
            examples: quiet.alerts.iter().take(20).map(|a| a.summary.clone()).collect(),
        },
        incidents: IncidentRun {
            hours,
            incidents: busy.incidents.len(),
            alerted,
            alerted_share: ratio(alerted, busy.incidents.len()),
            median_time_to_alert_s: percentile(&times, 0.5),
            p95_time_to_alert_s: percentile(&times, 0.95),
            alerts_fired: busy.alerts.len(),
            alerts_on_incidents: on_incidents,
            precision: ratio(on_incidents, busy.alerts.len()),
            cause_named,
            cause_share: ratio(cause_named, on_incidents),
            anomaly_events: busy.anomaly_events,
            by_kind,
            missed,
            false_alerts,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two hours of a small catalogue: the quiet run raises nothing and
    /// the incidents are caught, named and quick. The full day of the
    /// issue's acceptance runs in `tests/judgment.rs`.
    #[test]
    fn a_short_run_is_quiet_when_healthy_and_catches_incidents() {
        let mut config = JudgmentConfig { duration: Span::from_hours(2), incident_rate: 6.0, ..Default::default() };
        config.sim.titles = 16;
        config.sim.seed = 3;
        let report = judge(&config, |_, _| {}).unwrap();
        assert_eq!(report.quiet.alerts_fired, 0, "{:?}", report.quiet.examples);
        let r = &report.incidents;
        assert!(r.incidents >= 5, "{r:?}");
        assert!(r.alerted_share >= 0.8, "{r:?}");
        assert!(r.precision >= 0.8 && r.cause_share >= 0.8, "{r:?}");
        assert!(r.median_time_to_alert_s.is_some_and(|t| t <= 60.0), "{r:?}");
    }

    #[test]
    fn a_run_shorter_than_a_tick_is_refused() {
        let config = JudgmentConfig { duration: Span::from_secs(1), ..Default::default() };
        assert!(judge(&config, |_, _| {}).unwrap_err().to_string().contains("`duration`"));
    }
}
