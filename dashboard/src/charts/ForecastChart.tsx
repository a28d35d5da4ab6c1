// A forecast with its prediction interval (d3, SVG): the recent history,
// the point forecast, the interval as a band and the capacity line.
import { useMemo } from 'react';
import { scaleLinear, scaleTime } from 'd3-scale';
import { area, line } from 'd3-shape';
import { extent, max } from 'd3-array';
import type { ForecastPoint } from '../lib/types';
import { clock, formatMetric } from '../lib/format';
import type { ThemeMode } from '../store/uiSlice';
import { chartColors } from './chartTheme';

export interface ForecastChartProps {
  history: { t: number; v: number }[];
  forecast: ForecastPoint[];
  capacity?: number | null;
  metric: string;
  width?: number;
  height?: number;
  mode: ThemeMode;
  testId?: string;
}

export default function ForecastChart({ history, forecast, capacity, metric, width = 520, height = 170, mode, testId }: ForecastChartProps) {
  const c = chartColors(mode);
  const m = { l: 62, r: 10, t: 8, b: 20 };
  const g = useMemo(() => {
    const ts = [...history.map((p) => p.t), ...forecast.map((p) => p.timestamp_ms)];
    const [t0, t1] = extent(ts) as [number | undefined, number | undefined];
    if (t0 === undefined || t1 === undefined) return null;
    const top = max([...history.map((p) => p.v), ...forecast.map((p) => p.high), capacity ?? 0]) ?? 1;
    const x = scaleTime().domain([t0, t1 === t0 ? t0 + 1 : t1]).range([m.l, width - m.r]);
    const y = scaleLinear().domain([0, top * 1.08 || 1]).nice().range([height - m.b, m.t]);
    const hist = line<{ t: number; v: number }>().x((p) => x(p.t)).y((p) => y(p.v))(history) ?? '';
    const fc = line<ForecastPoint>().x((p) => x(p.timestamp_ms)).y((p) => y(p.value))(forecast) ?? '';
    const band = area<ForecastPoint>().x((p) => x(p.timestamp_ms)).y0((p) => y(Math.max(0, p.low))).y1((p) => y(p.high))(forecast) ?? '';
    return { x, y, hist, fc, band };
  }, [history, forecast, capacity, width, height, m.l, m.r, m.t, m.b]);
  if (!g) return <div style={{ height, opacity: 0.6, fontSize: 13 }}>no data yet</div>;
  const yTicks = g.y.ticks(4);
  const xTicks = g.x.ticks(5);
  const [d0, d1] = g.x.domain();
  const short = +d1 - +d0 > 20 * 60_000;
  return (
    <svg width="100%" viewBox={`0 0 ${width} ${height}`} data-testid={testId} role="img" aria-label={`${metric} forecast`}>
      {yTicks.map((v) => (
        <g key={v}>
          <line x1={m.l} x2={width - m.r} y1={g.y(v)} y2={g.y(v)} stroke={c.grid} />
          <text x={m.l - 4} y={g.y(v)} fill={c.axis} fontSize={10} textAnchor="end" dominantBaseline="middle">
            {formatMetric(metric, v)}
          </text>
        </g>
      ))}
      {xTicks.map((t) => (
        <text key={+t} x={g.x(t)} y={height - 6} fill={c.axis} fontSize={10} textAnchor="middle">
          {short ? clock(+t).slice(0, 5) : clock(+t)}
        </text>
      ))}
      <path d={g.band} fill={c.band} />
      <path d={g.hist} fill="none" stroke={c.line} strokeWidth={1.5} />
      <path d={g.fc} fill="none" stroke={c.line} strokeWidth={1.5} strokeDasharray="5 3" />
      {capacity != null && (
        <g>
          <line x1={m.l} x2={width - m.r} y1={g.y(capacity)} y2={g.y(capacity)} stroke={c.anomaly} strokeDasharray="3 3" />
          <text x={width - m.r - 2} y={g.y(capacity) - 3} fill={c.anomaly} fontSize={10} textAnchor="end">
            capacity {formatMetric(metric, capacity)}
          </text>
        </g>
      )}
    </svg>
  );
}
