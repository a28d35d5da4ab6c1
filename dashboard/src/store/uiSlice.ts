import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

export type ThemeMode = 'dark' | 'light';

export interface UiState {
  theme: ThemeMode;
}

export const initialUi: UiState = { theme: 'dark' };

const uiSlice = createSlice({
  name: 'ui',
  initialState: initialUi,
  reducers: {
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
