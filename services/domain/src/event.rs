//! Every event of the programme: past-tense facts. The variant name is the stored
//! `event_type` and the struct is its payload at the type's current schema version; both
//! are a contract. A payload whose shape changes gets the next schema version
//! (`Name @ 2 [upcaster]`) and an upcaster in [`crate::upcast`] that lifts what earlier
//! releases stored: stored bytes are never rewritten.
//! Quantities are integers (minutes, hundredths of a point), never floats.

use crate::personal::{Private, Sealed};
use crate::rules::Rules;
use crate::upcast;
use crate::values::{
    BranchKind, CampaignKind, Capacity, Category, Channel, LeaveReason, Rating, Side, SiteLevel,
    WishOrigin,
};
use allweather_events::{EventSpec, Role, Timestamp};
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! events {
    (@version) => { 1 };
    (@version $v:literal) => { $v };
    ($($(#[doc = $doc:literal])+ $name:ident $(@ $version:literal [$($up:path),+])? { $($(#[$fmeta:meta])+ $field:ident: $ty:ty,)* })*) => {
        $(
            $(#[doc = $doc])+
            #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
            pub struct $name { $($(#[$fmeta])+ pub $field: $ty,)* }
        )*

        /// Every event, tagged by its stored type name.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "event_type", content = "payload")]
        pub enum Event {
            $($(#[doc = $doc])+ $name($name),)*
        }

        impl Event {
            /// Every stored type name, with its current schema version.
            pub const SPECS: &'static [EventSpec] = &[
                $(EventSpec {
                    event_type: stringify!($name),
                    schema_version: events!(@version $($version)?),
                    upcasters: &[$($($up),+)?],
                },)*
            ];

            /// The JSON Schema of every event type's payload (its current schema version),
            /// by name.
            pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
                vec![$((stringify!($name), schemars::schema_for!($name).to_value()),)*]
            }

            /// The stored type name.
            pub fn event_type(&self) -> &'static str {
                match self { $(Event::$name(_) => stringify!($name),)* }
            }

            /// The schema version the event is written at (its type's current one).
            pub fn schema_version(&self) -> u32 {
                match self { $(Event::$name(_) => events!(@version $($version)?),)* }
            }
        }
    };
}

impl Event {
    /// The payload as JSON (the stored payload's content).
    pub fn payload(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut tagged)) => {
                tagged.remove("payload").unwrap_or_default()
            }
            _ => serde_json::Value::Null,
        }
    }

    /// An event from its stored type name and (current-schema) payload.
    pub fn from_stored(
        event_type: &str,
        payload: serde_json::Value,
    ) -> Result<Event, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "event_type": event_type, "payload": payload }))
    }
}

/// A service entry's countable facts, before and after a correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entry {
    /// The county date of the service.
    pub date: NaiveDate,
    /// Whole minutes.
    pub minutes: u32,
    /// The category.
    pub category: Category,
}

events! {
    /// A branch was registered.
    BranchRegistered {
        /// Its name.
        name: String,
        /// Unit, service or temporary.
        kind: BranchKind,
        /// The community it serves, for service branches.
        community: Option<String>,
    }
    /// A member was appointed secretary of the branch.
    SecretaryAppointed {
        /// The new secretary.
        member_id: Uuid,
    }
    /// The branch's secretary post fell vacant (a normal state: the deputy or the
    /// committee acts for the branch meanwhile).
    SecretaryVacated {
        /// The secretary who held the post.
        member_id: Uuid,
    }
    /// The branch's deputy secretary no longer holds the post (transferred or left).
    DeputyVacated {
        /// The deputy who held it.
        member_id: Uuid,
    }
    /// A member of the branch was appointed its deputy secretary: they act where the
    /// secretary is the member concerned or the post is vacant.
    DeputyAppointed {
        /// The deputy.
        member_id: Uuid,
    }
    /// The branch held a meeting. Version 1 recorded only how many came.
    BranchMeetingRecorded @ 2 [upcast::attendance_v1] {
        /// When.
        date: NaiveDate,
        /// About what.
        topic: String,
        /// The members who came (none named in a version 1 record).
        attendees: Vec<Uuid>,
        /// How many came.
        headcount: u32,
    }
    /// The branch held an activity. Version 1 recorded only how many came.
    BranchActivityRecorded @ 2 [upcast::attendance_v1] {
        /// When.
        date: NaiveDate,
        /// About what.
        topic: String,
        /// The members who took part (none named in a version 1 record).
        attendees: Vec<Uuid>,
        /// How many took part.
        headcount: u32,
    }
    /// The branch's contestant's result in the year's closed-book quiz.
    QuizResultRecorded {
        /// The year.
        year: i32,
        /// The contestant, a member of the branch.
        contestant_id: Uuid,
        /// 0–100.
        score: u32,
    }
    /// The branch was designated a demonstration site for the year.
    DemonstrationSiteDesignated {
        /// The year.
        year: i32,
        /// At which level.
        level: SiteLevel,
    }
    /// A member was registered in a unit branch.
    MemberRegistered @ 2 [upcast::member_registered_v1] {
        /// The member's name.
        name: String,
        /// The unit branch.
        unit_branch_id: Uuid,
        /// When the member joined the Party.
        joined_on: NaiveDate,
        /// A leading cadre (领导干部). Version 1 did not say: read as not.
        cadre: bool,
    }
    /// The member moved to another unit branch (a new post).
    MemberTransferred {
        /// The unit branch they left.
        from_unit_branch_id: Uuid,
        /// The unit branch they joined.
        unit_branch_id: Uuid,
        /// From when.
        on: NaiveDate,
    }
    /// The member left the programme: they take no new facts, and their history stays.
    MemberDeparted {
        /// Why.
        reason: LeaveReason,
        /// From when.
        on: NaiveDate,
    }
    /// The member now reports to a service branch in their community.
    ServiceBranchAssigned {
        /// The service or temporary branch.
        service_branch_id: Uuid,
    }
    /// The member displayed the household plaque (亮身份).
    HouseholdPlaqueDisplayed {
        /// When.
        displayed_on: NaiveDate,
    }
    /// The member observed the anniversary of joining (过入党纪念日).
    AnniversaryObserved {
        /// The year.
        year: i32,
        /// The member's reflection.
        reflection: String,
    }
    /// The member took a claim on a wish (ledger `claims-{member}`).
    ClaimOpened {
        /// The wish.
        wish_id: Uuid,
    }
    /// The member's claim on a wish ended: fulfilled, released, expired or cancelled.
    ClaimClosed {
        /// The wish.
        wish_id: Uuid,
    }
    /// The member gave a claim back (ledger `claims-{member}`): it ends, and counts
    /// against the day's releases (before they were counted, a release closed the claim
    /// with `ClaimClosed`).
    ClaimReleased {
        /// The wish.
        wish_id: Uuid,
        /// The county's date of the release.
        released_on: NaiveDate,
    }
    /// A dual management card was issued for a member-year.
    DualCardIssued {
        /// The member.
        member_id: Uuid,
        /// The year.
        year: i32,
        /// The branch that signs the unit side.
        unit_branch_id: Uuid,
        /// The branch that signs the community side.
        service_branch_id: Uuid,
    }
    /// The community's feedback on the member for a quarter.
    CommunityFeedbackRecorded {
        /// 1–4.
        quarter: u32,
        /// The feedback.
        note: String,
    }
    /// The community side awarded the member stars for the year (评星).
    StarsAwarded {
        /// How many, on the year's rules' scale.
        stars: u32,
        /// Why.
        reason: String,
        /// The member who awarded them (none for a committee admin without one).
        awarded_by: Option<Uuid>,
        /// In which capacity.
        capacity: Capacity,
    }
    /// A side of the card was signed with that branch's opinion of the member. Version 1
    /// named the opinion `rating` and was always signed by the secretary.
    DualCardSigned @ 2 [upcast::dual_card_signed_v1] {
        /// Which side.
        side: Side,
        /// The branch's opinion of the member.
        opinion: Rating,
        /// The signer's remarks.
        remarks: String,
        /// The member who signed (none for a committee admin without one).
        signer_id: Option<Uuid>,
        /// In which capacity: the branch's secretary, its deputy or a committee admin.
        capacity: Capacity,
    }
    /// Both sides are signed. Version 1 carried the lower of the two opinions as the
    /// card's "rating", a rating no person gave; it is no longer read.
    DualCardCompleted @ 2 [upcast::dual_card_completed_v1] {}
    /// The member's unit branch recorded its annual appraisal of the member (after its
    /// democratic appraisal, 民主评议): the standing appraisal until changed.
    AppraisalRecorded {
        /// The appraisal given.
        rating: Rating,
        /// The log position of the evidence it was made on (the head the appraisers saw).
        basis_position: u64,
        /// The appraisers' remarks.
        remarks: String,
        /// The member who recorded it (none for a committee admin without one).
        appraiser_id: Option<Uuid>,
        /// In which capacity.
        capacity: Capacity,
    }
    /// The committee confirmed the standing appraisal.
    AppraisalConfirmed {
        /// The appraisal confirmed.
        rating: Rating,
    }
    /// The committee overturned the standing appraisal: `rating` now stands.
    AppraisalOverturned {
        /// The appraisal it overturned.
        previous: Rating,
        /// The appraisal that now stands.
        rating: Rating,
        /// Why.
        reason: String,
    }
    /// A wish was published for members to claim. Version 1 took one claimer.
    WishPublished @ 2 [upcast::wish_published_v1] {
        /// A micro-wish or a service need.
        origin: WishOrigin,
        /// What is wished for.
        title: String,
        /// Who it is for: their name and contact, sealed under their own key.
        beneficiary: Sealed,
        /// The category.
        category: Category,
        /// By when it should be fulfilled.
        deadline: Timestamp,
        /// Who published it (the token's subject).
        publisher: String,
        /// The county's date of publication (its month is the wish board's month).
        published_on: NaiveDate,
        /// How many members it takes: 1 for a micro-wish, as many as a service need
        /// asks for.
        volunteers: u32,
    }
    /// A member claimed the wish.
    WishClaimed {
        /// The claimer.
        member_id: Uuid,
        /// When the claim runs out unless fulfilled (from the year's rules).
        expires_at: Timestamp,
    }
    /// The claimer gave the wish back.
    WishReleased {
        /// The former claimer.
        member_id: Uuid,
    }
    /// The claim ran past the rules' limit and was released by the scheduler.
    WishClaimExpired {
        /// The former claimer.
        member_id: Uuid,
    }
    /// The claimer fulfilled the wish. Version 1 held the evidence in clear.
    WishFulfilled @ 2 [upcast::clear_text_v1] {
        /// The claimer.
        member_id: Uuid,
        /// What shows it was done, sealed under the beneficiary's key.
        evidence: Private,
    }
    /// The publisher confirmed the delivery.
    WishConfirmed {
        /// The member who fulfilled it.
        member_id: Uuid,
    }
    /// The wish was withdrawn.
    WishCancelled {
        /// Why.
        reason: String,
    }
    /// Service hours were logged.
    ServiceHoursLogged {
        /// Whose hours.
        member_id: Uuid,
        /// The county date of the service.
        date: NaiveDate,
        /// Whole minutes, 1–720.
        minutes: u32,
        /// The category.
        category: Category,
        /// The activity, as entered.
        activity: String,
        /// How the hours were captured.
        channel: Channel,
        /// The campaign the hours count for.
        campaign_id: Option<Uuid>,
        /// When the service started (county time), if given: for overlap checks.
        start_time: Option<NaiveTime>,
        /// The branch that organised the activity (hours it can certify).
        organising_branch_id: Option<Uuid>,
        /// The member who entered the hours, when a member did (the owner, or a secretary).
        entered_by_member_id: Option<Uuid>,
    }
    /// The member's service-branch secretary (or a committee admin) verified the hours.
    ServiceHoursVerified {
        /// Who verified (the token's subject).
        verifier: String,
        /// The verifying secretary's member id (none for a committee admin without one).
        verifier_member_id: Option<Uuid>,
    }
    /// The hours were rejected.
    ServiceHoursRejected {
        /// Who rejected (the token's subject).
        verifier: String,
        /// The rejecting secretary's member id.
        verifier_member_id: Option<Uuid>,
        /// Why.
        reason: String,
    }
    /// A correction of verified hours was requested.
    CorrectionRequested {
        /// The entry as it stands.
        before: Entry,
        /// The entry as it should be.
        after: Entry,
        /// Why.
        reason: String,
    }
    /// A correction of verified hours was applied; the record now counts `after`.
    CorrectionApplied {
        /// The entry as it stood.
        before: Entry,
        /// The entry as it now stands.
        after: Entry,
        /// Who applied it (the token's subject).
        verifier: String,
        /// The applying secretary's member id.
        verifier_member_id: Option<Uuid>,
        /// Why.
        reason: String,
    }
    /// Minutes of a record were booked on a member-day (ledger `serviceday-{member}-{date}`).
    ServiceDayBooked {
        /// The record.
        record_id: Uuid,
        /// Its minutes.
        minutes: u32,
        /// Its activity, normalised, for duplicate detection.
        activity: String,
    }
    /// A record's minutes were taken off a member-day (rejected, or moved by a correction).
    ServiceDayReleased {
        /// The record.
        record_id: Uuid,
    }
    /// A household in need was registered. Version 1 held the hardship in clear.
    HouseholdRegistered @ 2 [upcast::clear_text_v1] {
        /// Where, at the level of an area (not an address).
        address_area: String,
        /// What hardship, sealed under the household's key.
        hardship: Private,
    }
    /// A cadre was paired with the household.
    HouseholdPaired {
        /// The cadre (a member).
        cadre_id: Uuid,
        /// From when (visits before it are not the cadre's).
        paired_on: NaiveDate,
    }
    /// The paired cadre visited. Version 1 held the notes in clear.
    HouseholdVisited @ 2 [upcast::clear_text_v1] {
        /// The cadre.
        cadre_id: Uuid,
        /// When.
        date: NaiveDate,
        /// What happened, sealed under the household's key.
        notes: Private,
    }
    /// A concern of the household was raised. Version 1 held the description in clear.
    ConcernRaised @ 2 [upcast::clear_text_v1] {
        /// The concern's id.
        concern_id: Uuid,
        /// Its category.
        category: String,
        /// What it is, sealed under the household's key.
        description: Private,
    }
    /// A concern was resolved.
    ConcernResolved {
        /// The concern.
        concern_id: Uuid,
        /// How.
        resolution: String,
    }
    /// A campaign was launched.
    CampaignLaunched {
        /// Its name.
        name: String,
        /// Its kind.
        kind: CampaignKind,
        /// First day.
        starts_on: NaiveDate,
        /// Last day.
        ends_on: NaiveDate,
    }
    /// A campaign was closed.
    CampaignClosed {
        /// When.
        closed_on: NaiveDate,
    }
    /// The year's rules were adopted (again, if adopted before: the latest is in force).
    /// Version 1 had no scale of stars (the programme's 1 to 5).
    RulesAdopted @ 3 [upcast::rules_adopted_v1, upcast::rules_adopted_v2] {
        /// The rules.
        rules: Rules,
    }
    /// The year was closed: it accepts no new facts. Version 1 predates appraisals.
    YearClosed @ 2 [upcast::year_closed_v1] {
        /// The year.
        year: i32,
        /// The members the committee closed the year without a standing appraisal for,
        /// by name of the command (none for a year closed before appraisals were kept).
        without_appraisal: Option<Vec<Uuid>>,
    }
    /// A person in need was erased: their key is destroyed and their details, sealed in
    /// the wishes published for them, can no longer be read.
    BeneficiaryErased {
        /// Why (the request or decision it carries out).
        reason: String,
        /// The county's date of the erasure.
        erased_on: NaiveDate,
    }
    /// Someone was shown a beneficiary's details (stream `beneficiary-{person}`): who is
    /// the event's actor, never the details themselves.
    BeneficiaryDisclosed {
        /// The wish whose beneficiary was shown.
        wish_id: Uuid,
        /// The member who was shown them (a claimer, or a secretary as a member), if any.
        member_id: Option<Uuid>,
        /// The county's date.
        disclosed_on: NaiveDate,
    }
    /// A person was given an account on the platform, or a new sign-in code for it
    /// (stream `account-{id}`; a member's account has the member's id). Who gave it is
    /// the event's actor. No credential is ever in the log.
    AccountInvited {
        /// The role the account acts in (`member` for a member's account).
        role: Role,
        /// The member, for a member's account.
        member_id: Option<Uuid>,
    }
    /// An account was disabled: it cannot sign in until invited again.
    AccountDisabled {
        /// Why.
        reason: String,
    }
}
