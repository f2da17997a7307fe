//! # allweather-relay
//!
//! Publishes every committed event of the log to NATS JetStream, in position order,
//! exactly once, so that the stream is an exact mirror whose sequence numbers equal log
//! positions. The log is the source of truth (JetStream on nats-server 2.9 acknowledges
//! before its disk write); the stream is what dashboards and projectors subscribe to.
//!
//! Each message goes to `{prefix}.evt.{aggregate}.{aggregate_id}.{EventType}` with
//! `Nats-Msg-Id = event_id` (the server drops a repeat inside its duplicate window) and
//! `Nats-Expected-Last-Sequence = position − 1` (the server refuses a message that would
//! not land at its position). Publishes are pipelined: up to a window of acknowledgements
//! is awaited concurrently, so a lost connection costs one timeout, not one per message.
//! The body is the envelope as JSON. The stream (`AW_EVENTS` by default) is file-backed,
//! with a two-minute duplicate window; up to 256 acknowledgements are awaited at once, in
//! order, and each must name its event's position.
//!
//! The relay keeps no state of its own: on start, and after any NATS error (a timeout is
//! an unknown outcome, not a failure), it reads the stream's last sequence, checks that the
//! message there is the log's event at that position, and resumes from the next. A relay
//! that died between a publish and its acknowledgement therefore neither repeats nor
//! skips. A stream that does not match the log (a foreign message, a stream ahead of the
//! log, a different event at a position) is a [`RelayError::Mismatch`], reported and never
//! papered over: an operator rebuilds the stream from the log. Commands never wait for
//! NATS: with NATS down they commit, and the relay catches up.
//!
//! The stream republishes what it stores to `{prefix}.live.>`, with the sequence in the
//! `Nats-Sequence` header. Live subscribers follow those subjects (or an ordered consumer),
//! never the ingest subjects, where they would also see duplicates and refused messages.
//! `examples/live-count` is what an integrator writes against this contract alone. The
//! relay runs inside `allweather serve --nats URL` or as `allweather relay --nats URL`;
//! `allweather audit verify --nats` runs [`verify_mirror`], which compares every message
//! with the log's event at its position (id, subject, hash).
//!
//! Only JetStream features of nats-server 2.9 are used (`async-nats` is built without
//! its 2.10+ features).
//!
//! ## Layout
//! - [`RelaySettings`], [`stream_config`], [`subject`], [`message`]: where and how events go.
//! - [`run`]: the relay loop, until shutdown.
//! - [`verify_mirror`]: an auditor's check that the stream matches the log.
#![deny(missing_docs)]

use allweather_events::Envelope;
use allweather_log::{Log, LogError};
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use std::future::Future;
use std::time::Duration;

/// Where and how the relay publishes.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The JetStream stream (one per county).
    pub stream: String,
    /// The subject prefix (one per county).
    pub prefix: String,
    /// Replicas of the stream (3 on a cluster).
    pub replicas: usize,
    /// How many acknowledgements may be outstanding at once.
    pub window: usize,
    /// How long the server remembers message ids to drop repeats.
    pub duplicate_window: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            stream: "AW_EVENTS".into(),
            prefix: "aw".into(),
            replicas: 1,
            window: 256,
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// Why the relay stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The stream holds something the log does not: the mirror cannot be trusted, and an
    /// operator must look (rebuild the stream from the log, or find the other writer).
    #[error("stream {stream} does not mirror the log: {detail}")]
    Mismatch {
        /// The stream.
        stream: String,
        /// What differs.
        detail: String,
    },
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
}

/// What one attempt ended with: a mismatch stops the relay, anything else is retried.
enum Stop {
    Fatal(RelayError),
    Retry(String),
}

impl From<LogError> for Stop {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Unavailable(_) => Stop::Retry(e.to_string()),
            other => Stop::Fatal(RelayError::Log(other)),
        }
    }
}

/// The subject an event is published to: `{prefix}.evt.{aggregate}.{aggregate_id}.{EventType}`.
pub fn subject(prefix: &str, event: &Envelope) -> String {
    format!(
        "{prefix}.evt.{}.{}.{}",
        event.stream_id.aggregate(),
        event.stream_id.id(),
        event.event_type
    )
}

/// The stream's configuration: file storage, the duplicate window, and stored messages
/// republished to `{prefix}.live.>` (with their sequence in `Nats-Sequence`) for live
/// subscribers, who must not listen to the ingest subjects.
pub fn stream_config(settings: &RelaySettings) -> stream::Config {
    stream::Config {
        name: settings.stream.clone(),
        subjects: vec![format!("{}.evt.>", settings.prefix)],
        storage: stream::StorageType::File,
        num_replicas: settings.replicas,
        duplicate_window: settings.duplicate_window,
        republish: Some(stream::Republish {
            source: format!("{}.evt.>", settings.prefix),
            destination: format!("{}.live.>", settings.prefix),
            headers_only: false,
        }),
        ..Default::default()
    }
}

/// Relays until `shutdown` completes. NATS errors are retried (with a pause) from the
/// stream's last sequence; a [`RelayError`] ends the relay.
pub async fn run(
    log: Log,
    client: async_nats::Client,
    settings: RelaySettings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RelayError> {
    let js = jetstream::new(client);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            stop = relay_from_stream_tip(&log, &js, &settings) => match stop {
                Stop::Fatal(e) => {
                    tracing::error!(error = %e, "relay stopped");
                    return Err(e);
                }
                Stop::Retry(reason) => {
                    tracing::warn!(%reason, "relay interrupted; resuming from the stream's last sequence");
                }
            },
        }
        // A pause between attempts while NATS is away, so the relay does not spin.
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// One attempt: find where the stream ends, check it against the log, and publish every
/// later event as it commits. Returns only on an error.
async fn relay_from_stream_tip(
    log: &Log,
    js: &jetstream::Context,
    settings: &RelaySettings,
) -> Stop {
    let retry = |what: &str, e: &dyn std::fmt::Display| Stop::Retry(format!("{what}: {e}"));
    let mut stream = match js.get_or_create_stream(stream_config(settings)).await {
        Ok(s) => s,
        Err(e) => return retry("create or find the stream", &e),
    };
    let last = match stream.info().await {
        Ok(info) => info.state.last_sequence,
        Err(e) => return retry("read the stream's state", &e),
    };
    if let Err(stop) = check_tip(log, &stream, last, &settings.stream).await {
        return stop;
    }
    tracing::info!(stream = %settings.stream, from = last + 1, "relaying");

    let mut tail = Box::pin(log.tail(last));
    let mut in_flight = FuturesOrdered::new();
    loop {
        tokio::select! {
            biased;
            Some((position, acked)) = in_flight.next(), if !in_flight.is_empty() => {
                if let Err(stop) = check_ack(position, acked, &settings.stream) {
                    return stop;
                }
            }
            event = tail.next(), if in_flight.len() < settings.window.max(1) => {
                let event = match event {
                    Some(Ok(event)) => event,
                    Some(Err(e)) => return Stop::from(e),
                    None => return Stop::Retry("the log's tail ended".into()),
                };
                match publish(js, &settings.prefix, &event).await {
                    Ok(ack) => in_flight.push_back(async move { (event.position, ack.await) }),
                    Err(e) => return retry("publish", &e),
                }
            }
        }
    }
}

/// Checks that the message at the stream's last sequence is the log's event there.
async fn check_tip(log: &Log, stream: &stream::Stream, last: u64, name: &str) -> Result<(), Stop> {
    if last == 0 {
        return Ok(());
    }
    let mismatch = |detail: String| {
        Stop::Fatal(RelayError::Mismatch {
            stream: name.to_owned(),
            detail,
        })
    };
    let Some(event) = log.read_all(last - 1, 1).await?.into_iter().next() else {
        let head = log.head().await?.position;
        return Err(mismatch(format!(
            "the stream ends at sequence {last} but the log at position {head}"
        )));
    };
    let message = stream
        .get_raw_message(last)
        .await
        .map_err(|e| Stop::Retry(format!("read the stream's last message: {e}")))?;
    let id = message
        .headers
        .get(async_nats::header::NATS_MESSAGE_ID)
        .map(|v| v.as_str().to_owned());
    if id.as_deref() != Some(event.event_id.to_string().as_str()) {
        return Err(mismatch(format!(
            "sequence {last} holds message id {id:?} on {}, the log has event {} ({}) there",
            message.subject, event.event_id, event.event_type
        )));
    }
    Ok(())
}

/// The message an event is mirrored as: its subject, the headers that make the stream an
/// exact mirror (`Nats-Msg-Id`, `Nats-Expected-Last-Sequence`), and the envelope as JSON.
pub fn message(prefix: &str, event: &Envelope) -> (String, async_nats::HeaderMap, bytes::Bytes) {
    let payload = event
        .payload
        .to_value()
        .unwrap_or_else(|_| serde_json::Value::String(event.payload.as_str().to_owned()));
    let body = serde_json::to_vec(&event.to_json(payload)).unwrap_or_default();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        event.event_id.to_string().as_str(),
    );
    headers.insert(
        async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
        (event.position - 1).to_string().as_str(),
    );
    (subject(prefix, event), headers, body.into())
}

/// Sends one event; the returned future resolves with the server's acknowledgement.
async fn publish(
    js: &jetstream::Context,
    prefix: &str,
    event: &Envelope,
) -> Result<PublishAckFuture, async_nats::jetstream::context::PublishError> {
    let (subject, headers, body) = message(prefix, event);
    js.publish_with_headers(subject, headers, body).await
}

/// An acknowledgement must put the event at its position. A duplicate acknowledgement
/// (the server already held this event id) is fine as long as the position agrees.
fn check_ack(
    position: u64,
    acked: Result<jetstream::publish::PublishAck, async_nats::jetstream::context::PublishError>,
    name: &str,
) -> Result<(), Stop> {
    match acked {
        Ok(ack) if ack.sequence == position => Ok(()),
        Ok(ack) => Err(Stop::Fatal(RelayError::Mismatch {
            stream: name.to_owned(),
            detail: format!(
                "the event at position {position} was stored at sequence {}",
                ack.sequence
            ),
        })),
        // An earlier publish of the window was lost, or the ack timed out: the outcome
        // is unknown, so resume from what the stream holds (ids make a repeat harmless).
        Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Err(Stop::Retry(format!(
            "position {position}: the stream's last sequence is not {}",
            position - 1
        ))),
        Err(e) => Err(Stop::Retry(format!("position {position}: {e}"))),
    }
}

/// The result of comparing the stream with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorReport {
    /// Messages compared and found equal to the log at their position.
    pub matching: u64,
    /// The log's head position (the stream may lag behind it while the relay catches up).
    pub log_head: u64,
    /// The first difference, if any; the comparison stops there.
    pub difference: Option<String>,
}

/// Compares every message of the stream with the log's event at the same position: the
/// sequence, the message id (`event_id`), the subject and the event's hash. A stream that
/// lags the log is not a difference; one that holds a message the log does not is.
pub async fn verify_mirror(
    log: &Log,
    client: async_nats::Client,
    settings: &RelaySettings,
    mut progress: impl FnMut(u64),
) -> Result<MirrorReport, async_nats::Error> {
    let js = jetstream::new(client);
    let mut stream = js.get_stream(&settings.stream).await?;
    let last = stream.info().await?.state.last_sequence;
    let log_head = log.head().await?.position;
    let mut report = MirrorReport {
        matching: 0,
        log_head,
        difference: None,
    };
    if last == 0 {
        return Ok(report);
    }
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut messages = consumer.messages().await?;
    let mut page: std::collections::VecDeque<Envelope> = std::collections::VecDeque::new();
    while report.matching < last {
        let Some(message) = messages.next().await else {
            break;
        };
        let message = message?;
        let sequence = message.info()?.stream_sequence;
        if page.is_empty() {
            page.extend(log.read_all(report.matching, 1_000).await?);
        }
        let difference = match page.pop_front() {
            None => Some(format!(
                "sequence {sequence} has no event in the log (head {log_head})"
            )),
            Some(event) => compare(&settings.prefix, sequence, &message, &event),
        };
        if difference.is_some() {
            report.difference = difference;
            return Ok(report);
        }
        report.matching = sequence;
        if sequence % 1_000 == 0 {
            progress(sequence);
        }
    }
    progress(report.matching);
    Ok(report)
}

fn compare(
    prefix: &str,
    sequence: u64,
    message: &jetstream::Message,
    event: &Envelope,
) -> Option<String> {
    let id = message
        .headers
        .as_ref()
        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        .map(|v| v.as_str().to_owned());
    let hash = serde_json::from_slice::<serde_json::Value>(&message.payload)
        .ok()
        .and_then(|body| body["hash"].as_str().map(str::to_owned));
    let expected_subject = subject(prefix, event);
    if sequence != event.position {
        Some(format!(
            "sequence {sequence} holds what the log has at position {}",
            event.position
        ))
    } else if id.as_deref() != Some(event.event_id.to_string().as_str()) {
        Some(format!(
            "sequence {sequence}: message id {id:?}, the log has event {}",
            event.event_id
        ))
    } else if message.subject.as_str() != expected_subject {
        Some(format!(
            "sequence {sequence}: subject {}, expected {expected_subject}",
            message.subject
        ))
    } else if hash.as_deref() != Some(event.hash.to_string().as_str()) {
        Some(format!(
            "sequence {sequence}: hash {hash:?}, the log has {}",
            event.hash
        ))
    } else {
        None
    }
}
