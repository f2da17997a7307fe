//! Revoked bearer tokens (`token_revocations`), beside the log like the key store: no
//! event, no part of the chain. `allweather token revoke` writes a row; every service
//! instance reloads the table and checks it on every request.

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The token holder's subject.
    pub subject: String,
    /// The one token revoked (its `jti`); `None`: every token of the subject issued at or
    /// before `revoked_at`.
    pub token_id: Option<String>,
    /// When, in seconds since the epoch.
    pub revoked_at: i64,
}

/// Defines `revoke` and `revocations` for one backend.
macro_rules! revocations {
    ($pool:ty) => {
        /// Records a revocation (a later one of the same subject and token moves its time).
        pub(crate) async fn revoke(
            pool: &$pool,
            r: &$crate::revocations::Revocation,
        ) -> Result<(), $crate::error::LogError> {
            sqlx::query(
                "INSERT INTO token_revocations (subject, token_id, revoked_at_s) VALUES ($1, $2, $3) \
                 ON CONFLICT (subject, token_id) DO UPDATE SET revoked_at_s = excluded.revoked_at_s",
            )
            .bind(&r.subject)
            .bind(r.token_id.as_deref().unwrap_or_default())
            .bind(r.revoked_at)
            .execute(pool)
            .await?;
            Ok(())
        }

        /// Every revocation.
        pub(crate) async fn revocations(
            pool: &$pool,
        ) -> Result<Vec<$crate::revocations::Revocation>, $crate::error::LogError> {
            let rows: Vec<(String, String, i64)> =
                sqlx::query_as("SELECT subject, token_id, revoked_at_s FROM token_revocations")
                    .fetch_all(pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|(subject, token_id, revoked_at)| $crate::revocations::Revocation {
                    subject,
                    token_id: Some(token_id).filter(|t| !t.is_empty()),
                    revoked_at,
                })
                .collect())
        }
    };
}
