import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { ContentChange, ContentRow } from '../lib/types';

export interface ContentState {
  rows: Record<string, ContentRow>;
  total: number;
  fetchedAt: number | null;
  error: string | null;
  /** Latest status changes, newest first, capped. */
  changes: ContentChange[];
  /** Title id → when its row last changed status (for a brief highlight). */
  changedAt: Record<string, number>;
}

export const MAX_CHANGES = 100;
export const initialContent: ContentState = { rows: {}, total: 0, fetchedAt: null, error: null, changes: [], changedAt: {} };

const STREAMING = new Set(['available', 'pre_show', 'live']);

const contentSlice = createSlice({
  name: 'content',
  initialState: initialContent,
  reducers: {
    /** A fresh `GET /content`: replaces the rows (titles gone from it are gone). */
    listed(s, a: PayloadAction<{ rows: ContentRow[]; total: number; at: number }>) {
      const rows: Record<string, ContentRow> = {};
      for (const r of a.payload.rows) {
        const prev = s.rows[r.content_id];
        // A live change newer than the poll wins over the polled status.
        const keepStatus = prev && (s.changedAt[r.content_id] ?? 0) > (r.last_seen_ms ?? 0) && prev.status !== r.status;
        rows[r.content_id] = keepStatus ? { ...r, status: prev.status } : r;
      }
      s.rows = rows;
      s.total = a.payload.total;
      s.fetchedAt = a.payload.at;
      s.error = null;
      for (const id of Object.keys(s.changedAt)) if (!(id in rows)) delete s.changedAt[id];
    },
    listFailed(s, a: PayloadAction<string>) {
      s.error = a.payload;
    },
    /** A `content_change` event, applied at once. */
    changed(s, a: PayloadAction<ContentChange>) {
      const c = a.payload;
      const status = c.status ?? c.to;
      const row = s.rows[c.content_id];
      if (row) {
        row.status = status;
        row.status_since_ms = c.timestamp_ms;
        if (!STREAMING.has(status)) {
          row.viewers = 0;
          row.streams = 0;
        }
      } else {
        s.rows[c.content_id] = {
          content_id: c.content_id,
          title: c.title,
          content_type: c.content_type,
          genre: c.genre,
          status,
          status_since_ms: c.timestamp_ms,
          viewers: 0,
          streams: 0,
          health: 'healthy',
        };
        s.total += 1;
      }
      s.changedAt[c.content_id] = c.timestamp_ms;
      s.changes.unshift(c);
      if (s.changes.length > MAX_CHANGES) s.changes.length = MAX_CHANGES;
    },
  },
});

export const contentActions = contentSlice.actions;
export default contentSlice.reducer;
