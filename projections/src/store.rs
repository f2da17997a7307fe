//! Where read models live, and the projectors' checkpoints.
//!
//! A [`ReadStore`] is the log's PostgreSQL database, or a SQLite file of its own (`read.db`
//! beside `log.db`) so that projecting never waits for the log's write lock; the SQL is
//! written once for both (`sqlx::Any`). `projection_checkpoints` holds the position each
//! projector has applied. `projection_shapes` holds a digest of each projector's schema: a
//! store whose tables an earlier release made in another shape has them dropped and made
//! again at start, and the projector replays the log into them (queries wait on
//! `min_position` meanwhile). On PostgreSQL tables are created under an advisory lock,
//! because several processes create the same ones at once and `CREATE … IF NOT EXISTS` is
//! not safe against a concurrent twin. A rebuild's shadow is a schema or an attached file
//! named `shadow_{projector}`.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::str::FromStr as _;
use std::time::Duration;

/// The checkpoints of every projector: the last position each has applied.
const CHECKPOINTS: &str = "CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projector TEXT PRIMARY KEY,
    position  BIGINT NOT NULL
)";

/// The shape each projector's tables were made in: a digest of its schema statements.
/// A store whose tables an earlier release made in another shape is made again.
const SHAPES: &str = "CREATE TABLE IF NOT EXISTS projection_shapes (
    projector TEXT PRIMARY KEY,
    shape     TEXT NOT NULL
)";

/// The digest of a projector's schema statements.
fn shape_of(statements: &[&str]) -> String {
    use sha2::Digest as _;
    let mut sha = sha2::Sha256::new();
    for statement in statements {
        sha.update(statement.as_bytes());
        sha.update([0]);
    }
    hex::encode(sha.finalize())
}

/// The tables a projector's schema statements create.
fn tables_of<'s>(statements: &[&'s str]) -> Vec<&'s str> {
    statements
        .iter()
        .filter_map(|s| s.trim_start().strip_prefix("CREATE TABLE IF NOT EXISTS "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|name| name.trim_end_matches('('))
        .collect()
}

/// The database of the read models.
#[derive(Debug, Clone)]
pub struct ReadStore {
    pool: AnyPool,
    /// Where it is (none for a scratch store in memory).
    url: Option<String>,
}

/// The name of `projector`'s shadow: a PostgreSQL schema, or an SQLite file attached
/// under that name.
fn shadow_name(projector: &str) -> String {
    format!("shadow_{projector}")
}

impl ReadStore {
    /// Opens `url` (`postgres://…`, or `sqlite://PATH`, created if missing).
    pub async fn open(url: &str) -> Result<ReadStore, sqlx::Error> {
        ReadStore::open_in(url, None).await
    }

    /// Opens `url`; on PostgreSQL with every name in `schema` (created if missing) when
    /// given.
    async fn open_in(url: &str, schema: Option<String>) -> Result<ReadStore, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let given = url.to_owned();
        let url = if url.starts_with("sqlite:") && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_owned()
        };
        let sqlite = url.starts_with("sqlite:");
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| {
                let schema = schema.clone();
                Box::pin(async move {
                    if let Some(schema) = schema {
                        sqlx::query(AssertSqlSafe(format!("SET search_path TO {schema}")))
                            .execute(&mut *conn)
                            .await?;
                    }
                    if sqlite {
                        // Readers never block the projector's writer; waits are bounded.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = ReadStore {
            pool,
            url: Some(given),
        };
        store.create(&[CHECKPOINTS, SHAPES]).await?;
        Ok(store)
    }

    /// A store of its own in memory, gone when dropped: for one-off replays.
    pub async fn scratch() -> Result<ReadStore, sqlx::Error> {
        sqlx::any::install_default_drivers();
        // One connection, kept for the store's life: the database is that connection's.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(AnyConnectOptions::from_str("sqlite::memory:")?)
            .await?;
        sqlx::query(CHECKPOINTS).execute(&pool).await?;
        sqlx::query(SHAPES).execute(&pool).await?;
        Ok(ReadStore { pool, url: None })
    }

    /// An empty store beside this one for rebuilding `projector`: a schema of the same
    /// PostgreSQL database, or an SQLite file next to this one. Whatever an earlier
    /// rebuild left there is discarded.
    pub(crate) async fn shadow(&self, projector: &str) -> Result<ReadStore, sqlx::Error> {
        let url = self
            .url
            .as_deref()
            .ok_or_else(|| sqlx::Error::Configuration("a scratch store has no shadow".into()))?;
        let name = shadow_name(projector);
        if let Some(path) = sqlite_path(url) {
            let file = format!("{path}.{name}");
            for suffix in ["", "-wal", "-shm"] {
                match std::fs::remove_file(format!("{file}{suffix}")) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(sqlx::Error::Io(e));
                    }
                    _ => {}
                }
            }
            ReadStore::open(&format!("sqlite://{file}")).await
        } else {
            sqlx::query(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .execute(&self.pool)
            .await?;
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                .execute(&self.pool)
                .await?;
            ReadStore::open_in(url, Some(name)).await
        }
    }

    /// Replaces `projector`'s tables and checkpoint with those of `shadow` (rebuilt by
    /// [`ReadStore::shadow`]) in one transaction: readers see the old rows until it
    /// commits and the new ones after; a running instance of the projector finds its
    /// checkpoint moved and goes on from the shadow's. The shadow is gone afterwards.
    pub(crate) async fn swap_in(
        &self,
        shadow: ReadStore,
        projector: &str,
        schema: &[&'static str],
    ) -> Result<u64, sqlx::Error> {
        let position = shadow.checkpoint(projector).await?;
        let name = shadow_name(projector);
        let sqlite_file = self
            .url
            .as_deref()
            .and_then(sqlite_path)
            .map(|p| format!("{p}.{name}"));
        let tables: Vec<String> = if sqlite_file.is_some() {
            sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('projection_checkpoints', 'projection_shapes')")
                .fetch_all(shadow.pool())
                .await?
        } else {
            sqlx::query(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
                  WHERE table_schema = $1 AND table_name NOT IN ('projection_checkpoints', 'projection_shapes')",
            )
            .bind(&name)
            .fetch_all(shadow.pool())
            .await?
        }
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
        shadow.pool.close().await;
        let mut conn = self.pool.acquire().await?;
        // SQLite attaches outside a transaction; the live tables are then named `main.`
        // so that no name can reach the shadow's.
        let live = if let Some(file) = &sqlite_file {
            sqlx::query(AssertSqlSafe(format!(
                "ATTACH DATABASE '{}' AS {name}",
                file.replace('\'', "''")
            )))
            .execute(&mut *conn)
            .await?;
            "main."
        } else {
            ""
        };
        let swapped = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            // The checkpoint first: the row stays locked until the swap commits.
            // (Inserted if the live store never ran the projector.)
            sqlx::query(
                "INSERT INTO projection_checkpoints (projector, position) VALUES ($1, $2)
                 ON CONFLICT (projector) DO UPDATE SET position = excluded.position",
            )
            .bind(projector)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO projection_shapes (projector, shape) VALUES ($1, $2)
                 ON CONFLICT (projector) DO UPDATE SET shape = excluded.shape",
            )
            .bind(projector)
            .bind(shape_of(schema))
            .execute(&mut *tx)
            .await?;
            for table in &tables {
                sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {live}{table}")))
                    .execute(&mut *tx)
                    .await?;
            }
            for statement in schema {
                sqlx::query(*statement).execute(&mut *tx).await?;
            }
            for table in &tables {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {live}{table} SELECT * FROM {name}.{table}"
                )))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }
        .await;
        if let Some(file) = &sqlite_file {
            sqlx::query(AssertSqlSafe(format!("DETACH DATABASE {name}")))
                .execute(&mut *conn)
                .await?;
            swapped?;
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{suffix}"));
            }
        } else {
            swapped?;
            sqlx::query(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .execute(&mut *conn)
            .await?;
        }
        Ok(position)
    }

    /// Runs `statements` (table and index creation) in one transaction, on PostgreSQL
    /// under a lock: several processes may create the same tables at once (two service
    /// instances, a projector process), and PostgreSQL's `CREATE … IF NOT EXISTS` is not
    /// safe against a concurrent twin. (SQLite's write lock serves.)
    pub(crate) async fn create(&self, statements: &[&'static str]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if self.is_postgres() {
            sqlx::query("SELECT pg_advisory_xact_lock(7414511)")
                .execute(&mut *tx)
                .await?;
        }
        for statement in statements {
            sqlx::query(*statement).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// Makes projector `name`'s tables those of `statements`. Where the store holds
    /// them in another shape — made by a release whose projector kept other columns —
    /// they are dropped and made again, and the checkpoint goes back to 0, so that the
    /// projector replays the log into them (queries waiting on `min_position` meanwhile).
    /// Answers whether it did.
    pub(crate) async fn create_shaped(
        &self,
        name: &str,
        statements: &[&'static str],
    ) -> Result<bool, sqlx::Error> {
        let shape = shape_of(statements);
        let mut tx = self.pool.begin().await?;
        if self.is_postgres() {
            sqlx::query("SELECT pg_advisory_xact_lock(7414511)")
                .execute(&mut *tx)
                .await?;
        } else {
            // Take SQLite's write lock before reading (waiting for it as long as the
            // busy timeout allows): a transaction that read first and then wrote while
            // another process's projector did the same would be refused outright.
            sqlx::query("UPDATE projection_shapes SET shape = shape WHERE projector = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        let stored: Option<String> =
            sqlx::query_scalar("SELECT shape FROM projection_shapes WHERE projector = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE projector = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        // A store from before shapes were kept has a checkpoint and no shape.
        let stale = match stored {
            Some(stored) => stored != shape,
            None => applied.unwrap_or(0) > 0,
        };
        if stale {
            for table in tables_of(statements) {
                sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE projection_checkpoints SET position = 0 WHERE projector = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        for statement in statements {
            sqlx::query(*statement).execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO projection_shapes (projector, shape) VALUES ($1, $2)
             ON CONFLICT (projector) DO UPDATE SET shape = excluded.shape",
        )
        .bind(name)
        .bind(&shape)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(stale)
    }

    /// Whether it is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url
            .as_deref()
            .is_some_and(|u| sqlite_path(u).is_none())
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The position projector `name` has applied (0: nothing yet).
    pub async fn checkpoint(&self, name: &str) -> Result<u64, sqlx::Error> {
        let row = sqlx::query("SELECT position FROM projection_checkpoints WHERE projector = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => u64::try_from(r.try_get::<i64, _>(0)?).unwrap_or(0),
            None => 0,
        })
    }
}

/// An event's position as the read stores keep it (a `BIGINT`).
pub(crate) fn position(e: &allweather_events::Envelope) -> i64 {
    i64::try_from(e.position).unwrap_or(i64::MAX)
}

/// The file of an SQLite URL (`sqlite://PATH[?…]`), none for PostgreSQL.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    Some(rest.split('?').next().unwrap_or(rest))
}

/// Makes sure projector `name` has a checkpoint row (at 0 when new).
pub(crate) async fn register(pool: &AnyPool, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (projector, position) VALUES ($1, 0)
         ON CONFLICT (projector) DO NOTHING",
    )
    .bind(name)
    .execute(pool)
    .await?;
    Ok(())
}

/// Moves projector `name`'s checkpoint from `from` to `to`, inside the caller's
/// transaction, as its first write: false if it is no longer at `from` (another instance
/// of the projector applied the batch first), and the batch must not be applied. The
/// row is locked until the transaction ends, so two instances never apply one batch.
pub(crate) async fn claim(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    from: u64,
    to: u64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE projection_checkpoints SET position = $3 WHERE projector = $1 AND position = $2",
    )
    .bind(name)
    .bind(i64::try_from(from).unwrap_or(i64::MAX))
    .bind(i64::try_from(to).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The rows of `sql` (every column text, in a stable order) as `table: a | b | …`: how a
/// projector dumps its tables to compare a live model with a rebuild.
pub(crate) async fn dump_rows(
    pool: &AnyPool,
    table: &str,
    sql: &'static str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(sql)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let cells: Vec<String> = (0..r.columns().len())
                .map(|i| r.try_get::<String, _>(i))
                .collect::<Result<_, _>>()?;
            Ok(format!("{table}: {}", cells.join(" | ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &[&str] = &["CREATE TABLE IF NOT EXISTS t_rows (id TEXT PRIMARY KEY)"];
    const NEW: &[&str] =
        &["CREATE TABLE IF NOT EXISTS t_rows (id TEXT PRIMARY KEY, extra BIGINT NOT NULL)"];

    async fn rows(store: &ReadStore) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t_rows")
            .fetch_one(store.pool())
            .await
            .expect("count")
    }

    async fn applied(store: &ReadStore, at: i64) {
        sqlx::query("UPDATE projection_checkpoints SET position = $1 WHERE projector = 't'")
            .bind(at)
            .execute(store.pool())
            .await
            .expect("checkpoint");
    }

    #[tokio::test]
    async fn tables_of_an_earlier_shape_are_made_again_and_replayed_from_the_start() {
        let store = ReadStore::scratch().await.expect("store");
        assert!(!store.create_shaped("t", OLD).await.expect("create"));
        register(store.pool(), "t").await.expect("register");
        sqlx::query("INSERT INTO t_rows (id) VALUES ('a')")
            .execute(store.pool())
            .await
            .expect("insert");
        applied(&store, 7).await;
        // The same shape again: kept as it is.
        assert!(!store.create_shaped("t", OLD).await.expect("create"));
        assert_eq!(
            (rows(&store).await, store.checkpoint("t").await.expect("at")),
            (1, 7)
        );
        // Another shape: made again, and the projector starts over.
        assert!(store.create_shaped("t", NEW).await.expect("create"));
        assert_eq!(
            (rows(&store).await, store.checkpoint("t").await.expect("at")),
            (0, 0)
        );
        sqlx::query("INSERT INTO t_rows (id, extra) VALUES ('a', 1)")
            .execute(store.pool())
            .await
            .expect("the new column is there");
    }

    #[tokio::test]
    async fn a_store_from_before_shapes_were_kept_is_made_again_once() {
        let store = ReadStore::scratch().await.expect("store");
        store
            .create(OLD)
            .await
            .expect("an earlier release's tables");
        register(store.pool(), "t").await.expect("register");
        applied(&store, 3).await;
        assert!(store.create_shaped("t", NEW).await.expect("create"));
        assert_eq!(store.checkpoint("t").await.expect("at"), 0);
        assert!(!store.create_shaped("t", NEW).await.expect("create"));
    }
}
