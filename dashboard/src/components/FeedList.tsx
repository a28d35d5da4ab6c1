import List from '@mui/material/List';
import ListItem from '@mui/material/ListItem';
import Chip from '@mui/material/Chip';
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import { itemLink, type FeedItem } from '../lib/alertFeed';
import { ago, clock, duration, formatMetric } from '../lib/format';
import { useNow } from '../hooks';

const SEV_COLOR = { critical: 'error', warning: 'warning', info: 'info' } as const;

export interface FeedListProps {
  items: FeedItem[];
  acked: Record<string, number>;
  onAck?: (id: string) => void;
  onUnack?: (id: string) => void;
  compact?: boolean;
  /** What an empty list says. */
  emptyText?: string;
}

export default function FeedList({ items, acked, onAck, onUnack, compact, emptyText }: FeedListProps) {
  const now = useNow(5000);
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
        const isAcked = it.id in acked;
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
            data-acked={isAcked ? 'yes' : 'no'}
            sx={{ opacity: isAcked ? 0.55 : 1, alignItems: 'flex-start', gap: 1 }}
          >
            <Chip size="small" color={SEV_COLOR[it.severity]} label={it.severity} sx={{ minWidth: 66 }} />
            <Box sx={{ flex: 1, minWidth: 0 }}>
              <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', flexWrap: 'wrap' }}>
                <Chip size="small" variant="outlined" label={it.kind === 'alert' ? `alert · ${it.state ?? ''}` : it.kind === 'anomaly' ? 'anomaly point' : it.kind} />
                {it.viewersAffected != null && <Chip size="small" variant="outlined" label={`${formatMetric('viewers', it.viewersAffected)} viewers affected`} data-testid="feed-impact" />}
                {it.region && <Chip size="small" variant="outlined" label={it.region} />}
                {it.contentId && <Chip size="small" variant="outlined" label={it.contentId} />}
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
              {onAck && !isAcked && (
                <Button size="small" onClick={() => onAck(it.id)} data-testid="feed-ack">
                  ack
                </Button>
              )}
              {onUnack && isAcked && (
                <Button size="small" onClick={() => onUnack(it.id)}>
                  unack
                </Button>
              )}
            </Box>
          </ListItem>
        );
      })}
    </List>
  );
}
