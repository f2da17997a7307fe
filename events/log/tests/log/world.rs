//! One test's world: a fresh database on one backend, and the raw access a test needs to
//! attack it (tampering, holding the write lock, making it read-only).

use allweather_events::{Actor, Payload, Role, StreamId, Timestamp};
use allweather_log::{AppendRequest, ExpectedVersion, Log, LogOptions, NewEvent};
use allweather_test_support::{TestDatabase, TestSqlite};
use sqlx::Connection;
use std::time::Duration;
use uuid::Uuid;

pub enum World {
    Postgres(TestDatabase),
    Sqlite(TestSqlite),
}

impl World {
    pub async fn postgres() -> World {
        World::Postgres(TestDatabase::create().await)
    }

    pub async fn sqlite() -> World {
        World::Sqlite(TestSqlite::create())
    }

    pub fn url(&self) -> String {
        match self {
            World::Postgres(db) => db.url().to_owned(),
            World::Sqlite(file) => file.url(),
        }
    }

    pub async fn open(&self) -> Log {
        Log::open(LogOptions::new(self.url()))
            .await
            .expect("open the log")
    }

    /// Runs one raw statement on a connection of its own.
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        Ok(match self {
            World::Postgres(db) => {
                let mut c = sqlx::PgConnection::connect(db.url()).await?;
                sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected()
            }
            World::Sqlite(file) => {
                let mut c = sqlx::SqliteConnection::connect(&file.url()).await?;
                sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected()
            }
        })
    }

    /// Changes a stored payload behind the log's back, with the triggers out of the way,
    /// as an attacker with the database's owner rights could.
    pub async fn tamper(&self, position: u64) {
        let sql = match self {
            World::Postgres(_) => format!(
                "ALTER TABLE events DISABLE TRIGGER events_append_only;
                 UPDATE events SET payload = '{{\"forged\":true}}' WHERE position = {position};
                 ALTER TABLE events ENABLE TRIGGER events_append_only;"
            ),
            World::Sqlite(_) => format!(
                "DROP TRIGGER events_no_update;
                 UPDATE events SET payload = '{{\"forged\":true}}' WHERE position = {position};"
            ),
        };
        assert_eq!(self.exec(&sql).await.expect("tamper"), 1);
    }

    /// A writer that takes the log's write lock, writes an event at the next position,
    /// holds the lock for `hold` and then rolls back: a slow, failed transaction.
    pub async fn slow_rolled_back_write(&self, hold: Duration) {
        let insert = "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, \
            schema_version, occurred_at_us, recorded_at_us, command_id, correlation_id, actor_id, \
            actor_role, payload, prev_hash, hash) \
            SELECT COALESCE(MAX(position), 0) + 1, {id}, 'probe-rolledback', 1, 'Probed', 1, 0, 0, \
            {id}, {id}, 'saboteur', 'system', '{}', {zero}, {zero} FROM events";
        match self {
            World::Postgres(db) => {
                let mut c = sqlx::PgConnection::connect(db.url())
                    .await
                    .expect("connect");
                let mut tx = c.begin().await.expect("begin");
                sqlx::raw_sql(
                    "SELECT pg_advisory_xact_lock((x'616c6c77'::bigint << 32) | 'events'::regclass::oid::bigint)",
                )
                .execute(&mut *tx)
                .await
                .expect("lock");
                let sql = insert
                    .replace("{id}", &format!("'{}'::uuid", Uuid::now_v7()))
                    .replace("{zero}", "decode(repeat('00', 32), 'hex')");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                tokio::time::sleep(hold).await;
                tx.rollback().await.expect("rollback");
            }
            World::Sqlite(file) => {
                let mut c = sqlx::SqliteConnection::connect(&file.url())
                    .await
                    .expect("connect");
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .expect("begin");
                let sql = insert
                    .replace("{id}", &format!("x'{}'", Uuid::now_v7().simple()))
                    .replace("{zero}", "zeroblob(32)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut c)
                    .await
                    .expect("insert");
                tokio::time::sleep(hold).await;
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut c)
                    .await
                    .expect("rollback");
            }
        }
    }

    /// A second handle on the same log through a read-only connection.
    pub async fn open_read_only(&self) -> Log {
        match self {
            World::Postgres(db) => {
                let mut admin = db.admin().await;
                let sql = format!(
                    "ALTER DATABASE {} SET default_transaction_read_only = on",
                    db.name()
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .expect("make read-only");
            }
            World::Sqlite(_) => {}
        }
        let url = match self {
            World::Postgres(db) => db.url().to_owned(),
            World::Sqlite(file) => format!("{}?mode=ro", file.url()),
        };
        Log::open(LogOptions::new(url))
            .await
            .expect("open read-only")
    }
}

pub fn stream(name: &str) -> StreamId {
    StreamId::parse(format!("probe-{name}")).expect("stream id")
}

pub fn request(stream_id: &StreamId, expected: ExpectedVersion, n: usize) -> AppendRequest {
    AppendRequest {
        request_digest: None,
        command_id: Uuid::now_v7(),
        correlation_id: Uuid::now_v7(),
        actor: Actor {
            id: "tester".into(),
            role: Role::System,
        },
        stream_id: stream_id.clone(),
        expected_version: expected,
        events: (0..n)
            .map(|i| NewEvent {
                event_type: "Probed".into(),
                schema_version: 1,
                occurred_at: Timestamp::from_micros(1_790_000_000_000_000),
                payload: Payload::from_value(&serde_json::json!({ "i": i, "note": "probe" }))
                    .expect("payload"),
            })
            .collect(),
        also: vec![],
    }
}
