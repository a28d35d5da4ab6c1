import { expect, test } from 'vitest';
import { queryRows } from './contentTable';
import type { ContentRow } from './types';

const row = (id: string, over: Partial<ContentRow>): ContentRow => ({
  content_id: id,
  title: id,
  content_type: 'video',
  genre: 'tech_talk',
  status: 'available',
  viewers: 0,
  streams: 10,
  health: 'healthy',
  ...over,
});
const rows = [
  row('vod-1', { title: 'Zebra Docs', viewers: 10, buffering_ratio: 0.01 }),
  row('vod-2', { title: 'apple pie', viewers: 30, health: 'critical' }),
  row('aod-1', { title: 'Morning Radio', content_type: 'audio', viewers: 20, genre: 'radio_broadcast' }),
  row('live-1', { title: 'Cup final', content_type: 'live', status: 'ended', viewers: 0 }),
];
const base = { q: '', type: null, streamingOnly: true, sort: 'viewers' as const, desc: true };

test('sorts by viewers, title and health; streaming only hides ended events', () => {
  expect(queryRows(rows, base).map((r) => r.content_id)).toEqual(['vod-2', 'aod-1', 'vod-1']);
  expect(queryRows(rows, { ...base, sort: 'title', desc: false }).map((r) => r.content_id)).toEqual(['vod-2', 'aod-1', 'vod-1']);
  expect(queryRows(rows, { ...base, sort: 'health' })[0].content_id).toBe('vod-2');
  expect(queryRows(rows, { ...base, streamingOnly: false })).toHaveLength(4);
});

test('searches title, id and genre; filters by type', () => {
  expect(queryRows(rows, { ...base, q: 'ZEBRA' }).map((r) => r.content_id)).toEqual(['vod-1']);
  expect(queryRows(rows, { ...base, q: 'radio' }).map((r) => r.content_id)).toEqual(['aod-1']);
  expect(queryRows(rows, { ...base, type: 'audio' })).toHaveLength(1);
  // Missing numbers sort last in descending order.
  expect(queryRows(rows, { ...base, sort: 'buffering_ratio' })[0].content_id).toBe('vod-1');
});

test('a title from player telemetry has no genre and is still searched', () => {
  const cmcd = row('cmcd-clip', { title: 'cmcd-clip', genre: null, viewers: 1, rendition: '480p' });
  expect(queryRows([...rows, cmcd], { ...base, q: 'clip' }).map((r) => r.content_id)).toEqual(['cmcd-clip']);
  expect(queryRows([...rows, cmcd], { ...base, q: 'radio' }).map((r) => r.content_id)).toEqual(['aod-1']);
});
