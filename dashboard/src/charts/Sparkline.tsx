// A tiny canvas line of a ring buffer's values, redrawn when `version` moves.
import { useEffect, useRef } from 'react';

export interface SparklineProps {
  values: ArrayLike<number> | null;
  color: string;
  width?: number;
  height?: number;
  version: number;
}

export default function Sparkline({ values, color, width = 160, height = 36, version }: SparklineProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const cv = ref.current;
    if (!cv) return;
    const dpr = window.devicePixelRatio || 1;
    if (cv.width !== width * dpr) {
      cv.width = width * dpr;
      cv.height = height * dpr;
    }
    const ctx = cv.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!values || values.length < 2) return;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (!Number.isFinite(min)) return;
    const span = max - min || Math.abs(max) || 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.4;
    ctx.beginPath();
    let started = false;
    const n = values.length;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) {
        started = false;
        continue;
      }
      const x = (i / (n - 1)) * (width - 2) + 1;
      const y = height - 2 - ((v - min) / span) * (height - 4);
      if (started) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      started = true;
    }
    ctx.stroke();
  }, [values, color, width, height, version]);
  return <canvas ref={ref} style={{ width, height, display: 'block' }} aria-hidden />;
}
