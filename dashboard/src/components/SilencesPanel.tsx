// The silences the server holds (newest first; expired ones stay listed
// 24 h): what each matches, who made it, until when, its state, and a way
// to expire it.
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import { describeMatchers, stateAt } from '../lib/silences';
import { clock, duration } from '../lib/format';
import type { Silence } from '../lib/types';

export interface SilencesPanelProps {
  silences: Silence[];
  now: number;
  onExpire: (s: Silence) => void;
}

export default function SilencesPanel({ silences, now, onExpire }: SilencesPanelProps) {
  const live = silences.filter((x) => stateAt(x, now) !== 'expired').length;
  return (
    <Paper variant="outlined" sx={{ mt: 1.5, p: 1.5 }} data-testid="silences" data-count={live}>
      <Typography variant="subtitle2">
        Silences ({live} pending or active)
        <Typography component="span" variant="body2" sx={{ opacity: 0.7, ml: 1 }}>
          alerts they cover stay listed, marked silenced, but are not sent to Alertmanager or the webhooks
        </Typography>
      </Typography>
      {silences.length === 0 && (
        <Typography variant="body2" sx={{ opacity: 0.7, mt: 0.5 }} data-testid="silences-empty">
          None: "silence…" on an alert makes one like it.
        </Typography>
      )}
      {silences.map((x) => {
        const state = stateAt(x, now);
        const until = state === 'expired' ? `ended ${clock(x.ends_ms)} UTC` : `until ${clock(x.ends_ms)} UTC (${duration(x.ends_ms - now)} left)`;
        return (
          <Box key={x.id} sx={{ display: 'flex', gap: 1, alignItems: 'center', mt: 0.5, opacity: state === 'expired' ? 0.5 : 1 }} data-testid="silence" data-id={x.id} data-state={state}>
            <Chip size="small" label={state} color={state === 'active' ? 'secondary' : 'default'} sx={{ minWidth: 66 }} />
            <Typography variant="body2" sx={{ flex: 1, minWidth: 0, wordBreak: 'break-word' }}>
              {describeMatchers(x.matchers)} · {until} · by {x.author}
              {x.comment ? ` — ${x.comment}` : ''}
            </Typography>
            {state !== 'expired' && (
              <Button size="small" onClick={() => onExpire(x)} data-testid="silence-expire">
                expire
              </Button>
            )}
          </Box>
        );
      })}
    </Paper>
  );
}
