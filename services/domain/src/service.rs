//! Service records (`servicerecord-{id}`) and the member-day ledger
//! (`serviceday-{member}-{date}`). Every entry books its minutes on the member's day in
//! the same append, at the version of the day it was decided against, so "at most 24
//! hours a member-day" and "the same member, date and activity once" hold exactly even
//! when two entries for one day arrive at once; a rejection releases the minutes, and a
//! correction moves them. Verified records are locked: a change is a correction event with
//! before and after. A secretary's own hours are self-reported, like anyone's.

use crate::campaign;
use crate::command::{
    ApplyCorrection, LogServiceHours, RejectServiceHours, RequestCorrection, VerifyServiceHours,
};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::member::{self, Member};
use crate::permissions::{is_member, require_secretary};
use crate::values::Year;
use crate::values::{self, Category, Channel, minutes_from_hours};
use crate::world::{Decision, World, streams};
use crate::year::{open_year, past_or_today};
use allweather_events::Role;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Longest single entry, in minutes (12 hours).
pub const MAX_ENTRY_MINUTES: u32 = MAX_ENTRY_HOURS * 60;

/// The longest single entry, in hours (as commands take them).
pub const MAX_ENTRY_HOURS: u32 = 12;
/// Most minutes a member can log for one day (24 hours).
pub const MAX_DAY_MINUTES: u32 = 24 * 60;
/// Entries longer than this (8 hours) are verified by a committee admin only.
pub const SECRETARY_VERIFIES_UP_TO_MINUTES: u32 = 8 * 60;

/// Where a record stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordStatus {
    /// Not logged (the stream does not exist).
    #[default]
    Unlogged,
    /// Logged, waiting for verification.
    Pending,
    /// Verified: locked, earns points.
    Verified,
    /// Rejected.
    Rejected,
}

/// A service record's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceRecord {
    /// Where it stands.
    pub status: RecordStatus,
    /// Whose hours.
    pub member_id: Option<Uuid>,
    /// What counts now.
    pub entry: Option<Entry>,
    /// The activity, normalised.
    pub activity: String,
    /// A correction requested and not yet applied.
    pub pending_correction: Option<Entry>,
    /// The campaign the hours count for.
    pub campaign_id: Option<Uuid>,
}

impl ServiceRecord {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::ServiceHoursLogged(e) => {
                self.status = RecordStatus::Pending;
                self.member_id = Some(e.member_id);
                self.entry = Some(Entry {
                    date: e.date,
                    minutes: e.minutes,
                    category: e.category,
                });
                self.campaign_id = e.campaign_id;
                self.activity = normalise(&e.activity);
            }
            Event::ServiceHoursVerified(_) => self.status = RecordStatus::Verified,
            Event::ServiceHoursRejected(_) => self.status = RecordStatus::Rejected,
            Event::CorrectionRequested(e) => self.pending_correction = Some(e.after),
            Event::CorrectionApplied(e) => {
                self.entry = Some(e.after);
                self.pending_correction = None;
            }
            _ => {}
        }
    }
}

/// A member-day's booked entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDay {
    /// Minutes and normalised activity, by record.
    pub entries: BTreeMap<Uuid, (u32, String)>,
}

impl ServiceDay {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::ServiceDayBooked(e) => {
                self.entries
                    .insert(e.record_id, (e.minutes, e.activity.clone()));
            }
            Event::ServiceDayReleased(e) => {
                self.entries.remove(&e.record_id);
            }
            _ => {}
        }
    }

    /// Minutes booked, leaving out `except`.
    pub fn total_except(&self, except: Option<Uuid>) -> u32 {
        self.entries
            .iter()
            .filter(|(r, _)| Some(**r) != except)
            .map(|(_, (m, _))| *m)
            .sum()
    }
}

/// An activity as compared for duplicates: trimmed, lowercased, single spaces.
pub fn normalise(activity: &str) -> String {
    activity
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn entry_minutes(hours: f64) -> Result<u32, DomainError> {
    let minutes = minutes_from_hours(hours)?;
    ensure(
        minutes > 0 && minutes <= MAX_ENTRY_MINUTES,
        Rule::HoursOutOfRange,
        || format!("an entry is more than 0 and at most 12 hours, got {hours}"),
    )
    .map_err(|e| e.on("hours"))?;
    Ok(minutes)
}

fn logged(world: &World, id: Uuid) -> Result<&ServiceRecord, Decide> {
    let record: &ServiceRecord = world.get(streams::service_record(id))?;
    ensure(
        record.status != RecordStatus::Unlogged,
        Rule::RecordNotFound,
        || format!("there is no service record {id}"),
    )?;
    Ok(record)
}

/// Books `minutes` of `record_id` on the member's day `date`, checking the day's limit
/// and duplicates; `replacing` is the record's own earlier booking on that day, if any.
fn book(
    world: &World,
    decision: Decision,
    member_id: Uuid,
    date: NaiveDate,
    record_id: Uuid,
    minutes: u32,
    activity: &str,
) -> Result<Decision, Decide> {
    let stream = streams::service_day(member_id, date);
    let day: &ServiceDay = world.get(stream.clone())?;
    let replacing = day.entries.contains_key(&record_id);
    ensure(
        !day.entries
            .iter()
            .any(|(r, (_, a))| *r != record_id && a == activity),
        Rule::DuplicateServiceEntry,
        || format!("member {member_id} already has an entry for {activity:?} on {date}"),
    )?;
    let total = day.total_except(Some(record_id)) + minutes;
    ensure(
        total <= MAX_DAY_MINUTES,
        Rule::HoursExceedDailyLimit,
        || {
            format!(
                "member {member_id} would have {} h {} min on {date}; a day holds at most 24 hours",
                total / 60,
                total % 60
            )
        },
    )
    .map_err(|e| e.on("hours"))?;
    let mut events = Vec::new();
    if replacing {
        events.push(Event::ServiceDayReleased(ServiceDayReleased { record_id }));
    }
    events.push(Event::ServiceDayBooked(ServiceDayBooked {
        record_id,
        minutes,
        activity: activity.to_owned(),
    }));
    Ok(decision.and(stream, events))
}

/// Takes the record's minutes off the member's day.
fn release(
    world: &World,
    decision: Decision,
    member_id: Uuid,
    date: NaiveDate,
    record_id: Uuid,
) -> Result<Decision, Decide> {
    let stream = streams::service_day(member_id, date);
    world.get::<ServiceDay>(stream.clone())?;
    Ok(decision.and(
        stream,
        vec![Event::ServiceDayReleased(ServiceDayReleased { record_id })],
    ))
}

/// Refuses unless the principal may verify an entry of `minutes` by `owner`: a committee
/// admin, or, up to 8 hours, the appointed secretary of the owner's service branch;
/// never the owner. Answers who verified, for the event.
fn require_verifier(
    world: &World,
    ctx: &Ctx,
    owner_id: Uuid,
    owner: &Member,
    minutes: u32,
) -> Result<Verifier, Decide> {
    ensure(
        ctx.principal.member_id != Some(owner_id),
        Rule::OwnHoursNotVerifiable,
        || "nobody verifies their own hours".into(),
    )?;
    if minutes > SECRETARY_VERIFIES_UP_TO_MINUTES && ctx.principal.role != Role::CommitteeAdmin {
        return Err(DomainError::new(
            Rule::LongEntryNeedsCommitteeAdmin,
            format!(
                "an entry of {} h {} min (over 8 hours) is verified by a committee admin",
                minutes / 60,
                minutes % 60
            ),
        )
        .into());
    }
    if ctx.principal.role == Role::CommitteeAdmin {
        return Ok(Verifier {
            subject: ctx.principal.subject.clone(),
            member_id: ctx.principal.member_id,
        });
    }
    let Some(service_branch) = owner.service_branch else {
        return Err(DomainError::new(
            Rule::NoServiceBranch,
            format!(
                "member {owner_id} has no service branch; a committee admin verifies their hours"
            ),
        )
        .into());
    };
    let secretary = require_secretary(world, ctx, &[service_branch], "verifying service hours")?;
    ensure(secretary != owner_id, Rule::OwnHoursNotVerifiable, || {
        "nobody verifies their own hours".into()
    })?;
    Ok(Verifier {
        subject: ctx.principal.subject.clone(),
        member_id: Some(secretary),
    })
}

/// Who verified, rejected or corrected, for the event.
struct Verifier {
    subject: String,
    member_id: Option<Uuid>,
}

pub(crate) fn log_hours(world: &World, c: &LogServiceHours, ctx: &Ctx) -> Result<Decision, Decide> {
    let owner = member::existing(world, c.member_id)?;
    let mut entered_by = ctx.principal.member_id;
    let allowed: &[Channel] = match ctx.principal.role {
        Role::Member => {
            ensure(is_member(ctx, c.member_id), Rule::NotTheMember, || {
                format!(
                    "a member logs only their own hours, not member {}'s",
                    c.member_id
                )
            })?;
            &[Channel::SelfReported]
        }
        Role::Secretary => {
            let secretary =
                require_secretary(world, ctx, &owner.branches(), "logging hours for a member")?;
            entered_by = Some(secretary);
            if secretary == c.member_id {
                // A secretary's own hours are self-reported like anyone's.
                &[Channel::SelfReported]
            } else {
                &[Channel::Organiser, Channel::CheckIn]
            }
        }
        Role::ServiceCentre => &[Channel::CheckIn, Channel::Organiser],
        Role::CommitteeAdmin => &[Channel::Organiser, Channel::CheckIn],
        other => {
            return Err(DomainError::new(
                Rule::RoleNotPermitted,
                format!("the role {} does not log hours", other.as_str()),
            )
            .into());
        }
    };
    let channel = c.channel.unwrap_or(allowed[0]);
    ensure(allowed.contains(&channel), Rule::RoleNotPermitted, || {
        format!(
            "the role {} cannot enter hours as {channel:?}",
            ctx.principal.role.as_str()
        )
    })
    .map_err(|e| e.on("channel"))?;
    let organising_branch_id = match (c.organising_branch_id, ctx.principal.role) {
        (Some(b), Role::Secretary) if ctx.principal.branch_id != Some(b) => {
            return Err(DomainError::new(
                Rule::NotTheBranchSecretary,
                format!("a secretary enters hours organised by their own branch, not {b}"),
            )
            .on("organising_branch_id")
            .into());
        }
        (Some(b), _) => {
            crate::branch::existing(world, b).map_err(|e| match e {
                Decide::Refused(e) => Decide::Refused(e.on("organising_branch_id")),
                need => need,
            })?;
            Some(b)
        }
        (None, Role::Secretary) if channel != Channel::SelfReported => ctx.principal.branch_id,
        (None, _) => None,
    };
    let minutes = entry_minutes(c.hours)?;
    past_or_today(ctx, c.date, "date")?;
    open_year(world, Year::of_date(c.date)?)?;
    let activity = values::text("activity", &c.activity, values::TEXT_LINE)?;
    if let Some(campaign_id) = c.campaign_id {
        let campaign = campaign::existing(world, campaign_id).map_err(|e| match e {
            Decide::Refused(e) => Decide::Refused(e.on("campaign_id")),
            need => need,
        })?;
        let inside = campaign
            .dates
            .is_some_and(|(from, to)| from <= c.date && c.date <= to);
        ensure(inside && !campaign.closed, Rule::OutsideCampaign, || {
            format!(
                "{} is outside campaign {campaign_id}'s dates, or the campaign is closed",
                c.date
            )
        })
        .map_err(|e| e.on("date"))?;
    }
    let id = c.record_id.unwrap_or(ctx.new_id);
    let stream = streams::service_record(id);
    let record: &ServiceRecord = world.get(stream.clone())?;
    ensure(
        record.status == RecordStatus::Unlogged,
        Rule::AlreadyExists,
        || format!("service record {id} already exists"),
    )?;
    let decision = Decision::to(
        stream,
        vec![Event::ServiceHoursLogged(ServiceHoursLogged {
            member_id: c.member_id,
            date: c.date,
            minutes,
            category: c.category,
            activity: activity.clone(),
            channel,
            campaign_id: c.campaign_id,
            start_time: c.start_time,
            organising_branch_id,
            entered_by_member_id: entered_by,
        })],
    );
    book(
        world,
        decision,
        c.member_id,
        c.date,
        id,
        minutes,
        &normalise(&activity),
    )
}

fn pending(world: &World, record_id: Uuid) -> Result<(&ServiceRecord, Uuid, Entry), Decide> {
    let record = logged(world, record_id)?;
    ensure(
        record.status == RecordStatus::Pending,
        Rule::RecordAlreadyDecided,
        || format!("service record {record_id} is already verified or rejected"),
    )?;
    match (record.member_id, record.entry) {
        (Some(m), Some(e)) => Ok((record, m, e)),
        _ => Err(DomainError::new(
            Rule::RecordNotFound,
            format!("there is no service record {record_id}"),
        )
        .into()),
    }
}

pub(crate) fn verify(world: &World, c: &VerifyServiceHours, ctx: &Ctx) -> Result<Decision, Decide> {
    let (_, owner_id, entry) = pending(world, c.record_id)?;
    let owner = member::on_record(world, owner_id)?;
    let verifier = require_verifier(world, ctx, owner_id, owner, entry.minutes)?;
    open_year(world, Year::of_date(entry.date)?)?;
    Ok(Decision::to(
        streams::service_record(c.record_id),
        vec![Event::ServiceHoursVerified(ServiceHoursVerified {
            verifier: verifier.subject,
            verifier_member_id: verifier.member_id,
        })],
    ))
}

pub(crate) fn reject(world: &World, c: &RejectServiceHours, ctx: &Ctx) -> Result<Decision, Decide> {
    let (_, owner_id, entry) = pending(world, c.record_id)?;
    let owner = member::on_record(world, owner_id)?;
    let verifier = require_verifier(world, ctx, owner_id, owner, entry.minutes)?;
    open_year(world, Year::of_date(entry.date)?)?;
    let reason = values::text("reason", &c.reason, values::TEXT_REASON)?;
    let decision = Decision::to(
        streams::service_record(c.record_id),
        vec![Event::ServiceHoursRejected(ServiceHoursRejected {
            verifier: verifier.subject,
            verifier_member_id: verifier.member_id,
            reason,
        })],
    );
    release(world, decision, owner_id, entry.date, c.record_id)
}

/// A verified record's owner and entry, and the entry a correction would make of it.
fn corrected(
    world: &World,
    record_id: Uuid,
    hours: Option<f64>,
    date: Option<NaiveDate>,
    category: Option<Category>,
    ctx: &Ctx,
) -> Result<(Uuid, Entry, Option<Entry>), Decide> {
    let record = logged(world, record_id)?;
    ensure(
        record.status == RecordStatus::Verified,
        Rule::RecordNotVerified,
        || {
            format!(
                "service record {record_id} is not verified; unverified entries are rejected and logged again"
            )
        },
    )?;
    let (Some(owner), Some(before)) = (record.member_id, record.entry) else {
        return Err(DomainError::new(
            Rule::RecordNotFound,
            format!("there is no service record {record_id}"),
        )
        .into());
    };
    let given = hours.is_some() || date.is_some() || category.is_some();
    let after = if given {
        let after = Entry {
            minutes: hours
                .map(entry_minutes)
                .transpose()?
                .unwrap_or(before.minutes),
            date: date.unwrap_or(before.date),
            category: category.unwrap_or(before.category),
        };
        past_or_today(ctx, after.date, "date")?;
        Some(after)
    } else {
        None
    };
    open_year(world, Year::of_date(before.date)?)?;
    if let Some(a) = after {
        open_year(world, Year::of_date(a.date)?)?;
        ensure(a != before, Rule::NoCorrectionGiven, || {
            "the correction changes nothing".into()
        })?;
    }
    Ok((owner, before, after))
}

pub(crate) fn request_correction(
    world: &World,
    c: &RequestCorrection,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let (owner_id, before, after) =
        corrected(world, c.record_id, c.hours, c.date, c.category, ctx)?;
    let record = logged(world, c.record_id)?;
    if !is_member(ctx, owner_id) {
        let owner = member::on_record(world, owner_id)?;
        require_verifier(world, ctx, owner_id, owner, before.minutes)?;
    }
    ensure(
        record.pending_correction.is_none(),
        Rule::CorrectionAlreadyPending,
        || {
            format!(
                "service record {} already has a correction waiting",
                c.record_id
            )
        },
    )?;
    let Some(after) = after else {
        return Err(DomainError::new(
            Rule::NoCorrectionGiven,
            "a correction request names the corrected hours, date or category",
        )
        .into());
    };
    let reason = values::text("reason", &c.reason, values::TEXT_REASON)?;
    Ok(Decision::to(
        streams::service_record(c.record_id),
        vec![Event::CorrectionRequested(CorrectionRequested {
            before,
            after,
            reason,
        })],
    ))
}

pub(crate) fn apply_correction(
    world: &World,
    c: &ApplyCorrection,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let (owner_id, before, given) =
        corrected(world, c.record_id, c.hours, c.date, c.category, ctx)?;
    let record = logged(world, c.record_id)?;
    let Some(after) = given.or(record.pending_correction) else {
        return Err(DomainError::new(
            Rule::NoCorrectionGiven,
            format!(
                "service record {} has no pending correction and the command names none",
                c.record_id
            ),
        )
        .into());
    };
    let owner = member::on_record(world, owner_id)?;
    let verifier = require_verifier(
        world,
        ctx,
        owner_id,
        owner,
        before.minutes.max(after.minutes),
    )?;
    open_year(world, Year::of_date(after.date)?)?;
    let reason = values::text("reason", &c.reason, values::TEXT_REASON)?;
    if let (Some(campaign_id), true) = (record.campaign_id, after.date != before.date) {
        // Hours counted for a campaign stay inside its dates.
        let campaign = campaign::existing(world, campaign_id)?;
        let inside = campaign
            .dates
            .is_some_and(|(from, to)| from <= after.date && after.date <= to);
        ensure(inside, Rule::OutsideCampaign, || {
            format!("{} is outside campaign {campaign_id}'s dates", after.date)
        })
        .map_err(|e| e.on("date"))?;
    }
    let activity = record.activity.clone();
    let mut decision = Decision::to(
        streams::service_record(c.record_id),
        vec![Event::CorrectionApplied(CorrectionApplied {
            before,
            after,
            verifier: verifier.subject,
            verifier_member_id: verifier.member_id,
            reason,
        })],
    );
    if after.date != before.date {
        decision = release(world, decision, owner_id, before.date, c.record_id)?;
    }
    book(
        world,
        decision,
        owner_id,
        after.date,
        c.record_id,
        after.minutes,
        &activity,
    )
}
