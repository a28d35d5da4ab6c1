#!/usr/bin/env bash
# Builds the web dashboard into dashboard/dist (what `streammon serve`
# serves at /), installing what it needs first: Node.js and npm from
# Debian when missing, the npm dependencies when they are missing or
# older than the lock file. Skips the build when dist is newer than every
# source file. Used by run.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/../dashboard"

if ! command -v npm >/dev/null 2>&1; then
    echo "dashboard-build.sh: installing nodejs and npm for the dashboard" >&2
    apt-get update && apt-get install -y nodejs npm
fi
if [ ! node_modules/.package-lock.json -nt package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
if [ -f dist/index.html ] && [ -z "$(find src public index.html package-lock.json vite.config.ts tsconfig*.json \
        -newer dist/index.html -print -quit 2>/dev/null)" ]; then
    exit 0
fi
npm run build
