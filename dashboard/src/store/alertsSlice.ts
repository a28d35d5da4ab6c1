import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { DEFAULT_FEED_FILTER, reconcileFiring, upsertItems, type FeedFilter, type FeedItem } from '../lib/alertFeed';
import type { Ack, Silence } from '../lib/types';

export interface AlertsState {
  items: FeedItem[];
  /** Acknowledgements by alert id, as the server holds them (`alert_acks`, `alert_ack`). */
  acks: Record<string, Ack>;
  /** Every silence the server holds (`silences`). */
  silences: Silence[];
  filter: FeedFilter;
  loaded: boolean;
  error: string | null;
}

export const initialAlerts: AlertsState = { items: [], acks: {}, silences: [], filter: DEFAULT_FEED_FILTER, loaded: false, error: null };

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
    /** Every acknowledgement the server holds (on connect). */
    acksLoaded(s, a: PayloadAction<Ack[]>) {
      s.acks = Object.fromEntries(a.payload.map((k) => [k.alert_id, k]));
    },
    /** One alert acknowledged (`ack` set) or no longer (`ack` null). */
    ackChanged(s, a: PayloadAction<{ alert_id: string; ack: Ack | null }>) {
      if (a.payload.ack) s.acks[a.payload.alert_id] = a.payload.ack;
      else delete s.acks[a.payload.alert_id];
    },
    /** The whole list of silences (on connect and on every change). */
    silencesLoaded(s, a: PayloadAction<Silence[]>) {
      s.silences = a.payload;
    },
    setFilter(s, a: PayloadAction<Partial<FeedFilter>>) {
      s.filter = { ...s.filter, ...a.payload };
    },
  },
});

export const alertsActions = alertsSlice.actions;
export default alertsSlice.reducer;
