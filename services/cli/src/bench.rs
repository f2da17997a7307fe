//! `allweather bench`: every section in one run, into one Markdown table and one JSON
//! file; and `allweather bench append`: appends per second through the log with 1, 8, 64
//! and 256 concurrent callers, beside two raw baselines measured in the same run on the same
//! database, both plain multi-row `INSERT`s on one connection, 100 events per
//! transaction, with none of the log's logic (no lock, no head read, no version or
//! idempotency check, hashes computed before the clock starts):
//! - the `events` rows alone (the baseline the targets are stated against), and
//! - the rows the log itself writes for each event: `events`, `commands` and `streams`.
//!
//! Both sides are durable: PostgreSQL with `synchronous_commit` on, SQLite in WAL with
//! `synchronous = FULL`.
//!
//! Every measurement runs in a fresh scratch database (PostgreSQL: created on the server
//! given by `--database` and dropped after; SQLite: a temporary file), is repeated, and
//! reported as the median with the minimum and maximum, because the machine is shared.

use allweather_events::{Actor, Envelope, Hash, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, Log, LogOptions, NewEvent};
use anyhow::Context as _;
use clap::Subcommand;
use serde_json::json;
use sqlx::ConnectOptions as _;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Database, Encode, Executor, IntoArguments, Pool, QueryBuilder, Type};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// `allweather bench`: every section, or one of them.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(flatten)]
    all: AllArgs,
}

/// The benchmarks, one by one.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Appends/s through the log with 1, 8, 64 and 256 callers against raw batched INSERTs.
    Append(AppendArgs),
    /// Commands/s and latency over HTTP for a realistic mix at 64 clients, and a claim
    /// storm of 1,000 clients on 100 wishes.
    Commands(crate::bench_commands::CommandsArgs),
    /// Events/s from the log to acknowledged in JetStream against raw pipelined publishes.
    Relay(crate::bench_relay::RelayArgs),
    /// End-to-end latency at a steady rate: command accepted → event delivered to a live
    /// subscriber, and → applied by a projector following the mirror.
    E2e(crate::bench_e2e::E2eArgs),
    /// Events/s of each projector's rebuild of a demo county's year, and of all together,
    /// against a raw scan and decode of the same log.
    Rebuild(crate::bench_rebuild::RebuildArgs),
    /// The same single-event command workload through allweather and through cqrs-es
    /// with postgres-es, on the same PostgreSQL, with 1 and 64 callers.
    Peer(crate::bench_peer::PeerArgs),
    /// Peak memory of `serve` rebuilding a demo county's read models, and holding them.
    Memory(crate::bench_memory::MemoryArgs),
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
    /// The peer bench's program (default: built from services/cli/peer with cargo).
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

/// Options of `bench append`.
#[derive(Debug, clap::Args)]
pub struct AppendArgs {
    /// A PostgreSQL server on which the bench may create and drop scratch databases
    /// (postgres://user@host:port/db). Without it only SQLite is measured.
    #[arg(long, env = "DATABASE_URL")]
    database: Option<String>,
    #[command(flatten)]
    run: RunArgs,
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

/// Rows per transaction of the raw baseline.
const RAW_BATCH: usize = 100;
/// Concurrent callers measured.
const CALLERS: [usize; 4] = [1, 8, 64, 256];

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        None => all(args.all).await,
        Some(BenchCommand::Append(args)) => {
            let section = append(args.database.as_deref(), &args.run).await?;
            args.run.report(&section)
        }
        Some(BenchCommand::Commands(args)) => crate::bench_commands::run(args).await,
        Some(BenchCommand::Relay(args)) => crate::bench_relay::run(args).await,
        Some(BenchCommand::Rebuild(args)) => crate::bench_rebuild::run(args).await,
        Some(BenchCommand::E2e(args)) => crate::bench_e2e::run(args).await,
        Some(BenchCommand::Peer(args)) => crate::bench_peer::run(args).await,
        Some(BenchCommand::Memory(args)) => crate::bench_memory::run(args).await,
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
    sections.push(append(database, run).await?);
    next("peer");
    let peer = match database {
        Some(url) => {
            let (section, baseline) =
                crate::bench_peer::section(url, args.peer.as_deref(), run).await?;
            sections.push(section);
            Some(baseline)
        }
        None => {
            skipped.push("peer (no --database)");
            None
        }
    };
    next("commands");
    let clients = crate::bench_commands::CLIENTS;
    sections.push(crate::bench_commands::section(database, clients, peer, run).await?);
    next("relay");
    match &args.nats {
        Some(nats) => sections.push(crate::bench_relay::section(nats, run).await?),
        None => skipped.push("relay (no --nats)"),
    }
    next("end to end");
    match &args.nats {
        Some(nats) => sections.push(
            crate::bench_e2e::section(nats, database, crate::bench_e2e::RATE, None, run).await?,
        ),
        None => skipped.push("end to end (no --nats)"),
    }
    next("rebuild");
    sections.push(crate::bench_rebuild::section(database, None, run).await?);
    next("memory");
    sections.push(crate::bench_memory::section(None, run).await?);

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

async fn append(database: Option<&str>, run: &RunArgs) -> anyhow::Result<Section> {
    let runs = run.runs();
    let scale = if run.quick { 10 } else { 1 };
    let mut backends = vec![Backend::Sqlite];
    match database {
        Some(url) => backends.push(Backend::Postgres(url.to_owned())),
        None => eprintln!("no --database given: measuring SQLite only"),
    }

    let steps = backends.len() * (2 + CALLERS.len()) * runs;
    let bar = indicatif::ProgressBar::new(steps as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .context("progress bar template")?,
    );
    let mut rows = Vec::new();
    for backend in &backends {
        // Event counts: enough for a few seconds each at the rates seen on a 2-core machine.
        let (raw_events, log_events) = match backend {
            Backend::Sqlite => (
                100_000 / scale,
                [
                    2_000 / scale,
                    20_000 / scale,
                    50_000 / scale,
                    60_000 / scale,
                ],
            ),
            Backend::Postgres(_) => (
                50_000 / scale,
                [1_000 / scale, 8_000 / scale, 30_000 / scale, 40_000 / scale],
            ),
        };
        let mut raw = [None, None];
        for (k, rows_written) in [RawRows::Events, RawRows::SameAsTheLog]
            .into_iter()
            .enumerate()
        {
            bar.set_message(format!("{} {}", backend.name(), rows_written.label()));
            let rate = repeat(runs, &bar, || async {
                let scratch = Scratch::create(backend).await?;
                let rate = measure_raw(&scratch.url, raw_events, rows_written).await;
                scratch.remove().await?;
                rate
            })
            .await?;
            raw[k] = Some(rate);
        }
        let [Some(events_only), Some(same_rows)] = raw else {
            anyhow::bail!("a raw baseline was not measured")
        };
        let baselines = (events_only.median, same_rows.median);
        rows.push(Row {
            backend: backend.name(),
            workload: RawRows::Events.label(),
            rate: events_only,
            baselines,
        });
        rows.push(Row {
            backend: backend.name(),
            workload: RawRows::SameAsTheLog.label(),
            rate: same_rows,
            baselines,
        });
        for (callers, events) in CALLERS.into_iter().zip(log_events) {
            bar.set_message(format!("{} log, {callers} callers", backend.name()));
            let rate = repeat(runs, &bar, || async {
                let scratch = Scratch::create(backend).await?;
                let rate = measure_log(&scratch.url, callers, events).await;
                scratch.remove().await?;
                rate
            })
            .await?;
            let plural = if callers == 1 { "" } else { "s" };
            rows.push(Row {
                backend: backend.name(),
                workload: format!("log append, {callers} caller{plural}"),
                rate,
                baselines,
            });
        }
    }
    bar.finish_and_clear();

    let json = json!(
        rows.iter()
            .map(|r| json!({
                "backend": r.backend, "workload": r.workload, "events_per_s": r.rate.median,
                "min": r.rate.min, "max": r.rate.max, "runs": runs,
                "raw_events_insert_per_s": r.baselines.0, "raw_same_rows_insert_per_s": r.baselines.1,
                "ratio": r.rate.median / r.baselines.0, "ratio_to_same_rows": r.rate.median / r.baselines.1,
            }))
            .collect::<Vec<_>>()
    );
    Ok(Section {
        name: "append",
        title: "Append: events/s through the log against raw batched INSERTs",
        markdown: table(&rows, runs),
        json,
    })
}

/// What a raw baseline inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawRows {
    /// Only the `events` rows.
    Events,
    /// The rows the log writes for each event: `events`, `commands` and `streams`.
    SameAsTheLog,
}

impl RawRows {
    fn label(self) -> String {
        match self {
            RawRows::Events => format!("raw INSERT events, {RAW_BATCH} rows/tx"),
            RawRows::SameAsTheLog => {
                format!("raw INSERT events+commands+streams, {RAW_BATCH} events/tx")
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

struct Row {
    backend: &'static str,
    workload: String,
    rate: Rate,
    /// The medians of the two raw baselines: events only, and the log's rows.
    baselines: (f64, f64),
}

fn table(rows: &[Row], runs: usize) -> String {
    let mut out = format!(
        "| backend | workload | events/s (median of {runs}) | min | max | vs raw INSERT of events | vs raw INSERT of the same rows |\n\
         |---|---|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.1}% | {:.1}% |",
            r.backend,
            r.workload,
            r.rate.median,
            r.rate.min,
            r.rate.max,
            100.0 * r.rate.median / r.baselines.0,
            100.0 * r.rate.median / r.baselines.1
        );
    }
    out
}

/// The `q`-quantile (nearest rank) of `sorted`, in ms.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// p50, p99 and the maximum of `latencies`, in ms.
pub(crate) fn summary(mut latencies: Vec<Duration>) -> [f64; 3] {
    latencies.sort();
    [
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        quantile(&latencies, 1.0),
    ]
}

pub(crate) async fn repeat<F, Fut>(
    runs: usize,
    bar: &indicatif::ProgressBar,
    mut once: F,
) -> anyhow::Result<Rate>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<f64>>,
{
    let mut rates = Vec::with_capacity(runs);
    for _ in 0..runs {
        rates.push(once().await?);
        bar.inc(1);
    }
    rates.sort_by(f64::total_cmp);
    Ok(Rate {
        median: rates[rates.len() / 2],
        min: rates[0],
        max: rates[rates.len() - 1],
    })
}

pub(crate) enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A database that exists for one measurement.
pub(crate) struct Scratch {
    pub(crate) url: String,
    drop_from: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Scratch {
    pub(crate) async fn create(backend: &Backend) -> anyhow::Result<Scratch> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().context("create a temporary directory")?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Ok(Scratch {
                    url,
                    drop_from: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres(admin) => {
                let name = format!("aw_bench_{}", Uuid::now_v7().simple());
                let mut conn = sqlx::PgConnection::connect(admin)
                    .await
                    .context("connect to --database")?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .context("create a scratch database")?;
                let url = with_database(admin, &name)?;
                Ok(Scratch {
                    url,
                    drop_from: Some((admin.clone(), name)),
                    _dir: None,
                })
            }
        }
    }

    pub(crate) async fn remove(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.drop_from {
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .context("connect to --database")?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .context("drop the scratch database")?;
        }
        Ok(())
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let options = PgConnectOptions::from_str(url).context("parse --database")?;
    Ok(options.database(database).to_url_lossy().to_string())
}

pub(crate) fn payload(i: usize) -> Payload {
    // A payload of the size a real command carries (~200 bytes).
    let value = json!({
        "member_id": Uuid::from_u128(i as u128), "date": "2026-06-01", "minutes": 120,
        "category": "community_service", "activity": "reading to residents of the care home",
        "channel": "organiser",
    });
    Payload::from_value(&value).unwrap_or_else(|_| Payload::from_stored("{}".into()))
}

fn actor() -> Actor {
    Actor {
        id: "bench".into(),
        role: Role::System,
    }
}

/// `n` chained events, one per stream, built before the clock starts.
pub(crate) fn synthetic_chain(n: usize) -> anyhow::Result<Vec<Envelope>> {
    let mut prev = Hash::GENESIS;
    (1..=n)
        .map(|i| {
            let mut e = Envelope {
                event_id: Uuid::now_v7(),
                stream_id: StreamId::parse(format!("bench-{i}"))?,
                stream_version: 1,
                position: i as u64,
                event_type: "ServiceHoursLogged".into(),
                schema_version: 1,
                occurred_at: Timestamp::from_micros(0),
                recorded_at: Timestamp::from_micros(0),
                command_id: Uuid::now_v7(),
                correlation_id: Uuid::now_v7(),
                actor: actor(),
                payload: payload(i),
                prev_hash: prev,
                hash: Hash::GENESIS,
            };
            e.hash = e.expected_hash();
            prev = e.hash;
            Ok(e)
        })
        .collect()
}

async fn measure_raw(url: &str, n: usize, rows: RawRows) -> anyhow::Result<f64> {
    let log = Log::open(LogOptions::new(url)).await?;
    let events = synthetic_chain(n)?;
    let elapsed = if let Some(pool) = log.postgres_pool() {
        raw_insert(pool, &events, rows).await?
    } else if let Some(pool) = log.sqlite_pool() {
        raw_insert(pool, &events, rows).await?
    } else {
        anyhow::bail!("the log is on neither backend")
    };
    log.shutdown().await;
    Ok(n as f64 / elapsed)
}

/// Inserts `events` (and, for [`RawRows::SameAsTheLog`], a `commands` and a `streams` row
/// for each) in transactions of [`RAW_BATCH`] events; returns the seconds taken.
pub(crate) async fn raw_insert<DB>(
    pool: &Pool<DB>,
    events: &[Envelope],
    rows: RawRows,
) -> anyhow::Result<f64>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
{
    let mut conn = pool.acquire().await?;
    let start = Instant::now();
    for chunk in events.chunks(RAW_BATCH) {
        let mut tx = conn.begin().await?;
        let mut q = QueryBuilder::<DB>::new(
            "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, schema_version, \
             occurred_at_us, recorded_at_us, command_id, correlation_id, actor_id, actor_role, payload, prev_hash, hash) ",
        );
        q.push_values(chunk, |mut row, e| {
            row.push_bind(e.position as i64)
                .push_bind(e.event_id)
                .push_bind(e.stream_id.to_string())
                .push_bind(e.stream_version as i64)
                .push_bind(e.event_type.clone())
                .push_bind(i64::from(e.schema_version))
                .push_bind(e.occurred_at.as_micros())
                .push_bind(e.recorded_at.as_micros())
                .push_bind(e.command_id)
                .push_bind(e.correlation_id)
                .push_bind(e.actor.id.clone())
                .push_bind(e.actor.role.as_str().to_owned())
                .push_bind(e.payload.as_str().to_owned())
                .push_bind(e.prev_hash.0.to_vec())
                .push_bind(e.hash.0.to_vec());
        });
        q.build().execute(&mut *tx).await?;
        if rows == RawRows::SameAsTheLog {
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO commands (command_id, stream_id, first_position, last_position, recorded_at_us, request_digest) ",
            );
            q.push_values(chunk, |mut row, e| {
                // A digest's 32 bytes, as the command path records with every command.
                row.push_bind(e.command_id)
                    .push_bind(e.stream_id.to_string())
                    .push_bind(e.position as i64)
                    .push_bind(e.position as i64)
                    .push_bind(e.recorded_at.as_micros())
                    .push_bind(e.hash.0.to_vec());
            });
            q.build().execute(&mut *tx).await?;
            let mut q =
                QueryBuilder::<DB>::new("INSERT INTO streams (stream_id, version, last_position) ");
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.stream_id.to_string())
                    .push_bind(e.stream_version as i64)
                    .push_bind(e.position as i64);
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

async fn measure_log(url: &str, callers: usize, total: usize) -> anyhow::Result<f64> {
    let mut options = LogOptions::new(url);
    options.max_connections = 4;
    let log = Log::open(options).await?;
    let per_caller = (total / callers).max(1);
    // Like the raw rows, the requests are built before the clock starts: what is timed
    // is the log's work (validation, the appender, hashing, the database), not the
    // callers' making of payloads. They are built as a live service makes them, in the
    // order they are sent (round by round): command ids (UUID v7) and times of occurrence
    // rise with it, so that the log's UUID keys (`commands`, and `events.event_id`, which
    // is derived from the time of occurrence) take ordered inserts, as the raw rows' ids do.
    let occurred_from = Timestamp::from_datetime(chrono::Utc::now()).as_micros();
    let streams = (0..callers)
        .map(|c| StreamId::parse(format!("bench-{c}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut workloads: Vec<Vec<AppendRequest>> = (0..callers)
        .map(|_| Vec::with_capacity(per_caller))
        .collect();
    for v in 0..per_caller {
        for (c, (stream_id, requests)) in streams.iter().zip(&mut workloads).enumerate() {
            let sent = (v * callers + c) as i64;
            requests.push(AppendRequest {
                // The command path records a digest of every request.
                request_digest: Some(allweather_events::Hash::chain(
                    &allweather_events::Hash::GENESIS,
                    format!("{c}/{v}").as_bytes(),
                )),
                command_id: Uuid::now_v7(),
                correlation_id: Uuid::now_v7(),
                actor: actor(),
                stream_id: stream_id.clone(),
                expected_version: ExpectedVersion::Exact(v as u64),
                events: vec![NewEvent {
                    event_type: "ServiceHoursLogged".into(),
                    schema_version: 1,
                    // A millisecond apart: one UUID v7 time stamp each.
                    occurred_at: Timestamp::from_micros(occurred_from + sent * 1000),
                    payload: payload(v),
                }],
                also: vec![],
            });
        }
    }
    let start = Instant::now();
    let tasks: Vec<_> = workloads
        .into_iter()
        .map(|requests| {
            let log = log.clone();
            tokio::spawn(async move {
                for request in requests {
                    log.append(request).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await.context("a bench caller panicked")??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let appended = log.head().await?.position;
    log.shutdown().await;
    anyhow::ensure!(
        appended == (per_caller * callers) as u64,
        "the log holds {appended} events, expected {}",
        per_caller * callers
    );
    Ok(appended as f64 / elapsed)
}
