import { useEffect, useMemo } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import TextField from '@mui/material/TextField';
import MenuItem from '@mui/material/MenuItem';
import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
import { useAppDispatch, useAppSelector } from '../store';
import { alertsActions } from '../store/alertsSlice';
import { filterItems, type FeedFilter } from '../lib/alertFeed';
import FeedList from '../components/FeedList';

export default function AlertsView({ regionFromUrl }: { regionFromUrl: string | null }) {
  const dispatch = useAppDispatch();
  const { items, acked, filter, loaded, error } = useAppSelector((s) => s.alerts);
  const regionIds = useAppSelector((s) => s.ticks.regionIds);
  useEffect(() => {
    if (regionFromUrl) dispatch(alertsActions.setFilter({ region: regionFromUrl }));
  }, [regionFromUrl, dispatch]);
  const shown = useMemo(() => filterItems(items, filter, acked), [items, filter, acked]);
  const set = (p: Partial<FeedFilter>) => dispatch(alertsActions.setFilter(p));
  const regions = useMemo(() => [...new Set([...regionIds, ...items.map((i) => i.region).filter((r): r is string => !!r)])].sort(), [regionIds, items]);
  const openShown = shown.filter((i) => !(i.id in acked));

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
        <TextField select size="small" label="Acknowledged" value={filter.ack} onChange={(e) => set({ ack: e.target.value as FeedFilter['ack'] })} sx={{ width: 150 }} data-testid="alerts-ack">
          <MenuItem value="all">all</MenuItem>
          <MenuItem value="open">open only</MenuItem>
          <MenuItem value="acked">acknowledged</MenuItem>
        </TextField>
        <TextField size="small" label="Search reason, title" value={filter.text} onChange={(e) => set({ text: e.target.value })} sx={{ width: 220 }} />
        <Button variant="outlined" size="small" disabled={openShown.length === 0} onClick={() => dispatch(alertsActions.acknowledge({ ids: openShown.map((i) => i.id), at: Date.now() }))} data-testid="alerts-ack-all">
          acknowledge {openShown.length} shown
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
      <Paper sx={{ mt: 1.5 }}>
        {!loaded && items.length === 0 ? (
          <Typography sx={{ p: 2 }}>Loading alerts…</Typography>
        ) : (
          <FeedList items={shown} acked={acked} onAck={(id) => dispatch(alertsActions.acknowledge({ ids: [id], at: Date.now() }))} onUnack={(id) => dispatch(alertsActions.unacknowledge(id))} />
        )}
      </Paper>
    </Box>
  );
}
