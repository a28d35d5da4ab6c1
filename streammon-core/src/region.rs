//! CDN regions: where viewers are served from, and how each behaves.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::RegionId;

/// The continent a region serves, for grouping and maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Continent {
    NorthAmerica,
    SouthAmerica,
    Europe,
    Africa,
    Asia,
    Oceania,
}

/// How request latency (time to first byte of a segment) behaves in a region.
///
/// Each tick's latency is `base_ms`, scaled by a log-normal factor with
/// standard deviation `jitter` (in log space, autocorrelated from second
/// to second), and with probability `tail_probability` per second
/// multiplied by a Pareto
/// draw of shape `tail_alpha`: the heavy tail that real CDNs show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyProfile {
    /// Median time to first byte in milliseconds under normal load.
    pub base_ms: f64,
    /// Log-space standard deviation of the tick-to-tick variation.
    pub jitter: f64,
    /// Chance per second and series of a tail event.
    pub tail_probability: f64,
    /// Pareto shape of tail events; smaller is heavier. Must be above 1.
    pub tail_alpha: f64,
}

/// One CDN region with its latency profile, capacity and audience share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Short identifier used in samples, e.g. `eu-west`.
    pub id: RegionId,
    /// Human-readable name, e.g. `Europe West (Dublin)`.
    pub name: String,
    /// Continent, for grouping.
    pub continent: Continent,
    /// Offset of the audience's local time from UTC in minutes; drives the
    /// diurnal audience curve.
    pub utc_offset_minutes: i32,
    /// Egress capacity in gigabits per second. Above 80 % utilisation the
    /// region congests: throughput falls and latency rises for every title.
    pub capacity_gbps: f64,
    /// Share of the total audience served here. Shares are normalised, so
    /// they need not sum to one.
    pub audience_share: f64,
    /// Median per-viewer throughput in megabits per second; ABR picks
    /// renditions from a log-normal spread around it.
    pub median_throughput_mbps: f64,
    /// Request latency behaviour.
    pub latency: LatencyProfile,
}

impl Region {
    /// Checks every field; `index` is the position in the region list, used
    /// in the error's field path.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field and value.
    pub fn validate(&self, index: usize) -> Result<()> {
        let field = |name: &str| format!("regions[{index}].{name}");
        if self.id.as_str().is_empty() || self.id.as_str().contains(char::is_whitespace) {
            return Err(Error::config(field("id"), format!("{:?} must be non-empty without spaces", self.id.as_str())));
        }
        let positive = [
            ("capacity_gbps", self.capacity_gbps),
            ("audience_share", self.audience_share),
            ("median_throughput_mbps", self.median_throughput_mbps),
            ("latency.base_ms", self.latency.base_ms),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::config(field(name), format!("{value} must be a finite number above 0")));
            }
        }
        if !(0.0..=2.0).contains(&self.latency.jitter) {
            return Err(Error::config(
                field("latency.jitter"),
                format!("{} must be within [0, 2]", self.latency.jitter),
            ));
        }
        if !(0.0..=1.0).contains(&self.latency.tail_probability) {
            return Err(Error::config(
                field("latency.tail_probability"),
                format!("{} must be within [0, 1]", self.latency.tail_probability),
            ));
        }
        if !(self.latency.tail_alpha.is_finite() && self.latency.tail_alpha > 1.0) {
            return Err(Error::config(
                field("latency.tail_alpha"),
                format!("{} must be above 1", self.latency.tail_alpha),
            ));
        }
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return Err(Error::config(
                field("utc_offset_minutes"),
                format!("{} must be within ±840", self.utc_offset_minutes),
            ));
        }
        Ok(())
    }

    /// The built-in set of ten regions on six continents, including the
    /// original design's `us-east`, `us-west`, `eu-west`, `ap-east` and
    /// `sa-east`. Capacities leave about 40 % headroom at each region's
    /// evening peak with the default simulated audience.
    ///
    /// ```
    /// let regions = streammon_core::Region::defaults();
    /// assert_eq!(regions.len(), 10);
    /// assert!(regions.iter().any(|r| r.id == "eu-west"));
    /// ```
    pub fn defaults() -> Vec<Region> {
        use Continent::*;
        // A table of literals reads best as tuples, one region a line.
        #[rustfmt::skip]
        #[allow(clippy::type_complexity)]
        let table: [(&str, &str, Continent, i32, f64, f64, f64, f64, f64); 10] = [
            // id, name, continent, utc offset (min), capacity Gbps, share, median Mbps, base ms, tail p
            ("us-east", "US East (N. Virginia)", NorthAmerica, -300, 1_900.0, 0.20, 38.0, 22.0, 0.0002),
            ("us-west", "US West (Oregon)", NorthAmerica, -480, 1_250.0, 0.13, 36.0, 26.0, 0.0002),
            ("sa-east", "South America East (São Paulo)", SouthAmerica, -180, 750.0, 0.08, 18.0, 48.0, 0.0006),
            ("eu-west", "Europe West (Dublin)", Europe, 0, 1_650.0, 0.17, 32.0, 24.0, 0.0002),
            ("eu-central", "Europe Central (Frankfurt)", Europe, 60, 1_050.0, 0.11, 34.0, 23.0, 0.0002),
            ("af-south", "Africa South (Cape Town)", Africa, 120, 300.0, 0.03, 11.0, 70.0, 0.001),
            ("me-central", "Middle East (UAE)", Asia, 240, 400.0, 0.04, 20.0, 45.0, 0.0005),
            ("ap-south", "Asia Pacific South (Mumbai)", Asia, 330, 950.0, 0.10, 14.0, 55.0, 0.0008),
            ("ap-east", "Asia Pacific East (Hong Kong)", Asia, 480, 850.0, 0.09, 40.0, 30.0, 0.0003),
            ("ap-southeast", "Asia Pacific Southeast (Sydney)", Oceania, 600, 500.0, 0.05, 30.0, 34.0, 0.0003),
        ];
        table
            .into_iter()
            .map(|(id, name, continent, offset, capacity, share, mbps, base, tail)| Region {
                id: RegionId::from(id),
                name: name.to_owned(),
                continent,
                utc_offset_minutes: offset,
                capacity_gbps: capacity,
                audience_share: share,
                median_throughput_mbps: mbps,
                latency: LatencyProfile { base_ms: base, jitter: 0.12, tail_probability: tail, tail_alpha: 2.2 },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_span_continents() {
        let regions = Region::defaults();
        for (i, r) in regions.iter().enumerate() {
            r.validate(i).unwrap();
        }
        for id in ["us-east", "us-west", "eu-west", "ap-east", "sa-east"] {
            assert!(regions.iter().any(|r| r.id == id), "{id}");
        }
        let mut continents: Vec<_> = regions.iter().map(|r| r.continent as u8).collect();
        continents.sort_unstable();
        continents.dedup();
        assert_eq!(continents.len(), 6);
        let share: f64 = regions.iter().map(|r| r.audience_share).sum();
        assert!((share - 1.0).abs() < 1e-9);
    }

    #[test]
    fn validation_names_the_field() {
        let mut r = Region::defaults().remove(0);
        r.capacity_gbps = -1.0;
        let err = r.validate(3).unwrap_err().to_string();
        assert!(err.contains("regions[3].capacity_gbps"), "{err}");
    }
}
