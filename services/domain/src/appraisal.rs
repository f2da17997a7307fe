//! The member's annual appraisal (`appraisal-{member}-{year}`): a decision of people. The
//! unit branch records it after its democratic appraisal (民主评议), citing the log
//! position of the evidence it was made on; the committee may confirm or overturn it.
//! Every change is an event of its own; the one standing is the latest. Nothing here
//! computes a rating: the read side shows the appraisal beside the evidence and names
//! where they disagree.

use crate::command::{ConfirmAppraisal, OverturnAppraisal, RecordAppraisal};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::member;
use crate::permissions::{act_for_branch, require_role};
use crate::values::{self, Rating};
use crate::world::{Decision, World, streams};
use crate::year::open_year;
use uuid::Uuid;

/// Who settled an appraisal last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// As the unit branch recorded it (the committee has not acted).
    ByUnit,
    /// The committee confirmed it.
    Confirmed,
    /// The committee overturned it.
    Overturned,
}

/// A member-year's appraisal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Appraisal {
    /// The standing appraisal and who settled it; none until one is recorded.
    pub standing: Option<(Rating, Settled)>,
}

impl Appraisal {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::AppraisalRecorded(e) => self.standing = Some((e.rating, Settled::ByUnit)),
            Event::AppraisalConfirmed(e) => self.standing = Some((e.rating, Settled::Confirmed)),
            Event::AppraisalOverturned(e) => {
                self.standing = Some((e.rating, Settled::Overturned));
            }
            _ => {}
        }
    }
}

fn standing(world: &World, member_id: Uuid, year: i32) -> Result<(Rating, Settled), Decide> {
    let appraisal: &Appraisal = world.get(streams::appraisal(member_id, year))?;
    appraisal.standing.ok_or_else(|| {
        DomainError::new(
            Rule::AppraisalNotRecorded,
            format!("no appraisal of member {member_id} for {year} has been recorded"),
        )
        .into()
    })
}

/// The committee acts on an appraisal, never on its own.
fn committee_on(ctx: &Ctx, member_id: Uuid, what: &str) -> Result<(), DomainError> {
    require_role(ctx, &[allweather_events::Role::CommitteeAdmin], what)?;
    ensure(
        ctx.principal.member_id != Some(member_id),
        Rule::OwnAppraisalNotRecordable,
        || format!("nobody does {what} for themself"),
    )
}

pub(crate) fn record(world: &World, c: &RecordAppraisal, ctx: &Ctx) -> Result<Decision, Decide> {
    let m = member::existing(world, c.member_id)?;
    let unit = m.unit_branch.ok_or_else(|| {
        DomainError::new(
            Rule::MemberNotFound,
            format!("member {} has no unit branch", c.member_id),
        )
    })?;
    let (capacity, appraiser_id) = act_for_branch(
        world,
        ctx,
        unit,
        c.member_id,
        Rule::OwnAppraisalNotRecordable,
        "recording an appraisal",
    )?;
    open_year(world, c.year)?;
    ensure(
        (1..=ctx.head).contains(&c.basis_position),
        Rule::BasisPositionUnknown,
        || {
            format!(
                "basis_position {} is not in the log, which runs from 1 to {}",
                c.basis_position, ctx.head
            )
        },
    )
    .map_err(|e| e.on("basis_position"))?;
    let appraisal: &Appraisal = world.get(streams::appraisal(c.member_id, c.year.get()))?;
    ensure(
        !matches!(
            appraisal.standing,
            Some((_, Settled::Confirmed | Settled::Overturned))
        ),
        Rule::AppraisalSettledByCommittee,
        || {
            format!(
                "the committee has settled member {}'s appraisal for {}; it changes it",
                c.member_id,
                c.year.get()
            )
        },
    )?;
    let remarks = values::text("remarks", &c.remarks, values::TEXT_NOTE)?;
    Ok(Decision::to(
        streams::appraisal(c.member_id, c.year.get()),
        vec![Event::AppraisalRecorded(AppraisalRecorded {
            rating: c.rating,
            basis_position: c.basis_position,
            remarks,
            appraiser_id,
            capacity,
        })],
    ))
}

pub(crate) fn confirm(world: &World, c: &ConfirmAppraisal, ctx: &Ctx) -> Result<Decision, Decide> {
    committee_on(ctx, c.member_id, "confirming an appraisal")?;
    member::existing(world, c.member_id)?;
    open_year(world, c.year)?;
    let (rating, settled) = standing(world, c.member_id, c.year.get())?;
    ensure(settled != Settled::Confirmed, Rule::NothingChanges, || {
        format!(
            "member {}'s appraisal for {} is already confirmed",
            c.member_id,
            c.year.get()
        )
    })?;
    Ok(Decision::to(
        streams::appraisal(c.member_id, c.year.get()),
        vec![Event::AppraisalConfirmed(AppraisalConfirmed { rating })],
    ))
}

pub(crate) fn overturn(
    world: &World,
    c: &OverturnAppraisal,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    committee_on(ctx, c.member_id, "overturning an appraisal")?;
    member::existing(world, c.member_id)?;
    open_year(world, c.year)?;
    let (previous, _) = standing(world, c.member_id, c.year.get())?;
    ensure(previous != c.rating, Rule::NothingChanges, || {
        format!(
            "member {}'s appraisal for {} already stands as given",
            c.member_id,
            c.year.get()
        )
    })
    .map_err(|e| e.on("rating"))?;
    let reason = values::text("reason", &c.reason, values::TEXT_NOTE)?;
    Ok(Decision::to(
        streams::appraisal(c.member_id, c.year.get()),
        vec![Event::AppraisalOverturned(AppraisalOverturned {
            previous,
            rating: c.rating,
            reason,
        })],
    ))
}

/// The members who must have a standing appraisal for `year` before it closes and have
/// none: every registered member who had joined by the end of that year and had not left
/// by then. Loads every
/// member and their appraisal stream (all at once).
pub(crate) fn missing(world: &World, year: i32) -> Result<Vec<Uuid>, Decide> {
    let members = world.index("member")?;
    world.need_all(
        members
            .iter()
            .flat_map(|m| [streams::member(*m), streams::appraisal(*m, year)]),
    )?;
    let mut missing = Vec::new();
    for id in members {
        let m: &member::Member = world.get(streams::member(*id))?;
        // Due from members who had joined by the year's end and had not left by then.
        let due = m.registered
            && m.joined_on
                .is_some_and(|d| chrono::Datelike::year(&d) <= year)
            && m.left
                .is_none_or(|(_, on)| chrono::Datelike::year(&on) > year);
        let appraisal: &Appraisal = world.get(streams::appraisal(*id, year))?;
        if due && appraisal.standing.is_none() {
            missing.push(*id);
        }
    }
    missing.sort_unstable();
    Ok(missing)
}
