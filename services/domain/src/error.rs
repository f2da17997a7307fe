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
    ($($refusal:ident: [$($(#[doc = $doc:literal])+ $rule:ident = $zh:literal,)*])*) => {
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

            /// The rule as a sentence in Chinese, as the platform's pages show a refusal.
            pub const fn sentence_zh(self) -> &'static str {
                match self { $($(Rule::$rule => $zh,)*)* }
            }
        }
    };
}

rules! {
    Forbidden: [
        /// The principal's role may not issue this command.
        RoleNotPermitted = "您的角色不能办理此事。",
        /// A member token acts only for its own member.
        NotTheMember = "此事只能由党员本人办理。",
        /// Only the appointed secretary of the branch concerned may do this.
        NotTheBranchSecretary = "此事由该支部的书记办理。",
        /// Nobody signs their own dual card, records its feedback or awards themself stars.
        OwnCardNotSignable = "不能为自己的双报到卡签署意见、记录反馈或评星。",
        /// Nobody records, confirms or overturns their own appraisal.
        OwnAppraisalNotRecordable = "不能记录、确认或改变自己的评议结果。",
        /// Nobody verifies or rejects their own service hours.
        OwnHoursNotVerifiable = "不能审核自己的服务时长。",
        /// Entries over 8 hours are verified by a committee administrator only.
        LongEntryNeedsCommitteeAdmin = "超过8小时的记录须由县委管理员审核。",
        /// Only the cadre paired with a household visits it.
        NotThePairedCadre = "只有结对干部才能走访这户人家。",
        /// Only the claimer (or a secretary of the claimer's branch) acts on a claim.
        NotTheClaimer = "只有认领人（或其支部书记）才能办理此认领。",
        /// Only the publisher (or the service centre) confirms or cancels a wish.
        NotThePublisher = "只有发布人或服务中心才能确认或撤销此心愿。",
        /// A beneficiary's details are seen by the wish's publisher, the service centre,
        /// the claimer and the secretaries of the claimer's branches only.
        NotEntitledToPersonalData = "您无权查看受助人的个人信息。",
    ]
    NotFound: [
        /// No such branch.
        BranchNotFound = "没有这个支部。",
        /// No such member.
        MemberNotFound = "没有这名党员。",
        /// No such wish.
        WishNotFound = "没有这个心愿或需求。",
        /// No such service record.
        RecordNotFound = "没有这条服务记录。",
        /// No such household.
        HouseholdNotFound = "没有这户人家。",
        /// No such campaign.
        CampaignNotFound = "没有这项活动。",
        /// No dual card issued for this member-year.
        CardNotIssued = "该党员本年度的双报到卡尚未发放。",
        /// No such concern on the household.
        ConcernNotFound = "这户人家没有这项诉求。",
        /// No appraisal has been recorded for this member-year.
        AppraisalNotRecorded = "该党员本年度尚无评议结果。",
        /// No wish was ever published for this beneficiary.
        BeneficiaryNotFound = "没有为此人发布过心愿。",
        /// No such account.
        AccountNotFound = "没有这个账号。",
    ]
    Conflict: [
        /// The id is already taken by an earlier registration or launch.
        AlreadyExists = "已经登记过了。",
        /// The wish is claimed by someone else.
        WishAlreadyClaimed = "这个心愿已被他人认领。",
        /// The wish is no longer open (fulfilled, confirmed, cancelled).
        WishNotOpen = "这个心愿已不再开放。",
        /// The wish is not claimed (any more).
        WishNotClaimed = "这个心愿未被认领。",
        /// The wish is not fulfilled (yet, or any more).
        WishNotFulfilled = "这个心愿尚未完成。",
        /// The cadre already recorded a visit to the household that day.
        VisitAlreadyRecorded = "当天已记录过对这户的走访。",
        /// One dual card per member-year.
        CardAlreadyIssued = "本年度的双报到卡已经发放。",
        /// Each side of a card is signed once.
        SideAlreadySigned = "这一方已经签署过意见。",
        /// A completed card takes no more feedback.
        CardAlreadyComplete = "双报到卡已填写完毕，不再接受反馈。",
        /// One community feedback per quarter.
        FeedbackAlreadyRecorded = "本季度的社区反馈已经记录。",
        /// Stars are awarded once per card.
        StarsAlreadyAwarded = "这张卡已经评过星。",
        /// The committee confirmed or overturned the appraisal: the committee changes it.
        AppraisalSettledByCommittee = "县委已确认或改变此评议，只能由县委更改。",
        /// One quiz result per branch-year.
        QuizAlreadyRecorded = "该支部本年度的知识竞赛成绩已经记录。",
        /// One demonstration-site designation per branch-year.
        SiteAlreadyDesignated = "该支部本年度已被评定为示范点。",
        /// The anniversary is observed once a year.
        AnniversaryAlreadyObserved = "本年度的政治生日已经过过了。",
        /// The household plaque is displayed once.
        PlaqueAlreadyDisplayed = "家庭户牌已经挂出。",
        /// The same member, date and activity were already logged.
        DuplicateServiceEntry = "同一天的同一项服务已经登记过。",
        /// The record has already been verified or rejected.
        RecordAlreadyDecided = "这条记录已经审核过了。",
        /// A correction is already waiting to be applied.
        CorrectionAlreadyPending = "已有一项更正在等待处理。",
        /// The concern is already resolved.
        ConcernAlreadyResolved = "这项诉求已经解决。",
        /// The campaign is already closed.
        CampaignAlreadyClosed = "这项活动已经结束。",
        /// The year is already closed.
        YearAlreadyClosed = "这一年度已经关闭。",
        /// The member already holds this role or assignment.
        NothingChanges = "没有任何变化：已是如此。",
        /// The beneficiary was erased: nothing more is recorded for them under that id.
        BeneficiaryErased = "此受助人的信息已被删除，不再登记新的事项。",
        /// The beneficiary is already erased.
        AlreadyErased = "此受助人的信息已经删除。",
        /// The member left the programme: they take no new facts.
        MemberHasLeft = "该党员已退出，不再登记新的事项。",
        /// The account is disabled: only the committee enables it again.
        AccountIsDisabled = "这个账号已停用，只有县委管理员才能重新启用。",
    ]
    Invalid: [
        /// A text field is empty, too long or holds control characters.
        TextInvalid = "文字为空、过长或含有不可见的控制字符。",
        /// A number is outside its allowed range.
        OutOfRange = "数值或选项超出允许的范围。",
        /// A fact cannot be dated in the future.
        DateInFuture = "日期不能晚于今天。",
        /// A closed year accepts no new facts.
        YearClosed = "这一年度已关闭，不再登记新的事项。",
        /// The year's rules have not been adopted.
        RulesNotAdopted = "本年度的考核规则尚未通过。",
        /// The rules document is invalid.
        RulesInvalid = "考核规则文件有误。",
        /// An entry is more than 0 and at most 12 hours, in whole minutes.
        HoursOutOfRange = "每条记录的时长须大于0、不超过12小时，按分钟计。",
        /// A member's entries for one day total at most 24 hours.
        HoursExceedDailyLimit = "一天的服务时长合计不能超过24小时。",
        /// The anniversary is observed in the member's joining month of that year.
        AnniversaryOutsideJoiningMonth = "政治生日须在入党当月过。",
        /// A reflection must be a real text of some length.
        ReflectionTooShort = "心得体会写得太短了。",
        /// The branch is of the wrong kind for this.
        WrongBranchKind = "支部类型不符。",
        /// The member does not belong to the branch.
        NotABranchMember = "该党员不属于这个支部。",
        /// The member has no service branch.
        NoServiceBranch = "该党员还没有报到的社区服务支部。",
        /// An appraisal cites a position the log holds (1 to its head).
        BasisPositionUnknown = "所依据的记录位置在日志中不存在。",
        /// A year closes once every member has a standing appraisal, or with those who
        /// have none listed, exactly.
        MembersWithoutAppraisal = "还有党员没有评议结果，须逐一列明。",
        /// A member holds at most the rules' number of open claims.
        OpenClaimLimitReached = "您认领的未完成心愿已达上限。",
        /// A member gives back at most the rules' number of claims a day.
        ReleaseLimitReached = "您今天放弃认领的次数已达上限。",
        /// The wish's deadline has passed, or is not in the future.
        DeadlinePassed = "截止日期已过，或不在将来。",
        /// The claim has not yet run past the rules' limit.
        ClaimNotExpired = "认领尚未超过规定期限。",
        /// Hours logged to a campaign fall inside its dates, while it is open.
        OutsideCampaign = "服务日期不在活动期间内，或活动已结束。",
        /// A date range ends before it starts, or a fact predates what it depends on.
        DatesOutOfOrder = "日期先后顺序不对。",
        /// Only verified records are corrected; unverified ones are rejected and logged again.
        RecordNotVerified = "只有已审核的记录才能更正；未审核的请驳回后重新登记。",
        /// There is no pending correction and the command names no change.
        NoCorrectionGiven = "没有待处理的更正，也没有给出更正内容。",
        /// A year is closed only once it is over, so that what happens today is never
        /// in a closed year.
        YearNotOver = "年度结束后才能关闭。",
        /// The body's year and the rules' year differ.
        YearMismatch = "年份与规则文件中的年份不一致。",
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
