//! Bearer tokens: HS256-signed JWTs carrying the role and scope of their holder, with an
//! expiry. The signing secret lives in `--data-dir/token-secret` (created on first use,
//! mode 0600) unless `ALLWEATHER_TOKEN_SECRET` gives it; it is never logged or shown.

use allweather_domain::Principal;
use allweather_events::Role;
use anyhow::Context as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use uuid::Uuid;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The file in the data directory that holds the secret, hex encoded.
pub const SECRET_FILE: &str = "token-secret";

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
}

/// The signing secret.
#[derive(Clone)]
pub struct TokenKey {
    secret: Vec<u8>,
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
        Ok(TokenKey { secret })
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

    /// Checks a token's signature, algorithm and expiry, and reads its holder.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::MissingAlgorithm => AuthError::BadAlgorithm,
            _ => AuthError::Malformed("it cannot be read as a signed token".into()),
        })?;
        principal(data.claims)
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
    if claims.sub.is_empty() || claims.sub.len() > 128 {
        return Err(AuthError::Malformed(
            "the subject must be 1 to 128 bytes".into(),
        ));
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
