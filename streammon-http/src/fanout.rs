//! One tick's events to every client: rooms, one encoding per payload, and
//! slow clients.
//!
//! **Rooms say who gets what.** Besides the `region:…` and `content:…`
//! rooms a client subscribes to, the hub keeps it in internal rooms
//! (`~`-prefixed, so no subscription can name them):
//!
//! | room | who | receives |
//! |---|---|---|
//! | [`WHOLE`] | no subscription | the lean whole-service `metrics_update`, every alert |
//! | [`WHOLE_FULL`] | no subscription, `detail=full` | the same with each region's bands |
//! | [`CHANGES`] | no title subscription | every `content_change` |
//! | [`LAGGING`] | its queue was found full | no broadcast: its events one at a time |
//!
//! **One encoding per payload.** Each payload is encoded to a Socket.IO
//! packet once and broadcast to its rooms, so queueing it for one more
//! client is a reference-count increment and a channel push. Encoding each
//! client's packet on its own cost 20 ms a tick at 1 000 clients, which
//! every client's update waited behind.
//!
//! **Slow clients.** Each client's queue holds
//! [`HttpSettings::client_buffer`](crate::HttpSettings) packets. When a
//! broadcast finds queues full, the hub finds out whose ([`has_room`]) and
//! puts them in [`LAGGING`]: from then on each of their events is sent on
//! its own, so a full queue drops it there and it is counted; the pipeline
//! and the other clients never wait. Once a lagging client's queue has
//! room at the start of a tick it leaves the room and is sent `lagged`
//! with the count; `seq` in `metrics_update` shows the gap too.
//!
//! **Who is where** is kept in a [`Registry`] as clients connect,
//! subscribe and leave, so a tick looks one by one only at subscribed and
//! lagging clients and counts the rest by kind.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use serde::Serialize;
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{BroadcastError, SendError, SocketError, SocketIo};

use crate::realtime::{Client, MAX_ANOMALY_EVENTS, TickEvents, TickUpdates, encode};
use crate::state::AppState;
use crate::telemetry::Telemetry;
use crate::wire::{AlertKind, AnomalyAlert, Lagged, MetricsUpdate, Scope};

/// Clients without a subscription: the lean whole-service update.
pub(crate) const WHOLE: &str = "~whole";
/// Clients without a subscription that connected with `detail=full`.
pub(crate) const WHOLE_FULL: &str = "~whole:full";
/// Clients without a title subscription: every content change.
pub(crate) const CHANGES: &str = "~changes";
/// Clients whose queue was found full: left out of broadcasts and sent
/// their events one at a time until it has room.
pub(crate) const LAGGING: &str = "~lagging";

/// The internal rooms of a client with no subscription.
pub(crate) fn whole_rooms(full_detail: bool) -> [&'static str; 2] {
    [if full_detail { WHOLE_FULL } else { WHOLE }, CHANGES]
}

/// A payload that refuses to encode: see [`has_room`].
struct Probe;

impl Serialize for Probe {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("queue probe"))
    }
}

/// Whether `socket`'s queue has room for one more packet.
///
/// socketioxide offers no public way to ask, nor to queue a packet encoded
/// once for one socket. Its `Socket::emit` takes a slot in the queue
/// before it encodes the payload, so an emit whose payload refuses to
/// encode answers exactly this and sends nothing: "channel full" when
/// there is no room, an encoding error when there is.
/// `scripts/node/slow-client.test.mjs` fails if that order ever changes (a
/// stalled client would never be told what it missed).
pub(crate) fn has_room(socket: &SocketRef) -> bool {
    !matches!(socket.emit("lagged", &Probe), Err(SendError::Socket(SocketError::InternalChannelFull)))
}

/// Runs a future the local adapter completes when first polled.
fn now<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// A connected client, as the [`Registry`] keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    socket: SocketRef,
    client: Arc<Client>,
}

/// Who is connected and how, kept up to date as clients come, subscribe
/// and go, so that a tick visits only the few clients that are not plain
/// whole-service listeners. At 10 000 clients, visiting every socket took
/// 8 to 30 ms a tick before the first byte could leave.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Clients without a subscription (lagging ones too): lean, then
    /// `detail=full`.
    whole: [u64; 2],
    /// Clients with a subscription.
    subscribed: HashMap<Sid, Member>,
    /// Clients in [`LAGGING`].
    lagging: HashMap<Sid, Member>,
}

impl Registry {
    /// The region and title rooms some client here is in
    /// (`region:{id}`, `content:{id}`).
    pub(crate) fn scoped_rooms(&self) -> BTreeSet<String> {
        let mut rooms = BTreeSet::new();
        for member in self.subscribed.values().chain(self.lagging.values()) {
            rooms.extend(member.client.subscription.lock().unwrap_or_else(|e| e.into_inner()).rooms());
        }
        rooms
    }

    /// A client connected (it has no subscription yet).
    pub(crate) fn connected(&mut self, client: &Client) {
        self.whole[usize::from(client.full_detail)] += 1;
    }

    /// A client left.
    pub(crate) fn disconnected(&mut self, sid: Sid, client: &Client) {
        self.lagging.remove(&sid);
        if self.subscribed.remove(&sid).is_none() {
            let n = &mut self.whole[usize::from(client.full_detail)];
            *n = n.saturating_sub(1);
        }
    }

    /// A client's subscription went from empty to not, or back.
    pub(crate) fn resubscribed(&mut self, socket: &SocketRef, client: &Arc<Client>, subscribed: bool) {
        let whole = &mut self.whole[usize::from(client.full_detail)];
        if subscribed {
            if self.subscribed.insert(socket.id, Member { socket: socket.clone(), client: client.clone() }).is_none() {
                *whole = whole.saturating_sub(1);
            }
        } else if self.subscribed.remove(&socket.id).is_some() {
            *whole += 1;
        }
    }
}

/// A client the tick looks at one by one: subscribed, or lagging.
struct Recipient {
    member: Member,
    /// Its rooms, internal ones included; `None`: no subscription
    /// ([`whole_rooms`]).
    rooms: Option<Vec<String>>,
    lagging: bool,
}

impl Recipient {
    fn new(member: Member, lagging: bool) -> Self {
        let rooms = {
            let sub = member.client.subscription.lock().unwrap_or_else(|e| e.into_inner());
            (!sub.is_empty()).then(|| sub.all_rooms(member.client.full_detail))
        };
        Recipient { member, rooms, lagging }
    }

    fn is_in(&self, rooms: &[String]) -> bool {
        match &self.rooms {
            None => whole_rooms(self.member.client.full_detail).iter().any(|r| rooms.iter().any(|x| x == r)),
            Some(own) => own.iter().any(|r| rooms.contains(r)),
        }
    }

    fn kind(&self) -> usize {
        usize::from(self.member.client.full_detail)
    }
}

/// The tick's clients: the unsubscribed ones with room in their queue
/// counted by kind, the others one by one.
struct Audience<'r> {
    registry: &'r Mutex<Registry>,
    /// Unsubscribed clients that are not lagging: lean, `detail=full`.
    whole: [u64; 2],
    /// Subscribed or lagging clients.
    others: Vec<Recipient>,
    index: HashMap<Sid, usize>,
    /// Rooms with a member that is not lagging.
    live: BTreeSet<String>,
}

impl<'r> Audience<'r> {
    fn new(registry: &'r Mutex<Registry>) -> Self {
        let (whole, subscribed, lagging) = {
            let r = registry.lock().unwrap_or_else(|e| e.into_inner());
            (
                r.whole,
                r.subscribed.values().cloned().collect::<Vec<_>>(),
                r.lagging.values().cloned().collect::<Vec<_>>(),
            )
        };
        let mut audience =
            Audience { registry, whole, others: Vec::new(), index: HashMap::new(), live: BTreeSet::new() };
        for (member, lagging) in
            lagging.into_iter().map(|m| (m, true)).chain(subscribed.into_iter().map(|m| (m, false)))
        {
            if !audience.index.contains_key(&member.socket.id) {
                audience.add(member, lagging);
            }
        }
        for (i, room) in [WHOLE, WHOLE_FULL].into_iter().enumerate() {
            if audience.whole[i] > 0 {
                audience.live.extend([room.to_owned(), CHANGES.to_owned()]);
            }
        }
        for r in audience.others.iter().filter(|r| !r.lagging) {
            audience.live.extend(r.rooms.iter().flatten().cloned());
        }
        audience
    }

    /// Looks at `member` one by one from now on; a lagging unsubscribed
    /// client leaves the count by kind.
    fn add(&mut self, member: Member, lagging: bool) {
        let r = Recipient::new(member, lagging);
        if lagging && r.rooms.is_none() {
            let n = &mut self.whole[r.kind()];
            *n = n.saturating_sub(1);
        }
        self.index.insert(r.member.socket.id, self.others.len());
        self.others.push(r);
    }

    /// Lagging clients whose queue has room again leave [`LAGGING`] and
    /// hear what they missed.
    fn release_drained(&mut self) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        for r in self.others.iter_mut().filter(|r| r.lagging) {
            let Member { socket, client } = &r.member;
            if !has_room(socket) {
                continue;
            }
            socket.leave(LAGGING);
            registry.lagging.remove(&socket.id);
            r.lagging = false;
            let missed = client.dropped.swap(0, Ordering::Relaxed);
            if missed > 0 && socket.emit("lagged", &Lagged { dropped: missed }).is_err() {
                client.dropped.fetch_add(missed, Ordering::Relaxed);
            }
            match &r.rooms {
                None => {
                    self.whole[usize::from(client.full_detail)] += 1;
                    self.live.extend(whole_rooms(client.full_detail).map(str::to_owned));
                }
                Some(rooms) => self.live.extend(rooms.iter().cloned()),
            }
        }
        // Released unsubscribed clients are counted in `whole` again.
        self.others.retain(|r| r.lagging || r.rooms.is_some());
        self.index = self.others.iter().enumerate().map(|(i, r)| (r.member.socket.id, i)).collect();
    }

    /// Clients in `rooms` that are not lagging (a broadcast reaches them).
    fn members(&self, rooms: &[String]) -> u64 {
        let has = |room: &str| rooms.iter().any(|r| r == room);
        let mut members = 0;
        for (i, kind) in [WHOLE, WHOLE_FULL].into_iter().enumerate() {
            if has(kind) || has(CHANGES) {
                members += self.whole[i];
            }
        }
        members + self.others.iter().filter(|r| !r.lagging && r.is_in(rooms)).count() as u64
    }

    /// Sends `payload` to each lagging client in `rooms`, one by one: a
    /// full queue says so there and then, so what each misses is counted
    /// exactly. Returns how many were sent and dropped.
    fn send_to_lagging(&self, rooms: &[String], event: &'static str, payload: &RawValue) -> (u64, u64) {
        let (mut sent, mut dropped) = (0, 0);
        for r in self.others.iter().filter(|r| r.lagging && r.is_in(rooms)) {
            match r.member.socket.emit(event, payload) {
                Ok(()) => sent += 1,
                Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                    r.member.client.dropped.fetch_add(1, Ordering::Relaxed);
                    dropped += 1;
                }
                Err(_) => {}
            }
        }
        (sent, dropped)
    }

    /// After a broadcast to `rooms` found `full` queues full: the clients
    /// whose queue is full now are served one by one from here on, until
    /// theirs has room at the start of a tick. They include those that
    /// missed the event, and may include some that took it into their
    /// last free slot; so the miss is put on their count only when there
    /// are no more of them than misses (the tick's total has it anyway).
    fn find_full(&mut self, io: &SocketIo, rooms: &[String], full: usize) {
        let sockets: Vec<SocketRef> =
            io.to(rooms.to_vec()).except(LAGGING).sockets().into_iter().filter(|s| !has_room(s)).collect();
        let certain = sockets.len() <= full;
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        for socket in sockets {
            let Some(client) = socket.extensions.get::<Arc<Client>>() else { continue };
            if certain {
                client.dropped.fetch_add(1, Ordering::Relaxed);
            }
            socket.join(LAGGING);
            let member = Member { socket, client };
            registry.lagging.insert(member.socket.id, member.clone());
            match self.index.get(&member.socket.id) {
                Some(&i) => self.others[i].lagging = true,
                None => self.add(member, true),
            }
        }
    }
}

/// One payload for the sockets in some rooms.
struct Delivery<'a> {
    event: &'static str,
    payload: &'a RawValue,
    rooms: &'a [String],
}

/// Queues `payload` as `event` for every socket in `rooms` but the lagging
/// ones; returns how many queues were full.
fn broadcast(io: &SocketIo, rooms: Vec<String>, event: &str, payload: &RawValue) -> usize {
    let sent = now(io.to(rooms).except(LAGGING).emit(event, payload));
    match sent {
        Some(Ok(())) | None => 0,
        Some(Err(BroadcastError::Socket(errors))) => {
            errors.iter().filter(|e| matches!(e, SocketError::InternalChannelFull)).count()
        }
        Some(Err(e)) => {
            tracing::warn!(target: "streammon::socketio", error = %e, event, "broadcast failed");
            0
        }
    }
}

/// Queues `payload` as `event` for every client, lagging ones included (a
/// rare, small event: an acknowledgement, the silences). A full queue
/// drops it for that client, who reads the state again on reconnect.
pub(crate) fn broadcast_all(io: &SocketIo, event: &'static str, payload: &RawValue) {
    if let Some(Err(e)) = now(io.emit(event, payload)) {
        tracing::debug!(target: "streammon::socketio", error = %e, event, "broadcast reached not every client");
    }
}

/// Sends one payload to the clients in its rooms: lagging ones one by
/// one, before the rest (whoever the broadcast finds full has had their
/// try), the rest by broadcast; and counts what was sent and dropped.
fn deliver(io: &SocketIo, audience: &mut Audience<'_>, d: &Delivery<'_>, telemetry: &Telemetry) {
    let (mut sent, mut dropped) = audience.send_to_lagging(d.rooms, d.event, d.payload);
    let members = audience.members(d.rooms);
    if members > 0 {
        // Only rooms with someone to reach. The internal rooms share no
        // socket with any other room, so each goes alone: a broadcast to
        // several rooms must tell apart the sockets they share, which at
        // 10 000 clients is a hash set of them per event.
        let (internal, public): (Vec<String>, Vec<String>) =
            d.rooms.iter().filter(|r| audience.live.contains(*r)).cloned().partition(|r| r.starts_with('~'));
        let groups = internal.into_iter().map(|r| vec![r]).chain((!public.is_empty()).then_some(public));
        let full: usize = groups.map(|rooms| broadcast(io, rooms, d.event, d.payload)).sum();
        sent += members.saturating_sub(full as u64);
        dropped += full as u64;
        if full > 0 {
            audience.find_full(io, d.rooms, full);
        }
    }
    telemetry.events_sent.with_label_values(&[d.event]).inc_by(sent);
    telemetry.events_dropped.inc_by(dropped);
}

/// Sends one tick's `metrics_update`s: the whole service's first, before
/// anything is worked out, since it is what nearly every client waits
/// for; then releases drained lagging clients, then each subscribed
/// room's. Never waits on a client.
pub(crate) fn send_updates(io: &SocketIo, registry: &Mutex<Registry>, out: &TickUpdates<'_>, state: &AppState) {
    let telemetry = state.telemetry();
    let mut audience = Audience::new(registry);
    for (room, payload) in [(WHOLE, out.update_lean), (WHOLE_FULL, out.update)] {
        let rooms = [room.to_owned()];
        deliver(io, &mut audience, &Delivery { event: "metrics_update", payload, rooms: &rooms }, telemetry);
    }
    audience.release_drained();

    // Every subscribed room, lagging members' too: what they miss counts.
    let subscribed: BTreeSet<&String> = audience.others.iter().flat_map(|r| r.rooms.iter().flatten()).collect();
    let scoped: Vec<(String, Box<RawValue>)> = subscribed
        .into_iter()
        .filter_map(|room| {
            let update = match room.split_once(':') {
                Some(("region", r)) => MetricsUpdate::for_region(out.tick, out.seq, &r.into(), out.samples),
                Some(("content", c)) => MetricsUpdate::for_content(out.tick, out.seq, &c.into(), out.samples),
                _ => None,
            };
            update.map(|u| (room.clone(), encode(&u)))
        })
        .collect();
    for (room, payload) in &scoped {
        let rooms = std::slice::from_ref(room);
        deliver(io, &mut audience, &Delivery { event: "metrics_update", payload, rooms }, telemetry);
    }
}

/// Sends one tick's `anomaly_alert` and `content_change` events, each
/// payload encoded once. Never waits on a client.
pub(crate) fn send_events(io: &SocketIo, registry: &Mutex<Registry>, out: &TickEvents<'_>, state: &AppState) {
    if out.alerts.is_empty() && out.changes.is_empty() {
        return;
    }
    let telemetry = state.telemetry();
    let mut audience = Audience::new(registry);
    let alerts: Vec<(Box<RawValue>, Vec<String>)> = encoded_alerts(out.alerts).collect();
    let changes: Vec<(Box<RawValue>, Vec<String>)> = out
        .changes
        .iter()
        .map(|c| (encode(c), vec![CHANGES.to_owned(), format!("content:{}", c.change.content_id)]))
        .collect();
    let events = alerts.iter().map(|a| ("anomaly_alert", a)).chain(changes.iter().map(|c| ("content_change", c)));
    for (event, (payload, rooms)) in events {
        deliver(io, &mut audience, &Delivery { event, payload, rooms }, telemetry);
    }
}

/// Each `anomaly_alert` payload with the rooms it goes to ([`alert_rooms`]).
fn encoded_alerts(alerts: &[AnomalyAlert]) -> impl Iterator<Item = (Box<RawValue>, Vec<String>)> + '_ {
    let mut taken = HashMap::new();
    alerts.iter().filter_map(move |a| {
        let rooms = alert_rooms(&a.scope, a.kind == AlertKind::Anomaly, &mut taken);
        (!rooms.is_empty()).then(|| (encode(a), rooms))
    })
}

/// The rooms an alert about `scope` goes to: the whole service's and its
/// scope's. A room gets at most [`MAX_ANOMALY_EVENTS`] `anomaly` events a
/// tick (the first, which are the highest scores; `taken` counts them);
/// alert transitions and predictions always go.
fn alert_rooms(scope: &Scope, is_anomaly: bool, taken: &mut HashMap<String, usize>) -> Vec<String> {
    let mut take = |room: &str| {
        if !is_anomaly {
            return true;
        }
        let n = taken.entry(room.to_owned()).or_default();
        *n += 1;
        *n <= MAX_ANOMALY_EVENTS
    };
    let mut rooms = Vec::with_capacity(4);
    if take(WHOLE) {
        rooms.extend([WHOLE.to_owned(), WHOLE_FULL.to_owned()]);
    }
    if let Some(r) = &scope.region {
        let room = format!("region:{r}");
        if take(&room) {
            rooms.push(room);
        }
    }
    if let Some(c) = &scope.content_id {
        let room = format!("content:{c}");
        if take(&room) {
            rooms.push(room);
        }
    }
    rooms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_never_encodes() {
        assert!(serde_json::to_string(&Probe).is_err());
    }

    #[test]
    fn each_room_gets_at_most_five_anomalies_a_tick() {
        let mut taken = HashMap::new();
        let eu = Scope { region: Some("eu-west".into()), content_id: Some("vod-1".into()) };
        let us = Scope { region: Some("us-east".into()), content_id: None };
        let all = [WHOLE, WHOLE_FULL];
        for _ in 0..3 {
            assert_eq!(alert_rooms(&eu, true, &mut taken), [WHOLE, WHOLE_FULL, "region:eu-west", "content:vod-1"]);
        }
        for _ in 0..2 {
            assert_eq!(alert_rooms(&us, true, &mut taken), [WHOLE, WHOLE_FULL, "region:us-east"]);
        }
        // The whole service has had five; eu-west has had three.
        assert_eq!(alert_rooms(&eu, true, &mut taken), ["region:eu-west", "content:vod-1"]);
        assert_eq!(alert_rooms(&eu, true, &mut taken), ["region:eu-west", "content:vod-1"]);
        assert!(alert_rooms(&eu, true, &mut taken).is_empty());
        // Alert transitions always go.
        let mut rooms = all.map(str::to_owned).to_vec();
        rooms.extend(["region:eu-west".to_owned(), "content:vod-1".to_owned()]);
        assert_eq!(alert_rooms(&eu, false, &mut taken), rooms);
    }

    #[test]
    fn the_registry_counts_unsubscribed_clients_by_kind() {
        let lean = Client::default();
        let full = Client { full_detail: true, ..Client::default() };
        let mut registry = Registry::default();
        registry.connected(&lean);
        registry.connected(&lean);
        registry.connected(&full);
        assert_eq!(registry.whole, [2, 1]);
        registry.disconnected(Sid::new(), &full);
        registry.disconnected(Sid::new(), &full);
        assert_eq!(registry.whole, [2, 0], "never below zero");
    }
}
