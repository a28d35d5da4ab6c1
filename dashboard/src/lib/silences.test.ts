import { describe, expect, it } from 'vitest';
import { covers, defaultPick, describeMatchers, handledIds, isActive, matchersFor, silencesOf, stateAt } from './silences';
import type { FeedItem } from './alertFeed';
import type { AlertLabels, Silence } from './types';

const labels: AlertLabels = { rule: 'viewers_hurt', severity: 'critical', region: 'eu-west', metric: 'buffering_ratio' };

function silence(matchers: Silence['matchers'], starts = 1_000, ends = 2_000): Silence {
  return { id: 'sil-1', matchers, starts_ms: starts, ends_ms: ends, author: 'alice', comment: '', created_ms: 500, state: 'active' };
}

function item(id: string, l: AlertLabels | null, kind: FeedItem['kind'] = 'alert'): FeedItem {
  return {
    id: `alert:${id}`, kind, severity: 'critical', reason: '', timestampMs: 0, metric: null, region: null, contentId: null,
    state: 'firing', startMs: 0, endMs: null, value: null, expected: null, score: 1, seriesCount: 1, detector: null,
    regions: [], contents: [], viewersAffected: null, alertId: id, labels: l,
  };
}

describe('silences', () => {
  it('are active from their start, inclusive, to their end, exclusive', () => {
    const s = silence({ region: 'eu-west' });
    expect([isActive(s, 999), isActive(s, 1_000), isActive(s, 1_999), isActive(s, 2_000)]).toEqual([false, true, true, false]);
    expect([stateAt(s, 999), stateAt(s, 1_500), stateAt(s, 2_000)]).toEqual(['pending', 'active', 'expired']);
  });

  it('cover an alert when every matcher equals its label', () => {
    expect(covers(silence({ region: 'eu-west' }), labels, 1_500)).toBe(true);
    expect(covers(silence({ region: 'eu-west', metric: 'buffering_ratio', rule: 'viewers_hurt' }), labels, 1_500)).toBe(true);
    expect(covers(silence({ region: 'eu-west', metric: 'latency_ms' }), labels, 1_500)).toBe(false);
    expect(covers(silence({ region: 'us-east' }), labels, 1_500)).toBe(false);
  });

  it('do not cover an alert that lacks the label, nor outside their window', () => {
    expect(covers(silence({ content_id: 'vod-1' }), labels, 1_500)).toBe(false);
    expect(covers(silence({ region: 'eu-west' }), labels, 2_000)).toBe(false);
    expect(covers(silence({ region: 'eu-west' }), null, 1_500)).toBe(false);
  });

  it('apply to alerts only, and handled ids hold the acknowledged and the silenced', () => {
    const s = silence({ region: 'eu-west' });
    const point = item('p', labels, 'anomaly');
    expect(silencesOf(point, [s], 1_500)).toEqual([]);
    const acked = item('a', { ...labels, region: 'us-east' });
    const silenced = item('b', labels);
    const open = item('c', { ...labels, region: 'ap-south' });
    const acks = { a: { alert_id: 'a', by: 'bob', at_ms: 1_200, comment: '' } };
    expect(handledIds([acked, silenced, open, point], acks, [s], 1_500)).toEqual({ 'alert:a': 1_200, 'alert:b': 500 });
    expect(handledIds([acked, silenced, open], acks, [s], 2_500)).toEqual({ 'alert:a': 1_200 });
  });

  it('are made like an alert from the labels picked', () => {
    expect(defaultPick(labels)).toEqual({ region: true, content_id: false, metric: false, rule: true });
    expect(matchersFor(labels, defaultPick(labels))).toEqual({ region: 'eu-west', rule: 'viewers_hurt' });
    expect(matchersFor(labels, { region: false, content_id: true, metric: true, rule: false })).toEqual({ metric: 'buffering_ratio' });
    expect(describeMatchers({ region: 'eu-west', content_id: 'vod-1' })).toBe('region=eu-west, title=vod-1');
  });
});
