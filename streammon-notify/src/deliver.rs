//! The notifier: a queue and a task per destination, retries with backoff.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use streammon_core::Alert;
use streammon_core::alert::AlertEventKind;
use tokio::sync::Notify;

use crate::client::Client;
use crate::config::{DeliveryPolicy, NotifyConfig, WebhookFormat};
use crate::endpoint::{Endpoint, Secret};
use crate::error::NotifyError;
use crate::{DestinationStats, Notice, Suppress, TestOutcome, body, now_ms, sign};

/// How long a resolved alert is re-sent to Alertmanager after it resolved.
const RESOLVED_RESENT_MS: i64 = 15 * 60_000;
/// Most alerts in one request to Alertmanager.
const AM_BATCH: usize = 1_000;

#[derive(Debug, Clone)]
enum Kind {
    Alertmanager { resend: Duration },
    Webhook { secret: Option<Secret>, format: WebhookFormat },
}

/// One destination: its queue, its counters.
#[derive(Debug)]
struct Dest {
    endpoint: Endpoint,
    kind: Kind,
    inbox: Mutex<VecDeque<Notice>>,
    wake: Notify,
    /// A notification is being delivered (taken from the inbox).
    busy: AtomicBool,
    up: AtomicBool,
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_exhausted: AtomicU64,
    dropped_rejected: AtomicU64,
    suppressed: AtomicU64,
    last_success_ms: AtomicI64,
    last_error: Mutex<Option<String>>,
}

impl Dest {
    fn new(endpoint: Endpoint, kind: Kind) -> Self {
        Self {
            endpoint,
            kind,
            inbox: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            busy: AtomicBool::new(false),
            up: AtomicBool::new(true),
            delivered: AtomicU64::new(0),
            failed_attempts: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            dropped_exhausted: AtomicU64::new(0),
            dropped_rejected: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            last_success_ms: AtomicI64::new(i64::MIN),
            last_error: Mutex::new(None),
        }
    }

    fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Alertmanager { .. } => "alertmanager",
            Kind::Webhook { format: WebhookFormat::Json, .. } => "webhook",
            Kind::Webhook { format: WebhookFormat::Slack, .. } => "slack",
        }
    }

    /// Webhook paths are secrets; Alertmanager's are not.
    fn name(&self) -> String {
        self.endpoint.redacted(matches!(self.kind, Kind::Webhook { .. }))
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, VecDeque<Notice>> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, error: String) {
        self.failed_attempts.fetch_add(1, Ordering::Relaxed);
        self.up.store(false, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    fn succeed(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.up.store(true, Ordering::Relaxed);
        self.last_success_ms.store(now_ms(), Ordering::Relaxed);
    }

    fn stats(&self) -> DestinationStats {
        let last = self.last_success_ms.load(Ordering::Relaxed);
        DestinationStats {
            destination: self.name(),
            kind: self.kind_name(),
            up: self.up.load(Ordering::Relaxed),
            queued: self.inbox().len() as u64 + u64::from(self.busy.load(Ordering::Relaxed)),
            delivered: self.delivered.load(Ordering::Relaxed),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_exhausted: self.dropped_exhausted.load(Ordering::Relaxed),
            dropped_rejected: self.dropped_rejected.load(Ordering::Relaxed),
            suppressed: self.suppressed.load(Ordering::Relaxed),
            last_success_ms: (last != i64::MIN).then_some(last),
            last_error: self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}

/// Most fired alerts remembered for their labels at fire time.
const FIRED_KEPT: usize = 10_000;

#[derive(Debug)]
struct Shared {
    /// Each alert as it fired: a silence that held back its fire holds
    /// back its resolve too, even if its labels moved since.
    fired: Mutex<std::collections::HashMap<String, Alert>>,
    dests: Vec<Arc<Dest>>,
    policy: DeliveryPolicy,
    dashboard_url: Option<String>,
    suppress: Arc<dyn Suppress>,
}

/// Delivers notices to every configured destination. Cheap to clone; the
/// tasks stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
    /// Dropped with the last clone: the tasks then end.
    _alive: Arc<tokio::sync::watch::Sender<()>>,
}

impl Notifier {
    /// Starts a task per destination on the current tokio runtime.
    ///
    /// # Errors
    /// A bad [`DeliveryPolicy`], or no TLS roots for an https destination.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(config: NotifyConfig, suppress: Arc<dyn Suppress>) -> Result<Self, NotifyError> {
        config.policy.validate()?;
        let mut dests = Vec::new();
        for am in &config.alertmanagers {
            if am.resend < Duration::from_millis(100) {
                return Err(NotifyError::Policy { field: "resend", reason: "must be at least 100 ms".into() });
            }
            let endpoint = am.url.join("/api/v2/alerts");
            dests.push(Arc::new(Dest::new(endpoint, Kind::Alertmanager { resend: am.resend })));
        }
        for hook in &config.webhooks {
            let kind = Kind::Webhook { secret: hook.secret.clone(), format: hook.format };
            dests.push(Arc::new(Dest::new(hook.url.clone(), kind)));
        }
        let clients = dests.iter().map(|d| Client::new(d.endpoint.clone())).collect::<Result<Vec<_>, _>>()?;
        let shared = Arc::new(Shared {
            fired: Mutex::new(std::collections::HashMap::new()),
            dests,
            policy: config.policy,
            dashboard_url: config.dashboard_url,
            suppress,
        });
        let (alive, stopped) = tokio::sync::watch::channel(());
        for (dest, client) in shared.dests.iter().zip(clients) {
            let (shared, dest, mut stopped) = (shared.clone(), dest.clone(), stopped.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = run(&shared, &dest, client) => {}
                    _ = stopped.changed() => {}
                }
            });
        }
        Ok(Self { shared, _alive: Arc::new(alive) })
    }

    /// Queues `notice` for every destination. Never waits: a full queue
    /// drops its oldest notification (counted). Returns false when there
    /// is no destination.
    pub fn offer(&self, notice: Notice) -> bool {
        if let Notice::Alert(e) = &notice
            && e.kind == AlertEventKind::Fired
        {
            let mut fired = self.shared.fired.lock().unwrap_or_else(|e| e.into_inner());
            if fired.len() >= FIRED_KEPT {
                fired.clear();
            }
            fired.insert(e.alert.id.clone(), e.alert.clone());
        }
        for dest in &self.shared.dests {
            {
                let mut inbox = dest.inbox();
                if inbox.len() >= self.shared.policy.queue {
                    inbox.pop_front();
                    dest.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
                }
                inbox.push_back(notice.clone());
            }
            dest.wake.notify_one();
        }
        !self.shared.dests.is_empty()
    }

    /// How each destination is doing.
    pub fn stats(&self) -> Vec<DestinationStats> {
        self.shared.dests.iter().map(|d| d.stats()).collect()
    }

    /// Sends a test notification to every destination now, one attempt
    /// each, all at once, bypassing the queues.
    pub async fn test(&self, by: &str, now_ms: i64) -> Vec<TestOutcome> {
        let notice = Notice::Test { by: by.to_owned(), at_ms: now_ms };
        let attempts = self.shared.dests.iter().map(|dest| {
            let shared = self.shared.clone();
            let (dest, notice) = (dest.clone(), notice.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let (body, headers) = match &dest.kind {
                    Kind::Alertmanager { .. } => {
                        let alert = body::alertmanager_test(by_of(&notice), now_ms, shared.dashboard_url.as_deref());
                        (Bytes::from(serde_json::Value::Array(vec![alert]).to_string()), json_headers())
                    }
                    Kind::Webhook { format, .. } => webhook_request(&shared, &notice, *format),
                };
                let mut client = Client::new(dest.endpoint.clone());
                let answer = match &mut client {
                    Ok(c) => c.post(&signed(&dest, &headers, &body), body.clone(), shared.policy.timeout).await,
                    Err(e) => Err(e.to_string()),
                };
                let elapsed_ms = started.elapsed().as_millis() as u64;
                let (ok, status, error) = match answer {
                    Ok(a) if (200..300).contains(&a.status) => (true, Some(a.status), None),
                    Ok(a) => (false, Some(a.status), Some(format!("HTTP {}", a.status))),
                    Err(e) => (false, None, Some(e)),
                };
                TestOutcome { destination: dest.name(), kind: dest.kind_name(), ok, status, error, elapsed_ms }
            })
        });
        let mut out = Vec::new();
        for a in attempts.collect::<Vec<_>>() {
            if let Ok(outcome) = a.await {
                out.push(outcome);
            }
        }
        out
    }

    /// Waits until every queue is empty and nothing is being sent, or
    /// `within` has passed (at shutdown). Returns whether all was sent.
    pub async fn drain(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let idle = self.shared.dests.iter().all(|d| d.inbox().is_empty() && !d.busy.load(Ordering::Relaxed));
            if idle {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn by_of(notice: &Notice) -> &str {
    match notice {
        Notice::Test { by, .. } => by,
        _ => "",
    }
}

fn json_headers() -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        ("user-agent", concat!("streammon/", env!("CARGO_PKG_VERSION")).to_owned()),
    ]
}

/// The body and headers of a webhook request for `notice`.
fn webhook_request(shared: &Shared, notice: &Notice, format: WebhookFormat) -> (Bytes, Vec<(&'static str, String)>) {
    let body = match format {
        WebhookFormat::Json => body::webhook_json(notice, shared.dashboard_url.as_deref()),
        WebhookFormat::Slack => body::slack(notice, shared.dashboard_url.as_deref()),
    };
    let mut headers = json_headers();
    headers.push(("streammon-event", body::event_type(notice).to_owned()));
    headers.push(("streammon-delivery", body::id(notice)));
    (body, headers)
}

/// `headers`, with a fresh signature when the destination has a secret.
fn signed<'a>(dest: &Dest, headers: &[(&'a str, String)], body: &[u8]) -> Vec<(&'a str, String)> {
    let mut out = headers.to_vec();
    if let Kind::Webhook { secret: Some(secret), .. } = &dest.kind {
        out.push(("streammon-signature", sign::sign(secret.expose(), now_ms() / 1_000, body)));
    }
    out
}

/// A random number in `0..=max`, from a xorshift seeded by the clock.
fn random_up_to(max: u64) -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = (now_ms() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    if max == u64::MAX { x } else { x % (max + 1) }
}

/// The wait before attempt `attempt + 1` (attempt counts from 1).
fn backoff(policy: &DeliveryPolicy, attempt: u32, retry_after_s: Option<u64>) -> Duration {
    let initial = policy.backoff_initial.as_millis() as u64;
    let cap = policy.backoff_max.as_millis() as u64;
    let full = initial.saturating_mul(1u64 << (attempt - 1).min(32)).min(cap);
    let jittered = full / 2 + random_up_to(full - full / 2);
    let asked = retry_after_s.map_or(0, |s| s.saturating_mul(1_000).min(cap));
    Duration::from_millis(jittered.max(asked))
}

/// How one notification ended.
enum Outcome {
    Delivered,
    Dropped,
}

/// Sends one request with retries under the policy; counts everything.
async fn send_with_retries(
    shared: &Shared,
    dest: &Dest,
    client: &mut Client,
    headers: &[(&str, String)],
    body: Bytes,
) -> Outcome {
    let policy = &shared.policy;
    for attempt in 1..=policy.max_attempts {
        let answer = client.post(&signed(dest, headers, &body), body.clone(), policy.timeout).await;
        let (error, retry_after) = match answer {
            Ok(a) if (200..300).contains(&a.status) => {
                dest.succeed();
                return Outcome::Delivered;
            }
            Ok(a) if a.status == 408 || a.status == 429 || a.status >= 500 => {
                (format!("HTTP {}", a.status), a.retry_after_s)
            }
            Ok(a) => {
                dest.fail(format!("HTTP {}: refused, not retried", a.status));
                dest.dropped_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "streammon::notify", destination = %dest.name(), status = a.status, "a notification was refused: dropped");
                return Outcome::Dropped;
            }
            Err(e) => (e, None),
        };
        dest.fail(error.clone());
        if attempt == policy.max_attempts {
            dest.dropped_exhausted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "streammon::notify", destination = %dest.name(), attempts = attempt, %error, "a notification could not be delivered: dropped");
            return Outcome::Dropped;
        }
        tracing::debug!(target: "streammon::notify", destination = %dest.name(), attempt, %error, "delivery failed: retrying");
        tokio::time::sleep(backoff(policy, attempt, retry_after)).await;
    }
    Outcome::Dropped
}

async fn run(shared: &Shared, dest: &Dest, client: Client) {
    match dest.kind.clone() {
        Kind::Webhook { format, .. } => run_webhook(shared, dest, client, format).await,
        Kind::Alertmanager { resend } => run_alertmanager(shared, dest, client, resend).await,
    }
}

/// Whether `notice` is about an alert a silence covers now, as it is or
/// as it fired.
fn silenced(shared: &Shared, notice: &Notice) -> bool {
    let Some(alert) = notice.alert() else { return false };
    let now = now_ms();
    if shared.suppress.silenced(alert, now).is_some() {
        return true;
    }
    let fired = shared.fired.lock().unwrap_or_else(|e| e.into_inner()).get(&alert.id).cloned();
    fired.is_some_and(|a| shared.suppress.silenced(&a, now).is_some())
}

async fn run_webhook(shared: &Shared, dest: &Dest, mut client: Client, format: WebhookFormat) {
    loop {
        let next = {
            let mut inbox = dest.inbox();
            let next = inbox.pop_front();
            dest.busy.store(next.is_some(), Ordering::Relaxed);
            next
        };
        let Some(notice) = next else {
            dest.wake.notified().await;
            continue;
        };
        if silenced(shared, &notice) {
            dest.suppressed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let (body, headers) = webhook_request(shared, &notice, format);
        send_with_retries(shared, dest, &mut client, &headers, body).await;
    }
}

/// An alert Alertmanager knows of.
#[derive(Debug)]
struct Known {
    alert: Alert,
    resolved_ms: Option<i64>,
}

async fn run_alertmanager(shared: &Shared, dest: &Dest, mut client: Client, resend: Duration) {
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    let mut every = tokio::time::interval(resend);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        let resend_all = tokio::select! {
            () = dest.wake.notified() => false,
            _ = every.tick() => true,
        };
        let mut fresh: Vec<String> = Vec::new();
        {
            let mut inbox = dest.inbox();
            dest.busy.store(!inbox.is_empty(), Ordering::Relaxed);
            for notice in inbox.drain(..) {
                let Notice::Alert(event) = notice else { continue };
                fresh.push(event.alert.id.clone());
                if event.kind == AlertEventKind::Resolved {
                    let resolved_ms = Some(event.alert.resolved_ms.unwrap_or(event.timestamp_ms));
                    // Alertmanager knows an alert by its labels: resolve
                    // the label set it was sent firing with, even if the
                    // alert's severity or metric moved since.
                    match known.get_mut(&event.alert.id) {
                        Some(k) => k.resolved_ms = resolved_ms,
                        None => {
                            known.insert(event.alert.id.clone(), Known { alert: event.alert, resolved_ms });
                        }
                    }
                } else {
                    known.insert(event.alert.id.clone(), Known { alert: event.alert, resolved_ms: None });
                }
            }
        }
        let now = now_ms();
        while known.len() > shared.policy.queue {
            let oldest = known.iter().find(|(_, k)| k.resolved_ms.is_some()).or_else(|| known.iter().next());
            let Some(id) = oldest.map(|(id, _)| id.clone()) else { break };
            known.remove(&id);
            dest.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
        }
        let ids: Vec<&String> = if resend_all { known.keys().collect() } else { fresh.iter().collect() };
        let ends_firing = now + 4 * resend.as_millis() as i64;
        let mut batch = Vec::new();
        for id in ids {
            let Some(k) = known.get(id) else { continue };
            if shared.suppress.silenced(&k.alert, now).is_some() {
                if !resend_all {
                    dest.suppressed.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            batch.push(body::alertmanager(
                &k.alert,
                k.resolved_ms.unwrap_or(ends_firing),
                shared.dashboard_url.as_deref(),
            ));
        }
        for chunk in batch.chunks(AM_BATCH) {
            let body = Bytes::from(serde_json::Value::Array(chunk.to_vec()).to_string());
            send_with_retries(shared, dest, &mut client, &json_headers(), body).await;
        }
        // A resolve is sent at least once, then re-sent for a while.
        known.retain(|_, k| k.resolved_ms.is_none_or(|r| now - r < RESOLVED_RESENT_MS));
        dest.busy.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_cap_with_half_of_it_random() {
        let p = DeliveryPolicy {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1_000),
            ..DeliveryPolicy::default()
        };
        for _ in 0..200 {
            let b = |n| backoff(&p, n, None).as_millis() as u64;
            assert!((50..=100).contains(&b(1)), "{}", b(1));
            assert!((100..=200).contains(&b(2)));
            assert!((400..=800).contains(&b(4)));
            assert!((500..=1_000).contains(&b(10)), "capped");
            assert!((500..=1_000).contains(&b(60)), "no overflow");
        }
        assert_eq!(backoff(&p, 1, Some(1)).as_millis(), 1_000, "Retry-After, within the cap");
        assert_eq!(backoff(&p, 1, Some(3_600)).as_millis(), 1_000, "but never past it");
    }
}
