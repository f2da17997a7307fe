//! Bad input, table-driven: malformed, oversized, out-of-range, wrongly-typed, forbidden
//! and replayed commands, each sent over HTTP and over NATS to a small county. Each gets
//! its documented status and `code` on both transports, and the log's length and head
//! hash are what they were before it.

use super::County;
use allweather_domain::command::{ClaimWish, IssueDualCard};
use allweather_test_support::{NatsCommands, TOKEN_SECRET, TestApp};
use serde_json::{Value, json};
use uuid::Uuid;

allweather_test_support::on_both_backends!(
    crate::bad_input;
    postgres = TestApp::postgres().await;
    sqlite = TestApp::sqlite().await;
    every_bad_command_is_refused_alike_over_http_and_nats_and_changes_nothing,
);

/// Who sends a case.
#[derive(Debug, Clone, Copy)]
enum Who {
    Nobody,
    Admin,
    UnitSecretary,
    ServiceSecretary,
    Member,
    OtherMember,
    Centre,
    Auditor,
    /// A token signed with another secret.
    Forged,
    /// A token past its expiry.
    Expired,
    /// A token whose header says `alg: none`, without a signature.
    Unsigned,
    /// A token signed with the right secret but HS384, which the service does not take.
    OtherAlgorithm,
    /// Not a token at all.
    Garbage,
}

/// One bad request: what is sent, and the answer it must get.
struct Case {
    name: &'static str,
    who: Who,
    command: &'static str,
    body: Vec<u8>,
    key: Option<String>,
    status: u16,
    code: &'static str,
}

fn case(
    name: &'static str,
    who: Who,
    command: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        who,
        command,
        body: body.into(),
        key: None,
        status,
        code,
    }
}

fn json_case(
    name: &'static str,
    who: Who,
    command: &'static str,
    body: Value,
    status: u16,
    code: &'static str,
) -> Case {
    case(name, who, command, body.to_string(), status, code)
}

/// A token for `claims` signed by `secret` with `algorithm`.
fn signed(claims: &Value, secret: &[u8], algorithm: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("a token")
}

/// The world the cases are sent to, and the tokens of its people.
struct Fixture {
    county: County,
    other_member: Uuid,
    open_wish: Uuid,
    claimed_wish: Uuid,
    record: Uuid,
}

impl Fixture {
    fn token(&self, who: Who) -> Option<String> {
        let app = &self.county.app;
        let now = app.clock.now().timestamp().max(unix_now());
        let admin_claims =
            json!({"sub": "admin", "role": "committee_admin", "iat": now, "exp": now + 600});
        Some(match who {
            Who::Nobody => return None,
            Who::Admin => app.admin(),
            Who::UnitSecretary => self.county.unit_secretary(),
            Who::ServiceSecretary => self.county.service_secretary(),
            Who::Member => app.member(self.county.member),
            Who::OtherMember => app.member(self.other_member),
            Who::Centre => app.centre(),
            Who::Auditor => app.token("auditor", None, None),
            Who::Forged => signed(
                &admin_claims,
                b"someone else's secret, 32 bytes!",
                jsonwebtoken::Algorithm::HS256,
            ),
            Who::Expired => signed(
                &json!({"sub": "admin", "role": "committee_admin", "iat": now - 7200, "exp": now - 3600}),
                TOKEN_SECRET,
                jsonwebtoken::Algorithm::HS256,
            ),
            Who::Unsigned => {
                let admin = app.admin();
                let payload = admin.split('.').nth(1).expect("payload");
                // {"alg":"none","typ":"JWT"}
                format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
            }
            Who::OtherAlgorithm => {
                signed(&admin_claims, TOKEN_SECRET, jsonwebtoken::Algorithm::HS384)
            }
            Who::Garbage => "not.a.token".into(),
        })
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn cases(f: &Fixture) -> Vec<Case> {
    let c = &f.county;
    let (member, other) = (c.member, f.other_member);
    let hours = |hours: Value, date: &str| json!({"member_id": member, "date": date, "hours": hours, "category": "community_service", "activity": "Tidying the square"});
    let branch = json!({"name": "A branch", "kind": "unit"});
    let mut cases = vec![
        // Malformed bodies: 400 malformed.
        case(
            "not JSON",
            Who::Admin,
            "RegisterBranch",
            "{name",
            400,
            "malformed",
        ),
        case(
            "an empty body",
            Who::Admin,
            "RegisterBranch",
            "",
            400,
            "malformed",
        ),
        case(
            "a JSON array",
            Who::Admin,
            "RegisterBranch",
            "[]",
            400,
            "malformed",
        ),
        case(
            "JSON null",
            Who::Admin,
            "RegisterBranch",
            "null",
            400,
            "malformed",
        ),
        case(
            "trailing bytes",
            Who::Admin,
            "RegisterBranch",
            format!("{branch} x"),
            400,
            "malformed",
        ),
        case(
            "not UTF-8",
            Who::Admin,
            "RegisterBranch",
            b"{\"name\":\"\xff\xfe\",\"kind\":\"unit\"}".to_vec(),
            400,
            "malformed",
        ),
        json_case(
            "a name that is a number",
            Who::Admin,
            "RegisterBranch",
            json!({"name": 5, "kind": "unit"}),
            400,
            "malformed",
        ),
        json_case(
            "an unknown field",
            Who::Admin,
            "RegisterBranch",
            json!({"name": "a", "kind": "unit", "colour": "red"}),
            400,
            "malformed",
        ),
        json_case(
            "a missing field",
            Who::Admin,
            "RegisterBranch",
            json!({"name": "a"}),
            400,
            "malformed",
        ),
        json_case(
            "an unknown kind",
            Who::Admin,
            "RegisterBranch",
            json!({"name": "a", "kind": "palace"}),
            400,
            "malformed",
        ),
        json_case(
            "an id that is not a UUID",
            Who::Admin,
            "RegisterBranch",
            json!({"name": "a", "kind": "unit", "branch_id": "x"}),
            400,
            "malformed",
        ),
        json_case(
            "a thirteenth month",
            Who::Member,
            "LogServiceHours",
            hours(json!(2), "2026-13-01"),
            400,
            "malformed",
        ),
        json_case(
            "hours as text",
            Who::Member,
            "LogServiceHours",
            hours(json!("three"), "2026-06-14"),
            400,
            "malformed",
        ),
        case(
            "hours beyond a double",
            Who::Member,
            "LogServiceHours",
            format!(
                r#"{{"member_id":"{member}","date":"2026-06-14","hours":1e400,"category":"community","activity":"x"}}"#
            ),
            400,
            "malformed",
        ),
        json_case(
            "an unknown category",
            Who::Member,
            "LogServiceHours",
            json!({"member_id": member, "date": "2026-06-14", "hours": 2, "category": "gardening", "activity": "x"}),
            400,
            "malformed",
        ),
        json_case(
            "a deadline that is not a time",
            Who::Centre,
            "PublishWish",
            json!({"origin": "micro_wish", "title": "t", "beneficiary": "b", "category": "festival", "deadline": "tomorrow"}),
            400,
            "malformed",
        ),
        json_case(
            "a null member",
            Who::Admin,
            "AppointSecretary",
            json!({"branch_id": c.unit, "member_id": null}),
            400,
            "malformed",
        ),
        json_case(
            "a negative score",
            Who::UnitSecretary,
            "RecordQuizResult",
            json!({"branch_id": c.unit, "year": 2026, "contestant_id": member, "score": -1}),
            400,
            "malformed",
        ),
        json_case(
            "attendees as a count, not the members who came",
            Who::UnitSecretary,
            "RecordBranchMeeting",
            json!({"branch_id": c.unit, "date": "2026-06-14", "topic": "t", "attendees": 12}),
            400,
            "malformed",
        ),
        json_case(
            "a quarter as text",
            Who::ServiceSecretary,
            "RecordCommunityFeedback",
            json!({"member_id": member, "year": 2026, "quarter": "one", "note": "n"}),
            400,
            "malformed",
        ),
        json_case(
            "a year beyond 32 bits",
            Who::Admin,
            "IssueDualCard",
            json!({"member_id": member, "year": 99_999_999_999_i64}),
            400,
            "malformed",
        ),
        // The token: 401 unauthenticated.
        json_case(
            "no token",
            Who::Nobody,
            "RegisterBranch",
            branch.clone(),
            401,
            "unauthenticated",
        ),
        json_case(
            "a forged signature",
            Who::Forged,
            "RegisterBranch",
            branch.clone(),
            401,
            "unauthenticated",
        ),
        json_case(
            "an expired token",
            Who::Expired,
            "RegisterBranch",
            branch.clone(),
            401,
            "unauthenticated",
        ),
        json_case(
            "alg none",
            Who::Unsigned,
            "RegisterBranch",
            branch.clone(),
            401,
            "unauthenticated",
        ),
        json_case(
            "another algorithm",
            Who::OtherAlgorithm,
            "RegisterBranch",
            branch.clone(),
            401,
            "unauthenticated",
        ),
        json_case(
            "not a token",
            Who::Garbage,
            "RegisterBranch",
            branch.clone(),
            401,
            "unauthenticated",
        ),
        // Who may do what: 403 forbidden.
        json_case(
            "a member registers a branch",
            Who::Member,
            "RegisterBranch",
            branch.clone(),
            403,
            "forbidden",
        ),
        json_case(
            "an auditor issues a command",
            Who::Auditor,
            "RegisterBranch",
            branch.clone(),
            403,
            "forbidden",
        ),
        json_case(
            "an auditor logs hours",
            Who::Auditor,
            "LogServiceHours",
            hours(json!(2), "2026-06-14"),
            403,
            "forbidden",
        ),
        json_case(
            "a member logs hours for another",
            Who::OtherMember,
            "LogServiceHours",
            hours(json!(2), "2026-06-14"),
            403,
            "forbidden",
        ),
        json_case(
            "a member claims a wish for another",
            Who::OtherMember,
            "ClaimWish",
            json!({"wish_id": f.open_wish, "member_id": member}),
            403,
            "forbidden",
        ),
        json_case(
            "a member releases another's claim",
            Who::OtherMember,
            "ReleaseWish",
            json!({"wish_id": f.claimed_wish, "member_id": member}),
            403,
            "forbidden",
        ),
        json_case(
            "a secretary registers a member outside the branch",
            Who::ServiceSecretary,
            "RegisterMember",
            json!({"name": "Chen Jie", "unit_branch_id": c.unit, "joined_on": "2018-09-01"}),
            403,
            "forbidden",
        ),
        json_case(
            "a member verifies hours",
            Who::Member,
            "VerifyServiceHours",
            json!({"record_id": f.record}),
            403,
            "forbidden",
        ),
        json_case(
            "a secretary of another branch verifies hours",
            Who::UnitSecretary,
            "VerifyServiceHours",
            json!({"record_id": f.record}),
            403,
            "forbidden",
        ),
        json_case(
            "a service centre registers a branch",
            Who::Centre,
            "RegisterBranch",
            branch.clone(),
            403,
            "forbidden",
        ),
        json_case(
            "a member signs a dual card",
            Who::Member,
            "SignDualCard",
            json!({"member_id": member, "year": 2026, "side": "community", "rating": "excellent", "remarks": "r"}),
            403,
            "forbidden",
        ),
        json_case(
            "a secretary appoints a secretary",
            Who::UnitSecretary,
            "AppointSecretary",
            json!({"branch_id": c.unit, "member_id": member}),
            403,
            "forbidden",
        ),
        json_case(
            "a member publishes a wish",
            Who::Member,
            "PublishWish",
            json!({"origin": "micro_wish", "title": "t", "beneficiary": "b", "category": "festival", "deadline": "2026-07-01T00:00:00+08:00"}),
            403,
            "forbidden",
        ),
        json_case(
            "a member adopts rules",
            Who::Member,
            "AdoptRules",
            json!({"year": 2027, "rules": {}}),
            403,
            "forbidden",
        ),
        // What is not there: 404 not_found.
        json_case(
            "an unknown command",
            Who::Admin,
            "Teleport",
            json!({}),
            404,
            "not_found",
        ),
        json_case(
            "a command named in kebab case",
            Who::Admin,
            "register-branch",
            branch.clone(),
            404,
            "not_found",
        ),
        json_case(
            "an absent branch",
            Who::Admin,
            "AppointSecretary",
            json!({"branch_id": Uuid::now_v7(), "member_id": member}),
            404,
            "not_found",
        ),
        json_case(
            "an absent wish",
            Who::Member,
            "ClaimWish",
            json!({"wish_id": Uuid::now_v7(), "member_id": member}),
            404,
            "not_found",
        ),
        json_case(
            "an absent record",
            Who::ServiceSecretary,
            "VerifyServiceHours",
            json!({"record_id": Uuid::now_v7()}),
            404,
            "not_found",
        ),
        json_case(
            "an absent member",
            Who::Admin,
            "AssignServiceBranch",
            json!({"member_id": Uuid::now_v7(), "service_branch_id": c.service}),
            404,
            "not_found",
        ),
        // What already is: 409 conflict.
        json_case(
            "a branch registered twice",
            Who::Admin,
            "RegisterBranch",
            json!({"branch_id": c.unit, "name": "again", "kind": "unit"}),
            409,
            "conflict",
        ),
        json_case(
            "a member registered twice",
            Who::Admin,
            "RegisterMember",
            json!({"member_id": member, "name": "again", "unit_branch_id": c.unit, "joined_on": "2010-06-01"}),
            409,
            "conflict",
        ),
        json_case(
            "a wish claimed by another",
            Who::OtherMember,
            "ClaimWish",
            json!({"wish_id": f.claimed_wish, "member_id": other}),
            409,
            "conflict",
        ),
        // Too big: 413 too_large.
        json_case(
            "a 300 KiB body",
            Who::Admin,
            "RegisterBranch",
            json!({"name": "x".repeat(300 * 1024), "kind": "unit"}),
            413,
            "too_large",
        ),
        // Against the programme's rules: 422 invalid.
        json_case(
            "an empty name",
            Who::Admin,
            "RegisterBranch",
            json!({"name": "  ", "kind": "unit"}),
            422,
            "invalid",
        ),
        json_case(
            "a name of 1,000 characters",
            Who::Admin,
            "RegisterBranch",
            json!({"name": "名".repeat(1000), "kind": "unit"}),
            422,
            "invalid",
        ),
        json_case(
            "a control character in a name",
            Who::Admin,
            "RegisterBranch",
            json!({"name": "a\u{7}b", "kind": "unit"}),
            422,
            "invalid",
        ),
        json_case(
            "no hours",
            Who::Member,
            "LogServiceHours",
            hours(json!(0), "2026-06-14"),
            422,
            "invalid",
        ),
        json_case(
            "negative hours",
            Who::Member,
            "LogServiceHours",
            hours(json!(-2), "2026-06-14"),
            422,
            "invalid",
        ),
        json_case(
            "more hours than a day has",
            Who::Member,
            "LogServiceHours",
            hours(json!(25), "2026-06-14"),
            422,
            "invalid",
        ),
        json_case(
            "hours on a day not yet come",
            Who::Member,
            "LogServiceHours",
            hours(json!(2), "2026-06-20"),
            422,
            "invalid",
        ),
        json_case(
            "more than twelve hours in one entry",
            Who::Member,
            "LogServiceHours",
            hours(json!(12.5), "2026-06-13"),
            422,
            "invalid",
        ),
        json_case(
            "a fifth quarter",
            Who::ServiceSecretary,
            "RecordCommunityFeedback",
            json!({"member_id": member, "year": 2026, "quarter": 5, "note": "n"}),
            422,
            "invalid",
        ),
        json_case(
            "a deadline already past",
            Who::Centre,
            "PublishWish",
            json!({"origin": "micro_wish", "title": "t", "beneficiary": "b", "category": "festival", "deadline": "2026-01-01T00:00:00+08:00"}),
            422,
            "invalid",
        ),
        json_case(
            "a whitespace title",
            Who::Centre,
            "PublishWish",
            json!({"origin": "micro_wish", "title": " \n ", "beneficiary": "b", "category": "festival", "deadline": "2026-07-01T00:00:00+08:00"}),
            422,
            "invalid",
        ),
        json_case(
            "joining in the future",
            Who::Admin,
            "RegisterMember",
            json!({"name": "Chen Jie", "unit_branch_id": c.unit, "joined_on": "2030-01-01"}),
            422,
            "invalid",
        ),
        json_case(
            "a service branch as the unit branch",
            Who::Admin,
            "RegisterMember",
            json!({"name": "Chen Jie", "unit_branch_id": c.service, "joined_on": "2018-09-01"}),
            422,
            "invalid",
        ),
        json_case(
            "a card for a year outside the programme's calendar (the schema's 2000-2100)",
            Who::Admin,
            "IssueDualCard",
            json!({"member_id": member, "year": 1800}),
            400,
            "malformed",
        ),
        json_case(
            "a card for a year without rules",
            Who::Admin,
            "IssueDualCard",
            json!({"member_id": member, "year": 2090}),
            422,
            "invalid",
        ),
    ];
    let mut bad_key = json_case(
        "an idempotency key with a space",
        Who::Admin,
        "RegisterBranch",
        branch.clone(),
        400,
        "malformed",
    );
    bad_key.key = Some("has space".into());
    let mut long_key = json_case(
        "an idempotency key of 201 characters",
        Who::Admin,
        "RegisterBranch",
        branch,
        400,
        "malformed",
    );
    long_key.key = Some("k".repeat(201));
    cases.extend([bad_key, long_key]);
    cases
}

async fn fixture(app: TestApp) -> Fixture {
    let county = County::new(app, |_| {}).await;
    let other_member = county.register("Zhou Min", "2012-02-02").await;
    county.assign(other_member).await;
    let open_wish = county.wish("Rice and oil").await;
    let claimed_wish = county.wish("A warm coat").await;
    let app = &county.app;
    let claim = ClaimWish {
        wish_id: claimed_wish,
        member_id: county.member,
    };
    app.submit(&app.member(county.member), claim).await;
    let card = IssueDualCard {
        member_id: Some(county.member),
        year: super::year(2026),
        all_members: None,
    };
    app.submit(&app.admin(), card).await;
    let logged = super::hours(county.member, "2026-06-14", 2.0, "Reading to the elderly");
    let record = super::id(&app.submit(&app.member(county.member), logged).await);
    Fixture {
        county,
        other_member,
        open_wish,
        claimed_wish,
        record,
    }
}

pub async fn every_bad_command_is_refused_alike_over_http_and_nats_and_changes_nothing(
    app: TestApp,
) {
    let f = fixture(app).await;
    let app = &f.county.app;
    let nats: NatsCommands = app.commands_over_nats().await;
    let before = app.head().await;
    let cases = cases(&f);
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for c in &cases {
        let token = f.token(c.who);
        let http = app
            .command(
                token.as_deref(),
                c.command,
                c.body.clone(),
                c.key.as_deref(),
            )
            .await;
        if (http.status, http.body["code"].as_str()) != (c.status, Some(c.code))
            || http.content_type != "application/problem+json"
            || http.body["status"] != c.status
            || http.body["detail"].as_str().is_none_or(str::is_empty)
        {
            wrong.push(format!(
                "HTTP, {}: want {} {}, got {} {} {}",
                c.name, c.status, c.code, http.status, http.content_type, http.body
            ));
        }
        let (status, problem) = nats
            .request(
                token.as_deref(),
                c.command,
                c.body.clone(),
                c.key.as_deref(),
            )
            .await;
        let want = c.status.to_string();
        if status.as_deref() != Some(want.as_str())
            || problem["code"] != c.code
            || problem["status"] != c.status
        {
            wrong.push(format!(
                "NATS, {}: want {} {}, got {status:?} {problem}",
                c.name, c.status, c.code
            ));
        }
        // Neither answer leaks the signing secret.
        for answer in [&http.body, &problem] {
            assert!(
                !answer.to_string().contains("allweather test secret"),
                "{}: {answer}",
                c.name
            );
        }
        assert_eq!(
            app.head().await,
            before,
            "{} changed the log (HTTP answered {} {}, NATS {status:?} {problem})",
            c.name,
            http.status,
            http.body
        );
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases answered otherwise:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );

    // A replayed command (the same idempotency key) answers as the first did and writes
    // nothing more, on either transport, however its JSON is spaced or ordered; the key
    // reused for a different body or another command is refused, 422, and writes nothing.
    let admin = app.admin();
    let body = json!({"name": "Replayed branch", "kind": "unit"}).to_string();
    let first = app
        .command(
            Some(&admin),
            "RegisterBranch",
            body.clone(),
            Some("replay-1"),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let after_first = app.head().await;
    assert_eq!(after_first.0, before.0 + 1);
    let reordered = r#"{ "kind": "unit",  "name": "Replayed branch" }"#;
    let again = app
        .command(Some(&admin), "RegisterBranch", reordered, Some("replay-1"))
        .await;
    let (status, over_nats) = nats
        .request(Some(&admin), "RegisterBranch", body, Some("replay-1"))
        .await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!((status, &over_nats), (None, &first.body));
    let other_body = json!({"name": "Something else", "kind": "unit"}).to_string();
    let different = app
        .command(
            Some(&admin),
            "RegisterBranch",
            other_body.clone(),
            Some("replay-1"),
        )
        .await;
    assert_eq!(
        (different.status, &different.body["code"]),
        (422, &json!("idempotency_key_reused")),
        "{}",
        different.body
    );
    let (status, different) = nats
        .request(Some(&admin), "RegisterBranch", other_body, Some("replay-1"))
        .await;
    assert_eq!(
        (status.as_deref(), &different["code"]),
        (Some("422"), &json!("idempotency_key_reused")),
        "{different}"
    );
    let other_command = app
        .command(
            Some(&admin),
            "RegisterMember",
            json!({"name": "Wu Lei", "unit_branch_id": f.county.unit, "joined_on": "2018-09-01"})
                .to_string(),
            Some("replay-1"),
        )
        .await;
    assert_eq!(
        (other_command.status, &other_command.body["code"]),
        (422, &json!("idempotency_key_reused"))
    );
    assert_eq!(app.head().await, after_first, "a replay writes nothing");
    nats.stop().await;
}
