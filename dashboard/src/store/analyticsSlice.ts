import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { Analytics, HealthResponse } from '../lib/types';

export interface AnalyticsState {
  /** The latest `GET /analytics`, without its anomalies (those go to the feed). */
  data: Omit<Analytics, 'anomalies'> | null;
  health: HealthResponse | null;
  fetchedAt: number | null;
  error: string | null;
}

export const initialAnalytics: AnalyticsState = { data: null, health: null, fetchedAt: null, error: null };

const analyticsSlice = createSlice({
  name: 'analytics',
  initialState: initialAnalytics,
  reducers: {
    fetched(s, a: PayloadAction<{ data: Analytics; at: number }>) {
      const { anomalies: _anomalies, ...rest } = a.payload.data;
      s.data = rest;
      s.fetchedAt = a.payload.at;
      s.error = null;
    },
    failed(s, a: PayloadAction<string>) {
      s.error = a.payload;
    },
    health(s, a: PayloadAction<HealthResponse>) {
      s.health = a.payload;
    },
  },
});

export const analyticsActions = analyticsSlice.actions;
export default analyticsSlice.reducer;
