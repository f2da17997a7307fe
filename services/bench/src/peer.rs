//! `allweather bench peer`: the same single-event command workload through allweather and
//! through the peer a Rust team would otherwise pick, `cqrs-es` with `postgres-es`, on
//! the same PostgreSQL server, in the same run, with 1 and 64 concurrent callers.
//!
//! The workload is `RecordBranchMeeting`: load the branch, check it exists and the date,
//! topic and attendees, append one event. Both sides first register their branches
//! (untimed), so that no branch holds more than about 20 meetings and no two callers share
//! one; both run in-process (allweather's command service, with no HTTP in between, like
//! the peer's `CqrsFramework`), each in a scratch database of its own, durable
//! (`synchronous_commit` on).
//!
//! The peer lives in `services/bench/peer`, a crate outside the workspace: postgres-es 0.5
//! needs sqlx 0.8, which would pull the workspace's SQLite back to an older release. This
//! bench builds it with cargo on first use (or takes `--peer PATH`) and runs it as a
//! process of its own, which prints its rate as one line of JSON.

use crate::measure::{Backend, Rate, Scratch, repeat};
use crate::{RunArgs, Section};
use allweather_api::{CommandOptions, CommandService};
use allweather_domain::Principal;
use allweather_domain::command::{RecordBranchMeeting, RegisterBranch};
use allweather_domain::values::BranchKind;
use allweather_events::Role;
use allweather_log::{Log, LogOptions};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// Options of `bench peer`.
#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    /// A PostgreSQL server on which the bench may create and drop scratch databases.
    #[arg(long, env = "DATABASE_URL")]
    database: String,
    /// The peer bench's program (default: built from services/bench/peer with cargo).
    #[arg(long, env = "ALLWEATHER_PEER")]
    peer: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

/// Concurrent callers measured: one, and as many as the commands bench's clients.
const CALLERS: [usize; 2] = [1, crate::commands::CLIENTS];
/// Most meetings per branch.
const PER_BRANCH: usize = 20;

pub async fn run(args: PeerArgs) -> anyhow::Result<()> {
    let (section, _) = section(&args.database, args.peer.as_deref(), &args.run).await?;
    args.run.report(&section)
}

/// Commands for `callers` callers in one measurement.
fn commands(callers: usize, quick: bool) -> usize {
    let per_caller = if quick { 20 } else { 150 };
    (callers * per_caller).max(if quick { 100 } else { 1_000 })
}

/// Both sides at 1 and 64 callers; also answers the peer's rate at 64 callers (the
/// commands bench's clients), that bench's baseline.
pub(crate) async fn section(
    database: &str,
    peer: Option<&Path>,
    run: &RunArgs,
) -> anyhow::Result<(Section, Rate)> {
    let program = program(peer)?;
    let runs = run.runs();
    let bar = indicatif::ProgressBar::new((2 * CALLERS.len() * runs) as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .context("progress bar template")?,
    );
    let mut rows = Vec::new();
    let mut peer_at_clients = None;
    for callers in CALLERS {
        let n = commands(callers, run.quick);
        bar.set_message(format!("cqrs-es, {callers} callers"));
        let peer = repeat(runs, &bar, || peer_rate(&program, database, callers, n)).await?;
        bar.set_message(format!("allweather, {callers} callers"));
        let ours = repeat(runs, &bar, || allweather_rate(database, callers, n)).await?;
        if callers == crate::commands::CLIENTS {
            peer_at_clients = Some(peer);
        }
        rows.push((callers, n, peer, ours));
    }
    bar.finish_and_clear();
    let mut markdown = format!(
        "`RecordBranchMeeting`, one event per command, in-process on both sides, on PostgreSQL.\n\n\
         | callers | commands | cqrs-es + postgres-es commands/s (median of {runs}) | min | max | allweather commands/s (median) | min | max | allweather vs peer |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (callers, n, peer, ours) in &rows {
        let _ = writeln!(
            markdown,
            "| {callers} | {n} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1}× |",
            peer.median,
            peer.min,
            peer.max,
            ours.median,
            ours.min,
            ours.max,
            ours.median / peer.median
        );
    }
    let json = json!(rows.iter().map(|(callers, n, peer, ours)| json!({
        "workload": "RecordBranchMeeting", "callers": callers, "commands": n, "runs": runs,
        "peer": {"name": "cqrs-es 0.5 + postgres-es 0.5", "commands_per_s": peer.median, "min": peer.min, "max": peer.max},
        "allweather": {"commands_per_s": ours.median, "min": ours.min, "max": ours.max},
        "ratio": ours.median / peer.median,
    })).collect::<Vec<_>>());
    let section = Section {
        name: "peer",
        title: "Peer: the same single-event commands through cqrs-es with postgres-es",
        markdown,
        json,
    };
    let baseline =
        peer_at_clients.context("the peer was not measured at the commands bench's clients")?;
    Ok((section, baseline))
}

/// The peer's commands/s at `callers` callers: the commands bench's baseline.
pub(crate) async fn baseline(
    database: &str,
    peer: Option<&Path>,
    callers: usize,
    run: &RunArgs,
) -> anyhow::Result<Rate> {
    let program = program(peer)?;
    let n = commands(callers, run.quick);
    let bar = indicatif::ProgressBar::new(run.runs() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .context("progress bar template")?,
    );
    bar.set_message(format!("the cqrs-es peer at {callers} callers"));
    let rate = repeat(run.runs(), &bar, || {
        peer_rate(&program, database, callers, n)
    })
    .await?;
    bar.finish_and_clear();
    Ok(rate)
}

/// The peer's program: `given`, or built from its sources beside this crate's.
fn program(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        anyhow::ensure!(
            path.is_file(),
            "there is no peer program at {}",
            path.display()
        );
        return Ok(path.to_owned());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer");
    let manifest = dir.join("Cargo.toml");
    anyhow::ensure!(
        manifest.is_file(),
        "the peer bench's sources are not at {}: run the bench from a checkout of allweather, or give --peer PATH",
        dir.display()
    );
    let target = dir.join("target");
    eprintln!("building the cqrs-es peer ({}) with cargo", dir.display());
    let status =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "--manifest-path",
            ])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .status()
            .context("run cargo to build the peer bench (is cargo on PATH?)")?;
    anyhow::ensure!(
        status.success(),
        "building the peer bench failed ({status})"
    );
    Ok(target.join("release").join("allweather-peer"))
}

/// Runs the peer on a scratch database: its commands/s.
async fn peer_rate(
    program: &Path,
    database: &str,
    callers: usize,
    n: usize,
) -> anyhow::Result<f64> {
    let scratch = Scratch::create(&Backend::Postgres(database.to_owned())).await?;
    let output = tokio::process::Command::new(program)
        .args([
            "--database",
            &scratch.url(),
            "--callers",
            &callers.to_string(),
        ])
        .args(["--commands", &n.to_string()])
        .output()
        .await
        .with_context(|| format!("run {}", program.display()));
    drop(scratch);
    let output = output?;
    anyhow::ensure!(
        output.status.success(),
        "the peer failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "read the peer's output {:?}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    line["commands_per_s"]
        .as_f64()
        .context("the peer's output has no commands_per_s")
}

/// The same workload through allweather's command service on a scratch database.
async fn allweather_rate(database: &str, callers: usize, n: usize) -> anyhow::Result<f64> {
    let scratch = Scratch::create(&Backend::Postgres(database.to_owned())).await?;
    let log = Log::open(LogOptions::new(scratch.url())).await?;
    let at: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().context("the bench's date")?;
    let service = CommandService::new(
        log.clone(),
        CommandOptions {
            clock: Arc::new(move || at),
            rate_limit: None,
            ..CommandOptions::default()
        },
    )?;
    let admin = Principal {
        subject: "bench-admin".into(),
        role: Role::CommitteeAdmin,
        member_id: None,
        branch_id: None,
    };
    let branches: Vec<Uuid> = (0..callers.max(n.div_ceil(PER_BRANCH)))
        .map(|_| Uuid::now_v7())
        .collect();
    futures::stream::iter(branches.iter().enumerate())
        .map(|(i, b)| {
            let (service, admin) = (service.clone(), admin.clone());
            let register = RegisterBranch {
                branch_id: Some(*b),
                name: format!("branch {i}"),
                kind: BranchKind::Unit,
                community: None,
            };
            async move {
                service
                    .submit(&admin, register, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("RegisterBranch was refused: {e}"))
            }
        })
        .buffer_unordered(32)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    let branches = Arc::new(branches);
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).context("30 November")?;
    let before = log.head().await?.position;
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let (service, admin, branches) = (service.clone(), admin.clone(), branches.clone());
            // An even share of the n commands, cycling over the caller's own branches.
            let share = n / callers + usize::from(c < n % callers);
            tokio::spawn(async move {
                let mine: Vec<&Uuid> = branches.iter().skip(c).step_by(callers).collect();
                for i in 0..share {
                    let meeting = RecordBranchMeeting {
                        branch_id: *mine[i % mine.len()],
                        date,
                        topic: "monthly branch meeting".into(),
                        attendees: Vec::new(),
                    };
                    service
                        .submit(&admin, meeting, None)
                        .await
                        .map_err(|e| anyhow::anyhow!("RecordBranchMeeting was refused: {e}"))?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await.context("a caller panicked")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let head = log.head().await?.position;
    log.shutdown().await;
    // The last handles on the log: dropping them stops its commit listener before the
    // scratch database goes.
    drop((service, log));
    drop(scratch);
    anyhow::ensure!(
        head - before == n as u64,
        "the meetings appended {} events, expected {n}",
        head - before
    );
    Ok(n as f64 / elapsed)
}
