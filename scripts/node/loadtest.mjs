// Load test of `streammon serve`'s Socket.IO fan-out with the official client.
//
// Opens N websocket connections to a running server, spread over a ramp,
// waits until all are connected, then for a measurement window records, for
// every metrics_update whose tick falls in the window, the delivery latency
// `Date.now() - timestamp_ms`, and checks that every client got every tick.
// Given the server's PID it also reads the server's RSS (VmRSS) before
// connecting, once all are connected, and after all have disconnected, and
// the CPU time the server and this process used during the window.
//
//   node scripts/node/loadtest.mjs --url http://127.0.0.1:8000 --clients 1000 \
//       --duration 30 --pid "$(pgrep -f 'streammon serve')"
//
// Options (defaults in brackets):
//   --url URL            server base URL, loopback only [http://127.0.0.1:$API_PORT or :8000]
//   --path PATH          Socket.IO path [/socket.io]
//   --clients N          connections [1000]
//   --duration S         measurement window, seconds [30]
//   --pid PID            server process, for RSS and CPU (Linux /proc) [none]
//   --workers K          worker threads sharing the clients [1 up to 2000 clients, else 2]
//   --rate R             connections opened per second, all workers together [1000]
//   --connect-timeout S  per-connection timeout, seconds [20]
//   --settle S           wait after connecting and after disconnecting before reading RSS [5]
//   --detail D           `full` connects as the dashboard does (`detail=full`: each region's bands
//                        in every update); empty for the summary update [empty]
//   --progress S         during the window, a line on stderr every S seconds with the clients
//                        connected and the events received so far; 0 for none [0]
//
// Prints one JSON object on stdout and a human summary on stderr. Exits 0
// when every client connected and got every tick, 3 when not, 1 on error.
// Raise `ulimit -n` above the client count first (scripts/bench-server.sh does).
//
// Each worker is its own event loop; its loop delay (p50/p99/max) is reported
// because a saturated client inflates the latencies it measures. On 2 cores
// client and server compete: compare `client.cpu_percent` with
// `server.cpu_percent`.

import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { io } from 'socket.io-client';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (isMainThread) {
  main().catch((e) => {
    process.stderr.write(`loadtest: ${e.stack ?? e}\n`);
    process.exit(1);
  });
} else {
  worker();
}

// ---------------------------------------------------------------- main thread

function parseArgs(argv) {
  const o = {
    url: `http://127.0.0.1:${process.env.API_PORT ?? 8000}`, path: '/socket.io', clients: 1000, duration: 30,
    pid: null, workers: null, rate: 1000, connectTimeout: 20, settle: 5, detail: '', progress: 0,
  };
  const names = { 'connect-timeout': 'connectTimeout' };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') {
      process.stderr.write(readFileSync(new URL(import.meta.url), 'utf8').split('\n\n')[0].replace(/^\/\/ ?/gm, '') + '\n');
      process.exit(0);
    }
    const key = names[flag.slice(2)] ?? flag.slice(2);
    if (!flag.startsWith('--') || !(key in o) || argv[i + 1] === undefined) throw new Error(`bad option ${flag} (see --help)`);
    o[key] = ['url', 'path', 'detail'].includes(key) ? argv[i + 1] : Number(argv[i + 1]);
    if (typeof o[key] === 'number' && !(o[key] >= 0)) throw new Error(`${flag} must be a number >= 0`);
  }
  const host = new URL(o.url).hostname;
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host)) {
    throw new Error(`refusing to load ${host}: this load test only targets loopback addresses`);
  }
  o.workers ??= o.clients > 2000 ? 2 : 1;
  o.workers = Math.max(1, Math.min(o.workers, o.clients || 1));
  return o;
}

/** VmRSS of a process in bytes, or null. */
function rss(pid) {
  if (!pid) return null;
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** User + system CPU seconds a process has used, or null. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

function openFilesLimit() {
  const m = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+|unlimited)/m);
  return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : Infinity;
}

function quantiles(values) {
  const a = Float64Array.from(values).sort();
  const q = (p) => (a.length ? a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)] : null);
  const round = (x) => (x === null ? null : Math.round(x * 10) / 10);
  return {
    count: a.length,
    p50: round(q(0.5)), p90: round(q(0.9)), p99: round(q(0.99)), max: round(a.length ? a[a.length - 1] : null),
    mean: round(a.length ? a.reduce((s, x) => s + x, 0) / a.length : null),
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const say = (s) => process.stderr.write(`loadtest: ${s}\n`);
  const limit = openFilesLimit();
  if (limit < o.clients + 256) {
    throw new Error(`ulimit -n is ${limit}, too low for ${o.clients} clients: raise it (ulimit -n ${o.clients + 1024})`);
  }
  const report = { url: o.url, path: o.path, clients: o.clients, duration_s: o.duration, workers: o.workers, rate_per_s: o.rate };
  const server = { pid: o.pid, rss_before_bytes: rss(o.pid) };

  // Start the workers, each with its share of the clients and of the rate.
  const workers = [];
  for (let w = 0; w < o.workers; w++) {
    const n = Math.floor(o.clients / o.workers) + (w < o.clients % o.workers ? 1 : 0);
    const worker = new Worker(new URL(import.meta.url), {
      workerData: {
        url: o.url, path: o.path, clients: n, rate: o.rate / o.workers, connectTimeoutMs: o.connectTimeout * 1000,
        detail: o.detail, progressMs: o.progress * 1000,
      },
    });
    const inbox = [];
    let waiter = null;
    worker.on('message', (m) => {
      if (m.type === 'progress') worker.progress = m;
      else if (m.type === 'window') worker.window = m;
      else if (waiter && waiter.type === m.type) { const w2 = waiter; waiter = null; w2.resolve(m); }
      else inbox.push(m);
    });
    worker.on('error', (e) => { say(`worker ${w} failed: ${e.stack ?? e}`); process.exit(1); });
    worker.next = (type) => {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      return new Promise((resolve) => { waiter = { type, resolve }; });
    };
    workers.push(worker);
  }

  // Connect.
  say(`connecting ${o.clients} clients to ${o.url} (path ${o.path}) with ${o.workers} worker(s) at ${o.rate}/s`);
  const t0 = Date.now();
  const ticker = setInterval(() => {
    const c = workers.reduce((s, w) => s + (w.progress?.connected ?? 0), 0);
    const f = workers.reduce((s, w) => s + (w.progress?.failed ?? 0), 0);
    say(`  ${c} connected, ${f} failed, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 2000);
  for (const w of workers) w.postMessage({ type: 'connect' });
  const connects = await Promise.all(workers.map((w) => w.next('connected')));
  clearInterval(ticker);
  const connectWall = Date.now() - t0;
  const connected = connects.reduce((s, m) => s + m.connected, 0);
  report.connect = {
    connected,
    failed: connects.reduce((s, m) => s + m.failed, 0),
    errors: Object.entries(connects.flatMap((m) => m.errors).reduce((acc, e) => ({ ...acc, [e]: (acc[e] ?? 0) + 1 }), {})),
    wall_ms: connectWall,
    per_client_ms: quantiles(connects.flatMap((m) => Array.from(m.times))),
  };
  say(`${connected}/${o.clients} connected in ${(connectWall / 1000).toFixed(1)} s`);
  await sleep(o.settle * 1000);
  server.rss_connected_bytes = rss(o.pid);

  // Measure: ticks whose timestamp_ms falls in [start, end).
  const start = Date.now() + 500;
  const end = start + o.duration * 1000;
  const cpu0 = { server: cpuSeconds(o.pid), client: process.cpuUsage() };
  for (const w of workers) w.postMessage({ type: 'measure', start, end });
  say(`measuring for ${o.duration} s`);
  const windowTicker = o.progress > 0 && setInterval(() => {
    const sum = (k) => workers.reduce((s, w) => s + (w.window?.[k] ?? 0), 0);
    say(`  ${((Date.now() - start) / 1000).toFixed(0)} s: ${sum('open')} connected, ${sum('updates')} updates, ` +
      `${sum('anomalies')} anomaly_alert, ${sum('changes')} content_change, ${sum('lagged')} lagged, ${sum('disconnects')} disconnects`);
  }, o.progress * 1000);
  await sleep(end - Date.now());
  if (windowTicker) clearInterval(windowTicker);
  const cpu1 = { server: cpuSeconds(o.pid), client: process.cpuUsage(cpu0.client) };
  const windowS = (Date.now() - start) / 1000;
  // Give late deliveries of the last ticks a moment, then collect.
  await sleep(3000);
  for (const w of workers) w.postMessage({ type: 'collect' });
  const results = await Promise.all(workers.map((w) => w.next('results')));

  const latencies = [];
  for (const r of results) for (const x of r.latencies) latencies.push(x);
  const tickClients = new Map();
  for (const r of results) for (const [ts, n] of r.ticks) tickClients.set(ts, (tickClients.get(ts) ?? 0) + n);
  const ticks = [...tickClients.keys()].sort((a, b) => a - b);
  const interval = results.find((r) => r.intervalMs)?.intervalMs ?? null;
  const gaps = interval && ticks.length > 1
    ? ticks.slice(1).reduce((s, ts, i) => s + Math.max(0, Math.round((ts - ticks[i]) / interval) - 1), 0) : 0;
  const perClient = results.flatMap((r) => Array.from(r.perClient));
  const missed = perClient.reduce((s, n) => s + Math.max(0, ticks.length - n), 0);
  report.latency_ms = quantiles(latencies);
  report.ticks = {
    interval_ms: interval,
    seen: ticks.length,
    expected: interval ? Math.floor((o.duration * 1000) / interval) : null,
    gaps_in_sequence: gaps,
  };
  report.delivery = {
    expected: ticks.length * connected,
    received: latencies.length,
    missed_updates: missed,
    clients_missing_some: perClient.filter((n) => n < ticks.length).length,
    duplicates_or_out_of_order: results.reduce((s, r) => s + r.duplicates, 0),
    disconnects_during_window: results.reduce((s, r) => s + r.disconnects, 0),
    lagged_events: results.reduce((s, r) => s + r.lagged, 0),
    lagged_dropped: results.reduce((s, r) => s + r.laggedDropped, 0),
    anomaly_alerts: results.reduce((s, r) => s + r.anomalies, 0),
    content_changes: results.reduce((s, r) => s + r.changes, 0),
    disconnect_reasons: Object.fromEntries(results.flatMap((r) => r.reasons).reduce((m, [k, n]) => m.set(k, (m.get(k) ?? 0) + n), new Map())),
    metrics_update_bytes: Math.round(results.reduce((s, r) => s + r.bytes, 0) / Math.max(1, results.reduce((s, r) => s + r.sized, 0))),
  };
  const clientCpu = (cpu1.client.user + cpu1.client.system) / 1e6;
  report.client = {
    cpu_percent: Math.round((clientCpu / windowS) * 1000) / 10,
    event_loop_delay_ms: results.map((r) => r.eld),
    heap_used_bytes: process.memoryUsage().heapUsed,
    rss_bytes: process.memoryUsage().rss,
  };
  report.client.saturated = report.client.cpu_percent > 85 * o.workers || results.some((r) => r.eld.p99 > 100);

  // Disconnect, then see what memory the server gives back.
  for (const w of workers) w.postMessage({ type: 'close' });
  await Promise.all(workers.map((w) => w.next('closed')));
  await sleep(o.settle * 1000);
  server.rss_after_close_bytes = rss(o.pid);
  if (o.pid && cpu0.server !== null && cpu1.server !== null) {
    server.cpu_percent = Math.round(((cpu1.server - cpu0.server) / windowS) * 1000) / 10;
  }
  if (server.rss_before_bytes && server.rss_connected_bytes && connected) {
    server.bytes_per_client = Math.round((server.rss_connected_bytes - server.rss_before_bytes) / connected);
  }
  if (server.rss_connected_bytes && server.rss_after_close_bytes) {
    server.returned_bytes = server.rss_connected_bytes - server.rss_after_close_bytes;
    server.retained_bytes = server.rss_after_close_bytes - server.rss_before_bytes;
  }
  report.server = server;
  report.ok = report.connect.failed === 0 && missed === 0 && gaps === 0 && ticks.length > 0
    && report.delivery.disconnects_during_window === 0;
  for (const w of workers) await w.terminate();

  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  const mb = (b) => (b == null ? 'n/a' : `${(b / 2 ** 20).toFixed(1)} MiB`);
  const L = report.latency_ms;
  say([
    `${report.ok ? 'OK' : 'NOT OK'}: ${connected}/${o.clients} clients, ${ticks.length} ticks (${gaps} gaps), ` +
      `${missed} missed updates of ${report.delivery.expected}, ${report.delivery.lagged_events} lagged events`,
    `latency ms: p50 ${L.p50}  p90 ${L.p90}  p99 ${L.p99}  max ${L.max}`,
    `connect: ${(connectWall / 1000).toFixed(1)} s for all; per client p50 ${report.connect.per_client_ms.p50} ms, p99 ${report.connect.per_client_ms.p99} ms`,
    `server RSS: ${mb(server.rss_before_bytes)} before, ${mb(server.rss_connected_bytes)} connected ` +
      `(${server.bytes_per_client ?? 'n/a'} B/client), ${mb(server.rss_after_close_bytes)} after close; CPU ${server.cpu_percent ?? 'n/a'} %`,
    `client: CPU ${report.client.cpu_percent} %, event-loop delay p99 ` +
      `${report.client.event_loop_delay_ms.map((e) => e.p99).join('/')} ms${report.client.saturated ? ' (SATURATED: latencies include client delay)' : ''}`,
  ].join('\n          '));
  process.exit(report.ok ? 0 : 3);
}

// ---------------------------------------------------------------- worker thread

function worker() {
  const { url, path, clients, rate, connectTimeoutMs, detail, progressMs } = workerData;
  const sockets = [];
  const times = new Float64Array(clients).fill(NaN);
  const perClient = new Uint32Array(clients);
  const lastTick = new Float64Array(clients);
  const errors = [];
  let connected = 0;
  let failed = 0;
  let win = null; // { start, end } while measuring
  const latencies = [];
  const ticks = new Map();
  let intervalMs = null;
  let duplicates = 0;
  let disconnects = 0;
  let lagged = 0;
  let laggedDropped = 0;
  let anomalies = 0;
  let changes = 0;
  let open_ = 0;
  const reasons = new Map();
  let windowTicker = null;
  let bytes = 0;
  let sized = 0;
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();

  function open(i) {
    const t = performance.now();
    const s = io(url, {
      path, transports: ['websocket'], forceNew: true, reconnection: false, timeout: connectTimeoutMs,
      ...(detail ? { query: { detail } } : {}),
    });
    sockets[i] = s;
    s.once('connect', () => { times[i] = performance.now() - t; connected++; open_++; });
    s.once('connect_error', (e) => { failed++; errors.push(String(e.message)); });
    s.on('disconnect', (reason) => {
      open_--;
      if (!win) return;
      disconnects++;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    });
    s.on('anomaly_alert', () => { if (win) anomalies++; });
    s.on('content_change', () => { if (win) changes++; });
    s.on('lagged', (m) => { lagged++; laggedDropped += Number(m?.dropped) || 0; });
    s.on('metrics_update', (m) => {
      if (!win) return;
      const now = Date.now();
      const ts = m.timestamp_ms;
      if (ts < win.start || ts >= win.end) return;
      if (ts <= lastTick[i]) { duplicates++; return; }
      lastTick[i] = ts;
      latencies.push(now - ts);
      perClient[i]++;
      ticks.set(ts, (ticks.get(ts) ?? 0) + 1);
      intervalMs ??= m.interval_ms;
      if (sized < 20) { bytes += JSON.stringify(m).length; sized++; }
    });
  }

  async function connectAll() {
    // Open in small batches every 10 ms at `rate` per second overall, never
    // more than 200 handshakes in flight.
    const perBatch = Math.max(1, Math.round(rate / 100));
    let next = 0;
    while (next < clients) {
      const inFlight = next - connected - failed;
      if (inFlight < 200) {
        for (let k = 0; k < perBatch && next < clients; k++) open(next++);
      }
      await sleep(10);
    }
    while (connected + failed < clients) await sleep(20);
  }

  const progress = setInterval(() => parentPort.postMessage({ type: 'progress', connected, failed }), 500);

  parentPort.on('message', async (m) => {
    if (m.type === 'connect') {
      await connectAll();
      clearInterval(progress);
      parentPort.postMessage({ type: 'connected', connected, failed, errors: errors.slice(0, 1000), times: times.filter((x) => !Number.isNaN(x)) });
    } else if (m.type === 'measure') {
      eld.reset();
      win = { start: m.start, end: m.end };
      if (progressMs > 0) {
        windowTicker = setInterval(() => parentPort.postMessage({
          type: 'window', open: open_, updates: latencies.length, anomalies, changes, lagged, disconnects,
        }), progressMs);
      }
    } else if (m.type === 'collect') {
      // The histogram samples with a 10 ms timer: report the delay beyond it.
      const beyond = (ns) => Math.max(0, ns / 1e6 - 10);
      const stats = { p50: beyond(eld.percentile(50)), p99: beyond(eld.percentile(99)), max: beyond(eld.max) };
      win = null;
      if (windowTicker) clearInterval(windowTicker);
      const connectedIdx = [];
      for (let i = 0; i < clients; i++) if (!Number.isNaN(times[i])) connectedIdx.push(perClient[i]);
      const lat = Float64Array.from(latencies);
      parentPort.postMessage({
        type: 'results', latencies: lat, ticks: [...ticks], perClient: Uint32Array.from(connectedIdx), intervalMs,
        duplicates, disconnects, lagged, laggedDropped, anomalies, changes, reasons: [...reasons], bytes, sized,
        eld: Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      }, [lat.buffer]);
    } else if (m.type === 'close') {
      for (const s of sockets) s?.disconnect();
      await sleep(500);
      parentPort.postMessage({ type: 'closed' });
    }
  });
}
