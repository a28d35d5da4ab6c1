#!/usr/bin/env bash
# Checks streammon's Prometheus exposition the way an operator meets it:
#
#   1. `promtool check metrics` (format and lint) on the text served at
#      /metrics/prometheus and at /metrics with `Accept: text/plain`;
#   2. `promtool check config` and `promtool check rules` on the scrape
#      config and the alerting rules printed in docs/PROMETHEUS.md;
#   3. a real Prometheus server scraping both paths every second with those
#      rules loaded, queried over its HTTP API until the targets are up, the
#      ingest counter grows, a per-region KPI has sensible values and the
#      rules evaluate without error.
#
# Everything listens on 127.0.0.1 only, on free ports, and every wait is
# bounded; whatever the script starts it stops on exit. Needs python3 and
# curl; installs Debian's `prometheus` package (prometheus and promtool)
# when either is missing. About 15 s after the build.
#
# Usage: scripts/prometheus-check.sh
# Environment:
#   STREAMMON_BIN  streammon binary to run; builds the debug one when unset
#   KPI_METRIC     per-region gauge to query (default streammon_viewers)
#   KEEP_TMP=1     keep the temporary directory (logs, exposition, TSDB)
set -euo pipefail
cd "$(dirname "$0")/.."

KPI=${KPI_METRIC:-streammon_viewers}
COUNTER=streammon_samples_ingested_total
DOC=docs/PROMETHEUS.md

die() { echo "prometheus-check.sh: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

for bin in python3 curl; do
    command -v "$bin" >/dev/null || die "$bin is missing"
done
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    echo "prometheus-check.sh: installing Debian's prometheus package (prometheus, promtool)" >&2
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
fi

if [ -z "${STREAMMON_BIN:-}" ]; then
    step "cargo build -p streammon-cli"
    cargo build --locked -p streammon-cli
    STREAMMON_BIN="${CARGO_TARGET_DIR:-target}/debug/streammon"
fi
[ -x "$STREAMMON_BIN" ] || die "no executable streammon at $STREAMMON_BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/prometheus-check.XXXXXX")
PIDS=()
cleanup() {
    local rc=$?
    set +e # a failed write to a closed stderr must not cut the cleanup short
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # Bounded: escalate to SIGKILL after 5 s.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        for log in "$TMP"/serve.log "$TMP"/prometheus.log; do
            [ -s "$log" ] && { echo "--- last lines of $log" >&2; tail -n 20 "$log" >&2; }
        done
    fi
    if [ "${KEEP_TMP:-}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
# A reader that went away (| head) fails the next write instead of killing
# the shell, so the cleanup still runs.
trap '' PIPE
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it
# succeeds; fails the script after SECONDS.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
}

# Pulls the fenced ```yaml block that follows the marker line
# `<!-- check: NAME -->` in docs/PROMETHEUS.md.
doc_block() {
    awk -v m="<!-- check: $1 -->" '
        $0 == m { found = 1; next }
        found == 1 && /^```yaml/ { found = 2; next }
        found == 2 && /^```/ { exit }
        found == 2 { print }' "$DOC"
}

# --- streammon ---------------------------------------------------------------
START=$SECONDS
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
step "streammon serve on 127.0.0.1:$PORT ($STREAMMON_BIN)"
"$STREAMMON_BIN" serve --host 127.0.0.1 --port "$PORT" --step 1s --backfill 5m \
    >"$TMP/serve.out" 2>"$TMP/serve.log" &
SERVE=$!
PIDS+=("$SERVE")
serve_ready() {
    kill -0 "$SERVE" 2>/dev/null || die "streammon serve exited before it was ready"
    grep -q "listening on http://127.0.0.1:$PORT" "$TMP/serve.log"
}
wait_for 30 "streammon to print 'listening on http://127.0.0.1:$PORT'" serve_ready

# fetch NAME PATH [ACCEPT]: body to $TMP/NAME.txt, headers to $TMP/NAME.headers.
fetch() {
    local args=(-sS --max-time 5 -o "$TMP/$1.txt" -D "$TMP/$1.headers" -w '%{http_code}')
    [ -n "${3:-}" ] && args+=(-H "Accept: $3")
    local code
    code=$(curl "${args[@]}" "$BASE$2") || die "GET $2 failed"
    [ "$code" = 200 ] || die "GET $2${3:+ (Accept: $3)} answered HTTP $code"
}
content_type() {
    tr -d '\r' <"$TMP/$1.headers" | awk 'tolower($1) == "content-type:" { $1 = ""; sub(/^ /, ""); print }' | tail -n 1
}
expect_text_format() {
    local ct
    ct=$(content_type "$1")
    case "$ct" in
        text/plain*version=0.0.4*) ;;
        *) die "$2 answered Content-Type '$ct', want 'text/plain; version=0.0.4; charset=utf-8'" ;;
    esac
}

# --- promtool check metrics ----------------------------------------------------
# Prometheus' own Accept header: it prefers OpenMetrics, so a /metrics that
# negotiates must answer it with a format it declares correctly.
PROM_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
fetch fixed /metrics/prometheus
fetch negotiated /metrics 'text/plain;version=0.0.4'
fetch scraper /metrics "$PROM_ACCEPT"
fetch json /metrics
fetch axios /metrics 'application/json, text/plain, */*'
expect_text_format fixed "GET /metrics/prometheus"
expect_text_format negotiated "GET /metrics with Accept: text/plain;version=0.0.4"
case "$(content_type scraper)" in
    text/plain*version=0.0.4*) ;;
    application/openmetrics-text*)
        [ "$(tail -n 1 "$TMP/scraper.txt")" = "# EOF" ] ||
            die "GET /metrics with Prometheus' Accept header claims OpenMetrics but the body does not end in '# EOF'" ;;
    *) die "GET /metrics with Prometheus' Accept header answered Content-Type '$(content_type scraper)'" ;;
esac
case "$(content_type json)" in
    application/json*) ;;
    *) die "GET /metrics without Accept answered Content-Type '$(content_type json)', want application/json" ;;
esac
python3 -m json.tool "$TMP/json.txt" >/dev/null || die "GET /metrics without Accept is not JSON"
# Clients whose default Accept lists JSON first (axios) must get JSON.
case "$(content_type axios)" in
    application/json*) ;;
    *) die "GET /metrics with Accept: application/json, text/plain, */* answered Content-Type '$(content_type axios)', want application/json" ;;
esac

for name in fixed negotiated; do
    step "promtool check metrics < $name exposition ($(grep -c '^# TYPE' "$TMP/$name.txt") families, $(grep -vc '^#' "$TMP/$name.txt") series)"
    set +e
    promtool check metrics <"$TMP/$name.txt" >"$TMP/$name.promtool" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne 0 ] || [ -s "$TMP/$name.promtool" ]; then
        echo "promtool check metrics (exit $rc) said:" >&2
        sed 's/^/    /' "$TMP/$name.promtool" >&2
        die "the $name exposition does not pass promtool check metrics"
    fi
done
# Both paths must expose the same families (values move between fetches).
diff <(grep '^# TYPE' "$TMP/fixed.txt" | sort) <(grep '^# TYPE' "$TMP/negotiated.txt" | sort) >&2 ||
    die "/metrics/prometheus and /metrics (Accept: text/plain) expose different metric families"
for m in "$COUNTER" "$KPI"; do
    grep -q "^# TYPE $m " "$TMP/fixed.txt" || die "the exposition has no $m"
done
# The doc and the exposition name the same metrics: every streammon_* name in
# docs/PROMETHEUS.md is served, and every family served is documented.
step "metric names in $DOC against the exposition"
python3 - "$DOC" "$TMP/fixed.txt" <<'PY' || die "$DOC and the exposition disagree (above)"
import re, sys
doc, expo = open(sys.argv[1]).read(), open(sys.argv[2]).read()
families = set(re.findall(r"^# TYPE (\S+) ", expo, re.M))
series = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", expo, re.M))
named = set(re.findall(r"\bstreammon_[a-z0-9_]+", doc)) - {"streammon_core"}
unknown = sorted(n for n in named if n not in families | series)
undocumented = sorted(f for f in families if f not in named)
for n in unknown:
    print(f"    {sys.argv[1]} names {n}, which the server does not expose", file=sys.stderr)
for f in undocumented:
    print(f"    the server exposes {f}, which {sys.argv[1]} does not list", file=sys.stderr)
sys.exit(1 if unknown or undocumented else 0)
PY

# --- docs/PROMETHEUS.md: scrape config and rules -------------------------------
step "promtool check rules / check config on the snippets in $DOC"
doc_block rules.yml >"$TMP/rules.yml"
[ -s "$TMP/rules.yml" ] || die "no '<!-- check: rules.yml -->' yaml block in $DOC"
promtool check rules "$TMP/rules.yml" >"$TMP/rules.promtool" 2>&1 ||
    { sed 's/^/    /' "$TMP/rules.promtool" >&2; die "promtool check rules failed on the rules in $DOC"; }
doc_block prometheus.yml >"$TMP/doc-prometheus.yml"
[ -s "$TMP/doc-prometheus.yml" ] || die "no '<!-- check: prometheus.yml -->' yaml block in $DOC"
promtool check config --syntax-only "$TMP/doc-prometheus.yml" >"$TMP/doc-config.promtool" 2>&1 ||
    { sed 's/^/    /' "$TMP/doc-config.promtool" >&2; die "promtool check config failed on the scrape config in $DOC"; }

# --- a real Prometheus -----------------------------------------------------------
PPORT=$(free_port)
PROM="http://127.0.0.1:$PPORT"
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $TMP/rules.yml
scrape_configs:
  - job_name: streammon
    metrics_path: /metrics/prometheus
    static_configs:
      - targets: ['127.0.0.1:$PORT']
  - job_name: streammon-negotiated
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
promtool check config "$TMP/prometheus.yml" >"$TMP/config.promtool" 2>&1 ||
    { sed 's/^/    /' "$TMP/config.promtool" >&2; die "promtool check config failed on the generated config"; }
step "prometheus on 127.0.0.1:$PPORT scraping both paths every 1s"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PROMPID=$!
PIDS+=("$PROMPID")
prom_ready() {
    kill -0 "$PROMPID" 2>/dev/null || die "prometheus exited"
    curl -sf --max-time 2 "$PROM/-/ready" >/dev/null
}
wait_for 20 "prometheus to be ready" prom_ready

# query EXPR: prints one line per series, "labels-as-json value".
query() {
    curl -sS --max-time 5 -G "$PROM/api/v1/query" --data-urlencode "query=$1" |
        python3 -c '
import json, sys
r = json.load(sys.stdin)
if r.get("status") != "success":
    sys.exit("query failed: %s" % r.get("error"))
for s in r["data"]["result"]:
    print(json.dumps(s["metric"], sort_keys=True), s["value"][1])'
}

# Both targets up; on a target that is down, show Prometheus' lastError.
targets_up() {
    [ "$(query 'sum(up{job=~"streammon|streammon-negotiated"})' | awk '{print $NF}')" = 2 ]
}
if ! (wait_for 15 "both scrape targets to be up" targets_up); then
    curl -sS --max-time 5 "$PROM/api/v1/targets" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print("   ", t["scrapePool"], t["scrapeUrl"], t["health"], t.get("lastError", ""))' >&2
    die "Prometheus could not scrape streammon (targets above)"
fi
echo "targets up: streammon (/metrics/prometheus), streammon-negotiated (/metrics)"

# The counter is there, positive, and grows between scrapes.
first=$(query "sum($COUNTER{job=\"streammon\"})" | awk '{print $NF}')
[ -n "$first" ] || die "Prometheus has no $COUNTER"
python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if v > 0 else 1)" "$first" ||
    die "$COUNTER is $first, expected > 0 (the server backfills 5m at 1s steps)"
grows() {
    local now
    now=$(query "sum($COUNTER{job=\"streammon\"})" | awk '{print $NF}')
    python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) > float(sys.argv[1]) else 1)" "$first" "$now"
}
wait_for 10 "$COUNTER to grow past $first" grows
echo "$COUNTER: $first, then $(query "sum($COUNTER{job=\"streammon\"})" | awk '{print $NF}')"

# The per-region KPI: at least one region, every value finite and >= 0,
# region labels bounded (the ten default regions).
query "$KPI{job=\"streammon\"}" >"$TMP/kpi.txt"
python3 - "$KPI" "$TMP/kpi.txt" <<'PY' || die "$KPI is not sensible (above)"
import json, math, sys
name, path = sys.argv[1], sys.argv[2]
rows = [line.rsplit(" ", 1) for line in open(path) if line.strip()]
if not rows:
    sys.exit(f"no series for {name}")
bad, regions = [], set()
for labels, value in rows:
    labels, v = json.loads(labels), float(value)
    if "region" not in labels:
        bad.append(f"{labels} has no region label")
    regions.add(labels.get("region"))
    if not math.isfinite(v) or v < 0:
        bad.append(f"{labels} = {value}")
if len(regions) > 20:
    bad.append(f"{len(regions)} distinct regions: label cardinality is not bounded")
for b in bad:
    print("   ", b, file=sys.stderr)
if bad:
    sys.exit(1)
print(f"{name}: {len(rows)} series over {len(regions)} regions: " +
      ", ".join(f"{json.loads(l).get('region')}={float(v):g}" for l, v in sorted(rows)[:5]) +
      (" ..." if len(rows) > 5 else ""))
PY

# The documented rules load and evaluate without error.
rules_ok() {
    curl -sS --max-time 5 "$PROM/api/v1/rules" | python3 -c '
import json, sys
rules = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
bad = [r for r in rules if r.get("health") != "ok"]
open(sys.argv[1], "w").write("".join("    %s: %s %s\n" % (r["name"], r.get("health"), r.get("lastError", "")) for r in bad))
sys.exit(0 if rules and not bad else 1)' "$TMP/rules.health"
}
if ! (wait_for 10 "the rules from $DOC to evaluate" rules_ok); then
    cat "$TMP/rules.health" >&2
    die "the rules from $DOC do not evaluate cleanly in Prometheus"
fi
echo "rules from $DOC: loaded and evaluating"

# Every query in the doc's ```promql blocks parses and evaluates. A query
# runs on until its parentheses balance and it does not end in an operator.
awk '/^```promql/ { on = 1; next } on && /^```/ { on = 0 } on' "$DOC" >"$TMP/queries.promql"
python3 - "$PROM" "$TMP/queries.promql" <<'PY' || die "a query in $DOC does not evaluate (above)"
import json, sys, urllib.parse, urllib.request
prom, path = sys.argv[1], sys.argv[2]
queries, cur = [], ""
for line in open(path):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    cur = (cur + " " + line).strip()
    if cur.count("(") == cur.count(")") and not cur.endswith(("/", "*", "+", "-", "(", ",", " and", " or", " unless")):
        queries.append(cur)
        cur = ""
if cur or not queries:
    sys.exit(f"    unfinished or no query: {cur!r}")
bad = 0
for q in queries:
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        r = json.load(urllib.request.urlopen(url, timeout=5))
    except urllib.error.HTTPError as e:
        r = json.load(e)
    if r.get("status") != "success":
        bad += 1
        print(f"    {q}\n      -> {r.get('error')}", file=sys.stderr)
print(f"{len(queries) - bad} of {len(queries)} example queries evaluate")
sys.exit(1 if bad else 0)
PY

echo "prometheus-check.sh: OK in $((SECONDS - START))s after the build"
