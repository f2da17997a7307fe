//! The HTTP routes and their thin handlers.

use crate::commands;
use crate::problem::ApiError;
use crate::{AppState, MAX_BODY_BYTES};
use allweather_events::StreamId;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/streams/{stream_id}", get(stream))
        .route("/api/v1/commands/{name}", post(command))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let head = state.log.head().await?;
    Ok(Json(
        json!({ "status": "ok", "position": head.position, "head_hash": head.hash }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    from_version: Option<u64>,
    limit: Option<u32>,
}

/// Most events one page of a stream returns.
const MAX_PAGE: u32 = 10_000;

async fn stream(
    State(state): State<AppState>,
    Path(stream_id): Path<String>,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let stream_id =
        StreamId::parse(stream_id).map_err(|e| ApiError::field("stream_id", e.to_string()))?;
    let from_version = query.from_version.unwrap_or(1).max(1);
    let limit = query.limit.unwrap_or(1_000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::field("limit", format!("must be 1 to {MAX_PAGE}")));
    }
    let version = state.log.stream_version(&stream_id).await?;
    if version == 0 {
        return Err(ApiError::NotFound(format!(
            "stream {stream_id} has no events"
        )));
    }
    let events = state
        .log
        .read_stream(&stream_id, from_version, limit)
        .await?;
    let events = events
        .iter()
        .map(|e| {
            let payload = state
                .catalog
                .decode(e)
                .map_err(|err| anyhow::Error::new(err).context("decode a stored event"))?;
            Ok(e.to_json(payload))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(
        json!({ "stream_id": stream_id, "version": version, "events": events }),
    ))
}

async fn command(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge {
            limit: MAX_BODY_BYTES,
        },
        _ => ApiError::field("body", e.body_text()),
    })?;
    let key = match headers.get("idempotency-key") {
        Some(value) => Some(value.to_str().map_err(|_| commands::bad_key())?),
        None => None,
    };
    Ok(Json(
        commands::execute(&state.log, &name, key, &body).await?,
    ))
}
