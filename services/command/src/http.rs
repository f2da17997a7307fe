//! `POST /api/v1/commands/{CommandName}`: the token, the name, the idempotency key and
//! the body in; the answer or the problem out.

use crate::auth::TokenKey;
use crate::handler::bad_key;
use crate::problem::ApiError;
use crate::{CommandReply, CommandService};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
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
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Commands { service, key })
}

async fn command(
    State(commands): State<Commands>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CommandReply>, ApiError> {
    let principal = commands.key.require(headers.get(header::AUTHORIZATION))?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge {
            limit: MAX_BODY_BYTES,
        },
        _ => ApiError::field("body", e.body_text()),
    })?;
    let key = match headers.get("idempotency-key") {
        Some(value) => Some(value.to_str().map_err(|_| bad_key())?),
        None => None,
    };
    Ok(Json(
        commands
            .service
            .execute(&principal, &name, key, &body)
            .await?,
    ))
}
