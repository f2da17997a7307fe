//! Behaviour of the HTTP service, on either backend.

use allweather_api::TokenKey;
use allweather_command::Claims;
use allweather_domain::Command;
use allweather_domain::command::{
    ClaimWish, EraseBeneficiary, PublishWish, RegisterBranch, RegisterMember,
};
use allweather_domain::values::{BranchKind, Category, WishOrigin};
use allweather_events::{Actor, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, NewEvent};
use allweather_test_support::{TestApp, id_of};
use serde_json::{Value, json};
use uuid::Uuid;

fn branch(name: &str) -> String {
    body(RegisterBranch {
        branch_id: None,
        name: name.into(),
        kind: BranchKind::Unit,
        community: None,
    })
}

/// A command's body as the API takes it, for a request a test sends raw.
fn body(command: impl Into<Command>) -> String {
    command.into().body().to_string()
}

pub async fn health_reports_the_head_of_the_log(app: TestApp) {
    let (status, body) = app.get("/healthz").await;
    assert_eq!(
        (status, &body["status"], &body["position"]),
        (200, &json!("ok"), &json!(0))
    );
    app.command(
        Some(&app.admin()),
        "RegisterBranch",
        branch("Water Bureau"),
        None,
    )
    .await;
    let (_, body) = app.get("/healthz").await;
    assert_eq!(body["position"], 1);
    app.stop().await;
}

pub async fn a_command_is_committed_and_its_stream_reads_back_with_full_envelopes(app: TestApp) {
    let r = app
        .command(
            Some(&app.admin()),
            "RegisterBranch",
            branch("全天候 水利局支部"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    assert_eq!(r.body["position"], 1);
    assert_eq!(r.body["events"][0]["event_type"], "BranchRegistered");
    assert_eq!(r.body["events"][0]["stream_id"], format!("branch-{id}"));

    let (status, stream) = app
        .get_as(&app.admin(), &format!("/api/v1/streams/branch-{id}"))
        .await;
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
    assert_eq!(event["payload"]["name"], "全天候 水利局支部");
    assert_eq!(event["payload"]["kind"], "unit");
    assert_eq!(
        event["actor"],
        json!({"id": "committee_admin@county", "role": "committee_admin"})
    );
    assert_eq!(event["prev_hash"], "0".repeat(64));
    assert_eq!(event["hash"], app.head().await.1);
    assert_eq!(event["command_id"], r.body["command_id"]);
    app.stop().await;
}

pub async fn a_repeated_idempotency_key_returns_the_first_response_and_appends_nothing_and_a_reused_one_is_refused(
    app: TestApp,
) {
    let admin = app.admin();
    let first = app
        .command(
            Some(&admin),
            "RegisterBranch",
            branch("once"),
            Some("order-42"),
        )
        .await;
    assert_eq!(first.status, 200);
    let again = app
        .command(
            Some(&admin),
            "RegisterBranch",
            branch("once"),
            Some("order-42"),
        )
        .await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    let key = Uuid::now_v7().to_string();
    let calls =
        (0..10).map(|_| app.command(Some(&admin), "RegisterBranch", branch("storm"), Some(&key)));
    let storm = futures::future::join_all(calls).await;
    assert!(
        storm
            .iter()
            .all(|r| r.status == 200 && r.body == storm[0].body),
        "{storm:?}"
    );
    assert_eq!(
        storm[0].body["id"], key,
        "a UUID v7 key is the id the client chose"
    );
    assert_eq!(app.head().await.0, 2, "one event per distinct key");

    // A key belongs to its caller. Another committee admin sending "order-42" gets a
    // command of their own; a member sending it is refused under their own rights, and
    // neither is shown the first caller's answer.
    let other_admin = app.token("committee_admin", None, Some(Uuid::now_v7()));
    let theirs = app
        .command(
            Some(&other_admin),
            "RegisterBranch",
            branch("once"),
            Some("order-42"),
        )
        .await;
    assert_eq!(theirs.status, 200, "{:?}", theirs.body);
    assert_ne!(theirs.body["command_id"], first.body["command_id"]);
    assert_ne!(theirs.body["id"], first.body["id"]);
    assert_eq!(theirs.body["position"], 3, "executed: {:?}", theirs.body);
    let member = app.member(Uuid::now_v7());
    let refused = app
        .command(
            Some(&member),
            "RegisterBranch",
            branch("once"),
            Some("order-42"),
        )
        .await;
    assert_eq!(
        (refused.status, &refused.body["code"]),
        (403, &json!("forbidden")),
        "{:?}",
        refused.body
    );
    // The first caller's key still answers the first caller.
    let mine = app
        .command(
            Some(&admin),
            "RegisterBranch",
            branch("once"),
            Some("order-42"),
        )
        .await;
    assert_eq!((mine.status, &mine.body), (200, &first.body));

    // One key sent at once with two different bodies: one body wins and its repeats get
    // its answer; the other body's requests are refused, whichever path (recorded before,
    // the same batch, a racing batch) found the first.
    let key = Uuid::now_v7().to_string();
    let calls = (0..12).map(|i| {
        let body = if i % 2 == 0 {
            branch("left")
        } else {
            branch("right")
        };
        app.command(Some(&admin), "RegisterBranch", body, Some(&key))
    });
    let storm = futures::future::join_all(calls).await;
    let won: Vec<&Value> = storm
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| &r.body)
        .collect();
    let refused = storm
        .iter()
        .filter(|r| r.status == 422 && r.body["code"] == "idempotency_key_reused")
        .count();
    assert_eq!((won.len(), refused), (6, 6), "{storm:?}");
    assert!(won.iter().all(|b| *b == won[0]));
    assert_eq!(app.head().await.0, 4, "one more event");
    app.stop().await;
}

fn foreign_token(claims: &Claims) -> String {
    TokenKey::from_secret(*b"someone else's secret, 32 bytes!")
        .expect("key")
        .issue(claims)
        .expect("token")
}

pub async fn every_refused_request_gets_its_status_and_code_and_changes_nothing(app: TestApp) {
    let admin = app.admin();
    let seeded = app
        .command(Some(&admin), "RegisterBranch", branch("seed"), None)
        .await;
    let seed_id = seeded.body["id"].as_str().expect("id").to_owned();
    let before = app.head().await;
    let now = chrono::Utc::now().timestamp() as u64;
    let claims = Claims {
        sub: "admin".into(),
        role: "committee_admin".into(),
        member: None,
        branch: None,
        iat: now,
        exp: now + 600,
        jti: None,
    };
    let forged = foreign_token(&claims);
    let expired = app
        .tokens
        .issue(&Claims {
            iat: now - 7200,
            exp: now - 3600,
            ..claims.clone()
        })
        .expect("token");
    let sign = |c: Claims| app.tokens.issue(&c).expect("token");
    let from_the_future = sign(Claims {
        iat: now + 3600,
        exp: now + 7200,
        ..claims.clone()
    });
    let immortal = sign(Claims {
        exp: now + 400 * 86_400,
        ..claims.clone()
    });
    let a_role_not_a_person = sign(Claims {
        sub: "committee_admin".into(),
        ..claims.clone()
    });
    let unknown_role = sign(Claims {
        role: "emperor".into(),
        ..claims.clone()
    });
    let unsigned = {
        let payload = admin.split('.').nth(1).expect("payload");
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
    };
    let member = app.member(Uuid::now_v7());
    let auditor = app.token("auditor", None, None);
    let big = branch(&"x".repeat(300 * 1024));
    // (case, token, command, body, idempotency key, status, code, field at fault)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        &'a str,
        String,
        Option<&'a str>,
        u16,
        &'a str,
        Option<&'a str>,
    );
    let ok = Some(admin.as_str());
    let cases: Vec<Case<'_>> = vec![
        (
            "not json",
            ok,
            "RegisterBranch",
            "{name".into(),
            None,
            400,
            "malformed",
            Some("body"),
        ),
        (
            "wrong type",
            ok,
            "RegisterBranch",
            r#"{"name": 5, "kind": "unit"}"#.into(),
            None,
            400,
            "malformed",
            Some("name"),
        ),
        (
            "unknown field",
            ok,
            "RegisterBranch",
            r#"{"name":"a","kind":"unit","colour":"red"}"#.into(),
            None,
            400,
            "malformed",
            Some("colour"),
        ),
        (
            "missing field",
            ok,
            "RegisterBranch",
            r#"{"name":"a"}"#.into(),
            None,
            400,
            "malformed",
            Some("body"),
        ),
        (
            "unknown kind",
            ok,
            "RegisterBranch",
            r#"{"name":"a","kind":"palace"}"#.into(),
            None,
            400,
            "malformed",
            Some("kind"),
        ),
        (
            "bad id",
            ok,
            "RegisterBranch",
            r#"{"name":"a","kind":"unit","branch_id":"x"}"#.into(),
            None,
            400,
            "malformed",
            Some("branch_id"),
        ),
        (
            "bad idempotency key",
            ok,
            "RegisterBranch",
            branch("a"),
            Some("has space"),
            400,
            "malformed",
            Some("Idempotency-Key"),
        ),
        (
            "no token",
            None,
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "forged token",
            Some(&forged),
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "expired token",
            Some(&expired),
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "token issued in the future",
            Some(&from_the_future),
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "token living over 366 days",
            Some(&immortal),
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "token naming a role for its holder",
            Some(&a_role_not_a_person),
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "token of an unknown role",
            Some(&unknown_role),
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "unsigned token",
            Some(&unsigned),
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "garbage token",
            Some("not.a.token"),
            "RegisterBranch",
            branch("a"),
            None,
            401,
            "unauthenticated",
            None,
        ),
        (
            "member registers a branch",
            Some(&member),
            "RegisterBranch",
            branch("a"),
            None,
            403,
            "forbidden",
            None,
        ),
        (
            "auditor issues a command",
            Some(&auditor),
            "RegisterBranch",
            branch("a"),
            None,
            403,
            "forbidden",
            None,
        ),
        (
            "unknown command",
            ok,
            "Teleport",
            "{}".into(),
            None,
            404,
            "not_found",
            None,
        ),
        (
            "absent branch",
            ok,
            "AppointSecretary",
            json!({"branch_id": Uuid::now_v7(), "member_id": Uuid::now_v7()}).to_string(),
            None,
            404,
            "not_found",
            None,
        ),
        (
            "branch registered twice",
            ok,
            "RegisterBranch",
            json!({"branch_id": seed_id, "name": "again", "kind": "unit"}).to_string(),
            None,
            409,
            "conflict",
            None,
        ),
        (
            "oversized body",
            ok,
            "RegisterBranch",
            big,
            None,
            413,
            "too_large",
            None,
        ),
        (
            "empty name",
            ok,
            "RegisterBranch",
            branch("  "),
            None,
            422,
            "invalid",
            Some("name"),
        ),
    ];
    for (name, token, command, body, key, status, code, field) in cases {
        let r = app.command(token, command, body, key).await;
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
        if status == 401 {
            assert!(
                !r.body.to_string().contains("secret"),
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
        ("absent stream", "/api/v1/streams/branch-nothing", 404),
        ("zero limit", "/api/v1/streams/branch-x?limit=0", 400),
        ("unknown query", "/api/v1/streams/branch-x?colour=red", 400),
    ] {
        let (got, body) = app.get_as(&admin, path).await;
        assert_eq!(got, status, "case {name}: {body}");
        assert!(body["detail"].is_string(), "case {name}: {body}");
    }
    let seed = format!("/api/v1/streams/branch-{seed_id}");
    let centre = app.centre();
    for (name, token, status) in [
        ("no token", None, 401),
        ("a member, of another's stream", Some(member.as_str()), 403),
        ("a service centre", Some(centre.as_str()), 403),
    ] {
        let (got, body) = match token {
            Some(t) => app.get_as(t, &seed).await,
            None => app.get(&seed).await,
        };
        assert_eq!(got, status, "case {name}: {body}");
    }
    app.stop().await;
}

pub async fn an_event_of_unknown_type_on_read_is_an_opaque_500(app: TestApp) {
    let stream_id = StreamId::parse("probe-future").expect("stream");
    app.log
        .append(AppendRequest {
            request_digest: None,
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
    let (status, body): (u16, Value) = app
        .get_as(&app.admin(), "/api/v1/streams/probe-future")
        .await;
    assert_eq!((status, &body["code"]), (500, &json!("internal")));
    assert!(
        !body.to_string().contains("Teleported"),
        "a 500 must not leak its cause: {body}"
    );
    app.stop().await;
}

pub async fn every_command_of_the_domain_is_served_and_reads_its_body(app: TestApp) {
    let admin = app.admin();
    for name in allweather_domain::Command::NAMES {
        let r = app.command(Some(&admin), name, "{}", None).await;
        assert_eq!(
            (r.status, &r.body["code"]),
            (400, &json!("malformed")),
            "{name} with an empty body: {:?}",
            r.body
        );
    }
    assert_eq!(app.head().await.0, 0);
    app.stop().await;
}

/// Reads Server-Sent Events from `response` until `n` events came: (id, event, data).
async fn next_events(
    response: &mut reqwest::Response,
    buffer: &mut String,
    n: usize,
) -> Vec<(u64, String, Value)> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while events.len() < n {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim_start().to_owned()))
            };
            if let (Some(id), Some(event), Some(data)) =
                (field("id:"), field("event:"), field("data:"))
            {
                events.push((
                    id.parse().expect("id"),
                    event,
                    serde_json::from_str(&data).expect("data"),
                ));
            }
        }
        if events.len() >= n {
            break;
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("events within 30 s")
            .expect("read")
            .expect("the stream is open");
        buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    events
}

pub async fn live_events_stream_new_envelopes_and_resume_after_the_last_event_id(app: TestApp) {
    let admin = app.admin();
    app.command(Some(&admin), "RegisterBranch", branch("before"), None)
        .await;
    let url = format!("{}/api/v1/events", app.base);
    let anonymous = app.client.get(&url).send().await.expect("get");
    assert_eq!(anonymous.status(), 401);
    let member = app
        .client
        .get(&url)
        .bearer_auth(app.member(Uuid::now_v7()))
        .send()
        .await
        .expect("get");
    assert_eq!(
        member.status(),
        403,
        "the whole log's events are not a member's to follow"
    );
    let bad = app
        .client
        .get(&url)
        .bearer_auth(&admin)
        .header("last-event-id", "x")
        .send()
        .await
        .expect("get");
    assert_eq!(bad.status(), 400);

    let mut live = app
        .client
        .get(&url)
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(live.status(), 200);
    assert!(
        live.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    let wish = json!({"origin": "micro_wish", "title": "A coat", "beneficiary": "Grandma Zhao",
                      "category": "festival", "deadline": "2030-01-01T00:00:00Z"});
    app.command(Some(&app.centre()), "PublishWish", wish.to_string(), None)
        .await;
    app.command(Some(&admin), "RegisterBranch", branch("after"), None)
        .await;
    let mut buffer = String::new();
    let seen = next_events(&mut live, &mut buffer, 2).await;
    let ids: Vec<(u64, &str)> = seen
        .iter()
        .map(|(id, event, _)| (*id, event.as_str()))
        .collect();
    assert_eq!(
        ids,
        [(2, "WishPublished"), (3, "BranchRegistered")],
        "only what came after subscribing"
    );
    assert_eq!(seen[0].2["position"], 2);
    assert_eq!(
        seen[0].2["payload"]["beneficiary"], "***",
        "the person in need is masked"
    );
    assert!(seen[1].2["hash"].is_string());

    let mut resumed = app
        .client
        .get(&url)
        .bearer_auth(&admin)
        .header("last-event-id", "2")
        .send()
        .await
        .expect("get");
    let mut buffer = String::new();
    let again = next_events(&mut resumed, &mut buffer, 1).await;
    assert_eq!(
        (again[0].0, again[0].1.as_str()),
        (3, "BranchRegistered"),
        "resumes after Last-Event-ID"
    );
    // A stream lasts no longer than its token: revoked, it ends within a reload.
    let auditor = app.token("auditor", None, Some(Uuid::now_v7()));
    let mut watching = app
        .client
        .get(&url)
        .bearer_auth(&auditor)
        .send()
        .await
        .expect("get");
    assert_eq!(watching.status(), 200);
    let claims = app.tokens.claims(&auditor).expect("the auditor's claims");
    app.log
        .revoke_token(&allweather_log::Revocation {
            subject: claims.sub,
            token_id: claims.jti,
            revoked_at: chrono::Utc::now().timestamp(),
        })
        .await
        .expect("revoke");
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while watching.chunk().await.expect("a chunk").is_some() {}
    })
    .await
    .expect("the revoked token's stream ends");

    // Stopping the service ends the open streams instead of waiting on them.
    tokio::time::timeout(std::time::Duration::from_secs(30), app.stop())
        .await
        .expect("the service stops with event streams open");
    drop((live, resumed));
}

pub async fn metrics_count_commands_batches_lag_and_stream_clients(app: TestApp) {
    let admin = app.admin();
    let r = app
        .command(Some(&admin), "RegisterBranch", branch("counted"), None)
        .await;
    let position = r.body["position"].as_u64().expect("position");
    app.command(Some(&admin), "RegisterBranch", "{}", None)
        .await;
    app.command(Some(&admin), "Teleport", "{}", None).await;
    let events = app
        .client
        .get(format!("{}/api/v1/events", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    // The board's position says the projector caught up; then its lag is 0.
    let (_, _) = app
        .get(&format!(
            "/api/v1/leaderboards/volunteers?year=2026&min_position={position}"
        ))
        .await;
    let text = app.metrics().await;
    for line in [
        "allweather_commands_total{command=\"RegisterBranch\",outcome=\"ok\"} 1",
        "allweather_commands_total{command=\"RegisterBranch\",outcome=\"malformed\"} 1",
        "allweather_commands_total{command=\"unknown\",outcome=\"not_found\"} 1",
        "allweather_append_batch_events_count 1",
        "allweather_log_head_position 1",
        "allweather_projector_lag{projector=\"leaderboard\"} 0",
        "allweather_sse_clients 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing from:\n{text}"
        );
    }
    drop(events);
    app.stop().await;
}

/// Every `$ref` in `value`, each once.
fn refs(value: &Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o {
                match v {
                    Value::String(r) if k == "$ref" => {
                        out.insert(r.clone());
                    }
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

pub async fn the_openapi_document_lists_every_command_and_route_and_each_is_served(app: TestApp) {
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for name in allweather_domain::Command::NAMES {
        let op = &paths[&format!("/api/v1/commands/{name}")]["post"];
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{name}"),
            "{name}"
        );
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name} is described"
        );
    }
    // Every reference resolves inside the document.
    let mut all = std::collections::BTreeSet::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} resolves"
        );
    }
    // Every documented query is served: none answers 404 or 405 (a missing year is a 400).
    let admin = app.admin();
    let member = uuid::Uuid::now_v7();
    let queries: Vec<&String> = paths
        .keys()
        .filter(|p| !p.starts_with("/api/v1/commands/"))
        .collect();
    for expected in [
        "/",
        "/healthz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/schemas",
        "/api/v1/streams/{stream_id}",
        "/api/v1/leaderboards/volunteers",
        "/api/v1/rankings/branches",
        "/api/v1/assessments/{member_id}",
        "/api/v1/wishes",
        "/api/v1/wishes/timings",
        "/api/v1/wishes/{wish_id}/beneficiary",
        "/api/v1/integrity/flags",
        "/api/v1/events",
    ] {
        assert!(
            queries.iter().any(|q| q.as_str() == expected),
            "{expected} is documented"
        );
    }
    for path in queries {
        if path == "/api/v1/events" {
            continue; // an endless stream: the live-events test covers it
        }
        let url = path
            .replace("{stream_id}", &format!("member-{member}"))
            .replace("{member_id}", &member.to_string())
            .replace("{wish_id}", &member.to_string());
        let r = app
            .client
            .get(format!("{}{url}", app.base))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        // A route that is not there answers axum's bare 404; a route that is there and
        // finds nothing answers a problem naming what.
        assert!(
            status != 405 && (status != 404 || body.contains("\"not_found\"")),
            "{url}: {status} {body}"
        );
        assert!(status < 500, "{url}: {status}");
    }
    // The events' schemas are served beside it.
    let (status, schemas) = app.get("/api/v1/schemas").await;
    assert_eq!(status, 200);
    for spec in allweather_domain::Event::SPECS {
        assert_eq!(
            schemas["events"][spec.event_type]["schema_version"], spec.schema_version,
            "{}",
            spec.event_type
        );
        assert_eq!(
            schemas["events"][spec.event_type]["schema"]["type"], "object",
            "{}",
            spec.event_type
        );
    }
    assert_eq!(
        schemas["commands"].as_object().map(|c| c.len()),
        Some(allweather_domain::Command::NAMES.len())
    );
    app.stop().await;
}

pub async fn a_beneficiary_is_sealed_in_the_log_shown_to_deliverers_and_erased_for_good(
    app: TestApp,
) {
    app.adopt_rules(|_| {}).await;
    let admin = app.admin();
    let water = RegisterBranch {
        branch_id: None,
        name: "Water Bureau branch".into(),
        kind: BranchKind::Unit,
        community: None,
    };
    let unit = id_of(&app.submit(&admin, water).await);
    let register = |name: &str| RegisterMember {
        member_id: None,
        name: name.into(),
        unit_branch_id: unit,
        joined_on: "2015-03-01".parse().expect("a date"),
        cadre: None,
    };
    let claimer = id_of(&app.submit(&admin, register("Li Ming")).await);
    let other = id_of(&app.submit(&admin, register("Zhou Hua")).await);
    let wish = PublishWish {
        wish_id: None,
        origin: WishOrigin::MicroWish,
        title: "A winter coat".into(),
        beneficiary: "Grandma Zhao".into(),
        beneficiary_contact: Some("Room 5, 12 East Street".into()),
        beneficiary_id: None,
        category: Category::Festival,
        deadline: Timestamp::parse("2026-12-01T00:00:00Z").expect("a deadline"),
        volunteers: None,
    };
    let wish_id = id_of(&app.submit(&app.centre(), wish.clone()).await);

    // The log (and so the mirror and every backup) holds only ciphertext.
    let all = app.log.read_all(0, 1_000).await.expect("read");
    let published = all
        .iter()
        .find(|e| e.event_type == "WishPublished")
        .expect("WishPublished");
    let stored = published.payload.as_str();
    assert!(
        !stored.contains("Zhao") && !stored.contains("East Street"),
        "clear text in the log: {stored}"
    );
    let payload: Value = serde_json::from_str(stored).expect("json");
    assert_eq!(
        payload["beneficiary"]["person_id"],
        wish_id.to_string().as_str(),
        "a person of their own by default"
    );

    let path = format!("/api/v1/wishes/{wish_id}/beneficiary");
    let (status, seen) = app.get_as(&app.centre(), &path).await;
    assert_eq!(status, 200, "{seen}");
    let cache = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(app.centre())
        .send()
        .await
        .expect("get");
    assert_eq!(
        cache.headers()["cache-control"],
        "no-store",
        "no cache keeps them"
    );
    assert_eq!(
        (&seen["name"], &seen["contact"], &seen["erased"]),
        (
            &json!("Grandma Zhao"),
            &json!("Room 5, 12 East Street"),
            &json!(false)
        )
    );
    let (status, refused) = app.get_as(&app.member(claimer), &path).await;
    assert_eq!(
        (status, &refused["rule"]),
        (403, &json!("NotEntitledToPersonalData")),
        "before the claim: {refused}"
    );
    assert_eq!(
        app.get_as(&app.token("auditor", None, None), &path).await.0,
        403
    );
    assert_eq!(app.get(&path).await.0, 401, "no token");
    assert_eq!(
        app.get_as(&admin, "/api/v1/wishes/not-a-uuid/beneficiary")
            .await
            .0,
        400
    );
    assert_eq!(
        app.get_as(
            &admin,
            &format!("/api/v1/wishes/{}/beneficiary", Uuid::now_v7())
        )
        .await
        .0,
        404
    );

    let claim = ClaimWish {
        wish_id,
        member_id: claimer,
    };
    app.submit(&app.member(claimer), claim).await;
    let (status, seen) = app.get_as(&app.member(claimer), &path).await;
    assert_eq!(
        (status, &seen["name"]),
        (200, &json!("Grandma Zhao")),
        "the claimer delivers it"
    );
    assert_eq!(
        app.get_as(&app.member(other), &path).await.0,
        403,
        "another member"
    );
    // Each showing is in the log: to whom and when, on the person's stream, without the
    // details; a refusal shows nothing and records nothing.
    let (status, shown) = app
        .get_as(&admin, &format!("/api/v1/streams/beneficiary-{wish_id}"))
        .await;
    assert_eq!(status, 200, "{shown}");
    let shown: Vec<(&Value, &Value, &Value)> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                &e["event_type"],
                &e["actor"]["role"],
                &e["payload"]["member_id"],
            )
        })
        .collect();
    let claimer_id = json!(claimer.to_string());
    assert_eq!(
        shown,
        [
            (
                &json!("BeneficiaryDisclosed"),
                &json!("service_centre"),
                &Value::Null
            ),
            (
                &json!("BeneficiaryDisclosed"),
                &json!("service_centre"),
                &Value::Null
            ),
            (
                &json!("BeneficiaryDisclosed"),
                &json!("member"),
                &claimer_id
            ),
        ]
    );
    let recorded = app.log.read_all(0, 1_000).await.expect("read");
    assert!(
        recorded
            .iter()
            .filter(|e| e.event_type == "BeneficiaryDisclosed")
            .all(|e| !e.payload.as_str().contains("Zhao")),
        "no details in a disclosure"
    );

    // Erasure: only a committee admin; destroys the key; recorded as an event.
    let erase = EraseBeneficiary {
        beneficiary_id: wish_id,
        reason: "her request of 14 June".into(),
    };
    let r = app
        .command(
            Some(&app.centre()),
            "EraseBeneficiary",
            body(erase.clone()),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let erased = app.submit(&admin, erase.clone()).await;
    assert_eq!(erased["events"][0]["event_type"], "BeneficiaryErased");
    let person = wish_id;
    assert_eq!(
        app.log.person_key(person).await.expect("key"),
        allweather_log::StoredKey::Erased
    );
    let (status, seen) = app.get_as(&app.member(claimer), &path).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(
        (&seen["name"], &seen["contact"], &seen["erased"]),
        (&json!("[erased]"), &Value::Null, &json!(true))
    );
    let r = app
        .command(Some(&admin), "EraseBeneficiary", body(erase), None)
        .await;
    assert_eq!((r.status, &r.body["rule"]), (409, &json!("AlreadyErased")));
    let again = PublishWish {
        beneficiary_id: Some(wish_id),
        ..wish
    };
    let r = app
        .command(Some(&app.centre()), "PublishWish", body(again), None)
        .await;
    assert_eq!(
        (r.status, &r.body["rule"]),
        (409, &json!("BeneficiaryErased")),
        "{}",
        r.body
    );
    let r = app
        .command(
            Some(&admin),
            "EraseBeneficiary",
            json!({"beneficiary_id": other, "reason": "x"}).to_string(),
            None,
        )
        .await;
    assert_eq!(
        (r.status, &r.body["rule"]),
        (404, &json!("BeneficiaryNotFound"))
    );

    // The chain never needed the clear text: it still verifies.
    let report = app.log.verify(|_| {}).await.expect("verify");
    assert_eq!((report.verified, report.broken), (app.head().await.0, None));
    app.stop().await;
}

/// Every answer carries the security headers, and none that may hold people's details is
/// kept by a cache; the only scripts its policy lets run are the platform's own files and
/// the dashboard's own script, by its hash: no other inline script.
pub async fn every_answer_carries_the_security_headers_and_none_is_stored_by_a_cache(app: TestApp) {
    let admin = app.admin();
    let registered = app
        .command(Some(&admin), "RegisterBranch", branch("headers"), None)
        .await;
    let stream = registered.body["events"][0]["stream_id"]
        .as_str()
        .expect("stream")
        .to_owned();
    for (path, token) in [
        ("/".to_owned(), None),
        ("/healthz".to_owned(), None),
        ("/signin".to_owned(), None),
        ("/api/v1/wishes?year=2026".to_owned(), None),
        (format!("/api/v1/streams/{stream}"), Some(&admin)),
        ("/api/v1/streams/member-nobody".to_owned(), Some(&admin)),
    ] {
        let mut request = app.client.get(format!("{}{path}", app.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let r = request.send().await.expect("get");
        let h = r.headers();
        let header = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        let csp = header("content-security-policy");
        let script = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src "))
            .unwrap_or_default();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("frame-ancestors 'none'")
                && script.starts_with("script-src 'self' 'sha256-")
                && !script.contains("unsafe"),
            "{path}: {csp}"
        );
        let cache = header("cache-control");
        if path == "/" {
            assert_eq!(cache, "no-cache", "the page is revalidated");
        } else {
            assert_eq!(cache, "no-store", "{path}");
        }
    }
    let reply = app
        .client
        .post(format!("{}/api/v1/commands/RegisterBranch", app.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(branch("headers again"))
        .send()
        .await
        .expect("post");
    assert_eq!(
        reply.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "a command's answer"
    );
    app.stop().await;
}

/// A household registered by an earlier release, whose hardship the log holds in clear
/// (`HouseholdRegistered` v1): shown to oversight as written until the household is
/// erased, and as erased from then on; the live stream never shows it.
pub async fn an_earlier_releases_clear_text_about_a_household_is_shown_as_erased_once_it_is(
    app: TestApp,
) {
    let household = Uuid::now_v7();
    let stream_id = StreamId::parse(format!("household-{household}")).expect("stream");
    app.log
        .append(AppendRequest {
            request_digest: None,
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            actor: Actor {
                id: "an earlier release".into(),
                role: Role::ServiceCentre,
            },
            stream_id,
            expected_version: ExpectedVersion::NoStream,
            events: vec![NewEvent {
                event_type: "HouseholdRegistered".into(),
                schema_version: 1,
                occurred_at: Timestamp::from_micros(0),
                payload: Payload::from_value(
                    &json!({"address_area": "East Street", "hardship": "widowed, a leaking roof"}),
                )
                .expect("payload"),
            }],
            also: vec![],
        })
        .await
        .expect("append");
    let admin = app.admin();
    let path = format!("/api/v1/streams/household-{household}");
    let hardship = async || {
        let (status, body) = app.get_as(&admin, &path).await;
        assert_eq!(status, 200, "{body}");
        body["events"][0]["payload"]["hardship"].clone()
    };
    assert_eq!(hardship().await, json!("widowed, a leaking roof"));
    let erase = EraseBeneficiary {
        beneficiary_id: household,
        reason: "the family's request".into(),
    };
    let erased = app.submit(&admin, erase).await;
    assert_eq!(erased["events"][0]["event_type"], "BeneficiaryErased");
    assert_eq!(hardship().await, json!("[erased]"));
    app.stop().await;
}
