// A canvas time series (uPlot): the line, the detector's expected band
// behind it, points whose anomaly score is ≥ 0.5 marked, anomaly events
// as triangles, and an optional highlighted window.
import { useEffect, useRef } from 'react';
import uPlot, { type AlignedData, type Options } from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Columns } from '../lib/tickShaping';
import { formatMetric } from '../lib/format';
import type { ThemeMode } from '../store/uiSlice';
import { chartColors } from './chartTheme';

export interface Marker {
  t: number;
  v: number | null;
}

export interface TimeSeriesChartProps {
  cols: Columns | null;
  metric: string;
  height: number;
  mode: ThemeMode;
  highlight?: { from: number; to: number | null } | null;
  markers?: Marker[];
  /** Fixed x range (history), else follows the data. */
  xRange?: [number, number] | null;
  testId?: string;
  label?: string;
}

const toNullable = (a: ArrayLike<number> | undefined, n: number): (number | null)[] => {
  const out = new Array<number | null>(n);
  for (let i = 0; i < n; i++) {
    const v = a ? a[i] : Number.NaN;
    out[i] = v === undefined || !Number.isFinite(v) ? null : v;
  }
  return out;
};

/** HH:MM, or HH:MM:SS off the minute. */
export function timeLabel(ms: number): string {
  const s = new Date(ms).toISOString();
  return ms % 60_000 === 0 ? s.slice(11, 16) : s.slice(11, 19);
}

/** Smallest span of the y axis for figures shown as whole numbers: a flat
 * series of 1 viewer or 0 ms would otherwise get ticks 0.96, 1, 1.04, all
 * labelled "1". */
const MIN_SPAN: Record<string, number> = { viewers: 4, latency_ms: 4, startup_time_ms: 4 };

export function yRange(metric: string, min: number | null, max: number | null): [number, number] {
  if (min == null || max == null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const pad = (max - min) * 0.08 || Math.abs(max) * 0.05 || 1;
  let lo = min - pad;
  let hi = max + pad;
  const span = MIN_SPAN[metric] ?? 0;
  if (hi - lo < span) {
    const mid = (hi + lo) / 2;
    lo = mid - span / 2;
    hi = mid + span / 2;
  }
  if (min >= 0 && lo < 0) {
    hi -= lo;
    lo = 0;
  }
  return [lo, hi];
}

function axisLabel(metric: string, v: number): string {
  return formatMetric(metric, v).replace(/\.0+ /, ' ');
}

function countFinite(a: ArrayLike<number> | undefined): number {
  let n = 0;
  if (a) for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) n++;
  return n;
}

function countAnomalous(a: ArrayLike<number> | undefined): number {
  let n = 0;
  if (a) for (let i = 0; i < a.length; i++) if (a[i] >= 0.5) n++;
  return n;
}

export function toAligned(cols: Columns | null): AlignedData {
  if (!cols) return [[], [], [], []];
  const n = cols.x.length;
  return [Array.from(cols.x), toNullable(cols.y, n), toNullable(cols.low, n), toNullable(cols.high, n)];
}

export default function TimeSeriesChart(props: TimeSeriesChartProps) {
  const { cols, metric, height, mode, highlight, markers, xRange, testId, label } = props;
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const extras = useRef({ cols, highlight, markers, xRange });
  extras.current = { cols, highlight, markers, xRange };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const c = chartColors(mode);
    const opts: Options = {
      width: Math.max(200, el.clientWidth),
      height,
      ms: 1,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => extras.current.xRange ?? [min, max],
        },
        y: {
          range: (_u, min, max) => yRange(metric, min, max),
        },
      },
      axes: [
        { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid }, values: (_u, vals) => vals.map(timeLabel) },
        {
          stroke: c.axis,
          grid: { stroke: c.grid, width: 1 },
          ticks: { stroke: c.grid },
          size: 80,
          values: (_u, vals) => vals.map((v) => axisLabel(metric, v)),
        },
      ],
      series: [
        {},
        { label: label ?? metric, stroke: c.line, width: 1.6, points: { show: false }, spanGaps: false },
        { label: 'expected low', stroke: 'transparent', points: { show: false } },
        { label: 'expected high', stroke: 'transparent', points: { show: false } },
      ],
      bands: [{ series: [3, 2], fill: c.band }],
      hooks: {
        drawClear: [
          (u) => {
            const h = extras.current.highlight;
            if (!h) return;
            const ctx = u.ctx;
            const x0 = u.valToPos(h.from, 'x', true);
            const x1 = u.valToPos(h.to ?? Date.now(), 'x', true);
            const left = Math.max(u.bbox.left, Math.min(x0, x1));
            const right = Math.min(u.bbox.left + u.bbox.width, Math.max(x0, x1));
            if (right <= left - 1) return;
            ctx.save();
            ctx.fillStyle = c.highlight;
            ctx.fillRect(left, u.bbox.top, Math.max(2, right - left), u.bbox.height);
            ctx.restore();
          },
        ],
        draw: [
          (u) => {
            const { cols: cc, markers: mk } = extras.current;
            const ctx = u.ctx;
            ctx.save();
            ctx.beginPath();
            ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
            ctx.clip();
            const r = 3 * uPlot.pxRatio;
            if (cc?.score) {
              ctx.fillStyle = c.anomaly;
              for (let i = 0; i < cc.score.length; i++) {
                if (!(cc.score[i] >= 0.5)) continue;
                const y = cc.y[i];
                if (!Number.isFinite(y)) continue;
                ctx.beginPath();
                ctx.arc(u.valToPos(cc.x[i], 'x', true), u.valToPos(y, 'y', true), r, 0, 2 * Math.PI);
                ctx.fill();
              }
            }
            if (mk?.length) {
              ctx.fillStyle = c.event;
              ctx.strokeStyle = c.event;
              for (const m of mk) {
                const x = u.valToPos(m.t, 'x', true);
                if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
                const y = m.v != null && Number.isFinite(m.v) ? u.valToPos(m.v, 'y', true) : u.bbox.top + 6 * uPlot.pxRatio;
                const s = 5 * uPlot.pxRatio;
                ctx.beginPath();
                ctx.moveTo(x, y - s);
                ctx.lineTo(x - s, y + s);
                ctx.lineTo(x + s, y + s);
                ctx.closePath();
                ctx.fill();
              }
            }
            ctx.restore();
          },
        ],
      },
    };
    const u = new uPlot(opts, toAligned(extras.current.cols), el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [metric, height, mode, label]);

  useEffect(() => {
    plot.current?.setData(toAligned(cols), true);
  }, [cols, highlight, markers, xRange]);

  const empty = !cols || cols.x.length === 0;
  return (
    <div style={{ position: 'relative' }}>
      <div ref={host} data-testid={testId} data-points={cols?.x.length ?? 0} data-band-points={countFinite(cols?.high)} data-anomalous={countAnomalous(cols?.score)} data-markers={markers?.length ?? 0} data-highlight={highlight ? `${highlight.from}-${highlight.to ?? 'now'}` : ''} />
      {empty && (
        <div style={{ position: 'absolute', inset: 0, display: 'flex', alignItems: 'center', justifyContent: 'center', opacity: 0.6, fontSize: 13 }}>
          waiting for data…
        </div>
      )}
    </div>
  );
}
