//! The key store beside the log: one key per person in need, whose personal details are
//! sealed with it before they enter the log, and whose erasure destroys it. The table
//! (`person_keys`) is updated in place and holds no event: the log's chain never depends
//! on it.
//!
//! A key is made on a person's first wish (`INSERT … ON CONFLICT DO NOTHING`, then read, so
//! two first wishes at once share one key). Destroying it leaves the row without a key, so
//! no new key, and no new wish, is made for an erased person. On SQLite the write-ahead log
//! is checkpointed and truncated after an erasure; on PostgreSQL the old row version lasts
//! until vacuum, and backups hold keys until they expire (see RELIABILITY.md).

/// A person's key as the store holds it.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredKey {
    /// No key was ever made for the person.
    Missing,
    /// The key.
    Live([u8; 32]),
    /// Destroyed by an erasure.
    Erased,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoredKey::Missing => "Missing",
            StoredKey::Live(_) => "Live(…)",
            StoredKey::Erased => "Erased",
        })
    }
}

impl StoredKey {
    pub(crate) fn from_row(row: Option<Option<Vec<u8>>>) -> Result<StoredKey, sqlx::Error> {
        Ok(match row {
            None => StoredKey::Missing,
            Some(None) => StoredKey::Erased,
            Some(Some(bytes)) => {
                StoredKey::Live(bytes.try_into().map_err(|_| {
                    sqlx::Error::Decode("a stored person key is not 32 bytes".into())
                })?)
            }
        })
    }
}

/// Defines `person_key`, `person_key_or_create` and `erase_person_key` for one backend.
macro_rules! person_keys {
    ($pool:ty) => {
        /// A person's key.
        pub(crate) async fn person_key(
            pool: &$pool,
            person_id: uuid::Uuid,
        ) -> Result<$crate::keys::StoredKey, $crate::error::LogError> {
            let row: Option<Option<Vec<u8>>> =
                sqlx::query_scalar("SELECT key FROM person_keys WHERE person_id = $1")
                    .bind(person_id)
                    .fetch_optional(pool)
                    .await?;
            Ok($crate::keys::StoredKey::from_row(row)?)
        }

        /// A person's key, made from `fresh` if they have none (and were never erased).
        pub(crate) async fn person_key_or_create(
            pool: &$pool,
            person_id: uuid::Uuid,
            fresh: [u8; 32],
            now: allweather_events::Timestamp,
        ) -> Result<$crate::keys::StoredKey, $crate::error::LogError> {
            // Two callers making the first key of one person at once: one insert wins
            // and both read the winner's key.
            sqlx::query(
                "INSERT INTO person_keys (person_id, key, created_at_us, erased_at_us) \
                 VALUES ($1, $2, $3, NULL) ON CONFLICT (person_id) DO NOTHING",
            )
            .bind(person_id)
            .bind(fresh.as_slice())
            .bind(now.as_micros())
            .execute(pool)
            .await?;
            person_key(pool, person_id).await
        }

        /// Destroys a person's key (and leaves a row that no key will ever be made
        /// for again). Destroying it again changes nothing.
        pub(crate) async fn erase_person_key(
            pool: &$pool,
            person_id: uuid::Uuid,
            now: allweather_events::Timestamp,
        ) -> Result<(), $crate::error::LogError> {
            sqlx::query(
                "INSERT INTO person_keys (person_id, key, created_at_us, erased_at_us) \
                 VALUES ($1, NULL, $2, $2) ON CONFLICT (person_id) DO UPDATE \
                 SET key = NULL, erased_at_us = COALESCE(person_keys.erased_at_us, excluded.erased_at_us)",
            )
            .bind(person_id)
            .bind(now.as_micros())
            .execute(pool)
            .await?;
            Ok(())
        }
    };
}
