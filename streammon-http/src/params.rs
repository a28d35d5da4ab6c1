//! Query strings, read by hand so that every error names its parameter.
//!
//! `serde_urlencoded` into a struct would say "invalid digit found in
//! string" without saying where; an operator mistyping `limit=1O` at 3 a.m.
//! deserves `limit: "1O" is not a whole number`.

use std::collections::HashMap;
use std::str::FromStr;

use streammon_core::time::{Span, parse_rfc3339};

use crate::error::ApiError;

/// The times a parameter may name, epoch milliseconds: 1970-01-01T00:00:00Z
/// to 9999-12-31T23:59:59.999Z.
pub(crate) const TIMES: std::ops::RangeInclusive<i64> = 0..=253_402_300_799_999;

/// The parameters of one request, checked against the names the endpoint
/// accepts.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: HashMap<String, String>,
}

impl Params {
    /// Parses `query` and refuses parameters outside `allowed` and
    /// repeated ones.
    pub(crate) fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut values = HashMap::new();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|e| ApiError::bad("query", format!("malformed query string: {e}")))?;
        for (key, value) in pairs {
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::bad(
                    &key,
                    format!("unknown parameter; this endpoint takes {}", allowed.join(", ")),
                ));
            }
            if value.is_empty() {
                return Err(ApiError::bad(&key, "is empty; give a value or leave the parameter out"));
            }
            if values.insert(key.clone(), value).is_some() {
                return Err(ApiError::bad(&key, "given more than once"));
            }
        }
        Ok(Self { values })
    }

    /// The raw text of `name`, if given (never empty: [`Params::parse`]
    /// refuses an empty value).
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `name` parsed with `FromStr`, its error shown.
    pub(crate) fn parsed<T: FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.text(name)
            .map(|v| v.parse::<T>().map_err(|e| ApiError::bad(name, format!("{v:?} is not {what}: {e}"))))
            .transpose()
    }

    /// A whole number within `range`.
    pub(crate) fn int(&self, name: &str, range: std::ops::RangeInclusive<usize>) -> Result<Option<usize>, ApiError> {
        let Some(v) = self.text(name) else { return Ok(None) };
        let n: usize = v.parse().map_err(|_| ApiError::bad(name, format!("{v:?} is not a whole number")))?;
        if !range.contains(&n) {
            return Err(ApiError::bad(name, format!("{n} is not within {}..={}", range.start(), range.end())));
        }
        Ok(Some(n))
    }

    /// A point in time: RFC 3339, epoch milliseconds, or a duration before
    /// `now_ms` such as `15m` (read as "15 minutes ago"); always within
    /// [`TIMES`], so that differences of two times cannot overflow.
    pub(crate) fn time(&self, name: &str, now_ms: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.text(name) else { return Ok(None) };
        let ms = if let Ok(ms) = v.parse::<i64>() {
            Some(ms)
        } else if let Ok(span) = v.parse::<Span>() {
            i64::try_from(span.as_millis()).ok().and_then(|age| now_ms.checked_sub(age))
        } else {
            let ms = parse_rfc3339(v).map_err(|_| {
                ApiError::bad(
                    name,
                    format!("{v:?} is not a time: give RFC 3339, epoch milliseconds or an age such as 15m"),
                )
            })?;
            Some(ms)
        };
        match ms {
            Some(ms) if TIMES.contains(&ms) => Ok(Some(ms)),
            _ => Err(ApiError::bad(name, format!("{v:?} is outside 1970-01-01 to 9999-12-31"))),
        }
    }

    /// A duration such as `30s`, `5m`, `1h`.
    pub(crate) fn span(&self, name: &str) -> Result<Option<Span>, ApiError> {
        self.parsed::<Span>(name, "a duration such as 30s, 5m or 1h")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_parameter() {
        let err = Params::parse(Some("limt=5"), &["limit"]).unwrap_err();
        assert_eq!(err.body().field.as_deref(), Some("limt"));
        let p = Params::parse(Some("limit=1O&from=yesterday"), &["limit", "from"]).unwrap();
        let err = p.int("limit", 1..=1000).unwrap_err().body();
        assert_eq!(err.field.as_deref(), Some("limit"));
        assert!(err.message.contains("\"1O\" is not a whole number"), "{}", err.message);
        assert_eq!(p.time("from", 0).unwrap_err().body().field.as_deref(), Some("from"));
        let p = Params::parse(Some("from=15m&to=2026-01-01T00:00:00Z&limit=0"), &["limit", "from", "to"]).unwrap();
        assert_eq!(p.time("from", 1_000_000).unwrap(), Some(1_000_000 - 900_000));
        assert_eq!(p.time("to", 0).unwrap(), Some(1_767_225_600_000));
        assert!(p.int("limit", 1..=10).is_err());
        assert!(Params::parse(Some("a=1&a=2"), &["a"]).is_err());
    }

    #[test]
    fn an_empty_value_is_refused_by_name() {
        for query in ["state=", "limit=&content=x", "metric"] {
            let err = Params::parse(Some(query), &["state", "limit", "content", "metric"]).unwrap_err().body();
            let name = query.split('=').next().unwrap();
            assert_eq!(err.field.as_deref(), Some(name), "{query}");
            assert!(err.message.contains("empty"), "{}", err.message);
        }
    }

    #[test]
    fn times_stay_within_the_calendar() {
        let p = Params::parse(
            Some("from=-9223372036854775808&to=9223372036854775807&a=-1&b=300000000h"),
            &["from", "to", "a", "b"],
        )
        .unwrap();
        for name in ["from", "to", "a", "b"] {
            assert_eq!(p.time(name, 1_000).unwrap_err().body().field.as_deref(), Some(name));
        }
        let p = Params::parse(Some("a=0&b=253402300799999&c=9999-12-31T23:59:59Z"), &["a", "b", "c"]).unwrap();
        assert_eq!(p.time("a", 0).unwrap(), Some(0));
        assert_eq!(p.time("b", 0).unwrap(), Some(253_402_300_799_999));
        assert_eq!(p.time("c", 0).unwrap(), Some(253_402_300_799_000));
    }

    /// Fuzzing (`fuzz/`, target `query_string`): an age past what i64
    /// milliseconds reach overflowed `now - age`. It is a 400 naming the
    /// parameter, as every time outside 1970 to 9999 is.
    #[test]
    fn an_age_past_i64_is_refused_by_name() {
        let now = 1_767_225_600_000;
        let p = Params::parse(
            Some("since=9223372036854775807ms500ms1m&from=18446744073709551615ms&to=5m"),
            &["since", "from", "to"],
        )
        .unwrap();
        for name in ["since", "from"] {
            assert_eq!(p.time(name, now).unwrap_err().body().field.as_deref(), Some(name));
        }
        assert_eq!(p.time("to", i64::MIN).unwrap_err().body().field.as_deref(), Some("to"));
    }
}
