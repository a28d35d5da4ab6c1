// Where the simulator's CDN regions are (approximate data-centre cities),
// for the region map, and each region's health from its latest figures.
import type { RegionSummary } from './types';
import { kpiLevel, worse, type Level } from './health';

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

export const QUALITY_METRICS = ['buffering_ratio', 'latency_ms', 'error_rate', 'startup_time_ms', 'bitrate_kbps'] as const;

/** The region's level: the worst of its quality metrics (thresholds and band scores) and its utilisation. */
export function regionLevel(r: RegionSummary): { level: Level; worst: string | null } {
  let level: Level = 'none';
  let worst: string | null = null;
  let worstScore = -1;
  for (const m of QUALITY_METRICS) {
    const score = r.bands?.[m]?.score;
    const l = kpiLevel(m, r[m], score);
    if (l !== level && worse(l, level) === l) level = l;
    if ((score ?? -1) > worstScore) {
      worstScore = score ?? -1;
      worst = m;
    }
  }
  if (r.utilization != null) level = worse(level, kpiLevel('utilization', r.utilization));
  return { level, worst: worstScore >= 0.5 ? worst : null };
}
