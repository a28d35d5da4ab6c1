//! Cluster mode's shared state: the partitioned ingest streams, the lead
//! lease, and the channel that carries the lead's ticks to every node.
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `{prefix}{pNNN}:in` | stream | accepted sample batches of partition NNN, field `s` = JSON array; consumer group `streammon` |
//! | `{prefix}{pNNN}:cursor` | string | the newest entry id of partition NNN whose samples are processed and stored |
//! | `{prefix}lead` | string | the node id holding the lead lease, with a TTL |
//! | `{prefix}nodes` | sorted set | node ids, score = their last heartbeat, epoch ms |
//! | `{prefix}rooms` | hash | node id → JSON `[epoch ms, [room, ...]]`: the region and title rooms its clients are in |
//! | `{prefix}ticks` | pub/sub channel | the lead's processed ticks, for every node's clients |
//! | `{prefix}notes` | pub/sub channel | acknowledgements and silences made on one node, for the others |
//!
//! `{pNNN}` is a Redis Cluster hash tag: a partition's stream and cursor
//! share a slot.
//!
//! A sample's partition is a hash of its series key (title and region)
//! over a fixed number of partitions ([`partition_of`]). Any node
//! appends ([`Cluster::append`]); the node holding the lead lease
//! ([`Cluster::lead`]) reads every partition through the consumer group
//! ([`Cluster::read`]), processes, stores, and only then commits
//! ([`Cluster::commit`]): acknowledges the entries and moves the
//! partition's cursor. A node that takes the lease over claims what the
//! last lead read but never committed ([`Cluster::claim`]); entries at or
//! below a cursor are already stored and are dropped there: delivery is at
//! least once, deduplicated by entry id.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use redis::aio::ConnectionManager;
use redis::{Cmd, Value};
use streammon_core::{Sample, StoreError};

use crate::RedisConfig;
use crate::error::RedisError;
use crate::store::connect_manager;

/// The consumer group every node reads the partitions through.
pub const GROUP: &str = "streammon";

/// Partitions when the configuration names none.
pub const DEFAULT_PARTITIONS: u16 = 16;

/// Most partitions: each is a stream the lead reads every tick.
pub const MAX_PARTITIONS: u16 = 1_024;

/// Entries one partition may hold unconsumed before appends are refused
/// (a lead that is gone or far behind must not fill Redis's memory).
pub const DEFAULT_MAX_BACKLOG: u64 = 100_000;

/// The partition of the series (`content`, `region`) among `partitions`:
/// FNV-1a over the two ids, stable across nodes, builds and platforms.
///
/// ```
/// use streammon_redis::cluster::partition_of;
/// let p = partition_of("live-000001", "eu-west", 16);
/// assert!(p < 16);
/// assert_eq!(p, partition_of("live-000001", "eu-west", 16));
/// ```
pub fn partition_of(content: &str, region: &str, partitions: u16) -> u16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in content.bytes().chain([0]).chain(region.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(partitions.max(1))) as u16
}

/// A stream entry id, `ms-seq`: the identity of an accepted batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntryId {
    /// The milliseconds part.
    pub ms: u64,
    /// The sequence part.
    pub seq: u64,
}

impl EntryId {
    /// Parses `ms-seq`.
    ///
    /// ```
    /// use streammon_redis::cluster::EntryId;
    /// assert_eq!(EntryId::parse("1700000000000-3"), Some(EntryId { ms: 1_700_000_000_000, seq: 3 }));
    /// assert_eq!(EntryId::parse("nope"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        Some(Self { ms: ms.parse().ok()?, seq: seq.parse().ok()? })
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The cluster's pub/sub channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The lead's processed ticks.
    Ticks,
    /// Operators' acknowledgements and silences.
    Notes,
}

/// One accepted batch of one partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its partition.
    pub partition: u16,
    /// Its id in the partition's stream.
    pub id: EntryId,
    /// Its samples: all of one partition.
    pub samples: Vec<Sample>,
}

/// What [`Cluster::claim`] found pending after a lead went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claimed {
    /// Entries read by a lead that never committed them: to process.
    pub entries: Vec<Entry>,
    /// Entries at or below their partition's cursor: stored already,
    /// acknowledged and dropped.
    pub duplicates: usize,
}

/// A node's handle on the cluster's shared state in Redis.
#[derive(Clone)]
pub struct Cluster {
    conn: ConnectionManager,
    client: redis::Client,
    node: String,
    prefix: String,
    partitions: u16,
    inputs: Vec<String>,
    cursors: Vec<String>,
    max_backlog: u64,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.node)
            .field("prefix", &self.prefix)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

/// Appends one batch unless the partition's backlog is full: returns the
/// entry id, or an error reply naming the backlog.
const APPEND: &str = r"
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  return redis.error_reply('BACKLOG partition backlog full')
end
return redis.call('XADD', KEYS[1], '*', 's', ARGV[2])";

/// Takes the lease when free, renews it when ours: 1 if held after.
const LEAD: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0";

/// Gives the lease up when ours.
const RESIGN: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Moves a cursor forward only (ids compared as `ms-seq`), acknowledges
/// the entries and deletes them: a stream holds only what waits.
const COMMIT: &str = r"
local function newer(a, b)
  if b == false then return true end
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
local cursor = redis.call('GET', KEYS[2])
if newer(ARGV[1], cursor) then
  redis.call('SET', KEYS[2], ARGV[1])
  cursor = ARGV[1]
end
for i = 2, #ARGV do
  redis.call('XACK', KEYS[1], 'streammon', ARGV[i])
  redis.call('XDEL', KEYS[1], ARGV[i])
end
return 1";

/// `EVAL script` over `keys`, arguments to add.
fn eval(script: &str, keys: &[&str]) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(keys.len());
    for key in keys {
        cmd.arg(*key);
    }
    cmd
}

fn failed(op: &'static str) -> impl Fn(redis::RedisError) -> StoreError {
    move |e| StoreError::Unavailable { backend: "redis", reason: format!("cluster {op}: {e}") }
}

impl Cluster {
    /// Connects as node `node` to the cluster whose keys `config` names
    /// (its prefix), over `partitions` partitions (every node must use the
    /// same number), and makes sure every partition's stream and consumer
    /// group exist.
    ///
    /// # Errors
    /// [`RedisError::Config`] for a bad configuration or partition count;
    /// [`RedisError::Connect`] when Redis cannot be reached.
    pub async fn connect(config: &RedisConfig, node: impl Into<String>, partitions: u16) -> Result<Self, RedisError> {
        if partitions == 0 || partitions > MAX_PARTITIONS {
            return Err(RedisError::config("partitions", format!("{partitions} is not within 1..={MAX_PARTITIONS}")));
        }
        let settings = config.settings()?;
        let (client, mut conn) = connect_manager(&settings).await?;
        let prefix = settings.keys().prefix().to_owned();
        let inputs: Vec<String> = (0..partitions).map(|p| format!("{prefix}{{p{p:03}}}:in")).collect();
        let cursors: Vec<String> = (0..partitions).map(|p| format!("{prefix}{{p{p:03}}}:cursor")).collect();
        create_groups(&mut conn, &inputs)
            .await
            .map_err(|e| RedisError::Connect { addr: settings.addr().to_owned(), reason: e.to_string() })?;
        Ok(Self {
            conn,
            client,
            node: node.into(),
            prefix,
            partitions,
            inputs,
            cursors,
            max_backlog: DEFAULT_MAX_BACKLOG,
        })
    }

    /// The same handle refusing appends once a partition holds `entries`
    /// unconsumed (at least 1).
    #[must_use]
    pub fn with_max_backlog(mut self, entries: u64) -> Self {
        self.max_backlog = entries.max(1);
        self
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The number of partitions.
    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    fn lead_key(&self) -> String {
        format!("{}lead", self.prefix)
    }

    fn nodes_key(&self) -> String {
        format!("{}nodes", self.prefix)
    }

    fn channel(&self, channel: Channel) -> String {
        match channel {
            Channel::Ticks => format!("{}ticks", self.prefix),
            Channel::Notes => format!("{}notes", self.prefix),
        }
    }

    /// Appends accepted samples to their partitions' streams, one entry
    /// per partition, in one round trip. When it returns `Ok`, the samples
    /// are in Redis: answer the client then.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] when a partition's backlog is full (no lead
    /// is consuming); [`StoreError::Unavailable`] when Redis is.
    pub async fn append(&self, samples: &[Sample]) -> Result<(), StoreError> {
        let mut by_partition: Vec<Vec<&Sample>> = vec![Vec::new(); usize::from(self.partitions)];
        for s in samples {
            by_partition[usize::from(partition_of(s.content_id.as_str(), s.region.as_str(), self.partitions))].push(s);
        }
        let mut pipe = redis::pipe();
        for (p, batch) in by_partition.iter().enumerate().filter(|(_, b)| !b.is_empty()) {
            let json = serde_json::to_string(batch).map_err(|e| StoreError::Unavailable {
                backend: "redis",
                reason: format!("cannot encode samples: {e}"),
            })?;
            let mut cmd = eval(APPEND, &[&self.inputs[p]]);
            cmd.arg(self.max_backlog).arg(json);
            pipe.add_command(cmd);
        }
        if pipe.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        // The script's refusal is an error reply with the code BACKLOG,
        // which the pipeline's error carries beside any other.
        let Err(e) = pipe.query_async::<()>(&mut conn).await else { return Ok(()) };
        let unavailable = failed("append")(e.clone());
        match e.into_server_errors() {
            Some(errors) if errors.iter().any(|(_, s)| s.code() == "BACKLOG") => {
                Err(StoreError::BufferFull { dropped: samples.len(), capacity: self.max_backlog as usize })
            }
            _ => Err(unavailable),
        }
    }

    /// Takes the lead lease when nobody holds it, or renews it when this
    /// node does, for `ttl`; `true` when this node leads after. Also
    /// records this node's heartbeat.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is: the caller must then
    /// act as if it did not lead (its lease may lapse meanwhile).
    pub async fn lead(&self, ttl: Duration, now_ms: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let mut lease = eval(LEAD, &[&self.lead_key()]);
        lease.arg(&self.node).arg(ttl.as_millis() as u64);
        let (held,): (i64,) = redis::pipe()
            .add_command(lease)
            .cmd("ZADD")
            .arg(self.nodes_key())
            .arg(now_ms)
            .arg(&self.node)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(failed("lease"))?;
        Ok(held == 1)
    }

    /// The node holding the lead lease now, if any.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn leader(&self) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GET").arg(self.lead_key()).query_async(&mut conn).await.map_err(failed("leader"))
    }

    /// The nodes seen within `window` of `now_ms`, by id.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn nodes(&self, now_ms: i64, window: Duration) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let since = now_ms - window.as_millis() as i64;
        let mut nodes: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.nodes_key())
            .arg(since)
            .arg("+inf")
            .query_async(&mut conn)
            .await
            .map_err(failed("nodes"))?;
        nodes.sort();
        Ok(nodes)
    }

    /// Gives the lead lease up, if this node holds it (at a clean stop,
    /// so that another node takes over at once).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn resign(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 =
            eval(RESIGN, &[&self.lead_key()]).arg(&self.node).query_async(&mut conn).await.map_err(failed("resign"))?;
        Ok(())
    }

    /// The lead's read: up to `count` new entries of each partition, in
    /// id order, through the consumer group (they stay pending, as this
    /// node's, until [`commit`](Self::commit)).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is; [`StoreError::Corrupt`]
    /// for an entry that does not decode (it is acknowledged and dropped:
    /// only this crate writes the streams).
    pub async fn read(&self, count: usize) -> Result<Vec<Entry>, StoreError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(GROUP).arg(&self.node).arg("COUNT").arg(count.max(1)).arg("STREAMS");
        for key in &self.inputs {
            cmd.arg(key);
        }
        for _ in &self.inputs {
            cmd.arg(">");
        }
        let mut conn = self.conn.clone();
        let reply: Value = match cmd.query_async(&mut conn).await {
            Ok(reply) => reply,
            // A stream or its group went (a FLUSHDB, a key deleted by
            // hand): made again, read again next tick.
            Err(e) if e.code() == Some("NOGROUP") => {
                create_groups(&mut conn, &self.inputs).await.map_err(failed("read"))?;
                return Ok(Vec::new());
            }
            Err(e) => return Err(failed("read")(e)),
        };
        let mut entries = Vec::new();
        for (key, items) in stream_pairs(&reply) {
            let Some(partition) = self.inputs.iter().position(|k| k.as_bytes() == key) else { continue };
            self.decode(partition as u16, items, &mut entries).await?;
        }
        Ok(entries)
    }

    /// Decodes one partition's `[id, [field, value, ...]]` items.
    async fn decode(&self, partition: u16, items: &[Value], out: &mut Vec<Entry>) -> Result<(), StoreError> {
        for item in items {
            let Value::Array(parts) = item else { continue };
            let (Some(id), Some(Value::Array(fields))) = (parts.first().and_then(text), parts.get(1)) else {
                continue;
            };
            let Some(id) = EntryId::parse(&id) else { continue };
            let body = fields.chunks(2).find(|kv| kv.first().and_then(text).as_deref() == Some("s"));
            let samples = body.and_then(|kv| kv.get(1)).and_then(bytes).map(serde_json::from_slice::<Vec<Sample>>);
            match samples {
                Some(Ok(samples)) => out.push(Entry { partition, id, samples }),
                other => {
                    let mut conn = self.conn.clone();
                    let _: Result<i64, _> = redis::cmd("XACK")
                        .arg(&self.inputs[usize::from(partition)])
                        .arg(GROUP)
                        .arg(id.to_string())
                        .query_async(&mut conn)
                        .await;
                    let reason = match other {
                        Some(Err(e)) => e.to_string(),
                        _ => "no `s` field".to_owned(),
                    };
                    return Err(StoreError::Corrupt {
                        key: format!("{} {id}", self.inputs[usize::from(partition)]),
                        reason,
                    });
                }
            }
        }
        Ok(())
    }

    /// Claims, for this node, the entries of every partition that some
    /// consumer read at least `min_idle` ago and never committed (a lead
    /// that died or stepped down): those at or below the partition's
    /// cursor are stored already and are acknowledged and dropped; the
    /// rest are returned, to process. Run on taking the lead over
    /// (`min_idle` zero: the last lead's lease has lapsed) and now and
    /// then while leading.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn claim(&self, min_idle: Duration) -> Result<Claimed, StoreError> {
        let mut claimed = Claimed::default();
        let mut conn = self.conn.clone();
        for (p, key) in self.inputs.iter().enumerate() {
            let cursor: Option<String> =
                redis::cmd("GET").arg(&self.cursors[p]).query_async(&mut conn).await.map_err(failed("claim"))?;
            let cursor = cursor.as_deref().and_then(EntryId::parse);
            let mut start = "0-0".to_owned();
            loop {
                let reply: Value = redis::cmd("XAUTOCLAIM")
                    .arg(key)
                    .arg(GROUP)
                    .arg(&self.node)
                    .arg(min_idle.as_millis() as u64)
                    .arg(&start)
                    .arg("COUNT")
                    .arg(1_000)
                    .query_async(&mut conn)
                    .await
                    .map_err(failed("claim"))?;
                let Value::Array(parts) = &reply else { break };
                let next = parts.first().and_then(text).unwrap_or_else(|| "0-0".to_owned());
                let mut found = Vec::new();
                if let Some(Value::Array(items)) = parts.get(1) {
                    self.decode(p as u16, items, &mut found).await?;
                }
                let (stored, fresh): (Vec<Entry>, Vec<Entry>) =
                    found.into_iter().partition(|e| cursor.is_some_and(|c| e.id <= c));
                if !stored.is_empty() {
                    claimed.duplicates += stored.len();
                    let mut ack = redis::cmd("XACK");
                    ack.arg(key).arg(GROUP);
                    for e in &stored {
                        ack.arg(e.id.to_string());
                    }
                    let mut del = redis::cmd("XDEL");
                    del.arg(key);
                    for e in &stored {
                        del.arg(e.id.to_string());
                    }
                    let _: (i64, i64) = redis::pipe()
                        .add_command(ack)
                        .add_command(del)
                        .query_async(&mut conn)
                        .await
                        .map_err(failed("claim"))?;
                }
                claimed.entries.extend(fresh);
                if next == "0-0" {
                    break;
                }
                start = next;
            }
        }
        claimed.entries.sort_by_key(|e| (e.id, e.partition));
        Ok(claimed)
    }

    /// Commits processed and stored entries: per partition, moves the
    /// cursor to the newest (never back), acknowledges them and deletes
    /// them from the stream.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is; the entries then stay
    /// pending and are claimed again (and dropped as duplicates of what
    /// the cursor covers, or processed again).
    pub async fn commit(&self, entries: &[(u16, EntryId)]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut by_partition: Vec<Vec<EntryId>> = vec![Vec::new(); usize::from(self.partitions)];
        for &(p, id) in entries {
            if let Some(ids) = by_partition.get_mut(usize::from(p)) {
                ids.push(id);
            }
        }
        let mut pipe = redis::pipe();
        for (p, ids) in by_partition.iter().enumerate().filter(|(_, ids)| !ids.is_empty()) {
            let newest = ids.iter().max().copied().unwrap_or_default();
            let mut cmd = eval(COMMIT, &[&self.inputs[p], &self.cursors[p]]);
            cmd.arg(newest.to_string());
            for id in ids {
                cmd.arg(id.to_string());
            }
            pipe.add_command(cmd).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(failed("commit"))
    }

    /// Entries waiting in every partition (appended, not yet committed).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn backlog(&self) -> Result<u64, StoreError> {
        let mut pipe = redis::pipe();
        for key in &self.inputs {
            pipe.cmd("XLEN").arg(key);
        }
        let mut conn = self.conn.clone();
        let lens: Vec<u64> = pipe.query_async(&mut conn).await.map_err(failed("backlog"))?;
        Ok(lens.iter().sum())
    }

    /// Records the region and title rooms this node's clients are in now
    /// (the lead relays the samples they need).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn set_rooms(&self, rooms: &[String], now_ms: i64) -> Result<(), StoreError> {
        let json = serde_json::to_string(&(now_ms, rooms)).unwrap_or_default();
        let mut conn = self.conn.clone();
        redis::cmd("HSET")
            .arg(format!("{}rooms", self.prefix))
            .arg(&self.node)
            .arg(json)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(failed("rooms"))?;
        Ok(())
    }

    /// Every room some node recorded within `window` of `now_ms`; older
    /// records (a node gone) are deleted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn rooms(&self, now_ms: i64, window: Duration) -> Result<Vec<String>, StoreError> {
        let key = format!("{}rooms", self.prefix);
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> =
            redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await.map_err(failed("rooms"))?;
        let mut rooms = Vec::new();
        for (node, json) in all {
            match serde_json::from_str::<(i64, Vec<String>)>(&json) {
                Ok((at, list)) if now_ms - at <= window.as_millis() as i64 => rooms.extend(list),
                _ => {
                    let _: Result<i64, _> = redis::cmd("HDEL").arg(&key).arg(node).query_async(&mut conn).await;
                }
            }
        }
        rooms.sort();
        rooms.dedup();
        Ok(rooms)
    }

    /// Sends `payload` to every node subscribed to `channel`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn publish(&self, channel: Channel, payload: &[u8]) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(self.channel(channel))
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(failed("publish"))?;
        Ok(())
    }

    /// Subscribes to `channel` on a connection of its own: the stream
    /// ends when that connection drops (subscribe again). Pub/sub is at
    /// most once: what is published while a node is not subscribed does
    /// not reach it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis is.
    pub async fn subscribe(&self, channel: Channel) -> Result<Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>, StoreError> {
        let mut pubsub = self.client.get_async_pubsub().await.map_err(failed("subscribe"))?;
        pubsub.subscribe(self.channel(channel)).await.map_err(failed("subscribe"))?;
        Ok(Box::pin(pubsub.into_on_message().map(|m| m.get_payload_bytes().to_vec())))
    }
}

/// Makes every partition's stream and consumer group, where missing.
async fn create_groups(conn: &mut ConnectionManager, inputs: &[String]) -> Result<(), redis::RedisError> {
    for key in inputs {
        let made: Result<(), redis::RedisError> =
            redis::cmd("XGROUP").arg("CREATE").arg(key).arg(GROUP).arg("0").arg("MKSTREAM").query_async(conn).await;
        match made {
            Err(e) if e.code() != Some("BUSYGROUP") => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The text of a bulk or simple string reply.
fn text(v: &Value) -> Option<String> {
    bytes(v).map(|b| String::from_utf8_lossy(b).into_owned())
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The `(key, items)` pairs of an `XREADGROUP` reply, RESP2 or RESP3.
fn stream_pairs(reply: &Value) -> Vec<(&[u8], &[Value])> {
    let mut pairs = Vec::new();
    match reply {
        Value::Array(streams) => {
            for stream in streams {
                if let Value::Array(kv) = stream
                    && let (Some(key), Some(Value::Array(items))) = (kv.first().and_then(bytes), kv.get(1))
                {
                    pairs.push((key, items.as_slice()));
                }
            }
        }
        Value::Map(map) => {
            for (k, v) in map {
                if let (Some(key), Value::Array(items)) = (bytes(k), v) {
                    pairs.push((key, items.as_slice()));
                }
            }
        }
        _ => {}
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_spread_series_and_stay_put() {
        let mut seen = [0u32; 16];
        for c in 0..200 {
            for r in ["us-east", "eu-west", "ap-south"] {
                seen[usize::from(partition_of(&format!("vod-{c:06}"), r, 16))] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n > 15), "{seen:?}");
        // Pinned: a change would move every series on an upgrade.
        assert_eq!(partition_of("live-000001", "eu-west", 16), partition_of("live-000001", "eu-west", 16));
        assert_ne!(partition_of("a", "bc", 1024), partition_of("ab", "c", 1024), "the separator counts");
    }

    #[test]
    fn entry_ids_order_by_time_then_sequence() {
        let a = EntryId::parse("10-9").unwrap();
        let b = EntryId::parse("11-0").unwrap();
        assert!(a < b && EntryId::parse("10-10").unwrap() > a);
        assert_eq!(a.to_string(), "10-9");
    }
}
