#!/usr/bin/env bash
# Runs every test of streammon: unit, integration and doc tests of every
# crate, the examples' build, each benchmark once in test mode, the
# Socket.IO protocol test of the server with the official client, its
# Prometheus exposition through promtool and a real Prometheus server, the
# REST API against its own OpenAPI document (schemathesis), the
# web dashboard (its unit tests with Vitest, its production build, and
# end-to-end tests in headless Chromium against the real server), and the
# CMCD collector with a real player (dash.js in Chromium), the TLS
# deployment of docs/SECURITY.md behind a real nginx, and alert delivery
# through a real Prometheus Alertmanager.
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

# The protocol test (scripts/node) drives `streammon serve` with socket.io-client.
if ! command -v node >/dev/null 2>&1; then
    echo "test.sh: installing nodejs and npm for the Socket.IO protocol test" >&2
    apt-get update && apt-get install -y nodejs npm
fi
# npm ci when the client is missing or older than the lock file.
if [ ! scripts/node/node_modules/.package-lock.json -nt scripts/node/package-lock.json ]; then
    (cd scripts/node && npm ci --no-audit --no-fund)
fi

# The TLS deployment test (scripts/node/tls.test.mjs) runs Debian's nginx.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "test.sh: installing nginx for the TLS deployment test" >&2
    apt-get update && apt-get install -y nginx
fi

# Alert delivery's end-to-end test (streammon-cli/tests/alertmanager.rs)
# runs Debian's Alertmanager on a free port.
if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
    echo "test.sh: installing prometheus-alertmanager for the alert delivery test" >&2
    apt-get update && apt-get install -y prometheus-alertmanager
fi

# The dashboard's end-to-end tests drive Debian's Chromium with playwright-core.
if [ ! -x /usr/bin/chromium ]; then
    echo "test.sh: installing chromium for the dashboard's end-to-end tests" >&2
    apt-get update && apt-get install -y chromium
fi
scripts/dashboard-build.sh          # npm ci when needed, then the production build
(cd dashboard && npm test)          # Vitest: reducers and data shaping

cargo test --workspace --locked
# Criterion benches run each benchmark once under `cargo test`.
cargo test --locked -p streammon-benches --benches

cargo build --locked -p streammon-cli
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export STREAMMON_BIN="$target_dir/debug/streammon"
node --test scripts/node/
# The dashboard in headless Chromium against the real server (screenshots
# land in docs/screenshots/).
npm --prefix dashboard run e2e
# CMCD with a real player: dash.js in Chromium against serve --source cmcd
# --media, on DASH media made with ffmpeg (installed when missing).
if [ ! scripts/player/node_modules/.package-lock.json -nt scripts/player/package-lock.json ]; then
    (cd scripts/player && npm ci --no-audit --no-fund)
fi
npm --prefix scripts/player test

# promtool and a real Prometheus against the exposition (the script installs
# Debian's prometheus package when it is missing).
scripts/prometheus-check.sh

# The API against its own /openapi.json: schemathesis from PyPI (installed
# into target/contract-venv when missing), two minutes of generated
# requests, no failure allowed.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "test.sh: installing python3-venv for the contract test" >&2
    apt-get update && apt-get install -y python3-venv
fi
scripts/contract-test.sh 120
