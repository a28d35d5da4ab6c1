//! The Structured Field Values syntax (RFC 8941) that CMCD is written in:
//! a dictionary of `key[=value]` members separated by commas, whose values
//! are integers, decimals, strings, tokens, booleans, byte sequences or
//! inner lists `( … )`, each with optional `;key=value` parameters.
//!
//! The parser reads the text once, borrows from it (a string allocates
//! only when it holds an escape), and hands each member to a callback, so
//! parsing a payload allocates nothing. It is lenient where players are
//! known to be: spaces around commas, `key=true`/`key=false` for
//! booleans. Every error gives the byte offset.

use std::borrow::Cow;

/// A syntax error: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Byte offset in the text.
    pub(crate) at: usize,
    /// What was wrong, e.g. `expected a digit`.
    pub(crate) reason: &'static str,
}

/// A bare item: the value of a member, an inner list's item, or a
/// parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Bare<'a> {
    /// `42`, `-7`.
    Integer(i64),
    /// `1.08`.
    Decimal(f64),
    /// `"text"`, unescaped.
    String(Cow<'a, str>),
    /// `v`, `ps`, `*x:y/z`.
    Token(&'a str),
    /// `?1`, `?0`, or a key without a value (true).
    Boolean(bool),
    /// `:base64:`, the base64 text as given.
    Bytes(&'a str),
}

impl Bare<'_> {
    /// What kind of item this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Integer(_) => "an integer",
            Self::Decimal(_) => "a decimal",
            Self::String(_) => "a string",
            Self::Token(_) => "a token",
            Self::Boolean(_) => "a boolean",
            Self::Bytes(_) => "a byte sequence",
        }
    }
}

/// The parameters of an item or inner list: `;key=value` pairs, kept as
/// the text they were written in and parsed again on demand (the syntax
/// was checked once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a>(&'a str);

impl<'a> Params<'a> {
    /// The parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Bare<'a>)> + 'a {
        let text = self.0;
        let mut p = Parser { s: text.as_bytes(), text, i: 0 };
        std::iter::from_fn(move || p.parameter().ok().flatten())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One item of an inner list.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<'a> {
    /// Its value.
    pub bare: Bare<'a>,
    /// Its parameters.
    pub params: Params<'a>,
}

/// An inner list `(a b c)`, kept as its text and parsed again on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerList<'a>(&'a str);

impl<'a> InnerList<'a> {
    /// The items in order.
    pub fn items(&self) -> impl Iterator<Item = Item<'a>> + 'a {
        let text = self.0;
        let mut p = Parser { s: text.as_bytes(), text, i: 1 };
        std::iter::from_fn(move || {
            p.skip_sp();
            if p.peek() == Some(b')') || p.peek().is_none() {
                return None;
            }
            let bare = p.bare().ok()?;
            let params = p.params().ok()?;
            Some(Item { bare, params })
        })
    }
}

/// A dictionary member's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// One item.
    Item(Bare<'a>),
    /// An inner list.
    List(InnerList<'a>),
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

fn err<T>(at: usize, reason: &'static str) -> Result<T, SyntaxError> {
    Err(SyntaxError { at, reason })
}

/// Bytes that may continue a token: RFC 9110 `tchar`, `:` and `/`.
static TOKEN_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
                    | b':'
                    | b'/'
            );
        c += 1;
    }
    t
};

/// Bytes that may continue a key: lowercase letters, digits, `_-.*`.
static KEY_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.' | b'*');
        c += 1;
    }
    t
};

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn key(&mut self) -> Result<&'a str, SyntaxError> {
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => self.i += 1,
            Some(c) if c.is_ascii_uppercase() => return err(start, "keys are lowercase"),
            _ => return err(start, "expected a key"),
        }
        while let Some(c) = self.peek() {
            if KEY_BYTE[usize::from(c)] {
                self.i += 1;
            } else if c.is_ascii_uppercase() {
                return err(self.i, "keys are lowercase");
            } else {
                break;
            }
        }
        Ok(&self.text[start..self.i])
    }

    fn number(&mut self) -> Result<Bare<'a>, SyntaxError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let int_len = self.i - digits;
        if int_len == 0 {
            return err(self.i, "expected a digit");
        }
        if self.peek() != Some(b'.') {
            if int_len > 15 {
                return err(start, "integers have at most 15 digits");
            }
            let v: i64 =
                self.text[start..self.i].parse().map_err(|_| SyntaxError { at: start, reason: "bad integer" })?;
            return Ok(Bare::Integer(v));
        }
        if int_len > 12 {
            return err(start, "decimals have at most 12 integer digits");
        }
        self.i += 1;
        let frac = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        match self.i - frac {
            0 => err(self.i, "expected a digit after the decimal point"),
            1..=3 => {
                let v: f64 =
                    self.text[start..self.i].parse().map_err(|_| SyntaxError { at: start, reason: "bad decimal" })?;
                Ok(Bare::Decimal(v))
            }
            _ => err(frac, "decimals have at most 3 fractional digits"),
        }
    }

    fn string(&mut self) -> Result<Bare<'a>, SyntaxError> {
        let open = self.i;
        self.i += 1;
        let start = self.i;
        // Fast path: no escape before the closing quote.
        let end = self.s[start..].iter().position(|&c| c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c));
        if let Some(n) = end
            && self.s[start + n] == b'"'
        {
            self.i = start + n + 1;
            return Ok(Bare::String(Cow::Borrowed(&self.text[start..start + n])));
        }
        let mut owned: Option<String> = None;
        loop {
            match self.peek() {
                None => return err(open, "unterminated string"),
                Some(b'"') => {
                    let s = match owned {
                        Some(o) => Cow::Owned(o),
                        None => Cow::Borrowed(&self.text[start..self.i]),
                    };
                    self.i += 1;
                    return Ok(Bare::String(s));
                }
                Some(b'\\') => {
                    let o = owned.get_or_insert_with(|| self.text[start..self.i].to_owned());
                    match self.s.get(self.i + 1) {
                        Some(&c @ (b'"' | b'\\')) => o.push(c as char),
                        _ => return err(self.i, "only \\\" and \\\\ may be escaped in a string"),
                    }
                    self.i += 2;
                }
                Some(c) if (0x20..0x7f).contains(&c) => {
                    if let Some(o) = owned.as_mut() {
                        o.push(c as char);
                    }
                    self.i += 1;
                }
                Some(_) => return err(self.i, "strings hold printable ASCII only"),
            }
        }
    }

    fn token(&mut self) -> Result<Bare<'a>, SyntaxError> {
        let start = self.i;
        self.i += 1;
        while self.peek().is_some_and(|c| TOKEN_BYTE[usize::from(c)]) {
            self.i += 1;
        }
        Ok(Bare::Token(&self.text[start..self.i]))
    }

    fn bare(&mut self) -> Result<Bare<'a>, SyntaxError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => self.token(),
            Some(b'?') => match self.s.get(self.i + 1) {
                Some(b'1') => {
                    self.i += 2;
                    Ok(Bare::Boolean(true))
                }
                Some(b'0') => {
                    self.i += 2;
                    Ok(Bare::Boolean(false))
                }
                _ => err(self.i + 1, "a boolean is ?1 or ?0"),
            },
            Some(b':') => {
                let start = self.i + 1;
                self.i = start;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || b"+/=".contains(&c)) {
                    self.i += 1;
                }
                if self.peek() != Some(b':') {
                    return err(self.i, "unterminated byte sequence");
                }
                self.i += 1;
                Ok(Bare::Bytes(&self.text[start..self.i - 1]))
            }
            None => err(self.i, "expected a value"),
            Some(_) => err(self.i, "expected a number, string, token, boolean or byte sequence"),
        }
    }

    /// One `;key[=value]`, or `None` when no parameter follows.
    fn parameter(&mut self) -> Result<Option<(&'a str, Bare<'a>)>, SyntaxError> {
        if self.peek() != Some(b';') {
            return Ok(None);
        }
        self.i += 1;
        self.skip_sp();
        let key = self.key()?;
        let value = if self.peek() == Some(b'=') {
            self.i += 1;
            self.bare()?
        } else {
            Bare::Boolean(true)
        };
        Ok(Some((key, value)))
    }

    fn params(&mut self) -> Result<Params<'a>, SyntaxError> {
        let start = self.i;
        while self.parameter()?.is_some() {}
        Ok(Params(&self.text[start..self.i]))
    }

    fn inner_list(&mut self) -> Result<InnerList<'a>, SyntaxError> {
        let start = self.i;
        self.i += 1;
        loop {
            self.skip_sp();
            match self.peek() {
                Some(b')') => {
                    self.i += 1;
                    return Ok(InnerList(&self.text[start..self.i]));
                }
                None => return err(start, "unterminated inner list"),
                Some(_) => {
                    self.bare()?;
                    self.params()?;
                    if self.peek().is_none() {
                        return err(start, "unterminated inner list");
                    }
                    if !matches!(self.peek(), Some(b' ' | b')')) {
                        return err(self.i, "expected a space or ) in the inner list");
                    }
                }
            }
        }
    }
}

/// One dictionary member as read: its key, value, parameters, and the
/// text of the value with its parameters (empty for a bare key).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: Value<'a>,
    pub(crate) params: Params<'a>,
    pub(crate) raw: &'a str,
}

/// Reads a dictionary, calling `member` with each member in order.
/// `member` may stop the parse with an error of its own.
pub(crate) fn parse_dictionary<'a, E>(
    text: &'a str,
    mut member: impl FnMut(Member<'a>) -> Result<(), E>,
) -> Result<(), DictError<E>> {
    let mut p = Parser { s: text.as_bytes(), text, i: 0 };
    p.skip_ows();
    if p.peek().is_none() {
        return Ok(());
    }
    loop {
        let key = p.key().map_err(DictError::Syntax)?;
        let raw_start = p.i + usize::from(p.peek() == Some(b'='));
        let value = if p.peek() == Some(b'=') {
            p.i += 1;
            if p.peek() == Some(b'(') {
                Value::List(p.inner_list().map_err(DictError::Syntax)?)
            } else {
                Value::Item(p.bare().map_err(DictError::Syntax)?)
            }
        } else {
            Value::Item(Bare::Boolean(true))
        };
        let params = p.params().map_err(DictError::Syntax)?;
        let raw = &text[raw_start.min(p.i)..p.i];
        member(Member { key, value, params, raw }).map_err(DictError::Member)?;
        p.skip_ows();
        match p.peek() {
            None => return Ok(()),
            Some(b',') => {
                p.i += 1;
                p.skip_ows();
                if p.peek().is_none() {
                    return Err(DictError::Syntax(SyntaxError { at: p.i, reason: "a comma ends the payload" }));
                }
            }
            Some(_) => return Err(DictError::Syntax(SyntaxError { at: p.i, reason: "expected a comma" })),
        }
    }
}

/// Why a dictionary could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DictError<E> {
    /// The text is not a structured dictionary.
    Syntax(SyntaxError),
    /// The member callback refused a member.
    Member(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Result<Vec<(String, String)>, SyntaxError> {
        let mut out = Vec::new();
        parse_dictionary::<()>(text, |Member { key: k, value: v, params: p, .. }| {
            let v = match v {
                Value::Item(b) => format!("{b:?}"),
                Value::List(l) => format!(
                    "{:?}",
                    l.items().map(|i| (i.bare, i.params.iter().collect::<Vec<_>>())).collect::<Vec<_>>()
                ),
            };
            let p: Vec<_> = p.iter().collect();
            out.push((k.to_owned(), if p.is_empty() { v } else { format!("{v} {p:?}") }));
            Ok(())
        })
        .map_err(|e| match e {
            DictError::Syntax(s) => s,
            DictError::Member(()) => unreachable!(),
        })?;
        Ok(out)
    }

    #[test]
    fn every_kind_of_value() {
        let m = members(r#"a=1,b=-2.5,c="x \"y\"",d=tok:/x,e,f=?0,g=:AQ==:,h=(1 2;v "s"),i;p=1"#).unwrap();
        let v: Vec<&str> = m.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(v[0], "Integer(1)");
        assert_eq!(v[1], "Decimal(-2.5)");
        assert_eq!(v[2], "String(\"x \\\"y\\\"\")");
        assert_eq!(v[3], "Token(\"tok:/x\")");
        assert_eq!(v[4], "Boolean(true)");
        assert_eq!(v[5], "Boolean(false)");
        assert_eq!(v[6], "Bytes(\"AQ==\")");
        assert!(v[7].contains("Integer(2), [(\"v\", Boolean(true))]") && v[7].contains("String(\"s\")"), "{}", v[7]);
        assert_eq!(v[8], "Boolean(true) [(\"p\", Integer(1))]");
    }

    #[test]
    fn errors_point_at_the_byte() {
        assert_eq!(members("a=1,,b").unwrap_err().at, 4);
        assert_eq!(members("a=\"open").unwrap_err().reason, "unterminated string");
        assert_eq!(members("Br=1").unwrap_err().reason, "keys are lowercase");
        assert_eq!(members("a=1.2345").unwrap_err().reason, "decimals have at most 3 fractional digits");
        assert_eq!(members("a=(1 2").unwrap_err().reason, "unterminated inner list");
        assert_eq!(members("a=1 b=2").unwrap_err().reason, "expected a comma");
        assert_eq!(members("a=1,").unwrap_err().reason, "a comma ends the payload");
        assert_eq!(members("a=1234567890123456").unwrap_err().reason, "integers have at most 15 digits");
        assert!(members("").unwrap().is_empty());
        assert_eq!(members(" a=1 , b=2 ").unwrap().len(), 2);
    }
}
