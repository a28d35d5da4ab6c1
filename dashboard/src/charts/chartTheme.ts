import type { ThemeMode } from '../store/uiSlice';

export interface ChartColors {
  line: string;
  band: string;
  grid: string;
  axis: string;
  anomaly: string;
  highlight: string;
  event: string;
}

export function chartColors(mode: ThemeMode): ChartColors {
  return mode === 'dark'
    ? { line: '#58a6ff', band: 'rgba(88,166,255,0.16)', grid: 'rgba(240,246,252,0.08)', axis: '#8b949e', anomaly: '#f85149', highlight: 'rgba(210,153,34,0.22)', event: '#ff7b72' }
    : { line: '#0969da', band: 'rgba(9,105,218,0.13)', grid: 'rgba(31,35,40,0.08)', axis: '#57606a', anomaly: '#cf222e', highlight: 'rgba(191,135,0,0.2)', event: '#a40e26' };
}

/** Colours of the rendition mix, lowest rendition first (video blues, audio greens). */
export const RENDITION_COLORS: Record<string, string> = {
  '480p': '#9ecae1',
  '720p': '#6baed6',
  '1080p': '#3182bd',
  '1440p': '#08519c',
  '2160p': '#6a51a3',
  '96k': '#c7e9c0',
  '128k': '#a1d99b',
  '192k': '#74c476',
  '256k': '#31a354',
  '320k': '#006d2c',
};
