//! The dual management card (双重管理证) of a member-year: the community side (quarterly
//! feedback, stars and its opinion, by the member's service or temporary branch) and the
//! unit side (its opinion, by the member's unit branch). Each side sees what the other
//! recorded ([`read`]); the card carries the two opinions people wrote and never a rating
//! of its own.

use crate::command::{AwardStars, IssueDualCard, RecordCommunityFeedback, SignDualCard};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::member;
use crate::permissions::{Read, act_for_branch, may_read, require_role, require_secretary};
use crate::values::Year;
use crate::values::{self, Capacity, Rating, Side};
use crate::world::{Decision, World, streams};
use crate::year::{open_year, rules_in_force};
use allweather_events::Role;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A card's state: everything both sides recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DualCard {
    /// Issued (the stream exists).
    pub issued: bool,
    /// Whose card.
    pub member_id: Option<Uuid>,
    /// The unit branch when the card was issued.
    pub unit_branch_id: Option<Uuid>,
    /// The service branch when the card was issued.
    pub service_branch_id: Option<Uuid>,
    /// The community's feedback, by quarter.
    pub feedback: BTreeMap<u32, String>,
    /// Stars awarded and why.
    pub stars: Option<(u32, String)>,
    /// The signed sides.
    pub signed: BTreeMap<SideKey, Signature>,
    /// Both sides signed.
    pub complete: bool,
}

/// A signed side of the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The branch's opinion of the member.
    pub opinion: Rating,
    /// The signer's remarks.
    pub remarks: String,
    /// The member who signed (none for a committee admin without one).
    pub signer_id: Option<Uuid>,
    /// In which capacity.
    pub capacity: Capacity,
}

/// A side, as a map key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SideKey {
    /// The community side.
    Community,
    /// The unit side.
    Unit,
}

impl From<Side> for SideKey {
    fn from(side: Side) -> Self {
        match side {
            Side::Community => SideKey::Community,
            Side::Unit => SideKey::Unit,
        }
    }
}

impl DualCard {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::DualCardIssued(e) => {
                self.issued = true;
                self.member_id = Some(e.member_id);
                self.unit_branch_id = Some(e.unit_branch_id);
                self.service_branch_id = Some(e.service_branch_id);
            }
            Event::CommunityFeedbackRecorded(e) => {
                self.feedback.insert(e.quarter, e.note.clone());
            }
            Event::StarsAwarded(e) => self.stars = Some((e.stars, e.reason.clone())),
            Event::DualCardSigned(e) => {
                self.signed.insert(
                    e.side.into(),
                    Signature {
                        opinion: e.opinion,
                        remarks: e.remarks.clone(),
                        signer_id: e.signer_id,
                        capacity: e.capacity,
                    },
                );
            }
            Event::DualCardCompleted(_) => self.complete = true,
            _ => {}
        }
    }
}

fn issued(world: &World, member_id: Uuid, year: Year) -> Result<&DualCard, Decide> {
    let card: &DualCard = world.get(streams::dualcard(member_id, year.get()))?;
    ensure(card.issued, Rule::CardNotIssued, || {
        format!("no dual card has been issued to member {member_id} for {year}")
    })?;
    Ok(card)
}

/// The member's service branch now (the community side is written by the community the
/// member reports to when it is written: a member who moved is judged by their new one).
fn service_branch(world: &World, member_id: Uuid) -> Result<Uuid, Decide> {
    member::existing(world, member_id)?
        .service_branch
        .ok_or_else(|| {
            DomainError::new(
                Rule::NoServiceBranch,
                format!("member {member_id} has no service branch to write the community side"),
            )
            .into()
        })
}

/// Member `member_id`'s card of `year`, for those who may read it
/// ([`may_read`]): the unit side reads what the community side recorded before
/// it signs, and the member reads both.
pub fn read<'w>(
    world: &'w World,
    member_id: Uuid,
    year: Year,
    ctx: &Ctx,
) -> Result<&'w DualCard, Decide> {
    // The right to read is decided before anything says whether the card exists.
    may_read(world, ctx, &Read::Member(member_id))?;
    issued(world, member_id, year)
}

/// Refuses a bulk issue of cards to anyone but a committee admin, or for a year without
/// rules (a card is judged by them); the handler then issues each member's card as its
/// own decision of [`IssueDualCard`].
pub fn may_issue_in_bulk(world: &World, year: Year, ctx: &Ctx) -> Result<(), Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "issuing every member's card")?;
    rules_in_force(world, year)?;
    Ok(())
}

pub(crate) fn issue(world: &World, c: &IssueDualCard, ctx: &Ctx) -> Result<Decision, Decide> {
    let Some(member_id) = c.member_id else {
        // The API plans a bulk issue as one decision per member (see `may_issue_in_bulk`).
        return Err(DomainError::new(
            Rule::OutOfRange,
            "a bulk issue is decided one member at a time",
        )
        .on("all_members")
        .into());
    };
    let m = member::existing(world, member_id)?;
    if ctx.principal.role != Role::CommitteeAdmin {
        require_secretary(world, ctx, &m.branches(), "issuing a dual card")?;
    }
    // A card is judged by its year's rules: they come first.
    rules_in_force(world, c.year)?;
    let (Some(unit), Some(service)) = (m.unit_branch, m.service_branch) else {
        return Err(DomainError::new(
            Rule::NoServiceBranch,
            format!("member {member_id} has no service branch to sign the community side"),
        )
        .into());
    };
    let stream = streams::dualcard(member_id, c.year.get());
    let card: &DualCard = world.get(stream.clone())?;
    ensure(!card.issued, Rule::CardAlreadyIssued, || {
        format!(
            "member {member_id} already has a dual card for {}",
            c.year.get()
        )
    })?;
    Ok(Decision::to(
        stream.clone(),
        vec![Event::DualCardIssued(DualCardIssued {
            member_id,
            year: c.year.get(),
            unit_branch_id: unit,
            service_branch_id: service,
        })],
    ))
}

pub(crate) fn record_feedback(
    world: &World,
    c: &RecordCommunityFeedback,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let card = issued(world, c.member_id, c.year)?;
    if ctx.principal.role != Role::ServiceCentre {
        let branch = service_branch(world, c.member_id)?;
        act_for_branch(
            world,
            ctx,
            branch,
            c.member_id,
            Rule::OwnCardNotSignable,
            "recording community feedback",
        )?;
    }
    open_year(world, c.year)?;
    ensure(
        (1..=values::QUARTERS).contains(&c.quarter),
        Rule::OutOfRange,
        || {
            format!(
                "quarter must be 1 to {}, got {}",
                values::QUARTERS,
                c.quarter
            )
        },
    )
    .map_err(|e| e.on("quarter"))?;
    ensure(!card.complete, Rule::CardAlreadyComplete, || {
        format!(
            "the {} card of member {} is complete",
            c.year.get(),
            c.member_id
        )
    })?;
    ensure(
        !card.feedback.contains_key(&c.quarter),
        Rule::FeedbackAlreadyRecorded,
        || {
            format!(
                "quarter {} of {} already has community feedback",
                c.quarter,
                c.year.get()
            )
        },
    )?;
    let note = values::text("note", &c.note, values::TEXT_NOTE)?;
    Ok(Decision::to(
        streams::dualcard(c.member_id, c.year.get()),
        vec![Event::CommunityFeedbackRecorded(
            CommunityFeedbackRecorded {
                quarter: c.quarter,
                note,
            },
        )],
    ))
}

pub(crate) fn award_stars(world: &World, c: &AwardStars, ctx: &Ctx) -> Result<Decision, Decide> {
    let card = issued(world, c.member_id, c.year)?;
    let branch = service_branch(world, c.member_id)?;
    let (capacity, awarded_by) = act_for_branch(
        world,
        ctx,
        branch,
        c.member_id,
        Rule::OwnCardNotSignable,
        "awarding stars",
    )?;
    let rules = rules_in_force(world, c.year)?;
    ensure(
        (1..=rules.max_stars).contains(&c.stars),
        Rule::OutOfRange,
        || {
            format!(
                "stars run from 1 to {} in {}, got {}",
                rules.max_stars,
                c.year.get(),
                c.stars
            )
        },
    )
    .map_err(|e| e.on("stars"))?;
    ensure(card.stars.is_none(), Rule::StarsAlreadyAwarded, || {
        format!(
            "member {} was already awarded stars for {}",
            c.member_id,
            c.year.get()
        )
    })?;
    let reason = values::text("reason", &c.reason, values::TEXT_REASON)?;
    Ok(Decision::to(
        streams::dualcard(c.member_id, c.year.get()),
        vec![Event::StarsAwarded(StarsAwarded {
            stars: c.stars,
            reason,
            awarded_by,
            capacity,
        })],
    ))
}

pub(crate) fn sign(world: &World, c: &SignDualCard, ctx: &Ctx) -> Result<Decision, Decide> {
    let card = issued(world, c.member_id, c.year)?;
    // Each side is signed by the member's branch now: a member who moved during the year
    // is signed for by the branch they report to when the card is signed.
    let m = member::existing(world, c.member_id)?;
    let (branch, side_name) = match c.side {
        Side::Community => (m.service_branch, "the community side"),
        Side::Unit => (m.unit_branch, "the unit side"),
    };
    let branch = branch.ok_or_else(|| {
        DomainError::new(
            Rule::NoServiceBranch,
            format!("member {} has no branch to sign {side_name}", c.member_id),
        )
    })?;
    let (capacity, signer_id) = act_for_branch(
        world,
        ctx,
        branch,
        c.member_id,
        Rule::OwnCardNotSignable,
        &format!("signing {side_name} of a dual card"),
    )?;
    open_year(world, c.year)?;
    ensure(
        !card.signed.contains_key(&c.side.into()),
        Rule::SideAlreadySigned,
        || {
            format!(
                "{side_name} of member {}'s {} card is already signed",
                c.member_id,
                c.year.get()
            )
        },
    )?;
    let remarks = values::text("remarks", &c.remarks, values::TEXT_NOTE)?;
    let mut events = vec![Event::DualCardSigned(DualCardSigned {
        side: c.side,
        opinion: c.opinion,
        remarks,
        signer_id,
        capacity,
    })];
    let other = match c.side {
        Side::Community => SideKey::Unit,
        Side::Unit => SideKey::Community,
    };
    if card.signed.contains_key(&other) {
        events.push(Event::DualCardCompleted(DualCardCompleted {}));
    }
    Ok(Decision::to(
        streams::dualcard(c.member_id, c.year.get()),
        events,
    ))
}
