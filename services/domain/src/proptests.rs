//! Properties over random command sequences: the state `decide` sees is always what
//! `evolve` makes of the events emitted so far, a refused command emits nothing, and the
//! rules that span streams hold between them: the claims ledger equals the set of wishes
//! each member holds, and no member-day exceeds 24 hours.

use crate::command::*;
use crate::testing::*;
use crate::values::*;
use crate::world::{Aggregate, State, streams};
use crate::{Command as C, Principal};
use allweather_events::Timestamp;
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Op {
    Claim(usize, usize),
    Release(usize, usize),
    Fulfil(usize, usize),
    Expire(usize),
    Wait(u8),
    Log(usize, u8, u8, u8),
    Verify(usize, bool),
    Reject(usize),
    Correct(usize, u8),
    Card(usize),
    Feedback(usize, u32),
    Sign(usize, bool, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..3usize).prop_map(|(w, m)| Op::Claim(w, m)),
        (0..3usize, 0..3usize).prop_map(|(w, m)| Op::Release(w, m)),
        (0..3usize, 0..3usize).prop_map(|(w, m)| Op::Fulfil(w, m)),
        (0..3usize).prop_map(Op::Expire),
        (0..48u8).prop_map(Op::Wait),
        (0..3usize, 0..3u8, 1..26u8, 0..3u8).prop_map(|(m, d, h, a)| Op::Log(m, d, h, a)),
        (0..8usize, any::<bool>()).prop_map(|(r, admin)| Op::Verify(r, admin)),
        (0..8usize).prop_map(Op::Reject),
        (0..8usize, 1..24u8).prop_map(|(r, h)| Op::Correct(r, h)),
        (0..3usize).prop_map(Op::Card),
        (0..3usize, 0..6u32).prop_map(|(m, q)| Op::Feedback(m, q)),
        (0..3usize, any::<bool>(), 0..4u8).prop_map(|(m, s, r)| Op::Sign(m, s, r)),
    ]
}

fn rating(r: u8) -> Rating {
    [
        Rating::Excellent,
        Rating::Qualified,
        Rating::BasicallyQualified,
        Rating::Unqualified,
    ][usize::from(r % 4)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn evolve_over_the_emitted_events_is_the_state_decide_saw(ops in proptest::collection::vec(op(), 1..60)) {
        let mut s = Scene::county();
        let members = [s.a, s.unit_sec, s.service_sec];
        let deadline = Timestamp::parse("2026-12-01T00:00:00Z").expect("deadline");
        let wishes: Vec<_> = (0..3).map(|_| {
            let id = s.id();
            s.ok(centre(), C::PublishWish(PublishWish { wish_id: Some(id), origin: WishOrigin::MicroWish, title: "wish".into(), beneficiary: "someone".into(), beneficiary_contact: None, beneficiary_id: None, category: Category::Festival, deadline, volunteers: None }));
            id
        }).collect();
        let mut records = Vec::new();
        for op in ops {
            let (who, cmd): (Principal, C) = match op {
                Op::Claim(w, m) => (member(members[m]), C::ClaimWish(ClaimWish { wish_id: wishes[w], member_id: members[m] })),
                Op::Release(w, m) => (member(members[m]), C::ReleaseWish(ReleaseWish { wish_id: wishes[w], member_id: members[m] })),
                Op::Fulfil(w, m) => (member(members[m]), C::FulfilWish(FulfilWish { wish_id: wishes[w], evidence: "done".into(), member_id: None })),
                Op::Expire(w) => (system(), C::ExpireClaim(ExpireClaim { wish_id: wishes[w], member_id: None })),
                Op::Wait(h) => {
                    s.now = Timestamp::from_micros(s.now.as_micros() + i64::from(h) * 3_600_000_000);
                    continue;
                }
                Op::Log(m, d, h, a) => (admin(), C::LogServiceHours(LogServiceHours {
                    record_id: None, member_id: members[m], date: today() - chrono::Days::new(u64::from(d)),
                    hours: f64::from(h) / 2.0, category: Category::Cleanup, activity: format!("activity {a}"), channel: None, campaign_id: None, start_time: None, organising_branch_id: None,
                })),
                Op::Verify(r, admin_) => {
                    let Some(&record_id) = records.get(r) else { continue };
                    (if admin_ { admin() } else { secretary(s.service, s.service_sec) }, C::VerifyServiceHours(VerifyServiceHours { record_id }))
                }
                Op::Reject(r) => {
                    let Some(&record_id) = records.get(r) else { continue };
                    (admin(), C::RejectServiceHours(RejectServiceHours { record_id, reason: "no evidence".into() }))
                }
                Op::Correct(r, h) => {
                    let Some(&record_id) = records.get(r) else { continue };
                    (admin(), C::ApplyCorrection(ApplyCorrection { record_id, hours: Some(f64::from(h) / 2.0), date: Some(today() - chrono::Days::new(u64::from(h % 3))), category: None, reason: "fix".into() }))
                }
                Op::Card(m) => (admin(), C::IssueDualCard(IssueDualCard { member_id: Some(members[m]), year: year(2026), all_members: None })),
                Op::Feedback(m, q) => (centre(), C::RecordCommunityFeedback(RecordCommunityFeedback { member_id: members[m], year: year(2026), quarter: q, note: "good".into() })),
                Op::Sign(m, community, r) => {
                    let (side, by) = if community { (Side::Community, (s.service, s.service_sec)) } else { (Side::Unit, (s.unit, s.unit_sec)) };
                    (secretary(by.0, by.1), C::SignDualCard(SignDualCard { member_id: members[m], year: year(2026), side, opinion: rating(r), remarks: "ok".into() }))
                }
            };
            let emitted_before = s.emitted.len();
            match s.when(who, cmd).outcome() {
                Ok(d) => {
                    prop_assert!(d.events().count() > 0);
                    if let Some(crate::Event::ServiceHoursLogged(_)) = d.events().next() {
                        records.push(d.id().parse().expect("record id"));
                    }
                }
                Err(_) => prop_assert_eq!(s.emitted.len(), emitted_before, "a refused command emitted events"),
            }
        }

        // Every stream's state is the fold of the events emitted to it, at their count.
        let mut by_stream: HashMap<_, Vec<_>> = HashMap::new();
        for (stream, event) in &s.emitted {
            by_stream.entry(stream.clone()).or_default().push(event.clone());
        }
        for (stream, snapshot) in s.world.streams() {
            let events = by_stream.get(stream).cloned().unwrap_or_default();
            let mut state = State::empty(stream).expect("domain stream");
            for e in &events {
                state.evolve(e);
            }
            prop_assert_eq!(snapshot.version, events.len() as u64, "version of {}", stream);
            prop_assert_eq!(&snapshot.state, &state, "state of {}", stream);
        }

        // The ledgers agree with the aggregates they guard.
        for m in members {
            let ledger = s.world.snapshot(&streams::claims(m)).and_then(|x| crate::wish::Claims::of(&x.state)).cloned().unwrap_or_default();
            let held: std::collections::BTreeSet<_> = wishes.iter().copied().filter(|w| {
                s.world.snapshot(&streams::wish(*w)).and_then(|x| crate::wish::Wish::of(&x.state))
                    .is_some_and(|wish| wish.claims.contains_key(&m))
            }).collect();
            prop_assert_eq!(ledger.open, held);
        }
        for (stream, snapshot) in s.world.streams() {
            if let Some(day) = crate::service::ServiceDay::of(&snapshot.state) {
                prop_assert!(day.total_except(None) <= crate::service::MAX_DAY_MINUTES, "{} over 24 h", stream);
            }
        }
    }
}
