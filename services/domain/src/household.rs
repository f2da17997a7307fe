//! Households in need, paired with a cadre who visits them and raises their concerns.

use crate::command::{PairHousehold, RaiseConcern, RecordVisit, RegisterHousehold, ResolveConcern};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::member;
use crate::permissions::{is_member, require_role, require_secretary};
use crate::personal;
use crate::values;
use crate::values::Year;
use crate::world::{Decision, World, streams};
use crate::year::{open_year, past_or_today};
use allweather_events::Role;
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// A household's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Household {
    /// Registered (the stream exists).
    pub registered: bool,
    /// The paired cadre.
    pub cadre: Option<Uuid>,
    /// Since when.
    pub paired_on: Option<NaiveDate>,
    /// Visits recorded, by cadre and date.
    pub visits: BTreeSet<(Uuid, NaiveDate)>,
    /// Concerns, open (`false`) or resolved (`true`).
    pub concerns: BTreeMap<Uuid, bool>,
}

impl Household {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::HouseholdRegistered(_) => self.registered = true,
            Event::HouseholdPaired(e) => {
                self.cadre = Some(e.cadre_id);
                self.paired_on = Some(e.paired_on);
            }
            Event::HouseholdVisited(e) => {
                self.visits.insert((e.cadre_id, e.date));
            }
            Event::ConcernRaised(e) => {
                self.concerns.insert(e.concern_id, false);
            }
            Event::ConcernResolved(e) => {
                self.concerns.insert(e.concern_id, true);
            }
            _ => {}
        }
    }
}

fn registered(world: &World, id: Uuid) -> Result<&Household, Decide> {
    let h: &Household = world.get(streams::household(id))?;
    ensure(h.registered, Rule::HouseholdNotFound, || {
        format!("there is no household {id}")
    })?;
    Ok(h)
}

/// Refuses unless the principal acts for the household's care: the service centre, a
/// committee admin, or (when `secretaries`) an appointed secretary.
fn require_carer(world: &World, ctx: &Ctx, what: &str, secretaries: bool) -> Result<(), Decide> {
    if matches!(
        ctx.principal.role,
        Role::ServiceCentre | Role::CommitteeAdmin
    ) {
        return Ok(());
    }
    if let (true, Role::Secretary, Some(b)) =
        (secretaries, ctx.principal.role, ctx.principal.branch_id)
    {
        require_secretary(world, ctx, &[b], what)?;
        return Ok(());
    }
    require_role(
        ctx,
        &[Role::ServiceCentre, Role::CommitteeAdmin, Role::Secretary],
        what,
    )?;
    Ok(())
}

fn is_cadre(household: &Household, ctx: &Ctx) -> bool {
    household.cadre.is_some_and(|c| is_member(ctx, c))
}

pub(crate) fn register(
    world: &World,
    c: &RegisterHousehold,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    require_carer(world, ctx, "registering a household", true)?;
    let id = c.household_id.unwrap_or(ctx.new_id);
    let stream = streams::household(id);
    let h: &Household = world.get(stream.clone())?;
    ensure(!h.registered, Rule::AlreadyExists, || {
        format!("household {id} is already registered")
    })?;
    let address_area = values::text("address_area", &c.address_area, values::TEXT_NAME)?;
    let hardship = values::text("hardship", &c.hardship, values::TEXT_PARAGRAPH)?;
    let hardship = personal::private_text(world, id, "hardship", hardship)?;
    Ok(Decision::to(
        stream,
        vec![Event::HouseholdRegistered(HouseholdRegistered {
            address_area,
            hardship,
        })],
    ))
}

pub(crate) fn pair(world: &World, c: &PairHousehold, ctx: &Ctx) -> Result<Decision, Decide> {
    require_carer(world, ctx, "pairing a household", true)?;
    let h = registered(world, c.household_id)?;
    member::existing(world, c.cadre_id).map_err(|e| match e {
        Decide::Refused(e) => Decide::Refused(e.on("cadre_id")),
        need => need,
    })?;
    ensure(h.cadre != Some(c.cadre_id), Rule::NothingChanges, || {
        format!(
            "household {} is already paired with {}",
            c.household_id, c.cadre_id
        )
    })?;
    Ok(Decision::to(
        streams::household(c.household_id),
        vec![Event::HouseholdPaired(HouseholdPaired {
            cadre_id: c.cadre_id,
            paired_on: ctx.today,
        })],
    ))
}

pub(crate) fn record_visit(world: &World, c: &RecordVisit, ctx: &Ctx) -> Result<Decision, Decide> {
    let h = registered(world, c.household_id)?;
    let Some(cadre) = h.cadre.filter(|_| is_cadre(h, ctx)) else {
        return Err(DomainError::new(
            Rule::NotThePairedCadre,
            format!(
                "household {} is visited only by its paired cadre",
                c.household_id
            ),
        )
        .into());
    };
    past_or_today(ctx, c.date, "date")?;
    open_year(world, Year::of_date(c.date)?)?;
    ensure(
        h.paired_on.is_none_or(|p| p <= c.date),
        Rule::DatesOutOfOrder,
        || format!("the visit on {} predates the pairing", c.date),
    )
    .map_err(|e| e.on("date"))?;
    ensure(
        !h.visits.contains(&(cadre, c.date)),
        Rule::VisitAlreadyRecorded,
        || format!("a visit on {} is already recorded", c.date),
    )?;
    let notes = values::text("notes", &c.notes, values::TEXT_NOTE)?;
    let notes = personal::private_text(world, c.household_id, "notes", notes)?;
    Ok(Decision::to(
        streams::household(c.household_id),
        vec![Event::HouseholdVisited(HouseholdVisited {
            cadre_id: cadre,
            date: c.date,
            notes,
        })],
    ))
}

pub(crate) fn raise_concern(
    world: &World,
    c: &RaiseConcern,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let h = registered(world, c.household_id)?;
    if !is_cadre(h, ctx) && ctx.principal.role != Role::ServiceCentre {
        return Err(DomainError::new(
            Rule::NotThePairedCadre,
            format!(
                "a concern of household {} is raised by its paired cadre or the service centre",
                c.household_id
            ),
        )
        .into());
    }
    let category = values::text("category", &c.category, values::TEXT_SHORT)?;
    let description = values::text("description", &c.description, values::TEXT_NOTE)?;
    let description = personal::private_text(world, c.household_id, "description", description)?;
    Ok(Decision::to(
        streams::household(c.household_id),
        vec![Event::ConcernRaised(ConcernRaised {
            concern_id: ctx.new_id,
            category,
            description,
        })],
    ))
}

pub(crate) fn resolve_concern(
    world: &World,
    c: &ResolveConcern,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let h = registered(world, c.household_id)?;
    if !is_cadre(h, ctx) {
        require_carer(world, ctx, "resolving a concern", true)?;
    }
    match h.concerns.get(&c.concern_id) {
        None => {
            return Err(DomainError::new(
                Rule::ConcernNotFound,
                format!(
                    "household {} has no concern {}",
                    c.household_id, c.concern_id
                ),
            )
            .into());
        }
        Some(true) => {
            return Err(DomainError::new(
                Rule::ConcernAlreadyResolved,
                format!("concern {} is already resolved", c.concern_id),
            )
            .into());
        }
        Some(false) => {}
    }
    let resolution = values::text("resolution", &c.resolution, values::TEXT_NOTE)?;
    Ok(Decision::to(
        streams::household(c.household_id),
        vec![Event::ConcernResolved(ConcernResolved {
            concern_id: c.concern_id,
            resolution,
        })],
    ))
}
