//! The year: its rules, their validation, the programme's calendar, closing the year.

use super::*;

#[test]
fn rules_are_adopted_for_their_own_year_and_validated() {
    let mut s = Scene::county();
    let mut rules: serde_json::Value =
        toml::from_str(include_str!("../../../../rules/2026.toml")).expect("rules");
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
        cadre: None,
    });
    let e = s.when(admin(), register).then_refused(Rule::OutOfRange);
    assert_eq!(e.field, Some("joined_on"));
}

#[test]
fn ranking_weights_that_wrap_around_are_refused() {
    let mut s = Scene::county();
    let mut rules: serde_json::Value =
        toml::from_str(include_str!("../../../../rules/2026.toml")).expect("rules");
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
