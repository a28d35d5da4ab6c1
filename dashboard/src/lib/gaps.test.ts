import { describe, expect, test } from 'vitest';
import { backfillQuery, checkSequence, mergeBackfill } from './gaps';
import { tick } from '../test/fixtures';

describe('checkSequence', () => {
  test('first, next, gap, duplicate and reset', () => {
    expect(checkSequence(null, null, tick(5))).toEqual({ kind: 'first' });
    expect(checkSequence(5, tick(5).timestamp_ms, tick(6))).toEqual({ kind: 'next' });
    expect(checkSequence(5, tick(5).timestamp_ms, tick(9))).toEqual({ kind: 'gap', missing: 3 });
    expect(checkSequence(5, tick(5).timestamp_ms, tick(5))).toEqual({ kind: 'duplicate' });
    // The server restarted: seq 1 again, but later in time.
    expect(checkSequence(500, tick(5).timestamp_ms, { seq: 1, timestamp_ms: tick(9).timestamp_ms })).toEqual({ kind: 'reset' });
  });
});

describe('mergeBackfill', () => {
  test('orders, dedupes and drops what was already applied', () => {
    const got = mergeBackfill(4, [tick(3), tick(4), tick(5), tick(6)], [tick(7), tick(6), tick(8)]);
    expect(got.map((t) => t.seq)).toEqual([5, 6, 7, 8]);
  });

  test('the live copy wins over the REST copy', () => {
    const rest = tick(6, { regions: [] });
    const live = tick(6);
    const [t] = mergeBackfill(5, [rest], [live]);
    expect(t.regions!.length).toBe(2);
  });

  test('everything on first load', () => {
    expect(mergeBackfill(null, [tick(2), tick(1)], []).map((t) => t.seq)).toEqual([1, 2]);
  });
});

test('backfillQuery asks for full detail since the last tick', () => {
  expect(backfillQuery(1234, 900)).toBe('/metrics?detail=full&limit=900&since=1234');
  expect(backfillQuery(null, 900)).toBe('/metrics?detail=full&limit=900');
});
