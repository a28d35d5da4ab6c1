//! Alert delivery for `serve`: the flags and the `[notify]` table checked
//! into a [`NotifyConfig`], and the silences the notifier asks.

use std::time::Duration;

use streammon_core::Alert;
use streammon_http::AppState;
use streammon_notify::{
    AlertmanagerConfig, DeliveryPolicy, Endpoint, NotifyConfig, Secret, Suppress, WebhookConfig, WebhookFormat,
};

use crate::error::CliError;
use crate::serve_file::{NotifyFile, Secret as GivenSecret};

/// The delivery flags of `serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DeliveryArgs {
    /// Push alerts to this Prometheus Alertmanager (its base URL, e.g.
    /// http://alertmanager:9093); repeat or comma-separate
    #[arg(long = "alertmanager-url", env = "STREAMMON_ALERTMANAGER_URLS", value_delimiter = ',', value_name = "URL")]
    alertmanager_urls: Vec<String>,
    /// POST every fired, resolved and acknowledged alert to this webhook;
    /// repeat or comma-separate
    #[arg(long = "webhook-url", env = "STREAMMON_WEBHOOK_URLS", value_delimiter = ',', value_name = "URL")]
    webhook_urls: Vec<String>,
    /// The secret webhook bodies are signed with (HMAC-SHA256, header
    /// Streammon-Signature), 16 bytes or more: one for every --webhook-url,
    /// or one per URL in order. Required for json webhooks
    #[arg(long = "webhook-secret", env = "STREAMMON_WEBHOOK_SECRETS", value_delimiter = ',', value_name = "SECRET")]
    webhook_secrets: Vec<GivenSecret>,
    /// Body of the webhooks: json (streammon's, signed) or slack (a
    /// Slack-compatible incoming webhook): one for all, or one per URL
    #[arg(long = "webhook-format", value_delimiter = ',', value_name = "FORMAT")]
    webhook_formats: Vec<String>,
    /// The dashboard's address as people reach it, for links in
    /// notifications (default http://HOST:PORT)
    #[arg(long = "public-url", env = "STREAMMON_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
}

/// The one value for every item, or one per item, of a repeated flag.
fn per_item<'a, T>(flag: &'static str, given: &'a [T], items: usize) -> Result<Vec<Option<&'a T>>, CliError> {
    match given.len() {
        0 => Ok(vec![None; items]),
        1 => Ok(vec![given.first(); items]),
        n if n == items => Ok(given.iter().map(Some).collect()),
        n => Err(CliError::Usage {
            flag,
            reason: format!("{n} values for {items} --webhook-url: give one for all, or one per URL"),
        }),
    }
}

impl DeliveryArgs {
    /// The flags and the file's `[notify]`, checked. `locate` places an
    /// error of the file. Without a public URL, `dashboard_url` is left
    /// `None` for `serve` to fill in once it knows the address it listens
    /// on.
    pub(crate) fn config(
        &self,
        file: &NotifyFile,
        locate: &dyn Fn(streammon_core::Error) -> CliError,
    ) -> Result<NotifyConfig, CliError> {
        let in_file = |field: String, reason: String| locate(streammon_core::Error::config(field, reason));
        let mut config = NotifyConfig {
            policy: DeliveryPolicy {
                queue: file.queue,
                max_attempts: file.max_attempts,
                backoff_initial: Duration::from_millis(file.backoff_initial.as_millis()),
                backoff_max: Duration::from_millis(file.backoff_max.as_millis()),
                timeout: Duration::from_millis(file.timeout.as_millis()),
            },
            ..NotifyConfig::default()
        };
        if let Err(streammon_notify::NotifyError::Policy { field, reason }) = config.policy.validate() {
            return Err(in_file(format!("notify.{field}"), reason));
        }
        for (i, am) in file.alertmanagers.iter().enumerate() {
            let url: Endpoint =
                am.url.parse().map_err(|e| in_file(format!("notify.alertmanagers[{i}].url"), format!("{e}")))?;
            let resend = Duration::from_millis(am.resend.as_millis());
            if !(Duration::from_secs(1)..=Duration::from_secs(3_600)).contains(&resend) {
                return Err(in_file(format!("notify.alertmanagers[{i}].resend"), "must be within 1s..=1h".into()));
            }
            config.alertmanagers.push(AlertmanagerConfig { url, resend });
        }
        for url in self.alertmanager_urls.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
            let url =
                url.parse().map_err(|e| CliError::Usage { flag: "--alertmanager-url", reason: format!("{e}") })?;
            config.alertmanagers.push(AlertmanagerConfig::new(url));
        }
        for (i, hook) in file.webhooks.iter().enumerate() {
            let field = |name: &str| format!("notify.webhooks[{i}].{name}");
            let url = hook.url.parse().map_err(|e| in_file(field("url"), format!("{e}")))?;
            let format = match &hook.format {
                Some(f) => f.parse().map_err(|e| in_file(field("format"), format!("{e}")))?,
                None => WebhookFormat::Json,
            };
            let secret = match &hook.secret {
                Some(s) => Some(Secret::new(s.expose().trim()).map_err(|e| in_file(field("secret"), e.to_string()))?),
                None => None,
            };
            if secret.is_none() && format == WebhookFormat::Json {
                return Err(in_file(
                    field("secret"),
                    "a json webhook is signed: give a secret of 16 bytes or more".into(),
                ));
            }
            config.webhooks.push(WebhookConfig { url, secret, format });
        }
        let urls: Vec<&str> = self.webhook_urls.iter().map(|u| u.trim()).filter(|u| !u.is_empty()).collect();
        let secrets = per_item("--webhook-secret", &self.webhook_secrets, urls.len())?;
        let formats = per_item("--webhook-format", &self.webhook_formats, urls.len())?;
        for ((url, secret), format) in urls.into_iter().zip(secrets).zip(formats) {
            let url = url.parse().map_err(|e| CliError::Usage { flag: "--webhook-url", reason: format!("{e}") })?;
            let format = match format {
                Some(f) => {
                    f.parse().map_err(|e| CliError::Usage { flag: "--webhook-format", reason: format!("{e}") })?
                }
                None => WebhookFormat::Json,
            };
            let secret = match secret {
                Some(s) => Some(
                    Secret::new(s.expose().trim())
                        .map_err(|e| CliError::Usage { flag: "--webhook-secret", reason: e.to_string() })?,
                ),
                None => None,
            };
            if secret.is_none() && format == WebhookFormat::Json {
                return Err(CliError::Usage {
                    flag: "--webhook-secret",
                    reason: "json webhooks are signed: give a secret of 16 bytes or more (e.g. `openssl rand -hex 32`)"
                        .into(),
                });
            }
            config.webhooks.push(WebhookConfig { url, secret, format });
        }
        let public = match (&self.public_url, &file.public_url) {
            (Some(flag), _) => Some((flag.trim().trim_end_matches('/').to_owned(), true)),
            (None, Some(in_file)) => Some((in_file.trim().trim_end_matches('/').to_owned(), false)),
            (None, None) => None,
        };
        if let Some((url, from_flag)) = public {
            if let Err(e) = url.parse::<Endpoint>() {
                let reason = format!("{e}");
                return Err(if from_flag {
                    CliError::Usage { flag: "--public-url", reason }
                } else {
                    in_file("notify.public_url".into(), reason)
                });
            }
            config.dashboard_url = Some(url);
        }
        Ok(config)
    }
}

/// Silences, as the transport holds them, for the notifier.
#[derive(Debug)]
pub(crate) struct Silenced(pub(crate) AppState);

impl Suppress for Silenced {
    fn silenced(&self, alert: &Alert, now_ms: i64) -> Option<String> {
        self.0.silenced(alert, now_ms)
    }
}
