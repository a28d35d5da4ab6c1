import { describe, expect, test } from 'vitest';
import connection, { connectionActions as C, initialConnection } from './connectionSlice';
import ticks, { ticksActions as T, initialTicks } from './ticksSlice';
import alerts, { alertsActions as A, initialAlerts } from './alertsSlice';
import content, { contentActions as K, HEALTH_PATCH_MS, initialContent } from './contentSlice';
import analytics, { analyticsActions as N, initialAnalytics } from './analyticsSlice';
import ui, { uiActions as U, initialUi } from './uiSlice';
import { parsePersisted } from './persist';
import { itemFromEvent } from '../lib/alertFeed';
import { anomaly, tick } from '../test/fixtures';
import type { ContentRow } from '../lib/types';

describe('connectionSlice', () => {
  test('connect, drop, reconnect', () => {
    let s = connection(initialConnection, C.connected());
    expect(s.status).toBe('connected');
    s = connection(s, C.disconnected({ reason: 'transport close', at: 100 }));
    s = connection(s, C.disconnected({ reason: 'again', at: 200 }));
    expect(s).toMatchObject({ status: 'reconnecting', error: 'again', disconnectedAt: 100 });
    s = connection(s, C.connected());
    expect(s).toMatchObject({ status: 'connected', error: null, disconnectedAt: null });
  });
  test('ticks, gaps, backfill, reset, lagged', () => {
    let s = connection(initialConnection, C.ticksApplied({ seq: 7, ts: 7000, at: 1, count: 3 }));
    s = connection(s, C.gapDetected(4));
    s = connection(s, C.backfillStarted());
    expect(s.backfilling).toBe(true);
    s = connection(s, C.backfillDone(4));
    s = connection(s, C.lagged(12));
    expect(s).toMatchObject({ lastSeq: 7, lastTs: 7000, ticks: 3, gaps: 1, missedTicks: 4, backfilling: false, backfilled: 4, lagged: 12 });
    expect(connection(s, C.serverReset()).lastSeq).toBeNull();
    expect(connection(initialConnection, C.connectError('refused')).status).toBe('connecting');
  });
});

describe('ticksSlice', () => {
  test('keeps the latest tick, region ids and bumps the version', () => {
    let s = ticks(initialTicks, T.latestTick(tick(1)));
    const ids = s.regionIds;
    s = ticks(s, T.latestTick(tick(2)));
    expect(s.latest!.seq).toBe(2);
    expect(s.version).toBe(2);
    expect(s.regionIds).toEqual(['us-east', 'eu-west']);
    expect(s.regionIds).toBe(ids); // unchanged list keeps its identity: no re-render
    expect(ticks(s, T.seriesChanged()).version).toBe(3);
  });
});

describe('alertsSlice', () => {
  test('receives and filters', () => {
    const it = itemFromEvent(anomaly());
    let s = alerts(initialAlerts, A.received([it]));
    s = alerts(s, A.received([it]));
    expect(s.items).toHaveLength(1);
    s = alerts(s, A.setFilter({ region: 'eu-west' }));
    expect(s.filter.region).toBe('eu-west');
    expect(s.filter.kind).toBe('all');
    s = alerts(s, A.backfilled([]));
    expect(s.loaded).toBe(true);
  });
  test('acknowledgements and silences are the server\'s: loaded whole, then changed one by one', () => {
    const ack = (id: string, by: string) => ({ alert_id: id, by, at_ms: 5, comment: '' });
    let s = alerts(initialAlerts, A.acksLoaded([ack('a', 'alice'), ack('b', 'bob')]));
    expect(Object.keys(s.acks)).toEqual(['a', 'b']);
    s = alerts(s, A.ackChanged({ alert_id: 'c', ack: ack('c', 'carol') }));
    s = alerts(s, A.ackChanged({ alert_id: 'a', ack: null }));
    expect(Object.keys(s.acks).sort()).toEqual(['b', 'c']);
    // Idempotent: the answer of our own request and its broadcast both arrive.
    s = alerts(s, A.ackChanged({ alert_id: 'c', ack: ack('c', 'carol') }));
    expect(s.acks.c.by).toBe('carol');
    s = alerts(s, A.acksLoaded([]));
    expect(s.acks).toEqual({});
    const silence = { id: 'sil-1', matchers: { region: 'eu-west' }, starts_ms: 0, ends_ms: 10, author: 'a', comment: '', created_ms: 0, state: 'active' as const };
    s = alerts(s, A.silencesLoaded([silence]));
    expect(s.silences).toEqual([silence]);
  });
  test('a REST listing of acknowledgements applies unless the socket told something since it was asked', () => {
    const ack = (id: string, by: string) => ({ alert_id: id, by, at_ms: 5, comment: 'on it' });
    let s = alerts(initialAlerts, A.acksLoaded([ack('a', 'alice'), ack('z', 'zoe')]));
    const asked = s.ackEpoch;
    // Listed: `a` no longer acknowledged, `b` acknowledged; `z` not listed, so kept.
    const listing = A.acksListed({ alertIds: ['a', 'b'], acks: [ack('b', 'bob')], epoch: asked });
    const fresh = alerts(s, listing);
    expect(Object.keys(fresh.acks).sort()).toEqual(['b', 'z']);
    // An `alert_ack` came while the listing was on its way: the listing is older.
    s = alerts(s, A.ackChanged({ alert_id: 'c', ack: ack('c', 'carol') }));
    s = alerts(s, listing);
    expect(Object.keys(s.acks).sort()).toEqual(['a', 'c', 'z']);
  });
  test('silences: a REST listing loses to the socket; a write\'s answer is upserted, twice is once', () => {
    const silence = (id: string, state: 'active' | 'expired') => ({ id, matchers: { rule: 'r' }, starts_ms: 0, ends_ms: 10, author: 'a', comment: '', created_ms: 0, state });
    let s = alerts(initialAlerts, A.silencesListed({ silences: [silence('s1', 'active')], epoch: initialAlerts.silenceEpoch }));
    expect(s.silences.map((x) => x.id)).toEqual(['s1']);
    const asked = s.silenceEpoch;
    s = alerts(s, A.silenceSaved(silence('s2', 'active')));
    s = alerts(s, A.silenceSaved(silence('s2', 'active')));
    expect(s.silences.map((x) => x.id)).toEqual(['s2', 's1']);
    s = alerts(s, A.silenceSaved(silence('s1', 'expired')));
    expect(s.silences.map((x) => `${x.id} ${x.state}`)).toEqual(['s2 active', 's1 expired']);
    s = alerts(s, A.silencesListed({ silences: [], epoch: asked }));
    expect(s.silences).toHaveLength(2);
    s = alerts(s, A.silencesLoaded([silence('s3', 'active')]));
    expect(s.silences.map((x) => x.id)).toEqual(['s3']);
  });
});

describe('contentSlice', () => {
  const row = (id: string, over: Partial<ContentRow> = {}): ContentRow => ({ content_id: id, title: id, content_type: 'video', genre: 'g', status: 'available', viewers: 5, streams: 10, health: 'healthy', last_seen_ms: 100, ...over });
  test('a poll replaces the rows; a change applies live', () => {
    let s = content(initialContent, K.listed({ rows: [row('a'), row('b')], total: 2, at: 1 }));
    s = content(s, K.changed({ timestamp_ms: 200, content_id: 'a', title: 'a', content_type: 'video', genre: 'g', from: 'available', to: 'retired' }));
    expect(s.rows.a).toMatchObject({ status: 'retired', viewers: 0 });
    s = content(s, K.changed({ timestamp_ms: 201, content_id: 'c', title: 'New', content_type: 'live', genre: 'sports', from: null, to: 'scheduled' }));
    expect(s.rows.c.title).toBe('New');
    expect(s.changes.map((c) => c.content_id)).toEqual(['c', 'a']);
    // An older poll does not undo the live change; a newer one wins.
    s = content(s, K.listed({ rows: [row('a', { last_seen_ms: 150 }), row('b')], total: 2, at: 2 }));
    expect(s.rows.a.status).toBe('retired');
    expect(s.rows.c).toBeUndefined();
    s = content(s, K.listed({ rows: [row('a', { last_seen_ms: 300, status: 'available' })], total: 1, at: 3 }));
    expect(s.rows.a.status).toBe('available');
  });
  test('an alert event sets a title\'s health at once; an older poll does not undo it, a newer one has the last word', () => {
    let s = content(initialContent, K.listed({ rows: [row('a'), row('b')], total: 2, at: 1_000 }));
    s = content(s, K.healthFromAlerts({ health: { a: { health: 'critical', reason: 'errors high', firing: 1 }, zz: { health: 'degraded', reason: null, firing: 1 } }, ts: 200, at: 1_100 }));
    expect(s.rows.a).toMatchObject({ health: 'critical', health_reason: 'errors high', firing_alerts: 1 });
    expect(s.rows.zz).toBeUndefined();
    // A poll of tick 150 predates the alert.
    s = content(s, K.listed({ rows: [row('a', { last_seen_ms: 150 }), row('b')], total: 2, at: 1_200 }));
    expect(s.rows.a.health).toBe('critical');
    // A poll of tick 250 has seen it: the server says.
    s = content(s, K.listed({ rows: [row('a', { last_seen_ms: 250, health: 'degraded' }), row('b')], total: 2, at: 1_300 }));
    expect(s.rows.a.health).toBe('degraded');
    expect(s.healthAt).toEqual({});
    // A title that stopped reporting: the patch gives way after a while.
    s = content(s, K.healthFromAlerts({ health: { b: { health: 'degraded', reason: 'x', firing: 1 } }, ts: 400, at: 2_000 }));
    s = content(s, K.listed({ rows: [row('a'), row('b', { last_seen_ms: 100 })], total: 2, at: 2_000 + HEALTH_PATCH_MS }));
    expect(s.rows.b.health).toBe('healthy');
  });
  test('the change log is capped', () => {
    let s = initialContent;
    for (let i = 0; i < 150; i++) s = content(s, K.changed({ timestamp_ms: i, content_id: `x${i}`, title: 't', content_type: 'video', genre: 'g', from: null, to: 'available' }));
    expect(s.changes).toHaveLength(100);
    expect(content(s, K.listFailed('boom')).error).toBe('boom');
  });
});

describe('analyticsSlice and uiSlice', () => {
  test('analytics keeps everything but the anomalies', () => {
    const s = analytics(initialAnalytics, N.fetched({ data: { anomalies: [anomaly()], predictions: [], forecasts: [], audience: null, detectors: { ticks: 3 } }, at: 9 }));
    expect(s.data).toEqual({ predictions: [], forecasts: [], audience: null, detectors: { ticks: 3 } });
    expect(s.fetchedAt).toBe(9);
    expect(analytics(s, N.failed('x')).error).toBe('x');
  });
  test('theme toggles', () => {
    expect(ui(initialUi, U.toggleTheme()).theme).toBe('light');
    expect(ui(initialUi, U.setTheme('light')).theme).toBe('light');
  });
  test('the operator\'s name: trimmed, and one the server would refuse (empty, over 64 UTF-8 bytes) ignored', () => {
    const s = ui(initialUi, U.setOperator('  alice '));
    expect(s.operator).toBe('alice');
    expect(ui(s, U.setOperator('   ')).operator).toBe('alice');
    expect(ui(s, U.setOperator('é'.repeat(33))).operator).toBe('alice');
    expect(ui(s, U.setOperator('é'.repeat(32))).operator).toBe('é'.repeat(32));
  });
  test('persisted state is validated', () => {
    expect(parsePersisted('{"theme":"light","operator":" alice ","acked":{"a":1}}')).toEqual({ theme: 'light', operator: 'alice' });
    expect(parsePersisted(`{"operator":"${'x'.repeat(65)}"}`)).toEqual({});
    expect(parsePersisted('{"theme":"neon"}')).toEqual({});
    expect(parsePersisted('not json')).toEqual({});
    expect(parsePersisted(null)).toEqual({});
  });
});
