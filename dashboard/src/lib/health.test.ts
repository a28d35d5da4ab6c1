import { expect, test } from 'vitest';
import { kpiLevel, levelFromHealth, levelFromThreshold, outsideBand } from './health';
import { outsideBands } from './regions';
import { region } from '../test/fixtures';

test('levels from thresholds, alerts and server health; a band score is never a level', () => {
  expect(levelFromThreshold('buffering_ratio', 0.005)).toBe('ok');
  expect(levelFromThreshold('buffering_ratio', 0.02)).toBe('warn');
  expect(levelFromThreshold('buffering_ratio', 0.05)).toBe('bad');
  expect(levelFromThreshold('viewers', 1e9)).toBe('none');
  // The fixed thresholds are real harm: red whatever an alert says.
  expect(kpiLevel('buffering_ratio', 0.031)).toBe('bad');
  expect(kpiLevel('latency_ms', 300, 'ok')).toBe('bad');
  // A firing alert on the metric.
  expect(kpiLevel('latency_ms', 30, 'bad')).toBe('bad');
  expect(kpiLevel('viewers', 10, 'warn')).toBe('warn');
  // Calm otherwise, metrics without thresholds included.
  expect(kpiLevel('latency_ms', 30)).toBe('ok');
  expect(kpiLevel('viewers', 10)).toBe('ok');
  expect(levelFromHealth('degraded')).toBe('warn');
});

test('band scores are context: which figures are outside their range', () => {
  expect(outsideBand(undefined)).toBe(false);
  expect(outsideBand({ low: 1, high: 2, score: 0.49 })).toBe(false);
  expect(outsideBand({ low: 1, high: 2, score: 0.5 })).toBe(true);
  expect(outsideBands(region('x'))).toEqual([]);
  const r = region('x', { bands: { latency_ms: { low: 1, high: 2, score: 0.6 }, bitrate_kbps: { low: 1, high: 2, score: 0.9 }, viewers: { low: 1, high: 2, score: 0.2 } } });
  expect(outsideBands(r)).toEqual([
    { metric: 'bitrate_kbps', score: 0.9 },
    { metric: 'latency_ms', score: 0.6 },
  ]);
});
