//! What operators say about alerts, and where alerts go.
//!
//! - [`Notes`]: the acknowledgements and silences the server holds in
//!   memory (bounded, in `streammon-core`), mirrored into the store so a
//!   server on Redis finds them again after a restart
//!   ([`AppState::restore_notes`]).
//! - [`AlertSink`]: the seam to the notifier that delivers alerts to
//!   Alertmanager and webhooks: `streammon-notify`'s `Notifier` (wired by
//!   the binary), or a stand-in in tests.
//!   The transport hands it what happened and never waits on it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use streammon_core::alert::{Ack, Acks, Alert, AlertEvent, Silence, SilenceState, Silences};
use streammon_notify::{DestinationStats, Notice, Notifier, TestOutcome};
use utoipa::ToSchema;

use crate::state::AppState;

/// Where alert notifications go. Every method but [`test`](Self::test)
/// must return at once: the pipeline and the request handlers call them.
pub trait AlertSink: Send + Sync + fmt::Debug {
    /// An alert fired or resolved (live ticks only, not the backfill).
    fn alert_event(&self, event: &AlertEvent);
    /// An operator acknowledged `alert`.
    fn acknowledged(&self, alert: &Alert, ack: &Ack);
    /// An operator took back the acknowledgement of `alert`.
    fn unacknowledged(&self, alert: &Alert, by: &str, at_ms: i64);
    /// Sends a test notification to every destination now, once each,
    /// and reports how each went.
    fn test<'a>(&'a self, by: &'a str, now_ms: i64) -> Pin<Box<dyn Future<Output = Vec<TestOutcome>> + Send + 'a>>;
    /// How each destination is doing, read at once.
    fn health(&self) -> Vec<DestinationStats>;
}

/// The notifier of `streammon-notify` is the sink `streammon serve` uses.
impl AlertSink for Notifier {
    fn alert_event(&self, event: &AlertEvent) {
        self.offer(Notice::Alert(event.clone()));
    }

    fn acknowledged(&self, alert: &Alert, ack: &Ack) {
        self.offer(Notice::Acknowledged { alert: alert.clone(), ack: ack.clone() });
    }

    fn unacknowledged(&self, alert: &Alert, by: &str, at_ms: i64) {
        self.offer(Notice::Unacknowledged { alert: alert.clone(), by: by.to_owned(), at_ms });
    }

    fn test<'a>(&'a self, by: &'a str, now_ms: i64) -> Pin<Box<dyn Future<Output = Vec<TestOutcome>> + Send + 'a>> {
        Box::pin(Notifier::test(self, by, now_ms))
    }

    fn health(&self) -> Vec<DestinationStats> {
        self.stats()
    }
}

/// A silence as the API shows it: with where it stands now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SilenceView {
    /// The silence.
    #[serde(flatten)]
    pub silence: Silence,
    /// Pending, active or expired, now.
    pub state: SilenceState,
}

impl SilenceView {
    /// `silence` as it stands at `now_ms`.
    pub fn new(silence: Silence, now_ms: i64) -> Self {
        let state = silence.state(now_ms);
        Self { silence, state }
    }
}

/// The acknowledgements and silences of a server.
#[derive(Debug, Default)]
pub struct Notes {
    /// By alert id, bounded.
    pub acks: Acks,
    /// Bounded; expired ones kept a day.
    pub silences: Silences,
}

impl Notes {
    /// Every silence as it stands at `now_ms`, newest first.
    pub fn silence_views(&self, now_ms: i64) -> Vec<SilenceView> {
        self.silences.sorted().into_iter().map(|s| SilenceView::new(s, now_ms)).collect()
    }
}

impl AppState {
    /// Reads the acknowledgements and silences back from the store (at
    /// start, so a server on Redis keeps them across restarts); returns
    /// how many of each it restored.
    ///
    /// # Errors
    /// The store's error; nothing is restored then.
    pub async fn restore_notes(&self, now_ms: i64) -> Result<(usize, usize), streammon_core::StoreError> {
        let acks = self.store().acks().await?;
        let silences = self.store().silences().await?;
        let mut notes = self.notes_mut();
        let n_acks = acks.len();
        for ack in acks {
            notes.acks.insert(ack);
        }
        let n_silences = silences.into_iter().filter(|s| notes.silences.restore(s.clone(), now_ms)).count();
        notes.silences.purge(now_ms);
        Ok((n_acks, n_silences))
    }

    /// The id of an active silence covering `alert` at `now_ms`.
    pub fn silenced(&self, alert: &Alert, now_ms: i64) -> Option<String> {
        self.notes().silences.matching(alert, now_ms).map(|s| s.id.clone())
    }

    /// Forgets silences expired more than a day ago, in memory and in the
    /// store; tells clients when any went.
    pub async fn purge_silences(&self, now_ms: i64) {
        let gone = self.notes_mut().silences.purge(now_ms);
        for id in &gone {
            if let Err(e) = self.store().delete_silence(id).await {
                tracing::warn!(target: "streammon::alerts", silence = %id, error = %e, "could not delete an old silence from the store");
            }
        }
        if !gone.is_empty() {
            self.broadcast_silences(now_ms);
        }
    }

    /// Sends every client the whole list of silences.
    pub(crate) fn broadcast_silences(&self, now_ms: i64) {
        let silences = self.notes().silence_views(now_ms);
        self.broadcast("silences", &serde_json::json!({ "silences": silences }));
    }
}
