//! The `allweather` binary as an operator runs it: a real process, real signals.

mod faults;
mod import;
mod old_log;

use allweather_domain::command::{
    AppointSecretary, AssignServiceBranch, IssueDualCard, LogServiceHours, ObserveAnniversary,
    RecordAppraisal, RecordCommunityFeedback, RegisterBranch, RegisterMember, VerifyServiceHours,
};
use allweather_domain::values::{BranchKind, Category, Rating, Year};
use allweather_events::{Actor, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, Log, LogOptions, NewEvent};
use allweather_test_support::{NatsServer, TestDatabase, TestSqlite, eventually};
use futures::StreamExt;
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_allweather");

/// Starts `allweather serve` and returns it with the base URL it printed.
async fn serve(data_dir: &Path, database: Option<&str>) -> (Child, String) {
    serve_with(data_dir, database, &[]).await
}

async fn serve_with(data_dir: &Path, database: Option<&str>, extra: &[&str]) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra);
    if let Some(url) = database {
        cmd.args(["--database", url]);
    }
    let (child, _, line) = spawn_reading(&mut cmd).await;
    let base = line
        .strip_prefix("listening on ")
        .expect("the first line says where it listens")
        .to_owned();
    (child, base)
}

/// Spawns `cmd` (killed on drop) and reads its first line of stdout (within 30 s); the
/// rest of its stdout stays readable.
async fn spawn_reading(cmd: &mut Command) -> (Child, Lines<BufReader<ChildStdout>>, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn allweather");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("allweather printed nothing within 30 s")
        .expect("read stdout")
        .expect("allweather closed stdout");
    (child, lines, first)
}

/// Runs commands against a live `serve`, sends SIGTERM midway, and checks that the
/// server drains and exits 0 and that every command answered 200 is in the log once.
async fn sigterm_loses_no_acknowledged_command(
    data_dir: &Path,
    database: Option<&str>,
    log_url: String,
) {
    let admin = token(
        data_dir,
        &["--role", "committee_admin", "--subject", "Zhang Wei"],
    );
    let (mut child, base) = serve(data_dir, database).await;
    let client = reqwest::Client::new();
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<(Uuid, u64)>();
    let send = futures::stream::iter(0..600)
        .map(|i| {
            let (client, base, acked) = (client.clone(), base.clone(), acked_tx.clone());
            let admin = admin.clone();
            async move {
                let key = Uuid::now_v7();
                let r = client
                    .post(format!("{base}/api/v1/commands/RegisterBranch"))
                    .bearer_auth(admin)
                    .header("idempotency-key", key.to_string())
                    .json(&unit_branch(format!("branch {i}")))
                    .send()
                    .await;
                if let Ok(r) = r
                    && r.status() == 200
                {
                    let body: serde_json::Value = r.json().await.expect("json");
                    let command_id = body["command_id"]
                        .as_str()
                        .and_then(|id| id.parse().ok())
                        .expect("command id");
                    let _ = acked.send((command_id, body["position"].as_u64().expect("position")));
                }
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>();
    let terminate = async {
        // Signal once the server has acknowledged a good share of the load.
        let mut acked = Vec::new();
        while acked.len() < 150 {
            match acked_rx.recv().await {
                Some(a) => acked.push(a),
                None => break,
            }
        }
        terminate(&child);
        acked
    };
    let (_, mut acked) = tokio::join!(send, terminate);
    drop(acked_tx);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve did not stop within 30 s of SIGTERM")
        .expect("wait");
    assert!(
        exit.success(),
        "serve must exit 0 after SIGTERM, got {exit}"
    );

    while let Ok(a) = acked_rx.try_recv() {
        acked.push(a);
    }
    assert!(acked.len() >= 150, "the load must have been acknowledged");
    let log = Log::open(LogOptions::new(log_url)).await.expect("open");
    let events = log.read_all(0, 10_000).await.expect("read");
    let committed: Vec<Uuid> = events.iter().map(|e| e.command_id).collect();
    assert_eq!(
        committed.len(),
        committed.iter().collect::<HashSet<_>>().len(),
        "no command twice"
    );
    let committed: HashSet<Uuid> = committed.into_iter().collect();
    for (key, position) in &acked {
        assert!(
            committed.contains(key),
            "acknowledged command {key} at position {position} is missing"
        );
    }
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=events.len() as u64).collect::<Vec<_>>());
    assert_eq!(log.verify(|_| {}).await.expect("verify").broken, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_sqlite_drains_on_sigterm_and_loses_no_acknowledged_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("log.db").display());
    sigterm_loses_no_acknowledged_command(dir.path(), None, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_drains_on_sigterm_and_loses_no_acknowledged_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDatabase::create().await;
    sigterm_loses_no_acknowledged_command(dir.path(), Some(db.url()), db.url().to_owned()).await;
}

/// Runs `allweather --data-dir DIR token issue ARGS…`; the token it printed.
fn token(data_dir: &Path, args: &[&str]) -> String {
    let dir = data_dir.to_str().expect("utf-8");
    let mut all = vec!["--data-dir", dir, "token", "issue"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_new_county_adopts_its_rules_issues_tokens_and_serves_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/2026.toml");

    let adopted = run(&["--data-dir", data, "rules", "adopt", rules]);
    assert!(
        adopted.status.success(),
        "{}",
        String::from_utf8_lossy(&adopted.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&adopted.stdout).trim(),
        "adopted the rules for 2026 at position 1"
    );
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(rules)
        .expect("rules")
        .replace("quiz = 15", "quiz = 99");
    std::fs::write(&bad, text).expect("write");
    let refused = run(&[
        "--data-dir",
        data,
        "rules",
        "adopt",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("ranking: weights must sum to 100"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let no_member = run(&["--data-dir", data, "token", "issue", "--role", "member"]);
    assert!(!no_member.status.success());
    assert!(String::from_utf8_lossy(&no_member.stderr).contains("--member"));
    // A committee admin is a person: the token names who.
    let nobody = run(&[
        "--data-dir",
        data,
        "token",
        "issue",
        "--role",
        "committee_admin",
    ]);
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("--subject"));
    let admin = token(
        dir.path(),
        &[
            "--role",
            "committee_admin",
            "--subject",
            "Zhang Wei",
            "--ttl",
            "1h",
        ],
    );
    let secret = dir.path().join("token-secret");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret)
            .expect("secret")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the secret is readable by its owner only"
        );
    }

    let (mut child, base) = serve(dir.path(), None).await;
    let client = reqwest::Client::new();
    let unauthenticated = client
        .post(format!("{base}/api/v1/commands/RegisterBranch"))
        .json(&unit_branch("Water Bureau"))
        .send()
        .await
        .expect("post");
    assert_eq!(unauthenticated.status(), 401);
    let r: serde_json::Value = client
        .post(format!("{base}/api/v1/commands/RegisterBranch"))
        .bearer_auth(&admin)
        .json(&unit_branch("Water Bureau"))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(r["position"], 2, "{r}");
    let stream = r["events"][0]["stream_id"].as_str().expect("stream id");
    let read: serde_json::Value = client
        .get(format!("{base}/api/v1/streams/{stream}"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(read["events"][0]["payload"]["name"], "Water Bureau");
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);

    // Revoked while the service runs: one token alone, then every token of a holder.
    let status = |token: String| {
        let (client, url) = (
            client.clone(),
            format!("{base}/api/v1/integrity/flags?year=2026"),
        );
        async move {
            let r = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("get");
            r.status().as_u16()
        }
    };
    let second = token(
        dir.path(),
        &["--role", "committee_admin", "--subject", "Zhang Wei"],
    );
    let colleague = token(dir.path(), &["--role", "auditor", "--subject", "Li Qiang"]);
    assert_eq!(status(admin.clone()).await, 200);
    let revoked = run(&["--data-dir", data, "token", "revoke", "--token", &admin]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    eventually("the token is refused", Duration::from_secs(10), || async {
        (status(admin.clone()).await == 401).then_some(())
    })
    .await;
    assert_eq!(
        status(second.clone()).await,
        200,
        "the holder's other token still works"
    );
    let revoked = run(&[
        "--data-dir",
        data,
        "token",
        "revoke",
        "--subject",
        "Zhang Wei",
    ]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    eventually(
        "every token of the holder is refused",
        Duration::from_secs(10),
        || async { (status(second.clone()).await == 401).then_some(()) },
    )
    .await;
    assert_eq!(
        status(colleague).await,
        200,
        "another holder's token still works"
    );
    let forged = run(&[
        "--data-dir",
        data,
        "token",
        "revoke",
        "--token",
        "not.a.token",
    ]);
    assert_eq!(
        forged.status.code(),
        Some(1),
        "only a token signed here is revoked"
    );
    child.kill().await.expect("kill");
}

/// Appends `n` `Probed` events, each to a stream of its own, straight through the log.
async fn append_probes(log: &Log, n: usize) {
    for i in 0..n {
        log.append(AppendRequest {
            request_digest: None,
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            actor: Actor {
                id: "cli-test".into(),
                role: Role::System,
            },
            stream_id: StreamId::parse(format!("probe-{i}")).expect("stream"),
            expected_version: ExpectedVersion::NoStream,
            events: vec![NewEvent {
                event_type: "Probed".into(),
                schema_version: 1,
                occurred_at: Timestamp::from_micros(0),
                payload: Payload::from_value(&serde_json::json!({ "note": i })).expect("payload"),
            }],
            also: vec![],
        })
        .await
        .expect("append");
    }
}

#[test]
fn bench_runs_the_bench_program_built_beside_it() {
    // `allweather bench` is a thin entry: the bench is a program of its own
    // (services/bench), built beside this one by `cargo test --workspace`.
    let out = run(&["bench", "--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Usage: allweather-bench"), "{stdout}");
    assert!(stdout.contains("append"), "{stdout}");
}

fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .output()
        .expect("run allweather")
}

#[tokio::test]
async fn audit_verify_prints_count_and_head_and_names_the_first_tampered_position() {
    let file = TestSqlite::create();
    let data_dir = file.path().parent().expect("dir").to_owned();
    let log = Log::open(LogOptions::sqlite_file(&file.path()))
        .await
        .expect("open");
    append_probes(&log, 10).await;
    let head = log.head().await.expect("head");
    log.shutdown().await;
    drop(log);
    let dir = data_dir.to_str().expect("utf-8 path");

    let ok = run(&["--data-dir", dir, "audit", "verify"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.trim(),
        format!("verified 10 events; head hash {}", head.hash)
    );

    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&file.url())
        .await
        .expect("connect");
    sqlx::raw_sql("DROP TRIGGER events_no_update; UPDATE events SET payload = '{\"note\":99}' WHERE position = 4")
        .execute(&mut conn)
        .await
        .expect("tamper");
    let bad = run(&["--data-dir", dir, "audit", "verify"]);
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("CHAIN BROKEN at position 4:"),
        "{stdout}"
    );

    let missing = run(&["--data-dir", "/nonexistent/allweather", "audit", "verify"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no log at"));
}

async fn stream_messages(nats: &NatsServer) -> Option<u64> {
    let client = async_nats::connect(nats.url()).await.ok()?;
    let mut stream = async_nats::jetstream::new(client)
        .get_stream("AW_EVENTS")
        .await
        .ok()?;
    Some(stream.info().await.ok()?.state.last_sequence)
}

fn terminate(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().expect("pid")).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("send SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_at_once_when_its_relay_fails() {
    // A message in the mirror that the log never wrote stops the relay with a mismatch;
    // the service it runs in stops with it, with an error, rather than serve on without
    // a mirror and report it only when stopped.
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start();
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.expect("connect"));
    js.create_stream(allweather_relay::stream_config(
        &allweather_relay::RelaySettings::default(),
    ))
    .await
    .expect("create the stream");
    js.publish("aw.evt.probe.intruder.Forged", "{}".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    let (mut child, _) = serve_with(dir.path(), None, &["--nats", &nats.url()]).await;
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve stops by itself when its relay fails")
        .expect("wait");
    assert_eq!(exit.code(), Some(2), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_nats_mirrors_every_command_and_answers_commands_over_nats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start();
    let admin = token(
        dir.path(),
        &["--role", "committee_admin", "--subject", "Zhang Wei"],
    );
    let (mut child, base) = serve_with(dir.path(), None, &["--nats", &nats.url()]).await;
    let client = reqwest::Client::new();
    for i in 0..50 {
        let r = client
            .post(format!("{base}/api/v1/commands/RegisterBranch"))
            .bearer_auth(&admin)
            .json(&unit_branch(format!("mirrored {i}")))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 200);
    }
    let nats_client = async_nats::connect(nats.url()).await.expect("connect");
    let reply = eventually(
        "a command answered over NATS",
        Duration::from_secs(30),
        || {
            let nats_client = nats_client.clone();
            let admin = admin.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, "over-nats-1");
                headers.insert("Authorization", format!("Bearer {admin}").as_str());
                let body = r#"{"name":"over nats","kind":"unit"}"#;
                let reply = nats_client
                    .request_with_headers("aw.cmd.RegisterBranch", headers, body.into())
                    .await
                    .ok()?;
                serde_json::from_slice::<serde_json::Value>(&reply.payload).ok()
            }
        },
    )
    .await;
    assert_eq!(reply["position"], 51, "{reply}");
    eventually(
        "51 messages in AW_EVENTS",
        Duration::from_secs(30),
        || async { stream_messages(&nats).await.filter(|n| *n == 51) },
    )
    .await;
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.lines().any(|l| l == "allweather_relay_lag 0"),
        "the mirror has caught up: {metrics}"
    );
    terminate(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stop")
        .expect("wait");
    assert!(exit.success(), "{exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_command_mirrors_an_existing_log_and_stops_on_sigterm() {
    let file = TestSqlite::create();
    let data_dir = file.path().parent().expect("dir").to_owned();
    let log = Log::open(LogOptions::sqlite_file(&file.path()))
        .await
        .expect("open");
    append_probes(&log, 40).await;
    let nats = NatsServer::start();
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["relay", "--nats", &nats.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn relay");
    eventually(
        "40 messages in AW_EVENTS",
        Duration::from_secs(30),
        || async { stream_messages(&nats).await.filter(|n| *n == 40) },
    )
    .await;
    terminate(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stop")
        .expect("wait");
    assert!(exit.success(), "{exit}");

    let dir = data_dir.to_str().expect("utf-8 path");
    let audit = run(&["--data-dir", dir, "audit", "verify", "--nats", &nats.url()]);
    let stdout = String::from_utf8_lossy(&audit.stdout);
    assert_eq!(audit.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("mirror: 40 messages match the log (log head 40)"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_runs_as_its_own_process_and_stops_on_sigterm_at_its_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/2026.toml");
    assert!(
        run(&["--data-dir", data, "rules", "adopt", rules])
            .status
            .success()
    );
    let (mut child, mut lines, first) =
        spawn_reading(Command::new(BIN).args(["--data-dir", data, "projector", "leaderboard"]))
            .await;
    assert_eq!(first, "projector leaderboard starting after position 0");
    let read = format!("sqlite://{}", dir.path().join("read.db").display());
    let store = allweather_projections::ReadStore::open(&read)
        .await
        .expect("read store");
    eventually(
        "the projector to apply the rules",
        Duration::from_secs(30),
        || async { (store.checkpoint("leaderboard").await.ok()? == 1).then_some(()) },
    )
    .await;
    terminate(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stop")
        .expect("wait");
    assert!(exit.success(), "{exit}");
    let last = lines.next_line().await.expect("read").expect("a line");
    assert_eq!(last, "projector leaderboard stopped at position 1");
}

/// Runs `name` with `body` as `who` through the command path; its reply.
/// The body of a `RegisterBranch` of a unit branch named `name`, as the API takes it.
fn unit_branch(name: impl Into<String>) -> serde_json::Value {
    allweather_domain::Command::from(RegisterBranch {
        branch_id: None,
        name: name.into(),
        kind: BranchKind::Unit,
        community: None,
    })
    .body()
}

async fn command(
    service: &allweather_api::CommandService,
    who: &allweather_domain::Principal,
    command: impl Into<allweather_domain::Command>,
) -> allweather_command::CommandReply {
    let command = command.into();
    let name = command.name();
    service
        .submit(who, command.clone(), None)
        .await
        .unwrap_or_else(|e| panic!("{name} {command:?} was refused: {e}"))
}

fn principal(
    role: Role,
    member: Option<Uuid>,
    branch: Option<Uuid>,
) -> allweather_domain::Principal {
    allweather_domain::Principal {
        subject: format!("{role:?}"),
        role,
        member_id: member,
        branch_id: branch,
    }
}

fn id_of(reply: &allweather_command::CommandReply) -> Uuid {
    reply.id.parse().expect("an id")
}

#[tokio::test]
async fn reassess_reports_no_change_under_the_rules_in_force_and_each_change_under_others() {
    let file = TestSqlite::create();
    let data_dir = file.path().parent().expect("dir").to_owned();
    let dir = data_dir.to_str().expect("utf-8 path");
    let rules_2026 = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/2026.toml");
    let adopted = run(&["--data-dir", dir, "rules", "adopt", rules_2026]);
    assert!(
        adopted.status.success(),
        "{}",
        String::from_utf8_lossy(&adopted.stderr)
    );

    // A member who reaches 40 points (qualified under 2026's rules), with her feedback,
    // anniversary and card in order.
    let log = Log::open(LogOptions::sqlite_file(&file.path()))
        .await
        .expect("open");
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-15T02:00:00Z")
        .expect("time")
        .to_utc();
    let options = allweather_api::CommandOptions {
        clock: std::sync::Arc::new(move || now),
        ..allweather_api::CommandOptions::default()
    };
    let service = allweather_api::CommandService::new(log.clone(), options).expect("service");
    let admin = principal(Role::CommitteeAdmin, None, None);
    let unit = id_of(
        &command(
            &service,
            &admin,
            RegisterBranch {
                branch_id: None,
                name: "Water Bureau".into(),
                kind: BranchKind::Unit,
                community: None,
            },
        )
        .await,
    );
    let street = id_of(
        &command(
            &service,
            &admin,
            RegisterBranch {
                branch_id: None,
                name: "East Street".into(),
                kind: BranchKind::Service,
                community: None,
            },
        )
        .await,
    );
    let register = |name: &str| RegisterMember {
        member_id: None,
        name: name.into(),
        unit_branch_id: unit,
        joined_on: "2010-06-01".parse().expect("a date"),
        cadre: None,
    };
    let secretary = id_of(&command(&service, &admin, register("Li Na")).await);
    let member = id_of(&command(&service, &admin, register("Wang Fang")).await);
    for m in [secretary, member] {
        command(
            &service,
            &admin,
            AssignServiceBranch {
                member_id: m,
                service_branch_id: street,
            },
        )
        .await;
    }
    command(
        &service,
        &admin,
        AppointSecretary {
            branch_id: street,
            member_id: secretary,
        },
    )
    .await;
    let them = principal(Role::Member, Some(member), None);
    for date in ["2026-06-01", "2026-06-02"] {
        let logged = LogServiceHours {
            record_id: None,
            member_id: member,
            date: date.parse().expect("a date"),
            hours: 10.0,
            category: Category::CentralWork,
            activity: "water works".into(),
            channel: None,
            campaign_id: None,
            start_time: None,
            organising_branch_id: None,
        };
        let record = id_of(&command(&service, &them, logged).await);
        command(&service, &admin, VerifyServiceHours { record_id: record }).await;
    }
    command(
        &service,
        &them,
        ObserveAnniversary {
            member_id: member,
            year: Year::new(2026).expect("a year"),
            reflection: "sixteen years of service".into(),
        },
    )
    .await;
    command(
        &service,
        &admin,
        IssueDualCard {
            member_id: Some(member),
            year: Year::new(2026).expect("a year"),
            all_members: None,
        },
    )
    .await;
    let centre = principal(Role::ServiceCentre, None, None);
    command(
        &service,
        &centre,
        RecordCommunityFeedback {
            member_id: member,
            year: Year::new(2026).expect("a year"),
            quarter: 2,
            note: "ran the water checks".into(),
        },
    )
    .await;
    // The unit branch's post is vacant: the committee records the appraisal.
    let basis = log.head().await.expect("head").position;
    command(
        &service,
        &admin,
        RecordAppraisal {
            member_id: member,
            year: Year::new(2026).expect("a year"),
            rating: Rating::Qualified,
            basis_position: basis,
            remarks: "democratic appraisal".into(),
        },
    )
    .await;
    let head = log.head().await.expect("head").position;
    log.shutdown().await;
    drop(log);

    let same = run(&[
        "--data-dir",
        dir,
        "reassess",
        "--year",
        "2026",
        "--rules",
        rules_2026,
    ]);
    let stdout = String::from_utf8_lossy(&same.stdout);
    assert!(
        same.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(
        stdout.contains("2 members and 2 branches judged"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "members whose criteria or contradicted judgements changed: 0\nbranches whose rank changed: 0\n"
        ),
        "{stdout}"
    );

    // Stricter rules: 50 points to qualify.
    let stricter = data_dir.join("stricter.toml");
    let text = std::fs::read_to_string(rules_2026)
        .expect("rules")
        .replace(
            "annual_points_threshold = 40.0",
            "annual_points_threshold = 50.0",
        )
        .replace("qualified = 40.0", "qualified = 50.0");
    std::fs::write(&stricter, text).expect("write");
    let csv = data_dir.join("changes.csv");
    let changed = run(&[
        "--data-dir",
        dir,
        "reassess",
        "--year",
        "2026",
        "--rules",
        stricter.to_str().expect("utf-8"),
        "--csv",
        csv.to_str().expect("utf-8"),
    ]);
    let stdout = String::from_utf8_lossy(&changed.stdout);
    assert!(
        changed.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    assert!(
        stdout.contains("members whose criteria or contradicted judgements changed: 1\n"),
        "{stdout}"
    );
    // No rating of the system's: the criteria that change, and the appraisal people
    // recorded that the evidence now contradicts.
    let (before, after) = (
        "3 of 4 requirements met; 1 disagreement(s)",
        "2 of 4 requirements met; 2 disagreement(s)",
    );
    assert!(
        stdout.contains(&format!("member Wang Fang ({member}): {before} -> {after}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("    service_points: 40.00 of 40.00, met -> 40.00 of 50.00, not met"),
        "{stdout}"
    );
    let contradicted =
        "appraised qualified; service points 40.00 of the 50.00 the rules expect behind qualified";
    assert!(
        stdout.contains(&format!("    now contradicted: {contradicted}")),
        "{stdout}"
    );
    let rows = std::fs::read_to_string(&csv).expect("csv");
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(
        lines[0],
        "kind,id,name,before,after,criterion,old_value,new_value"
    );
    assert_eq!(
        lines[1],
        format!(
            "member,{member},Wang Fang,{before},{after},service_points,\"40.00 of 40.00, met\",\"40.00 of 50.00, not met\""
        )
    );
    assert_eq!(
        lines[2],
        format!("member,{member},Wang Fang,{before},{after},contradicts,,{contradicted}")
    );
    assert_eq!(lines.len(), 3, "{rows}");

    // The live scorecard, rebuilt and swapped in.
    let rebuilt = run(&["--data-dir", dir, "projector", "scorecard", "--rebuild"]);
    let stdout = String::from_utf8_lossy(&rebuilt.stdout);
    assert!(
        rebuilt.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    assert!(stdout.starts_with("rebuilt scorecard from "), "{stdout}");
    assert!(
        stdout
            .trim_end()
            .ends_with(&format!("swapped it in at position {head}")),
        "{stdout}"
    );
    // A store that never ran the projector holds its checkpoint now: a projector started
    // on it goes on from the head, not from the start.
    let read = allweather_projections::ReadStore::open(&format!(
        "sqlite://{}",
        data_dir.join("read.db").display()
    ))
    .await
    .expect("read store");
    assert_eq!(
        read.checkpoint("scorecard").await.expect("checkpoint"),
        head
    );

    // The wrong year.
    let wrong = run(&[
        "--data-dir",
        dir,
        "reassess",
        "--year",
        "2027",
        "--rules",
        rules_2026,
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("holds the rules for 2026, not 2027"));
}

#[test]
fn demo_writes_the_same_log_for_the_same_seed_and_a_rerun_repeats_nothing() {
    let (a, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let demo = |dir: &Path, seed: &str| {
        let out = run(&[
            "--data-dir",
            dir.to_str().expect("utf-8"),
            "demo",
            "--members",
            "40",
            "--seed",
            seed,
            "--year",
            "2025",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let first = demo(a.path(), "5");
    assert!(
        first.starts_with(
            "demo county 2025 (seed 5): 60 branches (15 service, 5 temporary, 40 unit), 40 members"
        ),
        "{first}"
    );
    assert!(first.contains(" commands accepted, 0 refused"), "{first}");
    let head = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("log: "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no log line in {out}"))
    };
    assert_eq!(
        head(&demo(b.path(), "5")),
        head(&first),
        "the same seed, the same log"
    );
    let again = demo(a.path(), "5");
    assert_eq!(head(&again), head(&first), "a rerun appends nothing");
    assert!(again.contains(" commands accepted, 0 refused"), "{again}");
    let other = tempfile::tempdir().expect("dir");
    assert_ne!(head(&demo(other.path(), "6")), head(&first));
}

#[tokio::test]
async fn erase_beneficiary_destroys_the_key_records_the_act_once_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().to_str().expect("utf-8");
    let demo = run(&[
        "--data-dir",
        data_dir,
        "demo",
        "--members",
        "40",
        "--seed",
        "3",
        "--year",
        "2025",
    ]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let file = dir.path().join("log.db");
    let person = {
        let log = Log::open(LogOptions::sqlite_file(&file))
            .await
            .expect("open");
        let events = log.read_all(0, 100_000).await.expect("read");
        let published = events
            .iter()
            .find(|e| e.event_type == "WishPublished")
            .expect("the demo publishes wishes");
        let payload: serde_json::Value =
            serde_json::from_str(published.payload.as_str()).expect("json");
        let person: Uuid = payload["beneficiary"]["person_id"]
            .as_str()
            .and_then(|p| p.parse().ok())
            .expect("a sealed beneficiary");
        assert!(matches!(
            log.person_key(person).await.expect("key"),
            allweather_log::StoredKey::Live(_)
        ));
        log.shutdown().await;
        person
    };
    let erase = |id: &str| {
        run(&[
            "--data-dir",
            data_dir,
            "erase",
            "beneficiary",
            id,
            "--reason",
            "her daughter's request of 3 March",
        ])
    };
    let first = erase(&person.to_string());
    let said = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        said.starts_with(&format!(
            "erased beneficiary {person}: their key is destroyed"
        )),
        "{said}"
    );
    let again = erase(&person.to_string());
    assert!(again.status.success(), "a second run answers as the first");
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        said,
        "same position, nothing appended"
    );
    let other_reason = run(&[
        "--data-dir",
        data_dir,
        "erase",
        "beneficiary",
        &person.to_string(),
        "--reason",
        "a second request",
    ]);
    assert!(other_reason.status.success());
    assert_eq!(
        String::from_utf8_lossy(&other_reason.stdout),
        format!("beneficiary {person} was already erased\n")
    );
    let unknown = erase(&Uuid::now_v7().to_string());
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no wish or household was registered for"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let bad = erase("someone");
    assert_eq!(bad.status.code(), Some(2), "not a UUID: a usage error");

    let verify = run(&["--data-dir", data_dir, "audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let log = Log::open(LogOptions::sqlite_file(&file))
        .await
        .expect("open");
    assert_eq!(
        log.person_key(person).await.expect("key"),
        allweather_log::StoredKey::Erased
    );
    let events = log.read_all(0, 100_000).await.expect("read");
    let erasures: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type == "BeneficiaryErased")
        .map(|e| e.stream_id.as_str())
        .collect();
    assert_eq!(erasures, [format!("beneficiary-{person}")], "recorded once");
    log.shutdown().await;
}

#[test]
fn the_distributed_topology_on_loopback_equals_an_embedded_run() {
    // deploy/topology.sh: three NATS nodes, PostgreSQL, the relay and four projectors as
    // processes of their own, the demo through the command path, two command services;
    // it checks `audit verify --nats` and that both services answer as an embedded run.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/topology.sh");
    let out = std::process::Command::new("bash")
        .args([script, "60", "3"])
        .env("ALLWEATHER_BIN", BIN)
        .env(
            "ALLWEATHER_TEST_PG_URL",
            allweather_test_support::pg_admin_url(),
        )
        .output()
        .expect("run deploy/topology.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("topology: 60 members, ")
            && stdout.contains("audit verify --nats passed; read models equal the embedded run"),
        "{stdout}"
    );
}
