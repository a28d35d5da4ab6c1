// Gap detection and backfill merging for the live tick stream.
import type { MetricsUpdate } from './types';

export type GapCheck =
  | { kind: 'first' }
  | { kind: 'next' }
  | { kind: 'duplicate' }
  | { kind: 'gap'; missing: number }
  | { kind: 'reset' };

/**
 * How `tick` follows the last tick seen (`lastSeq`, `lastTs`): the next one,
 * a repeat, a gap of `missing` ticks, or a reset (the server restarted: seq
 * went backwards while time went forwards).
 */
export function checkSequence(lastSeq: number | null, lastTs: number | null, tick: Pick<MetricsUpdate, 'seq' | 'timestamp_ms'>): GapCheck {
  if (lastSeq === null || lastTs === null) return { kind: 'first' };
  if (tick.seq === lastSeq + 1) return { kind: 'next' };
  if (tick.seq <= lastSeq) {
    return tick.timestamp_ms > lastTs ? { kind: 'reset' } : { kind: 'duplicate' };
  }
  return { kind: 'gap', missing: tick.seq - lastSeq - 1 };
}

/**
 * The ticks to apply after a gap, in order and without repeats: those of
 * the REST backfill and those that arrived live meanwhile, newer than
 * `lastSeq`.
 */
export function mergeBackfill(lastSeq: number | null, backfill: MetricsUpdate[], pending: MetricsUpdate[]): MetricsUpdate[] {
  const bySeq = new Map<number, MetricsUpdate>();
  for (const t of [...backfill, ...pending]) {
    if (lastSeq !== null && t.seq <= lastSeq) continue;
    // A live tick wins over the REST copy (it carries regions and bands).
    bySeq.set(t.seq, t);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** The REST query that backfills after `lastTs`: at most `max` ticks, full detail. */
export function backfillQuery(lastTs: number | null, max: number): string {
  const p = new URLSearchParams({ detail: 'full', limit: String(max) });
  if (lastTs !== null) p.set('since', String(lastTs));
  return `/metrics?${p.toString()}`;
}
