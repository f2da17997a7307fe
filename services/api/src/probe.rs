//! `Ping`, the one command served until the domain lands: it appends a `Pinged` event to
//! `probe-{probe_id}`, so the write path (HTTP, idempotency, group commit, graceful
//! shutdown) can be exercised end to end. It carries no authority and touches no
//! programme data.

use crate::problem::ApiError;
use allweather_events::{Actor, EventSpec, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, NewEvent};
use serde::Deserialize;
use uuid::Uuid;

/// The event types this build reads.
pub(crate) const EVENTS: [EventSpec; 1] = [EventSpec {
    event_type: "Pinged",
    schema_version: 1,
    upcasters: &[],
}];

/// Longest note, in characters.
const MAX_NOTE_CHARS: usize = 1_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ping {
    probe_id: Option<Uuid>,
    note: String,
}

impl Ping {
    /// The append for this command, or why it is refused.
    pub(crate) fn into_append(
        self,
        command_id: Uuid,
        now: Timestamp,
    ) -> Result<(Uuid, AppendRequest), ApiError> {
        let chars = self.note.chars().count();
        if chars == 0 || chars > MAX_NOTE_CHARS {
            return Err(ApiError::field(
                "note",
                format!("must be 1 to {MAX_NOTE_CHARS} characters, got {chars}"),
            ));
        }
        // An omitted id derives from the command id, so a retried command lands on the
        // same stream and replays instead of conflicting.
        let id = self.probe_id.unwrap_or(command_id);
        let stream_id = StreamId::parse(format!("probe-{id}"))
            .map_err(|e| ApiError::field("probe_id", e.to_string()))?;
        let payload = Payload::from_value(&serde_json::json!({ "note": self.note }))
            .map_err(|e| ApiError::field("note", e.to_string()))?;
        Ok((
            id,
            AppendRequest {
                command_id,
                correlation_id: command_id,
                actor: Actor {
                    id: "anonymous".into(),
                    role: Role::System,
                },
                stream_id,
                expected_version: ExpectedVersion::Any,
                events: vec![NewEvent {
                    event_type: "Pinged".into(),
                    schema_version: 1,
                    occurred_at: now,
                    payload,
                }],
                also: vec![],
            },
        ))
    }
}
