// Number and time formatting for people.
export const METRIC_LABEL: Record<string, string> = {
  latency_ms: 'Latency',
  buffering_ratio: 'Buffering',
  startup_time_ms: 'Startup time',
  bitrate_kbps: 'Bitrate',
  error_rate: 'Error rate',
  viewers: 'Viewers',
  bandwidth_mbps: 'Bandwidth',
  active_streams: 'Active streams',
  utilization: 'Utilisation',
};

export function formatMetric(metric: string, v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '–';
  switch (metric) {
    case 'latency_ms':
    case 'startup_time_ms':
      return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`;
    case 'buffering_ratio':
    case 'error_rate':
    case 'utilization':
      return `${(v * 100).toFixed(v < 0.1 ? 2 : 1)} %`;
    case 'bitrate_kbps':
      return v >= 1000 ? `${(v / 1000).toFixed(2)} Mb/s` : `${v.toFixed(0)} kb/s`;
    case 'bandwidth_mbps':
      return v >= 1e6 ? `${(v / 1e6).toFixed(2)} Tb/s` : v >= 1000 ? `${(v / 1000).toFixed(1)} Gb/s` : `${v.toFixed(0)} Mb/s`;
    case 'viewers':
    case 'active_streams':
      return compact(v);
    default:
      return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
  }
}

export function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)} B`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  return v.toFixed(0);
}

export function clock(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '–';
  return new Date(ms).toISOString().slice(11, 19);
}

export function ago(ms: number | null | undefined, now: number): string {
  if (ms == null || !Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s ago`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
