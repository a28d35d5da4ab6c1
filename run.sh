#!/usr/bin/env bash
# Runs streammon's main job. Today that is the simulator paced to the wall
# clock, with random incidents, writing one JSON sample per line to
# standard output; pipe it where you like. Extra arguments are passed to
# `streammon simulate` (see `--help`).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null 2>&1; then
    echo "run.sh: cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

cargo build --release --locked -p streammon-cli
exec target/release/streammon simulate --realtime --duration 365d --incidents random "$@"
