//! Taking a CMCD payload out of a request, in each of the specification's
//! three transmission modes: the `CMCD=` query argument, the four
//! `CMCD-*` headers, and a body (newline-separated payloads, as CMCD v2
//! event mode posts them with `Content-Type: application/cmcd`, or JSON
//! objects keyed by CMCD key).
//!
//! ```
//! use streammon_core::cmcd::transmission::{from_headers, from_query};
//! let mut buf = String::new();
//! let r = from_query("seg=3&CMCD=br%3D3200%2Cbs%2Csid%3D%226e2f%22", &mut buf)?.expect("a CMCD argument");
//! assert_eq!((r.br.first(), r.bs, r.sid.as_deref()), (Some(3200), Some(true), Some("6e2f")));
//!
//! let headers = [("CMCD-Object", "br=3200,d=4004"), ("cmcd-session", r#"sid="6e2f""#), ("Accept", "*/*")];
//! let mut buf = String::new();
//! let r = from_headers(headers, &mut buf)?.expect("CMCD headers");
//! assert_eq!((r.br.first(), r.d, r.sid.as_deref()), (Some(3200), Some(4004), Some("6e2f")));
//! # Ok::<(), streammon_core::Error>(())
//! ```

use std::fmt::Write as _;

use serde::Deserialize;

use super::report::Report;
use crate::error::{Error, Result};

/// The query argument that carries CMCD.
pub const QUERY_ARG: &str = "CMCD";

/// The headers that carry CMCD, by how often their keys change.
pub const HEADERS: [&str; 4] = ["CMCD-Object", "CMCD-Request", "CMCD-Session", "CMCD-Status"];

/// The media type of a CMCD v2 event-mode body: one payload per line.
pub const MEDIA_TYPE: &str = "application/cmcd";

/// The value of a hex digit, 0xFF for any other byte.
static HEX: [u8; 256] = {
    let mut t = [0xFF; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => 0xFF,
        };
        c += 1;
    }
    t
};

/// Percent-decodes `text`, appending it to `out` (`+` is a space, as in a
/// form). Reuses `out`'s allocation.
///
/// # Errors
/// [`Error::InvalidCmcd`] for a bad escape or text that is not UTF-8.
pub fn percent_decode(text: &str, out: &mut String) -> Result<()> {
    let bytes = text.as_bytes();
    let mut decoded = std::mem::take(out).into_bytes();
    decoded.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'%' {
            let (h, l) = match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&h), Some(&l)) => (HEX[usize::from(h)], HEX[usize::from(l)]),
                _ => (0xFF, 0xFF),
            };
            if h == 0xFF || l == 0xFF {
                return Err(Error::InvalidCmcd {
                    key: String::new(),
                    reason: format!("the CMCD argument has a bad percent escape at byte {i}"),
                });
            }
            decoded.push(h << 4 | l);
            i += 3;
        } else {
            decoded.push(if c == b'+' { b' ' } else { c });
            i += 1;
        }
    }
    *out = String::from_utf8(decoded).map_err(|e| Error::InvalidCmcd {
        key: String::new(),
        reason: format!("the CMCD argument is not UTF-8 once decoded (byte {})", e.utf8_error().valid_up_to()),
    })?;
    Ok(())
}

/// The report in a URL's query string (without the `?`), decoded into
/// `buf`; `None` when it has no `CMCD` argument.
///
/// # Errors
/// [`Error::InvalidCmcd`] for a malformed argument or payload.
pub fn from_query<'b>(query: &str, buf: &'b mut String) -> Result<Option<Report<'b>>> {
    let Some(value) = query.split('&').find_map(|pair| pair.strip_prefix(QUERY_ARG)?.strip_prefix('=')) else {
        return Ok(None);
    };
    buf.clear();
    percent_decode(value, buf)?;
    Report::parse(buf).map(Some)
}

/// The report in a request's `CMCD-*` headers (names in any case), joined
/// into `buf`; `None` when it has none.
///
/// # Errors
/// [`Error::InvalidCmcd`] for a malformed payload.
pub fn from_headers<'h, 'b>(
    headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    buf: &'b mut String,
) -> Result<Option<Report<'b>>> {
    buf.clear();
    let mut any = false;
    for (name, value) in headers {
        if HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            if any && !value.trim().is_empty() {
                buf.push(',');
            }
            buf.push_str(value.trim());
            any = true;
        }
    }
    if !any {
        return Ok(None);
    }
    Report::parse(buf).map(Some)
}

/// The payloads of an event-mode body, one per non-empty line, each with
/// its line number (from 1).
///
/// ```
/// use streammon_core::cmcd::transmission::lines;
/// let body = "e=ps,sid=\"a\",sta=s,ts=1700000000000,v=2\n\ne=ps,sid=\"a\",sta=p,ts=1700000001200,v=2\r\nbr=nope\n";
/// let parsed: Vec<_> = lines(body).collect();
/// assert_eq!(parsed.len(), 3);
/// assert!(parsed[1].1.is_ok() && parsed[1].0 == 3);
/// assert!(parsed[2].1.as_ref().unwrap_err().to_string().contains("`br`"));
/// ```
pub fn lines(body: &str) -> impl Iterator<Item = (usize, Result<Report<'_>>)> + '_ {
    body.split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| (n, Report::parse(line)))
}

/// A JSON value of a CMCD key, as the JSON transmission writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum JsonValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// Any other number.
    Number(f64),
    /// A string (a token for the token keys).
    String(String),
    /// A list (the inner lists of version 2).
    List(Vec<JsonValue>),
}

/// Keys whose string values are tokens.
const TOKEN_KEYS: [&str; 5] = ["ot", "sf", "st", "sta", "e"];

fn write_json(out: &mut String, key: &str, value: &JsonValue, nested: bool) -> std::result::Result<(), String> {
    match value {
        JsonValue::Bool(true) if !nested => {}
        JsonValue::Bool(b) => {
            if !nested {
                out.push('=');
            }
            out.push_str(if *b { "?1" } else { "?0" });
        }
        JsonValue::Integer(i) => {
            if !nested {
                out.push('=');
            }
            let _ = write!(out, "{i}");
        }
        JsonValue::Number(f) => {
            if !f.is_finite() {
                return Err(format!("{f} is not a number CMCD can carry"));
            }
            if !nested {
                out.push('=');
            }
            let text = format!("{f:.3}");
            out.push_str(text.trim_end_matches('0').trim_end_matches('.'));
        }
        JsonValue::String(s) => {
            if !nested {
                out.push('=');
            }
            if TOKEN_KEYS.contains(&key) {
                if !s.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c)) || s.is_empty() {
                    return Err(format!("{s:?} is not a token"));
                }
                out.push_str(s);
            } else {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' | '\\' => {
                            out.push('\\');
                            out.push(c);
                        }
                        ' '..='~' => out.push(c),
                        _ => return Err("strings hold printable ASCII only".into()),
                    }
                }
                out.push('"');
            }
        }
        JsonValue::List(items) => {
            if nested {
                return Err("lists do not nest".into());
            }
            out.push_str("=(");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_json(out, key, item, true)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

/// The report in one JSON object of the JSON transmission, e.g.
/// `{"br": 3200, "bs": true, "ot": "v", "sid": "6e2f"}`.
///
/// ```
/// use streammon_core::cmcd::transmission::{JsonValue, from_json};
/// use streammon_core::cmcd::ObjectType;
/// let members = vec![
///     ("br".to_owned(), JsonValue::Integer(3200)),
///     ("ot".to_owned(), JsonValue::String("v".into())),
///     ("sid".to_owned(), JsonValue::String("6e2f".into())),
///     ("bs".to_owned(), JsonValue::Bool(true)),
/// ];
/// let r = from_json(&members)?;
/// assert_eq!((r.br.first(), r.ot, r.sid.as_deref(), r.bs), (Some(3200), Some(ObjectType::Video), Some("6e2f"), Some(true)));
/// assert!(from_json(&[("br".into(), JsonValue::String("fast".into()))]).unwrap_err().to_string().contains("`br`"));
/// # Ok::<(), streammon_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidCmcd`] naming the key whose value is malformed.
pub fn from_json(members: &[(String, JsonValue)]) -> Result<Report<'static>> {
    let mut text = String::with_capacity(members.len() * 16);
    for (key, value) in members {
        let valid_key = key.bytes().next().is_some_and(|c| c.is_ascii_lowercase() || c == b'*')
            && key.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c));
        if !valid_key {
            return Err(Error::InvalidCmcd {
                key: key.clone(),
                reason: "not a CMCD key (lowercase, digits, _-.*)".into(),
            });
        }
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(key);
        write_json(&mut text, key, value, false).map_err(|reason| Error::InvalidCmcd { key: key.clone(), reason })?;
    }
    Report::parse(&text).map(Report::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_argument_among_others_and_bad_escapes() {
        let mut buf = String::new();
        assert!(from_query("a=1&b=2", &mut buf).unwrap().is_none());
        let r = from_query("CMCD=ot%3Dv%2Csu&x=1", &mut buf).unwrap().unwrap();
        assert_eq!(r.su, Some(true));
        let mut buf = String::new();
        let e = from_query("CMCD=br%3", &mut buf).unwrap_err().to_string();
        assert!(e.contains("percent escape at byte 2"), "{e}");
        let mut buf = String::new();
        assert!(from_query("CMCD=%FF", &mut buf).unwrap_err().to_string().contains("UTF-8"));
        // The encoder of the v1 spec escapes `nor` inside the string too.
        let mut buf = String::new();
        let r = from_query("CMCD=nor%3D%22..%252F300kbps%252Ftrack.m4v%22", &mut buf).unwrap().unwrap();
        assert_eq!(r.nor.as_deref(), Some("..%2F300kbps%2Ftrack.m4v"));
    }

    #[test]
    fn headers_merge_and_json_objects_convert() {
        let mut buf = String::new();
        assert!(from_headers([("Accept", "*/*")], &mut buf).unwrap().is_none());
        let mut buf = String::new();
        let r = from_headers([("CMCD-Status", "bs,rtp=15000"), ("CMCD-Request", "")], &mut buf).unwrap().unwrap();
        assert_eq!((r.bs, r.rtp), (Some(true), Some(15000)));
        let members = vec![
            ("br".to_owned(), JsonValue::List(vec![JsonValue::Integer(3200), JsonValue::Integer(128)])),
            ("pr".to_owned(), JsonValue::Number(1.25)),
            ("su".to_owned(), JsonValue::Bool(false)),
            ("cid".to_owned(), JsonValue::String("a \"b\"".into())),
        ];
        let r = from_json(&members).unwrap();
        assert_eq!(
            (r.br.first(), r.pr, r.su, r.cid.as_deref()),
            (Some(3200), Some(1.25), Some(false), Some("a \"b\""))
        );
        let e = from_json(&[("ot".into(), JsonValue::String("a b".into()))]).unwrap_err().to_string();
        assert!(e.contains("`ot`") && e.contains("not a token"), "{e}");
        assert!(from_json(&[("BR".into(), JsonValue::Integer(1))]).is_err());
        assert!(from_json(&[("ec".into(), JsonValue::List(vec![JsonValue::List(vec![])]))]).is_err());
    }
}
