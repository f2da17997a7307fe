//! The readers, written once for both backends: their SQL is the same text (`$N`
//! placeholders, which SQLite also reads by position), and a macro instantiates them for
//! each backend's pool and connection types.

use crate::append::Head;
use allweather_events::{Hash, Timestamp};

/// The head of the log, read in a transaction or under the lock.
pub(crate) const HEAD: &str =
    "SELECT position, hash, recorded_at_us FROM events ORDER BY position DESC LIMIT 1";

/// A head from its stored columns.
pub(crate) fn head_from(position: i64, hash: &[u8], recorded_at: i64) -> Result<Head, sqlx::Error> {
    Ok(Head {
        position: crate::row::to_u64(position),
        hash: Hash::from_slice(hash)
            .ok_or_else(|| sqlx::Error::Decode("stored head hash is not 32 bytes".into()))?,
        recorded_at: Timestamp::from_micros(recorded_at),
    })
}

/// Defines `head_in`, `committed_between`, `head`, `read_all`, `read_stream` and
/// `stream_version` for one backend.
macro_rules! readers {
    ($pool:ty, $conn:ty) => {
        /// The head, read on `conn` (inside the caller's transaction, if any).
        async fn head_in(conn: &mut $conn) -> Result<$crate::append::Head, sqlx::Error> {
            use sqlx::Row as _;
            match sqlx::query($crate::read::HEAD).fetch_optional(&mut *conn).await? {
                Some(r) => $crate::read::head_from(r.try_get(0)?, &r.try_get::<Vec<u8>, _>(1)?, r.try_get(2)?),
                None => Ok($crate::append::Head::EMPTY),
            }
        }

        /// Where the events at positions `first..=last` landed (for a replayed command).
        async fn committed_between(
            conn: &mut $conn,
            first: i64,
            last: i64,
        ) -> Result<Vec<$crate::append::CommittedEvent>, sqlx::Error> {
            use sqlx::Row as _;
            sqlx::query(
                "SELECT event_id, event_type, stream_id, stream_version, position FROM events \
                 WHERE position BETWEEN $1 AND $2 ORDER BY position",
            )
            .bind(first)
            .bind(last)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok($crate::append::CommittedEvent {
                    event_id: r.try_get(0)?,
                    event_type: r.try_get(1)?,
                    stream_id: r.try_get(2)?,
                    stream_version: $crate::row::to_u64(r.try_get(3)?),
                    position: $crate::row::to_u64(r.try_get(4)?),
                })
            })
            .collect()
        }

        pub(crate) async fn head(pool: &$pool) -> Result<$crate::append::Head, $crate::error::LogError> {
            let mut conn = pool.acquire().await?;
            Ok(head_in(&mut conn).await?)
        }

        pub(crate) async fn read_all(
            pool: &$pool,
            after: u64,
            limit: u32,
        ) -> Result<Vec<allweather_events::Envelope>, $crate::error::LogError> {
            let sql = concat!("SELECT ", columns!(), " FROM events WHERE position > $1 ORDER BY position LIMIT $2");
            let rows = sqlx::query(sql)
                .bind($crate::row::to_i64(after))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map($crate::row::envelope).collect()
        }

        pub(crate) async fn read_stream(
            pool: &$pool,
            stream: &allweather_events::StreamId,
            from_version: u64,
            limit: u32,
        ) -> Result<Vec<allweather_events::Envelope>, $crate::error::LogError> {
            let sql = concat!(
                "SELECT ",
                columns!(),
                " FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
            );
            let rows = sqlx::query(sql)
                .bind(stream.as_str())
                .bind($crate::row::to_i64(from_version))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map($crate::row::envelope).collect()
        }

        /// The id part of every stream of `aggregate` (`member-{id}` → `{id}`), in order.
        pub(crate) async fn stream_ids(
            pool: &$pool,
            aggregate: &str,
        ) -> Result<Vec<String>, $crate::error::LogError> {
            // Aggregate names are lowercase words: no `%` or `_` to escape. (A scan of
            // `streams`, for the rare command that needs every member.)
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT stream_id FROM streams WHERE stream_id LIKE $1 ORDER BY stream_id",
            )
            .bind(format!("{aggregate}-%"))
            .fetch_all(pool)
            .await?;
            Ok(ids
                .into_iter()
                .filter_map(|s| s.split_once('-').map(|(_, id)| id.to_owned()))
                .collect())
        }

        /// The outcome of a command already recorded, if it is.
        pub(crate) async fn recorded(
            pool: &$pool,
            command_id: uuid::Uuid,
        ) -> Result<Option<$crate::append::AppendOutcome>, $crate::error::LogError> {
            use sqlx::Row as _;
            let mut conn = pool.acquire().await?;
            let row = sqlx::query("SELECT first_position, last_position, request_digest FROM commands WHERE command_id = $1")
                .bind(command_id)
                .fetch_optional(&mut *conn)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let request_digest = $crate::row::digest_from(row.try_get(2)?)?;
            let events = committed_between(&mut conn, row.try_get(0)?, row.try_get(1)?).await?;
            Ok(Some($crate::append::AppendOutcome { command_id, events, replayed: true, request_digest }))
        }

        pub(crate) async fn stream_version(
            pool: &$pool,
            stream: &allweather_events::StreamId,
        ) -> Result<u64, $crate::error::LogError> {
            let v: Option<i64> = sqlx::query_scalar("SELECT version FROM streams WHERE stream_id = $1")
                .bind(stream.as_str())
                .fetch_optional(pool)
                .await?;
            Ok(v.map_or(0, $crate::row::to_u64))
        }
    };
}
