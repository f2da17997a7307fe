//! The SQLite backend (the embedded default).
//!
//! One batch is one `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock before
//! reading the head, so positions are assigned by one writer at a time even when several
//! processes open the same file; then the same decisions as on PostgreSQL
//! ([`crate::append::plan`]), and multi-row `INSERT`s in chunks under SQLite's limit on
//! bound parameters. The database runs in WAL mode with `synchronous = FULL`: a commit is
//! on disk when it returns, and readers never block the writer.

use crate::append::{self, AppendRequest, Loaded, Plan, StoredCommand};
use crate::row::{to_i64, to_u64};
use allweather_events::{Envelope, Timestamp};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Connection as _, QueryBuilder, Row, Sqlite};

/// Rows per multi-row `INSERT`: 15 columns × 1000 stays under SQLite's 32,766 parameters.
const ROWS_PER_INSERT: usize = 1000;

pub(crate) async fn write_batch(
    conn: &mut SqliteConnection,
    batch: &[AppendRequest],
    now: Timestamp,
) -> Result<Plan, sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let head = head_in(&mut tx).await?;

    let mut loaded = Loaded::default();
    let mut ids = QueryBuilder::<Sqlite>::new(
        "SELECT command_id, stream_id, first_position, last_position, request_digest FROM commands WHERE command_id IN ",
    );
    push_list(&mut ids, batch.iter().map(|r| r.command_id));
    for r in ids.build().fetch_all(&mut *tx).await? {
        let events = committed_between(&mut tx, r.try_get(2)?, r.try_get(3)?).await?;
        loaded.commands.insert(
            r.try_get(0)?,
            StoredCommand {
                stream_id: r.try_get(1)?,
                events,
                request_digest: crate::row::digest_from(r.try_get(4)?)?,
            },
        );
    }
    let mut streams =
        QueryBuilder::<Sqlite>::new("SELECT stream_id, version FROM streams WHERE stream_id IN ");
    push_list(
        &mut streams,
        batch
            .iter()
            .flat_map(AppendRequest::writes)
            .map(|(s, _, _)| s.as_str().to_owned()),
    );
    for r in streams.build().fetch_all(&mut *tx).await? {
        loaded.versions.insert(r.try_get(0)?, to_u64(r.try_get(1)?));
    }

    let plan = append::plan(batch, head, &loaded, now);
    if !plan.events.is_empty() {
        insert(&mut tx, &plan).await?;
    }
    tx.commit().await?;
    Ok(plan)
}

/// Appends `(?, ?, …)` binding `items`, for the `IN` lookups of one batch.
fn push_list<T>(q: &mut QueryBuilder<Sqlite>, items: impl Iterator<Item = T>)
where
    T: for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite> + Send + 'static,
{
    q.push("(");
    let mut list = q.separated(", ");
    for item in items {
        list.push_bind(item);
    }
    q.push(")");
}

async fn insert(conn: &mut SqliteConnection, plan: &Plan) -> Result<(), sqlx::Error> {
    for chunk in plan.events.chunks(ROWS_PER_INSERT) {
        let mut q = QueryBuilder::<Sqlite>::new(concat!("INSERT INTO events (", columns!(), ") "));
        q.push_values(chunk, |mut row, e: &Envelope| {
            row.push_bind(to_i64(e.position))
                .push_bind(e.event_id)
                .push_bind(e.stream_id.as_str().to_owned())
                .push_bind(to_i64(e.stream_version))
                .push_bind(e.event_type.clone())
                .push_bind(i64::from(e.schema_version))
                .push_bind(e.occurred_at.as_micros())
                .push_bind(e.recorded_at.as_micros())
                .push_bind(e.command_id)
                .push_bind(e.correlation_id)
                .push_bind(e.actor.id.clone())
                .push_bind(e.actor.role.as_str())
                .push_bind(e.payload.as_str().to_owned())
                .push_bind(e.prev_hash.0.to_vec())
                .push_bind(e.hash.0.to_vec());
        });
        q.build().execute(&mut *conn).await?;
    }
    for chunk in plan.commands.chunks(ROWS_PER_INSERT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO commands (command_id, stream_id, first_position, last_position, recorded_at_us, request_digest) ",
        );
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.command_id)
                .push_bind(c.stream_id.clone())
                .push_bind(to_i64(c.first_position))
                .push_bind(to_i64(c.last_position))
                .push_bind(c.recorded_at.as_micros())
                .push_bind(c.request_digest.map(|d| d.0.to_vec()));
        });
        q.build().execute(&mut *conn).await?;
    }
    let streams: Vec<_> = plan.streams.iter().collect();
    for chunk in streams.chunks(ROWS_PER_INSERT) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO streams (stream_id, version, last_position) ");
        q.push_values(chunk, |mut row, (stream, (version, last))| {
            row.push_bind((*stream).clone())
                .push_bind(to_i64(*version))
                .push_bind(to_i64(*last));
        });
        q.push(" ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_position = excluded.last_position");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

person_keys!(SqlitePool);
revocations!(SqlitePool);
accounts!(SqlitePool);
readers!(SqlitePool, SqliteConnection);
