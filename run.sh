#!/usr/bin/env bash
# Runs streammon's main job: the dashboard server (`streammon serve`) with
# the simulator feeding it in real time, random incidents, and embedded
# in-memory storage unless Redis is configured (REDIS_HOST or REDIS_URL).
# API on http://localhost:${API_PORT:-8000}/ (docs at /docs), Socket.IO at
# /socket.io/ and /ws/socket.io/. Extra arguments go to `streammon serve`
# (see `--help`). Ctrl-C stops it gracefully.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null 2>&1; then
    echo "run.sh: cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

cargo build --release --locked -p streammon-cli
exec target/release/streammon serve "$@"
