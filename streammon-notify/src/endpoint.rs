//! Where a notification goes: a parsed `http://` or `https://` URL, and the
//! secret a webhook body is signed with.

use std::fmt;
use std::str::FromStr;

use crate::error::NotifyError;

/// A parsed `http://` or `https://` URL.
///
/// It prints redacted ([`Display`](fmt::Display)): never its query, and
/// for webhooks ([`redacted`](Self::redacted)) not its path either, since
/// webhook paths (Slack's, for one) are secrets.
///
/// ```
/// use streammon_notify::Endpoint;
/// let e: Endpoint = "https://hooks.example.com/services/T0/B0/s3cret?x=1".parse().unwrap();
/// assert_eq!(e.redacted(true), "https://hooks.example.com:443/…");
/// assert_eq!(e.to_string(), "https://hooks.example.com:443/services/T0/B0/s3cret");
/// assert!("ftp://x".parse::<Endpoint>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, starting with `/`.
    pub(crate) target: String,
}

impl FromStr for Endpoint {
    type Err = NotifyError;

    fn from_str(url: &str) -> Result<Self, NotifyError> {
        let bad = |reason: &str| NotifyError::Url { url: redact_input(url), reason: reason.to_owned() };
        let url = url.trim();
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported; sign webhooks with a secret instead"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("an IPv6 host lacks its `]`"))?;
            (format!("[{h}]"), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("has no host"));
        }
        if !host.chars().all(|c| c.is_ascii_alphanumeric() || "-._[]:".contains(c)) {
            return Err(bad("the host holds a character a host name cannot"));
        }
        let port = match port {
            None | Some("") => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("the port is not 1 to 65535"))?,
        };
        let target = match target {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        if target.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return Err(bad("the path holds a space or a control character"));
        }
        Ok(Self { tls, host, port, target })
    }
}

/// What of a refused URL an error may show: its scheme and host.
fn redact_input(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() { format!("{host}…") } else { format!("{scheme}://{host}…") }
}

impl Endpoint {
    /// The scheme, `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// `scheme://host:port/path` without the query, or with `/…` for the
    /// path when `hide_path`.
    pub fn redacted(&self, hide_path: bool) -> String {
        if hide_path {
            format!("{}://{}:{}/…", self.scheme(), self.host, self.port)
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            format!("{}://{}:{}{path}", self.scheme(), self.host, self.port)
        }
    }

    /// This endpoint with `suffix` appended to its path (its query
    /// dropped): Alertmanager's API under a base URL.
    pub(crate) fn join(&self, suffix: &str) -> Self {
        let path = self.target.split('?').next().unwrap_or("/").trim_end_matches('/');
        Self { target: format!("{path}{suffix}"), ..self.clone() }
    }

    /// The `Host` header.
    pub(crate) fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted(false))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.redacted(true))
    }
}

/// The shortest webhook secret accepted, bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// A webhook's signing secret: at least [`MIN_SECRET_BYTES`], never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The secret `s`.
    ///
    /// # Errors
    /// [`NotifyError::Secret`] when shorter than [`MIN_SECRET_BYTES`].
    pub fn new(s: &str) -> Result<Self, NotifyError> {
        if s.len() < MIN_SECRET_BYTES {
            return Err(NotifyError::Secret(s.len()));
        }
        Ok(Self(s.as_bytes().to_vec()))
    }

    /// Its bytes, to sign with.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Secret {
    type Err = NotifyError;

    fn from_str(s: &str) -> Result<Self, NotifyError> {
        Self::new(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_their_defaults_and_errors_name_no_secret() {
        let e: Endpoint = "http://127.0.0.1:9093".parse().unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port, e.target.as_str()), (false, "127.0.0.1", 9093, "/"));
        assert_eq!(e.join("/api/v2/alerts").target, "/api/v2/alerts");
        let e: Endpoint = "http://am.example/prefix/?a=b".parse().unwrap();
        assert_eq!((e.port, e.join("/api/v2/alerts").target.as_str()), (80, "/prefix/api/v2/alerts"));
        assert_eq!(e.authority(), "am.example");
        let e: Endpoint = "https://[::1]:8443/hook".parse().unwrap();
        assert_eq!((e.host.as_str(), e.port, e.authority()), ("[::1]", 8443, "[::1]:8443".to_owned()));
        for bad in
            ["ftp://x", "http://", "http://:80/", "http://h:0/", "http://h:99999/", "http://u:p@h/", "http://h/a b"]
        {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
        let err = "http://user:s3cret@h/x".parse::<Endpoint>().unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn secrets_are_long_and_never_printed() {
        assert!(matches!(Secret::new("short"), Err(NotifyError::Secret(5))));
        let s = Secret::new("sixteen-bytes!!!").unwrap();
        assert!(!format!("{s:?}").contains("sixteen"));
    }
}
