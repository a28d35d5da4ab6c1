//! From a processed tick to everything that shows it: the live view behind
//! the REST API, the Prometheus gauges, and the Socket.IO events.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use streammon_core::alert::AlertEventKind;
use streammon_core::pipeline::{Pipeline, TickOutput};
use streammon_core::{AlertState, Sample};

use crate::realtime::{Hub, TickEvents, TickUpdates};
use crate::state::{AppState, HistoryEntry, RECENT_EVENTS};
use crate::wire::{AnomalyAlert, ContentChangeEvent, MetricsUpdate};

/// Publishes ticks. Owned by whatever runs the pipeline.
///
/// A tick is published in two halves so that clients get its figures
/// before detection runs (they do not depend on it):
/// [`publish_update`](Self::publish_update) after
/// [`Pipeline::summarize`], [`publish_events`](Self::publish_events)
/// after [`Pipeline::detect`]. [`publish`](Self::publish) does both after
/// a whole [`Pipeline::process_parts`].
#[derive(Debug)]
pub struct Publisher {
    state: AppState,
    hub: Option<Hub>,
    seq: u64,
    /// The tick's update between the two halves, for the history.
    update: Option<(MetricsUpdate, Bytes)>,
    /// The last tick's record for storage, until taken.
    record: Option<Bytes>,
    alerts: Vec<AnomalyAlert>,
    changes: Vec<ContentChangeEvent>,
}

impl Publisher {
    /// A publisher into `state`, and to Socket.IO clients through `hub`
    /// when there is one.
    pub fn new(state: AppState, hub: Option<Hub>) -> Self {
        Self { state, hub, seq: 0, update: None, record: None, alerts: Vec::new(), changes: Vec::new() }
    }

    /// Restores the tick history from stored records (newest first, as
    /// [`Store::ticks`](streammon_core::Store::ticks) gives them), so a
    /// restarted server serves the history it had; `seq` goes on from
    /// the newest. Records that do not decode are skipped and counted in
    /// the answer. Call before the first tick.
    pub fn restore(&mut self, records: &[String]) -> Restored {
        let mut restored = Restored::default();
        let mut entries: Vec<Arc<HistoryEntry>> = Vec::with_capacity(records.len());
        for record in records.iter().rev() {
            match serde_json::from_str::<MetricsUpdate>(record) {
                Ok(update) if entries.last().is_none_or(|e| e.update.timestamp_ms < update.timestamp_ms) => {
                    self.seq = self.seq.max(update.seq);
                    entries.push(Arc::new(HistoryEntry::new(update, Bytes::copy_from_slice(record.as_bytes()))));
                }
                Ok(_) => restored.skipped += 1,
                Err(e) => {
                    restored.skipped += 1;
                    restored.error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        restored.ticks = entries.len();
        restored.newest_ms = entries.last().map(|e| e.update.timestamp_ms);
        let history_len = self.state.settings().history_ticks.max(1);
        self.state.write(|live| {
            live.history.clear();
            live.history.extend(entries.into_iter().rev().take(history_len).rev());
        });
        restored
    }

    /// The JSON record of the last published tick (the whole service's
    /// `metrics_update`, in full), once, for the store's tick history;
    /// `None` if the tick was not newer than the history it joins.
    pub fn take_record(&mut self) -> Option<Bytes> {
        self.record.take()
    }

    /// Publishes one whole tick: `out` from `pipeline`, over `samples`.
    /// With `live` false (history being backfilled at start) clients are
    /// not sent events.
    pub fn publish(&mut self, pipeline: &Pipeline, out: &TickOutput, samples: &[Sample], live: bool) {
        self.publish_update(out, samples, live);
        self.publish_events(pipeline, out, live);
    }

    /// The first half: sends the tick's `metrics_update`s (the whole
    /// service's, and each subscribed room's) from `out.summary` as
    /// [`Pipeline::summarize`] left it.
    pub fn publish_update(&mut self, out: &TickOutput, samples: &[Sample], live: bool) {
        self.seq += 1;
        let update = MetricsUpdate::from_tick(&out.summary, self.seq);
        let raw = Hub::encode_update(&update);
        let json = Bytes::copy_from_slice(raw.get().as_bytes());
        if live && let Some(hub) = &self.hub {
            let lean = Hub::encode_update(&update.lean());
            hub.send_updates(
                &TickUpdates { update: &raw, update_lean: &lean, tick: &out.summary, seq: self.seq, samples },
                &self.state,
            );
        }
        self.update = Some((update, json));
    }

    /// The second half, after [`Pipeline::detect`]: sends the tick's
    /// `anomaly_alert` and `content_change` events, then updates the live
    /// view behind the REST API and the Prometheus gauges.
    pub fn publish_events(&mut self, pipeline: &Pipeline, out: &TickOutput, live: bool) {
        self.alerts.clear();
        self.alerts.extend(out.anomalies.iter().map(AnomalyAlert::from_anomaly));
        let now_ms = crate::routes::metrics::now_ms();
        {
            let notes = self.state.notes();
            self.alerts.extend(out.alert_events.iter().map(|e| AnomalyAlert {
                silenced_by: notes.silences.matching_ids(&e.alert, now_ms),
                ..AnomalyAlert::from_alert_event(e)
            }));
        }
        if live && let Some(sink) = self.state.alert_sink() {
            for e in &out.alert_events {
                sink.alert_event(e);
            }
        }
        self.alerts.extend(out.forecasts.iter().filter_map(AnomalyAlert::from_forecast));
        self.changes.clear();
        self.changes.extend(out.changes.iter().map(ContentChangeEvent::from));
        if live && let Some(hub) = &self.hub {
            hub.send_events(&TickEvents { alerts: &self.alerts, changes: &self.changes }, &self.state);
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
        let update = self.update.take();
        let record = &mut self.record;
        self.state.write(|live| {
            // History moves forward only: after a restart, backfilled
            // ticks older than the restored ones are not history.
            if let Some((update, json)) = update
                && live.history.back().is_none_or(|b| b.update.timestamp_ms < update.timestamp_ms)
            {
                *record = Some(json.clone());
                live.history.push_back(Arc::new(HistoryEntry::new(update, json)));
            }
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

/// What [`Publisher::restore`] read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Ticks restored into the history.
    pub ticks: usize,
    /// The newest restored tick's end, epoch ms.
    pub newest_ms: Option<i64>,
    /// Records skipped: undecodable, or out of order.
    pub skipped: usize,
    /// The first decoding error, for the log.
    pub error: Option<String>,
}
