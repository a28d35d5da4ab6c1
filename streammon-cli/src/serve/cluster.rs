//! Cluster mode (`serve --cluster`): several nodes on one Redis.
//!
//! - Every node takes samples (`POST /metrics`, `metric_update`) into the
//!   partition streams and answers once they are there ([`ClusterSink`]).
//! - The node holding the lead lease runs the pipeline as a standalone
//!   server does ([`super::run_pipeline`]), with the simulator (when the
//!   source simulates) and the partition streams ([`PartitionSource`]) as
//!   its sources; it stores each tick, then commits the entries the tick
//!   took ([`Lead::stored`]), and relays the tick to every node.
//! - The other nodes show the relayed ticks to their clients and REST
//!   readers ([`Publisher::apply`]), and take the lease over when it
//!   lapses: they claim what the last lead read but never committed, warm
//!   their detectors on the stored history, and lead.
//!
//! docs/SCALING.md says what this shares and how it fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use streammon_core::source::{Phase, Pulled, Source, Tick};
use streammon_core::{ContentChange, Sample, Store, StoreError};
use streammon_http::{
    BoxFuture, IngestSink, NoteChange, NotesRelay, Publisher, RelayedTick, SinkRefusal, WatchedRooms,
};
use streammon_redis::cluster::{Channel, Cluster, EntryId};
use tokio::sync::mpsc;

/// How long a lead lease lasts unless renewed (every tick).
pub(super) const LEASE_TTL: Duration = Duration::from_secs(6);

/// A lead that could not renew its lease for this long steps down before
/// the lease can lapse: two nodes never lead at once.
const STEP_DOWN_AFTER: Duration = Duration::from_secs(4);

/// Entries read from each partition per tick at most.
const READ_PER_PARTITION: usize = 1_000;

/// Relayed ticks waiting for the pipeline thread; past it a tick that
/// arrives is dropped (the next one carries the whole view again).
pub(super) const RELAY_QUEUE: usize = 16;

/// Ticks stored but not yet committed, at most: past it the lead waits.
const COMMIT_QUEUE: usize = 64;

/// The ingest of a cluster node: samples go to their partitions' streams,
/// and the client is answered once Redis has them.
#[derive(Debug)]
pub(super) struct ClusterSink(pub(super) Cluster);

impl IngestSink for ClusterSink {
    fn submit(&self, batch: Vec<Sample>) -> BoxFuture<'_, Result<(), SinkRefusal>> {
        Box::pin(async move {
            match self.0.append(&batch).await {
                Ok(()) => Ok(()),
                Err(StoreError::BufferFull { capacity, .. }) => Err(SinkRefusal::Busy(format!(
                    "the cluster's ingest backlog is full ({capacity} batches waiting in a partition): retry shortly"
                ))),
                Err(e) => Err(SinkRefusal::Unavailable(e.to_string())),
            }
        })
    }
}

/// The partition streams as the lead's source: each live tick takes what
/// was appended since the last (after a takeover, first what the last
/// lead left uncommitted).
pub(super) struct PartitionSource {
    cluster: Cluster,
    rt: tokio::runtime::Handle,
    /// Claimed at takeover, given with the first live tick.
    claimed: Vec<streammon_redis::cluster::Entry>,
    /// Entries taken by ticks not yet stored.
    taken: Arc<Mutex<Vec<(u16, EntryId)>>>,
    /// Read failures since the last logged one.
    failures: u64,
}

impl std::fmt::Debug for PartitionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionSource").field("claimed", &self.claimed.len()).finish_non_exhaustive()
    }
}

impl Source for PartitionSource {
    fn name(&self) -> &'static str {
        "cluster"
    }

    fn pull(&mut self, tick: &Tick, samples: &mut Vec<Sample>, _: &mut Vec<ContentChange>) -> Pulled {
        if tick.phase == Phase::Backfill {
            return Pulled::default();
        }
        let mut entries = std::mem::take(&mut self.claimed);
        let cluster = self.cluster.clone();
        match self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(2), cluster.read(READ_PER_PARTITION)).await })
        {
            Ok(Ok(read)) => entries.extend(read),
            Ok(Err(e)) => {
                self.failures += 1;
                tracing::warn!(target: "streammon::cluster", error = %e, failures = self.failures, "cannot read the partition streams this tick");
            }
            Err(_) => {
                self.failures += 1;
                tracing::warn!(target: "streammon::cluster", failures = self.failures, "reading the partition streams took over 2 s this tick");
            }
        }
        let mut pulled = Pulled::default();
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        for entry in entries {
            pulled.batches += 1;
            pulled.samples += entry.samples.len() as u64;
            taken.push((entry.partition, entry.id));
            samples.extend(entry.samples);
        }
        pulled
    }
}

/// Every second: records the rooms this node's clients are in; while it
/// leads, also reads back every node's into `watched` (only the lead
/// relays ticks).
pub(super) async fn share_rooms(
    cluster: Cluster,
    hub: streammon_http::Hub,
    state: streammon_http::AppState,
    watched: Arc<std::sync::RwLock<WatchedRooms>>,
) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let now = super::wall_ms();
        if let Err(e) = cluster.set_rooms(&hub.scoped_rooms(), now).await {
            tracing::debug!(target: "streammon::cluster", error = %e, "cannot record this node's rooms");
            continue;
        }
        if state.cluster().is_some_and(|c| c.leading())
            && let Ok(rooms) = cluster.rooms(now, Duration::from_secs(5)).await
        {
            *watched.write().unwrap_or_else(|e| e.into_inner()) = WatchedRooms::from_names(rooms);
        }
    }
}

/// What the leading node does beside the pipeline: keeps its lease,
/// relays its ticks, commits what it stored.
pub(super) struct Lead {
    cluster: Cluster,
    watched: Arc<std::sync::RwLock<WatchedRooms>>,
    last_renewed: Instant,
    taken: Arc<Mutex<Vec<(u16, EntryId)>>>,
    commits: mpsc::Sender<Vec<(u16, EntryId)>>,
    committer: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Lead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lead").field("node", &self.cluster.node()).finish_non_exhaustive()
    }
}

impl Lead {
    /// Takes the lead: claims what the last lead read but never committed
    /// (dropping what its cursor shows stored), and returns the lead and
    /// the partition source that hands the claimed entries over first.
    pub(super) fn take(
        cluster: &Cluster,
        store: Arc<dyn Store>,
        watched: Arc<std::sync::RwLock<WatchedRooms>>,
        rt: &tokio::runtime::Handle,
    ) -> Result<(Self, PartitionSource), StoreError> {
        let claimed = rt.block_on(cluster.claim(Duration::ZERO))?;
        if !claimed.entries.is_empty() || claimed.duplicates > 0 {
            let samples: usize = claimed.entries.iter().map(|e| e.samples.len()).sum();
            tracing::info!(target: "streammon::cluster", batches = claimed.entries.len(), samples, duplicates = claimed.duplicates, "claimed what the last lead left uncommitted");
        }
        let taken = Arc::new(Mutex::new(Vec::new()));
        let (commits, mut queue) = mpsc::channel::<Vec<(u16, EntryId)>>(COMMIT_QUEUE);
        let committer = {
            let cluster = cluster.clone();
            rt.spawn(async move {
                // In order, each only once the store holds its tick: a
                // cursor never passes a tick that is not stored.
                while let Some(ids) = queue.recv().await {
                    let mut failures = 0u32;
                    loop {
                        let done = async {
                            store.flush().await?;
                            cluster.commit(&ids).await
                        };
                        match tokio::time::timeout(Duration::from_secs(10), done).await {
                            Ok(Ok(())) => break,
                            Ok(Err(e)) => {
                                failures += 1;
                                if failures == 1 || failures.is_multiple_of(60) {
                                    tracing::warn!(target: "streammon::cluster", error = %e, failures, "cannot commit a stored tick's entries: retrying");
                                }
                            }
                            Err(_) => failures += 1,
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            })
        };
        let source = PartitionSource {
            cluster: cluster.clone(),
            rt: rt.clone(),
            claimed: claimed.entries,
            taken: taken.clone(),
            failures: 0,
        };
        Ok((
            Self { cluster: cluster.clone(), watched, last_renewed: Instant::now(), taken, commits, committer },
            source,
        ))
    }

    /// Renews the lease; `false` once this node must stop leading: the
    /// lease went to another node, or could not be renewed for
    /// [`STEP_DOWN_AFTER`].
    pub(super) fn renew(&mut self, rt: &tokio::runtime::Handle) -> bool {
        let cluster = self.cluster.clone();
        let renewed = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(1), cluster.lead(LEASE_TTL, super::wall_ms())).await
        });
        match renewed {
            Ok(Ok(true)) => {
                self.last_renewed = Instant::now();
                true
            }
            Ok(Ok(false)) => {
                tracing::warn!(target: "streammon::cluster", "another node holds the lead lease: stepping down");
                false
            }
            _ if self.last_renewed.elapsed() >= STEP_DOWN_AFTER => {
                tracing::warn!(target: "streammon::cluster", after = ?STEP_DOWN_AFTER, "cannot renew the lead lease: stepping down before it lapses");
                false
            }
            _ => true,
        }
    }

    /// The samples of a tick that clients' region and title rooms
    /// anywhere in the cluster need: only those go with the relayed tick.
    pub(super) fn needed<'a>(&self, samples: &'a [Sample]) -> Vec<&'a Sample> {
        self.watched.read().unwrap_or_else(|e| e.into_inner()).needed(samples)
    }

    /// Sends a processed tick to every node.
    pub(super) fn relay(&self, rt: &tokio::runtime::Handle, payload: Vec<u8>) {
        let cluster = self.cluster.clone();
        rt.spawn(async move {
            if let Err(e) = cluster.publish(Channel::Ticks, &payload).await {
                tracing::debug!(target: "streammon::cluster", error = %e, "cannot relay a tick");
            }
        });
    }

    /// The tick's writes are handed to the store: commit its entries once
    /// they are flushed. Waits when [`COMMIT_QUEUE`] ticks are pending
    /// (Redis is down or slow: nothing more could be stored anyway).
    pub(super) fn stored(&self) {
        let ids = std::mem::take(&mut *self.taken.lock().unwrap_or_else(|e| e.into_inner()));
        if !ids.is_empty() {
            let _ = self.commits.blocking_send(ids);
        }
    }

    /// Stops leading: waits (up to `limit`) for the pending commits, then
    /// gives the lease up so that another node takes over at once.
    pub(super) fn resign(self, rt: &tokio::runtime::Handle, limit: Duration) {
        let Self { cluster, commits, committer, .. } = self;
        drop(commits);
        rt.block_on(async {
            if tokio::time::timeout(limit, committer).await.is_err() {
                tracing::warn!(target: "streammon::cluster", "stored ticks still uncommitted after {limit:?}: the next lead claims them again");
            }
            if let Err(e) = cluster.resign().await {
                tracing::warn!(target: "streammon::cluster", error = %e, "cannot give the lead lease up: it lapses in {LEASE_TTL:?}");
            }
        });
    }
}

/// Subscribes to the lead's ticks for as long as the process runs,
/// again after each lost connection, handing them to `tx`.
pub(super) async fn listen(cluster: Cluster, tx: mpsc::Sender<Vec<u8>>) {
    loop {
        match cluster.subscribe(Channel::Ticks).await {
            Ok(mut ticks) => {
                while let Some(tick) = ticks.next().await {
                    // Full: the pipeline thread is behind; this tick is
                    // dropped, and the next carries the whole view again.
                    let _ = tx.try_send(tick);
                }
                tracing::warn!(target: "streammon::cluster", "lost the subscription to the lead's ticks: subscribing again");
            }
            Err(e) => tracing::warn!(target: "streammon::cluster", error = %e, "cannot subscribe to the lead's ticks"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// An operator's change on this node, sent to the others.
#[derive(Debug)]
pub(super) struct NotesToPeers {
    pub(super) cluster: Cluster,
    pub(super) rt: tokio::runtime::Handle,
}

/// What goes over the notes channel: the change and who made it (a node
/// skips its own).
#[derive(serde::Serialize, serde::Deserialize)]
struct NoteMessage {
    node: String,
    change: NoteChange,
}

impl NotesRelay for NotesToPeers {
    fn changed(&self, change: &NoteChange) {
        let message = NoteMessage { node: self.cluster.node().to_owned(), change: change.clone() };
        let Ok(payload) = serde_json::to_vec(&message) else { return };
        let cluster = self.cluster.clone();
        self.rt.spawn(async move {
            if let Err(e) = cluster.publish(Channel::Notes, &payload).await {
                tracing::warn!(target: "streammon::cluster", error = %e, "cannot tell the other nodes of an acknowledgement or silence: they see it after their restart");
            }
        });
    }
}

/// Applies the other nodes' acknowledgements and silences to this one,
/// for as long as the process runs.
pub(super) async fn listen_notes(cluster: Cluster, state: streammon_http::AppState) {
    loop {
        match cluster.subscribe(Channel::Notes).await {
            Ok(mut notes) => {
                while let Some(payload) = notes.next().await {
                    match serde_json::from_slice::<NoteMessage>(&payload) {
                        Ok(m) if m.node == cluster.node() => {}
                        Ok(m) => state.apply_note_change(m.change, super::wall_ms()),
                        Err(e) => {
                            tracing::warn!(target: "streammon::cluster", error = %e, "a relayed acknowledgement or silence does not decode: skipped")
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(target: "streammon::cluster", error = %e, "cannot subscribe to the other nodes' acknowledgements and silences")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Shows a relayed tick; `false` if it does not decode.
pub(super) fn apply(publisher: &mut Publisher, payload: &[u8]) -> bool {
    match serde_json::from_slice::<RelayedTick>(payload) {
        Ok(tick) => {
            publisher.apply(&tick);
            true
        }
        Err(e) => {
            tracing::warn!(target: "streammon::cluster", error = %e, "a relayed tick does not decode: skipped");
            false
        }
    }
}

/// What a cluster node needs to lead when its turn comes.
pub(super) struct Node {
    pub(super) cluster: Cluster,
    /// The lead's ticks, from [`listen`].
    pub(super) relays: mpsc::Receiver<Vec<u8>>,
    pub(super) pipeline: streammon_core::pipeline::PipelineConfig,
    /// The simulator's configuration, when the source simulates.
    pub(super) sim: Option<streammon_core::SimConfig>,
    pub(super) resume_window: Duration,
    /// Where the lead's simulator keeps its state for the saver, and how
    /// often.
    pub(super) checkpoints: (super::checkpoint::Slot, Duration),
    /// The rooms clients anywhere are in, from [`share_rooms`].
    pub(super) watched: Arc<std::sync::RwLock<WatchedRooms>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("cluster", &self.cluster).finish_non_exhaustive()
    }
}

/// A cluster node's pipeline thread: follows the lead's ticks, and leads
/// whenever it holds the lease, until the stop.
pub(super) fn run_cluster(
    ticks: &super::Ticks<'_>,
    mut node: Node,
    publisher: &mut Publisher,
) -> Result<super::Drained, crate::error::CliError> {
    let (rt, state, step_ms) = (ticks.rt, ticks.state, ticks.step_ms);
    let mut stop = ticks.stop.clone();
    let next_check = || (super::wall_ms() / step_ms + 1) * step_ms;
    let mut check_at = next_check();
    tracing::info!(target: "streammon::cluster", node = node.cluster.node(), partitions = node.cluster.partitions(), "cluster mode: following the lead until this node holds the lease");
    loop {
        enum Wake {
            Check,
            Relay(Vec<u8>),
            Stop,
        }
        let wake = rt.block_on(async {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => Wake::Stop,
                Some(p) = node.relays.recv() => Wake::Relay(p),
                () = super::until_wall_ms(check_at) => Wake::Check,
            }
        });
        match wake {
            Wake::Stop => return Ok(super::Drained::default()),
            Wake::Relay(payload) => {
                apply(publisher, &payload);
                continue;
            }
            Wake::Check => check_at = next_check(),
        }
        let cluster = node.cluster.clone();
        let leads = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(1), cluster.lead(LEASE_TTL, super::wall_ms())).await
        });
        if !matches!(leads, Ok(Ok(true))) {
            continue;
        }
        let started = Instant::now();
        let (mut lead, partitions) = match Lead::take(&node.cluster, state.store().clone(), node.watched.clone(), rt) {
            Ok(taken) => taken,
            Err(e) => {
                tracing::warn!(target: "streammon::cluster", error = %e, "took the lead lease but cannot claim the partitions: giving it back");
                let _ = rt.block_on(node.cluster.resign());
                continue;
            }
        };
        state.set_leading(true);
        let mut pipeline = streammon_core::pipeline::Pipeline::new(&node.pipeline)?;
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        let last_ms = rt.block_on(super::resume(state, &mut pipeline, node.resume_window, step_ms));
        if let Some(sim) = &node.sim {
            // Go on from the last tick anyone stored; a new cluster starts
            // with the backfill, as a standalone server does.
            let newest = state.read(|live| live.history.back().map(|h| h.update.timestamp_ms));
            let simulator = match last_ms.max(newest) {
                Some(last_ms) => rt.block_on(super::checkpoint::restore(state, sim, last_ms))?,
                None => streammon_core::Simulator::new(sim.clone())?,
            };
            for region in simulator.regions() {
                pipeline.set_capacity(region.id.clone(), region.capacity_gbps * 1_000.0);
            }
            let (slot, every) = node.checkpoints.clone();
            sources.push(Box::new(super::checkpoint::Checkpointed::new(simulator, every, slot)));
        }
        sources.push(Box::new(partitions));
        tracing::info!(target: "streammon::cluster", node = node.cluster.node(), took = ?started.elapsed(), "took the lead: running the pipeline");
        let mut refs: Vec<&mut dyn Source> = sources.iter_mut().map(|s| &mut **s as &mut dyn Source).collect();
        let drained = super::run_pipeline(ticks, &mut refs, pipeline, publisher, Some(&mut lead));
        state.set_leading(false);
        lead.resign(rt, Duration::from_secs(10));
        let drained = drained?;
        if !drained.stepped_down {
            return Ok(drained);
        }
        // Our own relays, queued while leading, are old news.
        while node.relays.try_recv().is_ok() {}
        check_at = next_check();
    }
}
