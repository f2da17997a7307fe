//! The HTTP routes and their thin handlers.

use crate::AppState;
use crate::problem::ApiError;
use allweather_events::StreamId;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/streams/{stream_id}", get(stream))
        .merge(allweather_command::http::router(
            state.commands.clone(),
            state.tokens.clone(),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let head = state.commands.log().head().await?;
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
    let version = state.commands.log().stream_version(&stream_id).await?;
    if version == 0 {
        return Err(ApiError::NotFound(format!(
            "stream {stream_id} has no events"
        )));
    }
    let events = state
        .commands
        .log()
        .read_stream(&stream_id, from_version, limit)
        .await?;
    let events = events
        .iter()
        .map(|e| {
            let payload = state
                .commands
                .catalog()
                .decode(e)
                .map_err(|err| anyhow::Error::new(err).context("decode a stored event"))?;
            Ok(e.to_json(payload))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(
        json!({ "stream_id": stream_id, "version": version, "events": events }),
    ))
}
