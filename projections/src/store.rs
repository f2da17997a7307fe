//! Where read models live, and the projectors' checkpoints.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};
use std::str::FromStr as _;
use std::time::Duration;

/// The checkpoints of every projector: the last position each has applied.
const CHECKPOINTS: &str = "CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projector TEXT PRIMARY KEY,
    position  BIGINT NOT NULL
)";

/// The database of the read models.
#[derive(Debug, Clone)]
pub struct ReadStore {
    pool: AnyPool,
}

impl ReadStore {
    /// Opens `url` (`postgres://…`, or `sqlite://PATH`, created if missing).
    pub async fn open(url: &str) -> Result<ReadStore, sqlx::Error> {
        sqlx::any::install_default_drivers();
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
                Box::pin(async move {
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
        sqlx::query(CHECKPOINTS).execute(&pool).await?;
        Ok(ReadStore { pool })
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
        Ok(ReadStore { pool })
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
