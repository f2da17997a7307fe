//! What every handler would otherwise repeat, as extractors, each refusing in one way:
//! - [`Caller`]: the signed-in principal (401 without a valid token); [`MaybeCaller`]
//!   also lets the anonymous in (a token sent must still be valid).
//! - [`Valid`]: the query string read into a type of its own (unknown parameters
//!   refused, the parameter at fault named), then the pairs it takes one of ([`Check`]).
//!   The type's fields are value types ([`allweather_domain::values::Year`],
//!   [`super::params`]) whose schemas state the ranges they check, so the OpenAPI
//!   document and the check cannot disagree.
//! - [`IdParam`]: a path's id, a UUID, named in the refusal.

use crate::AppState;
use crate::problem::ApiError;
use allweather_domain::Principal;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The signed-in caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Caller(
            state
                .tokens
                .require(parts.headers.get(header::AUTHORIZATION))?,
        ))
    }
}

/// The caller, if signed in.
#[derive(Debug, Clone)]
pub(crate) struct MaybeCaller(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(MaybeCaller(
            state
                .tokens
                .principal_of(parts.headers.get(header::AUTHORIZATION))?,
        ))
    }
}

/// The rules across a query's parameters, checked after each parameter was read.
pub(crate) trait Check {
    /// Pairs of parameters a request may give one of, not both. The OpenAPI document
    /// states them as the operation's `x-exclusive-parameters`.
    const EXCLUSIVE: &'static [(&'static str, &'static str)] = &[];
}

/// A query string read into `T` and checked.
#[derive(Debug, Clone)]
pub(crate) struct Valid<T>(pub T);

impl<T, S> FromRequestParts<S> for Valid<T>
where
    T: DeserializeOwned + Check,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let text = parts.uri.query().unwrap_or_default();
        let query = read_query::<T>(text)?;
        let given: Vec<String> = form_urlencoded::parse(text.as_bytes())
            .map(|(name, _)| name.into_owned())
            .collect();
        let has = |name: &str| given.iter().any(|g| g == name);
        if let Some((a, b)) = T::EXCLUSIVE.iter().find(|(a, b)| has(a) && has(b)) {
            return Err(ApiError::field(*a, format!("give {a} or {b}, not both")));
        }
        Ok(Valid(query))
    }
}

/// Reads a query string into `T`, naming the parameter at fault.
pub(crate) fn read_query<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(text.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = match e.path().to_string() {
            // An unknown parameter, or a rule of the whole query: said of the query.
            p if p.is_empty() || p == "." || p == "?" => "query".to_owned(),
            p => p,
        };
        ApiError::field(field, e.inner().to_string())
    })
}

/// The id a path names (`/api/v1/cards/{member_id}`): a UUID.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdParam(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::field("path", e.body_text()))?;
        let (name, value) = params
            .iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("IdParam on a route without a path parameter"))?;
        value
            .parse()
            .map(IdParam)
            .map_err(|_| ApiError::field(name, "must be a UUID"))
    }
}
