import type { AnomalyAlert, MetricsUpdate, RegionSummary } from '../lib/types';

export function region(name: string, over: Partial<RegionSummary> = {}): RegionSummary {
  return {
    region: name,
    viewers: 1000,
    streams: 10,
    latency_ms: 30,
    startup_time_ms: 600,
    buffering_ratio: 0.005,
    bitrate_kbps: 4000,
    error_rate: 0.001,
    bandwidth_mbps: 4000,
    utilization: 0.2,
    ...over,
  };
}

export function tick(seq: number, over: Partial<MetricsUpdate> = {}): MetricsUpdate {
  const ts = 1_796_100_000_000 + seq * 1000;
  return {
    schema: 1,
    timestamp: new Date(ts).toISOString(),
    timestamp_ms: ts,
    seq,
    interval_ms: 1000,
    latency: 32.5,
    buffering: 1_680,
    buffering_ratio: 0.0048,
    users: 350_000 + seq,
    total_bandwidth_mbps: 1_485_000,
    active_streams: 45,
    cdn_distribution: { 'eu-west': 140_000 + seq, 'us-east': 210_000 },
    content_types: { video: 210_000 + seq, audio: 105_000, live: 35_000 },
    cdn_shares: { 'eu-west': 0.4, 'us-east': 0.6 },
    content_type_shares: { video: 0.6, audio: 0.3, live: 0.1 },
    startup_time_ms: 690,
    bitrate_kbps: 4210,
    error_rate: 0.0016,
    streams: 450,
    regions: [region('us-east'), region('eu-west', { buffering_ratio: 0.09 })],
    types: [{ content_type: 'video', viewers: 200, streams: 26, latency_ms: 31, startup_time_ms: 795, buffering_ratio: 0.0047, bitrate_kbps: 5627, error_rate: 0.0016, bandwidth_mbps: 1231 }],
    scope: {},
    ...over,
  };
}

export function anomaly(over: Partial<AnomalyAlert> = {}): AnomalyAlert {
  return {
    kind: 'anomaly',
    timestamp: '2026-12-01T06:17:47.000Z',
    timestamp_ms: 1_796_105_867_000,
    metric: 'buffering_ratio',
    value: 0.186,
    expected_range: [0, 0.0095],
    score: 1,
    severity: 'critical',
    scope: { region: 'eu-west', content_id: 'vod-000016' },
    reason: 'buffering_ratio 0.1860 in eu-west (vod-000016): above the expected range',
    detector: 'auto',
    viewers: 1828,
    ...over,
  };
}
