// The live connection: one Socket.IO client for the whole-service feed,
// REST backfill on load and after every gap or reconnect, and the pollers
// for per-title rows, analytics and health.
import { io, type Socket } from 'socket.io-client';
import type { AppStore } from '../store';
import { connectionActions } from '../store/connectionSlice';
import { ticksActions } from '../store/ticksSlice';
import { alertsActions } from '../store/alertsSlice';
import { contentActions } from '../store/contentSlice';
import { analyticsActions } from '../store/analyticsSlice';
import { liveSeries, LIVE_CAPACITY, type SeriesStore } from '../lib/seriesStore';
import { tickRows } from '../lib/tickShaping';
import { backfillQuery, checkSequence, mergeBackfill } from '../lib/gaps';
import { itemFromAlert, itemFromEvent, type FeedItem } from '../lib/alertFeed';
import { contentAlarm, healthOfAlarm, isFiring } from '../lib/alarms';
import { getJson, isAbort } from '../lib/api';
import type { Ack, AlertList, AlertObject, Analytics, Silence, AnomalyAlert, ContentChange, ContentList, ContentRow, HealthResponse, HistoryResponse, MetricsUpdate } from '../lib/types';

const CONTENT_POLL_MS = 3_000;
const ANALYTICS_POLL_MS = 10_000;
const HEALTH_POLL_MS = 10_000;
const ALERT_BATCH_MS = 250;
const ALERTS_POLL_MS = 10_000;
const FIRING_URL = '/alerts?state=firing&limit=1000';
const RECONCILE_MARGIN_MS = 3_000;

export function applyTick(series: SeriesStore, tick: MetricsUpdate, prefix = ''): void {
  for (const [scope, row] of tickRows(tick, prefix)) series.push(scope, tick.timestamp_ms, row);
}

const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class LiveFeed {
  private socket: Socket | null = null;
  private backfilling = false;
  private pending: MetricsUpdate[] = [];
  private alertBatch: FeedItem[] = [];
  private alertTimer: ReturnType<typeof setTimeout> | null = null;
  private timers: ReturnType<typeof setTimeout>[] = [];
  private stopped = false;

  constructor(private readonly store: AppStore, private readonly series: SeriesStore = liveSeries) {}

  start(): void {
    // detail=full: each region's bands and rendition mix in every update (docs/EVENTS.md).
    const s = io({ query: { detail: 'full' }, reconnectionDelay: 500, reconnectionDelayMax: 5_000, timeout: 8_000 });
    this.socket = s;
    s.on('connect', () => {
      this.store.dispatch(connectionActions.connected());
      void this.backfill('connect');
      void this.loadAlerts();
    });
    s.on('disconnect', (reason) => {
      this.store.dispatch(connectionActions.disconnected({ reason, at: Date.now() }));
    });
    s.on('connect_error', (e) => this.store.dispatch(connectionActions.connectError(e.message)));
    s.on('metrics_update', (t: MetricsUpdate) => this.onTick(t));
    s.on('anomaly_alert', (a: AnomalyAlert) => this.onAlert(a));
    s.on('content_change', (c: ContentChange) => this.store.dispatch(contentActions.changed(c)));
    // What operators say, kept by the server: every acknowledgement and
    // silence on connect, then each change as it happens.
    s.on('alert_acks', (m: { acks?: Ack[] }) => this.store.dispatch(alertsActions.acksLoaded(m?.acks ?? [])));
    s.on('alert_ack', (m: { alert_id: string; ack: Ack | null }) => {
      if (m && typeof m.alert_id === 'string') this.store.dispatch(alertsActions.ackChanged({ alert_id: m.alert_id, ack: m.ack ?? null }));
    });
    s.on('silences', (m: { silences?: Silence[] }) => this.store.dispatch(alertsActions.silencesLoaded(m?.silences ?? [])));
    s.on('lagged', (l: { dropped?: number }) => this.store.dispatch(connectionActions.lagged(l?.dropped ?? 0)));
    this.poll(CONTENT_POLL_MS, () => this.loadContent());
    this.poll(ANALYTICS_POLL_MS, () => this.loadAnalytics());
    this.poll(HEALTH_POLL_MS, () => this.loadHealth());
    // Pending alerts are not pushed over the socket; their lifecycle is polled.
    this.poll(ALERTS_POLL_MS, () => this.loadAlertList());
  }

  stop(): void {
    this.stopped = true;
    this.socket?.disconnect();
    this.timers.forEach(clearTimeout);
    if (this.alertTimer) clearTimeout(this.alertTimer);
    this.store.dispatch(connectionActions.stopped());
  }

  private poll(ms: number, f: () => Promise<void>): void {
    const run = async () => {
      if (this.stopped) return;
      await f();
      this.timers.push(setTimeout(run, ms));
      if (this.timers.length > 16) this.timers.splice(0, this.timers.length - 16);
    };
    void run();
  }

  private onTick(t: MetricsUpdate): void {
    if (t.scope && (t.scope.region || t.scope.content_id)) return; // a room's update: not ours
    if (this.backfilling) {
      this.pending.push(t);
      if (this.pending.length > LIVE_CAPACITY) this.pending.shift();
      return;
    }
    const { lastSeq, lastTs } = this.store.getState().connection;
    const c = checkSequence(lastSeq, lastTs, t);
    switch (c.kind) {
      case 'duplicate':
        return;
      case 'reset':
        this.series.clear();
        this.store.dispatch(connectionActions.serverReset());
        this.apply([t]);
        return;
      case 'gap':
        this.store.dispatch(connectionActions.gapDetected(c.missing));
        this.pending.push(t);
        void this.backfill('gap');
        return;
      default:
        this.apply([t]);
    }
  }

  private apply(ticks: MetricsUpdate[]): void {
    if (ticks.length === 0) return;
    for (const t of ticks) applyTick(this.series, t);
    const last = ticks[ticks.length - 1];
    this.store.dispatch(connectionActions.ticksApplied({ seq: last.seq, ts: last.timestamp_ms, at: Date.now(), count: ticks.length }));
    this.store.dispatch(ticksActions.latestTick(last));
  }

  /** Fetches the ticks missed since the last one applied (all of the live window on first load). */
  private async backfill(why: string): Promise<void> {
    if (this.backfilling) return;
    this.backfilling = true;
    this.store.dispatch(connectionActions.backfillStarted());
    let got: MetricsUpdate[] = [];
    try {
      const { lastTs } = this.store.getState().connection;
      const res = await getJson<HistoryResponse>(backfillQuery(lastTs, LIVE_CAPACITY));
      got = res.ticks ?? [];
    } catch (e) {
      if (!isAbort(e)) this.store.dispatch(connectionActions.connectError(`backfill after ${why} failed: ${errMsg(e)}`));
    } finally {
      const { lastSeq } = this.store.getState().connection;
      let merged = mergeBackfill(lastSeq, got, this.pending);
      // A restarted server: seq starts over, so take what it has.
      if (merged.length === 0 && lastSeq !== null && got.length && got[got.length - 1].seq < lastSeq) {
        this.series.clear();
        this.store.dispatch(connectionActions.serverReset());
        merged = mergeBackfill(null, got, this.pending);
      }
      this.pending = [];
      this.backfilling = false;
      this.apply(merged);
      this.store.dispatch(connectionActions.backfillDone(merged.length));
    }
  }

  private onAlert(a: AnomalyAlert): void {
    this.alertBatch.push(itemFromEvent(a));
    if (!this.alertTimer) {
      this.alertTimer = setTimeout(() => {
        this.alertTimer = null;
        const batch = this.alertBatch;
        this.alertBatch = [];
        this.store.dispatch(alertsActions.received(batch));
        this.patchHealth(batch);
      }, ALERT_BATCH_MS);
    }
  }

  /** The titles that alerts in `batch` name: their health from every alert now firing. */
  private patchHealth(batch: FeedItem[]): void {
    const changed = batch.filter((it) => it.kind === 'alert' && it.contents.length > 0 && (isFiring(it) || it.state === 'resolved'));
    if (changed.length === 0) return;
    const items = this.store.getState().alerts.items;
    const health: Record<string, { health: ContentRow['health']; reason: string | null; firing: number }> = {};
    for (const id of new Set(changed.flatMap((it) => it.contents))) {
      const alarm = contentAlarm(id, items);
      health[id] = { health: healthOfAlarm(alarm), reason: alarm.alert?.reason ?? null, firing: alarm.count };
    }
    const ts = Math.max(...changed.map((it) => it.timestampMs));
    this.store.dispatch(contentActions.healthFromAlerts({ health, ts, at: Date.now() }));
  }

  async loadAlerts(): Promise<void> {
    void this.loadSilences();
    try {
      const sentMs = Date.now();
      const epoch = this.store.getState().alerts.ackEpoch;
      const [alerts, firing, analytics] = await Promise.all([
        getJson<AlertList>('/alerts?limit=150'),
        getJson<AlertList>(FIRING_URL),
        getJson<Analytics>('/analytics?limit=300'),
      ]);
      const items = [
        ...(alerts.alerts ?? []).map(itemFromAlert),
        ...(firing.alerts ?? []).map(itemFromAlert),
        ...(analytics.anomalies ?? []).map(itemFromEvent),
        ...(analytics.predictions ?? []).map(itemFromEvent),
      ];
      this.store.dispatch(alertsActions.backfilled(items));
      this.listAcks([...(alerts.alerts ?? []), ...(firing.alerts ?? [])], epoch);
      this.reconcile(firing, sentMs);
      this.store.dispatch(analyticsActions.fetched({ data: analytics, at: Date.now() }));
    } catch (e) {
      this.store.dispatch(alertsActions.backfillFailed(errMsg(e)));
    }
  }

  /**
   * The alert lifecycle: the latest alerts (pending ones are not pushed),
   * and every firing one however old, so a long incident stays loud and one
   * that resolved while the feed was away goes calm.
   */
  private async loadAlertList(): Promise<void> {
    try {
      const sentMs = Date.now();
      const epoch = this.store.getState().alerts.ackEpoch;
      const [res, firing] = await Promise.all([getJson<AlertList>('/alerts?limit=150'), getJson<AlertList>(FIRING_URL)]);
      const listed = [...(res.alerts ?? []), ...(firing.alerts ?? [])];
      this.store.dispatch(alertsActions.backfilled(listed.map(itemFromAlert)));
      this.listAcks(listed, epoch);
      this.reconcile(firing, sentMs);
    } catch (e) {
      this.store.dispatch(alertsActions.backfillFailed(errMsg(e)));
    }
  }

  /**
   * The acknowledgements `GET /alerts` carries, asked at `epoch`: ignored
   * when the socket told newer ones meanwhile (`alert_acks` on connect,
   * `alert_ack` on every change), which heals a missed event otherwise.
   */
  private listAcks(alerts: AlertObject[], epoch: number): void {
    const acks = alerts.flatMap((a) => (a.ack ? [a.ack] : []));
    this.store.dispatch(alertsActions.acksListed({ alertIds: alerts.map((a) => a.id), acks, epoch }));
  }

  /** The silences, on load and on every connect (the socket's `silences` keeps them after). */
  private async loadSilences(): Promise<void> {
    try {
      const epoch = this.store.getState().alerts.silenceEpoch;
      const res = await getJson<{ silences?: Silence[] }>('/silences');
      this.store.dispatch(alertsActions.silencesListed({ silences: res.silences ?? [], epoch }));
    } catch (e) {
      this.store.dispatch(alertsActions.backfillFailed(errMsg(e)));
    }
  }

  private reconcile(firing: AlertList, sentMs: number): void {
    const ids = (firing.alerts ?? []).map((a) => itemFromAlert(a).id);
    // An alert event reaches clients a moment before the REST view has the
    // alert: only alerts that changed well before the poll are judged by it.
    this.store.dispatch(alertsActions.firingListed({ ids, sentMs: sentMs - RECONCILE_MARGIN_MS }));
  }

  private async loadContent(): Promise<void> {
    try {
      const res = await getJson<ContentList>('/content?limit=1000');
      this.store.dispatch(contentActions.listed({ rows: res.contents ?? [], total: res.total ?? 0, at: Date.now() }));
    } catch (e) {
      this.store.dispatch(contentActions.listFailed(errMsg(e)));
    }
  }

  private async loadAnalytics(): Promise<void> {
    try {
      const res = await getJson<Analytics>('/analytics?limit=25');
      this.store.dispatch(analyticsActions.fetched({ data: res, at: Date.now() }));
      const preds = (res.predictions ?? []).map(itemFromEvent);
      if (preds.length) this.store.dispatch(alertsActions.received(preds));
    } catch (e) {
      this.store.dispatch(analyticsActions.failed(errMsg(e)));
    }
  }

  private async loadHealth(): Promise<void> {
    try {
      this.store.dispatch(analyticsActions.health(await getJson<HealthResponse>('/health')));
    } catch {
      // The connection banner already tells the operator the server is away.
    }
  }
}
