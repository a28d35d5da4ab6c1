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

use serde::{Deserialize, Serialize};
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

/// A change an operator made to the acknowledgements or silences, as a
/// cluster node tells the others ([`NotesRelay`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum NoteChange {
    /// An alert was acknowledged.
    Ack {
        /// The acknowledgement.
        ack: Ack,
    },
    /// An acknowledgement was taken back.
    Unack {
        /// The alert's id.
        alert_id: String,
        /// Who took it back.
        by: String,
        /// When, epoch ms.
        at_ms: i64,
    },
    /// A silence was created.
    Silence {
        /// The silence.
        silence: Silence,
    },
    /// A silence was expired.
    Expire {
        /// The silence's id.
        id: String,
        /// When, epoch ms.
        at_ms: i64,
    },
}

/// Where a cluster node tells the other nodes of an operator's change
/// (the binary wires it to Redis pub/sub); the others apply it with
/// [`AppState::apply_note_change`]. Must return at once.
pub trait NotesRelay: Send + Sync + fmt::Debug {
    /// `change` was made on this node and stored.
    fn changed(&self, change: &NoteChange);
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

    /// Tells the other nodes of a cluster of a change made here (nothing
    /// on a standalone server).
    pub(crate) fn relay_note(&self, change: &NoteChange) {
        if let Some(relay) = self.0.notes_relay.get() {
            relay.changed(change);
        }
    }

    /// Tells the other cluster nodes of operators' changes through
    /// `relay` from now on; `false` (and the first kept) if one was set.
    pub fn set_notes_relay(&self, relay: std::sync::Arc<dyn NotesRelay>) -> bool {
        self.0.notes_relay.set(relay).is_ok()
    }

    /// Applies a change another cluster node made (and stored): to this
    /// node's acknowledgements and silences, and to its clients.
    pub fn apply_note_change(&self, change: NoteChange, now_ms: i64) {
        match change {
            NoteChange::Ack { ack } => {
                self.broadcast("alert_ack", &serde_json::json!({ "alert_id": ack.alert_id, "ack": ack }));
                self.notes_mut().acks.insert(ack);
            }
            NoteChange::Unack { alert_id, by, at_ms } => {
                self.notes_mut().acks.remove(&alert_id);
                self.broadcast(
                    "alert_ack",
                    &serde_json::json!({ "alert_id": alert_id, "ack": null, "by": by, "at_ms": at_ms }),
                );
            }
            NoteChange::Silence { silence } => {
                self.notes_mut().silences.restore(silence, now_ms);
                self.broadcast_silences(now_ms);
            }
            NoteChange::Expire { id, at_ms } => {
                self.notes_mut().silences.expire(&id, at_ms);
                self.broadcast_silences(now_ms);
            }
        }
    }

    /// Sends every client the whole list of silences.
    pub(crate) fn broadcast_silences(&self, now_ms: i64) {
        let silences = self.notes().silence_views(now_ms);
        self.broadcast("silences", &serde_json::json!({ "silences": silences }));
    }
}
