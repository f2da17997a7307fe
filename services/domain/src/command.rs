//! Every command, as the API takes it (snake_case JSON; unknown fields refused). Ids of
//! new aggregates are optional: an omitted one is the command's own new id. Hours come
//! as a decimal number and are turned into whole minutes once, when decided.
//!
//! Ids are UUIDs; dates are `YYYY-MM-DD` in the county's calendar; instants are RFC 3339.
//! Every command's body (`?` marks an optional field), and who may issue it:
//! - `RegisterBranch`: `branch_id?`, `name`, `kind` (`unit`, `service` or `temporary`),
//!   `community?`. Committee admin.
//! - `AppointSecretary`: `branch_id`, `member_id` (a member of the branch). `VacateSecretary`:
//!   `branch_id`. `AppointDeputy`: `branch_id`, `member_id` (a member of the branch).
//!   Committee admin.
//! - `RecordBranchMeeting`, `RecordBranchActivity`: `branch_id`, `date`, `topic`,
//!   `attendees` (member ids: a meeting's are the branch's members, an activity's anyone's;
//!   at most 1000). The branch's secretary, committee admin.
//! - `RecordQuizResult`: `branch_id`, `year`, `contestant_id`, `score` (0–100, once per
//!   branch-year). `DesignateDemonstrationSite`: `branch_id`, `year`, `level` (`county`,
//!   `township` or `village`). Committee admin.
//! - `RegisterMember`: `member_id?`, `name`, `unit_branch_id`, `joined_on`, `cadre?` (a
//!   leading cadre). The unit branch's secretary, committee admin.
//! - `AssignServiceBranch`: `member_id`, `service_branch_id` (service or temporary; again
//!   when the member moves house). That branch's secretary (for a member with none), the
//!   service centre, committee admin.
//! - `TransferMember`: `member_id`, `unit_branch_id`, `on`. Committee admin.
//! - `MemberLeft`: `member_id`, `reason` (`retired`, `transferred_out`, `deceased` or
//!   `other`), `on`. Committee admin, the unit branch's secretary.
//! - `DisplayHouseholdPlaque`: `member_id`. The member, their service branch's secretary.
//! - `ObserveAnniversary`: `member_id`, `year`, `reflection` (in the joining month, once a
//!   year). The member.
//! - `IssueDualCard`: `member_id` and `year`, or `year` and `all_members: true`. A secretary
//!   of either of the member's branches, committee admin; for all members, committee admin.
//! - `RecordCommunityFeedback`: `member_id`, `year`, `quarter` (1–4), `note`. The service
//!   branch's secretary (†), the service centre.
//! - `AwardStars`: `member_id`, `year`, `stars` (1 to the rules' `[stars] max`), `reason`;
//!   once a card. The service branch's secretary (†).
//! - `SignDualCard`: `member_id`, `year`, `side` (`community` or `unit`), `opinion`
//!   (`excellent`, `qualified`, `basically_qualified` or `unqualified`; `rating` is
//!   accepted), `remarks`. The secretary of that side's branch, the member's branch when
//!   signing (†).
//! - `RecordAppraisal`: `member_id`, `year`, `rating`, `basis_position` (a position the log
//!   holds), `remarks`. The unit branch's secretary (†).
//! - `ConfirmAppraisal`: `member_id`, `year`. `OverturnAppraisal`: also `rating`, `reason`.
//!   Committee admin.
//! - `PublishWish`: `wish_id?`, `origin` (`micro_wish` or `service_need`), `title`,
//!   `beneficiary` (a name), `beneficiary_contact?`, `beneficiary_id?` (the person, when
//!   wishes for them were published before; by default the wish's id), `category`,
//!   `deadline`, `volunteers?` (a need's places, 1–500; a micro-wish takes one). The
//!   service centre, a secretary, committee admin.
//! - `EraseBeneficiary`: `beneficiary_id`, `reason`. Committee admin (and
//!   `allweather erase beneficiary`).
//! - `DiscloseBeneficiary`: `wish_id`. Recorded by the beneficiary route before it shows
//!   the details; whoever may see them.
//! - `ClaimWish`, `ReleaseWish`: `wish_id`, `member_id`. The member; a release also a
//!   secretary of the claimer's branch, at most the rules' releases per member a day.
//! - `FulfilWish`: `wish_id`, `evidence`, `member_id?` (the claimer, where a need has
//!   several). The claimer, a secretary of the claimer's branch.
//! - `ConfirmWish`: `wish_id` (confirms every part fulfilled). The publisher, the service
//!   centre.
//! - `CancelWish`: `wish_id`, `reason`. The publisher, the service centre, committee admin.
//! - `ExpireClaim`: `wish_id`, `member_id?` (by default every claim on it that ran out).
//!   The scheduler (`system`), committee admin.
//! - `LogServiceHours`: `record_id?`, `member_id`, `date`, `hours`, `category`, `activity`,
//!   `channel?` (`self_reported`, `organiser` or `check_in`), `campaign_id?`, `start_time?`
//!   (`HH:MM`), `organising_branch_id?` (by default a secretary's own branch). The member
//!   (self-reported), a secretary of the member's branch, the service centre, committee
//!   admin.
//! - `VerifyServiceHours`, `RejectServiceHours`: `record_id` (and `reason`). The member's
//!   service-branch secretary up to 8 hours, committee admin; never oneself.
//! - `RequestCorrection`: `record_id`, `hours?`, `date?`, `category?`, `reason` (of a
//!   verified record). The member, a verifier. `ApplyCorrection`: the same; without
//!   changes, the pending request's. A verifier.
//! - `RegisterHousehold`: `household_id?`, `address_area`, `hardship`. `PairHousehold`:
//!   `household_id`, `cadre_id`. The service centre, a secretary, committee admin.
//! - `RecordVisit`: `household_id`, `date`, `notes` (not before the pairing, once a day).
//!   The paired cadre.
//! - `RaiseConcern`: `household_id`, `category`, `description`. `ResolveConcern`:
//!   `household_id`, `concern_id`, `resolution`. The paired cadre, the service centre; a
//!   resolution also a secretary.
//! - `LaunchCampaign`: `campaign_id?`, `name`, `kind`, `starts_on`, `ends_on`.
//!   `CloseCampaign`: `campaign_id`. Committee admin.
//! - `AdoptRules`: `year`, `rules` (the TOML document as JSON). Committee admin
//!   (`allweather rules adopt FILE`).
//! - `CloseYear`: `year` (a year that is over), `without_appraisal?` (exactly the members
//!   due an appraisal who have none). Committee admin.
//! - `InviteAccount`: `member_id` (the account of a member, whose id it takes), or `role`
//!   (`committee_admin`, `service_centre` or `auditor`) and `account_id?`. Committee admin;
//!   for a member, also the secretary of their unit or service branch. Again for the same
//!   account: a new sign-in code (re-enabling a disabled account is the committee's).
//!   `DisableAccount`: `account_id`, `reason`. Committee admin.
//!
//! (†) Or, where that secretary is the member or the post is vacant, the branch's deputy or
//! a committee admin; never the member. Categories: `community_service`,
//! `convenience_centre`, `festival`, `central_work`, `reservoir_resettlement`, `cleanup`,
//! `village_service_street`.

use crate::values::{
    BranchKind, CampaignKind, Category, Channel, LeaveReason, Rating, Side, SiteLevel, WishOrigin,
    Year,
};
use allweather_events::{Role, Timestamp};
use chrono::{NaiveDate, NaiveTime};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A body that could not be read: the field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MalformedBody {
    /// The field, as a path into the body, or `body`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

macro_rules! commands {
    ($($(#[doc = $doc:literal])+ $name:ident { $($(#[$fmeta:meta])+ $field:ident: $ty:ty,)* })*) => {
        $(
            $(#[doc = $doc])+
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
            #[serde(deny_unknown_fields)]
            pub struct $name { $($(#[$fmeta])+ pub $field: $ty,)* }
        )*

        /// Every command.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Command {
            $($(#[doc = $doc])+ $name($name),)*
        }

        $(
            impl From<$name> for Command {
                fn from(command: $name) -> Command {
                    Command::$name(command)
                }
            }
        )*

        impl Command {
            /// Every command's name, as in `POST /api/v1/commands/{name}`.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name),)*];

            /// The JSON Schema of every command's body, by name, with the command's
            /// description.
            pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
                let mut schemas = vec![$((stringify!($name), schemars::schema_for!($name).to_value()),)*];
                for (name, schema) in &mut schemas {
                    Command::state_shape(name, schema);
                }
                schemas
            }

            /// The command's name.
            pub fn name(&self) -> &'static str {
                match self { $(Command::$name(_) => stringify!($name),)* }
            }

            /// The command's body, as the API takes it.
            pub fn body(&self) -> serde_json::Value {
                let body = match self { $(Command::$name(c) => serde_json::to_value(c),)* };
                // A command's fields are ids, numbers, dates and text: always JSON.
                body.unwrap_or_default()
            }

            /// Reads the command `name` from its JSON body; `Ok(None)` when there is no
            /// such command.
            pub fn parse(name: &str, body: &[u8]) -> Result<Option<Command>, MalformedBody> {
                let command = match name {
                    $(stringify!($name) => Command::$name(parse(body)?),)*
                    _ => return Ok(None),
                };
                command.check_shape()?;
                Ok(Some(command))
            }
        }
    };
}

impl Command {
    /// States in `name`'s schema what [`Command::check_shape`] checks.
    fn state_shape(name: &str, schema: &mut serde_json::Value) {
        if name == "IssueDualCard" {
            schema["oneOf"] = serde_json::json!([
                {"required": ["member_id"], "properties": {
                    "member_id": {"type": "string"}, "all_members": {"not": {"const": true}}}},
                {"required": ["all_members"], "properties": {
                    "all_members": {"const": true}, "member_id": {"type": "null"}}},
            ]);
        }
        if name == "InviteAccount" {
            schema["oneOf"] = serde_json::json!([
                {"required": ["member_id"], "properties": {
                    "member_id": {"type": "string"}, "role": {"type": "null"},
                    "account_id": {"type": "null"}}},
                {"required": ["role"], "properties": {
                    "role": {"enum": ["committee_admin", "service_centre", "auditor"]},
                    "member_id": {"type": "null"}}},
            ]);
        }
    }

    /// Refuses a body whose fields, each well-formed, do not make one command: a card
    /// for one member or for all, an account for a member or for a role (a member's
    /// account has the member's id), not both nor neither.
    fn check_shape(&self) -> Result<(), MalformedBody> {
        let malformed = |field: &str, message: &str| MalformedBody {
            field: field.into(),
            message: message.into(),
        };
        match self {
            Command::IssueDualCard(c)
                if c.member_id.is_some() == c.all_members.unwrap_or(false) =>
            {
                Err(malformed(
                    "member_id",
                    "give member_id, or all_members: true, not both",
                ))
            }
            Command::InviteAccount(c) if c.member_id.is_some() == c.role.is_some() => {
                Err(malformed("member_id", "give member_id, or role, not both"))
            }
            Command::InviteAccount(c) if c.member_id.is_some() && c.account_id.is_some() => {
                Err(malformed(
                    "account_id",
                    "a member's account has the member's id: give member_id alone",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Reads a JSON body into `T`, naming the field at fault when it cannot.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, MalformedBody> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let field = match e.path().to_string() {
            // `.` is the whole body; `?` is a syntax error before any field; an empty
            // path is a key named "" (an unknown field), said of the body.
            p if p.is_empty() || p == "." || p == "?" => "body".to_string(),
            p => p,
        };
        MalformedBody {
            field,
            message: e.inner().to_string(),
        }
    })?;
    // One JSON value is the whole body: anything after it is refused, not ignored.
    de.end().map_err(|e| MalformedBody {
        field: "body".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

commands! {
    /// Registers a branch (committee admin).
    RegisterBranch {
        /// The new branch's id (generated when omitted).
        branch_id: Option<Uuid>,
        /// Its name.
        #[schemars(length(min = 1, max = crate::values::TEXT_NAME), regex(pattern = crate::values::TEXT_PATTERN))]
        name: String,
        /// Unit, service or temporary.
        kind: BranchKind,
        /// The community a service branch serves.
        #[schemars(length(min = 1, max = crate::values::TEXT_NAME), regex(pattern = crate::values::TEXT_PATTERN))]
        community: Option<String>,
    }
    /// Appoints a member of the branch its secretary (committee admin).
    AppointSecretary {
        /// The branch.
        branch_id: Uuid,
        /// The member.
        member_id: Uuid,
    }
    /// Leaves the branch's secretary post vacant (committee admin).
    VacateSecretary {
        /// The branch.
        branch_id: Uuid,
    }
    /// Appoints a member of the branch its deputy secretary, who acts where the secretary
    /// is the member concerned or the post is vacant (committee admin).
    AppointDeputy {
        /// The branch.
        branch_id: Uuid,
        /// The member.
        member_id: Uuid,
    }
    /// Records a branch meeting and who came (its secretary, or a committee admin).
    RecordBranchMeeting {
        /// The branch.
        branch_id: Uuid,
        /// When it was held.
        date: NaiveDate,
        /// Its topic.
        #[schemars(length(min = 1, max = crate::values::TEXT_LINE), regex(pattern = crate::values::TEXT_PATTERN))]
        topic: String,
        /// The members who came, members of the branch (at most 1000, each once).
        #[schemars(length(max = crate::branch::MAX_ATTENDEES))]
        attendees: Vec<Uuid>,
    }
    /// Records a branch activity and who took part (its secretary, or a committee admin).
    RecordBranchActivity {
        /// The branch.
        branch_id: Uuid,
        /// When it was held.
        date: NaiveDate,
        /// Its topic.
        #[schemars(length(min = 1, max = crate::values::TEXT_LINE), regex(pattern = crate::values::TEXT_PATTERN))]
        topic: String,
        /// The members who took part, of any branch (at most 1000, each once).
        #[schemars(length(max = crate::branch::MAX_ATTENDEES))]
        attendees: Vec<Uuid>,
    }
    /// Records the branch's quiz result for a year (committee admin).
    RecordQuizResult {
        /// The branch.
        branch_id: Uuid,
        /// The year.
        year: Year,
        /// The contestant, a member of the branch.
        contestant_id: Uuid,
        /// 0–100.
        #[schemars(range(max = crate::values::SCORE_MAX))]
        score: u32,
    }
    /// Designates the branch a demonstration site for a year (committee admin).
    DesignateDemonstrationSite {
        /// The branch.
        branch_id: Uuid,
        /// The year.
        year: Year,
        /// The level.
        level: SiteLevel,
    }
    /// Registers a member in a unit branch (its secretary, or a committee admin).
    RegisterMember {
        /// The new member's id (generated when omitted).
        member_id: Option<Uuid>,
        /// The name.
        #[schemars(length(min = 1, max = crate::values::TEXT_NAME), regex(pattern = crate::values::TEXT_PATTERN))]
        name: String,
        /// The unit branch.
        unit_branch_id: Uuid,
        /// When the member joined.
        joined_on: NaiveDate,
        /// A leading cadre (领导干部); not when omitted.
        #[serde(default)]
        cadre: Option<bool>,
    }
    /// Moves the member to another unit branch (committee admin). A secretary or deputy
    /// post they held in their old branch falls vacant.
    TransferMember {
        /// The member.
        member_id: Uuid,
        /// The unit branch they move to.
        unit_branch_id: Uuid,
        /// From when.
        on: NaiveDate,
    }
    /// Records that the member left the programme (committee admin, or the secretary of
    /// the member's unit branch): their open claims are released and posts they held
    /// fall vacant; they take no new facts, and their history stays.
    MemberLeft {
        /// The member.
        member_id: Uuid,
        /// Why.
        reason: LeaveReason,
        /// From when.
        on: NaiveDate,
    }
    /// Assigns the member to a service branch (that branch's secretary, the service centre or a committee admin).
    AssignServiceBranch {
        /// The member.
        member_id: Uuid,
        /// A service or temporary branch.
        service_branch_id: Uuid,
    }
    /// The member displays the household plaque (the member).
    DisplayHouseholdPlaque {
        /// The member.
        member_id: Uuid,
    }
    /// The member observes the anniversary of joining (the member).
    ObserveAnniversary {
        /// The member.
        member_id: Uuid,
        /// The year.
        year: Year,
        /// A real reflection.
        #[schemars(length(min = 1, max = crate::values::TEXT_ESSAY), regex(pattern = crate::values::TEXT_PATTERN))]
        reflection: String,
    }
    /// Issues a member's dual card for a year (a secretary of either branch, or a
    /// committee admin), or with `all_members` every registered member's that has none
    /// yet (a committee admin; members already holding one are skipped and reported).
    IssueDualCard {
        /// The member (or `all_members`).
        #[serde(default)]
        member_id: Option<Uuid>,
        /// The year.
        year: Year,
        /// Every registered member (instead of `member_id`).
        #[serde(default)]
        all_members: Option<bool>,
    }
    /// Records the community's quarterly feedback on the card (the service branch's secretary or the service centre).
    RecordCommunityFeedback {
        /// The member.
        member_id: Uuid,
        /// The year.
        year: Year,
        /// 1–4.
        #[schemars(range(min = 1, max = crate::values::QUARTERS))]
        quarter: u32,
        /// The feedback.
        #[schemars(length(min = 1, max = crate::values::TEXT_NOTE), regex(pattern = crate::values::TEXT_PATTERN))]
        note: String,
    }
    /// Awards the member stars for the year (评星), the community side (the secretary of
    /// the member's service or temporary branch; its deputy or a committee admin where
    /// the secretary is the member or the post is vacant).
    AwardStars {
        /// The member.
        member_id: Uuid,
        /// The year.
        year: Year,
        /// 1 to the year's rules' scale.
        #[schemars(range(min = 1))]
        stars: u32,
        /// Why.
        #[schemars(length(min = 1, max = crate::values::TEXT_REASON), regex(pattern = crate::values::TEXT_PATTERN))]
        reason: String,
    }
    /// Signs one side of the card with that branch's opinion of the member (the secretary
    /// of that side's branch; its deputy or a committee admin where the secretary is the
    /// member or the post is vacant; never the member).
    SignDualCard {
        /// The member.
        member_id: Uuid,
        /// The year.
        year: Year,
        /// Which side.
        side: Side,
        /// The branch's opinion of the member (`rating` is accepted for it too).
        #[serde(alias = "rating")]
        opinion: Rating,
        /// Remarks.
        #[schemars(length(min = 1, max = crate::values::TEXT_NOTE), regex(pattern = crate::values::TEXT_PATTERN))]
        remarks: String,
    }
    /// Records the unit branch's annual appraisal of the member (the unit branch's
    /// secretary; its deputy or a committee admin where the secretary is the member or
    /// the post is vacant).
    RecordAppraisal {
        /// The member.
        member_id: Uuid,
        /// The year.
        year: Year,
        /// The appraisal.
        rating: Rating,
        /// The log position of the evidence the appraisal was made on.
        #[schemars(range(min = 1))]
        basis_position: u64,
        /// The appraisers' remarks.
        #[schemars(length(min = 1, max = crate::values::TEXT_NOTE), regex(pattern = crate::values::TEXT_PATTERN))]
        remarks: String,
    }
    /// Confirms the standing appraisal (committee admin).
    ConfirmAppraisal {
        /// The member.
        member_id: Uuid,
        /// The year.
        year: Year,
    }
    /// Overturns the standing appraisal with another (committee admin).
    OverturnAppraisal {
        /// The member.
        member_id: Uuid,
        /// The year.
        year: Year,
        /// The appraisal that stands instead.
        rating: Rating,
        /// Why.
        #[schemars(length(min = 1, max = crate::values::TEXT_NOTE), regex(pattern = crate::values::TEXT_PATTERN))]
        reason: String,
    }
    /// Publishes a wish (the service centre, a secretary or a committee admin).
    PublishWish {
        /// The new wish's id (generated when omitted).
        wish_id: Option<Uuid>,
        /// Micro-wish or service need.
        origin: WishOrigin,
        /// What is wished for.
        #[schemars(length(min = 1, max = crate::values::TEXT_LINE), regex(pattern = crate::values::TEXT_PATTERN))]
        title: String,
        /// The name of the person it is for (sealed under their own key; never shown
        /// publicly).
        #[schemars(length(min = 1, max = crate::values::TEXT_LINE), regex(pattern = crate::values::TEXT_PATTERN))]
        beneficiary: String,
        /// How to reach them, for the member who delivers (sealed likewise).
        #[serde(default)]
        #[schemars(length(min = 1, max = crate::values::TEXT_LINE), regex(pattern = crate::values::TEXT_PATTERN))]
        beneficiary_contact: Option<String>,
        /// The person, when wishes for them were published before (default: a new
        /// person, with the wish's id).
        #[serde(default)]
        beneficiary_id: Option<Uuid>,
        /// The category.
        category: Category,
        /// By when (RFC 3339).
        deadline: Timestamp,
        /// How many members a service need takes (1 to 500; a micro-wish takes one).
        #[serde(default)]
        #[schemars(range(min = 1, max = crate::wish::MAX_VOLUNTEERS))]
        volunteers: Option<u32>,
    }
    /// Claims an open wish (the member).
    ClaimWish {
        /// The wish.
        wish_id: Uuid,
        /// The member claiming.
        member_id: Uuid,
    }
    /// Gives a claimed wish back (the claimer, or a secretary of the claimer's branch).
    ReleaseWish {
        /// The wish.
        wish_id: Uuid,
        /// The claimer.
        member_id: Uuid,
    }
    /// Marks a claimer's part of a wish fulfilled (the claimer, or a secretary of the
    /// claimer's branch).
    FulfilWish {
        /// The wish.
        wish_id: Uuid,
        /// What shows it was done.
        #[schemars(length(min = 1, max = crate::values::TEXT_NOTE), regex(pattern = crate::values::TEXT_PATTERN))]
        evidence: String,
        /// The claimer (by default the principal's own claim, or the only claim).
        #[serde(default)]
        member_id: Option<Uuid>,
    }
    /// Confirms the delivery of every part fulfilled (its publisher or the service centre).
    ConfirmWish {
        /// The wish.
        wish_id: Uuid,
    }
    /// Withdraws a wish not yet fulfilled (its publisher, the service centre or a committee admin).
    CancelWish {
        /// The wish.
        wish_id: Uuid,
        /// Why.
        #[schemars(length(min = 1, max = crate::values::TEXT_REASON), regex(pattern = crate::values::TEXT_PATTERN))]
        reason: String,
    }
    /// Releases claims past the rules' limit (the scheduler, or a committee admin).
    ExpireClaim {
        /// The wish.
        wish_id: Uuid,
        /// The claimer (by default every claim on the wish that has run out).
        #[serde(default)]
        member_id: Option<Uuid>,
    }
    /// Logs service hours (the member self-reports; an organiser, the service centre or a committee admin enters for others).
    LogServiceHours {
        /// The new record's id (generated when omitted).
        record_id: Option<Uuid>,
        /// Whose hours.
        member_id: Uuid,
        /// The county date of the service.
        date: NaiveDate,
        /// Hours, more than 0 and at most 12, in whole minutes.
        #[schemars(range(max = crate::service::MAX_ENTRY_HOURS), extend("exclusiveMinimum" = 0))]
        hours: f64,
        /// The category.
        category: Category,
        /// The activity.
        #[schemars(length(min = 1, max = crate::values::TEXT_LINE), regex(pattern = crate::values::TEXT_PATTERN))]
        activity: String,
        /// How the hours were captured (by default from the role).
        channel: Option<Channel>,
        /// The campaign the hours count for.
        campaign_id: Option<Uuid>,
        /// When the service started, county time (`HH:MM`), for overlap checks.
        #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"))]
        start_time: Option<NaiveTime>,
        /// The branch that organised the activity (a secretary's own branch by default).
        organising_branch_id: Option<Uuid>,
    }
    /// Verifies logged hours (the member's service-branch secretary; over 8 hours a committee admin).
    VerifyServiceHours {
        /// The record.
        record_id: Uuid,
    }
    /// Rejects logged hours (as verifying).
    RejectServiceHours {
        /// The record.
        record_id: Uuid,
        /// Why.
        #[schemars(length(min = 1, max = crate::values::TEXT_REASON), regex(pattern = crate::values::TEXT_PATTERN))]
        reason: String,
    }
    /// Requests a correction of verified hours (the member, or a verifier).
    RequestCorrection {
        /// The record.
        record_id: Uuid,
        /// Corrected hours: more than 0 and at most 12, in whole minutes.
        #[schemars(range(max = crate::service::MAX_ENTRY_HOURS), extend("exclusiveMinimum" = 0))]
        hours: Option<f64>,
        /// Corrected date.
        date: Option<NaiveDate>,
        /// Corrected category.
        category: Option<Category>,
        /// Why.
        #[schemars(length(min = 1, max = crate::values::TEXT_REASON), regex(pattern = crate::values::TEXT_PATTERN))]
        reason: String,
    }
    /// Applies a correction (as verifying): the pending request's, or the one given.
    ApplyCorrection {
        /// The record.
        record_id: Uuid,
        /// Corrected hours: more than 0 and at most 12, in whole minutes.
        #[schemars(range(max = crate::service::MAX_ENTRY_HOURS), extend("exclusiveMinimum" = 0))]
        hours: Option<f64>,
        /// Corrected date.
        date: Option<NaiveDate>,
        /// Corrected category.
        category: Option<Category>,
        /// Why.
        #[schemars(length(min = 1, max = crate::values::TEXT_REASON), regex(pattern = crate::values::TEXT_PATTERN))]
        reason: String,
    }
    /// Registers a household in need (the service centre, a secretary or a committee admin).
    RegisterHousehold {
        /// The new household's id (generated when omitted).
        household_id: Option<Uuid>,
        /// The area (not the address).
        #[schemars(length(min = 1, max = crate::values::TEXT_NAME), regex(pattern = crate::values::TEXT_PATTERN))]
        address_area: String,
        /// What hardship.
        #[schemars(length(min = 1, max = crate::values::TEXT_PARAGRAPH), regex(pattern = crate::values::TEXT_PATTERN))]
        hardship: String,
    }
    /// Pairs a cadre with the household (the service centre, a secretary or a committee admin).
    PairHousehold {
        /// The household.
        household_id: Uuid,
        /// The cadre, a member.
        cadre_id: Uuid,
    }
    /// Records a visit (the paired cadre).
    RecordVisit {
        /// The household.
        household_id: Uuid,
        /// When.
        date: NaiveDate,
        /// What happened.
        #[schemars(length(min = 1, max = crate::values::TEXT_NOTE), regex(pattern = crate::values::TEXT_PATTERN))]
        notes: String,
    }
    /// Raises a concern of the household (the paired cadre or the service centre).
    RaiseConcern {
        /// The household.
        household_id: Uuid,
        /// The concern's category.
        #[schemars(length(min = 1, max = crate::values::TEXT_SHORT), regex(pattern = crate::values::TEXT_PATTERN))]
        category: String,
        /// What it is.
        #[schemars(length(min = 1, max = crate::values::TEXT_NOTE), regex(pattern = crate::values::TEXT_PATTERN))]
        description: String,
    }
    /// Resolves a concern (the paired cadre, the service centre or a secretary).
    ResolveConcern {
        /// The household.
        household_id: Uuid,
        /// The concern.
        concern_id: Uuid,
        /// How.
        #[schemars(length(min = 1, max = crate::values::TEXT_NOTE), regex(pattern = crate::values::TEXT_PATTERN))]
        resolution: String,
    }
    /// Launches a campaign (committee admin).
    LaunchCampaign {
        /// The new campaign's id (generated when omitted).
        campaign_id: Option<Uuid>,
        /// Its name.
        #[schemars(length(min = 1, max = crate::values::TEXT_NAME), regex(pattern = crate::values::TEXT_PATTERN))]
        name: String,
        /// Its kind.
        kind: CampaignKind,
        /// First day.
        starts_on: NaiveDate,
        /// Last day.
        ends_on: NaiveDate,
    }
    /// Closes a campaign (committee admin).
    CloseCampaign {
        /// The campaign.
        campaign_id: Uuid,
    }
    /// Adopts the year's rules (committee admin).
    AdoptRules {
        /// The year.
        year: Year,
        /// The rules document (the TOML file's content, as JSON).
        rules: serde_json::Value,
    }
    /// Closes the year (committee admin): once every member has a standing appraisal,
    /// or listing those who have none.
    CloseYear {
        /// The year.
        year: Year,
        /// The members closed without an appraisal, named explicitly (every member
        /// without one must be listed).
        #[serde(default)]
        without_appraisal: Option<Vec<Uuid>>,
    }
    /// Erases a person in need: destroys the key their details are sealed with, so that
    /// they become unreadable in the log and its mirror, and records the erasure (a
    /// committee admin).
    EraseBeneficiary {
        /// The person (a wish's `beneficiary_id`).
        beneficiary_id: Uuid,
        /// Why (the request or decision it carries out). It stays in the log in clear:
        /// it names no one.
        #[schemars(length(min = 1, max = crate::values::TEXT_PARAGRAPH), regex(pattern = crate::values::TEXT_PATTERN))]
        reason: String,
    }
    /// Records that the caller is shown a wish's beneficiary: who, whose details and
    /// when, never the details. `GET /api/v1/wishes/{id}/beneficiary` sends it before it
    /// shows them; those the beneficiary's details are for (see that route).
    DiscloseBeneficiary {
        /// The wish.
        wish_id: Uuid,
    }
    /// Invites a person to the platform, or gives them a new sign-in code: the account of
    /// a member, or of a role without a member. The sign-in code itself is made beside
    /// the log, never in it; the log records who was given which role, by whom and when.
    InviteAccount {
        /// The member the account is for (the account's id is the member's).
        member_id: Option<Uuid>,
        /// Or the role of an account without a member: `committee_admin`,
        /// `service_centre` or `auditor`.
        role: Option<Role>,
        /// A role account's id (generated when omitted).
        account_id: Option<Uuid>,
    }
    /// Disables an account at once: its sessions end and it cannot sign in (committee
    /// admin). Inviting it again enables it.
    DisableAccount {
        /// The account.
        account_id: Uuid,
        /// Why.
        #[schemars(length(min = 1, max = crate::values::TEXT_REASON), regex(pattern = crate::values::TEXT_PATTERN))]
        reason: String,
    }
}

#[cfg(test)]
mod tests {
    use super::Command;

    /// Found by `cargo fuzz` (`command_decoding`): a key named "" gave an empty field.
    #[test]
    fn the_command_schemas_state_the_limits_the_domain_checks() {
        use crate::values::{QUARTERS, TEXT_NAME, TEXT_PATTERN};
        let schemas: std::collections::HashMap<_, _> = Command::schemas().into_iter().collect();
        let field = |command: &str, field: &str| {
            let property = schemas[command]["properties"][field].clone();
            // An optional field's schema is its value's, or null.
            match property.get("anyOf") {
                Some(any) => any[0].clone(),
                None => property,
            }
        };
        let hours = field("LogServiceHours", "hours");
        assert_eq!(
            (&hours["exclusiveMinimum"], &hours["maximum"]),
            (&serde_json::json!(0), &serde_json::json!(12)),
            "{hours}"
        );
        let name = field("RegisterBranch", "name");
        assert_eq!(
            (&name["minLength"], &name["maxLength"], &name["pattern"]),
            (
                &serde_json::json!(1),
                &serde_json::json!(TEXT_NAME),
                &serde_json::json!(TEXT_PATTERN)
            ),
            "{name}"
        );
        let quarter = field("RecordCommunityFeedback", "quarter");
        assert_eq!(
            (&quarter["minimum"], &quarter["maximum"]),
            (&serde_json::json!(1), &serde_json::json!(QUARTERS)),
            "{quarter}"
        );
        assert!(
            schemas["IssueDualCard"]["oneOf"].is_array(),
            "member_id or all_members"
        );
    }

    #[test]
    fn a_malformed_body_always_names_a_field() {
        for body in [
            &br#"{"":1}"#[..],
            br#"{""a Brueau","kind"........&"#,
            b"",
            b"{",
            br#"{"name":"a","kind":"unit"} x"#,
        ] {
            let malformed = Command::parse("RegisterBranch", body).expect_err("malformed");
            assert!(!malformed.field.is_empty(), "{body:?}: {malformed:?}");
        }
    }
}
