// Socket.IO protocol test of `streammon serve`, with the official client.
//
// Starts the server binary on a free port with a fast tick, a small,
// fast-changing catalogue and a scripted CDN degradation a few seconds into
// real time, then checks the events and acks against the wire contract:
// docs/SCHEMA.md for samples, the lead's `serve` contract for the rest.
//
//   cargo build -p streammon-cli && node --test scripts/node/
//   STREAMMON_BIN=target/release/streammon node --test scripts/node/
//
// STREAMMON_BIN defaults to $CARGO_TARGET_DIR/debug/streammon, else
// target/debug/streammon under the repository root. Every wait is bounded
// and fails with what it waited for and the server's last log lines.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.STREAMMON_BIN
  ? path.resolve(process.env.STREAMMON_BIN)
  : path.resolve(REPO, process.env.CARGO_TARGET_DIR ?? 'target', 'debug/streammon');

const STEP_MS = 200;
const BACKFILL = '2m';
const BACKFILL_S = 120;
// A strong CDN degradation in eu-west, starting 4 s into real time (scripted
// offsets count from the backfill start) and lasting well past the test.
const INCIDENT_REGION = 'eu-west';
const INCIDENT = `cdn_degradation:${INCIDENT_REGION}@${BACKFILL_S + 4}s+10m*1`;
// On-demand titles retire after a minute on average, so with ~38 of them a
// content_change arrives every couple of seconds.
const SIM_TOML = '[simulator]\nvod_lifetime = "1m"\nlive_gap = "1m"\n';

const STARTUP_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 5_000;
const ACK_TIMEOUT_MS = 5_000;
const TICK_WAIT_MS = 10 * STEP_MS + 3_000;
const ALERT_WAIT_MS = 30_000;
const CHANGE_WAIT_MS = 20_000;

const REGION_IDS = [
  'us-east', 'us-west', 'sa-east', 'eu-west', 'eu-central',
  'af-south', 'me-central', 'ap-south', 'ap-east', 'ap-southeast',
];
const CONTENT_TYPES = ['video', 'audio', 'live'];
const STATUSES = ['available', 'retired', 'scheduled', 'pre_show', 'live', 'ended'];

// ---------------------------------------------------------------- harness

/** A free TCP port on 127.0.0.1, found by binding port 0. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A timer for races: it does not keep the process alive once the race is won. */
const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** The server under test: its process, URL and a bounded tail of its log. */
class Server {
  constructor() {
    this.log = [];
    this.child = null;
    this.exit = null;
  }

  tail(n = 30) {
    return this.log.slice(-n).join('\n');
  }

  async start(args) {
    assert.ok(existsSync(BIN), `server binary not found at ${BIN}: build it (cargo build -p streammon-cli) or set STREAMMON_BIN`);
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.child = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(this.port), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' },
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    const listening = new Promise((resolve) => {
      let buf = '';
      const onData = (chunk) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop();
        for (const line of lines) {
          this.log.push(line);
          if (this.log.length > 500) this.log.shift();
          // Ready once it listens and the backfilled history is done.
          if (line.includes(`listening on http://127.0.0.1:${this.port}`)) this.listening = true;
          if (this.listening && line.includes("live: ticks paced")) resolve();
        }
      };
      this.child.stderr.setEncoding('utf8').on('data', onData);
      this.child.stdout.setEncoding('utf8').on('data', onData);
    });
    const ready = await Promise.race([
      listening.then(() => 'ready'),
      this.exited.then(() => 'exited'),
      deadline(STARTUP_TIMEOUT_MS).then(() => 'timeout'),
    ]);
    assert.equal(ready, 'ready',
      `server did not print "listening on ${this.url}" (${ready}, exit ${JSON.stringify(this.exit)}); ` +
      `command: ${BIN} serve ${args.join(' ')}\n--- server log ---\n${this.tail()}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves to the exit status. */
  async stop(graceMs = 5_000) {
    if (!this.child || this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const exit = await Promise.race([this.exited, deadline(graceMs).then(() => null)]);
    if (exit) return exit;
    this.child.kill('SIGKILL');
    await this.exited;
    return null;
  }
}

/** A socket.io client that records every event it receives, in order. */
class Client {
  constructor(url, opts = {}) {
    this.events = [];
    this.socket = io(url, {
      forceNew: true,
      reconnection: false,
      timeout: CONNECT_TIMEOUT_MS,
      transports: ['websocket'],
      ...opts,
    });
    this.socket.onAny((event, data) => this.events.push({ event, data, at: Date.now() }));
  }

  connected() {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve();
      const timer = setTimeout(() => reject(new Error(`no connect within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS + 1_000);
      this.socket.once('connect', () => { clearTimeout(timer); resolve(); });
      this.socket.once('connect_error', (e) => { clearTimeout(timer); reject(new Error(`connect_error: ${e.message}`)); });
    });
  }

  /** Events named `event` received after index `from` of the log. */
  received(event, from = 0) {
    return this.events.slice(from).filter((e) => e.event === event).map((e) => e.data);
  }

  mark() {
    return this.events.length;
  }

  async ack(event, payload) {
    try {
      return await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    } catch (e) {
      throw new Error(`no ack to ${event} ${JSON.stringify(payload).slice(0, 80)} within ${ACK_TIMEOUT_MS} ms (${e.message})`);
    }
  }

  close() {
    this.socket.disconnect();
  }
}

/**
 * Polls `check` until it returns a truthy value or `ms` pass; then fails
 * with `what` and the server's log tail.
 */
async function waitFor(what, ms, check) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${ms} ms waiting for ${what}\n--- server log ---\n${server.tail(15)}`);
    }
    await sleep(25);
  }
}

// ---------------------------------------------------------------- shape checks

const isObj = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const isInt = (v) => Number.isSafeInteger(v);
const RFC3339_MS_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|\+00:00)$/;

function checkTimestamps(e, what) {
  assert.ok(typeof e.timestamp === 'string' && RFC3339_MS_UTC.test(e.timestamp),
    `${what}.timestamp is not RFC 3339 UTC with milliseconds: ${JSON.stringify(e.timestamp)}`);
  assert.ok(isInt(e.timestamp_ms), `${what}.timestamp_ms is not an integer: ${e.timestamp_ms}`);
  assert.equal(Date.parse(e.timestamp), e.timestamp_ms, `${what}.timestamp and timestamp_ms disagree`);
  const skew = Math.abs(Date.now() - e.timestamp_ms);
  assert.ok(skew < 60_000, `${what}.timestamp_ms is ${skew} ms from the wall clock (must be wall-clock time)`);
}

function checkShares(obj, what, keys) {
  assert.ok(isObj(obj), `${what} is not an object: ${JSON.stringify(obj)}`);
  let sum = 0;
  for (const [k, v] of Object.entries(obj)) {
    if (keys) assert.ok(keys.includes(k), `${what} has an unknown key ${JSON.stringify(k)}`);
    assert.ok(isNum(v) && v >= 0 && v <= 1, `${what}.${k} is not a share in [0, 1]: ${v}`);
    sum += v;
  }
  return sum;
}

function checkCounts(obj, what, keys) {
  assert.ok(isObj(obj), `${what} is not an object: ${JSON.stringify(obj)}`);
  let sum = 0;
  for (const [k, v] of Object.entries(obj)) {
    assert.ok(keys.includes(k), `${what} has an unknown key ${JSON.stringify(k)}`);
    assert.ok(isInt(v) && v >= 0, `${what}.${k} is not a count: ${v}`);
    sum += v;
  }
  return sum;
}

function checkMetricsUpdate(m) {
  const what = 'metrics_update';
  assert.ok(isObj(m), `${what} is not an object`);
  assert.equal(m.schema, 1, `${what}.schema`);
  checkTimestamps(m, what);
  assert.equal(m.interval_ms, STEP_MS, `${what}.interval_ms`);
  assert.ok(isNum(m.latency) && m.latency >= 0, `${what}.latency is not a number >= 0: ${m.latency}`);
  // The original's meanings: `buffering` counts the tick's buffer events,
  // `cdn_distribution` and `content_types` count viewers; the ratio and the
  // shares have fields of their own.
  assert.ok(isInt(m.buffering) && m.buffering >= 0, `${what}.buffering is not a count of buffer events: ${m.buffering}`);
  assert.ok(isNum(m.buffering_ratio) && m.buffering_ratio >= 0 && m.buffering_ratio <= 1,
    `${what}.buffering_ratio is not a ratio: ${m.buffering_ratio}`);
  assert.ok(isInt(m.users) && m.users >= 0, `${what}.users is not a count: ${m.users}`);
  assert.ok(isNum(m.total_bandwidth_mbps) && m.total_bandwidth_mbps >= 0, `${what}.total_bandwidth_mbps: ${m.total_bandwidth_mbps}`);
  assert.ok(isInt(m.active_streams) && m.active_streams >= 0, `${what}.active_streams is not a count: ${m.active_streams}`);
  assert.equal(checkCounts(m.cdn_distribution, `${what}.cdn_distribution`, REGION_IDS), m.users, `${what}.cdn_distribution does not add up to users`);
  assert.equal(checkCounts(m.content_types, `${what}.content_types`, CONTENT_TYPES), m.users, `${what}.content_types does not add up to users`);
  const cdn = checkShares(m.cdn_shares, `${what}.cdn_shares`, REGION_IDS);
  const types = checkShares(m.content_type_shares, `${what}.content_type_shares`, CONTENT_TYPES);
  if (m.users > 0) {
    assert.ok(Math.abs(cdn - 1) < 0.01, `${what}.cdn_shares sums to ${cdn}, not 1`);
    assert.ok(Math.abs(types - 1) < 0.01, `${what}.content_type_shares sums to ${types}, not 1`);
  }
  assert.ok(Array.isArray(m.regions), `${what}.regions is not an array`);
  for (const r of m.regions) {
    assert.ok(REGION_IDS.includes(r.region), `${what}.regions[].region unknown: ${JSON.stringify(r.region)}`);
    assert.ok(isInt(r.viewers) && r.viewers >= 0, `${what}.regions[${r.region}].viewers: ${r.viewers}`);
    assert.ok(isNum(r.latency_ms) && r.latency_ms >= 0, `${what}.regions[${r.region}].latency_ms: ${r.latency_ms}`);
    assert.ok(isNum(r.buffering_ratio) && r.buffering_ratio >= 0 && r.buffering_ratio <= 1,
      `${what}.regions[${r.region}].buffering_ratio: ${r.buffering_ratio}`);
  }
  assert.ok(isObj(m.scope), `${what}.scope is not an object: ${JSON.stringify(m.scope)}`);
}

function checkContentChange(c) {
  const what = 'content_change';
  assert.ok(isObj(c), `${what} is not an object`);
  checkTimestamps(c, what);
  assert.match(c.content_id, /^(vod|aod|live)-\d{6}$/, `${what}.content_id`);
  assert.ok(typeof c.title === 'string' && c.title.length > 0, `${what}.title: ${JSON.stringify(c.title)}`);
  assert.ok(CONTENT_TYPES.includes(c.content_type), `${what}.content_type: ${JSON.stringify(c.content_type)}`);
  assert.ok(typeof c.genre === 'string' && c.genre.length > 0, `${what}.genre: ${JSON.stringify(c.genre)}`);
  assert.ok(c.from === null || STATUSES.includes(c.from), `${what}.from: ${JSON.stringify(c.from)}`);
  assert.ok(STATUSES.includes(c.to), `${what}.to: ${JSON.stringify(c.to)}`);
  assert.ok(STATUSES.includes(c.status), `${what}.status: ${JSON.stringify(c.status)}`);
}

function checkRange(r, what) {
  assert.ok(Array.isArray(r) && r.length === 2 && isNum(r[0]) && isNum(r[1]) && r[0] <= r[1],
    `${what} is not [low, high]: ${JSON.stringify(r)}`);
}

function checkAnomalyAlert(a) {
  const what = `anomaly_alert(${a?.kind})`;
  assert.ok(isObj(a), 'anomaly_alert is not an object');
  assert.ok(['anomaly', 'alert', 'prediction'].includes(a.kind), `anomaly_alert.kind: ${JSON.stringify(a.kind)}`);
  checkTimestamps(a, what);
  assert.ok(typeof a.metric === 'string' && a.metric.length > 0, `${what}.metric: ${JSON.stringify(a.metric)}`);
  assert.ok(isNum(a.value), `${what}.value is not a number: ${a.value}`);
  if (a.expected_range !== null) checkRange(a.expected_range, `${what}.expected_range`);
  assert.ok('expected_range' in a, `${what}.expected_range is missing (must be [low, high] or null)`);
  assert.ok(isNum(a.score), `${what}.score is not a number: ${a.score}`);
  assert.ok(['info', 'warning', 'critical'].includes(a.severity), `${what}.severity: ${JSON.stringify(a.severity)}`);
  assert.ok(isObj(a.scope), `${what}.scope is not an object`);
  for (const k of Object.keys(a.scope)) {
    assert.ok(['content_id', 'region'].includes(k), `${what}.scope has an unknown key ${k}`);
  }
  assert.ok(typeof a.reason === 'string' && a.reason.length > 0, `${what}.reason: ${JSON.stringify(a.reason)}`);
  if (a.kind === 'prediction') {
    assert.ok(isNum(a.predicted_value), `${what}.predicted_value: ${a.predicted_value}`);
    checkRange(a.confidence_interval, `${what}.confidence_interval`);
  }
}

/** The live sample of docs/SCHEMA.md, stamped now. */
function sample(overrides = {}) {
  return {
    schema: 1, timestamp_ms: Date.now(), interval_ms: 1000, content_id: 'live-000001', content_type: 'live',
    region: 'us-east', viewers: 28, joins: 28, exits: 0, avg_watch_time_s: 2741.0, latency_ms: 21.7,
    e2e_latency_ms: 20577.2, startup_time_ms: 1109.4, buffering_ratio: 0.003534, rebuffer_events: 1,
    bitrate_kbps: 11242.857, rendition: '1080p',
    renditions: { '480p': 1, '720p': 2, '1080p': 15, '1440p': 2, '2160p': 8 },
    segment_duration_s: 6.0, segment_size_kb: 8432.14, bandwidth_mbps: 314.8, error_rate: 0.001024,
    ...overrides,
  };
}

function assertErrorAck(ack, field, what, status = 400) {
  assert.ok(isObj(ack) && isObj(ack.error), `${what}: expected an error ack, got ${JSON.stringify(ack)}`);
  assert.equal(ack.error.status, status, `${what}: error.status in ${JSON.stringify(ack)}`);
  assert.ok(typeof ack.error.message === 'string' && ack.error.message.length > 0, `${what}: error.message in ${JSON.stringify(ack)}`);
  assert.ok(typeof ack.error.field === 'string' && ack.error.field.includes(field),
    `${what}: error.field should name ${field}: ${JSON.stringify(ack)}`);
  assert.ok(!('accepted' in ack) || ack.accepted === 0, `${what}: an error ack must not accept samples: ${JSON.stringify(ack)}`);
}

// ---------------------------------------------------------------- the test

const server = new Server();
const clients = [];
let tmp;

function client(opts) {
  const c = new Client(server.url, opts);
  clients.push(c);
  return c;
}

describe('streammon serve: Socket.IO protocol', () => {
  let global; // connected at start on the default path, never subscribes

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'streammon-protocol-'));
    const config = path.join(tmp, 'sim.toml');
    writeFileSync(config, SIM_TOML);
    await server.start([
      '--seed', '7', '--titles', '48', '--step', `${STEP_MS}ms`, '--backfill', BACKFILL,
      '--config', config, '--incidents', INCIDENT,
    ]);
    global = client();
    await global.connected();
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('HTTP: health, tick history and Prometheus text', async () => {
    const health = await (await fetch(`${server.url}/`)).json();
    for (const k of ['status', 'version', 'uptime_s', 'storage', 'pipeline']) {
      assert.ok(k in health, `GET / lacks ${k}: ${JSON.stringify(health)}`);
    }
    const res = await fetch(`${server.url}/metrics?limit=5`);
    assert.equal(res.status, 200, 'GET /metrics?limit=5');
    const body = await res.json();
    const list = Array.isArray(body) ? body : Object.values(body).find(Array.isArray);
    assert.ok(Array.isArray(list), `GET /metrics holds no array: ${JSON.stringify(body).slice(0, 200)}`);
    assert.ok(list.length > 0 && list.length <= 5, `GET /metrics?limit=5 returned ${list.length} ticks (after a ${BACKFILL} backfill)`);
    const prom = await fetch(`${server.url}/metrics/prometheus`);
    assert.equal(prom.status, 200, 'GET /metrics/prometheus');
    assert.match(prom.headers.get('content-type') ?? '', /^text\/plain/, 'Prometheus content type');
    assert.match(await prom.text(), /^# (HELP|TYPE) /m, 'Prometheus text has no HELP/TYPE lines');
  });

  test('a client is greeted with the latest metrics_update at once, then gets every tick once, in order', async () => {
    await waitFor('a first live tick', TICK_WAIT_MS, () => global.received('metrics_update').length > 0);
    for (const opts of [{}, { query: { detail: 'full' } }, { transports: ['polling'] }]) {
      const c = client(opts);
      await c.connected();
      const connectedAt = Date.now();
      const [first] = await waitFor('the greeting', TICK_WAIT_MS, () => { const u = c.received('metrics_update'); return u.length > 0 && u; });
      const took = c.events.find((e) => e.event === 'metrics_update').at - connectedAt;
      checkMetricsUpdate(first);
      // The greeting is the latest tick, sent at once, not the next tick
      // (which would come 0 to 200 ms later: three clients all under 80 ms
      // by chance is a 6 % event).
      assert.ok(took < 80, `the first metrics_update came ${took} ms after connect (${JSON.stringify(opts)})`);
      assert.ok(Date.now() - first.timestamp_ms < 2 * STEP_MS + 1_000, `the greeting is tick ${first.seq}, ${Date.now() - first.timestamp_ms} ms old`);
      assert.equal(Array.isArray(first.regions) && first.regions.some((r) => r.bands), Boolean(opts.query), `detail in the greeting (${JSON.stringify(opts)})`);
      const updates = await waitFor('3 more updates', 4 * STEP_MS + TICK_WAIT_MS, () => { const u = c.received('metrics_update'); return u.length >= 4 && u; });
      for (let i = 1; i < updates.length; i++) {
        assert.equal(updates[i].seq, updates[i - 1].seq + 1, `seq ${updates[i - 1].seq} then ${updates[i].seq} (${JSON.stringify(opts)})`);
      }
    }
  });

  test('connects on /socket.io/ and on /ws/socket.io/, and both get metrics_update', async () => {
    const legacy = client({ path: '/ws/socket.io' });
    await legacy.connected();
    const polling = client({ path: '/ws/socket.io', transports: ['polling', 'websocket'] });
    await polling.connected();
    for (const [name, c] of [['default path', global], ['/ws/socket.io', legacy], ['/ws/socket.io (polling first)', polling]]) {
      await waitFor(`a metrics_update on the ${name}`, TICK_WAIT_MS, () => c.received('metrics_update').length > 0);
    }
  });

  test('metrics_update: every original field, of the right type, once per tick', async () => {
    const updates = await waitFor('5 global metrics_update', 5 * STEP_MS + TICK_WAIT_MS,
      () => { const u = global.received('metrics_update'); return u.length >= 5 && u; });
    for (const m of updates) {
      checkMetricsUpdate(m);
      assert.deepEqual(Object.keys(m.scope), [], `an unsubscribed client got a scoped metrics_update: ${JSON.stringify(m.scope)}`);
    }
    const ts = updates.map((m) => m.timestamp_ms);
    for (let i = 1; i < ts.length; i++) {
      assert.ok(ts[i] > ts[i - 1], `metrics_update timestamps not increasing: ${ts[i - 1]} then ${ts[i]}`);
    }
    const lag = updates.map((m, i) => global.events.find((e) => e.data === m).at - m.timestamp_ms);
    assert.ok(Math.max(...lag) < 2_000, `metrics_update arrived up to ${Math.max(...lag)} ms after its tick closed`);
    const last = updates.at(-1);
    assert.ok(last.users > 0 && last.active_streams > 0, `no viewers or streams: ${JSON.stringify(last).slice(0, 300)}`);
  });

  test('metrics_update: bands and the rendition mix; per region only with detail=full', async () => {
    const full = client({ query: { detail: 'full' } });
    await full.connected();
    const mark = global.mark();
    const [lean, rich] = await waitFor('a metrics_update on both clients after 30 ticks of warm-up', 40 * STEP_MS + TICK_WAIT_MS, () => {
      const l = global.received('metrics_update', mark).find((m) => m.bands?.buffering_ratio);
      const r = full.received('metrics_update').find((m) => m.bands?.buffering_ratio);
      return l && r && [l, r];
    });
    for (const m of [lean, rich]) {
      const b = m.bands.buffering_ratio;
      assert.ok(b.low <= b.high && b.score >= 0 && b.score <= 1, `a band: ${JSON.stringify(b)}`);
      const mix = Object.values(m.renditions).reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(mix - 1) < 0.01, `the rendition mix sums to ${mix}: ${JSON.stringify(m.renditions)}`);
    }
    assert.ok(lean.regions.length > 0 && lean.regions.every((r) => r.bands === undefined && r.renditions === undefined),
      `a default client got per-region bands: ${JSON.stringify(lean.regions[0])}`);
    assert.ok(rich.regions.every((r) => r.bands?.latency_ms && Object.keys(r.renditions ?? {}).length > 0),
      `a detail=full client lacks per-region bands: ${JSON.stringify(rich.regions[0])}`);
    full.close();
  });

  test('content_change: catalogue changes arrive with the documented fields', async () => {
    const changes = await waitFor(`a content_change (the server runs with: ${SIM_TOML.trim().replace('\n', ', ')})`,
      CHANGE_WAIT_MS, () => { const c = global.received('content_change'); return c.length > 0 && c; });
    for (const c of changes) checkContentChange(c);
  });

  test('anomaly_alert: the scripted incident raises alerts with the documented fields', async () => {
    const alerts = await waitFor(`an anomaly_alert scoped to ${INCIDENT_REGION} (incident ${INCIDENT})`, ALERT_WAIT_MS,
      () => { const a = global.received('anomaly_alert'); return a.some((x) => x.scope?.region === INCIDENT_REGION) && a; });
    for (const a of alerts) checkAnomalyAlert(a);
  });

  test('subscribe {region}: only that region\'s metrics_update and anomaly_alert', async () => {
    const c = client();
    await c.connected();
    const ack = await c.ack('subscribe', { region: INCIDENT_REGION });
    assert.ok(isObj(ack) && ack.ok === true && Array.isArray(ack.rooms) && ack.rooms.length > 0,
      `subscribe ack: ${JSON.stringify(ack)}`);
    const from = c.mark();
    // Long enough for several ticks and for alerts of the ongoing incident.
    await waitFor(`10 metrics_update and an anomaly_alert after subscribing to ${INCIDENT_REGION}`, ALERT_WAIT_MS,
      () => c.received('metrics_update', from).length >= 10 && c.received('anomaly_alert', from).length > 0);
    const updates = c.received('metrics_update', from);
    // The first tick after the ack may still have been emitted globally.
    for (const m of updates.slice(1)) {
      assert.equal(m.scope?.region, INCIDENT_REGION, `a region subscriber got metrics_update scoped ${JSON.stringify(m.scope)}`);
      checkMetricsUpdate(m);
    }
    for (const a of c.received('anomaly_alert', from)) {
      assert.equal(a.scope?.region, INCIDENT_REGION, `a region subscriber got anomaly_alert scoped ${JSON.stringify(a.scope)}`);
      checkAnomalyAlert(a);
    }
    const globalAlerts = global.received('anomaly_alert');
    assert.ok(globalAlerts.length > 0, 'the global client got no anomaly_alert to compare against');

    // unsubscribe: back to the global stream.
    const un = await c.ack('unsubscribe', { region: INCIDENT_REGION });
    assert.ok(isObj(un) && !('error' in un), `unsubscribe ack: ${JSON.stringify(un)}`);
    const back = c.mark();
    await waitFor('3 metrics_update after unsubscribing', TICK_WAIT_MS, () => c.received('metrics_update', back).length >= 3);
    const unscoped = c.received('metrics_update', back).slice(1);
    for (const m of unscoped) {
      assert.deepEqual(m.scope, {}, `after unsubscribing, metrics_update is still scoped ${JSON.stringify(m.scope)}`);
    }
  });

  test('subscribe {content_id}: metrics_update scoped to that title', async () => {
    // The most watched title streaming now: one that appeared moments ago
    // (a content_change to `available`) starts from zero viewers and has no
    // metrics_update until its audience arrives.
    const top = await (await fetch(`${server.url}/content?status=streaming&sort=viewers&order=desc&limit=1`)).json();
    const id = top.contents?.[0]?.content_id;
    assert.ok(id, `no streaming title in GET /content: ${JSON.stringify(top)}`);
    const c = client();
    await c.connected();
    const ack = await c.ack('subscribe', { content_id: id });
    assert.ok(isObj(ack) && ack.ok === true, `subscribe {content_id: ${id}} ack: ${JSON.stringify(ack)}`);
    const from = c.mark();
    await waitFor(`3 metrics_update for ${id}`, TICK_WAIT_MS, () => c.received('metrics_update', from).length >= 3);
    for (const m of c.received('metrics_update', from).slice(1)) {
      assert.equal(m.scope?.content_id, id, `a content subscriber got metrics_update scoped ${JSON.stringify(m.scope)}`);
    }
    for (const x of c.received('content_change', from)) {
      assert.equal(x.content_id, id, `a subscriber to ${id} got content_change for ${x.content_id}`);
    }
    for (const a of c.received('anomaly_alert', from)) {
      assert.equal(a.scope?.content_id, id, `a subscriber to ${id} got anomaly_alert scoped ${JSON.stringify(a.scope)}`);
    }
  });

  test('subscribe: bad payloads get a 400 ack naming the field', async () => {
    const c = client();
    await c.connected();
    assertErrorAck(await c.ack('subscribe', { region: 'mars-north' }), 'region', 'subscribe to an unknown region', 404);
    assertErrorAck(await c.ack('subscribe', { content_id: 'vod-999999' }), 'content_id', 'subscribe to an unknown title', 404);
    assertErrorAck(await c.ack('subscribe', { region: 42 }), 'region', 'subscribe with a numeric region');
    assertErrorAck(await c.ack('subscribe', { content_id: ['vod-000001'] }), 'content_id', 'subscribe with an array content_id');
    const from = c.mark();
    await waitFor('a metrics_update after failed subscribes', TICK_WAIT_MS, () => c.received('metrics_update', from).length >= 2);
    for (const m of c.received('metrics_update', from)) {
      assert.deepEqual(m.scope, {}, `a failed subscribe changed the scope to ${JSON.stringify(m.scope)}`);
    }
  });

  test('metric_update: valid samples are accepted, invalid ones refused naming the field', async () => {
    const c = client();
    await c.connected();
    assert.deepEqual(await c.ack('metric_update', sample()), { accepted: 1 }, 'one valid sample');
    assert.deepEqual(await c.ack('metric_update', [sample(), sample({ region: 'eu-west' })]), { accepted: 2 }, 'an array of two');

    assertErrorAck(await c.ack('metric_update', sample({ buffering_ratio: 1.5 })), 'buffering_ratio', 'buffering_ratio 1.5');
    assertErrorAck(await c.ack('metric_update', sample({ latency_ms: 'fast' })), 'latency_ms', 'latency_ms as a string');
    const missing = sample();
    delete missing.viewers;
    assertErrorAck(await c.ack('metric_update', missing), 'viewers', 'a sample without viewers');
    assertErrorAck(await c.ack('metric_update', sample({ content_type: 'hologram' })), 'content_type', 'an unknown content_type');
    assertErrorAck(await c.ack('metric_update', [sample(), sample({ error_rate: -1 })]), 'error_rate', 'an array with one bad sample');
  });

  test('SIGTERM: the server shuts down gracefully', async () => {
    for (const c of clients) c.close();
    const t0 = Date.now();
    const exit = await server.stop(10_000);
    assert.ok(exit, `server still running ${Date.now() - t0} ms after SIGTERM (killed)\n${server.tail(10)}`);
    assert.equal(exit.code, 0, `server exit after SIGTERM: ${JSON.stringify(exit)}\n${server.tail(10)}`);
  });
});
