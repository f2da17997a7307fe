//! Behaviour of the HTTP service, on either backend.

use crate::helpers::TestApp;
use allweather_events::{Actor, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, NewEvent};
use serde_json::json;
use uuid::Uuid;

pub async fn health_reports_the_head_of_the_log(app: TestApp) {
    let (status, body) = app.get("/healthz").await;
    assert_eq!(
        (status, &body["status"], &body["position"]),
        (200, &json!("ok"), &json!(0))
    );
    app.command("Ping", r#"{"note":"hello"}"#, None).await;
    let (_, body) = app.get("/healthz").await;
    assert_eq!(body["position"], 1);
    app.stop().await;
}

pub async fn a_ping_is_committed_and_its_stream_reads_back_with_full_envelopes(app: TestApp) {
    let r = app
        .command("Ping", r#"{"note":"全天候 hello"}"#, None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    assert_eq!(r.body["position"], 1);
    assert_eq!(r.body["events"][0]["event_type"], "Pinged");
    assert_eq!(r.body["events"][0]["stream_id"], format!("probe-{id}"));

    let (status, stream) = app.get(&format!("/api/v1/streams/probe-{id}")).await;
    assert_eq!(status, 200, "{stream}");
    let event = &stream["events"][0];
    for field in [
        "event_id",
        "stream_id",
        "stream_version",
        "position",
        "event_type",
        "schema_version",
        "occurred_at",
        "recorded_at",
        "command_id",
        "correlation_id",
        "actor",
        "payload",
        "prev_hash",
        "hash",
    ] {
        assert!(
            event.get(field).is_some(),
            "envelope field {field} missing: {event}"
        );
    }
    assert_eq!(event["payload"], json!({"note": "全天候 hello"}));
    assert_eq!(event["prev_hash"], "0".repeat(64));
    assert_eq!(event["hash"], app.head().await.1);
    assert_eq!(event["command_id"], r.body["command_id"]);
    app.stop().await;
}

pub async fn a_repeated_idempotency_key_returns_the_first_response_and_appends_nothing(
    app: TestApp,
) {
    let first = app
        .command("Ping", r#"{"note":"once"}"#, Some("order-42"))
        .await;
    assert_eq!(first.status, 200);
    let again = app
        .command("Ping", r#"{"note":"once"}"#, Some("order-42"))
        .await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    let key = Uuid::now_v7().to_string();
    let calls = (0..10).map(|_| app.command("Ping", r#"{"note":"storm"}"#, Some(&key)));
    let storm = futures::future::join_all(calls).await;
    assert!(
        storm
            .iter()
            .all(|r| r.status == 200 && r.body == storm[0].body),
        "{storm:?}"
    );
    assert_eq!(storm[0].body["command_id"], key);
    assert_eq!(app.head().await.0, 2, "one event per distinct key");
    app.stop().await;
}

pub async fn every_malformed_request_gets_a_specific_problem_and_changes_nothing(app: TestApp) {
    app.command("Ping", r#"{"note":"seed"}"#, None).await;
    let before = app.head().await;
    let big = format!(r#"{{"note":"{}"}}"#, "x".repeat(300 * 1024));
    let long_note = format!(r#"{{"note":"{}"}}"#, "字".repeat(1001));
    // (case, command, body, idempotency key, status, code, field at fault)
    type Case<'a> = (
        &'a str,
        &'a str,
        String,
        Option<&'a str>,
        u16,
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "not json",
            "Ping",
            "{note".into(),
            None,
            400,
            "malformed",
            Some("body"),
        ),
        (
            "wrong type",
            "Ping",
            r#"{"note": 5}"#.into(),
            None,
            400,
            "malformed",
            Some("note"),
        ),
        (
            "unknown field",
            "Ping",
            r#"{"note":"a","colour":"red"}"#.into(),
            None,
            400,
            "malformed",
            Some("colour"),
        ),
        (
            "missing field",
            "Ping",
            "{}".into(),
            None,
            400,
            "malformed",
            Some("body"),
        ),
        (
            "empty note",
            "Ping",
            r#"{"note":""}"#.into(),
            None,
            400,
            "malformed",
            Some("note"),
        ),
        (
            "note too long",
            "Ping",
            long_note,
            None,
            400,
            "malformed",
            Some("note"),
        ),
        (
            "bad probe id",
            "Ping",
            r#"{"note":"a","probe_id":"x"}"#.into(),
            None,
            400,
            "malformed",
            Some("probe_id"),
        ),
        ("oversized body", "Ping", big, None, 413, "too_large", None),
        (
            "unknown command",
            "Teleport",
            "{}".into(),
            None,
            404,
            "not_found",
            None,
        ),
        (
            "bad idempotency key",
            "Ping",
            r#"{"note":"a"}"#.into(),
            Some("has space"),
            400,
            "malformed",
            Some("Idempotency-Key"),
        ),
    ];
    for (name, command, body, key, status, code, field) in cases {
        let r = app.command(command, body, key).await;
        assert_eq!(r.status, status, "case {name}: {:?}", r.body);
        assert_eq!(r.content_type, "application/problem+json", "case {name}");
        assert_eq!(r.body["code"], code, "case {name}: {:?}", r.body);
        assert_eq!(r.body["status"], status, "case {name}");
        assert!(
            r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "case {name}"
        );
        if let Some(field) = field {
            assert_eq!(
                r.body["errors"][0]["field"], field,
                "case {name}: {:?}",
                r.body
            );
        }
        assert_eq!(app.head().await, before, "case {name} must change nothing");
    }
    for (name, path, status) in [
        (
            "malformed stream id",
            "/api/v1/streams/Not%20a%20stream",
            400,
        ),
        ("absent stream", "/api/v1/streams/probe-nothing", 404),
        ("zero limit", "/api/v1/streams/probe-x?limit=0", 400),
        ("unknown query", "/api/v1/streams/probe-x?colour=red", 400),
    ] {
        let (got, body) = app.get(path).await;
        assert_eq!(got, status, "case {name}: {body}");
        assert!(body["detail"].is_string(), "case {name}: {body}");
    }
    app.stop().await;
}

pub async fn an_event_of_unknown_type_on_read_is_an_opaque_500(app: TestApp) {
    let stream_id = StreamId::parse("probe-future").expect("stream");
    app.log
        .append(AppendRequest {
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            actor: Actor {
                id: "newer-build".into(),
                role: Role::System,
            },
            stream_id,
            expected_version: ExpectedVersion::NoStream,
            events: vec![NewEvent {
                event_type: "Teleported".into(),
                schema_version: 1,
                occurred_at: Timestamp::from_micros(0),
                payload: Payload::from_value(&json!({"secret": "internal detail"}))
                    .expect("payload"),
            }],
            also: vec![],
        })
        .await
        .expect("append");
    let (status, body) = app.get("/api/v1/streams/probe-future").await;
    assert_eq!((status, &body["code"]), (500, &json!("internal")));
    assert!(
        !body.to_string().contains("Teleported"),
        "a 500 must not leak its cause: {body}"
    );
    app.stop().await;
}
