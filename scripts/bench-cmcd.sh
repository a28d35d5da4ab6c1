#!/usr/bin/env bash
# Measures CMCD ingest over HTTP: reports per second `streammon serve
# --source cmcd` accepts on this machine, with wrk on loopback.
#
# Starts the release server on a free loopback port with the CMCD
# collector (rate limit raised out of the way, 1 s ticks), then runs wrk
# (2 threads, 50 connections) for:
#   POST /cmcd   event-mode bodies of 10 reports (application/cmcd), each
#                request a different session, as players batch them;
#   GET  /cmcd   one request-mode report per request (the CMCD= query).
# Each is a fresh server so its counters are its own; reports accepted are
# read back from the server's own counter (streammon_cmcd_reports_total)
# and divided by the run's length. Raw output in target/bench-cmcd/.
# Installs wrk (apt) when missing. Talks to 127.0.0.1 only.
#
# Usage: scripts/bench-cmcd.sh [seconds]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-20}
OUT=target/bench-cmcd
BIN="${STREAMMON_BIN:-${CARGO_TARGET_DIR:-target}/release/streammon}"
mkdir -p "$OUT"
if ! command -v wrk >/dev/null; then
    echo "bench-cmcd.sh: installing wrk" >&2
    apt-get update && apt-get install -y wrk
fi
[ -n "${STREAMMON_BIN:-}" ] || cargo build --release --locked -p streammon-cli

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
URL="http://127.0.0.1:$PORT"
CONFIG="$OUT/serve.toml"
cat >"$CONFIG" <<'TOML'
[cmcd]
max_sessions = 1000000

[cmcd_ingest]
rate_per_source = 1e9
burst = 1e9
TOML

SERVER=
stop_server() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=
    fi
}
trap stop_server EXIT

start_server() {
    "$BIN" serve --host 127.0.0.1 --port "$PORT" --source cmcd --step 1s --store memory --config "$CONFIG" 2>"$1" &
    SERVER=$!
    for _ in $(seq 300); do
        grep -q "listening on $URL" "$1" && return 0
        kill -0 "$SERVER" 2>/dev/null || { tail -20 "$1" >&2; exit 1; }
        sleep 0.1
    done
    echo "bench-cmcd.sh: server not listening; log:" >&2
    tail -20 "$1" >&2
    exit 1
}

accepted() {
    curl -s "$URL/metrics/prometheus" | awk '/^streammon_cmcd_reports_total\{outcome="accepted"\}/ {n = $2} END {printf "%d\n", n}'
}

cat >"$OUT/post.lua" <<'LUA'
-- Ten event-mode reports of one session per request, a new session each time.
local n = 0
request = function()
  n = n + 1
  local sid = string.format("bench-%d-%d", math.random(1, 1e9), n)
  local lines = {}
  for i = 1, 10 do
    lines[i] = string.format('e=t,sid="%s",cid="film-%03d",br=(3200),bl=(12000),mtp=(25000),pt=%d,ts=1700000000000,v=2', sid, n % 200, i * 1000)
  end
  return wrk.format("POST", "/cmcd", { ["Content-Type"] = "application/cmcd" }, table.concat(lines, "\n"))
end
LUA
cat >"$OUT/get.lua" <<'LUA'
-- One request-mode report per request, a thousand sessions in turn.
local n = 0
request = function()
  n = n + 1
  local q = string.format("br%%3D3200%%2Cbl%%3D21300%%2Cd%%3D4004%%2Cot%%3Dv%%2Cmtp%%3D48100%%2Csid%%3D%%22s-%d%%22%%2Ccid%%3D%%22film-%03d%%22", n % 1000, n % 200)
  return wrk.format("GET", "/cmcd?CMCD=" .. q)
end
LUA

{
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' (dirty)')"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
} | tee "$OUT/machine.txt"

for mode in post get; do
    start_server "$OUT/server-$mode.log"
    before=$(accepted)
    wrk -t2 -c50 -d"${SECS}s" --latency -s "$OUT/$mode.lua" "$URL" | tee "$OUT/wrk-$mode.txt"
    after=$(accepted)
    rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-$mode.txt")
    echo "== $mode: $((after - before)) reports accepted in ${SECS}s: $(((after - before) / SECS)) reports/s ($rps requests/s)" | tee -a "$OUT/summary.txt"
    stop_server
done
