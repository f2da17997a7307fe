//! # allweather-events
//!
//! What an event *is* in allweather, independent of where it is stored: the envelope
//! every fact carries, the canonical byte form that is hashed into the log's chain, and
//! the catalog that reads old payload versions in today's shape. Nothing here does I/O,
//! so the same rules hold in the log, the relay, the projectors and an auditor's tool.
//!
//! ## Layout
//! - [`canonical`]: RFC 8785 canonical JSON, integers only; the bytes that are hashed.
//! - [`hash`]: SHA-256 and the chain rule `hash = SHA-256(prev_hash ‖ canonical bytes)`.
//! - [`stream`]: stream ids, `{aggregate}-{id}`.
//! - [`envelope`]: the envelope (ids, positions, times, actor, payload, hashes).
//! - [`chain`]: walking a chain and naming its first bad link.
//! - [`catalog`]: known event types, schema versions and upcasting on read.
#![deny(missing_docs)]

pub mod canonical;
pub mod catalog;
pub mod chain;
pub mod envelope;
pub mod hash;
pub mod stream;

pub use catalog::{Catalog, DecodeError, EventSpec};
pub use chain::{BrokenLink, ChainVerifier};
pub use envelope::{Actor, Envelope, EventView, Payload, Role, Timestamp};
pub use hash::Hash;
pub use stream::{MalformedStreamId, StreamId};
