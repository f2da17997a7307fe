//! A year of the programme as a county officer runs it: through the HTTP API, with
//! signed tokens, on SQLite and on PostgreSQL. Each test owns its database.

mod bad_input;

use allweather_domain::Command;
use allweather_domain::command::{
    AppointDeputy, AppointSecretary, AssignServiceBranch, AwardStars, ClaimWish, CloseYear,
    IssueDualCard, LaunchCampaign, LogServiceHours, ObserveAnniversary, OverturnAppraisal,
    PairHousehold, PublishWish, RaiseConcern, RecordAppraisal, RecordBranchActivity,
    RecordBranchMeeting, RecordCommunityFeedback, RecordQuizResult, RecordVisit, RegisterBranch,
    RegisterHousehold, RegisterMember, ReleaseWish, ResolveConcern, SignDualCard,
    VerifyServiceHours,
};
use allweather_domain::values::{
    BranchKind, CampaignKind, Category, Rating, Side, WishOrigin, Year,
};
use allweather_events::Timestamp;
use allweather_test_support::{TestApp, eventually};
use chrono::NaiveDate;
use futures::StreamExt as _;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

allweather_test_support::on_both_backends!(
    crate;
    postgres = TestApp::postgres().await;
    sqlite = TestApp::sqlite().await;
    a_branch_secretary_registers_members_and_no_other_secretary_can,
    read_rights_follow_the_posts_as_they_stand_and_tell_the_unentitled_nothing,
    a_festival_claim_storm_has_exactly_one_winner_per_wish,
    a_storm_of_500_claims_on_a_need_for_20_seats_exactly_20,
    hours_are_verified_by_the_members_service_secretary_and_refused_for_another,
    a_dual_card_is_signed_by_both_sides_and_refuses_a_second_signature,
    the_appraisal_year_runs_end_to_end_and_the_system_rates_no_one,
    the_countys_figures_count_person_times_campaigns_households_and_meetings,
    a_closed_year_refuses_new_hours,
    a_claim_left_unfulfilled_is_released_once_by_the_schedulers_of_two_instances,
    a_scheduler_catching_up_sends_nothing_for_claims_closed_later_in_the_log,
    the_volunteer_leaderboard_counts_verified_hours_and_answers_after_the_command,
    the_leaderboard_is_shown_as_the_years_rules_say,
    the_wish_board_shows_where_wishes_stand_and_never_who_they_are_for,
    integrity_flags_name_long_days_overlaps_bulk_entries_and_self_verification,
    claiming_to_read_details_and_giving_back_is_bounded_and_flagged,
    a_members_assessment_shows_each_criterion_with_its_evidence_now_and_as_of_before,
    branches_are_ranked_by_the_years_weights_and_bad_queries_are_refused,
    an_as_of_ranking_is_replayed_once_and_answered_from_the_kept_replay_until_the_log_moves,
);

/// A small county: the 2026 rules, a unit branch and a service branch with their
/// secretaries, and a member in both.
struct County {
    app: TestApp,
    unit: Uuid,
    service: Uuid,
    unit_sec: Uuid,
    service_sec: Uuid,
    member: Uuid,
}

use allweather_test_support::id_of as id;

impl County {
    async fn new(app: TestApp, rules: impl FnOnce(&mut Value)) -> County {
        app.adopt_rules(rules).await;
        let admin = app.admin();
        let register = |name: &str, kind, community: Option<&str>| RegisterBranch {
            branch_id: None,
            name: name.into(),
            kind,
            community: community.map(str::to_owned),
        };
        let unit = id(&app
            .submit(
                &admin,
                register("County Water Bureau branch", BranchKind::Unit, None),
            )
            .await);
        let service = id(&app
            .submit(
                &admin,
                register(
                    "East Street service branch",
                    BranchKind::Service,
                    Some("East Street"),
                ),
            )
            .await);
        let mut county = County {
            app,
            unit,
            service,
            unit_sec: Uuid::nil(),
            service_sec: Uuid::nil(),
            member: Uuid::nil(),
        };
        county.unit_sec = county.register("Zhang Wei", "2001-03-02").await;
        county.service_sec = county.register("Li Na", "2003-04-05").await;
        county.assign(county.service_sec).await;
        for (branch, secretary) in [(unit, county.unit_sec), (service, county.service_sec)] {
            let appoint = AppointSecretary {
                branch_id: branch,
                member_id: secretary,
            };
            county.app.submit(&admin, appoint).await;
        }
        county.member = county.register("Wang Fang", "2010-06-01").await;
        county.assign(county.member).await;
        county
    }

    /// The unit branch's secretary's token.
    fn unit_secretary(&self) -> String {
        self.app.secretary(self.unit, self.unit_sec)
    }

    /// The service branch's secretary's token.
    fn service_secretary(&self) -> String {
        self.app.secretary(self.service, self.service_sec)
    }

    async fn register(&self, name: &str, joined_on: &str) -> Uuid {
        let register = RegisterMember {
            member_id: None,
            name: name.into(),
            unit_branch_id: self.unit,
            joined_on: joined_on.parse().expect("a date"),
            cadre: None,
        };
        id(&self.app.submit(&self.app.admin(), register).await)
    }

    async fn assign(&self, member: Uuid) {
        let assign = AssignServiceBranch {
            member_id: member,
            service_branch_id: self.service,
        };
        self.app.submit(&self.app.admin(), assign).await;
    }

    async fn wish(&self, title: &str) -> Uuid {
        let publish = PublishWish {
            wish_id: None,
            origin: WishOrigin::MicroWish,
            title: title.into(),
            beneficiary: "Grandma Zhao, No. 3 East Street".into(),
            beneficiary_contact: None,
            beneficiary_id: None,
            category: Category::Festival,
            deadline: Timestamp::parse("2026-07-01T00:00:00+08:00").expect("a deadline"),
            volunteers: None,
        };
        id(&self.app.submit(&self.app.centre(), publish).await)
    }
}

pub async fn a_branch_secretary_registers_members_and_no_other_secretary_can(app: TestApp) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let register = RegisterMember {
        member_id: None,
        name: "Chen Jie".into(),
        unit_branch_id: county.unit,
        joined_on: day("2018-09-01"),
        cadre: None,
    };
    let before = app.head().await;
    let refused = app
        .command(
            Some(&county.service_secretary()),
            "RegisterMember",
            body(register.clone()),
            None,
        )
        .await;
    assert_eq!(
        (refused.status, &refused.body["rule"]),
        (403, &json!("NotTheBranchSecretary")),
        "{:?}",
        refused.body
    );
    assert_eq!(app.head().await, before, "a refusal changes nothing");
    let registered = app.submit(&county.unit_secretary(), register).await;
    let (status, stream) = app
        .get_as(
            &app.admin(),
            &format!("/api/v1/streams/member-{}", id(&registered)),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        stream["events"][0]["payload"]["unit_branch_id"],
        json!(county.unit)
    );
    county.app.stop().await;
}

/// Every read right is decided on the posts as they stand now, before anything is looked
/// up: a secretary whose post passed to someone else, or whose token names a branch they
/// never served, gets 403 for the branch's members, and for a member who does not exist
/// too; only those entitled to look learn that there is no such member.
pub async fn read_rights_follow_the_posts_as_they_stand_and_tell_the_unentitled_nothing(
    app: TestApp,
) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let (member, nobody) = (county.member, Uuid::now_v7());
    let issued = app
        .submit(
            &county.unit_secretary(),
            IssueDualCard {
                member_id: Some(member),
                year: year(2026),
                all_members: None,
            },
        )
        .await;
    let at = issued["position"].as_u64().expect("position");
    let assessment = |m: Uuid| format!("/api/v1/assessments/{m}?year=2026&min_position={at}");
    let card = |m: Uuid| format!("/api/v1/cards/{m}?year=2026");
    let stream = format!("/api/v1/streams/member-{member}");
    let former = county.unit_secretary();
    for path in [assessment(member), card(member)] {
        let (status, body) = app.get_as(&former, &path).await;
        assert_eq!(status, 200, "the unit secretary reads {path}: {body}");
    }

    // A token naming a branch its holder never served opens nothing of it.
    let pretender = app.secretary(county.service, county.unit_sec);
    // The unit branch's post passes to someone else.
    let successor = county.register("Zhao Lei", "2012-09-01").await;
    app.submit(
        &app.admin(),
        AppointSecretary {
            branch_id: county.unit,
            member_id: successor,
        },
    )
    .await;
    for (who, token) in [
        ("the former secretary", &former),
        ("a pretender", &pretender),
    ] {
        for path in [
            assessment(member),
            card(member),
            assessment(nobody),
            card(nobody),
            stream.clone(),
        ] {
            let (status, body) = app.get_as(token, &path).await;
            assert_eq!(
                (status, &body["code"]),
                (403, &json!("forbidden")),
                "{who} reads {path}: {body}"
            );
        }
    }
    let (status, body) = app.get_as(&app.member(member), &assessment(nobody)).await;
    assert_eq!(status, 403, "a member asks of someone else: {body}");
    for path in [
        "/api/v1/integrity/flags?year=2026".to_owned(),
        stream.clone(),
    ] {
        let (status, body) = app.get_as(&app.centre(), &path).await;
        assert_eq!(status, 403, "the service centre reads {path}: {body}");
    }

    // The successor reads what the post reads; the committee learns who does not exist.
    let successor = app.secretary(county.unit, successor);
    let (status, body) = app.get_as(&successor, &assessment(member)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.get_as(&app.admin(), &assessment(nobody)).await;
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
}

pub async fn a_festival_claim_storm_has_exactly_one_winner_per_wish(app: TestApp) {
    // Each member claims at most four wishes, under the five open claims the rules allow:
    // every loss is a conflict over the wish itself.
    let county = County::new(app, |rules| rules["wishes"]["max_open_claims"] = json!(5)).await;
    let mut wishes = Vec::new();
    for i in 0..10 {
        wishes.push(
            county
                .wish(&format!("Mid-Autumn mooncakes for household {i}"))
                .await,
        );
    }
    let mut members = Vec::new();
    for i in 0..60 {
        members.push(
            county
                .register(&format!("Volunteer {i}"), "2015-01-01")
                .await,
        );
    }
    let app = &county.app;
    let tokens: Vec<String> = members.iter().map(|m| app.member(*m)).collect();
    let claims: Vec<(usize, usize)> = (0..200).map(|i| (i % 60, (i / 60 + i) % 10)).collect();
    let before = app.count("WishClaimed").await;
    let answers = futures::future::join_all(claims.iter().map(|&(m, w)| {
        let body = json!({"wish_id": wishes[w], "member_id": members[m]}).to_string();
        app.command(Some(&tokens[m]), "ClaimWish", body, None)
    }))
    .await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| &r.body)
        .collect();
    let lost: Vec<_> = answers.iter().filter(|r| r.status != 200).collect();
    assert_eq!(won.len(), 10, "one winner per wish");
    assert_eq!(lost.len(), 190);
    for r in &lost {
        assert_eq!(
            (r.status, &r.body["code"]),
            (409, &json!("conflict")),
            "{:?}",
            r.body
        );
        assert_eq!(r.body["rule"], "WishAlreadyClaimed", "{:?}", r.body);
    }
    let mut claimed: Vec<&str> = won.iter().map(|b| b["id"].as_str().expect("id")).collect();
    claimed.sort_unstable();
    claimed.dedup();
    assert_eq!(claimed.len(), 10, "every wish has its one winner");
    assert_eq!(
        app.count("WishClaimed").await - before,
        10,
        "the log holds exactly 10 WishClaimed"
    );
    county.app.stop().await;
}

/// The veteran's case: an urgent need asks for many volunteers. 500 members claim it at
/// once; exactly 20 win, the rest are told every place is taken, and the board says so.
pub async fn a_storm_of_500_claims_on_a_need_for_20_seats_exactly_20(app: TestApp) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let need = id(&app
        .submit(
            &app.centre(),
            PublishWish {
                wish_id: None,
                origin: WishOrigin::ServiceNeed,
                title: "Move the veteran's household before the flood".into(),
                beneficiary: "Old Liu, No. 8 River Lane".into(),
                beneficiary_contact: None,
                beneficiary_id: None,
                category: Category::CommunityService,
                deadline: Timestamp::parse("2026-07-01T00:00:00+08:00").expect("an instant"),
                volunteers: Some(20),
            },
        )
        .await);
    let mut members = Vec::new();
    for i in 0..500 {
        members.push(
            county
                .register(&format!("Volunteer {i}"), "2015-01-01")
                .await,
        );
    }
    let tokens: Vec<String> = members.iter().map(|m| app.member(*m)).collect();
    let answers = futures::future::join_all(members.iter().zip(&tokens).map(|(m, token)| {
        let body = json!({"wish_id": need, "member_id": m}).to_string();
        app.command(Some(token), "ClaimWish", body, None)
    }))
    .await;
    let won = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(won, 20, "exactly as many winners as places");
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_eq!(
            (r.status, &r.body["rule"]),
            (409, &json!("WishAlreadyClaimed")),
            "{:?}",
            r.body
        );
    }
    assert_eq!(app.count("WishClaimed").await, 20);
    let last = app.head().await.0;
    let (status, board) = app
        .get(&format!(
            "/api/v1/wishes?status=claimed&min_position={last}"
        ))
        .await;
    assert_eq!(status, 200, "{board}");
    let line = &board["wishes"][0];
    assert_eq!(
        (&line["wish_id"], &line["volunteers"], &line["taken"]),
        (&json!(need), &json!(20), &json!(20)),
        "{board}"
    );
    county.app.stop().await;
}

fn hours(member: Uuid, date: &str, hours: f64, activity: &str) -> LogServiceHours {
    LogServiceHours {
        record_id: None,
        member_id: member,
        date: date.parse().expect("a date"),
        hours,
        category: Category::CommunityService,
        activity: activity.into(),
        channel: None,
        campaign_id: None,
        start_time: None,
        organising_branch_id: None,
    }
}

/// A date of the county's calendar.
fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// A programme year.
fn year(year: i64) -> Year {
    Year::new(year).expect("a programme year")
}

/// A command's body as the API takes it, for a request a test sends raw.
fn body(command: impl Into<Command>) -> String {
    command.into().body().to_string()
}

pub async fn hours_are_verified_by_the_members_service_secretary_and_refused_for_another(
    app: TestApp,
) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let logged = app
        .submit(
            &app.member(county.member),
            hours(
                county.member,
                "2026-06-14",
                2.5,
                "Visiting elderly residents",
            ),
        )
        .await;
    let record = id(&logged);
    assert_eq!(
        logged["events"][1]["event_type"], "ServiceDayBooked",
        "the member-day is booked in the same append"
    );
    let verify = json!({"record_id": record}).to_string();
    let before = app.head().await;
    for (who, token, rule) in [
        (
            "the unit branch's secretary",
            county.unit_secretary(),
            "NotTheBranchSecretary",
        ),
        (
            "the member",
            app.member(county.member),
            "OwnHoursNotVerifiable",
        ),
    ] {
        let r = app
            .command(Some(&token), "VerifyServiceHours", verify.clone(), None)
            .await;
        assert_eq!(
            (r.status, &r.body["rule"]),
            (403, &json!(rule)),
            "{who}: {:?}",
            r.body
        );
    }
    let r = app
        .command(
            Some(&app.member(county.member)),
            "LogServiceHours",
            body(hours(
                county.member,
                "2026-06-14",
                1.0,
                "visiting  ELDERLY residents",
            )),
            None,
        )
        .await;
    assert_eq!(
        (r.status, &r.body["rule"]),
        (409, &json!("DuplicateServiceEntry")),
        "{:?}",
        r.body
    );
    let r = app
        .command(
            Some(&app.member(county.member)),
            "LogServiceHours",
            body(hours(county.member, "2026-06-16", 1.0, "tomorrow")),
            None,
        )
        .await;
    assert_eq!(
        (r.status, &r.body["rule"], &r.body["errors"][0]["field"]),
        (422, &json!("DateInFuture"), &json!("date")),
        "{:?}",
        r.body
    );
    assert_eq!(app.head().await, before, "refusals change nothing");

    let verified = app
        .submit(
            &county.service_secretary(),
            VerifyServiceHours { record_id: record },
        )
        .await;
    assert_eq!(verified["events"][0]["event_type"], "ServiceHoursVerified");
    let again = app
        .command(
            Some(&county.service_secretary()),
            "VerifyServiceHours",
            verify,
            None,
        )
        .await;
    assert_eq!(
        (again.status, &again.body["rule"]),
        (409, &json!("RecordAlreadyDecided"))
    );
    // The member reads their own record; another member may not.
    let path = format!("/api/v1/streams/servicerecord-{record}");
    let (_, stream) = app.get_as(&app.member(county.member), &path).await;
    let (other, _) = app.get_as(&app.member(county.unit_sec), &path).await;
    assert_eq!(other, 403, "another member's record is not theirs to read");
    let own = format!("/api/v1/streams/member-{}", county.service_sec);
    let (status, _) = app.get_as(&county.service_secretary(), &own).await;
    assert_eq!(status, 200, "a secretary reads their own member stream");
    assert_eq!(
        stream["events"][0]["payload"]["minutes"], 150,
        "hours are stored as whole minutes"
    );
    county.app.stop().await;
}

pub async fn a_dual_card_is_signed_by_both_sides_and_refuses_a_second_signature(app: TestApp) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let card = IssueDualCard {
        member_id: Some(county.member),
        year: year(2026),
        all_members: None,
    };
    app.submit(&county.unit_secretary(), card.clone()).await;
    // Written as a client of an earlier release would: `rating`, the name `opinion` had.
    let sign = |side: &str, rating: &str| {
        json!({"member_id": county.member, "year": 2026, "side": side, "rating": rating, "remarks": "serves her street every month"}).to_string()
    };
    let feedback = RecordCommunityFeedback {
        member_id: county.member,
        year: year(2026),
        quarter: 2,
        note: "helped at the convenience centre".into(),
    };
    app.submit(&app.centre(), feedback).await;
    // The unit side reads what the community recorded before it signs.
    let (status, read) = app
        .get_as(
            &county.unit_secretary(),
            &format!("/api/v1/cards/{}?year=2026", county.member),
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(
        read["community"]["feedback"][0]["note"],
        "helped at the convenience centre"
    );
    let r = app
        .command(
            Some(&county.unit_secretary()),
            "SignDualCard",
            sign("community", "excellent"),
            None,
        )
        .await;
    assert_eq!(
        (r.status, &r.body["rule"]),
        (403, &json!("NotTheBranchSecretary")),
        "the unit secretary cannot sign the community side"
    );
    app.ok(
        &county.service_secretary(),
        "SignDualCard",
        serde_json::from_str(&sign("community", "excellent")).expect("json"),
    )
    .await;
    let second = app
        .command(
            Some(&county.service_secretary()),
            "SignDualCard",
            sign("community", "qualified"),
            None,
        )
        .await;
    assert_eq!(
        (second.status, &second.body["rule"]),
        (409, &json!("SideAlreadySigned")),
        "{:?}",
        second.body
    );
    let done = app
        .ok(
            &county.unit_secretary(),
            "SignDualCard",
            serde_json::from_str(&sign("unit", "qualified")).expect("json"),
        )
        .await;
    let types: Vec<&Value> = done["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["event_type"])
        .collect();
    assert_eq!(
        types,
        [&json!("DualCardSigned"), &json!("DualCardCompleted")]
    );
    assert_eq!(done["id"], format!("{}-2026", county.member));
    county.app.stop().await;
}

/// The year's end as a county runs it, for 2025: the committee issues every card in one
/// command, the community side records feedback and stars, the unit side reads them and
/// both sides write their opinions (a deputy for a secretary's own card), the unit branch
/// appraises, the committee overturns one appraisal, and the year closes once every
/// member has one or is named without. No answer carries a rating the system made.
pub async fn the_appraisal_year_runs_end_to_end_and_the_system_rates_no_one(app: TestApp) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let admin = app.admin();
    app.adopt_rules_for(2025, |_| {}).await;
    let (member, service_sec, unit_sec) = (county.member, county.service_sec, county.unit_sec);

    // Cards for everyone in one command: the unit secretary has no service branch.
    let bulk = json!({"year": 2025, "all_members": true}).to_string();
    let refused = app
        .command(
            Some(&county.unit_secretary()),
            "IssueDualCard",
            bulk.clone(),
            None,
        )
        .await;
    assert_eq!(
        (refused.status, &refused.body["rule"]),
        (403, &json!("RoleNotPermitted"))
    );
    // A year without rules has no cards: refused whole, nothing appended.
    let before = app.head().await;
    let no_rules = json!({"year": 2024, "all_members": true}).to_string();
    let refused = app
        .command(Some(&admin), "IssueDualCard", no_rules, None)
        .await;
    assert_eq!(
        (refused.status, &refused.body["rule"]),
        (422, &json!("RulesNotAdopted")),
        "{}",
        refused.body
    );
    assert_eq!(app.head().await, before);
    let first = app
        .command(
            Some(&admin),
            "IssueDualCard",
            bulk.clone(),
            Some("cards-2025"),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let mut issued: Vec<Uuid> =
        serde_json::from_value(first.body["issued"].clone()).expect("issued ids");
    issued.sort();
    let mut expected = vec![member, service_sec];
    expected.sort();
    assert_eq!(issued, expected, "{}", first.body);
    assert_eq!(first.body["skipped"][0]["member_id"], json!(unit_sec));
    assert_eq!(first.body["skipped"][0]["rule"], "NoServiceBranch");
    let head = app.head().await;
    let again = app
        .command(
            Some(&admin),
            "IssueDualCard",
            bulk.clone(),
            Some("cards-2025"),
        )
        .await;
    assert_eq!(
        (again.status, &again.body["issued"]),
        (200, &first.body["issued"])
    );
    let other_key = app
        .command(
            Some(&admin),
            "IssueDualCard",
            bulk,
            Some("cards-2025-again"),
        )
        .await;
    assert_eq!(other_key.body["issued"], json!([]), "{}", other_key.body);
    assert_eq!(
        other_key.body["skipped"].as_array().map(|s| s
            .iter()
            .filter(|x| x["rule"] == "CardAlreadyIssued")
            .count()),
        Some(2)
    );
    assert_eq!(
        app.head().await,
        head,
        "a repeated bulk issue appends nothing"
    );

    // The year's service, verified by the community.
    let record = id(&app
        .submit(
            &app.member(member),
            LogServiceHours {
                record_id: None,
                member_id: member,
                date: day("2025-05-10"),
                hours: 6.0,
                category: Category::Cleanup,
                activity: "Spring Festival clean-up".into(),
                channel: None,
                campaign_id: None,
                start_time: None,
                organising_branch_id: None,
            },
        )
        .await);
    app.submit(
        &county.service_secretary(),
        VerifyServiceHours { record_id: record },
    )
    .await;
    // The community side: feedback and stars, then its opinion.
    let sec = county.service_secretary();
    app.submit(
        &sec,
        RecordCommunityFeedback {
            member_id: member,
            year: year(2025),
            quarter: 1,
            note: "led the clean-up of the lane".into(),
        },
    )
    .await;
    app.submit(
        &sec,
        AwardStars {
            member_id: member,
            year: year(2025),
            stars: 4,
            reason: "organised the clean-up".into(),
        },
    )
    .await;
    let card = format!("/api/v1/cards/{member}?year=2025");
    let (status, read) = app.get_as(&county.unit_secretary(), &card).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(
        (
            &read["community"]["feedback"][0]["note"],
            &read["community"]["stars"]["stars"]
        ),
        (&json!("led the clean-up of the lane"), &json!(4)),
        "the unit secretary reads the community side: {read}"
    );
    let outsider = county.register("Zhao Lei", "2016-03-03").await;
    for reader in [app.member(outsider), app.centre()] {
        let (status, _) = app.get_as(&reader, &card).await;
        assert_eq!(
            status, 403,
            "one member's card is not for another, nor the centre"
        );
    }
    let sign = |side, opinion, who| SignDualCard {
        member_id: who,
        year: year(2025),
        side,
        opinion,
        remarks: "serves her lane".into(),
    };
    app.submit(&sec, sign(Side::Community, Rating::Excellent, member))
        .await;
    app.submit(
        &county.unit_secretary(),
        sign(Side::Unit, Rating::Qualified, member),
    )
    .await;
    // The service secretary's own card: their deputy signs the community side.
    let deputy = county.register("Sun Li", "2012-02-02").await;
    county.assign(deputy).await;
    app.submit(
        &admin,
        AppointDeputy {
            branch_id: county.service,
            member_id: deputy,
        },
    )
    .await;
    let own = app
        .command(
            Some(&sec),
            "SignDualCard",
            body(sign(Side::Community, Rating::Excellent, service_sec)),
            None,
        )
        .await;
    assert_eq!(
        (own.status, &own.body["rule"]),
        (403, &json!("OwnCardNotSignable"))
    );
    app.submit(
        &app.secretary(county.service, deputy),
        sign(Side::Community, Rating::Qualified, service_sec),
    )
    .await;
    let (_, theirs) = app
        .get_as(&admin, &format!("/api/v1/cards/{service_sec}?year=2025"))
        .await;
    assert_eq!(
        (
            &theirs["community"]["signed"]["capacity"],
            &theirs["community"]["signed"]["signer_id"]
        ),
        (&json!("deputy"), &json!(deputy)),
        "{theirs}"
    );

    // The unit branch appraises, citing the head it saw; the committee overturns one.
    let basis = app.head().await.0;
    let appraisal = app
        .submit(
            &county.unit_secretary(),
            RecordAppraisal {
                member_id: member,
                year: year(2025),
                rating: Rating::Excellent,
                basis_position: basis,
                remarks: "democratic appraisal of 20 December".into(),
            },
        )
        .await;
    let at = appraisal["position"].as_u64().expect("position");
    let path = format!("/api/v1/assessments/{member}?year=2025&min_position={at}");
    let (status, assessment) = app.get_as(&admin, &path).await;
    assert_eq!(status, 200, "{assessment}");
    assert_eq!(assessment.get("outcome"), None, "{assessment}");
    assert_eq!(
        (
            &assessment["appraisal"]["rating"],
            &assessment["appraisal"]["settled"],
            &assessment["appraisal"]["basis_position"]
        ),
        (&json!("excellent"), &json!("recorded"), &json!(basis))
    );
    assert_eq!(assessment["card"]["stars"]["stars"], 4);
    let statements: Vec<&str> = assessment["disagreements"]
        .as_array()
        .expect("disagreements")
        .iter()
        .filter_map(|d| d["statement"].as_str())
        .collect();
    assert!(
        statements.contains(
            &"appraised excellent; service points 6.00 of the 60.00 the rules expect behind excellent"
        ),
        "{statements:?}"
    );
    assert!(
        statements
            .contains(&"appraised excellent; the unit side's opinion on the card is qualified"),
        "{statements:?}"
    );
    let beyond = app
        .command(
            Some(&county.unit_secretary()),
            "RecordAppraisal",
            json!({"member_id": service_sec, "year": 2025, "rating": "qualified", "basis_position": basis + 1000, "remarks": "appraised"}).to_string(),
            None,
        )
        .await;
    assert_eq!(
        (beyond.status, &beyond.body["rule"]),
        (422, &json!("BasisPositionUnknown"))
    );
    app.submit(
        &county.unit_secretary(),
        RecordAppraisal {
            member_id: service_sec,
            year: year(2025),
            rating: Rating::Qualified,
            basis_position: basis,
            remarks: "appraised".into(),
        },
    )
    .await;
    let overturned = app
        .submit(
            &admin,
            OverturnAppraisal {
                member_id: member,
                year: year(2025),
                rating: Rating::Qualified,
                reason: "six hours of service do not carry excellent".into(),
            },
        )
        .await["position"]
        .as_u64()
        .expect("position");
    let path = format!("/api/v1/assessments/{member}?year=2025&min_position={overturned}");
    let (_, assessment) = app.get_as(&admin, &path).await;
    assert_eq!(
        (
            &assessment["appraisal"]["rating"],
            &assessment["appraisal"]["settled"]
        ),
        (&json!("qualified"), &json!("overturned")),
        "{assessment}"
    );

    // Closing: the unit secretary, the outsider and the deputy have no appraisal.
    let close = |without: Value| json!({"year": 2025, "without_appraisal": without}).to_string();
    let refused = app
        .command(
            Some(&admin),
            "CloseYear",
            json!({"year": 2025}).to_string(),
            None,
        )
        .await;
    assert_eq!(
        (refused.status, &refused.body["rule"]),
        (422, &json!("MembersWithoutAppraisal")),
        "{}",
        refused.body
    );
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&unit_sec.to_string())),
        "{}",
        refused.body
    );
    // The unit secretary's own appraisal is recorded by a committee admin.
    app.submit(
        &admin,
        RecordAppraisal {
            member_id: unit_sec,
            year: year(2025),
            rating: Rating::Qualified,
            basis_position: basis,
            remarks: "by the committee, the secretary being the member".into(),
        },
    )
    .await;
    let closed = app
        .command(
            Some(&admin),
            "CloseYear",
            close(json!([outsider, deputy])),
            None,
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let late = app
        .command(
            Some(&county.unit_secretary()),
            "RecordAppraisal",
            json!({"member_id": outsider, "year": 2025, "rating": "qualified", "basis_position": basis, "remarks": "late"}).to_string(),
            None,
        )
        .await;
    assert_eq!(
        (late.status, &late.body["rule"]),
        (422, &json!("YearClosed"))
    );
    county.app.stop().await;
}

/// The figures the county reports, counted from what happened: person-times from the
/// verified hours and from the members who came to an activity, a campaign's
/// participants, a household visited and its concerns, anniversaries kept, meetings
/// against what the kind must hold — each with the positions behind it.
pub async fn the_countys_figures_count_person_times_campaigns_households_and_meetings(
    app: TestApp,
) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let admin = app.admin();
    let campaign = id(&app
        .submit(
            &admin,
            LaunchCampaign {
                campaign_id: None,
                name: "Reservoir resettlement".into(),
                kind: CampaignKind::Resettlement,
                starts_on: day("2026-05-01"),
                ends_on: day("2026-08-31"),
            },
        )
        .await);
    // Two verified entries for the campaign, one of them the service secretary's.
    for member in [county.member, county.service_sec] {
        let record = id(&app
            .submit(
                &app.member(member),
                LogServiceHours {
                    record_id: None,
                    member_id: member,
                    date: day("2026-06-02"),
                    hours: 3.0,
                    category: Category::ReservoirResettlement,
                    activity: "moving households".into(),
                    channel: None,
                    campaign_id: Some(campaign),
                    start_time: None,
                    organising_branch_id: None,
                },
            )
            .await);
        let verifier = if member == county.service_sec {
            admin.clone()
        } else {
            county.service_secretary()
        };
        app.submit(&verifier, VerifyServiceHours { record_id: record })
            .await;
    }
    // The service branch's clean-up: both its members came.
    let activity = app
        .submit(
            &county.service_secretary(),
            RecordBranchActivity {
                branch_id: county.service,
                date: day("2026-06-05"),
                topic: "Lane clean-up".into(),
                attendees: vec![county.member, county.service_sec],
            },
        )
        .await;
    // The unit branch's study meeting.
    app.submit(
        &county.unit_secretary(),
        RecordBranchMeeting {
            branch_id: county.unit,
            date: day("2026-06-06"),
            topic: "Study day".into(),
            attendees: vec![county.unit_sec, county.member],
        },
    )
    .await;
    // A 三九 household: paired with the member, visited, one concern raised and resolved,
    // another open.
    let household = id(&app
        .submit(
            &app.centre(),
            RegisterHousehold {
                household_id: None,
                address_area: "River Lane".into(),
                hardship: "elderly couple living alone".into(),
            },
        )
        .await);
    app.submit(
        &app.centre(),
        PairHousehold {
            household_id: household,
            cadre_id: county.member,
        },
    )
    .await;
    app.submit(
        &app.member(county.member),
        RecordVisit {
            household_id: household,
            date: day("2026-06-15"),
            notes: "checked the roof".into(),
        },
    )
    .await;
    // A concern's id is its command's, when the idempotency key is a UUID v7.
    let concern = Uuid::now_v7();
    let raised = app
        .command(
            Some(&app.member(county.member)),
            "RaiseConcern",
            json!({"household_id": household, "category": "housing", "description": "the roof leaks"})
                .to_string(),
            Some(&concern.to_string()),
        )
        .await;
    assert_eq!(raised.status, 200, "{}", raised.body);
    app.submit(
        &app.member(county.member),
        RaiseConcern {
            household_id: household,
            category: "housing".into(),
            description: "the stairs are loose".into(),
        },
    )
    .await;
    let last = app
        .submit(
            &app.centre(),
            ResolveConcern {
                household_id: household,
                concern_id: concern,
                resolution: "repaired by the township".into(),
            },
        )
        .await["position"]
        .as_u64()
        .expect("position");

    let path = format!("/api/v1/figures?year=2026&quarter=2&min_position={last}");
    let (status, _) = app.get(&path).await;
    assert_eq!(status, 401, "figures are for signed-in roles");
    let (status, f) = app.get_as(&app.member(county.member), &path).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["members_registered"], 3, "{f}");
    // Two entries and two attendances.
    assert_eq!(f["person_times"]["n"], 4, "{f}");
    let branch = |id: Uuid| {
        f["branches"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["branch_id"] == json!(id)))
            .cloned()
            .expect("the branch")
    };
    let service = branch(county.service);
    assert_eq!(service["person_times"]["n"], 4, "{service}");
    assert_eq!(
        (
            &service["activities"]["n"],
            &service["activities"]["evidence"][0]
        ),
        (&json!(1), &activity["position"]),
        "{service}"
    );
    let unit = branch(county.unit);
    assert_eq!(
        (&unit["meetings"]["n"], &unit["meetings_required"]),
        (&json!(1), &json!(12)),
        "{unit}"
    );
    assert_eq!(
        unit["person_times"]["n"], 2,
        "the unit members' entries: {unit}"
    );
    assert_eq!(f["campaigns"][0]["participants"], 2, "{f}");
    assert_eq!(f["campaigns"][0]["name"], "Reservoir resettlement");
    assert_eq!(f["households"]["visited"], 1, "{f}");
    assert_eq!(
        (
            &f["concerns"][0]["category"],
            &f["concerns"][0]["raised"]["n"],
            &f["concerns"][0]["open"]
        ),
        (&json!("housing"), &json!(2), &json!(1)),
        "{f}"
    );
    // Another quarter holds none of it.
    let (_, q3) = app
        .get_as(&admin, "/api/v1/figures?year=2026&quarter=3")
        .await;
    assert_eq!(q3["person_times"]["n"], 0, "{q3}");
    for (query, field) in [
        ("year=2026&quarter=5", "quarter"),
        ("year=2026&quarter=1&month=2", "quarter"),
        // A parameter the route does not take is refused by its name.
        ("year=2026&kind=unit", "kind"),
    ] {
        let (status, body) = app
            .get_as(&admin, &format!("/api/v1/figures?{query}"))
            .await;
        assert_eq!(
            (status, &body["errors"][0]["field"]),
            (400, &json!(field)),
            "{query}: {body}"
        );
    }
    county.app.stop().await;
}

pub async fn a_closed_year_refuses_new_hours(app: TestApp) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let member = app.member(county.member);
    app.submit(
        &member,
        hours(county.member, "2025-12-30", 3.0, "river clean-up"),
    )
    .await;
    let not_over = app
        .command(
            Some(&app.admin()),
            "CloseYear",
            json!({"year": 2026}).to_string(),
            None,
        )
        .await;
    assert_eq!(
        (not_over.status, &not_over.body["rule"]),
        (422, &json!("YearNotOver")),
        "a year is closed once it is over: {:?}",
        not_over.body
    );
    // Nobody was appraised for 2025: the committee closes it naming every member.
    let everyone = [county.unit_sec, county.service_sec, county.member];
    app.submit(
        &app.admin(),
        CloseYear {
            year: year(2025),
            without_appraisal: Some(everyone.to_vec()),
        },
    )
    .await;
    let before = app.head().await;
    let r = app
        .command(
            Some(&member),
            "LogServiceHours",
            body(hours(county.member, "2025-12-31", 3.0, "river clean-up")),
            None,
        )
        .await;
    assert_eq!(
        (r.status, &r.body["code"], &r.body["rule"]),
        (422, &json!("invalid"), &json!("YearClosed")),
        "{:?}",
        r.body
    );
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("2025 is closed")),
        "{:?}",
        r.body
    );
    assert_eq!(app.head().await, before);
    app.submit(
        &member,
        hours(county.member, "2026-01-02", 3.0, "river clean-up"),
    )
    .await;
    county.app.stop().await;
}

pub async fn a_claim_left_unfulfilled_is_released_once_by_the_schedulers_of_two_instances(
    app: TestApp,
) {
    let county = County::new(app, |_| {}).await;
    let other = county.app.another_instance().await;
    let app = &county.app;
    let wish = county.wish("A winter coat").await;
    app.submit(
        &app.member(county.member),
        ClaimWish {
            wish_id: wish,
            member_id: county.member,
        },
    )
    .await;
    // The rules give a claim 72 hours: three days pass without a delivery.
    app.clock.advance(Duration::from_secs(73 * 3600));
    eventually("the claim to expire", Duration::from_secs(30), || async {
        (app.count("WishClaimExpired").await == 1).then_some(())
    })
    .await;
    // Both schedulers saw the claim run out; the log holds one expiry, and the wish is open again.
    let again = app
        .submit(
            &app.member(county.member),
            ClaimWish {
                wish_id: wish,
                member_id: county.member,
            },
        )
        .await;
    assert_eq!(again["events"][0]["event_type"], "WishClaimed");
    assert_eq!(
        app.count("WishClaimExpired").await,
        1,
        "expired once, by one of the two instances"
    );
    let (_, stream) = app
        .get_as(&app.admin(), &format!("/api/v1/streams/wish-{wish}"))
        .await;
    let types: Vec<&str> = stream["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "WishPublished",
            "WishClaimed",
            "WishClaimExpired",
            "WishClaimed"
        ]
    );
    other.stop().await;
    county.app.stop().await;
}

/// A scheduler that starts on a log full of claims released long after they would have
/// run out sends no expiry while it catches up: it expires only what is still open once
/// it has followed the log to the head it found.
pub async fn a_scheduler_catching_up_sends_nothing_for_claims_closed_later_in_the_log(
    app: TestApp,
) {
    let county = County::new(app, |rules| {
        rules["wishes"]["max_open_claims"] = json!(20);
        rules["wishes"]["max_releases_per_day"] = json!(20);
    })
    .await;
    let app = &county.app;
    let member = app.member(county.member);
    let mut wishes = Vec::new();
    for i in 0..20 {
        let wish = county
            .wish(&format!("Coal for the winter, household {i}"))
            .await;
        let claim = ClaimWish {
            wish_id: wish,
            member_id: county.member,
        };
        app.submit(&member, claim).await;
        wishes.push(wish);
    }
    // A page of the log's tail (1,000 events) between the claims and their releases, so
    // the scheduler reads them apart.
    let admin = app.admin();
    futures::stream::iter(0..1_000)
        .map(|i| {
            let branch = RegisterBranch {
                branch_id: None,
                name: format!("Branch {i}"),
                kind: BranchKind::Unit,
                community: None,
            };
            app.submit(&admin, branch)
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    for wish in wishes {
        let release = ReleaseWish {
            wish_id: wish,
            member_id: county.member,
        };
        app.submit(&member, release).await;
    }
    // Every claim would have run out long ago, had it not been released.
    app.clock.advance(Duration::from_secs(100 * 3600));
    let head = app.head().await.0;
    let late = app.another_instance().await;
    eventually(
        "the new scheduler to catch up",
        Duration::from_secs(30),
        || async {
            let metrics = late.metrics().await;
            let position = metrics
                .lines()
                .find_map(|l| l.strip_prefix("allweather_expiry_scheduler_position "))
                .and_then(|v| v.trim().parse::<u64>().ok())?;
            (position >= head).then_some(metrics)
        },
    )
    .await;
    let metrics = late.metrics().await;
    let expiries: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("command=\"ExpireClaim\""))
        .collect();
    assert_eq!(expiries, Vec::<&str>::new(), "no expiry was sent");
    assert_eq!(app.head().await.0, head, "nothing was appended");
    late.stop().await;
    county.app.stop().await;
}

/// Claiming a wish to be shown its beneficiary and giving it back, again and again, is
/// how a person's details would be harvested: each showing is on record, the releases of
/// a day are bounded by the rules, and the pattern is flagged to the committee.
pub async fn claiming_to_read_details_and_giving_back_is_bounded_and_flagged(app: TestApp) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let member = app.member(county.member);
    let mut last = 0;
    for i in 0..3 {
        let wish = county.wish(&format!("A warm coat, household {i}")).await;
        let claim = ClaimWish {
            wish_id: wish,
            member_id: county.member,
        };
        app.submit(&member, claim).await;
        let (status, shown) = app
            .get_as(&member, &format!("/api/v1/wishes/{wish}/beneficiary"))
            .await;
        assert_eq!(status, 200, "{shown}");
        let release = ReleaseWish {
            wish_id: wish,
            member_id: county.member,
        };
        last = app.submit(&member, release).await["position"]
            .as_u64()
            .expect("position");
    }
    // A fourth release the same day is refused by the rules.
    let wish = county.wish("A warm coat, household 3").await;
    let claim = ClaimWish {
        wish_id: wish,
        member_id: county.member,
    };
    app.submit(&member, claim).await;
    let release = json!({"wish_id": wish, "member_id": county.member}).to_string();
    let refused = app
        .command(Some(&member), "ReleaseWish", release, None)
        .await;
    assert_eq!(
        (refused.status, &refused.body["rule"]),
        (422, &json!("ReleaseLimitReached")),
        "{:?}",
        refused.body
    );
    let path = format!("/api/v1/integrity/flags?year=2026&min_position={last}");
    let (status, flags) = app.get_as(&app.admin(), &path).await;
    assert_eq!(status, 200, "{flags}");
    let harvesting: Vec<&Value> = flags["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter(|f| f["kind"] == "read_then_released")
        .collect();
    assert_eq!(harvesting.len(), 1, "{flags}");
    assert_eq!(harvesting[0]["subject"], county.member.to_string());
    assert_eq!(
        harvesting[0]["evidence"].as_array().map(Vec::len),
        Some(6),
        "each release with the showing before it: {flags}"
    );
    county.app.stop().await;
}

pub async fn the_volunteer_leaderboard_counts_verified_hours_and_answers_after_the_command(
    app: TestApp,
) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let other = county.register("Zhao Lei", "2016-08-08").await;
    county.assign(other).await;
    let mut last = 0;
    for (member, date, h, category, verify) in [
        (county.member, "2026-06-01", 2.0, Category::Festival, true),
        (
            county.member,
            "2026-06-02",
            1.5,
            Category::CommunityService,
            true,
        ),
        (county.member, "2026-06-03", 4.0, Category::Cleanup, false),
        (other, "2026-04-10", 3.5, Category::CommunityService, true),
    ] {
        let logged = LogServiceHours {
            category,
            ..hours(member, date, h, &format!("service on {date}"))
        };
        let record = id(&app.submit(&app.member(member), logged).await);
        if verify {
            let verified = app
                .submit(
                    &county.service_secretary(),
                    VerifyServiceHours { record_id: record },
                )
                .await;
            last = verified["position"].as_u64().expect("position");
        }
    }
    // The reply's position is the consistency token: the board answers once it has applied it.
    let (status, board) = app
        .get(&format!(
            "/api/v1/leaderboards/volunteers?year=2026&min_position={last}"
        ))
        .await;
    assert_eq!(status, 200, "{board}");
    assert!(
        board["position"].as_u64().is_some_and(|p| p >= last),
        "{board}"
    );
    let entries: Vec<(String, i64, i64)> = board["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["member_id"].as_str().expect("member").to_owned(),
                e["minutes"].as_i64().expect("minutes"),
                e["points_hundredths"].as_i64().expect("points"),
            )
        })
        .collect();
    // 2 h festival at 1.5 points an hour and 1.5 h community service at 1: 210 minutes, 450
    // hundredths; the unverified 4 h do not count. The other member: 3.5 h at 1 point.
    assert_eq!(
        entries,
        [
            (county.member.to_string(), 210, 450),
            (other.to_string(), 210, 350)
        ],
        "equal minutes: the tie is broken by member id: {board}"
    );
    let (_, q2) = app
        .get("/api/v1/leaderboards/volunteers?year=2026&quarter=2&category=festival")
        .await;
    assert_eq!(q2["entries"].as_array().map(Vec::len), Some(1), "{q2}");
    let (_, april) = app
        .get("/api/v1/leaderboards/volunteers?year=2026&month=4")
        .await;
    assert_eq!(april["entries"][0]["member_id"], json!(other), "{april}");
    for (query, status) in [
        ("year=2026&quarter=5", 400),
        ("year=2026&quarter=1&month=1", 400),
        ("year=2026&colour=red", 400),
        ("year=2026&category=knitting", 400),
        ("year=2026&limit=0", 400),
        ("year=1800", 400),
        (&format!("year=2026&min_position={}", last + 1_000)[..], 503),
    ] {
        let (got, body) = app
            .get(&format!("/api/v1/leaderboards/volunteers?{query}"))
            .await;
        assert_eq!(got, status, "{query}: {body}");
    }
    county.app.stop().await;
}

pub async fn the_leaderboard_is_shown_as_the_years_rules_say(app: TestApp) {
    let county = County::new(app, |rules| {
        rules["leaderboard"]["visibility"] = json!("members_only")
    })
    .await;
    let app = &county.app;
    let head = app.head().await.0;
    let path = format!("/api/v1/leaderboards/volunteers?year=2026&min_position={head}");
    let anonymous = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401, "members only: a token is needed");
    let member = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(app.member(county.member))
        .send()
        .await
        .expect("get");
    assert_eq!(member.status(), 200);
    app.adopt_rules(|rules| rules["leaderboard"]["visibility"] = json!("off"))
        .await;
    let head = app.head().await.0;
    let path = format!("/api/v1/leaderboards/volunteers?year=2026&min_position={head}");
    // The board waits for the rules' event before judging who may look.
    let (status, _) = app.get(&path).await;
    assert!(
        status == 403 || status == 401,
        "off: not for the public ({status})"
    );
    let member = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(app.member(county.member))
        .send()
        .await
        .expect("get");
    assert_eq!(member.status(), 403, "off: not for members");
    let admin = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(app.admin())
        .send()
        .await
        .expect("get");
    assert_eq!(admin.status(), 200, "off: the committee still sees it");
    county.app.stop().await;
}

pub async fn the_wish_board_shows_where_wishes_stand_and_never_who_they_are_for(app: TestApp) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let coat = county.wish("A winter coat").await;
    county.wish("Mooncakes").await;
    let claimed = app
        .submit(
            &app.member(county.member),
            ClaimWish {
                wish_id: coat,
                member_id: county.member,
            },
        )
        .await;
    let position = claimed["position"].as_u64().expect("position");
    let (status, board) = app
        .get(&format!(
            "/api/v1/wishes?status=claimed&min_position={position}"
        ))
        .await;
    assert_eq!(status, 200, "{board}");
    assert_eq!(board["wishes"].as_array().map(Vec::len), Some(1), "{board}");
    assert_eq!(board["wishes"][0]["wish_id"], json!(coat));
    assert_eq!(board["wishes"][0]["claimed_by"], json!(county.member));
    let (_, all) = app.get("/api/v1/wishes").await;
    assert_eq!(all["wishes"].as_array().map(Vec::len), Some(2), "{all}");
    assert!(
        !all.to_string().contains("Grandma Zhao"),
        "the beneficiary is never shown: {all}"
    );
    let (_, timings) = app
        .get(&format!(
            "/api/v1/wishes/timings?year=2026&min_position={position}"
        ))
        .await;
    assert_eq!(timings["timings"][0]["to_claim"]["count"], 1, "{timings}");
    assert_eq!(timings["timings"][0]["month"], "2026-06", "{timings}");
    let (bad, _) = app.get("/api/v1/wishes?status=lost").await;
    assert_eq!(bad, 400);
    county.app.stop().await;
}

pub async fn integrity_flags_name_long_days_overlaps_bulk_entries_and_self_verification(
    app: TestApp,
) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let admin = app.admin();
    let entry =
        |member: Uuid, date: &str, h: f64, activity: &str, start: Option<&str>| LogServiceHours {
            start_time: start.map(|t| t.parse().expect("a time")),
            ..hours(member, date, h, activity)
        };
    // A long day in two entries that overlap in time.
    let first = app
        .submit(
            &admin,
            entry(
                county.member,
                "2026-06-01",
                5.0,
                "flood watch",
                Some("08:00"),
            ),
        )
        .await;
    let second = app
        .submit(
            &admin,
            entry(county.member, "2026-06-01", 4.0, "sandbags", Some("12:00")),
        )
        .await;
    // Five members entered for one clean-up by its organising branch's secretary — a
    // mass event's own record, not flagged — one verified by the secretary who entered it.
    let mut bulk = Vec::new();
    let mut cleaners = Vec::new();
    for i in 0..5 {
        let member = county.register(&format!("Cleaner {i}"), "2018-01-01").await;
        county.assign(member).await;
        cleaners.push(member);
        let logged = app
            .submit(
                &county.service_secretary(),
                entry(member, "2026-06-02", 2.0, "River clean-up", None),
            )
            .await;
        bulk.push(logged);
    }
    // The same five each self-report one look-alike activity on one day: flagged.
    let mut alike = Vec::new();
    for member in &cleaners {
        let logged = app
            .submit(
                &app.member(*member),
                entry(*member, "2026-06-03", 1.0, "Lane sweeping", None),
            )
            .await;
        alike.push(logged);
    }
    let own = id(&bulk[0]);
    let verified = app
        .submit(
            &county.service_secretary(),
            VerifyServiceHours { record_id: own },
        )
        .await;
    let last = verified["position"].as_u64().expect("position");

    let path = format!("/api/v1/integrity/flags?year=2026&min_position={last}");
    let (forbidden, _) = app.get_as(&app.member(county.member), &path).await;
    assert_eq!(forbidden, 403, "flags are for the committee and auditors");
    let (status, body) = app.get_as(&admin, &path).await;
    assert_eq!(status, 200, "{body}");
    let kinds: Vec<&str> = body["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "bulk_same_activity",
            "over_8_hours_a_day",
            "overlapping_entries",
            "verified_own_entry"
        ],
        "{body}"
    );
    let position = |reply: &Value| reply["position"].as_u64().expect("position");
    let flag = |kind: &str| {
        body["flags"]
            .as_array()
            .expect("flags")
            .iter()
            .find(|f| f["kind"] == kind)
            .cloned()
            .expect("flag")
    };
    let evidence = |kind: &str| -> Vec<u64> {
        flag(kind)["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .filter_map(Value::as_u64)
            .collect()
    };
    // Each flag points at the events behind it: the positions of the logged entries (the
    // first event of each reply).
    assert_eq!(
        evidence("over_8_hours_a_day"),
        [position(&first) - 1, position(&second) - 1]
    );
    assert_eq!(
        evidence("overlapping_entries"),
        [position(&first) - 1, position(&second) - 1]
    );
    // Only the look-alike self-reports: the organiser's record of the clean-up is not.
    assert_eq!(
        evidence("bulk_same_activity"),
        alike.iter().map(|a| position(a) - 1).collect::<Vec<_>>()
    );
    assert_eq!(flag("bulk_same_activity")["date"], "2026-06-03");
    assert_eq!(
        evidence("verified_own_entry"),
        [position(&bulk[0]) - 1, last]
    );
    county.app.stop().await;
}

fn criterion<'a>(assessment: &'a Value, name: &str) -> &'a Value {
    assessment["criteria"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no criterion {name} in {assessment}"))
}

pub async fn a_members_assessment_shows_each_criterion_with_its_evidence_now_and_as_of_before(
    app: TestApp,
) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let member = county.member;
    let mut verified = Vec::new();
    for date in ["2026-06-01", "2026-06-02"] {
        // Ten hours of central work at two points an hour: 20 points each.
        let logged = LogServiceHours {
            category: Category::CentralWork,
            ..hours(member, date, 10.0, "water treatment works")
        };
        let record = id(&app.submit(&app.member(member), logged).await);
        let reply = app
            .submit(&app.admin(), VerifyServiceHours { record_id: record })
            .await;
        verified.push(reply["position"].as_u64().expect("position"));
    }
    app.submit(
        &app.member(member),
        ObserveAnniversary {
            member_id: member,
            year: year(2026),
            reflection: "sixteen years since I took the oath at the reservoir".into(),
        },
    )
    .await;
    app.submit(
        &county.unit_secretary(),
        IssueDualCard {
            member_id: Some(member),
            year: year(2026),
            all_members: None,
        },
    )
    .await;
    app.submit(
        &app.centre(),
        RecordCommunityFeedback {
            member_id: member,
            year: year(2026),
            quarter: 2,
            note: "ran the street's water checks".into(),
        },
    )
    .await;
    let sign = |side, opinion| SignDualCard {
        member_id: member,
        year: year(2026),
        side,
        opinion,
        remarks: "steady".into(),
    };
    app.submit(
        &county.service_secretary(),
        sign(Side::Community, Rating::Excellent),
    )
    .await;
    let last = app
        .submit(
            &county.unit_secretary(),
            sign(Side::Unit, Rating::Qualified),
        )
        .await["position"]
        .as_u64()
        .expect("position");

    let path = format!("/api/v1/assessments/{member}?year=2026");
    let (status, now) = app
        .get_as(&app.admin(), &format!("{path}&min_position={last}"))
        .await;
    assert_eq!(status, 200, "{now}");
    assert_eq!(now["position"], last, "{now}");
    // The system rates no one: the card's two opinions stand as written, and where
    // one is not borne out by the evidence it says so.
    assert_eq!(now.get("outcome"), None, "{now}");
    assert_eq!(now["complete"], true, "{now}");
    assert_eq!(
        (
            &now["card"]["community"]["opinion"],
            &now["card"]["unit"]["opinion"]
        ),
        (&json!("excellent"), &json!("qualified")),
        "{now}"
    );
    assert_eq!(
        now["disagreements"][0]["statement"],
        "community side's opinion excellent; service points 40.00 of the 60.00 the rules expect behind excellent",
        "{now}"
    );
    let points = criterion(&now, "service_points");
    assert_eq!(
        (&points["value"], &points["required"], &points["passed"]),
        (&json!(40.0), &json!(40.0), &json!(true))
    );
    let evidence: Vec<u64> = serde_json::from_value(points["evidence"].clone()).expect("positions");
    assert!(
        verified.iter().all(|p| evidence.contains(p)),
        "{evidence:?} holds the verifications {verified:?}"
    );
    assert_eq!(criterion(&now, "anniversary")["passed"], true);
    assert_eq!(criterion(&now, "community_feedback")["passed"], true);

    // As of just before the second verification: 20 points, no card yet.
    let (status, before) = app
        .get_as(
            &app.admin(),
            &format!("{path}&as_of_position={}", verified[1] - 1),
        )
        .await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["position"], verified[1] - 1);
    assert_eq!(before["complete"], false, "{before}");
    assert_eq!(before["card"]["unit"], Value::Null, "{before}");
    assert_eq!(criterion(&before, "service_points")["value"], 20.0);
    // As of a county day: the day before anything happened had no rules yet.
    let (status, body) = app
        .get_as(&app.admin(), &format!("{path}&as_of=2026-06-14"))
        .await;
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    let (status, today) = app
        .get_as(&app.admin(), &format!("{path}&as_of=2026-06-15"))
        .await;
    assert_eq!(status, 200, "{today}");
    assert_eq!(today["criteria"], now["criteria"]);

    // Who may read it.
    for (token, expected) in [
        (app.member(member), 200),
        (county.unit_secretary(), 200),
        (county.service_secretary(), 200),
        (app.member(county.unit_sec), 403),
        (app.centre(), 403),
    ] {
        let (status, body) = app.get_as(&token, &path).await;
        assert_eq!(status, expected, "{body}");
    }
    let (status, _) = app.get(&path).await;
    assert_eq!(status, 401);
    county.app.stop().await;
}

pub async fn branches_are_ranked_by_the_years_weights_and_bad_queries_are_refused(app: TestApp) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    let logged = LogServiceHours {
        category: Category::Cleanup,
        ..hours(county.member, "2026-06-01", 3.0, "river bank")
    };
    let record = id(&app.submit(&app.member(county.member), logged).await);
    app.submit(
        &county.service_secretary(),
        VerifyServiceHours { record_id: record },
    )
    .await;
    let quiz = RecordQuizResult {
        branch_id: county.unit,
        year: year(2026),
        contestant_id: county.unit_sec,
        score: 90,
    };
    let last = app.submit(&app.admin(), quiz).await["position"]
        .as_u64()
        .expect("position");
    let (status, ranking) = app
        .get(&format!(
            "/api/v1/rankings/branches?year=2026&min_position={last}"
        ))
        .await;
    assert_eq!(status, 200, "{ranking}");
    let branches = ranking["branches"].as_array().expect("branches");
    // Each branch is ranked among its own kind (first of its kind, both). The unit
    // branch has three members, one serving (hours per member 1, participation 1/3) and
    // the quiz: 25·1 + 20·(1/3) + 15·0.9 = 45.16. The service branch two, one serving
    // (1.5 h per member, participation 1/2); the quiz is the unit branches' contest, so
    // its score is over the other 85 points of weight: (25 + 10) / 0.85 = 41.17.
    let scores: Vec<(&Value, &Value, &Value)> = branches
        .iter()
        .map(|b| (&b["rank"], &b["branch_id"], &b["score"]))
        .collect();
    assert_eq!(
        scores,
        [
            (&json!(1), &json!(county.unit.to_string()), &json!(45.16)),
            (&json!(1), &json!(county.service.to_string()), &json!(41.17)),
        ],
        "{ranking}"
    );
    let (_, only) = app
        .get("/api/v1/rankings/branches?year=2026&kind=service")
        .await;
    assert_eq!(only["branches"].as_array().map(Vec::len), Some(1), "{only}");
    let (_, none) = app.get("/api/v1/rankings/branches?year=2027").await;
    assert_eq!(
        none["code"], "not_found",
        "no rules adopted for 2027: {none}"
    );
    for (query, field) in [
        ("year=1999", "year"),
        ("year=2026&kind=village", "kind"),
        ("year=2026&as_of=2026-06-01&as_of_position=3", "as_of"),
        ("year=2026&as_of_position=0", "as_of_position"),
        ("year=2026&as_of=yesterday", "as_of"),
        ("year=2026&colour=red", "colour"),
    ] {
        let (status, body) = app.get(&format!("/api/v1/rankings/branches?{query}")).await;
        assert_eq!(
            (status, &body["code"]),
            (400, &json!("malformed")),
            "{query}: {body}"
        );
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    // A position the log has not reached is well-formed: there is nothing there.
    let (status, body) = app
        .get_as(
            &app.admin(),
            "/api/v1/rankings/branches?year=2026&as_of_position=999999",
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    county.app.stop().await;
}

/// How many scorecards the service has replayed for as-of queries.
async fn asof_replays(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("allweather_asof_replays_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no allweather_asof_replays_total in:\n{text}"))
}

/// The rankings are public and an as-of query costs a replay of the log: only the signed
/// in may ask for one, and a point once replayed is answered from the kept replay — also
/// to many callers at once — for as long as it is what a new replay would give.
pub async fn an_as_of_ranking_is_replayed_once_and_answered_from_the_kept_replay_until_the_log_moves(
    app: TestApp,
) {
    let county = County::new(app, |_| {}).await;
    let app = &county.app;
    // Logs three hours on `date`; returns the reply's position.
    let log_hours = async |date: &str| {
        let logged = LogServiceHours {
            category: Category::Cleanup,
            ..hours(county.member, date, 3.0, "river bank")
        };
        app.submit(&app.member(county.member), logged).await["position"]
            .as_u64()
            .expect("position")
    };
    let first = log_hours("2026-06-01").await;
    assert_eq!(asof_replays(app).await, 0);

    // A replay is for the signed in; the anonymous read the rankings live.
    let at = format!("/api/v1/rankings/branches?year=2026&as_of_position={first}");
    let (status, body) = app.get(&at).await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("unauthenticated")),
        "{body}"
    );
    // A past position never changes: eight callers at once, then one more, one replay.
    let callers: Vec<String> = (0..8).map(|_| app.member(Uuid::now_v7())).collect();
    let answers = futures::future::join_all(callers.iter().map(|c| app.get_as(c, &at))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body, &answers[0].1);
        assert_eq!(body["position"], first, "{body}");
    }
    let caller = &callers[0];
    assert_eq!(app.get_as(caller, &at).await.1, answers[0].1);
    assert_eq!(asof_replays(app).await, 1);

    // A day not yet over holds while the log stands still, and is replayed once it moves.
    let to_come = "/api/v1/rankings/branches?year=2026&as_of=2099-12-31";
    let (status, before) = app.get_as(caller, to_come).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["position"], first, "{before}");
    assert_eq!(app.get_as(caller, to_come).await.1, before);
    assert_eq!(asof_replays(app).await, 2);
    let second = log_hours("2026-06-02").await;
    let (status, after) = app.get_as(caller, to_come).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["position"], second, "{after}");
    assert_eq!(asof_replays(app).await, 3);
    // The past position is still answered from what was kept.
    assert_eq!(app.get_as(caller, &at).await.1, answers[0].1);
    assert_eq!(asof_replays(app).await, 3);
    county.app.stop().await;
}
