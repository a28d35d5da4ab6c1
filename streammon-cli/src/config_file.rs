//! Reading a TOML configuration file, with `file:line: reason` errors.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::CliError;

/// Reads and parses `path` as TOML into `T`, and returns it with the
/// file's text (for [`locate`]).
///
/// # Errors
/// [`CliError::Io`] when the file cannot be read; otherwise as [`parse`].
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<(T, String), CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    let value = parse(path, &text)?;
    Ok((value, text))
}

/// Parses `text`, the contents of `path`, as TOML into `T`.
///
/// # Errors
/// [`CliError::Input`] for a syntax or type error, with the line toml
/// reports; unknown or invalid fields are refused (every config struct
/// denies unknown fields).
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, CliError> {
    toml::from_str::<T>(text).map_err(|err| CliError::Input {
        path: path.to_owned(),
        line: err.span().map(|span| line_of(text, span.start)),
        reason: err.message().to_owned(),
    })
}

/// Turns a core validation error about a file's contents (`text`, read
/// from `path`) into `file:line: reason`, finding the line where the
/// offending key is set.
pub fn locate(path: &Path, text: &str, err: streammon_core::Error) -> CliError {
    let line = match &err {
        // A key that is missing is placed at the table that lacks it.
        streammon_core::Error::InvalidConfig { field, .. } => {
            key_line(text, field).or_else(|| field.rsplit_once('.').and_then(|(parent, _)| key_line(text, parent)))
        }
        _ => None,
    };
    CliError::Input { path: path.to_owned(), line, reason: err.to_string() }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The line that sets the last key of a dotted field path such as
/// `incidents.scripted[0].target`, counting array entries so that
/// `regions[2].capacity_gbps` finds the third.
fn key_line(text: &str, field: &str) -> Option<usize> {
    let last = field.rsplit('.').next()?;
    let key = last.split('[').next()?;
    let nth = field
        .split('.')
        .filter_map(|part| part.split_once('[').and_then(|(_, rest)| rest.trim_end_matches(']').parse::<usize>().ok()))
        .next_back()
        .unwrap_or(0);
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let is_key = trimmed.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='));
        let name = trimmed.trim_start_matches('[').split(']').next().unwrap_or("");
        let is_table = trimmed.starts_with('[')
            && (trimmed.trim_start_matches('[').starts_with(key) || name.rsplit('.').next() == Some(key));
        // `key = [...]`: an inline array, on one line.
        if is_key && field.ends_with(']') {
            return Some(i + 1);
        }
        if is_key || is_table {
            if seen == nth {
                return Some(i + 1);
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nth_key() {
        let text =
            "seed = 1\n[[regions]]\nid = \"a\"\ncapacity_gbps = 1\n[[regions]]\nid = \"b\"\ncapacity_gbps = -1\n";
        assert_eq!(key_line(text, "regions[1].capacity_gbps"), Some(7));
        assert_eq!(key_line(text, "seed"), Some(1));
        assert_eq!(key_line(text, "titles"), None);
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 9), 2);
    }
}
