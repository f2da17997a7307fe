//! The rules of the programme, one given / when / then each, allowed and refused, on a
//! small county built through `decide` itself; a refusal must leave the world unchanged.

use crate::Command as C;
use crate::command::*;
use crate::error::{DomainError, Rule};
use crate::event::Event;
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

fn record_of(d: &crate::Decision) -> Uuid {
    d.id().parse().expect("record id")
}

// ---- Branches -------------------------------------------------------------------

#[test]
fn a_branch_is_registered_by_a_committee_admin_only() {
    let mut s = Scene::county();
    let cmd = C::RegisterBranch(RegisterBranch {
        branch_id: None,
        name: "Finance Bureau".into(),
        kind: BranchKind::Unit,
        community: None,
    });
    s.when(secretary(s.unit, s.unit_sec), cmd.clone())
        .then_refused(Rule::RoleNotPermitted);
    s.when(admin(), cmd).then_emits(&["BranchRegistered"]);
}

#[test]
fn a_branch_id_is_registered_once() {
    let mut s = Scene::county();
    let cmd = C::RegisterBranch(RegisterBranch {
        branch_id: Some(s.unit),
        name: "again".into(),
        kind: BranchKind::Unit,
        community: None,
    });
    s.when(admin(), cmd).then_refused(Rule::AlreadyExists);
}

#[test]
fn meetings_are_dated_and_not_in_the_future() {
    let mut s = Scene::county();
    let (unit, came) = (s.unit, vec![s.unit_sec, s.a]);
    let meeting = move |d| {
        C::RecordBranchMeeting(RecordBranchMeeting {
            branch_id: unit,
            date: d,
            topic: "study".into(),
            attendees: came.clone(),
        })
    };
    let tomorrow = today().checked_add_days(Days::new(1)).expect("date");
    s.when(secretary(s.unit, s.unit_sec), meeting(tomorrow))
        .then_refused(Rule::DateInFuture);
    s.when(secretary(s.unit, s.unit_sec), meeting(today()))
        .then_emits(&["BranchMeetingRecorded"]);
}

#[test]
fn only_the_branch_secretary_records_its_activities() {
    let mut s = Scene::county();
    let activity = C::RecordBranchActivity(RecordBranchActivity {
        branch_id: s.unit,
        date: today(),
        topic: "clean-up".into(),
        attendees: vec![s.a],
    });
    s.when(secretary(s.service, s.service_sec), activity.clone())
        .then_refused(Rule::NotTheBranchSecretary);
    s.when(member(s.a), activity.clone())
        .then_refused(Rule::NotTheBranchSecretary);
    s.when(secretary(s.unit, s.unit_sec), activity)
        .then_emits(&["BranchActivityRecorded"]);
}

#[test]
fn a_secretary_token_stops_working_when_another_member_is_appointed() {
    let mut s = Scene::county();
    let old = secretary(s.unit, s.unit_sec);
    s.ok(
        admin(),
        C::AppointSecretary(AppointSecretary {
            branch_id: s.unit,
            member_id: s.a,
        }),
    );
    let meeting = C::RecordBranchMeeting(RecordBranchMeeting {
        branch_id: s.unit,
        date: today(),
        topic: "study".into(),
        attendees: vec![],
    });
    s.when(old, meeting)
        .then_refused(Rule::NotTheBranchSecretary);
}

#[test]
fn one_quiz_result_per_branch_year() {
    let mut s = Scene::county();
    let quiz = C::RecordQuizResult(RecordQuizResult {
        branch_id: s.unit,
        year: year(2026),
        contestant_id: s.a,
        score: 92,
    });
    s.when(admin(), quiz.clone())
        .then_emits(&["QuizResultRecorded"]);
    s.when(admin(), quiz)
        .then_refused(Rule::QuizAlreadyRecorded);
}

#[test]
fn a_quiz_score_is_0_to_100() {
    let mut s = Scene::county();
    let (unit, a) = (s.unit, s.a);
    let quiz = move |score| {
        C::RecordQuizResult(RecordQuizResult {
            branch_id: unit,
            year: year(2026),
            contestant_id: a,
            score,
        })
    };
    let e = s.when(admin(), quiz(101)).then_refused(Rule::OutOfRange);
    assert_eq!(e.field, Some("score"));
    s.when(admin(), quiz(100))
        .then_emits(&["QuizResultRecorded"]);
}

#[test]
fn the_quiz_contestant_is_a_member_of_the_branch() {
    let mut s = Scene::county();
    let other = s.branch("Tax Bureau", "unit");
    let outsider = s.member_of(other, "2015-01-01");
    let unit = s.unit;
    let quiz = move |c| {
        C::RecordQuizResult(RecordQuizResult {
            branch_id: unit,
            year: year(2026),
            contestant_id: c,
            score: 80,
        })
    };
    s.when(admin(), quiz(outsider))
        .then_refused(Rule::NotABranchMember);
    s.when(admin(), quiz(s.a))
        .then_emits(&["QuizResultRecorded"]);
}

// ---- Members --------------------------------------------------------------------

#[test]
fn a_member_is_registered_by_the_unit_branch_secretary_into_a_unit_branch() {
    let mut s = Scene::county();
    let register = |b| {
        C::RegisterMember(RegisterMember {
            member_id: None,
            name: "Li Hua".into(),
            unit_branch_id: b,
            joined_on: date("2012-07-01"),
        })
    };
    s.when(secretary(s.unit, s.unit_sec), register(s.service))
        .then_refused(Rule::NotTheBranchSecretary);
    s.when(secretary(s.service, s.service_sec), register(s.service))
        .then_refused(Rule::WrongBranchKind);
    s.when(secretary(s.unit, s.unit_sec), register(s.unit))
        .then_emits(&["MemberRegistered"]);
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
    .then_emits(&["ServiceBranchAssigned"]);
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
    s.when(member(s.a), observe(s.a))
        .then_emits(&["AnniversaryObserved"]);
}

#[test]
fn the_anniversary_is_observed_once_a_year() {
    let mut s = Scene::county();
    let observe = C::ObserveAnniversary(ObserveAnniversary {
        member_id: s.a,
        year: year(2026),
        reflection: "I renewed my oath and visited two families in need this month.".into(),
    });
    s.when(member(s.a), observe.clone())
        .then_emits(&["AnniversaryObserved"]);
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

// ---- Dual cards -----------------------------------------------------------------

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

fn feedback(m: Uuid, quarter: u32) -> C {
    C::RecordCommunityFeedback(RecordCommunityFeedback {
        member_id: m,
        year: year(2026),
        quarter,
        note: "helps neighbours".into(),
    })
}

#[test]
fn one_dual_card_per_member_year() {
    let mut s = Scene::county();
    let issue = C::IssueDualCard(IssueDualCard {
        member_id: Some(s.a),
        year: year(2026),
        all_members: None,
    });
    s.when(secretary(s.unit, s.unit_sec), issue.clone())
        .then_emits(&["DualCardIssued"]);
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
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(s.a, Side::Unit, Rating::BasicallyQualified),
    )
    .then_emits(&["DualCardSigned"]);
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
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(s.service_sec, Side::Unit, Rating::Unqualified),
    )
    .then_emits(&["DualCardSigned"]);
}

#[test]
fn a_card_is_complete_when_both_sides_are_signed() {
    let mut s = Scene::county();
    let a = s.a;
    card(&mut s, a);
    s.ok(secretary(s.service, s.service_sec), feedback(s.a, 1));
    s.when(
        secretary(s.service, s.service_sec),
        sign(s.a, Side::Community, Rating::Excellent),
    )
    .then_emits(&["DualCardSigned"]);
    let d = s
        .when(
            secretary(s.unit, s.unit_sec),
            sign(s.a, Side::Unit, Rating::Qualified),
        )
        .then_emits(&["DualCardSigned", "DualCardCompleted"]);
    // The card carries the two opinions people wrote, and no rating of its own.
    assert_eq!(
        d.events().last(),
        Some(&Event::DualCardCompleted(
            crate::event::DualCardCompleted {}
        ))
    );
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
    s.when(
        secretary(s.unit, s.unit_sec),
        sign(s.a, Side::Unit, Rating::Excellent),
    )
    .then_emits(&["DualCardSigned"]);
    s.when(centre(), feedback(s.a, 2))
        .then_emits(&["CommunityFeedbackRecorded"]);
    s.when(centre(), feedback(s.a, 2))
        .then_refused(Rule::FeedbackAlreadyRecorded);
    s.when(centre(), feedback(s.a, 5))
        .then_refused(Rule::OutOfRange);
}

// ---- Wishes ---------------------------------------------------------------------

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

#[test]
fn of_a_claim_storm_exactly_one_wins_and_the_rest_conflict() {
    let mut s = Scene::county();
    let w = wish(&mut s);
    let claimers: Vec<Uuid> = (0..5).map(|_| s.member_of(s.unit, "2015-01-01")).collect();
    s.when(member(claimers[0]), claim(w, claimers[0]))
        .then_emits(&["WishClaimed", "ClaimOpened"]);
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
    s.when(member(s.a), claim(wishes[3], s.a))
        .then_emits(&["WishClaimed", "ClaimOpened"]);
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
    s.when(secretary(s.service, s.service_sec), fulfil)
        .then_emits(&["WishFulfilled", "ClaimClosed"]);
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
    s.when(system(), expire.clone())
        .then_emits(&["WishClaimExpired", "ClaimClosed"]);
    s.when(system(), expire).then_refused(Rule::WishNotClaimed);
    s.when(member(s.a), claim(w, s.a))
        .then_emits(&["WishClaimed", "ClaimOpened"]);
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
    s.when(centre(), confirm).then_emits(&["WishConfirmed"]);
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

// ---- Beneficiaries --------------------------------------------------------------

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
    let d = s
        .when(admin(), erase(person))
        .then_emits(&["BeneficiaryErased"]);
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
    s.when(admin(), erase(person))
        .then_emits(&["BeneficiaryErased"]);
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

// ---- Service hours --------------------------------------------------------------

#[test]
fn an_entry_is_more_than_0_and_at_most_12_hours_in_whole_minutes() {
    let mut s = Scene::county();
    for bad in [0.0, -1.0, 12.5, 1.001] {
        let e = s
            .when(member(s.a), hours(s.a, "2026-06-10", bad, "visit"))
            .then_refused(Rule::HoursOutOfRange);
        assert_eq!(e.field, Some("hours"), "case {bad}");
    }
    let d = s
        .when(member(s.a), hours(s.a, "2026-06-10", 1.5, "visit"))
        .then_emits(&["ServiceHoursLogged", "ServiceDayBooked"]);
    assert!(
        matches!(d.events().next(), Some(crate::Event::ServiceHoursLogged(e)) if e.minutes == 90 && e.channel == Channel::SelfReported)
    );
}

#[test]
fn a_member_day_holds_at_most_24_hours_across_entries() {
    let mut s = Scene::county();
    s.ok(admin(), hours(s.a, "2026-06-10", 12.0, "flood watch"));
    s.ok(admin(), hours(s.a, "2026-06-10", 11.5, "night patrol"));
    s.when(admin(), hours(s.a, "2026-06-10", 1.0, "tea"))
        .then_refused(Rule::HoursExceedDailyLimit);
    s.when(admin(), hours(s.a, "2026-06-10", 0.5, "tea"))
        .then_emits(&["ServiceHoursLogged", "ServiceDayBooked"]);
    s.when(admin(), hours(s.a, "2026-06-11", 1.0, "tea"))
        .then_emits(&["ServiceHoursLogged", "ServiceDayBooked"]);
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
    s.when(
        member(s.a),
        hours(s.a, "2026-06-09", 1.0, "Street clean-up"),
    )
    .then_emits(&["ServiceHoursLogged", "ServiceDayBooked"]);
}

#[test]
fn service_dates_are_not_in_the_future() {
    let mut s = Scene::county();
    s.when(member(s.a), hours(s.a, "2026-06-16", 2.0, "visit"))
        .then_refused(Rule::DateInFuture);
}

fn close(year: i32, without: &[Uuid]) -> C {
    C::CloseYear(CloseYear {
        year: crate::testing::year(i64::from(year)),
        without_appraisal: (!without.is_empty()).then(|| without.to_vec()),
    })
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
    s.when(member(s.a), hours(s.a, "2026-01-02", 2.0, "visit"))
        .then_emits(&["ServiceHoursLogged", "ServiceDayBooked"]);
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
    s.when(secretary(s.service, s.service_sec), verify.clone())
        .then_emits(&["ServiceHoursVerified"]);
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
        .then_emits(&["ServiceHoursVerified"]);
}

#[test]
fn rejected_hours_free_their_member_day() {
    let mut s = Scene::county();
    let d = s.ok(admin(), hours(s.a, "2026-06-10", 12.0, "flood watch"));
    s.ok(admin(), hours(s.a, "2026-06-10", 12.0, "night patrol"));
    s.when(admin(), hours(s.a, "2026-06-10", 1.0, "tea"))
        .then_refused(Rule::HoursExceedDailyLimit);
    s.when(
        admin(),
        C::RejectServiceHours(RejectServiceHours {
            record_id: record_of(&d),
            reason: "no sign-in sheet".into(),
        }),
    )
    .then_emits(&["ServiceHoursRejected", "ServiceDayReleased"]);
    s.when(admin(), hours(s.a, "2026-06-10", 1.0, "tea"))
        .then_emits(&["ServiceHoursLogged", "ServiceDayBooked"]);
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
    s.when(member(s.a), request.clone())
        .then_emits(&["CorrectionRequested"]);
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
    let d = s
        .when(secretary(s.service, s.service_sec), apply)
        .then_emits(&[
            "CorrectionApplied",
            "ServiceDayReleased",
            "ServiceDayBooked",
        ]);
    match d.events().next() {
        Some(crate::Event::CorrectionApplied(c)) => {
            assert_eq!((c.before.minutes, c.before.date), (180, date("2026-06-10")));
            assert_eq!((c.after.minutes, c.after.date), (120, date("2026-06-09")));
        }
        other => panic!("expected CorrectionApplied, got {other:?}"),
    }
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
    s.when(member(s.a), inside)
        .then_emits(&["ServiceHoursLogged", "ServiceDayBooked"]);
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

// ---- Households -----------------------------------------------------------------

#[test]
fn a_household_is_visited_only_by_its_paired_cadre() {
    let mut s = Scene::county();
    let h = s.id();
    s.ok(
        centre(),
        C::RegisterHousehold(RegisterHousehold {
            household_id: Some(h),
            address_area: "East Street".into(),
            hardship: "elderly, alone".into(),
        }),
    );
    let visit = C::RecordVisit(RecordVisit {
        household_id: h,
        date: today(),
        notes: "brought rice".into(),
    });
    s.when(member(s.a), visit.clone())
        .then_refused(Rule::NotThePairedCadre);
    s.ok(
        centre(),
        C::PairHousehold(PairHousehold {
            household_id: h,
            cadre_id: s.a,
        }),
    );
    s.when(member(s.unit_sec), visit.clone())
        .then_refused(Rule::NotThePairedCadre);
    s.when(member(s.a), visit).then_emits(&["HouseholdVisited"]);
    let raised = s
        .when(
            member(s.a),
            C::RaiseConcern(RaiseConcern {
                household_id: h,
                category: "housing".into(),
                description: "leaking roof".into(),
            }),
        )
        .then_emits(&["ConcernRaised"]);
    let Some(crate::Event::ConcernRaised(c)) = raised.events().next() else {
        panic!("ConcernRaised")
    };
    let resolve = C::ResolveConcern(ResolveConcern {
        household_id: h,
        concern_id: c.concern_id,
        resolution: "roof repaired".into(),
    });
    s.when(member(s.a), resolve.clone())
        .then_emits(&["ConcernResolved"]);
    s.when(member(s.a), resolve)
        .then_refused(Rule::ConcernAlreadyResolved);
}

// ---- Rules ----------------------------------------------------------------------

#[test]
fn rules_are_adopted_for_their_own_year_and_validated() {
    let mut s = Scene::county();
    let mut rules: serde_json::Value =
        toml::from_str(include_str!("../../../rules/2026.toml")).expect("rules");
    s.when(
        admin(),
        C::AdoptRules(AdoptRules {
            year: year(2027),
            rules: rules.clone(),
        }),
    )
    .then_refused(Rule::YearMismatch);
    rules["ranking"]["quiz"] = serde_json::json!(50);
    let e = s
        .when(
            admin(),
            C::AdoptRules(AdoptRules {
                year: year(2026),
                rules,
            }),
        )
        .then_refused(Rule::RulesInvalid);
    assert!(e.detail.contains("sum to 100"), "{e}");
}

#[test]
fn claims_need_the_year_rules_adopted() {
    let mut s = Scene::county();
    s.today = date("2027-01-05");
    s.now = Timestamp::parse("2027-01-05T01:00:00Z").expect("now");
    let id = s.id();
    let deadline = Timestamp::parse("2027-02-01T00:00:00Z").expect("deadline");
    s.ok(
        centre(),
        C::PublishWish(PublishWish {
            wish_id: Some(id),
            origin: WishOrigin::MicroWish,
            title: "Winter coat".into(),
            beneficiary: "Sun".into(),
            beneficiary_contact: None,
            beneficiary_id: None,
            category: Category::Festival,
            deadline,
            volunteers: None,
        }),
    );
    s.when(member(s.a), claim(id, s.a))
        .then_refused(Rule::RulesNotAdopted);
}

// ---- Closing the holes a review found --------------------------------------------

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
    s.when(secretary(other, other_sec), take(newcomer))
        .then_emits(&["ServiceBranchAssigned"]);
    s.when(centre(), take(s.a))
        .then_emits(&["ServiceBranchAssigned"]);
}

#[test]
fn a_secretarys_own_hours_are_self_reported() {
    let mut s = Scene::county();
    let d = s
        .when(
            secretary(s.unit, s.unit_sec),
            hours(s.unit_sec, "2026-06-10", 2.0, "visit"),
        )
        .then_emits(&["ServiceHoursLogged", "ServiceDayBooked"]);
    let Some(crate::Event::ServiceHoursLogged(e)) = d.events().next() else {
        panic!("logged")
    };
    assert_eq!(
        (e.channel, e.organising_branch_id, e.entered_by_member_id),
        (Channel::SelfReported, None, Some(s.unit_sec))
    );
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
    s.when(admin(), correct("2026-06-06")).then_emits(&[
        "CorrectionApplied",
        "ServiceDayReleased",
        "ServiceDayBooked",
    ]);
}

#[test]
fn a_visit_is_recorded_once_a_day_and_never_before_the_pairing() {
    let mut s = Scene::county();
    let h = s.id();
    s.ok(
        centre(),
        C::RegisterHousehold(RegisterHousehold {
            household_id: Some(h),
            address_area: "East Street".into(),
            hardship: "disabled".into(),
        }),
    );
    s.ok(
        centre(),
        C::PairHousehold(PairHousehold {
            household_id: h,
            cadre_id: s.a,
        }),
    );
    let visit = |on| {
        C::RecordVisit(RecordVisit {
            household_id: h,
            date: on,
            notes: "checked the stove".into(),
        })
    };
    s.when(member(s.a), visit(date("2026-06-14")))
        .then_refused(Rule::DatesOutOfOrder);
    s.when(member(s.a), visit(today()))
        .then_emits(&["HouseholdVisited"]);
    s.when(member(s.a), visit(today()))
        .then_refused(Rule::VisitAlreadyRecorded);
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
    .then_emits(&["DualCardSigned"]);
}

#[test]
fn facts_are_dated_within_the_programme() {
    let mut s = Scene::county();
    s.when(member(s.a), hours(s.a, "1999-12-31", 1.0, "visit"))
        .then_refused(Rule::OutOfRange);
    let register = C::RegisterMember(RegisterMember {
        member_id: None,
        name: "Old".into(),
        unit_branch_id: s.unit,
        joined_on: date("1900-01-01"),
    });
    let e = s.when(admin(), register).then_refused(Rule::OutOfRange);
    assert_eq!(e.field, Some("joined_on"));
}

#[test]
fn ranking_weights_that_wrap_around_are_refused() {
    let mut s = Scene::county();
    let mut rules: serde_json::Value =
        toml::from_str(include_str!("../../../rules/2026.toml")).expect("rules");
    rules["ranking"]["hours_per_member"] = serde_json::json!(u32::MAX);
    // 2^32 - 1 + 101 wraps to exactly 100 in 32 bits.
    rules["ranking"]["participation"] = serde_json::json!(46);
    s.when(
        admin(),
        C::AdoptRules(AdoptRules {
            year: year(2026),
            rules,
        }),
    )
    .then_refused(Rule::RulesInvalid);
}

// ---- The card's people, stars and appraisals ------------------------------------------

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
    let signed = s
        .when(
            secretary(s.service, d),
            sign(own, Side::Community, Rating::Qualified),
        )
        .then_emits(&["DualCardSigned"]);
    assert!(
        matches!(signed.events().next(), Some(Event::DualCardSigned(e))
            if e.capacity == Capacity::Deputy && e.signer_id == Some(d) && e.opinion == Rating::Qualified),
        "{signed:?}"
    );
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
    s.when(
        admin(),
        C::VacateSecretary(VacateSecretary { branch_id: s.unit }),
    )
    .then_emits(&["SecretaryVacated"]);
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
    let signed = s
        .when(admin(), sign(a, Side::Unit, Rating::Qualified))
        .then_emits(&["DualCardSigned"]);
    assert!(
        matches!(signed.events().next(), Some(Event::DualCardSigned(e))
            if e.capacity == Capacity::CommitteeAdmin && e.signer_id.is_none()),
        "{signed:?}"
    );
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
    let d = s
        .when(secretary(s.service, s.service_sec), stars(a, 4))
        .then_emits(&["StarsAwarded"]);
    assert!(
        matches!(d.events().next(), Some(Event::StarsAwarded(e)) if e.stars == 4 && e.capacity == Capacity::Secretary),
        "{d:?}"
    );
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
    s.when(
        secretary(s.unit, s.unit_sec),
        appraise(a, Rating::Excellent, head),
    )
    .then_emits(&["AppraisalRecorded"]);
    // The unit changes its appraisal: a new event; the latest stands.
    s.when(
        secretary(s.unit, s.unit_sec),
        appraise(a, Rating::Qualified, head),
    )
    .then_emits(&["AppraisalRecorded"]);
    // The secretary's own appraisal: by a committee admin (no deputy appointed).
    let own = s.unit_sec;
    s.when(
        secretary(s.unit, own),
        appraise(own, Rating::Excellent, head),
    )
    .then_refused(Rule::OwnAppraisalNotRecordable);
    let d = s
        .when(admin(), appraise(own, Rating::Qualified, head))
        .then_emits(&["AppraisalRecorded"]);
    assert!(
        matches!(d.events().next(), Some(Event::AppraisalRecorded(e)) if e.capacity == Capacity::CommitteeAdmin),
        "{d:?}"
    );
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
    let d = s
        .when(admin(), overturn(Rating::Qualified))
        .then_emits(&["AppraisalOverturned"]);
    assert!(
        matches!(d.events().next(), Some(Event::AppraisalOverturned(e))
            if e.previous == Rating::Excellent && e.rating == Rating::Qualified),
        "{d:?}"
    );
    s.when(
        secretary(s.unit, s.unit_sec),
        appraise(a, Rating::Excellent, head),
    )
    .then_refused(Rule::AppraisalSettledByCommittee);
    s.when(admin(), confirm.clone())
        .then_emits(&["AppraisalConfirmed"]);
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
    let d = s
        .when(admin(), close(2026, &[s.unit_sec]))
        .then_emits(&["YearClosed"]);
    assert!(
        matches!(d.events().next(), Some(Event::YearClosed(e))
            if e.without_appraisal == Some(vec![s.unit_sec])),
        "{d:?}"
    );
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

// ---- Service needs for many volunteers ------------------------------------------------

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
    s.when(member(s.a), claim(w, s.a))
        .then_emits(&["WishClaimed", "ClaimOpened"]);
    s.when(member(s.a), claim(w, s.a))
        .then_refused(Rule::WishAlreadyClaimed);
    s.when(member(b), claim(w, b))
        .then_emits(&["WishClaimed", "ClaimOpened"]);
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
    s.when(member(c), claim(w, c))
        .then_emits(&["WishClaimed", "ClaimOpened"]);
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
    s.when(member(s.a), fulfil(None))
        .then_emits(&["WishFulfilled", "ClaimClosed"]);
    s.when(
        centre(),
        C::CancelWish(CancelWish {
            wish_id: w,
            reason: "no longer needed".into(),
        }),
    )
    .then_refused(Rule::WishNotOpen);
    let confirm = C::ConfirmWish(ConfirmWish { wish_id: w });
    s.when(centre(), confirm.clone())
        .then_emits(&["WishConfirmed"]);
    s.when(centre(), confirm.clone())
        .then_refused(Rule::WishNotFulfilled);
    s.when(secretary(s.unit, s.unit_sec), fulfil(Some(b)))
        .then_emits(&["WishFulfilled", "ClaimClosed"]);
    s.when(centre(), confirm).then_emits(&["WishConfirmed"]);
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
    s.when(system(), expire).then_emits(&[
        "WishClaimExpired",
        "WishClaimExpired",
        "ClaimClosed",
        "ClaimClosed",
    ]);
}

// ---- A member's life cycle ------------------------------------------------------------

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
    let d = s
        .when(admin(), transfer(s.unit_sec, other))
        .then_emits(&["MemberTransferred", "SecretaryVacated"]);
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
    .then_emits(&["DualCardSigned"]);
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
    s.when(secretary(s.unit, s.unit_sec), left.clone())
        .then_emits(&["MemberDeparted", "WishReleased", "ClaimClosed"]);
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
    s.when(
        secretary(s.service, s.service_sec),
        C::VerifyServiceHours(VerifyServiceHours { record_id: pending }),
    )
    .then_emits(&["ServiceHoursVerified"]);
    let b = s.member_of(s.unit, "2012-01-01");
    s.when(member(b), claim(w, b))
        .then_emits(&["WishClaimed", "ClaimOpened"]);
}

#[test]
fn a_secretary_who_leaves_leaves_the_post_vacant_and_is_not_due_an_appraisal() {
    let mut s = Scene::county();
    s.when(
        admin(),
        C::MemberLeft(MemberLeft {
            member_id: s.service_sec,
            reason: LeaveReason::TransferredOut,
            on: date("2026-03-01"),
        }),
    )
    .then_emits(&["MemberDeparted", "SecretaryVacated"]);
    // The county closes 2026 in January: those who left in 2026 are not due an appraisal.
    s.now = Timestamp::parse("2027-01-10T02:00:00Z").expect("now");
    s.today = date("2027-01-10");
    let e = s
        .when(admin(), close(2026, &[s.unit_sec, s.a, s.service_sec]))
        .then_refused(Rule::MembersWithoutAppraisal);
    assert!(e.detail.contains("not due one"), "{e}");
    s.when(admin(), close(2026, &[s.unit_sec, s.a]))
        .then_emits(&["YearClosed"]);
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
    let d = s
        .when(sec.clone(), record(true, vec![s.a, outsider]))
        .then_emits(&["BranchActivityRecorded"]);
    assert!(
        matches!(d.events().next(), Some(Event::BranchActivityRecorded(e))
            if e.attendees == [s.a, outsider] && e.headcount == 2),
        "{d:?}"
    );
}
