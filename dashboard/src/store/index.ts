import { configureStore } from '@reduxjs/toolkit';
import { useDispatch, useSelector, type TypedUseSelectorHook } from 'react-redux';
import connection from './connectionSlice';
import ticks from './ticksSlice';
import alerts, { alertsActions } from './alertsSlice';
import content from './contentSlice';
import analytics from './analyticsSlice';
import ui, { uiActions, type ThemeMode } from './uiSlice';
import { loadPersisted, savePersisted } from './persist';

export function makeStore() {
  const store = configureStore({
    reducer: { connection, ticks, alerts, content, analytics, ui },
    // Payloads are plain JSON; the checks cost time on every tick in development.
    middleware: (get) => get({ serializableCheck: false, immutableCheck: false }),
  });
  const saved = loadPersisted();
  if (saved.theme) store.dispatch(uiActions.setTheme(saved.theme as ThemeMode));
  if (saved.acked) store.dispatch(alertsActions.restoreAcks(saved.acked));
  let prev = { theme: store.getState().ui.theme, acked: store.getState().alerts.acked };
  store.subscribe(() => {
    const s = store.getState();
    if (s.ui.theme !== prev.theme || s.alerts.acked !== prev.acked) {
      prev = { theme: s.ui.theme, acked: s.alerts.acked };
      savePersisted(prev);
    }
  });
  return store;
}

export type AppStore = ReturnType<typeof makeStore>;
export type RootState = ReturnType<AppStore['getState']>;
export type AppDispatch = AppStore['dispatch'];
export const useAppDispatch: () => AppDispatch = useDispatch;
export const useAppSelector: TypedUseSelectorHook<RootState> = useSelector;
