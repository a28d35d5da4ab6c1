// Wire types of `streammon serve` (docs/EVENTS.md, docs/API.md). Only the
// fields the dashboard reads; every optional field is read defensively.

export const METRICS = [
  'latency_ms',
  'buffering_ratio',
  'startup_time_ms',
  'bitrate_kbps',
  'error_rate',
  'viewers',
  'bandwidth_mbps',
] as const;
export type MetricName = (typeof METRICS)[number];

export const VIDEO_RENDITIONS = ['480p', '720p', '1080p', '1440p', '2160p'] as const;
export const AUDIO_RENDITIONS = ['96k', '128k', '192k', '256k', '320k'] as const;
export const RENDITIONS = [...VIDEO_RENDITIONS, ...AUDIO_RENDITIONS] as const;
export type Rendition = (typeof RENDITIONS)[number];

export const CONTENT_TYPES = ['video', 'audio', 'live'] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

export type Severity = 'info' | 'warning' | 'critical';

/** `{low, high, score}` per metric: the detector's expected range and the point's anomaly score. */
export interface Band {
  low: number;
  high: number;
  score: number;
}
export type Bands = Partial<Record<MetricName, Band>>;

export interface Figures {
  viewers: number;
  streams: number;
  latency_ms: number;
  startup_time_ms: number;
  buffering_ratio: number;
  bitrate_kbps: number;
  error_rate: number;
  bandwidth_mbps: number;
}

export interface RegionSummary extends Figures {
  region: string;
  utilization?: number | null;
  bands?: Bands;
  renditions?: Partial<Record<Rendition, number>>;
}

export interface TypeSummary extends Figures {
  content_type: ContentType;
}

export interface Scope {
  region?: string;
  content_id?: string;
}

export interface MetricsUpdate {
  schema: number;
  timestamp: string;
  timestamp_ms: number;
  seq: number;
  interval_ms: number;
  latency: number;
  /** Rebuffer events in the tick, a count (the original's meaning). */
  buffering: number;
  users: number;
  total_bandwidth_mbps: number;
  active_streams: number;
  /** Viewers per CDN region, counts (the original's meaning). */
  cdn_distribution: Record<string, number>;
  /** Viewers per content type, counts (the original's meaning). */
  content_types: Partial<Record<ContentType, number>>;
  /** Mean share of watch time spent rebuffering, within [0, 1]. */
  buffering_ratio: number;
  /** Share of viewers per CDN region, summing to 1. */
  cdn_shares: Record<string, number>;
  /** Share of viewers per content type, summing to 1. */
  content_type_shares: Partial<Record<ContentType, number>>;
  startup_time_ms: number;
  bitrate_kbps: number;
  error_rate: number;
  streams: number;
  regions?: RegionSummary[];
  types?: TypeSummary[];
  scope?: Scope;
  bands?: Bands;
  renditions?: Partial<Record<Rendition, number>>;
}

export interface AlertSeries {
  content?: string | null;
  region?: string | null;
  metric: string;
}

export interface AlertObject {
  id: string;
  rule: string;
  severity: Severity;
  state: 'pending' | 'firing' | 'resolved';
  started_ms: number;
  fired_ms?: number | null;
  resolved_ms?: number | null;
  group?: { region?: string | null; metric?: string | null; content?: string | null };
  series_count?: number;
  series?: AlertSeries[];
  value?: number | null;
  baseline?: number | null;
  cause?: { dimension: string; value: string; support?: number; coverage?: number; lift?: number; score?: number } | null;
  summary?: string;
  /** `GET /alerts` only: the labels it is known by (Alertmanager, silences). */
  labels?: AlertLabels;
  /** `GET /alerts` only: its acknowledgement. */
  ack?: Ack | null;
  /** `GET /alerts` only: the active silences covering it. */
  silenced_by?: string[];
}

/** The labels an alert is known by in Alertmanager, webhooks and silences. */
export interface AlertLabels {
  rule: string;
  severity: Severity;
  region?: string | null;
  content_id?: string | null;
  metric?: string | null;
}

/** An operator's acknowledgement of an alert (kept by the server). */
export interface Ack {
  alert_id: string;
  by: string;
  at_ms: number;
  comment: string;
}

/** Which alerts a silence covers: every matcher given must equal the alert's label. */
export interface Matchers {
  region?: string;
  content_id?: string;
  metric?: string;
  rule?: string;
}

/** A silence: covered alerts show, marked, but are not delivered. */
export interface Silence {
  id: string;
  matchers: Matchers;
  starts_ms: number;
  ends_ms: number;
  author: string;
  comment: string;
  created_ms: number;
  state: 'pending' | 'active' | 'expired';
}

/** How a destination took a test notification. */
export interface DeliveryTest {
  destination: string;
  kind: string;
  ok: boolean;
  status?: number;
  error?: string;
  elapsed_ms: number;
}

export type AlertKind = 'anomaly' | 'alert' | 'prediction';

export interface AnomalyAlert {
  kind: AlertKind;
  timestamp: string;
  timestamp_ms: number;
  metric?: string | null;
  value?: number | null;
  expected_range?: [number, number] | null;
  score: number;
  severity: Severity;
  scope: Scope;
  reason: string;
  detector?: string | null;
  viewers?: number | null;
  alert_id?: string | null;
  state?: 'pending' | 'firing' | 'resolved' | 'fired' | null;
  alert?: AlertObject | null;
  labels?: AlertLabels | null;
  silenced_by?: string[];
  predicted_value?: number | null;
  confidence_interval?: [number, number] | null;
  crossing_ms?: number | null;
}

export type ContentStatus = 'available' | 'retired' | 'scheduled' | 'pre_show' | 'live' | 'ended';
export type Health = 'healthy' | 'degraded' | 'critical';

export interface ContentRow {
  content_id: string;
  title: string;
  content_type: ContentType;
  /** Absent for a title seen in player telemetry (CMCD names no genre). */
  genre?: string | null;
  /** The rendition most of its viewers are on, e.g. `1080p` or `128k`. */
  rendition?: string | null;
  status: ContentStatus;
  status_since_ms?: number | null;
  last_seen_ms?: number | null;
  viewers: number;
  streams: number;
  latency_ms?: number | null;
  startup_time_ms?: number | null;
  buffering_ratio?: number | null;
  bitrate_kbps?: number | null;
  error_rate?: number | null;
  bandwidth_mbps?: number | null;
  health: Health;
  health_reason?: string | null;
  firing_alerts?: number;
  last_anomaly_ms?: number | null;
}

export interface ContentList {
  total: number;
  count: number;
  contents: ContentRow[];
}

export interface ContentChange {
  timestamp?: string;
  timestamp_ms: number;
  content_id: string;
  title: string;
  content_type: ContentType;
  genre?: string | null;
  from: ContentStatus | null;
  to: ContentStatus;
  status?: ContentStatus;
}

export interface StreamSample {
  timestamp_ms: number;
  content_id: string;
  region: string;
  viewers: number;
  latency_ms: number;
  startup_time_ms: number;
  buffering_ratio: number;
  bitrate_kbps: number;
  rendition: string;
  renditions: Record<string, number>;
  bandwidth_mbps: number;
  error_rate: number;
}

export interface ContentDetail {
  content: ContentRow;
  regions: StreamSample[];
  alerts?: AlertObject[];
  anomalies?: AnomalyAlert[];
  /** True when storage could not be read: `regions` is empty. */
  partial?: boolean;
}

export interface ForecastPoint {
  timestamp_ms: number;
  value: number;
  low: number;
  high: number;
}

export interface CapacityWarning {
  timestamp_ms: number;
  crossing_ms: number;
  limit: number;
  predicted_value: number;
  confidence_interval: [number, number];
  lead_ms: number;
}

export interface RegionForecast {
  region: string;
  timestamp_ms: number;
  bandwidth_mbps: number;
  capacity_mbps?: number | null;
  forecast: ForecastPoint[];
  warning?: CapacityWarning | null;
}

export interface TotalForecast {
  timestamp_ms: number;
  viewers: number;
  forecast: ForecastPoint[];
}

export interface Analytics {
  anomalies: AnomalyAlert[];
  predictions: AnomalyAlert[];
  forecasts: RegionForecast[];
  audience?: TotalForecast | null;
  detectors: Record<string, number>;
}

export interface AlertList {
  alerts: AlertObject[];
  events: AnomalyAlert[];
  /** True when storage could not be read: only pending and firing alerts. */
  partial?: boolean;
}

export interface HistoryResponse {
  count: number;
  ticks: MetricsUpdate[];
}

export interface Bucket {
  start_ms: number;
  min: number;
  max: number;
  mean: number;
  count: number;
}

export interface SeriesResponse {
  metric: string;
  from_ms: number;
  to_ms: number;
  step_ms: number | null;
  /** `raw` samples, or `1m` / `1h` roll-ups (a `scope` query). */
  resolution?: string;
  /** A stream's series (`content_id`, `region`) or a scope's (`scope`). */
  series: { content_id?: string; region?: string; scope?: string; points?: [number, number][]; buckets?: Bucket[] }[];
}

export interface HealthResponse {
  status: 'ok' | 'degraded';
  problems?: string[];
  warnings?: string[];
  version?: string;
  uptime_s?: number;
  source?: string;
  pipeline?: Record<string, number>;
}
