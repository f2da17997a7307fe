//! The relay against a real nats-server (each test its own, on a free port with a
//! temporary store) and a real log.

use allweather_events::{Actor, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, Log, LogOptions, NewEvent};
use allweather_relay::{MirrorReport, RelayError, RelaySettings, run, verify_mirror};
use allweather_test_support::{NatsCluster, NatsServer, TestSqlite, eventually};
use async_nats::jetstream;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

async fn append_many(log: &Log, tag: &str, n: usize) {
    let tasks: Vec<_> = (0..n.div_ceil(100))
        .map(|t| {
            let log = log.clone();
            let count = 100.min(n - t * 100);
            let stream = StreamId::parse(format!("probe-{tag}{t}")).expect("stream");
            tokio::spawn(async move {
                for i in 0..count {
                    log.append(AppendRequest {
                        request_digest: None,
                        command_id: Uuid::now_v7(),
                        correlation_id: Uuid::now_v7(),
                        actor: Actor {
                            id: "relay-test".into(),
                            role: Role::System,
                        },
                        stream_id: stream.clone(),
                        expected_version: ExpectedVersion::Any,
                        events: vec![NewEvent {
                            event_type: "Pinged".into(),
                            schema_version: 1,
                            occurred_at: Timestamp::from_micros(0),
                            payload: Payload::from_value(&serde_json::json!({ "i": i }))
                                .expect("payload"),
                        }],
                        also: vec![],
                    })
                    .await
                    .expect("append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
}

struct Relay {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), RelayError>>,
}

async fn start_relay(log: &Log, nats: &NatsServer) -> Relay {
    start_relay_on(log, vec![nats.url()], RelaySettings::default()).await
}

async fn start_relay_on(log: &Log, urls: Vec<String>, settings: RelaySettings) -> Relay {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(urls)
        .await
        .expect("connect");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(log.clone(), client, settings, async {
        let _ = stopped.await;
    }));
    Relay { stop, task }
}

impl Relay {
    async fn stop(self) -> Result<(), RelayError> {
        let _ = self.stop.send(());
        self.task.await.expect("relay task")
    }
}

async fn stream_state(nats: &NatsServer) -> Option<(u64, u64, u64)> {
    stream_state_on(vec![nats.url()]).await
}

async fn stream_state_on(urls: Vec<String>) -> Option<(u64, u64, u64)> {
    let client = async_nats::connect(urls).await.ok()?;
    let mut stream = jetstream::new(client).get_stream("AW_EVENTS").await.ok()?;
    let state = &stream.info().await.ok()?.state;
    Some((state.messages, state.first_sequence, state.last_sequence))
}

async fn wait_for_mirror(nats: &NatsServer, n: u64) {
    wait_for_mirror_on(vec![nats.url()], n).await;
}

async fn wait_for_mirror_on(urls: Vec<String>, n: u64) {
    eventually(
        &format!("the stream to hold {n} messages"),
        Duration::from_secs(60),
        || {
            let urls = urls.clone();
            async move { stream_state_on(urls).await.filter(|s| s.2 >= n) }
        },
    )
    .await;
}

async fn assert_exact_mirror(log: &Log, nats: &NatsServer, n: u64) {
    assert_exact_mirror_on(log, vec![nats.url()], n).await;
}

/// Every position 1..=n is in the stream at that sequence, carrying that event's id.
async fn assert_exact_mirror_on(log: &Log, urls: Vec<String>, n: u64) {
    assert_eq!(
        stream_state_on(urls.clone()).await,
        Some((n, 1, n)),
        "messages, first and last sequence"
    );
    let client = async_nats::connect(urls).await.expect("connect");
    let stream = jetstream::new(client)
        .get_stream("AW_EVENTS")
        .await
        .expect("stream");
    let events = log.read_all(0, 100_000).await.expect("read");
    assert_eq!(events.len() as u64, n);
    for event in &events {
        let message = stream
            .get_raw_message(event.position)
            .await
            .expect("message");
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned());
        assert_eq!(
            id,
            Some(event.event_id.to_string()),
            "position {}",
            event.position
        );
        let body: serde_json::Value = serde_json::from_slice(&message.payload).expect("json");
        assert_eq!(
            body["hash"],
            event.hash.to_string(),
            "position {}",
            event.position
        );
        assert_eq!(
            message.subject.as_str(),
            format!("aw.evt.probe.{}.Pinged", event.stream_id.id()),
            "position {}",
            event.position
        );
    }
}

async fn sqlite_log(file: &TestSqlite) -> Log {
    Log::open(LogOptions::new(file.url())).await.expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_are_mirrored_once_each_at_their_position() {
    let (file, nats) = (TestSqlite::create(), NatsServer::start());
    let log = sqlite_log(&file).await;
    let relay = start_relay(&log, &nats).await;
    append_many(&log, "a", 10_000).await;
    wait_for_mirror(&nats, 10_000).await;
    relay.stop().await.expect("clean stop");
    assert_exact_mirror(&log, &nats, 10_000).await;
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let report = verify_mirror(&log, client, &RelaySettings::default(), |_| {})
        .await
        .expect("verify");
    assert_eq!(
        report,
        MirrorReport {
            matching: 10_000,
            log_head: 10_000,
            difference: None
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_commit_while_nats_is_down_and_the_relay_catches_up_after() {
    let (file, mut nats) = (TestSqlite::create(), NatsServer::start());
    let log = sqlite_log(&file).await;
    let relay = start_relay(&log, &nats).await;
    append_many(&log, "before", 500).await;
    wait_for_mirror(&nats, 500).await;

    nats.kill();
    append_many(&log, "during", 1_000).await;
    assert_eq!(
        log.head().await.expect("head").position,
        1_500,
        "commits do not wait for NATS"
    );
    nats.restart();

    wait_for_mirror(&nats, 1_500).await;
    relay.stop().await.expect("clean stop");
    assert_exact_mirror(&log, &nats, 1_500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_that_lost_its_store_is_refilled_from_the_log() {
    let (file, mut nats) = (TestSqlite::create(), NatsServer::start());
    let log = sqlite_log(&file).await;
    let relay = start_relay(&log, &nats).await;
    append_many(&log, "before", 500).await;
    wait_for_mirror(&nats, 500).await;

    // The disk under JetStream is lost: the server comes back with no stream at all.
    nats.kill_and_lose_store();
    append_many(&log, "during", 300).await;
    nats.restart();

    // The relay finds the stream empty and mirrors the whole log again, in order.
    wait_for_mirror(&nats, 800).await;
    relay.stop().await.expect("clean stop");
    assert_exact_mirror(&log, &nats, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_relay_neither_repeats_nor_skips_even_after_dying_between_publish_and_ack() {
    let (file, nats) = (TestSqlite::create(), NatsServer::start());
    let log = sqlite_log(&file).await;
    let relay = start_relay(&log, &nats).await;
    append_many(&log, "a", 300).await;
    wait_for_mirror(&nats, 300).await;
    relay.stop().await.expect("clean stop");

    // A relay that published position 301 and died before it saw the ack: the message
    // is in the stream, and nothing else remembers it.
    append_many(&log, "b", 200).await;
    let next = log.read_all(300, 1).await.expect("read").remove(0);
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        next.event_id.to_string().as_str(),
    );
    let body =
        serde_json::to_vec(&next.to_json(next.payload.to_value().expect("payload"))).expect("json");
    jetstream::new(client)
        .publish_with_headers(
            format!("aw.evt.probe.{}.Pinged", next.stream_id.id()),
            headers,
            body.into(),
        )
        .await
        .expect("publish")
        .await
        .expect("ack");

    let relay = start_relay(&log, &nats).await;
    wait_for_mirror(&nats, 500).await;
    relay.stop().await.expect("clean stop");
    assert_exact_mirror(&log, &nats, 500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_message_in_the_stream_stops_the_relay_with_a_mismatch() {
    let (file, nats) = (TestSqlite::create(), NatsServer::start());
    let log = sqlite_log(&file).await;
    let relay = start_relay(&log, &nats).await;
    append_many(&log, "a", 10).await;
    wait_for_mirror(&nats, 10).await;
    relay.stop().await.expect("clean stop");

    let client = async_nats::connect(nats.url()).await.expect("connect");
    jetstream::new(client)
        .publish("aw.evt.probe.intruder.Forged", "{}".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    append_many(&log, "b", 5).await;

    let relay = start_relay(&log, &nats).await;
    let stopped = tokio::time::timeout(Duration::from_secs(30), relay.task)
        .await
        .expect("the relay must stop by itself")
        .expect("relay task");
    match stopped {
        Err(RelayError::Mismatch { stream, detail }) => {
            assert_eq!(stream, "AW_EVENTS");
            assert!(detail.contains("sequence 11"), "{detail}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert_eq!(
        stream_state(&nats).await,
        Some((11, 1, 11)),
        "nothing was published past the mismatch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_loses_and_repeats_nothing_when_the_stream_leader_dies_under_load() {
    let file = TestSqlite::create();
    let mut cluster = NatsCluster::start(3);
    let log = sqlite_log(&file).await;
    let settings = RelaySettings {
        replicas: 3,
        ..RelaySettings::default()
    };
    // The relay retries until the cluster has elected its JetStream leader.
    let relay = start_relay_on(&log, cluster.urls(), settings).await;
    append_many(&log, "a", 500).await;
    wait_for_mirror_on(cluster.urls(), 500).await;

    let client = async_nats::connect(cluster.urls()).await.expect("connect");
    let mut stream = jetstream::new(client)
        .get_stream("AW_EVENTS")
        .await
        .expect("stream");
    let info = stream.info().await.expect("info");
    let cluster_info = info.cluster.as_ref().expect("a clustered stream");
    assert_eq!(
        cluster_info.replicas.len(),
        2,
        "R3: a leader and two replicas"
    );
    let leader = cluster_info.leader.clone().expect("a leader");
    let leader: usize = leader.trim_start_matches('n').parse().expect("node name");

    // Kill the stream's leader while commands are committing.
    let writing = {
        let log = log.clone();
        tokio::spawn(async move { append_many(&log, "b", 1_000).await })
    };
    cluster.kill(leader);
    writing.await.expect("writer");
    let survivors: Vec<String> = cluster
        .urls()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, u)| u)
        .collect();
    wait_for_mirror_on(survivors.clone(), 1_500).await;

    // The node comes back and catches up.
    cluster.start_node(leader);
    append_many(&log, "c", 100).await;
    wait_for_mirror_on(cluster.urls(), 1_600).await;
    relay.stop().await.expect("clean stop");
    assert_exact_mirror_on(&log, cluster.urls(), 1_600).await;
    eventually(
        "every replica to be current again",
        Duration::from_secs(60),
        || {
            let urls = cluster.urls();
            async move {
                let client = async_nats::connect(urls).await.ok()?;
                let mut stream = jetstream::new(client).get_stream("AW_EVENTS").await.ok()?;
                let info = stream.info().await.ok()?;
                let replicas = &info.cluster.as_ref()?.replicas;
                (replicas.len() == 2 && replicas.iter().all(|r| r.current && !r.offline))
                    .then_some(())
            }
        },
    )
    .await;
}
