// What an operator does about alerts, on the server (docs/ALERTS.md):
// acknowledge and take back, "silence like this", send a test notification.
// One hook gives the actions and the dialogs they open; the answers come
// back to every dashboard as Socket.IO events, so nothing is kept here.
import { useState, type ReactNode } from 'react';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import FormControlLabel from '@mui/material/FormControlLabel';
import MenuItem from '@mui/material/MenuItem';
import Snackbar from '@mui/material/Snackbar';
import Alert from '@mui/material/Alert';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useAppDispatch, useAppSelector } from '../store';
import { alertsActions } from '../store/alertsSlice';
import { ApiError, sendJson } from '../lib/api';
import { OperatorDialog } from './OperatorName';
import { defaultPick, describeMatchers, matchersFor, type MatcherPick } from '../lib/silences';
import type { FeedItem } from '../lib/alertFeed';
import type { Ack, DeliveryTest, Silence } from '../lib/types';

export const SILENCE_DURATIONS: [string, number][] = [
  ['30 min', 30 * 60_000],
  ['1 h', 3_600_000],
  ['2 h', 2 * 3_600_000],
  ['4 h', 4 * 3_600_000],
  ['1 day', 24 * 3_600_000],
];

const DEFAULT_SILENCE_MS = 3_600_000;

type Pending =
  | { kind: 'ack'; items: FeedItem[] }
  | { kind: 'silence'; item: FeedItem }
  | { kind: 'test' }
  | { kind: 'outcomes'; outcomes: DeliveryTest[] }
  | null;

export interface AlertActions {
  ack: (items: FeedItem[]) => void;
  unack: (item: FeedItem) => void;
  silence: (item: FeedItem) => void;
  expire: (silence: Silence) => void;
  test: () => void;
  /** The dialogs and the error bar; render it once. */
  ui: ReactNode;
}

const PICK_LABELS: [keyof MatcherPick, string][] = [
  ['region', 'region'],
  ['content_id', 'title'],
  ['metric', 'metric'],
  ['rule', 'rule'],
];

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function useAlertActions(): AlertActions {
  const dispatch = useAppDispatch();
  const operator = useAppSelector((s) => s.ui.operator);
  // What the dialog is about; kept after it closes, so it does not change while fading out.
  const [pending, setPending] = useState<Pending>(null);
  const [dialogOpen, setDialogOpen] = useState(false);
  // What to do once the operator has said who they are (asked once).
  const [afterName, setAfterName] = useState<((name: string) => void) | null>(null);
  const [comment, setComment] = useState('');
  const [pick, setPick] = useState<MatcherPick>(defaultPick(null));
  const [duration, setDuration] = useState(DEFAULT_SILENCE_MS);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  /** Runs `f` with the operator's name, asking for it first if it is not known yet. */
  const asOperator = (f: (name: string) => void) => {
    if (operator) f(operator);
    else setAfterName(() => f);
  };
  const open = (p: Pending) =>
    asOperator(() => {
      setComment('');
      if (p?.kind === 'silence') {
        setPick(defaultPick(p.item.labels));
        setDuration(DEFAULT_SILENCE_MS);
      }
      setPending(p);
      setDialogOpen(true);
    });
  const close = () => setDialogOpen(false);
  const fail = (e: unknown) => setError(message(e));

  async function submit() {
    if (!pending || !dialogOpen) return;
    const by = operator;
    setBusy(true);
    try {
      if (pending.kind === 'ack') {
        // One POST per alert; one refused (say, gone meanwhile) does not stop the others.
        const refused: string[] = [];
        for (const it of pending.items) {
          if (!it.alertId) continue;
          try {
            const ack = await sendJson<Ack>('POST', `/alerts/${encodeURIComponent(it.alertId)}/ack`, { by, comment });
            dispatch(alertsActions.ackChanged({ alert_id: ack.alert_id, ack }));
          } catch (e) {
            refused.push(message(e));
          }
        }
        close();
        if (refused.length) fail(`${refused.length} of ${pending.items.length} not acknowledged: ${[...new Set(refused)].join('; ')}`);
      } else if (pending.kind === 'silence') {
        const made = await sendJson<Silence>('POST', '/silences', {
          matchers: matchersFor(pending.item.labels, pick),
          duration_ms: duration,
          author: by,
          comment,
        });
        dispatch(alertsActions.silenceSaved(made));
        close();
      } else if (pending.kind === 'test') {
        const report = await sendJson<{ outcomes: DeliveryTest[] }>('POST', '/alerts/test', { by });
        setPending({ kind: 'outcomes', outcomes: report.outcomes });
      }
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  }

  const unack = (item: FeedItem) => {
    const alertId = item.alertId;
    if (!alertId) return;
    asOperator((by) => {
      sendJson<unknown>('POST', `/alerts/${encodeURIComponent(alertId)}/unack`, { by })
        // 404: it was not acknowledged (someone took it back first): the same outcome.
        .catch((e) => {
          if (!(e instanceof ApiError && e.status === 404)) throw e;
        })
        .then(() => dispatch(alertsActions.ackChanged({ alert_id: alertId, ack: null })))
        .catch(fail);
    });
  };
  const expire = (s: Silence) => {
    sendJson<Silence>('DELETE', `/silences/${encodeURIComponent(s.id)}`)
      .then((expired) => dispatch(alertsActions.silenceSaved(expired)))
      .catch(fail);
  };

  const silenceItem = pending?.kind === 'silence' ? pending.item : null;
  const matchers = silenceItem ? matchersFor(silenceItem.labels, pick) : {};
  const canSubmit = !!operator && !busy && (pending?.kind !== 'silence' || Object.keys(matchers).length > 0);
  const title =
    pending?.kind === 'ack'
      ? pending.items.length === 1
        ? 'Acknowledge this alert'
        : `Acknowledge ${pending.items.length} alerts`
      : pending?.kind === 'silence'
        ? 'Silence alerts like this'
        : pending?.kind === 'test'
          ? 'Send a test notification'
          : 'Test notification sent';

  const ui = (
    <>
      <Dialog open={dialogOpen} onClose={close} fullWidth maxWidth="sm" data-testid="alert-action-dialog">
        <DialogTitle>{title}</DialogTitle>
        <DialogContent sx={{ display: 'flex', flexDirection: 'column', gap: 1.5, pt: '8px !important' }}>
          {pending?.kind === 'outcomes' ? (
            pending.outcomes.length === 0 ? (
              <Typography data-testid="test-outcomes">No Alertmanager or webhook is configured (--alertmanager-url, --webhook-url).</Typography>
            ) : (
              pending.outcomes.map((o) => (
                <Alert key={o.destination} severity={o.ok ? 'success' : 'error'} data-testid="test-outcomes">
                  {o.kind} {o.destination}: {o.ok ? `HTTP ${o.status}` : o.error} ({o.elapsed_ms} ms)
                </Alert>
              ))
            )
          ) : (
            <>
              {pending?.kind === 'ack' && (
                <Typography variant="body2" sx={{ opacity: 0.8 }}>
                  Every dashboard shows who is on it; webhooks are told.
                </Typography>
              )}
              {silenceItem && (
                <>
                  <Typography variant="body2" sx={{ opacity: 0.8 }}>
                    Matching alerts still show here, marked silenced, but are not sent to Alertmanager or the webhooks.
                  </Typography>
                  <div>
                    {PICK_LABELS.map(([k, label]) => {
                      const value = silenceItem.labels?.[k];
                      return (
                        <FormControlLabel
                          key={k}
                          disabled={!value}
                          control={<Checkbox checked={pick[k] && !!value} onChange={(e) => setPick({ ...pick, [k]: e.target.checked })} data-testid={`silence-pick-${k}`} />}
                          label={`${label}${value ? ` = ${value}` : ''}`}
                        />
                      );
                    })}
                  </div>
                  <Typography variant="caption" data-testid="silence-matchers">
                    {Object.keys(matchers).length ? `Silences ${describeMatchers(matchers)}` : 'Pick at least one label'}
                  </Typography>
                  <TextField select size="small" label="For" value={duration} onChange={(e) => setDuration(Number(e.target.value))} data-testid="silence-duration">
                    {SILENCE_DURATIONS.map(([label, ms]) => (
                      <MenuItem key={ms} value={ms}>
                        {label}
                      </MenuItem>
                    ))}
                  </TextField>
                </>
              )}
              <Typography variant="body2" data-testid="action-operator">
                Recorded as <b>{operator}</b> (change it in the bar at the top).
              </Typography>
              {pending?.kind !== 'test' && (
                <TextField size="small" label="Comment" value={comment} onChange={(e) => setComment(e.target.value)} multiline slotProps={{ htmlInput: { 'data-testid': 'action-comment', maxLength: 1024 } }} />
              )}
            </>
          )}
        </DialogContent>
        <DialogActions>
          <Button onClick={close}>{pending?.kind === 'outcomes' ? 'Close' : 'Cancel'}</Button>
          {pending?.kind !== 'outcomes' && (
            <Button variant="contained" disabled={!canSubmit} onClick={() => void submit()} data-testid="action-submit">
              {pending?.kind === 'ack' ? 'Acknowledge' : pending?.kind === 'silence' ? 'Silence' : 'Send'}
            </Button>
          )}
        </DialogActions>
      </Dialog>
      <OperatorDialog
        open={afterName !== null}
        onSaved={(name) => {
          const then = afterName;
          setAfterName(null);
          then?.(name);
        }}
        onClose={() => setAfterName(null)}
      />
      <Snackbar open={error !== null} autoHideDuration={10_000} onClose={() => setError(null)}>
        <Alert severity="error" onClose={() => setError(null)} data-testid="action-error">
          {error}
        </Alert>
      </Snackbar>
    </>
  );

  return {
    ack: (items) => {
      const alerts = items.filter((i) => i.kind === 'alert' && i.alertId);
      if (alerts.length) open({ kind: 'ack', items: alerts });
    },
    unack,
    silence: (item) => open({ kind: 'silence', item }),
    expire,
    test: () => open({ kind: 'test' }),
    ui,
  };
}
