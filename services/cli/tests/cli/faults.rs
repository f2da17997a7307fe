//! Faults of the process: `serve` killed with SIGKILL under a steady command load, then
//! started again on the same data. Nothing it acknowledged is lost, nothing is counted
//! twice (also when clients retry what got no answer), the chain verifies, and every
//! read model it projected equals a clean rebuild from the log.

use super::{serve, token};
use allweather_log::{Log, LogOptions};
use allweather_projections::{ReadStore, replay};
use allweather_test_support::{TestDatabase, eventually};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

/// One command of the load: its idempotency key, name and body.
type Sent = (Uuid, &'static str, Value);

/// Posts `command`; its reply if it was answered 200.
async fn post(client: &reqwest::Client, base: &str, admin: &str, sent: &Sent) -> Option<Value> {
    let (key, name, body) = sent;
    let r = client
        .post(format!("{base}/api/v1/commands/{name}"))
        .bearer_auth(admin)
        .header("idempotency-key", key.to_string())
        .json(body)
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
    let admin = token(data_dir, &["--role", "committee_admin"]);
    let (mut child, base) = serve(data_dir, database).await;
    let client = reqwest::Client::new();

    // A branch and twenty members, then a load of service hours and new branches.
    let unit = Uuid::now_v7();
    let setup: Vec<Sent> = std::iter::once((
        Uuid::now_v7(),
        "RegisterBranch",
        json!({"branch_id": unit, "name": "County Water Bureau branch", "kind": "unit"}),
    ))
    .chain((0..20).map(|i| {
        (
            Uuid::now_v7(),
            "RegisterMember",
            json!({"member_id": Uuid::now_v7(), "name": format!("Member {i}"),
                   "unit_branch_id": unit, "joined_on": "2015-03-01"}),
        )
    }))
    .collect();
    let members: Vec<Value> = setup[1..]
        .iter()
        .map(|s| s.2["member_id"].clone())
        .collect();
    for sent in &setup {
        assert!(
            post(&client, &base, &admin, sent).await.is_some(),
            "{sent:?} was refused"
        );
    }
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
        .date_naive()
        .to_string();
    let load: Vec<Sent> = (0..800)
        .map(|i| {
            if i % 5 == 4 {
                (
                    Uuid::now_v7(),
                    "RegisterBranch",
                    json!({"name": format!("Branch {i}"), "kind": "unit"}),
                )
            } else {
                (
                    Uuid::now_v7(),
                    "LogServiceHours",
                    json!({"member_id": members[i % members.len()], "date": today, "hours": 0.5,
                           "category": "community_service", "activity": format!("Task {i}")}),
                )
            }
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
    let expected: HashSet<Uuid> = setup.iter().chain(&load).map(|s| s.0).collect();
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
    for (key, name, _) in setup.iter().chain(&load) {
        // LogServiceHours writes the record and books its member-day; the others one event.
        let want = if *name == "LogServiceHours" { 2 } else { 1 };
        assert_eq!(per_command.get(key), Some(&want), "{name} {key} once");
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
