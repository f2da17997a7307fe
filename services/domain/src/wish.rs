//! Wishes (微心愿 and service needs): published, claimed by exactly one member at a time,
//! fulfilled, confirmed; and each member's open claims (`claims-{member}`), written in
//! the same append as the claim so that the limit on open claims holds under
//! concurrency.

use crate::command::{
    CancelWish, ClaimWish, ConfirmWish, ExpireClaim, FulfilWish, PublishWish, ReleaseWish,
};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::member;
use crate::permissions::{is_member, require_member, require_role, require_secretary};
use crate::personal::{self, Sealed};
use crate::values::{self, Category};
use crate::world::{Decision, World, streams};
use crate::year::rules_in_force;
use allweather_events::{Role, Timestamp};
use chrono::Datelike;
use std::collections::BTreeSet;
use uuid::Uuid;

/// Where a wish stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WishStatus {
    /// Not published (the stream does not exist).
    #[default]
    Unpublished,
    /// Waiting for a claimer.
    Open,
    /// Claimed by a member until `expires_at`.
    Claimed {
        /// The claimer.
        member_id: Uuid,
        /// When the claim runs out.
        expires_at: Timestamp,
    },
    /// Fulfilled by a member, waiting for confirmation.
    Fulfilled {
        /// Who fulfilled it.
        member_id: Uuid,
    },
    /// Delivery confirmed.
    Confirmed,
    /// Withdrawn.
    Cancelled,
}

/// A wish's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wish {
    /// Where it stands.
    pub status: WishStatus,
    /// Who published it (the token subject).
    pub publisher: String,
    /// The deadline.
    pub deadline: Option<Timestamp>,
    /// The category.
    pub category: Option<Category>,
    /// Who it is for, sealed.
    pub beneficiary: Option<Sealed>,
}

impl Wish {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::WishPublished(e) => {
                self.status = WishStatus::Open;
                self.publisher = e.publisher.clone();
                self.deadline = Some(e.deadline);
                self.category = Some(e.category);
                self.beneficiary = Some(e.beneficiary.clone());
            }
            Event::WishClaimed(e) => {
                self.status = WishStatus::Claimed {
                    member_id: e.member_id,
                    expires_at: e.expires_at,
                }
            }
            Event::WishReleased(_) | Event::WishClaimExpired(_) => self.status = WishStatus::Open,
            Event::WishFulfilled(e) => {
                self.status = WishStatus::Fulfilled {
                    member_id: e.member_id,
                }
            }
            Event::WishConfirmed(_) => self.status = WishStatus::Confirmed,
            Event::WishCancelled(_) => self.status = WishStatus::Cancelled,
            _ => {}
        }
    }
}

/// A member's open claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The wishes the member holds a claim on.
    pub open: BTreeSet<Uuid>,
}

impl Claims {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::ClaimOpened(e) => {
                self.open.insert(e.wish_id);
            }
            Event::ClaimClosed(e) => {
                self.open.remove(&e.wish_id);
            }
            _ => {}
        }
    }
}

fn published(world: &World, id: Uuid) -> Result<&Wish, Decide> {
    let wish: &Wish = world.get(streams::wish(id))?;
    ensure(
        wish.status != WishStatus::Unpublished,
        Rule::WishNotFound,
        || format!("there is no wish {id}"),
    )?;
    Ok(wish)
}

fn claimed_by(wish: &Wish, id: Uuid) -> Result<(Uuid, Timestamp), DomainError> {
    match wish.status {
        WishStatus::Claimed {
            member_id,
            expires_at,
        } => Ok((member_id, expires_at)),
        _ => Err(DomainError::new(
            Rule::WishNotClaimed,
            format!("wish {id} is not claimed"),
        )),
    }
}

/// Refuses unless the principal is the claimer or the secretary of one of the claimer's branches.
fn require_claimer_or_secretary(
    world: &World,
    ctx: &Ctx,
    claimer: Uuid,
    what: &str,
) -> Result<(), Decide> {
    if is_member(ctx, claimer) {
        return Ok(());
    }
    if ctx.principal.role == Role::Secretary {
        let m = member::existing(world, claimer)?;
        require_secretary(world, ctx, &m.branches(), what)?;
        return Ok(());
    }
    Err(DomainError::new(
        Rule::NotTheClaimer,
        format!("{what} is done by the claimer {claimer} or a secretary of their branch"),
    )
    .into())
}

/// The sealed details of a wish's beneficiary, for those who need them to deliver it:
/// its publisher and the service centre, and while it is claimed or fulfilled, the
/// claimer and the secretaries of the claimer's branches.
pub fn beneficiary(world: &World, wish_id: Uuid, ctx: &Ctx) -> Result<Sealed, Decide> {
    let wish = published(world, wish_id)?;
    let sealed = || {
        wish.beneficiary.clone().ok_or_else(|| {
            Decide::from(DomainError::new(
                Rule::WishNotFound,
                format!("there is no wish {wish_id}"),
            ))
        })
    };
    if ctx.principal.role == Role::ServiceCentre || ctx.principal.subject == wish.publisher {
        return sealed();
    }
    let refused = || {
        Decide::from(DomainError::new(
            Rule::NotEntitledToPersonalData,
            format!(
                "the beneficiary of wish {wish_id} is seen by its publisher, the service centre, its claimer and the secretaries of the claimer's branches only"
            ),
        ))
    };
    let (WishStatus::Claimed { member_id, .. } | WishStatus::Fulfilled { member_id }) = wish.status
    else {
        return Err(refused());
    };
    match require_claimer_or_secretary(world, ctx, member_id, "seeing a beneficiary") {
        Ok(()) => sealed(),
        Err(Decide::Refused(_)) => Err(refused()),
        // A stream to load (the claimer's record, a branch) is a need, not a refusal.
        Err(need) => Err(need),
    }
}

/// Events closing the claimer's claim on `wish_id`, for their ledger.
fn close_claim(
    world: &World,
    decision: Decision,
    claimer: Uuid,
    wish_id: Uuid,
) -> Result<Decision, Decide> {
    let stream = streams::claims(claimer);
    world.get::<Claims>(stream.clone())?;
    Ok(decision.and(stream, vec![Event::ClaimClosed(ClaimClosed { wish_id })]))
}

pub(crate) fn publish(world: &World, c: &PublishWish, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(
        ctx,
        &[Role::ServiceCentre, Role::Secretary, Role::CommitteeAdmin],
        "publishing a wish",
    )?;
    if let (Role::Secretary, Some(b)) = (ctx.principal.role, ctx.principal.branch_id) {
        require_secretary(world, ctx, &[b], "publishing a wish")?;
    }
    let id = c.wish_id.unwrap_or(ctx.new_id);
    let stream = streams::wish(id);
    let wish: &Wish = world.get(stream.clone())?;
    ensure(
        wish.status == WishStatus::Unpublished,
        Rule::AlreadyExists,
        || format!("wish {id} is already published"),
    )?;
    let title = values::text("title", &c.title, 200)?;
    let details = personal::details(&c.beneficiary, c.beneficiary_contact.as_deref())?;
    ensure(c.deadline > ctx.now, Rule::DeadlinePassed, || {
        format!("the deadline {} is not in the future", c.deadline)
    })
    .map_err(|e| e.on("deadline"))?;
    let person = c.beneficiary_id.unwrap_or(id);
    // Read as a condition of the append: an erasure that commits first makes this
    // publish decide again, and be refused.
    let record: &personal::Beneficiary = world.get(streams::beneficiary(person))?;
    ensure(!record.erased, Rule::BeneficiaryErased, || {
        format!("beneficiary {person} was erased; a new wish for them needs a new id")
    })
    .map_err(|e| e.on("beneficiary_id"))?;
    let beneficiary = personal::seal_for(world, person, &details)?;
    Ok(Decision::to(
        stream,
        vec![Event::WishPublished(WishPublished {
            origin: c.origin,
            title,
            beneficiary,
            category: c.category,
            deadline: c.deadline,
            publisher: ctx.principal.subject.clone(),
            published_on: ctx.today,
        })],
    ))
}

pub(crate) fn claim(world: &World, c: &ClaimWish, ctx: &Ctx) -> Result<Decision, Decide> {
    require_member(ctx, c.member_id, "claiming a wish")?;
    let wish = published(world, c.wish_id)?;
    match wish.status {
        WishStatus::Open => {}
        WishStatus::Claimed { member_id, .. } if member_id == c.member_id => {
            return Err(DomainError::new(
                Rule::WishAlreadyClaimed,
                format!("wish {} is already claimed by you", c.wish_id),
            )
            .into());
        }
        WishStatus::Claimed { .. } => {
            return Err(DomainError::new(
                Rule::WishAlreadyClaimed,
                format!("wish {} is already claimed by another member", c.wish_id),
            )
            .into());
        }
        _ => {
            return Err(DomainError::new(
                Rule::WishNotOpen,
                format!("wish {} is no longer open", c.wish_id),
            )
            .into());
        }
    }
    ensure(
        wish.deadline.is_none_or(|d| d > ctx.now),
        Rule::DeadlinePassed,
        || format!("the deadline of wish {} has passed", c.wish_id),
    )?;
    member::existing(world, c.member_id)?;
    let rules = rules_in_force(world, ctx.today.year())?;
    let ledger = streams::claims(c.member_id);
    let claims: &Claims = world.get(ledger.clone())?;
    ensure(
        (claims.open.len() as u64) < u64::from(rules.max_open_claims),
        Rule::OpenClaimLimitReached,
        || {
            format!(
                "member {} already holds {} open claims, the most the rules allow",
                c.member_id,
                claims.open.len()
            )
        },
    )?;
    let expires_at = Timestamp::from_micros(
        ctx.now
            .as_micros()
            .saturating_add(i64::from(rules.claim_expiry_hours) * 3_600_000_000),
    );
    Ok(Decision::to(
        streams::wish(c.wish_id),
        vec![Event::WishClaimed(WishClaimed {
            member_id: c.member_id,
            expires_at,
        })],
    )
    .and(
        ledger,
        vec![Event::ClaimOpened(ClaimOpened { wish_id: c.wish_id })],
    ))
}

pub(crate) fn release(world: &World, c: &ReleaseWish, ctx: &Ctx) -> Result<Decision, Decide> {
    let wish = published(world, c.wish_id)?;
    let (claimer, _) = claimed_by(wish, c.wish_id)?;
    ensure(claimer == c.member_id, Rule::NotTheClaimer, || {
        format!(
            "wish {} is not claimed by member {}",
            c.wish_id, c.member_id
        )
    })?;
    require_claimer_or_secretary(world, ctx, claimer, "releasing a wish")?;
    let decision = Decision::to(
        streams::wish(c.wish_id),
        vec![Event::WishReleased(WishReleased { member_id: claimer })],
    );
    close_claim(world, decision, claimer, c.wish_id)
}

pub(crate) fn fulfil(world: &World, c: &FulfilWish, ctx: &Ctx) -> Result<Decision, Decide> {
    let wish = published(world, c.wish_id)?;
    let (claimer, _) = claimed_by(wish, c.wish_id)?;
    require_claimer_or_secretary(world, ctx, claimer, "fulfilling a wish")?;
    let evidence = values::text("evidence", &c.evidence, 2_000)?;
    let decision = Decision::to(
        streams::wish(c.wish_id),
        vec![Event::WishFulfilled(WishFulfilled {
            member_id: claimer,
            evidence,
        })],
    );
    close_claim(world, decision, claimer, c.wish_id)
}

pub(crate) fn confirm(world: &World, c: &ConfirmWish, ctx: &Ctx) -> Result<Decision, Decide> {
    let wish = published(world, c.wish_id)?;
    ensure(
        ctx.principal.subject == wish.publisher || ctx.principal.role == Role::ServiceCentre,
        Rule::NotThePublisher,
        || {
            format!(
                "wish {} is confirmed by its publisher or the service centre",
                c.wish_id
            )
        },
    )?;
    let WishStatus::Fulfilled { member_id } = wish.status else {
        return Err(DomainError::new(
            Rule::WishNotFulfilled,
            format!("wish {} is not fulfilled", c.wish_id),
        )
        .into());
    };
    Ok(Decision::to(
        streams::wish(c.wish_id),
        vec![Event::WishConfirmed(WishConfirmed { member_id })],
    ))
}

pub(crate) fn cancel(world: &World, c: &CancelWish, ctx: &Ctx) -> Result<Decision, Decide> {
    let wish = published(world, c.wish_id)?;
    ensure(
        ctx.principal.subject == wish.publisher
            || matches!(
                ctx.principal.role,
                Role::ServiceCentre | Role::CommitteeAdmin
            ),
        Rule::NotThePublisher,
        || {
            format!(
                "wish {} is cancelled by its publisher, the service centre or a committee admin",
                c.wish_id
            )
        },
    )?;
    let reason = values::text("reason", &c.reason, 1_000)?;
    let decision = Decision::to(
        streams::wish(c.wish_id),
        vec![Event::WishCancelled(WishCancelled { reason })],
    );
    match wish.status {
        WishStatus::Open => Ok(decision),
        WishStatus::Claimed { member_id, .. } => close_claim(world, decision, member_id, c.wish_id),
        _ => Err(DomainError::new(
            Rule::WishNotOpen,
            format!("wish {} is already fulfilled or cancelled", c.wish_id),
        )
        .into()),
    }
}

pub(crate) fn expire_claim(world: &World, c: &ExpireClaim, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(
        ctx,
        &[Role::System, Role::CommitteeAdmin],
        "expiring a claim",
    )?;
    let wish = published(world, c.wish_id)?;
    let (claimer, expires_at) = claimed_by(wish, c.wish_id)?;
    ensure(expires_at <= ctx.now, Rule::ClaimNotExpired, || {
        format!("the claim on wish {} runs until {expires_at}", c.wish_id)
    })?;
    let decision = Decision::to(
        streams::wish(c.wish_id),
        vec![Event::WishClaimExpired(WishClaimExpired {
            member_id: claimer,
        })],
    );
    close_claim(world, decision, claimer, c.wish_id)
}
