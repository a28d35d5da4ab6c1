#!/usr/bin/env bash
# The soak (issue 16): runs `streammon serve` for an hour at half its target
# load, then reports memory, threads, tasks and file descriptors over time.
#
# Builds the release binary and starts it on a free loopback port with the
# production defaults (in-memory store, the simulator with its default
# catalogue and incidents) and an ingest token, but an hour of backfill
# (BACKFILL, default 60m; `serve` defaults to 5m): every bounded buffer (the
# 3,600 ticks of history behind GET /metrics, the store's 15-minute window
# of the simulator's streams, the detectors' and forecasts' warm-up) is then
# full before the load starts, so nothing that grows after the warm-up is a
# buffer filling. (With BACKFILL=5m the tick history fills for the first 55
# minutes: docs/RELIABILITY.md gives its size.) Then for the whole run, from
# the moment the backfill is done:
#   - ingest: scripts/node/ingest.mjs POSTs real samples to /metrics at
#     RATE samples/s (default 50,000, half of the documented 100,000 samples/s
#     with detection, docs/PERFORMANCE.md) in batches of 1,000: simulated
#     samples of a catalogue of TITLES titles (default RATE / 100: 500) in the
#     ten default regions (about 9 streams a title) from `streammon simulate`,
#     content ids prefixed `soak-`, stamped with the current time, cycled
#     through so that each stream gets about 11 samples a second (its store
#     ring, 900 samples, is full within 90 s);
#   - Socket.IO: scripts/node/loadtest.mjs holds CLIENTS (default 1,000)
#     official socket.io-client connections as the dashboard makes them
#     (`detail=full`, the whole-service feed), counting every metrics_update,
#     anomaly_alert, content_change and lagged event;
#   - a sampler (scripts/node/soak.mjs) records every 10 s the server's VmRSS
#     and Threads (/proc/PID/status), open descriptors (/proc/PID/fd), CPU
#     time, and from its /metrics/prometheus and /health the runtime's live
#     tasks (streammon_runtime_tasks), Socket.IO clients, client samples
#     ingested and refused, events dropped, detector series and state, tick
#     lag, and the samples and streams the store holds.
# The readings go to target/soak/<time>-<minutes>m/soak.csv, beside the
# server's log, the generators' JSON reports and the summary.
#
# The summary: RSS at 5 minutes, its min/max/last after that and the largest
# deviation from the 5-minute value; threads, descriptors and tasks after 5
# minutes; the ingest rate the server accepted; Socket.IO events per client;
# errors (non-202 answers, disconnects, lagged clients). Exit codes:
#   0  the rules hold and the load was held;
#   2  a rule failed. The rules, on every reading from 5 minutes on, against
#      the reading at 5 minutes: RSS within +-5 %; threads within +-2;
#      descriptors and runtime tasks within +-max(10, 1 %);
#   3  the rules hold but the load was not held: under 90 % of RATE accepted,
#      a batch not answered 202, ticks more than 2 s behind the clock, or a
#      client that failed to connect or disconnected;
#   1  the script itself failed (build, server start, no readings), or the
#      server did not stop cleanly (exit 0) on SIGTERM at the end.
# Everything it starts is stopped on exit; it only talks to 127.0.0.1. Not
# part of ./test.sh: it takes the hour. Results: docs/RELIABILITY.md, "Soak".
#
# Usage: scripts/soak.sh [minutes]        (default 60; 3 to try it out)
#        RATE=50000 CLIENTS=1000 TITLES=500 BACKFILL=60m LOAD_NICE=0 STREAMMON_BIN=path scripts/soak.sh 60
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${1:-60}
RATE=${RATE:-50000}
CLIENTS=${CLIENTS:-1000}
TITLES=${TITLES:-$((RATE / 100))}
BACKFILL=${BACKFILL:-60m}
LOAD_NICE=${LOAD_NICE:-0}
WARMUP=${WARMUP:-300}
SECS=$((MINUTES * 60))
BIN="${STREAMMON_BIN:-${CARGO_TARGET_DIR:-target}/release/streammon}"
RUN=target/soak/$(date -u +%Y%m%dT%H%M%SZ)-${MINUTES}m
mkdir -p "$RUN"

command -v node >/dev/null || { echo "soak.sh: node is missing (apt-get install nodejs npm)" >&2; exit 1; }
[ -d scripts/node/node_modules ] || (cd scripts/node && npm ci --no-audit --no-fund)
[ -n "${STREAMMON_BIN:-}" ] || cargo build --release --locked -p streammon-cli
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CLIENTS + 1024)) ] || { echo "soak.sh: ulimit -n is $(ulimit -n), too low for $CLIENTS clients" >&2; exit 1; }

PIDS=()
SERVER=
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The samples the ingest cycles through: enough simulated seconds of the
# catalogue for one pass a second at RATE.
PER_TICK=$("$BIN" simulate --titles "$TITLES" --duration 1s --incidents none -q | wc -l)
TEMPLATE_SECS=$(((RATE + PER_TICK - 1) / PER_TICK))
"$BIN" simulate --titles "$TITLES" --duration "${TEMPLATE_SECS}s" --incidents none --seed 1 -q -o "$RUN/templates.jsonl"

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL="http://127.0.0.1:$PORT"
TOKEN=$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')
{
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' (dirty)')"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "server: $BIN serve --store memory --backfill $BACKFILL --port $PORT (ingest token set); node $(node --version)"
    echo "load: $RATE samples/s over POST /metrics ($TITLES titles, $PER_TICK streams, $TEMPLATE_SECS simulated seconds cycled), $CLIENTS Socket.IO clients (detail=full), load at nice $LOAD_NICE; $MINUTES minutes"
} | tee "$RUN/machine.txt"

STREAMMON_INGEST_TOKENS="$TOKEN" "$BIN" serve --store memory --backfill "$BACKFILL" --host 127.0.0.1 --port "$PORT" 2>"$RUN/server.log" &
SERVER=$!
PIDS+=("$SERVER")
for _ in $(seq 1200); do
    grep -q "listening on $URL" "$RUN/server.log" && break
    kill -0 "$SERVER" 2>/dev/null || { echo "soak.sh: the server exited; log:" >&2; tail -20 "$RUN/server.log" >&2; exit 1; }
    sleep 0.1
done
grep -q "listening on $URL" "$RUN/server.log" || { echo "soak.sh: the server is not listening after 120 s" >&2; exit 1; }
# The load starts once the backfill is done and ticks are paced to the
# clock: the server takes pushed samples into its backfill ticks too, and at
# this rate they would swell them (see docs/RELIABILITY.md, "Soak").
for _ in $(seq 3000); do
    grep -q "live: ticks paced" "$RUN/server.log" && break
    kill -0 "$SERVER" 2>/dev/null || { echo "soak.sh: the server exited; log:" >&2; tail -20 "$RUN/server.log" >&2; exit 1; }
    sleep 0.1
done
grep -q "live: ticks paced" "$RUN/server.log" || { echo "soak.sh: the server is not live after 300 s" >&2; exit 1; }

# The clients' window ends a few seconds after the sampler's last reading,
# and the ingest runs 10 s past it: the last reading is under full load.
nice -n "$LOAD_NICE" node scripts/node/loadtest.mjs --url "$URL" --clients "$CLIENTS" --rate 500 --detail full \
    --duration "$((SECS - 2))" --settle 2 --progress 60 --pid "$SERVER" >"$RUN/load.json" 2>"$RUN/load.log" &
PIDS+=("$!")
LOAD=$!
STREAMMON_INGEST_TOKEN="$TOKEN" nice -n "$LOAD_NICE" node scripts/node/ingest.mjs --url "$URL" --templates "$RUN/templates.jsonl" \
    --rate "$RATE" --batch 1000 --duration "$((SECS + 10))" --progress 60 >"$RUN/ingest.json" 2>"$RUN/ingest.log" &
PIDS+=("$!")
INGEST=$!

echo "soak.sh: $MINUTES minutes; readings in $RUN/soak.csv"
node scripts/node/soak.mjs sample --pid "$SERVER" --url "$URL" --seconds "$SECS" --every 10 --csv "$RUN/soak.csv"

wait "$LOAD" || echo "soak.sh: the Socket.IO load test reported a failure: $RUN/load.log" >&2
wait "$INGEST" || echo "soak.sh: the ingest reported a failure: $RUN/ingest.log" >&2
tail -3 "$RUN/load.log" >&2 || true
tail -1 "$RUN/ingest.log" >&2 || true

STATUS=0
node scripts/node/soak.mjs summary --csv "$RUN/soak.csv" --warmup "$WARMUP" --ingest "$RUN/ingest.json" \
    --load "$RUN/load.json" --rate "$RATE" --clients "$CLIENTS" | tee "$RUN/summary.txt" || STATUS=$?

# A clean stop after the hour: SIGTERM drains and exits 0.
kill -TERM "$SERVER"
for _ in $(seq 300); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SERVER" 2>/dev/null; then
    echo "soak.sh: the server did not stop within 30 s of SIGTERM; killing it" | tee -a "$RUN/summary.txt"
    kill -9 "$SERVER"
fi
SERVER_EXIT=0
wait "$SERVER" || SERVER_EXIT=$?
PIDS=()
echo "soak.sh: the server stopped with exit code $SERVER_EXIT on SIGTERM" | tee -a "$RUN/summary.txt"
if [ "$SERVER_EXIT" -ne 0 ] && [ "$STATUS" -eq 0 ]; then STATUS=1; fi
exit "$STATUS"
