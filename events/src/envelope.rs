//! The envelope every event carries, and its canonical bytes.
//!
//! An envelope holds `event_id` (a UUID v7, assigned by the log's appender), `stream_id`
//! (`{aggregate}-{id}`), `stream_version` (1 for a stream's first event), `position`
//! (global: 1, 2, 3 … with no gap), `event_type`, `schema_version`, `occurred_at`,
//! `recorded_at`, `command_id`, `correlation_id`, `actor {id, role}`, the `payload`,
//! `prev_hash` and `hash`.
//!
//! The canonical bytes, which are hashed, are every field except the two hashes, written
//! in the form of [`crate::canonical`]. A [`Timestamp`] is written as RFC 3339 in UTC with
//! exactly six fractional digits, and stored as integer microseconds since the epoch: exact,
//! and the same on both of the log's backends. A test pins the hash of a known event,
//! checked against an independent computation in Python, so that a change of encoding, of
//! a dependency or of field order cannot silently change what a stored hash means.

use crate::canonical::{self, CanonicalError};
use crate::hash::Hash;
use crate::stream::StreamId;
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};
use uuid::Uuid;

/// A point in time with microsecond precision (what both PostgreSQL and the hash keep).
///
/// Stored as microseconds since the Unix epoch; shown as RFC 3339 in UTC with six
/// fractional digits, which is also its canonical (hashed) form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(i64);

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "An instant in UTC, RFC 3339 with six fractional digits",
        })
    }
}

impl Timestamp {
    /// From microseconds since the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The given instant, truncated to microseconds.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_micros())
    }

    /// The instant as a `chrono` value.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Parses RFC 3339 (any offset); sub-microsecond digits are dropped.
    pub fn parse(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Self::from_datetime(t.with_timezone(&Utc)))
            .map_err(|e| format!("{text:?} is not an RFC 3339 timestamp: {e}"))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with six fractional digits (`2026-11-27T08:00:00.123456Z`). This is
    /// on the hashing path, so years 0–9999 are written directly; the digits are the same
    /// as `chrono`'s `to_rfc3339_opts(SecondsFormat::Micros, true)`, which writes the rest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.to_datetime();
        let year = t.year();
        if (0..=9999).contains(&year) {
            write!(
                f,
                "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                self.0.rem_euclid(1_000_000)
            )
        } else {
            f.write_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl TryFrom<String> for Timestamp {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> Self {
        t.to_string()
    }
}

/// An event as the API, the live stream and the mirror show it: its envelope and payload.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct EventView {
    /// Its id.
    pub event_id: Uuid,
    /// Its stream (`{aggregate}-{id}`).
    pub stream_id: String,
    /// The stream's version after it.
    pub stream_version: u64,
    /// Its position in the log.
    pub position: u64,
    /// Its type.
    pub event_type: String,
    /// The schema version it was written in.
    pub schema_version: u32,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// When the log recorded it.
    pub recorded_at: Timestamp,
    /// The command that caused it.
    pub command_id: Uuid,
    /// The request it belongs to.
    pub correlation_id: Uuid,
    /// Who caused it.
    pub actor: Actor,
    /// Its payload (see `/api/v1/schemas` for each type's).
    pub payload: serde_json::Value,
    /// The hash of the event before it.
    pub prev_hash: Hash,
    /// Its hash.
    pub hash: Hash,
}

/// Who caused an event: the authenticated principal of the command.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Actor {
    /// The principal's id: a member id, or a service name such as `scheduler`.
    pub id: String,
    /// The role the principal acted in.
    pub role: Role,
}

/// The roles a principal can act in. Stored names are a contract: never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An ordinary member of a branch.
    Member,
    /// The secretary of a branch.
    Secretary,
    /// Staff of a community service centre.
    ServiceCentre,
    /// An administrator of the county committee.
    CommitteeAdmin,
    /// A read-only auditor.
    Auditor,
    /// The system itself (the scheduler, migrations).
    System,
}

impl Role {
    /// The stored name of the role.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Secretary => "secretary",
            Role::ServiceCentre => "service_centre",
            Role::CommitteeAdmin => "committee_admin",
            Role::Auditor => "auditor",
            Role::System => "system",
        }
    }

    /// Reads a stored role name.
    pub fn parse(name: &str) -> Option<Role> {
        [
            Role::Member,
            Role::Secretary,
            Role::ServiceCentre,
            Role::CommitteeAdmin,
            Role::Auditor,
            Role::System,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

/// An event's payload in canonical JSON text: exactly the bytes that are stored and hashed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Payload(String);

impl Payload {
    /// Canonicalises a JSON value; refuses floats.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, CanonicalError> {
        canonical::to_canonical_string(value).map(Self)
    }

    /// Wraps text read back from the log, as stored (verification rehashes these bytes).
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty (never true for a payload built by `from_value`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses the text back into a JSON value.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({})", self.0)
    }
}

/// One committed event with its whole envelope, as stored in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Unique id of the event (UUID v7, assigned by the appender).
    pub event_id: Uuid,
    /// The stream the event belongs to.
    pub stream_id: StreamId,
    /// Version of the stream after this event: 1 for its first event.
    pub stream_version: u64,
    /// Global position in the log: 1, 2, 3 … with no gap.
    pub position: u64,
    /// Past-tense name of the fact (`WishClaimed`).
    pub event_type: String,
    /// Version of the payload's schema for this event type.
    pub schema_version: u32,
    /// When the fact happened, as the command stated it.
    pub occurred_at: Timestamp,
    /// When the log committed it; never decreases along positions.
    pub recorded_at: Timestamp,
    /// The command that produced the event (idempotency key).
    pub command_id: Uuid,
    /// The chain of causation this command belongs to.
    pub correlation_id: Uuid,
    /// Who issued the command.
    pub actor: Actor,
    /// The payload, canonical JSON.
    pub payload: Payload,
    /// `hash` of the event at `position - 1`, or [`Hash::GENESIS`].
    pub prev_hash: Hash,
    /// `SHA-256(prev_hash ‖ canonical_bytes())`.
    pub hash: Hash,
}

impl Envelope {
    /// The canonical bytes of the event: every envelope field but the two hashes, as one
    /// RFC 8785 object. Members in sorted order:
    /// `actor{id,role}, command_id, correlation_id, event_id, event_type, occurred_at,
    /// payload, position, recorded_at, schema_version, stream_id, stream_version`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Ids, times and numbers are ASCII with nothing to escape, so they are written
        // straight into the buffer; the free-text fields go through the JCS escaper.
        let mut out = String::with_capacity(self.payload.len() + 512);
        let s = |out: &mut String, v: &str| canonical::write_string(out, v);
        out.push_str("{\"actor\":{\"id\":");
        s(&mut out, &self.actor.id);
        out.push_str(",\"role\":");
        s(&mut out, self.actor.role.as_str());
        let _ = write!(
            out,
            "}},\"command_id\":\"{}\",\"correlation_id\":\"{}\",\"event_id\":\"{}\",\"event_type\":",
            self.command_id, self.correlation_id, self.event_id
        );
        s(&mut out, &self.event_type);
        let _ = write!(
            out,
            ",\"occurred_at\":\"{}\",\"payload\":",
            self.occurred_at
        );
        out.push_str(self.payload.as_str());
        let _ = write!(
            out,
            ",\"position\":{},\"recorded_at\":\"{}\",\"schema_version\":{},\"stream_id\":",
            self.position, self.recorded_at, self.schema_version
        );
        s(&mut out, self.stream_id.as_str());
        let _ = write!(out, ",\"stream_version\":{}}}", self.stream_version);
        out.into_bytes()
    }

    /// The hash this event must carry given its `prev_hash` and content.
    pub fn expected_hash(&self) -> Hash {
        Hash::chain(&self.prev_hash, &self.canonical_bytes())
    }

    /// The envelope as the JSON that the API, NATS and downstream consumers see; the
    /// payload is given separately so callers can pass an upcast one.
    pub fn to_json(&self, payload: serde_json::Value) -> serde_json::Value {
        serde_json::to_value(self.view(payload)).unwrap_or_default()
    }

    /// The event as the API shows it, with `payload` (the stored payload, or it lifted to
    /// the current schema).
    pub fn view(&self, payload: serde_json::Value) -> EventView {
        EventView {
            event_id: self.event_id,
            stream_id: self.stream_id.as_str().to_owned(),
            stream_version: self.stream_version,
            position: self.position,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            actor: self.actor.clone(),
            payload,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }

    /// Reads an envelope from its JSON form (as [`Envelope::to_json`] writes it, with the
    /// payload as stored), and checks it against its own hash: a message that was altered
    /// on the way, or is not an event of the log, is refused.
    pub fn from_json(value: &serde_json::Value) -> Result<Envelope, String> {
        #[derive(Deserialize)]
        struct Wire {
            event_id: Uuid,
            stream_id: StreamId,
            stream_version: u64,
            position: u64,
            event_type: String,
            schema_version: u32,
            occurred_at: Timestamp,
            recorded_at: Timestamp,
            command_id: Uuid,
            correlation_id: Uuid,
            actor: Actor,
            payload: serde_json::Value,
            prev_hash: Hash,
            hash: Hash,
        }
        let w = Wire::deserialize(value).map_err(|e| format!("not an event envelope: {e}"))?;
        let envelope = Envelope {
            event_id: w.event_id,
            stream_id: w.stream_id,
            stream_version: w.stream_version,
            position: w.position,
            event_type: w.event_type,
            schema_version: w.schema_version,
            occurred_at: w.occurred_at,
            recorded_at: w.recorded_at,
            command_id: w.command_id,
            correlation_id: w.correlation_id,
            actor: w.actor,
            payload: Payload::from_value(&w.payload).map_err(|e| format!("payload: {e}"))?,
            prev_hash: w.prev_hash,
            hash: w.hash,
        };
        if envelope.expected_hash() != envelope.hash {
            return Err(format!(
                "the event at position {} does not match its hash",
                envelope.position
            ));
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_envelope_reads_back_from_its_json_and_an_altered_one_is_refused() {
        let e = sample();
        let json = e.to_json(e.payload.to_value().unwrap());
        assert_eq!(Envelope::from_json(&json), Ok(e));
        let mut altered = json.clone();
        altered["position"] = json!(43);
        assert!(Envelope::from_json(&altered).unwrap_err().contains("hash"));
        assert!(Envelope::from_json(&json!({"x": 1})).is_err());
    }

    pub(crate) fn sample() -> Envelope {
        let mut e = Envelope {
            event_id: Uuid::from_u128(0x0190_c1d2_0000_7000_8000_0000_0000_0001),
            stream_id: StreamId::parse("wish-0190c1d2-0000-7000-8000-000000000002").unwrap(),
            stream_version: 2,
            position: 42,
            event_type: "WishClaimed".into(),
            schema_version: 1,
            occurred_at: Timestamp::parse("2026-11-27T08:00:00.123456789+08:00").unwrap(),
            recorded_at: Timestamp::parse("2026-11-27T00:00:01Z").unwrap(),
            command_id: Uuid::from_u128(3),
            correlation_id: Uuid::from_u128(4),
            actor: Actor {
                id: "m-1 \"quoted\"".into(),
                role: Role::Member,
            },
            payload: Payload::from_value(&json!({"member_id": "m-1", "minutes": 90})).unwrap(),
            prev_hash: Hash::GENESIS,
            hash: Hash::GENESIS,
        };
        e.hash = e.expected_hash();
        e
    }

    #[test]
    fn canonical_bytes_are_the_rfc8785_form_of_the_envelope() {
        let e = sample();
        let mut as_value = e.to_json(e.payload.to_value().unwrap());
        let obj = as_value.as_object_mut().unwrap();
        obj.remove("hash");
        obj.remove("prev_hash");
        let via_generic_writer = canonical::to_canonical_string(&as_value).unwrap();
        assert_eq!(
            String::from_utf8(e.canonical_bytes()).unwrap(),
            via_generic_writer
        );
    }

    #[test]
    fn the_hash_of_a_known_event_is_pinned() {
        // Pinned so that a change of encoding, of a dependency or of field order is caught:
        // stored hashes must never change meaning. The value was checked independently:
        // Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        // of the same object, prefixed by 32 zero bytes, hashed with hashlib.sha256.
        assert_eq!(
            sample().hash.to_string(),
            "505a8894c53ce3415e7dc1bcec423af0a1e05537e9de609763e84e72560c19f5"
        );
    }

    proptest::proptest! {
        #[test]
        fn timestamps_print_as_chrono_does(micros in -62_135_596_800_000_000i64..=253_402_300_799_999_999i64) {
            let t = Timestamp::from_micros(micros);
            proptest::prop_assert_eq!(t.to_string(), t.to_datetime().to_rfc3339_opts(SecondsFormat::Micros, true));
        }
    }

    #[test]
    fn timestamps_keep_microseconds_in_utc() {
        let t = Timestamp::parse("2026-11-27T08:00:00.123456789+08:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-27T00:00:00.123456Z");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = sample();
        type Mutation = Box<dyn Fn(&mut Envelope)>;
        let mutations: Vec<(&str, Mutation)> = vec![
            ("event_id", Box::new(|e| e.event_id = Uuid::from_u128(9))),
            (
                "stream_id",
                Box::new(|e| e.stream_id = StreamId::parse("wish-x").unwrap()),
            ),
            ("stream_version", Box::new(|e| e.stream_version += 1)),
            ("position", Box::new(|e| e.position += 1)),
            (
                "event_type",
                Box::new(|e| e.event_type = "WishReleased".into()),
            ),
            ("schema_version", Box::new(|e| e.schema_version += 1)),
            (
                "occurred_at",
                Box::new(|e| e.occurred_at = Timestamp::from_micros(1)),
            ),
            (
                "recorded_at",
                Box::new(|e| e.recorded_at = Timestamp::from_micros(1)),
            ),
            (
                "command_id",
                Box::new(|e| e.command_id = Uuid::from_u128(9)),
            ),
            (
                "correlation_id",
                Box::new(|e| e.correlation_id = Uuid::from_u128(9)),
            ),
            ("actor.id", Box::new(|e| e.actor.id = "m-2".into())),
            ("actor.role", Box::new(|e| e.actor.role = Role::Secretary)),
            (
                "payload",
                Box::new(|e| e.payload = Payload::from_stored("{}".into())),
            ),
            ("prev_hash", Box::new(|e| e.prev_hash = Hash([1; 32]))),
        ];
        for (field, mutate) in mutations {
            let mut e = base.clone();
            mutate(&mut e);
            assert_ne!(
                e.expected_hash(),
                base.hash,
                "changing {field} must change the hash"
            );
        }
    }

    #[test]
    fn role_names_round_trip() {
        for role in [
            Role::Member,
            Role::Secretary,
            Role::ServiceCentre,
            Role::CommitteeAdmin,
            Role::Auditor,
            Role::System,
        ] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), json!(role.as_str()));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
