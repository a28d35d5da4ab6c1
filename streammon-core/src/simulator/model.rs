//! The per-series model: how one title behaves in one CDN region, tick by
//! tick. Each dynamic is one function or one block with a sentence saying
//! what it models; `docs/SIMULATOR.md` collects those sentences.

use rand::RngExt;
use rand_distr::{Binomial, Distribution, Pareto, Poisson, StandardNormal};
use rand_pcg::Pcg64Mcg;

use super::incident::Effect;
use crate::content::{Ladder, LatencyMode, RenditionId};
use crate::region::LatencyProfile;
use crate::sample::RenditionMix;

/// Log-space spread of per-viewer throughput around the regional median:
/// access networks differ by an order of magnitude within one region.
const THROUGHPUT_SIGMA: f64 = 0.9;
/// ABR picks the highest rendition whose bitrate × this fits the
/// viewer's throughput.
const ABR_SAFETY: f64 = 1.3;
/// Share of viewers whose screens or plans cap them at 1080p (phones,
/// laptops, HD subscriptions).
const CAPPED_SHARE: f64 = 0.75;
/// Time constant of ABR switching: players move toward the rendition mix
/// their throughput allows within a few segments.
const ABR_TIME_CONSTANT_S: f64 = 12.0;
/// Time constant with which audience gaps close: joins rush in when the
/// audience target rises above the viewer count, and the surplus leaves
/// when it falls below.
const AUDIENCE_TIME_CONSTANT_S: f64 = 90.0;
/// Autocorrelation of the latency noise from one second to the next.
const LATENCY_PERSISTENCE_PER_S: f64 = 0.9;
/// Seconds after which players have caught up half of their extra
/// live-edge drift.
const DRIFT_HALF_LIFE_S: f64 = 120.0;

/// Daily audience curve, a fraction of the peak at each local hour
/// (00:00 … 23:00), interpolated linearly: a trough near 05:00, a lunch
/// shoulder and an evening peak at 21:00, as OTT services see.
const DIURNAL: [f64; 24] = [
    0.55, 0.38, 0.25, 0.17, 0.13, 0.12, 0.15, 0.22, 0.30, 0.36, 0.40, 0.44, 0.48, 0.50, 0.50, 0.52, 0.57, 0.64, 0.74,
    0.86, 0.96, 1.00, 0.93, 0.76,
];

/// The diurnal audience factor at a local time of day in hours, [0, 24).
pub(crate) fn diurnal(local_hour: f64) -> f64 {
    let h = local_hour.rem_euclid(24.0);
    let i = h as usize % 24;
    let frac = h - i as f64;
    DIURNAL[i] * (1.0 - frac) + DIURNAL[(i + 1) % 24] * frac
}

/// How a region's utilisation (egress / capacity) degrades it: nothing
/// below 80 %, then throughput falls and latency and errors rise with the
/// square of the overload, as queues build.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Congestion {
    pub(crate) throughput: f64,
    pub(crate) latency: f64,
    pub(crate) error_add: f64,
}

impl Congestion {
    pub(crate) fn at(utilization: f64) -> Self {
        let over = ((utilization - 0.8) / 0.2).max(0.0);
        let o2 = over * over;
        Self { throughput: 1.0 / (1.0 + 3.0 * o2), latency: 1.0 + 2.0 * o2, error_add: (0.02 * o2).min(0.5) }
    }
}

/// What the simulator knows about one series this tick.
#[derive(Debug)]
pub(crate) struct SeriesInput<'a> {
    pub(crate) step_s: f64,
    pub(crate) ladder: Ladder,
    pub(crate) segment_duration_s: f64,
    pub(crate) mean_watch_time_s: f64,
    pub(crate) live: Option<LatencyMode>,
    pub(crate) latency: &'a LatencyProfile,
    /// The region's tail probability compounded over one tick (it is
    /// given per second).
    pub(crate) tail_per_tick: f64,
    pub(crate) median_throughput_mbps: f64,
    pub(crate) congestion: Congestion,
    pub(crate) effect: Effect,
    /// Audience the series is drawn toward, viewers.
    pub(crate) target_viewers: f64,
}

/// What one series reports for a tick, before it is put into a `Sample`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeriesOutput {
    pub(crate) viewers: u32,
    pub(crate) joins: u32,
    pub(crate) exits: u32,
    pub(crate) avg_watch_time_s: f64,
    pub(crate) latency_ms: f64,
    pub(crate) e2e_latency_ms: Option<f64>,
    pub(crate) startup_time_ms: f64,
    pub(crate) buffering_ratio: f64,
    pub(crate) rebuffer_events: u32,
    pub(crate) bitrate_kbps: f64,
    pub(crate) rendition: Option<RenditionId>,
    pub(crate) renditions: RenditionMix,
    pub(crate) segment_size_kb: f64,
    pub(crate) bandwidth_mbps: f64,
    pub(crate) error_rate: f64,
}

/// State carried between ticks for one (title, region) series. Each has
/// its own random stream, so a change to one series never shifts the
/// draws of another.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Series {
    rng: Pcg64Mcg,
    viewers: u32,
    /// Share of viewers on each rung of the ladder, lagging the share
    /// their throughput allows; NaN before the first tick (written as
    /// `null` in a checkpoint).
    #[serde(with = "nan_as_null")]
    mix: [f64; 5],
    /// Autocorrelated latency noise in standard deviations.
    latency_z: f64,
    /// Live only: extra seconds behind the live edge accumulated by stalls.
    drift_s: f64,
}

impl Series {
    pub(crate) fn new(rng: Pcg64Mcg, viewers: u32) -> Self {
        Self { rng, viewers, mix: [f64::NAN; 5], latency_z: 0.0, drift_s: 0.0 }
    }

    /// Advances the series by one tick.
    pub(crate) fn tick(&mut self, input: &SeriesInput<'_>, out: &mut SeriesOutput) {
        let step_s = input.step_s;
        let rungs = input.ladder.renditions();
        let n = rungs.len();
        let median_kbps =
            input.median_throughput_mbps * 1_000.0 * input.congestion.throughput * input.effect.throughput;
        let mut bitrate = [0.0; 5];
        for (b, r) in bitrate.iter_mut().zip(rungs) {
            *b = f64::from(r.bitrate_kbps) * input.effect.bitrate;
        }

        // ABR: each viewer's throughput is log-normal around the regional
        // median; players choose the highest rung that fits with a safety
        // margin (screens capped at 1080p fold higher rungs into it), and
        // the mix moves toward that choice with a lag of a few segments.
        let target = abr_target(&bitrate[..n], rungs.iter().map(|r| r.id), median_kbps);
        if self.mix[0].is_nan() {
            self.mix[..n].copy_from_slice(&target[..n]);
        } else {
            let alpha = 1.0 - libm::exp(-step_s / ABR_TIME_CONSTANT_S);
            for (m, t) in self.mix[..n].iter_mut().zip(&target) {
                *m += alpha * (t - *m);
            }
        }

        // Stalls: viewers who cannot sustain even the lowest rung, plus
        // viewers still on a rung their throughput no longer carries.
        let starving = p_below(bitrate[0], median_kbps);
        let mut above = 0.0;
        let mut overshoot: f64 = 0.0;
        for k in (1..n).rev() {
            above += self.mix[k];
            overshoot = overshoot.max(above - (1.0 - p_below(bitrate[k], median_kbps)));
        }
        let stall = (starving + overshoot).clamp(0.0, 1.0);

        // Errors: a small noisy base rate plus incidents and congestion.
        let noise: f64 = self.rng.sample(StandardNormal);
        let error_rate =
            (0.0015 * libm::exp(0.4 * noise) + input.effect.error_add + input.congestion.error_add).clamp(0.0, 1.0);

        // Buffering grows with the stalled share and with failed requests.
        let noise: f64 = self.rng.sample(StandardNormal);
        let buffering_ratio = (0.004 * libm::exp(0.35 * noise) + 0.4 * stall + 0.3 * error_rate).clamp(0.0, 1.0);

        // Latency: the regional base, autocorrelated log-normal jitter,
        // congestion and incidents, and rare Pareto-tailed spikes.
        let phi = libm::pow(LATENCY_PERSISTENCE_PER_S, step_s);
        let z: f64 = self.rng.sample(StandardNormal);
        self.latency_z = phi * self.latency_z + libm::sqrt(1.0 - phi * phi) * z;
        let profile = input.latency;
        let mut latency_ms = profile.base_ms
            * libm::exp(profile.jitter * self.latency_z)
            * input.congestion.latency
            * input.effect.latency;
        if self.rng.random::<f64>() < input.tail_per_tick {
            let pareto = Pareto::new(1.0, profile.tail_alpha).expect("tail_alpha validated above 1");
            latency_ms *= pareto.sample(&mut self.rng).min(20.0);
        }

        // Audience: sessions end at a rate set by the watch time, which
        // poor quality shortens; joins replace them at the target's rate
        // (failed starts do not join); gaps to the target close with a
        // time constant of 90 s.
        let watch_time_s = input.mean_watch_time_s / (1.0 + 25.0 * buffering_ratio + 6.0 * error_rate);
        let target_viewers = input.target_viewers.max(0.0);
        let close = 1.0 - libm::exp(-step_s / AUDIENCE_TIME_CONSTANT_S);
        let v = f64::from(self.viewers);
        let mut p_exit = 1.0 - libm::exp(-step_s / watch_time_s);
        if v > target_viewers {
            p_exit += (v - target_viewers) / v * close;
        }
        let exits = if self.viewers == 0 {
            0
        } else {
            let binomial = Binomial::new(u64::from(self.viewers), p_exit.clamp(0.0, 1.0)).expect("p within [0, 1]");
            binomial.sample(&mut self.rng) as u32
        };
        let join_rate = (target_viewers * (1.0 - libm::exp(-step_s / input.mean_watch_time_s))
            + (target_viewers - v).max(0.0) * close)
            * (1.0 - error_rate);
        let joins = poisson(&mut self.rng, join_rate);
        self.viewers = (self.viewers - exits).saturating_add(joins);
        let viewers = self.viewers;

        // Renditions: viewers apportioned over the rungs; bitrate, bandwidth
        // and segment size are sums over those parts.
        let mut counts = [0u32; 5];
        apportion(viewers, &self.mix[..n], &mut counts[..n]);
        let mut mix = RenditionMix::default();
        let (mut kbps_sum, mut weight_sum, mut best) = (0.0, 0.0, (0.0, 0usize));
        for k in 0..n {
            mix.set(rungs[k].id, counts[k]);
            let weight = if viewers > 0 { f64::from(counts[k]) } else { self.mix[k] };
            kbps_sum += weight * bitrate[k];
            weight_sum += weight;
            if weight >= best.0 {
                best = (weight, k);
            }
        }
        let bitrate_kbps = if weight_sum > 0.0 { kbps_sum / weight_sum } else { bitrate[0] };
        let bandwidth_mbps = if viewers > 0 { kbps_sum / 1_000.0 } else { 0.0 };

        // Rebuffer events: a background rate per viewer-minute, multiplied
        // by stalls and errors.
        let rebuffer_rate = f64::from(viewers) * step_s / 60.0 * (0.05 + 4.0 * stall + 2.0 * error_rate);
        let rebuffer_events = poisson(&mut self.rng, rebuffer_rate);

        // Startup: connection set-up (about four round trips), the first
        // segment of the second rung at the median throughput, player
        // start-up, and retries after failed requests.
        let start_kbps = bitrate[1.min(n - 1)];
        let download_ms = start_kbps * input.segment_duration_s / median_kbps * 1_000.0;
        let noise: f64 = self.rng.sample(StandardNormal);
        let startup_time_ms =
            (4.0 * latency_ms + download_ms + 180.0) * libm::exp(0.12 * noise) * (1.0 + 6.0 * error_rate);

        // Live: glass-to-glass latency is the mode's target plus drift from
        // stalls, which players slowly catch up.
        let e2e_latency_ms = input.live.map(|mode| {
            self.drift_s = self.drift_s * libm::pow(0.5, step_s / DRIFT_HALF_LIFE_S) + stall * step_s * 0.5;
            let noise: f64 = self.rng.sample(StandardNormal);
            ((mode.target_e2e_s() + self.drift_s) * 1_000.0 + 3.0 * latency_ms) * (1.0 + 0.03 * noise).max(0.5)
        });

        *out = SeriesOutput {
            viewers,
            joins,
            exits,
            avg_watch_time_s: watch_time_s,
            latency_ms,
            e2e_latency_ms,
            startup_time_ms,
            buffering_ratio,
            rebuffer_events,
            bitrate_kbps,
            rendition: Some(rungs[best.1].id),
            renditions: mix,
            segment_size_kb: bitrate_kbps * input.segment_duration_s / 8.0,
            bandwidth_mbps,
            error_rate,
        };
    }
}

/// P(throughput < `kbps`) for a log-normal throughput with this median.
fn p_below(kbps: f64, median_kbps: f64) -> f64 {
    if median_kbps <= 0.0 {
        return 1.0;
    }
    let z = libm::log(kbps / median_kbps) / THROUGHPUT_SIGMA;
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The rendition mix ABR would settle on: shares per rung that sum to one.
fn abr_target(bitrate: &[f64], ids: impl Iterator<Item = RenditionId>, median_kbps: f64) -> [f64; 5] {
    let n = bitrate.len();
    let mut free = [0.0; 5];
    let mut below_prev = 0.0;
    for k in 0..n {
        let below_next = if k + 1 < n { p_below(ABR_SAFETY * bitrate[k + 1], median_kbps) } else { 1.0 };
        free[k] = below_next - below_prev;
        below_prev = below_next;
    }
    // Viewers capped at 1080p: everything above the 1080p rung folds into it.
    let cap = ids.take(n).position(|id| id == RenditionId::P1080);
    let mut target = free;
    if let Some(cap) = cap.filter(|&c| c + 1 < n) {
        let folded: f64 = free[cap + 1..n].iter().sum();
        for k in cap + 1..n {
            target[k] = (1.0 - CAPPED_SHARE) * free[k];
        }
        target[cap] = free[cap] + CAPPED_SHARE * folded;
    }
    target
}

/// A Poisson draw that is zero for a zero (or negative) rate.
fn poisson(rng: &mut Pcg64Mcg, rate: f64) -> u32 {
    if rate > 0.0 && rate.is_finite() {
        let draw: f64 = Poisson::new(rate).expect("rate is positive and finite").sample(rng);
        draw.min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// Splits `total` into integer parts proportional to `shares` by the
/// largest-remainder method, ties to the lower rung, so parts sum exactly.
fn apportion(total: u32, shares: &[f64], out: &mut [u32]) {
    let sum: f64 = shares.iter().sum();
    if total == 0 || sum <= 0.0 {
        out.fill(0);
        if sum <= 0.0 && !out.is_empty() {
            out[0] = total;
        }
        return;
    }
    let mut rema = [0.0; 5];
    let mut given = 0u32;
    for (k, share) in shares.iter().enumerate() {
        let exact = f64::from(total) * share / sum;
        out[k] = exact.floor() as u32;
        rema[k] = exact - exact.floor();
        given += out[k];
    }
    for _ in given..total {
        let mut pick = 0;
        for k in 1..shares.len() {
            if rema[k] > rema[pick] {
                pick = k;
            }
        }
        out[pick] += 1;
        rema[pick] = -1.0;
    }
}

/// `[f64; 5]` in a checkpoint with NaN as `null`: JSON has no NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(values: &[f64; 5], s: S) -> Result<S::Ok, S::Error> {
        values.map(|v| (!v.is_nan()).then_some(v)).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 5], D::Error> {
        Ok(<[Option<f64>; 5]>::deserialize(d)?.map(|v| v.unwrap_or(f64::NAN)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn diurnal_peaks_in_the_evening_and_bottoms_before_dawn() {
        assert_eq!(diurnal(21.0), 1.0);
        assert_eq!(diurnal(5.0), 0.12);
        assert!((diurnal(23.5) - (0.76 + 0.55) / 2.0).abs() < 1e-12);
        assert_eq!(diurnal(-3.0), diurnal(21.0));
    }

    #[test]
    fn congestion_bites_only_above_eighty_percent() {
        let c = Congestion::at(0.79);
        assert_eq!((c.throughput, c.latency, c.error_add), (1.0, 1.0, 0.0));
        let c = Congestion::at(1.0);
        assert!(c.throughput < 0.3 && c.latency > 2.9);
    }

    #[test]
    fn less_throughput_means_lower_renditions() {
        let ladder = Ladder::Film;
        let bitrate: Vec<f64> = ladder.renditions().iter().map(|r| f64::from(r.bitrate_kbps)).collect();
        let mean = |median| {
            let t = abr_target(&bitrate, ladder.renditions().iter().map(|r| r.id), median);
            t.iter().zip(&bitrate).map(|(s, b)| s * b).sum::<f64>()
        };
        assert!(mean(40_000.0) > mean(10_000.0));
        assert!(mean(10_000.0) > mean(2_000.0));
    }

    proptest! {
        #[test]
        fn apportion_sums_exactly(total in 0u32..5_000_000, shares in proptest::collection::vec(0.0f64..1.0, 1..=5)) {
            let mut out = [0u32; 5];
            apportion(total, &shares, &mut out[..shares.len()]);
            prop_assert_eq!(out.iter().map(|&v| u64::from(v)).sum::<u64>(), u64::from(total));
        }

        #[test]
        fn abr_target_is_a_distribution(median in 50.0f64..200_000.0) {
            let ladder = Ladder::Sport;
            let bitrate: Vec<f64> = ladder.renditions().iter().map(|r| f64::from(r.bitrate_kbps)).collect();
            let t = abr_target(&bitrate, ladder.renditions().iter().map(|r| r.id), median);
            prop_assert!(t.iter().all(|&s| (0.0..=1.0 + 1e-12).contains(&s)));
            prop_assert!((t.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }

        #[test]
        fn p_below_is_a_cdf(a in 1.0f64..1e6, b in 1.0f64..1e6, median in 1.0f64..1e6) {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            prop_assert!(p_below(lo, median) <= p_below(hi, median));
            prop_assert!((0.0..=1.0).contains(&p_below(a, median)));
        }
    }
}
