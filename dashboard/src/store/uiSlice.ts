import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

export type ThemeMode = 'dark' | 'light';

export interface UiState {
  theme: ThemeMode;
  /** The name recorded with acknowledgements and silences; empty until given. */
  operator: string;
}

/** The server's bound on `by` and `author`, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64;

/** Whether `name`, trimmed, is one the server takes as `by` or `author`. */
export function operatorNameOk(name: string): boolean {
  const n = name.trim();
  return n.length > 0 && new TextEncoder().encode(n).length <= MAX_NAME_BYTES;
}

export const initialUi: UiState = { theme: 'dark', operator: '' };

const uiSlice = createSlice({
  name: 'ui',
  initialState: initialUi,
  reducers: {
    /** A name the server would refuse is ignored. */
    setOperator(s, a: PayloadAction<string>) {
      if (operatorNameOk(a.payload)) s.operator = a.payload.trim();
    },
    setTheme(s, a: PayloadAction<ThemeMode>) {
      s.theme = a.payload;
    },
    toggleTheme(s) {
      s.theme = s.theme === 'dark' ? 'light' : 'dark';
    },
  },
});

export const uiActions = uiSlice.actions;
export default uiSlice.reducer;
