//! `streammon serve`'s configuration: flags and environment variables over
//! an optional TOML file, validated once into [`Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use streammon_core::cmcd::CollectorConfig;
use streammon_core::limits::Limits;
use streammon_core::pipeline::PipelineConfig;
use streammon_core::store::MemoryConfig;
use streammon_core::time::Span;
use streammon_core::{SimConfig, Simulator};
use streammon_http::{CmcdSettings, HttpSettings};
use streammon_redis::RedisConfig;

use crate::config_file;
use crate::error::CliError;
use crate::serve_file::Secret;
use crate::serve_file::ServeFile;
use crate::sim_flags::SimFlags;

/// The flags of `streammon serve` (its help text is on the `Serve`
/// command in `main.rs`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  streammon serve
  API_PORT=9000 REDIS_HOST=localhost streammon serve
  streammon serve --host 127.0.0.1 --port 8080 --titles 200 --incidents random=6
  streammon serve --config streammon.toml --backfill 30m
  streammon serve --source cmcd --media ./media --cmcd-token player=a-long-random-s3cret
  streammon serve --host 0.0.0.0 --ingest-token $(openssl rand -hex 16)

Endpoints: GET / (the dashboard to browsers, health JSON otherwise; also
/health), /metrics (JSON, or Prometheus text by Accept),
/metrics/prometheus, /content, /analytics, /alerts, /openapi.json, /docs;
Socket.IO at /socket.io/ and /ws/socket.io/.")]
pub(crate) struct ServeArgs {
    /// Address to listen on. Anything but a loopback address needs
    /// --ingest-token (or --open-ingest): see docs/SECURITY.md
    #[arg(long, env = "STREAMMON_HOST", default_value = "127.0.0.1")]
    host: String,
    /// A token that may write: POST /metrics, Socket.IO metric_update, the
    /// CMCD routes and /cmcd/sessions (`Authorization: Bearer <token>`, or
    /// Socket.IO's `auth: {token}`); 16 bytes or more. Repeat or
    /// comma-separate. None: writes are open (loopback only, unless
    /// --open-ingest)
    #[arg(long = "ingest-token", env = "STREAMMON_INGEST_TOKENS", value_delimiter = ',', value_name = "TOKEN")]
    ingest_tokens: Vec<Secret>,
    /// A token that may read: once one is given, the REST reads, Socket.IO
    /// and the dashboard need it (or an ingest token); a browser opens
    /// /?token=TOKEN once. /health stays open. 16 bytes or more; repeat or
    /// comma-separate
    #[arg(long = "read-token", env = "STREAMMON_READ_TOKENS", value_delimiter = ',', value_name = "TOKEN")]
    read_tokens: Vec<Secret>,
    /// A token that may act on alerts: acknowledge, silence, send a test
    /// notification (and read), but not ingest; an ingest token may too.
    /// None and no ingest token: those actions are open. A browser opens
    /// /?token=TOKEN once. 16 bytes or more; repeat or comma-separate
    #[arg(long = "admin-token", env = "STREAMMON_ADMIN_TOKENS", value_delimiter = ',', value_name = "TOKEN")]
    admin_tokens: Vec<Secret>,
    /// Take writes from anyone on a non-loopback address without an ingest
    /// token (a trusted network only)
    #[arg(long)]
    open_ingest: bool,
    #[command(flatten)]
    delivery: super::delivery::DeliveryArgs,
    /// Port of the API, Socket.IO and the dashboard
    #[arg(long, env = "API_PORT", default_value_t = 8000)]
    port: u16,
    /// Port of the dashboard's development server, allowed by CORS
    #[arg(long, env = "FRONTEND_PORT", default_value_t = 3000)]
    frontend_port: u16,
    /// Extra origins allowed by CORS (`*` for any); repeat or comma-separate
    #[arg(long = "cors-origin", value_delimiter = ',', value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Storage: `auto` (Redis when REDIS_URL or REDIS_HOST is set, else
    /// memory), `memory` or `redis`
    #[arg(long, value_enum, default_value = "auto")]
    store: StoreChoice,
    /// TOML file with `[simulator]`, `[pipeline]` (detectors, alert rules,
    /// forecasts) and `[memory]` tables; flags override it
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    sim: SimFlags,
    /// Simulate this much history at full speed before going live, so
    /// charts and detectors start warm (forecasts need 24 minutes); 0 to
    /// start cold
    #[arg(long, env = "STREAMMON_BACKFILL", default_value = "5m")]
    backfill: Span,
    /// On a store that outlives the process (Redis): replay this much of
    /// the stored raw samples through the detectors and alert rules before
    /// going live, so a restarted server starts warm and carries on the
    /// alerts it left open (docs/RELIABILITY.md); 0 to start cold
    #[arg(long, env = "STREAMMON_RESUME_WINDOW", default_value = "15m")]
    resume_window: Span,
    /// On Redis: how often the simulator's state is saved (and always at
    /// a graceful stop), so that a restart goes on with the same simulated
    /// world; 1s to 1h
    #[arg(long, env = "STREAMMON_CHECKPOINT_INTERVAL", default_value = "10s")]
    checkpoint_interval: Span,
    /// Run as one node of a cluster sharing the Redis store (needs Redis):
    /// any node takes samples into Redis Streams, the node holding the
    /// lead lease runs the simulator, the detectors and the alert rules,
    /// and every node's clients get its ticks (docs/SCALING.md)
    #[arg(long, env = "STREAMMON_CLUSTER", value_parser = clap::builder::FalseyValueParser::new())]
    cluster: bool,
    /// This node's id in the cluster [default: hostname:port]
    #[arg(long, env = "STREAMMON_NODE_ID", value_name = "ID")]
    node_id: Option<String>,
    /// Partitions of the cluster's ingest streams; the same on every node
    #[arg(long, env = "STREAMMON_PARTITIONS", default_value_t = streammon_redis::cluster::DEFAULT_PARTITIONS)]
    partitions: u16,
    /// Ticks kept in memory for `GET /metrics`
    #[arg(long, default_value_t = 3_600)]
    history: usize,
    /// Events queued per Socket.IO client before it counts as lagging. A
    /// tick's events for a client (its update, up to five anomalies per
    /// room, changes) reach its queue together: keep this well above them
    #[arg(long, default_value_t = 32)]
    client_buffer: usize,
    /// Largest request body or Socket.IO message, bytes
    #[arg(long, default_value_t = 1 << 20)]
    max_body: usize,
    /// Log lines as JSON objects instead of text
    #[arg(long)]
    log_json: bool,
    /// Directory of the dashboard's production build, served at `/` to
    /// browsers [default: dashboard/dist when it exists]
    #[arg(long, env = "STREAMMON_DASHBOARD", value_name = "DIR")]
    dashboard: Option<PathBuf>,
    /// Where samples come from: the simulator, real players' CMCD reports
    /// (POST /cmcd, and the media requests of --media), or both
    #[arg(long, env = "STREAMMON_SOURCE", value_enum, default_value = "simulator")]
    source: SourceChoice,
    /// Serve this directory of DASH/HLS media at /media/ and read CMCD
    /// from every request for it, like a CDN edge (needs --source cmcd or
    /// both)
    #[arg(long, env = "STREAMMON_MEDIA", value_name = "DIR")]
    media: Option<PathBuf>,
    /// A source allowed to report CMCD and its token, `NAME=TOKEN`; once one
    /// is given, reports without a known token are refused (401). Repeat or
    /// comma-separate
    #[arg(long = "cmcd-token", env = "STREAMMON_CMCD_TOKENS", value_delimiter = ',', value_name = "NAME=TOKEN")]
    cmcd_tokens: Vec<Secret>,
    /// Most CDN regions clients may push samples for; a batch naming a new
    /// one beyond it is refused (422) [default: 256, or `[limits]`]
    #[arg(long, value_name = "N")]
    max_regions: Option<usize>,
    /// Most titles clients may push samples for [default: 20000, or
    /// `[limits]`]
    #[arg(long, value_name = "N")]
    max_titles: Option<usize>,
    /// Most series (title x region) clients may push samples for
    /// [default: 200000, or `[limits]`]
    #[arg(long, value_name = "N")]
    max_series: Option<usize>,
    /// Most regions and titles one Socket.IO client may subscribe to at
    /// once; a `subscribe` past it is answered 429
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_rooms_per_client: usize,
}

/// `given` as a [`Token`](streammon_http::Token), or why not.
fn token(given: &str) -> Result<streammon_http::Token, String> {
    streammon_http::Token::try_from(given.trim().to_owned()).map_err(|e| e.to_string())
}

/// Where samples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SourceChoice {
    /// The simulator only.
    Simulator,
    /// CMCD reports only.
    Cmcd,
    /// Both: simulated titles beside real ones.
    Both,
}

impl SourceChoice {
    /// Whether the simulator runs.
    pub(crate) fn simulates(self) -> bool {
        self != Self::Cmcd
    }

    /// Whether the CMCD collector runs.
    pub(crate) fn collects(self) -> bool {
        self != Self::Simulator
    }

    /// The name the health report gives.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Simulator => "simulator",
            Self::Cmcd => "cmcd",
            Self::Both => "simulator+cmcd",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StoreChoice {
    Auto,
    Memory,
    Redis,
}

/// Where samples are stored.
#[derive(Debug)]
pub(crate) enum StoreSettings {
    Memory(MemoryConfig),
    Redis(Box<RedisConfig>),
}

/// Everything `serve` needs, validated.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) addr: SocketAddr,
    pub(crate) sim: SimConfig,
    pub(crate) pipeline: PipelineConfig,
    pub(crate) store: StoreSettings,
    pub(crate) http: HttpSettings,
    pub(crate) backfill: Duration,
    /// How much stored history a restart replays.
    pub(crate) resume_window: Duration,
    /// How often the simulator's state is saved.
    pub(crate) checkpoint_interval: Duration,
    pub(crate) log_json: bool,
    /// What was found of the dashboard, for the log.
    pub(crate) dashboard_note: String,
    /// Where samples come from.
    pub(crate) source: SourceChoice,
    /// The CMCD collector and its endpoints, when the source collects.
    pub(crate) cmcd: Option<(CollectorConfig, CmcdSettings)>,
    /// Where alerts are delivered.
    pub(crate) notify: streammon_notify::NotifyConfig,
    /// Cluster mode, when on.
    pub(crate) cluster: Option<ClusterSettings>,
}

/// Cluster mode's settings.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSettings {
    /// This node's id.
    pub(crate) node: String,
    /// Partitions of the ingest streams.
    pub(crate) partitions: u16,
}

impl ServeArgs {
    /// The tokens of the file and the flags, each checked for length.
    fn auth(
        &self,
        file: &ServeFile,
        locate: &dyn Fn(streammon_core::Error) -> CliError,
    ) -> Result<streammon_http::AuthSettings, CliError> {
        let mut out = streammon_http::AuthSettings::default();
        let kinds = [
            ("ingest_tokens", "--ingest-token", &file.auth.ingest_tokens, &self.ingest_tokens),
            ("read_tokens", "--read-token", &file.auth.read_tokens, &self.read_tokens),
            ("admin_tokens", "--admin-token", &file.auth.admin_tokens, &self.admin_tokens),
        ];
        for (key, flag, in_file, in_flags) in kinds {
            let list = match key {
                "ingest_tokens" => &mut out.ingest_tokens,
                "read_tokens" => &mut out.read_tokens,
                _ => &mut out.admin_tokens,
            };
            for (i, given) in in_file.iter().enumerate() {
                let t = token(given.expose())
                    .map_err(|reason| locate(streammon_core::Error::config(format!("auth.{key}[{i}]"), reason)))?;
                list.push(t);
            }
            for given in in_flags {
                let reason = |reason| CliError::Usage { flag, reason };
                list.push(token(given.expose()).map_err(reason)?);
            }
        }
        Ok(out)
    }

    /// Cluster mode's settings, when it is on: it needs Redis, and takes
    /// no CMCD reports yet.
    fn cluster_settings(&self, store: &StoreSettings, addr: SocketAddr) -> Result<Option<ClusterSettings>, CliError> {
        if !self.cluster {
            return Ok(None);
        }
        if !matches!(store, StoreSettings::Redis(_)) {
            return Err(CliError::Usage {
                flag: "--cluster",
                reason: "cluster nodes share their state through Redis: set REDIS_URL (or REDIS_HOST) on every node"
                    .into(),
            });
        }
        if self.source.collects() {
            return Err(CliError::Usage {
                flag: "--cluster",
                reason: "CMCD collection is not supported in cluster mode yet (docs/SCALING.md): run the collector \
                         on a standalone node"
                    .into(),
            });
        }
        if self.partitions == 0 || self.partitions > streammon_redis::cluster::MAX_PARTITIONS {
            return Err(CliError::Usage {
                flag: "--partitions",
                reason: format!("{} is not within 1..={}", self.partitions, streammon_redis::cluster::MAX_PARTITIONS),
            });
        }
        let node = match &self.node_id {
            Some(id) if id.trim().is_empty() || id.len() > 128 => {
                return Err(CliError::Usage { flag: "--node-id", reason: "must be 1 to 128 bytes".into() });
            }
            Some(id) => id.trim().to_owned(),
            None => format!("{}:{}", hostname(), addr.port()),
        };
        Ok(Some(ClusterSettings { node, partitions: self.partitions }))
    }

    /// Flags, environment and file, validated.
    pub(crate) fn settings(&self) -> Result<Settings, CliError> {
        let (file, text) = match &self.config {
            Some(path) => {
                let (file, text) = config_file::load::<ServeFile>(path)?;
                (file, Some((path.clone(), text)))
            }
            None => (ServeFile::default(), None),
        };
        let locate = |e: streammon_core::Error| match &text {
            Some((path, text)) => config_file::locate(path, text, e),
            None => CliError::from(e),
        };
        let mut sim = file.simulator.clone().unwrap_or_else(|| {
            let mut sim = SimConfig::default();
            sim.incidents.rate_per_hour = crate::sim_flags::DEFAULT_RANDOM_RATE;
            sim
        });
        self.sim.apply(&mut sim)?;
        // Start `backfill` ago, on the tick grid, so the first live tick
        // lands on the wall clock.
        let step_ms = sim.step.as_millis().max(1) as i64;
        let now = crate::serve::wall_ms();
        let backfill_ms = self.backfill.as_millis() as i64;
        sim.start_ms = (now - backfill_ms) / step_ms * step_ms;
        sim.validate().map_err(locate)?;
        file.pipeline.validate().map_err(locate)?;
        Simulator::new(sim.clone()).map_err(locate)?;

        let redis_env =
            ["REDIS_URL", "REDIS_HOST"].iter().any(|v| std::env::var(v).is_ok_and(|v| !v.trim().is_empty()));
        let store = match (self.store, redis_env) {
            (StoreChoice::Redis, _) | (StoreChoice::Auto, true) => StoreSettings::Redis(Box::new(
                file.redis
                    .clone()
                    .unwrap_or_default()
                    .with_env(|name| std::env::var(name).ok())
                    .map_err(|e| CliError::Usage { flag: "REDIS_*", reason: e.to_string() })?,
            )),
            _ => StoreSettings::Memory(file.memory.clone().unwrap_or(MemoryConfig {
                max_per_series: 900,
                retention: Span::from_mins(15),
                ..MemoryConfig::default()
            })),
        };
        // The store's bounds, checked here so a bad one is named at its
        // line of the file.
        match &store {
            StoreSettings::Memory(m) => {
                if let Err(streammon_core::StoreError::InvalidConfig { field, reason }) = m.clone().build() {
                    return Err(locate(streammon_core::Error::config(format!("memory.{field}"), reason)));
                }
            }
            StoreSettings::Redis(r) => match r.settings() {
                Err(streammon_redis::RedisError::Config { field, reason }) if !field.starts_with("REDIS_") => {
                    return Err(locate(streammon_core::Error::config(format!("redis.{field}"), reason)));
                }
                Err(e) => return Err(CliError::Usage { flag: "REDIS_*", reason: e.to_string() }),
                Ok(_) => {}
            },
        }
        let addr: SocketAddr = format!("{}:{}", self.host, self.port)
            .parse()
            .or_else(|_| format!("[{}]:{}", self.host, self.port).parse())
            .map_err(|_| CliError::Usage { flag: "--host", reason: format!("{:?} is not an IP address", self.host) })?;
        let cluster = self.cluster_settings(&store, addr)?;
        let checkpoint_interval = Duration::from_millis(self.checkpoint_interval.as_millis());
        if !(Duration::from_secs(1)..=Duration::from_secs(3_600)).contains(&checkpoint_interval) {
            return Err(CliError::Usage {
                flag: "--checkpoint-interval",
                reason: format!("{} is not within 1s..=1h", self.checkpoint_interval),
            });
        }
        let auth = self.auth(&file, &locate)?;
        if !addr.ip().is_loopback() && auth.ingest_tokens.is_empty() && !self.open_ingest {
            return Err(CliError::Usage {
                flag: "--host",
                reason: format!(
                    "{} is not a loopback address, and no ingest token is set: anyone who can reach it could \
                     post samples and end viewers' sessions. Give --ingest-token (16 bytes or more, e.g. \
                     `openssl rand -hex 16`), or --open-ingest on a trusted network; see docs/SECURITY.md",
                    addr.ip()
                ),
            });
        }
        let mut cors = vec![
            format!("http://localhost:{}", self.frontend_port),
            format!("http://127.0.0.1:{}", self.frontend_port),
        ];
        cors.extend(self.cors_origins.iter().map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()));
        if !(1..=1_000_000).contains(&self.history) {
            return Err(CliError::Usage {
                flag: "--history",
                reason: format!("{} is not within 1..=1000000", self.history),
            });
        }
        if !(2..=10_000).contains(&self.client_buffer) {
            return Err(CliError::Usage {
                flag: "--client-buffer",
                reason: format!("{} is not within 2..=10000", self.client_buffer),
            });
        }
        if !(1_024..=(256 << 20)).contains(&self.max_body) {
            return Err(CliError::Usage {
                flag: "--max-body",
                reason: format!("{} is not within 1024..=268435456", self.max_body),
            });
        }
        let limits = Limits {
            max_regions: self.max_regions.unwrap_or(file.limits.max_regions),
            max_titles: self.max_titles.unwrap_or(file.limits.max_titles),
            max_series: self.max_series.unwrap_or(file.limits.max_series),
            ..file.limits
        };
        if let Err(e) = limits.validate() {
            let streammon_core::Error::InvalidConfig { field, reason } = e else { return Err(locate(e)) };
            let flag = match field.as_str() {
                "max_regions" if self.max_regions.is_some() => Some("--max-regions"),
                "max_titles" if self.max_titles.is_some() => Some("--max-titles"),
                "max_series" if self.max_series.is_some() => Some("--max-series"),
                _ => None,
            };
            return Err(match flag {
                Some(flag) => CliError::Usage { flag, reason },
                None => locate(streammon_core::Error::InvalidConfig { field: format!("limits.{field}"), reason }),
            });
        }
        if !(1..=100_000).contains(&self.max_rooms_per_client) {
            return Err(CliError::Usage {
                flag: "--max-rooms-per-client",
                reason: format!("{} is not within 1..=100000", self.max_rooms_per_client),
            });
        }
        let notify = self.delivery.config(&file.notify, &locate)?;
        let dashboard = crate::serve::dashboard::load(self.dashboard.as_deref())?;
        let cmcd = if self.source.collects() {
            let mut tokens: Vec<(String, String)> = Vec::new();
            for (name, given) in &file.cmcd_ingest.tokens {
                let t = token(given.expose()).map_err(|reason| {
                    locate(streammon_core::Error::config(format!("cmcd_ingest.tokens.{name}"), reason))
                })?;
                tokens.push((name.clone(), t.expose().to_owned()));
            }
            for spec in self.cmcd_tokens.iter().map(|s| s.expose().trim()).filter(|s| !s.is_empty()) {
                let (name, given) = spec.split_once('=').filter(|(n, _)| !n.is_empty()).ok_or_else(|| {
                    CliError::Usage { flag: "--cmcd-token", reason: "a value is not NAME=TOKEN".into() }
                })?;
                let t = token(given).map_err(|reason| CliError::Usage {
                    flag: "--cmcd-token",
                    reason: format!("source {name:?}: {reason}"),
                })?;
                tokens.push((name.to_owned(), t.expose().to_owned()));
            }
            let limits = &file.cmcd_ingest;
            if !(limits.rate_per_source > 0.0 && limits.burst >= 1.0 && limits.max_reports >= 1) {
                return Err(locate(streammon_core::Error::config(
                    "cmcd_ingest.rate_per_source",
                    "rate_per_source must be positive, burst and max_reports at least 1",
                )));
            }
            streammon_core::cmcd::Collector::new(file.cmcd.clone()).map_err(|e| match e {
                streammon_core::Error::InvalidConfig { field, reason } => {
                    locate(streammon_core::Error::InvalidConfig { field: format!("cmcd.{field}"), reason })
                }
                other => locate(other),
            })?;
            let settings = CmcdSettings {
                tokens,
                rate_per_source: limits.rate_per_source,
                burst: limits.burst,
                max_reports: limits.max_reports,
            };
            Some((file.cmcd.clone(), settings))
        } else {
            if !self.cmcd_tokens.is_empty() {
                return Err(CliError::Usage { flag: "--cmcd-token", reason: "needs --source cmcd or both".into() });
            }
            None
        };
        let media = match &self.media {
            None => None,
            Some(_) if !self.source.collects() => {
                return Err(CliError::Usage { flag: "--media", reason: "needs --source cmcd or both".into() });
            }
            Some(dir) if !dir.is_dir() => {
                return Err(CliError::Usage {
                    flag: "--media",
                    reason: format!("{} is not a directory", dir.display()),
                });
            }
            Some(dir) => Some(dir.canonicalize().map_err(|source| CliError::Io { path: dir.clone(), source })?),
        };
        Ok(Settings {
            addr,
            sim,
            pipeline: file.pipeline,
            store,
            http: HttpSettings {
                max_body_bytes: self.max_body,
                cors_origins: cors,
                auth,
                history_ticks: self.history,
                client_buffer: self.client_buffer,
                dashboard: dashboard.dashboard.map(std::sync::Arc::new),
                media,
                limits,
                max_rooms_per_client: self.max_rooms_per_client,
                ..HttpSettings::default()
            },
            backfill: Duration::from_millis(backfill_ms as u64),
            resume_window: Duration::from_millis(self.resume_window.as_millis()),
            checkpoint_interval,
            cluster,
            log_json: self.log_json,
            dashboard_note: dashboard.note,
            source: self.source,
            cmcd,
            notify,
        })
    }
}

/// The machine's name: `/proc/sys/kernel/hostname`, `$HOSTNAME`, or
/// `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
