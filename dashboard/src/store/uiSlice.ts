import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

export type ThemeMode = 'dark' | 'light';

export interface UiState {
  theme: ThemeMode;
  /** The name recorded with acknowledgements and silences; empty until given. */
  operator: string;
}

export const initialUi: UiState = { theme: 'dark', operator: '' };

const uiSlice = createSlice({
  name: 'ui',
  initialState: initialUi,
  reducers: {
    setOperator(s, a: PayloadAction<string>) {
      s.operator = a.payload.trim().slice(0, 64);
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
