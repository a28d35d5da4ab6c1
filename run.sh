#!/usr/bin/env bash
# Runs streammon's main job: the dashboard server (`streammon serve`) with
# the simulator feeding it in real time, random incidents, and embedded
# in-memory storage unless Redis is configured (REDIS_HOST or REDIS_URL).
# The dashboard at http://localhost:${API_PORT:-8000}/, the API beside it
# (docs at /docs), Socket.IO at /socket.io/ and /ws/socket.io/. Extra
# arguments go to `streammon serve` (see `--help`). Ctrl-C stops it
# gracefully.
#
# On a fresh machine it first installs Node.js and npm (Debian packages)
# and the dashboard's npm dependencies, and builds the dashboard.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null 2>&1; then
    echo "run.sh: cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

scripts/dashboard-build.sh

cargo build --release --locked -p streammon-cli
# Half an hour of simulated history (about 6 s to simulate) so the
# forecasts, which step by the minute, are warm when the dashboard opens.
export STREAMMON_BACKFILL="${STREAMMON_BACKFILL:-30m}"
exec target/release/streammon serve --dashboard dashboard/dist "$@"
