//! Branches: registration, the secretary, meetings, activities, the quiz, demonstration sites.

use crate::command::{
    AppointDeputy, AppointSecretary, DesignateDemonstrationSite, RecordBranchMeeting,
    RecordQuizResult, RegisterBranch, VacateSecretary,
};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::member::Member;
use crate::permissions::{require_role, require_secretary};
use crate::values::Year;
use crate::values::{self, BranchKind};
use crate::world::{Decision, World, streams};
use crate::year::{open_year, past_or_today};
use allweather_events::Role;
use std::collections::BTreeSet;
use uuid::Uuid;

/// A branch's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branch {
    /// Registered (the stream exists).
    pub registered: bool,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: Option<BranchKind>,
    /// The appointed secretary (none while the post is vacant).
    pub secretary: Option<Uuid>,
    /// The appointed deputy secretary.
    pub deputy: Option<Uuid>,
    /// Years with a quiz result.
    pub quiz_years: BTreeSet<i32>,
    /// Years designated a demonstration site.
    pub site_years: BTreeSet<i32>,
}

impl Branch {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::BranchRegistered(e) => {
                self.registered = true;
                self.name = e.name.clone();
                self.kind = Some(e.kind);
            }
            Event::SecretaryAppointed(e) => {
                self.secretary = Some(e.member_id);
                if self.deputy == Some(e.member_id) {
                    self.deputy = None;
                }
            }
            Event::SecretaryVacated(_) => self.secretary = None,
            Event::DeputyAppointed(e) => self.deputy = Some(e.member_id),
            Event::DeputyVacated(_) => self.deputy = None,
            Event::QuizResultRecorded(e) => {
                self.quiz_years.insert(e.year);
            }
            Event::DemonstrationSiteDesignated(e) => {
                self.site_years.insert(e.year);
            }
            _ => {}
        }
    }
}

/// The registered branch `id`, or why not.
pub(crate) fn existing(world: &World, id: Uuid) -> Result<&Branch, Decide> {
    let branch: &Branch = world.get(streams::branch(id))?;
    ensure(branch.registered, Rule::BranchNotFound, || {
        format!("there is no branch {id}")
    })?;
    Ok(branch)
}

/// Whether `member` belongs to branch `branch_id` (as its unit or its service branch).
pub(crate) fn belongs(member: &Member, branch_id: Uuid) -> bool {
    member.unit_branch == Some(branch_id) || member.service_branch == Some(branch_id)
}

pub(crate) fn register(world: &World, c: &RegisterBranch, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "registering a branch")?;
    let id = c.branch_id.unwrap_or(ctx.new_id);
    let stream = streams::branch(id);
    let branch: &Branch = world.get(stream.clone())?;
    ensure(!branch.registered, Rule::AlreadyExists, || {
        format!("branch {id} is already registered")
    })?;
    let name = values::text("name", &c.name, values::TEXT_NAME)?;
    let community = c
        .community
        .as_deref()
        .map(|t| values::text("community", t, values::TEXT_NAME))
        .transpose()?;
    Ok(Decision::to(
        stream,
        vec![Event::BranchRegistered(BranchRegistered {
            name,
            kind: c.kind,
            community,
        })],
    ))
}

pub(crate) fn appoint_secretary(
    world: &World,
    c: &AppointSecretary,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "appointing a secretary")?;
    let branch = existing(world, c.branch_id)?;
    let member = crate::member::existing(world, c.member_id)?;
    ensure(belongs(member, c.branch_id), Rule::NotABranchMember, || {
        format!(
            "member {} does not belong to branch {}",
            c.member_id, c.branch_id
        )
    })?;
    ensure(
        branch.secretary != Some(c.member_id),
        Rule::NothingChanges,
        || {
            format!(
                "member {} is already the secretary of branch {}",
                c.member_id, c.branch_id
            )
        },
    )?;
    Ok(Decision::to(
        streams::branch(c.branch_id),
        vec![Event::SecretaryAppointed(SecretaryAppointed {
            member_id: c.member_id,
        })],
    ))
}

pub(crate) fn vacate_secretary(
    world: &World,
    c: &VacateSecretary,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "vacating a secretary post")?;
    let branch = existing(world, c.branch_id)?;
    let Some(secretary) = branch.secretary else {
        return Err(DomainError::new(
            Rule::NothingChanges,
            format!(
                "the secretary post of branch {} is already vacant",
                c.branch_id
            ),
        )
        .into());
    };
    Ok(Decision::to(
        streams::branch(c.branch_id),
        vec![Event::SecretaryVacated(SecretaryVacated {
            member_id: secretary,
        })],
    ))
}

pub(crate) fn appoint_deputy(
    world: &World,
    c: &AppointDeputy,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    require_role(
        ctx,
        &[Role::CommitteeAdmin],
        "appointing a deputy secretary",
    )?;
    let branch = existing(world, c.branch_id)?;
    let member = crate::member::existing(world, c.member_id)?;
    ensure(belongs(member, c.branch_id), Rule::NotABranchMember, || {
        format!(
            "member {} does not belong to branch {}",
            c.member_id, c.branch_id
        )
    })
    .map_err(|e| e.on("member_id"))?;
    ensure(
        branch.deputy != Some(c.member_id) && branch.secretary != Some(c.member_id),
        Rule::NothingChanges,
        || {
            format!(
                "member {} is already the secretary or the deputy of branch {}",
                c.member_id, c.branch_id
            )
        },
    )?;
    Ok(Decision::to(
        streams::branch(c.branch_id),
        vec![Event::DeputyAppointed(DeputyAppointed {
            member_id: c.member_id,
        })],
    ))
}

/// Most attendees one meeting or activity records.
pub const MAX_ATTENDEES: usize = 1_000;

/// `RecordBranchMeeting` and `RecordBranchActivity` (the same body), which differ in the
/// event, and in who may attend: a meeting is the branch's members', an activity anyone's
/// in the programme.
pub(crate) fn record_meeting(
    world: &World,
    c: &RecordBranchMeeting,
    ctx: &Ctx,
    activity: bool,
) -> Result<Decision, Decide> {
    existing(world, c.branch_id)?;
    if ctx.principal.role != Role::CommitteeAdmin {
        require_secretary(
            world,
            ctx,
            &[c.branch_id],
            "recording a branch meeting or activity",
        )?;
    }
    past_or_today(ctx, c.date, "date")?;
    open_year(world, Year::of_date(c.date)?)?;
    let topic = values::text("topic", &c.topic, values::TEXT_LINE)?;
    ensure(c.attendees.len() <= MAX_ATTENDEES, Rule::OutOfRange, || {
        format!(
            "at most {MAX_ATTENDEES} attendees are recorded at once, got {}",
            c.attendees.len()
        )
    })
    .map_err(|e| e.on("attendees"))?;
    let mut attendees = c.attendees.clone();
    attendees.sort_unstable();
    attendees.dedup();
    ensure(
        attendees.len() == c.attendees.len(),
        Rule::OutOfRange,
        || "attendees names a member twice".into(),
    )
    .map_err(|e| e.on("attendees"))?;
    // Who came, by name: a meeting is its members'; anyone in the programme may join an
    // activity. Nobody who left takes part.
    world.need_all(attendees.iter().map(|m| streams::member(*m)))?;
    for m in &c.attendees {
        let member = crate::member::existing(world, *m).map_err(|e| match e {
            Decide::Refused(e) => Decide::Refused(e.on("attendees")),
            need => need,
        })?;
        ensure(
            activity || belongs(member, c.branch_id),
            Rule::NotABranchMember,
            || format!("attendee {m} is not a member of branch {}", c.branch_id),
        )
        .map_err(|e| e.on("attendees"))?;
    }
    let headcount = u32::try_from(c.attendees.len()).unwrap_or(u32::MAX);
    let event = if activity {
        Event::BranchActivityRecorded(BranchActivityRecorded {
            date: c.date,
            topic,
            attendees: c.attendees.clone(),
            headcount,
        })
    } else {
        Event::BranchMeetingRecorded(BranchMeetingRecorded {
            date: c.date,
            topic,
            attendees: c.attendees.clone(),
            headcount,
        })
    };
    Ok(Decision::to(streams::branch(c.branch_id), vec![event]))
}

pub(crate) fn record_quiz(
    world: &World,
    c: &RecordQuizResult,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "recording a quiz result")?;
    let branch = existing(world, c.branch_id)?;
    open_year(world, c.year)?;
    ensure(c.score <= values::SCORE_MAX, Rule::OutOfRange, || {
        format!("score must be 0 to {}, got {}", values::SCORE_MAX, c.score)
    })
    .map_err(|e| e.on("score"))?;
    ensure(
        !branch.quiz_years.contains(&c.year.get()),
        Rule::QuizAlreadyRecorded,
        || {
            format!(
                "branch {} already has a quiz result for {}",
                c.branch_id,
                c.year.get()
            )
        },
    )?;
    let contestant = crate::member::existing(world, c.contestant_id)?;
    ensure(
        belongs(contestant, c.branch_id),
        Rule::NotABranchMember,
        || {
            format!(
                "contestant {} is not a member of branch {}",
                c.contestant_id, c.branch_id
            )
        },
    )
    .map_err(|e| e.on("contestant_id"))?;
    Ok(Decision::to(
        streams::branch(c.branch_id),
        vec![Event::QuizResultRecorded(QuizResultRecorded {
            year: c.year.get(),
            contestant_id: c.contestant_id,
            score: c.score,
        })],
    ))
}

pub(crate) fn designate_site(
    world: &World,
    c: &DesignateDemonstrationSite,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    require_role(
        ctx,
        &[Role::CommitteeAdmin],
        "designating a demonstration site",
    )?;
    let branch = existing(world, c.branch_id)?;
    open_year(world, c.year)?;
    ensure(
        !branch.site_years.contains(&c.year.get()),
        Rule::SiteAlreadyDesignated,
        || {
            format!(
                "branch {} is already a demonstration site for {}",
                c.branch_id,
                c.year.get()
            )
        },
    )?;
    Ok(Decision::to(
        streams::branch(c.branch_id),
        vec![Event::DemonstrationSiteDesignated(
            DemonstrationSiteDesignated {
                year: c.year.get(),
                level: c.level,
            },
        )],
    ))
}

/// The events that free the posts `member` holds in branch `branch_id` (when leaving it).
pub(crate) fn posts_freed(
    world: &World,
    branch_id: Uuid,
    member: Uuid,
) -> Result<Vec<Event>, Decide> {
    let branch: &Branch = world.get(streams::branch(branch_id))?;
    let mut events = Vec::new();
    if branch.secretary == Some(member) {
        events.push(Event::SecretaryVacated(SecretaryVacated {
            member_id: member,
        }));
    }
    if branch.deputy == Some(member) {
        events.push(Event::DeputyVacated(DeputyVacated { member_id: member }));
    }
    Ok(events)
}
