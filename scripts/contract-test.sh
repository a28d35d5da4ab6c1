#!/usr/bin/env bash
# The API does what its OpenAPI document says: schemathesis (from PyPI)
# generates requests from the server's own /openapi.json, valid and
# invalid, and checks every answer:
#   not_a_server_error          no 5xx, ever
#   status_code_conformance     every status is one the document lists
#   content_type_conformance    every body has a documented content type
#   response_schema_conformance every JSON body matches its schema
#   negative_data_rejection     a request the schema forbids gets a 4xx
#
# Starts `streammon serve` (debug build unless STREAMMON_BIN is set) on a
# free loopback port with the simulator and CMCD ingest on, an ingest token
# that schemathesis sends with every request, and the in-memory store (it
# never touches the Redis on 6379). Installs schemathesis into
# target/contract-venv when missing. Exits non-zero on any failure.
#
# Usage: scripts/contract-test.sh [seconds]   (default 120: the time budget)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-120}
VENV=target/contract-venv
OUT=target/contract
BIN="${STREAMMON_BIN:-${CARGO_TARGET_DIR:-target}/debug/streammon}"
TOKEN=contract-test-ingest-token-0123456789
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/schemathesis" ]; then
    echo "contract-test.sh: installing schemathesis into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'schemathesis==4.32.5'
fi
[ -x "$BIN" ] || cargo build --quiet -p streammon-cli

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --host 127.0.0.1 --port "$PORT" --store memory --source both \
    --ingest-token "$TOKEN" --cmcd-token "contract=$TOKEN" --backfill 2m \
    >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    kill -0 $SERVER 2>/dev/null || { cat "$OUT/server.log" >&2; echo "contract-test.sh: the server did not start" >&2; exit 1; }
    sleep 0.2
done

"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
    --header "Authorization: Bearer $TOKEN" \
    --max-time "$SECS" --workers 1 --seed 1 \
    --report junit --report-dir "$OUT" \
    --suppress-health-check all
