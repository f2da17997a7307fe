//! `live-count`: what an integrator writes to follow allweather live — here, a dashboard
//! that counts the events of one aggregate (by default the wish board's) as they happen.
//! It depends on nothing of allweather but the published contract: the JetStream stream
//! `AW_EVENTS`, subjects `aw.evt.{aggregate}.{id}.{EventType}`, sequence = log position,
//! and the envelope as JSON.
//!
//! It follows the stream with an *ordered consumer* filtered to the aggregate's subjects:
//! every stored message exactly once, in order, from the beginning or from where it left
//! off, re-created by the client after a disconnect. A plain core-NATS subscription would
//! be simpler and wrong: one on the ingest subjects also sees repeats and messages the
//! stream refused, and any core subscriber whose buffer fills loses messages silently.
//! The republished `aw.live.>` subjects suit displays that may miss an update and show
//! the next; a count that must equal the log's needs the consumer.
//!
//! Usage: `live-count --nats nats://127.0.0.1:4222 [--aggregate wish] [--stream AW_EVENTS]
//! [--prefix aw]`. It prints one JSON line per event: `{"count", "sequence", "event_type"}`.

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::pull::OrderedConfig};
use futures::StreamExt;
use std::io::Write as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut nats = "nats://127.0.0.1:4222".to_string();
    let mut aggregate = "wish".to_string();
    let mut stream = "AW_EVENTS".to_string();
    let mut prefix = "aw".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nats" => nats = value,
            "--aggregate" => aggregate = value,
            "--stream" => stream = value,
            "--prefix" => prefix = value,
            other => anyhow::bail!("unknown option {other}"),
        }
    }

    let client = async_nats::connect(&nats)
        .await
        .with_context(|| format!("connect to {nats}"))?;
    let js = jetstream::new(client);
    let stream = js
        .get_stream(&stream)
        .await
        .with_context(|| format!("find stream {stream}"))?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: format!("{prefix}.evt.{aggregate}.>"),
            ..Default::default()
        })
        .await
        .context("create an ordered consumer")?;
    let mut messages = consumer.messages().await.context("follow the stream")?;
    let mut count: u64 = 0;
    let mut out = std::io::stdout().lock();
    while let Some(message) = messages.next().await {
        let message = message.context("receive")?;
        let sequence = message
            .info()
            .map(|i| i.stream_sequence)
            .unwrap_or_default();
        let envelope: serde_json::Value =
            serde_json::from_slice(&message.payload).context("read the envelope")?;
        count += 1;
        let line = serde_json::json!({ "count": count, "sequence": sequence, "event_type": envelope["event_type"] });
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}
