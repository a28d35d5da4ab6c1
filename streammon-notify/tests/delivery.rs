//! Delivery against real sockets: receivers of the test's own on
//! 127.0.0.1, answering as scripted (2xx, 5xx, 4xx, or never).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use streammon_core::alert::{Ack, AlertEvent, AlertEventKind, AlertSeries, GroupKey};
use streammon_core::{Alert, AlertState, Metric, Severity};
use streammon_notify::{
    AlertmanagerConfig, DeliveryPolicy, Endpoint, NoSilences, Notice, Notifier, NotifyConfig, Secret, Suppress,
    WebhookConfig, WebhookFormat, verify_signature,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "whsec-0123456789abcdef";

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    at: Instant,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A receiver: answers the n-th request (from 0) with `script(n)`, or
/// never when it says `None`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    async fn start(script: impl Fn(usize) -> Option<u16> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook?k=v", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let (script, count) = (Arc::new(script), Arc::new(AtomicUsize::new(0)));
        let sink = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else { return };
                let (sink, script, count) = (sink.clone(), script.clone(), count.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i;
                            }
                            let mut chunk = [0u8; 8192];
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                        let mut lines = head.lines();
                        let path = lines.next().unwrap_or("").split(' ').nth(1).unwrap_or("").to_owned();
                        let headers: Vec<(String, String)> = lines
                            .filter_map(|l| l.split_once(':'))
                            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                            .collect();
                        let len: usize = headers
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                            .and_then(|(_, v)| v.parse().ok())
                            .unwrap_or(0);
                        while buf.len() < head_end + 4 + len {
                            let mut chunk = [0u8; 8192];
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body = buf[head_end + 4..head_end + 4 + len].to_vec();
                        buf.drain(..head_end + 4 + len);
                        sink.lock().unwrap().push(Got { path, headers, body, at: Instant::now() });
                        let n = count.fetch_add(1, Ordering::SeqCst);
                        match script(n) {
                            Some(status) => {
                                let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                                if conn.write_all(answer.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            None => {
                                tokio::time::sleep(Duration::from_secs(3_600)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Self { url, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Got> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.got();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn alert(id: &str, region: &str) -> Alert {
    Alert {
        id: id.into(),
        rule: "viewers_hurt".into(),
        severity: Severity::Critical,
        state: AlertState::Firing,
        started_ms: 1_733_300_000_000,
        fired_ms: Some(1_733_300_020_000),
        resolved_ms: None,
        group: GroupKey { region: Some(region.into()), content: None, metric: Some(Metric::BufferingRatio) },
        series_count: 2,
        series: vec![
            AlertSeries { content: "vod-1".into(), region: region.into(), metric: Some(Metric::BufferingRatio) },
            AlertSeries { content: "vod-2".into(), region: region.into(), metric: Some(Metric::BufferingRatio) },
        ],
        value: Some(0.04),
        baseline: Some(0.01),
        cause: None,
        impact: None,
        metrics: Vec::new(),
        summary: format!("buffering ratio 4.0× baseline in {region} across 2 titles"),
    }
}

fn fired(a: &Alert, t: i64) -> Notice {
    Notice::Alert(AlertEvent { kind: AlertEventKind::Fired, timestamp_ms: t, alert: a.clone() })
}

fn resolved(a: &Alert, t: i64) -> Notice {
    let mut a = a.clone();
    a.state = AlertState::Resolved;
    a.resolved_ms = Some(t);
    Notice::Alert(AlertEvent { kind: AlertEventKind::Resolved, timestamp_ms: t, alert: a })
}

fn fast() -> DeliveryPolicy {
    DeliveryPolicy {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        timeout: Duration::from_millis(500),
        ..DeliveryPolicy::default()
    }
}

fn webhook(url: &str, format: WebhookFormat) -> WebhookConfig {
    WebhookConfig { url: url.parse().unwrap(), secret: Some(Secret::new(SECRET).unwrap()), format }
}

fn start(config: NotifyConfig) -> Notifier {
    Notifier::start(config, Arc::new(NoSilences)).unwrap()
}

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn a_json_webhook_gets_signed_idempotent_bodies() {
    let rx = Receiver::start(|_| Some(200)).await;
    let n = start(NotifyConfig {
        webhooks: vec![webhook(&rx.url, WebhookFormat::Json)],
        policy: fast(),
        dashboard_url: Some("https://streammon.example.com/".into()),
        ..NotifyConfig::default()
    });
    let a = alert("alrt-000042", "eu-west");
    let ack = Ack::new("alrt-000042", "alice", 1_733_300_030_000, "on it").unwrap();
    assert!(n.offer(fired(&a, 1_733_300_020_000)));
    n.offer(Notice::Acknowledged { alert: a.clone(), ack });
    n.offer(Notice::Unacknowledged { alert: a.clone(), by: "bob".into(), at_ms: 1_733_300_040_000 });
    n.offer(resolved(&a, 1_733_300_050_000));
    let got = rx.wait_for(4, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 4);
    let types: Vec<String> = got.iter().map(|g| g.json()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, ["alert.fired", "alert.acknowledged", "alert.unacknowledged", "alert.resolved"]);
    let first = &got[0];
    assert_eq!(first.path, "/hook?k=v");
    let body = first.json();
    assert_eq!(body["id"], "alrt-000042.fired.1733300020000");
    assert_eq!(first.header("streammon-delivery"), Some("alrt-000042.fired.1733300020000"));
    assert_eq!(first.header("streammon-event"), Some("alert.fired"));
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(body["source"], "streammon");
    assert_eq!(body["alert"]["id"], "alrt-000042");
    assert_eq!(body["labels"]["region"], "eu-west");
    assert_eq!(body["labels"]["metric"], "buffering_ratio");
    assert_eq!(body["url"], "https://streammon.example.com/#/alerts/alrt-000042");
    assert_eq!(got[1].json()["ack"]["comment"], "on it");
    assert_eq!(got[2].json()["ack"]["by"], "bob");
    for g in &got {
        let sig = g.header("streammon-signature").expect("signed");
        assert!(verify_signature(SECRET.as_bytes(), sig, &g.body, now_s(), 300), "{sig}");
        assert!(!verify_signature(b"another-secret-000000", sig, &g.body, now_s(), 300));
        let mut tampered = g.body.clone();
        tampered[10] ^= 1;
        assert!(!verify_signature(SECRET.as_bytes(), sig, &tampered, now_s(), 300));
    }
    let s = &n.stats()[0];
    assert_eq!((s.kind, s.delivered, s.failed_attempts, s.queued), ("webhook", 4, 0, 0));
    assert!(s.destination.ends_with("/…") && !s.destination.contains("hook"), "{}", s.destination);
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_it_on_the_fourth_with_the_same_id() {
    let rx = Receiver::start(|n| Some(if n < 3 { 503 } else { 200 })).await;
    let n = start(NotifyConfig {
        webhooks: vec![webhook(&rx.url, WebhookFormat::Json)],
        policy: fast(),
        ..NotifyConfig::default()
    });
    n.offer(fired(&alert("alrt-000001", "eu-west"), 1_000));
    let got = rx.wait_for(4, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 4, "three failures, then the delivery");
    assert!(got.iter().all(|g| g.body == got[0].body), "every retry sends the same body");
    assert!(got.iter().all(|g| g.header("streammon-delivery") == Some("alrt-000001.fired.1000")));
    for pair in got.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(10), "a retry waits its backoff");
    }
    assert!(n.drain(Duration::from_secs(2)).await);
    let s = &n.stats()[0];
    assert_eq!((s.delivered, s.failed_attempts, s.dropped_exhausted, s.up), (1, 3, 0, true));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.got().len(), 4, "nothing more once delivered");
}

#[tokio::test]
async fn a_dead_receiver_never_slows_offer_or_the_other_destinations() {
    let dead = Receiver::start(|_| None).await;
    let healthy = Receiver::start(|_| Some(204)).await;
    let policy = DeliveryPolicy { queue: 4, max_attempts: 2, timeout: Duration::from_millis(100), ..fast() };
    let n = start(NotifyConfig {
        webhooks: vec![webhook(&dead.url, WebhookFormat::Json), webhook(&healthy.url, WebhookFormat::Json)],
        policy,
        ..NotifyConfig::default()
    });
    let started = Instant::now();
    for i in 0..10 {
        n.offer(fired(&alert(&format!("alrt-{i:06}"), "eu-west"), 1_000 + i));
    }
    let offering = started.elapsed();
    assert!(offering < Duration::from_millis(50), "offer never waits: {offering:?}");
    let got = healthy.wait_for(4, Duration::from_secs(5)).await;
    assert!(got.len() >= 4, "the healthy one is served: {}", got.len());
    assert!(healthy.got().first().is_some_and(|g| g.at - started < Duration::from_millis(500)), "promptly");
    // The dead one: every notification is either dropped from its full
    // queue or tried twice and dropped.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = &n.stats()[0];
        if s.dropped_queue_full + s.dropped_exhausted == 10 {
            assert_eq!(s.delivered, 0);
            assert!(s.dropped_exhausted >= 1 && s.dropped_queue_full >= 5, "{s:?}");
            assert!(!s.up && s.last_error.as_deref().is_some_and(|e| e.contains("no answer")), "{s:?}");
            break;
        }
        assert!(Instant::now() < deadline, "drops not counted: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let h = &n.stats()[1];
    assert_eq!(h.delivered + h.dropped_queue_full, 10, "{h:?}");
}

#[tokio::test]
async fn a_4xx_is_dropped_at_once() {
    let rx = Receiver::start(|_| Some(400)).await;
    let n = start(NotifyConfig {
        webhooks: vec![webhook(&rx.url, WebhookFormat::Json)],
        policy: fast(),
        ..NotifyConfig::default()
    });
    n.offer(fired(&alert("alrt-000001", "eu-west"), 1_000));
    assert!(n.drain(Duration::from_secs(2)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.got().len(), 1, "not retried");
    let s = &n.stats()[0];
    assert_eq!((s.dropped_rejected, s.failed_attempts, s.delivered), (1, 1, 0));
}

#[tokio::test]
async fn a_slack_webhook_gets_text_and_an_attachment() {
    let rx = Receiver::start(|_| Some(200)).await;
    let n = start(NotifyConfig {
        webhooks: vec![webhook(&rx.url, WebhookFormat::Slack)],
        policy: fast(),
        dashboard_url: Some("http://dash:8000".into()),
        ..NotifyConfig::default()
    });
    let a = alert("alrt-000007", "us-east");
    n.offer(fired(&a, 1_733_300_020_000));
    n.offer(resolved(&a, 1_733_300_080_000));
    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    let fired = got[0].json();
    let text = fired["text"].as_str().unwrap();
    assert!(text.contains("FIRING · critical") && text.contains("viewers_hurt") && text.contains("us-east"), "{text}");
    assert_eq!(fired["attachments"][0]["color"], "#d32f2f");
    assert_eq!(fired["attachments"][0]["title_link"], "http://dash:8000/#/alerts/alrt-000007");
    assert_eq!(fired["attachments"][0]["ts"], 1_733_300_020);
    assert!(got[1].json()["text"].as_str().unwrap().contains("RESOLVED"));
    assert_eq!(n.stats()[0].kind, "slack");
}

/// Silences everything in one region.
#[derive(Debug)]
struct SilenceRegion(&'static str);

impl Suppress for SilenceRegion {
    fn silenced(&self, alert: &Alert, _: i64) -> Option<String> {
        (alert.labels().region.as_ref().map(|r| r.as_str()) == Some(self.0)).then(|| "sil-1".to_owned())
    }
}

#[tokio::test]
async fn alertmanager_gets_firing_alerts_again_at_its_cadence_then_the_resolve() {
    let rx = Receiver::start(|_| Some(200)).await;
    let base = rx.url.split("/hook").next().unwrap().to_owned();
    let n = Notifier::start(
        NotifyConfig {
            alertmanagers: vec![AlertmanagerConfig { url: base.parse().unwrap(), resend: Duration::from_millis(300) }],
            policy: fast(),
            dashboard_url: Some("http://dash:8000".into()),
            ..NotifyConfig::default()
        },
        Arc::new(SilenceRegion("ap-south")),
    )
    .unwrap();
    let eu = alert("alrt-000001", "eu-west");
    let ap = alert("alrt-000002", "ap-south");
    n.offer(fired(&eu, 1_733_300_020_000));
    n.offer(fired(&ap, 1_733_300_021_000));
    let got = rx.wait_for(1, Duration::from_secs(2)).await;
    assert_eq!(got[0].path, "/api/v2/alerts");
    let first = got[0].json();
    let alerts = first.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "the silenced one is not sent: {first}");
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "viewers_hurt");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["region"], "eu-west");
    assert_eq!(a["labels"]["metric"], "buffering_ratio");
    assert_eq!(a["labels"]["source"], "streammon");
    assert!(a["labels"].get("content_id").is_none(), "two titles: no title label");
    assert_eq!(a["annotations"]["description"], eu.summary);
    assert_eq!(a["startsAt"], "2024-12-04T08:13:40.000Z");
    assert_eq!(a["generatorURL"], "http://dash:8000/#/alerts/alrt-000001");
    let ends = a["endsAt"].as_str().unwrap().to_owned();
    assert!(ends.as_str() > "2026", "endsAt is four cadences past now: {ends}");

    // Sent again at the cadence, still without the silenced one.
    let got = rx.wait_for(3, Duration::from_secs(3)).await;
    assert!(got.len() >= 3);
    assert!(got[1..].iter().all(|g| g.json().as_array().unwrap().len() == 1), "re-sent, silenced one left out");
    assert!(got[2].at - got[1].at >= Duration::from_millis(200), "at the cadence");

    // Resolved with its severity and metric moved: Alertmanager must see
    // the label set it was sent firing with end.
    let mut moved = eu.clone();
    moved.severity = Severity::Info;
    moved.group.metric = None;
    moved.series.iter_mut().for_each(|s| s.metric = None);
    n.offer(resolved(&moved, 1_733_300_090_000));
    let deadline = Instant::now() + Duration::from_secs(3);
    let resolve = loop {
        if let Some(g) = rx.got().into_iter().rev().find(|g| g.json()[0]["endsAt"] == "2024-12-04T08:14:50.000Z") {
            break g;
        }
        assert!(Instant::now() < deadline, "no resolve");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(resolve.json()[0]["labels"]["region"], "eu-west");
    assert_eq!(resolve.json()[0]["labels"]["severity"], "critical", "the fired label set");
    assert_eq!(resolve.json()[0]["labels"]["metric"], "buffering_ratio");
    let s = &n.stats()[0];
    assert_eq!((s.kind, s.suppressed), ("alertmanager", 1));
    assert_eq!(s.destination, format!("{base}/api/v2/alerts"), "an Alertmanager URL is shown whole");
}

#[tokio::test]
async fn a_test_notification_reports_each_destination() {
    let rx = Receiver::start(|_| Some(200)).await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/hook")
    };
    let base = rx.url.split("/hook").next().unwrap().to_owned();
    let n = start(NotifyConfig {
        alertmanagers: vec![AlertmanagerConfig::new(base.parse().unwrap())],
        webhooks: vec![webhook(&rx.url, WebhookFormat::Json), webhook(&refused, WebhookFormat::Json)],
        policy: fast(),
        ..NotifyConfig::default()
    });
    let outcomes = n.test("alice", 1_733_300_000_000).await;
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[0].ok && outcomes[0].kind == "alertmanager", "{outcomes:?}");
    assert!(outcomes[1].ok && outcomes[1].status == Some(200), "{outcomes:?}");
    assert!(!outcomes[2].ok && outcomes[2].error.as_deref().is_some_and(|e| e.contains("connect")), "{outcomes:?}");
    let got = rx.got();
    let am = got.iter().find(|g| g.path == "/api/v2/alerts").expect("alertmanager got the test");
    assert_eq!(am.json()[0]["labels"]["alertname"], "StreammonTest");
    let hook = got.iter().find(|g| g.path == "/hook?k=v").expect("the webhook got the test");
    assert_eq!(hook.json()["type"], "test");
    assert_eq!(hook.json()["id"], "test.1733300000000");
    assert!(hook.json()["message"].as_str().unwrap().contains("alice"));
}

#[tokio::test]
async fn no_destination_is_a_no_op() {
    let n = start(NotifyConfig::default());
    assert!(!n.offer(fired(&alert("alrt-000001", "eu-west"), 1)));
    assert!(n.test("a", 1).await.is_empty());
    assert!(n.drain(Duration::from_millis(10)).await);
    assert!("https://hooks.example.com/x".parse::<Endpoint>().is_ok());
}
