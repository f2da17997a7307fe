//! Commands over NATS request/reply, against a private nats-server.

use allweather_api::{CommandOptions, CommandService};
use allweather_test_support::{NatsServer, TestApp, eventually};
use serde_json::Value;
use std::time::Duration;

async fn request(
    client: &async_nats::Client,
    token: Option<&str>,
    command: &str,
    key: Option<&str>,
    body: &str,
) -> (Option<String>, Value) {
    let mut headers = async_nats::HeaderMap::new();
    if let Some(token) = token {
        headers.insert("Authorization", format!("Bearer {token}").as_str());
    }
    if let Some(key) = key {
        headers.insert(async_nats::header::NATS_MESSAGE_ID, key);
    }
    let reply = client
        .request_with_headers(format!("aw.cmd.{command}"), headers, body.to_owned().into())
        .await
        .expect("a reply");
    let status = reply
        .headers
        .as_ref()
        .and_then(|h| h.get("Status"))
        .map(|v| v.as_str().to_owned());
    (
        status,
        serde_json::from_slice(&reply.payload).expect("a JSON reply"),
    )
}

const BODY: &str = r#"{"name":"over nats","kind":"unit"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_over_nats_answer_as_over_http_with_the_same_errors_and_idempotency() {
    let app = TestApp::sqlite().await;
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = CommandService::new(app.log.clone(), CommandOptions::default()).expect("service");
    let server = tokio::spawn(allweather_command::nats::serve_commands(
        service,
        app.tokens.clone(),
        client.clone(),
        "aw",
        async {
            let _ = stopped.await;
        },
    ));
    let admin = app.admin();
    // The first request that finds the service subscribed is answered.
    let first = eventually(
        "the command service to answer",
        Duration::from_secs(30),
        || {
            let client = client.clone();
            let admin = admin.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, "order-7");
                headers.insert("Authorization", format!("Bearer {admin}").as_str());
                let reply = client
                    .request_with_headers("aw.cmd.RegisterBranch", headers, BODY.into())
                    .await
                    .ok()?;
                serde_json::from_slice::<Value>(&reply.payload).ok()
            }
        },
    )
    .await;
    assert_eq!(first["position"], 1, "{first}");
    assert_eq!(first["events"][0]["event_type"], "BranchRegistered");

    let (status, again) = request(
        &client,
        Some(&admin),
        "RegisterBranch",
        Some("order-7"),
        BODY,
    )
    .await;
    assert_eq!(
        (status, &again),
        (None, &first),
        "a repeated Nats-Msg-Id replays the first answer"
    );

    let member = app.member(uuid::Uuid::now_v7());
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
        let (got, problem) = request(&client, token.map(String::as_str), command, None, body).await;
        assert_eq!(got.as_deref(), Some(status), "case {name}: {problem}");
        assert_eq!(problem["code"], code, "case {name}: {problem}");
        assert_eq!(problem["status"].to_string(), status, "case {name}");
    }
    let big = format!(r#"{{"name":"{}","kind":"unit"}}"#, "x".repeat(300 * 1024));
    let (got, problem) = request(&client, Some(&admin), "RegisterBranch", None, &big).await;
    assert_eq!(
        (got.as_deref(), &problem["code"]),
        (Some("413"), &Value::from("too_large"))
    );
    assert_eq!(app.head().await.0, 1, "refused commands change nothing");

    let _ = stop.send(());
    server.await.expect("task").expect("serve");
    app.stop().await;
}
