import { useMemo } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
import Chip from '@mui/material/Chip';
import { useAppSelector } from '../store';
import { liveSeries } from '../lib/seriesStore';
import { clock, duration, formatMetric } from '../lib/format';
import ForecastChart from '../charts/ForecastChart';
import Loading from '../components/Loading';

/** Recent history of a live series, thinned to about `n` points. */
function recent(scope: string, field: string, n = 120): { t: number; v: number }[] {
  const s = liveSeries.scope(scope);
  const ring = s?.series(field);
  if (!s || !ring) return [];
  const t = s.t.toArray();
  const v = ring.toArray();
  const every = Math.max(1, Math.floor(t.length / n));
  const out: { t: number; v: number }[] = [];
  for (let i = 0; i < t.length; i += every) if (Number.isFinite(v[i])) out.push({ t: t[i], v: v[i] });
  return out;
}

export default function AnalyticsView() {
  const mode = useAppSelector((s) => s.ui.theme);
  const { data, error, fetchedAt } = useAppSelector((s) => s.analytics);
  const version = useAppSelector((s) => s.ticks.version);
  // Re-thinned every ~10 ticks, not every tick.
  const slow = Math.floor(version / 10);
  const histories = useMemo(() => {
    const out: Record<string, { t: number; v: number }[]> = { __audience: recent('all', 'viewers') };
    for (const f of data?.forecasts ?? []) out[f.region] = recent(`region:${f.region}`, 'bandwidth_mbps');
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, slow]);

  if (!data && !error) return <Loading what="the analytics" />;
  if (!data) return <Alert severity="error">Analytics: {error}</Alert>;
  const warnings = data.forecasts.filter((f) => f.warning);
  const det = data.detectors ?? {};
  const forecastsReady = data.forecasts.some((f) => f.forecast.length > 0);

  return (
    <Box>
      {error && <Alert severity="warning">Analytics refresh failed: {error} (showing {clock(fetchedAt)})</Alert>}
      <Paper sx={{ p: 1.5 }} data-testid="capacity-warnings">
        <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
          Capacity warnings
        </Typography>
        {warnings.length === 0 ? (
          <Typography variant="body2" sx={{ opacity: 0.75 }}>
            No region is forecast to cross its capacity.
          </Typography>
        ) : (
          warnings.map((f) => (
            <Alert key={f.region} severity={f.warning!.lead_ms < 15 * 60_000 ? 'error' : 'warning'} sx={{ mt: 0.5 }} data-testid="capacity-warning">
              <b>{f.region}</b>: egress forecast to reach {formatMetric('bandwidth_mbps', f.warning!.predicted_value)} (interval {formatMetric('bandwidth_mbps', f.warning!.confidence_interval[0])}–
              {formatMetric('bandwidth_mbps', f.warning!.confidence_interval[1])}) against a capacity of {formatMetric('bandwidth_mbps', f.warning!.limit)} at {clock(f.warning!.crossing_ms)}, in{' '}
              {duration(Math.max(0, f.warning!.lead_ms))}.
            </Alert>
          ))
        )}
      </Paper>
      {!forecastsReady && (
        <Alert severity="info" sx={{ mt: 1.5 }} data-testid="forecasts-warming">
          Forecasters are warming up: they need several averaged steps of history before they predict. The charts show the recent history meanwhile.
        </Alert>
      )}
      <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', md: '1fr 1fr', xl: '1fr 1fr 1fr' }, gap: 1.5, mt: 1.5 }} data-testid="forecasts">
        {data.audience && (
          <Paper sx={{ p: 1.5 }}>
            <Typography variant="subtitle2">Audience: {formatMetric('viewers', data.audience.viewers)} viewers</Typography>
            <ForecastChart history={histories.__audience ?? []} forecast={data.audience.forecast} metric="viewers" mode={mode} testId="forecast-audience" />
          </Paper>
        )}
        {data.forecasts.map((f) => (
          <Paper key={f.region} sx={{ p: 1.5 }}>
            <Box sx={{ display: 'flex', gap: 1, alignItems: 'center' }}>
              <Typography variant="subtitle2">{f.region} egress</Typography>
              {f.warning && <Chip size="small" color="warning" label="capacity" />}
              <Typography variant="caption" sx={{ ml: 'auto', opacity: 0.7 }}>
                {f.forecast.length ? `${f.forecast.length} steps to ${clock(f.forecast[f.forecast.length - 1].timestamp_ms)}` : 'no forecast yet'}
              </Typography>
            </Box>
            <ForecastChart history={histories[f.region] ?? []} forecast={f.forecast} capacity={f.capacity_mbps} metric="bandwidth_mbps" mode={mode} testId={`forecast-${f.region}`} />
          </Paper>
        ))}
      </Box>
      <Paper sx={{ p: 1.5, mt: 1.5 }} data-testid="detector-stats">
        <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
          Detectors
        </Typography>
        <Box sx={{ display: 'flex', gap: 3, flexWrap: 'wrap' }}>
          {Object.entries(det).map(([k, v]) => (
            <Box key={k}>
              <Typography variant="caption" sx={{ opacity: 0.7 }}>
                {k.replace(/_/g, ' ')}
              </Typography>
              <Typography sx={{ fontWeight: 600, fontVariantNumeric: 'tabular-nums' }}>{typeof v === 'number' ? v.toLocaleString('en-US') : String(v)}</Typography>
            </Box>
          ))}
        </Box>
      </Paper>
    </Box>
  );
}
