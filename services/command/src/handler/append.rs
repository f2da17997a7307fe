//! A decision as the log's append request.

use crate::error::CommandError;
use allweather_domain::{Principal, World};
use allweather_events::{Payload, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, NewEvent, StreamWrite};
use anyhow::Context as _;
use uuid::Uuid;

/// The append for a decision: each stream it writes at the version it was decided
/// against, and every stream it only read as a condition at its version too. So no
/// check across aggregates is ever stale: if a stream the decision read (the branch's
/// secretary, the member's service branch, the year's closing, a campaign's dates)
/// changed before the append, the append conflicts and the command is decided again.
pub(super) fn append_request(
    world: &World,
    decision: &allweather_domain::Decision,
    command_id: Uuid,
    principal: &Principal,
    now: Timestamp,
) -> Result<AppendRequest, CommandError> {
    let mut writes = Vec::with_capacity(decision.writes.len());
    for (stream, events) in &decision.writes {
        let version = world
            .snapshot(stream)
            .map(|s| s.version)
            .ok_or_else(|| anyhow::anyhow!("decide wrote to {stream} without reading it"))?;
        let events = events
            .iter()
            .map(|e| {
                Ok(NewEvent {
                    event_type: e.event_type().to_owned(),
                    schema_version: e.schema_version(),
                    occurred_at: now,
                    payload: Payload::from_value(&e.payload())
                        .with_context(|| format!("encode {}", e.event_type()))?,
                })
            })
            .collect::<Result<Vec<_>, anyhow::Error>>()?;
        let expected_version = ExpectedVersion::read_at(version);
        writes.push(StreamWrite {
            stream_id: stream.clone(),
            expected_version,
            events,
        });
    }
    let mut read_only: Vec<(&StreamId, u64)> = world
        .streams()
        .filter(|(stream, _)| {
            !decision
                .writes
                .iter()
                .any(|(written, _)| written == *stream)
        })
        .map(|(stream, snapshot)| (stream, snapshot.version))
        .collect();
    read_only.sort_unstable();
    for (stream, version) in read_only {
        let expected_version = ExpectedVersion::read_at(version);
        writes.push(StreamWrite {
            stream_id: stream.clone(),
            expected_version,
            events: Vec::new(),
        });
    }
    let mut writes = writes.into_iter();
    let first = writes
        .next()
        .ok_or_else(|| anyhow::anyhow!("a decision without events"))?;
    Ok(AppendRequest {
        request_digest: None,
        command_id,
        correlation_id: command_id,
        actor: allweather_events::Actor {
            id: principal.subject.clone(),
            role: principal.role,
        },
        stream_id: first.stream_id,
        expected_version: first.expected_version,
        events: first.events,
        also: writes.collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use allweather_domain::Decision;
    use allweather_domain::world::streams;
    use allweather_domain::{Event, Snapshot, State};
    use allweather_events::Role;

    #[test]
    fn every_stream_a_decision_read_is_a_condition_of_its_append() {
        let (branch, member, wish) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut world = World::new();
        let snapshot = |stream: &StreamId, version| Snapshot {
            version,
            state: State::empty(stream).unwrap(),
        };
        for (stream, version) in [
            (streams::wish(wish), 1),
            (streams::branch(branch), 4),
            (streams::member(member), 2),
            (streams::rules(2026), 0),
        ] {
            world.insert(stream.clone(), snapshot(&stream, version));
        }
        let event = |wish_id| Event::ClaimClosed(allweather_domain::event::ClaimClosed { wish_id });
        let decision = Decision::to(streams::wish(wish), vec![event(wish)]);
        let principal = Principal {
            subject: "s".into(),
            role: Role::CommitteeAdmin,
            member_id: None,
            branch_id: None,
        };
        let request = append_request(
            &world,
            &decision,
            Uuid::from_u128(9),
            &principal,
            Timestamp::from_micros(0),
        )
        .unwrap();
        assert_eq!(
            (request.stream_id.as_str(), request.expected_version),
            (
                "wish-00000000-0000-0000-0000-000000000003",
                ExpectedVersion::Exact(1)
            )
        );
        let conditions: Vec<(String, ExpectedVersion, usize)> = request
            .also
            .iter()
            .map(|w| {
                (
                    w.stream_id.as_str().to_owned(),
                    w.expected_version,
                    w.events.len(),
                )
            })
            .collect();
        assert_eq!(
            conditions,
            vec![
                (
                    streams::branch(branch).as_str().to_owned(),
                    ExpectedVersion::Exact(4),
                    0
                ),
                (
                    streams::member(member).as_str().to_owned(),
                    ExpectedVersion::Exact(2),
                    0
                ),
                ("rules-2026".to_owned(), ExpectedVersion::NoStream, 0),
            ]
        );
    }
}
