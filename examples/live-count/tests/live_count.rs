//! The example dashboard, run as the separate program it is, against a real nats-server
//! fed by the relay: its count equals the log's.

use allweather_events::{Actor, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, Log, LogOptions, NewEvent};
use allweather_relay::RelaySettings;
use allweather_test_support::{NatsServer, TestSqlite};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

async fn append(log: &Log, stream: &str, event_type: &str) {
    log.append(AppendRequest {
        request_digest: None,
        command_id: Uuid::now_v7(),
        correlation_id: Uuid::now_v7(),
        actor: Actor {
            id: "example-test".into(),
            role: Role::System,
        },
        stream_id: StreamId::parse(stream).expect("stream"),
        expected_version: ExpectedVersion::Any,
        events: vec![NewEvent {
            event_type: event_type.into(),
            schema_version: 1,
            occurred_at: Timestamp::from_micros(0),
            payload: Payload::from_value(&serde_json::json!({})).expect("payload"),
        }],
        also: vec![],
    })
    .await
    .expect("append");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_count_equals_the_logs_through_history_and_live_events() {
    let (file, nats) = (TestSqlite::create(), NatsServer::start());
    let log = Log::open(LogOptions::new(file.url())).await.expect("open");
    // History before the dashboard starts: wishes among other aggregates.
    for i in 0..30 {
        append(&log, &format!("wish-{}", i % 7), "WishPublished").await;
        append(&log, &format!("member-{i}"), "MemberRegistered").await;
    }
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(allweather_relay::run(
        log.clone(),
        client,
        RelaySettings::default(),
        async {
            let _ = stopped.await;
        },
    ));
    // The stream exists once the relay has created it.
    allweather_test_support::eventually("the stream", Duration::from_secs(30), || async {
        let client = async_nats::connect(nats.url()).await.ok()?;
        async_nats::jetstream::new(client)
            .get_stream("AW_EVENTS")
            .await
            .ok()
    })
    .await;

    let mut dashboard = tokio::process::Command::new(env!("CARGO_BIN_EXE_live-count"))
        .args(["--nats", &nats.url(), "--aggregate", "wish"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the dashboard");
    let mut lines = BufReader::new(dashboard.stdout.take().expect("stdout")).lines();

    // Live events while it runs.
    for i in 0..20 {
        append(&log, &format!("wish-{}", i % 3), "WishClaimed").await;
        append(&log, &format!("household-{i}"), "VisitRecorded").await;
    }

    let in_log = log
        .read_all(0, 1_000)
        .await
        .expect("read")
        .iter()
        .filter(|e| e.stream_id.aggregate() == "wish")
        .count();
    assert_eq!(in_log, 50);
    let mut last = serde_json::Value::Null;
    while last["count"].as_u64() != Some(in_log as u64) {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the dashboard fell silent before counting every wish event")
            .expect("read")
            .expect("the dashboard stopped");
        last = serde_json::from_str(&line).expect("a JSON line");
        let event_type = last["event_type"].as_str().expect("event type");
        assert!(
            event_type.starts_with("Wish"),
            "only wish events are counted: {last}"
        );
    }
    let last_wish = log
        .read_all(0, 1_000)
        .await
        .expect("read")
        .into_iter()
        .rfind(|e| e.stream_id.aggregate() == "wish")
        .expect("a wish");
    assert_eq!(
        last["sequence"].as_u64(),
        Some(last_wish.position),
        "the count's last event is the log's last wish event"
    );
    dashboard.kill().await.expect("kill");
    let _ = stop.send(());
    relay.await.expect("relay task").expect("relay");
}
