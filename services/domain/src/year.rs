//! The year (`rules-{year}`): the rules in force, and closing the year.
//!
//! The domain reads the rules in force for the year of the fact — the latest adopted — and,
//! at claim time, the claim expiry and the limit on open claims. A closed year refuses
//! every new fact dated in it. A year is closed only once it is over, so what happens
//! today (a wish fulfilled, a concern resolved) never lands in a closed year; closing it
//! needs every member due an appraisal to have one, or names exactly those without. Facts
//! are dated in 2000–2100.

use crate::command::{AdoptRules, CloseYear};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::{Event, RulesAdopted, YearClosed};
use crate::permissions::require_role;
use crate::rules::Rules;
use crate::values::Year;
use crate::world::{Decision, World, streams};
use allweather_events::Role;
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeSet;
use uuid::Uuid;

/// A year's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YearState {
    /// The rules in force (the latest adopted).
    pub rules: Option<Rules>,
    /// How many times rules were adopted.
    pub adoptions: u32,
    /// Closed: no new facts.
    pub closed: bool,
}

impl YearState {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::RulesAdopted(e) => {
                self.rules = Some(e.rules.clone());
                self.adoptions += 1;
            }
            Event::YearClosed(_) => self.closed = true,
            _ => {}
        }
    }
}

/// Refuses a fact for a closed year; answers the year's state.
pub(crate) fn open_year(world: &World, year: Year) -> Result<&YearState, Decide> {
    let state: &YearState = world.get(streams::rules(year.get()))?;
    ensure(!state.closed, Rule::YearClosed, || {
        format!("{year} is closed and accepts no new facts")
    })?;
    Ok(state)
}

/// The rules in force for `year`, refusing a closed year or one without rules.
pub(crate) fn rules_in_force(world: &World, year: Year) -> Result<&Rules, Decide> {
    let state = open_year(world, year)?;
    state.rules.as_ref().ok_or_else(|| {
        DomainError::new(
            Rule::RulesNotAdopted,
            format!("no rules have been adopted for {year}"),
        )
        .into()
    })
}

/// Refuses a date after the county's today.
pub(crate) fn past_or_today(
    ctx: &Ctx,
    date: NaiveDate,
    field: &'static str,
) -> Result<(), DomainError> {
    ensure(date <= ctx.today, Rule::DateInFuture, || {
        format!("{field} {date} is after today ({})", ctx.today)
    })
    .map_err(|e| e.on(field))
}

pub(crate) fn adopt_rules(world: &World, c: &AdoptRules, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "adopting rules")?;
    open_year(world, c.year)?;
    let rules = Rules::from_json(&c.rules)
        .map_err(|e| DomainError::new(Rule::RulesInvalid, e).on("rules"))?;
    ensure(rules.year == c.year.get(), Rule::YearMismatch, || {
        format!(
            "the body is for {} but the rules are for {}",
            c.year.get(),
            rules.year
        )
    })?;
    let stream = streams::rules(c.year.get());
    Ok(Decision::to(
        stream,
        vec![Event::RulesAdopted(RulesAdopted { rules })],
    ))
}

pub(crate) fn close_year(world: &World, c: &CloseYear, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "closing a year")?;
    let state: &YearState = world.get(streams::rules(c.year.get()))?;
    ensure(!state.closed, Rule::YearAlreadyClosed, || {
        format!("{} is already closed", c.year.get())
    })?;
    ensure(c.year.get() < ctx.today.year(), Rule::YearNotOver, || {
        format!("{} is not over yet (today is {})", c.year.get(), ctx.today)
    })?;
    // Every member has a standing appraisal, or the committee names exactly those who
    // have none: a year is never closed past an appraisal nobody noticed was missing.
    let missing = crate::appraisal::missing(world, c.year.get())?;
    let listed: BTreeSet<Uuid> = c.without_appraisal.iter().flatten().copied().collect();
    let missing_set: BTreeSet<Uuid> = missing.iter().copied().collect();
    let unlisted: Vec<String> = missing_set
        .difference(&listed)
        .map(Uuid::to_string)
        .collect();
    ensure(unlisted.is_empty(), Rule::MembersWithoutAppraisal, || {
        format!(
            "{} member(s) have no standing appraisal for {}: {}; record theirs, or list them in without_appraisal",
            unlisted.len(),
            c.year.get(),
            unlisted.join(", ")
        )
    })
    .map_err(|e| e.on("without_appraisal"))?;
    let extra: Vec<String> = listed
        .difference(&missing_set)
        .map(Uuid::to_string)
        .collect();
    ensure(extra.is_empty(), Rule::MembersWithoutAppraisal, || {
        format!(
            "without_appraisal lists member(s) who have a standing appraisal for {} or are not due one: {}",
            c.year.get(),
            extra.join(", ")
        )
    })
    .map_err(|e| e.on("without_appraisal"))?;
    Ok(Decision::to(
        streams::rules(c.year.get()),
        vec![Event::YearClosed(YearClosed {
            year: c.year.get(),
            without_appraisal: Some(missing),
        })],
    ))
}
