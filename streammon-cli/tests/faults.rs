//! Faults `streammon serve` survives, or reports and counts: a stop with
//! accepted samples still queued, a panic in the pipeline, a stalled Redis
//! (docs/RELIABILITY.md, "Faults"). Each runs the real binary against a
//! `redis-server` of its own.

#[path = "common/receiver.rs"]
mod receiver;
#[path = "common/server.rs"]
mod server;

use std::time::{Duration, Instant};

use server::{Redis, Reply, Server};

/// Wall-clock time, epoch ms.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A valid sample (docs/SCHEMA.md) of `content` in `region` at `ts`.
fn sample(content: &str, region: &str, ts: i64) -> String {
    format!(
        r#"{{"schema":1,"timestamp_ms":{ts},"interval_ms":1000,"content_id":"{content}","content_type":"live","region":"{region}","viewers":28,"joins":28,"exits":0,"avg_watch_time_s":2741.0,"latency_ms":21.7,"e2e_latency_ms":20577.2,"startup_time_ms":1109.4,"buffering_ratio":0.003534,"rebuffer_events":1,"bitrate_kbps":11242.857,"rendition":"1080p","renditions":{{"480p":1,"720p":2,"1080p":15,"1440p":2,"2160p":8}},"segment_duration_s":6.0,"segment_size_kb":8432.14,"bandwidth_mbps":314.8,"error_rate":0.001024}}"#
    )
}

fn start_on(redis: &Redis, args: &[&str], extra: &[(&str, &str)]) -> Server {
    let env = redis.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    Server::start(args, &all)
}

fn assert_retry_after(reply: &Reply, what: &str) {
    let seconds = reply.header("retry-after").and_then(|v| v.parse::<u32>().ok());
    assert!(seconds.is_some_and(|s| s > 0), "{what}: a 503 without Retry-After: {:?}", reply.headers);
}

/// Regression (issue 16): SIGTERM returned without draining the ingest
/// queue, so batches already answered 202 were lost and counted nowhere.
/// With a 30 s tick the batches are still queued when the signal comes.
#[test]
fn sigterm_stores_every_sample_accepted_before_it() {
    let redis = Redis::start();
    let mut server = start_on(&redis, &["--backfill", "0s", "--step", "30s"], &[]);
    let (batches, per_batch) = (20, 50);
    let start = now_ms() - 60_000;
    let mut accepted = 0;
    for b in 0..batches {
        let body: Vec<String> =
            (0..per_batch).map(|i| sample("drain-probe", "eu-west", start + (b * per_batch + i) * 10)).collect();
        let reply = server.request("POST", "/metrics", Some(&format!("[{}]", body.join(","))));
        assert_eq!(reply.status, 202, "{}", reply.body);
        accepted += per_batch;
    }
    server.sigterm();
    let status = server.wait_exit(Duration::from_secs(30));
    let log = server.log();
    assert_eq!(status.code(), Some(0), "{log}");
    let stored: i64 = redis.cli(&["ZCARD", "streammon:s:drain-probe:eu-west"]).parse().expect("a count");
    assert_eq!(stored, accepted, "every accepted sample is in Redis after the stop");
    assert!(log.contains("client_samples=1000"), "the drain is logged with its count:\n{log}");
}

/// The CMCD reports taken before SIGINT (as SIGTERM) are rolled up in a
/// last tick and stored, not left in the collector.
#[test]
fn sigint_stores_the_cmcd_reports_taken_before_it() {
    let redis = Redis::start();
    let mut server = start_on(&redis, &["--source", "cmcd", "--backfill", "0s", "--step", "30s"], &[]);
    for _ in 0..3 {
        let reply = server.get("/cmcd?CMCD=br%3D900%2Cot%3Dv%2Csid%3D%22p2%22%2Ccid%3D%22clip-drain%22");
        assert_eq!(reply.status, 204, "{}", reply.body);
    }
    server.signal("INT");
    let status = server.wait_exit(Duration::from_secs(30));
    let log = server.log();
    assert_eq!(status.code(), Some(0), "{log}");
    let streams = redis.cli(&["ZRANGE", "streammon:streams", "0", "-1"]);
    assert!(streams.contains("clip-drain:"), "the session's title was stored: {streams:?}\n{log}");
}

/// What cannot be stored at shutdown is counted and logged, and the exit
/// code says so: Redis stalled, the flush gives up after 10 s.
#[test]
fn writes_not_stored_at_shutdown_are_logged_and_exit_1() {
    let redis = Redis::start();
    let mut server = start_on(&redis, &["--backfill", "0s", "--step", "30s"], &[]);
    let body: Vec<String> = (0..50).map(|i| sample("lost-probe", "eu-west", now_ms() - 1_000 - i)).collect();
    assert_eq!(server.request("POST", "/metrics", Some(&format!("[{}]", body.join(",")))).status, 202);
    redis.stall();
    server.sigterm();
    let status = server.wait_exit(Duration::from_secs(40));
    let log = server.log();
    assert_eq!(status.code(), Some(1), "{log}");
    let counted = log.lines().find(|l| l.contains("storage flush timed out after 10 s: writes lost"));
    assert!(counted.is_some_and(|l| l.contains("lost=") && !l.contains("lost=0")), "counted and logged: {log}");
    assert!(log.contains("client_samples=50"), "{log}");
    assert!(log.contains("not every accepted write was stored"), "{log}");
}

/// A panic on the pipeline thread was noticed only at shutdown: the
/// server stayed up, frozen. Now /health is 503 at once, naming it, new
/// samples are refused with 503, and the process exits with 70 for its
/// supervisor to restart it. The tick is 2 s, so the "pipeline stalled"
/// check (three ticks) cannot be what turns it 503 within the second.
#[test]
#[cfg_attr(not(debug_assertions), ignore = "the fault hook is compiled into debug builds only")]
fn a_pipeline_panic_turns_health_503_at_once_and_exits_70() {
    let redis = Redis::start();
    let mut server =
        start_on(&redis, &["--backfill", "0s", "--step", "2s"], &[("STREAMMON_DEBUG_PANIC_AFTER_TICKS", "2")]);
    let reply = server.get("/health");
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.wait_for("panicked", Duration::from_secs(20));
    let panicked = Instant::now();
    let reply = loop {
        let reply = server.get("/health");
        if reply.status == 503 || panicked.elapsed() > Duration::from_secs(1) {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(reply.status, 503, "health within a second of the panic: {}", reply.body);
    assert!(reply.body.contains("pipeline failed: the pipeline panicked"), "{}", reply.body);
    assert_retry_after(&reply, "/health");
    let refused = server.request("POST", "/metrics", Some(&sample("after-panic", "eu-west", now_ms())));
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains(r#""error":"stopping""#), "{}", refused.body);
    assert_retry_after(&refused, "POST /metrics");
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(70), "{}", server.log());
    assert!(panicked.elapsed() < Duration::from_secs(10));
}

/// While Redis is stalled (SIGSTOP: connections open, nothing answered),
/// every /health waited up to 5 s for a PING, and /alerts answered 503
/// though the active alerts are in memory.
///
/// The latency bound asserted is 500 ms though the design answers within
/// about 50 ms (docs/RELIABILITY.md): the test machine is shared and
/// loaded, and a stalled PING took 5 s before, so 500 ms still tells the
/// two apart. Timing is asserted here only because latency under a stalled
/// dependency is the behaviour itself.
#[test]
fn health_answers_at_once_and_memory_reads_work_while_redis_is_stalled() {
    let redis = Redis::start();
    let mut server = start_on(&redis, &["--backfill", "5s", "--step", "200ms"], &[]);
    let reply = server.get("/health");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let pings_before = pings(&redis);
    redis.stall();
    let stalled = Instant::now();
    let mut last = None;
    while stalled.elapsed() < Duration::from_secs(3) {
        let reply = server.get("/health");
        assert!(reply.took < Duration::from_millis(500), "/health took {:?} with Redis stalled", reply.took);
        last = Some(reply);
        std::thread::sleep(Duration::from_millis(50));
    }
    let reply = last.expect("a reply");
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("no answer to a health check"), "{}", reply.body);
    assert_retry_after(&reply, "/health");

    for path in ["/alerts", "/content", "/metrics?limit=5", "/analytics"] {
        let reply = server.get(path);
        assert_eq!(reply.status, 200, "{path} with Redis stalled: {}", reply.body);
        assert!(reply.took < Duration::from_millis(500), "{path} took {:?}", reply.took);
    }
    assert!(server.get("/alerts").body.contains(r#""partial":true"#));
    let list = server.get("/content").body;
    let id = list.split(r#""content_id":""#).nth(1).and_then(|r| r.split('"').next()).expect("a title").to_owned();
    let reply = server.get(&format!("/content/{id}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains(r#""partial":true"#), "{}", reply.body);
    for path in ["/analytics/breakdown?metric=buffering_ratio&by=region", "/analytics/distribution"] {
        let reply = server.get(path);
        assert_eq!(reply.status, 503, "{path}: {}", reply.body);
        assert_retry_after(&reply, path);
    }
    // A series lives in the store only: 503 at once, with Retry-After.
    let reply = server.get("/metrics?metric=viewers&from=5m");
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.took < Duration::from_millis(500), "the series took {:?}", reply.took);
    assert_retry_after(&reply, "GET /metrics?metric=");

    redis.resume();
    // Single flight: some sixty health requests sent one PING or two
    // (the check in flight when the cache expired, and the watcher's).
    std::thread::sleep(Duration::from_millis(300));
    let sent = pings(&redis) - pings_before;
    assert!(sent <= 4, "{sent} PINGs while Redis was stalled: the check is not single-flight");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = server.get("/health");
        if reply.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "health did not recover: {}", reply.body);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.get("/alerts").body.contains(r#""partial":false"#));
    server.sigterm();
    assert_eq!(server.wait_exit(Duration::from_secs(30)).code(), Some(0), "{}", server.log());
}

/// PINGs Redis has answered since start.
fn pings(redis: &Redis) -> u64 {
    let stats = redis.cli(&["INFO", "commandstats"]);
    stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_ping:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The Prometheus store counters moved only when someone asked for
/// /health. Here nobody does: the writes piling up while Redis is stalled
/// show in `streammon_store_buffered_writes` all the same.
#[test]
fn storage_counters_are_exported_without_health_being_asked() {
    let redis = Redis::start();
    let server = start_on(&redis, &["--backfill", "0s", "--step", "200ms"], &[]);
    redis.stall();
    let deadline = Instant::now() + Duration::from_secs(15);
    let buffered = loop {
        let text = server.get("/metrics/prometheus").body;
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix("streammon_store_buffered_writes "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if value > 0.0 || Instant::now() > deadline {
            break value;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(buffered > 0.0, "the buffered writes are exported while Redis is stalled");
    redis.resume();
}

/// Issue 17: acknowledgements and silences are kept in Redis and come back
/// after a restart.
#[test]
fn acknowledgements_and_silences_survive_a_restart_on_redis() {
    let redis = Redis::start();
    // Half an hour of backfill in 10 s ticks, with a CDN degradation that
    // fires and resolves in it: a resolved alert in Redis.
    let args = [
        "--backfill",
        "30m",
        "--step",
        "10s",
        "--incidents",
        "none",
        "--incidents",
        "cdn_degradation:eu-west@15m+5m*1",
    ];
    let mut server = start_on(&redis, &args, &[]);
    // A resolved alert: it is in the store (a pending one lives only in
    // the engine, and is gone after the restart).
    let list: serde_json::Value =
        serde_json::from_str(&server.get("/alerts?state=resolved&limit=100").body).expect("JSON");
    let alert_id = list["alerts"][0]["id"].as_str().unwrap_or_else(|| panic!("a resolved alert: {list}")).to_owned();
    let ack =
        server.request("POST", &format!("/alerts/{alert_id}/ack"), Some(r#"{"by":"alice","comment":"CDN ticket 42"}"#));
    assert_eq!(ack.status, 200, "{}", ack.body);
    let silence = server.request(
        "POST",
        "/silences",
        Some(r#"{"matchers":{"region":"eu-west"},"duration_ms":3600000,"author":"bob","comment":"maintenance"}"#),
    );
    assert_eq!(silence.status, 201, "{}", silence.body);
    let silence_id =
        serde_json::from_str::<serde_json::Value>(&silence.body).expect("JSON")["id"].as_str().expect("id").to_owned();
    server.sigterm();
    assert_eq!(server.wait_exit(Duration::from_secs(30)).code(), Some(0), "{}", server.log());
    assert!(redis.cli(&["HGET", "streammon:acks", &alert_id]).contains("CDN ticket 42"));

    // A new server on the same Redis, with no backfill of its own.
    let mut again = start_on(&redis, &["--backfill", "0s", "--incidents", "none"], &[]);
    assert!(
        again.log().contains("restored acknowledgements and silences from storage acks=1 silences=1"),
        "{}",
        again.log()
    );
    let silences: serde_json::Value = serde_json::from_str(&again.get("/silences").body).expect("JSON");
    let restored = silences["silences"].as_array().expect("silences").iter().find(|s| s["id"] == silence_id.as_str());
    assert_eq!(restored.map(|s| s["state"].clone()), Some(serde_json::json!("active")), "{silences}");
    let list: serde_json::Value = serde_json::from_str(&again.get("/alerts?limit=1000").body).expect("JSON");
    let alert = list["alerts"].as_array().expect("alerts").iter().find(|a| a["id"] == alert_id.as_str());
    assert_eq!(alert.map(|a| a["ack"]["by"].clone()), Some(serde_json::json!("alice")), "{list}");
}

/// The alerts of `list` (`GET /alerts`) whose group or cause names `region`.
fn alerts_in<'a>(list: &'a serde_json::Value, region: &str) -> Vec<&'a serde_json::Value> {
    list["alerts"]
        .as_array()
        .map(|a| {
            a.iter().filter(|a| a["group"]["region"] == region || a["cause"]["value"] == region).collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

/// Issue 18: a server restarted on Redis serves the same history and the
/// alert it left firing, replays the last run's samples so its detectors
/// start warm, raises no false alarm in its first minute, and catches an
/// incident that starts in it.
#[test]
fn a_restarted_server_resumes_warm_with_its_history_and_open_alerts() {
    let redis = Redis::start();
    // Ten minutes of backfill; a CDN degradation in eu-west from minute 7
    // that is still on when the server stops.
    let args = [
        "--backfill",
        "10m",
        "--incidents",
        "none",
        "--incidents",
        "cdn_degradation:eu-west@7m+30m*1",
        "--checkpoint-interval",
        "1s",
    ];
    let mut first = start_on(&redis, &args, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let firing = loop {
        let list: serde_json::Value = serde_json::from_str(&first.get("/alerts?state=firing").body).expect("JSON");
        if let Some(a) = alerts_in(&list, "eu-west").first() {
            break (*a).clone();
        }
        assert!(Instant::now() < deadline, "eu-west's alert did not fire: {list}\n{}", first.log());
        std::thread::sleep(Duration::from_millis(500));
    };
    let id = firing["id"].as_str().expect("id").to_owned();
    let before: serde_json::Value = serde_json::from_str(&first.get("/metrics?limit=100").body).expect("JSON");
    // Every title's id, name and status (live events: pre-show, live,
    // ended), which a new world from the same seed would not keep.
    let catalogue = |server: &Server| -> std::collections::BTreeSet<String> {
        let list: serde_json::Value = serde_json::from_str(&server.get("/content?limit=1000").body).expect("JSON");
        list["contents"]
            .as_array()
            .expect("contents")
            .iter()
            .map(|c| format!("{} {} {}", c["content_id"], c["title"], c["status"]))
            .collect()
    };
    let titles = catalogue(&first);
    // The simulator's state is saved while it runs, not only at the stop
    // (a kill -9 leaves the last one saved).
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis.cli(&["STRLEN", "streammon:checkpoint:simulator"]).parse::<u64>().unwrap_or(0) < 10_000 {
        assert!(Instant::now() < deadline, "no simulator checkpoint saved while running\n{}", first.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    first.sigterm();
    assert_eq!(first.wait_exit(Duration::from_secs(30)).code(), Some(0), "{}", first.log());

    // Again, with the eu-west incident over and a new one in us-east 15 s
    // after the last run's last tick (incidents count from the
    // simulator's start, which goes on from there).
    let restarted_ms = now_ms();
    let (hook, got) = receiver::receiver();
    let hook_url = format!("http://127.0.0.1:{hook}/hook");
    let mut again = start_on(
        &redis,
        &[
            "--backfill",
            "0s",
            "--incidents",
            "none",
            "--incidents",
            "cdn_degradation:us-east@15s+5m*1",
            "--webhook-url",
            &hook_url,
            "--webhook-secret",
            "whsec-restart-0123456789abcdef",
        ],
        &[],
    );
    let log = again.log();
    assert!(log.contains("resumed: replayed the last run's samples"), "{log}");
    assert!(log.contains("alerts_carried_on=1"), "{log}");
    // The same simulated world goes on: a new one from the same seed would
    // put other live events in the slots, and the detectors, warm from
    // the replay, would see their audiences and bitrates jump.
    assert!(log.contains("the simulator goes on from its checkpoint"), "{log}");
    // The same history, going on from where it stopped.
    let after: serde_json::Value = serde_json::from_str(&again.get("/metrics?limit=1000").body).expect("JSON");
    let after_ticks = after["ticks"].as_array().expect("ticks");
    for t in before["ticks"].as_array().expect("ticks") {
        assert!(after_ticks.iter().any(|a| a["timestamp_ms"] == t["timestamp_ms"] && a["users"] == t["users"]), "{t}");
    }
    // The same open alert, by id, still firing, and held by the engine
    // (not only read back from storage), which carries it on.
    std::thread::sleep(Duration::from_millis(1_500));
    // (A title may change status in the few seconds between the runs.)
    let now = catalogue(&again);
    let changed: Vec<&String> = titles.symmetric_difference(&now).collect();
    assert!(titles.len() >= 40 && changed.len() <= 2, "the catalogue changed over the restart: {changed:?}");
    let list: serde_json::Value = serde_json::from_str(&again.get("/alerts?state=firing").body).expect("JSON");
    let carried = alerts_in(&list, "eu-west");
    assert!(carried.iter().any(|a| a["id"] == id.as_str() && a["fired_ms"] == firing["fired_ms"]), "{id}: {list}");
    let health: serde_json::Value = serde_json::from_str(&again.get("/").body).expect("JSON");
    assert!(health["pipeline"]["active_alerts"].as_u64() >= Some(1), "the engine holds the alert: {health}");
    // The alert destinations hear of it again (the notifier that told
    // them went with the last process), under the idempotency id of the
    // first time, so a receiver that had it takes it once.
    let first_id = format!("{id}.fired.{}", firing["fired_ms"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.lock().expect("lock").iter().any(|g| g.json()["id"] == first_id.as_str()) {
        let seen: Vec<String> = got.lock().expect("lock").iter().map(|g| g.json()["id"].to_string()).collect();
        assert!(Instant::now() < deadline, "no alert.fired {first_id} after the restart; got {seen:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Its first minute: the us-east incident is caught, and nothing else
    // fires (the eu-west alert may resolve: that incident is over).
    let deadline = Instant::now() + Duration::from_secs(60);
    let caught = loop {
        let list: serde_json::Value = serde_json::from_str(&again.get("/alerts?limit=1000").body).expect("JSON");
        let fired_since: Vec<&serde_json::Value> = list["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .filter(|a| a["fired_ms"].as_i64().is_some_and(|t| t >= restarted_ms))
            .collect();
        for a in &fired_since {
            let region = (&a["group"]["region"], &a["cause"]["value"]);
            assert!(region.0 == "us-east" || region.1 == "us-east", "a false alarm after the restart: {a}");
        }
        if let Some(a) = fired_since.first() {
            break a["fired_ms"].as_i64().expect("fired_ms") - restarted_ms;
        }
        assert!(
            Instant::now() < deadline,
            "the us-east incident was not caught in the first minute: {list}\n{}",
            again.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!("the restarted server caught the incident {} s after it started again", caught / 1_000);
    let ids: Vec<u64> = serde_json::from_str::<serde_json::Value>(&again.get("/alerts?limit=1000").body).expect("JSON")
        ["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["id"].as_str()?.strip_prefix("alrt-")?.parse().ok())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "alert ids stay unique across the restart: {ids:?}");
    again.sigterm();
    assert_eq!(again.wait_exit(Duration::from_secs(30)).code(), Some(0), "{}", again.log());
}

/// docs/SCALING.md, "Redis is down": a cluster node answers samples 503
/// with Retry-After while Redis does not answer, and its lead steps down
/// (it cannot renew the lease); once Redis answers again it leads again,
/// and every sample answered 202 before is stored, once.
#[test]
fn a_cluster_lead_steps_down_and_refuses_samples_while_redis_is_down() {
    let redis = Redis::start();
    let mut node = start_on(&redis, &["--cluster", "--node-id", "solo", "--backfill", "0s"], &[]);
    let role = |node: &Server| -> String {
        let health: serde_json::Value = serde_json::from_str(&node.get("/health").body).unwrap_or_default();
        health["cluster"]["role"].as_str().unwrap_or_default().to_owned()
    };
    let wait_role = |node: &mut Server, want: &str, within: Duration| {
        let deadline = Instant::now() + within;
        while role(node) != want {
            assert!(Instant::now() < deadline, "not {want} within {within:?}\n{}", node.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_role(&mut node, "lead", Duration::from_secs(15));
    let start = now_ms() - 30_000;
    let mut accepted = 0;
    for b in 0..10 {
        let body: Vec<String> = (0..20).map(|i| sample("down-probe", "eu-west", start + (b * 20 + i) * 10)).collect();
        let reply = node.request("POST", "/metrics", Some(&format!("[{}]", body.join(","))));
        assert_eq!(reply.status, 202, "{}", reply.body);
        accepted += 20;
    }

    redis.stall();
    let stalled = Instant::now();
    let reply = node.request("POST", "/metrics", Some(&format!("[{}]", sample("down-refused", "eu-west", now_ms()))));
    assert_eq!(reply.status, 503, "a sample while Redis is down: {}", reply.body);
    assert_retry_after(&reply, "POST /metrics with Redis down");
    assert!(reply.took < Duration::from_secs(7), "the refusal took {:?}", reply.took);
    // The lead cannot renew its 6 s lease: it steps down before it lapses.
    let deadline = stalled + Duration::from_secs(8);
    while !node.log().contains("stepping down before it lapses") {
        assert!(Instant::now() < deadline, "the lead did not step down\n{}", node.log());
        std::thread::sleep(Duration::from_millis(200));
    }

    redis.resume();
    wait_role(&mut node, "lead", Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stored: i64 = redis.cli(&["ZCARD", "streammon:s:down-probe:eu-west"]).parse().unwrap_or(-1);
        if stored == accepted {
            break;
        }
        assert!(Instant::now() < deadline, "{stored} of {accepted} samples answered 202 stored\n{}", node.log());
        std::thread::sleep(Duration::from_millis(300));
    }
    node.sigterm();
    assert_eq!(node.wait_exit(Duration::from_secs(30)).code(), Some(0), "{}", node.log());
}
