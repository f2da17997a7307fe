//! Accounts on the platform: who was given a way in, in which role, by whom and when.
//! A member's account has the member's id and acts as that member (and, on a branch's
//! pages, as its secretary while the branch's stream says they are); an account without
//! a member acts in its role (committee admin, service centre, auditor). The credentials
//! — sign-in codes, password hashes, sessions — are kept beside the log, never in it.

use crate::command::{DisableAccount, InviteAccount};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::{AccountDisabled, AccountInvited, Event};
use crate::member;
use crate::permissions::{require_role, require_secretary};
use crate::values;
use crate::world::{Decision, World, streams};
use allweather_events::Role;
use uuid::Uuid;

/// The roles an account without a member is given.
pub const ROLE_ACCOUNTS: [Role; 3] = [Role::CommitteeAdmin, Role::ServiceCentre, Role::Auditor];

/// An account's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Invited (the stream exists).
    pub invited: bool,
    /// The role it acts in.
    pub role: Option<Role>,
    /// The member, for a member's account.
    pub member_id: Option<Uuid>,
    /// Disabled, until invited again.
    pub disabled: bool,
}

impl Account {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::AccountInvited(e) => {
                self.invited = true;
                self.role = Some(e.role);
                self.member_id = e.member_id;
                self.disabled = false;
            }
            Event::AccountDisabled(_) => self.disabled = true,
            _ => {}
        }
    }
}

pub(crate) fn invite(world: &World, c: &InviteAccount, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(
        ctx,
        &[Role::CommitteeAdmin, Role::Secretary],
        "inviting a person to the platform",
    )?;
    let (id, role) = match (c.member_id, c.role) {
        (Some(member_id), _) => {
            let member = member::existing(world, member_id)?;
            if ctx.principal.role == Role::Secretary {
                require_secretary(
                    world,
                    ctx,
                    &member.branches(),
                    "inviting a member to the platform",
                )?;
            }
            (member_id, Role::Member)
        }
        (None, Some(role)) => {
            require_role(
                ctx,
                &[Role::CommitteeAdmin],
                "inviting a committee admin, service centre or auditor",
            )?;
            ensure(ROLE_ACCOUNTS.contains(&role), Rule::OutOfRange, || {
                format!(
                    "an account without a member is for committee_admin, service_centre or auditor, not {}; a member's account is invited by member_id",
                    role.as_str()
                )
            })
            .map_err(|e| e.on("role"))?;
            (c.account_id.unwrap_or(ctx.new_id), role)
        }
        // The command's shape gives one of the two.
        (None, None) => {
            return Err(
                DomainError::new(Rule::OutOfRange, "give member_id, or role".to_owned())
                    .on("member_id")
                    .into(),
            );
        }
    };
    let stream = streams::account(id);
    let account: &Account = world.get(stream.clone())?;
    if account.invited {
        ensure(account.role == Some(role), Rule::AlreadyExists, || {
            format!(
                "account {id} is a {} account; it cannot become {}",
                account.role.map_or("?", Role::as_str),
                role.as_str()
            )
        })?;
        ensure(
            !account.disabled || ctx.principal.role == Role::CommitteeAdmin,
            Rule::AccountIsDisabled,
            || format!("account {id} is disabled; only a committee admin enables it again"),
        )?;
    }
    Ok(Decision::to(
        stream,
        vec![Event::AccountInvited(AccountInvited {
            role,
            member_id: c.member_id,
        })],
    ))
}

pub(crate) fn disable(world: &World, c: &DisableAccount, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "disabling an account")?;
    let id = c.account_id;
    let stream = streams::account(id);
    let account: &Account = world.get(stream.clone())?;
    ensure(account.invited, Rule::AccountNotFound, || {
        format!("there is no account {id}")
    })
    .map_err(|e| e.on("account_id"))?;
    ensure(!account.disabled, Rule::AccountIsDisabled, || {
        format!("account {id} is already disabled")
    })?;
    let reason = values::text("reason", &c.reason, values::TEXT_REASON)?;
    Ok(Decision::to(
        stream,
        vec![Event::AccountDisabled(AccountDisabled { reason })],
    ))
}
