//! The one error type of the HTTP API: a status, a message and the
//! offending field, as JSON.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
///
/// ```json
/// {"status": 400, "error": "bad_request", "message": "`limit`: 0 is not within 1..=1000", "field": "limit"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status code.
    pub status: u16,
    /// A short machine-readable kind, e.g. `bad_request`.
    pub error: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The query parameter or body field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A parameter or body field is invalid: 400.
    #[error("`{field}`: {message}")]
    BadRequest {
        /// The field at fault.
        field: String,
        /// Why.
        message: String,
    },
    /// Nothing at this address: 404.
    #[error("{0}")]
    NotFound(String),
    /// The address exists but not for this method: 405.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request body is over the size limit: 413.
    #[error("{0}")]
    TooLarge(String),
    /// The server sheds load: 429, with `Retry-After` in seconds.
    #[error("{message}")]
    TooBusy {
        /// Why.
        message: String,
        /// Seconds after which a retry may succeed.
        retry_after_s: u32,
    },
    /// The request needs a valid token: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// The request's `Origin` is not one the server allows: 403.
    #[error("{0}")]
    Forbidden(String),
    /// The client should stop sending (a CMCD session that is over or not
    /// sampled): 410.
    #[error("{0}")]
    Gone(String),
    /// The body's media type is not one this endpoint reads: 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request would take something past a configured limit (new
    /// regions, titles or series beyond `[limits]`): 422, naming the field
    /// and the limit.
    #[error("{message}")]
    LimitReached {
        /// The field that named something new, e.g. `region`.
        field: String,
        /// Which limit, e.g. `at most 64 regions (limits.max_regions)`.
        message: String,
    },
    /// Storage failed: 503, with `Retry-After`. The detail is logged, not
    /// sent.
    #[error("storage unavailable")]
    Unavailable(String),
    /// The server is stopping (or its pipeline failed) and takes nothing
    /// more: 503, with `Retry-After`. Its replacement will.
    #[error("{0}")]
    Stopping(String),
}

/// Seconds a client is told to wait after a 503 for storage: Redis
/// reconnects within a second or two.
pub(crate) const RETRY_STORAGE_S: u32 = 5;
/// Seconds a client is told to wait after a 503 from a server that is
/// stopping: a supervisor restarts it in about that time.
pub(crate) const RETRY_STOPPING_S: u32 = 2;

impl ApiError {
    /// A 400 naming `field`.
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest { field: field.into(), message: message.into() }
    }

    /// A request body that could not be read: 413 over `max_body_bytes`,
    /// else 400 naming `body`.
    pub(crate) fn from_body(e: &axum::extract::rejection::BytesRejection, max_body_bytes: usize) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::TooLarge(format!("the body is over {max_body_bytes} bytes"))
        } else {
            Self::bad("body", e.body_text())
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooBusy { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Gone(_) => StatusCode::GONE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::LimitReached { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::Stopping(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `Retry-After` header's seconds: every 429 and 503 has one.
    fn retry_after_s(&self) -> Option<u32> {
        match self {
            Self::TooBusy { retry_after_s, .. } => Some(*retry_after_s),
            Self::Unavailable(_) => Some(RETRY_STORAGE_S),
            Self::Stopping(_) => Some(RETRY_STOPPING_S),
            _ => None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        let status = self.status();
        let (error, field) = match self {
            Self::BadRequest { field, .. } => ("bad_request", Some(field.clone())),
            Self::NotFound(_) => ("not_found", None),
            Self::MethodNotAllowed(_) => ("method_not_allowed", None),
            Self::TooLarge(_) => ("too_large", Some("body".to_owned())),
            Self::TooBusy { .. } => ("too_busy", None),
            Self::Unauthorized(_) => ("unauthorized", Some("token".to_owned())),
            Self::Forbidden(_) => ("forbidden", Some("origin".to_owned())),
            Self::Gone(_) => ("gone", None),
            Self::UnsupportedMediaType(_) => ("unsupported_media_type", Some("content-type".to_owned())),
            Self::LimitReached { field, .. } => ("limit_reached", Some(field.clone())),
            Self::Unavailable(_) => ("unavailable", None),
            Self::Stopping(_) => ("stopping", None),
        };
        ErrorBody { status: status.as_u16(), error, message: self.to_string(), field }
    }
}

impl From<streammon_core::limits::Refusal> for ApiError {
    fn from(refusal: streammon_core::limits::Refusal) -> Self {
        Self::LimitReached { field: refusal.limit.field().to_owned(), message: refusal.to_string() }
    }
}

impl From<streammon_core::StoreError> for ApiError {
    fn from(err: streammon_core::StoreError) -> Self {
        match err {
            streammon_core::StoreError::InvalidConfig { field, reason } => Self::bad(field, reason),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Unavailable(detail) = &self {
            tracing::warn!(target: "streammon::http", %detail, "storage query failed");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after_s() {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_503_and_429_carries_retry_after() {
        let errors = [
            ApiError::Unavailable("redis: connection refused".into()),
            ApiError::Stopping("the server is stopping".into()),
            ApiError::TooBusy { message: "busy".into(), retry_after_s: 3 },
        ];
        for e in errors {
            let status = e.status();
            let response = e.into_response();
            assert!(matches!(status.as_u16(), 429 | 503));
            let retry = response.headers().get(axum::http::header::RETRY_AFTER);
            assert!(retry.and_then(|v| v.to_str().ok()?.parse::<u32>().ok()).is_some_and(|s| s > 0), "{status}");
        }
        let response = ApiError::NotFound("x".into()).into_response();
        assert!(response.headers().get(axum::http::header::RETRY_AFTER).is_none());
    }
}
