import { expect, test } from 'vitest';
import { yRange } from './TimeSeriesChart';

test('a flat series of whole numbers gets an axis whose ticks read differently', () => {
  expect(yRange('viewers', 1, 1)).toEqual([0, 4]);
  expect(yRange('latency_ms', 0, 0)).toEqual([0, 4]);
  const [lo, hi] = yRange('viewers', 20_000, 20_000);
  expect(hi - lo).toBeGreaterThanOrEqual(4);
  expect(lo).toBeLessThan(20_000);
  // Ratios keep their tight range.
  const [a, b] = yRange('buffering_ratio', 0.004, 0.006);
  expect(a).toBeGreaterThan(0.003);
  expect(b).toBeLessThan(0.007);
  expect(yRange('viewers', null, null)).toEqual([0, 1]);
});
