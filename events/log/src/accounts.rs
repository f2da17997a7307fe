//! The platform's credentials (`accounts`, `signin_codes`, `sessions`), beside the log like
//! the key store: no event, no part of the chain, never in the mirror. The log records
//! who was given which role (`AccountInvited`); these tables hold how they sign in. A
//! sign-in code and a session are stored as the SHA-256 of their secret, a password as
//! its argon2id hash: what the tables hold lets nobody sign in. The policy (how long a
//! code lives, when a sign-in locks) is the command service's; this is storage.

use crate::error::LogError;
use uuid::Uuid;

/// An account, as the tables hold it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// Its id (a member's account has the member's id).
    pub account_id: Uuid,
    /// The role's stored name.
    pub role: String,
    /// The member, for a member's account.
    pub member_id: Option<Uuid>,
    /// The sign-in name, once chosen.
    pub login: Option<String>,
    /// The password's argon2id hash (PHC string), once set.
    pub password_hash: Option<String>,
    /// Disabled: no sign-in, no session.
    pub disabled: bool,
    /// Failed sign-ins since the last success.
    pub failures: i64,
    /// Locked out until then (microseconds since the epoch).
    pub locked_until_us: Option<i64>,
}

impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("account_id", &self.account_id)
            .field("role", &self.role)
            .field("member_id", &self.member_id)
            .field("login", &self.login)
            .field("disabled", &self.disabled)
            .field("failures", &self.failures)
            .field("locked_until_us", &self.locked_until_us)
            .finish_non_exhaustive()
    }
}

/// A live session and its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The account signed in.
    pub account: AccountRow,
    /// The token its forms carry.
    pub csrf: String,
    /// When it ends (microseconds since the epoch).
    pub expires_at_us: i64,
}

/// What setting a password with a code came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// Done: the account, signed-in sessions of before ended.
    Account(AccountRow),
    /// The code is unknown, used, expired, or its account disabled.
    NoSuchCode,
    /// Another account has the sign-in name.
    LoginTaken,
}

type Row = (
    Uuid,
    String,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    bool,
    i64,
    Option<i64>,
);

pub(crate) fn account_of(row: Row) -> AccountRow {
    let (account_id, role, member_id, login, password_hash, disabled, failures, locked_until_us) =
        row;
    AccountRow {
        account_id,
        role,
        member_id,
        login,
        password_hash,
        disabled,
        failures,
        locked_until_us,
    }
}

/// The columns of [`Row`], of table `a`.
macro_rules! account_columns {
    () => {
        "a.account_id, a.role, a.member_id, a.login, a.password_hash, a.disabled, a.failures, a.locked_until_us"
    };
}

/// Defines the account functions for one backend.
macro_rules! accounts {
    ($pool:ty) => {
        pub(crate) mod accounts {
            use super::*;
            use $crate::accounts::{AccountRow, Redeemed, SessionRow, account_of};
            use $crate::error::LogError;
            use uuid::Uuid;

            /// Makes the account, or (invited again) enables it.
            pub(crate) async fn put(
                pool: &$pool,
                account_id: Uuid,
                role: &str,
                member_id: Option<Uuid>,
                now_us: i64,
            ) -> Result<(), LogError> {
                sqlx::query(
                    "INSERT INTO accounts (account_id, role, member_id, created_at_us) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (account_id) DO UPDATE SET disabled = FALSE",
                )
                .bind(account_id)
                .bind(role)
                .bind(member_id)
                .bind(now_us)
                .execute(pool)
                .await?;
                Ok(())
            }

            /// Keeps a new sign-in code of the account; its earlier unused codes end.
            pub(crate) async fn put_code(
                pool: &$pool,
                account_id: Uuid,
                code_hash: &[u8],
                now_us: i64,
                expires_at_us: i64,
            ) -> Result<(), LogError> {
                let mut tx = pool.begin().await?;
                sqlx::query("DELETE FROM signin_codes WHERE account_id = $1 AND used_at_us IS NULL")
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO signin_codes (code_hash, account_id, issued_at_us, expires_at_us) VALUES ($1, $2, $3, $4)",
                )
                .bind(code_hash)
                .bind(account_id)
                .bind(now_us)
                .bind(expires_at_us)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            /// The enabled account an unused, unexpired code is for.
            pub(crate) async fn by_code(
                pool: &$pool,
                code_hash: &[u8],
                now_us: i64,
            ) -> Result<Option<AccountRow>, LogError> {
                let row = sqlx::query_as(concat!(
                    "SELECT ", account_columns!(), " FROM signin_codes c JOIN accounts a ON a.account_id = c.account_id \
                     WHERE c.code_hash = $1 AND c.used_at_us IS NULL AND c.expires_at_us > $2 AND NOT a.disabled"
                ))
                .bind(code_hash)
                .bind(now_us)
                .fetch_optional(pool)
                .await?;
                Ok(row.map(account_of))
            }

            /// Uses the code: the account gets the sign-in name and password, its lock-out
            /// is lifted and its sessions end. All or nothing.
            pub(crate) async fn redeem(
                pool: &$pool,
                code_hash: &[u8],
                login: &str,
                password_hash: &str,
                now_us: i64,
            ) -> Result<Redeemed, LogError> {
                let mut tx = pool.begin().await?;
                let used: Option<(Uuid,)> = sqlx::query_as(
                    "UPDATE signin_codes SET used_at_us = $2 WHERE code_hash = $1 AND used_at_us IS NULL \
                     AND expires_at_us > $2 AND account_id IN (SELECT account_id FROM accounts WHERE NOT disabled) \
                     RETURNING account_id",
                )
                .bind(code_hash)
                .bind(now_us)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((account_id,)) = used else {
                    return Ok(Redeemed::NoSuchCode);
                };
                let set = sqlx::query(
                    "UPDATE accounts SET login = $2, password_hash = $3, failures = 0, locked_until_us = NULL \
                     WHERE account_id = $1",
                )
                .bind(account_id)
                .bind(login)
                .bind(password_hash)
                .execute(&mut *tx)
                .await;
                match set {
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        return Ok(Redeemed::LoginTaken);
                    }
                    other => {
                        other?;
                    }
                }
                sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?;
                let row = sqlx::query_as(concat!("SELECT ", account_columns!(), " FROM accounts a WHERE a.account_id = $1"))
                    .bind(account_id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Redeemed::Account(account_of(row)))
            }

            /// The account of a sign-in name (in lower case).
            pub(crate) async fn by_login(
                pool: &$pool,
                login: &str,
            ) -> Result<Option<AccountRow>, LogError> {
                let row = sqlx::query_as(concat!("SELECT ", account_columns!(), " FROM accounts a WHERE a.login = $1"))
                    .bind(login)
                    .fetch_optional(pool)
                    .await?;
                Ok(row.map(account_of))
            }

            /// The account `account_id`.
            pub(crate) async fn by_id(
                pool: &$pool,
                account_id: Uuid,
            ) -> Result<Option<AccountRow>, LogError> {
                let row = sqlx::query_as(concat!("SELECT ", account_columns!(), " FROM accounts a WHERE a.account_id = $1"))
                    .bind(account_id)
                    .fetch_optional(pool)
                    .await?;
                Ok(row.map(account_of))
            }

            /// Every account, role accounts first, then by sign-in name.
            pub(crate) async fn all(pool: &$pool) -> Result<Vec<AccountRow>, LogError> {
                let rows = sqlx::query_as(concat!("SELECT ", account_columns!(),
                    " FROM accounts a ORDER BY a.member_id IS NOT NULL, a.login, a.account_id"))
                    .fetch_all(pool)
                    .await?;
                Ok(rows.into_iter().map(account_of).collect())
            }

            /// Counts a failed sign-in; answers the failures since the last success.
            pub(crate) async fn failed(
                pool: &$pool,
                account_id: Uuid,
            ) -> Result<i64, LogError> {
                let (failures,): (i64,) = sqlx::query_as(
                    "UPDATE accounts SET failures = failures + 1 WHERE account_id = $1 RETURNING failures",
                )
                .bind(account_id)
                .fetch_one(pool)
                .await?;
                Ok(failures)
            }

            /// Locks the account out until `until_us`.
            pub(crate) async fn lock(
                pool: &$pool,
                account_id: Uuid,
                until_us: i64,
            ) -> Result<(), LogError> {
                sqlx::query("UPDATE accounts SET locked_until_us = $2 WHERE account_id = $1")
                    .bind(account_id)
                    .bind(until_us)
                    .execute(pool)
                    .await?;
                Ok(())
            }

            /// A successful sign-in: the count of failures starts again.
            pub(crate) async fn succeeded(pool: &$pool, account_id: Uuid) -> Result<(), LogError> {
                sqlx::query("UPDATE accounts SET failures = 0, locked_until_us = NULL WHERE account_id = $1")
                    .bind(account_id)
                    .execute(pool)
                    .await?;
                Ok(())
            }

            /// Opens a session.
            pub(crate) async fn open_session(
                pool: &$pool,
                session_hash: &[u8],
                account_id: Uuid,
                csrf: &str,
                now_us: i64,
                expires_at_us: i64,
            ) -> Result<(), LogError> {
                sqlx::query(
                    "INSERT INTO sessions (session_hash, account_id, csrf, created_at_us, expires_at_us) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(session_hash)
                .bind(account_id)
                .bind(csrf)
                .bind(now_us)
                .bind(expires_at_us)
                .execute(pool)
                .await?;
                Ok(())
            }

            /// The live session of that hash, of an enabled account.
            pub(crate) async fn session(
                pool: &$pool,
                session_hash: &[u8],
                now_us: i64,
            ) -> Result<Option<SessionRow>, LogError> {
                let row: Option<(Uuid, String, Option<Uuid>, Option<String>, Option<String>, bool, i64, Option<i64>, String, i64)> =
                    sqlx::query_as(concat!(
                        "SELECT ", account_columns!(), ", s.csrf, s.expires_at_us FROM sessions s JOIN accounts a ON a.account_id = s.account_id \
                         WHERE s.session_hash = $1 AND s.expires_at_us > $2 AND NOT a.disabled"
                    ))
                    .bind(session_hash)
                    .bind(now_us)
                    .fetch_optional(pool)
                    .await?;
                Ok(row.map(|(a, b, c, d, e, f, g, h, csrf, expires_at_us)| SessionRow {
                    account: account_of((a, b, c, d, e, f, g, h)),
                    csrf,
                    expires_at_us,
                }))
            }

            /// Ends one session.
            pub(crate) async fn close_session(pool: &$pool, session_hash: &[u8]) -> Result<(), LogError> {
                sqlx::query("DELETE FROM sessions WHERE session_hash = $1")
                    .bind(session_hash)
                    .execute(pool)
                    .await?;
                Ok(())
            }

            /// Ends every session of the account, and those past their end anywhere.
            pub(crate) async fn close_sessions(
                pool: &$pool,
                account_id: Uuid,
                now_us: i64,
            ) -> Result<(), LogError> {
                sqlx::query("DELETE FROM sessions WHERE account_id = $1 OR expires_at_us <= $2")
                    .bind(account_id)
                    .bind(now_us)
                    .execute(pool)
                    .await?;
                Ok(())
            }

            /// Disables the account at once: its sessions and unused codes end.
            pub(crate) async fn disable(pool: &$pool, account_id: Uuid) -> Result<bool, LogError> {
                let mut tx = pool.begin().await?;
                let done = sqlx::query("UPDATE accounts SET disabled = TRUE WHERE account_id = $1")
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM signin_codes WHERE account_id = $1 AND used_at_us IS NULL")
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done)
            }
        }
    };
}

/// The credential tables of a log (`Log::accounts`).
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a>(pub(crate) &'a crate::Db);

/// Calls the backend's `accounts::$f` with the pool and `$args`.
macro_rules! on_db {
    ($db:expr, $f:ident($($arg:expr),*)) => {
        match $db {
            crate::Db::Postgres(pool) => crate::postgres::accounts::$f(pool, $($arg),*).await,
            crate::Db::Sqlite(pool) => crate::sqlite::accounts::$f(pool, $($arg),*).await,
        }
    };
}

impl Accounts<'_> {
    /// Makes the account, or (invited again) enables it.
    pub async fn put(
        &self,
        account_id: Uuid,
        role: &str,
        member_id: Option<Uuid>,
        now_us: i64,
    ) -> Result<(), LogError> {
        on_db!(self.0, put(account_id, role, member_id, now_us))
    }

    /// Keeps a new sign-in code (its SHA-256) of the account; its earlier unused codes end.
    pub async fn put_code(
        &self,
        account_id: Uuid,
        code_hash: &[u8],
        now_us: i64,
        expires_at_us: i64,
    ) -> Result<(), LogError> {
        on_db!(
            self.0,
            put_code(account_id, code_hash, now_us, expires_at_us)
        )
    }

    /// The enabled account an unused, unexpired code is for.
    pub async fn by_code(
        &self,
        code_hash: &[u8],
        now_us: i64,
    ) -> Result<Option<AccountRow>, LogError> {
        on_db!(self.0, by_code(code_hash, now_us))
    }

    /// Uses the code: the account gets the sign-in name and password hash, its lock-out
    /// is lifted and its sessions end; all or nothing.
    pub async fn redeem(
        &self,
        code_hash: &[u8],
        login: &str,
        password_hash: &str,
        now_us: i64,
    ) -> Result<Redeemed, LogError> {
        on_db!(self.0, redeem(code_hash, login, password_hash, now_us))
    }

    /// The account of a sign-in name (as stored: in lower case).
    pub async fn by_login(&self, login: &str) -> Result<Option<AccountRow>, LogError> {
        on_db!(self.0, by_login(login))
    }

    /// The account `account_id`.
    pub async fn by_id(&self, account_id: Uuid) -> Result<Option<AccountRow>, LogError> {
        on_db!(self.0, by_id(account_id))
    }

    /// Every account, role accounts first, then by sign-in name.
    pub async fn all(&self) -> Result<Vec<AccountRow>, LogError> {
        on_db!(self.0, all())
    }

    /// Counts a failed sign-in; answers the failures since the last success.
    pub async fn failed(&self, account_id: Uuid) -> Result<i64, LogError> {
        on_db!(self.0, failed(account_id))
    }

    /// Locks the account out until `until_us`.
    pub async fn lock(&self, account_id: Uuid, until_us: i64) -> Result<(), LogError> {
        on_db!(self.0, lock(account_id, until_us))
    }

    /// A successful sign-in: the count of failures starts again.
    pub async fn succeeded(&self, account_id: Uuid) -> Result<(), LogError> {
        on_db!(self.0, succeeded(account_id))
    }

    /// Opens a session (its SHA-256), ending at `expires_at_us`.
    pub async fn open_session(
        &self,
        session_hash: &[u8],
        account_id: Uuid,
        csrf: &str,
        now_us: i64,
        expires_at_us: i64,
    ) -> Result<(), LogError> {
        on_db!(
            self.0,
            open_session(session_hash, account_id, csrf, now_us, expires_at_us)
        )
    }

    /// The live session of that hash, of an enabled account.
    pub async fn session(
        &self,
        session_hash: &[u8],
        now_us: i64,
    ) -> Result<Option<SessionRow>, LogError> {
        on_db!(self.0, session(session_hash, now_us))
    }

    /// Ends one session.
    pub async fn close_session(&self, session_hash: &[u8]) -> Result<(), LogError> {
        on_db!(self.0, close_session(session_hash))
    }

    /// Ends every session of the account (and any past its end).
    pub async fn close_sessions(&self, account_id: Uuid, now_us: i64) -> Result<(), LogError> {
        on_db!(self.0, close_sessions(account_id, now_us))
    }

    /// Disables the account at once: its sessions and unused codes end. `false` when
    /// there is no such account.
    pub async fn disable(&self, account_id: Uuid) -> Result<bool, LogError> {
        on_db!(self.0, disable(account_id))
    }
}
