//! Alert delivery for streammon: Prometheus Alertmanager and signed
//! webhooks.
//!
//! A [`Notifier`] is started once with a [`NotifyConfig`] and handed
//! [`Notice`]s as they happen: alerts fired and resolved, acknowledgements
//! given and taken back. [`Notifier::offer`] never blocks: each destination
//! has its own bounded queue and its own task, so a slow or dead receiver
//! holds up nothing but itself. Failed attempts are retried with
//! exponential backoff and jitter; what is finally dropped is counted
//! ([`Notifier::stats`]). Alerts a [`Suppress`] says are silenced are not
//! delivered.
//!
//! # Alertmanager
//!
//! Every firing alert is POSTed to `{url}/api/v2/alerts` at once, then
//! again every `resend` (60 s by default) with `endsAt` four `resend`s
//! ahead, as Prometheus does; a resolved one is sent with its `endsAt`
//! and re-sent for 15 minutes. Labels: `alertname` (the rule),
//! `severity`, `region`, `content_id`, `metric` (where the alert has one)
//! and `source="streammon"`; annotations `summary` (the cause hint) and
//! `description`; `generatorURL` links to the alert in the dashboard.
//!
//! # Webhooks
//!
//! One POST per event, `Content-Type: application/json`:
//!
//! ```json
//! {
//!   "id": "alrt-000042.fired.1733300000000",
//!   "type": "alert.fired",
//!   "timestamp_ms": 1733300000000,
//!   "source": "streammon",
//!   "alert": { "id": "alrt-000042", "rule": "viewers_hurt", "severity": "critical", "...": "..." },
//!   "labels": { "rule": "viewers_hurt", "severity": "critical", "region": "eu-west", "metric": "buffering_ratio" },
//!   "url": "https://streammon.example.com/#/alerts/alrt-000042"
//! }
//! ```
//!
//! `type` is `alert.fired`, `alert.resolved`, `alert.acknowledged`
//! (with `"ack": {"by", "at_ms", "comment"}`), `alert.unacknowledged`
//! (with `"ack": {"by", "at_ms"}`) or `test`. `id` is the same for every
//! attempt of one event (and for the same event sent again): receivers
//! deduplicate on it. Headers: `Streammon-Event` (the type),
//! `Streammon-Delivery` (the id), and with a secret
//! `Streammon-Signature: t=<unix s>,v1=<hex HMAC-SHA256>` (see [`sign`]
//! and [`verify_signature`]). With [`WebhookFormat::Slack`] the body is
//! a Slack-compatible `{"text", "attachments"}` instead.
//!
//! # Delivery
//!
//! A connection error, a timeout, 408, 429 or a 5xx is retried after
//! `min(backoff_max, backoff_initial · 2ⁿ⁻¹)`, half of it fixed and half
//! random (or after the receiver's `Retry-After`, within `backoff_max`),
//! up to `max_attempts`; any other 4xx drops the notification at once.

mod body;
mod client;
mod config;
mod deliver;
mod endpoint;
mod error;
mod sign;

use std::fmt;

use serde::Serialize;
use streammon_core::Alert;
use streammon_core::alert::{Ack, AlertEvent};

pub use config::{AlertmanagerConfig, DeliveryPolicy, NotifyConfig, WebhookConfig, WebhookFormat};
pub use deliver::Notifier;
pub use endpoint::{Endpoint, MIN_SECRET_BYTES, Secret};
pub use error::NotifyError;
pub use sign::{SIGNATURE_HEADER, sign, verify_signature};

/// Something to tell the destinations.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// An alert fired or resolved.
    Alert(AlertEvent),
    /// An operator acknowledged an alert (webhooks only).
    Acknowledged {
        /// The alert as it is now.
        alert: Alert,
        /// Who, when, what they said.
        ack: Ack,
    },
    /// An operator took an acknowledgement back (webhooks only).
    Unacknowledged {
        /// The alert as it is now.
        alert: Alert,
        /// Who.
        by: String,
        /// When, epoch ms.
        at_ms: i64,
    },
    /// A test notification ([`Notifier::test`]).
    Test {
        /// Who asked.
        by: String,
        /// When, epoch ms.
        at_ms: i64,
    },
}

impl Notice {
    /// The alert it is about, if any.
    pub fn alert(&self) -> Option<&Alert> {
        match self {
            Self::Alert(e) => Some(&e.alert),
            Self::Acknowledged { alert, .. } | Self::Unacknowledged { alert, .. } => Some(alert),
            Self::Test { .. } => None,
        }
    }
}

/// Says whether an alert is silenced: it is then not delivered.
pub trait Suppress: Send + Sync + fmt::Debug {
    /// The id of an active silence covering `alert` at `now_ms`, if any.
    fn silenced(&self, alert: &Alert, now_ms: i64) -> Option<String>;
}

/// A [`Suppress`] that silences nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSilences;

impl Suppress for NoSilences {
    fn silenced(&self, _: &Alert, _: i64) -> Option<String> {
        None
    }
}

/// How one destination took a test notification.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestOutcome {
    /// The destination, redacted.
    pub destination: String,
    /// `alertmanager`, `webhook` or `slack`.
    pub kind: &'static str,
    /// Whether it answered 2xx.
    pub ok: bool,
    /// Its HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took, ms.
    pub elapsed_ms: u64,
}

/// How one destination is doing since the notifier started.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationStats {
    /// The destination, redacted.
    pub destination: String,
    /// `alertmanager`, `webhook` or `slack`.
    pub kind: &'static str,
    /// Whether the last attempt succeeded (true before the first).
    pub up: bool,
    /// Notifications waiting.
    pub queued: u64,
    /// Notifications delivered (Alertmanager: requests, each a batch).
    pub delivered: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Dropped after the last attempt failed.
    pub dropped_exhausted: u64,
    /// Dropped because the destination refused them (4xx).
    pub dropped_rejected: u64,
    /// Not sent because a silence covered the alert.
    pub suppressed: u64,
    /// When a delivery last succeeded, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_ms: Option<i64>,
    /// The last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl DestinationStats {
    /// Everything dropped, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_exhausted + self.dropped_rejected
    }
}

/// Wall-clock time, epoch ms.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
