import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

export type ConnStatus = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface ConnectionState {
  status: ConnStatus;
  /** Last tick applied. */
  lastSeq: number | null;
  lastTs: number | null;
  /** Client clock when the last tick arrived. */
  lastTickAt: number | null;
  ticks: number;
  gaps: number;
  missedTicks: number;
  backfilling: boolean;
  backfilled: number;
  lagged: number;
  error: string | null;
  disconnectedAt: number | null;
}

export const initialConnection: ConnectionState = {
  status: 'connecting',
  lastSeq: null,
  lastTs: null,
  lastTickAt: null,
  ticks: 0,
  gaps: 0,
  missedTicks: 0,
  backfilling: false,
  backfilled: 0,
  lagged: 0,
  error: null,
  disconnectedAt: null,
};

const connectionSlice = createSlice({
  name: 'connection',
  initialState: initialConnection,
  reducers: {
    connected(s) {
      s.status = 'connected';
      s.error = null;
      s.disconnectedAt = null;
    },
    disconnected(s, a: PayloadAction<{ reason: string; at: number }>) {
      s.status = 'reconnecting';
      s.error = a.payload.reason;
      s.disconnectedAt ??= a.payload.at;
    },
    connectError(s, a: PayloadAction<string>) {
      if (s.status !== 'connected') s.status = s.lastSeq === null ? 'connecting' : 'reconnecting';
      s.error = a.payload;
    },
    stopped(s) {
      s.status = 'disconnected';
    },
    /** Ticks applied (live or backfilled), in order. */
    ticksApplied(s, a: PayloadAction<{ seq: number; ts: number; at: number; count: number }>) {
      s.lastSeq = a.payload.seq;
      s.lastTs = a.payload.ts;
      s.lastTickAt = a.payload.at;
      s.ticks += a.payload.count;
    },
    gapDetected(s, a: PayloadAction<number>) {
      s.gaps += 1;
      s.missedTicks += a.payload;
    },
    backfillStarted(s) {
      s.backfilling = true;
    },
    backfillDone(s, a: PayloadAction<number>) {
      s.backfilling = false;
      s.backfilled += a.payload;
    },
    serverReset(s) {
      s.lastSeq = null;
      s.lastTs = null;
    },
    lagged(s, a: PayloadAction<number>) {
      s.lagged += a.payload;
    },
  },
});

export const connectionActions = connectionSlice.actions;
export default connectionSlice.reducer;
