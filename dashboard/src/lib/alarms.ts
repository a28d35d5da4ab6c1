// What may sound an alarm: a firing alert, and nothing else. A band score
// or a single anomaly point is context (a quiet marker, a secondary list);
// a region, a title or a KPI turns amber or red only while a firing alert
// names it (KPIs also from the fixed harm thresholds of health.ts).
// Pure; unit-tested in alarms.test.ts.
import { severityRank, type FeedItem } from './alertFeed';
import type { Level } from './health';
import type { Health, Severity } from './types';

export const isFiring = (it: FeedItem): boolean => it.kind === 'alert' && it.state === 'firing';

/** The colour of a firing alert of this severity: info ones do not raise their voice. */
export function levelOfSeverity(s: Severity): Level {
  return s === 'critical' ? 'bad' : s === 'warning' ? 'warn' : 'ok';
}

/** Worst first: severity, then viewers affected (when known), then the most recent. */
export function compareAlarms(a: FeedItem, b: FeedItem): number {
  const sev = severityRank(b.severity) - severityRank(a.severity);
  if (sev !== 0) return sev;
  const va = a.viewersAffected ?? -1;
  const vb = b.viewersAffected ?? -1;
  if (va !== vb) return vb - va;
  if (a.timestampMs !== b.timestampMs) return b.timestampMs - a.timestampMs;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The firing alerts, worst first. */
export function firingAlerts(items: FeedItem[]): FeedItem[] {
  return items.filter(isFiring).sort(compareAlarms);
}

/** "Needs attention": the firing alerts nobody acknowledged or silenced (`handled`), worst first. */
export function needsAttention(items: FeedItem[], handled: Record<string, number>, limit = 8): FeedItem[] {
  return firingAlerts(items)
    .filter((it) => !(it.id in handled))
    .slice(0, limit);
}

export interface Alarm {
  /** `ok` when no alert fires for it, else its worst alert's colour. */
  level: Level;
  /** Its worst firing alert. */
  alert: FeedItem | null;
  /** How many firing alerts name it. */
  count: number;
}

/** No alert fires for it. */
export const CALM: Alarm = { level: 'ok', alert: null, count: 0 };

function worstOf(matching: FeedItem[]): Alarm {
  if (matching.length === 0) return CALM;
  const alert = [...matching].sort(compareAlarms)[0];
  return { level: levelOfSeverity(alert.severity), alert, count: matching.length };
}

/** A region's alarm: the firing alerts that name it (group or cause). */
export function regionAlarm(region: string, items: FeedItem[]): Alarm {
  return worstOf(items.filter((it) => isFiring(it) && it.regions.includes(region)));
}

/** A title's alarm: the firing alerts that name it. */
export function contentAlarm(contentId: string, items: FeedItem[]): Alarm {
  return worstOf(items.filter((it) => isFiring(it) && it.contents.includes(contentId)));
}

/** A metric's alarm: the firing alerts on that metric, wherever they are. */
export function metricAlarm(metric: string, items: FeedItem[]): Alarm {
  return worstOf(items.filter((it) => isFiring(it) && it.metric === metric));
}

/** The server's rule for a title's health, from its worst firing alert. */
export function healthOfAlarm(a: Alarm): Health {
  if (!a.alert) return 'healthy';
  return a.alert.severity === 'critical' ? 'critical' : 'degraded';
}
