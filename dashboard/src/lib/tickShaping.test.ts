import { describe, expect, test } from 'vitest';
import { anomalousIndices, bandHigh, bandLow, bandScore, lastFinite, rendKey, scopeColumns, stackedRenditions, tickRows } from './tickShaping';
import { SeriesStore } from './seriesStore';
import { region, tick } from '../test/fixtures';

describe('tickRows', () => {
  test('maps the original field names to metric names, per scope', () => {
    const rows = new Map(tickRows(tick(1)));
    expect([...rows.keys()]).toEqual(['all', 'region:us-east', 'region:eu-west', 'type:video']);
    const all = rows.get('all')!;
    expect(all.latency_ms).toBe(32.5);
    expect(all.buffering_ratio).toBe(0.0048);
    expect(all.viewers).toBe(350_001);
    expect(all.bandwidth_mbps).toBe(1_485_000);
    expect(all.active_streams).toBe(45);
    expect(rows.get('region:eu-west')!.buffering_ratio).toBe(0.09);
    expect(rows.get('region:us-east')!.utilization).toBe(0.2);
    expect(rows.get('type:video')!.bitrate_kbps).toBe(5627);
  });

  test('reads bands and renditions when present, ignores them when absent or malformed', () => {
    const t = tick(2, {
      bands: { buffering_ratio: { low: 0.003, high: 0.01, score: 0.2 } },
      renditions: { '720p': 0.25, '1080p': 0.45, '128k': 0.3 },
      regions: [region('eu-west', { bands: { latency_ms: { low: 20, high: 40, score: 0.9 } }, renditions: { '480p': 1 } })],
    });
    const rows = new Map(tickRows(t));
    const all = rows.get('all')!;
    expect(all[bandLow('buffering_ratio')]).toBe(0.003);
    expect(all[bandHigh('buffering_ratio')]).toBe(0.01);
    expect(all[bandScore('buffering_ratio')]).toBe(0.2);
    expect(all[rendKey('1080p')]).toBe(0.45);
    expect(all[bandLow('latency_ms')]).toBeUndefined();
    expect(rows.get('region:eu-west')![bandScore('latency_ms')]).toBe(0.9);
    expect(rows.get('region:eu-west')![rendKey('480p')]).toBe(1);
    const broken = tick(3, { bands: null as never, renditions: 'x' as never });
    expect(() => tickRows(broken)).not.toThrow();
  });

  test('prefixes a room update', () => {
    const keys = tickRows(tick(1), 'content:vod-1').map(([k]) => k);
    expect(keys).toEqual(['content:vod-1', 'content:vod-1|region:us-east', 'content:vod-1|region:eu-west', 'content:vod-1|type:video']);
  });
});

describe('chart columns', () => {
  const store = new SeriesStore(10);
  for (let i = 1; i <= 3; i++) {
    const t = tick(i, { bands: { buffering_ratio: { low: 0, high: 0.01, score: i === 3 ? 0.7 : 0.1 } }, renditions: { '720p': 0.2 * i, '1080p': 0.3 } });
    for (const [scope, row] of tickRows(t)) store.push(scope, t.timestamp_ms, row);
  }

  test('x, y, band and score of a metric', () => {
    const c = scopeColumns(store.scope('all'), 'buffering_ratio')!;
    expect(Array.from(c.x)).toEqual([1_796_100_001_000, 1_796_100_002_000, 1_796_100_003_000]);
    expect(Array.from(c.y)).toEqual([0.0048, 0.0048, 0.0048]);
    expect(Array.from(c.high!)).toEqual([0.01, 0.01, 0.01]);
    expect(anomalousIndices(c.score)).toEqual([2]);
  });

  test('no band when the server sent none; null for unknown scope or metric', () => {
    const c = scopeColumns(store.scope('region:eu-west'), 'buffering_ratio')!;
    expect(c.low).toBeUndefined();
    expect(scopeColumns(store.scope('region:nowhere'), 'latency_ms')).toBeNull();
    expect(scopeColumns(store.scope('all'), 'nope')).toBeNull();
  });

  test('stacked renditions are cumulative, lowest first', () => {
    const s = stackedRenditions(store.scope('all'))!;
    expect(s.labels).toEqual(['720p', '1080p']);
    expect(s.stacks[0][2]).toBeCloseTo(0.6);
    expect(s.stacks[1][2]).toBeCloseTo(0.9);
    expect(stackedRenditions(store.scope('type:video'))).toBeNull();
  });

  test('lastFinite skips NaN', () => {
    expect(lastFinite([1, 2, Number.NaN])).toBe(2);
    expect(Number.isNaN(lastFinite([]))).toBe(true);
  });
});
