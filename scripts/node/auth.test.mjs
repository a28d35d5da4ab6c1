// Issue 16 (A): tokens and origins of `streammon serve`, with the official
// Socket.IO client (docs/SECURITY.md).
//
//   cargo build -p streammon-cli && node --test scripts/node/auth.test.mjs
//
// STREAMMON_BIN as in protocol.test.mjs. The server runs with an ingest
// token and a read token; every wait is bounded.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.STREAMMON_BIN
  ? path.resolve(process.env.STREAMMON_BIN)
  : path.resolve(REPO, process.env.CARGO_TARGET_DIR ?? 'target', 'debug/streammon');

const INGEST = 'node-ingest-token-0123456789';
const READ = 'node-read-token-0123456789';
const EVIL = 'https://evil.example';
const TIMEOUT_MS = 15_000; // slack for a debug build sharing two cores with the other test files

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

const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());

let child;
let url;
const log = [];

before(async () => {
  assert.ok(existsSync(BIN), `server binary not found at ${BIN}: build it (cargo build -p streammon-cli) or set STREAMMON_BIN`);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(port), '--step', '200ms', '--backfill', '2s',
    '--store', 'memory', '--ingest-token', INGEST, '--read-token', READ], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'info' },
  });
  const ready = new Promise((resolve) => {
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      log.push(chunk);
      if (log.join('').includes('live: ticks paced')) resolve('ready');
    });
    child.on('exit', () => resolve('exited'));
  });
  assert.equal(await Promise.race([ready, deadline(60_000).then(() => 'timeout')]), 'ready', log.join(''));
});

after(async () => {
  if (!child) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((r) => child.on('exit', r)), deadline(5_000)]);
  const all = log.join('');
  for (const secret of [INGEST, READ]) assert.ok(!all.includes(secret), `${secret} in the log`);
});

function sample() {
  return {
    schema: 1, timestamp_ms: Date.now(), interval_ms: 1000, content_id: 'live-000001', content_type: 'live',
    region: 'us-east', viewers: 28, joins: 28, exits: 0, avg_watch_time_s: 2741.0, latency_ms: 21.7,
    e2e_latency_ms: 20577.2, startup_time_ms: 1109.4, buffering_ratio: 0.003534, rebuffer_events: 1,
    bitrate_kbps: 11242.857, rendition: '1080p',
    renditions: { '480p': 1, '720p': 2, '1080p': 15, '1440p': 2, '2160p': 8 },
    segment_duration_s: 6.0, segment_size_kb: 8432.14, bandwidth_mbps: 314.8, error_rate: 0.001024,
  };
}

/** Connects with `opts`; resolves to the socket, or to the connect_error. */
function connect(opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, timeout: TIMEOUT_MS, transports: ['websocket'], ...opts });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('neither connect nor connect_error')), TIMEOUT_MS + 1_000);
    socket.once('connect', () => { clearTimeout(timer); resolve({ socket }); });
    socket.once('connect_error', (error) => { clearTimeout(timer); socket.close(); resolve({ error }); });
  });
}

async function write(socket) {
  return socket.timeout(TIMEOUT_MS).emitWithAck('metric_update', sample());
}

describe('streammon serve: tokens and origins', () => {
  test('Socket.IO: without a read token the connection is refused', async () => {
    for (const opts of [{}, { auth: { token: 'not-a-token-of-this-server' } }]) {
      const { error, socket } = await connect(opts);
      assert.ok(error && !socket, `connected with ${JSON.stringify(opts)}`);
      assert.match(error.message, /read token/);
    }
  });

  test('metric_update without an ingest token gets a 401 ack, with one it is accepted', async () => {
    const { socket: reader } = await connect({ auth: { token: READ } });
    assert.ok(reader, 'a read token connects');
    const refused = await write(reader);
    assert.equal(refused.error?.status, 401, JSON.stringify(refused));
    assert.ok(!('accepted' in refused), JSON.stringify(refused));
    reader.close();

    const { socket: writer } = await connect({ auth: { token: INGEST } });
    assert.deepEqual(await write(writer), { accepted: 1 });
    writer.close();

    const { socket: byHeader } = await connect({ extraHeaders: { Authorization: `Bearer ${INGEST}` } });
    assert.ok(byHeader, 'the Authorization header works too');
    assert.deepEqual(await write(byHeader), { accepted: 1 });
    byHeader.close();
  });

  test('the dashboard cookie: /?token= sets it, and it opens REST and the handshake', async () => {
    assert.equal((await fetch(`${url}/content`)).status, 401);
    assert.equal((await fetch(`${url}/health`)).status, 200, '/health stays open');
    const login = await fetch(`${url}/?token=${READ}`, { redirect: 'manual' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/');
    const cookie = login.headers.get('set-cookie');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const pair = cookie.split(';')[0];
    assert.equal((await fetch(`${url}/content`, { headers: { cookie: pair } })).status, 200);
    const { socket } = await connect({ extraHeaders: { cookie: pair } });
    assert.ok(socket, 'the cookie opens the handshake');
    assert.equal((await write(socket)).error?.status, 401, 'a read cookie does not write');
    socket.close();
  });

  test('POST /metrics: 401 without the token, 415 as text/plain, 202 with both right', async () => {
    const body = JSON.stringify(sample());
    const post = (headers) => fetch(`${url}/metrics`, { method: 'POST', headers, body });
    assert.equal((await post({ 'content-type': 'application/json' })).status, 401);
    assert.equal((await post({ 'content-type': 'application/json', authorization: 'Bearer wrong-token-0123456789' })).status, 401);
    const plain = await post({ 'content-type': 'text/plain', authorization: `Bearer ${INGEST}` });
    assert.equal(plain.status, 415);
    assert.equal((await plain.json()).error, 'unsupported_media_type');
    assert.equal((await post({ 'content-type': 'application/json', authorization: `Bearer ${INGEST}` })).status, 202);
  });

  test('a handshake from a foreign Origin is refused, one without Origin is not', async () => {
    const polling = `${url}/socket.io/?EIO=4&transport=polling`;
    const evil = await fetch(polling, { headers: { origin: EVIL, authorization: `Bearer ${READ}` } });
    assert.equal(evil.status, 403);
    assert.equal((await fetch(polling, { headers: { authorization: `Bearer ${READ}` } })).status, 200);
    const status = await new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { origin: EVIL });
      const timer = setTimeout(() => reject(new Error('no answer to the upgrade')), TIMEOUT_MS);
      ws.on('unexpected-response', (_req, res) => { clearTimeout(timer); resolve(res.statusCode); });
      ws.on('open', () => { clearTimeout(timer); ws.close(); resolve(101); });
      ws.on('error', () => {});
    });
    assert.equal(status, 403, 'the WebSocket upgrade from evil.example');
    const { error } = await connect({ auth: { token: READ }, extraHeaders: { origin: EVIL } });
    assert.ok(error, 'socket.io-client from a foreign origin is refused');
    const { socket } = await connect({ auth: { token: READ } });
    assert.ok(socket, 'no Origin (not a browser) connects');
    socket.close();
  });
});
