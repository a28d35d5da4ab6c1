import { describe, expect, test } from 'vitest';
import { alertNames, itemFromAlert, itemFromEvent, viewersAffected } from './alertFeed';
import { contentAlarm, firingAlerts, healthOfAlarm, metricAlarm, needsAttention, regionAlarm } from './alarms';
import type { AlertObject } from './types';
import { anomaly } from '../test/fixtures';

let n = 0;
const alert = (over: Partial<AlertObject> = {}): AlertObject => ({
  id: `alrt-${String(++n).padStart(6, '0')}`,
  rule: 'buffering_high',
  severity: 'warning',
  state: 'firing',
  started_ms: 1_000,
  fired_ms: 61_000,
  resolved_ms: null,
  group: { region: 'eu-west', metric: 'buffering_ratio' },
  series_count: 12,
  series: [{ content: 'vod-000001', region: 'eu-west', metric: 'buffering_ratio' }],
  value: 0.05,
  baseline: 0.005,
  summary: 'buffering ratio 10× baseline in eu-west across 12 titles since 06:17',
  ...over,
});

describe('what an alert names', () => {
  test('its group, and its cause when the cause is a region or a title', () => {
    expect(alertNames(alert())).toEqual({ regions: ['eu-west'], contents: [] });
    const byCause = alert({ group: { metric: 'buffering_ratio' }, cause: { dimension: 'region', value: 'us-east' } });
    expect(alertNames(byCause)).toEqual({ regions: ['us-east'], contents: [] });
    const title = alert({ group: { content: 'vod-000007' }, cause: { dimension: 'content', value: 'vod-000008' } });
    expect(alertNames(title)).toEqual({ regions: [], contents: ['vod-000007', 'vod-000008'] });
    // A series in a region is not the alert naming it.
    const spread = alert({ group: { metric: 'error_rate' }, cause: { dimension: 'genre', value: 'news' } });
    expect(alertNames(spread)).toEqual({ regions: [], contents: [] });
    // A cause-named region is the item's region (its link, its filter).
    expect(itemFromAlert(byCause).region).toBe('us-east');
  });

  test('viewers affected, under whatever name the server gives it; unknown fields are ignored', () => {
    expect(viewersAffected(alert())).toBeNull();
    expect(viewersAffected({ ...alert(), viewers_affected: 1200 } as AlertObject)).toBe(1200);
    expect(viewersAffected({ ...alert(), impact: { viewers: 900, share: 0.1 } } as AlertObject)).toBe(900);
    expect(viewersAffected({ ...alert(), impact: 'lots', surprise: [1] } as unknown as AlertObject)).toBeNull();
  });
});

describe('alarms', () => {
  const quiet = [
    itemFromEvent(anomaly({ severity: 'critical', scope: { region: 'us-east', content_id: 'vod-000002' } })),
    itemFromAlert(alert({ state: 'pending', fired_ms: null, group: { region: 'us-east', metric: 'latency_ms' } })),
    itemFromAlert(alert({ state: 'resolved', resolved_ms: 99_000, group: { region: 'us-east', metric: 'latency_ms' } })),
  ];

  test('anomaly points, pending and resolved alerts sound no alarm', () => {
    expect(firingAlerts(quiet)).toEqual([]);
    expect(needsAttention(quiet, {})).toEqual([]);
    expect(regionAlarm('us-east', quiet)).toEqual({ level: 'ok', alert: null, count: 0 });
    expect(metricAlarm('buffering_ratio', quiet).level).toBe('ok');
    expect(contentAlarm('vod-000002', quiet).level).toBe('ok');
    expect(healthOfAlarm(contentAlarm('vod-000002', quiet))).toBe('healthy');
  });

  test('a firing alert makes what it names red or amber, by its severity', () => {
    const warn = itemFromAlert(alert());
    const crit = itemFromAlert(alert({ severity: 'critical', group: { metric: 'error_rate' }, cause: { dimension: 'region', value: 'eu-west' } }));
    const items = [...quiet, warn];
    expect(regionAlarm('eu-west', items)).toMatchObject({ level: 'warn', alert: warn, count: 1 });
    expect(regionAlarm('us-east', items).level).toBe('ok');
    expect(regionAlarm('eu-west', [...items, crit])).toMatchObject({ level: 'bad', alert: crit, count: 2 });
    expect(metricAlarm('buffering_ratio', items).level).toBe('warn');
    expect(metricAlarm('latency_ms', items).level).toBe('ok');
    const info = itemFromAlert(alert({ severity: 'info', rule: 'stream_silent', group: { region: 'ap-east' } }));
    expect(regionAlarm('ap-east', [info])).toMatchObject({ level: 'ok', alert: info });
  });

  test('a title is degraded or critical while an alert naming it fires', () => {
    const t = itemFromAlert(alert({ group: { content: 'vod-000009', metric: 'error_rate' } }));
    expect(healthOfAlarm(contentAlarm('vod-000009', [t]))).toBe('degraded');
    const c = itemFromAlert(alert({ severity: 'critical', group: { metric: 'error_rate' }, cause: { dimension: 'content', value: 'vod-000009' } }));
    expect(healthOfAlarm(contentAlarm('vod-000009', [t, c]))).toBe('critical');
    expect(healthOfAlarm(contentAlarm('vod-000001', [t, c]))).toBe('healthy');
  });

  test('needs attention: firing alerts, worst first (severity, viewers affected, recency), acknowledged ones out', () => {
    const old = itemFromAlert(alert({ fired_ms: 10_000 }));
    const recent = itemFromAlert(alert({ fired_ms: 50_000 }));
    const big = itemFromAlert({ ...alert({ fired_ms: 5_000 }), viewers_affected: 5_000 } as AlertObject);
    const small = itemFromAlert({ ...alert({ fired_ms: 60_000 }), viewers_affected: 10 } as AlertObject);
    const crit = itemFromAlert(alert({ severity: 'critical', fired_ms: 1_000 }));
    const info = itemFromAlert(alert({ severity: 'info', fired_ms: 90_000 }));
    const list = needsAttention([...quiet, info, old, recent, small, big, crit], {});
    expect(list.map((i) => i.id)).toEqual([crit.id, big.id, small.id, recent.id, old.id, info.id]);
    expect(needsAttention([old, recent], { [recent.id]: 1 }).map((i) => i.id)).toEqual([old.id]);
    expect(needsAttention([old, recent, crit], {}, 2)).toHaveLength(2);
  });

  test('an alert event keeps the transition state, fired included', () => {
    const a = alert({ state: 'firing' });
    const ev = itemFromEvent(anomaly({ kind: 'alert', alert_id: a.id, state: 'fired', timestamp_ms: 61_000, reason: a.summary!, alert: a }));
    expect(ev.state).toBe('firing');
    expect(regionAlarm('eu-west', [ev]).alert?.id).toBe(`alert:${a.id}`);
    const bare = itemFromEvent(anomaly({ kind: 'alert', alert_id: 'x', state: 'firing', scope: { region: 'sa-east' } }));
    expect(regionAlarm('sa-east', [bare]).level).toBe('bad');
  });
});
