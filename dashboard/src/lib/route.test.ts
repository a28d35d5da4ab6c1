import { describe, expect, test } from 'vitest';
import { DEFAULT_SERIES, parseHash, rangeForWindow, seriesHash } from './route';

describe('parseHash', () => {
  test('views and the content detail', () => {
    expect(parseHash('').view).toBe('overview');
    expect(parseHash('#/nope').view).toBe('overview');
    expect(parseHash('#/regions').view).toBe('regions');
    const r = parseHash('#/content/vod-000020');
    expect(r.view).toBe('content');
    expect(r.contentId).toBe('vod-000020');
    expect(parseHash('#/content').contentId).toBeNull();
  });

  test('series filters from the URL', () => {
    const r = parseHash('#/series?metric=latency_ms&region=eu-west&type=live&content=vod-000001&range=6h&from=1000&to=5000');
    expect(r.series).toEqual({ metric: 'latency_ms', region: 'eu-west', type: 'live', content: 'vod-000001', range: '6h', from: 1000, to: 5000 });
  });

  test('bad values fall back to defaults; a reversed window is put right', () => {
    const r = parseHash('#/series?metric=drop_tables&type=radio&range=2y&region=<script>&from=9&to=3');
    expect(r.series.metric).toBe(DEFAULT_SERIES.metric);
    expect(r.series.type).toBeNull();
    expect(r.series.range).toBe('live');
    expect(r.series.region).toBeNull();
    expect([r.series.from, r.series.to]).toEqual([3, 9]);
  });

  test('alerts region filter', () => {
    expect(parseHash('#/alerts?region=eu-west').alertRegion).toBe('eu-west');
    expect(parseHash('#/alerts/alrt-000042').alertId).toBe('alrt-000042');
    expect(parseHash('#/alerts/alrt-000042').view).toBe('alerts');
    expect(parseHash('#/alerts/not%20an%20id').alertId).toBeNull();
    expect(parseHash('#/content/alrt-000042').alertId).toBeNull();
  });
});

test('seriesHash round-trips through parseHash', () => {
  const f = { metric: 'bitrate_kbps' as const, region: 'ap-east', type: null, content: 'live-000003', range: '1h' as const, from: 1700, to: null };
  const h = seriesHash(f);
  expect(h).toBe('#/series?metric=bitrate_kbps&region=ap-east&content=live-000003&range=1h&from=1700');
  expect(parseHash(h).series).toEqual(f);
  expect(seriesHash({})).toBe('#/series?metric=buffering_ratio');
});

test('rangeForWindow picks live while the buffer holds the window', () => {
  const now = 10_000_000;
  expect(rangeForWindow(null, now, 900_000)).toBe('live');
  expect(rangeForWindow(now - 60_000, now, 900_000)).toBe('live');
  expect(rangeForWindow(now - 20 * 60_000, now, 900_000)).toBe('1h');
  expect(rangeForWindow(now - 3 * 3_600_000, now, 900_000)).toBe('6h');
  expect(rangeForWindow(now - 20 * 3_600_000, now, 900_000)).toBe('24h');
  expect(rangeForWindow(now - 48 * 3_600_000, now, 900_000)).toBe('7d');
});
