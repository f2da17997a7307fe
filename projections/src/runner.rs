//! The projector runtime: events in, read-model rows and the checkpoint out, in one
//! transaction per batch.
//!
//! Each batch's transaction first *claims* the batch by moving the projector's checkpoint
//! from the position it applied to the batch's last (`UPDATE … WHERE position = applied`),
//! then applies the events, then commits. So a crash or an error mid-batch rolls the rows
//! and the checkpoint back together, and the restart begins after the last committed batch;
//! an event at or below the checkpoint is skipped, and a batch must continue the checkpoint
//! without a gap; and two instances of one projector never apply one batch: the second's
//! claim finds the checkpoint moved (PostgreSQL re-checks the row after the first commits;
//! SQLite's write lock serialises them) and it carries on from there. An event type this
//! build does not know is passed over; a known one that cannot be read stops the projector.
//!
//! **Replays** (rebuilds, as-of queries, the reassessment) read pages of the live batch's
//! size but apply [`REPLAY_PAGES`] per transaction, read the next pages while applying, and
//! on PostgreSQL commit without waiting for the flush: nothing outside the replay sees its
//! commits before the durable swap, and a crash loses checkpoint and rows together.
//!
//! **Rebuild and swap** ([`rebuild`]): the whole log is replayed into *shadow* tables — a
//! schema `shadow_NAME` on PostgreSQL, a file `read.db.shadow_NAME` attached on SQLite —
//! then one transaction moves the projector's checkpoint (locking it), drops the live
//! tables, creates them from the projector's schema and copies the shadow's rows in.
//! Readers see the old rows until the commit and the new ones after, never a part; an
//! instance of the projector running meanwhile finds its checkpoint moved and goes on from
//! the rebuilt one.

use crate::source::{EventSource, SourceError};
use crate::store::{ReadStore, claim, register};
use crate::writes::Writes;
use allweather_domain::Event;
use allweather_events::{Catalog, DecodeError, Envelope};
use allweather_log::Log;
use futures::future::BoxFuture;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// Events applied per transaction while catching up.
pub const BATCH: usize = 500;

/// Pages of [`BATCH`] events a replay applies per transaction.
pub const REPLAY_PAGES: usize = 10;

/// A read model: its tables and how each event changes them.
pub trait Projector: Send + Sync + std::fmt::Debug {
    /// Its name: the key of its checkpoint and its consumer.
    fn name(&self) -> &'static str;

    /// Statements creating its tables if they do not exist (the same text on both
    /// backends).
    fn schema(&self) -> &'static [&'static str];

    /// Applies one event, through the batch's writes (sent in its transaction at the
    /// end of the batch, or before any statement the projector runs itself).
    fn apply<'c>(
        &'c self,
        writes: &'c mut Writes,
        envelope: &'c Envelope,
        event: &'c Event,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;

    /// Every row of its tables as text, in a stable order: to compare a live model with
    /// a rebuild, or the model one source built with another's.
    fn dump<'c>(
        &'c self,
        pool: &'c sqlx::AnyPool,
    ) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>>;
}

/// The position a projector has applied, for queries that wait for `min_position`.
#[derive(Debug, Clone)]
pub struct Progress(watch::Receiver<u64>);

impl Progress {
    /// The position applied now.
    pub fn position(&self) -> u64 {
        *self.0.borrow()
    }

    /// Waits until `position` is applied, for at most `wait`; whether it was.
    pub async fn reached(&self, position: u64, wait: Duration) -> bool {
        let mut rx = self.0.clone();
        tokio::time::timeout(wait, rx.wait_for(|p| *p >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Why a projector stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The read store failed.
    #[error("read store: {0}")]
    Store(#[from] sqlx::Error),
    /// The source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A stored event of a known type could not be read.
    #[error("cannot read a stored event: {0}")]
    Decode(String),
    /// The source skipped a position.
    #[error("the source delivered position {got} after {after}")]
    Gap {
        /// The last applied.
        after: u64,
        /// What came.
        got: u64,
    },
}

/// Creates the projector's tables and answers its progress, starting at its checkpoint.
pub async fn prepare(
    store: &ReadStore,
    projector: &dyn Projector,
) -> Result<(watch::Sender<u64>, Progress), sqlx::Error> {
    if store
        .create_shaped(projector.name(), projector.schema())
        .await?
    {
        tracing::warn!(
            projector = projector.name(),
            "its tables were of an earlier shape: made again, replaying the log into them"
        );
    }
    register(store.pool(), projector.name()).await?;
    let (tx, rx) = watch::channel(store.checkpoint(projector.name()).await?);
    Ok((tx, Progress(rx)))
}

/// Runs `projector` from its checkpoint until `shutdown` completes.
pub async fn run(
    store: &ReadStore,
    projector: &dyn Projector,
    mut source: impl EventSource,
    progress: &watch::Sender<u64>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProjectionError> {
    let catalog = catalog()?;
    let mut applied = store.checkpoint(projector.name()).await?;
    progress.send_replace(applied);
    tokio::pin!(shutdown);
    loop {
        let batch = tokio::select! {
            () = &mut shutdown => return Ok(()),
            batch = source.next(applied, BATCH, Duration::from_secs(1)) => batch?,
        };
        let batch: Vec<&Envelope> = batch.iter().filter(|e| e.position > applied).collect();
        if batch.is_empty() {
            continue;
        }
        applied = match apply(store, projector, &catalog, applied, &batch, Commit::Durable).await? {
            Some(last) => last,
            // Another instance of this projector applied it first: go on from there.
            None => store.checkpoint(projector.name()).await?,
        };
        source.ack(applied).await?;
        progress.send_replace(applied);
    }
}

/// Applies the log's events after `projector`'s checkpoint, up to the last one `takes`
/// accepts (or the head), telling `on_batch` each position reached; the position
/// applied. For one-off replays into a store of their own.
pub async fn replay(
    store: &ReadStore,
    projector: &dyn Projector,
    log: &Log,
    takes: impl Fn(&Envelope) -> bool,
    mut on_batch: impl FnMut(u64),
) -> Result<u64, ProjectionError> {
    let catalog = catalog()?;
    let mut applied = store.checkpoint(projector.name()).await?;
    // Pages of the live batch's size, applied [`REPLAY_PAGES`] at a time: a record
    // logged and decided within one transaction is written once, not inserted and then
    // changed, and the batch's statements and commit are shared by more events.
    let read = |mut after: u64| async move {
        let mut events = Vec::with_capacity(BATCH * REPLAY_PAGES);
        for _ in 0..REPLAY_PAGES {
            let page = log
                .read_all(after, BATCH as u32)
                .await
                .map_err(|e| ProjectionError::Source(e.into()))?;
            let full = page.len() == BATCH;
            after = page.last().map_or(after, |e| e.position);
            events.extend(page);
            if !full {
                break;
            }
        }
        Ok::<_, ProjectionError>(events)
    };
    let mut events = read(applied).await?;
    loop {
        let batch: Vec<&Envelope> = events.iter().take_while(|e| takes(e)).collect();
        let Some(last) = batch.last().map(|e| e.position) else {
            return Ok(applied);
        };
        let taken_all = batch.len() == events.len();
        // The next page is read while this one is applied.
        let (done, next) = tokio::join!(
            apply(
                store,
                projector,
                &catalog,
                applied,
                &batch,
                Commit::Deferred
            ),
            async {
                if taken_all {
                    Some(read(last).await)
                } else {
                    None
                }
            }
        );
        applied = done?
            .ok_or_else(|| ProjectionError::Decode("another replay wrote this store".into()))?;
        on_batch(applied);
        match next {
            Some(next) => events = next?,
            None => return Ok(applied),
        }
    }
}

/// Rebuilds `projector` from the whole log into shadow tables beside `store`'s (telling
/// `on_batch` each position reached), then swaps them in atomically: queries keep
/// answering from the old tables throughout and see the rebuilt ones once swapped. A
/// running instance of the projector goes on from the rebuilt checkpoint. Answers it.
pub async fn rebuild(
    store: &ReadStore,
    projector: &dyn Projector,
    log: &Log,
    on_batch: impl FnMut(u64),
) -> Result<u64, ProjectionError> {
    let shadow = store.shadow(projector.name()).await?;
    prepare(&shadow, projector).await?;
    replay(&shadow, projector, log, |_| true, on_batch).await?;
    Ok(store
        .swap_in(shadow, projector.name(), projector.schema())
        .await?)
}

/// Applies the events `source` delivers after `projector`'s checkpoint until `until` is
/// applied, telling `on_batch` each position reached; for one-off replays from the
/// JetStream mirror. Fails if the source goes quiet for `quiet` before then.
pub async fn replay_source(
    store: &ReadStore,
    projector: &dyn Projector,
    mut source: impl EventSource,
    until: u64,
    quiet: Duration,
    mut on_batch: impl FnMut(u64),
) -> Result<u64, ProjectionError> {
    let catalog = catalog()?;
    let mut applied = store.checkpoint(projector.name()).await?;
    while applied < until {
        let max = usize::try_from(until - applied).unwrap_or(BATCH).min(BATCH);
        let events = source.next(applied, max, quiet).await?;
        let batch: Vec<&Envelope> = events.iter().filter(|e| e.position > applied).collect();
        if batch.is_empty() {
            return Err(SourceError::Nats(format!(
                "no event after position {applied} for {quiet:?} (replaying to {until})"
            ))
            .into());
        }
        applied = apply(store, projector, &catalog, applied, &batch, Commit::Durable)
            .await?
            .ok_or_else(|| ProjectionError::Decode("another replay wrote this store".into()))?;
        source.ack(applied).await?;
        on_batch(applied);
    }
    Ok(applied)
}

fn catalog() -> Result<Catalog, ProjectionError> {
    Catalog::new(Event::SPECS.iter().copied()).map_err(|e| ProjectionError::Decode(e.to_string()))
}

/// How a batch's transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// Flushed to disk before the commit returns: for a projector that tells its source
    /// the batch is done (a JetStream ack must never run ahead of the checkpoint).
    Durable,
    /// On PostgreSQL, without waiting for the flush (`synchronous_commit = off`): for a
    /// replay into a store of its own, which tells no one. A crash may lose the last
    /// batches, checkpoint included — never one without the other — and the replay goes
    /// on from the checkpoint; a rebuild's swap commits durably, flushing all before it.
    Deferred,
}

/// Applies `batch` (the events right after `applied`) and moves the checkpoint to its
/// last position, in one transaction: that position, or none if another instance of the
/// projector moved the checkpoint first (and nothing was applied).
async fn apply(
    store: &ReadStore,
    projector: &dyn Projector,
    catalog: &Catalog,
    applied: u64,
    batch: &[&Envelope],
    commit: Commit,
) -> Result<Option<u64>, ProjectionError> {
    let Some(last) = batch.last().map(|e| e.position) else {
        return Ok(Some(applied));
    };
    if let Some((i, e)) = batch
        .iter()
        .enumerate()
        .find(|(i, e)| e.position != applied + 1 + *i as u64)
    {
        return Err(ProjectionError::Gap {
            after: applied + i as u64,
            got: e.position,
        });
    }
    let mut writes = Writes::begin(store.pool()).await?;
    if commit == Commit::Deferred && store.is_postgres() {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(writes.conn().await?)
            .await?;
    }
    if !claim(writes.conn().await?, projector.name(), applied, last).await? {
        return Ok(None);
    }
    for envelope in batch {
        // An event type this build does not know (written by a newer build, or not
        // the domain's) is passed over; a known one that cannot be read stops the
        // projector rather than be skipped.
        match catalog.decode(envelope) {
            Err(DecodeError::UnknownEventType { .. }) => {}
            Err(e) => return Err(ProjectionError::Decode(e.to_string())),
            Ok(payload) => {
                let event = Event::from_stored(&envelope.event_type, payload).map_err(|e| {
                    ProjectionError::Decode(format!("position {}: {e}", envelope.position))
                })?;
                projector.apply(&mut writes, envelope, &event).await?;
            }
        }
    }
    writes.commit().await?;
    Ok(Some(last))
}
