import { expect, test } from 'vitest';
import { kpiLevel, levelFromHealth, levelFromScore, levelFromThreshold } from './health';
import { regionLevel } from './regions';
import { region } from '../test/fixtures';

test('levels from scores, thresholds and server health', () => {
  expect(levelFromScore(undefined)).toBe('none');
  expect(levelFromScore(0.49)).toBe('ok');
  expect(levelFromScore(0.5)).toBe('warn');
  expect(levelFromScore(0.8)).toBe('bad');
  expect(levelFromThreshold('buffering_ratio', 0.005)).toBe('ok');
  expect(levelFromThreshold('buffering_ratio', 0.02)).toBe('warn');
  expect(levelFromThreshold('buffering_ratio', 0.05)).toBe('bad');
  expect(levelFromThreshold('viewers', 1e9)).toBe('none');
  expect(kpiLevel('latency_ms', 30, 0.9)).toBe('bad');
  expect(kpiLevel('latency_ms', 300, 0.1)).toBe('bad');
  expect(kpiLevel('viewers', 10, 0.6)).toBe('warn');
  expect(levelFromHealth('degraded')).toBe('warn');
});

test('a region is as bad as its worst figure', () => {
  expect(regionLevel(region('x')).level).toBe('ok');
  expect(regionLevel(region('x', { buffering_ratio: 0.09 })).level).toBe('bad');
  const r = regionLevel(region('x', { bands: { latency_ms: { low: 1, high: 2, score: 0.6 }, bitrate_kbps: { low: 1, high: 2, score: 0.2 } } }));
  expect(r).toEqual({ level: 'warn', worst: 'latency_ms' });
  expect(regionLevel(region('x', { utilization: 0.95 })).level).toBe('bad');
});
