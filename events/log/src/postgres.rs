//! The PostgreSQL backend.
//!
//! One batch is one transaction holding the log's advisory lock, which writes every row
//! with one statement of `UNNEST`ed arrays and notifies listeners. The lock is
//! transaction-scoped, so it is held until the commit is durable and released by the
//! commit or a rollback: a reader tailing by position can never see position `n + 1`
//! before `n` has committed, and several processes can share one log. Its key is "allw"
//! and the `events` table's oid, so one lock per schema. The batch is decided either before
//! the lock, speculatively, or under it (see [`write_batch`]).
//!
//! **Speculative batches.** The work done while holding the lock bounds throughput, so the
//! appender decides a batch *before* taking it: against the head of its own last commit,
//! the stream versions it knows ([`Known`]: written, or read under the lock, since it last
//! found the head moved by another writer) and, for other streams, the versions their
//! requests expect. One autocommit statement then takes the lock, checks those assumptions
//! and writes only if they hold: one round trip, one flush. If another process appended
//! meanwhile, caught by the guard or, since the guard's snapshot predates the lock, by the
//! keys (position, stream version, command id), nothing is written, the known versions
//! are dropped and the batch is decided again the careful way: `BEGIN` and the lock in one
//! round trip, head, commands and versions in one query, plan, write, commit. A request
//! that expects *any* version of a stream the writer does not know takes the careful way.
//! A stream written only as a condition writes no key that would catch a stale version,
//! which is why the known versions are dropped whenever the head is found moved.

use crate::append::{self, AppendRequest, Head, Loaded, Plan, StoredCommand};
use crate::read::head_from;
use crate::row::{to_i64, to_u64};
use allweather_events::{Envelope, Timestamp};
use sqlx::postgres::{PgConnection, PgListener, PgPool};
use sqlx::{Connection as _, Row};
use std::collections::HashMap;
use tokio::sync::watch;
use uuid::Uuid;

/// The channel on which each commit announces its last position.
pub(crate) const CHANNEL: &str = "allweather_events";

/// The key of the log's advisory lock: "allw" in the high half and the `events` table's
/// oid in the low half (one lock per schema, when a province keeps one county per schema).
macro_rules! lock_key {
    () => {
        "(x'616c6c77'::bigint << 32) | 'events'::regclass::oid::bigint"
    };
}

/// Opens the batch's transaction and takes the log's advisory lock, in one round trip.
/// Under READ COMMITTED every later statement of the transaction takes a fresh snapshot,
/// so what it reads includes every batch committed before the lock was granted.
const BEGIN_LOCKED: &str = concat!("BEGIN; SELECT pg_advisory_xact_lock(", lock_key!(), ")");

/// The head, the batch's commands already recorded, and its streams' versions, in one
/// round trip. `kind` 0 is the head, 1 a recorded command (its request digest in the
/// `hash` column), 2 a stream.
///
/// Lookups here and in the write guard probe the primary keys once per id, in a
/// `LATERAL … LIMIT 1` or a scalar subquery that the planner cannot flatten into a join:
/// a prepared statement's generic plan is made while the tables are small, and a join
/// (or `= ANY(…)`) keeps the sequential scan it chose then, which grows with the log
/// (seen: 3 ms of a 4 ms batch at 30,000 commands).
const LOOKUPS: &str = "
    SELECT 0 AS kind, NULL::uuid AS command_id, NULL::text AS stream_id,
           position AS a, 0::bigint AS b, hash, recorded_at_us
      FROM (SELECT position, hash, recorded_at_us FROM events ORDER BY position DESC LIMIT 1) h
    UNION ALL
    SELECT 1, c.command_id, c.stream_id, c.first_position, c.last_position, c.request_digest, NULL
      FROM UNNEST($1::uuid[]) AS n(command_id)
      JOIN LATERAL (SELECT * FROM commands c WHERE c.command_id = n.command_id LIMIT 1) c ON true
    UNION ALL
    SELECT 2, NULL, s.stream_id, s.version, 0, NULL, NULL
      FROM UNNEST($2::text[]) AS n(stream_id)
      JOIN LATERAL (SELECT * FROM streams s WHERE s.stream_id = n.stream_id LIMIT 1) s ON true";

/// What a writer knows of the database from its own work: the head its last commit left,
/// and the version of every stream it has written, or read under the lock, since it last
/// found the head moved by another writer. While the database's head is still `head`, no
/// other writer has appended (positions are gapless and written under the lock), so these
/// versions are the database's own.
#[derive(Debug, Default)]
pub(crate) struct Known {
    head: Option<Head>,
    versions: HashMap<String, u64>,
}

/// At most this many streams' versions are kept; past it the writer starts over (and
/// reads, or has the guard check, the versions it needs again).
const KNOWN_STREAMS: usize = 100_000;

impl Known {
    /// Records a committed plan, and the versions it was decided against under the lock.
    fn committed(&mut self, plan: &Plan, read: HashMap<String, u64>) {
        if self.versions.len() + read.len() + plan.streams.len() > KNOWN_STREAMS {
            self.versions.clear();
        }
        self.versions.extend(read);
        self.versions
            .extend(plan.streams.iter().map(|(s, &(v, _))| (s.clone(), v)));
        self.head = Some(plan.next_head());
    }
}

/// Writes one batch.
///
/// When the writer knows the head from its own last commit (see [`Known`]), the batch is
/// decided *before* the lock is taken, against that head, the stream versions it knows and,
/// for other streams, the versions their requests expect; it is written by one guarded
/// statement in a transaction of its own, which takes the lock, and writes nothing unless
/// the head is still that one and the streams not known are at the versions expected. The
/// hashing and the lookups so leave the critical section, and a batch costs one round
/// trip. If another process appended meanwhile, or an expectation does not hold, nothing is
/// written and the batch is decided again under the lock, from what the database holds.
pub(crate) async fn write_batch(
    conn: &mut PgConnection,
    batch: &[AppendRequest],
    now: Timestamp,
    known: &mut Known,
) -> Result<Plan, sqlx::Error> {
    if let Some(head) = known.head
        && let Some(assumed) = Loaded::assumed(batch, &known.versions)
    {
        let plan = append::plan(batch, head, &assumed, now);
        if !plan.events.is_empty() {
            // One statement, its own transaction: one round trip and one flush.
            match write(conn, &plan, &known.versions).await {
                Ok(true) => {
                    known.committed(&plan, HashMap::new());
                    return Ok(plan);
                }
                Ok(false) => {}
                // The guard read a snapshot taken before the lock was granted; a writer
                // that committed in between is caught by the keys (position, stream
                // version, command id), and nothing of the statement is written.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
                Err(e) => return Err(e),
            }
        }
    }

    let mut tx = conn.begin_with(BEGIN_LOCKED).await?;
    let command_ids: Vec<Uuid> = batch.iter().map(|r| r.command_id).collect();
    let stream_ids: Vec<&str> = batch
        .iter()
        .flat_map(AppendRequest::writes)
        .map(|(s, _, _)| s.as_str())
        .collect();
    let mut head = Head::EMPTY;
    let mut loaded = Loaded::default();
    let mut replays = Vec::new();
    for r in sqlx::query(LOOKUPS)
        .bind(&command_ids)
        .bind(&stream_ids)
        .fetch_all(&mut *tx)
        .await?
    {
        match r.try_get::<i32, _>(0)? {
            0 => head = head_from(r.try_get(3)?, &r.try_get::<Vec<u8>, _>(5)?, r.try_get(6)?)?,
            1 => replays.push((
                r.try_get::<Uuid, _>(1)?,
                r.try_get::<String, _>(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                crate::row::digest_from(r.try_get(5)?)?,
            )),
            _ => {
                loaded.versions.insert(r.try_get(2)?, to_u64(r.try_get(3)?));
            }
        }
    }
    for (command_id, stream_id, first, last, request_digest) in replays {
        let events = committed_between(&mut tx, first, last).await?;
        loaded.commands.insert(
            command_id,
            StoredCommand {
                stream_id,
                events,
                request_digest,
            },
        );
    }
    if known.head != Some(head) {
        // Another writer appended: what this one knew of other streams may be stale.
        known.versions.clear();
    }
    let plan = append::plan(batch, head, &loaded, now);
    // Every stream is checked here too, though just read under the lock.
    if !plan.events.is_empty() && !write(&mut tx, &plan, &HashMap::new()).await? {
        // Decided under the lock from what was just read: the guard cannot fail unless
        // something outside the log's rules is writing to its tables.
        return Err(sqlx::Error::Protocol(
            "the log changed while its writer held the lock".into(),
        ));
    }
    tx.commit().await?;
    known.committed(&plan, loaded.versions);
    Ok(plan)
}

person_keys!(PgPool);
revocations!(PgPool);
accounts!(PgPool);
readers!(PgPool, PgConnection);

/// Writes the plan's events, commands and stream versions and notifies, in one
/// statement that holds the log's lock (taken here if the transaction has not taken it),
/// if the plan's assumptions hold. The guard checks that the head is the one the plan
/// chains from and that no stream outside `known` is at another version than the plan
/// assumed (the head being the writer's own, those in `known` are as it knows); a command
/// id recorded meanwhile (or, for a speculative plan, a position or stream version taken
/// after the guard's snapshot) is refused by the keys instead, and the statement fails
/// whole. Returns whether it wrote.
///
/// The rows come from `unnest` in the select list, not `FROM UNNEST(…)`: in `FROM`, a
/// function of several arrays is first materialised into a tuple store, which took about a
/// tenth of the backend's time for a batch (`perf`); in the select list the arrays are
/// walked in step, row by row.
async fn write(
    conn: &mut PgConnection,
    plan: &Plan,
    known: &HashMap<String, u64>,
) -> Result<bool, sqlx::Error> {
    let (checked, priors): (Vec<&str>, Vec<i64>) = plan
        .priors
        .iter()
        .filter(|(s, _)| !known.contains_key(s.as_str()))
        .map(|(s, &v)| (s.as_str(), to_i64(v)))
        .unzip();
    let e = &plan.events;
    let col = |f: fn(&Envelope) -> i64| e.iter().map(f).collect::<Vec<i64>>();
    let text = |f: fn(&Envelope) -> &str| e.iter().map(f).collect::<Vec<&str>>();
    let uuid = |f: fn(&Envelope) -> Uuid| e.iter().map(f).collect::<Vec<Uuid>>();
    let bytes = |f: fn(&Envelope) -> &[u8]| e.iter().map(f).collect::<Vec<&[u8]>>();
    let c = &plan.commands;
    let last = e.last().map_or(0, |e| e.position);
    sqlx::query_scalar(concat!(
        "WITH lock AS (
            SELECT count(*) AS held FROM (SELECT pg_advisory_xact_lock(", lock_key!(), ")) l
        ), ok AS (
            SELECT (SELECT held FROM lock) = 1
               AND COALESCE((SELECT position = $26 AND hash = $27 FROM events ORDER BY position DESC LIMIT 1), $26 = 0)
               AND NOT EXISTS (SELECT 1 FROM UNNEST($28::text[], $29::bigint[]) AS p(stream_id, version)
                               WHERE COALESCE((SELECT version FROM streams s WHERE s.stream_id = p.stream_id), 0)
                                     <> p.version) AS good
        ), ev AS (
            INSERT INTO events (position, event_id, stream_id, stream_version, event_type,
                schema_version, occurred_at_us, recorded_at_us, command_id, correlation_id,
                actor_id, actor_role, payload, prev_hash, hash)
            SELECT unnest($1::bigint[]), unnest($2::uuid[]), unnest($3::text[]),
                unnest($4::bigint[]), unnest($5::text[]), unnest($6::int[]), unnest($7::bigint[]),
                unnest($8::bigint[]), unnest($9::uuid[]), unnest($10::uuid[]), unnest($11::text[]),
                unnest($12::text[]), unnest($13::text[]), unnest($14::bytea[]), unnest($15::bytea[])
            WHERE (SELECT good FROM ok)
        ), cmd AS (
            INSERT INTO commands (command_id, stream_id, first_position, last_position, recorded_at_us, request_digest)
            SELECT c, s, f, l, r, NULLIF(d, '') FROM (
                SELECT unnest($16::uuid[]) AS c, unnest($17::text[]) AS s, unnest($18::bigint[]) AS f,
                    unnest($19::bigint[]) AS l, unnest($20::bigint[]) AS r, unnest($30::bytea[]) AS d
                WHERE (SELECT good FROM ok)
            ) t
        ), st AS (
            INSERT INTO streams (stream_id, version, last_position)
            SELECT unnest($21::text[]), unnest($22::bigint[]), unnest($23::bigint[])
            WHERE (SELECT good FROM ok)
            ON CONFLICT (stream_id) DO UPDATE
                SET version = excluded.version, last_position = excluded.last_position
        )
        SELECT good FROM ok, LATERAL (SELECT count(pg_notify($24, $25)) FROM ok WHERE good) n"
    ))
    .bind(col(|e| to_i64(e.position)))
    .bind(uuid(|e| e.event_id))
    .bind(text(|e| e.stream_id.as_str()))
    .bind(col(|e| to_i64(e.stream_version)))
    .bind(text(|e| &e.event_type))
    .bind(e.iter().map(|e| i32::try_from(e.schema_version).unwrap_or(i32::MAX)).collect::<Vec<i32>>())
    .bind(col(|e| e.occurred_at.as_micros()))
    .bind(col(|e| e.recorded_at.as_micros()))
    .bind(uuid(|e| e.command_id))
    .bind(uuid(|e| e.correlation_id))
    .bind(text(|e| &e.actor.id))
    .bind(text(|e| e.actor.role.as_str()))
    .bind(text(|e| e.payload.as_str()))
    .bind(bytes(|e| &e.prev_hash.0))
    .bind(bytes(|e| &e.hash.0))
    .bind(c.iter().map(|c| c.command_id).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.stream_id.as_str()).collect::<Vec<_>>())
    .bind(c.iter().map(|c| to_i64(c.first_position)).collect::<Vec<_>>())
    .bind(c.iter().map(|c| to_i64(c.last_position)).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.recorded_at.as_micros()).collect::<Vec<_>>())
    .bind(plan.streams.keys().map(String::as_str).collect::<Vec<_>>())
    .bind(plan.streams.values().map(|v| to_i64(v.0)).collect::<Vec<_>>())
    .bind(plan.streams.values().map(|v| to_i64(v.1)).collect::<Vec<_>>())
    .bind(CHANNEL)
    .bind(last.to_string())
    .bind(to_i64(plan.head.position))
    .bind(&plan.head.hash.0[..])
    .bind(checked)
    .bind(priors)
    // No digest is an empty array element, stored as NULL.
    .bind(
        c.iter()
            .map(|c| c.request_digest.map_or_else(Vec::new, |d| d.0.to_vec()))
            .collect::<Vec<Vec<u8>>>(),
    )
    .fetch_one(&mut *conn)
    .await
}

/// Follows commits made by every process on this database and raises `head` to each
/// announced position. Runs until aborted; after a lost connection it reconnects, and the
/// tails' fallback timer covers what was announced meanwhile.
pub(crate) async fn listen(pool: PgPool, head: watch::Sender<u64>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => loop {
                    match listener.recv().await {
                        Ok(n) => {
                            let position = n.payload().parse().unwrap_or(0);
                            head.send_if_modified(|h| {
                                std::mem::replace(h, (*h).max(position)) < position
                            });
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "commit listener lost its connection; reconnecting");
                            break;
                        }
                    }
                },
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN for commits; retrying"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot connect the commit listener; retrying"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
