//! `allweather bench rebuild`: how fast each projector rebuilds a demo county's year from
//! the log, and all of them together (as `serve` does on a new read store), beside a raw
//! baseline measured in the same run on the same log: reading every row in pages of the
//! same size and decoding it into the domain's event, doing nothing else.
//!
//! The county is generated once per run through the command path (`allweather demo`, on
//! SQLite) and, for PostgreSQL, its rows copied into a scratch database. Each rebuild goes
//! into a fresh read store on the same backend and is repeated; medians with min and max.

use crate::append::{RawRows, raw_insert};
use crate::measure::{Backend, Rate, Scratch, repeat};
use crate::{RunArgs, Section};
use allweather_api::{CommandOptions, CommandService, TokenKey};
use allweather_demo::{DemoOptions, SimClock};
use allweather_domain::Event;
use allweather_events::{Catalog, Timestamp};
use allweather_log::{Log, LogClock, LogOptions};
use allweather_projections::{Projector, ReadStore, runner};
use anyhow::Context as _;
use serde_json::json;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

/// Options of `bench rebuild`.
#[derive(Debug, clap::Args)]
pub struct RebuildArgs {
    /// A PostgreSQL server on which the bench may create and drop scratch databases.
    /// Without it only SQLite is measured.
    #[arg(long, env = "DATABASE_URL")]
    database: Option<String>,
    /// Members of the demo county (default 2,000; 200 with --quick).
    #[arg(long)]
    members: Option<usize>,
    #[command(flatten)]
    run: RunArgs,
}

struct Row {
    backend: &'static str,
    workload: String,
    rate: Rate,
    baseline: f64,
    events: u64,
}

pub async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let section = section(args.database.as_deref(), args.members, &args.run).await?;
    args.run.report(&section)
}

/// Each projector's rebuild of a county of `members` (default 2,000; 200 with --quick),
/// and all four together, against a raw scan and decode.
pub(crate) async fn section(
    database: Option<&str>,
    members: Option<usize>,
    run: &RunArgs,
) -> anyhow::Result<Section> {
    let runs = run.runs();
    let members = members.unwrap_or(if run.quick { 200 } else { 2_000 });
    let county = tempfile::tempdir().context("create a temporary directory")?;
    let started = Instant::now();
    let source = demo_county(&county.path().join("log.db"), members).await?;
    let events = source.read_all(0, u32::MAX).await?;
    let head = events.len() as u64;
    eprintln!(
        "demo county of {members} members: {head} events, generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut backends = vec![(Backend::Sqlite, source.clone(), None)];
    match database {
        Some(url) => {
            let backend = Backend::Postgres(url.to_owned());
            let scratch = Scratch::create(&backend).await?;
            let log = Log::open(LogOptions::new(scratch.url())).await?;
            let pool = log
                .postgres_pool()
                .context("the scratch database is PostgreSQL")?;
            raw_insert(pool, &events, RawRows::Events).await?;
            backends.push((backend, log, Some(scratch)));
        }
        None => eprintln!("no --database given: measuring SQLite only"),
    }
    drop(events);

    let projectors = allweather_projections::all();
    let steps = backends.len() * (2 + projectors.len()) * runs;
    let bar = indicatif::ProgressBar::new(steps as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .context("progress bar template")?,
    );
    let mut rows = Vec::new();
    for (backend, log, _) in &backends {
        bar.set_message(format!("{} raw scan", backend.name()));
        let raw = repeat(runs, &bar, || raw_scan(log)).await?;
        let row = |workload: String, rate: Rate| Row {
            backend: backend.name(),
            workload,
            rate,
            baseline: raw.median,
            events: head,
        };
        rows.push(row("raw scan + decode".into(), raw));
        for projector in projectors {
            bar.set_message(format!("{} {}", backend.name(), projector.name()));
            let one = [projector];
            let rate = repeat(runs, &bar, || rebuild(backend, log, &one)).await?;
            rows.push(row(format!("rebuild {}", projector.name()), rate));
        }
        bar.set_message(format!("{} all together", backend.name()));
        let rate = repeat(runs, &bar, || rebuild(backend, log, &projectors)).await?;
        rows.push(row("rebuild all four at once".into(), rate));
    }
    bar.finish_and_clear();
    for (_, log, scratch) in backends {
        log.shutdown().await;
        // The last handle on a scratch database's log: its commit listener stops first.
        drop(log);
        if let Some(scratch) = scratch {
            drop(scratch);
        }
    }

    let mut markdown = format!(
        "Demo county of {members} members: {head} events.\n\n\
         | backend | workload | events/s (median of {runs}) | min | max | seconds for the year | vs raw scan |\n\
         |---|---|---:|---:|---:|---:|---:|\n"
    );
    for r in &rows {
        let _ = writeln!(
            markdown,
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0}% |",
            r.backend,
            r.workload,
            r.rate.median,
            r.rate.min,
            r.rate.max,
            r.events as f64 / r.rate.median,
            100.0 * r.rate.median / r.baseline
        );
    }
    let json =
        json!(rows.iter().map(|r| json!({
        "backend": r.backend, "workload": r.workload, "events": r.events,
        "events_per_s": r.rate.median, "min": r.rate.min, "max": r.rate.max, "runs": runs,
        "raw_scan_per_s": r.baseline, "ratio": r.rate.median / r.baseline,
    })).collect::<Vec<_>>());
    Ok(Section {
        name: "rebuild",
        title: "Rebuild: events/s of each projector against a raw scan and decode",
        markdown,
        json,
    })
}

/// Generates the demo county of `members` into a new SQLite log at `path`.
async fn demo_county(path: &std::path::Path, members: usize) -> anyhow::Result<Log> {
    let options = DemoOptions {
        members,
        seed: 1,
        year: 2025,
        county_offset: CommandOptions::default().county_offset,
    };
    let plan = allweather_demo::plan(options)?;
    let clock = SimClock::new(plan.steps.first().map(|s| s.at).unwrap_or_default());
    let mut log_options = LogOptions::sqlite_file(path);
    let log_clock = clock.clone();
    log_options.clock = Some(LogClock(Arc::new(move || {
        Timestamp::from_datetime(log_clock.now())
    })));
    let log = Log::open(log_options).await?;
    let command_clock = clock.clone();
    let service = CommandService::new(
        log.clone(),
        CommandOptions {
            clock: Arc::new(move || command_clock.now()),
            entropy: allweather_demo::entropy(options.seed),
            rate_limit: None,
            ..CommandOptions::default()
        },
    )?;
    let key = TokenKey::from_secret(vec![42u8; 32])?;
    let outcome = allweather_demo::run(&service, &key, &plan, &clock, |_| {}).await?;
    anyhow::ensure!(
        outcome.refused.is_empty(),
        "the demo county was refused: {:?}",
        outcome.refused
    );
    Ok(log)
}

/// Reads every event in pages of the projectors' batch size and decodes it; events/s.
async fn raw_scan(log: &Log) -> anyhow::Result<f64> {
    let catalog = Catalog::new(Event::SPECS.iter().copied())?;
    let start = Instant::now();
    let (mut after, mut decoded) = (0, 0u64);
    loop {
        let page = log.read_all(after, runner::BATCH as u32).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for envelope in &page {
            let payload = catalog.decode(envelope)?;
            Event::from_stored(&envelope.event_type, payload)
                .map_err(|e| anyhow::anyhow!("position {}: {e}", envelope.position))?;
            decoded += 1;
        }
    }
    Ok(decoded as f64 / start.elapsed().as_secs_f64())
}

/// Rebuilds `projectors` at once from `log` into a fresh read store; events/s of the log.
async fn rebuild(
    backend: &Backend,
    log: &Log,
    projectors: &[&'static dyn Projector],
) -> anyhow::Result<f64> {
    let scratch = Scratch::create(backend).await?;
    let store = ReadStore::open(&scratch.url()).await?;
    for projector in projectors {
        runner::prepare(&store, *projector).await?;
    }
    let head = log.head().await?.position;
    let start = Instant::now();
    let rebuilt = futures::future::try_join_all(
        projectors
            .iter()
            .map(|p| runner::replay(&store, *p, log, |_| true, |_| {})),
    )
    .await?;
    let elapsed = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        rebuilt.iter().all(|at| *at == head),
        "a projector stopped short of position {head}: {rebuilt:?}"
    );
    store.pool().close().await;
    drop(scratch);
    Ok(head as f64 / elapsed)
}
