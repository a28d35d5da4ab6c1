import { useEffect, useMemo, useState } from 'react';
import { useAppSelector } from './store';
import { handledIds } from './lib/silences';
import { parseHash, type Route } from './lib/route';

export function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** The clock, re-read every `ms`. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function go(hash: string): void {
  if (window.location.hash !== hash) window.location.hash = hash;
}

/**
 * Feed ids of the alerts someone handled (acknowledged, or covered by an
 * active silence), with when: they are not open and do not count in the
 * badge or "needs attention".
 */
export function useHandled(): Record<string, number> {
  const { items, acks, silences } = useAppSelector((s) => s.alerts);
  // Re-read every 5 s so silences end on time; read afresh whenever the
  // silences change, since one that starts now must count at once.
  const tick = useNow(5000);
  return useMemo(() => handledIds(items, acks, silences, Math.max(tick, Date.now())), [items, acks, silences, tick]);
}
