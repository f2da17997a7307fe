//! What the application answers instead of a result: [`CommandError`], one variant per kind
//! of answer a caller must tell apart. It speaks no transport: the HTTP and NATS adapters
//! turn it into a status and a problem body in one place ([`crate::problem`]).

use allweather_domain::DomainError;
use allweather_log::{AppendError, LogError};
use serde::Serialize;

/// One field-level reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct FieldError {
    /// The field, as a path into the body (`note`, `entries[0].hours`), or `body`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why a command (or a query of the command service) was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The request cannot be read: bad JSON, a wrong type, an unknown field.
    #[error("{detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
        /// The fields at fault.
        errors: Vec<FieldError>,
    },
    /// The principal may not see or do this (outside the domain's rules).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing is there.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (a stream that kept changing).
    #[error("{0}")]
    Conflict(String),
    /// The log refused the request as invalid.
    #[error("{0}")]
    Invalid(String),
    /// A rule of the domain refused the command.
    #[error(transparent)]
    Refused(#[from] DomainError),
    /// An idempotency key already answered a different request (another command or
    /// body).
    #[error("{0}")]
    KeyReused(String),
    /// The caller sent more than its rate allows (commands per token, anonymous queries
    /// per address, as-of replays per caller).
    #[error("too many requests from this caller; retry in {retry_after} s")]
    TooManyRequests {
        /// Seconds until the next command is admitted.
        retry_after: u64,
    },
    /// The database is out of reach or read-only; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: the cause is logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CommandError {
    /// A malformed request blamed on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        CommandError::Malformed {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError { field, message }],
        }
    }
}

impl From<AppendError> for CommandError {
    fn from(err: AppendError) -> Self {
        match err {
            AppendError::VersionConflict { .. } | AppendError::CommandIdReused { .. } => {
                CommandError::Conflict(err.to_string())
            }
            AppendError::Invalid(e) => CommandError::Invalid(e.to_string()),
            AppendError::ReadOnly(_) | AppendError::Unavailable(_) | AppendError::ShuttingDown => {
                tracing::warn!(error = %err, "append refused for now");
                CommandError::Unavailable(err.to_string())
            }
            AppendError::Storage(e) => {
                CommandError::Internal(anyhow::Error::new(e).context("append"))
            }
        }
    }
}

impl From<LogError> for CommandError {
    fn from(err: LogError) -> Self {
        match err {
            LogError::Unavailable(_) => CommandError::Unavailable(err.to_string()),
            other => CommandError::Internal(anyhow::Error::new(other).context("read the log")),
        }
    }
}
