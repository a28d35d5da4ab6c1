#!/usr/bin/env bash
# Measures `streammon serve` on this machine: HTTP throughput of the health
# and tick-history endpoints, then Socket.IO fan-out to 1,000 and 10,000
# clients.
#
# Builds the release binary and starts it on a free loopback port with
# production defaults, one-second ticks and ten minutes of backfill (so
# /metrics?limit=100 has a full page), then runs
#   wrk -t2 -c50 -d30s --latency on GET / and GET /metrics?limit=100
#   scripts/node/loadtest.mjs with 1,000 and then 10,000 clients (30 s windows),
#     each against a freshly started server so its RSS numbers are its own,
#     with a probe of 10 clients in a second process beside each,
# and prints a markdown table. Raw output goes to target/bench-server/.
# Everything it starts is stopped on exit, and it only talks to 127.0.0.1.
# Installs wrk (apt) and the client's npm packages (npm ci) when missing.
# On 2 cores the node client competes with the server: the table shows both
# CPU shares and the client's event-loop delay. The N load clients run at
# the lowest CPU priority (LOAD_NICE, default 19) so that they take what
# the server leaves rather than half of it, as clients on machines of their
# own would; every one of them must still get every update. LOAD_NICE=0
# measures with them competing as equals.
#
# Usage: scripts/bench-server.sh [seconds]   (default 30: each wrk run and load-test window)
#        CLIENTS="1000 10000" LOAD_NICE=19 STREAMMON_BIN=path/to/streammon scripts/bench-server.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-30}
CLIENTS=${CLIENTS:-1000 10000}
LOAD_NICE=${LOAD_NICE:-19}
OUT=target/bench-server
BIN="${STREAMMON_BIN:-${CARGO_TARGET_DIR:-target}/release/streammon}"
mkdir -p "$OUT"

command -v node >/dev/null || { echo "bench-server.sh: node is missing (apt-get install nodejs npm)" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
    echo "bench-server.sh: installing wrk" >&2
    apt-get update && apt-get install -y wrk
fi
[ -d scripts/node/node_modules ] || (cd scripts/node && npm ci --no-audit --no-fund)

# STREAMMON_BIN names a binary to measure instead of building one.
[ -n "${STREAMMON_BIN:-}" ] || cargo build --release --locked -p streammon-cli
# 10,000 clients need as many descriptors in the server and in the client.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10500 ]; then
    echo "bench-server.sh: ulimit -n is $(ulimit -n); the 10,000-client run needs more" >&2
fi

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL="http://127.0.0.1:$PORT"
SERVER=
stop_server() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=
    fi
}
trap stop_server EXIT

# start_server LOG: starts the server in the background and waits for its
# "listening on" line (at most 120 s).
start_server() {
    "$BIN" serve --host 127.0.0.1 --port "$PORT" --step 1s --backfill 10m 2>"$1" &
    SERVER=$!
    for _ in $(seq 1200); do
        grep -q "listening on $URL" "$1" && return 0
        kill -0 "$SERVER" 2>/dev/null || { echo "bench-server.sh: server exited; log:" >&2; tail -20 "$1" >&2; exit 1; }
        sleep 0.1
    done
    echo "bench-server.sh: server not listening after 120 s; log:" >&2
    tail -20 "$1" >&2
    exit 1
}

{
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' (dirty)')"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "server: $BIN serve --step 1s --backfill 10m; wrk $(wrk --version 2>&1 | head -1 | awk '{print $2}'); node $(node --version); load clients at nice $LOAD_NICE"
} | tee "$OUT/machine.txt"

echo "== wrk on $URL (2 threads, 50 connections, ${SECS}s)"
start_server "$OUT/server-wrk.log"
wrk -t2 -c50 -d"${SECS}s" --latency "$URL/" | tee "$OUT/wrk-health.txt"
wrk -t2 -c50 -d"${SECS}s" --latency "$URL/metrics?limit=100" | tee "$OUT/wrk-metrics.txt"
node -e 'fetch(process.argv[1]).then((r) => r.text()).then((t) => console.log(`GET /metrics?limit=100 body: ${t.length} bytes`))' \
    "$URL/metrics?limit=100" | tee -a "$OUT/wrk-metrics.txt"
stop_server

for n in $CLIENTS; do
    echo "== load test: $n Socket.IO clients, ${SECS}s window"
    start_server "$OUT/server-load-$n.log"
    sleep 3 # let the first real-time ticks settle before the RSS baseline
    nice -n "$LOAD_NICE" node scripts/node/loadtest.mjs --url "$URL" --clients "$n" --duration "$SECS" --rate 500 --pid "$SERVER" \
        >"$OUT/load-$n.json" 2> >(tee "$OUT/load-$n.log" >&2) &
    LOAD=$!
    # A probe of 10 more clients in a process of its own, started once the
    # load is connected: the N load clients share one saturated Node
    # process, whose own delay inflates what they measure; the probe's
    # latencies are what a client on a machine of its own would see.
    for _ in $(seq 600); do
        grep -q "measuring for" "$OUT/load-$n.log" 2>/dev/null && break
        kill -0 "$LOAD" 2>/dev/null || break
        sleep 0.5
    done
    node scripts/node/loadtest.mjs --url "$URL" --clients 10 --duration "$((SECS - 5))" --settle 1 \
        >"$OUT/probe-$n.json" 2>"$OUT/probe-$n.log" || echo "(probe beside $n clients reported a failure: see $OUT/probe-$n.log)"
    wait "$LOAD" || echo "(load test with $n clients reported a failure: see $OUT/load-$n.json)"
    stop_server
done

echo
node - "$OUT" $CLIENTS <<'JS' | tee "$OUT/summary.md"
const fs = require('fs');
const [dir, ...clients] = process.argv.slice(2);
const wrk = (name) => {
  const t = fs.readFileSync(`${dir}/${name}`, 'utf8');
  const dist = Object.fromEntries([...t.matchAll(/^\s+(50|90|99)%\s+(\S+)/gm)].map((m) => [m[1], m[2]]));
  const max = t.match(/^\s+Latency\s+\S+\s+\S+\s+(\S+)/m)?.[1];
  const rps = t.match(/Requests\/sec:\s+(\S+)/)?.[1];
  const errs = [t.match(/Socket errors:.*/)?.[0], t.match(/Non-2xx.*/)?.[0]].filter(Boolean).join('; ');
  return { rps, dist, max, errs };
};
console.log('| test | throughput | p50 | p90 | p99 | max | notes |');
console.log('|---|---|---|---|---|---|---|');
for (const [label, file] of [['wrk GET /', 'wrk-health.txt'], ['wrk GET /metrics?limit=100', 'wrk-metrics.txt']]) {
  const w = wrk(file);
  console.log(`| ${label} (50 conns) | ${w.rps} req/s | ${w.dist[50]} | ${w.dist[90]} | ${w.dist[99]} | ${w.max} | ${w.errs || 'no errors'} |`);
}
const mib = (b) => (b == null ? 'n/a' : `${(b / 2 ** 20).toFixed(0)} MiB`);
for (const n of clients) {
  let r;
  try { r = JSON.parse(fs.readFileSync(`${dir}/load-${n}.json`, 'utf8')); } catch { console.log(`| ${n} clients | failed: see load-${n}.log | | | | | |`); continue; }
  const L = r.latency_ms, s = r.server, d = r.delivery;
  const notes = [
    `${r.connect.connected}/${r.clients} connected in ${(r.connect.wall_ms / 1000).toFixed(1)} s`,
    `${r.ticks.seen} ticks, ${d.missed_updates} missed, ${d.lagged_events} lagged`,
    `server RSS ${mib(s.rss_before_bytes)} → ${mib(s.rss_connected_bytes)} (${s.bytes_per_client ?? 'n/a'} B/client) → ${mib(s.rss_after_close_bytes)} after close`,
    `CPU server ${s.cpu_percent ?? 'n/a'} %, client ${r.client.cpu_percent} %, client loop delay p99 ${r.client.event_loop_delay_ms.map((e) => e.p99).join('/')} ms${r.client.saturated ? ' (client saturated)' : ''}`,
  ].join('; ');
  console.log(`| Socket.IO ${n} clients | ${d.received} updates | ${L.p50} ms | ${L.p90} ms | ${L.p99} ms | ${L.max} ms | ${notes} |`);
  try {
    const p = JSON.parse(fs.readFileSync(`${dir}/probe-${n}.json`, 'utf8'));
    const P = p.latency_ms;
    console.log(`| probe: 10 clients beside ${n} | ${p.delivery.received} updates | ${P.p50} ms | ${P.p90} ms | ${P.p99} ms | ${P.max} ms | own process; ${p.delivery.missed_updates} missed |`);
  } catch { console.log(`| probe beside ${n} | failed: see probe-${n}.log | | | | | |`); }
}
JS
echo "raw output: $OUT/"
