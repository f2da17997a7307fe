//! # allweather-command
//!
//! Command handling: a command arrives by name with a JSON body, a bearer token and an
//! optional idempotency key (over HTTP or NATS, which share [`CommandService::execute`]);
//! the streams it needs are loaded, it is decided by the pure domain, and its events are
//! appended — to every stream it writes, atomically, each at the version decided
//! against. On a version conflict the streams are read again and the command decided
//! again, a few times, then the caller gets 409. A repeated command id returns the first
//! result and appends nothing.
//!
//! Recently used stream states are kept in memory with their versions; loading a cached
//! stream reads only the events after its version, so a hot wish is not re-read from the
//! log for every claim. The cache is never trusted for a decision's safety: the append
//! checks every stream's version under the log's write lock.
//!
//! ## Layout
//! - [`auth`]: tokens, the signing secret, the principal a token names.
//! - [`problem`]: every error as `application/problem+json`, in one place.
//! - `handler` ([`CommandService`]): load, decide, append, retry, idempotency.
//! - [`http`]: `POST /api/v1/commands/{CommandName}`.
//! - [`nats`]: request/reply on `{prefix}.cmd.{CommandName}`.
//! - [`scheduler`]: releases claims that ran past the rules' limit.
#![deny(missing_docs)]

pub mod auth;
mod handler;
pub mod http;
pub mod nats;
pub mod problem;
pub mod scheduler;

pub use auth::{Claims, TokenKey};
pub use handler::{Clock, CommandOptions, CommandService, Entropy, RateLimit};
pub use problem::ApiError;
