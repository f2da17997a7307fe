//! Commands over NATS request/reply, against a private nats-server.

use allweather_test_support::TestApp;
use serde_json::Value;

const BODY: &str = r#"{"name":"over nats","kind":"unit"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_over_nats_answer_as_over_http_with_the_same_errors_and_idempotency() {
    let app = TestApp::sqlite().await;
    let nats = app.commands_over_nats().await;
    let admin = app.admin();
    let (status, first) = nats
        .request(Some(&admin), "RegisterBranch", BODY, Some("order-7"))
        .await;
    assert_eq!(status, None, "{first}");
    assert_eq!(first["position"], 1, "{first}");
    assert_eq!(first["events"][0]["event_type"], "BranchRegistered");

    let (status, again) = nats
        .request(Some(&admin), "RegisterBranch", BODY, Some("order-7"))
        .await;
    assert_eq!(
        (status, &again),
        (None, &first),
        "a repeated Nats-Msg-Id replays the first answer"
    );

    // The key belongs to its caller: another admin's "order-7" is a command of their own,
    // and a member's is refused under the member's rights.
    let other_admin = app.token("committee_admin", None, Some(uuid::Uuid::now_v7()));
    let (status, theirs) = nats
        .request(Some(&other_admin), "RegisterBranch", BODY, Some("order-7"))
        .await;
    assert_eq!(status, None, "{theirs}");
    assert_eq!(theirs["position"], 2, "executed, not replayed: {theirs}");
    assert_ne!(theirs["command_id"], first["command_id"]);
    let member = app.member(uuid::Uuid::now_v7());
    let (status, refused) = nats
        .request(Some(&member), "RegisterBranch", BODY, Some("order-7"))
        .await;
    assert_eq!(
        (status.as_deref(), &refused["code"]),
        (Some("403"), &Value::from("forbidden")),
        "{refused}"
    );
    for (name, token, command, body, status, code) in [
        (
            "malformed",
            Some(&admin),
            "RegisterBranch",
            "{name",
            "400",
            "malformed",
        ),
        (
            "unknown field",
            Some(&admin),
            "RegisterBranch",
            r#"{"name":"a","kind":"unit","x":1}"#,
            "400",
            "malformed",
        ),
        (
            "no token",
            None,
            "RegisterBranch",
            BODY,
            "401",
            "unauthenticated",
        ),
        (
            "forbidden",
            Some(&member),
            "RegisterBranch",
            BODY,
            "403",
            "forbidden",
        ),
        (
            "unknown command",
            Some(&admin),
            "Teleport",
            "{}",
            "404",
            "not_found",
        ),
        (
            "rule",
            Some(&admin),
            "RegisterBranch",
            r#"{"name":"","kind":"unit"}"#,
            "422",
            "invalid",
        ),
    ] {
        let (got, problem) = nats
            .request(token.map(String::as_str), command, body, None)
            .await;
        assert_eq!(got.as_deref(), Some(status), "case {name}: {problem}");
        assert_eq!(problem["code"], code, "case {name}: {problem}");
        assert_eq!(problem["status"].to_string(), status, "case {name}");
    }
    let big = format!(r#"{{"name":"{}","kind":"unit"}}"#, "x".repeat(300 * 1024));
    let (got, problem) = nats
        .request(Some(&admin), "RegisterBranch", big, None)
        .await;
    assert_eq!(
        (got.as_deref(), &problem["code"]),
        (Some("413"), &Value::from("too_large"))
    );
    assert_eq!(app.head().await.0, 2, "refused commands change nothing");

    nats.stop().await;
    app.stop().await;
}
