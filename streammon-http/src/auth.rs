//! Who may write, who may read, and from which pages.
//!
//! - **Ingest tokens** guard every write: `POST /metrics`, Socket.IO
//!   `metric_update`, the CMCD routes (beside CMCD's own per-source
//!   tokens) and `GET /cmcd/sessions`. None configured: writes are open,
//!   which the binary allows only on a loopback address or with
//!   `--open-ingest`.
//! - **Admin tokens** may acknowledge, silence and test alerts (ingest
//!   tokens may too) and read, but not ingest. With neither ingest nor
//!   admin tokens, those actions are open like writes.
//! - **Read tokens**, when any is configured, close everything else but
//!   `GET /health`: the REST reads, the Socket.IO handshake and the
//!   dashboard. An ingest token reads too. A browser opens `/?token=…`
//!   once; the answer sets an `HttpOnly`, `SameSite=Strict` cookie and
//!   redirects to `/`, and the cookie is accepted from then on.
//! - **One Origin allowlist** (`cors_origins`) for CORS and for the
//!   requests themselves: a request whose `Origin` is neither allowed nor
//!   the server's own is refused with 403 before it reaches a handler or
//!   the Socket.IO layer. A request without `Origin` (not a browser, or a
//!   same-origin GET) is let through. `/cmcd` and `/media/` stay open to
//!   every origin: players post CMCD from pages served elsewhere, and
//!   their writes are guarded by tokens.
//!
//! Tokens are compared in constant time ([`subtle`]), are at least
//! [`MIN_TOKEN_BYTES`] long, and print as `<redacted>`.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// The shortest token accepted, bytes.
pub const MIN_TOKEN_BYTES: usize = 16;

/// The cookie the dashboard's browser carries its read token in.
pub const TOKEN_COOKIE: &str = "streammon_token";

/// A secret: at least [`MIN_TOKEN_BYTES`] long, compared in constant time,
/// never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a token must be at least {MIN_TOKEN_BYTES} bytes long; this one has {0}")]
pub struct TokenTooShort(pub usize);

impl TryFrom<String> for Token {
    type Error = TokenTooShort;

    fn try_from(s: String) -> Result<Self, TokenTooShort> {
        if s.len() < MIN_TOKEN_BYTES { Err(TokenTooShort(s.len())) } else { Ok(Self(s)) }
    }
}

impl Token {
    /// Whether `given` is this token, in time that depends only on the
    /// lengths.
    pub fn matches(&self, given: &str) -> bool {
        self.0.as_bytes().ct_eq(given.as_bytes()).into()
    }

    /// The secret itself (to send it, as a client).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The tokens of the server. Empty lists: that side is open.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// Tokens that may write (and read).
    pub ingest_tokens: Vec<Token>,
    /// Tokens that may read; none: reads are open.
    pub read_tokens: Vec<Token>,
    /// Tokens that may acknowledge, silence and test alerts (and read),
    /// but not ingest. Ingest tokens may do this too.
    pub admin_tokens: Vec<Token>,
}

/// Whether `given` is one of `tokens`. Every token is compared, so the time
/// does not say which matched.
pub(crate) fn any_matches(tokens: &[Token], given: &str) -> bool {
    tokens.iter().fold(false, |hit, t| t.matches(given) | hit)
}

/// The bearer token of a request's `Authorization` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The `token=` argument of a query.
pub(crate) fn query_token(query: Option<&str>) -> Option<&str> {
    query.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("token=")))
}

/// The token of the dashboard's cookie.
fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='))
}

impl AuthSettings {
    /// Whether a request with `headers` may write: no ingest token is
    /// configured, or its bearer token is one.
    pub(crate) fn may_write(&self, headers: &HeaderMap) -> bool {
        self.ingest_tokens.is_empty() || bearer(headers).is_some_and(|t| any_matches(&self.ingest_tokens, t))
    }

    /// Whether `given` may write.
    pub(crate) fn is_ingest(&self, given: &str) -> bool {
        any_matches(&self.ingest_tokens, given)
    }

    /// Whether `given` may read (a read, an ingest or an admin token).
    pub(crate) fn is_reader(&self, given: &str) -> bool {
        any_matches(&self.read_tokens, given) | any_matches(&self.ingest_tokens, given) | self.is_admin(given)
    }

    /// Whether `given` may act on alerts (an ingest or an admin token).
    pub(crate) fn is_admin(&self, given: &str) -> bool {
        any_matches(&self.admin_tokens, given) | any_matches(&self.ingest_tokens, given)
    }

    /// Whether a request with `headers` may act on alerts (acknowledge,
    /// silence, test): no ingest or admin token is configured, or its
    /// bearer token or the dashboard's cookie is one. The cookie is
    /// `SameSite=Strict` and every request passes the Origin allowlist
    /// first, so another site cannot act with it.
    pub(crate) fn may_operate(&self, headers: &HeaderMap) -> bool {
        (self.ingest_tokens.is_empty() && self.admin_tokens.is_empty())
            || bearer(headers).or(cookie_token(headers)).is_some_and(|t| self.is_admin(t))
    }

    /// The 401 of an alert action without an admin or ingest token.
    pub(crate) fn operate_refusal(headers: &HeaderMap) -> ApiError {
        ApiError::Unauthorized(match bearer(headers).or(cookie_token(headers)) {
            None => "acknowledging and silencing need an admin token: `Authorization: Bearer <token>`, or open /?token=<token> once in a browser".into(),
            Some(_) => "the token is not an admin or ingest token this server knows".into(),
        })
    }

    /// Whether a request with `headers` may read: no read token is
    /// configured, or its bearer token or cookie is a reader's.
    pub(crate) fn may_read(&self, headers: &HeaderMap) -> bool {
        self.read_tokens.is_empty() || bearer(headers).or(cookie_token(headers)).is_some_and(|t| self.is_reader(t))
    }

    /// The 401 of a write without a valid ingest token.
    pub(crate) fn write_refusal(headers: &HeaderMap) -> ApiError {
        ApiError::Unauthorized(match bearer(headers) {
            None => "writing needs an ingest token: `Authorization: Bearer <token>`".into(),
            Some(_) => "the token is not an ingest token this server knows".into(),
        })
    }
}

/// Paths any origin may call: players post CMCD and fetch media from
/// pages served elsewhere.
pub(crate) const OPEN_PATHS: [&str; 2] = ["/cmcd", "/media/"];

/// Whether `path` is open to every origin and needs no read token.
fn open_path(path: &str) -> bool {
    path != "/cmcd/sessions" && OPEN_PATHS.iter().any(|p| path.starts_with(p))
}

/// Whether `origin` may call `path`: it is on the list (or the list has
/// `*`), the path is open to all, or it is the server's own origin (the
/// `Host` the request was sent to).
pub(crate) fn origin_allowed(origins: &[String], origin: &HeaderValue, path: &str, host: Option<&HeaderValue>) -> bool {
    if origins.iter().any(|o| o == "*") || open_path(path) {
        return true;
    }
    let Ok(origin) = origin.to_str() else { return false };
    if origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
        return true;
    }
    // Same origin: `scheme://host[:port]` whose authority is our Host.
    let authority = origin.split_once("://").map(|(_, a)| a);
    match (authority, host.and_then(|h| h.to_str().ok())) {
        (Some(a), Some(h)) => a.eq_ignore_ascii_case(h),
        _ => false,
    }
}

/// Paths open without a read token here: the health report for
/// supervisors; the CMCD and media paths, which are writes guarded on their
/// own; and Socket.IO, whose handshake is checked by the hub, where the
/// `auth` payload can be read too.
fn open_to_all(path: &str) -> bool {
    path == "/health" || open_path(path) || path.starts_with("/socket.io/")
}

/// The door every request passes first: the Origin allowlist, the read
/// token, and the dashboard's `/?token=` login.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let settings = state.settings();
    let headers = req.headers();
    let path = req.uri().path();
    if let Some(origin) = headers.get(header::ORIGIN)
        && !origin_allowed(&settings.cors_origins, origin, path, headers.get(header::HOST))
    {
        return ApiError::Forbidden(format!(
            "origin {:?} is not allowed; the server's --cors-origin list names the pages that may call it",
            origin.to_str().unwrap_or("?")
        ))
        .into_response();
    }
    let auth = &settings.auth;
    let any_token = !(auth.read_tokens.is_empty() && auth.ingest_tokens.is_empty() && auth.admin_tokens.is_empty());
    // The dashboard's login: `/?token=` sets the cookie, which carries a
    // read token to read, or an admin token to acknowledge and silence.
    if any_token
        && path == "/"
        && let Some(given) = query_token(req.uri().query())
    {
        if !auth.is_reader(given) {
            return ApiError::Unauthorized("the token is not one this server knows".into()).into_response();
        }
        let cookie = format!("{TOKEN_COOKIE}={given}; HttpOnly; SameSite=Strict; Path=/");
        return match HeaderValue::try_from(cookie) {
            Ok(cookie) => (
                StatusCode::SEE_OTHER,
                [(header::SET_COOKIE, cookie), (header::LOCATION, HeaderValue::from_static("/"))],
            )
                .into_response(),
            Err(_) => ApiError::Unauthorized("the token is not one this server knows".into()).into_response(),
        };
    }
    if auth.read_tokens.is_empty() || open_to_all(path) || req.method() == Method::OPTIONS {
        return next.run(req).await;
    }
    if !auth.may_read(headers) {
        return ApiError::Unauthorized(
            "reading needs a read token: `Authorization: Bearer <token>`, or open /?token=<token> once in a browser"
                .into(),
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> Token {
        Token::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn short_tokens_are_refused_and_none_is_printed() {
        assert_eq!(Token::try_from(String::new()), Err(TokenTooShort(0)));
        assert_eq!(Token::try_from("fifteen-bytes!!".to_owned()), Err(TokenTooShort(15)));
        let t = token("sixteen-bytes!!!");
        assert!(t.matches("sixteen-bytes!!!"));
        assert!(!t.matches("sixteen-bytes!!?"));
        assert!(!t.matches("sixteen"));
        assert!(
            !format!(
                "{:?}",
                AuthSettings { ingest_tokens: vec![t.clone()], read_tokens: vec![t], admin_tokens: vec![] }
            )
            .contains("sixteen")
        );
    }

    #[test]
    fn the_cookie_and_the_bearer_read() {
        let auth = AuthSettings {
            ingest_tokens: vec![token("ingest-ingest-ingest")],
            read_tokens: vec![token("read-read-read-read")],
            admin_tokens: vec![token("admin-admin-admin-admin")],
        };
        let mut h = HeaderMap::new();
        assert!(!auth.may_read(&h) && !auth.may_write(&h));
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; streammon_token=read-read-read-read"));
        assert!(auth.may_read(&h) && !auth.may_write(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer ingest-ingest-ingest"));
        assert!(auth.may_read(&h) && auth.may_write(&h));
        assert!(auth.may_operate(&h), "an ingest token acts on alerts");

        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("streammon_token=read-read-read-read"));
        assert!(!auth.may_operate(&h), "a read token does not");
        h.insert(header::COOKIE, HeaderValue::from_static("streammon_token=admin-admin-admin-admin"));
        assert!(auth.may_operate(&h) && auth.may_read(&h) && !auth.may_write(&h), "an admin token acts and reads");
        assert!(AuthSettings::default().may_operate(&HeaderMap::new()), "no token configured: open");
    }

    #[test]
    fn the_own_origin_and_the_listed_ones_are_allowed() {
        let list = vec!["http://localhost:3000".to_owned()];
        let host = HeaderValue::from_static("127.0.0.1:8000");
        let ok = |o: &'static str, path: &str| origin_allowed(&list, &HeaderValue::from_static(o), path, Some(&host));
        assert!(ok("http://localhost:3000", "/content"));
        assert!(ok("http://127.0.0.1:8000", "/socket.io/"));
        assert!(!ok("https://evil.example", "/socket.io/"));
        assert!(!ok("http://127.0.0.1:8001", "/metrics"));
        assert!(ok("https://evil.example", "/cmcd"), "players post CMCD from anywhere");
        assert!(!ok("https://evil.example", "/cmcd/sessions"));
    }
}
