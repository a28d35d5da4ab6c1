import { useEffect, useMemo, useState } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import TextField from '@mui/material/TextField';
import MenuItem from '@mui/material/MenuItem';
import ToggleButton from '@mui/material/ToggleButton';
import ToggleButtonGroup from '@mui/material/ToggleButtonGroup';
import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import LinearProgress from '@mui/material/LinearProgress';
import { useAppSelector } from '../store';
import { go } from '../hooks';
import { liveSeries, LIVE_CAPACITY } from '../lib/seriesStore';
import { lastFinite, scopeColumns, stackedRenditions, type Columns } from '../lib/tickShaping';
import { RANGE_MS, RANGES, rangeForWindow, seriesHash, type Range, type SeriesFilter } from '../lib/route';
import { CONTENT_TYPES, METRICS, type MetricName } from '../lib/types';
import { clock, formatMetric, METRIC_LABEL } from '../lib/format';
import TimeSeriesChart, { type Marker } from '../charts/TimeSeriesChart';
import StackedAreaChart from '../charts/StackedAreaChart';
import { useHistory } from './useHistory';

const CHARTED: MetricName[] = ['latency_ms', 'buffering_ratio', 'bitrate_kbps', 'viewers', 'bandwidth_mbps'];

export function liveScopeKey(f: SeriesFilter): string {
  if (f.content) return f.region ? `content:${f.content}|region:${f.region}` : `content:${f.content}`;
  if (f.region) return `region:${f.region}`;
  if (f.type) return `type:${f.type}`;
  return 'all';
}

export default function SeriesView({ filter }: { filter: SeriesFilter }) {
  const mode = useAppSelector((s) => s.ui.theme);
  const version = useAppSelector((s) => s.ticks.version);
  const regionIds = useAppSelector((s) => s.ticks.regionIds);
  const intervalMs = useAppSelector((s) => s.ticks.latest?.interval_ms ?? 1000);
  const items = useAppSelector((s) => s.alerts.items);
  const titleName = useAppSelector((s) => (filter.content ? s.content.rows[filter.content]?.title : undefined));
  const [contentText, setContentText] = useState(filter.content ?? '');
  useEffect(() => setContentText(filter.content ?? ''), [filter.content]);

  const range: Range = filter.range === 'live' ? rangeForWindow(filter.from, Date.now(), LIVE_CAPACITY * intervalMs) : filter.range;
  const update = (p: Partial<SeriesFilter>) => go(seriesHash({ ...filter, ...p }));


  const metrics = useMemo(() => [filter.metric, ...CHARTED.filter((m) => m !== filter.metric)], [filter.metric]);
  const history = useHistory(filter, range, metrics);
  const scopeKey = liveScopeKey(filter);
  const typeIgnored = !!filter.type && (!!filter.region || !!filter.content);

  const fromRings = range === 'live' && !filter.content;
  const liveCols = useMemo(() => {
    if (!fromRings) return null;
    const s = liveSeries.scope(scopeKey);
    const out: Record<string, Columns | null> = {};
    for (const m of metrics) out[m] = scopeColumns(s, m);
    return out;
    // version / scopedVersion say the rings moved.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fromRings, scopeKey, metrics, version]);
  const mix = useMemo(
    () => (fromRings ? stackedRenditions(liveSeries.scope(scopeKey)) : null),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [fromRings, scopeKey, version],
  );

  const colsOf = (m: string): Columns | null => (fromRings ? (liveCols?.[m] ?? null) : (history.cols?.[m] ?? null));
  const now = Date.now();
  const xRange: [number, number] | null = range === 'live' ? (fromRings ? null : [now - 15 * 60_000, now]) : [now - RANGE_MS[range], now];
  const highlight = filter.from !== null ? { from: filter.from, to: filter.to } : null;

  const markersOf = (m: string): Marker[] =>
    items
      .filter((it) => it.kind === 'anomaly' && it.metric === m)
      .filter((it) => (!filter.region || it.region === filter.region) && (!filter.content || it.contentId === filter.content))
      .slice(0, 200)
      .map((it) => ({ t: it.timestampMs, v: filter.content && filter.region ? it.value : null }));

  const mainCols = colsOf(filter.metric);
  const current = lastFinite(mainCols?.y);
  const scopeLabel = [filter.content ? (titleName ? `${titleName} (${filter.content})` : filter.content) : null, filter.region, !typeIgnored ? filter.type : null].filter(Boolean).join(' · ') || 'whole service';

  return (
    <Box>
      <Paper sx={{ p: 1.5, display: 'flex', flexWrap: 'wrap', gap: 1.5, alignItems: 'center' }} data-testid="series-filters">
        <TextField select size="small" label="Metric" value={filter.metric} onChange={(e) => update({ metric: e.target.value as MetricName })} sx={{ minWidth: 160 }} slotProps={{ htmlInput: { 'data-testid': 'filter-metric' } }}>
          {METRICS.map((m) => (
            <MenuItem key={m} value={m}>
              {METRIC_LABEL[m]}
            </MenuItem>
          ))}
        </TextField>
        <TextField select size="small" label="CDN region" value={filter.region ?? ''} onChange={(e) => update({ region: e.target.value || null })} sx={{ minWidth: 150 }} data-testid="filter-region">
          <MenuItem value="">all regions</MenuItem>
          {regionIds.map((r) => (
            <MenuItem key={r} value={r} data-testid={`filter-region-${r}`}>
              {r}
            </MenuItem>
          ))}
        </TextField>
        <TextField select size="small" label="Content type" value={filter.type ?? ''} onChange={(e) => update({ type: (e.target.value || null) as SeriesFilter['type'] })} sx={{ minWidth: 130 }}>
          <MenuItem value="">all types</MenuItem>
          {CONTENT_TYPES.map((t) => (
            <MenuItem key={t} value={t}>
              {t}
            </MenuItem>
          ))}
        </TextField>
        <TextField
          size="small"
          label="Title id"
          placeholder="vod-000001"
          value={contentText}
          onChange={(e) => setContentText(e.target.value)}
          onKeyDown={(e) => e.key === 'Enter' && update({ content: contentText.trim() || null })}
          onBlur={() => contentText.trim() !== (filter.content ?? '') && update({ content: contentText.trim() || null })}
          sx={{ width: 150 }}
        />
        <ToggleButtonGroup size="small" exclusive value={range} onChange={(_e, v: Range | null) => v && update({ range: v, ...(v === 'live' && filter.from !== null && rangeForWindow(filter.from, Date.now(), LIVE_CAPACITY * intervalMs) !== 'live' ? { from: null, to: null } : {}) })} data-testid="range-picker">
          {RANGES.map((r) => (
            <ToggleButton key={r} value={r} data-testid={`range-${r}`} sx={{ textTransform: 'none', px: 1.5 }}>
              {r === 'live' ? 'live 15m' : r}
            </ToggleButton>
          ))}
        </ToggleButtonGroup>
        {highlight && (
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 1 }}>
            <Typography variant="body2" data-testid="series-window">
              window {clock(highlight.from)} → {highlight.to ? clock(highlight.to) : 'now'}
            </Typography>
            <Button size="small" onClick={() => update({ from: null, to: null })}>
              clear
            </Button>
          </Box>
        )}
      </Paper>
      {typeIgnored && (
        <Alert severity="info" sx={{ mt: 1 }}>
          The content-type filter applies to the whole service only: the feed has no region × type or title × type figures.
        </Alert>
      )}
      {history.error && (
        <Alert severity="error" sx={{ mt: 1 }} data-testid="history-error">
          History: {history.error}
        </Alert>
      )}
      {history.loading && <LinearProgress sx={{ mt: 1 }} />}
      <Paper sx={{ p: 1.5, mt: 1.5 }}>
        <Box sx={{ display: 'flex', alignItems: 'baseline', gap: 2, flexWrap: 'wrap' }}>
          <Typography variant="h6">{METRIC_LABEL[filter.metric]}</Typography>
          <Typography variant="body2" sx={{ opacity: 0.8 }} data-testid="series-scope">
            {scopeLabel} · {fromRings ? 'live, last 15 min' : range === 'live' ? 'last 15 min from the REST API, 5 s buckets, refreshed every 5 s' : `last ${range} from the REST API`} · times UTC
          </Typography>
          <Typography variant="h6" sx={{ ml: 'auto', fontVariantNumeric: 'tabular-nums' }} data-testid="series-current">
            {formatMetric(filter.metric, current)}
          </Typography>
        </Box>
        <Typography variant="caption" sx={{ opacity: 0.75 }}>
          Shaded: the detector's expected range. Red dots: points scoring ≥ 0.5. Triangles: anomaly events{filter.content && filter.region ? '' : ' in this scope (at the top edge: a title or region inside it)'}. Amber: the alert window.
        </Typography>
        <TimeSeriesChart cols={mainCols} metric={filter.metric} height={280} mode={mode} highlight={highlight} markers={markersOf(filter.metric)} xRange={xRange} testId="chart-main" />
      </Paper>
      <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', md: '1fr 1fr', xl: '1fr 1fr 1fr' }, gap: 1.5, mt: 1.5 }}>
        {metrics.slice(1).map((m) => (
          <Paper key={m} sx={{ p: 1.5 }} component="section">
            <Box sx={{ display: 'flex', justifyContent: 'space-between' }}>
              <Typography variant="subtitle2" component="a" href={seriesHash({ ...filter, metric: m })} sx={{ color: 'inherit' }}>
                {METRIC_LABEL[m]}
              </Typography>
              <Typography variant="subtitle2" sx={{ fontVariantNumeric: 'tabular-nums' }}>
                {formatMetric(m, lastFinite(colsOf(m)?.y))}
              </Typography>
            </Box>
            <TimeSeriesChart cols={colsOf(m)} metric={m} height={150} mode={mode} highlight={highlight} markers={markersOf(m)} xRange={xRange} testId={`chart-${m}`} />
          </Paper>
        ))}
        <Paper sx={{ p: 1.5 }} component="section">
          <Typography variant="subtitle2">Resolution mix (share of viewers)</Typography>
          {fromRings ? (
            <StackedAreaChart data={mix} height={150} mode={mode} testId="chart-renditions" />
          ) : (
            <Typography variant="body2" sx={{ opacity: 0.7, p: 2 }}>
              {filter.content ? 'The feed has no per-title rendition mix; the title page shows its mix now.' : 'The rendition mix is in the live feed only; switch to live.'}
            </Typography>
          )}
        </Paper>
      </Box>
    </Box>
  );
}
