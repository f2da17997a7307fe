//! The log's errors: what went wrong with an append, and with opening or reading the log.
//!
//! [`AppendError`] keeps the caller's faults — [`InvalidAppend`] (no events, too many, a
//! payload over the limit, 256 KiB by default, a bad event type name…), `VersionConflict`,
//! `CommandIdReused` (a command id first used on another stream) — apart from the
//! database's state: `ReadOnly`, `Unavailable` (unreachable, FATAL, out of resources,
//! busy), `Storage`, and `ShuttingDown`. Invalid appends are refused before they reach the
//! database.

use allweather_events::{BrokenLink, MalformedStreamId};
use sqlx::postgres::PgSeverity;
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// What version a stream must be at for an append to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Whatever the version is (no concurrency check).
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must be at exactly this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// The expectation that a stream is still at `version`, as it was read (0: absent).
    pub fn read_at(version: u64) -> ExpectedVersion {
        if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        }
    }

    /// Whether a stream at `actual` satisfies the expectation.
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => actual == v,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream (version 0)"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// An append that is wrong in itself, refused before it reaches the database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAppend {
    /// An append must carry at least one event.
    #[error("an append must carry at least one event")]
    NoEvents,
    /// Too many events in one append.
    #[error("an append may carry at most {limit} events, this one has {count}")]
    TooManyEvents {
        /// Events given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A payload over the size limit.
    #[error("the {event_type} payload is {size} bytes, over the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The event's type.
        event_type: String,
        /// Its canonical size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An event type name that is not a PascalCase word.
    #[error("event type {0:?} is not a PascalCase name of at most 64 ASCII letters and digits")]
    BadEventType(String),
    /// A schema version of 0.
    #[error("schema versions start at 1")]
    BadSchemaVersion,
    /// One append writes the same stream twice.
    #[error("stream {0} appears twice in one append")]
    StreamTwice(String),
    /// An actor id that is empty or too long.
    #[error("the actor id must be 1 to 128 bytes")]
    BadActorId,
    /// A stream id that is not `{aggregate}-{id}`.
    #[error(transparent)]
    StreamId(#[from] MalformedStreamId),
}

/// Why an append did not commit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// The stream was not at the expected version: someone else appended first.
    #[error("stream {stream_id} is at version {actual}, the append expected {expected}")]
    VersionConflict {
        /// The stream.
        stream_id: String,
        /// What the append expected.
        expected: ExpectedVersion,
        /// The version the stream is at.
        actual: u64,
    },
    /// The command id was already used for a different stream.
    #[error("command id {command_id} was already used for stream {original_stream}")]
    CommandIdReused {
        /// The command id.
        command_id: Uuid,
        /// The stream the first use appended to.
        original_stream: String,
    },
    /// The append is wrong in itself.
    #[error(transparent)]
    Invalid(#[from] InvalidAppend),
    /// The database refuses writes (a read-only database, replica or file).
    #[error("the log is read-only: {0}")]
    ReadOnly(Arc<sqlx::Error>),
    /// The database cannot be reached or is out of resources; nothing was written, or
    /// (if the connection broke during commit) the outcome is unknown and a retry with the
    /// same command id is safe.
    #[error("the log's database is unavailable: {0}")]
    Unavailable(Arc<sqlx::Error>),
    /// The log is shutting down and takes no more appends.
    #[error("the log is shutting down")]
    ShuttingDown,
    /// Any other database error.
    #[error("the log's database failed: {0}")]
    Storage(Arc<sqlx::Error>),
}

impl AppendError {
    /// Sorts a database error into unavailable, read-only or other.
    pub(crate) fn from_sqlx(err: sqlx::Error) -> Self {
        match classify(&err) {
            Class::ReadOnly => AppendError::ReadOnly(Arc::new(err)),
            Class::Unavailable => AppendError::Unavailable(Arc::new(err)),
            Class::Other => AppendError::Storage(Arc::new(err)),
        }
    }
}

/// Errors opening, reading or verifying the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The database URL is not one the log understands.
    #[error("unsupported database URL scheme {0:?}: expected postgres://… or sqlite:…")]
    UnsupportedUrl(String),
    /// The database URL cannot be read. The URL itself is not repeated: it may hold a
    /// password.
    #[error("the database URL cannot be read: {0}")]
    BadUrl(#[source] sqlx::Error),
    /// The database cannot be reached.
    #[error("the log's database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The schema could not be created or brought up to date.
    #[error("migrating the log's schema failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row cannot be read as an event.
    #[error("the event at position {position} is unreadable: {what}")]
    Corrupt {
        /// Its position.
        position: i64,
        /// What is wrong.
        what: String,
    },
    /// The chain is broken (reported by readers that check as they go).
    #[error("the hash chain is broken: {0}")]
    Broken(#[from] BrokenLink),
    /// Any other database error.
    #[error("the log's database failed: {0}")]
    Storage(#[source] sqlx::Error),
}

impl From<sqlx::Error> for LogError {
    fn from(err: sqlx::Error) -> Self {
        match classify(&err) {
            Class::Unavailable => LogError::Unavailable(err),
            Class::ReadOnly | Class::Other => LogError::Storage(err),
        }
    }
}

enum Class {
    ReadOnly,
    Unavailable,
    Other,
}

fn classify(err: &sqlx::Error) -> Class {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Class::Unavailable,
        // A FATAL error from PostgreSQL ends the session: the server is refusing this
        // connection (shutting down, not accepting connections to the database, …).
        sqlx::Error::Database(db)
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some_and(|e| matches!(e.severity(), PgSeverity::Fatal | PgSeverity::Panic)) =>
        {
            Class::Unavailable
        }
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match &*code {
                // PostgreSQL: read_only_sql_transaction. SQLite: SQLITE_READONLY and its
                // extended codes (8, 264, 520, 776, 1032, 1288, 1544, 1800).
                "25006" => Class::ReadOnly,
                c if c.parse::<i32>().is_ok_and(|n| n & 0xff == 8) => Class::ReadOnly,
                // PostgreSQL classes 08 (connection), 53 (resources: disk full, out of
                // memory, too many connections), 57P (shut down, cannot connect now).
                c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => {
                    Class::Unavailable
                }
                // SQLite: BUSY (5), LOCKED (6), IOERR (10), FULL (13), CANTOPEN (14).
                c if c
                    .parse::<i32>()
                    .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13 | 14)) =>
                {
                    Class::Unavailable
                }
                _ => Class::Other,
            }
        }
        _ => Class::Other,
    }
}
