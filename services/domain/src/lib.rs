//! # allweather-domain
//!
//! The programme's rules, as pure functions. A command is decided against the state of
//! the streams it concerns and either becomes events or is refused with the rule it
//! breaks; an event evolves a state and can never fail. Nothing here does I/O, reads a
//! clock or draws a random number: the time, the county's date, the new id and the
//! principal acting come in through [`Ctx`], and the states through a [`World`].
//!
//! A command may need the state of more than one stream (is the signer the secretary of
//! *this* member's service branch?). [`decide`] asks for what it needs: when a stream it
//! reads is not in the [`World`] it answers [`Decide::Need`], the handler loads that
//! stream and decides again. Rules that span aggregates are kept exact by writing to
//! small ledger streams in the same atomic append (a member-day's hours, a member's open
//! claims), each at the version it was decided against. A beneficiary's details are
//! sealed with a key the handler brings the same way ([`Decide::NeedKey`]).
//!
//! ## Streams
//! Each aggregate is a module with its state, an `apply` (evolve: folds an event in, holds
//! no rules, cannot fail) and the decide functions of its commands:
//! - `branch-{id}` ([`branch`]), `member-{id}` ([`member`]), `campaign-{id}`
//!   ([`campaign`]), `household-{id}` ([`household`]), `wish-{id}` ([`wish`]),
//!   `servicerecord-{id}` ([`service`]), `dualcard-{member}-{year}` ([`dualcard`]),
//!   `appraisal-{member}-{year}` ([`appraisal`]), `rules-{year}` ([`year`]), and
//!   `beneficiary-{person}` ([`personal`]: a person in need and their erasure);
//! - the ledgers `serviceday-{member}-{date}` ([`service`]) and `claims-{member}`
//!   ([`wish`]), written in the same append as the record or the claim.
//!
//! ## Layout
//! - [`ctx`]: the principal and the context a command is decided in.
//! - [`error`]: [`DomainError`], the broken [`Rule`] and how it is refused.
//! - [`values`]: the programme's vocabularies (categories, ratings, …) and text checks.
//! - [`rules`]: the year's rules as data, parsed from TOML and validated.
//! - [`command`]: every command's body, parsed from JSON by name, and who may issue it.
//! - [`event`]: every event, and its stored name and payload.
//! - [`world`]: stream ids, states, [`World`], [`Decision`].
//! - [`permissions`]: who may act, in one place.
//! - one module per aggregate: [`branch`], [`member`], [`dualcard`], [`appraisal`],
//!   [`wish`] (with the member's open-claims ledger), [`service`] (service records and the
//!   member-day ledger), [`household`], [`campaign`], [`year`] (the year's rules and its
//!   closing), [`account`] (who was given a way into the platform, in which role).
//! - [`personal`]: a beneficiary's details, sealed under their own key, and erasure.
//! - [`upcast`]: what lifts payloads earlier releases stored to today's schema versions.
//!
//! The programme's people rate members (the card's two opinions, the unit branch's
//! appraisal); the domain records those decisions with who made them and in which
//! capacity, and never derives a rating of its own.
#![deny(missing_docs)]

pub mod account;
pub mod appraisal;
pub mod branch;
pub mod campaign;
pub mod command;
pub mod ctx;
pub mod dualcard;
pub mod error;
pub mod event;
pub mod household;
pub mod member;
pub mod permissions;
pub mod personal;
pub mod rules;
pub mod service;
pub mod upcast;
pub mod values;
pub mod wish;
pub mod world;
pub mod year;

#[cfg(test)]
mod testing;

pub use command::Command;
pub use ctx::{Ctx, Principal};
pub use error::{Decide, DomainError, Refusal, Rule};
pub use event::Event;
pub use world::{Decision, Snapshot, State, World};

/// Decides `command` against `world` in `ctx`: the events to append, per stream, or the
/// rule that refuses it, or the stream that must be loaded first.
pub fn decide(world: &World, command: &Command, ctx: &Ctx) -> Result<Decision, Decide> {
    permissions::refuse_read_only(ctx)?;
    use Command as C;
    match command {
        C::RegisterBranch(c) => branch::register(world, c, ctx),
        C::AppointSecretary(c) => branch::appoint_secretary(world, c, ctx),
        C::VacateSecretary(c) => branch::vacate_secretary(world, c, ctx),
        C::AppointDeputy(c) => branch::appoint_deputy(world, c, ctx),
        C::RecordBranchMeeting(c) => branch::record_meeting(world, c, ctx, false),
        C::RecordBranchActivity(c) => {
            let c = command::RecordBranchMeeting {
                branch_id: c.branch_id,
                date: c.date,
                topic: c.topic.clone(),
                attendees: c.attendees.clone(),
            };
            branch::record_meeting(world, &c, ctx, true)
        }
        C::RecordQuizResult(c) => branch::record_quiz(world, c, ctx),
        C::DesignateDemonstrationSite(c) => branch::designate_site(world, c, ctx),
        C::RegisterMember(c) => member::register(world, c, ctx),
        C::AssignServiceBranch(c) => member::assign_service_branch(world, c, ctx),
        C::TransferMember(c) => member::transfer(world, c, ctx),
        C::MemberLeft(c) => member::leave(world, c, ctx),
        C::DisplayHouseholdPlaque(c) => member::display_plaque(world, c, ctx),
        C::ObserveAnniversary(c) => member::observe_anniversary(world, c, ctx),
        C::IssueDualCard(c) => dualcard::issue(world, c, ctx),
        C::RecordCommunityFeedback(c) => dualcard::record_feedback(world, c, ctx),
        C::AwardStars(c) => dualcard::award_stars(world, c, ctx),
        C::SignDualCard(c) => dualcard::sign(world, c, ctx),
        C::RecordAppraisal(c) => appraisal::record(world, c, ctx),
        C::ConfirmAppraisal(c) => appraisal::confirm(world, c, ctx),
        C::OverturnAppraisal(c) => appraisal::overturn(world, c, ctx),
        C::PublishWish(c) => wish::publish(world, c, ctx),
        C::ClaimWish(c) => wish::claim(world, c, ctx),
        C::ReleaseWish(c) => wish::release(world, c, ctx),
        C::FulfilWish(c) => wish::fulfil(world, c, ctx),
        C::ConfirmWish(c) => wish::confirm(world, c, ctx),
        C::CancelWish(c) => wish::cancel(world, c, ctx),
        C::ExpireClaim(c) => wish::expire_claim(world, c, ctx),
        C::LogServiceHours(c) => service::log_hours(world, c, ctx),
        C::VerifyServiceHours(c) => service::verify(world, c, ctx),
        C::RejectServiceHours(c) => service::reject(world, c, ctx),
        C::RequestCorrection(c) => service::request_correction(world, c, ctx),
        C::ApplyCorrection(c) => service::apply_correction(world, c, ctx),
        C::RegisterHousehold(c) => household::register(world, c, ctx),
        C::PairHousehold(c) => household::pair(world, c, ctx),
        C::RecordVisit(c) => household::record_visit(world, c, ctx),
        C::RaiseConcern(c) => household::raise_concern(world, c, ctx),
        C::ResolveConcern(c) => household::resolve_concern(world, c, ctx),
        C::LaunchCampaign(c) => campaign::launch(world, c, ctx),
        C::CloseCampaign(c) => campaign::close(world, c, ctx),
        C::AdoptRules(c) => year::adopt_rules(world, c, ctx),
        C::CloseYear(c) => year::close_year(world, c, ctx),
        C::EraseBeneficiary(c) => personal::erase(world, c, ctx),
        C::DiscloseBeneficiary(c) => wish::disclose(world, c, ctx),
        C::InviteAccount(c) => account::invite(world, c, ctx),
        C::DisableAccount(c) => account::disable(world, c, ctx),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
