//! The event catalog: which event types exist, the current schema version of each, and
//! the upcasters that lift an old stored payload to the current shape on read.
//!
//! Stored bytes are never rewritten. An event stored at schema version `v` is read by
//! applying the upcasters `v → v+1 → … → current` to its payload. An unknown event type, or
//! a schema version this build does not read (newer than its own, or zero), is a named
//! [`DecodeError`] with the event's position, never a misreading; the reader decides what
//! follows (a projector passes over a type it does not know, and stops on a known one it
//! cannot read). The programme's catalog is built from the domain's event list, whose
//! upcasters live in `allweather-domain`.

use crate::envelope::Envelope;
use serde_json::Value;
use std::collections::BTreeMap;

/// Lifts a payload from one schema version to the next.
pub type Upcaster = fn(Value) -> Result<Value, String>;

/// What the catalog knows of one event type.
#[derive(Debug, Clone, Copy)]
pub struct EventSpec {
    /// The stored name of the type (`WishClaimed`).
    pub event_type: &'static str,
    /// The schema version new events of this type are written at (1 for a new type).
    pub schema_version: u32,
    /// `upcasters[i]` lifts version `i + 1` to `i + 2`; there are `schema_version - 1`.
    pub upcasters: &'static [Upcaster],
}

/// Why an event could not be read as a known, current-shape event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The log holds a type this build does not know (written by a newer build, or forged).
    #[error("event at position {position} has unknown event type {event_type:?}")]
    UnknownEventType {
        /// Position of the event.
        position: u64,
        /// The stored type name.
        event_type: String,
    },
    /// The stored schema version is newer than this build, or zero.
    #[error(
        "event at position {position} ({event_type}) has schema version {stored}; this build reads 1..={current}"
    )]
    UnsupportedSchemaVersion {
        /// Position of the event.
        position: u64,
        /// The stored type name.
        event_type: String,
        /// The stored version.
        stored: u32,
        /// The version this build writes.
        current: u32,
    },
    /// The stored payload is not JSON, or an upcaster refused it.
    #[error("event at position {position} ({event_type}) could not be read: {reason}")]
    BadPayload {
        /// Position of the event.
        position: u64,
        /// The stored type name.
        event_type: String,
        /// What went wrong.
        reason: String,
    },
}

/// Why a catalog definition is inconsistent (a programming error, caught at start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The same type was listed twice.
    #[error("event type {0} is listed twice")]
    Duplicate(&'static str),
    /// The number of upcasters does not match the schema version.
    #[error(
        "event type {event_type} is at version {version} but has {upcasters} upcasters (needs version - 1)"
    )]
    UpcasterCount {
        /// The type.
        event_type: &'static str,
        /// Its declared version.
        version: u32,
        /// How many upcasters it has.
        upcasters: usize,
    },
}

/// The set of known event types.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    specs: BTreeMap<&'static str, EventSpec>,
}

impl Catalog {
    /// Builds a catalog, checking that every spec is consistent.
    pub fn new(specs: impl IntoIterator<Item = EventSpec>) -> Result<Self, CatalogError> {
        let mut map = BTreeMap::new();
        for spec in specs {
            if spec.schema_version == 0 || spec.upcasters.len() + 1 != spec.schema_version as usize
            {
                return Err(CatalogError::UpcasterCount {
                    event_type: spec.event_type,
                    version: spec.schema_version,
                    upcasters: spec.upcasters.len(),
                });
            }
            if map.insert(spec.event_type, spec).is_some() {
                return Err(CatalogError::Duplicate(spec.event_type));
            }
        }
        Ok(Self { specs: map })
    }

    /// The spec of a type, if known.
    pub fn spec(&self, event_type: &str) -> Option<&EventSpec> {
        self.specs.get(event_type)
    }

    /// The payload of `event` in the current schema of its type.
    pub fn decode(&self, event: &Envelope) -> Result<Value, DecodeError> {
        let spec = self
            .spec(&event.event_type)
            .ok_or_else(|| DecodeError::UnknownEventType {
                position: event.position,
                event_type: event.event_type.clone(),
            })?;
        if event.schema_version == 0 || event.schema_version > spec.schema_version {
            return Err(DecodeError::UnsupportedSchemaVersion {
                position: event.position,
                event_type: event.event_type.clone(),
                stored: event.schema_version,
                current: spec.schema_version,
            });
        }
        let bad = |reason: String| DecodeError::BadPayload {
            position: event.position,
            event_type: event.event_type.clone(),
            reason,
        };
        let mut payload = event.payload.to_value().map_err(|e| bad(e.to_string()))?;
        for (i, up) in spec
            .upcasters
            .iter()
            .enumerate()
            .skip(event.schema_version as usize - 1)
        {
            payload =
                up(payload).map_err(|e| bad(format!("upcast from v{} failed: {e}", i + 1)))?;
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Actor, Payload, Role, Timestamp};
    use crate::hash::Hash;
    use crate::stream::StreamId;
    use serde_json::json;
    use uuid::Uuid;

    /// v1 stored `hours` as a string; v2 stores `minutes`; v3 renamed `who` to `member_id`.
    fn v1_to_v2(mut v: Value) -> Result<Value, String> {
        let hours = v["hours"].as_str().ok_or("hours missing")?;
        let h: i64 = hours
            .parse()
            .map_err(|_| format!("hours {hours:?} not a number"))?;
        v["minutes"] = json!(h * 60);
        v.as_object_mut().ok_or("not an object")?.remove("hours");
        Ok(v)
    }
    fn v2_to_v3(mut v: Value) -> Result<Value, String> {
        let obj = v.as_object_mut().ok_or("not an object")?;
        let who = obj.remove("who").ok_or("who missing")?;
        obj.insert("member_id".into(), who);
        Ok(v)
    }

    fn catalog() -> Catalog {
        Catalog::new([EventSpec {
            event_type: "ServiceHoursLogged",
            schema_version: 3,
            upcasters: &[v1_to_v2, v2_to_v3],
        }])
        .unwrap()
    }

    fn event(event_type: &str, schema_version: u32, payload: Value) -> Envelope {
        Envelope {
            event_id: Uuid::nil(),
            stream_id: StreamId::parse("servicerecord-1").unwrap(),
            stream_version: 1,
            position: 7,
            event_type: event_type.into(),
            schema_version,
            occurred_at: Timestamp::from_micros(0),
            recorded_at: Timestamp::from_micros(0),
            command_id: Uuid::nil(),
            correlation_id: Uuid::nil(),
            actor: Actor {
                id: "a".into(),
                role: Role::System,
            },
            payload: Payload::from_value(&payload).unwrap(),
            prev_hash: Hash::GENESIS,
            hash: Hash::GENESIS,
        }
    }

    #[test]
    fn old_versions_are_upcast_to_the_current_shape() {
        let c = catalog();
        let current = json!({"member_id": "m", "minutes": 120});
        assert_eq!(
            c.decode(&event(
                "ServiceHoursLogged",
                1,
                json!({"who": "m", "hours": "2"})
            ))
            .unwrap(),
            current
        );
        assert_eq!(
            c.decode(&event(
                "ServiceHoursLogged",
                2,
                json!({"who": "m", "minutes": 120})
            ))
            .unwrap(),
            current
        );
        assert_eq!(
            c.decode(&event("ServiceHoursLogged", 3, current.clone()))
                .unwrap(),
            current
        );
    }

    #[test]
    fn unknown_types_and_versions_are_named() {
        let c = catalog();
        assert_eq!(
            c.decode(&event("Teleported", 1, json!({})))
                .unwrap_err()
                .to_string(),
            "event at position 7 has unknown event type \"Teleported\""
        );
        assert!(matches!(
            c.decode(&event("ServiceHoursLogged", 4, json!({}))),
            Err(DecodeError::UnsupportedSchemaVersion {
                stored: 4,
                current: 3,
                ..
            })
        ));
        let err = c
            .decode(&event("ServiceHoursLogged", 1, json!({"who": "m"})))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "event at position 7 (ServiceHoursLogged) could not be read: upcast from v1 failed: hours missing"
        );
    }

    #[test]
    fn inconsistent_specs_are_refused() {
        let spec = EventSpec {
            event_type: "X",
            schema_version: 2,
            upcasters: &[],
        };
        assert!(matches!(
            Catalog::new([spec]),
            Err(CatalogError::UpcasterCount { .. })
        ));
        let spec = EventSpec {
            event_type: "X",
            schema_version: 1,
            upcasters: &[],
        };
        assert_eq!(
            Catalog::new([spec, spec]).unwrap_err(),
            CatalogError::Duplicate("X")
        );
    }
}
