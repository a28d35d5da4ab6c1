import { configureStore } from '@reduxjs/toolkit';
import { useDispatch, useSelector, type TypedUseSelectorHook } from 'react-redux';
import connection from './connectionSlice';
import ticks from './ticksSlice';
import alerts from './alertsSlice';
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
  if (saved.operator) store.dispatch(uiActions.setOperator(saved.operator));
  let prev = store.getState().ui;
  store.subscribe(() => {
    const ui = store.getState().ui;
    if (ui !== prev) {
      prev = ui;
      savePersisted({ theme: ui.theme, operator: ui.operator || undefined });
    }
  });
  return store;
}

export type AppStore = ReturnType<typeof makeStore>;
export type RootState = ReturnType<AppStore['getState']>;
export type AppDispatch = AppStore['dispatch'];
export const useAppDispatch: () => AppDispatch = useDispatch;
export const useAppSelector: TypedUseSelectorHook<RootState> = useSelector;
