//! Issue 17, end to end: `streammon serve` pushing to the real Prometheus
//! Alertmanager (Debian's `prometheus-alertmanager`, started here on a
//! free port), whose route sends to a receiver this test runs; and a
//! signed JSON webhook to the same receiver.
//!
//! Two scripted CDN degradations, in eu-west and in us-east, with a
//! silence on us-east made through streammon's API first:
//! - eu-west's alert reaches the receiver through Alertmanager, grouped
//!   (by rule and region), within 30 s of firing, and its resolve within
//!   30 s of resolving; the webhook gets both, signed;
//! - us-east's alert is shown by `GET /alerts`, marked silenced, and
//!   reaches neither Alertmanager nor the webhook.

#[path = "common/receiver.rs"]
mod receiver;
#[path = "common/server.rs"]
#[allow(dead_code)] // this test uses a part of it
mod server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use receiver::{Got, receiver};
use serde_json::Value;
use server::{Server, free_port};

const SECRET: &str = "whsec-e2e-0123456789abcdef";

fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The real Alertmanager on a free port, routing everything to
/// `http://127.0.0.1:{receiver}/am`, grouped by rule and region; killed on
/// drop.
struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start(receiver: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: hook\n  group_by: [alertname, region]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n\
                 receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{receiver}/am\n        send_resolved: true\n"
            ),
        )
        .expect("write config");
        let port = free_port();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager is needed for this test: apt-get install prometheus-alertmanager (./test.sh does)");
        let am = Self { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !am.ready() {
            assert!(Instant::now() < deadline, "Alertmanager did not get ready on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        am
    }

    fn ready(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(b"GET /-/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text.starts_with("HTTP/1.1 200")
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The viewer-impact alert of `region` in a `GET /alerts` answer.
fn alert_of(list: &Value, region: &str) -> Option<Value> {
    list["alerts"].as_array()?.iter().find(|a| a["labels"]["region"] == region && a["rule"] == "viewers_hurt").cloned()
}

/// Alertmanager notifications (to `/am`) with `status` naming `region`.
fn am_notes(got: &[Got], region: &str, status: &str) -> Vec<Got> {
    got.iter()
        .filter(|g| g.path == "/am" && g.json()["status"] == status && g.json()["groupLabels"]["region"] == region)
        .cloned()
        .collect()
}

#[test]
fn alerts_reach_alertmanager_and_webhooks_and_silences_hold_them_back() {
    let (rx_port, got) = receiver();
    let am = Alertmanager::start(rx_port);
    // Incidents count from the backfill's start: 10 minutes of backfill,
    // then 20 s into live data, for 60 s.
    let mut server = Server::start(
        &[
            "--backfill",
            "10m",
            "--incidents",
            "none",
            "--incidents",
            "cdn_degradation:eu-west@620s+60s*1",
            "--incidents",
            "cdn_degradation:us-east@620s+60s*1",
            "--alertmanager-url",
            &format!("http://127.0.0.1:{}", am.port),
            "--webhook-url",
            &format!("http://127.0.0.1:{rx_port}/hook"),
            "--webhook-secret",
            SECRET,
            "--public-url",
            "http://dash.example:8000",
        ],
        &[],
    );
    assert!(server.log().contains("alerts are delivered to 2 destination(s)"), "{}", server.log());
    let silence = server.request(
        "POST",
        "/silences",
        Some(r#"{"matchers":{"region":"us-east"},"duration_ms":3600000,"author":"e2e","comment":"CDN maintenance"}"#),
    );
    assert_eq!(silence.status, 201, "{}", silence.body);
    let silence_id = serde_json::from_str::<Value>(&silence.body).expect("JSON")["id"].as_str().expect("id").to_owned();

    // Until eu-west's alert has fired and resolved.
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut fired, mut resolved, mut us_east) = (None, None, None);
    while resolved.is_none() {
        assert!(Instant::now() < deadline, "eu-west's alert did not fire and resolve in 5 min; log:\n{}", server.log());
        let list: Value = serde_json::from_str(&server.get("/alerts?limit=1000").body).expect("JSON");
        if let Some(a) = alert_of(&list, "eu-west") {
            fired = fired.or(a["fired_ms"].as_i64().map(|t| (t, a["id"].as_str().unwrap_or("").to_owned())));
            resolved = a["resolved_ms"].as_i64();
        }
        if let Some(a) = alert_of(&list, "us-east").filter(|a| a["state"] == "firing") {
            us_east = Some(a);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (fired_ms, alert_id) = fired.expect("eu-west fired");
    let resolved_ms = resolved.expect("eu-west resolved");

    // Through Alertmanager: the fire within 30 s, grouped by rule and
    // region, with our labels and link.
    let first_fire = loop {
        let got = got.lock().expect("lock").clone();
        if let Some(n) = am_notes(&got, "eu-west", "firing").into_iter().next() {
            break n;
        }
        assert!(wall_ms() < fired_ms + 30_000, "no firing notification from Alertmanager within 30 s of {fired_ms}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let lag = first_fire.at_ms - fired_ms;
    assert!(lag <= 30_000, "the fire reached the receiver {lag} ms after firing");
    eprintln!("alertmanager: the fire reached the receiver {lag} ms after firing");
    let note = first_fire.json();
    assert_eq!(note["groupLabels"]["alertname"], "viewers_hurt", "{note}");
    let a = &note["alerts"][0];
    assert_eq!(a["labels"]["source"], "streammon", "{note}");
    assert!(["warning", "critical", "info"].contains(&a["labels"]["severity"].as_str().unwrap_or("")), "{note}");
    assert_eq!(a["generatorURL"], format!("http://dash.example:8000/#/alerts/{alert_id}"), "{note}");
    assert!(!a["annotations"]["summary"].as_str().unwrap_or("").is_empty(), "{note}");

    // ... and the resolve within 30 s of resolving.
    let resolve = loop {
        let got = got.lock().expect("lock").clone();
        if let Some(n) = am_notes(&got, "eu-west", "resolved").into_iter().next() {
            break n;
        }
        assert!(wall_ms() < resolved_ms + 30_000, "no resolved notification within 30 s of {resolved_ms}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(resolve.at_ms - resolved_ms <= 30_000, "the resolve came {} ms after", resolve.at_ms - resolved_ms);
    eprintln!("alertmanager: the resolve reached the receiver {} ms after resolving", resolve.at_ms - resolved_ms);

    // The webhook: fired and resolved, signed, with idempotency ids.
    let got = got.lock().expect("lock").clone();
    let hooks: Vec<&Got> = got.iter().filter(|g| g.path == "/hook").collect();
    let fired_hook = hooks
        .iter()
        .find(|g| g.json()["type"] == "alert.fired" && g.json()["alert"]["id"] == alert_id.as_str())
        .expect("the webhook got the fire");
    let id = fired_hook.json()["id"].as_str().unwrap_or("").to_owned();
    assert_eq!(fired_hook.header("streammon-delivery"), Some(id.as_str()));
    assert!(id.starts_with(&format!("{alert_id}.fired.")), "{id}");
    assert!(hooks.iter().any(|g| g.json()["type"] == "alert.resolved" && g.json()["alert"]["id"] == alert_id.as_str()));
    for g in &hooks {
        let sig = g.header("streammon-signature").expect("signed");
        assert!(streammon_notify::verify_signature(SECRET.as_bytes(), sig, &g.body, wall_ms() / 1_000, 600), "{sig}");
    }

    // us-east: shown, marked silenced, delivered nowhere.
    let us_east = us_east.expect("us-east's alert fired and is shown");
    assert_eq!(us_east["silenced_by"], serde_json::json!([silence_id]), "{us_east}");
    assert!(am_notes(&got, "us-east", "firing").is_empty(), "Alertmanager got the silenced alert");
    assert!(!hooks.iter().any(|g| g.json()["labels"]["region"] == "us-east"), "the webhook got the silenced alert");
    let health: Value = serde_json::from_str(&server.get("/health").body).expect("JSON");
    let delivery = health["delivery"].as_array().expect("delivery in /health");
    assert_eq!(delivery.len(), 2, "{health}");
    assert!(delivery.iter().all(|d| d["up"] == true && d["delivered"].as_u64() > Some(0)), "{health}");
    assert!(delivery.iter().any(|d| d["suppressed"].as_u64() > Some(0)), "silenced alerts are counted: {health}");
    let metrics = server.get("/metrics/prometheus").body;
    assert!(metrics.contains("streammon_notifications_total{"), "exported to Prometheus");
}
