// Issue 16: the TLS deployment of docs/SECURITY.md, as written there.
//
//   cargo build -p streammon-cli && node --test scripts/node/tls.test.mjs
//
// Takes the ```nginx block of docs/SECURITY.md, points it at a fresh
// self-signed certificate (openssl), a free port and a `streammon serve`
// with an ingest and a read token, runs Debian's nginx with it (test.sh
// installs it), and checks what the document promises through the proxy:
// REST over HTTPS, the dashboard cookie made `Secure`, the same-origin
// check seeing the public Host, and Socket.IO over wss://.
// STREAMMON_BIN as in protocol.test.mjs. Every wait is bounded.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
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

const INGEST = 'tls-ingest-token-0123456789';
const READ = 'tls-read-token-0123456789';
const TIMEOUT_MS = 15_000;

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

/** The ```nginx block of docs/SECURITY.md. */
function documentedBlock() {
  const doc = readFileSync(path.join(REPO, 'docs/SECURITY.md'), 'utf8');
  const m = doc.match(/```nginx\n([\s\S]*?)```/);
  assert.ok(m, 'docs/SECURITY.md has no ```nginx block');
  return m[1];
}

let dir;
let server;
let nginx;
let ca;
let origin; // https://localhost:PORT, what a browser on the proxy sends
const log = [];

async function started(child, what, ready) {
  const seen = [];
  const ok = new Promise((resolve) => {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk) => {
        seen.push(chunk);
        log.push(chunk);
        if (ready(seen.join(''))) resolve('ready');
      });
    }
    child.on('exit', (code) => resolve(`exited ${code}`));
  });
  assert.equal(await Promise.race([ok, deadline(60_000).then(() => 'timeout')]), 'ready', `${what}: ${seen.join('')}`);
}

before(async () => {
  assert.ok(existsSync(BIN), `server binary not found at ${BIN}: build it (cargo build -p streammon-cli) or set STREAMMON_BIN`);
  assert.ok(NGINX, 'nginx is not installed (test.sh installs it: apt-get install nginx)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'streammon-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-keyout', path.join(dir, 'streammon.key'),
    '-out', path.join(dir, 'streammon.crt')], { stdio: 'ignore' });
  ca = readFileSync(path.join(dir, 'streammon.crt'));

  const [backend, front] = [await freePort(), await freePort()];
  server = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(backend), '--step', '200ms', '--backfill', '2s',
    '--store', 'memory', '--ingest-token', INGEST, '--read-token', READ], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'info' },
  });
  await started(server, 'streammon', (text) => text.includes('live: ticks paced'));

  // The documented block, with only the port, the certificate's place and
  // the backend's port changed.
  const block = documentedBlock()
    .replace(/listen\s+443 ssl;/, `listen 127.0.0.1:${front} ssl;`)
    .replaceAll('/etc/ssl/', `${dir}/`)
    .replace('http://127.0.0.1:8000', `http://127.0.0.1:${backend}`);
  assert.ok(block.includes(`127.0.0.1:${front}`) && block.includes(`127.0.0.1:${backend}`), block);
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
  origin = `https://localhost:${front}`;
  // nginx says nothing when ready: wait until the port answers.
  for (let i = 0; ; i++) {
    const up = await new Promise((resolve) => {
      const s = net.connect(front, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    assert.ok(i < 100 && nginx.exitCode === null, `nginx did not start: ${existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8') : ''}`);
    await deadline(100);
  }
});

after(async () => {
  for (const child of [nginx, server]) {
    if (!child || child.exitCode !== null) continue;
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.on('exit', r)), deadline(5_000)]);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  const all = log.join('');
  for (const secret of [INGEST, READ]) assert.ok(!all.includes(secret), `${secret} in the log`);
});

/** An HTTPS request through the proxy, trusting only the test's certificate. */
function request(method, urlPath, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${origin}${urlPath}`, { method, ca, headers, timeout: TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

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

describe('streammon serve behind nginx, as docs/SECURITY.md deploys it', () => {
  test('REST over HTTPS: reads need the read token, writes the ingest token', async () => {
    assert.equal((await request('GET', '/health')).status, 200);
    assert.equal((await request('GET', '/alerts')).status, 401);
    const alerts = await request('GET', '/alerts', { headers: { authorization: `Bearer ${READ}` } });
    assert.equal(alerts.status, 200, alerts.text);
    const body = JSON.stringify(sample());
    const json = { 'content-type': 'application/json' };
    assert.equal((await request('POST', '/metrics', { headers: json, body })).status, 401);
    const posted = await request('POST', '/metrics', { headers: { ...json, authorization: `Bearer ${INGEST}` }, body });
    assert.equal(posted.status, 202, posted.text);
  });

  test('the dashboard cookie comes back Secure and opens reads', async () => {
    const login = await request('GET', `/?token=${READ}`, { headers: { accept: 'text/html' } });
    const cookie = [login.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('streammon_token='));
    assert.ok(cookie, `no cookie: ${login.status} ${JSON.stringify(login.headers)}`);
    const flags = cookie.split(';').map((f) => f.trim().toLowerCase());
    assert.ok(flags.includes('secure') && flags.includes('httponly'), cookie);
    const read = await request('GET', '/alerts', { headers: { cookie: cookie.split(';')[0] } });
    assert.equal(read.status, 200, read.text);
  });

  test('the same-origin check sees the public Host: own origin through, a foreign one 403', async () => {
    const auth = { authorization: `Bearer ${READ}` };
    const own = await request('GET', '/alerts', { headers: { ...auth, origin } });
    assert.equal(own.status, 200, own.text);
    const foreign = await request('GET', '/alerts', { headers: { ...auth, origin: 'https://evil.example' } });
    assert.equal(foreign.status, 403, foreign.text);
  });

  test('Socket.IO over wss:// with a token receives metrics_update', async () => {
    const socket = io(origin, {
      forceNew: true, reconnection: false, timeout: TIMEOUT_MS, transports: ['websocket'], ca, auth: { token: READ },
    });
    try {
      const update = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no metrics_update over wss within the timeout')), TIMEOUT_MS);
        socket.once('connect_error', (e) => { clearTimeout(timer); reject(e); });
        socket.once('metrics_update', (u) => { clearTimeout(timer); resolve(u); });
      });
      assert.equal(typeof update.timestamp_ms, 'number');
      assert.ok(update.users > 0, JSON.stringify(update).slice(0, 200));
    } finally {
      socket.close();
    }
  });
});
