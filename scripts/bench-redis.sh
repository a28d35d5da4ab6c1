#!/usr/bin/env bash
# Compares streammon's Redis writes with what redis-benchmark reaches for
# the same commands on the same machine (target: at least half).
#
# Starts its own redis-server on a free port (no persistence), runs
#   redis-benchmark -P 64 for LPUSH (the metrics_history list) and ZADD
#   (the per-stream sorted sets) with members the size of a sample's JSON,
# then the criterion bench `store/redis/append_flush` against a fresh
# server, and prints both. Needs redis-server and redis-benchmark
# (Debian: apt-get install redis-server).
#
# Usage: scripts/bench-redis.sh [requests]   (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-200000}
SIZE=${SAMPLE_BYTES:-490}   # about a sample's JSON; the bench prints the exact mean

for bin in redis-server redis-benchmark redis-cli; do
    command -v "$bin" >/dev/null || { echo "bench-redis.sh: $bin is missing (apt-get install redis-server)" >&2; exit 1; }
done

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done

MEMBER="m:__rand_int__:$(head -c "$SIZE" /dev/zero | tr '\0' x)"
echo "== redis-benchmark -P 64, $N requests, ${SIZE}-byte values, port $PORT"
rps() { tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | awk '{print $1}'; }
LPUSH=$(redis-benchmark -p "$PORT" -P 64 -n "$N" -d "$SIZE" -q -t lpush | rps)
redis-cli -p "$PORT" flushall >/dev/null
ZADD=$(redis-benchmark -p "$PORT" -P 64 -n "$N" -r 100000000 -q ZADD 'bench:{z}' __rand_int__ "$MEMBER" | rps)
redis-cli -p "$PORT" flushall >/dev/null
echo "LPUSH: $LPUSH requests/s"
echo "ZADD:  $ZADD requests/s"

echo "== streammon RedisStore (cargo bench -p streammon-benches --bench store -- store/redis/append_flush)"
export REDIS_URL="redis://127.0.0.1:$PORT/0"
OUT=$(cargo bench -p streammon-benches --bench store -- store/redis/append_flush 2>&1 | tee /dev/stderr)
OURS=$(echo "$OUT" | awk '/append_flush/ {f=1} f && /thrpt:/ {print $(NF-3), $(NF-2); exit}')
echo
echo "redis-benchmark LPUSH: $LPUSH/s; ZADD: $ZADD/s"
echo "RedisStore: $OURS samples/s (each sample is one LPUSH element and one ZADD member)"
python3 - "$LPUSH" "$ZADD" "$OURS" <<'PY'
import sys
lpush, zadd = float(sys.argv[1]), float(sys.argv[2])
value, unit = sys.argv[3].split()
ours = float(value) * {"elem/s": 1, "Kelem/s": 1e3, "Melem/s": 1e6, "Gelem/s": 1e9}[unit]
both = 1 / (1 / lpush + 1 / zadd)
print(f"ceiling for LPUSH+ZADD per sample: {both:,.0f}/s; ours {ours:,.0f}/s = {ours / both:.2f}x (target >= 0.5x)")
print(f"against ZADD alone: {ours / zadd:.2f}x")
PY
