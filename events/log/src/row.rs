//! Reading an `events` row into an [`Envelope`], for both backends.

use crate::error::LogError;
use allweather_events::{Actor, Envelope, Hash, Payload, Role, StreamId, Timestamp};
use sqlx::{ColumnIndex, Database, Decode, Row, Type};
use uuid::Uuid;

/// The columns of `events`, in the order [`envelope`] reads them (a macro, so that it can
/// be spliced into `'static` SQL with `concat!`).
macro_rules! columns {
    () => {
        "position, event_id, stream_id, stream_version, event_type, schema_version, \
         occurred_at_us, recorded_at_us, command_id, correlation_id, actor_id, actor_role, \
         payload, prev_hash, hash"
    };
}

/// Decodes one row selected with [`columns!`]. A stored value that cannot be an event's
/// (a malformed stream id, an unknown role, a hash of the wrong length) is reported with
/// its position, never skipped.
pub(crate) fn envelope<'r, R>(row: &'r R) -> Result<Envelope, LogError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    R::Database: Database,
{
    let position: i64 = row.try_get(0)?;
    let corrupt = |what: String| LogError::Corrupt { position, what };
    let non_negative = |v: i64, name: &str| {
        u64::try_from(v).map_err(|_| corrupt(format!("{name} {v} is negative")))
    };
    let stream_id: String = row.try_get(2)?;
    let role: String = row.try_get(11)?;
    let schema_version: i32 = row.try_get(5)?;
    let prev_hash: Vec<u8> = row.try_get(13)?;
    let hash: Vec<u8> = row.try_get(14)?;
    Ok(Envelope {
        event_id: row.try_get(1)?,
        stream_id: StreamId::parse(stream_id).map_err(|e| corrupt(e.to_string()))?,
        stream_version: non_negative(row.try_get(3)?, "stream_version")?,
        position: non_negative(position, "position")?,
        event_type: row.try_get(4)?,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| corrupt(format!("schema_version {schema_version} is negative")))?,
        occurred_at: Timestamp::from_micros(row.try_get(6)?),
        recorded_at: Timestamp::from_micros(row.try_get(7)?),
        command_id: row.try_get(8)?,
        correlation_id: row.try_get(9)?,
        actor: Actor {
            id: row.try_get(10)?,
            role: Role::parse(&role)
                .ok_or_else(|| corrupt(format!("unknown actor role {role:?}")))?,
        },
        payload: Payload::from_stored(row.try_get(12)?),
        prev_hash: Hash::from_slice(&prev_hash)
            .ok_or_else(|| corrupt("prev_hash is not 32 bytes".into()))?,
        hash: Hash::from_slice(&hash).ok_or_else(|| corrupt("hash is not 32 bytes".into()))?,
    })
}

/// A position or version read from the database as `i64`, which the schema keeps positive.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A position or version as the database's `BIGINT`.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored request digest (NULL for a command recorded without one).
pub(crate) fn digest_from(
    bytes: Option<Vec<u8>>,
) -> Result<Option<allweather_events::Hash>, sqlx::Error> {
    bytes
        .map(|b| {
            allweather_events::Hash::from_slice(&b).ok_or_else(|| {
                sqlx::Error::Decode("a stored request digest is not 32 bytes".into())
            })
        })
        .transpose()
}
