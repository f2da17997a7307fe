//! The dual card: issue, the community's feedback, each side's opinion, stars, and the appraisal with who may record, confirm or overturn it.

use super::*;

#[test]
fn one_dual_card_per_member_year() {
    let mut s = Scene::county();
    let issue = C::IssueDualCard(IssueDualCard {
        member_id: Some(s.a),
        year: year(2026),
        all_members: None,
    });
    let card = issued(&s, s.a);
    s.when(secretary(s.unit, s.unit_sec), issue.clone())
        .then_emitted(&[card]);
    s.when(admin(), issue).then_refused(Rule::CardAlreadyIssued);
}

#[test]
fn a_card_needs_a_service_branch_to_sign_the_community_side() {
    let mut s = Scene::county();
    s.when(
        admin(),
        C::IssueDualCard(IssueDualCard {
            member_id: Some(s.unit_sec),
            year: year(2026),
            all_members: None,
        }),
    )
    .then_refused(Rule::NoServiceBranch);
}

#[test]
fn each_side_is_signed_once_by_the_secretary_of_that_branch() {
    let mut s = Scene::county();
    let a = s.a;
    card(&mut s, a);
    s.when(
        secretary(s.service, s.service_sec),
        sign(s.a, Side::Unit, Rating::BasicallyQualified),
    )
    .then_refused(Rule::NotTheBranchSecretary);
    s.when(admin(), sign(s.a, Side::Unit, Rating::BasicallyQualified))
        .then_refused(Rule::NotTheBranchSecretary);
    let by_unit = signed(
        Side::Unit,
        Rating::BasicallyQualified,
        Some(s.unit_sec),
        Capacity::Secretary,
    );
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(s.a, Side::Unit, Rating::BasicallyQualified),
    )
    .then_emitted(&[by_unit]);
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(s.a, Side::Unit, Rating::Unqualified),
    )
    .then_refused(Rule::SideAlreadySigned);
}

#[test]
fn nobody_signs_their_own_card() {
    let mut s = Scene::county();
    // service_sec is the secretary of the branch that signs the community side of their own card.
    let own = s.service_sec;
    card(&mut s, own);
    s.when(
        secretary(s.service, s.service_sec),
        sign(s.service_sec, Side::Community, Rating::Unqualified),
    )
    .then_refused(Rule::OwnCardNotSignable);
    let by_unit = signed(
        Side::Unit,
        Rating::Unqualified,
        Some(s.unit_sec),
        Capacity::Secretary,
    );
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(s.service_sec, Side::Unit, Rating::Unqualified),
    )
    .then_emitted(&[by_unit]);
}

#[test]
fn a_card_is_complete_when_both_sides_are_signed() {
    let mut s = Scene::county();
    let a = s.a;
    card(&mut s, a);
    s.ok(secretary(s.service, s.service_sec), feedback(s.a, 1));
    let by_community = signed(
        Side::Community,
        Rating::Excellent,
        Some(s.service_sec),
        Capacity::Secretary,
    );
    s.when(
        secretary(s.service, s.service_sec),
        sign(s.a, Side::Community, Rating::Excellent),
    )
    .then_emitted(&[by_community]);
    // The card carries the two opinions people wrote, and no rating of its own.
    let by_unit = signed(
        Side::Unit,
        Rating::Qualified,
        Some(s.unit_sec),
        Capacity::Secretary,
    );
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(s.a, Side::Unit, Rating::Qualified),
    )
    .then_emitted(&[by_unit, Event::DualCardCompleted(ev::DualCardCompleted {})]);
    s.when(secretary(s.service, s.service_sec), feedback(s.a, 2))
        .then_refused(Rule::CardAlreadyComplete);
}

#[test]
fn an_opinion_is_the_signers_whatever_the_evidence_and_feedback_is_quarterly() {
    let mut s = Scene::county();
    let a = s.a;
    card(&mut s, a);
    // No feedback yet: the unit may still give its opinion (the assessment shows the
    // missing feedback beside it; the system does not overrule people).
    let by_unit = signed(
        Side::Unit,
        Rating::Excellent,
        Some(s.unit_sec),
        Capacity::Secretary,
    );
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(s.a, Side::Unit, Rating::Excellent),
    )
    .then_emitted(&[by_unit]);
    s.when(centre(), feedback(s.a, 2))
        .then_emitted(&[Event::CommunityFeedbackRecorded(
            ev::CommunityFeedbackRecorded {
                quarter: 2,
                note: "helps neighbours".into(),
            },
        )]);
    s.when(centre(), feedback(s.a, 2))
        .then_refused(Rule::FeedbackAlreadyRecorded);
    s.when(centre(), feedback(s.a, 5))
        .then_refused(Rule::OutOfRange);
}

#[test]
fn a_card_is_signed_by_the_branch_the_member_reports_to_when_signing() {
    let mut s = Scene::county();
    let a = s.a;
    card(&mut s, a);
    let west = s.branch("West Street service branch", "service");
    let west_sec = s.member_of(s.unit, "2005-05-05");
    s.assign(west_sec, west);
    s.ok(
        admin(),
        C::AppointSecretary(AppointSecretary {
            branch_id: west,
            member_id: west_sec,
        }),
    );
    s.ok(
        centre(),
        C::AssignServiceBranch(AssignServiceBranch {
            member_id: a,
            service_branch_id: west,
        }),
    );
    s.when(
        secretary(s.service, s.service_sec),
        sign(a, Side::Community, Rating::Unqualified),
    )
    .then_refused(Rule::NotTheBranchSecretary);
    s.when(
        secretary(west, west_sec),
        sign(a, Side::Community, Rating::Unqualified),
    )
    .then_emitted(&[signed(
        Side::Community,
        Rating::Unqualified,
        Some(west_sec),
        Capacity::Secretary,
    )]);
}

#[test]
fn a_secretarys_own_card_is_signed_by_the_deputy_or_the_committee_and_says_so() {
    let mut s = Scene::county();
    let (own, a) = (s.service_sec, s.a);
    card(&mut s, own);
    card(&mut s, a);
    let service = s.service;
    let d = deputy(&mut s, service, "2012-02-02");
    // The secretary never signs their own card; their deputy does, or a committee admin.
    s.when(
        secretary(s.service, own),
        sign(own, Side::Community, Rating::Qualified),
    )
    .then_refused(Rule::OwnCardNotSignable);
    s.when(
        secretary(s.service, d),
        sign(own, Side::Community, Rating::Qualified),
    )
    .then_emitted(&[signed(
        Side::Community,
        Rating::Qualified,
        Some(d),
        Capacity::Deputy,
    )]);
    // The unit side of the same card: its secretary is not the member, so neither a
    // committee admin nor a deputy stands in.
    s.when(admin(), sign(own, Side::Unit, Rating::Qualified))
        .then_refused(Rule::NotTheBranchSecretary);
    // A deputy acts only where the secretary is the member or the post is vacant.
    s.when(
        secretary(s.service, d),
        sign(s.a, Side::Community, Rating::Qualified),
    )
    .then_refused(Rule::NotTheBranchSecretary);
}

#[test]
fn a_vacant_post_is_a_normal_state_in_which_the_deputy_or_the_committee_acts() {
    let mut s = Scene::county();
    let a = s.a;
    card(&mut s, a);
    let vacated = Event::SecretaryVacated(ev::SecretaryVacated {
        member_id: s.unit_sec,
    });
    s.when(
        admin(),
        C::VacateSecretary(VacateSecretary { branch_id: s.unit }),
    )
    .then_emitted(&[vacated]);
    s.when(
        admin(),
        C::VacateSecretary(VacateSecretary { branch_id: s.unit }),
    )
    .then_refused(Rule::NothingChanges);
    // The former secretary's token no longer acts.
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(a, Side::Unit, Rating::Qualified),
    )
    .then_refused(Rule::NotTheBranchSecretary);
    s.when(admin(), sign(a, Side::Unit, Rating::Qualified))
        .then_emitted(&[signed(
            Side::Unit,
            Rating::Qualified,
            None,
            Capacity::CommitteeAdmin,
        )]);
    // A deputy is a member of the branch.
    let outsider = s.member_of(s.unit, "2015-01-01");
    s.when(
        admin(),
        C::AppointDeputy(AppointDeputy {
            branch_id: s.service,
            member_id: outsider,
        }),
    )
    .then_refused(Rule::NotABranchMember);
}

#[test]
fn stars_are_awarded_once_by_the_community_side_on_the_years_scale() {
    let mut s = Scene::county();
    let a = s.a;
    card(&mut s, a);
    s.when(secretary(s.unit, s.unit_sec), stars(a, 4))
        .then_refused(Rule::NotTheBranchSecretary);
    s.when(member(a), stars(a, 5))
        .then_refused(Rule::OwnCardNotSignable);
    for out_of_scale in [0, 6] {
        let e = s
            .when(secretary(s.service, s.service_sec), stars(a, out_of_scale))
            .then_refused(Rule::OutOfRange);
        assert_eq!(e.field, Some("stars"), "{out_of_scale}");
    }
    let awarded = Event::StarsAwarded(ev::StarsAwarded {
        stars: 4,
        reason: "organised the clean-up".into(),
        awarded_by: Some(s.service_sec),
        capacity: Capacity::Secretary,
    });
    s.when(secretary(s.service, s.service_sec), stars(a, 4))
        .then_emitted(&[awarded]);
    s.when(secretary(s.service, s.service_sec), stars(a, 3))
        .then_refused(Rule::StarsAlreadyAwarded);
}

#[test]
fn the_unit_side_reads_what_the_community_side_recorded_and_outsiders_do_not() {
    let mut s = Scene::county();
    let a = s.a;
    card(&mut s, a);
    s.ok(secretary(s.service, s.service_sec), feedback(a, 1));
    s.ok(secretary(s.service, s.service_sec), stars(a, 4));
    s.ok(
        secretary(s.service, s.service_sec),
        sign(a, Side::Community, Rating::Excellent),
    );
    for reader in [secretary(s.unit, s.unit_sec), member(a), auditor(), admin()] {
        let ctx = s.ctx(reader.clone());
        let card = s
            .resolve(|w| crate::dualcard::read(w, a, year(2026), &ctx).cloned())
            .unwrap_or_else(|e| panic!("{reader:?} reads the card: {e}"));
        assert_eq!(
            card.feedback.get(&1).map(String::as_str),
            Some("helps neighbours")
        );
        assert_eq!(card.stars.as_ref().map(|(n, _)| *n), Some(4));
        assert_eq!(
            card.signed
                .get(&crate::dualcard::SideKey::Community)
                .map(|sig| sig.opinion),
            Some(Rating::Excellent)
        );
    }
    let other = s.member_of(s.unit, "2011-01-01");
    for outsider in [member(other), secretary(s.unit, other)] {
        let ctx = s.ctx(outsider.clone());
        let e = s
            .resolve(|w| crate::dualcard::read(w, a, year(2026), &ctx).cloned())
            .expect_err("refused");
        assert_eq!(e.rule, Rule::RoleNotPermitted, "{outsider:?}");
    }
}

#[test]
fn the_unit_branch_records_the_appraisal_citing_a_position_the_log_holds() {
    let mut s = Scene::county();
    let a = s.a;
    let head = s.emitted.len() as u64;
    s.when(
        secretary(s.service, s.service_sec),
        appraise(a, Rating::Excellent, head),
    )
    .then_refused(Rule::NotTheBranchSecretary);
    s.when(member(a), appraise(a, Rating::Excellent, head))
        .then_refused(Rule::OwnAppraisalNotRecordable);
    for beyond in [0, head + 1] {
        let e = s
            .when(
                secretary(s.unit, s.unit_sec),
                appraise(a, Rating::Excellent, beyond),
            )
            .then_refused(Rule::BasisPositionUnknown);
        assert_eq!(e.field, Some("basis_position"));
    }
    let appraised = |rating, appraiser_id, capacity| {
        Event::AppraisalRecorded(ev::AppraisalRecorded {
            rating,
            basis_position: head,
            remarks: "democratic appraisal of 20 December".into(),
            appraiser_id,
            capacity,
        })
    };
    let by_secretary = appraised(Rating::Excellent, Some(s.unit_sec), Capacity::Secretary);
    s.when(
        secretary(s.unit, s.unit_sec),
        appraise(a, Rating::Excellent, head),
    )
    .then_emitted(&[by_secretary]);
    // The unit changes its appraisal: a new event; the latest stands.
    let changed = appraised(Rating::Qualified, Some(s.unit_sec), Capacity::Secretary);
    s.when(
        secretary(s.unit, s.unit_sec),
        appraise(a, Rating::Qualified, head),
    )
    .then_emitted(&[changed]);
    // The secretary's own appraisal: by a committee admin (no deputy appointed).
    let own = s.unit_sec;
    s.when(
        secretary(s.unit, own),
        appraise(own, Rating::Excellent, head),
    )
    .then_refused(Rule::OwnAppraisalNotRecordable);
    s.when(admin(), appraise(own, Rating::Qualified, head))
        .then_emitted(&[appraised(Rating::Qualified, None, Capacity::CommitteeAdmin)]);
}

#[test]
fn the_committee_confirms_or_overturns_an_appraisal_and_then_alone_changes_it() {
    let mut s = Scene::county();
    let a = s.a;
    let confirm = C::ConfirmAppraisal(ConfirmAppraisal {
        member_id: a,
        year: year(2026),
    });
    let overturn = |rating| {
        C::OverturnAppraisal(OverturnAppraisal {
            member_id: a,
            year: year(2026),
            rating,
            reason: "the branch's appraisal disregarded the rejected hours".into(),
        })
    };
    s.when(admin(), confirm.clone())
        .then_refused(Rule::AppraisalNotRecorded);
    let head = s.emitted.len() as u64;
    s.ok(
        secretary(s.unit, s.unit_sec),
        appraise(a, Rating::Excellent, head),
    );
    s.when(secretary(s.unit, s.unit_sec), confirm.clone())
        .then_refused(Rule::RoleNotPermitted);
    s.when(admin(), overturn(Rating::Excellent))
        .then_refused(Rule::NothingChanges);
    s.when(admin(), overturn(Rating::Qualified))
        .then_emitted(&[Event::AppraisalOverturned(ev::AppraisalOverturned {
            previous: Rating::Excellent,
            rating: Rating::Qualified,
            reason: "the branch's appraisal disregarded the rejected hours".into(),
        })]);
    s.when(
        secretary(s.unit, s.unit_sec),
        appraise(a, Rating::Excellent, head),
    )
    .then_refused(Rule::AppraisalSettledByCommittee);
    s.when(admin(), confirm.clone())
        .then_emitted(&[Event::AppraisalConfirmed(ev::AppraisalConfirmed {
            rating: Rating::Qualified,
        })]);
    s.when(admin(), confirm).then_refused(Rule::NothingChanges);
}

#[test]
fn a_year_closes_once_every_member_has_an_appraisal_or_is_named_without_one() {
    let mut s = Scene::county();
    s.now = Timestamp::parse("2027-01-10T02:00:00Z").expect("now");
    s.today = date("2027-01-10");
    let head = s.emitted.len() as u64;
    s.ok(
        secretary(s.unit, s.unit_sec),
        appraise(s.a, Rating::Qualified, head),
    );
    s.ok(
        secretary(s.unit, s.unit_sec),
        appraise(s.service_sec, Rating::Excellent, head),
    );
    let e = s
        .when(admin(), close(2026, &[]))
        .then_refused(Rule::MembersWithoutAppraisal);
    assert!(e.detail.contains(&s.unit_sec.to_string()), "{e}");
    // Naming a member who has an appraisal is refused too: the list is exact.
    s.when(admin(), close(2026, &[s.unit_sec, s.a]))
        .then_refused(Rule::MembersWithoutAppraisal);
    let closed = Event::YearClosed(ev::YearClosed {
        year: 2026,
        without_appraisal: Some(vec![s.unit_sec]),
    });
    s.when(admin(), close(2026, &[s.unit_sec]))
        .then_emitted(&[closed]);
}

#[test]
fn a_card_goes_to_one_member_or_to_all_never_both_nor_neither() {
    for body in [
        r#"{"year": 2026}"#,
        r#"{"year": 2026, "all_members": false}"#,
        r#"{"year": 2026, "all_members": true, "member_id": "0196a1d2-0000-7000-8000-000000000001"}"#,
    ] {
        let e = Command::parse("IssueDualCard", body.as_bytes()).expect_err(body);
        assert_eq!(e.field, "member_id", "{body}");
    }
    for body in [
        r#"{"year": 2026, "all_members": true}"#,
        r#"{"year": 2026, "member_id": "0196a1d2-0000-7000-8000-000000000001"}"#,
    ] {
        assert!(
            Command::parse("IssueDualCard", body.as_bytes()).is_ok(),
            "{body}"
        );
    }
    // `rating` is still accepted for a side's opinion.
    let old = r#"{"member_id": "0196a1d2-0000-7000-8000-000000000001", "year": 2026,
                  "side": "unit", "rating": "qualified", "remarks": "ok"}"#;
    assert!(matches!(
        Command::parse("SignDualCard", old.as_bytes()),
        Ok(Some(Command::SignDualCard(c))) if c.opinion == Rating::Qualified
    ));
}
