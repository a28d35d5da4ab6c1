// Socket.IO side of docs/RELIABILITY.md ("Faults"), with the official client:
// once the pipeline has failed, `metric_update` is refused with a 503 ack
// (samples sent then would be processed by nobody), and the server exits 70.
//
//   cargo build -p streammon-cli && node --test scripts/node/faults.test.mjs
//
// The panic is injected with STREAMMON_DEBUG_PANIC_AFTER_TICKS, a hook that
// debug builds only contain (streammon-cli/src/serve/fault.rs): run it
// against target/debug/streammon. The HTTP side of the same faults is in
// streammon-cli/tests/faults.rs.

import { test } from 'node:test';
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
  : path.resolve(REPO, process.env.CARGO_TARGET_DIR ?? 'target', 'debug/streammon');

const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());

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

test('after a pipeline panic, metric_update gets a 503 ack and the server exits 70', async (t) => {
  assert.ok(existsSync(BIN), `server binary not found at ${BIN}: cargo build -p streammon-cli`);
  const port = await freePort();
  const log = [];
  const child = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(port), '--backfill', '0s', '--step', '1s'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: 'info', REDIS_URL: '', REDIS_HOST: '', STREAMMON_DEBUG_PANIC_AFTER_TICKS: '3' },
  });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const seen = (text) => new Promise((resolve) => {
    const check = () => log.some((l) => l.includes(text)) && resolve();
    child.stderr.on('data', check);
    check();
  });
  let buf = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop();
    log.push(...lines);
  });
  const race = (p, ms, what) => Promise.race([p.then(() => 'ok'), deadline(ms).then(() => 'timeout')])
    .then((r) => assert.equal(r, 'ok', `${what}\n--- server log ---\n${log.slice(-20).join('\n')}`));

  await race(seen('live: ticks paced'), 60_000, 'the server did not go live');
  const socket = io(`http://127.0.0.1:${port}`, { forceNew: true, reconnection: false, transports: ['websocket'] });
  t.after(() => socket.disconnect());
  await race(new Promise((r) => socket.once('connect', r)), 5_000, 'no Socket.IO connection');
  assert.deepEqual(await socket.timeout(5_000).emitWithAck('metric_update', sample()), { accepted: 1 });

  // Keep sending until the server is gone: the server refuses for a grace
  // second after the panic, then exits, and under load the panic's log line
  // may reach this process after that second.
  const acks = [];
  let sending = true;
  const sender = (async () => {
    while (sending && socket.connected) {
      try {
        acks.push(await socket.timeout(2_000).emitWithAck('metric_update', sample()));
      } catch {
        break; // disconnected or timed out: the server is going away
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await race(seen('panicked'), 20_000, 'the injected panic did not happen');

  const exit = await Promise.race([exited, deadline(10_000).then(() => null)]);
  sending = false;
  await sender;
  assert.deepEqual(exit, { code: 70, signal: null }, `exit after the panic\n${log.slice(-20).join('\n')}`);
  const refused = acks.filter((a) => a?.error?.status === 503);
  assert.ok(refused.length > 0, `no 503 ack after the panic; acks: ${JSON.stringify(acks.slice(-5))}`);
  assert.match(refused[0].error.message, /stopping/);
  // Every ack is either accepted (before the panic) or refused: none lost.
  assert.ok(acks.every((a) => a?.accepted === 1 || a?.error?.status === 503), JSON.stringify(acks));
});
