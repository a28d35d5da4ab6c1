import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { DEFAULT_FEED_FILTER, reconcileFiring, upsertItems, type FeedFilter, type FeedItem } from '../lib/alertFeed';
import type { Ack, Silence } from '../lib/types';

export interface AlertsState {
  items: FeedItem[];
  /** Acknowledgements by alert id, as the server holds them (`alert_acks`, `alert_ack`). */
  acks: Record<string, Ack>;
  /** Every silence the server holds (`silences`). */
  silences: Silence[];
  /**
   * Bumped whenever acknowledgements (silences) are learnt from the socket or
   * a write's answer: a REST listing sent before then is older and ignored.
   */
  ackEpoch: number;
  silenceEpoch: number;
  filter: FeedFilter;
  loaded: boolean;
  error: string | null;
}

export const initialAlerts: AlertsState = { items: [], acks: {}, silences: [], ackEpoch: 0, silenceEpoch: 0, filter: DEFAULT_FEED_FILTER, loaded: false, error: null };

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
    /** Every acknowledgement the server holds (`alert_acks`, on connect). */
    acksLoaded(s, a: PayloadAction<Ack[]>) {
      s.acks = Object.fromEntries(a.payload.map((k) => [k.alert_id, k]));
      s.ackEpoch++;
    },
    /** One alert acknowledged (`ack` set) or no longer (`ack` null): `alert_ack`, or a write's answer. Idempotent. */
    ackChanged(s, a: PayloadAction<{ alert_id: string; ack: Ack | null }>) {
      if (a.payload.ack) s.acks[a.payload.alert_id] = a.payload.ack;
      else delete s.acks[a.payload.alert_id];
      s.ackEpoch++;
    },
    /**
     * The acknowledgements of the alerts a `GET /alerts` listed (`acks`
     * holds the acknowledged ones), asked when `ackEpoch` was `epoch`.
     */
    acksListed(s, a: PayloadAction<{ alertIds: string[]; acks: Ack[]; epoch: number }>) {
      if (a.payload.epoch !== s.ackEpoch) return;
      for (const id of a.payload.alertIds) delete s.acks[id];
      for (const k of a.payload.acks) s.acks[k.alert_id] = k;
    },
    /** The whole list of silences (`silences`: on connect and on every change). */
    silencesLoaded(s, a: PayloadAction<Silence[]>) {
      s.silences = a.payload;
      s.silenceEpoch++;
    },
    /** `GET /silences`, asked when `silenceEpoch` was `epoch`. */
    silencesListed(s, a: PayloadAction<{ silences: Silence[]; epoch: number }>) {
      if (a.payload.epoch === s.silenceEpoch) s.silences = a.payload.silences;
    },
    /** One silence as a write answered it (created, or expired). Idempotent. */
    silenceSaved(s, a: PayloadAction<Silence>) {
      const i = s.silences.findIndex((x) => x.id === a.payload.id);
      if (i >= 0) s.silences[i] = a.payload;
      else s.silences.unshift(a.payload);
      s.silenceEpoch++;
    },
    setFilter(s, a: PayloadAction<Partial<FeedFilter>>) {
      s.filter = { ...s.filter, ...a.payload };
    },
  },
});

export const alertsActions = alertsSlice.actions;
export default alertsSlice.reducer;
