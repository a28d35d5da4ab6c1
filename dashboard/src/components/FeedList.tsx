import List from '@mui/material/List';
import ListItem from '@mui/material/ListItem';
import Chip from '@mui/material/Chip';
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import Tooltip from '@mui/material/Tooltip';
import { itemLink, type FeedItem } from '../lib/alertFeed';
import { ackOf, describeMatchers, silencesOf } from '../lib/silences';
import { useAppSelector } from '../store';
import { ago, clock, duration, formatMetric } from '../lib/format';
import { useNow } from '../hooks';

const SEV_COLOR = { critical: 'error', warning: 'warning', info: 'info' } as const;

export interface FeedListProps {
  items: FeedItem[];
  /** Alerts someone handled (acknowledged or silenced): shown dimmed. */
  handled: Record<string, number>;
  onAck?: (item: FeedItem) => void;
  onUnack?: (item: FeedItem) => void;
  onSilence?: (item: FeedItem) => void;
  /** The feed id to point out (a link to `#/alerts/<id>`). */
  highlight?: string | null;
  compact?: boolean;
  /** What an empty list says. */
  emptyText?: string;
}

export default function FeedList({ items, handled, onAck, onUnack, onSilence, highlight, compact, emptyText }: FeedListProps) {
  const now = useNow(5000);
  const { acks, silences } = useAppSelector((s) => s.alerts);
  if (items.length === 0) {
    return (
      <Typography sx={{ p: 2, opacity: 0.7 }} data-testid="feed-empty">
        {emptyText ?? `Nothing matches: no alerts or anomalies ${compact ? 'open' : 'for these filters'}.`}
      </Typography>
    );
  }
  return (
    <List dense disablePadding data-testid="alert-feed">
      {items.map((it) => {
        const isHandled = it.id in handled;
        const ack = ackOf(it, acks);
        // The clock as of this render: a silence made a moment ago counts.
        const silencedBy = silencesOf(it, silences, Math.max(now, Date.now()));
        const isAlert = it.kind === 'alert' && !!it.alertId;
        const windowText = it.kind === 'alert' ? `since ${clock(it.startMs)}${it.endMs ? `, ${duration(it.endMs - it.startMs)}` : ` (${duration(now - it.startMs)})`}` : clock(it.timestampMs);
        return (
          <ListItem
            key={it.id}
            divider
            data-testid="feed-item"
            data-id={it.id}
            data-kind={it.kind}
            data-state={it.state ?? ''}
            data-region={it.region ?? ''}
            data-regions={it.regions.join(' ')}
            data-severity={it.severity}
            data-alert-id={it.alertId ?? ''}
            data-acked={ack ? 'yes' : 'no'}
            data-acked-by={ack?.by ?? ''}
            data-silenced={silencedBy.length ? 'yes' : 'no'}
            data-handled={isHandled ? 'yes' : 'no'}
            data-highlight={highlight === it.id ? 'yes' : 'no'}
            sx={{
              opacity: isHandled ? 0.6 : 1,
              alignItems: 'flex-start',
              gap: 1,
              outline: highlight === it.id ? '2px solid' : 'none',
              outlineColor: 'primary.main',
            }}
          >
            <Chip size="small" color={SEV_COLOR[it.severity]} label={it.severity} sx={{ minWidth: 66 }} />
            <Box sx={{ flex: 1, minWidth: 0 }}>
              <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', flexWrap: 'wrap' }}>
                <Chip size="small" variant="outlined" label={it.kind === 'alert' ? `alert · ${it.state ?? ''}` : it.kind === 'anomaly' ? 'anomaly point' : it.kind} />
                {it.viewersAffected != null && <Chip size="small" variant="outlined" label={`${formatMetric('viewers', it.viewersAffected)} viewers affected`} data-testid="feed-impact" />}
                {it.region && <Chip size="small" variant="outlined" label={it.region} />}
                {it.contentId && <Chip size="small" variant="outlined" label={it.contentId} />}
                {ack && (
                  <Tooltip title={ack.comment || 'no comment'}>
                    <Chip size="small" color="success" variant="outlined" label={`acknowledged by ${ack.by} ${ago(ack.at_ms, now)}`} data-testid="feed-acked" />
                  </Tooltip>
                )}
                {silencedBy.length > 0 && (
                  <Tooltip title={silencedBy.map((x) => `${describeMatchers(x.matchers)} until ${clock(x.ends_ms)} by ${x.author}${x.comment ? `: ${x.comment}` : ''}`).join('; ')}>
                    <Chip size="small" color="secondary" variant="outlined" label="silenced" data-testid="feed-silenced" />
                  </Tooltip>
                )}
                <Typography variant="caption" sx={{ opacity: 0.75 }}>
                  {windowText} · {ago(it.timestampMs, now)}
                </Typography>
              </Box>
              <Typography variant="body2" sx={{ mt: 0.3, wordBreak: 'break-word' }} data-testid="feed-reason">
                {it.reason}
              </Typography>
            </Box>
            <Box sx={{ display: 'flex', gap: 0.5, flexShrink: 0 }}>
              <Link href={itemLink(it)} data-testid="feed-link" underline="hover" sx={{ fontSize: 13, alignSelf: 'center' }}>
                open series
              </Link>
              {isAlert && onAck && !ack && (
                <Button size="small" onClick={() => onAck(it)} data-testid="feed-ack">
                  ack
                </Button>
              )}
              {isAlert && onUnack && ack && (
                <Button size="small" onClick={() => onUnack(it)} data-testid="feed-unack">
                  unack
                </Button>
              )}
              {isAlert && onSilence && it.labels && (
                <Button size="small" onClick={() => onSilence(it)} data-testid="feed-silence">
                  silence…
                </Button>
              )}
            </Box>
          </ListItem>
        );
      })}
    </List>
  );
}
