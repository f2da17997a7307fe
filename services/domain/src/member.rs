//! Members: registration in a unit branch, the service branch at home (again when they
//! move house), a transfer to another unit branch, leaving the programme, the household
//! plaque and the anniversary of joining.
//!
//! A member who left (`MemberLeft`, whose event is `MemberDeparted`) takes no new facts:
//! their open claims are released and the posts they held fall vacant in the same append,
//! while what they entered before is still verified and counted. A secretary takes into
//! their service branch only members who have none; moving a member between communities is
//! for the service centre or the committee.

use crate::branch::{self, Branch};
use crate::command::{
    AssignServiceBranch, DisplayHouseholdPlaque, MemberLeft, ObserveAnniversary, RegisterMember,
    TransferMember,
};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::permissions::{require_member, require_role, require_secretary, secretary_of};
use crate::values::{self, BranchKind, LeaveReason};
use crate::wish;
use crate::world::{Decision, World, streams};
use crate::year::{open_year, past_or_today};
use allweather_events::Role;
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Shortest reflection accepted, in characters.
pub const MIN_REFLECTION_CHARS: usize = 20;

/// A member's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// Registered (the stream exists).
    pub registered: bool,
    /// The name.
    pub name: String,
    /// The unit branch.
    pub unit_branch: Option<Uuid>,
    /// The service branch.
    pub service_branch: Option<Uuid>,
    /// When the member joined.
    pub joined_on: Option<NaiveDate>,
    /// The household plaque is displayed.
    pub plaque_displayed: bool,
    /// Years the anniversary was observed.
    pub anniversaries: BTreeSet<i32>,
    /// Why and from when the member left the programme, if they did.
    pub left: Option<(LeaveReason, NaiveDate)>,
    /// A leading cadre.
    pub cadre: bool,
}

impl Member {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::MemberRegistered(e) => {
                self.registered = true;
                self.name = e.name.clone();
                self.unit_branch = Some(e.unit_branch_id);
                self.joined_on = Some(e.joined_on);
                self.cadre = e.cadre;
            }
            Event::ServiceBranchAssigned(e) => self.service_branch = Some(e.service_branch_id),
            Event::MemberTransferred(e) => self.unit_branch = Some(e.unit_branch_id),
            Event::MemberDeparted(e) => self.left = Some((e.reason, e.on)),
            Event::HouseholdPlaqueDisplayed(_) => self.plaque_displayed = true,
            Event::AnniversaryObserved(e) => {
                self.anniversaries.insert(e.year);
            }
            _ => {}
        }
    }

    /// The member's branches: unit first, then service.
    pub fn branches(&self) -> Vec<Uuid> {
        self.unit_branch
            .into_iter()
            .chain(self.service_branch)
            .collect()
    }
}

/// The registered member `id` who has not left, or why not: a member who left takes no
/// new facts.
pub(crate) fn existing(world: &World, id: Uuid) -> Result<&Member, Decide> {
    let member = on_record(world, id)?;
    if let Some((reason, on)) = member.left {
        return Err(DomainError::new(
            Rule::MemberHasLeft,
            format!(
                "member {id} left the programme on {on} ({})",
                values::stored_name(&reason)
            ),
        )
        .into());
    }
    Ok(member)
}

/// The registered member `id`, whether or not they left (their history stays: what was
/// entered before they left is still verified, read and counted).
pub(crate) fn on_record(world: &World, id: Uuid) -> Result<&Member, Decide> {
    let member: &Member = world.get(streams::member(id))?;
    ensure(member.registered, Rule::MemberNotFound, || {
        format!("there is no member {id}")
    })?;
    Ok(member)
}

pub(crate) fn transfer(world: &World, c: &TransferMember, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "transferring a member")?;
    let member = existing(world, c.member_id)?;
    let to = branch::existing(world, c.unit_branch_id)?;
    of_kind(to, c.unit_branch_id, &[BranchKind::Unit], "unit_branch_id")?;
    let Some(from) = member.unit_branch else {
        return Err(DomainError::new(
            Rule::MemberNotFound,
            format!("member {} has no unit branch", c.member_id),
        )
        .into());
    };
    ensure(from != c.unit_branch_id, Rule::NothingChanges, || {
        format!(
            "member {} already belongs to unit branch {}",
            c.member_id, c.unit_branch_id
        )
    })?;
    dated(ctx, member, c.on)?;
    let freed = branch::posts_freed(world, from, c.member_id)?;
    let mut decision = Decision::to(
        streams::member(c.member_id),
        vec![Event::MemberTransferred(MemberTransferred {
            from_unit_branch_id: from,
            unit_branch_id: c.unit_branch_id,
            on: c.on,
        })],
    );
    if !freed.is_empty() {
        decision = decision.and(streams::branch(from), freed);
    }
    Ok(decision)
}

/// A date of the member's life cycle: not in the future, not before they joined.
fn dated(ctx: &Ctx, member: &Member, on: NaiveDate) -> Result<(), DomainError> {
    past_or_today(ctx, on, "on")?;
    ensure(
        member.joined_on.is_none_or(|j| j <= on),
        Rule::DatesOutOfOrder,
        || format!("{on} is before the member joined"),
    )
    .map_err(|e| e.on("on"))
}

pub(crate) fn leave(world: &World, c: &MemberLeft, ctx: &Ctx) -> Result<Decision, Decide> {
    let member = existing(world, c.member_id)?;
    if ctx.principal.role != Role::CommitteeAdmin {
        let unit: Vec<Uuid> = member.unit_branch.into_iter().collect();
        require_secretary(world, ctx, &unit, "recording that a member left")?;
    }
    dated(ctx, member, c.on)?;
    // Their open claims go back to the board, in the same append.
    let ledger = streams::claims(c.member_id);
    let claims: &wish::Claims = world.get(ledger.clone())?;
    world.need_all(claims.open.iter().map(|w| streams::wish(*w)))?;
    let mut decision = Decision::to(
        streams::member(c.member_id),
        vec![Event::MemberDeparted(MemberDeparted {
            reason: c.reason,
            on: c.on,
        })],
    );
    for wish_id in &claims.open {
        let w: &wish::Wish = world.get(streams::wish(*wish_id))?;
        if w.claims.contains_key(&c.member_id) {
            decision = decision.and(
                streams::wish(*wish_id),
                vec![Event::WishReleased(WishReleased {
                    member_id: c.member_id,
                })],
            );
        }
    }
    if !claims.open.is_empty() {
        decision = decision.and(
            ledger,
            claims
                .open
                .iter()
                .map(|w| Event::ClaimClosed(ClaimClosed { wish_id: *w }))
                .collect(),
        );
    }
    for b in member.branches() {
        let freed = branch::posts_freed(world, b, c.member_id)?;
        if !freed.is_empty() {
            decision = decision.and(streams::branch(b), freed);
        }
    }
    Ok(decision)
}

fn of_kind(
    branch: &Branch,
    id: Uuid,
    kinds: &[BranchKind],
    field: &'static str,
) -> Result<(), DomainError> {
    ensure(
        branch.kind.is_some_and(|k| kinds.contains(&k)),
        Rule::WrongBranchKind,
        || {
            let names: Vec<String> = kinds
                .iter()
                .map(|k| format!("{k:?}").to_lowercase())
                .collect();
            format!("branch {id} is not a {} branch", names.join(" or "))
        },
    )
    .map_err(|e| e.on(field))
}

pub(crate) fn register(world: &World, c: &RegisterMember, ctx: &Ctx) -> Result<Decision, Decide> {
    let unit = branch::existing(world, c.unit_branch_id)?;
    if ctx.principal.role != Role::CommitteeAdmin {
        require_secretary(world, ctx, &[c.unit_branch_id], "registering a member")?;
    }
    of_kind(
        unit,
        c.unit_branch_id,
        &[BranchKind::Unit],
        "unit_branch_id",
    )?;
    let id = c.member_id.unwrap_or(ctx.new_id);
    let stream = streams::member(id);
    let member: &Member = world.get(stream.clone())?;
    ensure(!member.registered, Rule::AlreadyExists, || {
        format!("member {id} is already registered")
    })?;
    let name = values::text("name", &c.name, values::TEXT_NAME)?;
    past_or_today(ctx, c.joined_on, "joined_on")?;
    ensure(c.joined_on.year() >= 1921, Rule::OutOfRange, || {
        format!("joined_on {} is before 1921", c.joined_on)
    })
    .map_err(|e| e.on("joined_on"))?;
    Ok(Decision::to(
        stream,
        vec![Event::MemberRegistered(MemberRegistered {
            name,
            unit_branch_id: c.unit_branch_id,
            joined_on: c.joined_on,
            cadre: c.cadre.unwrap_or(false),
        })],
    ))
}

pub(crate) fn assign_service_branch(
    world: &World,
    c: &AssignServiceBranch,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let member = existing(world, c.member_id)?;
    let service = branch::existing(world, c.service_branch_id)?;
    if !matches!(
        ctx.principal.role,
        Role::CommitteeAdmin | Role::ServiceCentre
    ) {
        require_secretary(
            world,
            ctx,
            &[c.service_branch_id],
            "assigning a member to a service branch",
        )?;
        // A secretary takes in members without a service branch; moving a member from
        // another branch (whose secretary then verifies their hours and signs their
        // card) is for the service centre or the committee.
        if let Some(current) = member.service_branch {
            return Err(DomainError::new(
                Rule::RoleNotPermitted,
                format!(
                    "member {} reports to branch {current}; the service centre or a committee admin moves them",
                    c.member_id
                ),
            )
            .into());
        }
    }
    of_kind(
        service,
        c.service_branch_id,
        &[BranchKind::Service, BranchKind::Temporary],
        "service_branch_id",
    )?;
    ensure(
        member.service_branch != Some(c.service_branch_id),
        Rule::NothingChanges,
        || {
            format!(
                "member {} already reports to branch {}",
                c.member_id, c.service_branch_id
            )
        },
    )?;
    Ok(Decision::to(
        streams::member(c.member_id),
        vec![Event::ServiceBranchAssigned(ServiceBranchAssigned {
            service_branch_id: c.service_branch_id,
        })],
    ))
}

pub(crate) fn display_plaque(
    world: &World,
    c: &DisplayHouseholdPlaque,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let member = existing(world, c.member_id)?;
    let by_secretary = match member.service_branch {
        Some(b) => secretary_of(world, ctx, b)?.is_some(),
        None => false,
    };
    if !by_secretary {
        require_member(ctx, c.member_id, "displaying the household plaque")?;
    }
    ensure(
        !member.plaque_displayed,
        Rule::PlaqueAlreadyDisplayed,
        || format!("member {} already displays the plaque", c.member_id),
    )?;
    Ok(Decision::to(
        streams::member(c.member_id),
        vec![Event::HouseholdPlaqueDisplayed(HouseholdPlaqueDisplayed {
            displayed_on: ctx.today,
        })],
    ))
}

pub(crate) fn observe_anniversary(
    world: &World,
    c: &ObserveAnniversary,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let member = existing(world, c.member_id)?;
    require_member(ctx, c.member_id, "observing the anniversary")?;
    open_year(world, c.year)?;
    let joined = member.joined_on.unwrap_or(ctx.today);
    ensure(
        ctx.today.year() == c.year.get()
            && ctx.today.month() == joined.month()
            && c.year.get() > joined.year(),
        Rule::AnniversaryOutsideJoiningMonth,
        || {
            format!(
                "the {} anniversary is observed in month {} of {} (joined {joined}); today is {}",
                c.year.get(),
                joined.month(),
                c.year.get(),
                ctx.today
            )
        },
    )?;
    ensure(
        !member.anniversaries.contains(&c.year.get()),
        Rule::AnniversaryAlreadyObserved,
        || {
            format!(
                "member {} already observed the anniversary in {}",
                c.member_id,
                c.year.get()
            )
        },
    )?;
    let reflection = values::text("reflection", &c.reflection, values::TEXT_ESSAY)?;
    let distinct: BTreeSet<char> = reflection.chars().filter(|c| !c.is_whitespace()).collect();
    ensure(
        reflection.chars().count() >= MIN_REFLECTION_CHARS && distinct.len() >= 5,
        Rule::ReflectionTooShort,
        || format!("a reflection is a real text of at least {MIN_REFLECTION_CHARS} characters"),
    )
    .map_err(|e| e.on("reflection"))?;
    Ok(Decision::to(
        streams::member(c.member_id),
        vec![Event::AnniversaryObserved(AnniversaryObserved {
            year: c.year.get(),
            reflection,
        })],
    ))
}
