// A stalled Socket.IO client must not slow the pipeline or the other
// clients: its bounded queue overflows, events for it are dropped and
// counted, and once it reads again it is told how many with `lagged`.
//
// The stalled client speaks the Engine.IO v4 / Socket.IO v5 wire protocol
// over a raw WebSocket (the `ws` package) so that it can stop reading its
// TCP socket, which socket.io-client cannot do; a normal socket.io-client
// watches every tick arrive meanwhile.
//
//   STREAMMON_BIN=target/debug/streammon node --test scripts/node/slow-client.test.mjs

import { after, before, test } from 'node:test';
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
  : path.join(process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target'), 'debug', 'streammon');
const STEP_MS = 100;
// Room for a healthy client's tick (its update, up to five anomalies, a
// change or two) however briefly its writer is late; a stalled client
// subscribed to ten regions fills it within a few ticks.
const CLIENT_BUFFER = 12;
const REGIONS = ['us-east', 'us-west', 'sa-east', 'eu-west', 'eu-central', 'af-south', 'me-central', 'ap-south', 'ap-east', 'ap-southeast'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A timer for races that does not keep the process alive once the race is won. */
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

async function waitFor(what, ms, check) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}\n--- server log ---\n${log.slice(-20).join('\n')}`);
    await sleep(100);
  }
}

let child;
let url;
const log = [];

before(async () => {
  assert.ok(existsSync(BIN), `server binary not found at ${BIN}`);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(port), '--step', `${STEP_MS}ms`,
    '--backfill', '10s', '--client-buffer', String(CLIENT_BUFFER), '--incidents', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  child?.kill('SIGKILL');
});

/** A raw Socket.IO client that can stop reading. */
function rawClient() {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const state = { ws, lagged: [], events: 0, acks: [] };
  ws.on('message', (data) => {
    const text = data.toString();
    if (text.startsWith('0')) ws.send('40'); // Engine.IO open: connect to namespace "/"
    else if (text === '2') ws.send('3'); // ping → pong
    else if (text.startsWith('42')) {
      state.events += 1;
      const [event, payload] = JSON.parse(text.slice(2));
      if (event === 'lagged') state.lagged.push(payload);
    } else if (text.startsWith('43')) state.acks.push(text);
    else if (text.startsWith('40')) state.connected = true;
  });
  return state;
}

async function dropped() {
  const text = await (await fetch(`${url}/metrics/prometheus`)).text();
  return Number(text.match(/^streammon_socketio_events_dropped_total (\S+)/m)?.[1] ?? 0);
}

test('a stalled client overflows alone and is told what it missed', async () => {
  const slow = rawClient();
  await waitFor('the raw client to connect', 10_000, () => slow.connected);
  // Ten rooms: ten scoped updates a tick, each listing that region's titles,
  // so the stalled client's socket buffers fill within seconds.
  // Its queue is small and each subscription adds a room's update to
  // every tick, so an acknowledgement can be dropped like any event once a
  // tick's updates fill the queue: ask again for what was not acknowledged
  // (subscribing twice is harmless).
  const acked = () => new Set(slow.acks.map((a) => Number(a.match(/^43(\d+)/)?.[1])));
  await waitFor('the ten subscriptions to be acknowledged', 20_000, async () => {
    const done = acked();
    REGIONS.forEach((region, i) => done.has(i) || slow.ws.send(`42${i}["subscribe",{"region":"${region}"}]`));
    await sleep(300);
    return acked().size === REGIONS.length;
  });

  const healthy = io(url, { transports: ['websocket'], forceNew: true });
  const seqs = [];
  const latencies = [];
  healthy.on('metrics_update', (m) => {
    seqs.push(m.seq);
    latencies.push(Date.now() - m.timestamp_ms);
  });
  await waitFor('the healthy client to get updates', 10_000, () => seqs.length > 3);

  // Stall: stop reading the TCP socket.
  slow.ws._socket.pause();
  const before = await dropped();
  const stalledAt = Date.now();
  await waitFor('the server to drop events for the stalled client', 60_000, async () => (await dropped()) > before);
  console.log(`drops began ${Date.now() - stalledAt} ms after the stall`);
  const from = seqs.length;
  await sleep(3_000);

  // Meanwhile the healthy client got every tick, promptly.
  const window = seqs.slice(from - 1);
  assert.ok(window.length >= 20, `the healthy client got ${window.length} updates in 3 s at ${STEP_MS} ms ticks`);
  for (let i = 1; i < window.length; i += 1) {
    assert.equal(window[i], window[i - 1] + 1, `the healthy client missed updates: seq ${window[i - 1]} then ${window[i]}`);
  }
  const recent = latencies.slice(from).sort((a, b) => a - b);
  const p99 = recent[Math.floor(0.99 * (recent.length - 1))];
  assert.ok(p99 < 1_000, `the healthy client's p99 latency rose to ${p99} ms while another client stalled`);
  const health = await (await fetch(`${url}/`)).json();
  assert.equal(health.status, 'ok', `the pipeline stalled with a slow client: ${JSON.stringify(health.problems)}`);

  // A write from the stalled client, its queue full: the server holds the
  // ack until the queue has room (up to 2 s) rather than lose it, so a
  // writer never resends samples that were taken.
  const sample = {
    schema: 1, timestamp_ms: Date.now(), interval_ms: 1000, content_id: 'slow-writer-title', content_type: 'video',
    region: 'us-east', viewers: 10, joins: 1, exits: 0, avg_watch_time_s: 600, latency_ms: 30, e2e_latency_ms: null,
    startup_time_ms: 900, buffering_ratio: 0.001, rebuffer_events: 0, bitrate_kbps: 4000, rendition: '1080p',
    renditions: { '1080p': 10 }, segment_duration_s: 6, segment_size_kb: 3000, bandwidth_mbps: 40, error_rate: 0.001,
  };
  slow.ws.send(`4299${JSON.stringify(['metric_update', sample])}`);
  await sleep(300);

  // Read again: it drains, then hears how many events it lost.
  slow.ws._socket.resume();
  const resumedAt = Date.now();
  await waitFor('a `lagged` event on the resumed client', 30_000, () => slow.lagged.length > 0);
  console.log(`lagged ${JSON.stringify(slow.lagged[0])} ${Date.now() - resumedAt} ms after resuming`);
  assert.ok(slow.lagged[0].dropped > 0, `lagged carries the number dropped: ${JSON.stringify(slow.lagged[0])}`);
  await waitFor('the ack of the write sent while stalled', 10_000, () => slow.acks.some((a) => a.startsWith('4399')));
  assert.equal(slow.acks.find((a) => a.startsWith('4399')), '4399[{"accepted":1}]');
  healthy.close();
  slow.ws.close();
});
