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
    /// In-memory storage bounds. Defaults to 15 minutes of history.
    pub memory: Option<MemoryConfig>,
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
}
