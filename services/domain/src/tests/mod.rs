//! The rules of the programme, one given / when / then each, allowed and refused, on a
//! small county built through `decide` itself; a refusal must leave the world unchanged.
//! One module per aggregate; the helpers that build its commands are here.

use crate::Command as C;
use crate::command::*;
use crate::error::{DomainError, Rule};
use crate::event::{self as ev, Event};
use crate::testing::*;
use crate::values::*;
use crate::{Principal, personal, wish};
use allweather_events::Timestamp;
use chrono::Days;
use uuid::Uuid;

fn hours(member_id: Uuid, on: &str, h: f64, activity: &str) -> C {
    C::LogServiceHours(LogServiceHours {
        record_id: None,
        member_id,
        date: date(on),
        hours: h,
        category: Category::CommunityService,
        activity: activity.into(),
        channel: None,
        campaign_id: None,
        start_time: None,
        organising_branch_id: None,
    })
}

/// What [`hours`] logs (community service), as `channel`, entered by `by`: the entry, and
/// its booking on the member-day under the record the decision made (the activity as the
/// duplicate check compares it).
fn logged(
    member: Uuid,
    on: &str,
    minutes: u32,
    activity: &str,
    channel: Channel,
    by: Option<Uuid>,
) -> impl FnOnce(&crate::Decision) -> Vec<Event> {
    let (date, activity) = (date(on), activity.to_owned());
    move |d| {
        vec![
            Event::ServiceHoursLogged(ev::ServiceHoursLogged {
                member_id: member,
                date,
                minutes,
                category: Category::CommunityService,
                activity: activity.clone(),
                channel,
                campaign_id: None,
                start_time: None,
                organising_branch_id: None,
                entered_by_member_id: by,
            }),
            Event::ServiceDayBooked(ev::ServiceDayBooked {
                record_id: record_of(d),
                minutes,
                activity: crate::service::normalise(&activity),
            }),
        ]
    }
}

fn record_of(d: &crate::Decision) -> Uuid {
    d.id().parse().expect("record id")
}

mod accounts;
mod branches;
mod cards;
mod households;
mod members;
mod service_hours;
mod the_year;
mod wishes;

fn card(s: &mut Scene, m: Uuid) {
    s.ok(
        admin(),
        C::IssueDualCard(IssueDualCard {
            member_id: Some(m),
            year: year(2026),
            all_members: None,
        }),
    );
}

fn sign(m: Uuid, side: Side, opinion: Rating) -> C {
    C::SignDualCard(SignDualCard {
        member_id: m,
        year: year(2026),
        side,
        opinion,
        remarks: "active in the community".into(),
    })
}

/// The card of `m` for 2026 issued, as the scene's branches make it.
fn issued(s: &Scene, m: Uuid) -> Event {
    Event::DualCardIssued(ev::DualCardIssued {
        member_id: m,
        year: 2026,
        unit_branch_id: s.unit,
        service_branch_id: s.service,
    })
}

/// A side signed as [`sign`] signs it, by `signer` in `capacity`.
fn signed(side: Side, opinion: Rating, signer: Option<Uuid>, capacity: Capacity) -> Event {
    Event::DualCardSigned(ev::DualCardSigned {
        side,
        opinion,
        remarks: "active in the community".into(),
        signer_id: signer,
        capacity,
    })
}

/// What a claim of `w` by `m` at the scene's now emits: the claim, running the rules' 72
/// hours, and the member's ledger entry.
fn claimed(s: &Scene, w: Uuid, m: Uuid) -> [Event; 2] {
    let expires_at = Timestamp::from_micros(s.now.as_micros() + 72 * 3_600_000_000);
    [
        Event::WishClaimed(ev::WishClaimed {
            member_id: m,
            expires_at,
        }),
        Event::ClaimOpened(ev::ClaimOpened { wish_id: w }),
    ]
}

/// What `m`'s fulfilment of `w` with `evidence` emits.
fn fulfilled(w: Uuid, m: Uuid, evidence: &str) -> [Event; 2] {
    [
        Event::WishFulfilled(ev::WishFulfilled {
            member_id: m,
            evidence: evidence.into(),
        }),
        Event::ClaimClosed(ev::ClaimClosed { wish_id: w }),
    ]
}

fn feedback(m: Uuid, quarter: u32) -> C {
    C::RecordCommunityFeedback(RecordCommunityFeedback {
        member_id: m,
        year: year(2026),
        quarter,
        note: "helps neighbours".into(),
    })
}

fn wish(s: &mut Scene) -> Uuid {
    let id = s.id();
    let deadline = Timestamp::parse("2026-07-01T00:00:00Z").expect("deadline");
    s.ok(
        centre(),
        C::PublishWish(PublishWish {
            wish_id: Some(id),
            origin: WishOrigin::MicroWish,
            title: "A school bag".into(),
            beneficiary: "Wang, 9".into(),
            beneficiary_contact: None,
            beneficiary_id: None,
            category: Category::Festival,
            deadline,
            volunteers: None,
        }),
    );
    id
}

fn claim(wish_id: Uuid, m: Uuid) -> C {
    C::ClaimWish(ClaimWish {
        wish_id,
        member_id: m,
    })
}

fn publish_for(s: &mut Scene, person: Option<Uuid>) -> Result<Uuid, DomainError> {
    let id = s.id();
    s.when(
        centre(),
        C::PublishWish(PublishWish {
            wish_id: Some(id),
            origin: WishOrigin::MicroWish,
            title: "Rice and oil".into(),
            beneficiary: "Li Guifang".into(),
            beneficiary_contact: Some("Room 3, 12 East Street".into()),
            beneficiary_id: person,
            category: Category::Festival,
            deadline: Timestamp::parse("2026-07-01T00:00:00Z").expect("deadline"),
            volunteers: None,
        }),
    )
    .outcome()
    .map(|_| id)
}

fn erase(person: Uuid) -> C {
    C::EraseBeneficiary(EraseBeneficiary {
        beneficiary_id: person,
        reason: "her request of 20 June".into(),
    })
}

/// What [`erase`] records, on the scene's day.
fn erased() -> Event {
    Event::BeneficiaryErased(ev::BeneficiaryErased {
        reason: "her request of 20 June".into(),
        erased_on: today(),
    })
}

fn close(year: i32, without: &[Uuid]) -> C {
    C::CloseYear(CloseYear {
        year: crate::testing::year(i64::from(year)),
        without_appraisal: (!without.is_empty()).then(|| without.to_vec()),
    })
}

fn deputy(s: &mut Scene, branch: Uuid, joined_on: &str) -> Uuid {
    let d = s.member_of(s.unit, joined_on);
    if branch != s.unit {
        s.assign(d, branch);
    }
    s.ok(
        admin(),
        C::AppointDeputy(AppointDeputy {
            branch_id: branch,
            member_id: d,
        }),
    );
    d
}

fn stars(m: Uuid, n: u32) -> C {
    C::AwardStars(AwardStars {
        member_id: m,
        year: year(2026),
        stars: n,
        reason: "organised the clean-up".into(),
    })
}

fn appraise(m: Uuid, rating: Rating, basis_position: u64) -> C {
    C::RecordAppraisal(RecordAppraisal {
        member_id: m,
        year: year(2026),
        rating,
        basis_position,
        remarks: "democratic appraisal of 20 December".into(),
    })
}

fn need(s: &mut Scene, volunteers: u32, origin: WishOrigin) -> Result<Uuid, DomainError> {
    let id = s.id();
    s.when(
        centre(),
        C::PublishWish(PublishWish {
            wish_id: Some(id),
            origin,
            title: "Carry the veteran's furniture to the new flat".into(),
            beneficiary: "Old Liu".into(),
            beneficiary_contact: None,
            beneficiary_id: None,
            category: Category::CommunityService,
            deadline: Timestamp::parse("2026-07-01T00:00:00Z").expect("deadline"),
            volunteers: Some(volunteers),
        }),
    )
    .outcome()
    .map(|_| id)
}
