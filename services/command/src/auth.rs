//! Bearer tokens: HS256-signed JWTs carrying the role and scope of their holder, with an
//! expiry. The signing secret lives in `--data-dir/token-secret` (created on first use,
//! mode 0600) unless `ALLWEATHER_TOKEN_SECRET` gives it; it is never logged or shown.
//!
//! A token is refused when it is past its expiry, issued (`iat`) or valid from (`nbf`) in
//! the future, meant to live longer than [`MAX_LIFETIME`], of an unknown role, without the
//! scope its role needs, named for a role rather than a holder (a person or a named
//! service: "the admin who published" is one person), or revoked: by its id (`jti`), or
//! with every token of its holder issued until a moment ([`Revoked`], kept beside the log
//! and reloaded by the service every second).

use allweather_domain::Principal;
use allweather_events::Role;
use allweather_log::{Log, Revocation};
use anyhow::Context as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The file in the data directory that holds the secret, hex encoded.
pub const SECRET_FILE: &str = "token-secret";

/// The longest a token may live, from `iat` to `exp`, checked on every verify.
pub const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// How far a clock may be off: a token's `exp`, `iat` and `nbf` are read with this slack.
const LEEWAY_SECONDS: u64 = 30;

/// What a token says of its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The holder: recorded as the actor of every event the token causes.
    pub sub: String,
    /// The role (`member`, `secretary`, `service_centre`, `committee_admin`, `auditor`, `system`).
    pub role: String,
    /// The member the holder is (required for members and secretaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Uuid>,
    /// The branch a secretary acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<Uuid>,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// The token's own id, by which it can be revoked alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// Why a token was refused. The messages name the problem, never the token or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …`.
    #[error("a bearer token is required (Authorization: Bearer TOKEN)")]
    Missing,
    /// Past its expiry.
    #[error("the token has expired")]
    Expired,
    /// Not signed with this service's secret.
    #[error("the token's signature is not valid")]
    BadSignature,
    /// Signed with another algorithm than HS256 (including `none`).
    #[error("the token's algorithm is not accepted (HS256 only)")]
    BadAlgorithm,
    /// Not a token, or its claims do not fit a role.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// Issued or valid from a time in the future, or meant to live too long.
    #[error("the token is not valid: {0}")]
    Invalid(String),
    /// Revoked (`allweather token revoke`).
    #[error("the token has been revoked")]
    Revoked,
}

/// The signing secret, and the revocations every verify checks.
#[derive(Clone)]
pub struct TokenKey {
    secret: Vec<u8>,
    revoked: Arc<RwLock<Revoked>>,
}

/// The revocations in force: single tokens by id, and each subject's tokens issued at or
/// before a moment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Revoked {
    tokens: HashSet<String>,
    subjects: HashMap<String, i64>,
}

impl Revoked {
    /// The revocations of `rows` (as the log's table holds them).
    pub fn of(rows: impl IntoIterator<Item = Revocation>) -> Revoked {
        let mut revoked = Revoked::default();
        for r in rows {
            match r.token_id {
                Some(id) => {
                    revoked.tokens.insert(id);
                }
                None => {
                    let at = revoked.subjects.entry(r.subject).or_insert(r.revoked_at);
                    *at = (*at).max(r.revoked_at);
                }
            }
        }
        revoked
    }

    fn refuses(&self, claims: &Claims) -> bool {
        claims
            .jti
            .as_ref()
            .is_some_and(|id| self.tokens.contains(id))
            || self
                .subjects
                .get(&claims.sub)
                .is_some_and(|at| i64::try_from(claims.iat).is_ok_and(|iat| iat <= *at))
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<secret>)")
    }
}

impl TokenKey {
    /// A key from secret bytes (at least [`MIN_SECRET_BYTES`]).
    pub fn from_secret(secret: impl Into<Vec<u8>>) -> anyhow::Result<TokenKey> {
        let secret = secret.into();
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "the token secret must be at least {MIN_SECRET_BYTES} bytes, it is {}",
            secret.len()
        );
        Ok(TokenKey {
            secret,
            revoked: Arc::default(),
        })
    }

    /// Puts `revoked` in force for every verify from now on (and for every clone of this
    /// key).
    pub fn set_revoked(&self, revoked: Revoked) {
        match self.revoked.write() {
            Ok(mut r) => *r = revoked,
            Err(poisoned) => *poisoned.into_inner() = revoked,
        }
    }

    fn is_revoked(&self, claims: &Claims) -> bool {
        match self.revoked.read() {
            Ok(r) => r.refuses(claims),
            Err(poisoned) => poisoned.into_inner().refuses(claims),
        }
    }

    /// The secret given (from `ALLWEATHER_TOKEN_SECRET`), else the one in `data_dir`,
    /// created there on first use with mode 0600.
    pub fn load(given: Option<&str>, data_dir: &Path) -> anyhow::Result<TokenKey> {
        if let Some(secret) = given {
            return Self::from_secret(secret.as_bytes()).context("ALLWEATHER_TOKEN_SECRET");
        }
        let path = data_dir.join(SECRET_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let secret = hex::decode(text.trim())
                    .with_context(|| format!("{} is not hex", path.display()))?;
                Self::from_secret(secret)
                    .with_context(|| format!("the secret in {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(data_dir, &path),
            Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
        }
    }

    fn create(data_dir: &Path, path: &Path) -> anyhow::Result<TokenKey> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("create {}", data_dir.display()))?;
        let mut secret = vec![0u8; MIN_SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("draw a random secret: {e}"))?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match file {
            Ok(mut file) => {
                file.write_all(hex::encode(&secret).as_bytes())
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("write {}", path.display()))?;
                Self::from_secret(secret)
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(None, data_dir),
            Err(e) => Err(e).with_context(|| format!("create {}", path.display())),
        }
    }

    /// Signs `claims`.
    pub fn issue(&self, claims: &Claims) -> anyhow::Result<String> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .context("sign a token")
    }

    /// Checks a token's signature, algorithm, times and revocation, and reads its holder.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self.claims(token)?;
        if self.is_revoked(&claims) {
            return Err(AuthError::Revoked);
        }
        principal(claims)
    }

    /// A token's claims once its signature, algorithm and times are checked (not its
    /// revocation, nor its role's scope).
    pub fn claims(&self, token: &str) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => {
                AuthError::Invalid("it is not valid before its nbf time".into())
            }
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::MissingAlgorithm => AuthError::BadAlgorithm,
            ErrorKind::MissingRequiredClaim(claim) => {
                AuthError::Malformed(format!("it has no {claim} claim"))
            }
            _ => AuthError::Malformed("it cannot be read as a signed token".into()),
        })?;
        let claims = data.claims;
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        if claims.iat > now + LEEWAY_SECONDS {
            return Err(AuthError::Invalid("it was issued in the future".into()));
        }
        if claims.exp.saturating_sub(claims.iat) > MAX_LIFETIME.as_secs() {
            return Err(AuthError::Invalid(format!(
                "it is meant to live longer than {} days",
                MAX_LIFETIME.as_secs() / 86_400
            )));
        }
        Ok(claims)
    }
}

/// How often a service reloads the revocations.
pub const REVOCATIONS_RELOAD: Duration = Duration::from_secs(1);

/// Keeps `key`'s revocations as `log`'s table holds them, reloaded every
/// [`REVOCATIONS_RELOAD`] until `stop`; a reload that fails keeps the list in force and
/// is retried.
pub async fn keep_revocations(key: TokenKey, log: Log, stop: CancellationToken) {
    loop {
        match log.token_revocations().await {
            Ok(rows) => key.set_revoked(Revoked::of(rows)),
            Err(e) => {
                tracing::warn!(error = %e, "could not reload the token revocations; the last list stays in force")
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(REVOCATIONS_RELOAD) => {}
        }
    }
}

/// The principal a token's claims describe, checked for the scope its role needs.
pub fn principal(claims: Claims) -> Result<Principal, AuthError> {
    let role = Role::parse(&claims.role)
        .ok_or_else(|| AuthError::Malformed(format!("unknown role {:?}", claims.role)))?;
    match role {
        Role::Member if claims.member.is_none() => {
            return Err(AuthError::Malformed(
                "a member token names its member".into(),
            ));
        }
        Role::Secretary if claims.branch.is_none() || claims.member.is_none() => {
            return Err(AuthError::Malformed(
                "a secretary token names its branch and its member".into(),
            ));
        }
        _ => {}
    }
    if claims.sub.trim().is_empty()
        || claims.sub.len() > 128
        || claims.sub.chars().any(char::is_control)
    {
        return Err(AuthError::Malformed(
            "the subject must be 1 to 128 bytes of text".into(),
        ));
    }
    if claims.sub.starts_with(crate::accounts::SUBJECT_PREFIX) {
        return Err(AuthError::Malformed(format!(
            "the subject {:?} is a platform account's; a token names another holder",
            claims.sub
        )));
    }
    if Role::parse(&claims.sub).is_some() {
        return Err(AuthError::Malformed(format!(
            "the subject {:?} names a role, not the token's holder (a person or a named service)",
            claims.sub
        )));
    }
    Ok(Principal {
        subject: claims.sub,
        role,
        member_id: claims.member,
        branch_id: claims.branch,
    })
}

impl TokenKey {
    /// The principal of a request's `Authorization` header, if it has one: `Ok(None)`
    /// without the header, an error for a header that is not a valid token.
    pub fn principal_of(
        &self,
        header: Option<&axum::http::HeaderValue>,
    ) -> Result<Option<Principal>, AuthError> {
        let Some(value) = header else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| AuthError::Malformed("the Authorization header is not text".into()))?;
        self.verify(bearer(Some(value))?).map(Some)
    }

    /// The principal of a request that must carry a token.
    pub fn require(
        &self,
        header: Option<&axum::http::HeaderValue>,
    ) -> Result<Principal, AuthError> {
        self.principal_of(header)?.ok_or(AuthError::Missing)
    }
}

/// The token in an `Authorization` header value (`Bearer TOKEN`; a bare token is taken too).
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(AuthError::Missing)?;
    if value.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        Some(_) => {
            return Err(AuthError::Malformed(
                "the Authorization scheme must be Bearer".into(),
            ));
        }
        None => value,
    };
    if token.is_empty() {
        Err(AuthError::Missing)
    } else {
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_secret(*b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn claims(role: &str, exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: "someone".into(),
            role: role.into(),
            member: Some(Uuid::nil()),
            branch: None,
            iat: now as u64,
            exp: (now + exp_in) as u64,
            jti: Some("token-1".into()),
        }
    }

    #[test]
    fn a_token_signed_here_reads_back_as_its_principal() {
        let token = key().issue(&claims("member", 3600)).unwrap();
        let p = key().verify(&token).unwrap();
        assert_eq!(
            (p.role, p.member_id, p.subject.as_str()),
            (Role::Member, Some(Uuid::nil()), "someone")
        );
    }

    #[test]
    fn expired_forged_and_unsigned_tokens_are_refused() {
        assert_eq!(
            key().verify(&key().issue(&claims("member", -3600)).unwrap()),
            Err(AuthError::Expired)
        );
        let other = TokenKey::from_secret(*b"another secret of thirty-two byt").unwrap();
        assert_eq!(
            key().verify(&other.issue(&claims("member", 3600)).unwrap()),
            Err(AuthError::BadSignature)
        );
        let token = key().issue(&claims("member", 3600)).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(
            matches!(
                key().verify(&unsigned),
                Err(AuthError::BadAlgorithm | AuthError::Malformed(_))
            ),
            "{:?}",
            key().verify(&unsigned)
        );
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims("member", 3600),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(key().verify(&hs512), Err(AuthError::BadAlgorithm));
    }

    #[test]
    fn a_role_without_its_scope_is_malformed() {
        let mut c = claims("secretary", 3600);
        c.member = None;
        assert!(matches!(
            key().verify(&key().issue(&c).unwrap()),
            Err(AuthError::Malformed(_))
        ));
        c.role = "emperor".into();
        assert!(matches!(
            key().verify(&key().issue(&c).unwrap()),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn tokens_from_the_future_too_long_lived_for_a_role_or_revoked_are_refused() {
        let invalid = |c: &Claims| {
            matches!(
                key().verify(&key().issue(c).unwrap()),
                Err(AuthError::Invalid(_))
            )
        };
        let mut c = claims("member", 3600);
        c.iat += 3600;
        assert!(invalid(&c), "issued an hour from now");
        let mut c = claims("member", 367 * 86_400);
        assert!(invalid(&c), "valid for 367 days");
        c.exp = c.iat + MAX_LIFETIME.as_secs();
        assert!(key().verify(&key().issue(&c).unwrap()).is_ok());
        let nbf = serde_json::json!({"sub": "someone", "role": "member", "member": Uuid::nil(), "iat": c.iat, "exp": c.iat + 600, "nbf": c.iat + 600});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &nbf,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(
            matches!(key().verify(&token), Err(AuthError::Invalid(_))),
            "nbf ahead"
        );
        let mut c = claims("committee_admin", 3600);
        c.sub = "committee_admin".into();
        assert!(
            matches!(
                key().verify(&key().issue(&c).unwrap()),
                Err(AuthError::Malformed(_))
            ),
            "a role for a subject"
        );

        let k = key();
        let c = claims("member", 3600);
        let token = k.issue(&c).unwrap();
        let other = k
            .issue(&Claims {
                jti: Some("token-2".into()),
                ..c.clone()
            })
            .unwrap();
        let revoke = |subject: &str, token_id: Option<&str>, at: u64| Revocation {
            subject: subject.into(),
            token_id: token_id.map(Into::into),
            revoked_at: at as i64,
        };
        k.set_revoked(Revoked::of([revoke("someone", Some("token-1"), c.iat)]));
        assert_eq!(k.clone().verify(&token), Err(AuthError::Revoked));
        assert!(k.verify(&other).is_ok(), "only the token revoked");
        k.set_revoked(Revoked::of([revoke("someone", None, c.iat - 1)]));
        assert!(
            k.verify(&token).is_ok(),
            "issued after the subject's revocation"
        );
        k.set_revoked(Revoked::of([revoke("someone", None, c.iat)]));
        assert_eq!(k.verify(&other), Err(AuthError::Revoked));
    }

    #[test]
    fn the_secret_is_created_once_with_mode_0600_and_reused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let a = TokenKey::load(None, dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = TokenKey::load(None, dir.path()).unwrap();
        assert_eq!(a.secret, b.secret);
        assert!(!format!("{a:?}").contains(&hex::encode(&a.secret)));
        assert!(TokenKey::load(Some("short"), dir.path()).is_err());
    }

    #[test]
    fn the_bearer_scheme_is_read_from_the_header() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("abc")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert!(matches!(
            bearer(Some("Basic abc")),
            Err(AuthError::Malformed(_))
        ));
    }
}
