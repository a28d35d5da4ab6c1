// Sorting and searching the content table. Pure; unit-tested.
import type { ContentRow, ContentStatus, ContentType, Health } from './types';

export type SortKey = 'title' | 'content_type' | 'status' | 'viewers' | 'bitrate_kbps' | 'buffering_ratio' | 'latency_ms' | 'health';
export interface TableQuery {
  q: string;
  type: ContentType | null;
  streamingOnly: boolean;
  sort: SortKey;
  desc: boolean;
}

export const STREAMING: ReadonlySet<ContentStatus> = new Set(['available', 'pre_show', 'live']);
const HEALTH_RANK: Record<Health, number> = { healthy: 0, degraded: 1, critical: 2 };

export function queryRows(rows: ContentRow[], q: TableQuery): ContentRow[] {
  const text = q.q.trim().toLowerCase();
  const out = rows.filter(
    (r) =>
      (!q.type || r.content_type === q.type) &&
      (!q.streamingOnly || STREAMING.has(r.status)) &&
      (!text || r.title.toLowerCase().includes(text) || r.content_id.toLowerCase().includes(text) || (r.genre ?? '').toLowerCase().includes(text)),
  );
  const key = (r: ContentRow): number | string => {
    switch (q.sort) {
      case 'title':
        return r.title.toLowerCase();
      case 'content_type':
        return r.content_type;
      case 'status':
        return r.status;
      case 'health':
        return HEALTH_RANK[r.health] ?? 0;
      default:
        return r[q.sort] ?? -Infinity;
    }
  };
  const dir = q.desc ? -1 : 1;
  return out.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka < kb) return -dir;
    if (ka > kb) return dir;
    return a.content_id < b.content_id ? -1 : 1;
  });
}
