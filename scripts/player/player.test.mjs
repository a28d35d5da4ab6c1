// End-to-end test of streammon's CMCD collector with a real player.
//
// ffmpeg-generated DASH media (make-media.sh: three H.264 renditions and
// AAC, 2 s segments) is served by `streammon serve --source cmcd --media
// DIR`, together with player.html, player.js and dash.js's browser bundle, so
// page, player and media share one origin. Debian's Chromium (headless,
// driven by playwright-core) plays it with dash.js 5 and CMCD v2: request
// mode on segment requests (query argument CMCD= for the main session,
// CMCD-* headers for a second, control session) and event mode posting to
// the server's collector at /cmcd. The test then checks, through the REST
// API, Socket.IO and the dashboard, that the session's title shows up with
// plausible startup time, bitrate and buffering figures; and, after a warm
// healthy history, throttles the main player's network with CDP until it
// stalls, and checks that rebuffering is measured and flagged by the
// detectors.
//
//   cargo build -p streammon-cli && (cd scripts/player && npm ci && npm test)
//   STREAMMON_BIN=target/release/streammon npm test --prefix scripts/player
//
// Environment: STREAMMON_BIN (default $CARGO_TARGET_DIR/debug/streammon, else
// target/debug/streammon), CHROMIUM (default /usr/bin/chromium),
// PLAYER_MEDIA_DIR (default target/player-media; generated when stale),
// PLAYER_HEALTHY_S (healthy playback before throttling, default 75),
// PLAYER_THROTTLE_BPS (bytes/s while throttled, default 40000),
// PLAYER_DASHBOARD (the dashboard build, default dashboard/dist),
// PLAYER_SHOTS (where the screenshots go, default docs/screenshots),
// PLAYER_HEADED=1 (a visible browser, for debugging).
// Every wait is bounded and fails with what it waited for, the player's
// state and the server's last log lines.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { io } from 'socket.io-client';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const TARGET = path.resolve(REPO, process.env.CARGO_TARGET_DIR ?? 'target');
const BIN = process.env.STREAMMON_BIN ? path.resolve(process.env.STREAMMON_BIN) : path.join(TARGET, 'debug/streammon');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const MEDIA = path.resolve(process.env.PLAYER_MEDIA_DIR ?? path.join(TARGET, 'player-media'));
const DASHBOARD = path.resolve(process.env.PLAYER_DASHBOARD ?? path.join(REPO, 'dashboard/dist'));
const SHOTS = path.resolve(process.env.PLAYER_SHOTS ?? path.join(REPO, 'docs/screenshots'));

const CID = 'cmcd-e2e-clip';            // the main session: query mode, throttled later
const CID_HEADERS = 'cmcd-e2e-headers'; // the control session: header mode, never throttled
const RENDITIONS_KBPS = [300, 800, 1500]; // make-media.sh's nominal video bitrates
const HEALTHY_S = Number(process.env.PLAYER_HEALTHY_S ?? 75);
const THROTTLE_BPS = Number(process.env.PLAYER_THROTTLE_BPS ?? 40_000);
const THROTTLE = { offline: false, latency: 400, downloadThroughput: THROTTLE_BPS, uploadThroughput: 64_000 };
// A one-viewer service: the detectors' gate lowered so that one viewer's
// series is judged, and the anomaly feed's gates (by default a point must
// hurt 10 viewers fully and its series stay anomalous 20 s, which one
// viewer's stalls of a few seconds never do) lowered to match.
const CONFIG_TOML = '[pipeline]\nmin_anomaly_impact = 0.05\nmin_anomaly_duration = "0s"\n\n[pipeline.gate]\nmin_weight = 1\ncalibrate = true\n';

const STARTUP_TIMEOUT_MS = 60_000;
const PLAY_TIMEOUT_MS = 20_000;
const APPEAR_TIMEOUT_MS = 15_000;
const STALL_TIMEOUT_MS = 45_000;
const REBUFFER_TIMEOUT_MS = 30_000;
const FLAG_TIMEOUT_MS = 60_000;

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

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
    const help = execFileSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
    for (const flag of ['--source', '--media']) {
      assert.ok(help.includes(flag), `${BIN} serve has no ${flag} flag: this binary predates the CMCD collector`);
    }
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.args = ['serve', '--host', '127.0.0.1', '--port', String(this.port), ...args];
    this.child = spawn(BIN, this.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' },
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    let buf = '';
    const onData = (chunk) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) {
        this.log.push(line);
        if (this.log.length > 1000) this.log.shift();
      }
    };
    this.child.stderr.setEncoding('utf8').on('data', onData);
    this.child.stdout.setEncoding('utf8').on('data', onData);
    // Ready once /health answers (a CMCD-only server with no backfill has no
    // "ticks paced" moment to wait for).
    const healthy = (async () => {
      for (;;) {
        try {
          const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1_000) });
          if (res.ok) return 'ready';
        } catch { /* not yet */ }
        if (this.exit) return 'exited';
        await sleep(100);
      }
    })();
    const ready = await Promise.race([healthy, this.exited.then(() => 'exited'), deadline(STARTUP_TIMEOUT_MS).then(() => 'timeout')]);
    assert.equal(ready, 'ready',
      `server did not answer GET /health (${ready}, exit ${JSON.stringify(this.exit)}); ` +
      `command: ${BIN} ${this.args.join(' ')}\n--- server log ---\n${this.tail()}`);
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
  constructor(url) {
    this.events = [];
    this.socket = io(url, { forceNew: true, reconnection: false, timeout: 5_000, transports: ['websocket'] });
    this.socket.onAny((event, data) => this.events.push({ event, data, at: Date.now() }));
  }

  connected() {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve();
      const timer = setTimeout(() => reject(new Error('no Socket.IO connect within 6 s')), 6_000);
      this.socket.once('connect', () => { clearTimeout(timer); resolve(); });
      this.socket.once('connect_error', (e) => { clearTimeout(timer); reject(new Error(`connect_error: ${e.message}`)); });
    });
  }

  received(event) {
    return this.events.filter((e) => e.event === event).map((e) => e.data);
  }

  async ack(event, payload) {
    return this.socket.timeout(5_000).emitWithAck(event, payload);
  }

  close() {
    this.socket.disconnect();
  }
}

const server = new Server();
let browser;
let mediaDir;
let configDir;
const players = {}; // cid -> { page, started }
let watcher;        // whole-service Socket.IO client
let scoped;         // Socket.IO client subscribed to the main title
const measured = {};
let throttled = null; // when the main player's network was throttled

async function playerState(cid) {
  const p = players[cid];
  if (!p) return null;
  try {
    return await p.page.evaluate(() => {
      const { log, ...s } = window.e2e ?? {};
      return { ...s, log: (log ?? []).slice(-8) };
    });
  } catch (e) {
    return { error: e.message };
  }
}

async function diagnostics() {
  const states = {};
  for (const cid of Object.keys(players)) states[cid] = await playerState(cid);
  return `--- players ---\n${JSON.stringify(states, null, 1)}\n--- server log ---\n${server.tail(20)}`;
}

/**
 * Polls async `check` until it returns a truthy value or `ms` pass; then
 * fails with `what`, the players' state and the server's log tail.
 */
async function waitFor(what, ms, check, every = 250) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e; // a failed check, not a transient error
      last = e;
    }
    if (Date.now() > end) {
      assert.fail(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}\n${await diagnostics()}`);
    }
    await sleep(every);
  }
}

async function getJson(pathAndQuery) {
  const res = await fetch(server.url + pathAndQuery, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5_000) });
  const body = await res.text();
  let json;
  try { json = JSON.parse(body); } catch { json = null; }
  return { status: res.status, json, body };
}

/** The points of `metric` for `cid` over the last five minutes: [[ms, value], …] over every region. */
async function points(metric, cid) {
  const { status, json, body } = await getJson(`/metrics?metric=${metric}&content=${encodeURIComponent(cid)}&from=5m`);
  assert.equal(status, 200, `GET /metrics?metric=${metric}&content=${cid}: ${status} ${body.slice(0, 300)}`);
  return (json.series ?? []).filter((s) => s.content_id === cid).flatMap((s) => s.points ?? [])
    .filter(([, v]) => v != null && Number.isFinite(v)).sort((a, b) => a[0] - b[0]);
}

async function contentRow(cid) {
  const { status, json } = await getJson('/content?limit=1000');
  if (status !== 200) return null;
  return (json.contents ?? []).find((c) => c.content_id === cid) ?? null;
}

/** Opens the player page for `cid` in its own browser context (own network conditions). */
async function openPlayer(cid, mode, collector = '/cmcd') {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => { logs.push(`${m.type()}: ${m.text()}`); if (logs.length > 50) logs.shift(); });
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  players[cid] = { page, context, logs, openedAt: Date.now() };
  await page.goto(`${server.url}/media/player.html?cid=${encodeURIComponent(cid)}&mode=${mode}&interval=2&collector=${encodeURIComponent(collector)}`);
  return players[cid];
}

const near = (value, nominal, tol) => Math.abs(value - nominal) <= nominal * tol;

/**
 * The dashboard once the title is flagged: its detail lists the anomalies,
 * and the buffering series marks them (screenshot cmcd-rebuffering.png).
 */
async function dashboardAfterThrottle(throttledAt) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const ok = async (check) => {
    if (errors.length) assert.fail(`the dashboard failed: ${errors.join('; ')}`);
    return check();
  };
  try {
    await page.goto(`${server.url}/#/content/${encodeURIComponent(CID)}`);
    const items = await waitFor(`the dashboard's detail of ${CID} to list its anomalies`, 20_000,
      () => ok(async () => (await page.locator('[data-testid=feed-item]').count()) || null), 500);
    measured.dashboard_detail_feed_items = items;
    await page.goto(`${server.url}/#/series?metric=buffering_ratio&content=${encodeURIComponent(CID)}&region=local`);
    // History from the REST API in buckets: the anomalies show as markers
    // (triangles), red dots only on live points scored against a band.
    const chart = await waitFor(`the dashboard's buffering_ratio chart of ${CID} with anomaly markers`, 20_000, () => ok(async () => {
      const el = page.locator('[data-testid=chart-main]');
      if (!(await el.count())) return null;
      const [markers, anomalous, pts] = await Promise.all(['data-markers', 'data-anomalous', 'data-points'].map(async (a) => Number(await el.getAttribute(a))));
      return markers > 0 || anomalous > 0 ? { markers, anomalous, points: pts } : null;
    }), 500);
    measured.dashboard_chart = chart;
    // Let the chart show some of the rebuffering (it refreshes every 5 s).
    await sleep(Math.max(2_000, throttledAt + 30_000 - Date.now()));
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'cmcd-rebuffering.png') });
  } finally {
    await context.close();
  }
}

/** A Socket.IO client subscribed to the main title's room (its anomalies). */
async function subscribeScoped() {
  if (scoped) return;
  scoped = new Client(server.url);
  await scoped.connected();
  const ack = await scoped.ack('subscribe', { content_id: CID });
  assert.ok(ack?.ok, `subscribe {content_id: ${CID}}: ${JSON.stringify(ack)}`);
}

// ---------------------------------------------------------------- setup

before(async () => {
  execFileSync('bash', [path.join(HERE, 'make-media.sh'), MEDIA], { stdio: 'inherit' });
  // The page, its script and dash.js beside the media: one origin for all.
  mediaDir = MEDIA;
  for (const f of ['player.html', 'player.js']) copyFileSync(path.join(HERE, f), path.join(mediaDir, f));
  copyFileSync(path.join(HERE, 'node_modules/dashjs/dist/modern/umd/dash.all.min.js'), path.join(mediaDir, 'dash.all.min.js'));
  configDir = mkdtempSync(path.join(os.tmpdir(), 'streammon-player-'));
  const config = path.join(configDir, 'streammon.toml');
  writeFileSync(config, CONFIG_TOML);
  await server.start(['--store', 'memory', '--source', 'cmcd', '--media', mediaDir, '--step', '1s', '--backfill', '0s',
    '--config', config, '--dashboard', DASHBOARD]);
  watcher = new Client(server.url);
  await watcher.connected();
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: !process.env.PLAYER_HEADED, args: CHROMIUM_ARGS });
});

after(async () => {
  console.log(`measured: ${JSON.stringify(measured, null, 1)}`);
  for (const cid of Object.keys(players)) {
    const s = await playerState(cid);
    console.log(`player ${cid}: ${JSON.stringify(s)}`);
  }
  watcher?.close();
  scoped?.close();
  await browser?.close().catch(() => {});
  const exit = await server.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  if (process.env.PLAYER_SHOW_LOG) console.log(server.tail(200));
  console.log(`server exit: ${JSON.stringify(exit)}`);
});

// ---------------------------------------------------------------- tests

describe('dash.js with CMCD against streammon serve --source cmcd', { concurrency: false }, () => {
  test('the media and the page are served from /media with their content types', async () => {
    for (const [file, type] of [['manifest.mpd', /dash\+xml/], ['player.html', /text\/html/], ['player.js', /javascript/], ['init-0.m4s', /mp4|iso/]]) {
      const res = await fetch(`${server.url}/media/${file}`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(res.status, 200, `GET /media/${file}`);
      assert.match(res.headers.get('content-type') ?? '', type, `content type of /media/${file}`);
      await res.arrayBuffer();
    }
    const head = await fetch(`${server.url}/media/manifest.mpd`, { method: 'HEAD', signal: AbortSignal.timeout(5_000) });
    assert.equal(head.status, 200, 'HEAD /media/manifest.mpd');
    const missing = await fetch(`${server.url}/media/nope.mpd`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(missing.status, 404, 'GET /media/nope.mpd');
    await missing.arrayBuffer();
  });

  test('a playing session appears: GET /content, content_change, GET /content/<cid>', async () => {
    const main = await openPlayer(CID, 'query');
    // The control session posts its event reports cross-origin (localhost
    // is not the page's origin 127.0.0.1): CORS preflight and all.
    const control = await openPlayer(CID_HEADERS, 'headers', `http://localhost:${server.port}/cmcd`);
    const s = await waitFor(`${CID} to start playing`, PLAY_TIMEOUT_MS, async () => {
      const st = await playerState(CID);
      return st?.started && st.currentTime > 0.5 ? st : null;
    });
    main.started = Date.now();
    measured.page_startup_ms = s.startupMs;
    await waitFor(`${CID_HEADERS} (header mode) to start playing`, PLAY_TIMEOUT_MS, async () => (await playerState(CID_HEADERS))?.started);
    control.started = Date.now();

    const row = await waitFor(`${CID} in GET /content with viewers >= 1`, APPEAR_TIMEOUT_MS, async () => {
      const r = await contentRow(CID);
      return r && r.viewers >= 1 ? r : null;
    });
    measured.appeared_after_play_ms = Date.now() - main.started;
    measured.content_row = row;
    const change = await waitFor(`a content_change for ${CID} over Socket.IO`, APPEAR_TIMEOUT_MS,
      async () => watcher.received('content_change').find((c) => c.content_id === CID));
    assert.equal(change.status, change.to, 'content_change: status equals to');

    const detail = await getJson(`/content/${encodeURIComponent(CID)}`);
    assert.equal(detail.status, 200, `GET /content/${CID}: ${detail.body.slice(0, 300)}`);
    assert.equal(detail.json.content.content_id, CID);
    assert.ok(detail.json.content.viewers >= 1, `GET /content/${CID}: viewers ${detail.json.content.viewers}`);
    assert.ok(Array.isArray(detail.json.regions) && detail.json.regions.length >= 1, `GET /content/${CID}: no region streams`);
    measured.regions = detail.json.regions.map((r) => r.region);
    await subscribeScoped();
  });

  test('startup time and bitrate of the session\'s title', async () => {
    const main = players[CID];
    assert.ok(main?.started, 'the main player never started');
    // The ticks once the session plays (earlier ones: the test after next).
    const playing = main.openedAt + measured.page_startup_ms + 1_000;
    const startup = await waitFor(`startup_time_ms points for ${CID} once it plays`, APPEAR_TIMEOUT_MS, async () => {
      const p = (await points('startup_time_ms', CID)).filter(([ts]) => ts >= playing);
      return p.length ? p : null;
    }, 500);
    const startupMs = startup[startup.length - 1][1];
    measured.server_startup_ms = startupMs;
    assert.ok(startupMs > 0 && startupMs < 10_000, `startup_time_ms ${startupMs} is not within (0, 10 s)`);

    const bitrate = await waitFor(`bitrate_kbps points for ${CID}`, APPEAR_TIMEOUT_MS, async () => {
      const p = await points('bitrate_kbps', CID);
      return p.length ? p : null;
    });
    const player = await playerState(CID);
    measured.page_bitrate_kbps = player.bitrateKbps;
    // The latest must be a rendition (ABR settles within a few segments on
    // loopback); earlier ticks may mix two across a switch.
    await waitFor(`the latest bitrate_kbps of ${CID} to match a rendition (${RENDITIONS_KBPS} kb/s ± 10 %)`, 20_000, async () => {
      const p = await points('bitrate_kbps', CID);
      const v = p.at(-1)?.[1];
      return v != null && RENDITIONS_KBPS.some((n) => near(v, n, 0.1));
    }, 1_000);
    const lo = Math.min(...RENDITIONS_KBPS) * 0.85;
    const hi = Math.max(...RENDITIONS_KBPS) * 1.15;
    const later = (await points('bitrate_kbps', CID)).filter(([ts]) => ts >= playing);
    const off = later.filter(([, v]) => v < lo || v > hi);
    assert.deepEqual(off, [], `bitrate_kbps points off the ladder ${RENDITIONS_KBPS} kb/s once playing`);
  });

  test('a figure not known yet is no figure, not 0 (startup time, bitrate in the first ticks)', async () => {
    // Before the first frame there is no startup time yet, and before the
    // first video segment no bitrate: a tick that says 0 drags the title's
    // means down and teaches the detectors that 0 is normal.
    const main = players[CID];
    const first = {};
    for (const metric of ['startup_time_ms', 'bitrate_kbps']) first[metric] = (await points(metric, CID)).slice(0, 3);
    measured.first_ticks = first;
    const zeros = Object.entries(first).flatMap(([m, p]) => p.filter(([, v]) => v === 0).map(([ts]) => `${m} 0 at ${ts}`));
    assert.deepEqual(zeros, [], `${CID}'s first ticks (player opened at ${main.openedAt}, playing after ${measured.page_startup_ms} ms): ${JSON.stringify(first)}`);
  });

  test('buffering ratio ~0 while healthy', async () => {
    const main = players[CID];
    assert.ok(main?.started, 'the main player never started');
    const s = await playerState(CID);

    // Buffering once playing: the ticks from two seconds after the first
    // `playing` on (the startup's own ticks have a test of their own).
    const playingFrom = main.openedAt + s.startupMs + 2_000;
    const buffering = await waitFor(`3 buffering_ratio points for ${CID} after its startup`, APPEAR_TIMEOUT_MS, async () => {
      const p = (await points('buffering_ratio', CID)).filter(([ts]) => ts >= playingFrom);
      return p.length >= 3 ? p : null;
    }, 1_000);
    const healthy = buffering.map(([, v]) => v);
    measured.healthy_buffering_ratio = healthy;
    assert.ok(healthy.every((v) => v <= 0.02), `buffering_ratio ${healthy} while playing healthily (expected ~0)`);
  });

  test('header mode (CMCD-* headers) and event mode (POST /cmcd, cross-origin too) are ingested', async () => {
    assert.ok(players[CID_HEADERS]?.started, 'the header-mode player never started');
    await waitFor(`${CID_HEADERS} (CMCD-* headers) in GET /content with viewers >= 1`, APPEAR_TIMEOUT_MS,
      async () => (await contentRow(CID_HEADERS))?.viewers >= 1);
    const hb = await waitFor(`bitrate_kbps points for ${CID_HEADERS}`, APPEAR_TIMEOUT_MS, async () => {
      const p = await points('bitrate_kbps', CID_HEADERS);
      return p.length ? p : null;
    });
    measured.headers_bitrate_kbps = hb.at(-1)[1];

    // Event mode: both players' reports accepted (2xx), the cross-origin one too.
    for (const cid of [CID, CID_HEADERS]) {
      const r = await waitFor(`${cid}'s event reports to be accepted by POST /cmcd`, 10_000, async () => {
        const st = await playerState(cid);
        return st.reports.ok >= 3 ? st.reports : null;
      }, 500);
      assert.equal(r.failed, 0, `${cid}: event reports refused: ${JSON.stringify(r.statuses)}`);
      measured[`event_reports_${cid}`] = r;
    }

    // Recorded, not asserted (beyond the contract): the collector's view of
    // the sessions and the Prometheus text for the default region.
    const sessions = await getJson('/cmcd/sessions');
    measured.cmcd_sessions = sessions.status === 200 ? sessions.json : `${sessions.status} ${sessions.body.slice(0, 200)}`;
    const prom = await fetch(`${server.url}/metrics`, { headers: { accept: 'text/plain' }, signal: AbortSignal.timeout(5_000) }).then((r) => r.text());
    measured.prometheus_local = prom.split('\n').filter((l) => l.includes('region="local"') || l.startsWith('streammon_cmcd')).slice(0, 30);
  });

  test('the startup is not counted as rebuffering', async () => {
    // A session that starts in 0.3 s and never stalls has a rebuffering
    // ratio of 0 in every tick: the wait before the first frame is the
    // startup time (startup_time_ms), not rebuffering.
    const p = await points('buffering_ratio', CID);
    const first = p.slice(0, 3);
    measured.startup_buffering_ratio = first.map(([, v]) => v);
    assert.ok(first.length > 0, `no buffering_ratio points for ${CID}`);
    assert.ok(first.every(([, v]) => v <= 0.02),
      `buffering_ratio of ${CID}'s first ticks is ${JSON.stringify(first)}: the startup wait (page: ${measured.page_startup_ms} ms, ` +
      `server: ${measured.server_startup_ms} ms) counts as rebuffering, though the player never stalled`);
  });

  test('the dashboard lists the session\'s title (screenshots docs/screenshots/cmcd-*.png)', async () => {
    assert.ok(existsSync(path.join(DASHBOARD, 'index.html')), `no dashboard build in ${DASHBOARD}: run scripts/dashboard-build.sh`);
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const seen = async () => {
      if (errors.length) assert.fail(`the dashboard failed: ${errors.join('; ')}`);
      return false;
    };
    try {
      await page.goto(`${server.url}/#/content`);
      const row = `[data-testid=content-row][data-id="${CID}"]`;
      await waitFor(`the dashboard's content row for ${CID}`, 20_000, async () => {
        if ((await page.locator(row).count()) > 0) return true;
        // A CMCD title's status may not count as streaming: show every title.
        const only = page.locator('[data-testid=content-streaming-only]');
        if ((await only.count()) > 0 && (await only.isChecked())) await only.uncheck();
        return seen();
      }, 500);
      // Its figures: viewers, bitrate (kb/s or Mb/s), buffering (%), once a tick has filled them.
      const text = await waitFor(`the dashboard's row for ${CID} to show a bitrate and a buffering percentage`, 10_000, async () => {
        const t = await page.locator(row).textContent();
        return /[kM]b\/s/.test(t) && /%/.test(t) ? t : seen();
      }, 500);
      measured.dashboard_row = text;
      await sleep(1_500); // a couple of ticks so the figures are filled in
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, 'cmcd-dashboard.png') });
      await page.goto(`${server.url}/#/content/${encodeURIComponent(CID)}`);
      await waitFor(`the dashboard's detail of ${CID}`, 20_000, async () => (await page.locator('[data-testid=detail-regions]').count()) > 0 || seen(), 500);
      await sleep(2_000);
      await page.screenshot({ path: path.join(SHOTS, 'cmcd-detail.png') });
    } finally {
      await context.close();
    }
  });

  test('throttling the network makes the player stall, and the detectors flag the title', async () => {
    const main = players[CID];
    assert.ok(main?.started, 'the main player never started (see the previous test)');
    await subscribeScoped();
    // A warm, healthy history first: the detectors judge against it.
    const warm = main.started + HEALTHY_S * 1_000 - Date.now();
    if (warm > 0) await sleep(warm);
    const before = await playerState(CID);
    measured.stalls_before_throttle = before.stalls; // 0 expected; CPU starvation could cause one
    const healthyBuffering = (await points('buffering_ratio', CID)).map(([, v]) => v);
    measured.healthy_points = healthyBuffering.length;
    measured.healthy_buffering_max = Math.max(...healthyBuffering);
    const anomaliesBefore = (await getJson(`/analytics?content=${CID}&limit=100`)).json?.anomalies ?? [];
    measured.anomalies_before_throttle = anomaliesBefore.map((a) => `${a.metric} ${a.value}`);

    const cdp = await main.context.newCDPSession(main.page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', THROTTLE);
    const throttledAt = Date.now();
    throttled = throttledAt;
    measured.throttle = THROTTLE;

    const stalled = await waitFor(`${CID} to stall under ${THROTTLE_BPS} B/s`, STALL_TIMEOUT_MS, async () => {
      const st = await playerState(CID);
      return st.stalls > before.stalls ? st : null;
    }, 500);
    measured.stall_after_throttle_ms = (stalled.waitingSince ?? Date.now()) - throttledAt;

    const rebuffer = await waitFor(`buffering_ratio of ${CID} to show rebuffering (> 0.05)`, REBUFFER_TIMEOUT_MS, async () => {
      const p = (await points('buffering_ratio', CID)).filter(([ts]) => ts >= throttledAt - 1_000);
      const hit = p.find(([, v]) => v > 0.05);
      return hit ? { hit, p } : null;
    }, 1_000);
    measured.rebuffering_seen_after_throttle_ms = Date.now() - throttledAt;
    measured.rebuffering_ratio = rebuffer.p.map(([, v]) => v);

    // The rebuffering itself must be flagged; the bitrate drop that comes
    // with it (ABR down to the lowest rendition) usually is too.
    const mine = (a) => a?.kind === 'anomaly' && a.scope?.content_id === CID && a.timestamp_ms >= throttledAt - 1_000;
    const seen = new Set();
    const flagged = await waitFor(`a buffering_ratio anomaly for ${CID} over Socket.IO or GET /analytics`, FLAG_TIMEOUT_MS, async () => {
      const live = scoped.received('anomaly_alert').filter(mine);
      live.forEach((a) => seen.add(a.metric));
      const hit = live.find((a) => a.metric === 'buffering_ratio');
      if (hit) return { via: 'socket.io', a: hit };
      const { json } = await getJson(`/analytics?content=${CID}&limit=100`);
      const polled = (json?.anomalies ?? []).filter(mine);
      polled.forEach((a) => seen.add(a.metric));
      const p = polled.find((a) => a.metric === 'buffering_ratio');
      if (p) return { via: 'GET /analytics', a: p };
      if (seen.size) measured.flagged_metrics_meanwhile = [...seen];
      return null;
    }, 1_000);
    measured.flagged_after_throttle_ms = Date.now() - throttledAt;
    measured.flagged = { via: flagged.via, metric: flagged.a.metric, value: flagged.a.value, score: flagged.a.score,
      severity: flagged.a.severity, detector: flagged.a.detector, reason: flagged.a.reason };
    measured.socket_anomalies = scoped.received('anomaly_alert').filter((a) => a.scope?.content_id === CID)
      .map((a) => `${a.kind} ${a.metric ?? ''} ${a.value ?? ''} ${a.severity}`);
    const after = await playerState(CID);
    measured.stalls = after.stalls;
    measured.stalled_ms = after.stalledMs + (after.waitingSince ? Date.now() - after.waitingSince : 0);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    measured.control = await playerState(CID_HEADERS);
    measured.control_buffering = (await points('buffering_ratio', CID_HEADERS)).slice(-5).map(([, v]) => v);
  });

  test('the dashboard shows the title flagged and its rebuffering (screenshot cmcd-rebuffering.png)', async () => {
    assert.ok(throttled, 'the network was never throttled (see the previous test)');
    assert.ok(existsSync(path.join(DASHBOARD, 'index.html')), `no dashboard build in ${DASHBOARD}: run scripts/dashboard-build.sh`);
    await dashboardAfterThrottle(throttled);
  });
});
