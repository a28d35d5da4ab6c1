//! From a processed tick to everything that shows it: the live view behind
//! the REST API, the Prometheus gauges, and the Socket.IO events.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use streammon_core::alert::AlertEventKind;
use streammon_core::pipeline::{Pipeline, TickOutput};
use streammon_core::{AlertState, Sample};

use crate::realtime::{Hub, Outgoing};
use crate::state::{AppState, HistoryEntry, RECENT_EVENTS};
use crate::wire::{AnomalyAlert, ContentChangeEvent, MetricsUpdate};

/// Publishes ticks. Owned by the task that runs the pipeline.
#[derive(Debug)]
pub struct Publisher {
    state: AppState,
    hub: Option<Hub>,
    seq: u64,
    alerts: Vec<AnomalyAlert>,
    changes: Vec<ContentChangeEvent>,
}

impl Publisher {
    /// A publisher into `state`, and to Socket.IO clients through `hub`
    /// when there is one.
    pub fn new(state: AppState, hub: Option<Hub>) -> Self {
        Self { state, hub, seq: 0, alerts: Vec::new(), changes: Vec::new() }
    }

    /// Publishes one tick: `out` from `pipeline`, over `samples`. With
    /// `live` false (history being backfilled at start) clients are not
    /// sent events.
    pub fn publish(&mut self, pipeline: &Pipeline, out: &TickOutput, samples: &[Sample], live: bool) {
        self.seq += 1;
        let update = MetricsUpdate::from_tick(&out.summary, self.seq);
        let raw = Hub::encode_update(&update);
        let json = Bytes::copy_from_slice(raw.get().as_bytes());

        self.alerts.clear();
        self.alerts.extend(out.anomalies.iter().map(AnomalyAlert::from_anomaly));
        self.alerts.extend(out.alert_events.iter().map(AnomalyAlert::from_alert_event));
        self.alerts.extend(out.forecasts.iter().filter_map(AnomalyAlert::from_forecast));
        self.changes.clear();
        self.changes.extend(out.changes.iter().map(ContentChangeEvent::from));

        // Clients first: everything below can wait a millisecond, they
        // should not.
        if live && let Some(hub) = &self.hub {
            let lean = Hub::encode_update(&update.lean());
            hub.publish(
                &Outgoing {
                    update: &raw,
                    update_lean: &lean,
                    tick: &out.summary,
                    seq: self.seq,
                    samples,
                    alerts: &self.alerts,
                    changes: &self.changes,
                },
                &self.state,
            );
        }

        let stats = pipeline.stats();
        let telemetry = self.state.telemetry();
        telemetry.ticks.inc();
        telemetry.anomalies.inc_by(out.anomalies_found as u64);
        for e in &out.alert_events {
            match e.kind {
                AlertEventKind::Fired => telemetry.alerts_fired.with_label_values(&[e.alert.severity.as_str()]).inc(),
                AlertEventKind::Resolved => telemetry.alerts_resolved.inc(),
            }
        }
        telemetry.observe_tick(&out.summary);
        let mut firing: Vec<(streammon_core::Severity, i64)> = Vec::new();
        for a in pipeline.active_alerts().filter(|a| a.state == AlertState::Firing) {
            match firing.iter_mut().find(|(s, _)| *s == a.severity) {
                Some((_, n)) => *n += 1,
                None => firing.push((a.severity, 1)),
            }
        }
        telemetry.observe_pipeline(&stats, &firing);

        let history_len = self.state.settings().history_ticks.max(1);
        let (forecasts, audience) = pipeline.latest_forecasts();
        let (forecasts, audience) = (forecasts.to_vec(), audience.cloned());
        let contents: Vec<_> = pipeline.contents().cloned().collect();
        let (active, titles): (Vec<_>, Vec<_>) = pipeline.alert_titles().map(|(a, t)| (a.clone(), t.to_vec())).unzip();
        let alerts = &self.alerts;
        self.state.write(|live| {
            live.history.push_back(Arc::new(HistoryEntry::new(update, json)));
            while live.history.len() > history_len {
                live.history.pop_front();
            }
            for a in alerts {
                let ring =
                    if a.kind == crate::wire::AlertKind::Alert { &mut live.alert_events } else { &mut live.anomalies };
                ring.push_back(a.clone());
                while ring.len() > RECENT_EVENTS {
                    ring.pop_front();
                }
            }
            live.contents = contents;
            live.active_alerts = active;
            live.alert_titles = titles;
            live.forecasts = forecasts;
            live.audience = audience;
            live.stats = stats;
            live.interval_ms = out.summary.interval_ms;
            live.last_tick_at = Some(Instant::now());
        });
    }
}
