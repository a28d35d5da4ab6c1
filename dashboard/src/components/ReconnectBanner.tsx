import Alert from '@mui/material/Alert';
import { useAppSelector } from '../store';
import { useNow } from '../hooks';
import { ago } from '../lib/format';

export default function ReconnectBanner() {
  const c = useAppSelector((s) => s.connection);
  const now = useNow(1000);
  if (c.status === 'reconnecting' || c.status === 'disconnected') {
    return (
      <Alert severity="error" square data-testid="reconnect-banner">
        Connection to the server lost {ago(c.disconnectedAt, now)} ({c.error ?? 'disconnected'}). Reconnecting automatically; the charts will be backfilled from the REST API.
      </Alert>
    );
  }
  if (c.backfilling && c.lastSeq !== null) {
    return (
      <Alert severity="info" square data-testid="backfill-banner">
        Backfilling missed ticks from the REST API…
      </Alert>
    );
  }
  if (c.status === 'connecting' && c.error) {
    return (
      <Alert severity="warning" square data-testid="connect-banner">
        Cannot reach the server yet ({c.error}); retrying.
      </Alert>
    );
  }
  return null;
}
