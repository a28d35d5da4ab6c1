import { RingBuffer } from './ringBuffer';

/** One scope's aligned series: a time axis and a ring per field. */
export class ScopeSeries {
  readonly t: RingBuffer;
  readonly fields = new Map<string, RingBuffer>();
  constructor(readonly capacity: number) {
    this.t = new RingBuffer(capacity);
  }

  /** Appends one row; fields missing from `row` get NaN so every ring stays aligned with `t`. */
  push(timestampMs: number, row: Record<string, number>): void {
    const last = this.t.last();
    if (!Number.isNaN(last) && timestampMs <= last) return; // out of order or duplicate: dropped
    for (const key of Object.keys(row)) {
      if (!this.fields.has(key)) this.fields.set(key, new RingBuffer(this.capacity, this.t.length));
    }
    this.t.push(timestampMs);
    for (const [key, ring] of this.fields) {
      const v = row[key];
      ring.push(typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN);
    }
  }

  series(field: string): RingBuffer | undefined {
    return this.fields.get(field);
  }
}

/**
 * Every live series the dashboard draws, by scope (`all`, `region:eu-west`,
 * `type:video`, `content:vod-000001`, …), each in fixed-capacity rings. Kept
 * outside Redux: the store only holds `version`, bumped on every change.
 */
export class SeriesStore {
  private readonly scopes = new Map<string, ScopeSeries>();
  version = 0;
  constructor(readonly capacity: number, readonly maxScopes = 64) {}

  push(scope: string, timestampMs: number, row: Record<string, number>): void {
    let s = this.scopes.get(scope);
    if (!s) {
      if (this.scopes.size >= this.maxScopes) {
        // Bounded: forget the oldest scope (Map keeps insertion order).
        const oldest = this.scopes.keys().next().value;
        if (oldest !== undefined) this.scopes.delete(oldest);
      }
      s = new ScopeSeries(this.capacity);
      this.scopes.set(scope, s);
    }
    s.push(timestampMs, row);
  }

  scope(scope: string): ScopeSeries | undefined {
    return this.scopes.get(scope);
  }

  scopeKeys(): string[] {
    return [...this.scopes.keys()];
  }

  dropScope(prefix: string): void {
    for (const k of [...this.scopes.keys()]) if (k === prefix || k.startsWith(prefix + '|')) this.scopes.delete(k);
  }

  clear(): void {
    this.scopes.clear();
  }

  /** Time of the newest tick of `all`, or NaN. */
  lastTime(scope = 'all'): number {
    return this.scopes.get(scope)?.t.last() ?? Number.NaN;
  }
}

/** 15 minutes of 1 s ticks. */
export const LIVE_CAPACITY = 900;
export const liveSeries = new SeriesStore(LIVE_CAPACITY);
