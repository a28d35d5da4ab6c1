// Hash routes ↔ view and filters. The app lives at `/` beside the API, so
// client routes stay after `#` and never shadow `/metrics`, `/content`, …
import { CONTENT_TYPES, type ContentType, type MetricName } from './types';
import { isMetric } from './tickShaping';

export const VIEWS = ['overview', 'series', 'content', 'regions', 'alerts', 'analytics'] as const;
export type View = (typeof VIEWS)[number];

export const RANGES = ['live', '1h', '6h', '24h', '7d'] as const;
export type Range = (typeof RANGES)[number];
export const RANGE_MS: Record<Exclude<Range, 'live'>, number> = { '1h': 3_600_000, '6h': 21_600_000, '24h': 86_400_000, '7d': 604_800_000 };

export interface SeriesFilter {
  metric: MetricName;
  region: string | null;
  type: ContentType | null;
  content: string | null;
  range: Range;
  /** Highlighted window, epoch ms; `to` null means "until now". */
  from: number | null;
  to: number | null;
}

export interface Route {
  view: View;
  /** `#/content/<id>`: the title's detail. */
  contentId: string | null;
  series: SeriesFilter;
  /** Region filter of the alerts view (`#/alerts?region=…`). */
  alertRegion: string | null;
  /** `#/alerts/<alert id>`: the alert to point out (Alertmanager and webhooks link here). */
  alertId: string | null;
}

export const DEFAULT_SERIES: SeriesFilter = {
  metric: 'buffering_ratio',
  region: null,
  type: null,
  content: null,
  range: 'live',
  from: null,
  to: null,
};

function int(v: string | null): number | null {
  if (v === null || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const id = (v: string | null): string | null => (v && ID_RE.test(v) ? v : null);

/** Parses `#/series?metric=…` (with or without the leading `#`). Unknown views fall back to the overview. */
export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '');
  const [pathPart, query = ''] = h.split('?', 2);
  const segs = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const p = new URLSearchParams(query);
  const view = (VIEWS as readonly string[]).includes(segs[0] ?? '') ? (segs[0] as View) : 'overview';
  const metric = p.get('metric');
  const type = p.get('type');
  const range = p.get('range');
  const series: SeriesFilter = {
    metric: isMetric(metric) ? metric : DEFAULT_SERIES.metric,
    region: id(p.get('region')),
    type: (CONTENT_TYPES as readonly string[]).includes(type ?? '') ? (type as ContentType) : null,
    content: id(p.get('content')),
    range: (RANGES as readonly string[]).includes(range ?? '') ? (range as Range) : 'live',
    from: int(p.get('from')),
    to: int(p.get('to')),
  };
  if (series.from !== null && series.to !== null && series.to < series.from) [series.from, series.to] = [series.to, series.from];
  return {
    view,
    contentId: view === 'content' ? id(segs[1] ?? null) : null,
    series,
    alertRegion: view === 'alerts' ? id(p.get('region')) : null,
    alertId: view === 'alerts' ? id(segs[1] ?? null) : null,
  };
}

/** The hash of the series view for `f`, leaving defaults out. */
export function seriesHash(f: Partial<SeriesFilter>): string {
  const p = new URLSearchParams();
  p.set('metric', f.metric ?? DEFAULT_SERIES.metric);
  if (f.region) p.set('region', f.region);
  if (f.type) p.set('type', f.type);
  if (f.content) p.set('content', f.content);
  if (f.range && f.range !== 'live') p.set('range', f.range);
  if (f.from != null) p.set('from', String(f.from));
  if (f.to != null) p.set('to', String(f.to));
  return `#/series?${p.toString()}`;
}

export function viewHash(view: View, extra?: string): string {
  return `#/${view}${extra ?? ''}`;
}

/**
 * The range that shows a window starting at `from`: live while the live
 * buffer (`liveMs`) still holds it, else the smallest history range that does.
 */
export function rangeForWindow(from: number | null, now: number, liveMs: number): Range {
  if (from === null) return 'live';
  const age = now - from;
  if (age <= liveMs * 0.9) return 'live';
  for (const r of ['1h', '6h', '24h', '7d'] as const) if (age <= RANGE_MS[r] * 0.95) return r;
  return '7d';
}
