// REST history → chart columns (the 1h/6h/24h ranges and single titles).
import type { MetricsUpdate, SeriesResponse } from './types';
import { RANGE_MS, type Range, type SeriesFilter } from './route';
import { SUM_METRICS, tickRows, type Columns } from './tickShaping';

/** Columns of `metric` from tick history, for the scope `all`, `region:…` or `type:…`. */
export function ticksToColumns(ticks: MetricsUpdate[], scope: string, metric: string): Columns {
  const x: number[] = [];
  const y: number[] = [];
  for (const t of ticks) {
    const row = tickRows(t).find(([k]) => k === scope)?.[1];
    if (!row) continue;
    x.push(t.timestamp_ms);
    y.push(row[metric] ?? Number.NaN);
  }
  return { x, y };
}

/**
 * One series from many streams (title × region) of `GET /metrics?metric=…`:
 * per time (bucket start or point), the sum over streams for viewers and
 * bandwidth, the unweighted mean of stream values for the quality metrics.
 */
export function aggregateSeries(resp: SeriesResponse): Columns {
  const sum = SUM_METRICS.has(resp.metric);
  const acc = new Map<number, { s: number; n: number }>();
  const add = (t: number, v: number) => {
    if (!Number.isFinite(v)) return;
    const a = acc.get(t);
    if (a) {
      a.s += v;
      a.n += 1;
    } else acc.set(t, { s: v, n: 1 });
  };
  for (const s of resp.series) {
    for (const b of s.buckets ?? []) add(b.start_ms + (resp.step_ms ?? 0) / 2, b.mean);
    for (const [t, v] of s.points ?? []) add(t, v);
  }
  const times = [...acc.keys()].sort((a, b) => a - b);
  return { x: times, y: times.map((t) => (sum ? acc.get(t)!.s : acc.get(t)!.s / acc.get(t)!.n)) };
}

/** Bucket width for a history range: about 240 points. */
export function stepFor(range: Exclude<Range, 'live'>): string {
  return { '1h': '15s', '6h': '90s', '24h': '6m' }[range];
}

export type HistoryPlan =
  | { kind: 'ticks'; url: string; scope: string }
  | { kind: 'series'; urls: Record<string, string> };

/**
 * How to fetch a history range for the filter: the tick history when the
 * server's in-memory ticks cover it and the scope has rollups (whole
 * service or a content type), else the stored series, bucketed.
 */
export function historyPlan(f: SeriesFilter, metrics: string[], historyTicks = 3600, intervalMs = 1000): HistoryPlan {
  if (f.range === 'live') {
    // A title's live window: its stored series, in 5 s buckets (the
    // whole-service feed carries no per-title figures).
    const urls: Record<string, string> = {};
    for (const m of metrics) {
      const p = new URLSearchParams({ metric: m, from: '15m', step: '5s' });
      if (f.content) p.set('content', f.content);
      if (f.region) p.set('region', f.region);
      urls[m] = `/metrics?${p.toString()}`;
    }
    return { kind: 'series', urls };
  }
  const range = f.range;
  const ms = RANGE_MS[range];
  const fitsTicks = ms / intervalMs <= historyTicks;
  if (!f.content && !f.region && fitsTicks) {
    const limit = Math.min(historyTicks, Math.ceil(ms / intervalMs));
    const detail = f.type ? '&detail=full' : '';
    return { kind: 'ticks', url: `/metrics?limit=${limit}${detail}`, scope: f.type ? `type:${f.type}` : 'all' };
  }
  const urls: Record<string, string> = {};
  for (const m of metrics) {
    const p = new URLSearchParams({ metric: m, from: range, step: stepFor(range) });
    if (f.region) p.set('region', f.region);
    if (f.content) p.set('content', f.content);
    urls[m] = `/metrics?${p.toString()}`;
  }
  return { kind: 'series', urls };
}
