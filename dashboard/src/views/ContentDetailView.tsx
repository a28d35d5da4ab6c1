import { useEffect, useMemo, useState } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Chip from '@mui/material/Chip';
import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import { useAppSelector } from '../store';
import { useHandled } from '../hooks';
import { getJson, isAbort } from '../lib/api';
import type { ContentDetail } from '../lib/types';
import { RENDITIONS } from '../lib/types';
import { itemFromAlert, itemFromEvent, upsertItems } from '../lib/alertFeed';
import { formatMetric } from '../lib/format';
import { seriesHash, viewHash } from '../lib/route';
import { RENDITION_COLORS } from '../charts/chartTheme';
import FeedList from '../components/FeedList';
import Loading from '../components/Loading';
import { HEALTH_CHIP } from './ContentView';

const REFRESH_MS = 5_000;

export default function ContentDetailView({ id }: { id: string }) {
  const [detail, setDetail] = useState<ContentDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const handled = useHandled();
  const liveStatus = useAppSelector((s) => s.content.rows[id]?.status);

  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    setDetail(null);
    setError(null);
    const load = async () => {
      try {
        setDetail(await getJson<ContentDetail>(`/content/${encodeURIComponent(id)}`, ctl.signal));
        setError(null);
      } catch (e) {
        if (isAbort(e)) return;
        setError((e as Error).message);
      }
      if (!ctl.signal.aborted) timer = setTimeout(() => void load(), REFRESH_MS);
    };
    void load();
    return () => {
      ctl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [id]);

  const feed = useMemo(() => (detail ? upsertItems([], [...(detail.alerts ?? []).map(itemFromAlert), ...(detail.anomalies ?? []).map(itemFromEvent)]) : []), [detail]);
  const mix = useMemo(() => {
    const counts: Record<string, number> = {};
    let total = 0;
    for (const s of detail?.regions ?? []) for (const [k, v] of Object.entries(s.renditions ?? {})) {
      counts[k] = (counts[k] ?? 0) + v;
      total += v;
    }
    return RENDITIONS.filter((r) => counts[r]).map((r) => ({ label: r, share: counts[r] / (total || 1) }));
  }, [detail]);

  if (error && !detail) {
    return (
      <Alert severity="error" data-testid="content-detail-error">
        {error}. <Link href={viewHash('content')}>Back to the content list</Link>
      </Alert>
    );
  }
  if (!detail) return <Loading what={`title ${id}`} />;
  const c = detail.content;
  const status = liveStatus ?? c.status;
  return (
    <Box data-testid="content-detail">
      <Paper sx={{ p: 1.5 }}>
        <Box sx={{ display: 'flex', gap: 1.5, alignItems: 'center', flexWrap: 'wrap' }}>
          <Link href={viewHash('content')} underline="hover">
            ← content
          </Link>
          <Typography variant="h6">{c.title}</Typography>
          <Chip size="small" label={c.content_id} variant="outlined" />
          <Chip size="small" label={c.genre ? `${c.content_type} · ${c.genre.replace(/_/g, ' ')}` : c.content_type} variant="outlined" />
          <Chip size="small" label={status.replace('_', ' ')} data-testid="detail-status" />
          <Chip size="small" color={HEALTH_CHIP[c.health]} label={c.health} />
          {c.health_reason && <Typography variant="body2">{c.health_reason}</Typography>}
          <Button size="small" variant="outlined" href={seriesHash({ metric: 'buffering_ratio', content: c.content_id })} sx={{ ml: 'auto' }}>
            time series of this title
          </Button>
        </Box>
        <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(150px, 1fr))', gap: 1, mt: 1.5 }}>
          {(['viewers', 'bitrate_kbps', 'buffering_ratio', 'latency_ms', 'startup_time_ms', 'error_rate', 'bandwidth_mbps'] as const).map((m) => (
            <Box key={m} component="a" href={seriesHash({ metric: m, content: c.content_id })} sx={{ color: 'inherit', textDecoration: 'none' }}>
              <Typography variant="caption" sx={{ opacity: 0.7 }}>
                {m.replace(/_/g, ' ')}
              </Typography>
              <Typography sx={{ fontSize: 20, fontWeight: 600 }}>{formatMetric(m, c[m])}</Typography>
            </Box>
          ))}
        </Box>
        {mix.length > 0 && (
          <Box sx={{ mt: 1.5 }}>
            <Typography variant="caption" sx={{ opacity: 0.7 }}>
              resolution mix now
            </Typography>
            <Box sx={{ display: 'flex', height: 18, borderRadius: 1, overflow: 'hidden' }} data-testid="detail-mix">
              {mix.map((m) => (
                <Box key={m.label} title={`${m.label} ${(m.share * 100).toFixed(1)} %`} sx={{ width: `${m.share * 100}%`, bgcolor: RENDITION_COLORS[m.label], color: '#000', fontSize: 11, px: 0.5, overflow: 'hidden', whiteSpace: 'nowrap' }}>
                  {m.share > 0.06 ? `${m.label} ${(m.share * 100).toFixed(0)}%` : ''}
                </Box>
              ))}
            </Box>
          </Box>
        )}
      </Paper>
      <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', lg: '3fr 2fr' }, gap: 1.5, mt: 1.5 }}>
        <Paper sx={{ p: 1.5 }}>
          <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
            Per region, last tick
          </Typography>
          {detail.regions.length === 0 ? (
            <Typography sx={{ opacity: 0.7 }}>Not streaming in any region now.</Typography>
          ) : (
            <Table size="small" data-testid="detail-regions">
              <TableHead>
                <TableRow>
                  <TableCell>Region</TableCell>
                  <TableCell align="right">Viewers</TableCell>
                  <TableCell>Rendition</TableCell>
                  <TableCell align="right">Bitrate</TableCell>
                  <TableCell align="right">Buffering</TableCell>
                  <TableCell align="right">Latency</TableCell>
                  <TableCell align="right">Errors</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {[...detail.regions].sort((a, b) => b.viewers - a.viewers).map((s) => (
                  <TableRow key={s.region} hover>
                    <TableCell>
                      <Link href={seriesHash({ metric: 'buffering_ratio', content: c.content_id, region: s.region })}>{s.region}</Link>
                    </TableCell>
                    <TableCell align="right">{formatMetric('viewers', s.viewers)}</TableCell>
                    <TableCell>{s.rendition}</TableCell>
                    <TableCell align="right">{formatMetric('bitrate_kbps', s.bitrate_kbps)}</TableCell>
                    <TableCell align="right">{formatMetric('buffering_ratio', s.buffering_ratio)}</TableCell>
                    <TableCell align="right">{formatMetric('latency_ms', s.latency_ms)}</TableCell>
                    <TableCell align="right">{formatMetric('error_rate', s.error_rate)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </Paper>
        <Paper sx={{ p: 1.5 }}>
          <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
            Alerts and recent anomalies
          </Typography>
          <FeedList items={feed} handled={handled} />
        </Paper>
      </Box>
    </Box>
  );
}
