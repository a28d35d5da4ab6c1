//! Which CDN region a report comes from: a header the edge or load
//! balancer sets, the host the player asked (one CDN hostname per region),
//! or the client's network, in that order, else a default.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::RegionId;
use crate::sample::check_id;

/// A client network and its region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRegion {
    /// The network, e.g. `10.20.0.0/16` or `2001:db8::/32`.
    pub cidr: String,
    /// Its region.
    pub region: String,
}

/// Configuration of a [`RegionMap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionMapConfig {
    /// Request header whose value names the region, set by the edge or
    /// load balancer in front. Defaults to `x-streammon-region`.
    pub header: String,
    /// Host (as the player asked it) to region: a CDN hostname per region;
    /// a key starting with `.` matches every subdomain. Defaults to none.
    pub hosts: BTreeMap<String, String>,
    /// Client networks to region; the longest prefix wins. Defaults to
    /// none.
    pub networks: Vec<NetworkRegion>,
    /// The region when nothing else says. Defaults to `local`.
    pub default: String,
}

impl Default for RegionMapConfig {
    fn default() -> Self {
        Self {
            header: "x-streammon-region".into(),
            hosts: BTreeMap::new(),
            networks: Vec::new(),
            default: "local".into(),
        }
    }
}

/// Resolves a report's region: header, host, client network, else the default.
///
/// ```
/// use streammon_core::cmcd::{NetworkRegion, RegionMap, RegionMapConfig};
/// let mut config = RegionMapConfig::default();
/// config.hosts.insert(".eu.cdn.example".into(), "eu-west".into());
/// config.networks.push(NetworkRegion { cidr: "10.1.0.0/16".into(), region: "us-east".into() });
/// let map = RegionMap::new(&config)?;
/// assert_eq!(map.resolve(Some("ap-south"), None, None).as_str(), "ap-south");
/// assert_eq!(map.resolve(None, Some("edge1.eu.cdn.example:443"), None).as_str(), "eu-west");
/// assert_eq!(map.resolve(None, None, Some("10.1.2.3".parse()?)).as_str(), "us-east");
/// assert_eq!(map.resolve(None, None, Some("192.0.2.1".parse()?)).as_str(), "local");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegionMap {
    header: String,
    hosts: Vec<(String, RegionId)>,
    networks: Vec<(IpAddr, u8, RegionId)>,
    default: RegionId,
}

fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = text.split_once('/')?;
    let ip: IpAddr = ip.trim().parse().ok()?;
    let len: u8 = len.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        (IpAddr::V6(_), IpAddr::V4(_)) => return false,
        _ => ip,
    };
    // Both addresses sit in the top bits, so a prefix is counted from the top.
    let ((n, _), (i, _)) = (bits(net), bits(ip));
    let prefix = u32::from(len);
    prefix == 0 || (n >> (128 - prefix)) == (i >> (128 - prefix))
}

impl RegionMap {
    /// Validates `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field: a network that is not
    /// CIDR, a region that is not an id.
    pub fn new(config: &RegionMapConfig) -> Result<Self> {
        let region = |field: String, r: &str| {
            check_id("region", r).map_err(|e| Error::config(field, e.to_string())).map(|()| RegionId::from(r))
        };
        if config.header.is_empty() || !config.header.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
            return Err(Error::config("regions.header", format!("{:?} is not a header name", config.header)));
        }
        let hosts = config
            .hosts
            .iter()
            .map(|(h, r)| Ok((h.to_ascii_lowercase(), region(format!("regions.hosts.{h}"), r)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut networks = Vec::with_capacity(config.networks.len());
        for (i, n) in config.networks.iter().enumerate() {
            let (ip, len) = parse_cidr(&n.cidr).ok_or_else(|| {
                Error::config(
                    format!("regions.networks[{i}].cidr"),
                    format!("{:?} is not a network such as 10.0.0.0/8", n.cidr),
                )
            })?;
            networks.push((ip, len, region(format!("regions.networks[{i}].region"), &n.region)?));
        }
        // Longest prefix first.
        networks.sort_by_key(|n| std::cmp::Reverse(n.1));
        Ok(Self {
            header: config.header.to_ascii_lowercase(),
            hosts,
            networks,
            default: region("regions.default".into(), &config.default)?,
        })
    }

    /// The header that names the region, lowercase.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The region of a report: from the header's value, the host asked
    /// (a port is ignored), the client's address, else the default. A
    /// header value that is not a valid id is ignored.
    pub fn resolve(&self, header: Option<&str>, host: Option<&str>, client: Option<IpAddr>) -> RegionId {
        if let Some(h) = header.map(str::trim).filter(|h| check_id("region", h).is_ok()) {
            return RegionId::from(h);
        }
        if let Some(host) = host {
            let host =
                host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
            let host = host.to_ascii_lowercase();
            for (pattern, region) in &self.hosts {
                let hit = if pattern.starts_with('.') { host.ends_with(pattern.as_str()) } else { host == *pattern };
                if hit {
                    return region.clone();
                }
            }
        }
        if let Some(ip) = client
            && let Some((_, _, region)) = self.networks.iter().find(|(net, len, _)| contains(*net, *len, ip))
        {
            return region.clone();
        }
        self.default.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_longest_prefix_and_v6() {
        let config = RegionMapConfig {
            networks: vec![
                NetworkRegion { cidr: "10.0.0.0/8".into(), region: "wide".into() },
                NetworkRegion { cidr: "10.9.0.0/16".into(), region: "narrow".into() },
                NetworkRegion { cidr: "2001:db8::/32".into(), region: "v6".into() },
            ],
            ..RegionMapConfig::default()
        };
        let map = RegionMap::new(&config).unwrap();
        let at = |ip: &str| map.resolve(None, None, Some(ip.parse().unwrap())).as_str().to_owned();
        assert_eq!(at("10.9.1.1"), "narrow");
        assert_eq!(at("10.8.1.1"), "wide");
        assert_eq!(at("::ffff:10.8.1.1"), "wide");
        assert_eq!(at("2001:db8::1"), "v6");
        assert_eq!(at("2001:db9::1"), "local");
        let bad = RegionMapConfig {
            networks: vec![NetworkRegion { cidr: "10.0.0.0/33".into(), region: "x".into() }],
            ..RegionMapConfig::default()
        };
        assert!(RegionMap::new(&bad).unwrap_err().to_string().contains("regions.networks[0].cidr"));
        assert_eq!(map.resolve(Some("\u{1}"), None, None).as_str(), "local", "a bad header value is ignored");
    }
}
