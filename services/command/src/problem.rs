//! Errors as `application/problem+json` (RFC 9457), made in one place.
//!
//! A 4xx names what the caller got wrong, with a stable `code` and, where a field is at
//! fault, the field. A 500 says nothing of its cause to the caller; the cause is logged.

use crate::auth::AuthError;
use allweather_domain::{DomainError, Refusal};
use allweather_log::{AppendError, LogError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One field-level reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as a path into the body (`note`, `entries[0].hours`), or `body`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request cannot be read: bad JSON, a wrong type, an unknown field. 400.
    #[error("{detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
        /// The fields at fault.
        errors: Vec<FieldError>,
    },
    /// The body is larger than the limit. 413.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// No valid token. 401.
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    /// The principal may not see or do this (outside the domain's rules). 403.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing is there. 404.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state. 409.
    #[error("{0}")]
    Conflict(String),
    /// A rule refuses the request. 422.
    #[error("{0}")]
    Invalid(String),
    /// The domain refused the command: 403, 404, 409 or 422 by the rule broken.
    #[error(transparent)]
    Refused(#[from] DomainError),
    /// An idempotency key already answered a different request (another command or
    /// body). 422.
    #[error("{0}")]
    KeyReused(String),
    /// The token sent more commands than its rate allows. 429.
    #[error("too many commands from this token; retry in {retry_after} s")]
    TooManyRequests {
        /// Seconds until the next command is admitted.
        retry_after: u64,
    },
    /// The database is out of reach or read-only; retry later. 503.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else. 500; the cause is logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    errors: &'a [FieldError],
    /// The rule of the domain that refused the command, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
}

impl ApiError {
    /// A malformed request blamed on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        ApiError::Malformed {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError { field, message }],
        }
    }

    /// The stable `code` of the problem (`malformed`, `conflict`, …).
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Malformed { .. } => {
                (StatusCode::BAD_REQUEST, "malformed", "Malformed request")
            }
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
            ApiError::Refused(e) => match e.rule.refusal() {
                Refusal::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
                Refusal::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
                Refusal::Conflict => (StatusCode::CONFLICT, "conflict", "Conflict"),
                Refusal::Invalid => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "Refused by a rule",
                ),
            },
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Refused by a rule",
            ),
            ApiError::KeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency key reused",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(err: AppendError) -> Self {
        match err {
            AppendError::VersionConflict { .. } | AppendError::CommandIdReused { .. } => {
                ApiError::Conflict(err.to_string())
            }
            AppendError::Invalid(e) => ApiError::Invalid(e.to_string()),
            AppendError::ReadOnly(_) | AppendError::Unavailable(_) | AppendError::ShuttingDown => {
                tracing::warn!(error = %err, "append refused for now");
                ApiError::Unavailable(err.to_string())
            }
            AppendError::Storage(e) => ApiError::Internal(anyhow::Error::new(e).context("append")),
        }
    }
}

impl From<LogError> for ApiError {
    fn from(err: LogError) -> Self {
        match err {
            LogError::Unavailable(_) => ApiError::Unavailable(err.to_string()),
            other => ApiError::Internal(anyhow::Error::new(other).context("read the log")),
        }
    }
}

impl ApiError {
    /// The status and the problem body, the same over HTTP and NATS. A 500's cause is
    /// logged here and not put in the body.
    pub fn problem(&self) -> (StatusCode, serde_json::Value) {
        let (status, code, title) = self.parts();
        let refused_on;
        let (detail, errors) = match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                (
                    "an internal error occurred; it has been logged".to_string(),
                    &[][..],
                )
            }
            ApiError::Malformed { detail, errors } => (detail.clone(), errors.as_slice()),
            ApiError::Refused(e) => {
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
                ApiError::Refused(e) => Some(e.rule.name()),
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
            ApiError::TooManyRequests { retry_after } => {
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
