import Chip from '@mui/material/Chip';
import Tooltip from '@mui/material/Tooltip';
import { useAppSelector } from '../store';
import { useNow } from '../hooks';
import { ago, clock } from '../lib/format';

export default function ConnectionStatus() {
  const c = useAppSelector((s) => s.connection);
  const now = useNow(1000);
  const stale = c.status === 'connected' && c.lastTickAt !== null && now - c.lastTickAt > 5_000;
  const color = c.status === 'connected' ? (stale ? 'warning' : 'success') : c.status === 'connecting' ? 'default' : 'error';
  const label =
    c.status === 'connected'
      ? stale
        ? `stalled · last tick ${ago(c.lastTickAt, now)}`
        : `live · #${c.lastSeq ?? '–'} ${clock(c.lastTs)}`
      : c.status === 'connecting'
        ? 'connecting…'
        : c.status === 'reconnecting'
          ? 'reconnecting…'
          : 'disconnected';
  return (
    <Tooltip title={`ticks ${c.ticks} · gaps ${c.gaps} (${c.missedTicks} missed) · backfilled ${c.backfilled} · lagged ${c.lagged}${c.error ? ` · ${c.error}` : ''}`}>
      <Chip size="small" color={color} variant={c.status === 'connected' && !stale ? 'outlined' : 'filled'} label={label} data-testid="connection-status" data-status={c.status} data-seq={c.lastSeq ?? ''} data-gaps={c.gaps} data-backfilled={c.backfilled} data-ticks={c.ticks} />
    </Tooltip>
  );
}
