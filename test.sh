#!/usr/bin/env bash
# Runs every test of streammon: unit, integration and doc tests of every
# crate, the examples' build, and each benchmark once in test mode.
# On a fresh machine it first installs what the tests need.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null 2>&1; then
    echo "test.sh: cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

# The Redis adapter's tests start their own redis-server on a free port.
if ! command -v redis-server >/dev/null 2>&1; then
    echo "test.sh: installing redis-server for the Redis adapter's tests" >&2
    apt-get update && apt-get install -y redis-server
fi

cargo test --workspace --locked
# Criterion benches run each benchmark once under `cargo test`.
cargo test --locked -p streammon-benches --benches
