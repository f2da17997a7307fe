//! # allweather-projections
//!
//! The read side. A **projector** turns the log into read-model tables it owns; the
//! **runner** feeds it events from an [`EventSource`] — the log itself ([`LogSource`],
//! embedded) or the JetStream mirror ([`JetStreamSource`], distributed) — and writes the
//! projector's checkpoint *in the same transaction* as the rows the events changed, so a
//! crash or a redelivery never counts anything twice: an event at or below the
//! checkpoint is skipped, and a gap in what a source delivers is filled from the log.
//!
//! Read models live in a [`ReadStore`]: the log's PostgreSQL database, or a SQLite file of
//! their own beside the embedded log (so that projecting never takes the log's write
//! lock). The SQL is written once for both (`sqlx::Any`).
//!
//! ## Layout
//! - [`store`]: the read store and the checkpoints table.
//! - [`source`]: the [`EventSource`] trait, [`LogSource`], [`JetStreamSource`] (durable)
//!   and [`OrderedJetStreamSource`] (one-off replays).
//! - [`runner`]: [`Projector`], [`run`], [`Progress`] (the position a projector has applied).
//! - [`writes`]: a batch's row writes, sent as a few set statements at its end.
//! - [`leaderboard`]: volunteer hours and points by member, verified only.
//! - [`wishes`]: the wish board and its time-to-claim and time-to-fulfil distributions.
//! - [`scorecard`]: the facts the year-end judgement stands on, with their positions;
//!   [`assessment`]: the criteria of members beside what people recorded, and the
//!   ranking of branches, from them; [`figures`]: the figures a county reports, from them.
//! - [`membership`]: which branches a member belonged to when.
//! - [`records`]: service records as every read model reads them, and their status.
//! - [`integrity`]: flags of suspicious service entries, with the events behind them.
#![deny(missing_docs)]

pub mod assessment;
pub mod figures;
pub mod integrity;
pub mod leaderboard;
pub mod membership;
pub mod records;
pub mod runner;
pub mod scorecard;
pub mod source;
pub mod store;
pub mod wishes;
pub mod writes;

pub use runner::{Progress, Projector, rebuild, replay, run};
pub use source::{EventSource, JetStreamSource, LogSource, OrderedJetStreamSource, SourceError};
pub use store::ReadStore;

/// Every projector.
pub fn all() -> [&'static dyn Projector; 4] {
    [
        &leaderboard::Leaderboard,
        &wishes::WishBoard,
        &integrity::Integrity,
        &scorecard::Scorecard,
    ]
}

/// The projector named `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Projector> {
    all().into_iter().find(|p| p.name() == name)
}
