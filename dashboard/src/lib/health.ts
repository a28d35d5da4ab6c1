// Health colours of KPIs. From the detector's band score when the server
// sends one (≥ 0.5 is outside the expected range; ≥ 0.8 far outside), and
// from fixed thresholds for the quality metrics; the worse of the two wins.
import type { Health } from './types';

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

export function levelFromScore(score: number | undefined | null): Level {
  if (score == null || !Number.isFinite(score)) return 'none';
  if (score >= 0.8) return 'bad';
  if (score >= 0.5) return 'warn';
  return 'ok';
}

export function levelFromThreshold(metric: string, value: number | undefined | null): Level {
  const t = THRESHOLDS[metric];
  if (!t || value == null || !Number.isFinite(value)) return 'none';
  if (value >= t[1]) return 'bad';
  if (value >= t[0]) return 'warn';
  return 'ok';
}

export function kpiLevel(metric: string, value: number | undefined | null, score?: number | null): Level {
  return worse(levelFromThreshold(metric, value), levelFromScore(score));
}

export function levelFromHealth(h: Health | undefined | null): Level {
  return h === 'critical' ? 'bad' : h === 'degraded' ? 'warn' : h === 'healthy' ? 'ok' : 'none';
}

export function levelColor(level: Level, mode: 'dark' | 'light'): string {
  const dark = { ok: '#3fb950', warn: '#d29922', bad: '#f85149', none: '#8b949e' };
  const light = { ok: '#1a7f37', warn: '#9a6700', bad: '#cf222e', none: '#57606a' };
  return (mode === 'dark' ? dark : light)[level];
}
