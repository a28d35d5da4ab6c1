// Issue 17: acknowledgements and silences reach every Socket.IO client, and
// a dead alert receiver slows nothing, with the official client.
//
//   cargo build -p streammon-cli && node --test scripts/node/alerts.test.mjs
//
// STREAMMON_BIN as in protocol.test.mjs. One server: 1-second ticks, ten
// minutes of backfill, a CDN degradation in eu-west 10 s into live data,
// and a webhook pointing at a receiver that takes the connection and never
// answers (with a short timeout and two attempts, from a [notify] table).
// Every wait is bounded.

import { after, before, test } from 'node:test';
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
const STARTUP_MS = 90_000;
const ALERT_WAIT_MS = 120_000;

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

let child;
let url;
let tmp;
let dead;
const log = [];
const clients = [];
const tail = () => log.join('').split('\n').slice(-15).join('\n');

async function waitFor(what, ms, check) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) assert.fail(`timed out after ${ms} ms waiting for ${what}\n--- server log ---\n${tail()}`);
    await sleep(50);
  }
}

function client() {
  const events = [];
  const socket = io(url, { forceNew: true, reconnection: false, transports: ['websocket'] });
  socket.onAny((event, data) => events.push({ event, data, at: Date.now() }));
  const c = {
    socket,
    events,
    mark: () => events.length,
    received: (event, from = 0) => events.slice(from).filter((e) => e.event === event).map((e) => e.data),
    connected: () => new Promise((resolve, reject) => {
      if (socket.connected) return resolve();
      socket.once('connect', resolve);
      socket.once('connect_error', (e) => reject(new Error(`connect_error: ${e.message}`)));
    }),
  };
  clients.push(c);
  return c;
}

const post = (p, body) => fetch(`${url}${p}`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

before(async () => {
  assert.ok(existsSync(BIN), `server binary not found at ${BIN}: build it (cargo build -p streammon-cli) or set STREAMMON_BIN`);
  // The dead receiver: takes connections, reads, never answers.
  dead = net.createServer((socket) => socket.on('data', () => {}));
  await new Promise((r) => dead.listen(0, '127.0.0.1', r));
  tmp = mkdtempSync(path.join(os.tmpdir(), 'streammon-alerts-'));
  const config = path.join(tmp, 'notify.toml');
  writeFileSync(config, '[notify]\nqueue = 2\nmax_attempts = 2\ntimeout = "1s"\nbackoff_initial = "100ms"\n');
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(port), '--store', 'memory',
    '--step', '1s', '--backfill', '10m', '--incidents', 'none', '--incidents', 'cdn_degradation:eu-west@610s+10m*1',
    '--webhook-url', `http://127.0.0.1:${dead.address().port}/hook`, '--webhook-secret', 'node-webhook-secret-0123',
    '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'info' } });
  child.stderr.setEncoding('utf8').on('data', (chunk) => log.push(chunk));
  await waitFor('the server to go live', STARTUP_MS, () => log.join('').includes('live: ticks paced'));
});

after(async () => {
  for (const c of clients) c.socket.disconnect();
  child?.kill('SIGTERM');
  dead?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('acknowledgements and silences reach every client within 2 s, and a client connecting later is told', async () => {
  const a = client();
  await a.connected();
  await waitFor('alert_acks and silences on connect', 5_000,
    () => a.received('alert_acks').length === 1 && a.received('silences').length === 1);
  assert.ok(Array.isArray(a.received('alert_acks')[0].acks));
  const alertId = await waitFor('an alert of the incident', ALERT_WAIT_MS, async () => {
    const list = await (await fetch(`${url}/alerts?limit=100`)).json();
    return list.alerts.find((x) => x.state !== 'resolved')?.id;
  });
  const b = client();
  await b.connected();
  const [fromA, fromB] = [a.mark(), b.mark()];
  const t0 = Date.now();
  const res = await post(`/alerts/${alertId}/ack`, { by: 'alice', comment: 'on it' });
  assert.equal(res.status, 200, await res.text());
  for (const [name, c, from] of [['a', a, fromA], ['b', b, fromB]]) {
    const ack = await waitFor(`alert_ack at client ${name}`, 2_000, () => c.received('alert_ack', from)[0]);
    assert.deepEqual([ack.alert_id, ack.ack.by, ack.ack.comment], [alertId, 'alice', 'on it'], JSON.stringify(ack));
  }
  assert.ok(Date.now() - t0 <= 2_000, `took ${Date.now() - t0} ms`);

  const made = await post('/silences', { matchers: { region: 'eu-west' }, duration_ms: 60_000, author: 'bob' });
  const madeText = await made.text();
  assert.equal(made.status, 201, madeText);
  const silence = JSON.parse(madeText);
  const listed = await waitFor('silences after a POST', 2_000,
    () => b.received('silences', fromB).find((e) => e.silences.some((s) => s.id === silence.id)));
  assert.equal(listed.silences.find((s) => s.id === silence.id).state, 'active');

  const late = client();
  await late.connected();
  await waitFor('the late client\'s greeting', 5_000, () => late.received('alert_acks').length && late.received('silences').length);
  assert.ok(late.received('alert_acks')[0].acks.some((k) => k.alert_id === alertId && k.by === 'alice'));
  assert.ok(late.received('silences')[0].silences.some((s) => s.id === silence.id));

  const from = b.mark();
  assert.equal((await post(`/alerts/${alertId}/unack`, { by: 'alice' })).status, 200);
  const unack = await waitFor('alert_ack with ack null', 2_000, () => b.received('alert_ack', from)[0]);
  assert.deepEqual([unack.alert_id, unack.ack, unack.by], [alertId, null, 'alice']);
  const gone = await fetch(`${url}/silences/${silence.id}`, { method: 'DELETE' });
  assert.equal(gone.status, 200, await gone.text());
  await waitFor('silences with it expired', 2_000, () => b.received('silences', from)
    .some((e) => e.silences.some((s) => s.id === silence.id && s.state === 'expired')));
});

test('a receiver that never answers slows neither the ticks nor Socket.IO, and its drops are counted', async () => {
  // Alerts are firing (the first test waited for one) and each of them
  // waits on the dead receiver: 1 s per attempt, two attempts.
  const c = client();
  await c.connected();
  const from = c.mark();
  await sleep(15_000);
  const updates = c.events.slice(from).filter((e) => e.event === 'metrics_update');
  assert.ok(updates.length >= 13, `${updates.length} metrics_update in 15 s at one tick a second`);
  const gaps = updates.slice(1).map((u, i) => u.at - updates[i].at);
  assert.ok(Math.max(...gaps) < 2_500, `a gap of ${Math.max(...gaps)} ms between ticks`);
  const health = await waitFor('a drop counted in /health', 30_000, async () => {
    const h = await (await fetch(`${url}/health`)).json();
    const d = h.delivery?.[0];
    return d && d.dropped_exhausted + d.dropped_queue_full > 0 && h;
  });
  const d = health.delivery[0];
  assert.equal(d.up, false, JSON.stringify(d));
  assert.equal(d.delivered, 0, JSON.stringify(d));
  assert.ok(health.warnings.some((w) => w.includes('dropped')), JSON.stringify(health.warnings));
  assert.equal(health.status, 'ok', 'a dead receiver does not make the server unhealthy');
  const prom = await (await fetch(`${url}/metrics/prometheus`)).text();
  assert.match(prom, /streammon_notifications_total\{[^}]*outcome="dropped_(exhausted|queue_full)"[^}]*\} [1-9]/);
});
