// Where the simulator's CDN regions are (approximate data-centre cities),
// for the region map, and which of a region's figures are outside their
// expected range (context only).
import { METRICS, type MetricName, type RegionSummary } from './types';
import { outsideBand } from './health';

export const REGION_GEO: Record<string, { lon: number; lat: number; city: string }> = {
  'us-east': { lon: -77.5, lat: 39, city: 'Virginia' },
  'us-west': { lon: -121, lat: 45.6, city: 'Oregon' },
  'sa-east': { lon: -46.6, lat: -23.5, city: 'São Paulo' },
  'eu-west': { lon: -6.3, lat: 53.3, city: 'Dublin' },
  'eu-central': { lon: 8.7, lat: 50.1, city: 'Frankfurt' },
  'af-south': { lon: 18.4, lat: -33.9, city: 'Cape Town' },
  'me-central': { lon: 55.3, lat: 25.2, city: 'Dubai' },
  'ap-south': { lon: 72.9, lat: 19.1, city: 'Mumbai' },
  'ap-east': { lon: 114.2, lat: 22.3, city: 'Hong Kong' },
  'ap-southeast': { lon: 103.8, lat: 1.35, city: 'Singapore' },
};

/** Figures of a region's card, in display order. */
export const REGION_FIGURES = ['buffering_ratio', 'latency_ms', 'startup_time_ms', 'bitrate_kbps', 'error_rate', 'bandwidth_mbps'] as const;

/**
 * The region's figures outside their expected range (band score ≥ 0.5),
 * furthest first: quiet context for a tooltip or a marker, never a colour
 * (a region is red only while a firing alert names it: lib/alarms.ts).
 */
export function outsideBands(r: RegionSummary): { metric: MetricName; score: number }[] {
  const out: { metric: MetricName; score: number }[] = [];
  for (const m of METRICS) {
    const b = r.bands?.[m];
    if (outsideBand(b)) out.push({ metric: m, score: b!.score });
  }
  return out.sort((a, b) => b.score - a.score);
}
