// The alerts-and-anomalies feed: items from `anomaly_alert` events and the
// REST backfill, grouped (one item per alert id, per prediction region),
// capped per kind, filtered. Pure; unit-tested in alertFeed.test.ts.
import type { AlertKind, AlertLabels, AlertObject, AnomalyAlert, Severity } from './types';
import { seriesHash } from './route';
import { isMetric } from './tickShaping';

export interface FeedItem {
  id: string;
  kind: AlertKind;
  severity: Severity;
  reason: string;
  /** When it last changed (the sort key), epoch ms. */
  timestampMs: number;
  metric: string | null;
  region: string | null;
  contentId: string | null;
  /** Alerts: pending, firing or resolved. */
  state: string | null;
  /** Window to highlight: start, and end (null = still open). */
  startMs: number;
  endMs: number | null;
  value: number | null;
  expected: [number, number] | null;
  score: number;
  seriesCount: number | null;
  detector: string | null;
  /** Alerts: the regions and titles it names (its group, or its cause). */
  regions: string[];
  contents: string[];
  /** Alerts: viewers affected, when the server says. */
  viewersAffected: number | null;
  /** Alerts: the server's id (acknowledgements and links use it). */
  alertId: string | null;
  /** Alerts: the labels silences match (from the server). */
  labels: AlertLabels | null;
}

export const FEED_CAPS: Record<AlertKind, number> = { anomaly: 300, alert: 150, prediction: 50 };
export const ANOMALY_HALF_WINDOW_MS = 5_000;

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };
export const severityRank = (s: Severity): number => SEVERITY_RANK[s] ?? 0;

/**
 * The regions and titles an alert names: its group's, and its cause's when
 * the cause is a region or a title (`{dimension: "region", value: "eu-west"}`).
 * An alert whose series merely touch a region does not name it.
 */
export function alertNames(a: AlertObject): { regions: string[]; contents: string[] } {
  const regions = new Set<string>();
  const contents = new Set<string>();
  if (a.group?.region) regions.add(a.group.region);
  if (a.group?.content) contents.add(a.group.content);
  const c = a.cause;
  if (c && typeof c.value === 'string' && c.value) {
    if (c.dimension === 'region') regions.add(c.value);
    if (c.dimension === 'content') contents.add(c.value);
  }
  return { regions: [...regions], contents: [...contents] };
}

/**
 * Viewers affected by an alert, when the server says: the contract leaves
 * the field's name open, so the likely spellings are read, each only when
 * it is a finite number.
 */
export function viewersAffected(a: AlertObject): number | null {
  const o = a as unknown as Record<string, unknown>;
  const impact = o.impact;
  const candidates = [
    o.viewers_affected,
    o.affected_viewers,
    typeof impact === 'object' && impact !== null ? (impact as Record<string, unknown>).viewers : impact,
    typeof impact === 'object' && impact !== null ? (impact as Record<string, unknown>).viewers_affected : undefined,
    o.viewers,
  ];
  for (const v of candidates) if (typeof v === 'number' && Number.isFinite(v)) return v;
  return null;
}

function alertTarget(a: AlertObject): { metric: string | null; region: string | null; content: string | null } {
  const series = a.series ?? [];
  const uniq = <T,>(xs: T[]) => [...new Set(xs)];
  const regions = uniq(series.map((s) => s.region ?? null));
  const contents = uniq(series.map((s) => s.content ?? null));
  const metrics = uniq(series.map((s) => s.metric));
  const named = alertNames(a);
  return {
    metric: a.group?.metric ?? (metrics.length === 1 ? metrics[0] : null),
    region: a.group?.region ?? (named.regions.length === 1 ? named.regions[0] : null) ?? (regions.length === 1 ? regions[0] : null),
    content: a.group?.content ?? (named.contents.length === 1 ? named.contents[0] : null) ?? (contents.length === 1 ? contents[0] : null),
  };
}

/** The wire's `fired` is the alert's `firing`. */
const normState = (s: string | null | undefined): string | null => (s === 'fired' ? 'firing' : (s ?? null));

/** A feed item from a GET /alerts entry. */
export function itemFromAlert(a: AlertObject): FeedItem {
  const t = alertTarget(a);
  return {
    id: `alert:${a.id}`,
    kind: 'alert',
    severity: a.severity,
    reason: a.summary ?? `${a.rule} ${a.state}`,
    timestampMs: a.resolved_ms ?? a.fired_ms ?? a.started_ms,
    metric: t.metric,
    region: t.region,
    contentId: t.content,
    state: a.state,
    startMs: a.started_ms,
    endMs: a.resolved_ms ?? null,
    value: a.value ?? null,
    expected: a.baseline != null ? [a.baseline, a.baseline] : null,
    score: a.cause?.score != null ? Math.min(1, a.cause.score / 3) : 1,
    seriesCount: a.series_count ?? a.series?.length ?? null,
    detector: a.rule,
    ...alertNames(a),
    viewersAffected: viewersAffected(a),
    alertId: a.id,
    labels: a.labels ?? null,
  };
}

/** A feed item from an `anomaly_alert` payload (also the REST anomalies and predictions). */
export function itemFromEvent(e: AnomalyAlert): FeedItem {
  const region = e.scope?.region ?? null;
  const contentId = e.scope?.content_id ?? null;
  if (e.kind === 'alert' && e.alert) {
    const item = itemFromAlert(e.alert);
    // The event's state is the transition's; the object is the alert after it.
    return {
      ...item,
      reason: e.reason || item.reason,
      severity: e.severity ?? item.severity,
      state: normState(e.state) ?? item.state,
      labels: e.labels ?? item.labels,
    };
  }
  const base = {
    kind: e.kind,
    severity: e.severity,
    reason: e.reason,
    timestampMs: e.timestamp_ms,
    metric: e.metric ?? null,
    region,
    contentId,
    value: e.value ?? null,
    expected: e.expected_range ?? null,
    score: e.score,
    seriesCount: null,
    detector: e.detector ?? null,
    regions: e.kind === 'alert' && region ? [region] : [],
    contents: e.kind === 'alert' && contentId ? [contentId] : [],
    viewersAffected: null,
    alertId: e.kind === 'alert' ? (e.alert_id ?? null) : null,
    labels: e.kind === 'alert' ? (e.labels ?? null) : null,
  };
  if (e.kind === 'prediction') {
    return {
      ...base,
      id: `prediction:${region ?? 'all'}:${e.metric ?? ''}`,
      state: null,
      startMs: e.timestamp_ms,
      endMs: e.crossing_ms ?? null,
    };
  }
  if (e.kind === 'alert') {
    return {
      ...base,
      id: `alert:${e.alert_id ?? `${e.timestamp_ms}:${e.metric}:${region}`}`,
      state: normState(e.state),
      startMs: e.timestamp_ms,
      endMs: e.state === 'resolved' ? e.timestamp_ms : null,
    };
  }
  return {
    ...base,
    id: `anomaly:${e.timestamp_ms}:${e.metric ?? ''}:${region ?? ''}:${contentId ?? ''}`,
    state: null,
    startMs: e.timestamp_ms - ANOMALY_HALF_WINDOW_MS,
    endMs: e.timestamp_ms + ANOMALY_HALF_WINDOW_MS,
  };
}

/**
 * Adds or replaces items (same id: the newer wins, an alert's resolution
 * keeps its start), newest first, each kind capped at `caps`. Firing alerts
 * are never dropped for the cap (the server's active alerts bound them): a
 * long-running incident must not go calm because newer items came in.
 */
export function upsertItems(list: FeedItem[], incoming: FeedItem[], caps: Record<AlertKind, number> = FEED_CAPS): FeedItem[] {
  const byId = new Map<string, FeedItem>();
  for (const it of list) byId.set(it.id, it);
  for (const it of incoming) {
    const prev = byId.get(it.id);
    if (!prev) {
      byId.set(it.id, it);
    } else if (it.timestampMs >= prev.timestampMs) {
      byId.set(it.id, { ...it, startMs: Math.min(prev.startMs, it.startMs), labels: it.labels ?? prev.labels });
    }
  }
  const sorted = [...byId.values()].sort((a, b) => b.timestampMs - a.timestampMs || (a.id < b.id ? -1 : 1));
  const counts: Record<AlertKind, number> = { anomaly: 0, alert: 0, prediction: 0 };
  return sorted.filter((it) => (it.kind === 'alert' && it.state === 'firing') || ++counts[it.kind] <= (caps[it.kind] ?? 0));
}

/**
 * The feed after a poll of the firing alerts (`GET /alerts?state=firing`)
 * sent at `sentMs`: an alert the feed still has firing, that changed before
 * the poll was sent and that the server no longer lists as firing, resolved
 * without the feed hearing it (a dropped connection, a missed event).
 */
export function reconcileFiring(list: FeedItem[], firingIds: string[], sentMs: number): FeedItem[] {
  const firing = new Set(firingIds);
  let changed = false;
  const out = list.map((it) => {
    if (it.kind !== 'alert' || it.state !== 'firing' || firing.has(it.id) || it.timestampMs >= sentMs) return it;
    changed = true;
    return { ...it, state: 'resolved', endMs: it.endMs ?? sentMs };
  });
  return changed ? out : list;
}

export interface FeedFilter {
  minSeverity: Severity;
  kind: AlertKind | 'all';
  region: string | null;
  /** Alerts only: open, or handled (acknowledged or silenced). Anomaly points and predictions are never acknowledged. */
  ack: 'all' | 'open' | 'acked';
  text: string;
}

export const DEFAULT_FEED_FILTER: FeedFilter = { minSeverity: 'info', kind: 'all', region: null, ack: 'all', text: '' };

/** The items `f` keeps; `handled` holds the feed ids of the alerts acknowledged or silenced. */
export function filterItems(items: FeedItem[], f: FeedFilter, handled: Record<string, number>): FeedItem[] {
  const min = severityRank(f.minSeverity);
  const text = f.text.trim().toLowerCase();
  return items.filter((it) => {
    if (severityRank(it.severity) < min) return false;
    if (f.kind !== 'all' && it.kind !== f.kind) return false;
    if (f.region && it.region !== f.region) return false;
    if (it.kind === 'alert' && f.ack !== 'all' && (it.id in handled) !== (f.ack === 'acked')) return false;
    if (text && !`${it.reason} ${it.contentId ?? ''} ${it.region ?? ''}`.toLowerCase().includes(text)) return false;
    return true;
  });
}

/**
 * Counts for the nav badge and the open-alerts tile: open (neither
 * acknowledged nor silenced: not in `handled`) alerts that fire, and how
 * many of them are critical. Anomaly points and pending alerts are not
 * alarms and are not counted.
 */
export function openCounts(items: FeedItem[], handled: Record<string, number>): { firing: number; critical: number } {
  let firing = 0;
  let critical = 0;
  for (const it of items) {
    if (it.id in handled || it.kind !== 'alert' || it.state !== 'firing') continue;
    firing++;
    if (it.severity === 'critical') critical++;
  }
  return { firing, critical };
}

/** The series-view link of an item: its metric, region and title, with its window highlighted. */
export function itemLink(it: FeedItem): string {
  const metric = isMetric(it.metric) ? it.metric : it.kind === 'prediction' ? 'bandwidth_mbps' : 'buffering_ratio';
  return seriesHash({
    metric,
    region: it.region,
    content: it.contentId,
    from: it.startMs,
    to: it.kind === 'prediction' ? null : it.endMs,
  });
}
