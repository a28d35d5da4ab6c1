import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { DEFAULT_FEED_FILTER, reconcileFiring, upsertItems, type FeedFilter, type FeedItem } from '../lib/alertFeed';

export interface AlertsState {
  items: FeedItem[];
  /** Acknowledged item ids → when (epoch ms); persisted. */
  acked: Record<string, number>;
  filter: FeedFilter;
  loaded: boolean;
  error: string | null;
}

export const MAX_ACKS = 2000;

export const initialAlerts: AlertsState = { items: [], acked: {}, filter: DEFAULT_FEED_FILTER, loaded: false, error: null };

function capAcks(acked: Record<string, number>): Record<string, number> {
  const entries = Object.entries(acked);
  if (entries.length <= MAX_ACKS) return acked;
  entries.sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(entries.slice(0, MAX_ACKS));
}

const alertsSlice = createSlice({
  name: 'alerts',
  initialState: initialAlerts,
  reducers: {
    received(s, a: PayloadAction<FeedItem[]>) {
      s.items = upsertItems(s.items, a.payload);
    },
    backfilled(s, a: PayloadAction<FeedItem[]>) {
      s.items = upsertItems(s.items, a.payload);
      s.loaded = true;
      s.error = null;
    },
    /** A poll of the firing alerts (their feed ids), sent at `sentMs`: see `reconcileFiring`. */
    firingListed(s, a: PayloadAction<{ ids: string[]; sentMs: number }>) {
      s.items = reconcileFiring(s.items, a.payload.ids, a.payload.sentMs);
    },
    backfillFailed(s, a: PayloadAction<string>) {
      s.error = a.payload;
    },
    acknowledge(s, a: PayloadAction<{ ids: string[]; at: number }>) {
      for (const id of a.payload.ids) s.acked[id] = a.payload.at;
      s.acked = capAcks(s.acked);
    },
    unacknowledge(s, a: PayloadAction<string>) {
      delete s.acked[a.payload];
    },
    setFilter(s, a: PayloadAction<Partial<FeedFilter>>) {
      s.filter = { ...s.filter, ...a.payload };
    },
    restoreAcks(s, a: PayloadAction<Record<string, number>>) {
      s.acked = capAcks({ ...a.payload, ...s.acked });
    },
  },
});

export const alertsActions = alertsSlice.actions;
export default alertsSlice.reducer;
