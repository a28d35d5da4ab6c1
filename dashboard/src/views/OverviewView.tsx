import { useMemo } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import Link from '@mui/material/Link';
import { useTheme } from '@mui/material/styles';
import { useAppDispatch, useAppSelector } from '../store';
import { alertsActions } from '../store/alertsSlice';
import { liveSeries } from '../lib/seriesStore';
import { filterItems, openCounts } from '../lib/alertFeed';
import { formatMetric, METRIC_LABEL } from '../lib/format';
import { kpiLevel, levelColor, worse, type Level } from '../lib/health';
import { seriesHash, viewHash } from '../lib/route';
import KpiCard from '../components/KpiCard';
import FeedList from '../components/FeedList';
import Loading from '../components/Loading';
import type { MetricName } from '../lib/types';

const KPIS: { metric: MetricName | 'active_streams'; label: string }[] = [
  { metric: 'viewers', label: 'Concurrent viewers' },
  { metric: 'latency_ms', label: 'Average latency' },
  { metric: 'buffering_ratio', label: 'Buffering ratio' },
  { metric: 'bandwidth_mbps', label: 'Bandwidth' },
  { metric: 'active_streams', label: 'Active streams' },
];

export default function OverviewView() {
  const tick = useAppSelector((s) => s.ticks.latest);
  const version = useAppSelector((s) => s.ticks.version);
  const items = useAppSelector((s) => s.alerts.items);
  const acked = useAppSelector((s) => s.alerts.acked);
  const dispatch = useAppDispatch();
  const theme = useTheme();
  const counts = useMemo(() => openCounts(items, acked), [items, acked]);
  // Alerts (one per incident group) first, then the strongest single anomalies.
  const openItems = useMemo(() => {
    const open = filterItems(items, { minSeverity: 'warning', kind: 'all', region: null, ack: 'open', text: '' }, acked);
    const alerts = open.filter((i) => i.kind !== 'anomaly' && i.state !== 'resolved');
    const rest = open.filter((i) => i.kind === 'anomaly');
    return [...alerts, ...rest].slice(0, 8);
  }, [items, acked]);
  const all = liveSeries.scope('all');

  if (!tick) return <Loading what="the first live tick" />;
  const value = (m: string): number =>
    m === 'viewers' ? tick.users : m === 'latency_ms' ? tick.latency : m === 'buffering_ratio' ? tick.buffering : m === 'bandwidth_mbps' ? tick.total_bandwidth_mbps : m === 'active_streams' ? tick.active_streams : Number.NaN;
  const alertLevel: Level = counts.firing > 0 ? 'bad' : counts.critical > 0 ? 'warn' : 'ok';

  return (
    <Box>
      <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(220px, 1fr))', gap: 1.5 }}>
        {KPIS.map(({ metric, label }) => {
          const band = tick.bands?.[metric as MetricName];
          const v = value(metric);
          return (
            <KpiCard
              key={metric}
              label={label}
              value={formatMetric(metric, v)}
              sub={band ? `expected ${formatMetric(metric, band.low)}–${formatMetric(metric, band.high)}` : undefined}
              level={metric === 'active_streams' ? 'none' : kpiLevel(metric, v, band?.score)}
              spark={all?.series(metric)?.toArray() ?? null}
              version={version}
              href={seriesHash({ metric: metric === 'active_streams' ? 'viewers' : metric })}
              testId={`kpi-${metric}`}
            />
          );
        })}
        <KpiCard
          label="Open alerts"
          value={String(counts.firing)}
          sub={`${counts.critical} critical unacknowledged`}
          level={alertLevel}
          version={version}
          href={viewHash('alerts')}
          testId="kpi-open_alerts"
        />
      </Box>
      <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', lg: '3fr 2fr' }, gap: 1.5, mt: 1.5 }}>
        <Paper sx={{ p: 1.5 }}>
          <Box sx={{ display: 'flex', justifyContent: 'space-between', alignItems: 'baseline' }}>
            <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
              Needs attention
            </Typography>
            <Link href={viewHash('alerts')} underline="hover">
              all alerts →
            </Link>
          </Box>
          <FeedList items={openItems} acked={acked} compact onAck={(id) => dispatch(alertsActions.acknowledge({ ids: [id], at: Date.now() }))} />
        </Paper>
        <Paper sx={{ p: 1.5 }} data-testid="overview-regions">
          <Box sx={{ display: 'flex', justifyContent: 'space-between', alignItems: 'baseline' }}>
            <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
              Regions
            </Typography>
            <Link href={viewHash('regions')} underline="hover">
              map →
            </Link>
          </Box>
          {(tick.regions ?? []).map((r) => {
            let level: Level = 'none';
            for (const m of ['buffering_ratio', 'latency_ms', 'error_rate', 'startup_time_ms'] as const) level = worse(level, kpiLevel(m, r[m], r.bands?.[m]?.score));
            const worst = (['buffering_ratio', 'latency_ms', 'error_rate', 'bitrate_kbps', 'startup_time_ms'] as const).reduce((a, m) => ((r.bands?.[m]?.score ?? 0) > (r.bands?.[a]?.score ?? 0) ? m : a), 'buffering_ratio' as MetricName);
            return (
              <Link
                key={r.region}
                href={seriesHash({ metric: worst, region: r.region })}
                underline="none"
                color="inherit"
                data-testid={`overview-region-${r.region}`}
                sx={{ display: 'grid', gridTemplateColumns: '12px 110px 1fr 1fr 1fr', gap: 1, alignItems: 'center', py: 0.4, fontSize: 13, '&:hover': { bgcolor: 'action.hover' } }}
              >
                <span style={{ width: 10, height: 10, borderRadius: 5, background: levelColor(level, theme.palette.mode) }} />
                <span>{r.region}</span>
                <span>{formatMetric('viewers', r.viewers)} viewers</span>
                <span>{METRIC_LABEL.buffering_ratio.toLowerCase()} {formatMetric('buffering_ratio', r.buffering_ratio)}</span>
                <span>{formatMetric('latency_ms', r.latency_ms)}</span>
              </Link>
            );
          })}
        </Paper>
      </Box>
    </Box>
  );
}
