//! Upcasters: each lifts a payload an earlier release stored to the next schema version
//! of its type, on read. Stored bytes are never rewritten; a log written before a change
//! still verifies (its hashes cover the bytes as stored) and projects (through these).
//! The CLI's tests keep a log an earlier release wrote and check that it still verifies,
//! projects and answers every query (`services/cli/tests/cli/old_log.rs`).

use serde_json::{Value, json};

fn object(v: &mut Value) -> Result<&mut serde_json::Map<String, Value>, String> {
    v.as_object_mut()
        .ok_or_else(|| "the payload is not an object".to_owned())
}

/// `DualCardSigned` v1 → v2: the opinion was named `rating`, and every card was signed
/// by the appointed secretary of the side's branch.
pub fn dual_card_signed_v1(mut v: Value) -> Result<Value, String> {
    let fields = object(&mut v)?;
    let opinion = fields.remove("rating").ok_or("rating missing")?;
    fields.insert("opinion".into(), opinion);
    fields.insert("capacity".into(), json!("secretary"));
    Ok(v)
}

/// `DualCardCompleted` v1 → v2: the lower of the two opinions, which v1 stored as the
/// card's rating, is a rating no person gave; it is left unread.
pub fn dual_card_completed_v1(mut v: Value) -> Result<Value, String> {
    object(&mut v)?.remove("rating");
    Ok(v)
}

/// `RulesAdopted` v1 → v2: rules adopted before stars had a scale award 1 to 5, the
/// programme's scale; and every kind of branch was held to the same numbers of meetings
/// and activities.
pub fn rules_adopted_v1(mut v: Value) -> Result<Value, String> {
    let rules = object(object(&mut v)?.get_mut("rules").ok_or("rules missing")?)?;
    let same = json!({
        "meetings": rules.get("required_meetings").ok_or("required_meetings missing")?,
        "activities": rules.get("required_activities").ok_or("required_activities missing")?,
    });
    rules.insert(
        "branch_requirements".into(),
        json!({"unit": same, "service": same, "temporary": same}),
    );
    rules.insert("max_stars".into(), json!(crate::rules::DEFAULT_MAX_STARS));
    Ok(v)
}

/// `MemberRegistered` v1 → v2: v1 did not record whether the member is a leading cadre;
/// read as not (the roster import records it from then on).
pub fn member_registered_v1(mut v: Value) -> Result<Value, String> {
    object(&mut v)?.insert("cadre".into(), json!(false));
    Ok(v)
}

/// `RulesAdopted` v2 → v3: v2 did not bound the claims a member gives back a day; its
/// years get the default bound.
pub fn rules_adopted_v2(mut v: Value) -> Result<Value, String> {
    let rules = object(object(&mut v)?.get_mut("rules").ok_or("rules missing")?)?;
    rules.insert(
        "max_releases_per_day".into(),
        json!(crate::rules::DEFAULT_RELEASES_PER_DAY),
    );
    Ok(v)
}

/// `HouseholdRegistered`, `HouseholdVisited`, `ConcernRaised` and `WishFulfilled` v1 →
/// v2: v1 held its free text about a person in need in clear, as a string; v2 holds it
/// sealed. A v1 string is read as it was written (`Private::Clear`): the log is never
/// rewritten; the service shows it as erased once the person is (see `personal`).
pub fn clear_text_v1(v: Value) -> Result<Value, String> {
    Ok(v)
}

/// `BranchMeetingRecorded` and `BranchActivityRecorded` v1 → v2: v1 recorded how many
/// came (`attendees`, a number) and named no one.
pub fn attendance_v1(mut v: Value) -> Result<Value, String> {
    let fields = object(&mut v)?;
    let count = fields.remove("attendees").ok_or("attendees missing")?;
    if !count.is_u64() {
        return Err(format!("attendees {count} is not a count"));
    }
    fields.insert("headcount".into(), count);
    fields.insert("attendees".into(), json!([]));
    Ok(v)
}

/// `WishPublished` v1 → v2: every wish took one claimer.
pub fn wish_published_v1(mut v: Value) -> Result<Value, String> {
    object(&mut v)?.insert("volunteers".into(), json!(1));
    Ok(v)
}

/// `YearClosed` v1 → v2: a year closed before appraisals were kept names no members
/// closed without one (null: not recorded, rather than an empty list).
pub fn year_closed_v1(mut v: Value) -> Result<Value, String> {
    object(&mut v)?.insert("without_appraisal".into(), Value::Null);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    #[test]
    fn a_version_1_signature_reads_as_the_secretarys_opinion() {
        let v1 = json!({"side": "unit", "rating": "qualified", "remarks": "ok",
                        "signer_id": "0196a1d2-0000-7000-8000-000000000001"});
        let e = Event::from_stored("DualCardSigned", dual_card_signed_v1(v1).expect("lifts"))
            .expect("a v2 payload");
        let Event::DualCardSigned(e) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (e.opinion, e.capacity),
            (
                crate::values::Rating::Qualified,
                crate::values::Capacity::Secretary
            )
        );
        assert!(e.signer_id.is_some());
    }

    #[test]
    fn a_version_1_completion_drops_the_computed_rating() {
        let lifted = dual_card_completed_v1(json!({"rating": "qualified"})).expect("lifts");
        assert_eq!(lifted, json!({}));
        assert!(Event::from_stored("DualCardCompleted", lifted).is_ok());
    }

    #[test]
    fn version_1_rules_hold_every_kind_to_the_same_numbers_and_award_up_to_5_stars() {
        let mut doc: serde_json::Value =
            toml::from_str(include_str!("../../../rules/2026.toml")).expect("toml");
        let fields = doc.as_object_mut().expect("a document");
        fields.remove("stars");
        fields
            .get_mut("branches")
            .and_then(|b| b.as_object_mut())
            .map(|b| b.remove("temporary"));
        let mut rules = crate::rules::Rules::from_json(&doc).expect("valid");
        rules.branch_requirements.clear();
        let mut v1 = serde_json::to_value(&rules).expect("json");
        let fields = v1.as_object_mut().expect("object");
        fields.remove("branch_requirements");
        fields.remove("max_stars");
        let lifted = rules_adopted_v1(json!({"rules": v1})).expect("lifts");
        let Event::RulesAdopted(e) = Event::from_stored("RulesAdopted", lifted).expect("v2") else {
            panic!("not rules")
        };
        assert_eq!(e.rules.max_stars, 5);
        for kind in crate::values::BranchKind::ALL {
            assert_eq!(
                e.rules.requirement(kind),
                crate::rules::Requirement {
                    meetings: e.rules.required_meetings,
                    activities: e.rules.required_activities
                }
            );
        }
    }

    #[test]
    fn version_2_rules_give_back_the_default_number_of_claims_a_day() {
        let rules = crate::rules::Rules::from_toml(include_str!("../../../rules/2026.toml"))
            .expect("valid");
        let mut v2 = serde_json::to_value(&rules).expect("json");
        v2.as_object_mut()
            .expect("object")
            .remove("max_releases_per_day");
        let lifted = rules_adopted_v2(json!({"rules": v2})).expect("lifts");
        assert_eq!(
            lifted["rules"]["max_releases_per_day"],
            crate::rules::DEFAULT_RELEASES_PER_DAY
        );
        let Event::RulesAdopted(e) = Event::from_stored("RulesAdopted", lifted).expect("v3") else {
            panic!("not rules")
        };
        assert_eq!(e.rules.max_releases_per_day, 3);
    }

    #[test]
    fn a_version_1_meeting_keeps_its_headcount_and_names_no_one() {
        let v1 = json!({"date": "2025-03-05", "topic": "study", "attendees": 31});
        let Event::BranchMeetingRecorded(e) =
            Event::from_stored("BranchMeetingRecorded", attendance_v1(v1).expect("lifts"))
                .expect("v2")
        else {
            panic!("not a meeting")
        };
        assert_eq!((e.headcount, e.attendees.len()), (31, 0));
        assert!(attendance_v1(json!({"attendees": "many"})).is_err());
    }

    #[test]
    fn a_malformed_old_payload_is_named_not_defaulted() {
        assert_eq!(
            dual_card_signed_v1(json!({"side": "unit"})),
            Err("rating missing".to_owned())
        );
        assert!(rules_adopted_v1(json!([])).is_err());
    }
}
