// A second socket subscribed to one title's room: its scoped updates carry
// the title's figures (top level) and per region, stored under
// `content:<id>`. The main socket stays unsubscribed (subscribing replaces
// the whole-service update).
import { io, type Socket } from 'socket.io-client';
import { liveSeries } from '../lib/seriesStore';
import type { MetricsUpdate } from '../lib/types';
import { applyTick } from './liveFeed';

export function openTitleFeed(contentId: string, onTick: () => void, onError: (msg: string) => void): () => void {
  const prefix = `content:${contentId}`;
  const socket: Socket = io({ forceNew: true, reconnectionDelayMax: 5_000 });
  socket.on('connect', () => {
    socket
      .timeout(5_000)
      .emitWithAck('subscribe', { content_id: contentId })
      .then((ack: { ok?: boolean; error?: { message?: string } }) => {
        if (!ack?.ok) onError(ack?.error?.message ?? 'subscribe refused');
      })
      .catch((e: Error) => onError(`subscribe: ${e.message}`));
  });
  socket.on('metrics_update', (t: MetricsUpdate) => {
    if (t.scope?.content_id !== contentId) return;
    applyTick(liveSeries, t, prefix);
    onTick();
  });
  return () => {
    socket.disconnect();
    liveSeries.dropScope(prefix);
  };
}
