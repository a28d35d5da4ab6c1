//! The TOML file of `streammon serve --config` (which `streammon eval
//! --config` reads too): raw tables, as written, that `serve` validates
//! once, with its flags, into the settings it runs with.

use serde::Deserialize;
use streammon_core::SimConfig;
use streammon_core::cmcd::CollectorConfig;
use streammon_core::limits::Limits;
use streammon_core::pipeline::PipelineConfig;
use streammon_core::store::MemoryConfig;
use streammon_http::CmcdSettings;

/// A token as given (flag, environment or file), before its length is
/// checked; printed as `<redacted>`.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The token as given.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The `[auth]` table: who may write and who may read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthFile {
    /// Tokens that may write (`POST /metrics`, `metric_update`, the CMCD
    /// routes, `/cmcd/sessions`), 16 bytes or more; flags add to them.
    /// Defaults to none (writes open; loopback only unless --open-ingest).
    pub ingest_tokens: Vec<Secret>,
    /// Tokens that may read (REST, Socket.IO, the dashboard), 16 bytes or
    /// more; flags add to them. Defaults to none (reads open).
    pub read_tokens: Vec<Secret>,
    /// Tokens that may acknowledge, silence and test alerts (and read),
    /// 16 bytes or more; flags add to them. Defaults to none (with no
    /// ingest token either, those actions are open).
    pub admin_tokens: Vec<Secret>,
}

/// The `[cmcd_ingest]` table: limits of the CMCD endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CmcdIngestFile {
    /// Reports a second one source (token, or client address) may send,
    /// sustained. Defaults to 5000.
    pub rate_per_source: f64,
    /// Reports one source may send at once above the rate. Defaults to
    /// 10000.
    pub burst: f64,
    /// Most reports in one request. Defaults to 10000.
    pub max_reports: usize,
    /// Sources and their tokens, `name = "token"`, each 16 bytes or more;
    /// flags add to them. Defaults to none (no token needed).
    pub tokens: std::collections::BTreeMap<String, Secret>,
}

impl Default for CmcdIngestFile {
    fn default() -> Self {
        let d = CmcdSettings::default();
        Self {
            rate_per_source: d.rate_per_source,
            burst: d.burst,
            max_reports: d.max_reports,
            tokens: Default::default(),
        }
    }
}

/// The optional configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeFile {
    /// The simulator. Defaults to `SimConfig::default()` with random
    /// incidents.
    pub simulator: Option<SimConfig>,
    /// Detectors, alert rules and forecasts. Defaults to
    /// `PipelineConfig::default()`.
    pub pipeline: PipelineConfig,
    /// In-memory storage bounds. Defaults to 15 minutes of raw history,
    /// and roll-ups for 7 (minutes) and 90 days (hours).
    pub memory: Option<MemoryConfig>,
    /// Redis storage: retention (raw `retention`, default `1h`;
    /// `rollup_retention`, default 7 and 90 days), key prefix, bounds.
    /// `REDIS_URL`, `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`,
    /// `REDIS_DB` and `REDIS_PREFIX` override what it says. Used when
    /// Redis is selected (`--store redis`, or `REDIS_URL`/`REDIS_HOST`
    /// set).
    pub redis: Option<streammon_redis::RedisConfig>,
    /// The CMCD collector: session timeout, sampling, region mapping.
    /// Defaults to `CollectorConfig::default()`.
    pub cmcd: CollectorConfig,
    /// Limits of the CMCD endpoints. Defaults to `CmcdIngestFile::default()`.
    pub cmcd_ingest: CmcdIngestFile,
    /// Ingest and read tokens. Defaults to none (writes and reads open).
    pub auth: AuthFile,
    /// Most regions, titles and series clients may push samples for
    /// (docs/LIMITS.md), and how long before a quiet one is forgotten;
    /// the `--max-*` flags override it. Defaults to `Limits::default()`:
    /// 256 regions, 20000 titles, 200000 series, idle `30m`.
    pub limits: Limits,
    /// Where alerts are delivered (docs/ALERTS.md); the flags add to it.
    /// Defaults to nowhere.
    pub notify: NotifyFile,
}

/// The `[notify]` table: Alertmanagers, webhooks and how hard delivery
/// tries.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyFile {
    /// The dashboard's address as people reach it, for the links in
    /// notifications, e.g. `https://streammon.example.com`. Defaults to
    /// `--public-url`, else `http://HOST:PORT`.
    pub public_url: Option<String>,
    /// Alertmanagers (`[[notify.alertmanagers]]`).
    pub alertmanagers: Vec<AlertmanagerFile>,
    /// Webhooks (`[[notify.webhooks]]`).
    pub webhooks: Vec<WebhookFile>,
    /// Notifications waiting per destination before the oldest is
    /// dropped. Defaults to 1000.
    pub queue: usize,
    /// Attempts per notification. Defaults to 8.
    pub max_attempts: u32,
    /// Wait before the first retry, doubling after. Defaults to `1s`.
    pub backoff_initial: streammon_core::Span,
    /// Longest wait between attempts. Defaults to `1m`.
    pub backoff_max: streammon_core::Span,
    /// Longest wait for an answer. Defaults to `5s`.
    pub timeout: streammon_core::Span,
}

impl Default for NotifyFile {
    fn default() -> Self {
        Self {
            public_url: None,
            alertmanagers: Vec::new(),
            webhooks: Vec::new(),
            queue: 1_000,
            max_attempts: 8,
            backoff_initial: streammon_core::Span::from_secs(1),
            backoff_max: streammon_core::Span::from_mins(1),
            timeout: streammon_core::Span::from_secs(5),
        }
    }
}

/// One `[[notify.alertmanagers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerFile {
    /// Its base URL, e.g. `http://alertmanager:9093`.
    pub url: String,
    /// How often firing alerts are sent again. Defaults to `1m`.
    #[serde(default = "default_resend")]
    pub resend: streammon_core::Span,
}

fn default_resend() -> streammon_core::Span {
    streammon_core::Span::from_mins(1)
}

/// One `[[notify.webhooks]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    /// Where bodies are POSTed.
    pub url: String,
    /// The signing secret, 16 bytes or more; required for `json`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// `json` (default) or `slack`.
    #[serde(default)]
    pub format: Option<String>,
}
