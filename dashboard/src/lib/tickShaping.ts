// Pure functions from wire payloads to rows of the series store and to chart
// columns. Unit-tested in tickShaping.test.ts.
import type { Bands, MetricName, MetricsUpdate, Rendition } from './types';
import { METRICS, RENDITIONS } from './types';
import type { ScopeSeries } from './seriesStore';

export type Row = Record<string, number>;

export const bandLow = (m: string) => `band.low:${m}`;
export const bandHigh = (m: string) => `band.high:${m}`;
export const bandScore = (m: string) => `band.score:${m}`;
export const rendKey = (r: string) => `rend:${r}`;

function addBands(row: Row, bands: Bands | undefined | null): void {
  if (!bands || typeof bands !== 'object') return;
  for (const m of METRICS) {
    const b = bands[m];
    if (!b || typeof b !== 'object') continue;
    if (Number.isFinite(b.low)) row[bandLow(m)] = b.low;
    if (Number.isFinite(b.high)) row[bandHigh(m)] = b.high;
    if (Number.isFinite(b.score)) row[bandScore(m)] = b.score;
  }
}

function addRenditions(row: Row, r: Partial<Record<Rendition, number>> | undefined | null): void {
  if (!r || typeof r !== 'object') return;
  for (const label of RENDITIONS) {
    const v = r[label];
    if (typeof v === 'number' && Number.isFinite(v)) row[rendKey(label)] = v;
  }
}

/**
 * The rows one `metrics_update` contributes, by scope key. `prefix` scopes a
 * room's update (e.g. `content:vod-000001`); the whole service is `all`.
 */
export function tickRows(tick: MetricsUpdate, prefix = ''): [string, Row][] {
  const top: Row = {
    latency_ms: tick.latency,
    buffering_ratio: tick.buffering_ratio,
    viewers: tick.users,
    bandwidth_mbps: tick.total_bandwidth_mbps,
    startup_time_ms: tick.startup_time_ms,
    bitrate_kbps: tick.bitrate_kbps,
    error_rate: tick.error_rate,
    active_streams: tick.active_streams,
  };
  addBands(top, tick.bands);
  addRenditions(top, tick.renditions);
  const root = prefix || 'all';
  const out: [string, Row][] = [[root, top]];
  const sub = (k: string) => (prefix ? `${prefix}|${k}` : k);
  for (const r of tick.regions ?? []) {
    const row: Row = {};
    for (const m of METRICS) row[m] = r[m];
    row.streams = r.streams;
    if (typeof r.utilization === 'number') row.utilization = r.utilization;
    addBands(row, r.bands);
    addRenditions(row, r.renditions);
    out.push([sub(`region:${r.region}`), row]);
  }
  for (const t of tick.types ?? []) {
    const row: Row = {};
    for (const m of METRICS) row[m] = t[m];
    row.streams = t.streams;
    out.push([sub(`type:${t.content_type}`), row]);
  }
  return out;
}

/** Chart columns: x (epoch ms) and y arrays, plus the band when present. */
export interface Columns {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  low?: ArrayLike<number>;
  high?: ArrayLike<number>;
  score?: ArrayLike<number>;
}

/** The columns of one metric of a live scope, `null` when the scope has no data yet. */
export function scopeColumns(s: ScopeSeries | undefined, metric: string): Columns | null {
  if (!s || s.t.length === 0) return null;
  const y = s.series(metric);
  if (!y) return null;
  const cols: Columns = { x: s.t.toArray(), y: y.toArray() };
  const lo = s.series(bandLow(metric));
  const hi = s.series(bandHigh(metric));
  const sc = s.series(bandScore(metric));
  if (lo && hi) {
    cols.low = lo.toArray();
    cols.high = hi.toArray();
  }
  if (sc) cols.score = sc.toArray();
  return cols;
}

/** Stacked shares of the rendition mix: one cumulative array per label, lowest first; labels never seen are left out. */
export function stackedRenditions(s: ScopeSeries | undefined): { x: Float64Array; labels: string[]; stacks: Float64Array[] } | null {
  if (!s || s.t.length === 0) return null;
  const x = s.t.toArray();
  const labels: string[] = [];
  const raw: Float64Array[] = [];
  for (const label of RENDITIONS) {
    const ring = s.series(rendKey(label));
    if (!ring) continue;
    const arr = ring.toArray();
    if (!arr.some((v) => v > 0)) continue;
    labels.push(label);
    raw.push(arr);
  }
  if (labels.length === 0) return null;
  const stacks: Float64Array[] = [];
  let acc = new Float64Array(x.length);
  for (const arr of raw) {
    const next = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) next[i] = acc[i] + (Number.isNaN(arr[i]) ? 0 : arr[i]);
    stacks.push(next);
    acc = next;
  }
  return { x, labels, stacks };
}

/** The last finite value of a series, or NaN. */
export function lastFinite(arr: ArrayLike<number> | undefined): number {
  if (!arr) return Number.NaN;
  for (let i = arr.length - 1; i >= 0; i--) if (Number.isFinite(arr[i])) return arr[i];
  return Number.NaN;
}

/** Indices whose anomaly score is ≥ 0.5 (the edge of the expected range). */
export function anomalousIndices(score: ArrayLike<number> | undefined, threshold = 0.5): number[] {
  const out: number[] = [];
  if (!score) return out;
  for (let i = 0; i < score.length; i++) if (score[i] >= threshold) out.push(i);
  return out;
}

/** Metrics added up over viewers (sums) rather than averaged. */
export const SUM_METRICS = new Set<string>(['viewers', 'bandwidth_mbps']);

export function isMetric(m: string | null | undefined): m is MetricName {
  return !!m && (METRICS as readonly string[]).includes(m);
}
