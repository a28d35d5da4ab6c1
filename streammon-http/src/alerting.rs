//! What operators say about alerts, and where alerts go.
//!
//! - [`Notes`]: the acknowledgements and silences the server holds in
//!   memory (bounded, in `streammon-core`), mirrored into the store so a
//!   server on Redis finds them again after a restart
//!   ([`AppState::restore_notes`]).
//! - [`AlertSink`]: the seam to the notifier that delivers alerts to
//!   Alertmanager and webhooks (`streammon-notify`, wired by the binary).
//!   The transport hands it what happened and never waits on it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use streammon_core::alert::{Ack, Acks, Alert, AlertEvent, Silence, SilenceState, Silences};
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
    fn test<'a>(&'a self, by: &'a str, now_ms: i64) -> Pin<Box<dyn Future<Output = Vec<DeliveryTest>> + Send + 'a>>;
    /// How each destination is doing, read at once.
    fn health(&self) -> Vec<DestinationHealth>;
}

/// How one destination took a test notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryTest {
    /// The destination, its secrets redacted, e.g. `https://hooks.slack.com/…`.
    pub destination: String,
    /// `alertmanager`, `webhook` or `slack`.
    pub kind: String,
    /// Whether it answered 2xx.
    pub ok: bool,
    /// Its HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took, ms.
    pub elapsed_ms: u64,
}

/// How one destination is doing: its queue and what became of what was
/// sent to it since the server started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DestinationHealth {
    /// The destination, its secrets redacted.
    pub destination: String,
    /// `alertmanager`, `webhook` or `slack`.
    pub kind: String,
    /// Whether the last attempt succeeded (true before the first).
    pub up: bool,
    /// Notifications waiting.
    pub queued: u64,
    /// Notifications delivered.
    pub delivered: u64,
    /// Attempts that failed (each retry counts).
    pub failed_attempts: u64,
    /// Dropped because its queue was full.
    pub dropped_queue_full: u64,
    /// Dropped after the last retry failed.
    pub dropped_exhausted: u64,
    /// Dropped because the destination refused them (4xx).
    pub dropped_rejected: u64,
    /// Not sent because a silence covered the alert.
    pub suppressed: u64,
    /// When the last delivery succeeded, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_ms: Option<i64>,
    /// The last error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl DestinationHealth {
    /// Everything dropped, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_exhausted + self.dropped_rejected
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
