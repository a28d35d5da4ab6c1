//! Time as data: spans of simulated time and RFC 3339 formatting.
//!
//! The core never reads a clock. Timestamps are milliseconds since the Unix
//! epoch (UTC), passed in by whoever drives the pipeline.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Milliseconds in one second.
pub const SECOND_MS: u64 = 1_000;
/// Milliseconds in one minute.
pub const MINUTE_MS: u64 = 60 * SECOND_MS;
/// Milliseconds in one hour.
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
/// Milliseconds in one day.
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// A non-negative length of time with millisecond resolution.
///
/// Parsed from and written as human text (`"500ms"`, `"1s"`, `"15m"`,
/// `"6h"`, `"2d"`, or compound `"1h30m"`); in configuration files a bare
/// integer is read as milliseconds.
///
/// ```
/// use streammon_core::Span;
/// let span: Span = "1h30m".parse()?;
/// assert_eq!(span.as_millis(), 5_400_000);
/// assert_eq!(span.to_string(), "1h30m");
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(u64);

impl Span {
    /// A span of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// A span of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Self(s * SECOND_MS)
    }

    /// A span of `m` minutes.
    pub const fn from_mins(m: u64) -> Self {
        Self(m * MINUTE_MS)
    }

    /// A span of `h` hours.
    pub const fn from_hours(h: u64) -> Self {
        Self(h * HOUR_MS)
    }

    /// The span in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The span in (fractional) seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }
}

impl FromStr for Span {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        if text.is_empty() {
            return Err(Error::parse("duration", s, "empty; expected e.g. 500ms, 1s, 15m, 6h, 2d"));
        }
        let mut total: u64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(Error::parse("duration", s, "expected a number before each unit"));
            }
            let value: u64 = rest[..digits].parse().map_err(|_| Error::parse("duration", s, "number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let scale = match unit {
                "ms" => 1,
                "s" => SECOND_MS,
                "m" | "min" => MINUTE_MS,
                "h" => HOUR_MS,
                "d" => DAY_MS,
                "" => {
                    return Err(Error::parse("duration", s, "missing unit; use ms, s, m, h or d"));
                }
                other => {
                    return Err(Error::parse("duration", s, format!("unknown unit {other:?}; use ms, s, m, h or d")));
                }
            };
            total = value
                .checked_mul(scale)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| Error::parse("duration", s, "too long"))?;
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, scale) in [("d", DAY_MS), ("h", HOUR_MS), ("m", MINUTE_MS), ("s", SECOND_MS), ("ms", 1)] {
            if rest >= scale {
                write!(f, "{}{unit}", rest / scale)?;
                rest %= scale;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"15m\", or an integer of milliseconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Span, E> {
                u64::try_from(v).map(Span).map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC, e.g. `2026-01-01T00:00:00.000Z`.
///
/// ```
/// assert_eq!(streammon_core::time::format_rfc3339(0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(streammon_core::time::format_rfc3339(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
/// ```
pub fn format_rfc3339(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(DAY_MS as i64);
    let ms_of_day = epoch_ms.rem_euclid(DAY_MS as i64);
    let (y, m, d) = civil_from_days(days);
    let secs = ms_of_day / 1_000;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", secs / 3_600, secs / 60 % 60, secs % 60, ms_of_day % 1_000)
}

/// Parses an RFC 3339 / ISO-8601 timestamp into epoch milliseconds.
///
/// Accepts `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `T` or a space,
/// and an optional `Z` or `±HH:MM` offset (no offset means UTC).
///
/// # Errors
/// [`Error::Parse`] naming what is wrong with the text.
///
/// ```
/// use streammon_core::time::parse_rfc3339;
/// assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z")?, 1_767_225_600_000);
/// assert_eq!(parse_rfc3339("2026-01-01 01:00:00+01:00")?, 1_767_225_600_000);
/// # Ok::<(), streammon_core::Error>(())
/// ```
pub fn parse_rfc3339(text: &str) -> Result<i64> {
    let bad = |reason: &str| Error::parse("timestamp", text, reason);
    let s = text.trim();
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<i64> {
        let part = s.get(from..from + len).ok_or_else(|| bad("too short"))?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("expected digits"));
        }
        part.parse::<i64>().map_err(|_| bad("expected digits"))
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad("expected YYYY-MM-DD"));
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    let mut ms = days_from_civil(year, month, day) * DAY_MS as i64;
    let mut i = 10;
    if i < b.len() && (b[i] == b'T' || b[i] == b't' || b[i] == b' ') {
        let (hh, mm) = (num(i + 1, 2)?, num(i + 4, 2)?);
        if b.get(i + 3) != Some(&b':') || hh > 23 || mm > 59 {
            return Err(bad("expected HH:MM"));
        }
        ms += (hh * 3_600 + mm * 60) * 1_000;
        i += 6;
        if b.get(i) == Some(&b':') {
            let ss = num(i + 1, 2)?;
            if ss > 60 {
                return Err(bad("seconds out of range"));
            }
            ms += ss * 1_000;
            i += 3;
            if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start {
                    return Err(bad("expected digits after the decimal point"));
                }
                let frac = &s[start..end.min(start + 3)];
                let scale = [100, 10, 1][frac.len() - 1];
                ms += frac.parse::<i64>().map_err(|_| bad("bad fraction"))? * scale;
                i = end;
            }
        }
    }
    match &s[i..] {
        "" | "Z" | "z" => {}
        offset if offset.len() == 6 && (offset.starts_with('+') || offset.starts_with('-')) => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if b[i + 3] != b':' || oh > 23 || om > 59 {
                return Err(bad("expected a ±HH:MM offset"));
            }
            ms -= sign * (oh * 3_600 + om * 60) * 1_000;
        }
        _ => return Err(bad("unexpected text after the time; expected Z or ±HH:MM")),
    }
    Ok(ms)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's `days_from_civil` and its inverse: exact for every date
// in the proleptic Gregorian calendar, no tables, no clock.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spans_parse_and_print() {
        for (text, ms) in [
            ("500ms", 500),
            ("1s", 1_000),
            ("15m", 900_000),
            ("6h", 21_600_000),
            ("2d", 172_800_000),
            ("1h30m", 5_400_000),
        ] {
            let span: Span = text.parse().unwrap();
            assert_eq!(span.as_millis(), ms, "{text}");
            assert_eq!(span.to_string(), text);
        }
    }

    #[test]
    fn bad_spans_name_the_problem() {
        let err = "6x".parse::<Span>().unwrap_err().to_string();
        assert!(err.contains("unknown unit \"x\""), "{err}");
        assert!("15".parse::<Span>().unwrap_err().to_string().contains("missing unit"));
        assert!("".parse::<Span>().is_err());
        assert!("h".parse::<Span>().is_err());
        assert!("99999999999999999999d".parse::<Span>().is_err());
    }

    #[test]
    fn rfc3339_rejects_nonsense() {
        for bad in
            ["", "2026", "2026-13-01", "2026-02-30", "2026-01-01T25:00", "2026-01-01T00:00:00+1", "2026-01-01Tab"]
        {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn rfc3339_round_trips(ms in -62_135_596_800_000i64..253_402_300_799_999i64) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(ms)).unwrap(), ms);
        }

        #[test]
        fn span_round_trips(ms in 0u64..10_000_000_000_000) {
            let span = Span::from_millis(ms);
            prop_assert_eq!(span.to_string().parse::<Span>().unwrap(), span);
        }
    }
}
