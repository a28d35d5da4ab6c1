import { describe, expect, test } from 'vitest';
import { DEFAULT_FEED_FILTER, filterItems, itemFromAlert, itemFromEvent, itemLink, openCounts, reconcileFiring, upsertItems, type FeedItem } from './alertFeed';
import type { AlertObject } from './types';
import { anomaly } from '../test/fixtures';

const alertObj = (over: Partial<AlertObject> = {}): AlertObject => ({
  id: 'alrt-000011',
  rule: 'anomaly_strong',
  severity: 'warning',
  state: 'firing',
  started_ms: 1000,
  fired_ms: 5000,
  resolved_ms: null,
  group: { region: 'eu-west', metric: 'buffering_ratio' },
  series_count: 30,
  series: [{ content: 'a', region: 'eu-west', metric: 'buffering_ratio' }, { content: 'b', region: 'eu-west', metric: 'buffering_ratio' }],
  value: 0.03,
  baseline: 0.005,
  summary: 'buffering 6× baseline in eu-west across 30 titles since 06:17',
  ...over,
});

describe('feed items', () => {
  test('an anomaly: its scope, a window around its point', () => {
    const it = itemFromEvent(anomaly());
    expect(it.kind).toBe('anomaly');
    expect(it.region).toBe('eu-west');
    expect(it.contentId).toBe('vod-000016');
    expect(it.endMs! - it.startMs).toBe(10_000);
    expect(it.id).toBe('anomaly:1796105867000:buffering_ratio:eu-west:vod-000016');
  });

  test('an alert from GET /alerts: group target, several titles → no content', () => {
    const it = itemFromAlert(alertObj());
    expect(it.id).toBe('alert:alrt-000011');
    expect(it.region).toBe('eu-west');
    expect(it.metric).toBe('buffering_ratio');
    expect(it.contentId).toBeNull();
    expect(it.timestampMs).toBe(5000);
    expect(it.reason).toContain('6× baseline');
  });

  test('an alert event carrying the alert object; resolution keeps the id and the start', () => {
    const fired = itemFromEvent(anomaly({ kind: 'alert', alert_id: 'alrt-000011', state: 'firing', timestamp_ms: 5000, reason: 'fired', alert: alertObj() }));
    const resolved = itemFromEvent(anomaly({ kind: 'alert', alert_id: 'alrt-000011', state: 'resolved', timestamp_ms: 9000, reason: 'resolved', alert: alertObj({ state: 'resolved', resolved_ms: 9000 }) }));
    const list = upsertItems(upsertItems([], [fired]), [resolved]);
    expect(list).toHaveLength(1);
    expect(list[0].state).toBe('resolved');
    expect(list[0].startMs).toBe(1000);
    expect(list[0].endMs).toBe(9000);
    expect(list[0].reason).toBe('resolved');
  });

  test('an alert event without the object', () => {
    const it = itemFromEvent(anomaly({ kind: 'alert', alert_id: 'x', state: 'resolved', timestamp_ms: 7 }));
    expect(it.id).toBe('alert:x');
    expect(it.endMs).toBe(7);
  });

  test('predictions: one per region, replaced', () => {
    const p1 = itemFromEvent(anomaly({ kind: 'prediction', metric: 'bandwidth_mbps', scope: { region: 'us-west' }, timestamp_ms: 1, crossing_ms: 100 }));
    const p2 = itemFromEvent(anomaly({ kind: 'prediction', metric: 'bandwidth_mbps', scope: { region: 'us-west' }, timestamp_ms: 2, crossing_ms: 90 }));
    const list = upsertItems([p1], [p2]);
    expect(list).toHaveLength(1);
    expect(list[0].endMs).toBe(90);
  });
});

describe('upsertItems', () => {
  test('newest first, capped per kind, an older copy does not overwrite', () => {
    const items = Array.from({ length: 8 }, (_, i) => itemFromEvent(anomaly({ timestamp_ms: i * 1000 })));
    const alert = itemFromAlert(alertObj({ started_ms: 0, fired_ms: 1 }));
    const list = upsertItems([], [...items, alert], { anomaly: 5, alert: 10, prediction: 1 });
    expect(list.filter((i) => i.kind === 'anomaly').map((i) => i.timestampMs)).toEqual([7000, 6000, 5000, 4000, 3000]);
    expect(list.some((i) => i.kind === 'alert')).toBe(true);
    const stale = { ...list[0], reason: 'old', timestampMs: 1 };
    expect(upsertItems(list, [stale])[0].reason).not.toBe('old');
  });
});

describe('firing alerts stay until they resolve', () => {
  test('the cap never drops a firing alert, however old', () => {
    const old = itemFromAlert(alertObj({ id: 'old', started_ms: 1, fired_ms: 2 }));
    const newer = Array.from({ length: 5 }, (_, i) => itemFromAlert(alertObj({ id: `p${i}`, state: 'pending', started_ms: 100 + i, fired_ms: null })));
    const list = upsertItems([old], newer, { anomaly: 5, alert: 3, prediction: 1 });
    expect(list.map((i) => i.id)).toEqual(['alert:p4', 'alert:p3', 'alert:p2', 'alert:old']);
  });
  test('a firing alert the server no longer lists resolved unheard; one newer than the poll is left alone', () => {
    const a = itemFromAlert(alertObj({ id: 'a', fired_ms: 5_000 }));
    const b = itemFromAlert(alertObj({ id: 'b', fired_ms: 9_000 }));
    const c = itemFromAlert(alertObj({ id: 'c', fired_ms: 20_000 }));
    const out = reconcileFiring([a, b, c], ['alert:b'], 10_000);
    expect(out.map((i) => i.state)).toEqual(['resolved', 'firing', 'firing']);
    expect(out[0].endMs).toBe(10_000);
    const same = [a, b];
    expect(reconcileFiring(same, ['alert:a', 'alert:b'], 10_000)).toBe(same);
  });
});

describe('filterItems and counts', () => {
  const items: FeedItem[] = [
    itemFromEvent(anomaly({ severity: 'critical', scope: { region: 'eu-west' }, timestamp_ms: 3 })),
    itemFromEvent(anomaly({ severity: 'warning', scope: { region: 'us-east' }, timestamp_ms: 2, reason: 'latency in us-east' })),
    itemFromAlert(alertObj({ severity: 'critical' })),
  ];
  test('by severity, kind, region, acknowledgement and text', () => {
    expect(filterItems(items, { ...DEFAULT_FEED_FILTER, minSeverity: 'critical' }, {})).toHaveLength(2);
    expect(filterItems(items, { ...DEFAULT_FEED_FILTER, kind: 'alert' }, {})).toHaveLength(1);
    const eu = filterItems(items, { ...DEFAULT_FEED_FILTER, region: 'eu-west' }, {});
    expect(eu).toHaveLength(2);
    expect(eu.every((i) => i.region === 'eu-west')).toBe(true);
    // Acknowledged or silenced narrows the alerts; anomaly points are never acknowledged and always pass.
    const handled = { [items[2].id]: 1 };
    expect(filterItems(items, { ...DEFAULT_FEED_FILTER, ack: 'open' }, handled).map((i) => i.kind)).toEqual(['anomaly', 'anomaly']);
    expect(filterItems(items, { ...DEFAULT_FEED_FILTER, ack: 'acked' }, handled).map((i) => i.kind)).toEqual(['anomaly', 'anomaly', 'alert']);
    expect(filterItems(items, { ...DEFAULT_FEED_FILTER, ack: 'open' }, {}).map((i) => i.kind)).toEqual(['anomaly', 'anomaly', 'alert']);
    expect(filterItems(items, { ...DEFAULT_FEED_FILTER, ack: 'acked' }, {}).map((i) => i.kind)).toEqual(['anomaly', 'anomaly']);
    expect(filterItems(items, { ...DEFAULT_FEED_FILTER, text: 'US-EAST' }, {})).toHaveLength(1);
  });
  test('open counts: firing alerts only (a critical anomaly point is no alarm), acknowledged ones left out', () => {
    expect(openCounts(items, {})).toEqual({ firing: 1, critical: 1 });
    expect(openCounts(items, { [items[2].id]: 1 })).toEqual({ firing: 0, critical: 0 });
    expect(openCounts([...items, itemFromAlert(alertObj({ id: 'p', state: 'pending', severity: 'critical' }))], {})).toEqual({ firing: 1, critical: 1 });
  });
});

test('itemLink opens the series with the window', () => {
  const a = itemFromAlert(alertObj({ resolved_ms: 9000, state: 'resolved' }));
  expect(itemLink(a)).toBe('#/series?metric=buffering_ratio&region=eu-west&from=1000&to=9000');
  const open = itemFromAlert(alertObj());
  expect(itemLink(open)).toBe('#/series?metric=buffering_ratio&region=eu-west&from=1000');
  const an = itemFromEvent(anomaly());
  expect(itemLink(an)).toBe('#/series?metric=buffering_ratio&region=eu-west&content=vod-000016&from=1796105862000&to=1796105872000');
});
