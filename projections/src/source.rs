//! Where a projector's events come from: the log itself, or the JetStream mirror.
//!
//! - [`LogSource`] (embedded) reads the log after the checkpoint and waits on its commits.
//! - [`JetStreamSource`] (distributed) follows the mirror with a durable pull consumer
//!   `proj-{projector}`: explicit acks, at most [`MAX_ACK_PENDING`] unacknowledged, created
//!   to start after the checkpoint. A message is acknowledged only once its batch has
//!   committed (after a lost claim, what the winner applied); redeliveries are acknowledged
//!   and skipped; a gap in what it is given is filled from the log, at most a batch at a
//!   time; every message is checked against its own hash (`Envelope::from_json`). NATS
//!   going away is ridden out: a failed fetch, or a quiet one after which the server no
//!   longer knows the consumer (lost with its store), makes the source answer nothing and
//!   create the consumer again after the checkpoint once the stream is back.
//! - [`OrderedJetStreamSource`] (one-off replays): an ordered consumer, ephemeral, without
//!   acknowledgements, recreated by the client from the next sequence after a gap, which
//!   leaves nothing behind on the server; `allweather reassess --nats` replays through it.

use allweather_events::Envelope;
use allweather_log::{Log, LogError};
use async_nats::jetstream::{self, consumer::AckPolicy, consumer::DeliverPolicy, consumer::pull};
use futures::StreamExt;
use std::future::Future;
use std::time::Duration;

/// Why a source could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// NATS failed.
    #[error("NATS: {0}")]
    Nats(String),
    /// A message of the mirror is not an event of the log.
    #[error("the mirror holds a message that is not the log's event: {0}")]
    Foreign(String),
}

/// A source of events in position order.
pub trait EventSource: Send {
    /// Events after `after`, in position order, gapless from `after + 1`, at most `max`;
    /// waits up to `wait` for the first one (and answers empty if none came).
    fn next(
        &mut self,
        after: u64,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Envelope>, SourceError>> + Send;

    /// Everything up to `position` is applied and committed: the source may forget it.
    fn ack(&mut self, position: u64) -> impl Future<Output = Result<(), SourceError>> + Send;
}

/// Tails the log directly (the embedded mode).
#[derive(Debug)]
pub struct LogSource {
    log: Log,
}

impl LogSource {
    /// A source over `log`.
    pub fn new(log: Log) -> LogSource {
        LogSource { log }
    }
}

fn page(max: usize) -> u32 {
    u32::try_from(max).unwrap_or(u32::MAX)
}

impl EventSource for LogSource {
    async fn next(
        &mut self,
        after: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Envelope>, SourceError> {
        let mut head = self.log.subscribe_head();
        // Mark the head seen before reading, so a commit between the read and the wait
        // still wakes us; a timer covers writers this process cannot hear.
        head.borrow_and_update();
        let events = self.log.read_all(after, page(max)).await?;
        if !events.is_empty() {
            return Ok(events);
        }
        let _ = tokio::time::timeout(wait, head.changed()).await;
        Ok(self.log.read_all(after, page(max)).await?)
    }

    async fn ack(&mut self, _position: u64) -> Result<(), SourceError> {
        Ok(())
    }
}

/// Follows the JetStream mirror with a durable pull consumer per projector (explicit
/// acks, a bounded number unacknowledged), starting after the projector's checkpoint.
/// The stream's sequence is the log's position: a message at or below what the
/// projector applied is acknowledged and skipped (a redelivery), and a gap (a consumer
/// whose acks ran ahead of a rebuilt projector, a message the stream lost) is filled
/// from the log before going on. Each message is checked against its own hash.
///
/// NATS going away is ridden out, not fatal: when a fetch fails, or a quiet one finds
/// the consumer gone (the server down, the consumer or the whole stream lost with the
/// server's store), the source answers no events, and on the next call follows the mirror again with the consumer created
/// anew after what the projector applied — once the relay has created the stream again.
/// A lost acknowledgement only means a redelivery, which is skipped.
#[derive(Debug)]
pub struct JetStreamSource {
    js: jetstream::Context,
    stream: String,
    durable: String,
    consumer: Option<jetstream::consumer::Consumer<pull::Config>>,
    log: Log,
    unacked: Vec<(u64, jetstream::Message)>,
}

/// Most messages a projector's consumer leaves unacknowledged.
pub const MAX_ACK_PENDING: i64 = 2_000;

impl JetStreamSource {
    /// The durable consumer `proj-{projector}` on `stream`, created to start at
    /// `checkpoint + 1` if it does not exist.
    pub async fn new(
        client: async_nats::Client,
        stream: &str,
        projector: &str,
        checkpoint: u64,
        log: Log,
    ) -> Result<JetStreamSource, SourceError> {
        let mut source = JetStreamSource {
            js: jetstream::new(client),
            stream: stream.to_owned(),
            durable: format!("proj-{projector}"),
            consumer: None,
            log,
            unacked: Vec::new(),
        };
        source.consumer = Some(source.consumer_after(checkpoint).await?);
        Ok(source)
    }

    /// The projector's durable consumer, created to start after `after` if the stream
    /// has none of that name.
    async fn consumer_after(
        &self,
        after: u64,
    ) -> Result<jetstream::consumer::Consumer<pull::Config>, SourceError> {
        let stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(|e| SourceError::Nats(e.to_string()))?;
        let config = pull::Config {
            durable_name: Some(self.durable.clone()),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: after + 1,
            },
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: MAX_ACK_PENDING,
            ack_wait: Duration::from_secs(60),
            ..pull::Config::default()
        };
        stream
            .get_or_create_consumer(&self.durable, config)
            .await
            .map_err(|e| SourceError::Nats(e.to_string()))
    }

    /// One fetch from `consumer`, gaps filled from the log.
    async fn fetch(
        &mut self,
        after: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Envelope>, SourceError> {
        let Some(consumer) = &self.consumer else {
            return Ok(Vec::new());
        };
        let mut batch = consumer
            .fetch()
            .max_messages(max.max(1))
            .expires(wait.max(Duration::from_millis(100)))
            .messages()
            .await
            .map_err(|e| SourceError::Nats(e.to_string()))?;
        let mut events: Vec<Envelope> = Vec::new();
        let mut last = after;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| SourceError::Nats(e.to_string()))?;
            let sequence = message
                .info()
                .map_err(|e| SourceError::Nats(e.to_string()))?
                .stream_sequence;
            if sequence <= last {
                // Already applied (a redelivery, or filled from the log): acknowledge.
                acknowledge(&message).await;
                continue;
            }
            if sequence > last + 1 {
                // A gap (a consumer whose acks ran ahead of a rebuilt projector, a message
                // the stream lost): filled from the log, at most `max` at a time. Past
                // that, this message is left unacknowledged; it comes again and is
                // skipped once the log has caught the projector up to it.
                let missing = sequence - last - 1;
                let room = max.saturating_sub(events.len()).max(1);
                let take = usize::try_from(missing).unwrap_or(usize::MAX).min(room);
                let filled = self.log.read_all(last, page(take)).await?;
                if filled.len() != take {
                    return Err(SourceError::Foreign(format!(
                        "positions {}..{sequence} are not in the log",
                        last + 1
                    )));
                }
                last += take as u64;
                events.extend(filled);
                if last + 1 < sequence {
                    break;
                }
            }
            let (_, envelope) = envelope_of(&message)?;
            last = sequence;
            events.push(envelope);
            self.unacked.push((sequence, message));
        }
        Ok(events)
    }
}

/// Acknowledges a message; a lost acknowledgement only brings a redelivery, which is
/// skipped, so it is logged and not an error.
async fn acknowledge(message: &jetstream::Message) {
    if let Err(e) = message.ack().await {
        tracing::debug!(error = %e, "an acknowledgement was lost; the message comes again and is skipped");
    }
}

impl EventSource for JetStreamSource {
    async fn next(
        &mut self,
        after: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Envelope>, SourceError> {
        if self.consumer.is_none() {
            match self.consumer_after(after).await {
                Ok(consumer) => {
                    tracing::info!(stream = %self.stream, consumer = %self.durable, after, "following the mirror again");
                    self.consumer = Some(consumer);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "the mirror is not back yet");
                    tokio::time::sleep(wait).await;
                    return Ok(Vec::new());
                }
            }
        }
        let fetched = match self.fetch(after, max, wait).await {
            // A consumer the server lost with its store answers nothing rather than an
            // error: a quiet fetch asks the server whether the consumer is still there.
            Ok(events) if events.is_empty() => match &self.consumer {
                Some(consumer) => match consumer.get_info().await {
                    Ok(_) => Ok(events),
                    Err(e) => Err(SourceError::Nats(e.to_string())),
                },
                None => Ok(events),
            },
            other => other,
        };
        match fetched {
            Err(SourceError::Nats(e)) => {
                // What was fetched but not applied comes again from the new consumer.
                tracing::warn!(error = %e, stream = %self.stream, consumer = %self.durable, "lost the mirror; following it again after position {after} once it is back");
                self.consumer = None;
                self.unacked.clear();
                tokio::time::sleep(wait).await;
                Ok(Vec::new())
            }
            other => other,
        }
    }

    async fn ack(&mut self, position: u64) -> Result<(), SourceError> {
        // Redeliveries may come out of order: pick by sequence, not by place.
        let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unacked)
            .into_iter()
            .partition(|(s, _)| *s <= position);
        self.unacked = keep;
        for (_, message) in done {
            acknowledge(&message).await;
        }
        Ok(())
    }
}

/// Replays the mirror once, in order, through an ordered consumer — ephemeral, without
/// acknowledgements, recreated by the client from the next sequence after a gap or a
/// lost heartbeat — for one-off replays (`reassess --nats`) that must leave no durable
/// consumer behind. Each message is checked against its own hash and its sequence.
pub struct OrderedJetStreamSource {
    messages: std::pin::Pin<Box<pull::Ordered>>,
}

impl std::fmt::Debug for OrderedJetStreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderedJetStreamSource")
    }
}

impl OrderedJetStreamSource {
    /// An ordered consumer of `stream` from position `after + 1`.
    pub async fn new(
        client: async_nats::Client,
        stream: &str,
        after: u64,
    ) -> Result<OrderedJetStreamSource, SourceError> {
        let nats = |e: &dyn std::fmt::Display| SourceError::Nats(e.to_string());
        let stream = jetstream::new(client)
            .get_stream(stream)
            .await
            .map_err(|e| nats(&e))?;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: after + 1,
                },
                ..pull::OrderedConfig::default()
            })
            .await
            .map_err(|e| nats(&e))?;
        let messages = consumer.messages().await.map_err(|e| nats(&e))?;
        Ok(OrderedJetStreamSource {
            messages: Box::pin(messages),
        })
    }
}

/// The envelope a mirror message carries, checked against its stream sequence.
fn envelope_of(message: &jetstream::Message) -> Result<(u64, Envelope), SourceError> {
    let sequence = message
        .info()
        .map_err(|e| SourceError::Nats(e.to_string()))?
        .stream_sequence;
    let value: serde_json::Value = serde_json::from_slice(&message.payload)
        .map_err(|e| SourceError::Foreign(format!("sequence {sequence}: {e}")))?;
    let envelope = Envelope::from_json(&value).map_err(SourceError::Foreign)?;
    if envelope.position != sequence {
        return Err(SourceError::Foreign(format!(
            "sequence {sequence} holds position {}",
            envelope.position
        )));
    }
    Ok((sequence, envelope))
}

impl EventSource for OrderedJetStreamSource {
    async fn next(
        &mut self,
        after: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Envelope>, SourceError> {
        let mut events: Vec<Envelope> = Vec::new();
        let mut waited = false;
        while events.len() < max.max(1) {
            let message = if waited || !events.is_empty() {
                // Take only what has already arrived.
                match futures::FutureExt::now_or_never(self.messages.next()) {
                    Some(message) => message,
                    None => break,
                }
            } else {
                waited = true;
                match tokio::time::timeout(wait, self.messages.next()).await {
                    Ok(message) => message,
                    Err(_) => break,
                }
            };
            let message = message
                .ok_or_else(|| SourceError::Nats("the ordered consumer ended".into()))?
                .map_err(|e| SourceError::Nats(e.to_string()))?;
            let (sequence, envelope) = envelope_of(&message)?;
            let expected = after + 1 + events.len() as u64;
            if sequence < expected {
                continue;
            }
            if sequence > expected {
                return Err(SourceError::Foreign(format!(
                    "the mirror skips from {} to {sequence}",
                    expected - 1
                )));
            }
            events.push(envelope);
        }
        Ok(events)
    }

    async fn ack(&mut self, _position: u64) -> Result<(), SourceError> {
        Ok(())
    }
}
