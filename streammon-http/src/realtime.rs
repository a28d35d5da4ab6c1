//! Socket.IO: the live events, rooms, client samples, and slow clients.
//!
//! Every tick the [`Hub`] hands each client the payloads it subscribed to,
//! each payload encoded once and broadcast to rooms ([`crate::fanout`]
//! says how, and what happens to slow clients).

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::value::RawValue;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::DisconnectReason;
use streammon_core::{ContentId, RegionId, Sample};

use crate::fanout;
use crate::state::AppState;
use crate::state::Submitted;
use crate::wire::{AnomalyAlert, ContentChangeEvent, MetricsUpdate};

/// Most `anomaly` events a room gets per tick (the whole service's feed,
/// and each region's and title's room), the highest scores of its scope
/// first; alert transitions and predictions always go. During a
/// regional incident hundreds of series turn anomalous at once, and the
/// alert that groups them says more than a flood of points.
pub const MAX_ANOMALY_EVENTS: usize = 5;

/// What one client asked for. Empty: everything.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    regions: BTreeSet<RegionId>,
    contents: BTreeSet<ContentId>,
}

impl Subscription {
    pub(crate) fn is_empty(&self) -> bool {
        self.regions.is_empty() && self.contents.is_empty()
    }

    /// Regions and titles subscribed to, each one room.
    pub(crate) fn len(&self) -> usize {
        self.regions.len() + self.contents.len()
    }

    /// How many of `region` and `content` it does not hold yet.
    fn new_rooms(&self, region: Option<&str>, content: Option<&str>) -> usize {
        usize::from(region.is_some_and(|r| !self.regions.contains(r)))
            + usize::from(content.is_some_and(|c| !self.contents.contains(c)))
    }

    /// The rooms it names: `region:…` and `content:…`.
    pub(crate) fn rooms(&self) -> Vec<String> {
        let regions = self.regions.iter().map(|r| format!("region:{r}"));
        regions.chain(self.contents.iter().map(|c| format!("content:{c}"))).collect()
    }

    /// Every room a client with this subscription is in, the hub's
    /// internal ones ([`crate::fanout`]) included.
    pub(crate) fn all_rooms(&self, full_detail: bool) -> Vec<String> {
        if self.is_empty() {
            return fanout::whole_rooms(full_detail).map(str::to_owned).to_vec();
        }
        let mut rooms = self.rooms();
        if self.contents.is_empty() {
            rooms.push(fanout::CHANGES.to_owned());
        }
        rooms
    }
}

/// The region and title rooms clients are in, by the names
/// [`Hub::scoped_rooms`] gives: what a tick's samples must carry for their
/// updates when the tick is relayed to another node of a cluster.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchedRooms {
    regions: BTreeSet<String>,
    contents: BTreeSet<String>,
}

impl WatchedRooms {
    /// The rooms named `names` (`region:…`, `content:…`; others are not
    /// scoped rooms and are left out).
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut rooms = Self::default();
        for name in names {
            match name.as_ref().split_once(':') {
                Some(("region", r)) => rooms.regions.insert(r.to_owned()),
                Some(("content", c)) => rooms.contents.insert(c.to_owned()),
                _ => false,
            };
        }
        rooms
    }

    /// The samples of `samples` some room needs.
    pub fn needed<'a>(&self, samples: &'a [Sample]) -> Vec<&'a Sample> {
        if self.regions.is_empty() && self.contents.is_empty() {
            return Vec::new();
        }
        samples
            .iter()
            .filter(|s| self.regions.contains(s.region.as_str()) || self.contents.contains(s.content_id.as_str()))
            .collect()
    }
}

/// Per-client state, kept in the socket's extensions.
#[derive(Debug, Default)]
pub(crate) struct Client {
    pub(crate) subscription: Mutex<Subscription>,
    /// Events dropped for it since it was last told.
    pub(crate) dropped: AtomicU64,
    /// Connected with `detail=full`: the whole-service update carries each
    /// region's bands and rendition mix.
    pub(crate) full_detail: bool,
}

/// Whether a handshake's query asks for `detail=full`.
fn wants_full_detail(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|p| p == "detail=full"))
}

/// The body of `subscribe` and `unsubscribe`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeRequest {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    content_id: Option<String>,
}

/// One tick's `metrics_update`s, ready to send.
#[derive(Debug)]
pub struct TickUpdates<'a> {
    /// The whole service's `metrics_update`, encoded, with each region's
    /// bands and rendition mix (for clients that connected with
    /// `detail=full`).
    pub update: &'a RawValue,
    /// The same without them ([`MetricsUpdate::lean`]), for everyone else.
    pub update_lean: &'a RawValue,
    /// The tick's summary, for scoped payloads.
    pub tick: &'a streammon_core::pipeline::TickSummary,
    /// Its sequence number.
    pub seq: u64,
    /// The tick's samples, for scoped payloads.
    pub samples: &'a [Sample],
}

/// One tick's other events, ready to send.
#[derive(Debug)]
pub struct TickEvents<'a> {
    /// `anomaly_alert` events.
    pub alerts: &'a [AnomalyAlert],
    /// `content_change` events.
    pub changes: &'a [ContentChangeEvent],
}

/// The Socket.IO side of the server.
#[derive(Debug, Clone)]
pub struct Hub {
    io: SocketIo,
    registry: Arc<Mutex<fanout::Registry>>,
    greeting: Arc<Mutex<Greeting>>,
}

/// The latest whole-service `metrics_update`, lean and full, for clients
/// that connect. Its lock orders greetings and broadcasts: a client is
/// greeted and joins the service's rooms while no tick goes out, so it
/// gets every tick from the greeting on, once and in order.
#[derive(Debug, Default)]
struct Greeting {
    lean: Option<Box<RawValue>>,
    full: Option<Box<RawValue>>,
}

fn ack_error(ack: AckSender, status: u16, field: &str, message: String) {
    let body = serde_json::json!({"error": {"status": status, "message": message, "field": field}});
    let _ = ack.send(&body);
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Box<RawValue> {
    // Our payload types always encode.
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null"))
}

/// The field a deserialization error is about, and its message. serde
/// names a missing or unknown field in the message (`` missing field
/// `viewers` ``), not in the path, so it is taken from there.
pub(crate) fn error_field(e: serde_path_to_error::Error<serde_json::Error>) -> (String, String) {
    let path = e.path().to_string();
    let message = e.into_inner().to_string();
    if path != "." {
        return (path, message);
    }
    let named = (message.starts_with("missing field") || message.starts_with("unknown field"))
        .then(|| message.split('`').nth(1))
        .flatten();
    (named.unwrap_or("").to_owned(), message)
}

/// Oldest a pushed sample may be, behind the server's clock: older data is
/// history to import, not live telemetry.
pub const MAX_SAMPLE_AGE_MS: i64 = 60 * 60 * 1_000;
/// Furthest a pushed sample may be ahead of the server's clock (clock skew).
/// Further would make the store's retention, which counts back from the
/// newest sample, throw away what it holds.
pub const MAX_SAMPLE_LEAD_MS: i64 = 60 * 1_000;

/// Parses one sample or an array of them (at most `max`), naming the field
/// at fault; timestamps must lie within [`MAX_SAMPLE_AGE_MS`] before and
/// [`MAX_SAMPLE_LEAD_MS`] after `now_ms`.
pub fn parse_samples(value: serde_json::Value, max: usize, now_ms: i64) -> Result<Vec<Sample>, (String, String)> {
    let items = match value {
        serde_json::Value::Array(items) => items,
        one @ serde_json::Value::Object(_) => vec![one],
        _ => return Err(("".into(), "expected a sample object or an array of samples".into())),
    };
    if items.is_empty() {
        return Err(("".into(), "the array holds no sample".into()));
    }
    if items.len() > max {
        return Err(("".into(), format!("{} samples in one message; at most {max}", items.len())));
    }
    let many = items.len() > 1;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = if many { format!("[{i}].") } else { String::new() };
        let sample: Sample = serde_path_to_error::deserialize(item).map_err(|e| {
            let (field, message) = error_field(e);
            (format!("{prefix}{field}").trim_end_matches('.').to_owned(), message)
        })?;
        sample.validate().map_err(|e| match e {
            streammon_core::Error::InvalidSample { field, reason } => (format!("{prefix}{field}"), reason),
            other => (prefix.trim_end_matches('.').to_owned(), other.to_string()),
        })?;
        // Saturates for a timestamp at either end of i64: refused below.
        let offset = sample.timestamp_ms.saturating_sub(now_ms);
        if !(-MAX_SAMPLE_AGE_MS..=MAX_SAMPLE_LEAD_MS).contains(&offset) {
            return Err((
                format!("{prefix}timestamp_ms"),
                format!(
                    "{} is {} s from the server's clock; live samples must lie within the last hour and at most a minute ahead",
                    sample.timestamp_ms,
                    offset / 1_000
                ),
            ));
        }
        out.push(sample);
    }
    Ok(out)
}

impl Hub {
    /// The region and title rooms this server's clients are in
    /// (`region:{id}`, `content:{id}`): what a cluster's lead must send
    /// this node the samples of, for their updates.
    pub fn scoped_rooms(&self) -> Vec<String> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner()).scoped_rooms().into_iter().collect()
    }

    /// Builds the Socket.IO layer (mount it on the router) and its hub.
    pub fn new(state: AppState) -> (SocketIoLayer, Self) {
        let (layer, io) = SocketIo::builder()
            .max_buffer_size(state.settings().client_buffer.max(2))
            .max_payload(state.settings().max_body_bytes as u64)
            .build_layer();
        let registry = Arc::new(Mutex::new(fanout::Registry::default()));
        let clients = registry.clone();
        // The setup of a client (its place in the registry, its event
        // handlers) happens in the middleware, which socketioxide runs
        // before it sends the CONNECT packet; the connect handler proper is
        // spawned after that packet, so an event the client sends at once
        // (a `subscribe`, a `metric_update`) could arrive before handlers
        // registered there and be lost, ack and all. The whole service's
        // rooms are joined after CONNECT, with the greeting (`greet`): a
        // client must not get a tick before the one it is greeted with.
        // (If sending CONNECT then fails, a transport error at that very
        // moment, socketioxide drops the socket without calling its
        // disconnect handler, and the registry keeps one stale entry.)
        let greeting = Arc::new(Mutex::new(Greeting::default()));
        let (greeted, owner, latest) = (state.clone(), state.clone(), greeting.clone());
        let admit = move |socket: SocketRef, auth: TryData<serde_json::Value>| {
            let (state, clients) = (state.clone(), clients.clone());
            async move {
                admit(&state, &socket, &auth.0)?;
                let token = handshake_token(&auth.0, &socket.req_parts().headers);
                let settings = &state.settings().auth;
                let may_ingest =
                    settings.ingest_tokens.is_empty() || token.as_deref().is_some_and(|t| settings.is_ingest(t));
                on_connect(socket, state.clone(), clients, may_ingest);
                Ok::<(), String>(())
            }
        };
        // After CONNECT: what operators said about alerts, so a client
        // that (re)connects shows the same acknowledgements and silences
        // as everyone else.
        let handler = move |socket: SocketRef| {
            let (state, latest) = (greeted.clone(), latest.clone());
            async move { greet(&state, &latest, &socket) }
        };
        io.ns("/", handler.with(admit));
        let _ = owner.0.io.set(io.clone());
        (layer, Self { io, registry, greeting })
    }

    /// Sends one tick's `metrics_update`s to every client, as each
    /// subscribed; and tells lagging clients whose queue has room again
    /// what they missed. Never waits on a client.
    pub fn send_updates(&self, updates: &TickUpdates<'_>, state: &AppState) {
        let mut greeting = self.greeting.lock().unwrap_or_else(|e| e.into_inner());
        greeting.lean = Some(updates.update_lean.to_owned());
        greeting.full = Some(updates.update.to_owned());
        fanout::send_updates(&self.io, &self.registry, updates, state);
    }

    /// Sends one tick's `anomaly_alert` and `content_change` events to
    /// every client, as each subscribed. Never waits on a client.
    pub fn send_events(&self, events: &TickEvents<'_>, state: &AppState) {
        fanout::send_events(&self.io, &self.registry, events, state);
    }

    /// Encodes the whole service's `metrics_update` once.
    pub fn encode_update(update: &MetricsUpdate) -> Box<RawValue> {
        encode(update)
    }

    /// Disconnects every client (at shutdown).
    pub async fn close(&self) {
        self.io.close().await;
    }
}

/// Most acknowledgements sent to a client on connect, newest first: those
/// of every alert a dashboard lists and more (`GET /alerts` carries each
/// listed alert's own).
const GREETING_ACKS: usize = 1_000;

/// Sends a client that just connected the latest `metrics_update` (as the
/// original server did, so its charts start at once; in full or lean as
/// the client asked) and joins it to the whole service's rooms, between
/// two ticks; then the newest acknowledgements (`alert_acks`) and every
/// silence (`silences`) the server holds.
fn greet(state: &AppState, latest: &Mutex<Greeting>, socket: &SocketRef) {
    if let Some(client) = socket.extensions.get::<Arc<Client>>() {
        let latest = latest.lock().unwrap_or_else(|e| e.into_inner());
        let update = if client.full_detail { &latest.full } else { &latest.lean };
        if let Some(update) = update
            && let Err(e) = socket.emit("metrics_update", update)
        {
            tracing::debug!(target: "streammon::socketio", error = %e, "could not send a client the latest update");
        }
        // A client that subscribed at once (before this) has its rooms.
        let sub = client.subscription.lock().unwrap_or_else(|e| e.into_inner());
        if sub.is_empty() {
            socket.join(fanout::whole_rooms(client.full_detail).to_vec());
        }
    }
    let now = crate::routes::metrics::now_ms();
    let (acks, silences) = {
        let notes = state.notes();
        let mut acks = notes.acks.sorted();
        acks.truncate(GREETING_ACKS);
        (acks, notes.silence_views(now))
    };
    let sent = socket
        .emit("alert_acks", &serde_json::json!({ "acks": acks }))
        .and_then(|()| socket.emit("silences", &serde_json::json!({ "silences": silences })));
    if let Err(e) = sent {
        tracing::debug!(target: "streammon::socketio", error = %e, "could not greet a client");
    }
}

/// The token of a handshake: socket.io-client's `auth: {token}` payload,
/// else its `Authorization: Bearer` header.
fn handshake_token(
    auth: &Result<serde_json::Value, impl std::fmt::Debug>,
    headers: &axum::http::HeaderMap,
) -> Option<String> {
    let in_auth = auth.as_ref().ok().and_then(|v| v.get("token")).and_then(|t| t.as_str());
    in_auth.or_else(|| crate::auth::bearer(headers)).map(str::to_owned)
}

/// Refuses a connection without a read token, when read tokens are
/// configured: the client gets `connect_error` with the reason.
fn admit(
    state: &AppState,
    socket: &SocketRef,
    auth: &Result<serde_json::Value, impl std::fmt::Debug>,
) -> Result<(), String> {
    let settings = &state.settings().auth;
    let headers = &socket.req_parts().headers;
    if settings.may_read(headers) || handshake_token(auth, headers).is_some_and(|t| settings.is_reader(&t)) {
        return Ok(());
    }
    Err("reading needs a read token: connect with auth: {token}, an Authorization header or the dashboard's cookie"
        .into())
}

fn on_connect(socket: SocketRef, state: AppState, registry: Arc<Mutex<fanout::Registry>>, may_ingest: bool) {
    let full_detail = wants_full_detail(socket.req_parts().uri.query());
    let client = Arc::new(Client { full_detail, ..Client::default() });
    socket.extensions.insert(client.clone());
    registry.lock().unwrap_or_else(|e| e.into_inner()).connected(&client);
    state.telemetry().clients.inc();
    let telemetry = state.telemetry().clone();
    let on_leave = registry.clone();
    socket.on_disconnect(move |socket: SocketRef, _: DisconnectReason| {
        on_leave.lock().unwrap_or_else(|e| e.into_inner()).disconnected(socket.id, &client);
        let telemetry = telemetry.clone();
        async move { telemetry.clients.dec() }
    });
    for (event, join) in [("subscribe", true), ("unsubscribe", false)] {
        let (state, registry) = (state.clone(), registry.clone());
        socket.on(event, move |socket: SocketRef, data: TryData<serde_json::Value>, ack: AckSender| {
            let (state, registry) = (state.clone(), registry.clone());
            async move {
                room_for_ack(&socket).await;
                change_subscription(&state, &registry, &socket, data, ack, join)
            }
        });
    }
    socket.on("metric_update", move |socket: SocketRef, data: TryData<serde_json::Value>, ack: AckSender| {
        let state = state.clone();
        async move {
            room_for_ack(&socket).await;
            if !may_ingest {
                let message = "writing needs an ingest token: connect with auth: {token} or `Authorization: Bearer`";
                return ack_error(ack, 401, "token", message.into());
            }
            ingest(&state, data, ack)
        }
    });
}

/// Longest a `metric_update` waits for room in its client's queue.
const ACK_ROOM_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits, at most [`ACK_ROOM_WAIT`], until the client's queue has room for
/// the ack. The ack is a writer's receipt: the fanout may have filled the
/// queue of a client that reads slowly, and an ack that finds it full is
/// lost, so the writer would retry samples that were already taken.
async fn room_for_ack(socket: &SocketRef) {
    let start = std::time::Instant::now();
    while !fanout::has_room(socket) && start.elapsed() < ACK_ROOM_WAIT {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Handles `metric_update`: validated samples go to the pipeline.
fn ingest(state: &AppState, data: TryData<serde_json::Value>, ack: AckSender) {
    let telemetry = state.telemetry();
    let value = match data.0 {
        Ok(v) => v,
        Err(e) => {
            telemetry.samples_rejected.with_label_values(&["invalid"]).inc();
            return ack_error(ack, 400, "", format!("unreadable payload: {e}"));
        }
    };
    match parse_samples(value, state.settings().max_batch, crate::routes::metrics::now_ms()) {
        Err((field, message)) => {
            telemetry.samples_rejected.with_label_values(&["invalid"]).inc();
            ack_error(ack, 400, &field, message);
        }
        Ok(samples) => {
            let n = samples.len();
            if let Err(refusal) = state.admit(&samples, crate::routes::metrics::now_ms()) {
                return ack_error(ack, 422, refusal.limit.field(), refusal.to_string());
            }
            if state.stopping() {
                telemetry.samples_rejected.with_label_values(&["stopping"]).inc_by(n as u64);
                return ack_error(
                    ack,
                    503,
                    "",
                    "the server is stopping and takes no more samples; retry shortly".into(),
                );
            }
            if !state.ingest().forwards() {
                if state.ingest().offer(samples) {
                    let _ = ack.send(&serde_json::json!({ "accepted": n }));
                } else {
                    telemetry.samples_rejected.with_label_values(&["busy"]).inc_by(n as u64);
                    ack_error(ack, 429, "", "the pipeline is busy; retry shortly".into());
                }
                return;
            }
            // Cluster mode: the sink answers once the batch is durable,
            // off the handler.
            let state = state.clone();
            tokio::spawn(async move {
                let telemetry = state.telemetry();
                match state.ingest().submit(samples).await {
                    Submitted::Accepted => {
                        let _ = ack.send(&serde_json::json!({ "accepted": n }));
                    }
                    Submitted::Stopping => {
                        telemetry.samples_rejected.with_label_values(&["stopping"]).inc_by(n as u64);
                        ack_error(
                            ack,
                            503,
                            "",
                            "the server is stopping and takes no more samples; retry shortly".into(),
                        );
                    }
                    Submitted::Busy(why) => {
                        telemetry.samples_rejected.with_label_values(&["busy"]).inc_by(n as u64);
                        ack_error(ack, 429, "", why);
                    }
                    Submitted::Unavailable(why) => {
                        telemetry.samples_rejected.with_label_values(&["unavailable"]).inc_by(n as u64);
                        ack_error(ack, 503, "", format!("cannot take samples now: {why}"));
                    }
                }
            });
        }
    }
}

/// Refuses a subscription to a region or title the server has not seen, so
/// that a typo is an error rather than silence.
fn check_known(state: &AppState, region: Option<&str>, content: Option<&str>) -> Result<(), (&'static str, String)> {
    state.read(|live| {
        if let Some(region) = region {
            let known: Vec<&str> = live
                .history
                .back()
                .map(|t| t.update.regions.iter().map(|r| r.region.as_str()).collect())
                .unwrap_or_default();
            if !known.contains(&region) {
                return Err(("region", format!("no region {region:?} is reporting; known: {}", known.join(", "))));
            }
        }
        if let Some(content) = content
            && !live.contents.iter().any(|c| c.content_id.as_str() == content)
        {
            return Err(("content_id", format!("no title {content:?}; see GET /content")));
        }
        Ok(())
    })
}

fn change_subscription(
    state: &AppState,
    registry: &Mutex<fanout::Registry>,
    socket: &SocketRef,
    data: TryData<serde_json::Value>,
    ack: AckSender,
    join: bool,
) {
    let request = match data
        .0
        .map_err(|e| ("".to_owned(), e.to_string()))
        .and_then(|v| serde_path_to_error::deserialize::<_, SubscribeRequest>(v).map_err(error_field))
    {
        Ok(r) => r,
        Err((field, message)) => return ack_error(ack, 400, &field, message),
    };
    for (field, value) in [("region", &request.region), ("content_id", &request.content_id)] {
        if let Some(v) = value
            && let Err(e) = streammon_core::sample::check_id(field, v)
        {
            let reason = match e {
                streammon_core::Error::InvalidSample { reason, .. } => reason,
                other => other.to_string(),
            };
            return ack_error(ack, 400, field, format!("`{field}` {reason}"));
        }
    }
    if join && request.region.is_none() && request.content_id.is_none() {
        return ack_error(ack, 400, "region", "give `region` or `content_id`".into());
    }
    if join && let Err((field, message)) = check_known(state, request.region.as_deref(), request.content_id.as_deref())
    {
        return ack_error(ack, 404, field, message);
    }
    let Some(client) = socket.extensions.get::<Arc<Client>>() else { return };
    let rooms = {
        // Always the registry, then the subscription: the tick takes them
        // in that order too.
        let mut registry = registry.lock().unwrap_or_else(|e| e.into_inner());
        let mut sub = client.subscription.lock().unwrap_or_else(|e| e.into_inner());
        let max = state.settings().max_rooms_per_client;
        if join && sub.len() + sub.new_rooms(request.region.as_deref(), request.content_id.as_deref()) > max {
            drop((sub, registry));
            state.telemetry().refused.with_label_values(&["rooms"]).inc();
            let field = if request.region.is_some() { "region" } else { "content_id" };
            let message = format!("at most {max} rooms per client (max_rooms_per_client); unsubscribe first");
            return ack_error(ack, 429, field, message);
        }
        let before = sub.all_rooms(client.full_detail);
        match (join, request.region, request.content_id) {
            (false, None, None) => *sub = Subscription::default(),
            (join, region, content) => {
                if let Some(r) = region {
                    let r = RegionId::from(r);
                    if join {
                        sub.regions.insert(r)
                    } else {
                        sub.regions.remove(&r)
                    };
                }
                if let Some(c) = content {
                    let c = ContentId::from(c);
                    if join {
                        sub.contents.insert(c)
                    } else {
                        sub.contents.remove(&c)
                    };
                }
            }
        }
        let after = sub.all_rooms(client.full_detail);
        socket.leave(before.into_iter().filter(|r| !after.contains(r)).collect::<Vec<_>>());
        socket.join(after);
        registry.resubscribed(socket, &client, !sub.is_empty());
        sub.rooms()
    };
    let _ = ack.send(&serde_json::json!({ "ok": true, "rooms": rooms }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_rooms_read_back_the_names_subscriptions_give_and_pick_their_samples() {
        let frame = streammon_core::Simulator::new(streammon_core::SimConfig::default()).unwrap().next_frame();
        let sub = Subscription {
            regions: BTreeSet::from(["eu-west".into()]),
            contents: BTreeSet::from(["vod-000001".into()]),
        };
        let watched = WatchedRooms::from_names(sub.rooms().iter().chain(&["~whole".to_owned()]));
        let needed = watched.needed(&frame.samples);
        assert!(!needed.is_empty());
        assert!(needed.iter().all(|s| s.region.as_str() == "eu-west" || s.content_id.as_str() == "vod-000001"));
        let want =
            frame.samples.iter().filter(|s| s.region.as_str() == "eu-west" || s.content_id.as_str() == "vod-000001");
        assert_eq!(needed.len(), want.count());
        assert!(WatchedRooms::default().needed(&frame.samples).is_empty(), "no room, no samples");
    }

    #[test]
    fn samples_errors_name_the_field() {
        let sample = streammon_core::Simulator::new(streammon_core::SimConfig::default()).unwrap().next_frame().samples
            [0]
        .clone();
        let good = serde_json::to_value(&sample).unwrap();
        let now = sample.timestamp_ms;
        assert_eq!(parse_samples(good.clone(), 10, now).unwrap().len(), 1);
        let mut bad = good.clone();
        bad["buffering_ratio"] = serde_json::json!(3.0);
        assert_eq!(parse_samples(bad.clone(), 10, now).unwrap_err().0, "buffering_ratio");
        assert_eq!(
            parse_samples(serde_json::json!([good.clone(), bad]), 10, now).unwrap_err().0,
            "[1].buffering_ratio"
        );
        let mut wrong_type = good.clone();
        wrong_type["viewers"] = serde_json::json!("many");
        assert_eq!(parse_samples(wrong_type, 10, now).unwrap_err().0, "viewers");
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("latency_ms");
        let (field, message) = parse_samples(missing, 10, now).unwrap_err();
        assert!(message.contains("latency_ms"), "{field}: {message}");
        assert!(parse_samples(serde_json::json!([good.clone(), good.clone()]), 1, now).is_err());
        assert!(parse_samples(serde_json::json!(42), 10, now).is_err());
        // A sample from the far future would make retention drop the rest.
        assert_eq!(parse_samples(good.clone(), 10, now - 120_000).unwrap_err().0, "timestamp_ms");
        assert_eq!(parse_samples(good.clone(), 10, now + 2 * MAX_SAMPLE_AGE_MS).unwrap_err().0, "timestamp_ms");
        assert!(parse_samples(good, 10, now - 30_000).is_ok(), "a little clock skew is fine");
    }

    /// A sample stamped at either end of i64 overflowed its distance from
    /// the server's clock (found reading the code while fuzzing, target
    /// `samples_json`, which reproduces it): it is refused as too far.
    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_refused() {
        let sample = streammon_core::Simulator::new(streammon_core::SimConfig::default()).unwrap().next_frame().samples
            [0]
        .clone();
        let now = sample.timestamp_ms;
        for ts in [i64::MIN, i64::MAX] {
            let mut far = serde_json::to_value(&sample).unwrap();
            far["timestamp_ms"] = serde_json::json!(ts);
            assert_eq!(parse_samples(far, 10, now).unwrap_err().0, "timestamp_ms", "{ts}");
        }
    }

    #[test]
    fn full_detail_is_asked_in_the_handshake() {
        assert!(wants_full_detail(Some("EIO=4&transport=websocket&detail=full")));
        assert!(!wants_full_detail(Some("EIO=4&transport=websocket")));
        assert!(!wants_full_detail(Some("detail=fuller")));
        assert!(!wants_full_detail(None));
    }

    #[test]
    fn subscriptions_name_their_rooms() {
        let mut sub = Subscription::default();
        assert_eq!(sub.all_rooms(false), [fanout::WHOLE, fanout::CHANGES]);
        assert_eq!(sub.all_rooms(true), [fanout::WHOLE_FULL, fanout::CHANGES]);
        sub.regions.insert("eu-west".into());
        assert_eq!(sub.rooms(), ["region:eu-west"]);
        assert_eq!(sub.all_rooms(true), ["region:eu-west", fanout::CHANGES]);
        sub.contents.insert("vod-1".into());
        assert_eq!(sub.all_rooms(false), ["region:eu-west", "content:vod-1"]);
    }
}
