import { useMemo } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import Link from '@mui/material/Link';
import { useTheme } from '@mui/material/styles';
import { useAppSelector } from '../store';
import { useHandled } from '../hooks';
import { useAlertActions } from '../components/AlertActions';
import { liveSeries } from '../lib/seriesStore';
import { itemLink, openCounts } from '../lib/alertFeed';
import { firingAlerts, metricAlarm, needsAttention, regionAlarm } from '../lib/alarms';
import { formatMetric, METRIC_LABEL } from '../lib/format';
import { kpiLevel, levelColor, outsideBand, type Level } from '../lib/health';
import { outsideBands } from '../lib/regions';
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
  const handled = useHandled();
  const actions = useAlertActions();
  const theme = useTheme();
  const counts = useMemo(() => openCounts(items, handled), [items, handled]);
  const firing = useMemo(() => firingAlerts(items), [items]);
  // Firing alerts only, worst first: a single anomaly point is no alarm.
  const attention = useMemo(() => needsAttention(firing, handled), [firing, handled]);
  const ackedFiring = firing.length - counts.firing;
  const all = liveSeries.scope('all');

  if (!tick) return <Loading what="the first live tick" />;
  const value = (m: string): number =>
    m === 'viewers' ? tick.users : m === 'latency_ms' ? tick.latency : m === 'buffering_ratio' ? tick.buffering_ratio : m === 'bandwidth_mbps' ? tick.total_bandwidth_mbps : m === 'active_streams' ? tick.active_streams : Number.NaN;
  const alertLevel: Level = counts.critical > 0 ? 'bad' : counts.firing > 0 ? 'warn' : 'ok';

  return (
    <Box>
      <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(220px, 1fr))', gap: 1.5 }}>
        {KPIS.map(({ metric, label }) => {
          const band = tick.bands?.[metric as MetricName];
          const v = value(metric);
          const alarm = metricAlarm(metric, firing);
          const expected = band ? `expected ${formatMetric(metric, band.low)}–${formatMetric(metric, band.high)}${outsideBand(band) ? ' · outside' : ''}` : undefined;
          return (
            <KpiCard
              key={metric}
              label={label}
              value={formatMetric(metric, v)}
              sub={alarm.alert ? `${alarm.count} alert${alarm.count > 1 ? 's' : ''} firing · ${alarm.alert.reason}` : expected}
              subTitle={alarm.alert?.reason ?? expected}
              level={metric === 'active_streams' ? 'none' : kpiLevel(metric, v, alarm.level)}
              spark={all?.series(metric)?.toArray() ?? null}
              version={version}
              href={alarm.alert ? itemLink(alarm.alert) : seriesHash({ metric: metric === 'active_streams' ? 'viewers' : metric })}
              testId={`kpi-${metric}`}
            />
          );
        })}
        <KpiCard
          label="Open alerts"
          value={String(counts.firing)}
          sub={`${counts.critical} critical${ackedFiring > 0 ? ` · ${ackedFiring} acknowledged or silenced` : ''}`}
          level={alertLevel}
          version={version}
          href={viewHash('alerts')}
          testId="kpi-open_alerts"
        />
      </Box>
      <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', lg: '3fr 2fr' }, gap: 1.5, mt: 1.5 }}>
        <Paper sx={{ p: 1.5 }} data-testid="needs-attention" data-count={attention.length}>
          <Box sx={{ display: 'flex', justifyContent: 'space-between', alignItems: 'baseline' }}>
            <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
              Needs attention
            </Typography>
            <Link href={viewHash('alerts')} underline="hover">
              all alerts and anomalies →
            </Link>
          </Box>
          {attention.length === 0 ? (
            <Typography sx={{ p: 2, opacity: 0.7 }} data-testid="needs-attention-empty">
              No alert is firing{ackedFiring > 0 ? ` that nobody acknowledged or silenced (${ackedFiring} handled)` : ''}. Anomaly points are in the alerts view, as context.
            </Typography>
          ) : (
            <FeedList items={attention} handled={handled} compact onAck={(it) => actions.ack([it])} onSilence={actions.silence} />
          )}
          {actions.ui}
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
            const alarm = regionAlarm(r.region, firing);
            const outside = outsideBands(r);
            const title = alarm.alert
              ? `${alarm.alert.severity}: ${alarm.alert.reason}`
              : outside.length
                ? `no alert firing; outside the expected range (context): ${outside.map((o) => METRIC_LABEL[o.metric].toLowerCase()).join(', ')}`
                : 'no alert firing';
            return (
              <Link
                key={r.region}
                href={alarm.alert ? itemLink(alarm.alert) : seriesHash({ metric: 'buffering_ratio', region: r.region })}
                underline="none"
                color="inherit"
                title={title}
                data-testid={`overview-region-${r.region}`}
                data-level={alarm.level}
                data-alert={alarm.alert?.id ?? ''}
                sx={{ display: 'grid', gridTemplateColumns: '12px 110px 1fr 1fr 1fr', gap: 1, alignItems: 'center', py: 0.4, fontSize: 13, '&:hover': { bgcolor: 'action.hover' } }}
              >
                <span style={{ width: 10, height: 10, borderRadius: 5, background: levelColor(alarm.level, theme.palette.mode) }} />
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
