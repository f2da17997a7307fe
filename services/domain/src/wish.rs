//! Wishes (微心愿 and service needs): published, claimed, fulfilled, confirmed. A
//! micro-wish has exactly one claimer; a service need asks for `volunteers` and takes
//! exactly that many claims (an urgent need may take many). Each member's open claims
//! (`claims-{member}`) are written in the same append as the claim, so that the limit on
//! open claims holds under concurrency; the wish's own stream is written by every claim,
//! so that no more claims than places are ever taken.

use crate::command::{
    CancelWish, ClaimWish, ConfirmWish, DiscloseBeneficiary, ExpireClaim, FulfilWish, PublishWish,
    ReleaseWish,
};
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::*;
use crate::member;
use crate::permissions::{is_member, require_member, require_role, require_secretary};
use crate::personal::{self, Sealed};
use crate::values::Year;
use crate::values::{self, Category, WishOrigin};
use crate::world::{Decision, World, streams};
use crate::year::rules_in_force;
use allweather_events::{Role, Timestamp};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Most volunteers one service need may ask for.
pub const MAX_VOLUNTEERS: u32 = 500;

/// Where a wish stands as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WishStatus {
    /// Not published (the stream does not exist).
    #[default]
    Unpublished,
    /// Published: places are claimed, fulfilled and confirmed.
    Active,
    /// Every place delivered and confirmed.
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
    /// How many members it takes (1 for a micro-wish).
    pub volunteers: u32,
    /// Open claims: the claimer and when their claim runs out.
    pub claims: BTreeMap<Uuid, Timestamp>,
    /// Members who fulfilled their part, awaiting confirmation.
    pub fulfilled: BTreeSet<Uuid>,
    /// Members whose delivery the publisher confirmed.
    pub confirmed: BTreeSet<Uuid>,
}

impl Wish {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::WishPublished(e) => {
                self.status = WishStatus::Active;
                self.publisher = e.publisher.clone();
                self.deadline = Some(e.deadline);
                self.category = Some(e.category);
                self.beneficiary = Some(e.beneficiary.clone());
                self.volunteers = e.volunteers;
            }
            Event::WishClaimed(e) => {
                self.claims.insert(e.member_id, e.expires_at);
            }
            Event::WishReleased(WishReleased { member_id })
            | Event::WishClaimExpired(WishClaimExpired { member_id }) => {
                self.claims.remove(member_id);
            }
            Event::WishFulfilled(e) => {
                self.claims.remove(&e.member_id);
                self.fulfilled.insert(e.member_id);
            }
            Event::WishConfirmed(e) => {
                self.fulfilled.remove(&e.member_id);
                self.confirmed.insert(e.member_id);
                if self.confirmed.len() as u64 >= u64::from(self.volunteers) {
                    self.status = WishStatus::Confirmed;
                }
            }
            Event::WishCancelled(_) => {
                self.status = WishStatus::Cancelled;
                self.claims.clear();
            }
            _ => {}
        }
    }

    /// Places taken: open claims, and parts fulfilled or confirmed.
    pub fn taken(&self) -> u64 {
        (self.claims.len() + self.fulfilled.len() + self.confirmed.len()) as u64
    }

    /// Whether `member` holds a place (an open claim, or a part fulfilled or confirmed).
    pub fn holds(&self, member: Uuid) -> bool {
        self.claims.contains_key(&member)
            || self.fulfilled.contains(&member)
            || self.confirmed.contains(&member)
    }
}

/// A member's open claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The wishes the member holds a claim on.
    pub open: BTreeSet<Uuid>,
    /// The claims the member gave back on the day of the last release, and that day.
    pub released: (Option<NaiveDate>, u32),
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
            Event::ClaimReleased(e) => {
                self.open.remove(&e.wish_id);
                self.released = match self.released {
                    (Some(day), n) if day == e.released_on => (Some(day), n + 1),
                    _ => (Some(e.released_on), 1),
                };
            }
            _ => {}
        }
    }

    /// Claims given back on `day`.
    fn released_on(&self, day: NaiveDate) -> u32 {
        match self.released {
            (Some(d), n) if d == day => n,
            _ => 0,
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

/// The open claim of `member` on the wish `id`, when it is still active.
fn open_claim(wish: &Wish, id: Uuid, member: Uuid) -> Result<Timestamp, DomainError> {
    ensure(wish.status == WishStatus::Active, Rule::WishNotOpen, || {
        format!("wish {id} is no longer open")
    })?;
    wish.claims.get(&member).copied().ok_or_else(|| {
        DomainError::new(
            Rule::WishNotClaimed,
            format!("member {member} holds no open claim on wish {id}"),
        )
    })
}

/// The claimer a command acts for: the one it names, else the principal's own member,
/// else the wish's only open claimer.
fn claimer_of(wish: &Wish, id: Uuid, named: Option<Uuid>, ctx: &Ctx) -> Result<Uuid, DomainError> {
    if let Some(m) = named {
        return Ok(m);
    }
    if let Some(m) = ctx
        .principal
        .member_id
        .filter(|m| wish.claims.contains_key(m))
    {
        return Ok(m);
    }
    let mut open = wish.claims.keys();
    match (open.next(), open.next()) {
        (Some(only), None) => Ok(*only),
        (None, _) => Err(DomainError::new(
            Rule::WishNotClaimed,
            format!("wish {id} is not claimed"),
        )),
        (Some(_), Some(_)) => Err(DomainError::new(
            Rule::WishNotClaimed,
            format!("wish {id} has several claimers: name the member"),
        )
        .on("member_id")),
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
        let m = member::on_record(world, claimer)?;
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
/// its publisher and the service centre, and while it is active, its open claimers and
/// those who fulfilled their part, and the secretaries of their branches.
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
    if wish.status != WishStatus::Active {
        return Err(refused());
    }
    // Those delivering it now: the open claimers and those who fulfilled their part.
    for member_id in wish.claims.keys().chain(&wish.fulfilled) {
        match require_claimer_or_secretary(world, ctx, *member_id, "seeing a beneficiary") {
            Ok(()) => return sealed(),
            Err(Decide::Refused(_)) => {}
            // A stream to load (the claimer's record, a branch) is a need, not a refusal.
            Err(need) => return Err(need),
        }
    }
    Err(refused())
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
    let title = values::text("title", &c.title, values::TEXT_LINE)?;
    let volunteers = c.volunteers.unwrap_or(1);
    match c.origin {
        WishOrigin::MicroWish => ensure(volunteers == 1, Rule::OutOfRange, || {
            format!("a micro-wish has exactly one claimer, not {volunteers}")
        }),
        WishOrigin::ServiceNeed => ensure(
            (1..=MAX_VOLUNTEERS).contains(&volunteers),
            Rule::OutOfRange,
            || {
                format!(
                    "a service need asks for 1 to {MAX_VOLUNTEERS} volunteers, not {volunteers}"
                )
            },
        ),
    }
    .map_err(|e| e.on("volunteers"))?;
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
            volunteers,
        })],
    ))
}

pub(crate) fn claim(world: &World, c: &ClaimWish, ctx: &Ctx) -> Result<Decision, Decide> {
    require_member(ctx, c.member_id, "claiming a wish")?;
    let wish = published(world, c.wish_id)?;
    ensure(wish.status == WishStatus::Active, Rule::WishNotOpen, || {
        format!("wish {} is no longer open", c.wish_id)
    })?;
    ensure(!wish.holds(c.member_id), Rule::WishAlreadyClaimed, || {
        format!("wish {} is already claimed by you", c.wish_id)
    })?;
    ensure(
        wish.taken() < u64::from(wish.volunteers),
        Rule::WishAlreadyClaimed,
        || match wish.volunteers {
            1 => format!("wish {} is already claimed by another member", c.wish_id),
            n => format!("all {n} places of wish {} are taken", c.wish_id),
        },
    )?;
    ensure(
        wish.deadline.is_none_or(|d| d > ctx.now),
        Rule::DeadlinePassed,
        || format!("the deadline of wish {} has passed", c.wish_id),
    )?;
    member::existing(world, c.member_id)?;
    let rules = rules_in_force(world, Year::of_date(ctx.today)?)?;
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
    open_claim(wish, c.wish_id, c.member_id).map_err(|e| match e.rule {
        Rule::WishNotClaimed => DomainError::new(
            Rule::NotTheClaimer,
            format!(
                "wish {} is not claimed by member {}",
                c.wish_id, c.member_id
            ),
        ),
        _ => e,
    })?;
    require_claimer_or_secretary(world, ctx, c.member_id, "releasing a wish")?;
    // Between the new year and the adoption of its rules, the default bound.
    let bound = match rules_in_force(world, Year::of_date(ctx.today)?) {
        Ok(rules) => rules.max_releases_per_day,
        Err(Decide::Refused(e)) if e.rule == Rule::RulesNotAdopted => {
            crate::rules::DEFAULT_RELEASES_PER_DAY
        }
        Err(other) => return Err(other),
    };
    let ledger = streams::claims(c.member_id);
    let claims: &Claims = world.get(ledger.clone())?;
    let released = claims.released_on(ctx.today);
    ensure(released < bound, Rule::ReleaseLimitReached, || {
        format!(
            "member {} has given back {released} claims today, the most the rules allow; a claim that cannot be delivered is left to expire or handed to the service centre",
            c.member_id
        )
    })?;
    Ok(Decision::to(
        streams::wish(c.wish_id),
        vec![Event::WishReleased(WishReleased {
            member_id: c.member_id,
        })],
    )
    .and(
        ledger,
        vec![Event::ClaimReleased(ClaimReleased {
            wish_id: c.wish_id,
            released_on: ctx.today,
        })],
    ))
}

/// Records that the principal is shown the beneficiary of wish `c.wish_id`, on the
/// person's stream, if they may see it ([`beneficiary`]).
pub(crate) fn disclose(
    world: &World,
    c: &DiscloseBeneficiary,
    ctx: &Ctx,
) -> Result<Decision, Decide> {
    let sealed = beneficiary(world, c.wish_id, ctx)?;
    let stream = streams::beneficiary(sealed.person_id);
    world.get::<crate::personal::Beneficiary>(stream.clone())?;
    Ok(Decision::to(
        stream,
        vec![Event::BeneficiaryDisclosed(BeneficiaryDisclosed {
            wish_id: c.wish_id,
            member_id: ctx.principal.member_id,
            disclosed_on: ctx.today,
        })],
    ))
}

pub(crate) fn fulfil(world: &World, c: &FulfilWish, ctx: &Ctx) -> Result<Decision, Decide> {
    let wish = published(world, c.wish_id)?;
    let claimer = claimer_of(wish, c.wish_id, c.member_id, ctx)?;
    open_claim(wish, c.wish_id, claimer)?;
    require_claimer_or_secretary(world, ctx, claimer, "fulfilling a wish")?;
    let evidence = values::text("evidence", &c.evidence, values::TEXT_NOTE)?;
    // About the person the wish is for: sealed under their key (a wish published for no
    // one named, under its own id's).
    let person = wish.beneficiary.as_ref().map_or(c.wish_id, |b| b.person_id);
    let evidence = personal::private_text(world, person, "evidence", evidence)?;
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
    // Every part fulfilled since the last confirmation is confirmed at once.
    ensure(
        wish.status == WishStatus::Active && !wish.fulfilled.is_empty(),
        Rule::WishNotFulfilled,
        || format!("wish {} has no fulfilled part to confirm", c.wish_id),
    )?;
    Ok(Decision::to(
        streams::wish(c.wish_id),
        wish.fulfilled
            .iter()
            .map(|m| Event::WishConfirmed(WishConfirmed { member_id: *m }))
            .collect(),
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
    let reason = values::text("reason", &c.reason, values::TEXT_REASON)?;
    ensure(wish.status == WishStatus::Active, Rule::WishNotOpen, || {
        format!("wish {} is already confirmed or cancelled", c.wish_id)
    })?;
    ensure(
        wish.fulfilled.is_empty() && wish.confirmed.is_empty(),
        Rule::WishNotOpen,
        || {
            format!(
                "wish {} is already fulfilled in part; confirm what was delivered",
                c.wish_id
            )
        },
    )?;
    let mut decision = Decision::to(
        streams::wish(c.wish_id),
        vec![Event::WishCancelled(WishCancelled { reason })],
    );
    for claimer in wish.claims.keys() {
        decision = close_claim(world, decision, *claimer, c.wish_id)?;
    }
    Ok(decision)
}

pub(crate) fn expire_claim(world: &World, c: &ExpireClaim, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(
        ctx,
        &[Role::System, Role::CommitteeAdmin],
        "expiring a claim",
    )?;
    let wish = published(world, c.wish_id)?;
    ensure(
        wish.status == WishStatus::Active,
        Rule::WishNotClaimed,
        || format!("wish {} is not claimed", c.wish_id),
    )?;
    // The claim named, or every claim on the wish that has run out.
    let due: Vec<(Uuid, Timestamp)> = match c.member_id {
        Some(m) => vec![(m, open_claim(wish, c.wish_id, m)?)],
        None => {
            ensure(!wish.claims.is_empty(), Rule::WishNotClaimed, || {
                format!("wish {} is not claimed", c.wish_id)
            })?;
            wish.claims
                .iter()
                .filter(|(_, at)| **at <= ctx.now)
                .map(|(m, at)| (*m, *at))
                .collect()
        }
    };
    let first = due.iter().map(|(_, at)| *at).min();
    ensure(
        !due.is_empty() && due.iter().all(|(_, at)| *at <= ctx.now),
        Rule::ClaimNotExpired,
        || match first.or_else(|| wish.claims.values().min().copied()) {
            Some(until) => format!("the claim on wish {} runs until {until}", c.wish_id),
            None => format!("wish {} has no claim to expire", c.wish_id),
        },
    )?;
    let mut decision = Decision::to(
        streams::wish(c.wish_id),
        due.iter()
            .map(|(m, _)| Event::WishClaimExpired(WishClaimExpired { member_id: *m }))
            .collect(),
    );
    for (claimer, _) in &due {
        decision = close_claim(world, decision, *claimer, c.wish_id)?;
    }
    Ok(decision)
}
