import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { MetricsUpdate } from '../lib/types';

/**
 * The newest whole-service tick (small) and the version of the live ring
 * buffers, which live outside the store (lib/seriesStore.ts): components
 * that draw series select `version` and re-read the rings when it moves.
 */
export interface TicksState {
  latest: MetricsUpdate | null;
  /** Newest tick per region of the latest tick, by id, for quick lookups. */
  regionIds: string[];
  version: number;
}

export const initialTicks: TicksState = { latest: null, regionIds: [], version: 0 };

const ticksSlice = createSlice({
  name: 'ticks',
  initialState: initialTicks,
  reducers: {
    latestTick(s, a: PayloadAction<MetricsUpdate>) {
      s.latest = a.payload;
      const ids = (a.payload.regions ?? []).map((r) => r.region);
      if (ids.length && ids.join() !== s.regionIds.join()) s.regionIds = ids;
      s.version += 1;
    },
    seriesChanged(s) {
      s.version += 1;
    },
    reset() {
      return initialTicks;
    },
  },
});

export const ticksActions = ticksSlice.actions;
export default ticksSlice.reducer;
