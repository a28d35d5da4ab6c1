import { useEffect, useState } from 'react';
import { getJson, isAbort } from '../lib/api';
import { aggregateSeries, historyPlan, ticksToColumns } from '../lib/historyShaping';
import type { Columns } from '../lib/tickShaping';
import type { Range, SeriesFilter } from '../lib/route';
import type { HistoryResponse, SeriesResponse } from '../lib/types';

export interface HistoryState {
  loading: boolean;
  error: string | null;
  cols: Record<string, Columns> | null;
  fetchedAt: number | null;
}

const REFRESH_MS = 30_000;
const TITLE_LIVE_REFRESH_MS = 5_000;

/**
 * The REST history of `metrics` for the filter's scope over `range`: nothing
 * for the live range (the ring buffers have it) except for a single title,
 * whose live window is polled from its stored series.
 */
export function useHistory(f: SeriesFilter, range: Range, metrics: string[]): HistoryState {
  const [state, setState] = useState<HistoryState>({ loading: false, error: null, cols: null, fetchedAt: null });
  const key = `${range}|${f.region}|${f.type}|${f.content}|${metrics.join()}`;
  useEffect(() => {
    const titleLive = range === 'live' && !!f.content;
    if (range === 'live' && !titleLive) {
      setState({ loading: false, error: null, cols: null, fetchedAt: null });
      return;
    }
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const load = async () => {
      setState((s) => ({ ...s, loading: true }));
      try {
        const plan = historyPlan({ ...f, range }, metrics);
        const cols: Record<string, Columns> = {};
        if (plan.kind === 'ticks') {
          const res = await getJson<HistoryResponse>(plan.url, ctl.signal);
          for (const m of metrics) cols[m] = ticksToColumns(res.ticks ?? [], plan.scope, m);
        } else {
          const entries = await Promise.all(Object.entries(plan.urls).map(async ([m, url]) => [m, aggregateSeries(await getJson<SeriesResponse>(url, ctl.signal))] as const));
          for (const [m, c] of entries) cols[m] = c;
        }
        setState({ loading: false, error: null, cols, fetchedAt: Date.now() });
      } catch (e) {
        if (isAbort(e)) return;
        setState((s) => ({ ...s, loading: false, error: (e as Error).message }));
      }
      if (!ctl.signal.aborted) timer = setTimeout(() => void load(), titleLive ? TITLE_LIVE_REFRESH_MS : REFRESH_MS);
    };
    void load();
    return () => {
      ctl.abort();
      if (timer) clearTimeout(timer);
    };
    // The key holds every input.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return state;
}
