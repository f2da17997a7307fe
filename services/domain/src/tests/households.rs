//! Households: pairing, visits and concerns.

use super::*;

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
    let visited = Event::HouseholdVisited(ev::HouseholdVisited {
        cadre_id: s.a,
        date: today(),
        notes: "brought rice".into(),
    });
    s.when(member(s.a), visit).then_emitted(&[visited]);
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
    let resolved = Event::ConcernResolved(ev::ConcernResolved {
        concern_id: c.concern_id,
        resolution: "roof repaired".into(),
    });
    s.when(member(s.a), resolve.clone())
        .then_emitted(&[resolved]);
    s.when(member(s.a), resolve)
        .then_refused(Rule::ConcernAlreadyResolved);
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
    let visited = Event::HouseholdVisited(ev::HouseholdVisited {
        cadre_id: s.a,
        date: today(),
        notes: "checked the stove".into(),
    });
    s.when(member(s.a), visit(today())).then_emitted(&[visited]);
    s.when(member(s.a), visit(today()))
        .then_refused(Rule::VisitAlreadyRecorded);
}

#[test]
fn what_is_written_about_a_household_is_sealed_under_its_key_and_erased_with_it() {
    let mut s = Scene::county();
    let h = s.id();
    let registered = s.ok(
        centre(),
        C::RegisterHousehold(RegisterHousehold {
            household_id: Some(h),
            address_area: "East Street".into(),
            hardship: "widowed, a leaking roof".into(),
        }),
    );
    let Some(Event::HouseholdRegistered(e)) = registered.events().next() else {
        panic!("HouseholdRegistered")
    };
    let crate::personal::Private::Sealed(sealed) = &e.hardship else {
        panic!("the hardship is sealed: {:?}", e.hardship)
    };
    assert_eq!(sealed.person_id, h, "under the household's own key");
    let stored = serde_json::to_string(&e).expect("json");
    assert!(
        !stored.contains("roof"),
        "clear text in the event: {stored}"
    );
    let key = s.keys[&h].expect("a live key");
    assert_eq!(
        personal::open_text(sealed, &key).as_deref(),
        Ok("widowed, a leaking roof")
    );
    assert!(
        personal::open(sealed, &key).is_err(),
        "text never opens as a person's details"
    );
    s.ok(
        centre(),
        C::PairHousehold(PairHousehold {
            household_id: h,
            cadre_id: s.a,
        }),
    );
    // The visit's notes and a concern's description, likewise.
    let visit = s.ok(
        member(s.a),
        C::RecordVisit(RecordVisit {
            household_id: h,
            date: today(),
            notes: "brought rice and fixed the roof".into(),
        }),
    );
    let concern = s.ok(
        member(s.a),
        C::RaiseConcern(RaiseConcern {
            household_id: h,
            category: "housing".into(),
            description: "the roof leaks again".into(),
        }),
    );
    for (decision, text) in [
        (&visit, "brought rice and fixed the roof"),
        (&concern, "the roof leaks again"),
    ] {
        let stored = serde_json::to_string(&decision.writes).expect("json");
        assert!(
            !stored.contains("roof"),
            "clear text in the event: {stored}"
        );
        let sealed = match decision.events().next() {
            Some(Event::HouseholdVisited(e)) => &e.notes,
            Some(Event::ConcernRaised(e)) => &e.description,
            other => panic!("{other:?}"),
        };
        let crate::personal::Private::Sealed(sealed) = sealed else {
            panic!("sealed: {sealed:?}")
        };
        assert_eq!(
            (
                sealed.person_id,
                personal::open_text(sealed, &key).as_deref()
            ),
            (h, Ok(text))
        );
    }
    // Erased as a person in need is: nothing more is written about the household.
    s.ok(
        admin(),
        C::EraseBeneficiary(EraseBeneficiary {
            beneficiary_id: h,
            reason: "the family's request".into(),
        }),
    );
    assert_eq!(s.keys[&h], None, "the key is destroyed");
    let refused = s
        .when(
            member(s.a),
            C::RaiseConcern(RaiseConcern {
                household_id: h,
                category: "housing".into(),
                description: "still leaking".into(),
            }),
        )
        .then_refused(Rule::BeneficiaryErased);
    assert_eq!(refused.field, Some("description"));
}
