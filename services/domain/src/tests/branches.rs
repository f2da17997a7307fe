//! Branches: registration, meetings and activities, the quiz, secretaries' tokens.

use super::*;

/// A 2026 quiz result of `contestant`.
fn quizzed(contestant: Uuid, score: u32) -> Event {
    Event::QuizResultRecorded(ev::QuizResultRecorded {
        year: 2026,
        contestant_id: contestant,
        score,
    })
}

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
    s.when(admin(), cmd)
        .then_emitted(&[Event::BranchRegistered(ev::BranchRegistered {
            name: "Finance Bureau".into(),
            kind: BranchKind::Unit,
            community: None,
        })]);
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
    let held = Event::BranchMeetingRecorded(ev::BranchMeetingRecorded {
        date: today(),
        topic: "study".into(),
        attendees: vec![s.unit_sec, s.a],
        headcount: 2,
    });
    s.when(secretary(s.unit, s.unit_sec), meeting(today()))
        .then_emitted(&[held]);
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
    let held = Event::BranchActivityRecorded(ev::BranchActivityRecorded {
        date: today(),
        topic: "clean-up".into(),
        attendees: vec![s.a],
        headcount: 1,
    });
    s.when(secretary(s.unit, s.unit_sec), activity)
        .then_emitted(&[held]);
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
    let recorded = quizzed(s.a, 92);
    s.when(admin(), quiz.clone()).then_emitted(&[recorded]);
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
    s.when(admin(), quiz(100)).then_emitted(&[quizzed(a, 100)]);
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
    let recorded = quizzed(s.a, 80);
    s.when(admin(), quiz(s.a)).then_emitted(&[recorded]);
}
