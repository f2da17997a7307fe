//! `allweather-bench`: every measurement of allweather in one run, into one Markdown table
//! and one JSON file, each beside a raw baseline measured in the same run on the same
//! servers. The bench is a program of its own so that the `allweather` binary does not link
//! what only the bench uses; `allweather bench ARGS` runs it.
//!
//! ## Layout
//! - `main`: the command line, every section into one report (`bench.md`, `bench.json`).
//! - `measure`: what the sections share: scratch databases (from the test-support crate),
//!   repetitions, medians and quantiles.
//! - `append`: the log's appends/s against raw batched `INSERT`s.
//! - `peer`: the same single-event commands through cqrs-es/postgres-es (`peer/`).
//! - `commands`: a realistic mix and a claim storm over HTTP.
//! - `relay`: the relay against raw JetStream publishes.
//! - `e2e`: latency from command to subscriber and read model.
//! - `rebuild`: projector rebuilds against a raw scan and decode.
//! - `memory`: peak RSS of `allweather serve` rebuilding and holding a county.

mod append;
mod commands;
mod e2e;
mod measure;
mod memory;
mod peer;
mod rebuild;
mod relay;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use serde_json::json;
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr as _;
use std::time::Instant;

/// allweather-bench: allweather's throughput and latency against raw baselines measured in
/// the same run (`allweather bench` runs it).
#[derive(Debug, Parser)]
#[command(
    name = "allweather-bench",
    version,
    args_conflicts_with_subcommands = true
)]
struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(flatten)]
    all: AllArgs,
}

/// The benchmarks, one by one.
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Appends/s through the log with 1, 8, 64 and 256 callers against raw batched INSERTs.
    Append(append::AppendArgs),
    /// Commands/s and latency over HTTP for a realistic mix at 64 clients, and a claim
    /// storm of 1,000 clients on 100 wishes.
    Commands(crate::commands::CommandsArgs),
    /// Events/s from the log to acknowledged in JetStream against raw pipelined publishes.
    Relay(crate::relay::RelayArgs),
    /// End-to-end latency at a steady rate: command accepted → event delivered to a live
    /// subscriber, and → applied by a projector following the mirror.
    E2e(crate::e2e::E2eArgs),
    /// Events/s of each projector's rebuild of a demo county's year, and of all together,
    /// against a raw scan and decode of the same log.
    Rebuild(crate::rebuild::RebuildArgs),
    /// The same single-event command workload through allweather and through cqrs-es
    /// with postgres-es, on the same PostgreSQL, with 1 and 64 callers.
    Peer(crate::peer::PeerArgs),
    /// Peak memory of `serve` rebuilding a demo county's read models, and holding them.
    Memory(crate::memory::MemoryArgs),
}

/// Options of `allweather bench` with no subcommand: every section that the servers
/// given allow (PostgreSQL for the peer, NATS for the relay and end to end).
#[derive(Debug, clap::Args)]
struct AllArgs {
    /// A PostgreSQL server on which the bench may create and drop scratch databases.
    #[arg(long, env = "DATABASE_URL")]
    database: Option<String>,
    /// A NATS server with JetStream (streams are created and deleted).
    #[arg(long, env = "ALLWEATHER_NATS")]
    nats: Option<String>,
    /// The peer bench's program (default: built from services/bench/peer with cargo).
    #[arg(long, env = "ALLWEATHER_PEER")]
    peer: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

/// One section of the report: its table and its JSON rows.
pub(crate) struct Section {
    /// The file name part and JSON key (`append`, `relay`, …).
    pub(crate) name: &'static str,
    /// The heading.
    pub(crate) title: &'static str,
    pub(crate) markdown: String,
    pub(crate) json: serde_json::Value,
}

/// What every bench takes: how long to run, and where to write its results.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// A tenth of the events and one repetition: a smoke check, not a measurement.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Repetitions of each measurement (default 3; 1 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// Also write bench-NAME.md and bench-NAME.json into this directory.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

impl RunArgs {
    /// Repetitions of each measurement.
    pub(crate) fn runs(&self) -> usize {
        self.runs.unwrap_or(if self.quick { 1 } else { 3 }).max(1)
    }

    /// Prints the section's table, and writes it and its JSON rows into `--out` as
    /// `bench-NAME.md` and `bench-NAME.json` if given.
    pub(crate) fn report(&self, section: &Section) -> anyhow::Result<()> {
        println!("{}", section.markdown);
        let Some(dir) = &self.out else { return Ok(()) };
        let name = section.name;
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        std::fs::write(dir.join(format!("bench-{name}.md")), &section.markdown)
            .with_context(|| format!("write bench-{name}.md"))?;
        std::fs::write(
            dir.join(format!("bench-{name}.json")),
            serde_json::to_vec_pretty(&section.json)?,
        )
        .with_context(|| format!("write bench-{name}.json"))
    }
}

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        None => all(args.all).await,
        Some(BenchCommand::Append(args)) => {
            let section = append::section(args.database.as_deref(), &args.run).await?;
            args.run.report(&section)
        }
        Some(BenchCommand::Commands(args)) => crate::commands::run(args).await,
        Some(BenchCommand::Relay(args)) => crate::relay::run(args).await,
        Some(BenchCommand::Rebuild(args)) => crate::rebuild::run(args).await,
        Some(BenchCommand::E2e(args)) => crate::e2e::run(args).await,
        Some(BenchCommand::Peer(args)) => crate::peer::run(args).await,
        Some(BenchCommand::Memory(args)) => crate::memory::run(args).await,
    }
}

/// Every section the servers given allow, one after another, into `bench.md` and
/// `bench.json` in `--out` (default `bench-out`).
async fn all(args: AllArgs) -> anyhow::Result<()> {
    let run = &args.run;
    let started = Instant::now();
    let mut sections = Vec::new();
    let mut skipped = Vec::new();
    let steps = 7;
    let mut step = 0;
    let mut next = |name: &str| {
        step += 1;
        eprintln!(
            "[{step}/{steps}] {name} ({:.0} s so far)",
            started.elapsed().as_secs_f64()
        );
    };
    let database = args.database.as_deref();

    next("append");
    sections.push(append::section(database, run).await?);
    next("peer");
    let peer = match database {
        Some(url) => {
            let (section, baseline) = crate::peer::section(url, args.peer.as_deref(), run).await?;
            sections.push(section);
            Some(baseline)
        }
        None => {
            skipped.push("peer (no --database)");
            None
        }
    };
    next("commands");
    let clients = crate::commands::CLIENTS;
    sections.push(crate::commands::section(database, clients, peer, run).await?);
    next("relay");
    match &args.nats {
        Some(nats) => sections.push(crate::relay::section(nats, run).await?),
        None => skipped.push("relay (no --nats)"),
    }
    next("end to end");
    match &args.nats {
        Some(nats) => {
            sections.push(crate::e2e::section(nats, database, crate::e2e::RATE, None, run).await?)
        }
        None => skipped.push("end to end (no --nats)"),
    }
    next("rebuild");
    sections.push(crate::rebuild::section(database, None, run).await?);
    next("memory");
    sections.push(crate::memory::section(None, run).await?);

    let seconds = started.elapsed().as_secs_f64();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let machine = machine();
    let servers = servers(database, args.nats.as_deref()).await;
    let mut markdown = format!(
        "# allweather bench\n\n`{command}`\n\n{machine}; {servers}; {} repetitions of each measurement{}; {seconds:.0} s in all.\n",
        run.runs(),
        if run.quick {
            ", --quick (a smoke check, not a measurement)"
        } else {
            ""
        },
    );
    for name in &skipped {
        let _ = writeln!(markdown, "\nNot measured: {name}.");
    }
    for s in &sections {
        let _ = write!(markdown, "\n## {}\n\n{}\n", s.title, s.markdown);
    }
    let json = json!({
        "command": command, "machine": machine, "servers": servers, "quick": run.quick, "runs": run.runs(),
        "seconds": seconds, "skipped": skipped,
        "sections": sections.iter().map(|s| (s.name.to_owned(), s.json.clone())).collect::<serde_json::Map<_, _>>(),
    });
    println!("{markdown}");
    let dir = run
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench-out"));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    std::fs::write(dir.join("bench.md"), &markdown).context("write bench.md")?;
    std::fs::write(dir.join("bench.json"), serde_json::to_vec_pretty(&json)?)
        .context("write bench.json")?;
    eprintln!(
        "wrote {} and {}",
        dir.join("bench.md").display(),
        dir.join("bench.json").display()
    );
    Ok(())
}

/// The servers measured against: their kind, version and address (no credentials).
async fn servers(database: Option<&str>, nats: Option<&str>) -> String {
    let sqlite = async {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .ok()?;
        sqlx::query_scalar::<_, String>("SELECT sqlite_version()")
            .fetch_one(&mut conn)
            .await
            .ok()
    }
    .await
    .unwrap_or_default();
    let mut said = vec![format!("SQLite {sqlite}")];
    if let Some(url) = database {
        let version = async {
            let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
            sqlx::query_scalar::<_, String>("SHOW server_version")
                .fetch_one(&mut conn)
                .await
                .ok()
        }
        .await
        .unwrap_or_default();
        let at = PgConnectOptions::from_str(url)
            .map(|o| format!("{}:{}", o.get_host(), o.get_port()))
            .unwrap_or_default();
        said.push(format!("PostgreSQL {version} at {at}"));
    }
    if let Some(url) = nats
        && let Ok(client) = async_nats::connect(url).await
    {
        said.push(format!("nats-server {}", client.server_info().version));
    }
    said.join(", ")
}

/// The CPU, its cores and the memory of this machine, from `/proc`.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "an unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GiB", kb as f64 / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{memory}")
}
