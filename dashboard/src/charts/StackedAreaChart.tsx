// The rendition mix as a stacked area (uPlot): shares of viewers per
// rendition, lowest rendition at the bottom.
import { useEffect, useRef } from 'react';
import uPlot, { type AlignedData } from 'uplot';
import type { ThemeMode } from '../store/uiSlice';
import { chartColors, RENDITION_COLORS } from './chartTheme';

export interface StackedAreaProps {
  data: { x: ArrayLike<number>; labels: string[]; stacks: ArrayLike<number>[] } | null;
  height: number;
  mode: ThemeMode;
  testId?: string;
}

export default function StackedAreaChart({ data, height, mode, testId }: StackedAreaProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labelsKey = data?.labels.join(',') ?? '';

  useEffect(() => {
    const el = host.current;
    if (!el || !data) return;
    const c = chartColors(mode);
    // Drawn top stack first so each lower one paints over it.
    const order = data.labels.map((_, i) => data.labels.length - 1 - i);
    const u = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height,
        ms: 1,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: [0, 1] } },
        axes: [
          { stroke: c.axis, grid: { stroke: c.grid }, ticks: { stroke: c.grid } },
          { stroke: c.axis, grid: { stroke: c.grid }, ticks: { stroke: c.grid }, size: 48, values: (_u, v) => v.map((x) => `${Math.round(x * 100)}%`) },
        ],
        series: [{}, ...order.map((i) => ({ label: data.labels[i], stroke: RENDITION_COLORS[data.labels[i]] ?? c.line, fill: RENDITION_COLORS[data.labels[i]] ?? c.line, width: 0, points: { show: false } }))],
      },
      [[], ...order.map(() => [])] as unknown as AlignedData,
      el,
    );
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
    // Rebuilt only when the set of labels or the theme changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labelsKey, height, mode]);

  useEffect(() => {
    if (!plot.current || !data) return;
    const order = data.labels.map((_, i) => data.labels.length - 1 - i);
    plot.current.setData([Array.from(data.x), ...order.map((i) => Array.from(data.stacks[i]))] as AlignedData);
  }, [data]);

  if (!data) {
    return (
      <div data-testid={testId} style={{ height, display: 'flex', alignItems: 'center', justifyContent: 'center', opacity: 0.6, fontSize: 13 }}>
        no rendition mix in the feed yet (needs a server that sends <code>&nbsp;renditions&nbsp;</code>)
      </div>
    );
  }
  return (
    <div>
      <div ref={host} data-testid={testId} />
      <div style={{ display: 'flex', flexWrap: 'wrap', gap: 10, fontSize: 12, marginTop: 4 }}>
        {data.labels.map((l) => (
          <span key={l} style={{ display: 'inline-flex', alignItems: 'center', gap: 4 }}>
            <span style={{ width: 10, height: 10, background: RENDITION_COLORS[l], display: 'inline-block', borderRadius: 2 }} />
            {l}
          </span>
        ))}
      </div>
    </div>
  );
}
