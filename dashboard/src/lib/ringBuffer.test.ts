import { describe, expect, test } from 'vitest';
import { RingBuffer } from './ringBuffer';
import { SeriesStore } from './seriesStore';

describe('RingBuffer', () => {
  test('keeps the newest `capacity` values, oldest first', () => {
    const r = new RingBuffer(3);
    expect(r.length).toBe(0);
    expect(Number.isNaN(r.last())).toBe(true);
    [1, 2, 3, 4, 5].forEach((v) => r.push(v));
    expect(r.length).toBe(3);
    expect(Array.from(r.toArray())).toEqual([3, 4, 5]);
    expect(r.get(0)).toBe(3);
    expect(r.last()).toBe(5);
    expect(Number.isNaN(r.get(3))).toBe(true);
  });

  test('toArray before wrapping and reuse of the output buffer', () => {
    const r = new RingBuffer(4);
    r.push(7);
    r.push(8);
    expect(Array.from(r.toArray())).toEqual([7, 8]);
    const out = new Float64Array(2);
    expect(r.toArray(out)).toBe(out);
  });

  test('refuses a bad capacity', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });

  test('memory stays bounded after many pushes', () => {
    const r = new RingBuffer(900);
    for (let i = 0; i < 100_000; i++) r.push(i);
    expect(r.length).toBe(900);
    expect(r.get(0)).toBe(100_000 - 900);
  });
});

describe('SeriesStore', () => {
  test('aligns a field that appears late with NaN before it', () => {
    const s = new SeriesStore(5);
    s.push('all', 1000, { a: 1 });
    s.push('all', 2000, { a: 2, b: 20 });
    const sc = s.scope('all')!;
    expect(Array.from(sc.t.toArray())).toEqual([1000, 2000]);
    const b = Array.from(sc.series('b')!.toArray());
    expect(Number.isNaN(b[0])).toBe(true);
    expect(b[1]).toBe(20);
  });

  test('drops a repeated or older timestamp', () => {
    const s = new SeriesStore(5);
    s.push('all', 2000, { a: 1 });
    s.push('all', 2000, { a: 9 });
    s.push('all', 1000, { a: 9 });
    expect(s.scope('all')!.t.length).toBe(1);
    expect(s.scope('all')!.series('a')!.last()).toBe(1);
  });

  test('a missing field gets NaN so rings stay aligned', () => {
    const s = new SeriesStore(5);
    s.push('all', 1000, { a: 1, b: 2 });
    s.push('all', 2000, { a: 3 });
    expect(Number.isNaN(s.scope('all')!.series('b')!.last())).toBe(true);
  });

  test('bounds the number of scopes and drops a prefix', () => {
    const s = new SeriesStore(2, 2);
    s.push('x', 1, { a: 1 });
    s.push('y', 1, { a: 1 });
    s.push('z', 1, { a: 1 });
    expect(s.scopeKeys()).toEqual(['y', 'z']);
    s.push('content:a|region:r', 1, { a: 1 });
    s.push('content:a', 1, { a: 1 });
    s.dropScope('content:a');
    expect(s.scopeKeys().some((k) => k.startsWith('content:a'))).toBe(false);
  });
});
