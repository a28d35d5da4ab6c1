// End-to-end: the long views. After 24 simulated hours of backfill (10 s
// ticks, 4 titles, so it takes seconds), the Time series view's 24h range
// draws the whole day at minute resolution from the server's roll-ups, for
// the whole service and for a region, and its 7d range draws what there is
// in 10-minute steps (issue 18).
//
//   cargo build -p streammon-cli && npm run build && node --test e2e/history.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ensureBuilt, launchBrowser, waitFor } from './harness.mjs';

const server = new Server();
let browser;
let page;
const problems = [];

before(async () => {
  ensureBuilt();
  await server.start(['--backfill', '24h', '--step', '10s', '--titles', '4', '--incidents', 'none']);
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${server.url}/#/overview`);
});

after(async () => {
  await browser?.close();
  await server.stop();
});

/** The main chart's point count once the view of `hash` has drawn `low` to `high` points. */
async function pointsOf(hash, low, high) {
  await page.evaluate((x) => (window.location.hash = x), hash);
  let points = 0;
  await waitFor(`${hash} to draw ${low} to ${high} points (last ${points})`, 20_000, async () => {
    points = Number(await page.locator('[data-testid=chart-main]').first().getAttribute('data-points').catch(() => '0'));
    return points >= low && points <= high;
  }, server);
  return points;
}

test('the 24h view draws the whole day by the minute; the 7d view in 10-minute steps', async () => {
  for (const hash of ['#/series?metric=viewers&range=24h', '#/series?metric=latency_ms&region=eu-west&range=24h']) {
    const started = Date.now();
    // A day is 1 440 minutes; the first may start before the range and the
    // current one is still open.
    const points = await pointsOf(hash, 1_437, 1_440);
    console.log(`${hash}: ${points} points in ${Date.now() - started} ms`);
  }
  // The day there is, in 10-minute steps.
  const week = await pointsOf('#/series?metric=viewers&range=7d', 143, 145);
  console.log(`7d: ${week} points`);
  assert.deepEqual(problems, []);
});
