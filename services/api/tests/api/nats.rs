//! Commands over NATS request/reply, against a private nats-server.

use crate::helpers::TestApp;
use allweather_test_support::{NatsServer, eventually};
use serde_json::Value;
use std::time::Duration;

async fn request(
    client: &async_nats::Client,
    command: &str,
    key: Option<&str>,
    body: &str,
) -> (Option<String>, Value) {
    let mut headers = async_nats::HeaderMap::new();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_over_nats_answer_as_over_http_with_the_same_errors_and_idempotency() {
    let app = TestApp::sqlite().await;
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(allweather_api::nats::serve_commands(
        app.log.clone(),
        client.clone(),
        "aw",
        async {
            let _ = stopped.await;
        },
    ));
    // The first request that finds the service subscribed is answered.
    let first = eventually(
        "the command service to answer",
        Duration::from_secs(30),
        || {
            let client = client.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, "order-7");
                let reply = client
                    .request_with_headers("aw.cmd.Ping", headers, r#"{"note":"over nats"}"#.into())
                    .await
                    .ok()?;
                serde_json::from_slice::<Value>(&reply.payload).ok()
            }
        },
    )
    .await;
    assert_eq!(first["position"], 1, "{first}");
    assert_eq!(first["events"][0]["event_type"], "Pinged");

    let (status, again) =
        request(&client, "Ping", Some("order-7"), r#"{"note":"over nats"}"#).await;
    assert_eq!(
        (status, &again),
        (None, &first),
        "a repeated Nats-Msg-Id replays the first answer"
    );

    for (name, command, body, status, code) in [
        ("malformed", "Ping", "{note", "400", "malformed"),
        (
            "unknown field",
            "Ping",
            r#"{"note":"a","x":1}"#,
            "400",
            "malformed",
        ),
        ("unknown command", "Teleport", "{}", "404", "not_found"),
    ] {
        let (got, problem) = request(&client, command, None, body).await;
        assert_eq!(got.as_deref(), Some(status), "case {name}: {problem}");
        assert_eq!(problem["code"], code, "case {name}: {problem}");
        assert_eq!(problem["status"].to_string(), status, "case {name}");
    }
    let big = format!(r#"{{"note":"{}"}}"#, "x".repeat(300 * 1024));
    let (got, problem) = request(&client, "Ping", None, &big).await;
    assert_eq!(
        (got.as_deref(), &problem["code"]),
        (Some("413"), &Value::from("too_large"))
    );
    assert_eq!(app.head().await.0, 1, "refused commands change nothing");

    let _ = stop.send(());
    server.await.expect("task").expect("serve");
    app.stop().await;
}
