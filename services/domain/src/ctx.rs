//! Who acts, and when: everything `decide` needs from outside, passed in.
//!
//! [`Ctx`] carries the instant, the county's calendar date (facts are dated in the county's
//! time zone: `--county-offset`, UTC+8 by default), the [`Principal`] from the signed token,
//! the log's head as the handler knows it (an appraisal may cite a position up to it), and
//! the id of an aggregate the command creates when the body names none: a UUID v7, the
//! command id when the caller's idempotency key is one, so that a repeat lands on the same
//! stream.

use allweather_events::{Role, Timestamp};
use chrono::NaiveDate;
use uuid::Uuid;

/// The authenticated principal of a command, from its signed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's subject; recorded as the event's actor id.
    pub subject: String,
    /// The role the principal acts in.
    pub role: Role,
    /// The member the principal is, if any (required for `member` tokens).
    pub member_id: Option<Uuid>,
    /// The branch a `secretary` token is for.
    pub branch_id: Option<Uuid>,
}

/// The context of one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    /// The instant the command is decided at.
    pub now: Timestamp,
    /// The county's calendar date at `now` (dates of facts are county dates).
    pub today: NaiveDate,
    /// Who issues the command.
    pub principal: Principal,
    /// The position of the log's head as the handler last knew it (an appraisal cites a
    /// position up to it).
    pub head: u64,
    /// The id of an aggregate the command creates when the body names none (a UUID v7:
    /// the command id when the caller's idempotency key is one, so a repeat lands on the
    /// same stream).
    pub new_id: Uuid,
}
