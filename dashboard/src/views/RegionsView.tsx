import { useMemo } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import Link from '@mui/material/Link';
import { useTheme } from '@mui/material/styles';
import { scaleLinear, scaleSqrt } from 'd3-scale';
import { max } from 'd3-array';
import Chip from '@mui/material/Chip';
import Tooltip from '@mui/material/Tooltip';
import { useAppSelector } from '../store';
import { REGION_FIGURES, REGION_GEO, outsideBands } from '../lib/regions';
import { levelColor, outsideBand } from '../lib/health';
import { CALM, firingAlerts, regionAlarm, type Alarm } from '../lib/alarms';
import { itemLink } from '../lib/alertFeed';
import { formatMetric, METRIC_LABEL } from '../lib/format';
import { seriesHash, viewHash } from '../lib/route';
import { chartColors } from '../charts/chartTheme';
import Loading from '../components/Loading';
import type { RegionSummary } from '../lib/types';

const SEV_COLOR = { critical: 'error', warning: 'warning', info: 'info' } as const;

/** The tooltip of a calm region: which figures are outside their expected range, if any. */
function bandContext(r: RegionSummary): string {
  const out = outsideBands(r);
  if (out.length === 0) return 'no alert firing; every figure inside its expected range';
  return `no alert firing; outside the expected range (context, not an alarm): ${out.map((o) => METRIC_LABEL[o.metric].toLowerCase()).join(', ')}`;
}

const W = 900;
const H = 420;

function RegionMap({ regions, alarms }: { regions: RegionSummary[]; alarms: Record<string, Alarm> }) {
  const mode = useTheme().palette.mode;
  const c = chartColors(mode);
  const r = scaleSqrt().domain([0, max(regions, (d) => d.viewers) ?? 1]).range([4, 38]);
  const x = (lon: number) => ((lon + 180) / 360) * W;
  const y = (lat: number) => ((80 - lat) / 140) * H;
  const unknown = regions.filter((d) => !REGION_GEO[d.region]);
  // Regions an alert names are drawn last, so no calm neighbour covers them.
  const order = regions.map((d, i) => ({ d, i })).sort((a, b) => Number(!!alarms[a.d.region]?.alert) - Number(!!alarms[b.d.region]?.alert));
  return (
    <svg viewBox={`0 0 ${W} ${H}`} width="100%" data-testid="region-map" role="img" aria-label="viewers by CDN region">
      {[-60, -30, 0, 30, 60].map((lat) => (
        <line key={lat} x1={0} x2={W} y1={y(lat)} y2={y(lat)} stroke={c.grid} />
      ))}
      {[-150, -120, -90, -60, -30, 0, 30, 60, 90, 120, 150].map((lon) => (
        <line key={lon} y1={0} y2={H} x1={x(lon)} x2={x(lon)} stroke={c.grid} />
      ))}
      <text x={6} y={y(0) - 4} fill={c.axis} fontSize={10}>
        equator
      </text>
      {order.map(({ d, i }) => {
        const g = REGION_GEO[d.region];
        const cx = g ? x(g.lon) : 40 + i * 60;
        const cy = g ? y(g.lat) : H - 30;
        const alarm = alarms[d.region] ?? CALM;
        const col = levelColor(alarm.level, mode);
        return (
          <a key={d.region} href={alarm.alert ? itemLink(alarm.alert) : seriesHash({ metric: 'buffering_ratio', region: d.region })} data-testid={`map-region-${d.region}`} data-level={alarm.level} data-alert={alarm.alert?.id ?? ''}>
            <title>{alarm.alert ? `${alarm.alert.severity}: ${alarm.alert.reason}` : bandContext(d)}</title>
            <circle cx={cx} cy={cy} r={r(d.viewers)} fill={col} fillOpacity={alarm.alert ? 0.45 : 0.2} stroke={col} strokeWidth={alarm.alert ? 3 : 1.5} />
            <text x={cx} y={cy - r(d.viewers) - 4} fill={mode === 'dark' ? '#e6edf3' : '#1f2328'} fontSize={12} textAnchor="middle" fontWeight={600}>
              {d.region}
            </text>
            <text x={cx} y={cy + 4} fill={mode === 'dark' ? '#e6edf3' : '#1f2328'} fontSize={10} textAnchor="middle">
              {formatMetric('viewers', d.viewers)}
            </text>
          </a>
        );
      })}
      {unknown.length > 0 && (
        <text x={6} y={H - 6} fill={c.axis} fontSize={10}>
          regions without a known location are along the bottom
        </text>
      )}
    </svg>
  );
}

function BandwidthBars({ regions }: { regions: RegionSummary[] }) {
  const mode = useTheme().palette.mode;
  const c = chartColors(mode);
  const sorted = [...regions].sort((a, b) => b.bandwidth_mbps - a.bandwidth_mbps);
  const x = scaleLinear().domain([0, max(sorted, (d) => d.bandwidth_mbps) ?? 1]).range([0, 200]);
  return (
    <svg viewBox={`0 0 460 ${sorted.length * 24 + 4}`} width="100%" data-testid="region-bandwidth">
      {sorted.map((d, i) => (
        <g key={d.region} transform={`translate(0, ${i * 24 + 2})`}>
          <text x={96} y={14} fill={c.axis} fontSize={12} textAnchor="end">
            {d.region}
          </text>
          <rect x={104} y={3} width={Math.max(1, x(d.bandwidth_mbps))} height={15} fill={c.line} rx={2} />
          <text x={110 + x(d.bandwidth_mbps)} y={14} fill={c.axis} fontSize={11}>
            {formatMetric('bandwidth_mbps', d.bandwidth_mbps)}
            {d.utilization != null ? ` · ${formatMetric('utilization', d.utilization)} of capacity` : ''}
          </text>
        </g>
      ))}
    </svg>
  );
}

export default function RegionsView() {
  const tick = useAppSelector((s) => s.ticks.latest);
  const items = useAppSelector((s) => s.alerts.items);
  const mode = useTheme().palette.mode;
  const regions = useMemo(() => tick?.regions ?? [], [tick]);
  const firing = useMemo(() => firingAlerts(items), [items]);
  const alarms = useMemo(() => Object.fromEntries(regions.map((r) => [r.region, regionAlarm(r.region, firing)])), [regions, firing]);
  if (!tick) return <Loading what="the first live tick" />;
  if (regions.length === 0) return <Typography>No region figures in the feed.</Typography>;
  const totalViewers = regions.reduce((a, r) => a + r.viewers, 0) || 1;
  return (
    <Box>
      <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', lg: '3fr 2fr' }, gap: 1.5 }}>
        <Paper sx={{ p: 1.5 }}>
          <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
            Viewers by CDN region (circle area); red or amber while an alert names the region
          </Typography>
          <RegionMap regions={regions} alarms={alarms} />
        </Paper>
        <Paper sx={{ p: 1.5 }}>
          <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
            Bandwidth per region
          </Typography>
          <BandwidthBars regions={regions} />
        </Paper>
      </Box>
      <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(250px, 1fr))', gap: 1.5, mt: 1.5 }} data-testid="region-grid">
        {regions.map((r) => {
          const alarm = alarms[r.region] ?? CALM;
          const col = levelColor(alarm.level, mode);
          const a = alarm.alert;
          return (
            <Paper key={r.region} sx={{ p: 1.5, borderLeft: `4px solid ${col}` }} data-testid={`region-card-${r.region}`} data-level={alarm.level} data-alert={a?.id ?? ''}>
              <Box sx={{ display: 'flex', justifyContent: 'space-between', alignItems: 'baseline' }}>
                <Link href={seriesHash({ metric: (a?.metric as 'buffering_ratio' | null) ?? 'buffering_ratio', region: r.region })} underline="hover" sx={{ fontWeight: 700, fontSize: 15 }}>
                  {r.region}
                </Link>
                <Typography variant="caption">{REGION_GEO[r.region]?.city ?? ''}</Typography>
              </Box>
              <Typography variant="body2">
                {formatMetric('viewers', r.viewers)} viewers ({((r.viewers / totalViewers) * 100).toFixed(1)} %) · {r.streams} streams
              </Typography>
              {a ? (
                <Box sx={{ display: 'flex', gap: 0.75, alignItems: 'flex-start', mt: 0.5 }}>
                  <Chip size="small" color={SEV_COLOR[a.severity]} label={a.severity} />
                  <Box sx={{ minWidth: 0 }}>
                    <Link href={itemLink(a)} underline="hover" sx={{ color: col, fontWeight: 600, fontSize: 13.5, wordBreak: 'break-word' }} data-testid={`region-alert-${r.region}`}>
                      {a.reason}
                    </Link>
                    {alarm.count > 1 && (
                      <Link href={`${viewHash('alerts')}?region=${encodeURIComponent(r.region)}`} underline="hover" sx={{ display: 'block', fontSize: 12 }}>
                        and {alarm.count - 1} more firing →
                      </Link>
                    )}
                  </Box>
                </Box>
              ) : (
                <Tooltip title={bandContext(r)}>
                  <Typography variant="body2" sx={{ opacity: 0.6 }} data-testid={`region-calm-${r.region}`}>
                    no alert firing{outsideBands(r).length > 0 ? ` · ${outsideBands(r).length} outside the expected range (dotted)` : ''}
                  </Typography>
                </Tooltip>
              )}
              <Box sx={{ display: 'grid', gridTemplateColumns: '1fr 1fr', columnGap: 1, mt: 0.5, fontSize: 13 }}>
                {REGION_FIGURES.map((m) => {
                  const band = r.bands?.[m];
                  const outside = outsideBand(band);
                  return (
                    <Link
                      key={m}
                      href={seriesHash({ metric: m, region: r.region })}
                      underline="hover"
                      color="inherit"
                      title={band ? `expected ${formatMetric(m, band.low)}–${formatMetric(m, band.high)}${outside ? ' (outside: context, not an alarm)' : ''}` : undefined}
                      data-outside={outside ? 'yes' : 'no'}
                      sx={outside ? { textDecoration: 'underline dotted', textUnderlineOffset: 3 } : undefined}
                    >
                      {METRIC_LABEL[m]}: {formatMetric(m, r[m])}
                    </Link>
                  );
                })}
                {r.utilization != null && <span>Utilisation: {formatMetric('utilization', r.utilization)}</span>}
              </Box>
            </Paper>
          );
        })}
      </Box>
    </Box>
  );
}
