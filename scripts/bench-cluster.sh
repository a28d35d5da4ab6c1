#!/usr/bin/env bash
# Measures cluster mode on this machine (docs/SCALING.md): ingest throughput
# through to detection with a standalone server and with 1, 2 and 3
# `serve --cluster` nodes on one Redis, then the failover time after
# `kill -9` of the lead.
#
# For each setup: a fresh Redis of its own on a free loopback port, the
# release binary (one simulated title, so that the pushed samples are the
# load), and scripts/node/ingest.mjs pushing real samples (11 s of 500
# simulated titles, 4 550 streams) to every node at RATE/N samples/s each
# for SECS seconds. The figure is what reached detection: the growth of
# streammon_samples_ingested_total{source="client"|"cluster"} on the node
# that ran the pipeline, over the window, per second; beside it what the
# generators had answered 202 and the request latency.
#
# Failover: 3 nodes under RATE/3 per node; the lead is killed with SIGKILL,
# and the time runs until a survivor's /health says `lead` and its pipeline
# ticked (last tick under a second old). Repeated RUNS times.
#
# Prints a markdown table; raw output goes to target/bench-cluster/.
# Everything it starts is stopped on exit; it only talks to 127.0.0.1.
#
# Usage: scripts/bench-cluster.sh [seconds]   (default 30)
#        RATE=60000 RUNS=3 STREAMMON_BIN=path scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-30}
RATE=${RATE:-60000}
RUNS=${RUNS:-3}
BIN="${STREAMMON_BIN:-${CARGO_TARGET_DIR:-target}/release/streammon}"
OUT=target/bench-cluster
mkdir -p "$OUT"

command -v node >/dev/null || { echo "bench-cluster.sh: node is missing" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "bench-cluster.sh: redis-server is missing" >&2; exit 1; }
[ -d scripts/node/node_modules ] || (cd scripts/node && npm ci --no-audit --no-fund)
[ -n "${STREAMMON_BIN:-}" ] || cargo build --release --locked -p streammon-cli

PIDS=()
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

"$BIN" simulate --titles 500 --duration 11s --incidents none -o "$OUT/templates.jsonl" 2>/dev/null

REDIS_PID=
start_redis() {
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
    echo "bench-cluster.sh: redis-server did not start" >&2
    exit 1
}

# start_node NAME PORT [--cluster --node-id ID]: starts a server on Redis.
NODE_PIDS=()
start_node() {
    local name=$1 port=$2
    shift 2
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT" RUST_LOG=warn,streammon::cluster=info \
        "$BIN" serve --host 127.0.0.1 --port "$port" --titles 1 --incidents none --backfill 0s --resume-window 0s "$@" \
        >"$OUT/$name.log" 2>&1 &
    NODE_PIDS+=($!)
    PIDS+=($!)
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return; sleep 0.1; done
    echo "bench-cluster.sh: $name did not start (see $OUT/$name.log)" >&2
    exit 1
}

stop_all() {
    {
        for pid in "${NODE_PIDS[@]}"; do kill -9 "$pid" || true; done
        [ -n "$REDIS_PID" ] && kill -9 "$REDIS_PID" || true
        wait || true
    } 2>/dev/null
    NODE_PIDS=()
}

# ingested PORT: the samples that reached the pipeline on that node.
ingested() {
    curl -s -H 'accept: text/plain' "http://127.0.0.1:$1/metrics" |
        awk '/^streammon_samples_ingested_total\{source="(client|cluster)"\}/ { s += $2 } END { printf "%d\n", s }'
}

# lead_port PORTS...: the port of the node whose /health says it leads
# (or the only one).
lead_port() {
    for p in "$@"; do
        if [ $# -eq 1 ] || curl -s "http://127.0.0.1:$p/health" | grep -q '"role":"lead"'; then echo "$p"; return; fi
    done
}

ROWS=()
measure() {
    local label=$1 nodes=$2
    start_redis
    local ports=()
    if [ "$nodes" -eq 0 ]; then
        ports=("$(free_port)")
        start_node standalone "${ports[0]}"
    else
        for i in $(seq "$nodes"); do
            ports+=("$(free_port)")
            start_node "n$i" "${ports[-1]}" --cluster --node-id "n$i"
        done
    fi
    local lead=
    for _ in $(seq 100); do lead=$(lead_port "${ports[@]}"); [ -n "$lead" ] && break; sleep 0.1; done
    [ -n "$lead" ] || { echo "bench-cluster.sh: no lead among ${ports[*]}" >&2; exit 1; }
    local n=${#ports[@]} per=$((RATE / ${#ports[@]})) gens=() i=0
    local before
    before=$(ingested "$lead")
    for p in "${ports[@]}"; do
        i=$((i + 1))
        node scripts/node/ingest.mjs --url "http://127.0.0.1:$p" --templates "$OUT/templates.jsonl" --prefix bench- \
            --rate "$per" --duration "$SECS" --connections 4 --progress 3600 >"$OUT/$label-gen$i.json" 2>/dev/null &
        gens+=($!)
    done
    for g in "${gens[@]}"; do wait "$g" || true; done
    sleep 2
    local after
    after=$(ingested "$lead")
    local accepted p99
    accepted=$(cat "$OUT/$label"-gen*.json | python3 -c 'import json,sys; t=sys.stdin.read().replace("}\n{","}\x00{").split("\x00"); print(sum(json.loads(x)["accepted_per_s"] for x in t if x.strip()))')
    p99=$(cat "$OUT/$label"-gen*.json | python3 -c 'import json,sys; t=sys.stdin.read().replace("}\n{","}\x00{").split("\x00"); print(max(json.loads(x)["latency_ms"]["p99"] or 0 for x in t if x.strip()))')
    local through=$(((after - before) / SECS))
    ROWS+=("| $label | $n | $RATE | $accepted | $through | $p99 ms |")
    echo "bench-cluster.sh: $label: $through samples/s through to detection ($accepted answered 202 per s)" >&2
    stop_all
}

measure standalone 0
measure "cluster, 1 node" 1
measure "cluster, 2 nodes" 2
measure "cluster, 3 nodes" 3

FAILOVERS=()
for run in $(seq "$RUNS"); do
    start_redis
    ports=()
    for i in 1 2 3; do
        ports+=("$(free_port)")
        start_node "f$i" "${ports[-1]}" --cluster --node-id "f$i"
    done
    lead=
    for _ in $(seq 100); do lead=$(lead_port "${ports[@]}"); [ -n "$lead" ] && break; sleep 0.1; done
    gens=()
    for p in "${ports[@]}"; do
        [ "$p" = "$lead" ] && continue
        node scripts/node/ingest.mjs --url "http://127.0.0.1:$p" --templates "$OUT/templates.jsonl" --prefix bench- \
            --rate $((RATE / 3)) --duration 25 --connections 4 --progress 3600 >"$OUT/failover$run-$p.json" 2>/dev/null &
        gens+=($!)
    done
    sleep 8
    idx=0
    for k in "${!ports[@]}"; do [ "${ports[$k]}" = "$lead" ] && idx=$k; done
    killed=$(date +%s%N)
    kill -9 "${NODE_PIDS[$idx]}"
    took=
    for _ in $(seq 300); do
        for p in "${ports[@]}"; do
            [ "$p" = "$lead" ] && continue
            h=$(curl -s "http://127.0.0.1:$p/health" || true)
            age=$(echo "$h" | python3 -c 'import json,sys
try:
    h=json.load(sys.stdin); print(h["pipeline"].get("last_tick_age_ms") if h.get("cluster",{}).get("role")=="lead" else "")
except Exception: print("")')
            if [ -n "$age" ] && [ "$age" != "None" ] && [ "$age" -lt 1000 ]; then
                took=$((($(date +%s%N) - killed) / 1000000))
                break 2
            fi
        done
        sleep 0.05
    done
    for g in "${gens[@]}"; do wait "$g" || true; done
    FAILOVERS+=("${took:-timeout}")
    echo "bench-cluster.sh: failover $run: ${took:-timeout} ms" >&2
    stop_all
done

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
echo
echo "Ingest through to detection, $SECS s windows, $RATE samples/s offered over every node, commit $COMMIT, $(nproc) cores:"
echo
echo "| setup | nodes | offered | answered 202 | through to detection | request p99 |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "Failover after kill -9 of the lead (ms until a survivor leads and ticks): ${FAILOVERS[*]}"
