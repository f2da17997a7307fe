//! `allweather-peer`: a benchmark peer that runs allweather's branch-meeting
//! command workload (a mirror of `RecordBranchMeeting`, one event per command)
//! through `cqrs-es` 0.5 with the `postgres-es` 0.5 event repository, so the
//! allweather command path can be compared with an off-the-shelf framework.
//!
//! It is its own workspace root, outside the main workspace, because
//! `postgres-es` 0.5 depends on sqlx 0.8: in the main workspace's lock file
//! that would downgrade `libsqlite3-sys`, which the workspace's sqlx 0.9 needs.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use chrono::{NaiveDate, Utc};
use clap::Parser;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use postgres_es::{PostgresCqrs, postgres_cqrs};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;

/// cqrs-es + postgres-es peer of allweather's command benchmark.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// PostgreSQL URL of a scratch database the peer may create tables in.
    #[arg(long)]
    database: String,
    /// Number of concurrent callers (tokio tasks).
    #[arg(long)]
    callers: usize,
    /// Total number of timed `RecordMeeting` commands.
    #[arg(long)]
    commands: usize,
    /// Target number of meetings per branch (sets the number of branches).
    #[arg(long, default_value_t = 20)]
    per_branch: usize,
}

/// The one JSON line printed on stdout; fields serialize in this order.
#[derive(Serialize)]
struct Report {
    /// Which framework ran the workload.
    peer: &'static str,
    /// Concurrent callers (N).
    callers: usize,
    /// Timed commands (M).
    commands: usize,
    /// Branches registered before the timed part (B).
    branches: usize,
    /// Wall time of the timed part.
    seconds: f64,
    /// `commands / seconds`.
    commands_per_s: f64,
}

/// The schema of postgres-es's `db/init.sql`, made idempotent.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS events (
        aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        sequence bigint CHECK (sequence >= 0) NOT NULL,
        event_type text NOT NULL, event_version text NOT NULL,
        payload json NOT NULL, metadata json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, sequence));
    CREATE TABLE IF NOT EXISTS snapshots (
        aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
        current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
        payload json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));";

/// A branch of the organisation: the aggregate every command targets.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Branch {
    /// Whether `Register` has been accepted.
    registered: bool,
    /// The branch's name.
    name: String,
    /// How many meetings have been recorded.
    meetings: u64,
}

/// Commands accepted by a [`Branch`].
#[derive(Debug, Clone)]
enum BranchCommand {
    /// Register the branch under a name.
    Register { name: String },
    /// Record a meeting.
    RecordMeeting(Meeting),
}

/// A branch meeting: the payload of `RecordMeeting` and of its event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meeting {
    /// The day it was held.
    date: NaiveDate,
    /// What it was about.
    topic: String,
    /// How many people came.
    attendees: u32,
}

/// Events emitted by a [`Branch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum BranchEvent {
    /// The branch was registered.
    BranchRegistered { name: String },
    /// A meeting was recorded.
    BranchMeetingRecorded(Meeting),
}

impl DomainEvent for BranchEvent {
    fn event_type(&self) -> String {
        match self {
            Self::BranchRegistered { .. } => "BranchRegistered",
            Self::BranchMeetingRecorded(_) => "BranchMeetingRecorded",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// A refused command: the domain rule it broke.
#[derive(Debug)]
struct BranchError(String);

impl std::fmt::Display for BranchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BranchError {}

/// Refuses with `msg` unless `ok`.
fn rule(ok: bool, msg: impl FnOnce() -> String) -> Result<(), BranchError> {
    if ok { Ok(()) } else { Err(BranchError(msg())) }
}

impl Aggregate for Branch {
    const TYPE: &'static str = "branch";
    type Command = BranchCommand;
    type Event = BranchEvent;
    type Error = BranchError;
    type Services = ();

    async fn handle(
        &mut self,
        command: BranchCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), BranchError> {
        let event = match command {
            BranchCommand::Register { name } => {
                rule(!self.registered, || "branch already registered".into())?;
                BranchEvent::BranchRegistered { name }
            }
            BranchCommand::RecordMeeting(meeting) => {
                rule(self.registered, || "branch not registered".into())?;
                let (date, today) = (meeting.date, Utc::now().date_naive());
                rule(date <= today, || format!("date {date} is after today"))?;
                let topic = meeting.topic.trim().to_string();
                let len = topic.chars().count();
                rule((1..=200).contains(&len), || {
                    format!("topic must be 1 to 200 characters, got {len}")
                })?;
                let attendees = meeting.attendees;
                rule(attendees <= 10_000, || {
                    format!("attendees must be 0 to 10000, got {attendees}")
                })?;
                BranchEvent::BranchMeetingRecorded(Meeting { topic, ..meeting })
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: BranchEvent) {
        match event {
            BranchEvent::BranchRegistered { name } => {
                self.registered = true;
                self.name = name;
            }
            BranchEvent::BranchMeetingRecorded(_) => self.meetings += 1,
        }
    }
}

/// Caller `c`'s jobs: `count` commands made by `make`, cycling round-robin
/// over the branches `c, c+n, c+2n, …` that caller `c` alone owns.
fn jobs(
    ids: &[String],
    c: usize,
    n: usize,
    count: usize,
    make: impl Fn(&str) -> BranchCommand,
) -> Vec<(String, BranchCommand)> {
    let mine: Vec<&String> = ids.iter().skip(c).step_by(n).collect();
    (0..count)
        .map(|i| (mine[i % mine.len()].clone(), make(mine[i % mine.len()])))
        .collect()
}

/// Runs each caller's list of `(aggregate id, command)` in its own task, in
/// order, and returns the number of commands that failed.
async fn drive(
    cqrs: &Arc<PostgresCqrs<Branch>>,
    jobs: Vec<Vec<(String, BranchCommand)>>,
) -> anyhow::Result<usize> {
    let mut tasks = tokio::task::JoinSet::new();
    for list in jobs {
        let cqrs = Arc::clone(cqrs);
        tasks.spawn(async move {
            let mut failed = 0;
            for (id, command) in list {
                if let Err(e) = cqrs.execute(&id, command).await {
                    if failed == 0 {
                        eprintln!("command on {id} failed: {e}");
                    }
                    failed += 1;
                }
            }
            failed
        });
    }
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        failed += done.context("caller task panicked")?;
    }
    Ok(failed)
}

/// Sets up the branches, runs the timed workload and prints the JSON result.
async fn run(args: Args) -> anyhow::Result<()> {
    let (n, m) = (args.callers, args.commands);
    ensure!(n >= 1, "--callers must be at least 1");
    ensure!(args.per_branch >= 1, "--per-branch must be at least 1");
    let b = n.max(m.div_ceil(args.per_branch));
    // Every command holds a connection for its load and again for its commit
    // transaction. On a 2-core machine more than ~16 backends only adds
    // context switching, while 16 in-flight commits are enough for
    // PostgreSQL's own WAL group commit to batch flushes.
    let pool = PgPoolOptions::new()
        .max_connections(n.min(16) as u32)
        .connect(&args.database)
        .await
        .with_context(|| format!("connecting to {}", args.database))?;
    sqlx::raw_sql(SCHEMA)
        .execute(&pool)
        .await
        .context("creating tables")?;
    let cqrs = Arc::new(postgres_cqrs::<Branch>(pool.clone(), vec![], ()));
    let ids: Vec<String> = (0..b).map(|_| uuid::Uuid::new_v4().to_string()).collect();

    eprintln!("registering {b} branches");
    let register = |id: &str| BranchCommand::Register {
        name: format!("Branch {id}"),
    };
    let setup = (0..n)
        .map(|c| jobs(&ids, c, n, (b - c).div_ceil(n), register))
        .collect();
    let failed = drive(&cqrs, setup).await?;
    ensure!(failed == 0, "{failed} of {b} Register commands failed");

    let meeting = BranchCommand::RecordMeeting(Meeting {
        date: Utc::now().date_naive(),
        topic: "monthly branch meeting".into(),
        attendees: 12,
    });
    let timed = (0..n)
        .map(|c| {
            jobs(&ids, c, n, m / n + usize::from(c < m % n), |_| {
                meeting.clone()
            })
        })
        .collect();
    eprintln!("running {m} RecordMeeting commands from {n} callers");
    let start = Instant::now();
    let failed = drive(&cqrs, timed).await?;
    let seconds = start.elapsed().as_secs_f64();
    if failed > 0 {
        bail!("{failed} of {m} RecordMeeting commands failed");
    }

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .context("counting events")?;
    let expected = (b + m) as i64;
    ensure!(
        count == expected,
        "events table holds {count} events, expected {expected}"
    );
    let report = Report {
        peer: "cqrs-es 0.5 + postgres-es 0.5",
        callers: n,
        commands: m,
        branches: b,
        seconds,
        commands_per_s: m as f64 / seconds,
    };
    let line = serde_json::to_string(&report).context("encoding the report")?;
    println!("{line}");
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
