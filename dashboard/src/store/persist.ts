// Acknowledgements and the theme survive a reload (localStorage).
const KEY = 'streammon.dashboard.v1';

export interface Persisted {
  theme?: string;
  acked?: Record<string, number>;
}

export function parsePersisted(raw: string | null): Persisted {
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (!v || typeof v !== 'object') return {};
    const o = v as Record<string, unknown>;
    const out: Persisted = {};
    if (o.theme === 'dark' || o.theme === 'light') out.theme = o.theme;
    if (o.acked && typeof o.acked === 'object') {
      out.acked = {};
      for (const [k, t] of Object.entries(o.acked as Record<string, unknown>)) if (typeof t === 'number') out.acked[k] = t;
    }
    return out;
  } catch {
    return {};
  }
}

export function loadPersisted(): Persisted {
  try {
    return parsePersisted(globalThis.localStorage?.getItem(KEY) ?? null);
  } catch {
    return {};
  }
}

export function savePersisted(p: Persisted): void {
  try {
    globalThis.localStorage?.setItem(KEY, JSON.stringify(p));
  } catch {
    // Private mode or quota: not worth an error for the operator.
  }
}
