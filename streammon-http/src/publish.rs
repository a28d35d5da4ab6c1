//! From a processed tick to everything that shows it: the live view behind
//! the REST API, the Prometheus gauges, and the Socket.IO events.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use streammon_core::alert::AlertEventKind;
use streammon_core::pipeline::{ContentRow, Pipeline, PipelineStats, RegionForecast, TickOutput, TotalForecast};
use streammon_core::{Alert, AlertState, ContentId, Sample};

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
    /// Whether alert events go to the alert sink: not for ticks relayed
    /// from a cluster's lead, which delivers them itself.
    delivers: bool,
}

/// What the REST API shows of a pipeline beyond the tick: the title
/// table, the active alerts with their titles, the latest forecasts and
/// the counters. Taken once a tick, and sent with the tick to the other
/// nodes of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineView {
    /// Counters.
    pub stats: PipelineStats,
    /// The title table.
    pub contents: Vec<ContentRow>,
    /// Alerts pending or firing.
    pub active: Vec<Alert>,
    /// The titles each of `active` stands for, in its order.
    pub titles: Vec<Vec<ContentId>>,
    /// The latest region forecasts.
    pub forecasts: Vec<RegionForecast>,
    /// The latest audience forecast.
    pub audience: Option<TotalForecast>,
}

impl PipelineView {
    /// The view of `pipeline` now.
    pub fn of(pipeline: &Pipeline) -> Self {
        let (forecasts, audience) = pipeline.latest_forecasts();
        let (active, titles) = pipeline.alert_titles().map(|(a, t)| (a.clone(), t.to_vec())).unzip();
        Self {
            stats: pipeline.stats(),
            contents: pipeline.contents().cloned().collect(),
            active,
            titles,
            forecasts: forecasts.to_vec(),
            audience: audience.cloned(),
        }
    }
}

/// A processed tick as a cluster's lead sends it to every node
/// ([`Publisher::relay`] encodes it, [`Publisher::apply`] shows it).
#[derive(Debug, Clone, Deserialize)]
pub struct RelayedTick {
    /// The tick's `seq` on the lead.
    pub seq: u64,
    /// What the tick produced.
    pub out: TickOutput,
    /// Its samples (for the rooms' updates).
    pub samples: Vec<Sample>,
    /// The pipeline after it.
    pub view: PipelineView,
}

#[derive(Serialize)]
struct RelayedTickRef<'a> {
    seq: u64,
    out: &'a TickOutput,
    samples: &'a [&'a Sample],
    view: &'a PipelineView,
}

impl Publisher {
    /// A publisher into `state`, and to Socket.IO clients through `hub`
    /// when there is one.
    pub fn new(state: AppState, hub: Option<Hub>) -> Self {
        Self { state, hub, seq: 0, update: None, record: None, alerts: Vec::new(), changes: Vec::new(), delivers: true }
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
        self.publish_view(&PipelineView::of(pipeline), out, live);
    }

    /// [`publish_events`](Self::publish_events) given the pipeline's view
    /// (taken once when it is also relayed).
    pub fn publish_view(&mut self, view: &PipelineView, out: &TickOutput, live: bool) {
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
        if live
            && self.delivers
            && let Some(sink) = self.state.alert_sink()
        {
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

        let stats = view.stats;
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
        for a in view.active.iter().filter(|a| a.state == AlertState::Firing) {
            match firing.iter_mut().find(|(s, _)| *s == a.severity) {
                Some((_, n)) => *n += 1,
                None => firing.push((a.severity, 1)),
            }
        }
        telemetry.observe_pipeline(&stats, &firing);

        let history_len = self.state.settings().history_ticks.max(1);
        let PipelineView { contents, active, titles, forecasts, audience, .. } = view.clone();
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

impl Publisher {
    /// The `seq` of the last tick published.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Encodes the tick just published (`out`, `view` after it) for the
    /// other nodes of a cluster, with the `samples` their clients' region
    /// and title rooms need (the rest of the tick is in `out`).
    pub fn relay(&self, out: &TickOutput, samples: &[&Sample], view: &PipelineView) -> Vec<u8> {
        serde_json::to_vec(&RelayedTickRef { seq: self.seq, out, samples, view }).unwrap_or_default()
    }

    /// Publishes a tick a cluster's lead processed and relayed: to this
    /// node's clients, live view and gauges, under the lead's `seq`,
    /// without delivering its alert events (the lead does).
    pub fn apply(&mut self, tick: &RelayedTick) {
        self.seq = tick.seq.saturating_sub(1);
        self.publish_update(&tick.out, &tick.samples, true);
        self.delivers = false;
        self.publish_view(&tick.view, &tick.out, true);
        self.delivers = true;
        self.record = None;
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

#[cfg(test)]
mod tests {
    use streammon_core::pipeline::PipelineConfig;
    use streammon_core::{Frame, SimConfig, Simulator};

    use super::*;

    /// A cluster's other nodes decode what the lead relays: the ticks of
    /// 25 minutes with an incident that hold events, and one in 50 others (expected ranges, anomalies, alerts,
    /// forecasts) round-trips.
    #[test]
    fn relayed_ticks_decode_to_what_the_lead_published() {
        let mut config = SimConfig::default();
        config.incidents.scripted = vec!["cdn_degradation:eu-west@10m+10m".parse().unwrap()];
        let mut sim = Simulator::new(config).unwrap();
        let mut pipeline = Pipeline::new(&PipelineConfig::default()).unwrap();
        let (mut frame, mut out) = (Frame::default(), TickOutput::default());
        let (mut alerts, mut anomalies) = (0, 0);
        for seq in 0..1_500u64 {
            sim.step(&mut frame);
            pipeline.process(&frame, &mut out);
            let eventful = !(out.alert_events.is_empty() && out.anomalies.is_empty() && out.forecasts.is_empty());
            if !eventful && seq % 50 != 0 {
                continue;
            }
            let view = PipelineView::of(&pipeline);
            let samples: Vec<&Sample> = frame.samples.iter().collect();
            let bytes = serde_json::to_vec(&RelayedTickRef { seq, out: &out, samples: &samples, view: &view }).unwrap();
            let back: RelayedTick = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("tick {seq}: {e}"));
            assert_eq!(back.seq, seq);
            assert!(back.out == out, "tick {seq}: the output differs");
            assert!(back.samples == frame.samples, "tick {seq}: the samples differ");
            assert!(back.view == view, "tick {seq}: the view differs");
            alerts += out.alert_events.len();
            anomalies += out.anomalies.len();
        }
        assert!(alerts > 0 && anomalies > 0, "the hour must hold alerts ({alerts}) and anomalies ({anomalies})");
    }
}
