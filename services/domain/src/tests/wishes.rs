//! Wishes and needs: claims, fulfilment, confirmation, expiry; needs for many volunteers; the beneficiary's sealed details and their erasure.

use super::*;

#[test]
fn of_a_claim_storm_exactly_one_wins_and_the_rest_conflict() {
    let mut s = Scene::county();
    let w = wish(&mut s);
    let claimers: Vec<Uuid> = (0..5).map(|_| s.member_of(s.unit, "2015-01-01")).collect();
    let won = claimed(&s, w, claimers[0]);
    s.when(member(claimers[0]), claim(w, claimers[0]))
        .then_emitted(&won);
    for m in &claimers[1..] {
        s.when(member(*m), claim(w, *m))
            .then_refused(Rule::WishAlreadyClaimed);
    }
}

#[test]
fn a_member_holds_a_bounded_number_of_open_claims() {
    let mut s = Scene::county();
    let wishes: Vec<Uuid> = (0..4).map(|_| wish(&mut s)).collect();
    for w in &wishes[..3] {
        s.ok(member(s.a), claim(*w, s.a));
    }
    s.when(member(s.a), claim(wishes[3], s.a))
        .then_refused(Rule::OpenClaimLimitReached);
    s.ok(
        member(s.a),
        C::FulfilWish(FulfilWish {
            wish_id: wishes[0],
            evidence: "delivered with photo".into(),
            member_id: None,
        }),
    );
    let fourth = claimed(&s, wishes[3], s.a);
    s.when(member(s.a), claim(wishes[3], s.a))
        .then_emitted(&fourth);
}

#[test]
fn only_the_claimer_or_a_secretary_fulfils() {
    let mut s = Scene::county();
    let w = wish(&mut s);
    s.ok(member(s.a), claim(w, s.a));
    let fulfil = C::FulfilWish(FulfilWish {
        wish_id: w,
        evidence: "delivered".into(),
        member_id: None,
    });
    s.when(member(s.unit_sec), fulfil.clone())
        .then_refused(Rule::NotTheClaimer);
    let other = s.branch("Other service branch", "service");
    s.when(secretary(other, Uuid::nil()), fulfil.clone())
        .then_refused(Rule::NotTheBranchSecretary);
    let done = fulfilled(w, s.a, "delivered");
    s.when(secretary(s.service, s.service_sec), fulfil)
        .then_emitted(&done);
}

#[test]
fn a_claim_expires_only_past_the_rules_limit() {
    let mut s = Scene::county();
    let w = wish(&mut s);
    s.ok(member(s.a), claim(w, s.a));
    let expire = C::ExpireClaim(ExpireClaim {
        wish_id: w,
        member_id: None,
    });
    s.when(system(), expire.clone())
        .then_refused(Rule::ClaimNotExpired);
    s.when(member(s.a), expire.clone())
        .then_refused(Rule::RoleNotPermitted);
    s.now = Timestamp::from_micros(s.now.as_micros() + 72 * 3_600_000_000);
    let expired = [
        Event::WishClaimExpired(ev::WishClaimExpired { member_id: s.a }),
        Event::ClaimClosed(ev::ClaimClosed { wish_id: w }),
    ];
    s.when(system(), expire.clone()).then_emitted(&expired);
    s.when(system(), expire).then_refused(Rule::WishNotClaimed);
    let again = claimed(&s, w, s.a);
    s.when(member(s.a), claim(w, s.a)).then_emitted(&again);
}

#[test]
fn a_wish_is_confirmed_by_its_publisher_once_fulfilled() {
    let mut s = Scene::county();
    let w = wish(&mut s);
    let confirm = C::ConfirmWish(ConfirmWish { wish_id: w });
    s.when(centre(), confirm.clone())
        .then_refused(Rule::WishNotFulfilled);
    s.ok(member(s.a), claim(w, s.a));
    s.ok(
        member(s.a),
        C::FulfilWish(FulfilWish {
            wish_id: w,
            evidence: "delivered".into(),
            member_id: None,
        }),
    );
    s.when(member(s.a), confirm.clone())
        .then_refused(Rule::NotThePublisher);
    let confirmed = Event::WishConfirmed(ev::WishConfirmed { member_id: s.a });
    s.when(centre(), confirm).then_emitted(&[confirmed]);
    s.when(member(s.unit_sec), claim(w, s.unit_sec))
        .then_refused(Rule::WishNotOpen);
}

#[test]
fn a_wish_deadline_lies_in_the_future() {
    let mut s = Scene::county();
    let deadline = Timestamp::parse("2026-06-01T00:00:00Z").expect("deadline");
    s.when(
        centre(),
        C::PublishWish(PublishWish {
            wish_id: None,
            origin: WishOrigin::ServiceNeed,
            title: "Repair a roof".into(),
            beneficiary: "Zhao".into(),
            beneficiary_contact: None,
            beneficiary_id: None,
            category: Category::CommunityService,
            deadline,
            volunteers: None,
        }),
    )
    .then_refused(Rule::DeadlinePassed);
}

#[test]
fn a_beneficiary_enters_the_log_sealed_under_their_own_key() {
    let mut s = Scene::county();
    let w = publish_for(&mut s, None).expect("published");
    let Some((_, Event::WishPublished(e))) = s.emitted.last() else {
        panic!("no WishPublished");
    };
    let stored = serde_json::to_string(&e.beneficiary).expect("json");
    assert!(
        !stored.contains("Li Guifang") && !stored.contains("East Street"),
        "{stored}"
    );
    // A beneficiary not named by id is a person of their own, with the wish's id.
    assert_eq!(e.beneficiary.person_id, w);
    let key = s.keys[&w].expect("a live key");
    let details = personal::open(&e.beneficiary, &key).expect("opens");
    assert_eq!(details.name, "Li Guifang");
    assert_eq!(details.contact.as_deref(), Some("Room 3, 12 East Street"));
}

#[test]
fn erasing_destroys_the_key_records_the_act_and_happens_once() {
    let mut s = Scene::county();
    let person = s.id();
    publish_for(&mut s, Some(person)).expect("published");
    publish_for(&mut s, Some(person)).expect("a second wish for the same person");
    s.when(centre(), erase(person))
        .then_refused(Rule::RoleNotPermitted);
    s.when(admin(), erase(s.a))
        .then_refused(Rule::BeneficiaryNotFound);
    let d = s.when(admin(), erase(person)).then_emitted(&[erased()]);
    assert_eq!(d.erase_keys, vec![person]);
    assert_eq!(s.keys[&person], None, "the key is gone");
    s.when(admin(), erase(person))
        .then_refused(Rule::AlreadyErased);
    assert_eq!(
        publish_for(&mut s, Some(person)).map_err(|e| e.rule),
        Err(Rule::BeneficiaryErased)
    );
}

#[test]
fn an_erasure_whose_key_went_but_whose_record_did_not_can_be_finished() {
    let mut s = Scene::county();
    let person = s.id();
    publish_for(&mut s, Some(person)).expect("published");
    // The key was destroyed, then the process died before the event was appended.
    s.keys.insert(person, None);
    s.when(admin(), erase(person)).then_emitted(&[erased()]);
}

#[test]
fn a_publish_that_found_the_key_before_an_erasure_committed_is_refused_by_the_record() {
    let mut s = Scene::county();
    let person = s.id();
    publish_for(&mut s, Some(person)).expect("published");
    let key = s.keys[&person];
    s.ok(admin(), erase(person));
    // The publish loaded the key before the erasure destroyed it; the recorded erasure
    // (a condition of its append) still refuses it.
    s.keys.insert(person, key);
    assert_eq!(
        publish_for(&mut s, Some(person)).map_err(|e| e.rule),
        Err(Rule::BeneficiaryErased)
    );
}

#[test]
fn a_beneficiary_is_disclosed_to_those_who_deliver_and_no_one_else() {
    let mut s = Scene::county();
    let w = publish_for(&mut s, None).expect("published");
    let b = s.member_of(s.unit, "2015-01-01");
    let other_unit = s.branch("Tax Bureau branch", "unit");
    let other_sec = s.member_of(other_unit, "2012-01-01");
    s.ok(
        admin(),
        C::AppointSecretary(AppointSecretary {
            branch_id: other_unit,
            member_id: other_sec,
        }),
    );
    let ask = |s: &mut Scene, who: Principal| {
        let ctx = s.ctx(who);
        s.resolve(|world| wish::beneficiary(world, w, &ctx))
            .map(|sealed| sealed.person_id)
            .map_err(|e| e.rule)
    };
    let (a, b) = (member(s.a), member(b));
    let (service_sec, unit_sec) = (
        secretary(s.service, s.service_sec),
        secretary(s.unit, s.unit_sec),
    );
    let not = Err(Rule::NotEntitledToPersonalData);
    assert_eq!(
        ask(&mut s, centre()),
        Ok(w),
        "the service centre (the publisher)"
    );
    assert_eq!(ask(&mut s, a.clone()), not, "open: no claimer yet");
    assert_eq!(ask(&mut s, auditor()), not);
    s.ok(a.clone(), claim(w, s.a));
    assert_eq!(ask(&mut s, a), Ok(w), "the claimer");
    assert_eq!(ask(&mut s, b), not, "another member");
    assert_eq!(
        ask(&mut s, service_sec),
        Ok(w),
        "the claimer's service branch"
    );
    assert_eq!(ask(&mut s, unit_sec), Ok(w), "the claimer's unit branch");
    assert_eq!(
        ask(&mut s, secretary(other_unit, other_sec)),
        not,
        "a secretary of another branch"
    );
    assert_eq!(
        ask(&mut s, admin()),
        not,
        "a committee admin who did not publish it"
    );
}

#[test]
fn a_second_fulfilment_or_confirmation_is_a_conflict() {
    let mut s = Scene::county();
    let w = wish(&mut s);
    s.ok(member(s.a), claim(w, s.a));
    let fulfil = C::FulfilWish(FulfilWish {
        wish_id: w,
        evidence: "delivered".into(),
        member_id: None,
    });
    s.ok(member(s.a), fulfil.clone());
    let e = s
        .when(member(s.a), fulfil)
        .then_refused(Rule::WishNotClaimed);
    assert_eq!(e.rule.refusal(), crate::Refusal::Conflict);
    s.ok(centre(), C::ConfirmWish(ConfirmWish { wish_id: w }));
    let e = s
        .when(centre(), C::ConfirmWish(ConfirmWish { wish_id: w }))
        .then_refused(Rule::WishNotFulfilled);
    assert_eq!(e.rule.refusal(), crate::Refusal::Conflict);
}

#[test]
fn a_micro_wish_takes_one_claimer_and_a_need_as_many_as_it_asks_for() {
    let mut s = Scene::county();
    for (volunteers, origin) in [
        (2, WishOrigin::MicroWish),
        (0, WishOrigin::ServiceNeed),
        (501, WishOrigin::ServiceNeed),
    ] {
        let e = need(&mut s, volunteers, origin).expect_err("refused");
        assert_eq!(
            (e.rule, e.field),
            (Rule::OutOfRange, Some("volunteers")),
            "{volunteers} for {origin:?}"
        );
    }
    let w = need(&mut s, 2, WishOrigin::ServiceNeed).expect("published");
    let (b, c) = (
        s.member_of(s.unit, "2012-01-01"),
        s.member_of(s.unit, "2013-01-01"),
    );
    let (by_a, by_b, by_c) = (claimed(&s, w, s.a), claimed(&s, w, b), claimed(&s, w, c));
    s.when(member(s.a), claim(w, s.a)).then_emitted(&by_a);
    s.when(member(s.a), claim(w, s.a))
        .then_refused(Rule::WishAlreadyClaimed);
    s.when(member(b), claim(w, b)).then_emitted(&by_b);
    let e = s
        .when(member(c), claim(w, c))
        .then_refused(Rule::WishAlreadyClaimed);
    assert!(e.detail.contains("all 2 places"), "{e}");
    // A place given back is a place to take.
    s.ok(
        member(b),
        C::ReleaseWish(ReleaseWish {
            wish_id: w,
            member_id: b,
        }),
    );
    s.when(member(c), claim(w, c)).then_emitted(&by_c);
}

#[test]
fn each_volunteer_fulfils_their_part_and_the_publisher_confirms_what_was_delivered() {
    let mut s = Scene::county();
    let w = need(&mut s, 2, WishOrigin::ServiceNeed).expect("published");
    let b = s.member_of(s.unit, "2012-01-01");
    s.ok(member(s.a), claim(w, s.a));
    s.ok(member(b), claim(w, b));
    let fulfil = |m: Option<Uuid>| {
        C::FulfilWish(FulfilWish {
            wish_id: w,
            evidence: "carried, photo kept".into(),
            member_id: m,
        })
    };
    // A secretary acting for a claimer of a need with several names the claimer.
    let e = s
        .when(secretary(s.unit, s.unit_sec), fulfil(None))
        .then_refused(Rule::WishNotClaimed);
    assert_eq!(e.field, Some("member_id"));
    let by_a = fulfilled(w, s.a, "carried, photo kept");
    s.when(member(s.a), fulfil(None)).then_emitted(&by_a);
    s.when(
        centre(),
        C::CancelWish(CancelWish {
            wish_id: w,
            reason: "no longer needed".into(),
        }),
    )
    .then_refused(Rule::WishNotOpen);
    let confirm = C::ConfirmWish(ConfirmWish { wish_id: w });
    let confirmed = |member_id| Event::WishConfirmed(ev::WishConfirmed { member_id });
    let by_a = confirmed(s.a);
    s.when(centre(), confirm.clone()).then_emitted(&[by_a]);
    s.when(centre(), confirm.clone())
        .then_refused(Rule::WishNotFulfilled);
    s.when(secretary(s.unit, s.unit_sec), fulfil(Some(b)))
        .then_emitted(&fulfilled(w, b, "carried, photo kept"));
    s.when(centre(), confirm).then_emitted(&[confirmed(b)]);
    use crate::world::Aggregate as _;
    let done = crate::wish::Wish::of(
        &s.world
            .snapshot(&crate::world::streams::wish(w))
            .expect("loaded")
            .state,
    )
    .map(|x| x.status);
    assert_eq!(done, Some(crate::wish::WishStatus::Confirmed));
}

#[test]
fn the_scheduler_expires_every_claim_on_a_need_that_has_run_out() {
    let mut s = Scene::county();
    let w = need(&mut s, 3, WishOrigin::ServiceNeed).expect("published");
    let b = s.member_of(s.unit, "2012-01-01");
    s.ok(member(s.a), claim(w, s.a));
    s.ok(member(b), claim(w, b));
    let expire = C::ExpireClaim(ExpireClaim {
        wish_id: w,
        member_id: None,
    });
    s.when(system(), expire.clone())
        .then_refused(Rule::ClaimNotExpired);
    s.now = Timestamp::from_micros(s.now.as_micros() + 73 * 3_600_000_000);
    let expired = |member_id| Event::WishClaimExpired(ev::WishClaimExpired { member_id });
    let closed = Event::ClaimClosed(ev::ClaimClosed { wish_id: w });
    let all = [expired(s.a), expired(b), closed.clone(), closed];
    s.when(system(), expire).then_emitted(&all);
}

#[test]
fn a_member_gives_back_a_bounded_number_of_claims_a_day() {
    let mut s = Scene::county();
    let max_open = 3;
    let release = |w: Uuid, m: Uuid| {
        C::ReleaseWish(ReleaseWish {
            wish_id: w,
            member_id: m,
        })
    };
    // The 2026 rules allow three releases a day.
    for _ in 0..max_open {
        let w = wish(&mut s);
        s.ok(member(s.a), claim(w, s.a));
        let released = [
            Event::WishReleased(ev::WishReleased { member_id: s.a }),
            Event::ClaimReleased(ev::ClaimReleased {
                wish_id: w,
                released_on: s.today,
            }),
        ];
        s.when(member(s.a), release(w, s.a)).then_emitted(&released);
    }
    let w = wish(&mut s);
    s.ok(member(s.a), claim(w, s.a));
    let refused = s
        .when(member(s.a), release(w, s.a))
        .then_refused(Rule::ReleaseLimitReached);
    assert!(
        refused.detail.contains("3 claims today"),
        "{}",
        refused.detail
    );
    // Nor on the member's behalf; the next day the count starts again.
    s.when(secretary(s.service, s.service_sec), release(w, s.a))
        .then_refused(Rule::ReleaseLimitReached);
    s.today = s.today.succ_opt().expect("a next day");
    s.ok(member(s.a), release(w, s.a));
}

#[test]
fn showing_a_beneficiary_is_recorded_on_their_stream_without_their_details() {
    let mut s = Scene::county();
    let w = publish_for(&mut s, None).expect("published");
    let disclose = C::DiscloseBeneficiary(DiscloseBeneficiary { wish_id: w });
    s.when(member(s.a), disclose.clone())
        .then_refused(Rule::NotEntitledToPersonalData);
    s.ok(member(s.a), claim(w, s.a));
    let d = s.ok(member(s.a), disclose);
    let (stream, events) = d.writes.first().expect("one stream");
    assert_eq!(stream.as_str(), format!("beneficiary-{w}"));
    assert_eq!(
        events,
        &[Event::BeneficiaryDisclosed(ev::BeneficiaryDisclosed {
            wish_id: w,
            member_id: Some(s.a),
            disclosed_on: s.today,
        })]
    );
}

#[test]
fn fulfilment_evidence_is_sealed_under_the_beneficiarys_key() {
    let mut s = Scene::county();
    let w = publish_for(&mut s, None).expect("published");
    s.ok(member(s.a), claim(w, s.a));
    let d = s.ok(
        member(s.a),
        C::FulfilWish(FulfilWish {
            wish_id: w,
            evidence: "handed Grandma Zhao a coat".into(),
            member_id: None,
        }),
    );
    let stored = serde_json::to_string(&d.writes).expect("json");
    assert!(
        !stored.contains("Zhao"),
        "clear text in the event: {stored}"
    );
    let Some(Event::WishFulfilled(e)) = d.events().next() else {
        panic!("WishFulfilled")
    };
    let personal::Private::Sealed(sealed) = &e.evidence else {
        panic!("sealed: {:?}", e.evidence)
    };
    assert_eq!(
        sealed.person_id, w,
        "the beneficiary's key (the wish's id by default)"
    );
    let key = s.keys[&w].expect("a live key");
    assert_eq!(
        personal::open_text(sealed, &key).as_deref(),
        Ok("handed Grandma Zhao a coat")
    );
}
