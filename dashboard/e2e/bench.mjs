// Browser performance bench: `npm run bench`. The real server with 200
// titles × 10 regions ticking every second; the dashboard open on the
// overview, the series view and the content table, BENCH_MINUTES each
// (default 3), after 16 minutes of backfilled history so the 15-minute ring
// buffers are full from the start. Every
// BENCH_SAMPLE_S (10) seconds it samples the JS heap after a forced GC (CDP
// HeapProfiler.collectGarbage, then Performance.getMetrics JSHeapUsedSize),
// the DOM node count and the frame times since the last sample
// (requestAnimationFrame deltas) and long tasks (> 50 ms); then prints a
// table and a summary per view. Not part of `npm run e2e`.
import { Server, ensureBuilt, launchBrowser, sleep, waitFor } from './harness.mjs';

const MINUTES = Number(process.env.BENCH_MINUTES ?? 3);
const SAMPLE_S = Number(process.env.BENCH_SAMPLE_S ?? 10);
const TITLES = Number(process.env.BENCH_TITLES ?? 200);
const ALL_VIEWS = {
  overview: '#/overview',
  series: '#/series?metric=buffering_ratio&region=eu-west',
  content: '#/content',
};
const VIEWS = (process.env.BENCH_VIEWS ?? 'overview,series,content').split(',').map((v) => [v, ALL_VIEWS[v]]);
// Enough history that the live ring buffers (15 min) are full from the
// first load: any growth after that would be a leak, not the buffers filling.
const BACKFILL = process.env.BENCH_BACKFILL ?? '16m';

const FRAME_PROBE = () => {
  const w = window;
  if (w.__bench) return;
  const b = (w.__bench = { deltas: [], long: [], last: performance.now() });
  const loop = (t) => {
    b.deltas.push(t - b.last);
    if (b.deltas.length > 20_000) b.deltas.shift();
    b.last = t;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) b.long.push(e.duration);
    }).observe({ entryTypes: ['longtask'] });
  } catch {
    // longtask entries unsupported: reported as 0
  }
};

const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const mb = (b) => (b / 1048576).toFixed(1);

const server = new Server();
let browser;
try {
  ensureBuilt();
  console.log(`bench: ${TITLES} titles × 10 regions, 1 s ticks, ${MINUTES} min per view, a sample every ${SAMPLE_S} s`);
  await server.start(['--titles', String(TITLES), '--step', '1s', '--backfill', BACKFILL, '--incidents', 'random=6'], 600_000);
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('HeapProfiler.enable');
  await page.goto(`${server.url}/#/overview`);
  await waitFor('live ticks', 30_000, async () => (await page.locator('[data-testid=connection-status]').getAttribute('data-seq')) !== '', server);

  const summaries = [];
  for (const [name, hash] of VIEWS) {
    await page.evaluate((h) => (window.location.hash = h), hash);
    await page.evaluate(FRAME_PROBE);
    await sleep(3_000);
    const rows = [];
    const allDeltas = [];
    const allLong = [];
    const t0 = Date.now();
    console.log(`\n${name}: t(s)  heap(MB, after GC)  DOM nodes  frames  p50(ms)  p99(ms)  long tasks`);
    while (Date.now() - t0 < MINUTES * 60_000) {
      await sleep(SAMPLE_S * 1000);
      await cdp.send('HeapProfiler.collectGarbage');
      const { metrics } = await cdp.send('Performance.getMetrics');
      const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
      const { deltas, long } = await page.evaluate(() => {
        const b = window.__bench;
        const out = { deltas: b.deltas, long: b.long };
        b.deltas = [];
        b.long = [];
        return out;
      });
      allDeltas.push(...deltas);
      allLong.push(...long);
      const row = { t: Math.round((Date.now() - t0) / 1000), heap: m.JSHeapUsedSize, nodes: m.Nodes, frames: deltas.length, p50: pct(deltas, 50), p99: pct(deltas, 99), long: long.length };
      rows.push(row);
      console.log(`${String(row.t).padStart(9)}  ${mb(row.heap).padStart(18)}  ${String(row.nodes).padStart(9)}  ${String(row.frames).padStart(6)}  ${row.p50.toFixed(1).padStart(7)}  ${row.p99.toFixed(1).padStart(7)}  ${String(row.long).padStart(10)}`);
    }
    const third = Math.max(1, Math.floor(rows.length / 3));
    const avg = (rs) => rs.reduce((a, r) => a + r.heap, 0) / rs.length;
    summaries.push({
      view: name,
      heapFirst: avg(rows.slice(0, third)),
      heapLast: avg(rows.slice(-third)),
      heapMax: Math.max(...rows.map((r) => r.heap)),
      nodesFirst: rows[0].nodes,
      nodesLast: rows[rows.length - 1].nodes,
      p50: pct(allDeltas, 50),
      p99: pct(allDeltas, 99),
      long: allLong.length,
      longMax: allLong.length ? Math.max(...allLong) : 0,
      frames: allDeltas.length,
    });
  }
  const seq = await page.locator('[data-testid=connection-status]').getAttribute('data-seq');
  const gaps = await page.locator('[data-testid=connection-status]').getAttribute('data-gaps');
  console.log(`\nsummary (${TITLES} titles, last seq ${seq}, gaps ${gaps}, console errors ${errors.length})`);
  console.log('view      heap first⅓ (MB)  heap last⅓ (MB)  heap max (MB)  DOM nodes first→last  frames  p50 (ms)  p99 (ms)  long tasks (max ms)');
  for (const s of summaries) {
    console.log(
      `${s.view.padEnd(9)} ${mb(s.heapFirst).padStart(16)}  ${mb(s.heapLast).padStart(15)}  ${mb(s.heapMax).padStart(13)}  ${`${s.nodesFirst}→${s.nodesLast}`.padStart(20)}  ${String(s.frames).padStart(6)}  ${s.p50.toFixed(1).padStart(8)}  ${s.p99.toFixed(1).padStart(8)}  ${`${s.long} (${s.longMax.toFixed(0)})`.padStart(19)}`,
    );
  }
  if (errors.length) console.log('console errors:', errors.slice(0, 5));
} finally {
  await browser?.close();
  await server.stop();
}
