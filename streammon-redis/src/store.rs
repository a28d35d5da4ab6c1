//! [`RedisStore`]: the [`Store`] on Redis.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use redis::RedisResult;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::borrow::Cow;

use serde::Deserializer as _;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use streammon_core::alert::{Ack, Silence};
use streammon_core::rollup::{Rollup, RollupQuery};
use streammon_core::store::downsample::Downsampler;
use streammon_core::store::{DownsampleQuery, Newest, RangeQuery, SeriesFilter, SeriesPoints};
use streammon_core::{
    Alert, AlertState, ContentChange, Metric, Sample, SeriesKey, Store, StoreCounters, StoreError, StoreHealth,
};
use tokio::task::JoinHandle;

use crate::buffer::{Buffer, Encoded, Hash, Write};
use crate::config::{RedisConfig, Settings};
use crate::error::{RedisError, read_error};
use crate::flusher::{Shared, flush_loop};
use crate::keys::Keys;

/// The [`Store`] on Redis. See the [crate docs](crate).
///
/// Writes are accepted into a bounded buffer and written by a background
/// task in pipelines; reads go to Redis. Built with
/// [`connect`](Self::connect) inside a tokio runtime; call
/// [`flush`](Store::flush) before dropping it, or buffered writes are lost.
#[derive(Debug)]
pub struct RedisStore {
    shared: Arc<Shared>,
    conn: ConnectionManager,
    flusher: JoinHandle<()>,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.flusher.abort();
    }
}

/// A client and a checked connection manager for `settings`: connects,
/// then checks the server with `PING`, within the settings' timeouts.
pub(crate) async fn connect_manager(settings: &Settings) -> Result<(redis::Client, ConnectionManager), RedisError> {
    let connect_error =
        |e: &dyn std::fmt::Display| RedisError::Connect { addr: settings.addr.clone(), reason: e.to_string() };
    let client = match &settings.tls_root {
        Some(root) => redis::Client::build_with_tls(
            settings.info.clone(),
            redis::TlsCertificates { client_tls: None, root_cert: Some(root.clone()) },
        ),
        None => redis::Client::open(settings.info.clone()),
    }
    .map_err(|e| connect_error(&e))?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.response_timeout))
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(1));
    let connecting = ConnectionManager::new_with_config(client.clone(), manager_config);
    let budget = settings.connect_timeout + settings.response_timeout;
    let mut conn = tokio::time::timeout(budget, connecting)
        .await
        .map_err(|_| connect_error(&format!("no connection within {budget:?}")))?
        .map_err(|e| connect_error(&e))?;
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.map_err(|e| connect_error(&e))?;
    if pong != "PONG" {
        return Err(connect_error(&format!("PING answered {pong:?}")));
    }
    Ok((client, conn))
}

impl RedisStore {
    /// Connects, checks the server with `PING`, and starts the flusher.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`RedisError::Config`] for a bad configuration;
    /// [`RedisError::Connect`] when the server cannot be reached or does
    /// not answer `PING` within the timeouts.
    pub async fn connect(config: &RedisConfig) -> Result<Self, RedisError> {
        let settings = config.settings()?;
        let (_, conn) = connect_manager(&settings).await?;
        let shared = Arc::new(Shared {
            buffer: Buffer::new(settings.buffer_capacity),
            settings,
            newest_ms: AtomicI64::new(i64::MIN),
            last_error: Mutex::new(None),
            refused: Mutex::new(None),
        });
        let flusher = tokio::spawn(flush_loop(Arc::clone(&shared), conn.clone()));
        Ok(Self { shared, conn, flusher })
    }

    /// The validated settings it runs on.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The members of every stream `filter` selects with a timestamp in
    /// `[from_ms, to_ms)`, as `(key, stream name, members)`: the index of
    /// streams is read only when the filter is not one stream, then every
    /// stream is read in one pipeline. With a limit, each stream's newest
    /// `limit` (which hold the newest `limit` overall).
    async fn fetch(
        &self,
        filter: &SeriesFilter,
        from_ms: i64,
        to_ms: i64,
        limit: Option<usize>,
    ) -> Result<Vec<(String, String, Vec<Vec<u8>>)>, StoreError> {
        let k = &self.shared.settings.keys;
        let mut conn = self.conn.clone();
        let names = match (&filter.content, &filter.region) {
            (Some(c), Some(r)) => vec![Keys::stream_name(c.as_str(), r.as_str())],
            _ => {
                let all: Vec<String> = redis::cmd("ZRANGE")
                    .arg(k.streams())
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| read_error(k.streams(), &e))?;
                let mut names = Vec::with_capacity(all.len());
                for name in all {
                    let (c, r) = Keys::parse_stream_name(&name)
                        .ok_or_else(|| StoreError::corrupt(k.streams(), format!("member {name:?} is not a stream")))?;
                    if filter.matches(&c, &r) {
                        names.push(name);
                    }
                }
                names
            }
        };
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = names.iter().map(|n| k.stream(n)).collect();
        let (from, to) = (score(from_ms), format!("({}", score(to_ms)));
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for key in &keys {
            match limit {
                Some(limit) => pipe.cmd("ZREVRANGEBYSCORE").arg(key).arg(&to).arg(&from).arg("LIMIT").arg(0).arg(limit),
                None => pipe.cmd("ZRANGEBYSCORE").arg(key).arg(&from).arg(&to),
            };
        }
        let replies: Vec<RedisResult<Vec<Vec<u8>>>> =
            pipe.query_async(&mut conn).await.map_err(|e| Self::unavailable(&e))?;
        keys.into_iter()
            .zip(names)
            .zip(replies)
            .map(|((key, name), reply)| match reply {
                Ok(members) => Ok((key, name, members)),
                Err(e) => Err(read_error(&key, &e)),
            })
            .collect()
    }

    /// Queues setting (`Some`) or deleting (`None`) one entry of a hash.
    fn entry(&self, hash: Hash, id: &str, json: Option<String>) -> Result<(), StoreError> {
        self.shared.buffer.push(vec![Write::Entry { hash, id: id.to_owned(), json }])
    }

    /// Every value of the hash `key`, decoded and checked by `check` (a
    /// value that does not decode or pass is `StoreError::Corrupt`).
    async fn hash_values<T: DeserializeOwned>(
        &self,
        key: &str,
        check: impl Fn(&T) -> streammon_core::Result<()>,
    ) -> Result<Vec<T>, StoreError> {
        let raw: Vec<Vec<u8>> =
            redis::cmd("HVALS").arg(key).query_async(&mut self.conn.clone()).await.map_err(|e| read_error(key, &e))?;
        raw.iter()
            .map(|bytes| {
                let value: T = decode(key, "field value", bytes)?;
                check(&value).map_err(|e| StoreError::corrupt(key, format!("a field value is not valid: {e}")))?;
                Ok(value)
            })
            .collect()
    }

    fn unavailable(e: &redis::RedisError) -> StoreError {
        StoreError::Unavailable { backend: "redis", reason: e.to_string() }
    }
}

fn decode<T: DeserializeOwned>(key: &str, what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
        StoreError::corrupt(key, format!("{what} {shown:?} is not valid: {e}"))
    })
}

/// The timestamp and one metric of a JSON sample, skipping every other
/// field without allocating.
fn pick(key: &str, metric: Metric, bytes: &[u8]) -> Result<(i64, Option<f64>), StoreError> {
    struct Pick(&'static str);
    impl<'de> Visitor<'de> for Pick {
        type Value = (Option<i64>, Option<f64>);
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON sample")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut ts, mut value) = (None, None);
            while let Some(field) = map.next_key::<Cow<'de, str>>()? {
                if field == "timestamp_ms" {
                    ts = Some(map.next_value()?);
                } else if field == self.0 {
                    value = map.next_value()?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok((ts, value))
        }
    }
    let bad = |e: &dyn std::fmt::Display| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
        StoreError::corrupt(key, format!("member {shown:?} is not valid: {e}"))
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match de.deserialize_map(Pick(metric.as_str())) {
        Ok((Some(ts), value)) => Ok((ts, value)),
        Ok((None, _)) => Err(bad(&"missing field `timestamp_ms`")),
        Err(e) => Err(bad(&e)),
    }
}

/// Redis scores are doubles; bounds beyond ±2^53 ms are far outside any
/// timestamp, so infinities say it exactly.
fn score(ms: i64) -> String {
    const LIMIT: i64 = 1 << 53;
    if ms <= -LIMIT {
        "-inf".into()
    } else if ms >= LIMIT {
        "+inf".into()
    } else {
        ms.to_string()
    }
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    // A sample is about 500 bytes of JSON: one allocation, no regrowth.
    let mut out = Vec::with_capacity(640);
    serde_json::to_writer(&mut out, value).expect("streammon's models always serialise");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[async_trait]
impl Store for RedisStore {
    async fn append(&self, samples: &[Sample]) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        let encoded: Vec<Encoded> = samples
            .iter()
            .map(|x| Encoded {
                stream: Keys::stream_name(x.content_id.as_str(), x.region.as_str()),
                ts: x.timestamp_ms,
                json: encode(x),
            })
            .collect();
        let chunk = self.shared.settings.batch_size;
        let mut writes = Vec::with_capacity(encoded.len().div_ceil(chunk));
        let mut rest = encoded;
        while rest.len() > chunk {
            let tail = rest.split_off(chunk);
            writes.push(Write::Samples(rest));
            rest = tail;
        }
        writes.push(Write::Samples(rest));
        let newest = samples.iter().map(|x| x.timestamp_ms).max().unwrap_or(i64::MIN);
        self.shared.buffer.push(writes)?;
        self.shared.newest_ms.fetch_max(newest, Ordering::AcqRel);
        // Let the flusher start on this batch while the caller goes on:
        // on a single-threaded runtime the next batch is then encoded while
        // Redis stores this one.
        tokio::task::yield_now().await;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let limit = self.shared.settings.flush_timeout;
        let start = tokio::time::Instant::now();
        loop {
            let drained = self.shared.buffer.drained.notified();
            let mut drained = std::pin::pin!(drained);
            // Registered before the check, so a chunk finishing in between
            // still wakes this waiter.
            drained.as_mut().enable();
            let pending = self.shared.buffer.pending();
            if pending == 0 {
                return Ok(());
            }
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(StoreError::Timeout { what: "flush", after_ms: limit.as_millis() as u64, pending });
            }
            let _ = tokio::time::timeout(left, drained).await;
        }
    }

    async fn append_rollups(&self, rollups: &[Rollup]) -> Result<(), StoreError> {
        if rollups.is_empty() {
            return Ok(());
        }
        let s = &self.shared.settings;
        let writes = rollups
            .iter()
            .map(|r| Write::Rollup {
                key: s.keys.rollups(&r.scope, r.resolution),
                start_ms: r.start_ms,
                json: encode(r),
                retention_ms: s.rollup_retention.of(r.resolution),
            })
            .collect();
        self.shared.buffer.push(writes)
    }

    async fn rollups(&self, query: &RollupQuery) -> Result<Vec<Rollup>, StoreError> {
        if query.to_ms <= query.from_ms {
            return Ok(Vec::new());
        }
        let key = self.shared.settings.keys.rollups(&query.scope, query.resolution);
        let raw: Vec<Vec<u8>> = redis::cmd("ZRANGEBYSCORE")
            .arg(&key)
            .arg(query.from_ms)
            .arg(format!("({}", query.to_ms))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| read_error(&key, &e))?;
        raw.iter().map(|b| decode(&key, "roll-up", b)).collect()
    }

    async fn append_tick(&self, record: &str) -> Result<(), StoreError> {
        self.shared.buffer.push(vec![Write::Tick(record.to_owned())])
    }

    async fn ticks(&self, n: usize) -> Result<Vec<String>, StoreError> {
        let n = n.min(self.shared.settings.history_len);
        if n == 0 {
            return Ok(Vec::new());
        }
        let key = self.shared.settings.keys.history();
        let raw: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(n - 1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| read_error(key, &e))?;
        raw.into_iter()
            .map(|b| {
                String::from_utf8(b).map_err(|e| StoreError::corrupt(key, format!("a tick record is not UTF-8: {e}")))
            })
            .collect()
    }

    async fn range(&self, query: &RangeQuery) -> Result<Vec<Sample>, StoreError> {
        query.check()?;
        // A per-stream limit is only exact when every member read counts:
        // every sample carries every metric but the end-to-end latency,
        // which on-demand titles lack.
        let per_stream = query.limit.filter(|_| query.metric != Some(streammon_core::Metric::E2eLatencyMs));
        let mut newest = Newest::new(query.limit);
        for (key, _, members) in self.fetch(&query.filter, query.from_ms, query.to_ms, per_stream).await? {
            for bytes in members {
                let sample: Sample = decode(&key, "member", &bytes)?;
                if query.matches(&sample) {
                    newest.offer_owned(sample);
                }
            }
        }
        Ok(newest.into_sorted())
    }

    /// Reads out only the timestamp and the one metric of each member,
    /// skipping the rest of the JSON without building a [`Sample`]: about
    /// three times faster than decoding whole samples.
    async fn downsampled(&self, query: &DownsampleQuery) -> Result<Vec<SeriesPoints>, StoreError> {
        query.check()?;
        let mut out = Vec::new();
        for (key, name, members) in self.fetch(&query.filter, query.from_ms, query.to_ms, None).await? {
            let (content, region) = Keys::parse_stream_name(&name)
                .ok_or_else(|| StoreError::corrupt(&key, "the key does not name a stream"))?;
            let mut d = Downsampler::new(query.metric, query.from_ms, query.to_ms, query.points);
            for bytes in members {
                let (ts, value) = pick(&key, query.metric, &bytes)?;
                if let Some(v) = value {
                    d.push_value(ts, v);
                }
            }
            let buckets = d.finish();
            if !buckets.is_empty() {
                out.push(SeriesPoints { key: SeriesKey::new(content, region, query.metric), buckets });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn put_alert(&self, alert: &Alert) -> Result<(), StoreError> {
        let resolved_ms = (alert.state == AlertState::Resolved).then(|| alert.resolved_ms.unwrap_or(alert.started_ms));
        self.shared.buffer.push(vec![Write::Alert { id: alert.id.clone(), json: encode(alert), resolved_ms }])
    }

    async fn alerts(&self, state: Option<AlertState>) -> Result<Vec<Alert>, StoreError> {
        let mut alerts: Vec<Alert> = self.hash_values(self.shared.settings.keys.alerts(), |_| Ok(())).await?;
        alerts.retain(|a| state.is_none_or(|s| a.state == s));
        alerts.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(alerts)
    }

    async fn put_ack(&self, ack: &Ack) -> Result<(), StoreError> {
        self.entry(Hash::Acks, &ack.alert_id, Some(encode(ack)))
    }

    async fn delete_ack(&self, alert_id: &str) -> Result<(), StoreError> {
        self.entry(Hash::Acks, alert_id, None)
    }

    async fn acks(&self) -> Result<Vec<Ack>, StoreError> {
        let mut acks: Vec<Ack> = self.hash_values(self.shared.settings.keys.acks(), |a: &Ack| a.validate()).await?;
        acks.sort_by(|a, b| a.alert_id.cmp(&b.alert_id));
        Ok(acks)
    }

    async fn put_silence(&self, silence: &Silence) -> Result<(), StoreError> {
        self.entry(Hash::Silences, &silence.id, Some(encode(silence)))
    }

    async fn delete_silence(&self, id: &str) -> Result<(), StoreError> {
        self.entry(Hash::Silences, id, None)
    }

    async fn silences(&self) -> Result<Vec<Silence>, StoreError> {
        let mut silences: Vec<Silence> =
            self.hash_values(self.shared.settings.keys.silences(), |s: &Silence| s.validate()).await?;
        silences.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(silences)
    }

    async fn put_content_status(&self, change: &ContentChange) -> Result<(), StoreError> {
        let id = change.content_id.as_str().to_owned();
        self.shared.buffer.push(vec![Write::Content { id, json: encode(change) }])
    }

    async fn content_statuses(&self) -> Result<Vec<ContentChange>, StoreError> {
        let mut out: Vec<ContentChange> = self.hash_values(self.shared.settings.keys.content(), |_| Ok(())).await?;
        out.sort_by(|a, b| a.content_id.cmp(&b.content_id));
        Ok(out)
    }

    async fn put_checkpoint(&self, name: &str, state: &str) -> Result<(), StoreError> {
        let key = self.shared.settings.keys.checkpoint(name);
        redis::cmd("SET")
            .arg(&key)
            .arg(state)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(|e| StoreError::Unavailable { backend: "redis", reason: format!("cannot write {key}: {e}") })
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<String>, StoreError> {
        let key = self.shared.settings.keys.checkpoint(name);
        let raw: Option<Vec<u8>> =
            redis::cmd("GET").arg(&key).query_async(&mut self.conn.clone()).await.map_err(|e| read_error(&key, &e))?;
        raw.map(|bytes| String::from_utf8(bytes).map_err(|_| StoreError::corrupt(&key, "the checkpoint is not UTF-8")))
            .transpose()
    }

    async fn health(&self) -> StoreHealth {
        let s = &self.shared.settings;
        let ping: RedisResult<String> = redis::cmd("PING").query_async(&mut self.conn.clone()).await;
        let refused = self.shared.refusal();
        let mut problems: Vec<String> = Vec::new();
        if let Err(e) = ping {
            problems.push(format!("PING failed: {e}"));
        }
        problems.extend(self.shared.error());
        problems.extend(refused);
        let ok = problems.is_empty();
        let detail = if ok { s.addr.clone() } else { format!("{}: {}", s.addr, problems.join("; ")) };
        let StoreCounters { buffered, dropped, accepted, failed } = self.counters();
        StoreHealth { backend: "redis".into(), ok, detail, buffered, dropped, accepted, failed }
    }

    fn counters(&self) -> StoreCounters {
        let b = &self.shared.buffer;
        StoreCounters {
            buffered: b.pending() as u64,
            dropped: b.dropped.load(Ordering::Relaxed),
            accepted: b.accepted.load(Ordering::Relaxed),
            failed: b.failed.load(Ordering::Relaxed),
        }
    }
}
