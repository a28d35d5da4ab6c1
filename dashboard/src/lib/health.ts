// Health colours. A KPI is amber or red from a firing alert on its metric
// (lib/alarms.ts) or from the fixed thresholds below, which are real harm
// (service-wide buffering at 3 % is red whatever was expected); the worse
// of the two wins. A band score alone (≥ 0.5: outside the expected range)
// never colours anything: it is context, shown as a quiet marker.
import type { Band, Health } from './types';

export type Level = 'ok' | 'warn' | 'bad' | 'none';

/** [amber from, red from], higher is worse. */
export const THRESHOLDS: Record<string, [number, number]> = {
  latency_ms: [100, 250],
  buffering_ratio: [0.01, 0.03],
  error_rate: [0.01, 0.05],
  startup_time_ms: [2_000, 4_000],
  utilization: [0.75, 0.9],
};

const RANK: Record<Level, number> = { none: 0, ok: 1, warn: 2, bad: 3 };
export const worse = (a: Level, b: Level): Level => (RANK[a] >= RANK[b] ? a : b);

/** Whether a band says its figure is outside the expected range (score ≥ 0.5): context, never a colour. */
export function outsideBand(band: Band | undefined | null): boolean {
  return !!band && Number.isFinite(band.score) && band.score >= 0.5;
}

export function levelFromThreshold(metric: string, value: number | undefined | null): Level {
  const t = THRESHOLDS[metric];
  if (!t || value == null || !Number.isFinite(value)) return 'none';
  if (value >= t[1]) return 'bad';
  if (value >= t[0]) return 'warn';
  return 'ok';
}

/** A KPI's level: its fixed threshold, or the level of the firing alerts on its metric, whichever is worse. */
export function kpiLevel(metric: string, value: number | undefined | null, alarm: Level = 'ok'): Level {
  const t = levelFromThreshold(metric, value);
  return worse(t === 'none' ? 'ok' : t, alarm);
}

export function levelFromHealth(h: Health | undefined | null): Level {
  return h === 'critical' ? 'bad' : h === 'degraded' ? 'warn' : h === 'healthy' ? 'ok' : 'none';
}

export function levelColor(level: Level, mode: 'dark' | 'light'): string {
  const dark = { ok: '#3fb950', warn: '#d29922', bad: '#f85149', none: '#8b949e' };
  const light = { ok: '#1a7f37', warn: '#9a6700', bad: '#cf222e', none: '#57606a' };
  return (mode === 'dark' ? dark : light)[level];
}
