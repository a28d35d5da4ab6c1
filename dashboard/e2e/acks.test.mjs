// End-to-end: acknowledgements and silences are the server's, so two
// operators in two browsers see each other's. One server whose eu-west
// incident starts inside the backfill, so an alert fires as soon as the
// server is up; two browser contexts (two operators, each with their own
// local storage):
//
// - alice acknowledges the alert with a comment; bob's dashboard shows
//   "acknowledged by alice" (the comment as its tooltip) within 2 s;
// - bob silences alerts "like this"; alice's shows the alert silenced, still
//   listed, and the silence in her silences panel;
// - alice expires the silence and takes her acknowledgement back: bob's
//   shows the alert open again;
// - #/alerts/<id> points the alert out.
// A second server with an admin token: a dashboard without it is told how
// to get it, and after /?token=… it may acknowledge.
//
//   cargo build -p streammon-cli && npm run build && node --test e2e/acks.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ensureBuilt, launchBrowser, waitFor } from './harness.mjs';

// The incident starts 7 minutes into a 10-minute backfill and lasts 20:
// its alert fires before the server is up and keeps firing.
const ARGS = ['--step', '1s', '--backfill', '10m', '--incidents', 'cdn_degradation:eu-west@7m+20m*1'];
const PROPAGATION_MS = 2_000;
const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';
const DENIED = 'Acknowledging and silencing need an admin token: open this dashboard once as /?token=<admin token>';

let browser;
before(async () => {
  ensureBuilt();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** An operator: a browser context of its own, on `server`'s dashboard. */
async function operator(server, problems, who, hash = '#/alerts') {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`${who}: console error: ${m.text()}`));
  await page.goto(`${server.url}/${hash}`);
  const attr = (sel, name) => page.locator(sel).first().getAttribute(name);
  return { page, attr };
}

/** Says who is acting when the dashboard first asks. */
async function giveName(page, name) {
  await page.locator('[data-testid=operator-name]').fill(name);
  await page.locator('[data-testid=operator-save]').click();
}

describe('two operators, no tokens (the ./run.sh case)', () => {
  const server = new Server();
  const problems = [];
  const wait = (what, ms, check) => waitFor(what, ms, check, server);
  let alice;
  let bob;
  let alertId;
  let item;

  before(async () => {
    await server.start(ARGS);
    alice = await operator(server, problems, 'alice');
    bob = await operator(server, problems, 'bob');
  });
  after(() => server.stop());

  test('a firing alert is listed in both dashboards, open', async () => {
    const firing = '[data-testid=alerts-list] [data-testid=feed-item][data-kind=alert][data-state=firing][data-regions~="eu-west"][data-handled=no]';
    alertId = await wait('a firing eu-west alert in the first dashboard', 30_000, () => alice.attr(firing, 'data-alert-id'));
    item = `[data-testid=alerts-list] [data-testid=feed-item][data-alert-id="${alertId}"]`;
    await wait('the same alert in the second dashboard', 10_000, async () => (await bob.attr(item, 'data-handled')) === 'no');
  });

  test(`acknowledged in one dashboard, shown as such in the other within ${PROPAGATION_MS} ms`, async () => {
    await alice.page.locator(`${item} [data-testid=feed-ack]`).click();
    // Asked once for the name, then the acknowledgement's dialog.
    await giveName(alice.page, 'alice');
    assert.match(await alice.page.locator('[data-testid=action-operator]').textContent(), /Recorded as alice/);
    await alice.page.locator('[data-testid=action-comment]').fill('CDN ticket 4711');
    // From before the click (its own handling included) to the other page showing it.
    const t0 = Date.now();
    await alice.page.locator('[data-testid=action-submit]').click();
    await wait('the acknowledgement in the second dashboard', 10_000, async () => (await bob.attr(item, 'data-acked-by')) === 'alice');
    const propagated = Date.now() - t0;
    console.log(`# acknowledgement shown in the second browser ${propagated} ms from the click`);
    assert.ok(propagated <= PROPAGATION_MS, `the acknowledgement took ${propagated} ms to reach the second dashboard`);
    assert.match(await bob.page.locator(`${item} [data-testid=feed-acked]`).textContent(), /^acknowledged by alice \d+s ago$/);
    assert.equal(await bob.attr(`${item} [data-testid=feed-acked]`, 'aria-label'), 'CDN ticket 4711', 'the comment is the tooltip');
    assert.equal(await bob.attr(item, 'data-handled'), 'yes', 'an acknowledged alert is not open');
    assert.equal(await alice.attr('[data-testid=operator-chip]', 'data-operator'), 'alice');
  });

  test('silenced "like this" from the second dashboard: the first marks it silenced and still lists it', async () => {
    await bob.page.locator(`${item} [data-testid=feed-silence]`).click();
    await giveName(bob.page, 'bob');
    const matchers = await bob.page.locator('[data-testid=silence-matchers]').textContent();
    assert.match(matchers, /region=eu-west/, 'region is picked by default');
    assert.match(matchers, /rule=\w+/, 'rule is picked by default');
    assert.doesNotMatch(matchers, /metric=|title=/, 'only region and rule are picked by default');
    await bob.page.locator('[data-testid=action-comment]').fill('known CDN issue');
    const t0 = Date.now();
    await bob.page.locator('[data-testid=action-submit]').click();
    await wait('the alert marked silenced in the first dashboard', PROPAGATION_MS, async () => (await alice.attr(item, 'data-silenced')) === 'yes');
    console.log(`# silence shown in the first browser ${Date.now() - t0} ms from the click`);
    assert.equal(await alice.page.locator(item).count(), 1, 'a silenced alert is still listed');
    assert.match(await alice.attr(`${item} [data-testid=feed-silenced]`, 'aria-label'), /known CDN issue/);
    const silence = '[data-testid=silence][data-state=active]';
    await wait('the silence in the first dashboard\'s panel', 2_000, async () => /by bob — known CDN issue/.test(await alice.page.locator(silence).first().textContent()));
  });

  test('the silence expired and the acknowledgement taken back in the first: open again in the second', async () => {
    await alice.page.locator('[data-testid=silence][data-state=active] [data-testid=silence-expire]').first().click();
    await wait('the silence gone in the second dashboard', PROPAGATION_MS, async () => (await bob.attr(item, 'data-silenced')) === 'no');
    assert.equal(await bob.attr(item, 'data-handled'), 'yes', 'still acknowledged');
    const t0 = Date.now();
    await alice.page.locator(`${item} [data-testid=feed-unack]`).click();
    await wait('the alert open again in the second dashboard', PROPAGATION_MS, async () => (await bob.attr(item, 'data-handled')) === 'no');
    console.log(`# unacknowledgement shown in the second browser ${Date.now() - t0} ms from the click`);
    assert.equal(await bob.attr(item, 'data-acked'), 'no');
    assert.equal(await bob.page.locator(`${item} [data-testid=feed-ack]`).count(), 1, 'it can be acknowledged again');
  });

  test('#/alerts/<id> points the alert out', async () => {
    await bob.page.goto(`${server.url}/#/alerts/${alertId}`);
    await wait('the linked alert highlighted', 15_000, async () => (await bob.attr(item, 'data-highlight')) === 'yes');
    assert.equal(await bob.page.locator('[data-testid=feed-item][data-highlight=yes]').count(), 1);
  });

  test('no console errors or uncaught exceptions', () => {
    assert.deepEqual(problems, []);
  });
});

describe('a server with an admin token', () => {
  const server = new Server();
  const problems = [];
  const wait = (what, ms, check) => waitFor(what, ms, check, server);

  before(() => server.start([...ARGS, '--admin-token', ADMIN_TOKEN]));
  after(() => server.stop());

  test('without the token the dashboard says how to get it; after /?token=… it acknowledges', async () => {
    const { page, attr } = await operator(server, problems, 'carol');
    const open = '[data-testid=alerts-list] [data-testid=feed-item][data-kind=alert][data-state=firing][data-handled=no]';
    const alertId = await wait('a firing alert', 30_000, () => attr(open, 'data-alert-id'));
    const item = `[data-testid=alerts-list] [data-testid=feed-item][data-alert-id="${alertId}"]`;
    await page.locator(`${item} [data-testid=feed-ack]`).click();
    await giveName(page, 'carol');
    await page.locator('[data-testid=action-submit]').click();
    await wait('the admin-token message', 5_000, async () => (await page.locator('[data-testid=action-error]').count()) > 0);
    assert.match(await page.locator('[data-testid=action-error]').textContent(), new RegExp(DENIED.replace(/[?<>/]/g, '.')));
    assert.equal(await attr(item, 'data-acked'), 'no');
    // The browser logs the refused request; that one is expected.
    problems.splice(0, problems.length, ...problems.filter((p) => !/status of 401/.test(p)));

    await page.goto(`${server.url}/?token=${ADMIN_TOKEN}`);
    await page.evaluate(() => (window.location.hash = '#/alerts'));
    await page.locator(`${item} [data-testid=feed-ack]`).click();
    await page.locator('[data-testid=action-submit]').click();
    await wait('the alert acknowledged by carol', 5_000, async () => (await attr(item, 'data-acked-by')) === 'carol');
    await page.context().close();
  });

  test('no console errors or uncaught exceptions', () => {
    assert.deepEqual(problems, []);
  });
});
