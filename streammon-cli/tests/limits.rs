//! The bounds of `docs/LIMITS.md`, held by the real `streammon serve`: a
//! flood of new regions from a client is refused at the door, counted,
//! and costs neither memory nor the tick cadence, while samples for what
//! is known keep flowing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{arg, stderr, streammon};

/// A running `streammon serve`, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_streammon"))
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .env_remove("REDIS_URL")
            .env_remove("REDIS_HOST")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start streammon serve");
        let stderr = child.stderr.take().expect("stderr");
        let server = Self { child, port };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut log = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                let live = line.contains("live: ticks paced");
                log.push(line);
                if live {
                    // Keep draining the log so the server never blocks on it.
                    std::thread::spawn(move || while rx.recv().is_ok() {});
                    return server;
                }
            }
        }
        panic!("serve did not go live within 60 s; log:\n{}", log.join("\n"));
    }

    fn request(&self, head: &str, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(s, "{head}\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .expect("send");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status line");
        (status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
    }

    fn post_metrics(&self, body: &str) -> (u16, String) {
        self.request("POST /metrics HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json", body)
    }

    /// The Prometheus exposition.
    fn prometheus(&self) -> String {
        let (status, body) = self.request("GET /metrics/prometheus HTTP/1.1", "");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// One sample's value in the exposition, e.g.
    /// `streammon_refused_total{limit="regions"}`.
    fn counter(&self, series: &str) -> f64 {
        let text = self.prometheus();
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {series} in the exposition:\n{text}"))
    }

    /// Resident memory, bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64
}

fn sample(content: &str, region: &str, t: i64) -> String {
    format!(
        r#"{{"schema":1,"timestamp_ms":{t},"interval_ms":1000,"content_id":"{content}","content_type":"video","region":"{region}","viewers":28,"joins":1,"exits":0,"avg_watch_time_s":600.0,"latency_ms":21.7,"e2e_latency_ms":null,"startup_time_ms":1109.4,"buffering_ratio":0.0035,"rebuffer_events":0,"bitrate_kbps":4200.0,"rendition":"1080p","renditions":{{"1080p":28}},"segment_duration_s":6.0,"segment_size_kb":3150.0,"bandwidth_mbps":117.6,"error_rate":0.001}}"#
    )
}

/// Batch `i` of the flood: 1,000 samples over 100 regions never seen
/// before, 10 titles in each.
fn flood_batch(i: usize) -> String {
    let t = now_ms();
    let samples: Vec<String> =
        (0..1_000).map(|k| sample(&format!("flood-t{}", k % 10), &format!("flood-{i}-{}", k / 10), t)).collect();
    format!("[{}]", samples.join(","))
}

/// Issue 16: 20 × 1,000 samples naming new regions took the server from
/// 170 MiB to 1 GiB and stalled its pipeline, every batch answered 202.
#[test]
fn a_region_flood_is_refused_counted_and_costs_neither_memory_nor_ticks() {
    let server = Server::start(&["--backfill", "5s"]);
    std::thread::sleep(Duration::from_secs(2));
    let rss_before = server.rss();
    let ticks_before = server.counter("streammon_ticks_total");
    let started = Instant::now();

    let mut statuses = Vec::new();
    for i in 0..20 {
        let (status, body) = server.post_metrics(&flood_batch(i));
        if status == 422 {
            assert!(
                body.contains(r#""error":"limit_reached""#)
                    && body.contains(r#""field":"region""#)
                    && body.contains("at most 256 regions (limits.max_regions)"),
                "{body}"
            );
        }
        statuses.push(status);
    }
    // 100 new regions a batch under the default 256: two batches fit, the
    // third would make 300.
    let mut expected = vec![202; 2];
    expected.extend([422; 18]);
    assert_eq!(statuses, expected);

    // Known series keep flowing at the limit.
    let (status, body) = server.post_metrics(&sample("flood-t3", "flood-1-7", now_ms()));
    assert_eq!(status, 202, "{body}");

    // Let the pipeline take what was accepted, then look.
    std::thread::sleep(Duration::from_secs(5));
    let elapsed = started.elapsed().as_secs_f64();
    let ticks = server.counter("streammon_ticks_total") - ticks_before;
    assert!(ticks >= elapsed * 0.8 - 1.0, "{ticks} ticks in {elapsed:.1} s at one a second");
    let grown = server.rss().saturating_sub(rss_before);
    eprintln!("region flood: resident memory grew by {:.1} MiB", grown as f64 / f64::from(1 << 20));
    assert!(grown <= 50 << 20, "resident memory grew by {} MiB", grown >> 20);
    assert_eq!(server.counter(r#"streammon_refused_total{limit="regions"}"#), 18.0);
    assert_eq!(server.counter(r#"streammon_samples_rejected_total{reason="limit"}"#), 18_000.0);
    let (status, health) = server.request("GET /health HTTP/1.1\r\nAccept: application/json", "");
    assert_eq!(status, 200, "{health}");
    assert!(!health.contains("stalled"), "{health}");
}

#[test]
fn limits_come_from_flags_over_the_limits_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.toml");
    std::fs::write(&path, "[limits]\nmax_regions = 1\nmax_titles = 5\n").unwrap();
    let server = Server::start(&["--backfill", "0s", "--config", arg(&path), "--max-titles", "1"]);
    let t = now_ms();
    assert_eq!(server.post_metrics(&sample("a", "r1", t)).0, 202);
    let (status, body) = server.post_metrics(&sample("a", "r2", t));
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("at most 1 regions (limits.max_regions)"), "{body}");
    let (status, body) = server.post_metrics(&sample("b", "r1", t));
    assert_eq!(status, 422, "{body}");
    assert!(body.contains(r#""field":"content_id""#) && body.contains("limits.max_titles"), "{body}");
    assert_eq!(server.counter(r#"streammon_refused_total{limit="titles"}"#), 1.0);
    drop(server);

    std::fs::write(&path, "[limits]\nmax_regions = 0\n").unwrap();
    let out = streammon(&["serve", "--config", arg(&path), "--port", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:2:", path.display())) && err.contains("limits.max_regions"), "{err}");
    std::fs::write(&path, "[limits]\nmax_region = 3\n").unwrap();
    let out = streammon(&["serve", "--config", arg(&path), "--port", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("max_region"), "{}", stderr(&out));
    let out = streammon(&["serve", "--max-series", "0", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--max-series"), "{}", stderr(&out));
}
