//! # allweather-log
//!
//! The system of record: one ordered, hash-chained, append-only log of events, over
//! PostgreSQL (distributed) or SQLite (embedded), behind one API.
//!
//! Every append goes through one **appender task** per process, which takes requests
//! from any number of concurrent callers and writes them in batches, one transaction per
//! batch (group commit): a durable commit costs one disk flush however many commands it
//! carries. Inside the transaction the writer holds the log's lock (PostgreSQL: an
//! advisory lock; SQLite: the write lock), reads the head and assigns positions, so
//! positions are gapless and in commit order even with several processes appending, and
//! each event's `hash = SHA-256(prev_hash ‖ canonical bytes)` extends the chain.
//! Optimistic concurrency (an expected stream version) and idempotency (a command id)
//! are checked inside the same transaction. On PostgreSQL a batch is usually decided
//! before the lock, against the head of the appender's last commit, and written by one
//! statement that takes the lock and writes nothing unless that still holds.
//!
//! The appender takes the first waiting request, gathers whatever else arrives while the
//! batch keeps growing (for at most 500 µs; an idle log never spins), and decides the batch
//! in order (`append::plan`, pure): a command id already recorded returns its first outcome
//! (`replayed: true`), a command id repeated within the batch gets the first one's result,
//! an expected version that does not match is a `VersionConflict` (the second of two
//! appends to one stream sees the first), and the rest get positions, stream versions and
//! chained hashes. Nothing of a failed batch is written, and the connection it ran on is
//! closed rather than kept: after an I/O error (a full disk) SQLite may be unable to roll
//! back, and a connection left inside its transaction would fail every later batch.
//! [`Log::shutdown`] closes the channel (later appends fail with `ShuttingDown`), commits
//! what is queued and waits for the appender; `serve` calls it once in-flight requests
//! are done, so every acknowledged command is in the log.
//!
//! Readers page through a stream or the whole log, and a live [`Log::tail`] follows
//! commits as they happen: woken by the local appender and, on PostgreSQL, by
//! `LISTEN/NOTIFY` from other processes, with a slow timer as the safety net. Opening a
//! log runs the migrations only if the schema is not current, so a read-only database or
//! file (`sqlite:…?mode=ro`, a replica) can be opened to read and verify.
//!
//! ## Tables
//! - `events`: one row per event; primary key `position`, unique `event_id` and
//!   `(stream_id, stream_version)`. The payload is its canonical JSON as `TEXT` (not
//!   `JSONB`, which would reorder keys and lose the hashed bytes; cast to `jsonb` to
//!   query), the times integer microseconds (`occurred_at_us`, `recorded_at_us`).
//! - `streams`: each stream's current version (optimistic concurrency).
//! - `commands`: every command that appended, with its range of positions and the digest of
//!   its request (idempotency).
//! - `person_keys`: the key store (`keys`), updated in place and no part of the chain.
//! - `token_revocations`: revoked bearer tokens (`revocations`), likewise beside the chain.
//!
//! Triggers refuse `UPDATE` and `DELETE` (and on PostgreSQL `TRUNCATE`) on `events` and
//! `commands`. Tampering therefore needs them disabled by the database's owner, and the
//! chain then shows it (`allweather audit verify`).
//!
//! ## Layout
//! - [`append`]: requests, outcomes and the pure decision of a batch.
//! - [`error`]: [`AppendError`] and [`LogError`].
//! - `postgres`, `sqlite`: how each backend writes a batch; `read`: the readers, written
//!   once for both; `row`: decoding a stored event.
//! - `tail`: the live tail.
//! - `keys`: the key store beside the log, which seals the personal details of people in
//!   need and whose erasure destroys a person's key.
//! - `revocations`: the list of revoked bearer tokens.
//! - `migrations/{postgres,sqlite}`: the schema, including the triggers that refuse
//!   `UPDATE` and `DELETE` on `events` and `commands`.
#![deny(missing_docs)]

#[macro_use]
pub mod accounts;
#[macro_use]
mod row;
#[macro_use]
mod read;
#[macro_use]
mod keys;
#[macro_use]
mod revocations;
pub mod append;
pub mod error;
mod postgres;
mod sqlite;
mod tail;

pub use accounts::{AccountRow, Accounts, Redeemed, SessionRow};
pub use append::{
    AppendLimits, AppendOutcome, AppendRequest, CommittedEvent, Head, NewEvent, StreamWrite,
};
pub use error::{AppendError, ExpectedVersion, InvalidAppend, LogError};
pub use keys::StoredKey;
pub use revocations::Revocation;

use allweather_events::{BrokenLink, ChainVerifier, Envelope, Hash, StreamId, Timestamp};
use futures::Stream;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{Postgres, Sqlite};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");

/// How to open a log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// `postgres://…` or `sqlite:PATH` (`?mode=ro` opens a SQLite file read-only).
    pub url: String,
    /// Connections in the pool (the appender uses one at a time; the rest serve reads).
    pub max_connections: u32,
    /// How long a caller waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
    /// Most appends written in one transaction.
    pub max_batch: usize,
    /// What one append may carry.
    pub limits: AppendLimits,
    /// Told of every committed batch (for metrics).
    pub observer: Option<BatchObserver>,
    /// Where `recorded_at` comes from: the wall clock, or a simulation's (the demo
    /// county's year, which must hash the same on every run).
    pub clock: Option<LogClock>,
}

/// A clock for `recorded_at`.
#[derive(Clone)]
pub struct LogClock(pub Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl std::fmt::Debug for LogClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogClock")
    }
}

/// What one committed batch was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// Appends in it.
    pub requests: usize,
    /// Events it wrote.
    pub events: usize,
    /// How long writing it took, from the first statement to the commit.
    pub duration: Duration,
}

/// A function told of every committed batch.
#[derive(Clone)]
pub struct BatchObserver(pub Arc<dyn Fn(&BatchStats) + Send + Sync>);

impl std::fmt::Debug for BatchObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchObserver")
    }
}

impl LogOptions {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            max_batch: 512,
            limits: AppendLimits::default(),
            observer: None,
            clock: None,
        }
    }

    /// The SQLite log in `path`, created if missing.
    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self::new(format!("sqlite://{}", path.display()))
    }
}

#[derive(Debug, Clone)]
enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The appender's own connection, kept between batches (no pool round trip per batch)
/// and replaced after any error, since a failed batch may have broken it.
#[derive(Debug)]
enum WriterConnection {
    /// With what its own commits tell of the database, for speculative batches.
    Postgres(PoolConnection<Postgres>, postgres::Known),
    Sqlite(PoolConnection<Sqlite>),
}

impl Db {
    async fn writer(&self) -> Result<WriterConnection, sqlx::Error> {
        Ok(match self {
            Db::Postgres(pool) => {
                WriterConnection::Postgres(pool.acquire().await?, postgres::Known::default())
            }
            Db::Sqlite(pool) => WriterConnection::Sqlite(pool.acquire().await?),
        })
    }
}

impl WriterConnection {
    fn close_on_drop(&mut self) {
        match self {
            WriterConnection::Postgres(conn, _) => conn.close_on_drop(),
            WriterConnection::Sqlite(conn) => conn.close_on_drop(),
        }
    }

    async fn write_batch(
        &mut self,
        batch: &[AppendRequest],
        now: Timestamp,
    ) -> Result<append::Plan, sqlx::Error> {
        match self {
            WriterConnection::Postgres(conn, known) => {
                postgres::write_batch(conn, batch, now, known).await
            }
            WriterConnection::Sqlite(conn) => sqlite::write_batch(conn, batch, now).await,
        }
    }
}

/// A handle to the log. Cheap to clone; all clones share one appender task.
#[derive(Debug, Clone)]
pub struct Log {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    jobs: mpsc::Sender<Job>,
    head: watch::Sender<u64>,
    limits: AppendLimits,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    appender: Mutex<Option<JoinHandle<()>>>,
    listener: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
    }
}

#[derive(Debug)]
struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<AppendOutcome, AppendError>>,
}

/// The result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events checked and found good.
    pub verified: u64,
    /// Hash of the last good event.
    pub head: Hash,
    /// The first bad link, if any; the walk stops there.
    pub broken: Option<BrokenLink>,
}

impl Log {
    /// Connects, brings the schema up to date and starts the appender.
    ///
    /// A database whose schema is already current is not written to while opening, so a
    /// read-only database or file can be opened for reading and verification.
    pub async fn open(options: LogOptions) -> Result<Log, LogError> {
        let (head_tx, _) = watch::channel(0);
        let (db, listener) =
            if options.url.starts_with("postgres:") || options.url.starts_with("postgresql:") {
                let connect = PgConnectOptions::from_str(&options.url).map_err(LogError::BadUrl)?;
                let pool = connect_pool(&options, connect).await?;
                let applied = sqlx::query_scalar(APPLIED).fetch_one(&pool).await.ok();
                if !is_current(&POSTGRES_MIGRATIONS, applied) {
                    POSTGRES_MIGRATIONS.run(&pool).await?;
                }
                let listener = tokio::spawn(postgres::listen(pool.clone(), head_tx.clone()));
                (Db::Postgres(pool), Some(listener))
            } else if options.url.starts_with("sqlite:") {
                let connect = SqliteConnectOptions::from_str(&options.url)
                    .map_err(LogError::BadUrl)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(30))
                    // A destroyed person key is overwritten, not left in free pages.
                    .pragma("secure_delete", "on");
                let pool = connect_pool(&options, connect).await?;
                let applied = sqlx::query_scalar(APPLIED).fetch_one(&pool).await.ok();
                if !is_current(&SQLITE_MIGRATIONS, applied) {
                    SQLITE_MIGRATIONS.run(&pool).await?;
                }
                (Db::Sqlite(pool), None)
            } else {
                let scheme = options
                    .url
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(20)
                    .collect();
                return Err(LogError::UnsupportedUrl(scheme));
            };

        let log_head = match &db {
            Db::Postgres(pool) => postgres::head(pool).await?,
            Db::Sqlite(pool) => sqlite::head(pool).await?,
        };
        head_tx.send_replace(log_head.position);

        let (jobs_tx, jobs_rx) = mpsc::channel(options.max_batch * 4);
        let (stop_tx, stop_rx) = oneshot::channel();
        let appender = tokio::spawn(run_appender(
            db.clone(),
            jobs_rx,
            head_tx.clone(),
            stop_rx,
            options.max_batch,
            options.observer.clone(),
            options.clock.clone(),
        ));
        Ok(Log {
            inner: Arc::new(Inner {
                db,
                jobs: jobs_tx,
                head: head_tx,
                limits: options.limits,
                stop: Mutex::new(Some(stop_tx)),
                appender: Mutex::new(Some(appender)),
                listener,
            }),
        })
    }

    /// Appends one command's events to one stream, atomically, through the group-commit
    /// appender. A repeated `command_id` returns the first outcome and writes nothing.
    #[tracing::instrument(level = "debug", skip_all, fields(stream_id = %request.stream_id, command_id = %request.command_id), err(level = "debug"))]
    pub async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        request.validate(&self.inner.limits)?;
        let (reply, outcome) = oneshot::channel();
        self.inner
            .jobs
            .send(Job { request, reply })
            .await
            .map_err(|_| AppendError::ShuttingDown)?;
        outcome.await.map_err(|_| AppendError::ShuttingDown)?
    }

    /// The limits appends are checked against.
    pub fn limits(&self) -> AppendLimits {
        self.inner.limits
    }

    /// The last committed position and hash.
    pub async fn head(&self) -> Result<Head, LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::head(pool).await,
            Db::Sqlite(pool) => sqlite::head(pool).await,
        }
    }

    /// Up to `limit` events after position `after`, in order.
    pub async fn read_all(&self, after: u64, limit: u32) -> Result<Vec<Envelope>, LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::read_all(pool, after, limit).await,
            Db::Sqlite(pool) => sqlite::read_all(pool, after, limit).await,
        }
    }

    /// Up to `limit` events of one stream from version `from_version` (1 = the start).
    pub async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        limit: u32,
    ) -> Result<Vec<Envelope>, LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::read_stream(pool, stream, from_version, limit).await,
            Db::Sqlite(pool) => sqlite::read_stream(pool, stream, from_version, limit).await,
        }
    }

    /// The outcome of the command `command_id` if the log holds it (as a replay), so that
    /// a repeated command can be answered before it is decided again.
    pub async fn recorded(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::recorded(pool, command_id).await,
            Db::Sqlite(pool) => sqlite::recorded(pool, command_id).await,
        }
    }

    /// A person's key from the key store.
    pub async fn person_key(&self, person_id: Uuid) -> Result<StoredKey, LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::person_key(pool, person_id).await,
            Db::Sqlite(pool) => sqlite::person_key(pool, person_id).await,
        }
    }

    /// A person's key, made from `fresh` if they have none; [`StoredKey::Erased`] for a
    /// person who was erased (no new key is made for them).
    pub async fn person_key_or_create(
        &self,
        person_id: Uuid,
        fresh: [u8; 32],
    ) -> Result<StoredKey, LogError> {
        let now = Timestamp::from_datetime(chrono::Utc::now());
        match &self.inner.db {
            Db::Postgres(pool) => postgres::person_key_or_create(pool, person_id, fresh, now).await,
            Db::Sqlite(pool) => sqlite::person_key_or_create(pool, person_id, fresh, now).await,
        }
    }

    /// The platform's credentials, beside the log.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts(&self.inner.db)
    }

    /// Records a token revocation (`allweather token revoke`).
    pub async fn revoke_token(&self, revocation: &Revocation) -> Result<(), LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::revoke(pool, revocation).await,
            Db::Sqlite(pool) => sqlite::revoke(pool, revocation).await,
        }
    }

    /// Every token revocation recorded.
    pub async fn token_revocations(&self) -> Result<Vec<Revocation>, LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::revocations(pool).await,
            Db::Sqlite(pool) => sqlite::revocations(pool).await,
        }
    }

    /// Destroys a person's key: what it sealed can no longer be read. On SQLite the
    /// write-ahead log is checkpointed and truncated after it, so the key's bytes leave
    /// the WAL file too; on PostgreSQL the old row version remains until the table is
    /// vacuumed and in WAL archives and backups until they expire (see RELIABILITY.md).
    pub async fn erase_person_key(&self, person_id: Uuid) -> Result<(), LogError> {
        let now = Timestamp::from_datetime(chrono::Utc::now());
        match &self.inner.db {
            Db::Postgres(pool) => postgres::erase_person_key(pool, person_id, now).await,
            Db::Sqlite(pool) => {
                sqlite::erase_person_key(pool, person_id, now).await?;
                // Best effort: a reader holding an old snapshot keeps the WAL from being
                // truncated now (SQLite says so in the result, `busy`, not as an error);
                // a later checkpoint overwrites it.
                match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(pool)
                    .await
                {
                    Ok((0, _, _)) => {}
                    Ok(_) => tracing::warn!(
                        "the write-ahead log could not be truncated after an erasure (a reader was active); the old page holding the destroyed key stays in it until a later checkpoint"
                    ),
                    Err(e) => tracing::warn!(error = %e, "checkpointing after an erasure failed"),
                }
                Ok(())
            }
        }
    }

    /// The current version of a stream (0 if it has no events).
    pub async fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::stream_version(pool, stream).await,
            Db::Sqlite(pool) => sqlite::stream_version(pool, stream).await,
        }
    }

    /// The id of every stream of `aggregate` (the part after `{aggregate}-`), in order.
    pub async fn stream_ids(&self, aggregate: &str) -> Result<Vec<String>, LogError> {
        match &self.inner.db {
            Db::Postgres(pool) => postgres::stream_ids(pool, aggregate).await,
            Db::Sqlite(pool) => sqlite::stream_ids(pool, aggregate).await,
        }
    }

    /// Every event after `after` as it commits, in order, exactly once, without end.
    pub fn tail(
        &self,
        after: u64,
    ) -> impl Stream<Item = Result<Envelope, LogError>> + Send + 'static + use<> {
        tail::tail(self.clone(), after)
    }

    /// Walks the whole chain from position 1, calling `progress` with each page's last
    /// position, and stops at the first bad link.
    pub async fn verify(&self, mut progress: impl FnMut(u64)) -> Result<VerifyReport, LogError> {
        let mut verifier = ChainVerifier::new();
        loop {
            let page = self.read_all(verifier.position(), 2_000).await?;
            let Some(last) = page.last().map(|e| e.position) else {
                break;
            };
            for event in &page {
                if let Err(broken) = verifier.push(event) {
                    return Ok(VerifyReport {
                        verified: verifier.position(),
                        head: verifier.head(),
                        broken: Some(broken),
                    });
                }
            }
            progress(last);
        }
        Ok(VerifyReport {
            verified: verifier.position(),
            head: verifier.head(),
            broken: None,
        })
    }

    /// Stops taking appends, commits what is queued, and waits for the appender to end.
    /// Appends after this fail with [`AppendError::ShuttingDown`].
    pub async fn shutdown(&self) {
        if let Some(stop) = self.inner.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
        let appender = self.inner.appender.lock().ok().and_then(|mut a| a.take());
        if let Some(appender) = appender
            && let Err(e) = appender.await
        {
            tracing::error!(error = %e, "the appender task failed");
        }
    }

    /// The PostgreSQL pool, when the log is on PostgreSQL (for read models that share it).
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.inner.db {
            Db::Postgres(pool) => Some(pool),
            Db::Sqlite(_) => None,
        }
    }

    /// The SQLite pool, when the log is on SQLite.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.inner.db {
            Db::Sqlite(pool) => Some(pool),
            Db::Postgres(_) => None,
        }
    }

    /// The last committed position, as a watch that changes with every commit this
    /// process makes or hears of (PostgreSQL `NOTIFY`).
    pub fn subscribe_head(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }

    /// The head position as this process last saw it commit (no round trip; another
    /// process's later commits may not be in it yet: [`Log::head`] reads the database).
    pub fn known_head(&self) -> u64 {
        *self.inner.head.borrow()
    }
}

/// A pool of `options.max_connections` connections made with `connect`.
async fn connect_pool<DB: sqlx::Database>(
    options: &LogOptions,
    connect: <DB::Connection as sqlx::Connection>::Options,
) -> Result<sqlx::Pool<DB>, LogError> {
    sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await
        .map_err(LogError::Unavailable)
}

/// The newest migration applied, as `_sqlx_migrations` records it (`None` before any).
const APPLIED: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";

/// Whether the schema already has every migration, so that opening a current, read-only
/// database writes nothing.
fn is_current(migrator: &Migrator, applied: Option<i64>) -> bool {
    let latest = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    applied.is_some_and(|v| v >= latest)
}

/// Longest the appender waits for a batch to fill once it holds one request.
const MAX_GATHER: Duration = Duration::from_micros(500);
/// Yields without a new request after which a batch counts as complete.
const GATHER_QUIET_YIELDS: usize = 8;

async fn run_appender(
    db: Db,
    mut jobs: mpsc::Receiver<Job>,
    head: watch::Sender<u64>,
    mut stop: oneshot::Receiver<()>,
    max_batch: usize,
    observer: Option<BatchObserver>,
    clock: Option<LogClock>,
) {
    let mut stopping = false;
    let mut writer: Option<WriterConnection> = None;
    loop {
        let first = if stopping {
            jobs.recv().await
        } else {
            tokio::select! {
                job = jobs.recv() => job,
                _ = &mut stop => {
                    // Refuse new appends, then drain and commit what is already queued.
                    stopping = true;
                    jobs.close();
                    continue;
                }
            }
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        // Callers woken by the last commit are still on their way back with their next
        // append: keep yielding while the batch keeps growing (for a bounded time), so
        // that they join this batch rather than trickle into many small ones, each a
        // disk flush. An idle log never spins: it waits in `recv` above.
        let gather_until = std::time::Instant::now() + MAX_GATHER;
        let mut quiet = 0;
        while batch.len() < max_batch
            && quiet < GATHER_QUIET_YIELDS
            && std::time::Instant::now() < gather_until
        {
            let before = batch.len();
            while batch.len() < max_batch {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            quiet = if batch.len() == before { quiet + 1 } else { 0 };
            tokio::task::yield_now().await;
        }
        let (requests, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|j| (j.request, j.reply)).unzip();
        let now = clock
            .as_ref()
            .map_or_else(|| Timestamp::from_datetime(chrono::Utc::now()), |c| (c.0)());
        let written = match writer.take() {
            Some(conn) => Ok(conn),
            None => db.writer().await,
        };
        let started = std::time::Instant::now();
        let written = match written {
            Ok(mut conn) => {
                let result = conn.write_batch(&requests, now).await;
                if result.is_ok() {
                    writer = Some(conn);
                } else {
                    // After an I/O error (a full disk) SQLite may not roll back, leaving
                    // the connection inside its transaction; returned to the pool, it
                    // would fail every later batch. It is closed, and the next batch
                    // opens a fresh one.
                    conn.close_on_drop();
                }
                result
            }
            Err(e) => Err(e),
        };
        match written {
            Ok(plan) => {
                if let Some(last) = plan.events.last() {
                    let position = last.position;
                    head.send_if_modified(|h| std::mem::replace(h, (*h).max(position)) < position);
                }
                tracing::debug!(
                    requests = requests.len(),
                    events = plan.events.len(),
                    "batch committed"
                );
                if let Some(observer) = &observer {
                    (observer.0)(&BatchStats {
                        requests: requests.len(),
                        events: plan.events.len(),
                        duration: started.elapsed(),
                    });
                }
                for (reply, result) in replies.into_iter().zip(plan.results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = requests.len(), "batch failed; nothing of it was written");
                let err = AppendError::from_sqlx(e);
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}
