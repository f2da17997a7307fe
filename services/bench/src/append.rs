//! `allweather-bench append`: appends per second through the log with 1, 8, 64
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

use crate::measure::{Backend, Rate, Scratch, repeat};
use crate::{RunArgs, Section};
use allweather_events::{Actor, Envelope, Hash, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, Log, LogOptions, NewEvent};
use anyhow::Context as _;
use serde_json::json;
use sqlx::{Connection as _, Database, Encode, Executor, IntoArguments, Pool, QueryBuilder, Type};
use std::fmt::Write as _;
use std::time::Instant;
use uuid::Uuid;

/// Options of `bench append`.
#[derive(Debug, clap::Args)]
pub(crate) struct AppendArgs {
    /// A PostgreSQL server on which the bench may create and drop scratch databases
    /// (postgres://user@host:port/db). Without it only SQLite is measured.
    #[arg(long, env = "DATABASE_URL")]
    pub(crate) database: Option<String>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// Rows per transaction of the raw baseline.
const RAW_BATCH: usize = 100;
/// Concurrent callers measured.
const CALLERS: [usize; 4] = [1, 8, 64, 256];

pub(crate) async fn section(database: Option<&str>, run: &RunArgs) -> anyhow::Result<Section> {
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
                let rate = measure_raw(&scratch.url(), raw_events, rows_written).await;
                drop(scratch);
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
                let rate = measure_log(&scratch.url(), callers, events).await;
                drop(scratch);
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
