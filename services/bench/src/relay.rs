//! `allweather bench relay`: events per second from the log to acknowledged in JetStream,
//! beside a raw baseline measured in the same run on the same server: pipelined
//! JetStream publishes of the same messages (same subjects, headers and bodies, built
//! before the clock starts) into a stream configured the same way, with the same window
//! of outstanding acknowledgements and none of the relay's work (reading the log,
//! encoding, checking each acknowledgement's position).
//!
//! Each measurement uses a stream and subject prefix of its own, deleted afterwards, so it
//! can run against a shared server. Completion is observed on the stream's republished
//! subjects, so both sides are timed to the same event: the last message stored.

use crate::append::{payload, synthetic_chain};
use crate::measure::{Rate, repeat};
use crate::{RunArgs, Section};
use allweather_events::{Actor, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, Log, LogOptions, NewEvent};
use allweather_relay::{RelaySettings, message, stream_config};
use anyhow::Context as _;
use async_nats::jetstream;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use serde_json::json;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Options of `bench relay`.
#[derive(Debug, clap::Args)]
pub struct RelayArgs {
    /// The NATS server with JetStream to measure against (streams are created and deleted).
    #[arg(long, env = "ALLWEATHER_NATS")]
    nats: String,
    #[command(flatten)]
    run: RunArgs,
}

pub async fn run(args: RelayArgs) -> anyhow::Result<()> {
    let section = section(&args.nats, &args.run).await?;
    args.run.report(&section)
}

/// The relay against raw pipelined publishes.
pub(crate) async fn section(nats: &str, run: &RunArgs) -> anyhow::Result<Section> {
    let runs = run.runs();
    let n = if run.quick { 2_000 } else { 20_000 };
    let client = async_nats::connect(nats)
        .await
        .with_context(|| format!("connect to NATS at {nats}"))?;
    let bar = indicatif::ProgressBar::new(2 * runs as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .context("progress bar template")?,
    );
    bar.set_message("raw pipelined publish");
    let raw = repeat(runs, &bar, || measure_raw(&client, n)).await?;
    bar.set_message("relay from the log");
    let relay = repeat(runs, &bar, || measure_relay(&client, n)).await?;
    bar.finish_and_clear();

    let mut markdown = format!(
        "| workload | events/s (median of {runs}) | min | max | vs raw publish |\n|---|---:|---:|---:|---:|\n"
    );
    for (name, rate) in [
        ("raw pipelined JetStream publish", raw),
        ("relay: log → JetStream", relay),
    ] {
        let _ = writeln!(
            markdown,
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0}% |",
            rate.median,
            rate.min,
            rate.max,
            100.0 * rate.median / raw.median
        );
    }
    let row = |name: &str, r: Rate| {
        json!({"workload": name, "events_per_s": r.median, "min": r.min, "max": r.max,
               "ratio": r.median / raw.median, "runs": runs, "events": n})
    };
    Ok(Section {
        name: "relay",
        title: "Relay: events/s from the log to acknowledged in JetStream",
        markdown,
        json: json!([row("raw", raw), row("relay", relay)]),
    })
}

/// A stream and prefix of the measurement's own.
fn scratch_settings() -> RelaySettings {
    let tag = Uuid::now_v7().simple().to_string();
    RelaySettings {
        stream: format!("AW_BENCH_{tag}"),
        prefix: format!("awbench{tag}"),
        ..RelaySettings::default()
    }
}

/// Counts the stream's republished messages until `n` have arrived; returns when the
/// last one did.
async fn completion(
    client: &async_nats::Client,
    settings: &RelaySettings,
    n: usize,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<Instant>> + use<>> {
    let mut live = client
        .subscribe(format!("{}.live.>", settings.prefix))
        .await
        .context("subscribe to the republished subjects")?;
    Ok(async move {
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(60), live.next())
                .await
                .context("no message for 60 s")?
                .context("the subscription ended")?;
        }
        Ok(Instant::now())
    })
}

async fn measure_raw(client: &async_nats::Client, n: usize) -> anyhow::Result<f64> {
    let settings = scratch_settings();
    let js = jetstream::new(client.clone());
    js.create_stream(stream_config(&settings))
        .await
        .context("create the stream")?;
    let messages: Vec<(String, async_nats::HeaderMap, bytes::Bytes)> = synthetic_chain(n)?
        .iter()
        .map(|e| message(&settings.prefix, e))
        .collect();
    let done = completion(client, &settings, n).await?;
    let start = Instant::now();
    let mut in_flight = FuturesOrdered::new();
    for (subject, headers, body) in messages {
        if in_flight.len() >= settings.window
            && let Some(ack) = in_flight.next().await
        {
            let _: async_nats::jetstream::publish::PublishAck = ack?;
        }
        in_flight.push_back(
            js.publish_with_headers(subject, headers, body)
                .await?
                .into_future(),
        );
    }
    while let Some(ack) = in_flight.next().await {
        ack?;
    }
    let end = done.await?;
    js.delete_stream(&settings.stream)
        .await
        .context("delete the stream")?;
    Ok(n as f64 / (end - start).as_secs_f64())
}

async fn measure_relay(client: &async_nats::Client, n: usize) -> anyhow::Result<f64> {
    let settings = scratch_settings();
    let dir = tempfile::tempdir().context("create a temporary directory")?;
    let log = Log::open(LogOptions::sqlite_file(&dir.path().join("bench.db"))).await?;
    fill(&log, n).await?;
    let js = jetstream::new(client.clone());
    js.create_stream(stream_config(&settings))
        .await
        .context("create the stream")?;
    let done = completion(client, &settings, n).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let relay = tokio::spawn(allweather_relay::run(
        log.clone(),
        client.clone(),
        settings.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let end = done.await?;
    let _ = stop.send(());
    relay.await.context("the relay panicked")??;
    js.delete_stream(&settings.stream)
        .await
        .context("delete the stream")?;
    log.shutdown().await;
    Ok(n as f64 / (end - start).as_secs_f64())
}

/// `n` single-event commands with the raw baseline's payloads, 64 at a time (untimed).
async fn fill(log: &Log, n: usize) -> anyhow::Result<()> {
    let per = n.div_ceil(64);
    let tasks: Vec<_> = (0..64)
        .map(|c| {
            let log = log.clone();
            let count = per.min(n.saturating_sub(c * per));
            tokio::spawn(async move {
                let stream_id = StreamId::parse(format!("bench-{c}"))?;
                for i in 0..count {
                    log.append(AppendRequest {
                        request_digest: None,
                        command_id: Uuid::now_v7(),
                        correlation_id: Uuid::now_v7(),
                        actor: Actor {
                            id: "bench".into(),
                            role: Role::System,
                        },
                        stream_id: stream_id.clone(),
                        expected_version: ExpectedVersion::Any,
                        events: vec![NewEvent {
                            event_type: "ServiceHoursLogged".into(),
                            schema_version: 1,
                            occurred_at: Timestamp::from_micros(0),
                            payload: payload(i),
                        }],
                        also: vec![],
                    })
                    .await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await.context("a filler panicked")??;
    }
    Ok(())
}
