//! `allweather bench e2e`: end-to-end latency under a steady rate of commands — from a
//! command accepted (its reply in the caller's hands) to its event
//! - delivered to a live subscriber on the mirror's republished subjects (`aw.live.>`),
//! - applied by a projector that follows the mirror with its durable consumer (the
//!   scorecard, into a read store of its own),
//!
//! through the real path: the command service, the log (SQLite, or PostgreSQL with
//! `--database`), the relay, JetStream. Each run has a stream, a subject prefix and a log
//! of its own. An event delivered before its command's reply reached the caller counts as
//! 0 ms.

use crate::measure::{Backend, Scratch, summary};
use crate::{RunArgs, Section};
use allweather_api::{CommandOptions, CommandService};
use allweather_domain::Principal;
use allweather_domain::command::RegisterBranch;
use allweather_domain::values::BranchKind;
use allweather_events::Role;
use allweather_log::{Log, LogOptions};
use allweather_projections::{JetStreamSource, ReadStore, runner, scorecard::Scorecard};
use allweather_relay::{RelaySettings, stream_config};
use anyhow::Context as _;
use async_nats::jetstream;
use futures::StreamExt;
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Options of `bench e2e`.
#[derive(Debug, clap::Args)]
pub struct E2eArgs {
    /// The NATS server with JetStream (a stream is created and deleted per run).
    #[arg(long, env = "ALLWEATHER_NATS")]
    nats: String,
    /// A PostgreSQL server for the log (scratch databases); without it, SQLite.
    #[arg(long, env = "DATABASE_URL")]
    database: Option<String>,
    /// Commands per second offered.
    #[arg(long, default_value_t = RATE)]
    rate: u32,
    /// Seconds of load per run (default 10; 2 with --quick).
    #[arg(long)]
    seconds: Option<u64>,
    #[command(flatten)]
    run: RunArgs,
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    /// Commands accepted per second.
    achieved: f64,
    /// Accepted → delivered to a live subscriber: p50, p99, max (ms).
    delivered: [f64; 3],
    /// Accepted → applied by the projector: p50, p99, max (ms).
    applied: [f64; 3],
}

/// Commands per second offered by default: the target's rate.
pub(crate) const RATE: u32 = 1000;

pub async fn run(args: E2eArgs) -> anyhow::Result<()> {
    let section = section(
        &args.nats,
        args.database.as_deref(),
        args.rate,
        args.seconds,
        &args.run,
    )
    .await?;
    args.run.report(&section)
}

/// Latency from command accepted to subscriber and to read model, at `rate` commands/s
/// for `seconds` (default 10; 2 with --quick).
pub(crate) async fn section(
    nats: &str,
    database: Option<&str>,
    rate: u32,
    seconds: Option<u64>,
    run: &RunArgs,
) -> anyhow::Result<Section> {
    let runs = run.runs();
    let seconds = seconds.unwrap_or(if run.quick { 2 } else { 10 });
    let client = async_nats::connect(nats)
        .await
        .with_context(|| format!("connect to NATS at {nats}"))?;
    let backend = match database {
        Some(url) => Backend::Postgres(url.to_owned()),
        None => Backend::Sqlite,
    };
    let bar = indicatif::ProgressBar::new(runs as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs of {msg}")
            .context("progress bar template")?,
    );
    bar.set_message(format!("{seconds} s at {} commands/s", rate));
    let mut all = Vec::new();
    for _ in 0..runs {
        all.push(measure(&client, &backend, rate, seconds).await?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let median = |f: &dyn Fn(&Figures) -> f64| {
        let mut v: Vec<f64> = all.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let achieved = median(&|f| f.achieved);
    let mut markdown = format!(
        "{} log; {} commands/s offered for {seconds} s, {:.0} accepted/s (median of {runs}).\n\n\
         | latency from command accepted to | p50 ms (median of {runs}) | p99 ms (median) | p99 min | p99 max | max ms (median) |\n\
         |---|---:|---:|---:|---:|---:|\n",
        backend.name(),
        rate,
        achieved.0,
    );
    let mut rows = Vec::new();
    for (name, pick) in [
        ("event delivered to a live subscriber (aw.live.>)", 0usize),
        ("event applied by a projector via its JetStream consumer", 1),
    ] {
        let at = |f: &Figures, i: usize| {
            if pick == 0 {
                f.delivered[i]
            } else {
                f.applied[i]
            }
        };
        let (p50, p99, max) = (
            median(&|f| at(f, 0)),
            median(&|f| at(f, 1)),
            median(&|f| at(f, 2)),
        );
        let _ = writeln!(
            markdown,
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            p50.0, p99.0, p99.1, p99.2, max.0
        );
        rows.push(
            json!({"workload": name, "backend": backend.name(), "rate_offered": rate,
                         "rate_accepted": achieved.0, "seconds": seconds, "runs": runs,
                         "p50_ms": p50.0, "p99_ms": p99.0, "p99_min_ms": p99.1, "p99_max_ms": p99.2,
                         "max_ms": max.0}),
        );
    }
    Ok(Section {
        name: "e2e",
        title: "End to end: command accepted → event downstream, at a steady rate",
        markdown,
        json: json!(rows),
    })
}

async fn measure(
    client: &async_nats::Client,
    backend: &Backend,
    rate: u32,
    seconds: u64,
) -> anyhow::Result<Figures> {
    let tag = Uuid::now_v7().simple().to_string();
    let settings = RelaySettings {
        stream: format!("AW_BENCH_{tag}"),
        prefix: format!("awbench{tag}"),
        ..RelaySettings::default()
    };
    let js = jetstream::new(client.clone());
    js.create_stream(stream_config(&settings))
        .await
        .context("create the stream")?;
    let scratch = Scratch::create(backend).await?;
    let log = Log::open(LogOptions::new(scratch.url())).await?;
    let store_dir = tempfile::tempdir().context("create a temporary directory")?;
    let store = ReadStore::open(&format!(
        "sqlite://{}",
        store_dir.path().join("read.db").display()
    ))
    .await?;
    let (progress_tx, progress) = runner::prepare(&store, &Scorecard).await?;

    // When each position reached the live subscriber, and the projector.
    let delivered: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut live = client
        .subscribe(format!("{}.live.>", settings.prefix))
        .await
        .context("subscribe to the republished subjects")?;
    let subscriber = {
        let delivered = delivered.clone();
        tokio::spawn(async move {
            while let Some(message) = live.next().await {
                let at = Instant::now();
                let position = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Sequence"))
                    .and_then(|v| v.as_str().parse::<u64>().ok());
                if let (Some(p), Ok(mut map)) = (position, delivered.lock()) {
                    map.insert(p, at);
                }
            }
        })
    };
    let applied: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let watcher = {
        let (applied, progress) = (applied.clone(), progress.clone());
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                let now = progress.position();
                if now > last {
                    if let Ok(mut v) = applied.lock() {
                        v.push((now, Instant::now()));
                    }
                    last = now;
                }
                if !progress.reached(last + 1, Duration::from_secs(60)).await {
                    return;
                }
            }
        })
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until = |mut s: tokio::sync::watch::Receiver<bool>| async move {
        let _ = s.wait_for(|v| *v).await;
    };
    let relay = tokio::spawn(allweather_relay::run(
        log.clone(),
        client.clone(),
        settings.clone(),
        until(stopped.clone()),
    ));
    let source = JetStreamSource::new(client.clone(), &settings.stream, "bench", 0, log.clone())
        .await
        .context("the projector's consumer")?;
    let projector = {
        let (store, stopped) = (store.clone(), stopped.clone());
        tokio::spawn(async move {
            runner::run(&store, &Scorecard, source, &progress_tx, until(stopped)).await
        })
    };

    // The steady load: one command every 1/rate s, each in a task of its own.
    let service = CommandService::new(
        log.clone(),
        CommandOptions {
            rate_limit: None,
            ..CommandOptions::default()
        },
    )?;
    let admin = Principal {
        subject: "bench".into(),
        role: Role::CommitteeAdmin,
        member_id: None,
        branch_id: None,
    };
    let accepted: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let total = u64::from(rate) * seconds;
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for i in 0..total {
        ticker.tick().await;
        let (service, admin, accepted) = (service.clone(), admin.clone(), accepted.clone());
        tasks.push(tokio::spawn(async move {
            let register = RegisterBranch {
                branch_id: None,
                name: format!("bench branch {i}"),
                kind: BranchKind::Unit,
                community: None,
            };
            let reply = service
                .submit(&admin, register, None)
                .await
                .map_err(|e| anyhow::anyhow!("a command was refused: {e}"))?;
            let at = Instant::now();
            let position = reply.position;
            if let Ok(mut v) = accepted.lock() {
                v.push((position, at));
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("a command task panicked")??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let head = log.head().await?.position;
    anyhow::ensure!(
        progress.reached(head, Duration::from_secs(60)).await,
        "the projector did not reach position {head}"
    );
    // The projector's progress reached the head; the watcher that stamps each position
    // it reaches and the live subscriber may still be on their way to it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stamped = || {
        applied
            .lock()
            .map(|v| v.last().map_or(0, |(p, _)| *p))
            .unwrap_or(0)
    };
    while delivered.lock().map(|m| m.len()).unwrap_or(0) < head as usize || stamped() < head {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the live subscriber or the projector's watcher missed events"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    relay.await.context("the relay panicked")??;
    projector.await.context("the projector panicked")??;
    subscriber.abort();
    watcher.abort();

    let accepted = std::mem::take(&mut *accepted.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let delivered =
        std::mem::take(&mut *delivered.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let applied = std::mem::take(&mut *applied.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let since = |from: Instant, to: Instant| to.saturating_duration_since(from);
    let to_subscriber = accepted
        .iter()
        .filter_map(|(p, at)| delivered.get(p).map(|d| since(*at, *d)))
        .collect::<Vec<_>>();
    let to_projector = accepted
        .iter()
        .filter_map(|(p, at)| {
            let i = applied.partition_point(|(reached, _)| reached < p);
            applied.get(i).map(|(_, d)| since(*at, *d))
        })
        .collect::<Vec<_>>();
    anyhow::ensure!(
        to_subscriber.len() == accepted.len() && to_projector.len() == accepted.len(),
        "not every accepted command was seen downstream"
    );
    js.delete_stream(&settings.stream)
        .await
        .context("delete the stream")?;
    log.shutdown().await;
    store.pool().close().await;
    // The last handles on the log: dropping them stops its commit listener before the
    // scratch database goes.
    drop((service, log));
    drop(scratch);
    Ok(Figures {
        achieved: accepted.len() as f64 / elapsed,
        delivered: summary(to_subscriber),
        applied: summary(to_projector),
    })
}
