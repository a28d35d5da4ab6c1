// Acknowledgements and silences as the dashboard applies them: the same
// matching rule as the server's (docs/ALERTS.md). Pure; unit-tested in
// silences.test.ts.
import type { FeedItem } from './alertFeed';
import type { Ack, AlertLabels, Matchers, Silence } from './types';

/** Whether `s` silences at `now`: from its start (inclusive) to its end (exclusive). */
export function isActive(s: Silence, now: number): boolean {
  return s.starts_ms <= now && now < s.ends_ms;
}

/** The state of `s` at `now`. */
export function stateAt(s: Silence, now: number): Silence['state'] {
  return now < s.starts_ms ? 'pending' : now < s.ends_ms ? 'active' : 'expired';
}

/**
 * Whether `s` covers an alert with `labels` at `now`: every matcher it sets
 * equals the label of that name; an alert without the label does not match.
 */
export function covers(s: Silence, labels: AlertLabels | null, now: number): boolean {
  if (!labels || !isActive(s, now)) return false;
  const m = s.matchers;
  const eq = (want: string | undefined, have: string | null | undefined) => want == null || want === have;
  return eq(m.region, labels.region) && eq(m.content_id, labels.content_id) && eq(m.metric, labels.metric) && eq(m.rule, labels.rule);
}

/** The active silences covering `item` (an alert) at `now`. */
export function silencesOf(item: FeedItem, silences: Silence[], now: number): Silence[] {
  return item.kind === 'alert' ? silences.filter((s) => covers(s, item.labels, now)) : [];
}

/** The acknowledgement of `item`, if it is an acknowledged alert. */
export function ackOf(item: FeedItem, acks: Record<string, Ack>): Ack | null {
  return item.kind === 'alert' && item.alertId ? acks[item.alertId] ?? null : null;
}

/**
 * Feed ids of the alerts someone has handled (acknowledged, or silenced at
 * `now`), with when: these are not "open" and do not count in the badge.
 */
export function handledIds(items: FeedItem[], acks: Record<string, Ack>, silences: Silence[], now: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) {
    const ack = ackOf(it, acks);
    if (ack) {
      out[it.id] = ack.at_ms;
      continue;
    }
    const s = silencesOf(it, silences, now)[0];
    if (s) out[it.id] = s.created_ms;
  }
  return out;
}

/** Which of an alert's labels a "silence like this" matches on. */
export interface MatcherPick {
  region: boolean;
  content_id: boolean;
  metric: boolean;
  rule: boolean;
}

/** The default pick: region and rule, those the alert has. */
export function defaultPick(labels: AlertLabels | null): MatcherPick {
  return { region: !!labels?.region, content_id: false, metric: false, rule: !!labels?.rule };
}

/** The matchers of a silence like an alert with `labels`, on the picked labels it has. */
export function matchersFor(labels: AlertLabels | null, pick: MatcherPick): Matchers {
  const m: Matchers = {};
  if (!labels) return m;
  if (pick.region && labels.region) m.region = labels.region;
  if (pick.content_id && labels.content_id) m.content_id = labels.content_id;
  if (pick.metric && labels.metric) m.metric = labels.metric;
  if (pick.rule && labels.rule) m.rule = labels.rule;
  return m;
}

/** A silence's matchers for people: `region=eu-west, rule=viewers_hurt`. */
export function describeMatchers(m: Matchers): string {
  return (['region', 'content_id', 'metric', 'rule'] as const)
    .filter((k) => m[k])
    .map((k) => `${k === 'content_id' ? 'title' : k}=${m[k]}`)
    .join(', ');
}
