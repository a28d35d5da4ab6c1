//! Where alerts go and how hard delivery tries.

use std::str::FromStr;
use std::time::Duration;

use crate::endpoint::{Endpoint, Secret};
use crate::error::NotifyError;

/// A Prometheus Alertmanager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerConfig {
    /// Its base URL, e.g. `http://alertmanager:9093`; alerts go to
    /// `{url}/api/v2/alerts`.
    pub url: Endpoint,
    /// How often every firing alert is sent again (Prometheus's
    /// `resend_delay`); its `endsAt` is four of these ahead. Default 60 s.
    pub resend: Duration,
}

impl AlertmanagerConfig {
    /// An Alertmanager at `url` with the default cadence.
    pub fn new(url: Endpoint) -> Self {
        Self { url, resend: Duration::from_secs(60) }
    }
}

/// What a webhook's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookFormat {
    /// streammon's own JSON body (see the [crate docs](crate)).
    #[default]
    Json,
    /// A Slack-compatible incoming-webhook body (`text`, `attachments`).
    Slack,
}

impl FromStr for WebhookFormat {
    type Err = NotifyError;

    fn from_str(s: &str) -> Result<Self, NotifyError> {
        match s.trim() {
            "json" => Ok(Self::Json),
            "slack" => Ok(Self::Slack),
            other => Err(NotifyError::Format(other.to_owned())),
        }
    }
}

/// A webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Where bodies are POSTed.
    pub url: Endpoint,
    /// The secret bodies are signed with (`Streammon-Signature`); none:
    /// unsigned.
    pub secret: Option<Secret>,
    /// The body's shape.
    pub format: WebhookFormat,
}

/// How hard delivery tries, per destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Notifications waiting per destination; past it the oldest is
    /// dropped (and counted). Default 1000.
    pub queue: usize,
    /// Attempts per notification before it is dropped (and counted).
    /// Default 8.
    pub max_attempts: u32,
    /// Wait before the first retry; it doubles with each retry. Default 1 s.
    pub backoff_initial: Duration,
    /// Longest wait between attempts. Default 60 s.
    pub backoff_max: Duration,
    /// Longest wait for an answer to one attempt. Default 5 s.
    pub timeout: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            queue: 1_000,
            max_attempts: 8,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        }
    }
}

impl DeliveryPolicy {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`NotifyError::Policy`] naming the setting.
    pub fn validate(&self) -> Result<(), NotifyError> {
        let bad = |field, reason: &str| Err(NotifyError::Policy { field, reason: reason.to_owned() });
        if !(1..=1_000_000).contains(&self.queue) {
            return bad("queue", "must be within 1..=1000000");
        }
        if !(1..=100).contains(&self.max_attempts) {
            return bad("max_attempts", "must be within 1..=100");
        }
        if self.backoff_initial.is_zero() || self.backoff_initial > self.backoff_max {
            return bad("backoff_initial", "must be above 0 and at most backoff_max");
        }
        if self.backoff_max > Duration::from_secs(3_600) {
            return bad("backoff_max", "must be at most 1 h");
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(300) {
            return bad("timeout", "must be above 0 and at most 5 min");
        }
        Ok(())
    }
}

/// Everything a [`Notifier`](crate::Notifier) delivers to.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    /// Alertmanagers; each gets every alert.
    pub alertmanagers: Vec<AlertmanagerConfig>,
    /// Webhooks; each gets every event.
    pub webhooks: Vec<WebhookConfig>,
    /// How hard delivery tries.
    pub policy: DeliveryPolicy,
    /// The dashboard's base URL, e.g. `https://streammon.example.com`, for
    /// links to an alert (`generatorURL`, `url`); none: no links.
    pub dashboard_url: Option<String>,
}

impl NotifyConfig {
    /// Whether there is anywhere to deliver to.
    pub fn is_empty(&self) -> bool {
        self.alertmanagers.is_empty() && self.webhooks.is_empty()
    }
}
