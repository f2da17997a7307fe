//! `POST /api/v1/commands/{CommandName}`: the token, the name, the idempotency key and
//! the body in; the answer or the problem out.

use crate::auth::TokenKey;
use crate::handler::bad_key;
use crate::problem::ApiError;
use crate::{CommandReply, CommandService};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
struct Commands {
    service: CommandService,
    key: TokenKey,
}

/// The command route, to merge into the service's router.
pub fn router<S>(service: CommandService, key: TokenKey) -> Router<S> {
    Router::new()
        .route("/api/v1/commands/{name}", post(command))
        .with_state(Commands { service, key })
}

async fn command(
    State(commands): State<Commands>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CommandReply>, ApiError> {
    // The token first: without one, nobody holds the service while a body trickles in.
    let principal = commands.key.require(headers.get(header::AUTHORIZATION))?;
    let key = match headers.get("idempotency-key") {
        Some(value) => Some(value.to_str().map_err(|_| bad_key())?),
        None => None,
    };
    let body = read_body(body).await?;
    Ok(Json(
        commands
            .service
            .execute(&principal, &name, key, &body)
            .await?,
    ))
}

/// The whole body, up to [`MAX_BODY_BYTES`]: 413 beyond, 408 when it stops coming (the
/// listener's body timeouts), 400 when the connection breaks.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let e = e.into_inner();
            let causes =
                std::iter::successors(Some(&*e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                });
            let mut too_large = false;
            let mut too_slow = false;
            for cause in causes {
                too_large |= cause.is::<http_body_util::LengthLimitError>();
                too_slow |= cause.is::<tower_http::timeout::TimeoutError>();
            }
            if too_large {
                ApiError::TooLarge {
                    limit: MAX_BODY_BYTES,
                }
            } else if too_slow {
                ApiError::TimedOut
            } else {
                ApiError::field("body", format!("the body could not be read: {e}"))
            }
        })
}
