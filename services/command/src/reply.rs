//! What the command service answers, typed: the reply to a command (first or repeated),
//! a dual card as both sides recorded it, a beneficiary's details. The adapters serialise
//! these as they are; the OpenAPI document's response schemas come from the same types.

use allweather_domain::values::{Capacity, Rating, Year};
use allweather_log::AppendOutcome;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The answer to a command that was carried out, or to its repeat (the first answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommandReply {
    /// The command's id (its idempotency key, or a new UUID v7).
    pub command_id: Uuid,
    /// The log position of its last event: a `min_position` for queries that must
    /// reflect it.
    pub position: u64,
    /// The id of the aggregate its first event belongs to (the new branch, member, wish…);
    /// empty for a command answered for many (`IssueDualCard` for all members).
    pub id: String,
    /// The events it appended.
    pub events: Vec<AppendedEvent>,
    /// `IssueDualCard` for all members: the members given a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<Vec<Uuid>>,
    /// `IssueDualCard` for all members: the members skipped, with the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Vec<Skipped>>,
    /// `InviteAccount`: the account's one-time sign-in code (kept beside the log as a
    /// hash only; a repeat of the command gives a new code and ends this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signin_code: Option<SigninCode>,
}

/// A sign-in code, shown once to whoever gave the account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SigninCode {
    /// The account.
    pub account_id: Uuid,
    /// The code, grouped by four (`XXXX-XXXX-XXXX-XXXX`).
    pub code: String,
    /// Until when it can be used (microseconds since the epoch).
    pub expires_at_us: i64,
}

impl std::fmt::Debug for SigninCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigninCode")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// An event a command appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AppendedEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// Its stream (`{aggregate}-{id}`).
    pub stream_id: String,
    /// The stream's version after it.
    pub stream_version: u64,
    /// Its position in the log.
    pub position: u64,
}

/// A member a command for many left out, and the rule that did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Skipped {
    /// The member.
    pub member_id: Uuid,
    /// The rule's name.
    pub rule: String,
    /// Why, as a sentence.
    pub detail: String,
}

impl CommandReply {
    /// The reply for an append (first or replayed).
    pub fn of(outcome: &AppendOutcome) -> CommandReply {
        let id = outcome
            .events
            .first()
            .and_then(|e| e.stream_id.split_once('-'))
            .map_or("", |(_, id)| id)
            .to_owned();
        CommandReply {
            command_id: outcome.command_id,
            position: outcome.position(),
            id,
            events: outcome
                .events
                .iter()
                .map(|e| AppendedEvent {
                    event_id: e.event_id,
                    event_type: e.event_type.clone(),
                    stream_id: e.stream_id.clone(),
                    stream_version: e.stream_version,
                    position: e.position,
                })
                .collect(),
            issued: None,
            skipped: None,
            signin_code: None,
        }
    }
}

/// A member's dual card of a year as both sides recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CardView {
    /// The member.
    pub member_id: Uuid,
    /// The year.
    pub year: Year,
    /// The log position the card reflects at least.
    pub position: u64,
    /// The member's unit branch when the card was issued.
    pub unit_branch_id: Option<Uuid>,
    /// The member's service branch when the card was issued.
    pub service_branch_id: Option<Uuid>,
    /// The community side: feedback, stars and the opinion.
    pub community: CommunitySide,
    /// The unit side: the opinion.
    pub unit: UnitSide,
    /// Both sides have signed.
    pub complete: bool,
}

/// The community side of a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommunitySide {
    /// The quarters' feedback.
    pub feedback: Vec<QuarterFeedback>,
    /// The stars awarded, with the reason.
    pub stars: Option<Stars>,
    /// The side's opinion, once signed.
    pub signed: Option<SideSignature>,
}

/// The unit side of a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnitSide {
    /// The side's opinion, once signed.
    pub signed: Option<SideSignature>,
}

/// A quarter's feedback on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QuarterFeedback {
    /// The quarter, 1–4.
    pub quarter: u32,
    /// What the community said.
    pub note: String,
}

/// Stars on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stars {
    /// How many.
    pub stars: u32,
    /// Why.
    pub reason: String,
}

/// One side's signature on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SideSignature {
    /// The branch's opinion of the member.
    pub opinion: Rating,
    /// The signer's remarks.
    pub remarks: String,
    /// The member who signed (none for a committee admin without one).
    pub signer_id: Option<Uuid>,
    /// In which capacity.
    pub capacity: Capacity,
}

/// The name and contact of a wish's beneficiary, for those who deliver it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BeneficiaryView {
    /// The wish.
    pub wish_id: Uuid,
    /// The person.
    pub beneficiary_id: Uuid,
    /// Their name (a placeholder once erased).
    pub name: String,
    /// Their contact, if given and not erased.
    pub contact: Option<String>,
    /// The person's details were erased.
    pub erased: bool,
}
