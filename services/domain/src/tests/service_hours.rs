//! Service hours: entries, member-days, verification, corrections, campaigns.

use super::*;

#[test]
fn an_entry_is_more_than_0_and_at_most_12_hours_in_whole_minutes() {
    let mut s = Scene::county();
    for bad in [0.0, -1.0, 12.5, 1.001, 1.00001, 12.000_000_000_1, 0.33] {
        let e = s
            .when(member(s.a), hours(s.a, "2026-06-10", bad, "visit"))
            .then_refused(Rule::HoursOutOfRange);
        assert_eq!(e.field, Some("hours"), "case {bad}");
    }
    // A client's own arithmetic may cost the last bits: 0.1 + 0.2 hours is 18 minutes,
    // and 20 minutes written as a decimal is 20 minutes.
    for (date, fuzzy, minutes) in [("2026-06-11", 0.1 + 0.2, 18), ("2026-06-12", 1.0 / 3.0, 20)] {
        let d = s
            .when(member(s.a), hours(s.a, date, fuzzy, "visit"))
            .then_ok();
        assert!(
            d.events()
                .any(|e| matches!(e, Event::ServiceDayBooked(b) if b.minutes == minutes)),
            "{fuzzy} hours"
        );
    }
    let d = s
        .when(member(s.a), hours(s.a, "2026-06-10", 1.5, "visit"))
        .then_ok();
    let record = record_of(&d);
    assert_eq!(
        d.events().collect::<Vec<_>>(),
        [
            &Event::ServiceHoursLogged(ev::ServiceHoursLogged {
                member_id: s.a,
                date: date("2026-06-10"),
                minutes: 90,
                category: Category::CommunityService,
                activity: "visit".into(),
                channel: Channel::SelfReported,
                campaign_id: None,
                start_time: None,
                organising_branch_id: None,
                entered_by_member_id: Some(s.a),
            }),
            &Event::ServiceDayBooked(ev::ServiceDayBooked {
                record_id: record,
                minutes: 90,
                activity: "visit".into(),
            }),
        ]
    );
}

#[test]
fn a_member_day_holds_at_most_24_hours_across_entries() {
    let mut s = Scene::county();
    s.ok(admin(), hours(s.a, "2026-06-10", 12.0, "flood watch"));
    s.ok(admin(), hours(s.a, "2026-06-10", 11.5, "night patrol"));
    s.when(admin(), hours(s.a, "2026-06-10", 1.0, "tea"))
        .then_refused(Rule::HoursExceedDailyLimit);
    let a = s.a;
    s.when(admin(), hours(a, "2026-06-10", 0.5, "tea"))
        .then_emitted_by(logged(a, "2026-06-10", 30, "tea", Channel::Organiser, None));
    s.when(admin(), hours(a, "2026-06-11", 1.0, "tea"))
        .then_emitted_by(logged(a, "2026-06-11", 60, "tea", Channel::Organiser, None));
}

#[test]
fn the_same_member_date_and_activity_twice_is_a_duplicate() {
    let mut s = Scene::county();
    s.ok(
        member(s.a),
        hours(s.a, "2026-06-10", 2.0, "Street clean-up"),
    );
    s.when(
        member(s.a),
        hours(s.a, "2026-06-10", 1.0, "  street   CLEAN-UP "),
    )
    .then_refused(Rule::DuplicateServiceEntry);
    let a = s.a;
    s.when(member(a), hours(a, "2026-06-09", 1.0, "Street clean-up"))
        .then_emitted_by(logged(
            a,
            "2026-06-09",
            60,
            "Street clean-up",
            Channel::SelfReported,
            Some(a),
        ));
}

#[test]
fn service_dates_are_not_in_the_future() {
    let mut s = Scene::county();
    s.when(member(s.a), hours(s.a, "2026-06-16", 2.0, "visit"))
        .then_refused(Rule::DateInFuture);
}

#[test]
fn a_closed_year_accepts_no_new_facts() {
    let mut s = Scene::county();
    for not_over in [2026, 2027] {
        s.when(admin(), close(not_over, &[]))
            .then_refused(Rule::YearNotOver);
    }
    let everyone = [s.unit_sec, s.service_sec, s.a];
    s.ok(admin(), close(2025, &everyone));
    s.when(member(s.a), hours(s.a, "2025-12-30", 2.0, "visit"))
        .then_refused(Rule::YearClosed);
    s.when(
        admin(),
        C::RecordQuizResult(RecordQuizResult {
            branch_id: s.unit,
            year: year(2025),
            contestant_id: s.a,
            score: 70,
        }),
    )
    .then_refused(Rule::YearClosed);
    s.when(admin(), close(2025, &everyone))
        .then_refused(Rule::YearAlreadyClosed);
    let a = s.a;
    s.when(member(a), hours(a, "2026-01-02", 2.0, "visit"))
        .then_emitted_by(logged(
            a,
            "2026-01-02",
            120,
            "visit",
            Channel::SelfReported,
            Some(a),
        ));
}

#[test]
fn a_member_only_self_reports_and_only_their_own_hours() {
    let mut s = Scene::county();
    let mut cmd = hours(s.a, "2026-06-10", 2.0, "visit");
    if let C::LogServiceHours(c) = &mut cmd {
        c.channel = Some(Channel::CheckIn);
    }
    s.when(member(s.a), cmd)
        .then_refused(Rule::RoleNotPermitted);
    s.when(member(s.unit_sec), hours(s.a, "2026-06-10", 2.0, "visit"))
        .then_refused(Rule::NotTheMember);
}

#[test]
fn hours_are_verified_by_the_service_branch_secretary_never_by_oneself() {
    let mut s = Scene::county();
    let d = s.ok(member(s.a), hours(s.a, "2026-06-10", 3.0, "visit"));
    let verify = C::VerifyServiceHours(VerifyServiceHours {
        record_id: record_of(&d),
    });
    s.when(secretary(s.unit, s.unit_sec), verify.clone())
        .then_refused(Rule::NotTheBranchSecretary);
    s.when(member(s.a), verify.clone())
        .then_refused(Rule::OwnHoursNotVerifiable);
    let verified = Event::ServiceHoursVerified(ev::ServiceHoursVerified {
        verifier: s.service_sec.to_string(),
        verifier_member_id: Some(s.service_sec),
    });
    s.when(secretary(s.service, s.service_sec), verify.clone())
        .then_emitted(&[verified]);
    s.when(secretary(s.service, s.service_sec), verify)
        .then_refused(Rule::RecordAlreadyDecided);

    let own = s.ok(admin(), hours(s.service_sec, "2026-06-10", 3.0, "visit"));
    s.when(
        secretary(s.service, s.service_sec),
        C::VerifyServiceHours(VerifyServiceHours {
            record_id: record_of(&own),
        }),
    )
    .then_refused(Rule::OwnHoursNotVerifiable);
}

#[test]
fn entries_over_8_hours_are_verified_by_a_committee_admin() {
    let mut s = Scene::county();
    let d = s.ok(member(s.a), hours(s.a, "2026-06-10", 8.5, "flood watch"));
    let verify = C::VerifyServiceHours(VerifyServiceHours {
        record_id: record_of(&d),
    });
    s.when(secretary(s.service, s.service_sec), verify.clone())
        .then_refused(Rule::LongEntryNeedsCommitteeAdmin);
    s.when(admin(), verify)
        .then_emitted(&[Event::ServiceHoursVerified(ev::ServiceHoursVerified {
            verifier: "admin".into(),
            verifier_member_id: None,
        })]);
}

#[test]
fn rejected_hours_free_their_member_day() {
    let mut s = Scene::county();
    let d = s.ok(admin(), hours(s.a, "2026-06-10", 12.0, "flood watch"));
    s.ok(admin(), hours(s.a, "2026-06-10", 12.0, "night patrol"));
    s.when(admin(), hours(s.a, "2026-06-10", 1.0, "tea"))
        .then_refused(Rule::HoursExceedDailyLimit);
    let record_id = record_of(&d);
    s.when(
        admin(),
        C::RejectServiceHours(RejectServiceHours {
            record_id,
            reason: "no sign-in sheet".into(),
        }),
    )
    .then_emitted(&[
        Event::ServiceHoursRejected(ev::ServiceHoursRejected {
            verifier: "admin".into(),
            verifier_member_id: None,
            reason: "no sign-in sheet".into(),
        }),
        Event::ServiceDayReleased(ev::ServiceDayReleased { record_id }),
    ]);
    let a = s.a;
    s.when(admin(), hours(a, "2026-06-10", 1.0, "tea"))
        .then_emitted_by(logged(a, "2026-06-10", 60, "tea", Channel::Organiser, None));
}

#[test]
fn verified_hours_change_only_by_a_correction_with_before_and_after() {
    let mut s = Scene::county();
    let d = s.ok(member(s.a), hours(s.a, "2026-06-10", 3.0, "visit"));
    let record_id = record_of(&d);
    let request = C::RequestCorrection(RequestCorrection {
        record_id,
        hours: Some(2.0),
        date: Some(date("2026-06-09")),
        category: None,
        reason: "entered the wrong day".into(),
    });
    s.when(member(s.a), request.clone())
        .then_refused(Rule::RecordNotVerified);
    s.ok(
        secretary(s.service, s.service_sec),
        C::VerifyServiceHours(VerifyServiceHours { record_id }),
    );
    let (before, after) = (
        ev::Entry {
            date: date("2026-06-10"),
            minutes: 180,
            category: Category::CommunityService,
        },
        ev::Entry {
            date: date("2026-06-09"),
            minutes: 120,
            category: Category::CommunityService,
        },
    );
    s.when(member(s.a), request.clone())
        .then_emitted(&[Event::CorrectionRequested(ev::CorrectionRequested {
            before,
            after,
            reason: "entered the wrong day".into(),
        })]);
    s.when(member(s.a), request)
        .then_refused(Rule::CorrectionAlreadyPending);
    let apply = C::ApplyCorrection(ApplyCorrection {
        record_id,
        hours: None,
        date: None,
        category: None,
        reason: "checked the sheet".into(),
    });
    s.when(member(s.a), apply.clone())
        .then_refused(Rule::OwnHoursNotVerifiable);
    let corrected = [
        Event::CorrectionApplied(ev::CorrectionApplied {
            before,
            after,
            verifier: s.service_sec.to_string(),
            verifier_member_id: Some(s.service_sec),
            reason: "checked the sheet".into(),
        }),
        Event::ServiceDayReleased(ev::ServiceDayReleased { record_id }),
        Event::ServiceDayBooked(ev::ServiceDayBooked {
            record_id,
            minutes: 120,
            activity: "visit".into(),
        }),
    ];
    let d = s
        .when(secretary(s.service, s.service_sec), apply)
        .then_emitted(&corrected);
    assert_eq!(
        d.writes[1].0,
        crate::world::streams::service_day(s.a, date("2026-06-10"))
    );
    assert_eq!(
        d.writes[2].0,
        crate::world::streams::service_day(s.a, date("2026-06-09"))
    );
}

#[test]
fn hours_logged_to_a_campaign_fall_inside_its_dates() {
    let mut s = Scene::county();
    let c = s.id();
    s.ok(
        admin(),
        C::LaunchCampaign(LaunchCampaign {
            campaign_id: Some(c),
            name: "Reservoir resettlement".into(),
            kind: CampaignKind::Resettlement,
            starts_on: date("2026-05-01"),
            ends_on: date("2026-05-31"),
        }),
    );
    let cmd = |on: &str| {
        let mut cmd = hours(s.a, on, 4.0, "moving families");
        if let C::LogServiceHours(l) = &mut cmd {
            l.campaign_id = Some(c);
            l.category = Category::ReservoirResettlement;
        }
        cmd
    };
    let (outside, inside) = (cmd("2026-06-02"), cmd("2026-05-20"));
    s.when(member(s.a), outside)
        .then_refused(Rule::OutsideCampaign);
    let a = s.a;
    let in_the_campaign = |d: &crate::Decision| {
        let mut events = logged(
            a,
            "2026-05-20",
            240,
            "moving families",
            Channel::SelfReported,
            Some(a),
        )(d);
        if let Some(Event::ServiceHoursLogged(e)) = events.first_mut() {
            e.campaign_id = Some(c);
            e.category = Category::ReservoirResettlement;
        }
        events
    };
    s.when(member(a), inside).then_emitted_by(in_the_campaign);
    s.when(
        admin(),
        C::LaunchCampaign(LaunchCampaign {
            campaign_id: None,
            name: "Backwards".into(),
            kind: CampaignKind::Cleanup,
            starts_on: date("2026-05-02"),
            ends_on: date("2026-05-01"),
        }),
    )
    .then_refused(Rule::DatesOutOfOrder);
}

#[test]
fn a_secretarys_own_hours_are_self_reported() {
    let mut s = Scene::county();
    let own = s.unit_sec;
    s.when(
        secretary(s.unit, own),
        hours(own, "2026-06-10", 2.0, "visit"),
    )
    .then_emitted_by(logged(
        own,
        "2026-06-10",
        120,
        "visit",
        Channel::SelfReported,
        Some(own),
    ));
    let d = s.ok(
        secretary(s.unit, s.unit_sec),
        hours(s.a, "2026-06-10", 2.0, "visit"),
    );
    let Some(crate::Event::ServiceHoursLogged(e)) = d.events().next() else {
        panic!("logged")
    };
    assert_eq!(
        (e.channel, e.organising_branch_id, e.entered_by_member_id),
        (Channel::Organiser, Some(s.unit), Some(s.unit_sec))
    );
}

#[test]
fn a_correction_keeps_campaign_hours_inside_the_campaign() {
    let mut s = Scene::county();
    let c = s.id();
    s.ok(
        admin(),
        C::LaunchCampaign(LaunchCampaign {
            campaign_id: Some(c),
            name: "Clean-up week".into(),
            kind: CampaignKind::Cleanup,
            starts_on: date("2026-06-01"),
            ends_on: date("2026-06-07"),
        }),
    );
    let mut log = hours(s.a, "2026-06-05", 3.0, "river bank");
    if let C::LogServiceHours(l) = &mut log {
        l.campaign_id = Some(c);
    }
    let record_id: Uuid = s.ok(member(s.a), log).id().parse().expect("id");
    s.ok(
        secretary(s.service, s.service_sec),
        C::VerifyServiceHours(VerifyServiceHours { record_id }),
    );
    let correct = |on: &str| {
        C::ApplyCorrection(ApplyCorrection {
            record_id,
            hours: None,
            date: Some(date(on)),
            category: None,
            reason: "wrong day".into(),
        })
    };
    s.when(admin(), correct("2026-06-09"))
        .then_refused(Rule::OutsideCampaign);
    let entry = |on: &str| ev::Entry {
        date: date(on),
        minutes: 180,
        category: Category::CommunityService,
    };
    let corrected = [
        Event::CorrectionApplied(ev::CorrectionApplied {
            before: entry("2026-06-05"),
            after: entry("2026-06-06"),
            verifier: "admin".into(),
            verifier_member_id: None,
            reason: "wrong day".into(),
        }),
        Event::ServiceDayReleased(ev::ServiceDayReleased { record_id }),
        Event::ServiceDayBooked(ev::ServiceDayBooked {
            record_id,
            minutes: 180,
            activity: "river bank".into(),
        }),
    ];
    s.when(admin(), correct("2026-06-06"))
        .then_emitted(&corrected);
}
