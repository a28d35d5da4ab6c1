//! What the handlers share: storage, the live view the pipeline publishes
//! into, telemetry, the ingest queue and the settings.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use streammon_core::Store;
use streammon_core::limits::{Admission, Limits, Refusal};
use streammon_core::pipeline::{ContentRow, PipelineStats, RegionForecast, TotalForecast};
use streammon_core::{Alert, Sample};
use tokio::sync::mpsc;

use crate::telemetry::Telemetry;
use crate::wire::{AnomalyAlert, MetricsUpdate};

/// Settings of the HTTP and Socket.IO transport, already validated.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// Origins allowed by CORS and by the origin check of every request and
    /// Socket.IO handshake (the server's own origin always is); empty
    /// allows none, `*` any.
    pub cors_origins: Vec<String>,
    /// Ingest and read tokens.
    pub auth: crate::auth::AuthSettings,
    /// Longest time range a query may cover.
    pub max_range: Duration,
    /// Ticks kept in memory for `GET /metrics`.
    pub history_ticks: usize,
    /// Events buffered per Socket.IO client before it counts as lagging. A
    /// tick's events for a client reach its queue together, so this must
    /// hold them (its update, up to five anomalies per room, changes).
    pub client_buffer: usize,
    /// Most samples in one `metric_update` message or request.
    pub max_batch: usize,
    /// The web dashboard served at `/` to browsers; `None` serves a page
    /// that says how to build it.
    pub dashboard: Option<std::sync::Arc<crate::Dashboard>>,
    /// A directory of DASH or HLS media served at `/media/`, the CMCD of
    /// each request for it read into the collector (when one is on).
    pub media: Option<std::path::PathBuf>,
    /// Most regions, titles and series clients may push samples for
    /// (`POST /metrics`, `metric_update`). A limit of 0, which
    /// [`Limits::validate`] refuses, counts as 1.
    pub limits: Limits,
    /// Most regions and titles one Socket.IO client may subscribe to at
    /// once; a `subscribe` past it is answered 429.
    pub max_rooms_per_client: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            cors_origins: vec!["*".into()],
            auth: crate::auth::AuthSettings::default(),
            max_range: Duration::from_secs(24 * 3600),
            history_ticks: 3_600,
            client_buffer: 32,
            max_batch: 1_000,
            dashboard: None,
            media: None,
            limits: Limits::default(),
            max_rooms_per_client: 64,
        }
    }
}

/// One tick in the history: the payload and its JSON, encoded once.
#[derive(Debug)]
pub struct HistoryEntry {
    /// The payload.
    pub update: MetricsUpdate,
    /// Its JSON.
    pub json: Bytes,
    /// Its JSON without the per-region and per-type arrays: what
    /// `GET /metrics` lists by default.
    pub compact: Bytes,
    /// Its original server's fields only, as JSON: an entry of the
    /// original's `history` in `GET /metrics`.
    pub original: Bytes,
}

impl HistoryEntry {
    /// An entry for `update`, whose JSON is `json`.
    pub fn new(update: MetricsUpdate, json: Bytes) -> Self {
        let compact = MetricsUpdate { regions: Vec::new(), types: Vec::new(), ..update.clone() };
        let compact = Bytes::from(serde_json::to_vec(&compact).unwrap_or_default());
        let original =
            Bytes::from(serde_json::to_vec(&crate::wire::OriginalMetrics::from(&update)).unwrap_or_default());
        Self { update, json, compact, original }
    }
}

/// What the pipeline last published. Readers take the lock briefly.
#[derive(Debug, Default)]
pub struct Live {
    /// The last `interval_ms` ticks, oldest first.
    pub history: VecDeque<Arc<HistoryEntry>>,
    /// Recent anomalies and predictions, oldest first.
    pub anomalies: VecDeque<AnomalyAlert>,
    /// Recent alert transitions, oldest first.
    pub alert_events: VecDeque<AnomalyAlert>,
    /// Alerts pending or firing.
    pub active_alerts: Vec<Alert>,
    /// Every title each of `active_alerts` stands for, in the same order
    /// (an alert's `series` lists only a sample).
    pub alert_titles: Vec<Vec<streammon_core::ContentId>>,
    /// The title table.
    pub contents: Vec<ContentRow>,
    /// Latest forecast per region.
    pub forecasts: Vec<RegionForecast>,
    /// Latest audience forecast.
    pub audience: Option<TotalForecast>,
    /// Pipeline counters.
    pub stats: PipelineStats,
    /// When the last tick was published.
    pub last_tick_at: Option<Instant>,
    /// The tick length.
    pub interval_ms: u32,
}

/// Most anomalies and alert events kept for `GET /analytics`.
pub(crate) const RECENT_EVENTS: usize = 1_000;

/// This server as a node of a cluster (`serve --cluster`).
#[derive(Debug)]
pub struct ClusterNode {
    /// Its id.
    pub node: String,
    /// Partitions of the ingest streams.
    pub partitions: u16,
    leading: std::sync::atomic::AtomicBool,
}

impl ClusterNode {
    /// Whether it holds the lead lease now.
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }
}

impl AppState {
    /// Marks this server as node `node` of a cluster over `partitions`
    /// partitions; `false` (and the first kept) if it was already.
    pub fn join_cluster(&self, node: impl Into<String>, partitions: u16) -> bool {
        let node = ClusterNode { node: node.into(), partitions, leading: Default::default() };
        self.0.cluster.set(node).is_ok()
    }

    /// Records whether this cluster node leads now.
    pub fn set_leading(&self, leading: bool) {
        if let Some(c) = self.0.cluster.get() {
            c.leading.store(leading, Ordering::Relaxed);
        }
    }

    /// This server as a cluster node, when it is one.
    pub fn cluster(&self) -> Option<&ClusterNode> {
        self.0.cluster.get()
    }
}

/// Where accepted samples from clients go: the pipeline's queue, or (in
/// cluster mode) a [`IngestSink`] that answers once they are durable.
#[derive(Debug, Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Vec<Sample>>,
    sink: Option<Arc<dyn IngestSink>>,
    closed: Arc<std::sync::atomic::AtomicBool>,
}

/// Where a cluster node puts accepted samples: shared storage that the
/// node owning their series reads (`streammon-redis`'s partition
/// streams). A client is answered once [`submit`](Self::submit) returned.
pub trait IngestSink: Send + Sync + std::fmt::Debug {
    /// Makes `batch` durable, or says why not.
    fn submit(&self, batch: Vec<Sample>) -> BoxFuture<'_, Result<(), SinkRefusal>>;
}

/// A boxed future, for the object-safe [`IngestSink`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Why an [`IngestSink`] did not take a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkRefusal {
    /// Its backlog is full: retry later (HTTP 429).
    #[error("{0}")]
    Busy(String),
    /// It cannot be reached: retry later (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
}

/// What became of a batch offered to [`Ingest::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Taken: it will be processed and stored.
    Accepted,
    /// The server is stopping or its pipeline failed.
    Stopping,
    /// Full: retry shortly.
    Busy(String),
    /// Shared storage is unreachable: retry shortly.
    Unavailable(String),
}

impl Ingest {
    /// A queue of `capacity` batches; the receiver goes to the pipeline.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<Vec<Sample>>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx, sink: None, closed: Arc::default() }, rx)
    }

    /// Ingest into `sink` (cluster mode) rather than the local queue.
    pub fn forwarding(sink: Arc<dyn IngestSink>) -> Self {
        let (tx, _) = mpsc::channel(1);
        Self { tx, sink: Some(sink), closed: Arc::default() }
    }

    /// Stops taking batches (a sink's only: a queue closes when its
    /// pipeline closes it).
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Queues a batch; `false` when the queue is full (shed load) or the
    /// pipeline has stopped taking batches ([`is_closed`](Self::is_closed)).
    /// With a sink, use [`submit`](Self::submit).
    pub fn offer(&self, batch: Vec<Sample>) -> bool {
        self.sink.is_none() && self.tx.try_send(batch).is_ok()
    }

    /// Whether batches go to a sink (cluster mode), which
    /// [`submit`](Self::submit) must await.
    pub fn forwards(&self) -> bool {
        self.sink.is_some()
    }

    /// Hands a batch over: queued at once, or (with a sink) once durable.
    pub async fn submit(&self, batch: Vec<Sample>) -> Submitted {
        if self.is_closed() {
            return Submitted::Stopping;
        }
        match &self.sink {
            None => match self.tx.try_send(batch) {
                Ok(()) => Submitted::Accepted,
                Err(mpsc::error::TrySendError::Closed(_)) => Submitted::Stopping,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    Submitted::Busy("the pipeline is busy; retry shortly".into())
                }
            },
            Some(sink) => match sink.submit(batch).await {
                Ok(()) => Submitted::Accepted,
                Err(SinkRefusal::Busy(why)) => Submitted::Busy(why),
                Err(SinkRefusal::Unavailable(why)) => Submitted::Unavailable(why),
            },
        }
    }

    /// Whether the pipeline has stopped taking batches: the server is
    /// stopping (every batch accepted before is still processed and
    /// stored) or its pipeline failed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire) || (self.sink.is_none() && self.tx.is_closed())
    }
}

/// The door for client samples: `limits`, each at least 1.
fn admission(limits: Limits) -> Admission {
    let at_least_one = Limits {
        max_regions: limits.max_regions.max(1),
        max_titles: limits.max_titles.max(1),
        max_series: limits.max_series.max(1),
        ..limits
    };
    Admission::new(at_least_one).unwrap_or_else(|_| unreachable!("every limit is at least 1"))
}

/// A cached response body, valid for one tick.
#[derive(Debug, Default)]
pub(crate) struct Cached {
    pub(crate) seq: u64,
    pub(crate) key: String,
    pub(crate) body: Bytes,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) live: RwLock<Live>,
    pub(crate) telemetry: Arc<Telemetry>,
    pub(crate) ingest: Ingest,
    pub(crate) settings: HttpSettings,
    pub(crate) started: Instant,
    pub(crate) source: String,
    pub(crate) seq: AtomicU64,
    pub(crate) cache: Mutex<Vec<Cached>>,
    pub(crate) probe: crate::storage::Probe,
    pub(crate) failure: std::sync::OnceLock<String>,
    pub(crate) cmcd: std::sync::OnceLock<Arc<crate::CmcdIngest>>,
    pub(crate) admission: Mutex<Admission>,
    pub(crate) door_swept_ms: std::sync::atomic::AtomicI64,
    pub(crate) notes: RwLock<crate::alerting::Notes>,
    pub(crate) sink: std::sync::OnceLock<Arc<dyn crate::alerting::AlertSink>>,
    pub(crate) io: std::sync::OnceLock<socketioxide::SocketIo>,
    /// This node in a cluster, when in one.
    pub(crate) cluster: std::sync::OnceLock<ClusterNode>,
    /// Where operators' changes go to the other cluster nodes.
    pub(crate) notes_relay: std::sync::OnceLock<Arc<dyn crate::alerting::NotesRelay>>,
}

/// The state every handler gets; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl AppState {
    /// State over `store`, feeding client samples to `ingest`. `source`
    /// names where samples come from, for the health endpoint.
    pub fn new(
        store: Arc<dyn Store>,
        telemetry: Arc<Telemetry>,
        ingest: Ingest,
        settings: HttpSettings,
        source: impl Into<String>,
    ) -> Self {
        let settings_limits = settings.limits;
        Self(Arc::new(Inner {
            store,
            live: RwLock::new(Live::default()),
            telemetry,
            ingest,
            settings,
            started: Instant::now(),
            source: source.into(),
            seq: AtomicU64::new(0),
            cache: Mutex::new(Vec::new()),
            probe: crate::storage::Probe::default(),
            failure: std::sync::OnceLock::new(),
            cmcd: std::sync::OnceLock::new(),
            admission: Mutex::new(admission(settings_limits)),
            door_swept_ms: std::sync::atomic::AtomicI64::new(0),
            notes: RwLock::new(crate::alerting::Notes::default()),
            sink: std::sync::OnceLock::new(),
            io: std::sync::OnceLock::new(),
            cluster: std::sync::OnceLock::new(),
            notes_relay: std::sync::OnceLock::new(),
        }))
    }

    /// Sends alert events, acknowledgements and test notifications to
    /// `sink` from now on; returns false (and keeps the first) if one was
    /// set already.
    pub fn set_alert_sink(&self, sink: Arc<dyn crate::alerting::AlertSink>) -> bool {
        self.0.sink.set(sink).is_ok()
    }

    /// Where alert notifications go, if anywhere.
    pub fn alert_sink(&self) -> Option<&Arc<dyn crate::alerting::AlertSink>> {
        self.0.sink.get()
    }

    /// The acknowledgements and silences, read-locked briefly.
    pub fn notes(&self) -> std::sync::RwLockReadGuard<'_, crate::alerting::Notes> {
        self.0.notes.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The acknowledgements and silences, write-locked briefly.
    pub(crate) fn notes_mut(&self) -> std::sync::RwLockWriteGuard<'_, crate::alerting::Notes> {
        self.0.notes.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `event` with `payload` to every Socket.IO client (when the hub
    /// is up), without waiting on any.
    pub(crate) fn broadcast<T: serde::Serialize>(&self, event: &'static str, payload: &T) {
        if let Some(io) = self.0.io.get() {
            crate::fanout::broadcast_all(io, event, &crate::realtime::encode(payload));
        }
    }

    /// Admits a client's batch within [`HttpSettings::limits`], all or
    /// nothing, counting a refusal in `streammon_refused_total{limit}` and
    /// its samples in `streammon_samples_rejected_total{reason="limit"}`.
    ///
    /// # Errors
    /// The [`Refusal`] naming the limit.
    pub fn admit(&self, samples: &[Sample], now_ms: i64) -> Result<(), Refusal> {
        let result = {
            let mut door = self.0.admission.lock().unwrap_or_else(|e| e.into_inner());
            // Forget what went quiet, at most once a minute.
            let swept = self.0.door_swept_ms.load(Ordering::Relaxed);
            if now_ms.saturating_sub(swept) >= 60_000 {
                self.0.door_swept_ms.store(now_ms, Ordering::Relaxed);
                door.retire_idle(now_ms);
            }
            door.admit_samples(samples, now_ms)
        };
        if let Err(refusal) = &result {
            let telemetry = self.telemetry();
            telemetry.refused.with_label_values(&[refusal.limit.as_str()]).inc();
            telemetry.samples_rejected.with_label_values(&["limit"]).inc_by(samples.len() as u64);
        }
        result
    }

    /// Turns on the CMCD endpoints (`/cmcd`), with `ingest` behind them;
    /// false if they were already on.
    pub fn enable_cmcd(&self, ingest: Arc<crate::CmcdIngest>) -> bool {
        self.0.cmcd.set(ingest).is_ok()
    }

    /// The CMCD collector, when on.
    pub fn cmcd(&self) -> Option<&crate::CmcdIngest> {
        self.0.cmcd.get().map(|c| &**c)
    }

    /// The storage.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    /// The telemetry.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.0.telemetry
    }

    /// The settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.0.settings
    }

    /// The ingest queue.
    pub fn ingest(&self) -> &Ingest {
        &self.0.ingest
    }

    /// The number of the last tick published.
    pub fn seq(&self) -> u64 {
        self.0.seq.load(Ordering::Acquire)
    }

    /// Reads the live view.
    pub fn read<T>(&self, f: impl FnOnce(&Live) -> T) -> T {
        f(&self.0.live.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Applies a new tick to the live view, invalidating cached bodies.
    pub fn write<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        let out = f(&mut self.0.live.write().unwrap_or_else(|e| e.into_inner()));
        self.0.seq.fetch_add(1, Ordering::AcqRel);
        out
    }

    /// A cached body for `key` at the current tick, or one made by `make`
    /// and cached until the next tick.
    pub(crate) fn cached(&self, key: &str, make: impl FnOnce() -> Bytes) -> Bytes {
        let seq = self.seq();
        {
            let cache = self.0.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = cache.iter().find(|c| c.seq == seq && c.key == key) {
                return c.body.clone();
            }
        }
        let body = make();
        let mut cache = self.0.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|c| c.seq == seq);
        if cache.len() < 16 {
            cache.push(Cached { seq, key: key.to_owned(), body: body.clone() });
        }
        body
    }

    /// Records that the pipeline failed (it panicked): from now on the
    /// health report is 503 with `reason` among its problems. The first
    /// reason stays.
    pub fn fail(&self, reason: impl Into<String>) {
        let _ = self.0.failure.set(reason.into());
    }

    /// Why the pipeline failed, once it has.
    pub fn failure(&self) -> Option<&str> {
        self.0.failure.get().map(String::as_str)
    }

    /// Whether samples are refused because the server is stopping: its
    /// queue is closed, or its pipeline failed (before the queue's
    /// receiver is gone).
    pub(crate) fn stopping(&self) -> bool {
        self.failure().is_some() || self.ingest().is_closed()
    }

    /// Uptime.
    pub fn uptime(&self) -> Duration {
        self.0.started.elapsed()
    }

    /// Where samples come from.
    pub fn source(&self) -> &str {
        &self.0.source
    }
}
