//! Query strings of the REST reads: `GET <route>?<query>` sent to the real
//! router (`streammon_http::router`, with `oneshot`, no socket) over an
//! empty memory store, for each route that takes parameters. The first
//! byte picks the route, the rest is the query.
//!
//! Whatever the query, the answer is a success or a 4xx naming what is
//! wrong: never a 5xx (storage cannot fail here) and never a panic.
#![no_main]

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use streammon_core::cmcd::{Collector, CollectorConfig};
use streammon_core::{MemoryStore, Store};
use streammon_http::{AppState, CmcdIngest, CmcdSettings, HttpSettings, Hub, Ingest, Telemetry};
use tower::ServiceExt;

/// The routes that read a query string (`Params::parse` and the checks
/// after it).
const ROUTES: [&str; 7] = [
    "/metrics",
    "/content",
    "/analytics",
    "/analytics/breakdown",
    "/analytics/distribution",
    "/alerts",
    "/cmcd/sessions",
];

struct Server {
    runtime: tokio::runtime::Runtime,
    router: Router,
    // Held so the ingest queue stays open.
    _queue: tokio::sync::mpsc::Receiver<Vec<streammon_core::Sample>>,
}

static SERVER: LazyLock<Server> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let (ingest, queue) = Ingest::channel(4);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let telemetry = Arc::new(Telemetry::new());
    let state = AppState::new(store, telemetry.clone(), ingest, HttpSettings::default(), "fuzz");
    let collector = Collector::new(CollectorConfig::default()).expect("default config");
    state.enable_cmcd(Arc::new(CmcdIngest::new(collector, CmcdSettings::default(), &telemetry)));
    let router = runtime.block_on(async {
        let (layer, _hub) = Hub::new(state.clone());
        streammon_http::router(state, layer)
    });
    Server { runtime, router, _queue: queue }
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, query)) = data.split_first() else { return };
    let route = ROUTES[usize::from(pick) % ROUTES.len()];
    let mut uri = Vec::with_capacity(route.len() + 1 + query.len());
    uri.extend_from_slice(route.as_bytes());
    uri.push(b'?');
    uri.extend_from_slice(query);
    // What hyper would refuse never reaches a route.
    let Ok(request) = Request::get(uri).body(Body::empty()) else { return };
    let server = &*SERVER;
    let response = server.runtime.block_on(server.router.clone().oneshot(request)).expect("infallible");
    let status = response.status();
    assert!(!status.is_server_error(), "GET {route}?{}: {status}", String::from_utf8_lossy(query));
});
