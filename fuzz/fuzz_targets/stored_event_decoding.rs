//! A stored event as a projector or the relay reads it: any type name, schema version
//! and payload text. The catalog (upcasting to the current schema) and the domain's
//! decoding either give an event or an error; they never panic.
#![no_main]

use allweather_domain::Event;
use allweather_events::{Actor, Catalog, Envelope, Hash, Payload, Role, StreamId, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[which, version], payload)) = data.split_first_chunk::<2>() else {
        return;
    };
    let catalog = Catalog::new(Event::SPECS.iter().copied()).expect("the domain's catalog");
    let event_type = Event::SPECS[usize::from(which) % Event::SPECS.len()].event_type;
    let envelope = Envelope {
        event_id: uuid::Uuid::nil(),
        stream_id: StreamId::parse("probe-1").expect("a stream id"),
        stream_version: 1,
        position: 1,
        event_type: event_type.into(),
        schema_version: u32::from(version % 4),
        occurred_at: Timestamp::from_micros(0),
        recorded_at: Timestamp::from_micros(0),
        command_id: uuid::Uuid::nil(),
        correlation_id: uuid::Uuid::nil(),
        actor: Actor {
            id: "fuzz".into(),
            role: Role::System,
        },
        payload: Payload::from_stored(String::from_utf8_lossy(payload).into_owned()),
        prev_hash: Hash::GENESIS,
        hash: Hash::GENESIS,
    };
    if let Ok(value) = catalog.decode(&envelope)
        && let Ok(event) = Event::from_stored(event_type, value)
    {
        assert_eq!(event.event_type(), event_type);
    }
});
