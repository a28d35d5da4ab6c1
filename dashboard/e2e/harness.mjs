// Shared by the end-to-end test and the browser bench: the real
// `streammon serve` on a free port serving the production build, and
// Debian's Chromium driven by playwright-core. Every wait is bounded and
// fails with what it waited for and the server's last log lines.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const DASHBOARD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(DASHBOARD, '..');
export const BIN = process.env.STREAMMON_BIN
  ? path.resolve(process.env.STREAMMON_BIN)
  : path.resolve(REPO, process.env.CARGO_TARGET_DIR ?? 'target', 'debug/streammon');
export const DIST = path.join(DASHBOARD, 'dist');
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());

export function freePort() {
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

/** Builds the dashboard when `dist` is missing (the server serves it at `/`). */
export function ensureBuilt() {
  if (existsSync(path.join(DIST, 'index.html')) && !process.env.E2E_REBUILD) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: DASHBOARD, stdio: 'inherit' });
  assert.equal(r.status, 0, 'npm run build failed');
}

/** A TOML config for `serve --config`. */
export function writeConfig(toml) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'streammon-e2e-'));
  const file = path.join(dir, 'sim.toml');
  writeFileSync(file, toml);
  return file;
}

export class Server {
  constructor() {
    this.log = [];
    this.child = null;
    this.exit = null;
  }

  tail(n = 30) {
    return this.log.slice(-n).join('\n');
  }

  async start(args, timeoutMs = 90_000) {
    assert.ok(existsSync(BIN), `server binary not found at ${BIN}: build it (cargo build -p streammon-cli) or set STREAMMON_BIN`);
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const full = ['serve', '--host', '127.0.0.1', '--port', String(this.port), '--store', 'memory', '--dashboard', DIST, ...args];
    this.command = `${BIN} ${full.join(' ')}`;
    this.child = spawn(BIN, full, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' } });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    const ready = new Promise((resolve) => {
      let buf = '';
      let listening = false;
      const onData = (chunk) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop();
        for (const line of lines) {
          this.log.push(line);
          if (this.log.length > 500) this.log.shift();
          if (line.includes(`listening on http://127.0.0.1:${this.port}`)) listening = true;
          if (listening && line.includes('live: ticks paced')) resolve();
        }
      };
      this.child.stderr.setEncoding('utf8').on('data', onData);
      this.child.stdout.setEncoding('utf8').on('data', onData);
    });
    const r = await Promise.race([ready.then(() => 'ready'), this.exited.then(() => 'exited'), deadline(timeoutMs).then(() => 'timeout')]);
    assert.equal(r, 'ready', `server not ready (${r}, exit ${JSON.stringify(this.exit)}); command: ${this.command}\n--- server log ---\n${this.tail()}`);
  }

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

export async function launchBrowser() {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: install it with \`apt-get install chromium\` (or set CHROMIUM_BIN)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Polls `check` (sync or async) until truthy or `ms` pass, then fails with `what`. */
export async function waitFor(what, ms, check, server) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      assert.fail(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}${server ? `\n--- server log ---\n${server.tail(15)}` : ''}`);
    }
    await sleep(150);
  }
}
