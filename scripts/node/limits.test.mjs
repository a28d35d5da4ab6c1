// The Socket.IO side of docs/LIMITS.md, with the official client against
// the real server: a client may hold at most --max-rooms-per-client
// subscriptions, and `metric_update` is held to the region limit like
// POST /metrics; both refusals name the limit and are counted.
//
//   STREAMMON_BIN=target/debug/streammon node --test scripts/node/limits.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.STREAMMON_BIN
  ? path.resolve(process.env.STREAMMON_BIN)
  : path.join(process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target'), 'debug', 'streammon');
const ACK_TIMEOUT_MS = 5_000;

const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let child;
let url;
const log = [];

before(async () => {
  assert.ok(existsSync(BIN), `server binary not found at ${BIN}`);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(port), '--step', '200ms', '--backfill', '5s',
    '--incidents', 'none', '--max-rooms-per-client', '2', '--max-regions', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.setEncoding('utf8');
  let buf = '';
  const live = new Promise((resolve) => {
    child.stderr.on('data', (chunk) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) {
        log.push(line);
        if (line.includes('live: ticks paced')) resolve();
      }
    });
  });
  await Promise.race([live, deadline(60_000).then(() => assert.fail(`server not live:\n${log.join('\n')}`))]);
});

after(() => {
  if (process.env.DEBUG_LOG) console.log(log.join("\n"));
  child?.kill('SIGKILL');
});

async function refused(limit) {
  const text = await (await fetch(`${url}/metrics/prometheus`)).text();
  return Number(text.match(new RegExp(`^streammon_refused_total\\{limit="${limit}"\\} (\\S+)`, 'm'))?.[1]);
}

async function connect() {
  const socket = io(url, { transports: ['websocket'], forceNew: true });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

const ack = (socket, event, payload) => socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);

test('a client holds at most --max-rooms-per-client subscriptions', async () => {
  const socket = await connect();
  try {
    const regions = (await (await fetch(`${url}/metrics?limit=1&detail=full`)).json()).ticks[0].regions.map((r) => r.region);
    assert.ok(regions.length >= 3, `regions: ${regions}`);
    for (const region of regions.slice(0, 2)) {
      const reply = await ack(socket, 'subscribe', { region });
      assert.equal(reply.ok, true, JSON.stringify(reply));
    }
    // Again the same: no new room, still fine.
    assert.equal((await ack(socket, 'subscribe', { region: regions[0] })).ok, true);
    const over = await ack(socket, 'subscribe', { region: regions[2] });
    assert.deepEqual(over, { error: { status: 429, field: 'region', message: 'at most 2 rooms per client (max_rooms_per_client); unsubscribe first' } });
    assert.equal(await refused('rooms'), 1);
    // Leaving one makes room.
    assert.equal((await ack(socket, 'unsubscribe', { region: regions[0] })).ok, true);
    const reply = await ack(socket, 'subscribe', { region: regions[2] });
    assert.deepEqual(reply.rooms.sort(), [`region:${regions[1]}`, `region:${regions[2]}`].sort());
  } finally {
    socket.close();
  }
});

test('metric_update is held to the region limit, known regions still flow', async () => {
  const socket = await connect();
  try {
    const sample = (region) => ({
      schema: 1, timestamp_ms: Date.now(), interval_ms: 1000, content_id: 'client-1', content_type: 'video', region,
      viewers: 10, joins: 0, exits: 0, avg_watch_time_s: 60, latency_ms: 30, e2e_latency_ms: null, startup_time_ms: 900,
      buffering_ratio: 0.01, rebuffer_events: 0, bitrate_kbps: 3000, rendition: '720p', renditions: { '720p': 10 },
      segment_duration_s: 4, segment_size_kb: 1500, bandwidth_mbps: 30, error_rate: 0,
    });
    assert.deepEqual(await ack(socket, 'metric_update', sample('client-r1')), { accepted: 1 });
    const over = await ack(socket, 'metric_update', [sample('client-r1'), sample('client-r2')]);
    assert.deepEqual(over, { error: { status: 422, field: 'region', message: 'at most 1 regions (limits.max_regions)' } });
    assert.deepEqual(await ack(socket, 'metric_update', sample('client-r1')), { accepted: 1 });
    assert.equal(await refused('regions'), 1);
  } finally {
    socket.close();
  }
});
