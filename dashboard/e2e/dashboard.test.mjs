// End-to-end test of the dashboard against the real server, in headless
// Chromium: live data arrives, an injected CDN incident in eu-west shows in
// the alert feed, the region filter keeps only eu-west, an alert link opens
// the series view with its window highlighted, the content table follows
// content_change events, eu-west turns red once its alert fires, the
// socket reconnects and backfills after a drop; and it writes the
// screenshots of docs/screenshots/dashboard-*.png. Calm and loud exactly
// when an alert fires: calm.test.mjs.
//
//   cargo build -p streammon-cli && npm run build && npm run e2e
//
// STREAMMON_BIN overrides the server binary (default target/debug/streammon
// at the repository root, or $CARGO_TARGET_DIR/debug/streammon).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO, Server, ensureBuilt, launchBrowser, sleep, waitFor, writeConfig } from './harness.mjs';

const SHOTS = path.join(REPO, 'docs', 'screenshots');
// Ten minutes of history so charts start full; the incident 10 s into real
// time (scripted offsets count from the backfill's start).
const BACKFILL = '10m';
const INCIDENT = 'cdn_degradation:eu-west@610s+10m*1';
// On-demand titles retire after a minute on average: a content_change every
// few seconds. Forecasts in 5 s steps, so the forecasters are warm after
// the backfill (with the default 1-minute steps they need well over an hour).
const SIM_TOML = '[simulator]\nvod_lifetime = "1m"\nlive_gap = "1m"\n\n[pipeline.forecast]\nevery = "5s"\n';

const server = new Server();
let browser;
let page;
const problems = [];
let ignoreNetworkErrors = false;
let ackedId = null;

before(async () => {
  ensureBuilt();
  await server.start(['--step', '1s', '--backfill', BACKFILL, '--incidents', INCIDENT, '--config', writeConfig(SIM_TOML)]);
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (ignoreNetworkErrors) return;
    problems.push(`console error: ${m.text()}`);
  });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server.stop();
});

const wait = (what, ms, check) => waitFor(what, ms, check, server);
const text = (sel) => page.locator(sel).first().textContent();
const attr = (sel, name) => page.locator(sel).first().getAttribute(name);
const goto = async (hash) => {
  await page.evaluate((h) => (window.location.hash = h), hash);
};
const shot = (name) => page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`) });

test('the app loads from the server at / and live data arrives', async () => {
  await page.goto(`${server.url}/#/overview`);
  await wait('the first tick (connection chip with a seq)', 20_000, async () => (await attr('[data-testid=connection-status]', 'data-seq')) !== '');
  const seq0 = Number(await attr('[data-testid=connection-status]', 'data-seq'));
  const viewers0 = await text('[data-testid=kpi-viewers-value]');
  await wait('seq to advance by 3 and the viewers KPI to change', 20_000, async () => {
    const seq = Number(await attr('[data-testid=connection-status]', 'data-seq'));
    return seq >= seq0 + 3 && (await text('[data-testid=kpi-viewers-value]')) !== viewers0;
  });
  assert.match(await text('[data-testid=kpi-latency_ms-value]'), /\d+ ms/);
  assert.equal(await attr('[data-testid=connection-status]', 'data-status'), 'connected');
});

test('the injected eu-west incident appears in the alert feed, and the region filter keeps only eu-west', async () => {
  await goto('#/alerts');
  await wait('an eu-west alert or anomaly in the feed', 45_000, async () => (await page.locator('[data-testid=feed-item][data-region=eu-west]').count()) > 0);
  const reason = await page.locator('[data-testid=feed-item][data-region=eu-west] [data-testid=feed-reason]').first().textContent();
  assert.match(reason, /eu-west/);
  // Let anomalies from elsewhere and the alert engine's groups arrive too.
  await wait('an alert (not only anomalies) for eu-west', 45_000, async () => (await page.locator('[data-testid=feed-item][data-kind=alert][data-region=eu-west]').count()) > 0);
  await page.locator('[data-testid=alerts-region]').click();
  await page.locator('[data-testid=alerts-region-eu-west]').click();
  await wait('the feed to show only eu-west items', 10_000, async () => {
    const regions = await page.locator('[data-testid=feed-item]').evaluateAll((els) => els.map((e) => e.getAttribute('data-region')));
    return regions.length > 0 && regions.every((r) => r === 'eu-west');
  });
  // Acknowledge one, on the server, with a name and a comment; it stays
  // acknowledged across a reload.
  const first = page.locator('[data-testid=feed-item][data-kind=alert][data-acked=no]').first();
  ackedId = await first.getAttribute('data-id');
  await first.locator('[data-testid=feed-ack]').click();
  // Asked once for the name (two operators in two browsers: acks.test.mjs).
  await page.locator('[data-testid=operator-name]').fill('alice');
  await page.locator('[data-testid=operator-save]').click();
  await page.locator('[data-testid=action-comment]').fill('looking at the CDN');
  await page.locator('[data-testid=action-submit]').click();
  await wait('the item acknowledged', 5_000, async () => (await attr(`[data-testid=feed-item][data-id="${ackedId}"]`, 'data-acked')) === 'yes');
  assert.equal(await attr(`[data-testid=feed-item][data-id="${ackedId}"]`, 'data-acked-by'), 'alice');
  await wait('the dialog gone', 5_000, async () => (await page.locator('[data-testid=alert-action-dialog]').count()) === 0);
  await shot('alerts');
});

test('an alert link opens the series view with the window highlighted and the bands drawn', async () => {
  await goto('#/alerts?region=eu-west');
  // A regional alert (across several titles) links to the region's series, which carry bands.
  const link = await wait('a regional eu-west alert', 45_000, async () => {
    const links = page.locator('[data-testid=feed-item][data-kind=alert][data-region=eu-west] [data-testid=feed-link]');
    const n = await links.count();
    for (let i = 0; i < n; i++) {
      const h = await links.nth(i).getAttribute('href');
      if (!h.includes('content=')) return links.nth(i);
    }
    return null;
  });
  const href = await link.getAttribute('href');
  assert.match(href, /^#\/series\?metric=\w+&region=eu-west.*&from=\d+/);
  await link.click();
  await wait('the series view', 10_000, async () => (await page.locator('[data-testid=chart-main]').count()) > 0);
  assert.match(page.url(), /region=eu-west/);
  await wait('the main chart with points, the expected band and the highlighted window', 15_000, async () => {
    const points = Number(await attr('[data-testid=chart-main]', 'data-points'));
    const band = Number(await attr('[data-testid=chart-main]', 'data-band-points'));
    const hl = await attr('[data-testid=chart-main]', 'data-highlight');
    return points > 30 && band > 30 && /^\d+-/.test(hl);
  });
  assert.match(await text('[data-testid=series-window]'), /window \d\d:\d\d:\d\d →/);
  assert.match(await text('[data-testid=series-scope]'), /eu-west/);
  await shot('series');
  // The incident shows as anomalous points (score ≥ 0.5) on the region's series.
  await goto('#/series?metric=buffering_ratio&region=eu-west');
  await wait('anomalous points on eu-west buffering', 20_000, async () => Number(await attr('[data-testid=chart-main]', 'data-anomalous')) > 0);
  await wait('the rendition mix chart', 10_000, async () => (await page.locator('[data-testid=chart-renditions] canvas').count()) > 0);
  // History from REST: the range picker.
  await page.locator('[data-testid=range-1h]').click();
  await wait('history points from the REST API', 20_000, async () => /1h/.test(await text('[data-testid=series-scope]')) && Number(await attr('[data-testid=chart-main]', 'data-points')) > 5);
  assert.match(page.url(), /range=1h/);
});

test('the content table is live: content_change events update it', async () => {
  await goto('#/content');
  await wait('content rows', 15_000, async () => (await page.locator('[data-testid=content-row]').count()) >= 10);
  await page.locator('[data-testid=content-streaming-only] input').uncheck();
  const change = await wait('a content_change in the live list', 40_000, async () => {
    const el = page.locator('[data-testid=content-change]').first();
    if ((await el.count()) === 0) return null;
    return { id: await el.getAttribute('data-id'), to: await el.getAttribute('data-to') };
  });
  await wait(`row ${change.id} to show status ${change.to}`, 5_000, async () => (await attr(`[data-testid=content-row][data-id="${change.id}"]`, 'data-status')) === change.to);
  await page.locator('[data-testid=content-streaming-only] input').check();
  await page.locator('[data-testid=sort-buffering_ratio]').click();
  await shot('content');
  await page.locator('[data-testid=content-link]').first().click();
  await wait('the title detail with its regions', 15_000, async () => (await page.locator('[data-testid=detail-regions]').count()) > 0);
});

test('regions: eu-west red once an alert naming it fires, with its summary; analytics render', async () => {
  await goto('#/regions');
  // A region turns red only while a firing alert names it: the buffering
  // rule fires two minutes into the incident.
  await wait('eu-west flagged amber or red by a firing alert', 150_000, async () => ['warn', 'bad'].includes(await attr('[data-testid=region-card-eu-west]', 'data-level')));
  assert.notEqual(await attr('[data-testid=region-card-eu-west]', 'data-alert'), '');
  assert.match(await text('[data-testid=region-alert-eu-west]'), /eu-west/);
  assert.ok((await page.locator('[data-testid=region-map] a').count()) >= 8);
  await shot('regions');
  await goto('#/analytics');
  await wait('detector stats', 15_000, async () => (await page.locator('[data-testid=detector-stats]').count()) > 0);
  await wait('a forecast chart per region', 15_000, async () => (await page.locator('[data-testid^=forecast-]').count()) >= 8);
  await wait('forecasts with prediction intervals', 20_000, async () => (await page.locator('[data-testid=forecasts-warming]').count()) === 0);
  await shot('analytics');
});

test('themes: light persists across a reload; dark screenshot', async () => {
  await goto('#/overview');
  await wait('overview KPIs', 10_000, async () => (await page.locator('[data-testid=kpi-viewers]').count()) > 0);
  await shot('overview-dark');
  await page.locator('[data-testid=theme-toggle]').click();
  await wait('light theme', 5_000, async () => (await attr('[data-testid=view-overview]', 'data-theme')) === 'light');
  await page.reload();
  await wait('light theme after reload', 15_000, async () => (await attr('main', 'data-theme')) === 'light');
  await wait('KPIs after reload', 20_000, async () => (await page.locator('[data-testid=kpi-viewers]').count()) > 0);
  await wait('sparklines filled from the backfill', 10_000, async () => (await attr('[data-testid=connection-status]', 'data-backfilled')) !== '0');
  await sleep(1500);
  await shot('overview');
  // The acknowledgement survived the reload (a pending alert that cleared
  // is gone from the server, so the item itself may be gone too).
  // The operator's name is remembered in this browser; acknowledgements
  // are the server's.
  const saved = await page.evaluate(() => JSON.parse(localStorage.getItem('streammon.dashboard.v1') ?? '{}'));
  assert.equal(saved.operator, 'alice', JSON.stringify(saved));
  assert.equal(saved.acked, undefined, 'acknowledgements are not kept in the browser');
  await goto('#/alerts?region=eu-west');
  await wait('the feed after reload', 15_000, async () => (await page.locator('[data-testid=feed-item]').count()) > 0);
  const item = page.locator(`[data-testid=feed-item][data-id="${ackedId}"]`);
  if ((await item.count()) > 0) assert.equal(await item.getAttribute('data-acked'), 'yes');
});

test('a dropped connection shows the banner, reconnects and backfills the gap', async () => {
  await goto('#/overview');
  const before = Number(await attr('[data-testid=connection-status]', 'data-backfilled'));
  ignoreNetworkErrors = true;
  await page.context().setOffline(true);
  await wait('the reconnect banner', 30_000, async () => (await page.locator('[data-testid=reconnect-banner]').count()) > 0);
  await sleep(3_000);
  await page.context().setOffline(false);
  await wait('connected again', 30_000, async () => (await attr('[data-testid=connection-status]', 'data-status')) === 'connected');
  await wait('the banner gone and ticks backfilled', 15_000, async () => (await page.locator('[data-testid=reconnect-banner]').count()) === 0 && Number(await attr('[data-testid=connection-status]', 'data-backfilled')) > before);
  await sleep(2_000);
  ignoreNetworkErrors = false;
  const seqA = Number(await attr('[data-testid=connection-status]', 'data-seq'));
  await wait('live ticks after the reconnect', 10_000, async () => Number(await attr('[data-testid=connection-status]', 'data-seq')) > seqA);
});

test('no console errors or uncaught exceptions', () => {
  assert.deepEqual(problems, []);
});
