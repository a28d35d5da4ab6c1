import { useMemo, useState } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TableSortLabel from '@mui/material/TableSortLabel';
import TextField from '@mui/material/TextField';
import MenuItem from '@mui/material/MenuItem';
import FormControlLabel from '@mui/material/FormControlLabel';
import Switch from '@mui/material/Switch';
import Typography from '@mui/material/Typography';
import Chip from '@mui/material/Chip';
import Alert from '@mui/material/Alert';
import Link from '@mui/material/Link';
import { useAppSelector } from '../store';
import { queryRows, type SortKey, type TableQuery } from '../lib/contentTable';
import { CONTENT_TYPES, type ContentType, type Health } from '../lib/types';
import { ago, formatMetric } from '../lib/format';
import { useNow } from '../hooks';
import Loading from '../components/Loading';

export const HEALTH_CHIP: Record<Health, 'success' | 'warning' | 'error'> = { healthy: 'success', degraded: 'warning', critical: 'error' };

const COLS: { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: 'title', label: 'Title' },
  { key: 'content_type', label: 'Type' },
  { key: 'status', label: 'Status' },
  { key: 'viewers', label: 'Viewers', numeric: true },
  { key: 'bitrate_kbps', label: 'Bitrate', numeric: true },
  { key: 'buffering_ratio', label: 'Buffering', numeric: true },
  { key: 'latency_ms', label: 'Latency', numeric: true },
  { key: 'health', label: 'Health' },
];

export default function ContentView() {
  const rows = useAppSelector((s) => s.content.rows);
  const fetchedAt = useAppSelector((s) => s.content.fetchedAt);
  const error = useAppSelector((s) => s.content.error);
  const changes = useAppSelector((s) => s.content.changes);
  const changedAt = useAppSelector((s) => s.content.changedAt);
  const now = useNow(1000);
  const [q, setQ] = useState<TableQuery>({ q: '', type: null, streamingOnly: true, sort: 'viewers', desc: true });
  const list = useMemo(() => queryRows(Object.values(rows), q), [rows, q]);

  if (fetchedAt === null && !error) return <Loading what="the catalogue" />;
  const sortBy = (key: SortKey) => setQ((s) => ({ ...s, sort: key, desc: s.sort === key ? !s.desc : key !== 'title' }));

  return (
    <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', xl: '1fr 340px' }, gap: 1.5 }}>
      <Paper sx={{ p: 1.5 }}>
        <Box sx={{ display: 'flex', gap: 1.5, alignItems: 'center', flexWrap: 'wrap', mb: 1 }}>
          <TextField size="small" label="Search title, id or genre" value={q.q} onChange={(e) => setQ({ ...q, q: e.target.value })} slotProps={{ htmlInput: { 'data-testid': 'content-search' } }} sx={{ width: 260 }} />
          <TextField select size="small" label="Type" value={q.type ?? ''} onChange={(e) => setQ({ ...q, type: (e.target.value || null) as ContentType | null })} sx={{ width: 120 }}>
            <MenuItem value="">all</MenuItem>
            {CONTENT_TYPES.map((t) => (
              <MenuItem key={t} value={t}>
                {t}
              </MenuItem>
            ))}
          </TextField>
          <FormControlLabel data-testid="content-streaming-only" control={<Switch checked={q.streamingOnly} onChange={(e) => setQ({ ...q, streamingOnly: e.target.checked })} />} label="streaming only" />
          <Typography variant="body2" sx={{ ml: 'auto', opacity: 0.75 }} data-testid="content-count">
            {list.length} of {Object.keys(rows).length} titles · updated {ago(fetchedAt, now)}
          </Typography>
        </Box>
        {error && <Alert severity="error">Content: {error}</Alert>}
        <Table size="small" stickyHeader data-testid="content-table">
          <TableHead>
            <TableRow>
              {COLS.map((c) => (
                <TableCell key={c.key} align={c.numeric ? 'right' : 'left'} sortDirection={q.sort === c.key ? (q.desc ? 'desc' : 'asc') : false}>
                  <TableSortLabel active={q.sort === c.key} direction={q.sort === c.key && q.desc ? 'desc' : 'asc'} onClick={() => sortBy(c.key)} data-testid={`sort-${c.key}`}>
                    {c.label}
                  </TableSortLabel>
                </TableCell>
              ))}
            </TableRow>
          </TableHead>
          <TableBody>
            {list.map((r) => {
              const fresh = now - (changedAt[r.content_id] ?? 0) < 6_000;
              return (
                <TableRow key={r.content_id} hover data-testid="content-row" data-id={r.content_id} data-status={r.status} sx={fresh ? { bgcolor: 'action.selected' } : undefined}>
                  <TableCell>
                    <Link href={`#/content/${encodeURIComponent(r.content_id)}`} underline="hover" data-testid="content-link">
                      {r.title}
                    </Link>
                    <Typography variant="caption" sx={{ display: 'block', opacity: 0.6 }}>
                      {r.content_id} · {r.genre.replace(/_/g, ' ')}
                    </Typography>
                  </TableCell>
                  <TableCell>{r.content_type}</TableCell>
                  <TableCell data-testid="content-status">{r.status.replace('_', ' ')}</TableCell>
                  <TableCell align="right">{formatMetric('viewers', r.viewers)}</TableCell>
                  <TableCell align="right">{formatMetric('bitrate_kbps', r.bitrate_kbps)}</TableCell>
                  <TableCell align="right">{formatMetric('buffering_ratio', r.buffering_ratio)}</TableCell>
                  <TableCell align="right">{formatMetric('latency_ms', r.latency_ms)}</TableCell>
                  <TableCell title={r.health_reason ?? undefined}>
                    <Chip size="small" color={HEALTH_CHIP[r.health] ?? 'default'} label={r.health} variant={r.health === 'healthy' ? 'outlined' : 'filled'} />
                  </TableCell>
                </TableRow>
              );
            })}
          </TableBody>
        </Table>
      </Paper>
      <Paper sx={{ p: 1.5, alignSelf: 'start' }} data-testid="content-changes">
        <Typography variant="subtitle1" sx={{ fontWeight: 600 }}>
          Status changes (live)
        </Typography>
        {changes.length === 0 && (
          <Typography variant="body2" sx={{ opacity: 0.7 }}>
            none since the page opened
          </Typography>
        )}
        {changes.slice(0, 30).map((c, i) => (
          <Typography key={`${c.content_id}-${c.timestamp_ms}-${i}`} variant="body2" sx={{ py: 0.3 }} data-testid="content-change" data-id={c.content_id} data-to={c.to}>
            <Link href={`#/content/${encodeURIComponent(c.content_id)}`}>{c.title}</Link>: {c.from ?? 'new'} → <b>{c.to}</b>
            <Typography component="span" variant="caption" sx={{ opacity: 0.6 }}>
              {' '}
              {ago(c.timestamp_ms, now)}
            </Typography>
          </Typography>
        ))}
      </Paper>
    </Box>
  );
}
