//! `streammon serve` as an operator runs it: configuration errors, a port
//! in use, and a run on Redis that stops gracefully with its history
//! flushed. The HTTP API and Socket.IO are tested in depth elsewhere
//! (`streammon-http/tests/api.rs`, `scripts/node/protocol.test.mjs`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{arg, stderr, streammon};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A running `streammon serve`, killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Server {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_streammon"));
        cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .env_remove("REDIS_URL")
            .env_remove("REDIS_HOST")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start streammon serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Self { child, port, log, lines: Vec::new() };
        server.wait_for("live: ticks paced", Duration::from_secs(60));
        server
    }

    fn wait_for(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.log.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.lines.push(line);
                    if found {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("no log line with {text:?} within {limit:?}; log:\n{}", self.lines.join("\n"));
    }

    /// `GET path`: (status, body).
    fn get(&self, path: &str) -> (u16, String) {
        self.get_accepting(path, "*/*")
    }

    /// `GET path` with an Accept header: (status, body).
    fn get_accepting(&self, path: &str, accept: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status line");
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }

    /// SIGTERM, then the exit code.
    fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                while let Ok(line) = self.log.try_recv() {
                    self.lines.push(line);
                }
                // Regression: publishing into the closed Socket.IO namespace
                // panicked the pipeline task at shutdown.
                assert!(!self.lines.iter().any(|l| l.contains("panicked")), "{}", self.lines.join("\n"));
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve did not stop within 20 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_bad_config_file_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.toml");
    std::fs::write(&path, "[simulator]\nseed = 3\n\n[pipeline]\nmax_anomalies_per_tick = 0\n").unwrap();
    let out = streammon(&["serve", "--config", arg(&path), "--port", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:5:", path.display())), "{err}");
    assert!(err.contains("max_anomalies_per_tick"), "{err}");

    std::fs::write(&path, "[pipeline]\ndetectr = \"mad\"\n").unwrap();
    let out = streammon(&["serve", "--config", arg(&path), "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("{}:2:", path.display())), "{}", stderr(&out));

    // The stores' retention, in `[memory]` and `[redis]` (issue 18).
    for (toml, store, line, field) in [
        ("[memory]\nrollup_retention = { minute = \"0s\" }\n", "memory", 2, "memory.rollup_retention.minute"),
        (
            "[redis]\nretention = \"1h\"\nrollup_retention = { hour = \"0s\" }\n",
            "redis",
            3,
            "redis.rollup_retention.hour",
        ),
        ("[redis]\nretention = \"1h\"\nbogus = 1\n", "redis", 3, "bogus"),
    ] {
        std::fs::write(&path, toml).unwrap();
        let out = streammon(&["serve", "--config", arg(&path), "--port", "0", "--store", store]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("{}:{line}:", path.display())) && err.contains(field), "{err}");
    }
}

/// Issue 18: cluster mode is refused where it cannot work, naming why,
/// before anything starts.
#[test]
fn cluster_mode_is_refused_without_redis_with_cmcd_or_with_bad_partitions() {
    for (args, named) in [
        (&["--cluster", "--store", "memory"][..], "set REDIS_URL"),
        (
            &["--cluster", "--store", "redis", "--source", "cmcd"][..],
            "CMCD collection is not supported in cluster mode",
        ),
        (&["--cluster", "--store", "redis", "--partitions", "0"][..], "--partitions"),
        (&["--cluster", "--store", "redis", "--partitions", "1025"][..], "--partitions"),
        (&["--cluster", "--store", "redis", "--node-id", " "][..], "--node-id"),
    ] {
        let mut all = vec!["serve", "--port", "0"];
        all.extend_from_slice(args);
        let out = streammon(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(named), "{args:?}: {}", stderr(&out));
    }
}

/// Issue 17: the delivery settings are checked at start, each refusal
/// naming its flag, or its file and line.
#[test]
fn bad_delivery_settings_are_refused_naming_the_flag_or_the_line() {
    let flag = |args: &[&str], named: &str| {
        let mut all = vec!["serve", "--port", "0"];
        all.extend_from_slice(args);
        let out = streammon(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(named), "{args:?}: {}", stderr(&out));
    };
    flag(&["--alertmanager-url", "alertmanager:9093"], "--alertmanager-url");
    flag(&["--webhook-url", "http://127.0.0.1:9/hook"], "--webhook-secret");
    flag(&["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "short"], "--webhook-secret");
    flag(
        &["--webhook-url", "http://a/,http://b/", "--webhook-secret", "0123456789abcdef,0123456789abcdef,x"],
        "--webhook-secret",
    );
    flag(&["--webhook-url", "http://a/", "--webhook-format", "teams"], "--webhook-format");
    flag(&["--public-url", "dashboard.example"], "--public-url");
    // A Slack webhook needs no secret (its URL is one).
    let secret_leak =
        streammon(&["serve", "--port", "0", "--webhook-url", "http://u:s3cret@h/x", "--webhook-format", "slack"]);
    assert!(!stderr(&secret_leak).contains("s3cret"), "{}", stderr(&secret_leak));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.toml");
    let file = |toml: &str, line: usize, field: &str| {
        std::fs::write(&path, toml).unwrap();
        let out = streammon(&["serve", "--config", arg(&path), "--port", "0"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("{}:{line}:", path.display())) && err.contains(field), "{err}");
    };
    file("[notify]\nqueue = 0\n", 2, "notify.queue");
    file("[notify]\npublic_url = \"dashboard.example\"\n", 2, "notify.public_url");
    file("[notify]\nbackoff_initial = \"2m\"\n", 2, "notify.backoff_initial");
    file("[[notify.alertmanagers]]\nurl = \"am:9093\"\n", 2, "notify.alertmanagers[0].url");
    file(
        "[[notify.webhooks]]\nurl = \"http://a/\"\nsecret = \"0123456789abcdef\"\n\n[[notify.webhooks]]\nurl = \"http://b/\"\n",
        5,
        "notify.webhooks[1].secret",
    );
    file("[[notify.webhooks]]\nurl = \"http://a/\"\nformat = \"teams\"\n", 3, "notify.webhooks[0].format");
}

#[test]
fn bad_flags_are_refused_before_anything_starts() {
    let out = streammon(&["serve", "--host", "not-an-ip"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--host"), "{}", stderr(&out));
    let out = streammon(&["serve", "--client-buffer", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--client-buffer"), "{}", stderr(&out));
    for interval in ["0s", "500ms", "2h"] {
        let out = streammon(&["serve", "--checkpoint-interval", interval]);
        assert_eq!(out.status.code(), Some(2), "{interval}");
        assert!(stderr(&out).contains("--checkpoint-interval"), "{interval}: {}", stderr(&out));
    }
}

#[test]
fn a_port_in_use_fails_with_exit_code_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = streammon(&["serve", "--host", "127.0.0.1", "--port", &port, "--backfill", "0s"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot listen"), "{}", stderr(&out));
}

#[test]
fn memory_is_the_default_and_sigterm_stops_gracefully() {
    let server = Server::start(&["--backfill", "5s", "--step", "200ms"], &[]);
    let (status, body) = server.get("/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""backend":"memory""#), "{body}");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn the_dashboard_build_is_served_to_browsers_at_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>streammon dashboard</title>").unwrap();
    std::fs::write(dir.path().join("assets/index-9f.js"), "export {}").unwrap();
    let server = Server::start(&["--backfill", "2s", "--step", "200ms", "--dashboard", arg(dir.path())], &[]);
    assert!(server.lines.iter().any(|l| l.contains("dashboard: served from")), "{}", server.lines.join("\n"));
    let (status, body) = server.get_accepting("/", "text/html,application/xhtml+xml,*/*;q=0.8");
    assert_eq!(status, 200);
    assert!(body.contains("streammon dashboard"), "{body}");
    let (status, body) = server.get("/assets/index-9f.js");
    assert_eq!((status, body.as_str()), (200, "export {}"));
    let (status, body) = server.get("/");
    assert!(status == 200 && body.contains(r#""backend":"memory""#), "{body}");

    let out = streammon(&["serve", "--dashboard", arg(&dir.path().join("missing"))]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--dashboard"), "{}", stderr(&out));
}

#[test]
fn cmcd_source_turns_reports_and_media_requests_into_titles() {
    let media = tempfile::tempdir().unwrap();
    std::fs::write(media.path().join("manifest.mpd"), "<MPD/>").unwrap();
    std::fs::create_dir(media.path().join("v")).unwrap();
    std::fs::write(media.path().join("v/seg-1.m4s"), [0u8; 64]).unwrap();
    let server =
        Server::start(&["--source", "cmcd", "--media", arg(media.path()), "--step", "200ms", "--backfill", "0s"], &[]);
    assert!(server.lines.iter().any(|l| l.contains("CMCD collector on")), "{}", server.lines.join("\n"));
    // A segment request carrying CMCD, as a player sends it to an edge.
    let cmcd = "br%3D1800%2Cd%3D2000%2Cot%3Dv%2Csid%3D%22p1%22%2Ccid%3D%22clip-1%22%2Cbl%3D6000";
    let (status, body) = server.get(&format!("/media/v/seg-1.m4s?CMCD={cmcd}"));
    assert_eq!((status, body.len()), (200, 64));
    let (status, _) = server.get(&format!("/media/v/seg-1.m4s?CMCD={cmcd}"));
    assert_eq!(status, 200);
    let (status, _) = server.get("/media/../serve.rs");
    assert_eq!(status, 404);
    // And beacons of another session (a version-1 session plays from its
    // second media request).
    for _ in 0..2 {
        let (status, _) = server.get("/cmcd?CMCD=br%3D900%2Cot%3Dv%2Csid%3D%22p2%22%2Ccid%3D%22clip-1%22");
        assert_eq!(status, 204);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (_, body) = server.get("/content");
        if body.contains("clip-1") || Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(body.contains(r#""content_id":"clip-1""#) && body.contains(r#""viewers":2"#), "{body}");
    let (_, health) = server.get("/health");
    assert!(health.contains(r#""source":"cmcd""#), "{health}");
    assert_eq!(server.terminate(), Some(0));

    let out = streammon(&["serve", "--media", arg(media.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--media: needs --source cmcd or both"), "{}", stderr(&out));
    let out = streammon(&["serve", "--source", "cmcd", "--cmcd-token", "short=abc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--cmcd-token"), "{}", stderr(&out));
}

/// A `redis-server` of the test's own on a free port (never the shared
/// one on 6379), killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is needed for this test: apt-get install redis-server (./test.sh does)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    fn cli(&self, args: &[&str]) -> String {
        let out =
            Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_host_selects_redis_and_the_history_survives_a_restart() {
    let redis = Redis::start();
    let port = redis.port.to_string();
    let env = [("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", port.as_str())];
    let server = Server::start(&["--backfill", "5s", "--step", "200ms"], &env);
    let (status, body) = server.get("/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""backend":"redis""#), "{body}");
    std::thread::sleep(Duration::from_millis(600));
    let (_, before) = server.get("/metrics?limit=1000");
    let before: serde_json::Value = serde_json::from_str(&before).expect("JSON");
    assert_eq!(server.terminate(), Some(0));

    // The original's layout: one JSON record per tick in `metrics_history`,
    // newest first, in the `metrics_update` shape with the original's
    // meanings (buffer events and viewers per region and type are counts).
    let len: usize = redis.cli(&["LLEN", "metrics_history"]).parse().expect("a length");
    assert!((26..=1_000).contains(&len), "one record per tick: {len}");
    let newest: serde_json::Value =
        serde_json::from_str(&redis.cli(&["LINDEX", "metrics_history", "0"])).expect("a JSON record");
    let oldest: serde_json::Value =
        serde_json::from_str(&redis.cli(&["LINDEX", "metrics_history", "-1"])).expect("a JSON record");
    assert!(newest["timestamp_ms"].as_i64() > oldest["timestamp_ms"].as_i64(), "newest first");
    let users = newest["users"].as_u64().expect("users");
    for field in ["cdn_distribution", "content_types"] {
        let counts: u64 = newest[field].as_object().expect(field).values().map(|v| v.as_u64().expect("a count")).sum();
        assert_eq!(counts, users, "{field}");
    }
    assert!(newest["buffering"].is_u64() && newest["buffering_ratio"].is_f64(), "{newest}");
    // Samples live under our own keys, one sorted set per stream.
    assert!(redis.cli(&["EXISTS", "streammon:streams"]) == "1");

    // A restarted server serves the history it had, and goes on from it.
    let server = Server::start(&["--backfill", "0s", "--step", "200ms"], &env);
    let (status, after) = server.get("/metrics?limit=1000");
    assert_eq!(status, 200, "{after}");
    let after: serde_json::Value = serde_json::from_str(&after).expect("JSON");
    let before = before["ticks"].as_array().expect("ticks");
    let after = after["ticks"].as_array().expect("ticks");
    assert!(!before.is_empty() && after.len() >= before.len(), "{} ticks before, {} after", before.len(), after.len());
    for (a, b) in before.iter().zip(after) {
        assert_eq!((&a["timestamp_ms"], &a["users"], &a["seq"]), (&b["timestamp_ms"], &b["users"], &b["seq"]));
    }
    for pair in after.windows(2) {
        assert!(pair[0]["timestamp_ms"].as_i64() < pair[1]["timestamp_ms"].as_i64(), "the history moves forward");
        assert!(pair[0]["seq"].as_u64() < pair[1]["seq"].as_u64(), "seq goes on from the restored history");
    }
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn an_unreachable_redis_fails_with_exit_code_1() {
    let port = free_port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_streammon"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--backfill", "0s"])
        .env_remove("REDIS_URL")
        .env("REDIS_HOST", "127.0.0.1")
        .env("REDIS_PORT", &port)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Redis"), "{}", String::from_utf8_lossy(&out.stderr));
}

// ------------------------------------------- issue 16: tokens and the bind

const INGEST: &str = "ingest-token-0123456789";
const READ: &str = "read-token-0123456789ab";
const CMCD: &str = "cmcd-token-0123456789abc";

#[test]
fn short_or_empty_tokens_are_refused_at_start() {
    for (flag, value) in
        [("--ingest-token", "short-secret"), ("--read-token", "fifteen-bytes!!"), ("--cmcd-token", "player=abcdefgh")]
    {
        let out = streammon(&["serve", "--source", "both", flag, value, "--port", "0"]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(flag) && err.contains("at least 16 bytes"), "{err}");
        assert!(!err.contains(value.trim_start_matches("player=")), "the token is not echoed: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_streammon"))
        .args(["serve", "--port", "0"])
        .env("STREAMMON_INGEST_TOKENS", format!("{INGEST},tiny"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--ingest-token"), "{}", stderr(&out));
    // From the file: an empty token is refused with its file and line.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.toml");
    for (text, line) in [
        ("[auth]\ningest_tokens = [\"\"]\n", 2),
        ("[auth]\nread_tokens = [\"read-token-0123456789ab\"]\ningest_tokens = [\"short\"]\n", 3),
        ("[cmcd_ingest.tokens]\ncdn = \"\"\n", 2),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = streammon(&["serve", "--source", "both", "--config", arg(&path), "--port", "0"]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("{}:{line}:", path.display())) && err.contains("16 bytes"), "{text}: {err}");
    }
    std::fs::write(&path, "[auth]\ningest_token = [\"ingest-token-0123456789\"]\n").unwrap();
    let out = streammon(&["serve", "--config", arg(&path), "--port", "0"]);
    assert_eq!(out.status.code(), Some(2), "unknown fields are refused: {}", stderr(&out));
}

#[test]
fn a_non_loopback_bind_without_an_ingest_token_is_refused_unless_open_ingest() {
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: a run that
    // gets past the configuration fails to listen (exit 1), and no packet
    // leaves.
    let out = streammon(&["serve", "--host", "192.0.2.1", "--port", "0", "--backfill", "0s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not a loopback address") && err.contains("--ingest-token"), "{err}");
    assert!(err.contains("--open-ingest") && err.contains("docs/SECURITY.md"), "{err}");
    for extra in [["--open-ingest", ""], ["--ingest-token", INGEST]] {
        let mut args = vec!["serve", "--host", "192.0.2.1", "--port", "0", "--backfill", "0s"];
        args.extend(extra.iter().filter(|a| !a.is_empty()));
        let out = streammon(&args);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot listen"), "{}", stderr(&out));
    }
}

#[test]
fn the_default_bind_is_loopback() {
    let out = Command::new(env!("CARGO_BIN_EXE_streammon")).args(["serve", "--help"]).output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("[default: 127.0.0.1]"), "{help}");
}

#[test]
fn tokens_never_appear_in_the_log_and_the_read_token_closes_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.toml");
    std::fs::write(&path, format!("[cmcd_ingest.tokens]\ncdn = \"{CMCD}\"\n")).unwrap();
    let server = Server::start(
        &["--source", "both", "--config", arg(&path), "--read-token", READ, "--step", "200ms", "--backfill", "1s"],
        &[("STREAMMON_INGEST_TOKENS", INGEST), ("RUST_LOG", "debug")],
    );
    assert_eq!(server.get("/content").0, 401);
    assert_eq!(server.get("/health").0, 200, "/health stays open");
    assert_eq!(server.get(&format!("/?token={READ}")).0, 303);
    assert_eq!(server.get("/cmcd/sessions").0, 401);
    assert_eq!(server.get(&format!("/cmcd?CMCD=sid%3D%22a%22%2Cbr%3D1&token={CMCD}")).0, 204);
    assert_eq!(server.get(&format!("/cmcd?CMCD=sid%3D%22b%22%2Cbr%3D1&token={INGEST}")).0, 204);
    let mut server = server;
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
    let status = server.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    while let Ok(line) = server.log.recv_timeout(Duration::from_millis(200)) {
        server.lines.push(line);
    }
    let log = server.lines.join("\n");
    assert!(log.contains("live: ticks paced"), "{log}");
    for secret in [INGEST, READ, CMCD] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// Issue 18: after 24 simulated hours of backfill, the dashboard's 24h
/// view (the service's minute roll-ups, `historyPlan` in the dashboard)
/// holds the whole day at minute resolution, on Redis as in memory; a
/// week's view at 3-hour steps reads hour roll-ups.
#[test]
fn a_day_of_backfill_is_served_at_minute_resolution_from_rollups() {
    let redis = Redis::start();
    let port = redis.port.to_string();
    let args = ["--backfill", "24h", "--step", "10s", "--titles", "4"];
    for env in [vec![], vec![("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", port.as_str())]] {
        let server = Server::start(&args, &env);
        let backend = if env.is_empty() { "memory" } else { "redis" };
        for (scope, query) in [("service", "scope=service"), ("region:eu-west", "scope=region%3Aeu-west")] {
            let started = Instant::now();
            let (status, body) = server.get(&format!("/metrics?metric=viewers&from=24h&step=1m&{query}"));
            let took = started.elapsed();
            assert_eq!(status, 200, "{backend}: {body}");
            let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(body["resolution"], "1m", "{backend}");
            let buckets = body["series"][0]["buckets"].as_array().expect("buckets");
            // The day's first minute may start before `from`, and the
            // current minute is still open.
            assert!((1_437..=1_440).contains(&buckets.len()), "{backend} {scope}: {} minutes", buckets.len());
            assert!(buckets.iter().all(|b| b["count"] == 6), "{backend}: six 10 s ticks a minute");
            assert!(buckets.iter().all(|b| b["mean"].as_f64().is_some_and(|v| v > 0.0)), "{backend}: viewers");
            eprintln!("{backend} {scope}: 24h by the minute in {took:?}");
        }
        let (_, body) = server.get("/metrics?metric=latency_ms&from=7d&step=3h&scope=service");
        let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["resolution"], "1h", "{backend}: {body}");
        let buckets = body["series"][0]["buckets"].as_array().expect("buckets").len();
        assert!((8..=9).contains(&buckets), "{backend}: a day of hours in 3 h steps: {buckets}");
        assert_eq!(server.terminate(), Some(0));
    }
    let keys = redis.cli(&["KEYS", "streammon:r:1m:*"]);
    assert!(keys.contains("streammon:r:1m:service") && keys.contains("streammon:r:1m:content:"), "{keys}");
}
