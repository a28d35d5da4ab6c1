import { useEffect, useMemo, useRef, useState } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import TextField from '@mui/material/TextField';
import MenuItem from '@mui/material/MenuItem';
import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
import { useAppDispatch, useAppSelector } from '../store';
import { alertsActions } from '../store/alertsSlice';
import { DEFAULT_FEED_FILTER, filterItems, type FeedFilter, type FeedItem } from '../lib/alertFeed';
import { compareAlarms, isFiring } from '../lib/alarms';
import { useHandled, useNow } from '../hooks';
import FeedList from '../components/FeedList';
import SilencesPanel from '../components/SilencesPanel';
import { useAlertActions } from '../components/AlertActions';

/** Anomaly points listed before "show all". */
const POINTS_SHOWN = 50;

/** Firing alerts worst first, then everything else newest first. */
function alertsFirst(items: FeedItem[]): FeedItem[] {
  const firing = items.filter(isFiring).sort(compareAlarms);
  return [...firing, ...items.filter((i) => !isFiring(i))];
}

export default function AlertsView({ regionFromUrl, alertFromUrl }: { regionFromUrl: string | null; alertFromUrl: string | null }) {
  const dispatch = useAppDispatch();
  const { items, silences, filter, loaded, error } = useAppSelector((s) => s.alerts);
  const handled = useHandled();
  const actions = useAlertActions();
  const now = useNow(5000);
  const highlight = alertFromUrl ? `alert:${alertFromUrl}` : null;
  const regionIds = useAppSelector((s) => s.ticks.regionIds);
  useEffect(() => {
    if (regionFromUrl) dispatch(alertsActions.setFilter({ region: regionFromUrl }));
  }, [regionFromUrl, dispatch]);
  const shown = useMemo(() => filterItems(items, filter, handled), [items, filter, handled]);
  const set = (p: Partial<FeedFilter>) => dispatch(alertsActions.setFilter(p));
  const regions = useMemo(() => [...new Set([...regionIds, ...items.map((i) => i.region).filter((r): r is string => !!r)])].sort(), [regionIds, items]);
  const openShown = shown.filter((i) => i.kind === 'alert' && !!i.alertId && !(i.id in handled));
  // Alerts (and capacity predictions) are the list; anomaly points are
  // context for them, in a list of their own below.
  const alerts = useMemo(() => alertsFirst(shown.filter((i) => i.kind !== 'anomaly')), [shown]);
  const points = useMemo(() => shown.filter((i) => i.kind === 'anomaly'), [shown]);
  const [allPoints, setAllPoints] = useState(false);
  // `#/alerts/<id>`: scrolled into view once, when it is listed (not on every render).
  const linked = highlight ? items.find((i) => i.id === highlight) ?? null : null;
  const linkedShown = !!highlight && filter.kind !== 'anomaly' && alerts.some((i) => i.id === highlight);
  const scrolledTo = useRef<string | null>(null);
  useEffect(() => {
    if (!highlight || !linkedShown || scrolledTo.current === highlight) return;
    scrolledTo.current = highlight;
    document.querySelector(`[data-testid=feed-item][data-id="${CSS.escape(highlight)}"]`)?.scrollIntoView({ block: 'center' });
  }, [highlight, linkedShown]);
  const at = Math.max(now, Date.now());

  return (
    <Box>
      <Paper sx={{ p: 1.5, display: 'flex', gap: 1.5, flexWrap: 'wrap', alignItems: 'center' }}>
        <TextField select size="small" label="Severity" value={filter.minSeverity} onChange={(e) => set({ minSeverity: e.target.value as FeedFilter['minSeverity'] })} sx={{ width: 140 }} data-testid="alerts-severity">
          <MenuItem value="info">all</MenuItem>
          <MenuItem value="warning">warning +</MenuItem>
          <MenuItem value="critical">critical</MenuItem>
        </TextField>
        <TextField select size="small" label="Kind" value={filter.kind} onChange={(e) => set({ kind: e.target.value as FeedFilter['kind'] })} sx={{ width: 140 }} data-testid="alerts-kind">
          <MenuItem value="all">all kinds</MenuItem>
          <MenuItem value="alert">alerts</MenuItem>
          <MenuItem value="anomaly">anomalies</MenuItem>
          <MenuItem value="prediction">predictions</MenuItem>
        </TextField>
        <TextField select size="small" label="Region" value={filter.region ?? ''} onChange={(e) => set({ region: e.target.value || null })} sx={{ width: 160 }} data-testid="alerts-region">
          <MenuItem value="">all regions</MenuItem>
          {regions.map((r) => (
            <MenuItem key={r} value={r} data-testid={`alerts-region-${r}`}>
              {r}
            </MenuItem>
          ))}
        </TextField>
        <TextField select size="small" label="Alerts handled" value={filter.ack} onChange={(e) => set({ ack: e.target.value as FeedFilter['ack'] })} sx={{ width: 150 }} data-testid="alerts-ack">
          <MenuItem value="all">all alerts</MenuItem>
          <MenuItem value="open">open alerts only</MenuItem>
          <MenuItem value="acked">acknowledged or silenced</MenuItem>
        </TextField>
        <TextField size="small" label="Search reason, title" value={filter.text} onChange={(e) => set({ text: e.target.value })} sx={{ width: 220 }} />
        <Button variant="outlined" size="small" disabled={openShown.length === 0} onClick={() => actions.ack(openShown)} data-testid="alerts-ack-all">
          acknowledge {openShown.length} shown
        </Button>
        <Button variant="outlined" size="small" onClick={actions.test} data-testid="alerts-test">
          send test notification
        </Button>
        <Typography variant="body2" sx={{ ml: 'auto', opacity: 0.75 }} data-testid="alerts-count">
          {shown.length} of {items.length}
        </Typography>
      </Paper>
      {error && (
        <Alert severity="error" sx={{ mt: 1 }}>
          Alert history: {error}
        </Alert>
      )}
      {actions.ui}
      {highlight && !linkedShown && (loaded || linked) && (
        <Alert
          severity="info"
          sx={{ mt: 1 }}
          data-testid="alerts-linked-missing"
          action={
            linked ? (
              <Button size="small" color="inherit" onClick={() => set(DEFAULT_FEED_FILTER)} data-testid="alerts-linked-show">
                show it
              </Button>
            ) : undefined
          }
        >
          {linked ? `Alert ${alertFromUrl} is hidden by the filters.` : `Alert ${alertFromUrl} is not among the latest alerts (it may have resolved long ago).`}
        </Alert>
      )}
      {!loaded && items.length === 0 ? (
        <Paper sx={{ mt: 1.5 }}>
          <Typography sx={{ p: 2 }}>Loading alerts…</Typography>
        </Paper>
      ) : (
        <>
          {filter.kind !== 'anomaly' && (
            <Paper sx={{ mt: 1.5 }} data-testid="alerts-list" data-count={alerts.length}>
              <Typography variant="subtitle1" sx={{ fontWeight: 600, px: 1.5, pt: 1 }}>
                Alerts
                <Typography component="span" variant="body2" sx={{ opacity: 0.7, ml: 1 }}>
                  firing first, worst first; then pending, resolved and capacity predictions, newest first
                </Typography>
              </Typography>
              <FeedList
                items={alerts}
                handled={handled}
                onAck={(it) => actions.ack([it])}
                onUnack={actions.unack}
                onSilence={actions.silence}
                highlight={highlight}
                emptyText="No alert matches these filters."
              />
            </Paper>
          )}
          <SilencesPanel silences={silences} now={at} onExpire={actions.expire} />
          {(filter.kind === 'all' || filter.kind === 'anomaly') && (
            <Paper variant="outlined" sx={{ mt: 1.5, opacity: 0.9 }} data-testid="anomaly-points" data-count={points.length}>
              <Box sx={{ display: 'flex', alignItems: 'baseline', gap: 1, px: 1.5, pt: 1, flexWrap: 'wrap' }}>
                <Typography variant="subtitle2">Anomaly points ({points.length})</Typography>
                <Typography variant="body2" sx={{ opacity: 0.7 }}>
                  single points a detector judged material: context for the alerts, not alarms
                </Typography>
                {points.length > POINTS_SHOWN && (
                  <Button size="small" sx={{ ml: 'auto' }} onClick={() => setAllPoints((v) => !v)} data-testid="anomaly-points-toggle">
                    {allPoints ? `show the latest ${POINTS_SHOWN}` : `show all ${points.length}`}
                  </Button>
                )}
              </Box>
              <FeedList items={allPoints ? points : points.slice(0, POINTS_SHOWN)} handled={{}} emptyText="No anomaly point matches these filters." />
            </Paper>
          )}
        </>
      )}
    </Box>
  );
}
