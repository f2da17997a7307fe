//! Who may act: every permission check of the domain, in one place. A check that needs
//! another stream (is this token's holder the appointed secretary of that branch?) reads
//! it through the [`World`], so it is decided on the same snapshot as the rest.

use crate::branch::Branch;
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule};
use crate::world::{World, streams};
use allweather_events::Role;
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
