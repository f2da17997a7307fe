//! # allweather-command
//!
//! Command handling: a command arrives by name with a JSON body, a bearer token and an
//! optional idempotency key (over HTTP or NATS, which share [`CommandService::execute`]);
//! the streams it needs are loaded, it is decided by the pure domain, and its events are
//! appended — to every stream it writes, atomically, each at the version decided
//! against. On a version conflict the command is decided again, taking turns on the
//! contended stream, for at least five decisions or up to ten seconds, then the caller
//! gets 409. A repeated command id returns the first result and appends nothing.
//!
//! Recently used stream states are kept in memory with their versions. A command's first
//! decision takes the cached states as they are, with no read of the log: every stream
//! read is a condition of the append, so a state that moved on fails the append with a
//! version conflict and the command is decided again on states read from the log (a
//! cached stream brought up to date from its version). A refusal is only ever given from
//! states read from the log. Trusting the cache first more than tripled the single-event
//! commands/s at 64 callers in the bench (commit `f7cad6a`'s run; the command path was
//! bound by round trips to PostgreSQL).
//!
//! ## Layout
//! - [`auth`]: tokens, the signing secret, the principal a token names.
//! - [`error`]: [`CommandError`], what the application answers instead of a result.
//! - [`reply`]: what it answers: [`CommandReply`], a card, a beneficiary.
//! - [`problem`]: every error as a status and an `application/problem+json` body, in one
//!   place, for HTTP and NATS.
//! - `handler` ([`CommandService`]): load, decide, append, retry, idempotency, each in a
//!   module of its own.
//! - [`http`]: `POST /api/v1/commands/{CommandName}`.
//! - [`nats`]: request/reply on `{prefix}.cmd.{CommandName}`.
//! - [`scheduler`]: releases claims that ran past the rules' limit.
#![deny(missing_docs)]

pub mod accounts;
pub mod auth;
pub mod error;
mod handler;
pub mod http;
pub mod nats;
pub mod problem;
pub mod reply;
pub mod roster;
pub mod scheduler;

pub use auth::{Claims, TokenKey};
pub use error::{CommandError, FieldError};
pub use handler::{
    Clock, CommandOptions, CommandService, Entropy, RateLimit, command_id, key_schema,
};
pub use problem::ApiError;
pub use reply::CommandReply;
