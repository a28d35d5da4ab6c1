import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { ContentChange, ContentRow, Health } from '../lib/types';

export interface ContentState {
  rows: Record<string, ContentRow>;
  total: number;
  fetchedAt: number | null;
  error: string | null;
  /** Latest status changes, newest first, capped. */
  changes: ContentChange[];
  /** Title id → when its row last changed status (for a brief highlight). */
  changedAt: Record<string, number>;
  /**
   * Title id → a health set from an alert event between two polls: the
   * event's tick time and when it arrived (epoch ms). A poll that has not
   * seen that tick yet does not undo it.
   */
  healthAt: Record<string, { ts: number; at: number }>;
}

/** How long a health set from an alert event may outlive the polls that disagree with it. */
export const HEALTH_PATCH_MS = 15_000;

export const MAX_CHANGES = 100;
export const initialContent: ContentState = { rows: {}, total: 0, fetchedAt: null, error: null, changes: [], changedAt: {}, healthAt: {} };

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
        let row = keepStatus ? { ...r, status: prev.status } : r;
        // Likewise an alert that fired or resolved after the poll's tick.
        const patch = s.healthAt[r.content_id];
        if (patch && prev && patch.ts > (r.last_seen_ms ?? 0) && a.payload.at - patch.at < HEALTH_PATCH_MS) {
          row = { ...row, health: prev.health, health_reason: prev.health_reason, firing_alerts: prev.firing_alerts };
        } else if (patch) {
          delete s.healthAt[r.content_id];
        }
        rows[r.content_id] = row;
      }
      s.rows = rows;
      s.total = a.payload.total;
      s.fetchedAt = a.payload.at;
      s.error = null;
      for (const id of Object.keys(s.changedAt)) if (!(id in rows)) delete s.changedAt[id];
      for (const id of Object.keys(s.healthAt)) if (!(id in rows)) delete s.healthAt[id];
    },
    /**
     * Titles' health from the firing alerts that name them, after an
     * alert fired or resolved (`ts`: its tick time; `at`: now): the table
     * follows at once instead of at the next poll, which has the last word.
     */
    healthFromAlerts(s, a: PayloadAction<{ health: Record<string, { health: Health; reason: string | null; firing: number }>; ts: number; at: number }>) {
      for (const [id, h] of Object.entries(a.payload.health)) {
        const row = s.rows[id];
        if (!row) continue;
        row.health = h.health;
        row.health_reason = h.reason;
        row.firing_alerts = h.firing;
        s.healthAt[id] = { ts: a.payload.ts, at: a.payload.at };
      }
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
