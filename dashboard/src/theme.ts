import { createTheme } from '@mui/material/styles';
import type { ThemeMode } from './store/uiSlice';

export function makeTheme(mode: ThemeMode) {
  return createTheme({
    palette:
      mode === 'dark'
        ? { mode, background: { default: '#0d1117', paper: '#161b22' }, primary: { main: '#58a6ff' }, divider: 'rgba(240,246,252,0.12)' }
        : { mode, background: { default: '#f6f8fa', paper: '#ffffff' }, primary: { main: '#0969da' } },
    typography: {
      fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif',
      fontSize: 13,
    },
    shape: { borderRadius: 6 },
    components: {
      MuiPaper: { defaultProps: { variant: 'outlined' } },
      MuiTableCell: { styleOverrides: { root: { padding: '4px 10px' } } },
    },
  });
}
