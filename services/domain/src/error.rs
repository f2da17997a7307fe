//! Why a command is refused: the [`Rule`] it breaks, and how that is answered.
//!
//! Each rule maps, here and nowhere else, to one [`Refusal`]: forbidden (403), not found
//! (404), conflict (409) or invalid (422). A [`DomainError`] names the rule
//! (`WishAlreadyClaimed`, `HoursExceedDailyLimit`, `OwnCardNotSignable`, …) and, where one
//! is at fault, the field; the API shows both. [`Decide`] is what `decide` answers short of
//! a decision: a refusal, or what it needs brought into the world.

use allweather_events::StreamId;
use std::fmt;

/// How a refusal is answered (the HTTP status class of the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The principal may not do this (403).
    Forbidden,
    /// What the command acts on does not exist (404).
    NotFound,
    /// The command conflicts with what has already happened (409).
    Conflict,
    /// A rule of the programme refuses it (422).
    Invalid,
}

macro_rules! rules {
    ($($refusal:ident: [$($(#[doc = $doc:literal])+ $rule:ident,)*])*) => {
        /// A rule of the programme, named as it is broken. Names are part of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rule {
            $($($(#[doc = $doc])+ $rule,)*)*
        }

        impl Rule {
            /// How a command breaking this rule is refused.
            pub const fn refusal(self) -> Refusal {
                match self { $($(Rule::$rule => Refusal::$refusal,)*)* }
            }

            /// The rule's name, as shown to callers.
            pub const fn name(self) -> &'static str {
                match self { $($(Rule::$rule => stringify!($rule),)*)* }
            }
        }
    };
}

rules! {
    Forbidden: [
        /// The principal's role may not issue this command.
        RoleNotPermitted,
        /// A member token acts only for its own member.
        NotTheMember,
        /// Only the appointed secretary of the branch concerned may do this.
        NotTheBranchSecretary,
        /// Nobody signs their own dual card, records its feedback or awards themself stars.
        OwnCardNotSignable,
        /// Nobody records, confirms or overturns their own appraisal.
        OwnAppraisalNotRecordable,
        /// Nobody verifies or rejects their own service hours.
        OwnHoursNotVerifiable,
        /// Entries over 8 hours are verified by a committee administrator only.
        LongEntryNeedsCommitteeAdmin,
        /// Only the cadre paired with a household visits it.
        NotThePairedCadre,
        /// Only the claimer (or a secretary of the claimer's branch) acts on a claim.
        NotTheClaimer,
        /// Only the publisher (or the service centre) confirms or cancels a wish.
        NotThePublisher,
        /// A beneficiary's details are seen by the wish's publisher, the service centre,
        /// the claimer and the secretaries of the claimer's branches only.
        NotEntitledToPersonalData,
    ]
    NotFound: [
        /// No such branch.
        BranchNotFound,
        /// No such member.
        MemberNotFound,
        /// No such wish.
        WishNotFound,
        /// No such service record.
        RecordNotFound,
        /// No such household.
        HouseholdNotFound,
        /// No such campaign.
        CampaignNotFound,
        /// No dual card issued for this member-year.
        CardNotIssued,
        /// No such concern on the household.
        ConcernNotFound,
        /// No appraisal has been recorded for this member-year.
        AppraisalNotRecorded,
        /// No wish was ever published for this beneficiary.
        BeneficiaryNotFound,
        /// No such account.
        AccountNotFound,
    ]
    Conflict: [
        /// The id is already taken by an earlier registration or launch.
        AlreadyExists,
        /// The wish is claimed by someone else.
        WishAlreadyClaimed,
        /// The wish is no longer open (fulfilled, confirmed, cancelled).
        WishNotOpen,
        /// The wish is not claimed (any more).
        WishNotClaimed,
        /// The wish is not fulfilled (yet, or any more).
        WishNotFulfilled,
        /// The cadre already recorded a visit to the household that day.
        VisitAlreadyRecorded,
        /// One dual card per member-year.
        CardAlreadyIssued,
        /// Each side of a card is signed once.
        SideAlreadySigned,
        /// A completed card takes no more feedback.
        CardAlreadyComplete,
        /// One community feedback per quarter.
        FeedbackAlreadyRecorded,
        /// Stars are awarded once per card.
        StarsAlreadyAwarded,
        /// The committee confirmed or overturned the appraisal: the committee changes it.
        AppraisalSettledByCommittee,
        /// One quiz result per branch-year.
        QuizAlreadyRecorded,
        /// One demonstration-site designation per branch-year.
        SiteAlreadyDesignated,
        /// The anniversary is observed once a year.
        AnniversaryAlreadyObserved,
        /// The household plaque is displayed once.
        PlaqueAlreadyDisplayed,
        /// The same member, date and activity were already logged.
        DuplicateServiceEntry,
        /// The record has already been verified or rejected.
        RecordAlreadyDecided,
        /// A correction is already waiting to be applied.
        CorrectionAlreadyPending,
        /// The concern is already resolved.
        ConcernAlreadyResolved,
        /// The campaign is already closed.
        CampaignAlreadyClosed,
        /// The year is already closed.
        YearAlreadyClosed,
        /// The member already holds this role or assignment.
        NothingChanges,
        /// The beneficiary was erased: nothing more is recorded for them under that id.
        BeneficiaryErased,
        /// The beneficiary is already erased.
        AlreadyErased,
        /// The member left the programme: they take no new facts.
        MemberHasLeft,
        /// The account is disabled: only the committee enables it again.
        AccountIsDisabled,
    ]
    Invalid: [
        /// A text field is empty, too long or holds control characters.
        TextInvalid,
        /// A number is outside its allowed range.
        OutOfRange,
        /// A fact cannot be dated in the future.
        DateInFuture,
        /// A closed year accepts no new facts.
        YearClosed,
        /// The year's rules have not been adopted.
        RulesNotAdopted,
        /// The rules document is invalid.
        RulesInvalid,
        /// An entry is more than 0 and at most 12 hours, in whole minutes.
        HoursOutOfRange,
        /// A member's entries for one day total at most 24 hours.
        HoursExceedDailyLimit,
        /// The anniversary is observed in the member's joining month of that year.
        AnniversaryOutsideJoiningMonth,
        /// A reflection must be a real text of some length.
        ReflectionTooShort,
        /// The branch is of the wrong kind for this.
        WrongBranchKind,
        /// The member does not belong to the branch.
        NotABranchMember,
        /// The member has no service branch.
        NoServiceBranch,
        /// An appraisal cites a position the log holds (1 to its head).
        BasisPositionUnknown,
        /// A year closes once every member has a standing appraisal, or with those who
        /// have none listed, exactly.
        MembersWithoutAppraisal,
        /// A member holds at most the rules' number of open claims.
        OpenClaimLimitReached,
        /// A member gives back at most the rules' number of claims a day.
        ReleaseLimitReached,
        /// The wish's deadline has passed, or is not in the future.
        DeadlinePassed,
        /// The claim has not yet run past the rules' limit.
        ClaimNotExpired,
        /// Hours logged to a campaign fall inside its dates, while it is open.
        OutsideCampaign,
        /// A date range ends before it starts, or a fact predates what it depends on.
        DatesOutOfOrder,
        /// Only verified records are corrected; unverified ones are rejected and logged again.
        RecordNotVerified,
        /// There is no pending correction and the command names no change.
        NoCorrectionGiven,
        /// A year is closed only once it is over, so that what happens today is never
        /// in a closed year.
        YearNotOver,
        /// The body's year and the rules' year differ.
        YearMismatch,
    ]
}

/// A command refused by a rule of the domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", rule.name())]
pub struct DomainError {
    /// The rule broken.
    pub rule: Rule,
    /// What exactly is wrong, for the caller.
    pub detail: String,
    /// The body field at fault, when one is.
    pub field: Option<&'static str>,
}

impl DomainError {
    /// A refusal by `rule`.
    pub fn new(rule: Rule, detail: impl fmt::Display) -> Self {
        DomainError {
            rule,
            detail: detail.to_string(),
            field: None,
        }
    }

    /// The same refusal, blamed on a field of the body.
    pub fn on(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}

/// What `decide` answers instead of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decide {
    /// The command is refused.
    Refused(DomainError),
    /// The state of this stream is needed: load it and decide again.
    Need(StreamId),
    /// The id of every stream of this aggregate is needed (e.g. every member, to close
    /// a year): list them into the world and decide again.
    NeedIndex(&'static str),
    /// The state of every one of these streams is needed: load them and decide again.
    NeedAll(Vec<StreamId>),
    /// A person's key is needed (made first if `create` and there is none): bring it
    /// into the world, with a fresh nonce, and decide again.
    NeedKey {
        /// The person.
        person_id: uuid::Uuid,
        /// Whether a key is to be made for a person who has none.
        create: bool,
    },
}

impl From<DomainError> for Decide {
    fn from(e: DomainError) -> Self {
        Decide::Refused(e)
    }
}

/// Refuses with `rule` unless `ok`.
pub(crate) fn ensure(
    ok: bool,
    rule: Rule,
    detail: impl FnOnce() -> String,
) -> Result<(), DomainError> {
    if ok {
        Ok(())
    } else {
        Err(DomainError::new(rule, detail()))
    }
}
