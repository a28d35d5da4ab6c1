// Pushes samples into `streammon serve` with POST /metrics at a steady rate.
//
// Usage: node ingest.mjs --templates FILE.jsonl [--url http://127.0.0.1:8000]
//          [--rate 50000] [--batch 1000] [--duration 60] [--prefix soak-]
//          [--connections 8] [--progress 10]
//        The token comes from STREAMMON_INGEST_TOKEN (sent as a Bearer token),
//        not from a flag, so that it stays out of `ps`.
//
// The samples are real ones: FILE holds JSON lines in the sample schema, as
// `streammon simulate --titles 500 --duration 11s -o FILE` writes them. Each
// is sent with its content id prefixed (so pushed titles never mix with the
// server's own simulated ones) and the current time as its timestamp; the
// file is cycled through in order, so every (title, region) of it is named
// once per pass. At 50 000 samples/s, 11 simulated seconds of 500 titles
// (50 050 samples, 4 550 streams) are one pass a second: each stream gets
// 11 samples a second, as if eleven CDN edges of its region each reported
// the title once a second.
//
// Batches of --batch samples (at most 1 000, the server's limit) leave on a
// fixed schedule (rate / batch per second) over at most --connections
// keep-alive connections. A batch that cannot leave because every
// connection is busy is skipped and counted as `behind`: the achieved rate
// is what the server took, never what was scheduled. Every --progress
// seconds a line goes to stderr; at the end one JSON object goes to stdout:
// batches and samples sent and accepted, responses by status, transport
// errors, request latency (p50/p99/max ms), the achieved rate, and the
// CPU share of this process. Exits 0 when every batch sent was answered
// 202, 3 otherwise, 1 on error. Targets loopback addresses only.

import { readFileSync } from 'node:fs';
import http from 'node:http';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const o = {
    url: `http://127.0.0.1:${process.env.API_PORT ?? 8000}`, templates: null, rate: 50000, batch: 1000, duration: 60,
    prefix: 'soak-', connections: 8, progress: 10,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') {
      process.stderr.write(readFileSync(new URL(import.meta.url), 'utf8').split('\n\n')[0].replace(/^\/\/ ?/gm, '') + '\n');
      process.exit(0);
    }
    const key = flag.slice(2);
    if (!flag.startsWith('--') || !(key in o) || argv[i + 1] === undefined) throw new Error(`bad option ${flag} (see --help)`);
    o[key] = ['url', 'templates', 'prefix'].includes(key) ? argv[i + 1] : Number(argv[i + 1]);
    if (typeof o[key] === 'number' && !(o[key] > 0)) throw new Error(`${flag} must be a number > 0`);
  }
  if (!o.templates) throw new Error('--templates FILE is required (see --help)');
  if (o.batch > 1000) throw new Error('--batch is at most 1000, the server refuses larger batches');
  const host = new URL(o.url).hostname;
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host)) {
    throw new Error(`refusing to load ${host}: this generator only targets loopback addresses`);
  }
  return o;
}

/**
 * The template samples as the text around their timestamp: a sample's JSON
 * opens with `{"schema":1,"timestamp_ms":` (the wire order is fixed), so
 * sending one costs a string concatenation, not a JSON encoding.
 */
function loadTemplates(file, prefix) {
  const parts = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const m = line.match(/^(\{"schema":\d+,"timestamp_ms":)-?\d+(,.*\})$/);
    if (!m || !m[2].includes('"content_id":"')) throw new Error(`${file}: not a sample in the wire order: ${line.slice(0, 80)}`);
    parts.push([m[1], m[2].replace('"content_id":"', `"content_id":"${prefix}`)]);
  }
  if (parts.length === 0) throw new Error(`${file}: no samples`);
  return parts;
}

function quantiles(values) {
  const a = Float64Array.from(values).sort();
  const q = (p) => (a.length ? Math.round(a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)] * 10) / 10 : null);
  return { count: a.length, p50: q(0.5), p99: q(0.99), max: q(1) };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const token = process.env.STREAMMON_INGEST_TOKEN;
  const say = (s) => process.stderr.write(`ingest: ${s}\n`);
  const templates = loadTemplates(o.templates, o.prefix);
  const url = new URL('/metrics', o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };

  const stats = {
    batches_scheduled: 0, batches_sent: 0, behind: 0, samples_sent: 0, samples_accepted: 0,
    status: {}, errors: {},
  };
  const latencies = [];
  let inFlight = 0;
  let next = 0; // index of the next template sample

  function send() {
    const ts = Date.now();
    const body = new Array(o.batch);
    for (let k = 0; k < o.batch; k++) {
      const [head, tail] = templates[next];
      body[k] = head + ts + tail;
      next = (next + 1) % templates.length;
    }
    const payload = `[${body.join(',')}]`;
    inFlight++;
    stats.batches_sent++;
    stats.samples_sent += o.batch;
    const t = performance.now();
    const done = (key, bucket) => {
      inFlight--;
      bucket[key] = (bucket[key] ?? 0) + 1;
      latencies.push(performance.now() - t);
    };
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 202) {
          try {
            stats.samples_accepted += Number(JSON.parse(Buffer.concat(chunks).toString()).accepted) || 0;
          } catch { /* counted by status */ }
        }
        done(res.statusCode, stats.status);
      });
      res.on('error', (e) => done(e.code ?? e.message, stats.errors));
    });
    req.on('error', (e) => done(e.code ?? e.message, stats.errors));
    req.end(payload);
  }

  say(`${templates.length} template samples from ${o.templates}; ${o.rate} samples/s in batches of ${o.batch} to ${url} for ${o.duration} s`);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const periodMs = (1000 * o.batch) / o.rate;
  const endMs = o.duration * 1000;
  let scheduled = 0;
  let lastReport = { at: 0, sent: 0, accepted: 0 };
  while (performance.now() - start < endMs) {
    const due = Math.floor((performance.now() - start) / periodMs) + 1;
    while (scheduled < due) {
      scheduled++;
      stats.batches_scheduled++;
      if (inFlight < o.connections) send();
      else stats.behind++;
    }
    const now = performance.now() - start;
    if (now - lastReport.at >= o.progress * 1000) {
      const s = (now - lastReport.at) / 1000;
      say(`${(now / 1000).toFixed(0)} s: ${Math.round((stats.samples_sent - lastReport.sent) / s)} samples/s sent, ` +
        `${Math.round((stats.samples_accepted - lastReport.accepted) / s)} accepted, ${stats.behind} batches behind, ` +
        `statuses ${JSON.stringify(stats.status)}, errors ${JSON.stringify(stats.errors)}`);
      lastReport = { at: now, sent: stats.samples_sent, accepted: stats.samples_accepted };
    }
    await sleep(Math.max(1, Math.min(periodMs, start + scheduled * periodMs - performance.now())));
  }
  const wall = (performance.now() - start) / 1000;
  for (let i = 0; i < 500 && inFlight > 0; i++) await sleep(20);
  agent.destroy();
  const cpu = process.cpuUsage(cpu0);
  const report = {
    url: url.href, rate_target: o.rate, batch: o.batch, duration_s: Math.round(wall * 10) / 10, templates: templates.length,
    ...stats,
    in_flight_at_end: inFlight,
    accepted_per_s: Math.round(stats.samples_accepted / wall),
    latency_ms: quantiles(latencies),
    cpu_percent: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 1000) / 10,
  };
  const refused = stats.batches_sent - (stats.status[202] ?? 0);
  report.ok = refused === 0;
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  say(`${report.ok ? 'OK' : 'NOT OK'}: ${report.accepted_per_s} samples/s accepted (target ${o.rate}), ` +
    `${stats.batches_sent} batches sent, ${refused} not answered 202, ${stats.behind} skipped behind schedule; ` +
    `latency p50 ${report.latency_ms.p50} ms, p99 ${report.latency_ms.p99} ms; CPU ${report.cpu_percent} %`);
  process.exit(report.ok ? 0 : 3);
}

main().catch((e) => {
  process.stderr.write(`ingest: ${e.stack ?? e}\n`);
  process.exit(1);
});
