// End-to-end: the dashboard is calm when all is well and loud exactly when
// an alert fires. Two servers, one after the other, each on its own port,
// both with half an hour of simulated history (1 s ticks) like ./run.sh:
//
// - no incident: after two minutes of live data no region is red or amber
//   (Overview, Regions: cards and map), "Needs attention" is empty, no
//   title reads degraded (Content), GET /alerts has no firing alert, and
//   the service's viewers and bandwidth are not drawn as anomalous;
// - a cdn_degradation in eu-west one minute into live data: within 60 s of
//   its start a firing alert naming eu-west is in "Needs attention", and
//   the eu-west region turns red (or its alert's severity colour) with the
//   alert's summary on its card.
//
//   cargo build -p streammon-cli && npm run build && node --test e2e/calm.test.mjs
//
// Both depend on the server: its alerts must fire on viewer impact and
// stay quiet otherwise, and a title's `health` must come from firing
// alerts only (docs/DASHBOARD.md, "What the colours mean").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { Server, ensureBuilt, launchBrowser, sleep, waitFor } from './harness.mjs';

const BACKFILL = '30m';
const LIVE_WAIT_MS = 120_000;
// Offsets of scripted incidents count from the backfill's start: 31m is a
// minute into live data.
const INCIDENT_AT_MS = 31 * 60_000;
const INCIDENT = 'cdn_degradation:eu-west@31m+10m*0.8';
const ALERT_WITHIN_MS = 60_000;
// A tick, the feed's alert batching and a render.
const DELIVERY_SLACK_MS = 2_000;
const SHOTS = os.tmpdir();

/** A server, a browser page on its dashboard, and helpers bound to them. */
function harness(args) {
  const h = { server: new Server(), problems: [] };
  before(async () => {
    ensureBuilt();
    await h.server.start(args);
    h.liveSince = Date.now();
    h.browser = await launchBrowser();
    const context = await h.browser.newContext({ viewport: { width: 1440, height: 900 } });
    h.page = await context.newPage();
    h.page.on('pageerror', (e) => h.problems.push(`page error: ${e.message}`));
    h.page.on('console', (m) => m.type() === 'error' && h.problems.push(`console error: ${m.text()}`));
    await h.page.goto(`${h.server.url}/#/overview`);
    await h.wait('the first live tick', 20_000, async () => (await h.attr('[data-testid=connection-status]', 'data-seq')) !== '');
  });
  after(async () => {
    await h.browser?.close();
    await h.server.stop();
  });
  h.wait = (what, ms, check) => waitFor(what, ms, check, h.server);
  h.attr = (sel, name) => h.page.locator(sel).first().getAttribute(name);
  h.goto = async (hash, ready) => {
    await h.page.evaluate((x) => (window.location.hash = x), hash);
    await h.wait(`${hash} to render`, 15_000, async () => (await h.page.locator(ready).count()) > 0);
  };
  /** `[testid, data-level, data-alert]` of every element whose test id starts with `prefix`. */
  h.levels = (prefix) =>
    h.page.locator(`[data-testid^="${prefix}"]`).evaluateAll((els) => els.map((e) => [e.getAttribute('data-testid'), e.getAttribute('data-level'), e.getAttribute('data-alert')]));
  h.json = async (p) => {
    const r = await fetch(`${h.server.url}${p}`);
    assert.equal(r.status, 200, `GET ${p}: ${r.status}`);
    return r.json();
  };
  h.shot = async (name) => {
    const file = path.join(SHOTS, `streammon-calm-${name}.png`);
    await h.page.screenshot({ path: file }).catch(() => {});
    return file;
  };
  return h;
}

/** The regions an alert names: its group's, and its cause's when that is a region. */
const namedRegions = (a) => [a.group?.region, a.cause?.dimension === 'region' ? a.cause.value : null].filter(Boolean);
const RANK = { info: 0, warning: 1, critical: 2 };
const describeAlert = (a) => `${a.id} ${a.state} ${a.severity} ${a.rule} group=${JSON.stringify(a.group)} cause=${JSON.stringify(a.cause ?? null)}: ${a.summary}`;

describe('calm: no incident, two minutes of live data', () => {
  const h = harness(['--step', '1s', '--backfill', BACKFILL, '--incidents', 'none']);
  const seen = [];

  test('two minutes of live data, and no region turns red or amber on the overview meanwhile', async () => {
    await h.goto('#/overview', '[data-testid=needs-attention]');
    while (Date.now() - h.liveSince < LIVE_WAIT_MS) {
      for (const [id, level, alert] of await h.levels('overview-region-')) {
        if (level !== 'ok') seen.push(`${Math.round((Date.now() - h.liveSince) / 1000)} s into live data: ${id} ${level} (${alert})`);
      }
      const attention = await h.page.locator('[data-testid=needs-attention] [data-testid=feed-item]').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
      if (attention.length) seen.push(`${Math.round((Date.now() - h.liveSince) / 1000)} s into live data: needs attention lists ${attention.join(', ')}`);
      await sleep(5_000);
    }
    assert.deepEqual(seen.slice(0, 20), [], `the overview cried wolf ${seen.length} times`);
  });

  test('Overview: every region calm, nothing needs attention, no KPI amber or red', async () => {
    await h.goto('#/overview', '[data-testid=needs-attention]');
    const regions = await h.levels('overview-region-');
    assert.ok(regions.length >= 8, `regions on the overview: ${JSON.stringify(regions)}`);
    assert.deepEqual(regions.filter(([, level]) => level !== 'ok'), [], 'regions not calm on the overview');
    const attention = await h.page.locator('[data-testid=needs-attention] [data-testid=feed-item] [data-testid=feed-reason]').allTextContents();
    assert.deepEqual(attention, [], 'needs attention is not empty');
    assert.equal(await h.page.locator('[data-testid=needs-attention-empty]').count(), 1);
    assert.equal(await h.page.locator('[data-testid=kpi-open_alerts-value]').textContent(), '0');
    const kpis = await h.levels('kpi-');
    assert.deepEqual(kpis.filter(([id, level]) => level && !['ok', 'none'].includes(level)).map(([id, level]) => `${id} ${level}`), [], 'KPI tiles amber or red');
    assert.equal(await h.attr('[data-testid=alerts-badge]', 'data-firing'), '0');
  });

  test('Regions: no card or map marker red or amber', async () => {
    await h.goto('#/regions', '[data-testid=region-grid]');
    const cards = await h.levels('region-card-');
    const markers = await h.levels('map-region-');
    assert.ok(cards.length >= 8 && markers.length === cards.length, `cards ${cards.length}, markers ${markers.length}`);
    const loud = [...cards, ...markers].filter(([, level]) => level !== 'ok');
    if (loud.length) await h.shot('regions');
    assert.deepEqual(loud, [], 'regions not calm');
    assert.equal(await h.page.locator('[data-testid^=region-alert-]').count(), 0);
  });

  test('Content: no title reads degraded or critical', async () => {
    await h.goto('#/content', '[data-testid=content-row]');
    await h.page.locator('[data-testid=content-streaming-only] input').uncheck();
    const rows = await h.page
      .locator('[data-testid=content-row]')
      .evaluateAll((els) => els.map((e) => [e.getAttribute('data-id'), e.getAttribute('data-health'), e.querySelector('[data-testid=content-health]')?.textContent, e.lastElementChild?.getAttribute('title') ?? '']));
    assert.ok(rows.length >= 40, `content rows: ${rows.length}`);
    const unwell = rows.filter(([, health, shown]) => health !== 'healthy' || shown !== 'healthy');
    assert.deepEqual(
      unwell.slice(0, 10).map(([id, health, , why]) => `${id} ${health}: ${why}`),
      [],
      `${unwell.length} of ${rows.length} titles not healthy`,
    );
  });

  test('GET /alerts: no alert fires', async () => {
    const { alerts } = await h.json('/alerts?limit=1000');
    const firing = alerts.filter((a) => a.state === 'firing');
    assert.deepEqual(firing.map(describeAlert), [], `firing alerts (of ${alerts.length}: ${alerts.map((a) => a.state).join(', ')})`);
  });

  test('Time series: the service\'s viewers and bandwidth are not drawn anomalous from end to end', async () => {
    await h.goto('#/series?metric=viewers', '[data-testid=chart-main]');
    await h.wait('the live window from the backfill', 15_000, async () => Number(await h.attr('[data-testid=chart-main]', 'data-points')) >= 600);
    for (const chart of ['chart-main', 'chart-bandwidth_mbps']) {
      const points = Number(await h.attr(`[data-testid=${chart}]`, 'data-points'));
      const anomalous = Number(await h.attr(`[data-testid=${chart}]`, 'data-anomalous'));
      assert.ok(anomalous * 50 <= points, `${chart === 'chart-main' ? 'viewers' : 'bandwidth'}: ${anomalous} of ${points} points outside the expected range in quiet traffic`);
    }
  });

  test('no console errors or uncaught exceptions', () => {
    assert.deepEqual(h.problems, []);
  });
});

describe('loud: a CDN degradation in eu-west, a minute into live data', () => {
  const h = harness(['--step', '1s', '--backfill', BACKFILL, '--incidents', INCIDENT]);
  let incidentMs;

  test('the incident is still ahead when the page is up', async () => {
    // The simulation starts one tick before the first tick of its history.
    const { ticks } = await h.json('/metrics?limit=3600');
    assert.equal(ticks[0].seq, 1, 'the history holds the whole backfill');
    incidentMs = ticks[0].timestamp_ms - ticks[0].interval_ms + INCIDENT_AT_MS;
    assert.ok(Date.now() < incidentMs, `the incident started ${Date.now() - incidentMs} ms before the page was up`);
  });

  test(`within ${ALERT_WITHIN_MS / 1000} s of its start a firing alert naming eu-west is in "Needs attention", and eu-west turns red`, async () => {
    await h.goto('#/overview', '[data-testid=needs-attention]');
    const deadline = incidentMs + ALERT_WITHIN_MS + DELIVERY_SLACK_MS;
    const item = '[data-testid=needs-attention] [data-testid=feed-item][data-kind=alert][data-state=firing]';
    const namesEuWest = `${item}[data-regions~="eu-west"]`;
    let found = null;
    while (!found && Date.now() < deadline) {
      if ((await h.page.locator(namesEuWest).count()) > 0) found = Date.now();
      else await sleep(250);
    }
    if (!found) {
      const shot = await h.shot('incident');
      const { alerts } = await h.json('/alerts?limit=1000');
      const listed = await h.page.locator(`${item} [data-testid=feed-reason]`).allTextContents();
      assert.fail(
        `no firing alert naming eu-west in "Needs attention" ${Math.round((Date.now() - incidentMs) / 1000)} s after the incident started (listed: ${JSON.stringify(listed)}); ` +
          `GET /alerts: ${alerts.length ? alerts.map(describeAlert).join(' | ') : 'none'}; screenshot ${shot}`,
      );
    }
    const alertId = await h.page.locator(namesEuWest).first().getAttribute('data-id');
    const reason = await h.page.locator(`${namesEuWest} [data-testid=feed-reason]`).first().textContent();
    // Worst first: nothing less severe is listed above it.
    const severities = await h.page.locator(item).evaluateAll((els) => els.map((e) => e.getAttribute('data-severity')));
    assert.deepEqual([...severities].sort((a, b) => RANK[b] - RANK[a]), severities, 'needs attention is worst first');
    // The server says the same.
    const { alerts } = await h.json('/alerts?state=firing&limit=1000');
    const served = alerts.find((a) => `alert:${a.id}` === alertId);
    assert.ok(served, `${alertId} is not firing in GET /alerts: ${alerts.map(describeAlert).join(' | ')}`);
    assert.ok(namedRegions(served).includes('eu-west'), `${describeAlert(served)} does not name eu-west`);
    // The region takes the colour of the worst alert that names it.
    const worst = alerts.filter((a) => namedRegions(a).includes('eu-west')).reduce((w, a) => (RANK[a.severity] > RANK[w] ? a.severity : w), served.severity);
    const expected = worst === 'critical' ? 'bad' : worst === 'warning' ? 'warn' : 'ok';
    // The region: its dot on the overview, its card and marker on the map.
    await h.wait('eu-west red on the overview', 5_000, async () => (await h.attr('[data-testid=overview-region-eu-west]', 'data-level')) === expected);
    await h.goto('#/regions', '[data-testid=region-grid]');
    await h.wait('the eu-west card and marker red', 5_000, async () => (await h.attr('[data-testid=region-card-eu-west]', 'data-level')) === expected && (await h.attr('[data-testid=map-region-eu-west]', 'data-level')) === expected);
    assert.ok((await h.attr('[data-testid=region-card-eu-west]', 'data-alert')) !== '', 'the card names no alert');
    const cardText = await h.page.locator('[data-testid=region-alert-eu-west]').textContent();
    assert.ok(cardText.length > 0, 'the card shows no alert summary');
    const href = await h.attr('[data-testid=region-alert-eu-west]', 'href');
    assert.match(href, /^#\/series\?metric=\w+&region=eu-west.*&from=\d+/);
    // Regions no alert names stay calm.
    let others = [];
    await h.wait('the regions no firing alert names to be calm', 5_000, async () => {
      const named = new Set((await h.json('/alerts?state=firing&limit=1000')).alerts.flatMap(namedRegions));
      others = (await h.levels('region-card-')).filter(([id, level]) => !named.has(id.replace('region-card-', '')) && level !== 'ok');
      return others.length === 0;
    }).catch(() => assert.deepEqual(others, [], 'regions no firing alert names are not calm'));
    await h.shot('incident-regions');
    assert.ok(reason.length > 0);
    console.log(`# firing alert on eu-west after ${((found - incidentMs) / 1000).toFixed(1)} s: ${reason} (${served.severity})`);
  });

  test('no console errors or uncaught exceptions', () => {
    assert.deepEqual(h.problems, []);
  });
});
