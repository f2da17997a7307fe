//! What an append is, and the pure part of writing a batch: given the head of the log,
//! the commands already recorded and the streams' versions, decide for each request of a
//! batch whether it replays, conflicts or commits, and build the rows it commits.
//!
//! An [`AppendRequest`] is one command's events for its stream at an expected version and,
//! when a rule spans aggregates, events for further streams (`also`), each at its own
//! expected version, all committed or none. A further stream without events is a condition
//! only: it must be at its version (the decision read it) and is not written. A command's
//! events take consecutive positions across its streams, and the `commands` table records
//! the range with the digest of the request, so a repeat returns all of them and the
//! caller can tell a true repeat from another request under a reused key; `Log::recorded`
//! answers a repeat before anything is decided. Each event's id is assigned here, not by
//! the caller: a UUID v7 of the time the event occurred whose other bits derive from the
//! command id, the stream and the version, so the same commands write the same log.

use crate::error::{AppendError, ExpectedVersion, InvalidAppend};
use allweather_events::{Actor, Envelope, Hash, Payload, StreamId, Timestamp};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// One event to append, before the log gives it a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Past-tense PascalCase name of the fact.
    pub event_type: String,
    /// Version of the payload's schema.
    pub schema_version: u32,
    /// When the fact happened.
    pub occurred_at: Timestamp,
    /// The payload, canonical JSON.
    pub payload: Payload,
}

/// One command's append: its events for one stream, with the version it expects, and,
/// when a rule spans aggregates, events for further streams written in the same
/// transaction, each with its own expected version (all commit, or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// Idempotency key: a repeat returns the first result and writes nothing.
    pub command_id: Uuid,
    /// A digest of the request the command came from (its name and body), recorded with
    /// the command and answered with every replay, so that a caller can tell a true
    /// repeat from a different request under a reused key.
    pub request_digest: Option<Hash>,
    /// Chain of causation.
    pub correlation_id: Uuid,
    /// Who issued the command.
    pub actor: Actor,
    /// The stream appended to.
    pub stream_id: StreamId,
    /// The version the stream must be at.
    pub expected_version: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<NewEvent>,
    /// Further streams written atomically with the first, in this order after it. A
    /// command's events take consecutive positions across all of its streams. An entry
    /// without events is a condition only: the stream must be at its expected version
    /// (a stream the command's decision read), and is not written.
    pub also: Vec<StreamWrite>,
}

/// Events for one further stream of an [`AppendRequest`], or, without events, a
/// condition on its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamWrite {
    /// The stream appended to.
    pub stream_id: StreamId,
    /// The version the stream must be at.
    pub expected_version: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<NewEvent>,
}

/// Limits on what one append may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendLimits {
    /// Largest canonical payload, in bytes.
    pub max_payload_bytes: usize,
    /// Most events in one append.
    pub max_events: usize,
}

impl Default for AppendLimits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 256 * 1024,
            max_events: 100,
        }
    }
}

impl AppendRequest {
    /// Every stream the request writes, the first stream first: `(stream, expected, events)`.
    pub fn writes(&self) -> impl Iterator<Item = (&StreamId, ExpectedVersion, &[NewEvent])> {
        std::iter::once((&self.stream_id, self.expected_version, &self.events[..])).chain(
            self.also
                .iter()
                .map(|w| (&w.stream_id, w.expected_version, &w.events[..])),
        )
    }

    /// Checks everything that can be checked without the database.
    pub fn validate(&self, limits: &AppendLimits) -> Result<(), InvalidAppend> {
        if self.events.is_empty() {
            return Err(InvalidAppend::NoEvents);
        }
        let count: usize = self.writes().map(|(_, _, events)| events.len()).sum();
        if count > limits.max_events {
            return Err(InvalidAppend::TooManyEvents {
                count,
                limit: limits.max_events,
            });
        }
        let mut streams = std::collections::HashSet::new();
        if let Some((stream, _, _)) = self.writes().find(|(s, _, _)| !streams.insert(s.as_str())) {
            return Err(InvalidAppend::StreamTwice(stream.as_str().to_owned()));
        }
        if self.actor.id.is_empty() || self.actor.id.len() > 128 {
            return Err(InvalidAppend::BadActorId);
        }
        for e in self.writes().flat_map(|(_, _, events)| events) {
            let t = &e.event_type;
            let pascal = t.len() <= 64
                && t.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
                && t.bytes().all(|b| b.is_ascii_alphanumeric());
            if !pascal {
                return Err(InvalidAppend::BadEventType(t.chars().take(80).collect()));
            }
            if e.schema_version == 0 {
                return Err(InvalidAppend::BadSchemaVersion);
            }
            if e.payload.len() > limits.max_payload_bytes {
                return Err(InvalidAppend::PayloadTooLarge {
                    event_type: t.clone(),
                    size: e.payload.len(),
                    limit: limits.max_payload_bytes,
                });
            }
        }
        Ok(())
    }
}

/// Where one committed event landed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommittedEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// Its stream.
    pub stream_id: String,
    /// The stream's version after it.
    pub stream_version: u64,
    /// Its global position.
    pub position: u64,
}

/// The result of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The command that appended.
    pub command_id: Uuid,
    /// Its events, in order.
    pub events: Vec<CommittedEvent>,
    /// True when this was a repeat of an earlier command: nothing new was written.
    pub replayed: bool,
    /// The request digest the command was first recorded with.
    pub request_digest: Option<Hash>,
}

impl AppendOutcome {
    /// The position of the command's last event: a consistency token for reads.
    pub fn position(&self) -> u64 {
        self.events.last().map_or(0, |e| e.position)
    }
}

/// The head of the log: its last position and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The last position (0 for an empty log).
    pub position: u64,
    /// The hash of the last event ([`Hash::GENESIS`] for an empty log).
    pub hash: Hash,
    /// When the last event was recorded (0 for an empty log).
    pub recorded_at: Timestamp,
}

impl Default for Head {
    fn default() -> Self {
        Head::EMPTY
    }
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head {
        position: 0,
        hash: Hash::GENESIS,
        recorded_at: Timestamp::from_micros(0),
    };
}

/// A command already recorded in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredCommand {
    pub stream_id: String,
    pub events: Vec<CommittedEvent>,
    pub request_digest: Option<Hash>,
}

/// What the database said, read under the write lock, that a batch is decided against.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub commands: HashMap<Uuid, StoredCommand>,
    pub versions: HashMap<String, u64>,
}

impl Loaded {
    /// The state a batch is speculatively decided against before the lock is taken: every
    /// stream at the version `known` holds for it (the writer's own knowledge of the
    /// database, see `postgres::Known`), else at the version its first request expects; no
    /// command recorded yet. `None` when a request expects any version of a stream not
    /// known, which cannot be assumed. What was assumed rather than known is checked under
    /// the lock by [`Plan::priors`] before anything is written.
    pub fn assumed(batch: &[AppendRequest], known: &HashMap<String, u64>) -> Option<Loaded> {
        let mut loaded = Loaded::default();
        for (stream, expected, _) in batch.iter().flat_map(AppendRequest::writes) {
            let stream = stream.as_str();
            if loaded.versions.contains_key(stream) {
                continue;
            }
            let prior = match (known.get(stream), expected) {
                (Some(&v), _) => v,
                (None, ExpectedVersion::NoStream) => 0,
                (None, ExpectedVersion::Exact(v)) => v,
                (None, ExpectedVersion::Any) => return None,
            };
            loaded.versions.insert(stream.to_owned(), prior);
        }
        Some(loaded)
    }
}

/// A row for the `commands` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommandRow {
    pub command_id: Uuid,
    pub stream_id: String,
    pub first_position: u64,
    pub last_position: u64,
    pub recorded_at: Timestamp,
    pub request_digest: Option<Hash>,
}

/// The decided batch: each request's result, and the rows to write for those that commit.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub results: Vec<Result<AppendOutcome, AppendError>>,
    pub events: Vec<Envelope>,
    pub commands: Vec<CommandRow>,
    /// Final `(version, last_position)` of every stream the batch writes.
    pub streams: BTreeMap<String, (u64, u64)>,
    /// The version every stream of the batch was decided against (0 for a new stream):
    /// what must still hold under the lock for the plan to be written.
    pub priors: BTreeMap<String, u64>,
    /// The head the plan chains from.
    pub head: Head,
}

impl Plan {
    /// The head of the log once this plan is written.
    pub fn next_head(&self) -> Head {
        self.events.last().map_or(self.head, |e| Head {
            position: e.position,
            hash: e.hash,
            recorded_at: e.recorded_at,
        })
    }
}

/// Decides a batch in order. Each request sees the effects of those before it, so two
/// appends to one stream in one batch are ordered and the second checks its expected
/// version against the first; a command id repeated inside the batch gets the first's
/// result.
/// The id of the event a command writes at `version` of `stream`: a UUID v7 of the time it
/// occurred whose other bits are derived from the command id and that place, so that the
/// same commands write the same log (the demo county hashes alike on every run).
fn event_id(command_id: Uuid, stream: &str, version: u64, occurred_at: Timestamp) -> Uuid {
    let derived = Uuid::new_v5(&command_id, format!("{stream}/{version}").as_bytes());
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&derived.as_bytes()[6..]);
    let millis = u64::try_from(occurred_at.as_micros() / 1000).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &bits).into_uuid()
}

pub(crate) fn plan(batch: &[AppendRequest], head: Head, loaded: &Loaded, now: Timestamp) -> Plan {
    let recorded_at = now.max(head.recorded_at);
    let mut plan = Plan {
        head,
        ..Plan::default()
    };
    for (stream, _, _) in batch.iter().flat_map(AppendRequest::writes) {
        let stream = stream.as_str();
        plan.priors
            .entry(stream.to_owned())
            .or_insert_with(|| loaded.versions.get(stream).copied().unwrap_or(0));
    }
    let mut position = head.position;
    let mut prev_hash = head.hash;
    let mut versions: HashMap<&str, u64> = HashMap::new();
    let mut seen: HashMap<Uuid, usize> = HashMap::new();

    for (index, req) in batch.iter().enumerate() {
        let result = if let Some(stored) = loaded.commands.get(&req.command_id) {
            replay(req, stored)
        } else if let Some(&first) = seen.get(&req.command_id) {
            match &plan.results[first] {
                Ok(outcome)
                    if outcome
                        .events
                        .first()
                        .is_some_and(|e| e.stream_id != req.stream_id.as_str()) =>
                {
                    Err(AppendError::CommandIdReused {
                        command_id: req.command_id,
                        original_stream: outcome.events[0].stream_id.clone(),
                    })
                }
                Ok(outcome) => Ok(AppendOutcome {
                    replayed: true,
                    ..outcome.clone()
                }),
                Err(e) => Err(e.clone()),
            }
        } else {
            seen.insert(req.command_id, index);
            // Every stream's expectation is checked before any event is made: a command
            // commits whole or not at all.
            let conflict = req.writes().find_map(|(stream, expected, _)| {
                let stream = stream.as_str();
                let actual = versions
                    .get(stream)
                    .copied()
                    .unwrap_or_else(|| loaded.versions.get(stream).copied().unwrap_or(0));
                (!expected.admits(actual)).then(|| AppendError::VersionConflict {
                    stream_id: stream.to_owned(),
                    expected,
                    actual,
                })
            });
            if let Some(conflict) = conflict {
                Err(conflict)
            } else {
                let mut committed = Vec::new();
                for (stream_id, _, events) in req.writes() {
                    if events.is_empty() {
                        // A condition: checked above, not written.
                        continue;
                    }
                    let stream = stream_id.as_str();
                    let mut version = versions
                        .get(stream)
                        .copied()
                        .unwrap_or_else(|| loaded.versions.get(stream).copied().unwrap_or(0));
                    for new in events {
                        position += 1;
                        version += 1;
                        let mut envelope = Envelope {
                            event_id: event_id(req.command_id, stream, version, new.occurred_at),
                            stream_id: stream_id.clone(),
                            stream_version: version,
                            position,
                            event_type: new.event_type.clone(),
                            schema_version: new.schema_version,
                            occurred_at: new.occurred_at,
                            recorded_at,
                            command_id: req.command_id,
                            correlation_id: req.correlation_id,
                            actor: req.actor.clone(),
                            payload: new.payload.clone(),
                            prev_hash,
                            hash: Hash::GENESIS,
                        };
                        envelope.hash = envelope.expected_hash();
                        prev_hash = envelope.hash;
                        committed.push(CommittedEvent {
                            event_id: envelope.event_id,
                            event_type: envelope.event_type.clone(),
                            stream_id: stream.to_owned(),
                            stream_version: version,
                            position,
                        });
                        plan.events.push(envelope);
                    }
                    versions.insert(stream, version);
                    plan.streams.insert(stream.to_owned(), (version, position));
                }
                plan.commands.push(CommandRow {
                    command_id: req.command_id,
                    stream_id: req.stream_id.as_str().to_owned(),
                    first_position: committed[0].position,
                    last_position: position,
                    recorded_at,
                    request_digest: req.request_digest,
                });
                Ok(AppendOutcome {
                    command_id: req.command_id,
                    events: committed,
                    replayed: false,
                    request_digest: req.request_digest,
                })
            }
        };
        plan.results.push(result);
    }
    plan
}

fn replay(req: &AppendRequest, stored: &StoredCommand) -> Result<AppendOutcome, AppendError> {
    if stored.stream_id != req.stream_id.as_str() {
        return Err(AppendError::CommandIdReused {
            command_id: req.command_id,
            original_stream: stored.stream_id.clone(),
        });
    }
    Ok(AppendOutcome {
        command_id: req.command_id,
        events: stored.events.clone(),
        replayed: true,
        request_digest: stored.request_digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use allweather_events::{ChainVerifier, Role};
    use serde_json::json;

    fn req(command: u128, stream: &str, expected: ExpectedVersion, n: usize) -> AppendRequest {
        AppendRequest {
            request_digest: None,
            command_id: Uuid::from_u128(command),
            correlation_id: Uuid::from_u128(command),
            actor: Actor {
                id: "tester".into(),
                role: Role::System,
            },
            stream_id: StreamId::parse(stream).unwrap(),
            expected_version: expected,
            events: (0..n)
                .map(|i| NewEvent {
                    event_type: "Probed".into(),
                    schema_version: 1,
                    occurred_at: Timestamp::from_micros(0),
                    payload: Payload::from_value(&json!({ "i": i })).unwrap(),
                })
                .collect(),
            also: vec![],
        }
    }

    #[test]
    fn a_batch_chains_from_the_head_and_orders_appends_to_one_stream() {
        let batch = [
            req(1, "probe-a", ExpectedVersion::NoStream, 2),
            req(2, "probe-a", ExpectedVersion::Exact(2), 1),
            req(3, "probe-a", ExpectedVersion::Exact(2), 1),
        ];
        let plan = plan(
            &batch,
            Head::EMPTY,
            &Loaded::default(),
            Timestamp::from_micros(5),
        );
        assert_eq!(plan.results[0].as_ref().unwrap().position(), 2);
        assert_eq!(
            plan.results[1].as_ref().unwrap().events[0].stream_version,
            3
        );
        assert!(matches!(
            plan.results[2],
            Err(AppendError::VersionConflict {
                actual: 3,
                expected: ExpectedVersion::Exact(2),
                ..
            })
        ));
        let mut verifier = ChainVerifier::new();
        for e in &plan.events {
            verifier.push(e).unwrap();
        }
        assert_eq!(plan.streams["probe-a"], (3, 3));
        assert_eq!(plan.commands.len(), 2);
    }

    #[test]
    fn a_command_repeated_in_a_batch_gets_the_first_result_and_writes_once() {
        let batch = [
            req(7, "probe-a", ExpectedVersion::Any, 1),
            req(7, "probe-a", ExpectedVersion::Any, 1),
        ];
        let plan = plan(
            &batch,
            Head::EMPTY,
            &Loaded::default(),
            Timestamp::from_micros(5),
        );
        let (a, b) = (
            plan.results[0].as_ref().unwrap(),
            plan.results[1].as_ref().unwrap(),
        );
        assert_eq!(
            (a.events.clone(), a.replayed, b.replayed),
            (b.events.clone(), false, true)
        );
        assert_eq!(plan.events.len(), 1);
    }

    #[test]
    fn a_recorded_command_replays_and_a_reused_id_is_refused() {
        let stored = StoredCommand {
            request_digest: None,
            stream_id: "probe-a".into(),
            events: vec![CommittedEvent {
                event_id: Uuid::nil(),
                event_type: "Probed".into(),
                stream_id: "probe-a".into(),
                stream_version: 1,
                position: 1,
            }],
        };
        let loaded = Loaded {
            commands: HashMap::from([(Uuid::from_u128(1), stored)]),
            ..Loaded::default()
        };
        let batch = [
            req(1, "probe-a", ExpectedVersion::NoStream, 1),
            req(1, "probe-b", ExpectedVersion::Any, 1),
        ];
        let plan = plan(&batch, Head::EMPTY, &loaded, Timestamp::from_micros(5));
        assert!(plan.results[0].as_ref().unwrap().replayed);
        assert!(matches!(
            plan.results[1],
            Err(AppendError::CommandIdReused { .. })
        ));
        assert!(plan.events.is_empty());
    }

    #[test]
    fn a_batch_is_assumed_at_the_versions_its_first_requests_expect_unless_one_expects_any() {
        let batch = [
            req(1, "probe-a", ExpectedVersion::Exact(4), 1),
            req(2, "probe-a", ExpectedVersion::Exact(9), 1),
            req(3, "probe-b", ExpectedVersion::NoStream, 1),
        ];
        let assumed = Loaded::assumed(&batch, &HashMap::new()).expect("speculable");
        assert_eq!(
            assumed.versions,
            HashMap::from([("probe-a".into(), 4), ("probe-b".into(), 0)])
        );
        let plan = plan(&batch, Head::EMPTY, &assumed, Timestamp::from_micros(1));
        assert_eq!(
            plan.priors,
            BTreeMap::from([("probe-a".into(), 4), ("probe-b".into(), 0)])
        );
        assert!(matches!(
            plan.results[1],
            Err(AppendError::VersionConflict { actual: 5, .. })
        ));
        assert_eq!(plan.next_head().position, 2);
        assert!(
            Loaded::assumed(
                &[req(4, "probe-c", ExpectedVersion::Any, 1)],
                &HashMap::new()
            )
            .is_none()
        );
    }

    #[test]
    fn a_known_version_is_assumed_over_what_a_request_expects_and_decides_it_exactly() {
        let known = HashMap::from([("probe-a".to_owned(), 7), ("probe-c".to_owned(), 2)]);
        let batch = [
            req(1, "probe-a", ExpectedVersion::Exact(4), 1),
            req(2, "probe-b", ExpectedVersion::Exact(3), 1),
            req(3, "probe-c", ExpectedVersion::Any, 1),
        ];
        let assumed = Loaded::assumed(&batch, &known).expect("speculable: probe-c is known");
        assert_eq!(
            assumed.versions,
            HashMap::from([
                ("probe-a".into(), 7),
                ("probe-b".into(), 3),
                ("probe-c".into(), 2)
            ])
        );
        let plan = plan(&batch, Head::EMPTY, &assumed, Timestamp::from_micros(1));
        assert!(matches!(
            plan.results[0],
            Err(AppendError::VersionConflict {
                actual: 7,
                expected: ExpectedVersion::Exact(4),
                ..
            })
        ));
        assert_eq!(plan.streams.get("probe-b"), Some(&(4, 1)));
        assert_eq!(plan.streams.get("probe-c"), Some(&(3, 2)));
    }

    #[test]
    fn recorded_at_never_goes_back_even_if_the_clock_does() {
        let head = Head {
            recorded_at: Timestamp::from_micros(100),
            ..Head::EMPTY
        };
        let plan = plan(
            &[req(1, "probe-a", ExpectedVersion::Any, 1)],
            head,
            &Loaded::default(),
            Timestamp::from_micros(50),
        );
        assert_eq!(plan.events[0].recorded_at, Timestamp::from_micros(100));
    }

    #[test]
    fn validation_names_the_problem() {
        let limits = AppendLimits {
            max_payload_bytes: 10,
            max_events: 2,
        };
        let mut r = req(1, "probe-a", ExpectedVersion::Any, 0);
        assert_eq!(r.validate(&limits), Err(InvalidAppend::NoEvents));
        r = req(1, "probe-a", ExpectedVersion::Any, 3);
        assert_eq!(
            r.validate(&limits),
            Err(InvalidAppend::TooManyEvents { count: 3, limit: 2 })
        );
        r = req(1, "probe-a", ExpectedVersion::Any, 1);
        r.events[0].payload =
            Payload::from_value(&json!({"text": "longer than ten bytes"})).unwrap();
        assert!(matches!(
            r.validate(&limits),
            Err(InvalidAppend::PayloadTooLarge { limit: 10, .. })
        ));
        for bad in ["probed", "Probe d", "", "Probé"] {
            r = req(1, "probe-a", ExpectedVersion::Any, 1);
            r.events[0].event_type = bad.into();
            assert!(
                matches!(r.validate(&limits), Err(InvalidAppend::BadEventType(_))),
                "case {bad:?}"
            );
        }
    }
}
