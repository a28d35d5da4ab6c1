//! The store behavioural suite against [`RedisStore`] on a real server,
//! plus what only Redis promises: the original's `metrics_history` list,
//! the key layout, concurrent writers, corrupt data, and faults.

mod support;

use std::sync::Arc;
use std::time::Duration;

use streammon_core::store::conformance::{self, frames};
use streammon_core::store::{RangeQuery, SeriesFilter};
use streammon_core::{AlertState, Sample, Store, StoreError};
use streammon_redis::{RedisConfig, RedisError, RedisStore};
use support::{RedisServer, Target, raw, target};

async fn fresh() -> (RedisStore, Target) {
    let mut t = target();
    t.config.history_len = conformance::HISTORY_LEN;
    t.config.max_per_series = conformance::MAX_PER_SERIES;
    t.config.retention = conformance::RETENTION;
    let store = RedisStore::connect(&t.config).await.expect("connect");
    (store, t)
}

streammon_core::store_conformance_tests!(tokio: fresh);

async fn everything(store: &dyn Store) -> Vec<Sample> {
    store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_history_stays_at_1000_newest_first() {
    let t = target();
    let store = RedisStore::connect(&t.config).await.unwrap();
    let batches = frames(25);
    for (i, b) in batches.iter().enumerate() {
        store.append(b).await.unwrap();
        for j in 0..50 {
            store.append_tick(&format!(r#"{{"seq":{},"users":10}}"#, i * 50 + j)).await.unwrap();
        }
    }
    store.flush().await.unwrap();
    let mut conn = raw(&t.config).await;
    let key = store.settings().keys().history().to_owned();
    let len: usize = redis::cmd("LLEN").arg(&key).query_async(&mut conn).await.unwrap();
    assert_eq!(len, 1000);
    // What the original's tools read: one JSON record per tick, newest at
    // the head; samples stay in their streams.
    let head: String = redis::cmd("LINDEX").arg(&key).arg(0).query_async(&mut conn).await.unwrap();
    assert_eq!(head, r#"{"seq":1249,"users":10}"#);
    assert_eq!(store.ticks(1).await.unwrap(), [head]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_is_under_the_prefix() {
    let t = target();
    let store = RedisStore::connect(&t.config).await.unwrap();
    store.append(&frames(2).concat()).await.unwrap();
    store.append_tick("{}").await.unwrap();
    store.put_alert(&conformance::alert("alrt-000001", AlertState::Resolved)).await.unwrap();
    store
        .put_content_status(&conformance::change("live-000001", streammon_core::ContentStatus::Live, 1))
        .await
        .unwrap();
    store.flush().await.unwrap();
    let mut conn = raw(&t.config).await;
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}*", t.config.prefix)).query_async(&mut conn).await.unwrap();
    let p = &t.config.prefix;
    for expected in ["streams", "alerts", "alerts:resolved", "content", "metrics_history"] {
        assert!(keys.contains(&format!("{p}{expected}")), "{expected} missing from {keys:?}");
    }
    let streams = keys.iter().filter(|k| k.starts_with(&format!("{p}s:"))).count();
    assert_eq!(streams, 60, "one sorted set per (content, region)");
    if t.server.is_some() {
        let all: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut conn).await.unwrap();
        assert_eq!(all.len(), keys.len(), "no key outside the prefix: {all:?}");
    }
}

/// Issue 18: a roll-up key expires with its retention (plus an hour), so
/// the roll-ups of a scope no longer written (a retired title) go rather
/// than stay for good; each write pushes the expiry back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_keys_expire_with_their_retention() {
    use streammon_core::rollup::{Figure, Resolution, Rollup};
    let t = target();
    let store = RedisStore::connect(&t.config).await.unwrap();
    let row = |resolution| Rollup {
        scope: "content:live-000001".parse().unwrap(),
        resolution,
        start_ms: 1_796_000_000_000 / 3_600_000 * 3_600_000,
        ticks: 60,
        figures: [Figure([1.0, 1.0, 1.0]); 8],
    };
    store.append_rollups(&[row(Resolution::Minute), row(Resolution::Hour)]).await.unwrap();
    store.flush().await.unwrap();
    let mut conn = raw(&t.config).await;
    let keys = store.settings().keys();
    for (res, days) in [(Resolution::Minute, 7), (Resolution::Hour, 90)] {
        let key = keys.rollups(&"content:live-000001".parse().unwrap(), res);
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        let expected = days * 86_400_000 + 3_600_000;
        assert!(ttl > expected - 60_000 && ttl <= expected, "{key}: PTTL {ttl}, expected about {expected}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_nothing() {
    let t = target();
    let store = Arc::new(RedisStore::connect(&t.config).await.unwrap());
    let batches = frames(40);
    let mut tasks = Vec::new();
    for part in batches.chunks(5) {
        let (store, part) = (Arc::clone(&store), part.to_vec());
        tasks.push(tokio::spawn(async move {
            for b in &part {
                store.append(b).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    store.flush().await.unwrap();
    let mut expected = batches.concat();
    expected
        .sort_by(|a, b| (a.timestamp_ms, &a.content_id, &a.region).cmp(&(b.timestamp_ms, &b.content_id, &b.region)));
    assert_eq!(everything(&*store).await, expected);
    assert_eq!(store.health().await.accepted, 2400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_or_foreign_data_names_the_key() {
    let t = target();
    let store = RedisStore::connect(&t.config).await.unwrap();
    let keys = store.settings().keys().clone();
    let mut conn = raw(&t.config).await;

    // A string where the history list should be.
    let _: () = redis::cmd("SET").arg(keys.history()).arg("hello").query_async(&mut conn).await.unwrap();
    let err = store.ticks(10).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt { key, .. } if key == keys.history()), "{err}");

    // A member that is not a sample in a stream.
    let stream = streammon_redis::Keys::stream_name("vod-000001", "eu-west");
    let _: () =
        redis::cmd("ZADD").arg(keys.stream(&stream)).arg(1).arg("{not json").query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("ZADD").arg(keys.streams()).arg(1).arg(&stream).query_async(&mut conn).await.unwrap();
    let err = store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX)).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt { key, .. } if *key == keys.stream(&stream)), "{err}");
    assert!(err.to_string().contains("{not json"), "{err}");
    let chart = streammon_core::store::DownsampleQuery {
        filter: SeriesFilter::all(),
        metric: streammon_core::Metric::Viewers,
        from_ms: 0,
        to_ms: 10,
        points: 10,
    };
    let err = store.downsampled(&chart).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt { key, .. } if *key == keys.stream(&stream)), "{err}");

    // Garbage in the alerts hash.
    let _: () = redis::cmd("HSET").arg(keys.alerts()).arg("x").arg("[1,2]").query_async(&mut conn).await.unwrap();
    let err = store.alerts(None).await.unwrap_err();
    assert!(err.to_string().contains(keys.alerts()), "{err}");

    // A write onto a key of the wrong type is refused, counted and named,
    // and does not block the writes behind it.
    store.append_tick(r#"{"seq":1}"#).await.unwrap();
    store.append(&frames(1)[0]).await.unwrap();
    store.put_alert(&conformance::alert("alrt-000009", AlertState::Firing)).await.unwrap();
    store.flush().await.unwrap();
    let health = store.health().await;
    assert!(!health.ok && health.failed >= 1, "{health:?}");
    assert!(health.detail.contains(keys.history()), "{health:?}");
    // (The eu-west stream holds the foreign member written above.)
    let us_east = SeriesFilter { content: None, region: Some("us-east".into()) };
    let stored = store.range(&RangeQuery::new(us_east, i64::MIN, i64::MAX)).await.unwrap();
    assert!(!stored.is_empty(), "the samples behind the refused tick are stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_fails_clearly_when_nothing_listens() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config =
        RedisConfig { host: "127.0.0.1".into(), port, connect_timeout: "1s".parse().unwrap(), ..Default::default() };
    let err = RedisStore::connect(&config).await.unwrap_err();
    assert!(matches!(&err, RedisError::Connect { addr, .. } if addr.contains(&port.to_string())), "{err}");
}

/// Kills Redis mid-stream, keeps writing into the buffer, restarts it on
/// the same port, and proves every accepted sample is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_sample_survives_a_redis_crash() {
    let mut server = RedisServer::start_durable();
    let config = RedisConfig {
        url: Some(server.url()),
        response_timeout: "1s".parse().unwrap(),
        connect_timeout: "1s".parse().unwrap(),
        flush_timeout: "60s".parse().unwrap(),
        ..Default::default()
    };
    let store = RedisStore::connect(&config).await.unwrap();
    let batches = frames(60);
    let mut accepted = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        if i == 20 {
            server.kill();
        }
        if i == 45 {
            let health = store.health().await;
            assert!(!health.ok && health.buffered > 0, "Redis is down, writes wait: {health:?}");
            server.restart();
        }
        store.append(b).await.expect("accepted while Redis is down");
        accepted.extend(b.iter().cloned());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    store.flush().await.expect("flushed once Redis is back");
    accepted
        .sort_by(|a, b| (a.timestamp_ms, &a.content_id, &a.region).cmp(&(b.timestamp_ms, &b.content_id, &b.region)));
    assert_eq!(everything(&store).await, accepted);
    let health = store.health().await;
    assert!(health.ok, "{health:?}");
    assert_eq!((health.accepted, health.dropped, health.buffered), (3600, 0, 0));
}

/// With Redis away and a tiny buffer, the overflow is refused, counted
/// and reported; what was accepted still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_is_counted_never_silent() {
    let mut server = RedisServer::start_durable();
    let config = RedisConfig {
        url: Some(server.url()),
        buffer_capacity: 150,
        response_timeout: "1s".parse().unwrap(),
        connect_timeout: "1s".parse().unwrap(),
        ..Default::default()
    };
    let store = RedisStore::connect(&config).await.unwrap();
    server.kill();
    let batches = frames(5);
    let mut refused = 0;
    for b in &batches {
        match store.append(b).await {
            Ok(()) => {}
            Err(StoreError::BufferFull { dropped, capacity: 150 }) => refused += dropped,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(refused, 180, "two batches of 60 fit in 150, three do not");
    let health = store.health().await;
    assert_eq!((health.dropped, health.accepted, health.buffered), (180, 120, 120), "{health:?}");
    server.restart();
    store.flush().await.unwrap();
    assert_eq!(everything(&store).await.len(), 120);
    assert_eq!(store.health().await.dropped, 180, "the loss stays reported");
}

/// `rediss://` with a private CA: the TLS handshake, a password-less
/// round trip, and a clear error when the CA is not trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip() {
    let server = RedisServer::start_tls();
    let url = format!("rediss://127.0.0.1:{}/0", server.tls_port.unwrap());
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/ca.crt");
    let config = RedisConfig { url: Some(url.clone()), tls_ca_file: Some(ca), ..Default::default() };
    let store = RedisStore::connect(&config).await.expect("TLS connect");
    let frame = &frames(1)[0];
    store.append(frame).await.unwrap();
    store.flush().await.unwrap();
    let query = RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX);
    assert_eq!(store.range(&query).await.unwrap().len(), frame.len());

    // The system's roots do not know the test CA.
    let untrusted = RedisConfig { url: Some(url), connect_timeout: "2s".parse().unwrap(), ..Default::default() };
    let err = RedisStore::connect(&untrusted).await.unwrap_err();
    assert!(matches!(err, RedisError::Connect { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_resolved_alerts_and_silent_streams_are_deleted() {
    let mut t = target();
    t.config.max_resolved_alerts = 2;
    t.config.retention = conformance::RETENTION;
    let store = RedisStore::connect(&t.config).await.unwrap();
    for (i, state) in
        [AlertState::Resolved, AlertState::Firing, AlertState::Resolved, AlertState::Resolved].iter().enumerate()
    {
        let mut alert = conformance::alert(&format!("alrt-00000{i}"), *state);
        alert.resolved_ms = alert.resolved_ms.map(|_| 1_000 * i as i64);
        store.put_alert(&alert).await.unwrap();
    }
    store.flush().await.unwrap();
    let ids: Vec<String> = store.alerts(None).await.unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(ids, ["alrt-000001", "alrt-000002", "alrt-000003"], "the oldest resolved one went");

    let first = frames(1).remove(0);
    let silent = first[0].clone();
    let mut later = first[1].clone();
    later.timestamp_ms = silent.timestamp_ms + conformance::RETENTION.as_millis() as i64 + 1_000;
    store.append(std::slice::from_ref(&silent)).await.unwrap();
    store.flush().await.unwrap();
    store.append(&[later]).await.unwrap();
    store.flush().await.unwrap();
    let keys = store.settings().keys();
    let mut conn = raw(&t.config).await;
    let streams: Vec<String> =
        redis::cmd("ZRANGE").arg(keys.streams()).arg(0).arg(-1).query_async(&mut conn).await.unwrap();
    let silent_name = streammon_redis::Keys::stream_name(silent.content_id.as_str(), silent.region.as_str());
    assert_eq!(streams.len(), 1);
    assert!(!streams.contains(&silent_name));
    let exists: bool = redis::cmd("EXISTS").arg(keys.stream(&silent_name)).query_async(&mut conn).await.unwrap();
    assert!(!exists, "the silent stream's key is deleted");
}
