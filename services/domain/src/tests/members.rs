//! Members: registration, service branches, anniversaries, acting for oneself, and a member's life cycle (transfer, leaving).

use super::*;

#[test]
fn a_member_is_registered_by_the_unit_branch_secretary_into_a_unit_branch() {
    let mut s = Scene::county();
    let register = |b| {
        C::RegisterMember(RegisterMember {
            member_id: None,
            name: "Li Hua".into(),
            unit_branch_id: b,
            joined_on: date("2012-07-01"),
            cadre: Some(true),
        })
    };
    s.when(secretary(s.unit, s.unit_sec), register(s.service))
        .then_refused(Rule::NotTheBranchSecretary);
    s.when(secretary(s.service, s.service_sec), register(s.service))
        .then_refused(Rule::WrongBranchKind);
    let registered = Event::MemberRegistered(ev::MemberRegistered {
        name: "Li Hua".into(),
        unit_branch_id: s.unit,
        joined_on: date("2012-07-01"),
        cadre: true,
    });
    s.when(secretary(s.unit, s.unit_sec), register(s.unit))
        .then_emitted(&[registered]);
}

#[test]
fn a_service_branch_is_of_kind_service_or_temporary() {
    let mut s = Scene::county();
    let temporary = s.branch("Reservoir temporary branch", "temporary");
    s.when(
        admin(),
        C::AssignServiceBranch(AssignServiceBranch {
            member_id: s.unit_sec,
            service_branch_id: s.unit,
        }),
    )
    .then_refused(Rule::WrongBranchKind);
    s.when(
        admin(),
        C::AssignServiceBranch(AssignServiceBranch {
            member_id: s.unit_sec,
            service_branch_id: temporary,
        }),
    )
    .then_emitted(&[Event::ServiceBranchAssigned(ev::ServiceBranchAssigned {
        service_branch_id: temporary,
    })]);
}

#[test]
fn the_anniversary_is_observed_only_in_the_joining_month() {
    let mut s = Scene::county();
    let observe = |m| {
        C::ObserveAnniversary(ObserveAnniversary {
            member_id: m,
            year: year(2026),
            reflection: "十六年来，我始终牢记入党誓词，服务社区群众，今后继续努力。".into(),
        })
    };
    // unit_sec joined in March: June is not the month.
    s.when(member(s.unit_sec), observe(s.unit_sec))
        .then_refused(Rule::AnniversaryOutsideJoiningMonth);
    let observed = Event::AnniversaryObserved(ev::AnniversaryObserved {
        year: 2026,
        reflection: "十六年来，我始终牢记入党誓词，服务社区群众，今后继续努力。".into(),
    });
    s.when(member(s.a), observe(s.a)).then_emitted(&[observed]);
}

#[test]
fn the_anniversary_is_observed_once_a_year() {
    let mut s = Scene::county();
    let observe = C::ObserveAnniversary(ObserveAnniversary {
        member_id: s.a,
        year: year(2026),
        reflection: "I renewed my oath and visited two families in need this month.".into(),
    });
    let observed = Event::AnniversaryObserved(ev::AnniversaryObserved {
        year: 2026,
        reflection: "I renewed my oath and visited two families in need this month.".into(),
    });
    s.when(member(s.a), observe.clone())
        .then_emitted(&[observed]);
    s.when(member(s.a), observe)
        .then_refused(Rule::AnniversaryAlreadyObserved);
}

#[test]
fn the_anniversary_needs_a_real_reflection() {
    let mut s = Scene::county();
    let a = s.a;
    let observe = move |r: &str| {
        C::ObserveAnniversary(ObserveAnniversary {
            member_id: a,
            year: year(2026),
            reflection: r.into(),
        })
    };
    s.when(member(s.a), observe("ok"))
        .then_refused(Rule::ReflectionTooShort);
    s.when(member(s.a), observe("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
        .then_refused(Rule::ReflectionTooShort);
    s.when(member(s.a), observe("   "))
        .then_refused(Rule::TextInvalid);
}

#[test]
fn a_member_acts_only_for_themself() {
    let mut s = Scene::county();
    let observe = C::ObserveAnniversary(ObserveAnniversary {
        member_id: s.a,
        year: year(2026),
        reflection: "I renewed my oath and visited two families in need this month.".into(),
    });
    s.when(member(s.unit_sec), observe)
        .then_refused(Rule::NotTheMember);
    s.when(
        member(s.unit_sec),
        C::ClaimWish(ClaimWish {
            wish_id: Uuid::nil(),
            member_id: s.a,
        }),
    )
    .then_refused(Rule::NotTheMember);
}

#[test]
fn auditors_issue_no_commands() {
    let mut s = Scene::county();
    s.when(
        auditor(),
        C::CloseYear(CloseYear {
            year: year(2026),
            without_appraisal: None,
        }),
    )
    .then_refused(Rule::RoleNotPermitted);
}

#[test]
fn a_secretary_takes_in_only_members_without_a_service_branch() {
    let mut s = Scene::county();
    let other = s.branch("West Street service branch", "service");
    let other_sec = s.member_of(s.unit, "2005-05-05");
    s.assign(other_sec, other);
    s.ok(
        admin(),
        C::AppointSecretary(AppointSecretary {
            branch_id: other,
            member_id: other_sec,
        }),
    );
    let take = |m| {
        C::AssignServiceBranch(AssignServiceBranch {
            member_id: m,
            service_branch_id: other,
        })
    };
    s.when(secretary(other, other_sec), take(s.a))
        .then_refused(Rule::RoleNotPermitted);
    let newcomer = s.member_of(s.unit, "2019-01-01");
    let assigned = Event::ServiceBranchAssigned(ev::ServiceBranchAssigned {
        service_branch_id: other,
    });
    s.when(secretary(other, other_sec), take(newcomer))
        .then_emitted(std::slice::from_ref(&assigned));
    s.when(centre(), take(s.a)).then_emitted(&[assigned]);
}

#[test]
fn a_transfer_moves_the_member_to_another_unit_branch_and_frees_the_posts_they_held() {
    let mut s = Scene::county();
    let other = s.branch("Finance Bureau branch", "unit");
    let transfer = |m: Uuid, to: Uuid| {
        C::TransferMember(TransferMember {
            member_id: m,
            unit_branch_id: to,
            on: date("2026-06-01"),
        })
    };
    s.when(secretary(s.unit, s.unit_sec), transfer(s.a, other))
        .then_refused(Rule::RoleNotPermitted);
    s.when(admin(), transfer(s.a, s.service))
        .then_refused(Rule::WrongBranchKind);
    s.when(admin(), transfer(s.a, s.unit))
        .then_refused(Rule::NothingChanges);
    // The unit secretary moves: their post in the old branch falls vacant in the same append.
    let moved = [
        Event::MemberTransferred(ev::MemberTransferred {
            from_unit_branch_id: s.unit,
            unit_branch_id: other,
            on: date("2026-06-01"),
        }),
        Event::SecretaryVacated(ev::SecretaryVacated {
            member_id: s.unit_sec,
        }),
    ];
    let d = s
        .when(admin(), transfer(s.unit_sec, other))
        .then_emitted(&moved);
    assert_eq!(d.writes[1].0, crate::world::streams::branch(s.unit));
    // The member's card is now signed on the unit side by the new branch.
    let a = s.a;
    card(&mut s, a);
    s.ok(admin(), transfer(a, other));
    let new_sec = s.member_of(other, "2004-04-04");
    s.ok(
        admin(),
        C::AppointSecretary(AppointSecretary {
            branch_id: other,
            member_id: new_sec,
        }),
    );
    s.when(
        secretary(other, new_sec),
        sign(a, Side::Unit, Rating::Qualified),
    )
    .then_emitted(&[signed(
        Side::Unit,
        Rating::Qualified,
        Some(new_sec),
        Capacity::Secretary,
    )]);
}

#[test]
fn a_member_who_left_takes_no_new_facts_and_their_claims_go_back_to_the_board() {
    let mut s = Scene::county();
    let w = wish(&mut s);
    s.ok(member(s.a), claim(w, s.a));
    let pending = record_of(&s.ok(member(s.a), hours(s.a, "2026-06-10", 2.0, "visit")));
    let left = C::MemberLeft(MemberLeft {
        member_id: s.a,
        reason: LeaveReason::Retired,
        on: date("2026-06-12"),
    });
    s.when(secretary(s.service, s.service_sec), left.clone())
        .then_refused(Rule::NotTheBranchSecretary);
    let departed = [
        Event::MemberDeparted(ev::MemberDeparted {
            reason: LeaveReason::Retired,
            on: date("2026-06-12"),
        }),
        Event::WishReleased(ev::WishReleased { member_id: s.a }),
        Event::ClaimClosed(ev::ClaimClosed { wish_id: w }),
    ];
    s.when(secretary(s.unit, s.unit_sec), left.clone())
        .then_emitted(&departed);
    s.when(admin(), left).then_refused(Rule::MemberHasLeft);
    // No new facts…
    s.when(member(s.a), hours(s.a, "2026-06-11", 1.0, "walk"))
        .then_refused(Rule::MemberHasLeft);
    s.when(
        admin(),
        C::IssueDualCard(IssueDualCard {
            member_id: Some(s.a),
            year: year(2026),
            all_members: None,
        }),
    )
    .then_refused(Rule::MemberHasLeft);
    // …but what they entered before is still decided, and the wish is free again.
    let verified = Event::ServiceHoursVerified(ev::ServiceHoursVerified {
        verifier: s.service_sec.to_string(),
        verifier_member_id: Some(s.service_sec),
    });
    s.when(
        secretary(s.service, s.service_sec),
        C::VerifyServiceHours(VerifyServiceHours { record_id: pending }),
    )
    .then_emitted(&[verified]);
    let b = s.member_of(s.unit, "2012-01-01");
    let again = claimed(&s, w, b);
    s.when(member(b), claim(w, b)).then_emitted(&again);
}

#[test]
fn a_secretary_who_leaves_leaves_the_post_vacant_and_is_not_due_an_appraisal() {
    let mut s = Scene::county();
    let departed = [
        Event::MemberDeparted(ev::MemberDeparted {
            reason: LeaveReason::TransferredOut,
            on: date("2026-03-01"),
        }),
        Event::SecretaryVacated(ev::SecretaryVacated {
            member_id: s.service_sec,
        }),
    ];
    s.when(
        admin(),
        C::MemberLeft(MemberLeft {
            member_id: s.service_sec,
            reason: LeaveReason::TransferredOut,
            on: date("2026-03-01"),
        }),
    )
    .then_emitted(&departed);
    // The county closes 2026 in January: those who left in 2026 are not due an appraisal.
    s.now = Timestamp::parse("2027-01-10T02:00:00Z").expect("now");
    s.today = date("2027-01-10");
    let e = s
        .when(admin(), close(2026, &[s.unit_sec, s.a, s.service_sec]))
        .then_refused(Rule::MembersWithoutAppraisal);
    assert!(e.detail.contains("not due one"), "{e}");
    let closed = Event::YearClosed(ev::YearClosed {
        year: 2026,
        without_appraisal: Some(vec![s.unit_sec, s.a]),
    });
    s.when(admin(), close(2026, &[s.unit_sec, s.a]))
        .then_emitted(&[closed]);
}

#[test]
fn a_meeting_names_its_members_and_an_activity_anyone_in_the_programme() {
    let mut s = Scene::county();
    let outsider_branch = s.branch("Finance Bureau branch", "unit");
    let outsider = s.member_of(outsider_branch, "2011-01-01");
    let service = s.service;
    let record = move |activity: bool, attendees: Vec<Uuid>| {
        let (branch_id, date, topic) = (service, today(), "Spring Festival clean-up".to_owned());
        if activity {
            C::RecordBranchActivity(RecordBranchActivity {
                branch_id,
                date,
                topic,
                attendees,
            })
        } else {
            C::RecordBranchMeeting(RecordBranchMeeting {
                branch_id,
                date,
                topic,
                attendees,
            })
        }
    };
    let sec = secretary(s.service, s.service_sec);
    let e = s
        .when(sec.clone(), record(false, vec![s.a, outsider]))
        .then_refused(Rule::NotABranchMember);
    assert_eq!(e.field, Some("attendees"));
    let e = s
        .when(sec.clone(), record(false, vec![s.a, s.a]))
        .then_refused(Rule::OutOfRange);
    assert_eq!(e.field, Some("attendees"));
    s.when(sec.clone(), record(false, vec![s.a, Uuid::from_u128(7)]))
        .then_refused(Rule::MemberNotFound);
    let held = Event::BranchActivityRecorded(ev::BranchActivityRecorded {
        date: today(),
        topic: "Spring Festival clean-up".into(),
        attendees: vec![s.a, outsider],
        headcount: 2,
    });
    s.when(sec.clone(), record(true, vec![s.a, outsider]))
        .then_emitted(&[held]);
}
