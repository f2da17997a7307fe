//! Faults of the process: `serve` killed with SIGKILL under a steady command load, then
//! started again on the same data. Nothing it acknowledged is lost, nothing is counted
//! twice (also when clients retry what got no answer), the chain verifies, and every
//! read model it projected equals a clean rebuild from the log. And the disk filling up
//! under the embedded SQLite log, then space coming back. And a projector process killed
//! in the middle of its catch-up from the JetStream mirror.

use super::{BIN, serve, spawn_reading, terminate, token};
use allweather_domain::Command;
use allweather_domain::command::{LogServiceHours, RegisterBranch, RegisterMember};
use allweather_domain::values::{BranchKind, Category};
use allweather_log::{Log, LogOptions};
use allweather_projections::{Projector as _, ReadStore, replay};
use allweather_test_support::{NatsServer, TestDatabase, eventually};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

/// One command of the load: its idempotency key, name and body.
/// A command sent under its idempotency key.
type Sent = (Uuid, Command);

/// Posts `command`; its reply if it was answered 200.
async fn post(client: &reqwest::Client, base: &str, admin: &str, sent: &Sent) -> Option<Value> {
    let (key, command) = sent;
    let r = client
        .post(format!("{base}/api/v1/commands/{}", command.name()))
        .bearer_auth(admin)
        .header("idempotency-key", key.to_string())
        .json(&command.body())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json().await.ok()
}

async fn killed_under_load_loses_nothing_and_projects_as_a_rebuild(
    data_dir: &Path,
    database: Option<&str>,
    log_url: String,
    read_url: String,
) {
    let admin = token(
        data_dir,
        &["--role", "committee_admin", "--subject", "Zhang Wei"],
    );
    let (mut child, base) = serve(data_dir, database).await;
    let client = reqwest::Client::new();

    // A branch and twenty members, then a load of service hours and new branches.
    let unit = Uuid::now_v7();
    let members: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
    let branch = |branch_id, name: String| RegisterBranch {
        branch_id,
        name,
        kind: BranchKind::Unit,
        community: None,
    };
    let setup: Vec<Sent> = std::iter::once((
        Uuid::now_v7(),
        branch(Some(unit), "County Water Bureau branch".into()).into(),
    ))
    .chain(members.iter().enumerate().map(|(i, &m)| {
        let register = RegisterMember {
            member_id: Some(m),
            name: format!("Member {i}"),
            unit_branch_id: unit,
            joined_on: "2015-03-01".parse().expect("a date"),
            cadre: None,
        };
        (Uuid::now_v7(), register.into())
    }))
    .collect();
    for sent in &setup {
        assert!(
            post(&client, &base, &admin, sent).await.is_some(),
            "{sent:?} was refused"
        );
    }
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
        .date_naive();
    let load: Vec<Sent> = (0..800)
        .map(|i| {
            let command: Command = if i % 5 == 4 {
                branch(None, format!("Branch {i}")).into()
            } else {
                LogServiceHours {
                    record_id: None,
                    member_id: members[i % members.len()],
                    date: today,
                    hours: 0.5,
                    category: Category::CommunityService,
                    activity: format!("Task {i}"),
                    channel: None,
                    campaign_id: None,
                    start_time: None,
                    organising_branch_id: None,
                }
                .into()
            };
            (Uuid::now_v7(), command)
        })
        .collect();

    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Value)>();
    let send = futures::stream::iter(load.iter().enumerate())
        .map(|(i, sent)| {
            let (client, base, admin, acked) = (
                client.clone(),
                base.clone(),
                admin.clone(),
                acked_tx.clone(),
            );
            async move {
                if let Some(reply) = post(&client, &base, &admin, sent).await {
                    let _ = acked.send((i, reply));
                }
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>();
    let kill = async {
        let mut acked = Vec::new();
        while acked.len() < 200 {
            match acked_rx.recv().await {
                Some(a) => acked.push(a),
                None => break,
            }
        }
        child.start_kill().expect("SIGKILL serve");
        acked
    };
    let (_, mut acked) = tokio::join!(send, kill);
    drop(acked_tx);
    while let Ok(a) = acked_rx.try_recv() {
        acked.push(a);
    }
    let exit = child.wait().await.expect("wait");
    assert!(!exit.success(), "serve was killed: {exit}");
    assert!(
        acked.len() >= 200,
        "the load was acknowledged before the kill"
    );
    assert!(
        acked.len() < load.len(),
        "the kill came before the load was through ({} of {} acknowledged)",
        acked.len(),
        load.len()
    );

    // Started again on the same data, the service answers a retry of every command of
    // the load with the same key: the acknowledged ones as they were first answered.
    let (mut child, base) = serve(data_dir, database).await;
    let first: HashMap<usize, Value> = acked.into_iter().collect();
    for (i, sent) in load.iter().enumerate() {
        let reply = post(&client, &base, &admin, sent)
            .await
            .unwrap_or_else(|| panic!("the retry of command {i} was refused"));
        if let Some(before) = first.get(&i) {
            assert_eq!(&reply, before, "command {i} answers as it first did");
        }
    }

    let log = Log::open(LogOptions::new(log_url))
        .await
        .expect("open the log");
    let head = log.head().await.expect("head").position;
    let events = log.read_all(0, u32::MAX).await.expect("read");
    let commands: HashSet<Uuid> = events.iter().map(|e| e.command_id).collect();
    // A command's id is its key's, scoped to the token's holder.
    let id =
        |key: &Uuid| allweather_command::command_id("Zhang Wei", &key.to_string()).expect("a key");
    let expected: HashSet<Uuid> = setup.iter().chain(&load).map(|s| id(&s.0)).collect();
    assert_eq!(
        commands, expected,
        "each command is in the log, and no other"
    );
    let per_command = events
        .iter()
        .fold(HashMap::<Uuid, usize>::new(), |mut n, e| {
            *n.entry(e.command_id).or_default() += 1;
            n
        });
    for (key, command) in setup.iter().chain(&load) {
        // LogServiceHours writes the record and books its member-day; the others one event.
        let name = command.name();
        let want = if matches!(command, Command::LogServiceHours(_)) {
            2
        } else {
            1
        };
        assert_eq!(per_command.get(&id(key)), Some(&want), "{name} {key} once");
    }
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=head).collect::<Vec<_>>(), "no gap");
    assert_eq!(log.verify(|_| {}).await.expect("verify").broken, None);

    // The restarted projectors catch up from their checkpoints; then each read model
    // equals one replayed from nothing.
    let store = ReadStore::open(&read_url).await.expect("the read store");
    for projector in allweather_projections::all() {
        eventually(
            &format!("{} to reach position {head}", projector.name()),
            Duration::from_secs(60),
            || async { (store.checkpoint(projector.name()).await.ok()? >= head).then_some(()) },
        )
        .await;
    }
    super::terminate(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve stops within 30 s of SIGTERM")
        .expect("wait");
    assert!(exit.success(), "{exit}");
    let rebuilt = ReadStore::scratch().await.expect("a scratch store");
    for projector in allweather_projections::all() {
        allweather_projections::runner::prepare(&rebuilt, projector)
            .await
            .expect("prepare");
        replay(&rebuilt, projector, &log, |_| true, |_| {})
            .await
            .expect("replay");
        let (live, clean) = (
            projector.dump(store.pool()).await.expect("dump"),
            projector.dump(rebuilt.pool()).await.expect("dump"),
        );
        assert_eq!(
            live,
            clean,
            "{} after the kill equals a rebuild",
            projector.name()
        );
    }
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_sqlite_killed_under_load_loses_nothing_and_projects_as_a_rebuild() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = |file: &str| format!("sqlite://{}", dir.path().join(file).display());
    killed_under_load_loses_nothing_and_projects_as_a_rebuild(
        dir.path(),
        None,
        url("log.db"),
        url("read.db"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_killed_under_load_loses_nothing_and_projects_as_a_rebuild() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDatabase::create().await;
    killed_under_load_loses_nothing_and_projects_as_a_rebuild(
        dir.path(),
        Some(db.url()),
        db.url().to_owned(),
        db.url().to_owned(),
    )
    .await;
}

/// `serve` on SQLite with each file it writes limited to 1 MiB (`RLIMIT_FSIZE`, the soft
/// limit, with `SIGXFSZ` ignored so that a write past it fails with `EFBIG`, as on a full
/// disk). Commands are refused with 503 and a clear reason once the log cannot grow, never
/// with a 500; when the limit is lifted the same process takes commands again; every
/// command it acknowledged is in the log once and the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_commands_with_503_and_the_service_recovers_when_space_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = token(
        dir.path(),
        &["--role", "committee_admin", "--subject", "Zhang Wei"],
    );
    let script = format!(
        "trap '' XFSZ; ulimit -S -f 1024; exec '{BIN}' --data-dir '{}' serve --listen 127.0.0.1:0",
        dir.path().display()
    );
    let (mut child, _, line) =
        spawn_reading(tokio::process::Command::new("bash").args(["-c", &script])).await;
    let base = line
        .strip_prefix("listening on ")
        .expect("the first line says where it listens")
        .to_owned();
    let client = reqwest::Client::new();
    let name = "x".repeat(90);
    let post = |i: usize| {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        let body = json!({"name": format!("{i} {name}"), "kind": "unit"});
        async move {
            let r = client
                .post(format!("{base}/api/v1/commands/RegisterBranch"))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .expect("an answer");
            let retry_after = r.headers().contains_key("retry-after");
            (
                r.status().as_u16(),
                retry_after,
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let (mut acked, mut refused) = (Vec::new(), 0);
    let mut i = 0;
    while refused < 20 {
        i += 1;
        assert!(i < 20_000, "the log never filled its 1 MiB");
        let (status, retry_after, body) = post(i).await;
        match status {
            200 => acked.push(body["command_id"].as_str().expect("an id").to_owned()),
            503 => {
                refused += 1;
                assert!(retry_after, "a 503 says when to retry: {body}");
                assert_eq!(body["code"], "unavailable", "{body}");
                assert!(
                    body["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("disk I/O error")),
                    "the reason is named: {body}"
                );
            }
            other => panic!("command {i} got {other}: {body}"),
        }
    }
    assert!(
        !acked.is_empty(),
        "commands were taken before the disk filled"
    );

    // Space returns: the same process takes commands again.
    let pid = child.id().expect("a pid").to_string();
    let lifted = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--fsize=unlimited:"])
        .status()
        .expect("run prlimit");
    assert!(lifted.success(), "prlimit lifted the limit");
    for j in 0..20 {
        let (status, _, body) = post(i + 1 + j).await;
        assert_eq!(status, 200, "after space returned: {body}");
        acked.push(body["command_id"].as_str().expect("an id").to_owned());
    }
    terminate(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve stops within 30 s of SIGTERM")
        .expect("wait");
    assert!(exit.success(), "{exit}");

    let log = Log::open(LogOptions::sqlite_file(&dir.path().join("log.db")))
        .await
        .expect("open the log");
    let events = log.read_all(0, u32::MAX).await.expect("read");
    let committed: Vec<String> = events.iter().map(|e| e.command_id.to_string()).collect();
    let unique: HashSet<&String> = committed.iter().collect();
    assert_eq!(unique.len(), committed.len(), "no command twice");
    for id in &acked {
        assert!(
            unique.contains(id),
            "acknowledged command {id} is in the log"
        );
    }
    assert_eq!(log.verify(|_| {}).await.expect("verify").broken, None);
    log.shutdown().await;
}

/// A projector process following the JetStream mirror, killed with SIGKILL in the middle
/// of its catch-up (again and again), then started once more: it resumes from its
/// checkpoint on its durable consumer, and its read model equals a rebuild from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jetstream_projector_killed_mid_catch_up_resumes_and_equals_a_rebuild() {
    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().to_str().expect("utf-8").to_owned();
    let demo = std::process::Command::new(BIN)
        .args([
            "--data-dir",
            &data_dir,
            "demo",
            "--members",
            "150",
            "--seed",
            "2",
        ])
        .args(["--year", "2025"])
        .output()
        .expect("run the demo");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let log = Log::open(LogOptions::sqlite_file(&dir.path().join("log.db")))
        .await
        .expect("open the log");
    let head = log.head().await.expect("head").position;

    let nats = NatsServer::start();
    let spawn = |args: &[&str]| {
        tokio::process::Command::new(BIN)
            .args(["--data-dir", &data_dir])
            .args(args)
            .args(["--nats", &nats.url()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn")
    };
    let relay = spawn(&["relay"]);
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.expect("connect"));
    eventually(
        "the mirror to hold the log",
        Duration::from_secs(120),
        || async {
            let mut stream = js.get_stream("AW_EVENTS").await.ok()?;
            (stream.info().await.ok()?.state.last_sequence == head).then_some(())
        },
    )
    .await;

    let store = ReadStore::open(&format!(
        "sqlite://{}",
        dir.path().join("read.db").display()
    ))
    .await
    .expect("the read store");
    let checkpoint = || async { store.checkpoint("scorecard").await.unwrap_or(0) };
    let (mut at, mut midway) = (0, 0);
    while at < head && midway < 3 {
        let mut projector = spawn(&["projector", "scorecard"]);
        let before = at;
        eventually(
            "the projector to commit a batch",
            Duration::from_secs(60),
            || async { (checkpoint().await > before).then_some(()) },
        )
        .await;
        projector.start_kill().expect("SIGKILL");
        projector.wait().await.expect("wait");
        at = checkpoint().await;
        if at < head {
            midway += 1;
        }
    }
    assert!(
        midway > 0,
        "no kill landed before the head ({head}): the catch-up was too quick to test"
    );

    let mut projector = spawn(&["projector", "scorecard"]);
    eventually(
        "the projector to reach the head",
        Duration::from_secs(120),
        || async { (checkpoint().await == head).then_some(()) },
    )
    .await;
    terminate(&projector);
    let exit = tokio::time::timeout(Duration::from_secs(30), projector.wait())
        .await
        .expect("the projector stops within 30 s of SIGTERM")
        .expect("wait");
    assert!(exit.success(), "{exit}");
    drop(relay);

    let scorecard = allweather_projections::scorecard::Scorecard;
    let rebuilt = ReadStore::scratch().await.expect("a scratch store");
    allweather_projections::runner::prepare(&rebuilt, &scorecard)
        .await
        .expect("prepare");
    replay(&rebuilt, &scorecard, &log, |_| true, |_| {})
        .await
        .expect("replay");
    assert_eq!(
        scorecard.dump(store.pool()).await.expect("dump"),
        scorecard.dump(rebuilt.pool()).await.expect("dump"),
        "the scorecard, killed {midway} times mid-way, equals a rebuild"
    );
    log.shutdown().await;
}
