#!/usr/bin/env bash
# Measures how long a restart on Redis takes to resume: a server runs
# `BACKFILL` (default 20m) of simulated history on a redis-server of this
# script's own (a free port, no persistence), stops with SIGTERM, and
# starts again with no backfill; prints the restored history, the replay
# (`resumed:` log line: ticks, samples, time) and the time from process
# start to the first live tick. docs/PERFORMANCE.md, "Restart on Redis".
#
#   cargo build --release -p streammon-cli && scripts/measure-resume.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${STREAMMON_BIN:-target/release/streammon}
BACKFILL=${BACKFILL:-20m}
[ -x "$BIN" ] || { echo "measure-resume.sh: no $BIN; cargo build --release -p streammon-cli" >&2; exit 1; }
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis=$!
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    kill "$redis" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
sleep 0.5
export REDIS_HOST=127.0.0.1 REDIS_PORT=$port RUST_LOG=info

wait_live() {
    for _ in $(seq 1 1500); do
        grep -q "live: ticks paced" "$1" && return 0
        sleep 0.2
    done
    echo "measure-resume.sh: the server did not go live; its log:" >&2
    tail -20 "$1" >&2
    exit 1
}

"$BIN" serve --port 0 --backfill "$BACKFILL" >"$dir/first.log" 2>&1 &
server=$!
wait_live "$dir/first.log"
sleep 5
kill -TERM "$server"
wait "$server" || true

start=$(date +%s%N)
"$BIN" serve --port 0 --backfill 0s >"$dir/again.log" 2>&1 &
server=$!
wait_live "$dir/again.log"
end=$(date +%s%N)
grep -E "restored the tick history|resumed:" "$dir/again.log" | sed 's/^[^ ]* *INFO streammon: //'
echo "process start to the first live tick: $(( (end - start) / 1000000 )) ms"
kill -TERM "$server"
wait "$server" || true
server=
