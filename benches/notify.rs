//! Alert delivery (issue 17): 1 000 alerts fired in one tick, delivered to
//! a local webhook receiver, and what handing them over costs the tick.
//!
//! | bench | one iteration |
//! |---|---|
//! | `notify/deliver/1000_alerts` | offer 1 000 `alert.fired` notices to a notifier with one signed JSON webhook, and wait until a receiver on 127.0.0.1 has answered all 1 000 (one POST each, one kept-alive connection) |
//! | `notify/publish/1000_alerts/no_delivery` | publish the second half of a tick (`Publisher::publish_events`: `anomaly_alert` events, the live view, gauges) whose output holds 1 000 fired alerts, with no notifier |
//! | `notify/publish/1000_alerts/live_receiver` | the same with the notifier delivering to the receiver |
//! | `notify/publish/1000_alerts/dead_receiver` | the same with the notifier's one webhook a receiver that takes connections and never answers |
//!
//! The tick runs on the bench's thread, as the pipeline runs on its own;
//! the notifier and the receivers on a tokio runtime with one worker
//! thread, as `streammon serve` runs them. The alerts are copies of one
//! alert with their own ids; the pipeline around them is the default
//! catalogue's (48 titles, seed `0x5EED`) after 30 ticks.
//!
//! Run: `cargo bench -p streammon-benches --bench notify`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streammon_core::alert::{AlertEvent, AlertEventKind};
use streammon_core::pipeline::{Pipeline, PipelineConfig, TickOutput};
use streammon_core::{Alert, AlertState, Frame, MemoryStore, SimConfig, Simulator};
use streammon_http::{AppState, HttpSettings, Ingest, Publisher, Telemetry};
use streammon_notify::{
    DeliveryPolicy, NoSilences, Notice, Notifier, NotifyConfig, Secret, WebhookConfig, WebhookFormat,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ALERTS: usize = 1_000;

/// A receiver on 127.0.0.1 that answers every request 204 (`answer`) or
/// never; returns its URL and how many requests it answered.
async fn receiver(answer: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(16 * 1024);
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    // Every complete request in the buffer: head, then
                    // Content-Length bytes.
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() < end + 4 + len {
                            break;
                        }
                        buf.drain(..end + 4 + len);
                        if !answer {
                            continue;
                        }
                        counted.fetch_add(1, Ordering::Relaxed);
                        if conn.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.is_err() {
                            return;
                        }
                    }
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (url, count)
}

fn notifier(url: &str) -> Notifier {
    let config = NotifyConfig {
        webhooks: vec![WebhookConfig {
            url: url.parse().expect("url"),
            secret: Some(Secret::new("bench-secret-0123456789").expect("secret")),
            format: WebhookFormat::Json,
        }],
        policy: DeliveryPolicy { queue: 10 * ALERTS, timeout: Duration::from_secs(1), ..DeliveryPolicy::default() },
        dashboard_url: Some("http://127.0.0.1:8000".into()),
        ..NotifyConfig::default()
    };
    Notifier::start(config, Arc::new(NoSilences)).expect("notifier")
}

/// A tick's output holding `ALERTS` fired alerts, and the pipeline it came from.
fn tick_with_alerts() -> (Pipeline, TickOutput, Frame) {
    let mut sim = Simulator::new(SimConfig { seed: 0x5EED, ..SimConfig::default() }).expect("sim");
    let mut pipeline = Pipeline::new(&PipelineConfig::default()).expect("pipeline");
    let (mut frame, mut out) = (Frame::default(), TickOutput::default());
    for _ in 0..30 {
        sim.step(&mut frame);
        pipeline.process(&frame, &mut out);
    }
    let sample = &frame.samples[0];
    let template = Alert {
        id: String::new(),
        rule: "viewers_hurt".into(),
        severity: streammon_core::Severity::Critical,
        state: AlertState::Firing,
        started_ms: frame.timestamp_ms - 20_000,
        fired_ms: Some(frame.timestamp_ms),
        resolved_ms: None,
        group: streammon_core::alert::GroupKey { region: Some(sample.region.clone()), content: None, metric: None },
        series_count: 1,
        series: Vec::new(),
        value: Some(0.05),
        baseline: Some(0.01),
        cause: None,
        impact: None,
        metrics: Vec::new(),
        summary: "buffering ratio 5.0× baseline".into(),
    };
    out.alert_events = (0..ALERTS)
        .map(|i| AlertEvent {
            kind: AlertEventKind::Fired,
            timestamp_ms: frame.timestamp_ms,
            alert: Alert { id: format!("alrt-{i:06}"), ..template.clone() },
        })
        .collect();
    (pipeline, out, frame)
}

fn publisher(sink: Option<Notifier>) -> Publisher {
    let (ingest, _rx) = Ingest::channel(1);
    let state = AppState::new(
        Arc::new(MemoryStore::new()),
        Arc::new(Telemetry::new()),
        ingest,
        HttpSettings::default(),
        "simulator",
    );
    if let Some(n) = sink {
        state.set_alert_sink(Arc::new(n));
    }
    Publisher::new(state, None)
}

fn notify(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let _guard = rt.enter();
    let (live_url, answered) = rt.block_on(receiver(true));
    let (dead_url, _) = rt.block_on(receiver(false));
    let (pipeline, out, frame) = tick_with_alerts();

    let mut group = c.benchmark_group("notify/deliver");
    group.sample_size(10).measurement_time(Duration::from_secs(10)).throughput(Throughput::Elements(ALERTS as u64));
    let live = notifier(&live_url);
    group.bench_function("1000_alerts", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let before = answered.load(Ordering::Relaxed);
                for e in &out.alert_events {
                    live.offer(Notice::Alert(e.clone()));
                }
                while answered.load(Ordering::Relaxed) < before + ALERTS {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            start.elapsed()
        });
    });
    group.finish();
    assert_eq!(live.stats()[0].dropped_queue_full + live.stats()[0].dropped_exhausted, 0, "every alert delivered");

    let mut group = c.benchmark_group("notify/publish/1000_alerts");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, sink) in [
        ("no_delivery", None),
        ("live_receiver", Some(notifier(&live_url))),
        ("dead_receiver", Some(notifier(&dead_url))),
    ] {
        let mut p = publisher(sink);
        group.bench_function(name, |b| {
            b.iter(|| p.publish(&pipeline, &out, &frame.samples, true));
        });
    }
    group.finish();
}

criterion_group!(benches, notify);
criterion_main!(benches);
