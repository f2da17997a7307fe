//! Who may act: every permission check of the domain, in one place. A check that needs
//! another stream (is this token's holder the appointed secretary of that branch?) reads
//! it through the [`World`], so it is decided on the same snapshot as the rest.
//!
//! Auditors issue nothing. A member token acts only for its own member. A secretary token
//! names a branch and a member, and works while that member is the branch's *appointed*
//! secretary, as read from the branch's stream, so a re-appointment retires the old
//! secretary's tokens. "Never oneself" rules compare the acting member with the member
//! concerned. People rate, and the domain records who did and in which capacity: a side
//! of the card, stars and an appraisal are written by the secretary of the branch
//! concerned and, where that secretary is the member or the post is vacant (a normal
//! state: `VacateSecretary`, or the secretary left or moved), by the branch's deputy (a
//! `secretary` token of the branch naming the deputy) or a committee admin — never by the
//! member (`act_for_branch`); the event records the signer and the capacity. Who may read
//! what — a member's card or assessment, a stream, the oversight views ([`may_read`]) — is
//! decided here like a command, on the current state, before anything is looked up.

use crate::branch::Branch;
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::member;
use crate::service::ServiceRecord;
use crate::values::Capacity;
use crate::world::{World, streams};
use allweather_events::{Role, StreamId};
use uuid::Uuid;

/// Auditors read; they never issue commands.
pub(crate) fn refuse_read_only(ctx: &Ctx) -> Result<(), DomainError> {
    if ctx.principal.role == Role::Auditor {
        return Err(DomainError::new(
            Rule::RoleNotPermitted,
            "auditors have read-only access",
        ));
    }
    Ok(())
}

/// Refuses unless the principal acts in one of `roles`.
pub(crate) fn require_role(ctx: &Ctx, roles: &[Role], what: &str) -> Result<(), DomainError> {
    if roles.contains(&ctx.principal.role) {
        return Ok(());
    }
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Err(DomainError::new(
        Rule::RoleNotPermitted,
        format!(
            "{what} needs the role {}; the token's role is {}",
            names.join(" or "),
            ctx.principal.role.as_str()
        ),
    ))
}

/// Whether the principal acts as `member_id` itself.
pub(crate) fn is_member(ctx: &Ctx, member_id: Uuid) -> bool {
    ctx.principal.role == Role::Member && ctx.principal.member_id == Some(member_id)
}

/// Refuses unless the principal is the member `member_id` acting for itself.
pub(crate) fn require_member(ctx: &Ctx, member_id: Uuid, what: &str) -> Result<(), DomainError> {
    if is_member(ctx, member_id) {
        return Ok(());
    }
    Err(DomainError::new(
        Rule::NotTheMember,
        format!("{what} is done by member {member_id} with their own token"),
    ))
}

/// The member id of the appointed secretary of `branch_id` when the principal is that
/// secretary, else `None`. A secretary token names its branch and its member; the
/// branch's stream says who holds the office, so a token issued to a former secretary
/// stops working when a new one is appointed, and the "never oneself" rules know who
/// is acting.
pub(crate) fn secretary_of(
    world: &World,
    ctx: &Ctx,
    branch_id: Uuid,
) -> Result<Option<Uuid>, Decide> {
    if ctx.principal.role != Role::Secretary || ctx.principal.branch_id != Some(branch_id) {
        return Ok(None);
    }
    let branch: &Branch = world.get(streams::branch(branch_id))?;
    Ok(match branch.secretary {
        Some(m) if ctx.principal.member_id == Some(m) => Some(m),
        _ => None,
    })
}

/// Refuses unless the principal is the appointed secretary of one of `branches`;
/// answers the secretary's member id.
pub(crate) fn require_secretary(
    world: &World,
    ctx: &Ctx,
    branches: &[Uuid],
    what: &str,
) -> Result<Uuid, Decide> {
    for b in branches {
        if let Some(m) = secretary_of(world, ctx, *b)? {
            return Ok(m);
        }
    }
    let names: Vec<String> = branches.iter().map(Uuid::to_string).collect();
    Err(DomainError::new(
        Rule::NotTheBranchSecretary,
        format!(
            "{what} is done by the appointed secretary of branch {}",
            names.join(" or ")
        ),
    )
    .into())
}

/// Who acts for branch `branch_id` on a matter of member `subject` (their card, stars,
/// appraisal): the branch's appointed secretary; where the secretary is `subject` or the
/// post is vacant, its deputy (a `secretary` token of the branch naming the deputy) or a
/// committee admin. Never `subject` themself, who is refused by `own`. Answers the
/// capacity and the acting member (none for a committee admin without one).
pub(crate) fn act_for_branch(
    world: &World,
    ctx: &Ctx,
    branch_id: Uuid,
    subject: Uuid,
    own: Rule,
    what: &str,
) -> Result<(Capacity, Option<Uuid>), Decide> {
    let me = ctx.principal.member_id;
    if me == Some(subject) {
        return Err(DomainError::new(own, format!("nobody does {what} for themself")).into());
    }
    let branch: &Branch = world.get(streams::branch(branch_id))?;
    let stands_in = branch.secretary.is_none() || branch.secretary == Some(subject);
    match ctx.principal.role {
        Role::Secretary if ctx.principal.branch_id == Some(branch_id) && me.is_some() => {
            if me == branch.secretary {
                return Ok((Capacity::Secretary, me));
            }
            if stands_in && me == branch.deputy {
                return Ok((Capacity::Deputy, me));
            }
        }
        Role::CommitteeAdmin if stands_in => return Ok((Capacity::CommitteeAdmin, me)),
        _ => {}
    }
    Err(DomainError::new(
        Rule::NotTheBranchSecretary,
        format!(
            "{what} is done by the appointed secretary of branch {branch_id}; its deputy or a committee admin acts only where the secretary is the member concerned or the post is vacant"
        ),
    )
    .into())
}

/// What a caller asks to read. Every read of the service names one, and [`may_read`]
/// decides it before anything is looked up, so a refusal never says whether the thing
/// exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A member's card, assessment or record of a year.
    Member(Uuid),
    /// A stream's raw events, which may carry personal data.
    Stream(StreamId),
    /// A branch's work: its roster, the hours waiting for its verification, its cards.
    Branch(Uuid),
    /// What only oversight reads: every event as it happens, the integrity flags, the
    /// record of who was shown whose personal data.
    Oversight,
}

/// Refuses `what` unless the principal may read it as the log stands now:
/// - a member's matters: the committee, its auditors, the member, and the secretary or
///   deputy of the member's unit or service branch as the branches' streams stand;
/// - a branch's work: the committee, its auditors, and the branch's secretary and deputy
///   as the branch's stream stands (a secretary token naming that branch);
/// - a stream: the committee and its auditors; a member (or a secretary, as the member
///   their token names) the streams about themself — their member stream, claims, cards,
///   days, service records and appraisals;
/// - oversight: the committee and its auditors.
pub fn may_read(world: &World, ctx: &Ctx, what: &Read) -> Result<(), Decide> {
    let (allowed, detail) = match what {
        Read::Member(member_id) => (
            may_read_member(world, ctx, *member_id)?,
            format!(
                "member {member_id}'s card, assessment and record are read by the member, the secretaries and deputies of their branches, the committee and its auditors"
            ),
        ),
        Read::Stream(stream) => (
            may_read_stream(world, ctx, stream)?,
            format!(
                "stream {stream} is read by committee admins, auditors and the member it concerns"
            ),
        ),
        Read::Branch(branch_id) => (
            may_read_branch(world, ctx, *branch_id)?,
            format!(
                "branch {branch_id}'s work is read by its secretary and deputy, the committee and its auditors"
            ),
        ),
        Read::Oversight => (
            matches!(ctx.principal.role, Role::CommitteeAdmin | Role::Auditor),
            "this is read by committee admins and auditors only".to_owned(),
        ),
    };
    ensure(allowed, Rule::RoleNotPermitted, || detail)?;
    Ok(())
}

/// Whether the principal may read member `member_id`'s matters (see [`may_read`]). A
/// secretary asking about someone who is not on record is refused like one asking about
/// a member of another branch.
pub(crate) fn may_read_member(world: &World, ctx: &Ctx, member_id: Uuid) -> Result<bool, Decide> {
    Ok(match ctx.principal.role {
        Role::CommitteeAdmin | Role::Auditor => true,
        Role::Member => ctx.principal.member_id == Some(member_id),
        Role::Secretary => {
            let me = ctx.principal.member_id;
            if me == Some(member_id) {
                return Ok(true);
            }
            let member: &member::Member = world.get(streams::member(member_id))?;
            if !member.registered {
                return Ok(false);
            }
            let mut allowed = false;
            for b in member.branches() {
                if ctx.principal.branch_id != Some(b) {
                    continue;
                }
                let branch: &Branch = world.get(streams::branch(b))?;
                allowed |= me.is_some() && (me == branch.secretary || me == branch.deputy);
            }
            allowed
        }
        Role::ServiceCentre | Role::System => false,
    })
}

/// Whether the principal may read branch `branch_id`'s work (see [`may_read`]).
fn may_read_branch(world: &World, ctx: &Ctx, branch_id: Uuid) -> Result<bool, Decide> {
    Ok(match ctx.principal.role {
        Role::CommitteeAdmin | Role::Auditor => true,
        Role::Secretary if ctx.principal.branch_id == Some(branch_id) => {
            let branch: &Branch = world.get(streams::branch(branch_id))?;
            let me = ctx.principal.member_id;
            me.is_some() && (me == branch.secretary || me == branch.deputy)
        }
        _ => false,
    })
}

/// Whether the principal may read `stream` (see [`may_read`]).
fn may_read_stream(world: &World, ctx: &Ctx, stream: &StreamId) -> Result<bool, Decide> {
    let me = match (ctx.principal.role, ctx.principal.member_id) {
        (Role::CommitteeAdmin | Role::Auditor, _) => return Ok(true),
        // A secretary's token names their member: their own streams are theirs too.
        (Role::Member | Role::Secretary, Some(m)) => m.to_string(),
        _ => return Ok(false),
    };
    Ok(match stream.aggregate() {
        "member" | "claims" => stream.id() == me,
        "dualcard" | "serviceday" | "appraisal" => stream.id().starts_with(&format!("{me}-")),
        "servicerecord" => {
            let record: &ServiceRecord = world.get(stream.clone())?;
            record.member_id.is_some_and(|m| m.to_string() == me)
        }
        _ => false,
    })
}
