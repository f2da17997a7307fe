//! Walking a hash chain: the rule an auditor checks, with no I/O.
//!
//! [`ChainVerifier`] takes events in position order and checks three things of each: that
//! positions run 1, 2, 3 … with no gap, that its `prev_hash` is the previous event's `hash`
//! (the first event's is `Hash::GENESIS`, 32 zero bytes), and that its stored `hash` is the
//! hash of its content, `SHA-256(prev_hash ‖ canonical bytes)`. It stops at the first bad
//! link and names its position and what is wrong there ([`BrokenLink`]). The log's
//! `verify`, and so `allweather audit verify`, walks the whole log through it.

use crate::envelope::Envelope;
use crate::hash::Hash;

/// What was wrong with the first bad link of a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokenLink {
    /// Positions must run 1, 2, 3 … with no gap.
    #[error("position {found} follows position {previous}: the log has a gap or is out of order")]
    Gap {
        /// The position before.
        previous: u64,
        /// The position found.
        found: u64,
    },
    /// `prev_hash` does not equal the previous event's `hash`.
    #[error(
        "position {position}: prev_hash {found} does not match the previous event's hash {expected}"
    )]
    PrevHashMismatch {
        /// Position of the bad event.
        position: u64,
        /// The hash the previous event has.
        expected: Hash,
        /// The `prev_hash` stored here.
        found: Hash,
    },
    /// The stored hash does not match the event's content: it was altered.
    #[error(
        "position {position}: stored hash {stored} does not match its content (hash {computed})"
    )]
    ContentMismatch {
        /// Position of the bad event.
        position: u64,
        /// The hash stored with the event.
        stored: Hash,
        /// The hash its content has.
        computed: Hash,
    },
}

impl BrokenLink {
    /// The position of the first event that is wrong.
    pub fn position(&self) -> u64 {
        match self {
            BrokenLink::Gap { found, .. } => *found,
            BrokenLink::PrevHashMismatch { position, .. }
            | BrokenLink::ContentMismatch { position, .. } => *position,
        }
    }
}

/// Checks events fed in position order against the chain rule.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    position: u64,
    hash: Hash,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            position: 0,
            hash: Hash::GENESIS,
        }
    }
}

impl ChainVerifier {
    /// A verifier for a whole log, starting before position 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next event; on success it becomes the new head.
    pub fn push(&mut self, event: &Envelope) -> Result<(), BrokenLink> {
        if event.position != self.position + 1 {
            return Err(BrokenLink::Gap {
                previous: self.position,
                found: event.position,
            });
        }
        if event.prev_hash != self.hash {
            return Err(BrokenLink::PrevHashMismatch {
                position: event.position,
                expected: self.hash,
                found: event.prev_hash,
            });
        }
        let computed = event.expected_hash();
        if computed != event.hash {
            return Err(BrokenLink::ContentMismatch {
                position: event.position,
                stored: event.hash,
                computed,
            });
        }
        self.position = event.position;
        self.hash = event.hash;
        Ok(())
    }

    /// Position of the last verified event (0 before any).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Hash of the last verified event ([`Hash::GENESIS`] before any).
    pub fn head(&self) -> Hash {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Actor, Payload, Role, Timestamp};
    use crate::stream::StreamId;
    use uuid::Uuid;

    fn chain(n: u64) -> Vec<Envelope> {
        let mut prev = Hash::GENESIS;
        (1..=n)
            .map(|position| {
                let mut e = Envelope {
                    event_id: Uuid::from_u128(position as u128),
                    stream_id: StreamId::parse("probe-1").unwrap(),
                    stream_version: position,
                    position,
                    event_type: "Probed".into(),
                    schema_version: 1,
                    occurred_at: Timestamp::from_micros(0),
                    recorded_at: Timestamp::from_micros(0),
                    command_id: Uuid::from_u128(position as u128),
                    correlation_id: Uuid::nil(),
                    actor: Actor {
                        id: "t".into(),
                        role: Role::System,
                    },
                    payload: Payload::from_stored(format!("{{\"n\":{position}}}")),
                    prev_hash: prev,
                    hash: Hash::GENESIS,
                };
                e.hash = e.expected_hash();
                prev = e.hash;
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_to_its_head() {
        let events = chain(5);
        let mut v = ChainVerifier::new();
        for e in &events {
            v.push(e).unwrap();
        }
        assert_eq!((v.position(), v.head()), (5, events[4].hash));
    }

    #[test]
    fn each_kind_of_damage_names_the_first_bad_position() {
        let mut altered = chain(5);
        altered[2].payload = Payload::from_stored("{\"n\":99}".into());
        let mut relinked = chain(5);
        relinked[3].prev_hash = Hash([7; 32]);
        let mut missing = chain(5);
        missing.remove(1);
        for (name, events, bad) in [
            ("altered", altered, 3),
            ("relinked", relinked, 4),
            ("missing", missing, 3),
        ] {
            let mut v = ChainVerifier::new();
            let err = events.iter().find_map(|e| v.push(e).err()).expect(name);
            assert_eq!(err.position(), bad, "case {name}: {err}");
        }
    }
}
