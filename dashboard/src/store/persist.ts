// The theme and the operator's name survive a reload (localStorage).
// Acknowledgements are the server's (GET /alerts, Socket.IO `alert_acks`).
import { operatorNameOk } from './uiSlice';

const KEY = 'streammon.dashboard.v1';

export interface Persisted {
  theme?: string;
  /** The name recorded with acknowledgements and silences. */
  operator?: string;
}

export function parsePersisted(raw: string | null): Persisted {
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (!v || typeof v !== 'object') return {};
    const o = v as Record<string, unknown>;
    const out: Persisted = {};
    if (o.theme === 'dark' || o.theme === 'light') out.theme = o.theme;
    if (typeof o.operator === 'string' && operatorNameOk(o.operator)) out.operator = o.operator.trim();
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
