// Issue 18, cluster mode (docs/SCALING.md), with the official client: its
// own Redis, three `streammon serve --cluster` nodes and Debian's nginx in
// front of them (the ```nginx block of docs/SCALING.md), all on loopback.
//
//   cargo build -p streammon-cli && node --test scripts/node/cluster.test.mjs
//
// STREAMMON_BIN as in protocol.test.mjs. Node C starts first and takes the
// lead lease; A and B follow. Samples posted to B reach C through the
// partition streams; C's alert about them reaches a client on A and one
// behind nginx, and an acknowledgement and a silence made on one node
// reach the others. Then C is killed with SIGKILL while samples keep
// coming to A and B: a survivor leads within 10 s, every sample answered
// 202 is stored exactly once, and the clients keep their updates. Last,
// the new lead is stopped with SIGTERM and the last node leads at once.
// Every wait is bounded.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.STREAMMON_BIN
  ? path.resolve(process.env.STREAMMON_BIN)
  : path.resolve(REPO, process.env.CARGO_TARGET_DIR ?? 'target', 'debug/streammon');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync);
const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(existsSync);
const PREFIX = 'streammon:';

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

let dir;
let redisPort;
let redis;
let nginx;
let lbPort;
const nodes = {}; // id -> { child, port, log }
const clients = [];

const tail = (id) => (nodes[id]?.log ?? []).join('').split('\n').slice(-20).join('\n');
const logs = () => Object.keys(nodes).map((id) => `--- ${id} ---\n${tail(id)}`).join('\n');

async function waitFor(what, ms, check) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) assert.fail(`timed out after ${ms} ms waiting for ${what}\n${logs()}`);
    await sleep(50);
  }
}

function rcli(...args) {
  return execFileSync('redis-cli', ['-p', String(redisPort), '--raw', ...args], { encoding: 'utf8' }).trim();
}

async function startNode(id, config) {
  const port = await freePort();
  const log = [];
  const child = spawn(BIN, ['serve', '--cluster', '--node-id', id, '--host', '127.0.0.1', '--port', String(port),
    '--step', '1s', '--backfill', '1m', '--resume-window', '2m', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: 'info', REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_HOST: '' },
  });
  child.stderr.setEncoding('utf8').on('data', (c) => log.push(c));
  nodes[id] = { child, port, log };
  await waitFor(`node ${id} to start`, 60_000, () => log.join('').includes('cluster mode: following'));
  return nodes[id];
}

async function health(id) {
  try {
    const r = await fetch(`http://127.0.0.1:${nodes[id].port}/health`);
    return await r.json();
  } catch {
    return null;
  }
}

function sample(content, region, ts, overrides = {}) {
  return {
    schema: 1, timestamp_ms: ts, interval_ms: 1000, content_id: content, content_type: 'live',
    region, viewers: 200, joins: 4, exits: 2, avg_watch_time_s: 600.0, latency_ms: 30.0,
    e2e_latency_ms: 8000.0, startup_time_ms: 900.0, buffering_ratio: 0.004, rebuffer_events: 1,
    bitrate_kbps: 4500.0, rendition: '1080p', renditions: { '720p': 50, '1080p': 150 },
    segment_duration_s: 6.0, segment_size_kb: 3300.0, bandwidth_mbps: 900.0, error_rate: 0.001,
    ...overrides,
  };
}

async function post(id, samples) {
  const r = await fetch(`http://127.0.0.1:${nodes[id].port}/metrics`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(samples),
  });
  await r.arrayBuffer();
  return r.status;
}

function connect(url, name) {
  const socket = io(url, { transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 500 });
  const seen = { name, updates: [], alerts: [], socket };
  socket.on('metrics_update', (u) => seen.updates.push({ at: Date.now(), seq: u.seq, ts: Date.parse(u.timestamp) }));
  socket.on('anomaly_alert', (a) => { if (a.kind === 'alert') seen.alerts.push(a); });
  seen.acks = [];
  seen.silences = [];
  socket.on('alert_ack', (a) => seen.acks.push(a));
  socket.on('silences', (s) => seen.silences.push(s));
  clients.push(socket);
  return seen;
}

/** The ```nginx block of docs/SCALING.md. */
function documentedBlock() {
  const doc = readFileSync(path.join(REPO, 'docs/SCALING.md'), 'utf8');
  const m = doc.match(/```nginx\n([\s\S]*?)```/);
  assert.ok(m, 'docs/SCALING.md has no ```nginx block');
  return m[1];
}

before(async () => {
  assert.ok(existsSync(BIN), `server binary not found at ${BIN}: build it (cargo build -p streammon-cli) or set STREAMMON_BIN`);
  assert.ok(NGINX, 'nginx is not installed (test.sh installs it: apt-get install nginx)');
  assert.ok(REDIS_SERVER, 'redis-server is not installed (test.sh installs it)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'streammon-cluster-'));
  redisPort = await freePort();
  redis = spawn(REDIS_SERVER, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const rlog = [];
  redis.stdout.setEncoding('utf8').on('data', (c) => rlog.push(c));
  await waitFor('redis-server', 10_000, () => rlog.join('').includes('Ready to accept connections'));

  // The operator's rule for this test's titles: a region's error rate
  // above 20 % for 2 s. The recommended rules stay.
  const config = path.join(dir, 'streammon.toml');
  writeFileSync(config, `[[pipeline.alerts.rules]]
name = "viewers_hurt"
kind = "impact"
metrics = ["buffering_ratio", "error_rate", "latency_ms", "startup_time_ms", "bitrate_kbps"]
for_duration = "20s"

[[pipeline.alerts.rules]]
name = "lab_errors"
kind = "threshold"
metric = "error_rate"
above = 0.2
for_duration = "2s"
group_by = ["region"]
severity = "critical"
`);
  await startNode('C', config);
  await waitFor('C to take the lead', 30_000, () => rcli('GET', `${PREFIX}lead`) === 'C');
  await waitFor('C to go live', 90_000, async () => (await health('C'))?.cluster?.role === 'lead'
    && nodes.C.log.join('').includes('live: ticks paced'));
  await startNode('A', config);
  await startNode('B', config);

  // nginx in front of the three, as docs/SCALING.md has it.
  lbPort = await freePort();
  const block = documentedBlock()
    .replace(/listen\s+80;/, `listen 127.0.0.1:${lbPort};`)
    .replace(/server 10\.0\.0\.1:8000;/, `server 127.0.0.1:${nodes.A.port};`)
    .replace(/server 10\.0\.0\.2:8000;/, `server 127.0.0.1:${nodes.B.port};`)
    .replace(/server 10\.0\.0\.3:8000;/, `server 127.0.0.1:${nodes.C.port};`);
  for (const p of [lbPort, nodes.A.port, nodes.B.port, nodes.C.port]) assert.ok(block.includes(`127.0.0.1:${p}`), block);
  writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${block}
}
`);
  execFileSync(NGINX, ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'pipe' });
  nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor('nginx', 10_000, () => new Promise((resolve) => {
    const s = net.connect(lbPort, '127.0.0.1', () => { s.end(); resolve(true); });
    s.on('error', () => resolve(false));
  }));
});

after(async () => {
  for (const s of clients) s.close();
  for (const child of [nginx, ...Object.values(nodes).map((n) => n.child), redis]) {
    if (!child || child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.on('exit', r)), sleep(15_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an alert on samples posted to B, run by C, reaches clients on A and behind the balancer; a killed lead is replaced within 10 s and loses nothing', { timeout: 300_000 }, async () => {
  const onA = connect(`http://127.0.0.1:${nodes.A.port}`, 'A');
  const behind = connect(`http://127.0.0.1:${lbPort}`, 'nginx');
  await waitFor('updates on A and behind nginx', 20_000, () => onA.updates.length > 0 && behind.updates.length > 0);
  // A region room on a follower: the lead relays the samples its updates
  // need (only those a room somewhere asks for).
  const inRegion = connect(`http://127.0.0.1:${nodes.B.port}`, 'B, eu-west');
  const scoped = [];
  inRegion.socket.on('metrics_update', (m) => { if (m.scope?.region) scoped.push(m); });
  const ack = await inRegion.socket.timeout(5_000).emitWithAck('subscribe', { region: 'eu-west' });
  assert.ok(ack && !ack.error, `subscribe ack: ${JSON.stringify(ack)}`);
  const update = await waitFor('a scoped update on B', 10_000, () => scoped.find((m) => (m.contents ?? []).length > 0));
  assert.equal(update.scope.region, 'eu-west');
  assert.ok(update.contents.length > 1, `the region's titles: ${JSON.stringify(update.contents).slice(0, 200)}`);
  // One simulator: only C leads, and the followers show its ticks.
  assert.equal((await health('A')).cluster.role, 'follower');
  assert.equal((await health('B')).cluster.role, 'follower');
  assert.equal((await health('C')).cluster.role, 'lead');

  // Quiet, then failing, telemetry of three titles in region lab-1, all
  // posted to B.
  const titles = ['lab-000001', 'lab-000002', 'lab-000003'];
  for (let i = 0; i < 8; i++) {
    assert.equal(await post('B', titles.map((t) => sample(t, 'lab-1', Date.now()))), 202);
    await sleep(1_000);
  }
  const failing = setInterval(() => {
    post('B', titles.map((t) => sample(t, 'lab-1', Date.now(), { error_rate: 0.4 }))).catch(() => {});
  }, 1_000);
  try {
    const isLab = (a) => a.alert?.rule === 'lab_errors' && a.state === 'firing';
    const alert = await waitFor('the lab_errors alert on A', 40_000, () => onA.alerts.find(isLab));
    assert.match(JSON.stringify(alert.alert.group), /lab-1/);
    await waitFor('the same alert behind nginx', 5_000, () => behind.alerts.find((a) => isLab(a) && a.alert_id === alert.alert_id));
    const stored = JSON.parse(await waitFor('the alert in storage', 5_000, () => rcli('HGET', `${PREFIX}alerts`, alert.alert_id)));
    assert.equal(stored.rule, 'lab_errors', 'C stored the alert it fired');

    // An acknowledgement made on B and a silence made on A reach every
    // node: their clients, and what their REST API says.
    const ackAt = Date.now();
    const ack = await fetch(`http://127.0.0.1:${nodes.B.port}/alerts/${alert.alert_id}/ack`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'oncall', comment: 'on it' }),
    });
    assert.equal(ack.status, 200, await ack.text());
    await waitFor('the acknowledgement on A', 2_000, () => onA.acks.find((a) => a.alert_id === alert.alert_id && a.ack?.by === 'oncall'));
    assert.ok(Date.now() - ackAt < 2_000);
    const silence = await fetch(`http://127.0.0.1:${nodes.A.port}/silences`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: { region: 'lab-9' }, duration_ms: 600_000, author: 'oncall', comment: 'maintenance' }),
    });
    const made = await silence.text();
    assert.equal(silence.status, 201, made);
    const { id } = JSON.parse(made);
    await waitFor('the silence on B', 2_000, async () => {
      const list = await (await fetch(`http://127.0.0.1:${nodes.B.port}/silences`)).json();
      return list.silences.some((s) => s.id === id);
    });
    await waitFor('the silence pushed behind nginx', 2_000, () => behind.silences.some((m) => m.silences.some((s) => s.id === id)));
  } finally {
    clearInterval(failing);
  }

  // Failover: samples keep coming to A and B, one series each post; C dies.
  const accepted = new Map(); // series -> Set of timestamps answered 202
  let posting = true;
  let n = 0;
  const poster = (async () => {
    while (posting) {
      const id = n % 2 === 0 ? 'A' : 'B';
      const series = `count-00000${(n % 5) + 1}`;
      const ts = Date.now();
      n += 1;
      try {
        if (await post(id, [sample(series, 'lab-2', ts, { viewers: n })]) === 202) {
          if (!accepted.has(series)) accepted.set(series, new Set());
          accepted.get(series).add(ts);
        }
      } catch { /* a refused connection is not an acceptance */ }
      await sleep(50);
    }
  })();
  await sleep(2_000);
  const seqBefore = onA.updates.at(-1).seq;
  const killedAt = Date.now();
  nodes.C.child.kill('SIGKILL');
  const lead = await waitFor('a survivor to lead', 15_000, async () => {
    const holder = rcli('GET', `${PREFIX}lead`);
    if (holder !== 'A' && holder !== 'B') return null;
    return (await health(holder))?.cluster?.role === 'lead' ? holder : null;
  });
  const tookOver = Date.now() - killedAt;
  assert.ok(tookOver <= 10_000, `the partitions were owned again ${tookOver} ms after the kill`);
  // Clients on the survivors (and behind nginx, reconnected if it was on
  // C) get the new lead's ticks.
  const ledAt = Date.now();
  await waitFor('an update on A from the new lead', 10_000, () => onA.updates.some((u) => u.at > ledAt && u.seq > seqBefore));
  await waitFor('an update behind nginx from the new lead', 15_000, () => behind.updates.some((u) => u.at > ledAt));
  await sleep(3_000);
  posting = false;
  await poster;
  assert.ok(n > 50, `only ${n} posts`);

  // Every sample answered 202 is stored, once.
  const total = [...accepted.values()].reduce((s, set) => s + set.size, 0);
  await waitFor('every accepted sample in storage', 20_000, () => [...accepted].every(([series, want]) => {
    const members = rcli('ZRANGE', `${PREFIX}s:${series}:lab-2`, '0', '-1').split('\n').filter(Boolean);
    return members.length >= want.size;
  }));
  for (const [series, want] of accepted) {
    const members = rcli('ZRANGE', `${PREFIX}s:${series}:lab-2`, '0', '-1').split('\n').filter(Boolean);
    const stamps = members.map((m) => JSON.parse(m).timestamp_ms).sort();
    assert.equal(new Set(stamps).size, stamps.length, `${series}: a sample stored twice`);
    assert.deepEqual(stamps, [...want].sort(), `${series}: stored samples differ from those answered 202`);
  }
  assert.ok(total > 50, `only ${total} samples accepted`);
  const h = await health(lead);
  assert.equal(h.status, 'ok', JSON.stringify(h));
  const other = lead === 'A' ? 'B' : 'A';
  assert.equal((await health(other)).cluster.role, 'follower', 'one lead, one simulator');

  // A clean stop hands over at once: the stopped lead gives its lease up,
  // and the last node leads within a few seconds (not the lease's 6 s),
  // storing what is posted to it.
  const exited = new Promise((resolve) => nodes[lead].child.on('exit', (code) => resolve(code)));
  const stopAt = Date.now();
  nodes[lead].child.kill('SIGTERM');
  await waitFor(`${other} to lead after a clean stop`, 6_000, async () => (await health(other))?.cluster?.role === 'lead');
  const handover = Date.now() - stopAt;
  assert.equal(await Promise.race([exited, sleep(15_000).then(() => 'still running')]), 0, 'the stopped lead exits 0');
  assert.ok(handover < 4_000, `the handover after SIGTERM took ${handover} ms`);
  const late = Date.now();
  assert.equal(await post(other, [sample('count-000009', 'lab-2', late)]), 202);
  await waitFor('a sample posted to the last node stored', 10_000, () =>
    rcli('ZRANGE', `${PREFIX}s:count-000009:lab-2`, '0', '-1').includes(`"timestamp_ms":${late}`));
  console.log(`failover after kill -9: ${tookOver} ms; handover after SIGTERM: ${handover} ms`);
});
