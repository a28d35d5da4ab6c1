import { memo, useMemo, useState } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Table from '@mui/material/Table';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TableSortLabel from '@mui/material/TableSortLabel';
import TextField from '@mui/material/TextField';
import MenuItem from '@mui/material/MenuItem';
import FormControlLabel from '@mui/material/FormControlLabel';
import Switch from '@mui/material/Switch';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
import Link from '@mui/material/Link';
import { useAppSelector } from '../store';
import { queryRows, type SortKey, type TableQuery } from '../lib/contentTable';
import { CONTENT_TYPES, type ContentRow, type ContentType, type Health } from '../lib/types';
import { ago, formatMetric } from '../lib/format';
import { useNow } from '../hooks';
import Loading from '../components/Loading';

export const HEALTH_CHIP: Record<Health, 'success' | 'warning' | 'error'> = { healthy: 'success', degraded: 'warning', critical: 'error' };

const COLS: { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: 'title', label: 'Title' },
  { key: 'content_type', label: 'Type' },
  { key: 'status', label: 'Status' },
  { key: 'viewers', label: 'Viewers', numeric: true },
  { key: 'bitrate_kbps', label: 'Bitrate · resolution', numeric: true },
  { key: 'buffering_ratio', label: 'Buffering', numeric: true },
  { key: 'latency_ms', label: 'Latency', numeric: true },
  { key: 'health', label: 'Health' },
];

// The body is plain table elements styled once on the table (200 rows of
// MUI cells cost ~100 ms a render); each row is memoised on its figures.
const TABLE_SX = {
  '& tbody td': { px: 1.25, py: 0.5, borderBottom: 1, borderColor: 'divider', fontSize: 13, fontVariantNumeric: 'tabular-nums' },
  '& tbody td.num': { textAlign: 'right' },
  '& tbody tr:hover': { bgcolor: 'action.hover' },
  '& tbody tr.fresh': { bgcolor: 'action.selected' },
  '& tbody a': { color: 'primary.main', textDecoration: 'none', '&:hover': { textDecoration: 'underline' } },
  '& .sub': { display: 'block', opacity: 0.6, fontSize: 11.5 },
  '& .health': { display: 'inline-block', px: 1, borderRadius: 8, fontSize: 12, border: 1 },
  '& .health.healthy': { color: 'success.main', borderColor: 'success.main' },
  '& .health.degraded': { bgcolor: 'warning.main', color: 'warning.contrastText', borderColor: 'warning.main' },
  '& .health.critical': { bgcolor: 'error.main', color: 'error.contrastText', borderColor: 'error.main' },
} as const;

const ContentTableRow = memo(
  function ContentTableRow({ row: r, fresh }: { row: ContentRow; fresh: boolean }) {
    return (
      <tr data-testid="content-row" data-id={r.content_id} data-status={r.status} data-health={r.health} className={fresh ? 'fresh' : undefined}>
        <td>
          <a href={`#/content/${encodeURIComponent(r.content_id)}`} data-testid="content-link">
            {r.title}
          </a>
          <span className="sub">
            {r.content_id}
            {r.genre ? ` · ${r.genre.replace(/_/g, ' ')}` : ''}
          </span>
        </td>
        <td>{r.content_type}</td>
        <td data-testid="content-status">{r.status.replace('_', ' ')}</td>
        <td className="num">{formatMetric('viewers', r.viewers)}</td>
        <td className="num">
          {formatMetric('bitrate_kbps', r.bitrate_kbps)}
          {r.rendition ? <span className="sub">{r.rendition}</span> : null}
        </td>
        <td className="num">{formatMetric('buffering_ratio', r.buffering_ratio)}</td>
        <td className="num">{formatMetric('latency_ms', r.latency_ms)}</td>
        <td title={r.health_reason ?? undefined}>
          <span className={`health ${r.health}`} data-testid="content-health">
            {r.health}
          </span>
        </td>
      </tr>
    );
  },
  (a, b) => a.fresh === b.fresh && sameRow(a.row, b.row),
);

const ROW_KEYS = ['status', 'viewers', 'bitrate_kbps', 'rendition', 'buffering_ratio', 'latency_ms', 'health', 'health_reason', 'title'] as const;
function sameRow(a: ContentRow, b: ContentRow): boolean {
  if (a === b) return true;
  for (const k of ROW_KEYS) if (formatCell(k, a[k]) !== formatCell(k, b[k])) return false;
  return true;
}
/** Rows differ for the table only when what it shows differs. */
function formatCell(k: string, v: unknown): string {
  return typeof v === 'number' ? formatMetric(k, v) : String(v ?? '');
}

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
        <Table size="small" stickyHeader data-testid="content-table" sx={TABLE_SX}>
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
          <tbody>
            {list.map((r) => (
              <ContentTableRow key={r.content_id} row={r} fresh={now - (changedAt[r.content_id] ?? 0) < 6_000} />
            ))}
          </tbody>
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
