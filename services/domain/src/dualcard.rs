//! The dual management card (双重管理证) of a member-year, signed by both branches.

use crate::command::{IssueDualCard, RecordCommunityFeedback, SignDualCard};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::member;
use crate::permissions::require_secretary;
use crate::values::{self, Rating, Side};
use crate::world::{Decision, World, streams};
use crate::year::open_year;
use allweather_events::Role;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A card's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DualCard {
    /// Issued (the stream exists).
    pub issued: bool,
    /// Whose card.
    pub member_id: Option<Uuid>,
    /// Feedback by quarter.
    pub feedback: BTreeMap<u32, String>,
    /// Ratings given, by side.
    pub signed: BTreeMap<SideKey, Rating>,
    /// Both sides signed.
    pub complete: bool,
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
            }
            Event::CommunityFeedbackRecorded(e) => {
                self.feedback.insert(e.quarter, e.note.clone());
            }
            Event::DualCardSigned(e) => {
                self.signed.insert(e.side.into(), e.rating);
            }
            Event::DualCardCompleted(_) => self.complete = true,
            _ => {}
        }
    }
}

fn rank(r: Rating) -> u8 {
    match r {
        Rating::Excellent => 3,
        Rating::Qualified => 2,
        Rating::BasicallyQualified => 1,
        Rating::Unqualified => 0,
    }
}

fn issued(world: &World, member_id: Uuid, year: i32) -> Result<&DualCard, Decide> {
    values::year("year", year)?;
    let card: &DualCard = world.get(streams::dualcard(member_id, year))?;
    ensure(card.issued, Rule::CardNotIssued, || {
        format!("no dual card has been issued to member {member_id} for {year}")
    })?;
    Ok(card)
}

pub(crate) fn issue(world: &World, c: &IssueDualCard, ctx: &Ctx) -> Result<Decision, Decide> {
    let m = member::existing(world, c.member_id)?;
    if ctx.principal.role != Role::CommitteeAdmin {
        require_secretary(world, ctx, &m.branches(), "issuing a dual card")?;
    }
    values::year("year", c.year)?;
    open_year(world, c.year)?;
    let (Some(unit), Some(service)) = (m.unit_branch, m.service_branch) else {
        return Err(DomainError::new(
            Rule::NoServiceBranch,
            format!(
                "member {} has no service branch to sign the community side",
                c.member_id
            ),
        )
        .into());
    };
    let stream = streams::dualcard(c.member_id, c.year);
    let card: &DualCard = world.get(stream.clone())?;
    ensure(!card.issued, Rule::CardAlreadyIssued, || {
        format!(
            "member {} already has a dual card for {}",
            c.member_id, c.year
        )
    })?;
    Ok(Decision::to(
        stream.clone(),
        vec![Event::DualCardIssued(DualCardIssued {
            member_id: c.member_id,
            year: c.year,
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
        // The member's service branch now: a member who moved is judged by their new community.
        let branches: Vec<Uuid> = member::existing(world, c.member_id)?
            .service_branch
            .into_iter()
            .collect();
        let secretary = require_secretary(world, ctx, &branches, "recording community feedback")?;
        ensure(secretary != c.member_id, Rule::OwnCardNotSignable, || {
            "nobody records feedback on their own card".into()
        })?;
    }
    open_year(world, c.year)?;
    ensure((1..=4).contains(&c.quarter), Rule::OutOfRange, || {
        format!("quarter must be 1 to 4, got {}", c.quarter)
    })
    .map_err(|e| e.on("quarter"))?;
    ensure(!card.complete, Rule::CardAlreadyComplete, || {
        format!("the {} card of member {} is complete", c.year, c.member_id)
    })?;
    ensure(
        !card.feedback.contains_key(&c.quarter),
        Rule::FeedbackAlreadyRecorded,
        || {
            format!(
                "quarter {} of {} already has community feedback",
                c.quarter, c.year
            )
        },
    )?;
    let note = values::text("note", &c.note, 2_000)?;
    let stream = streams::dualcard(c.member_id, c.year);
    Ok(Decision::to(
        stream.clone(),
        vec![Event::CommunityFeedbackRecorded(
            CommunityFeedbackRecorded {
                quarter: c.quarter,
                note,
            },
        )],
    ))
}

pub(crate) fn sign(world: &World, c: &SignDualCard, ctx: &Ctx) -> Result<Decision, Decide> {
    let card = issued(world, c.member_id, c.year)?;
    // Each side is signed by the member's branch now: a member who moved during the year
    // is signed for by the branch they report to when the card is signed.
    let m = member::existing(world, c.member_id)?;
    let branch = match c.side {
        Side::Community => m.service_branch,
        Side::Unit => m.unit_branch,
    };
    let branches: Vec<Uuid> = branch.into_iter().collect();
    let side_name = match c.side {
        Side::Community => "the community side",
        Side::Unit => "the unit side",
    };
    let secretary = require_secretary(
        world,
        ctx,
        &branches,
        &format!("signing {side_name} of a dual card"),
    )?;
    ensure(
        secretary != c.member_id && ctx.principal.member_id != Some(c.member_id),
        Rule::OwnCardNotSignable,
        || "nobody signs their own dual card".into(),
    )?;
    open_year(world, c.year)?;
    ensure(
        !card.signed.contains_key(&c.side.into()),
        Rule::SideAlreadySigned,
        || {
            format!(
                "{side_name} of member {}'s {} card is already signed",
                c.member_id, c.year
            )
        },
    )?;
    ensure(
        !c.rating.is_qualified_or_above() || !card.feedback.is_empty(),
        Rule::QualifiedRatingNeedsFeedback,
        || {
            format!(
                "member {} has no community feedback in {}, so cannot be rated qualified or above",
                c.member_id, c.year
            )
        },
    )
    .map_err(|e| e.on("rating"))?;
    let remarks = values::text("remarks", &c.remarks, 2_000)?;
    let mut events = vec![Event::DualCardSigned(DualCardSigned {
        side: c.side,
        rating: c.rating,
        remarks,
        signer_id: secretary,
    })];
    let other = match c.side {
        Side::Community => SideKey::Unit,
        Side::Unit => SideKey::Community,
    };
    if let Some(&other_rating) = card.signed.get(&other) {
        let rating = if rank(other_rating) < rank(c.rating) {
            other_rating
        } else {
            c.rating
        };
        events.push(Event::DualCardCompleted(DualCardCompleted { rating }));
    }
    let stream = streams::dualcard(c.member_id, c.year);
    Ok(Decision::to(stream.clone(), events))
}
