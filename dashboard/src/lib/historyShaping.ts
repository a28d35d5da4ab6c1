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

/**
 * Bucket width for a history range: 15 s over the last hour (raw samples),
 * a minute over 6 and 24 hours (every minute roll-up), 10 minutes over a
 * week (still minutes: hours could not fill them).
 */
export function stepFor(range: Exclude<Range, 'live'>): string {
  return { '1h': '15s', '6h': '1m', '24h': '1m', '7d': '10m' }[range];
}

/** The figures the server rolls up by the minute and the hour. */
export const ROLLED_UP = new Set(['viewers', 'latency_ms', 'startup_time_ms', 'buffering_ratio', 'rebuffer_events', 'bitrate_kbps', 'error_rate', 'bandwidth_mbps']);

/**
 * The roll-up scope of a filter: the whole service, a region, a content
 * type or a title; none for a title in one region (a stream, raw only) or a
 * type within a region.
 */
export function rollupScope(f: SeriesFilter): string | null {
  if (f.content) return f.region ? null : `content:${f.content}`;
  if (f.region) return f.type ? null : `region:${f.region}`;
  if (f.type) return `type:${f.type}`;
  return 'service';
}

export type HistoryPlan =
  | { kind: 'ticks'; url: string; scope: string }
  | { kind: 'series'; urls: Record<string, string> };

/**
 * How to fetch a history range for the filter: the tick history when the
 * server's in-memory ticks cover it and the scope has rollups (whole
 * service or a content type); past the raw samples' hour, the scope's
 * minute or hour roll-ups (`scope=…`); else the stored series, bucketed.
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
  const scope = range === '1h' ? null : rollupScope(f);
  for (const m of metrics) {
    const p = new URLSearchParams({ metric: m, from: range, step: stepFor(range) });
    if (scope && ROLLED_UP.has(m)) p.set('scope', scope);
    else {
      if (f.region) p.set('region', f.region);
      if (f.content) p.set('content', f.content);
    }
    urls[m] = `/metrics?${p.toString()}`;
  }
  return { kind: 'series', urls };
}
