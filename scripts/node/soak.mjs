// The soak's sampler and judge (scripts/soak.sh runs both; see its header).
//
//   node soak.mjs sample --pid PID --url URL --seconds S [--every 10] --csv FILE
//     Every --every seconds for S seconds, appends a row to FILE: the server's
//     resident memory (VmRSS), threads and open descriptors from /proc/PID,
//     its CPU time, and from its own /metrics/prometheus and /health the
//     runtime's live tasks, Socket.IO clients, client samples ingested and
//     refused, events dropped, detector series and state, the tick lag and
//     the samples and streams the store holds. Stops early (exit 1) if the
//     server goes away.
//
//   node soak.mjs summary --csv FILE [--warmup 300] [--ingest ingest.json]
//       [--load load.json] [--rate 50000] [--clients 1000]
//     Prints the summary (RSS at the end of the warm-up, min/max/last after
//     it and the largest deviation; threads, descriptors and tasks after it;
//     the load achieved; errors), then the verdict. Exit 0: the rules hold
//     and the load was held; 2: a rule failed; 3: the rules hold but the
//     load was not held; 1: no data.
//
// The rules, on the readings taken at or after --warmup seconds, against
// the first of them (the "5-minute value" for the default warm-up):
//   RSS          every reading within +-5 % of it;
//   threads      every reading within +-2 of it (the runtime's workers and
//                the pipeline thread are fixed; Tokio's blocking pool may
//                add a thread for a while);
//   descriptors  every reading within +-max(10, 1 %) of it;
//   tasks        (the runtime's live tasks) within +-max(10, 1 %) of it.
// The load is held when at least 90 % of --rate samples/s were accepted over
// the run, every batch was answered 202, ticks kept within 2 s of the clock
// after the warm-up, and every one of --clients Socket.IO clients connected
// and stayed connected.

import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const COLUMNS = [
  't_s', 'time', 'rss_kib', 'threads', 'fds', 'cpu_s', 'tasks', 'socketio_clients', 'client_samples', 'rejected_samples',
  'refused', 'events_dropped', 'detector_series', 'detector_state_bytes', 'tick_lag_s', 'ticks', 'store_samples',
  'store_streams', 'pipeline_cpu_s', 'detect_s', 'publish_s', 'store_s',
];

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad option ${argv[i]}`);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  return o;
}

function proc(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return {
    rss_kib: field('VmRSS'),
    threads: field('Threads'),
    fds: readdirSync(`/proc/${pid}/fd`).length,
    cpu_s: cpuSeconds(stat),
    pipeline_cpu_s: threadCpu(pid, 'streammon-pipel'),
  };
}

/** utime + stime of a /proc stat line, seconds (USER_HZ = 100). */
function cpuSeconds(stat) {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** CPU seconds of the process's threads named `name` (comm is cut at 15 bytes). */
function threadCpu(pid, name) {
  let sum = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === name) {
        sum += cpuSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      }
    } catch { /* the thread ended */ }
  }
  return Math.round(sum * 100) / 100;
}

/** Sum of the samples of a metric family whose labels contain `labels`. */
function prom(text, name, labels = '') {
  let sum = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function fetchText(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

async function reading(pid, url, t0) {
  const p = proc(pid); // before our own connection to it opens a descriptor
  const row = { t_s: Math.round((Date.now() - t0) / 1000), time: new Date().toISOString(), ...p };
  try {
    const text = await fetchText(`${url}/metrics/prometheus`);
    Object.assign(row, {
      tasks: prom(text, 'streammon_runtime_tasks'),
      socketio_clients: prom(text, 'streammon_socketio_clients'),
      client_samples: prom(text, 'streammon_samples_ingested_total', 'source="client"'),
      rejected_samples: prom(text, 'streammon_samples_rejected_total'),
      refused: prom(text, 'streammon_refused_total'),
      events_dropped: prom(text, 'streammon_socketio_events_dropped_total'),
      detector_series: prom(text, 'streammon_detector_series'),
      detector_state_bytes: prom(text, 'streammon_detector_state_bytes'),
      tick_lag_s: prom(text, 'streammon_tick_lag_seconds'),
      ticks: prom(text, 'streammon_ticks_total'),
      detect_s: prom(text, 'streammon_stage_duration_seconds_sum', 'stage="detect"'),
      publish_s: prom(text, 'streammon_stage_duration_seconds_sum', 'stage="publish"'),
      store_s: prom(text, 'streammon_stage_duration_seconds_sum', 'stage="store"'),
    });
  } catch (e) {
    process.stderr.write(`soak: /metrics/prometheus: ${e.message}\n`);
  }
  try {
    const health = JSON.parse(await fetchText(`${url}/health`));
    const m = JSON.stringify(health.storage ?? '').match(/(\d+) samples in (\d+) streams/);
    if (m) Object.assign(row, { store_samples: Number(m[1]), store_streams: Number(m[2]) });
  } catch (e) {
    process.stderr.write(`soak: /health: ${e.message}\n`);
  }
  return row;
}

async function sample(o) {
  const pid = Number(o.pid);
  const every = Number(o.every ?? 10) * 1000;
  const seconds = Number(o.seconds);
  if (!pid || !o.url || !seconds || !o.csv) throw new Error('sample needs --pid, --url, --seconds and --csv');
  writeFileSync(o.csv, COLUMNS.join(',') + '\n');
  const t0 = Date.now();
  let first = null;
  for (let k = 0; k * every <= seconds * 1000; k++) {
    await sleep(Math.max(0, t0 + k * every - Date.now()));
    if (!existsSync(`/proc/${pid}`)) {
      process.stderr.write(`soak: the server (pid ${pid}) is gone after ${Math.round((Date.now() - t0) / 1000)} s\n`);
      process.exit(1);
    }
    const row = await reading(pid, o.url, t0);
    appendFileSync(o.csv, COLUMNS.map((c) => row[c] ?? '').join(',') + '\n');
    first ??= row;
    if (k % Math.max(1, Math.round(60000 / every)) === 0) {
      const rate = row.t_s > first.t_s ? Math.round((row.client_samples - first.client_samples) / (row.t_s - first.t_s)) : 0;
      process.stdout.write(`soak: ${String(row.t_s).padStart(5)} s  RSS ${(row.rss_kib / 1024).toFixed(1)} MiB  ` +
        `threads ${row.threads}  fds ${row.fds}  tasks ${row.tasks}  clients ${row.socketio_clients}  ` +
        `ingest ${rate} samples/s  store ${row.store_samples ?? '?'} samples in ${row.store_streams ?? '?'} streams\n`);
    }
  }
}

function readCsv(file) {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], cols[i] === 'time' ? v : v === '' ? null : Number(v)])));
}

function readJson(file) {
  if (!file) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function summary(o) {
  const warmup = Number(o.warmup ?? 300);
  const rows = readCsv(o.csv);
  const after = rows.filter((r) => r.t_s >= warmup);
  if (after.length === 0) {
    process.stdout.write(`soak: no reading at or after ${warmup} s in ${o.csv}\n`);
    process.exit(1);
  }
  const at = after[0];
  const out = [];
  const say = (s) => out.push(s);
  const fails = [];
  const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
  const range = (k) => {
    const v = after.map((r) => r[k]).filter((x) => x !== null);
    return { min: Math.min(...v), max: Math.max(...v), last: v[v.length - 1], first: at[k] };
  };

  const rss = range('rss_kib');
  const dev = Math.max(...after.map((r) => Math.abs(r.rss_kib - at.rss_kib) / at.rss_kib)) * 100;
  say(`RSS at ${at.t_s} s: ${mib(at.rss_kib)}; after it min ${mib(rss.min)}, max ${mib(rss.max)}, last ${mib(rss.last)}; ` +
    `largest deviation ${dev.toFixed(2)} % (rule: within 5 %)`);
  if (dev > 5) fails.push(`RSS left +-5 % of its ${at.t_s} s value (${dev.toFixed(2)} %)`);
  const peak = rows.reduce((a, r) => (r.rss_kib > a.rss_kib ? r : a));
  say(`RSS over the whole run: ${mib(rows[0].rss_kib)} at ${rows[0].t_s} s, peak ${mib(peak.rss_kib)} at ${peak.t_s} s`);

  const flat = (k, label, tol) => {
    const r = range(k);
    if (r.first === null || r.first === undefined || !Number.isFinite(r.min)) {
      say(`${label}: no readings`);
      fails.push(`${label}: not measured`);
      return;
    }
    const allowed = tol(r.first);
    const ok = r.max - r.first <= allowed && r.first - r.min <= allowed;
    say(`${label} after ${at.t_s} s: ${r.first} at ${at.t_s} s, min ${r.min}, max ${r.max}, last ${r.last} (rule: within +-${allowed})`);
    if (!ok) fails.push(`${label} not flat: ${r.min}..${r.max} against ${r.first} +-${allowed}`);
  };
  flat('threads', 'threads', () => 2);
  flat('fds', 'descriptors', (v) => Math.max(10, Math.round(v / 100)));
  flat('tasks', 'runtime tasks', (v) => Math.max(10, Math.round(v / 100)));

  const last = rows[rows.length - 1];
  const span = last.t_s - rows[0].t_s;
  const rate = span > 0 ? (last.client_samples - rows[0].client_samples) / span : 0;
  const cpu = span > 0 ? ((last.cpu_s - rows[0].cpu_s) / span) * 100 : 0;
  const target = Number(o.rate ?? 50000);
  say(`ingest: ${Math.round(rate)} samples/s accepted by the server over ${span} s (target ${target}); ` +
    `${last.rejected_samples ?? 0} samples rejected, ${last.refused ?? 0} refused at a limit; server CPU ${cpu.toFixed(0)} % of a core`);
  say(`store: ${last.store_samples ?? '?'} samples in ${last.store_streams ?? '?'} streams at the end; ` +
    `detectors follow ${last.detector_series} series (${mib(last.detector_state_bytes / 1024)}); tick lag ${last.tick_lag_s} s`);
  const lag = range('tick_lag_s');
  const pipelineCpu = span > 0 ? ((last.pipeline_cpu_s - rows[0].pipeline_cpu_s) / span) * 100 : 0;
  const ticks = last.ticks - rows[0].ticks;
  const perTick = (k) => (ticks > 0 ? (((last[k] - rows[0][k]) / ticks) * 1000).toFixed(1) : '?');
  say(`pipeline: ${ticks} ticks in ${span} s, the thread at ${pipelineCpu.toFixed(0)} % of a core; per tick detect ${perTick('detect_s')} ms, ` +
    `publish ${perTick('publish_s')} ms, store ${perTick('store_s')} ms; tick lag after ${at.t_s} s at most ${lag.max} s (rule for the load: 2 s)`);
  const problems = [];
  if (rate < 0.9 * target) problems.push(`ingest held ${Math.round(rate)} samples/s, under 90 % of ${target}`);
  if (lag.max > 2) problems.push(`ticks fell ${lag.max} s behind the clock`);

  const ingest = readJson(o.ingest);
  if (ingest) {
    const refused = ingest.batches_sent - (ingest.status?.[202] ?? 0);
    say(`ingest generator: ${ingest.batches_sent} batches sent, ${refused} not 202 (statuses ${JSON.stringify(ingest.status)}, ` +
      `errors ${JSON.stringify(ingest.errors)}), ${ingest.behind} skipped behind schedule; ` +
      `POST p50 ${ingest.latency_ms.p50} ms, p99 ${ingest.latency_ms.p99} ms; its CPU ${ingest.cpu_percent} %`);
    if (refused > 0) problems.push(`${refused} batches not answered 202`);
  } else if (o.ingest) {
    say(`ingest generator: no report (${o.ingest})`);
    problems.push('no ingest report');
  }

  const load = readJson(o.load);
  const clients = Number(o.clients ?? 1000);
  if (load) {
    const d = load.delivery;
    const n = load.connect.connected || 1;
    say(`Socket.IO: ${load.connect.connected}/${load.clients} connected, ${d.disconnects_during_window} disconnects ` +
      `${JSON.stringify(d.disconnect_reasons ?? {})}; per client ${(d.received / n).toFixed(0)} metrics_update ` +
      `(${load.ticks.seen} ticks seen, ${d.missed_updates} missed in all), ${(d.anomaly_alerts / n).toFixed(0)} anomaly_alert, ` +
      `${(d.content_changes / n).toFixed(1)} content_change; ${d.lagged_events} lagged (${d.lagged_dropped} events dropped); ` +
      `latency p50 ${load.latency_ms.p50} ms, p99 ${load.latency_ms.p99} ms; client CPU ${load.client.cpu_percent} %`);
    if (load.connect.connected < clients) problems.push(`${load.connect.connected} of ${clients} clients connected`);
    if (d.disconnects_during_window > 0) problems.push(`${d.disconnects_during_window} clients disconnected`);
  } else if (o.load) {
    say(`Socket.IO: no report (${o.load})`);
    problems.push('no Socket.IO report');
  }
  const clientsSeen = range('socketio_clients');
  say(`Socket.IO clients on the server after ${at.t_s} s: min ${clientsSeen.min}, max ${clientsSeen.max}`);
  if (clientsSeen.min < clients) problems.push(`the server counted ${clientsSeen.min} clients at one point, not ${clients}`);

  say('readings at each milestone (minute: RSS MiB, threads, descriptors, tasks, store samples, tick lag s):');
  for (const min of [1, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120].filter((m) => m * 60 <= last.t_s)) {
    const r = rows.find((x) => x.t_s >= min * 60);
    if (r) say(`  ${String(min).padStart(3)}: ${(r.rss_kib / 1024).toFixed(1)}, ${r.threads}, ${r.fds}, ${r.tasks}, ${r.store_samples}, ${r.tick_lag_s}`);
  }
  const verdict = fails.length ? `FAIL: ${fails.join('; ')}` : 'PASS: RSS within +-5 %, threads, descriptors and tasks flat';
  say(problems.length ? `${verdict}; LOAD NOT HELD: ${problems.join('; ')}` : `${verdict}; load held`);
  process.stdout.write(out.map((l) => `soak: ${l}`).join('\n') + '\n');
  process.exit(fails.length ? 2 : problems.length ? 3 : 0);
}

const [cmd, ...rest] = process.argv.slice(2);
const run = { sample, summary }[cmd];
if (!run) {
  process.stderr.write(readFileSync(new URL(import.meta.url), 'utf8').split('\n\n')[0].replace(/^\/\/ ?/gm, '') + '\n');
  process.exit(cmd === '--help' || cmd === '-h' ? 0 : 1);
}
Promise.resolve(run(parseArgs(rest))).catch((e) => {
  process.stderr.write(`soak: ${e.stack ?? e}\n`);
  process.exit(1);
});
