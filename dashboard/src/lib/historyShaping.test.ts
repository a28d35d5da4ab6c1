import { describe, expect, test } from 'vitest';
import { aggregateSeries, historyPlan, ticksToColumns } from './historyShaping';
import { DEFAULT_SERIES } from './route';
import { tick } from '../test/fixtures';

describe('history shaping', () => {
  test('ticks → columns of a scope', () => {
    const c = ticksToColumns([tick(1), tick(2)], 'region:eu-west', 'buffering_ratio');
    expect(c.x).toEqual([tick(1).timestamp_ms, tick(2).timestamp_ms]);
    expect(c.y).toEqual([0.09, 0.09]);
    expect(ticksToColumns([tick(1)], 'all', 'viewers').y).toEqual([350_001]);
    expect(ticksToColumns([tick(1, { regions: [] })], 'region:eu-west', 'viewers').x).toEqual([]);
  });

  test('series: sums for viewers, means for quality; bucket centres', () => {
    const mk = (metric: string) => ({
      metric,
      from_ms: 0,
      to_ms: 120_000,
      step_ms: 60_000,
      series: [
        { content_id: 'a', region: 'r', buckets: [{ start_ms: 0, min: 1, max: 3, mean: 2, count: 60 }, { start_ms: 60_000, min: 1, max: 3, mean: 4, count: 60 }] },
        { content_id: 'b', region: 'r', buckets: [{ start_ms: 0, min: 1, max: 9, mean: 6, count: 60 }] },
      ],
    });
    expect(aggregateSeries(mk('viewers'))).toEqual({ x: [30_000, 90_000], y: [8, 4] });
    expect(aggregateSeries(mk('latency_ms'))).toEqual({ x: [30_000, 90_000], y: [4, 4] });
    const raw = { metric: 'latency_ms', from_ms: 0, to_ms: 1, step_ms: null, series: [{ content_id: 'a', region: 'r', points: [[5, 1], [6, 3]] as [number, number][] }] };
    expect(aggregateSeries(raw)).toEqual({ x: [5, 6], y: [1, 3] });
  });

  test('plan: ticks for the whole service within the history, series otherwise', () => {
    expect(historyPlan({ ...DEFAULT_SERIES, range: '1h' }, ['latency_ms'])).toEqual({ kind: 'ticks', url: '/metrics?limit=3600', scope: 'all' });
    expect(historyPlan({ ...DEFAULT_SERIES, range: '1h', type: 'live' }, ['latency_ms'])).toEqual({ kind: 'ticks', url: '/metrics?limit=3600&detail=full', scope: 'type:live' });
    const p = historyPlan({ ...DEFAULT_SERIES, range: '6h', region: 'eu-west' }, ['latency_ms', 'viewers']);
    expect(p).toEqual({
      kind: 'series',
      urls: {
        latency_ms: '/metrics?metric=latency_ms&from=6h&step=1m&scope=region%3Aeu-west',
        viewers: '/metrics?metric=viewers&from=6h&step=1m&scope=region%3Aeu-west',
      },
    });
    // Past the raw hour, every scope reads its roll-ups: the day by the
    // minute, the week in 10-minute steps; a stream (title in a region)
    // has none.
    expect(historyPlan({ ...DEFAULT_SERIES, range: '24h' }, ['viewers'])).toEqual({ kind: 'series', urls: { viewers: '/metrics?metric=viewers&from=24h&step=1m&scope=service' } });
    expect(historyPlan({ ...DEFAULT_SERIES, range: '7d', type: 'live' }, ['error_rate'])).toEqual({ kind: 'series', urls: { error_rate: '/metrics?metric=error_rate&from=7d&step=10m&scope=type%3Alive' } });
    expect(historyPlan({ ...DEFAULT_SERIES, range: '24h', content: 'vod-1' }, ['viewers'])).toEqual({ kind: 'series', urls: { viewers: '/metrics?metric=viewers&from=24h&step=1m&scope=content%3Avod-1' } });
    expect(historyPlan({ ...DEFAULT_SERIES, range: '24h', content: 'vod-1', region: 'eu-west' }, ['viewers'])).toEqual({ kind: 'series', urls: { viewers: '/metrics?metric=viewers&from=24h&step=1m&region=eu-west&content=vod-1' } });
    expect(historyPlan({ ...DEFAULT_SERIES, content: 'vod-1' }, ['viewers'])).toEqual({ kind: 'series', urls: { viewers: '/metrics?metric=viewers&from=15m&step=5s&content=vod-1' } });
  });
});
