//! Errors as `application/problem+json` (RFC 9457), made in one place.
//!
//! A 4xx names what the caller got wrong, with a stable `code` and, where a field is at
//! fault, the field. A 500 says nothing of its cause to the caller; the cause is logged.
//! A domain refusal also carries the `rule` broken; 401 carries `WWW-Authenticate:
//! Bearer`; 429 and 503 carry `Retry-After`. The codes: `malformed` 400,
//! `unauthenticated` 401, `forbidden` 403, `not_found` 404, `timed_out` 408, `conflict`
//! 409, `too_large` 413, `invalid` and `idempotency_key_reused` 422, `rate_limited` 429, `unavailable` 503,
//! `internal` 500.

use crate::auth::AuthError;
use crate::error::{CommandError, FieldError};
use allweather_domain::{DomainError, Refusal};
use allweather_log::{AppendError, LogError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error the API answers with: the application's, or the transport's own (no valid
/// token, a body over the limit).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// What the application answered. Its status by kind, below.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// No valid token. 401.
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    /// The body is larger than the limit. 413.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body did not arrive in time. 408.
    #[error("the request body did not arrive in time")]
    TimedOut,
}

/// An error (RFC 9457), as every route answers it; a refused command changed nothing.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Problem<'a> {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    kind: String,
    /// The kind, for a person.
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// What went wrong, as a sentence.
    detail: String,
    /// A stable code: `malformed`, `unauthenticated`, `forbidden`, `not_found`,
    /// `timed_out`, `conflict`, `too_large`, `invalid`, `idempotency_key_reused`, `rate_limited`,
    /// `unavailable` or `internal`.
    code: &'a str,
    /// The fields at fault.
    errors: &'a [FieldError],
    /// The rule of the domain that refused the command, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
}

impl ApiError {
    /// A malformed request blamed on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        CommandError::field(field, message).into()
    }

    /// The principal may not see or do this. 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        CommandError::Forbidden(detail.into()).into()
    }

    /// Nothing is there. 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        CommandError::NotFound(detail.into()).into()
    }

    /// The service cannot answer now; retry later. 503.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        CommandError::Unavailable(detail.into()).into()
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Command(e) => e.parts(),
            ApiError::TooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "Request too large",
            ),
            ApiError::Unauthenticated(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Unauthenticated",
            ),
            ApiError::TimedOut => (
                StatusCode::REQUEST_TIMEOUT,
                "timed_out",
                "Request timed out",
            ),
        }
    }
}

/// The one mapping of the application's answers to a status, a stable code and a title,
/// for HTTP and NATS alike.
impl CommandError {
    /// The stable `code` of the problem (`malformed`, `conflict`, …).
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            CommandError::Malformed { .. } => {
                (StatusCode::BAD_REQUEST, "malformed", "Malformed request")
            }
            CommandError::Refused(e) => match e.rule.refusal() {
                Refusal::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
                Refusal::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
                Refusal::Conflict => (StatusCode::CONFLICT, "conflict", "Conflict"),
                Refusal::Invalid => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "Refused by a rule",
                ),
            },
            CommandError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            CommandError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            CommandError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            CommandError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Refused by a rule",
            ),
            CommandError::KeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency key reused",
            ),
            CommandError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            CommandError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            CommandError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(err: AppendError) -> Self {
        CommandError::from(err).into()
    }
}

impl From<LogError> for ApiError {
    fn from(err: LogError) -> Self {
        CommandError::from(err).into()
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        CommandError::from(err).into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        CommandError::from(err).into()
    }
}

impl ApiError {
    /// The status and the problem body, the same over HTTP and NATS. A 500's cause is
    /// logged here and not put in the body.
    pub fn problem(&self) -> (StatusCode, serde_json::Value) {
        let (status, code, title) = self.parts();
        let refused_on;
        let (detail, errors) = match self {
            ApiError::Command(CommandError::Internal(cause)) => {
                tracing::error!(error = ?cause, "internal error");
                (
                    "an internal error occurred; it has been logged".to_string(),
                    &[][..],
                )
            }
            ApiError::Command(CommandError::Malformed { detail, errors }) => {
                (detail.clone(), errors.as_slice())
            }
            ApiError::Command(CommandError::Refused(e)) => {
                refused_on = e
                    .field
                    .map(|field| FieldError {
                        field: field.to_owned(),
                        message: e.detail.clone(),
                    })
                    .into_iter()
                    .collect::<Vec<_>>();
                (e.to_string(), refused_on.as_slice())
            }
            other => (other.to_string(), &[][..]),
        };
        let body = Problem {
            kind: format!("https://allweather.example/problems/{code}"),
            title,
            status: status.as_u16(),
            detail,
            code,
            errors,
            rule: match self {
                ApiError::Command(CommandError::Refused(e)) => Some(e.rule.name()),
                _ => None,
            },
        };
        (status, serde_json::to_value(body).unwrap_or_default())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.problem();
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::Command(CommandError::TooManyRequests { retry_after }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            _ => {}
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
