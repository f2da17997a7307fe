//! Signing in to the platform, as a county can run it without outside services.
//!
//! - An account is given by the `InviteAccount` command (so the log records who gave
//!   whom which role, and when) and comes with a one-time **sign-in code**: 16 letters
//!   and digits that cannot be mistaken for one another, valid [`CODE_LIFETIME`], ending
//!   any earlier code of the account. With it the person chooses a sign-in name and a
//!   password, and is signed in; their earlier sessions end (a code is also how a
//!   forgotten password is reset).
//! - Passwords are hashed with argon2id (the crate's defaults: 19 MiB, 2 passes), off
//!   the async threads. A wrong password or unknown name gets one answer, after the same
//!   work. After [`FREE_FAILURES`] failures in a row the account is locked out for a
//!   minute, doubling with each further failure up to an hour; a locked account is not
//!   even checked.
//! - A **session** is 32 random bytes in a cookie, kept as their SHA-256 beside the log,
//!   with a CSRF token its forms carry; it lasts [`SESSION_LIFETIME`]. Signing out ends
//!   it, signing out everywhere ends every session of the account, and disabling the
//!   account (`DisableAccount`) ends them all at once.
//!
//! The acting principal of an account's session has the subject `account:{id}`: the
//! actor of every event a page causes. A member's account acts as the member, and on a
//! branch's pages as its secretary, which the domain allows only while the branch's
//! stream says they are.

use crate::reply::{CommandReply, SigninCode};
use crate::{CommandError, CommandService};
use allweather_domain::command::{DisableAccount, InviteAccount};
use allweather_domain::{Command, Principal};
use allweather_events::Role;
use allweather_log::{AccountRow, Redeemed};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use sha2::{Digest as _, Sha256};
use std::time::Duration;
use uuid::Uuid;

/// How long a sign-in code can be used.
pub const CODE_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

/// Failed sign-ins in a row before the account is locked out.
pub const FREE_FAILURES: i64 = 5;

/// The first lock-out; each further failure doubles it, up to [`LONGEST_LOCKOUT`].
pub const FIRST_LOCKOUT: Duration = Duration::from_secs(60);

/// The longest lock-out.
pub const LONGEST_LOCKOUT: Duration = Duration::from_secs(3600);

/// The subject prefix of an account's principal.
pub const SUBJECT_PREFIX: &str = "account:";

/// Shortest and longest password, in characters.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;

/// Shortest and longest sign-in name, in characters.
pub const LOGIN_CHARS: std::ops::RangeInclusive<usize> = 3..=32;

/// The letters of a sign-in code: digits and capitals without I, L, O and U.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new account's sign-in code, shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The account.
    pub account_id: Uuid,
    /// The code, grouped by four (`XXXX-XXXX-XXXX-XXXX`).
    pub code: String,
    /// The log position of the `AccountInvited` event.
    pub position: u64,
    /// Until when the code can be used (microseconds since the epoch).
    pub expires_at_us: i64,
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitation")
            .field("account_id", &self.account_id)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

/// A signed-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub account_id: Uuid,
    /// The role it acts in.
    pub role: Role,
    /// The member, for a member's account.
    pub member_id: Option<Uuid>,
    /// Its sign-in name.
    pub login: String,
}

impl Account {
    fn of(row: AccountRow) -> Result<Account, CommandError> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| anyhow::anyhow!("account {} has an unknown role", row.account_id))?;
        Ok(Account {
            account_id: row.account_id,
            role,
            member_id: row.member_id,
            login: row.login.unwrap_or_default(),
        })
    }

    /// The account acting in its own role (a member's: as the member).
    pub fn principal(&self) -> Principal {
        Principal {
            subject: format!("{SUBJECT_PREFIX}{}", self.account_id),
            role: self.role,
            member_id: self.member_id,
            branch_id: None,
        }
    }

    /// A member's account acting as the secretary of `branch_id` (the domain checks that
    /// they are, on the branch's stream as it stands).
    pub fn as_secretary(&self, branch_id: Uuid) -> Option<Principal> {
        (self.role == Role::Member).then(|| Principal {
            subject: format!("{SUBJECT_PREFIX}{}", self.account_id),
            role: Role::Secretary,
            member_id: self.member_id,
            branch_id: Some(branch_id),
        })
    }
}

/// A session: its secret (for the cookie, shown once) and its CSRF token.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The cookie's value.
    pub secret: String,
    /// The token its forms carry.
    pub csrf: String,
    /// The account.
    pub account: Account,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account signed in.
    pub account: Account,
    /// The token its forms must carry.
    pub csrf: String,
}

/// Why a sign-in or a first password was refused. Each names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// Unknown name, or wrong password: one answer for both.
    #[error("the sign-in name or the password is wrong")]
    WrongCredentials,
    /// Too many failures: locked out until then (microseconds since the epoch).
    #[error("too many failed sign-ins: the account is locked for a while")]
    LockedOut {
        /// Until when.
        until_us: i64,
    },
    /// The code is unknown, used, expired, or its account disabled.
    #[error("the sign-in code is unknown, used or expired; ask for a new one")]
    NoSuchCode,
    /// The sign-in name is not one this platform takes.
    #[error(
        "the sign-in name must be 3 to 32 lower-case letters, digits, '.', '_' or '-', and not a role's name"
    )]
    BadLogin,
    /// Another account has the sign-in name.
    #[error("that sign-in name is taken")]
    LoginTaken,
    /// The password is too short or too long, or is the sign-in name.
    #[error("the password must be 8 to 128 characters and not the sign-in name")]
    WeakPassword,
}

impl SignInError {
    /// The form field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            SignInError::WrongCredentials | SignInError::LockedOut { .. } => "password",
            SignInError::NoSuchCode => "code",
            SignInError::BadLogin | SignInError::LoginTaken => "login",
            SignInError::WeakPassword => "password",
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The SHA-256 of a secret, as stored.
fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random<const N: usize>() -> Result<[u8; N], CommandError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("draw random bytes: {e}"))?;
    Ok(bytes)
}

/// A fresh sign-in code: 80 random bits as 16 letters, grouped by four.
fn new_code() -> Result<String, CommandError> {
    let bytes = random::<16>()?;
    let letters: Vec<char> = bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b % 32)]))
        .collect();
    Ok(letters
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// A code as typed: spaces, dashes and case do not matter, and O, I and L read as 0, 1
/// and 1.
pub fn normalise_code(typed: &str) -> String {
    let letters: Vec<char> = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    letters
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A sign-in name as stored (lower case), or why it is refused.
pub fn normalise_login(typed: &str) -> Result<String, SignInError> {
    let login = typed.trim().to_ascii_lowercase();
    let fits = LOGIN_CHARS.contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && Role::parse(&login).is_none();
    if fits {
        Ok(login)
    } else {
        Err(SignInError::BadLogin)
    }
}

/// The lock-out after `failures` failures in a row, if any.
pub fn lockout(failures: i64) -> Option<Duration> {
    let beyond = u32::try_from(failures - FREE_FAILURES).ok()?;
    let factor = 2u32.checked_pow(beyond).unwrap_or(u32::MAX);
    Some(FIRST_LOCKOUT.saturating_mul(factor).min(LONGEST_LOCKOUT))
}

async fn hash_password(password: String) -> Result<String, CommandError> {
    let salt = random::<16>()?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hash a password: {e}"))
    })
    .await
    .map_err(|e| anyhow::anyhow!("the hashing task failed: {e}"))?
    .map_err(CommandError::from)
}

/// A stand-in hash, checked when there is no account, so that an unknown name takes the
/// time a wrong password takes.
const NOBODY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bm9ib2R5bm9ib2R5$2fB0pX1VjQ0nGqkZ7C8b7b8cMYt6kAqg0G7m5Wl3Yzs";

async fn verify_password(password: String, hash: String) -> Result<bool, CommandError> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|e| CommandError::from(anyhow::anyhow!("the hashing task failed: {e}")))
}

impl CommandService {
    fn now_us(&self) -> i64 {
        self.now().as_micros()
    }

    /// What an account's command does beside the log, however it came (a page, the CLI,
    /// the API, NATS): `InviteAccount` keeps the account and gives it a new sign-in code
    /// (in the reply, ending any earlier code; a repeat of the command gives another),
    /// `DisableAccount` ends its sessions and codes at once.
    pub(crate) async fn beside_the_log(
        &self,
        name: &str,
        body: &[u8],
        mut reply: CommandReply,
    ) -> Result<CommandReply, CommandError> {
        let command = match name {
            "InviteAccount" | "DisableAccount" => {
                Command::parse(name, body).map_err(|e| CommandError::field(e.field, e.message))?
            }
            _ => return Ok(reply),
        };
        let accounts = self.log().accounts();
        match command {
            Some(Command::InviteAccount(invite)) => {
                let account_id: Uuid = match invite.member_id {
                    Some(m) => m,
                    None => reply
                        .id
                        .parse()
                        .map_err(|_| anyhow::anyhow!("the invitation's reply names no account"))?,
                };
                // The command's shape gives a member or a role; the domain refuses any
                // other role.
                let role = invite.role.unwrap_or(Role::Member);
                let now = self.now_us();
                accounts
                    .put(account_id, role.as_str(), invite.member_id, now)
                    .await?;
                let code = new_code()?;
                let expires_at_us = now.saturating_add(micros(CODE_LIFETIME));
                accounts
                    .put_code(account_id, &digest(&code), now, expires_at_us)
                    .await?;
                reply.signin_code = Some(SigninCode {
                    account_id,
                    code,
                    expires_at_us,
                });
            }
            Some(Command::DisableAccount(disable)) => {
                accounts.disable(disable.account_id).await?;
            }
            _ => {}
        }
        Ok(reply)
    }

    /// Gives an account (the `InviteAccount` command, as `principal`) and a new sign-in
    /// code for it. Again for the same account: a new code, the old one ended.
    pub async fn invite_account(
        &self,
        principal: &Principal,
        invite: InviteAccount,
        idempotency_key: Option<&str>,
    ) -> Result<Invitation, CommandError> {
        let reply = self.submit(principal, invite, idempotency_key).await?;
        let code = reply
            .signin_code
            .ok_or_else(|| anyhow::anyhow!("an invitation without a sign-in code"))?;
        Ok(Invitation {
            account_id: code.account_id,
            code: code.code,
            position: reply.position,
            expires_at_us: code.expires_at_us,
        })
    }

    /// Disables an account (the `DisableAccount` command, as `principal`): its sessions
    /// and codes end at once.
    pub async fn disable_account(
        &self,
        principal: &Principal,
        disable: DisableAccount,
        idempotency_key: Option<&str>,
    ) -> Result<u64, CommandError> {
        Ok(self
            .submit(principal, disable, idempotency_key)
            .await?
            .position)
    }

    /// Every account, for those who oversee (the committee and its auditors).
    pub async fn accounts(&self, principal: &Principal) -> Result<Vec<AccountRow>, CommandError> {
        self.authorize(principal, &allweather_domain::permissions::Read::Oversight)
            .await?;
        Ok(self.log().accounts().all().await?)
    }

    /// The account a sign-in code is for, if it can still be used.
    pub async fn account_of_code(&self, code: &str) -> Result<Option<Account>, CommandError> {
        let hash = digest(&normalise_code(code));
        match self.log().accounts().by_code(&hash, self.now_us()).await? {
            Some(row) => Ok(Some(Account::of(row)?)),
            None => Ok(None),
        }
    }

    /// Uses a sign-in code: the account gets `login` and `password`, and a new session.
    pub async fn set_password(
        &self,
        code: &str,
        login: &str,
        password: &str,
    ) -> Result<Result<NewSession, SignInError>, CommandError> {
        let login = match normalise_login(login) {
            Ok(login) => login,
            Err(e) => return Ok(Err(e)),
        };
        if !PASSWORD_CHARS.contains(&password.chars().count())
            || password.trim().to_lowercase() == login
        {
            return Ok(Err(SignInError::WeakPassword));
        }
        let hash = digest(&normalise_code(code));
        let accounts = self.log().accounts();
        // Checked first, so that a wrong code costs no hashing.
        if accounts.by_code(&hash, self.now_us()).await?.is_none() {
            return Ok(Err(SignInError::NoSuchCode));
        }
        let password_hash = hash_password(password.to_owned()).await?;
        match accounts
            .redeem(&hash, &login, &password_hash, self.now_us())
            .await?
        {
            Redeemed::Account(row) => Ok(Ok(self.open_session(Account::of(row)?).await?)),
            Redeemed::NoSuchCode => Ok(Err(SignInError::NoSuchCode)),
            Redeemed::LoginTaken => Ok(Err(SignInError::LoginTaken)),
        }
    }

    /// Signs in with a name and password: a new session, or why not.
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Result<NewSession, SignInError>, CommandError> {
        let accounts = self.log().accounts();
        let row = match normalise_login(login) {
            Ok(login) => accounts.by_login(&login).await?,
            Err(_) => None,
        };
        let Some(row) = row else {
            verify_password(password.to_owned(), NOBODY.to_owned()).await?;
            return Ok(Err(SignInError::WrongCredentials));
        };
        let now = self.now_us();
        if let Some(until_us) = row.locked_until_us.filter(|until| *until > now) {
            return Ok(Err(SignInError::LockedOut { until_us }));
        }
        let hash = row
            .password_hash
            .clone()
            .unwrap_or_else(|| NOBODY.to_owned());
        let right = verify_password(password.to_owned(), hash).await?;
        if !right || row.disabled || row.password_hash.is_none() {
            let failures = accounts.failed(row.account_id).await?;
            if let Some(lock) = lockout(failures) {
                let until_us = now.saturating_add(micros(lock));
                accounts.lock(row.account_id, until_us).await?;
                return Ok(Err(SignInError::LockedOut { until_us }));
            }
            return Ok(Err(SignInError::WrongCredentials));
        }
        accounts.succeeded(row.account_id).await?;
        Ok(Ok(self.open_session(Account::of(row)?).await?))
    }

    async fn open_session(&self, account: Account) -> Result<NewSession, CommandError> {
        let secret = hex::encode(random::<32>()?);
        let csrf = hex::encode(random::<32>()?);
        let now = self.now_us();
        self.log()
            .accounts()
            .open_session(
                &digest(&secret),
                account.account_id,
                &csrf,
                now,
                now.saturating_add(micros(SESSION_LIFETIME)),
            )
            .await?;
        Ok(NewSession {
            secret,
            csrf,
            account,
        })
    }

    /// The live session of a cookie's secret, of an enabled account.
    pub async fn session(&self, secret: &str) -> Result<Option<Session>, CommandError> {
        let found = self
            .log()
            .accounts()
            .session(&digest(secret), self.now_us())
            .await?;
        match found {
            Some(row) => Ok(Some(Session {
                account: Account::of(row.account)?,
                csrf: row.csrf,
            })),
            None => Ok(None),
        }
    }

    /// Ends the session of a cookie's secret.
    pub async fn sign_out(&self, secret: &str) -> Result<(), CommandError> {
        Ok(self.log().accounts().close_session(&digest(secret)).await?)
    }

    /// Ends every session of the account.
    pub async fn sign_out_everywhere(&self, account_id: Uuid) -> Result<(), CommandError> {
        Ok(self
            .log()
            .accounts()
            .close_sessions(account_id, self.now_us())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_sixteen_unmistakable_letters_read_back_however_typed() {
        let code = new_code().expect("code");
        assert_eq!(code.len(), 19, "{code}");
        assert!(
            code.chars()
                .all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8)))
        );
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(normalise_code(&typed), code);
        assert_eq!(normalise_code("o1il-0000"), "0111-0000");
    }

    #[test]
    fn the_lockout_starts_after_five_failures_and_doubles_up_to_an_hour() {
        assert_eq!(lockout(4), None);
        assert_eq!(lockout(5), Some(Duration::from_secs(60)));
        assert_eq!(lockout(6), Some(Duration::from_secs(120)));
        assert_eq!(lockout(11), Some(Duration::from_secs(3600)));
        assert_eq!(lockout(1000), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn a_sign_in_name_is_plain_lower_case_and_never_a_role() {
        assert_eq!(normalise_login(" Ann.Li "), Ok("ann.li".into()));
        assert_eq!(normalise_login("13800138000"), Ok("13800138000".into()));
        for bad in ["ab", "auditor", "ann li", "安妮", &"a".repeat(33)] {
            assert_eq!(normalise_login(bad), Err(SignInError::BadLogin), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_stand_in_hash_is_a_real_argon2id_hash() {
        assert!(PasswordHash::new(NOBODY).is_ok());
        let hash = hash_password("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse".into(), hash.clone())
                .await
                .expect("verify")
        );
        assert!(
            !verify_password("wrong horse".into(), hash)
                .await
                .expect("verify")
        );
    }
}
